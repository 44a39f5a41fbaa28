/**
 * BFD for the daemon's VRRP instances: one native Bfd (one thread) for the
 * whole daemon, one session per (interface, peer) shared by every instance
 * that names that peer, and each session change handed to those instances'
 * engines (VrrpInstance.setBfdSession: the engine decides what it means),
 * to the metrics (`vipd_bfd_session_up{instance,peer}`,
 * `vipd_bfd_rx_invalid_total{reason}`), the log and `vipctl events`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BfdInstanceConfig } from '../config/schema.js';
import type { BfdSessionStatus } from '../daemon/api.js';
import type { EventLog } from '../daemon/events.js';
import type { Logger } from '../daemon/logger.js';
import { monotonicNs } from '../net/clock.js';
import { Bfd, bfdDiagText, type BfdSessionChange, type BfdSessionState, type TakeoverFired, type TakeoverSpec } from './bfd.js';

/** How a change reached JS (CLOCK_MONOTONIC ns), and the takeover the BFD thread carried out for this instance, if any. */
export interface BfdChangeContext {
  /** When the thread saw the change (detection time expired, or the peer's Down). */
  atNs: bigint;
  /** When JS got the event. */
  heardNs: bigint;
  takeover?: TakeoverFired;
  /** The session went down because the peer said AdminDown (not a path failure). */
  adminDown?: boolean;
}

/** What a session change is given to: the instance's engine. */
export interface BfdTarget {
  setBfdSession(peer: string, up: boolean, ctx?: BfdChangeContext): void;
}

/** armTakeover's spec without the session ids, which InstanceBfd knows. */
export type InstanceTakeoverSpec = Omit<TakeoverSpec, 'session' | 'guard'>;

interface SharedSession {
  readonly id: number;
  readonly interface: string;
  readonly peer: string;
  readonly interval: number;
  readonly multiplier: number;
  state: BfdSessionState;
  /** Instance name -> its engine. */
  readonly users: Map<string, BfdTarget>;
}

export interface InstanceBfdOptions {
  registry: Registry;
  logger: Logger;
  events?: EventLog;
  /** SCHED_FIFO priority of the BFD thread when allowed (as the advert sender's). */
  schedPriority?: number;
}

export class InstanceBfd {
  readonly #o: InstanceBfdOptions;
  readonly #sessionUp: Gauge<'instance' | 'peer'>;
  #bfd: Bfd | undefined;
  /** Key `interface|peer`. */
  readonly #sessions = new Map<string, SharedSession>();
  /** Instance name -> its arm id (one armed takeover per instance at most). */
  readonly #armIds = new Map<string, number>();
  #nextArmId = 1;
  #warnedRealtime = false;

