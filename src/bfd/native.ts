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
  /** CLOCK_MONOTONIC ns of the change (the packet's arrival, or the expired deadline's check). */
  atNs: bigint;
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
  close(): void;
}

export interface BfdAddon {
  BfdHandle: new (opts: { schedPriority?: number }, onEvent: (event: NativeBfdEvent) => void) => NativeBfd;
}

export function bfdAddon(): BfdAddon {
  return nativeAddon() as BfdAddon;
}
