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

export interface StatusResult {
  daemon: { version: string; pid: number; startedAt: string; configFile: string; pinDir: string };
  instances: InstanceStatus[];
  services: ServiceStatus[];
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

/** Method name -> [params, result]. */
export interface ControlMethods {
  status: [Record<string, never>, StatusResult];
  stats: [StatsParams, StatsSnapshot];
  drain: [DrainParams, DrainResult];
  undrain: [DrainParams, DrainResult];
  priority: [PriorityParams, PriorityResult];
  reload: [Record<string, never>, ReloadResult];
}

export type ControlMethodName = keyof ControlMethods;