  constructor(opts: InstanceBfdOptions) {
    this.#o = opts;
    // One registry per daemon; a second InstanceBfd on it (a test's) takes over the series.
    for (const name of ['vipd_bfd_session_up', 'vipd_bfd_rx_invalid_total']) opts.registry.removeSingleMetric(name);
    this.#sessionUp = new Gauge({
      name: 'vipd_bfd_session_up',
      help: 'BFD session of the instance to the peer: 1 Up, 0 not (Down, Init, AdminDown).',
      labelNames: ['instance', 'peer'],
      registers: [opts.registry],
    });
    const invalid = (): Record<string, number> => this.#bfd?.stats().invalid ?? {};
    new Counter({
      name: 'vipd_bfd_rx_invalid_total',
      help: 'BFD packets received and discarded (RFC 5880 6.8.6, RFC 5881 TTL), by reason.',
      labelNames: ['reason'],
      registers: [opts.registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(invalid())) if (n > 0) this.inc({ reason }, n);
      },
    });
  }

  /** Starts (or joins) a session to each of the instance's BFD peers; changes go to `target`. */
  attach(instance: string, iface: string, cfg: BfdInstanceConfig, target: BfdTarget): void {
    for (const p of cfg.peers) {
      const key = `${iface}|${p.address}`;
      let s = this.#sessions.get(key);
      if (!s) {
        const id = this.#handle().addSession({ interface: iface, peer: p.address, interval: cfg.interval, multiplier: cfg.multiplier });
        s = { id, interface: iface, peer: p.address, interval: cfg.interval, multiplier: cfg.multiplier, state: 'Down', users: new Map() };
        this.#sessions.set(key, s);
      } else if (s.interval !== cfg.interval || s.multiplier !== cfg.multiplier) {
        this.#o.logger.warn(
          { instance, peer: p.address, interface: iface, running: { interval: s.interval, multiplier: s.multiplier } },
          'BFD: the session to this peer is shared with another instance and keeps its timers',
        );
      }
      s.users.set(instance, target);
      this.#checkRealtime();
      this.#sessionUp.set({ instance, peer: p.address }, s.state === 'Up' ? 1 : 0);
      if (s.state === 'Up') target.setBfdSession(p.address, true);
    }
  }

  /**
   * Arms the BFD thread to take the instance over when its session to
   * `master` leaves Up (the engine's "master treated as dead", done before
   * JS runs); the instance's other sessions guard it (the engine's own-link
   * FAULT rule). False when `master` is not one of its peers.
   */
  armTakeover(instance: string, iface: string, master: string, spec: InstanceTakeoverSpec): boolean {
    const mine = [...this.#sessions.values()].filter((s) => s.users.has(instance));
    const session = mine.find((s) => s.peer === master && s.interface === iface);
    if (!session || !this.#bfd) {
      this.disarmTakeover(instance);
      return false;
    }
    let armId = this.#armIds.get(instance);
    if (armId === undefined) {
      armId = this.#nextArmId++;
      this.#armIds.set(instance, armId);
    }
    const guard = mine.filter((s) => s !== session).map((s) => s.id);
    this.#bfd.armTakeover(armId, { ...spec, session: session.id, guard });
    return true;
  }

  disarmTakeover(instance: string): void {
    const armId = this.#armIds.get(instance);
    if (armId === undefined) return;
    this.#armIds.delete(instance);
    this.#bfd?.disarmTakeover(armId);
  }

  /** The instance stops using its sessions; a session nobody uses ends (AdminDown to the peer). */
  detach(instance: string): void {
    this.disarmTakeover(instance);
    for (const [key, s] of this.#sessions) {
      if (!s.users.delete(instance)) continue;
      this.#sessionUp.remove({ instance, peer: s.peer });
      if (s.users.size > 0) continue;
      this.#bfd?.removeSession(s.id);
      this.#sessions.delete(key);
    }
  }

  /** The instance's sessions, for `vipctl status`. */
  status(instance: string): BfdSessionStatus[] {
    const live = new Map((this.#bfd?.sessions() ?? []).map((x) => [x.id, x]));
    return [...this.#sessions.values()]
      .filter((s) => s.users.has(instance))
      .map((s) => {
        const x = live.get(s.id);
        return {
          peer: s.peer,
          interface: s.interface,
          state: x?.state ?? s.state,
          diag: bfdDiagText(x?.diag ?? 0),
          remoteDiag: bfdDiagText(x?.remoteDiag ?? 0),
          txIntervalMs: (x?.txIntervalUs ?? 0) / 1000,
          detectTimeMs: (x?.detectTimeUs ?? 0) / 1000,
          sinceMs: Math.round(x?.sinceMs ?? 0),
          ups: x?.ups ?? 0,
          downs: x?.downs ?? 0,
          late: x?.late ?? 0,
        };
      });
  }

  /** Ends the thread (no AdminDown: a handoff must not tell the peers anything; release detaches first). */
  close(): void {
    this.#bfd?.close();
    this.#bfd = undefined;
    this.#sessions.clear();
    this.#armIds.clear();
  }

  /** SCHED_FIFO is what lets a few-ms detection time hold on a busy host: say so when it was refused. */
  #checkRealtime(): void {
    if (this.#warnedRealtime || !this.#o.schedPriority || !this.#bfd) return;
    this.#warnedRealtime = true;
    if (!this.#bfd.stats().realtime) {
      this.#o.logger.warn(
        { schedPriority: this.#o.schedPriority },
        'BFD thread runs without SCHED_FIFO (not permitted: needs CAP_SYS_NICE and an RT budget): short BFD intervals may go down on a busy host',
      );
    }
  }

  #handle(): Bfd {
    if (!this.#bfd) {
      this.#bfd = new Bfd({ schedPriority: this.#o.schedPriority });
      this.#bfd.on('session', (c) => this.#onChange(c));
    }
    return this.#bfd;
  }

  #onChange(c: BfdSessionChange): void {
    const heardNs = monotonicNs();
    const s = [...this.#sessions.values()].find((x) => x.id === c.id);
    if (!s) return;
    const wasUp = s.state === 'Up';
    s.state = c.state;
    const up = c.state === 'Up';
    // Init is a step towards Up; only Up and leaving Up are news.
    if (!up && !wasUp) return;
    const diag = bfdDiagText(up ? 0 : c.diag === 3 ? c.remoteDiag || 3 : c.diag);
    for (const [instance, target] of s.users) {
      this.#sessionUp.set({ instance, peer: s.peer }, up ? 1 : 0);
      this.#o.logger.info({ instance, peer: s.peer, interface: s.interface, state: c.state, diag }, `BFD session to ${s.peer} ${c.state}`);
      this.#o.events?.record({ type: 'bfd', instance, peer: s.peer, interface: s.interface, up, reason: diag });
      const armId = this.#armIds.get(instance);
      const takeover = armId === undefined ? undefined : c.takeovers.find((t) => t.armId === armId);
      // A takeover fires once: the arm is gone in the thread.
      if (takeover) this.#armIds.delete(instance);
      target.setBfdSession(s.peer, up, { atNs: c.atNs, heardNs, ...(takeover ? { takeover } : {}), ...(!up && c.remoteAdminDown ? { adminDown: true } : {}) });
    }
  }
}
