/**
 * The control-socket contract between vipd and vipctl: method names,
 * parameters and results. Both sides import these types; the transport is
 * src/daemon/control (length-prefixed msgpack frames on a 0600 Unix socket).
 */

export type InstanceState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

export interface InstanceStatus {
  name: string;
  state: InstanceState;
  /** Configured priority (or the one set with `vipctl priority`). */
  priority: number;
  /** After track weights: what the adverts carry. */
  effectivePriority: number;
  vrid: number;
  version: 2 | 3;
  interface: string;
  /** ISO 8601 time this host became MASTER, or null when it is not MASTER. */
  masterSince: string | null;
  /** State changes since the daemon started. */
  transitions: number;
  /** Why the last state change happened (peer, priority, check). */
  lastReason: string | null;
  /** The current MASTER's primary address as last heard, when known. */
  masterAddress: string | null;
  vips: string[];
  /** Seconds of the last BACKUP->MASTER: election to first announcement sent. */
  lastFailoverSeconds: number | null;
  /** The instance's BFD sessions (absent without `bfd`). */
  bfd?: BfdSessionStatus[];
  /**
   * With `bfd`: whether the BFD thread is armed to take over on its own when
   * the session to the MASTER goes down (a BACKUP following a MASTER that is
   * a BFD peer; docs/vrrp.md "BFD").
   */
  bfdTakeoverArmed?: boolean;
  /** The last takeover a BFD session down caused (absent until one did). */
  lastBfdTakeover?: BfdTakeoverTiming;
}

/**
 * Where the time of a BFD takeover went, CLOCK_MONOTONIC ms (comparable
 * with any other process's on the host). `native`: the BFD thread wrote the
 * map and sent the first announcement before JS ran (armTakeover); `js`:
 * the engine did it when the event loop got the event.
 */
export interface BfdTakeoverTiming {
  path: 'native' | 'js';
  /** The BFD thread saw the session leave Up (detection time expired, or the peer said Down). */
  detectedMs: number;
  /** native: the instance map written (serving). */
  mapMs?: number;
  /** The first announcement round sent (native: the BFD thread's; js: the engine's). */
  announcedMs: number | null;
  /** JS got the event. */
  heardMs: number;
  /** The engine's BACKUP -> MASTER decision done. */
  engineMs: number;
}

export interface BfdSessionStatus {
  peer: string;
  interface: string;
  /** RFC 5880: Up, Init, Down, AdminDown. */
  state: 'Up' | 'Init' | 'Down' | 'AdminDown';
  /** Why it last went down (ours), and what the peer said, in words. */
  diag: string;
  remoteDiag: string;
  /** Negotiated: max(our Desired Min TX, their Required Min RX); detection: their mult x max(our Required Min RX, their Desired Min TX). */
  txIntervalMs: number;
  detectTimeMs: number;
  /** Time in the current state. */
  sinceMs: number;
  ups: number;
  downs: number;
  /** Transmit deadlines the thread missed by more than an interval. */
  late: number;
}

export interface BackendStatus {
  address: string;
  up: boolean;
  weight: number;
  drained: boolean;
  /** The MAC the data plane sends to, or null while unresolved. */
  mac: string | null;
  /** Last health-check result in words. */
  reason: string | null;
  /**
   * Flows the connection table holds for it at the last sweep (every few
   * seconds): a drained or removed backend's established flows, UDP flows,
   * persistent clients, flows of slots that changed hands. null before the
   * first sweep. docs/operations.md says what it counts.
   */
  connections?: number | null;
}

export interface ServiceStatus {
  name: string;
  vip: string;
  port: number;
  protocol: 'tcp' | 'udp';
  instance: string;
  /** Whether this host forwards it now (its instance is MASTER). */
  active: boolean;
  backends: BackendStatus[];
}

/** The BGP speaker's view (present when the config has `bgp`). */
export interface BgpStatus {
  asn: number;
  routerId: string;
  /** `vipctl drain-host`: every route withdrawn. */
  drained: boolean;
  /** state: BIRD's BGP state (Established, Active, Connect, ...) or `down` while BIRD is not running. */
  sessions: { peer: string; up: boolean; state: string }[];
  /** Every VIP announced over BGP; reason says why one is withdrawn (null: announced). */
  vips: { vip: string; announced: boolean; reason: string | null }[];
}

export interface StatusResult {
  daemon: { version: string; pid: number; startedAt: string; configFile: string; pinDir: string };
  instances: InstanceStatus[];
  services: ServiceStatus[];
  bgp?: BgpStatus;
}

