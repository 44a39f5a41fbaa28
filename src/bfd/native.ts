/**
 * The typed shape of the addon's BFD part (native/bfd.cc). Only src/bfd uses it.
 */
import { nativeAddon } from '../native.js';

export type BfdSessionState = 'AdminDown' | 'Down' | 'Init' | 'Up';

/** RFC 5880 state numbers, as the thread posts them. */
export const BFD_STATE_NAMES: readonly BfdSessionState[] = ['AdminDown', 'Down', 'Init', 'Up'];

export interface NativeBfdEvent {
  id: number;
  /** 0 AdminDown, 1 Down, 2 Init, 3 Up. */
  state: number;
  /** Our diagnostic (1: detection time expired, 3: neighbor signaled down, 7: admin down). */
  diag: number;
  remoteDiag: number;
  /** A Down caused by the peer's AdminDown (RFC 5882 3.2: not a path failure). */
  remoteAdminDown: boolean;
  /** CLOCK_MONOTONIC ns of the change (the packet's arrival, or the expired deadline's check). */
  atNs: bigint;
  /** Takeovers armed on this session that the thread carried out as it left Up. */
  takeovers?: NativeTakeoverFired[];
}

/** An armed takeover carried out by the BFD thread (CLOCK_MONOTONIC ns). */
export interface NativeTakeoverFired {
  armId: number;
  firedNs: bigint;
  /** After the instance map write. */
  mapNs: bigint;
  /** After the last announcement frame's sendto. */
  sentNs: bigint;
  framesSent: number;
  mapError?: string;
  sendError?: string;
}

/** What the thread does when the session leaves Up (see BfdHandle.armTakeover). */
export interface NativeTakeoverSpec {
  /** The session to the MASTER. */
  session: number;
  /** The instance's other sessions (the engine's own-link FAULT rule). */
  guard: number[];
  mapFd: number;
  key: Buffer;
  /** The instance's active value; the u64 at valueOffset becomes now + leaseNs. */
  value: Buffer;
  valueOffset: number;
  leaseNs: number;
  ifindex: number;
  /** The first announcement round (Ethernet frames). */
  frames: Uint8Array[];
}

export interface NativeBfdSession {
  id: number;
  interface: string;
  peer: string;
  sourcePort: number;
  state: BfdSessionState;
  remoteState: BfdSessionState;
  diag: number;
  remoteDiag: number;
  localDiscriminator: number;
  remoteDiscriminator: number;
  txIntervalUs: number;
  detectTimeUs: number;
  remoteMinRxUs: number;
  remoteMinTxUs: number;
  remoteDetectMult: number;
  sent: number;
  received: number;
  sendErrors: number;
  lastError?: string;
  /** Transmit deadlines missed by more than one interval (the thread was not scheduled). */
  late: number;
  ups: number;
  downs: number;
  /** Longest gap between two packets received while Up (µs): how close detection came. */
  maxRxGapUs: number;
  /** Time in the current state (ms). */
  sinceMs: number;
}

export interface NativeBfdStats {
  /** Discarded packets by reason (RFC 5880 6.8.6, RFC 5881 TTL). */
  invalid: Record<string, number>;
  realtime: boolean;
  /** Takeovers armed now, carried out, and held back (the own-link FAULT rule applied). */
  armed?: number;
  takeoversFired?: number;
  takeoversHeld?: number;
}

export interface NativeBfdSessionOptions {
  interface: string;
  peer: string;
  local?: string;
  desiredMinTxUs: number;
  requiredMinRxUs: number;
  detectMult: number;
}

export interface NativeBfd {
  addSession(opts: NativeBfdSessionOptions): number;
  removeSession(id: number): void;
  sessions(): NativeBfdSession[];
  stats(): NativeBfdStats;
  armTakeover(armId: number, spec: NativeTakeoverSpec): void;
  disarmTakeover(armId: number): boolean;
  close(): void;
}

export interface BfdAddon {
  BfdHandle: new (opts: { schedPriority?: number }, onEvent: (event: NativeBfdEvent) => void) => NativeBfd;
}

export function bfdAddon(): BfdAddon {
  return nativeAddon() as BfdAddon;
}
