/**
 * BFD sessions (RFC 5880 asynchronous mode, RFC 5881 single hop) run by one
 * native thread: it sends, receives, checks and times every session with no
 * JavaScript per packet, so a stalled event loop cannot bring a session
 * down. JS adds and removes sessions and hears each state change
 * ('session' event). docs/vrrp.md ("BFD") says how vipd uses it.
 */
import { native } from '../net/errors.js';
import { HandleOwner } from '../net/handle-owner.js';
import {
  BFD_STATE_NAMES,
  bfdAddon,
  type BfdSessionState,
  type NativeBfd,
  type NativeBfdEvent,
  type NativeBfdSession,
  type NativeBfdStats,
  type NativeTakeoverFired,
  type NativeTakeoverSpec,
} from './native.js';

export type TakeoverFired = NativeTakeoverFired;
export type TakeoverSpec = NativeTakeoverSpec;

export type { BfdSessionState };
export type BfdSessionInfo = NativeBfdSession;
export type BfdStats = NativeBfdStats;

export interface BfdSessionOptions {
  interface: string;
  peer: string;
  /** Source address (default: the kernel's choice on the interface). */
  local?: string;
  /** Desired Min TX and Required Min RX, in seconds (e.g. 0.003). */
  interval: number;
  /** Detect Mult: the peer is declared down after this many intervals without a packet. */
  multiplier: number;
}

export interface BfdSessionChange {
  id: number;
  state: BfdSessionState;
  /** RFC 5880 diagnostic: 1 detection time expired, 3 neighbor signaled down, 7 administratively down. */
  diag: number;
  remoteDiag: number;
  /** Down because the peer said AdminDown: it is shut down or reconfigured on purpose, the path did not fail (RFC 5882 3.2). */
  remoteAdminDown: boolean;
  /** CLOCK_MONOTONIC ns of the change. */
  atNs: bigint;
  /** Takeovers the thread carried out as this session left Up (armTakeover). */
  takeovers: TakeoverFired[];
}

export interface BfdEvents {
  session: [BfdSessionChange];
}

/** Diagnostic codes (RFC 5880 4.1) as words, for logs and events. */
export function bfdDiagText(diag: number): string {
  const names: Record<number, string> = {
    0: 'no diagnostic',
    1: 'detection time expired',
    2: 'echo failed',
    3: 'neighbor signaled down',
    4: 'forwarding plane reset',
    5: 'path down',
    6: 'concatenated path down',
    7: 'administratively down',
    8: 'reverse concatenated path down',
  };
  return names[diag] ?? `diagnostic ${diag}`;
}

export class Bfd extends HandleOwner<BfdEvents, NativeBfd> {
  constructor(opts: { schedPriority?: number } = {}) {
    super();
    const addon = bfdAddon();
    this.handle = new addon.BfdHandle({ schedPriority: opts.schedPriority }, (ev) => this.#onEvent(ev));
  }

  /** Starts a session (Down, slow start at 1 s until Up); returns its id. Throws NetError (e.g. EADDRINUSE on UDP 3784). */
  addSession(opts: BfdSessionOptions): number {
    const h = this.#h();
    const us = Math.round(opts.interval * 1e6);
    return native(`BFD session to ${opts.peer} on ${opts.interface}`, 'CAP_NET_RAW', () =>
      h.addSession({
        interface: opts.interface,
        peer: opts.peer,
        ...(opts.local !== undefined ? { local: opts.local } : {}),
        desiredMinTxUs: us,
        requiredMinRxUs: us,
        detectMult: opts.multiplier,
      }),
    );
  }

  /** Ends a session: one AdminDown packet tells the peer, then it is gone. */
  removeSession(id: number): void {
    this.handle?.removeSession(id);
  }

  /**
   * Arms (or re-arms) a takeover: when `spec.session` leaves Up, the BFD
   * thread writes the instance map (active, lease now + leaseNs) and sends
   * `spec.frames`, then reports it with the session's event. It fires once.
   */
  armTakeover(armId: number, spec: TakeoverSpec): void {
    const h = this.#h();
    native('BFD takeover arm', 'CAP_NET_RAW', () => h.armTakeover(armId, spec));
  }

  /** Drops an armed takeover; false when none was armed (or it fired). */
  disarmTakeover(armId: number): boolean {
    return this.handle?.disarmTakeover(armId) ?? false;
  }

  sessions(): BfdSessionInfo[] {
    return this.handle?.sessions() ?? [];
  }

  stats(): BfdStats {
    return this.handle?.stats() ?? { invalid: {}, realtime: false };
  }

  #h(): NativeBfd {
    if (!this.handle) throw new Error('Bfd: closed');
    return this.handle;
  }

  #onEvent(ev: NativeBfdEvent): void {
    this.emit('session', {
      id: ev.id,
      state: BFD_STATE_NAMES[ev.state] ?? 'Down',
      diag: ev.diag,
      remoteDiag: ev.remoteDiag,
      remoteAdminDown: ev.remoteAdminDown === true,
      atNs: ev.atNs,
      takeovers: ev.takeovers ?? [],
    });
  }
}