/** Cumulative counters at one instant; vipctl turns two snapshots into rates. */
export interface StatsSnapshot {
  /** Milliseconds since the epoch when the counters were read. */
  at: number;
  services: { name: string; packets: number; bytes: number }[];
  backends: { service: string; backend: string; packets: number; bytes: number }[];
  verdicts: Record<string, number>;
}

export interface StatsParams {
  /** Stream a snapshot every intervalMs (vipctl stats --watch). */
  watch?: boolean;
  intervalMs?: number;
}

export interface DrainParams {
  service: string;
  backend: string;
}

export interface DrainResult {
  service: string;
  backend: string;
  drained: boolean;
  /** False when it already was in that state. */
  changed: boolean;
}

/** `connections`: a backend's flows in the connection table, counted by a sweep at most ~1 s old. */
export interface ConnectionsResult {
  service: string;
  backend: string;
  connections: number;
  drained: boolean;
  /** Milliseconds since the epoch when the sweep that counted them began. */
  at: number;
}

export interface DrainHostResult {
  drained: boolean;
  /** False when it already was in that state. */
  changed: boolean;
}

export interface PriorityParams {
  instance: string;
  priority: number;
}

export interface PriorityResult {
  instance: string;
  previous: number;
  priority: number;
}

export interface ReloadResult {
  /** Human lines: what was added, removed, changed. Empty when nothing changed. */
  changes: string[];
}

/**
 * Who asked for a change: the control socket's peer (SO_PEERCRED) or a
 * signal to the daemon. uid/pid are null when unknown (a signal carries no
 * sender here, and a peer that could not be read).
 */
export interface Requester {
  via: 'control' | 'signal';
  uid: number | null;
  pid: number | null;
}

/** What happened, without the numbering the event log adds. */
export type VipdEventBody =
  /** A VRRP state change of an instance on this host. */
  | { type: 'state'; instance: string; from: InstanceState; to: InstanceState; priority: number; reason: string }
  /** A BACKUP->MASTER change completed: seconds from the election to the first announcement sent. */
  | { type: 'failover'; instance: string; seconds: number }
  /** A BFD session of the instance came Up or left Up (reason: the RFC 5880 diagnostic in words). */
  | { type: 'bfd'; instance: string; peer: string; interface: string; up: boolean; reason: string }
  /** A health-check result changed. */
  | { type: 'backend'; service: string; backend: string; up: boolean; reason: string }
  /** A DOWN backend's flows were handed to the other real servers (flows: what the table held for it). */
  | { type: 'flows-lost'; service: string; backend: string; flows: number }
  /** A drained (or weight-0) backend has no connection left: a drain completed. */
  | { type: 'drain-complete'; service: string; backend: string }
  /** `vipctl drain` / `undrain` (changed: false when it already was so). */
  | { type: 'drain'; service: string; backend: string; drained: boolean; changed: boolean; by: Requester }
  /** `vipctl priority`. */
  | { type: 'priority'; instance: string; previous: number; priority: number; by: Requester }
  /** `vipctl drain-host` / `undrain-host`: every BGP route withdrawn (changed: false when it already was so). */
  | { type: 'drain-host'; drained: boolean; changed: boolean; by: Requester }
  /**
   * A reload, applied or rejected: `changes` as `vipctl reload` prints them,
   * `diff` the changed lines of the config file (`-N: old`, `+N: new`, with
   * secrets masked), `errors` why a rejected one was refused.
   */
  | { type: 'reload'; result: 'applied' | 'rejected'; changes: string[]; diff: string[]; errors?: string[]; by: Requester };

export type VipdEventType = VipdEventBody['type'];

/** One entry of the daemon's event history (`vipctl events`). */
export type VipdEvent = VipdEventBody & {
  /** 1, 2, 3... since the daemon started; a gap means events were lost (the ring overflowed). */
  seq: number;
  /** ISO 8601 time the event was recorded. */
  at: string;
};

export interface EventsParams {
  /** Only the last `limit` events of the history (default all it holds). */
  limit?: number;
  /** After the history, stream new events until the client cancels. */
  follow?: boolean;
}

/** Method name -> [params, result]. */
export interface ControlMethods {
  status: [Record<string, never>, StatusResult];
  stats: [StatsParams, StatsSnapshot];
  drain: [DrainParams, DrainResult];
  connections: [DrainParams, ConnectionsResult];
  undrain: [DrainParams, DrainResult];
  priority: [PriorityParams, PriorityResult];
  reload: [Record<string, never>, ReloadResult];
  drainHost: [Record<string, never>, DrainHostResult];
  undrainHost: [Record<string, never>, DrainHostResult];
  /** A stream: one VipdEvent per item. */
  events: [EventsParams, VipdEvent];
}

export type ControlMethodName = keyof ControlMethods;

