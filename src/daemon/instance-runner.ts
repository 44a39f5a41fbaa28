/**
 * One VRRP instance, running: the pure engine (src/vrrp) wired to its raw
 * socket, the native advert sender thread, announcements and the data-plane
 * lease. It decides nothing itself; it carries out the engine's actions and
 * reports state changes to its owner (InstanceSet, instances.ts), which
 * writes the data plane and addresses, runs notify hooks, counts metrics.
 *
 * Who sends adverts: while MASTER the native sender thread sends them on
 * time whatever the event loop does, and learns that the loop runs from
 * libuv's idle time (no JS). The engine's own periodic advert actions
 * (every MASTER_TICK_MS) are a guard; a priority change and the adverts
 * the engine wants *now* (split brain, priority 0) are sent at once.
 */
import { EventEmitter } from 'node:events';
import type { InstanceConfig } from '../config/index.js';
import {
  AdvertSender,
  addresses,
  announcementFrame,
  linkInfo,
  packetSend,
  sendAnnouncements,
  VrrpSocket,
  type VrrpPacket,
} from '../net/index.js';
import {
  AdvertValidator,
  advertCapacity,
  encodeAdvert,
  passwordAuthData,
  receivedAdvert,
  VrrpInstance,
  virtualMac,
  type AdvertFields,
  type Clock,
  type VrrpInstanceStatus,
  type RejectReason,
  type StateChangeAction,
  type VrrpAction,
} from '../vrrp/index.js';
import type { InstanceTakeoverSpec } from '../bfd/instance-bfd.js';
import type { Logger } from './logger.js';

/** Where the lease lives in the data plane (Dataplane.leaseTarget). */
export interface LeaseTarget {
  mapFd: number;
  key: Buffer;
  value: Buffer;
  valueOffset: number;
}

export interface InstanceRunnerEvents {
  /** A state change, after the engine decided it; the owner (InstanceSet) applies it synchronously. */
  state: [StateChangeAction];
  /** Seconds from the decision to become MASTER to the first announcement sent. */
  failover: [number];
  /** Adverts accepted (1, or the adverts absorbed natively since the last report). */
  'advert-rx': [number];
  /** Adverts that left since the last event (the sender thread's count). */
  'advert-tx': [number];
  'rx-invalid': [RejectReason];
  /** The native sender stopped because JS stalled past the watchdog bound. */
  watchdog: [];
  /** The MASTER this BACKUP follows changed (address, or null when unknown). */
  master: [string | null];
}

export interface InstanceRunnerOptions {
  clock: Clock;
  logger: Logger;
  /** How long the data plane may serve without a renewal (ms): the peers' Master_Down interval. */
  leaseMs: number;
  leaseTarget: LeaseTarget;
  /** Native sender watchdog (ms). */
  watchdogMs?: number;
  /** SCHED_FIFO priority for the sender thread, when permitted. */
  schedPriority?: number;
  /** Names of tracked objects ("interface:eth1", "script:chk") with weights. */
  track: { name: string; weight: number }[];
}

/**
 * A MASTER's engine wakes this often at most (ms). The native sender sends
 * every advert and learns that the event loop runs for its own watchdog
 * (libuv's idle time, no JS: native/loop_watch.h), so the tick
 * is only a guard: it restarts a sender that stopped making progress (never
 * seen) and counts what was sent. A sender the watchdog stopped is
 * restarted as soon as the loop runs again (its 'watchdog' event), not
 * here. Counters are read when scraped (syncCounters), not on this tick.
 */
const MASTER_TICK_MS = 30_000;

/** The MASTER tick: MASTER_TICK_MS, or the advert interval when longer. */
export function masterTickMs(advertIntervalMs: number): number {
  return Math.max(MASTER_TICK_MS, advertIntervalMs);
}

/** The family VRRP runs over: the first VIP's. VIPs of the other family follow the state. */
export function vrrpFamily(cfg: InstanceConfig): 4 | 6 {
  return cfg.vips[0]?.family ?? 4;
}

/** The primary address adverts are sent from (the tie-break between equal priorities). */
export function primaryAddress(cfg: InstanceConfig): string {
  if (cfg.unicastSource) return cfg.unicastSource.address;
  const family = vrrpFamily(cfg);
  if (family === 6) {
    const ll = linkInfo(cfg.interface).linkLocal;
    if (!ll) throw new Error(`instance ${cfg.name}: ${cfg.interface} has no IPv6 link-local address`);
    return ll;
  }
  const vipSet = new Set(cfg.vips.map((v) => v.address));
  const own = addresses(cfg.interface, 4).find((a) => !vipSet.has(a.address));
  if (!own) {
    throw new Error(
      `instance ${cfg.name}: ${cfg.interface} has no IPv4 address of its own to send adverts from (set unicastSource)`,
    );
  }
  return own.address;
}

export class InstanceRunner extends EventEmitter<InstanceRunnerEvents> {
  readonly config: InstanceConfig;
  readonly engine: VrrpInstance;
  readonly family: 4 | 6;
  readonly primary: string;
  /** VIPs carried in adverts (the VRRP family's). */
  readonly advertVips: string[];
  /** Every VIP, both families: what is announced and served. */
  readonly allVips: string[];
  /** The VRRP virtual MAC (instances[].vmac): adverts and announcements leave from it. */
  readonly vmac: string | undefined;

  readonly #opts: InstanceRunnerOptions;
  readonly #log: Logger;
  readonly #socket: VrrpSocket;
  readonly #validator: AdvertValidator;
  /** One sender per destination: a v3 IPv4 checksum covers the destination address. */
  readonly #senders = new Map<string, AdvertSender>();
  #senderPriority = -1;
  #running = false;
  /**
   * The BACKUP's steady state: the advert the engine last accepted from its
   * master, which the socket now absorbs in native code when it comes again
   * unchanged (no JS per advert). The last absorbed one goes to the engine
   * before anything else does (#syncAbsorbed): a packet that differs, or the
   * engine's Master_Down timer, which then finds it restarted.
   */
  #steady: { advert: Parameters<VrrpInstance['onAdvert']>[0] } | null = null;
  /** Set while the engine handles a received advert: adverts it emits then are replies, sent now. */
  #inReceive = false;
  #becameMasterAt: number | null = null;
  #stopping = false;
  /** Per sender: its sent count at the last tick, and when that count last moved. */
  readonly #progress = new Map<AdvertSender, { sent: number; movedAt: number }>();
  /**
   * Per sender: how many of its adverts have been reported ('advert-tx'). The
   * sender's own count is the one source: periodic adverts from its thread and
   * sendNow() alike, so none is missed (the first after becoming MASTER, the
   * last before leaving it) and none is counted twice.
   */
  readonly #counted = new Map<AdvertSender, number>();
  /**
   * The first announcement round, built ahead (interface index + MAC read
   * while nothing is urgent), so becoming MASTER costs no rtnetlink round
   * trips before the first gratuitous ARP leaves. Refreshed after every
   * announcement; null until first needed or after a send failure.
   */
  #announceCache: { ifindex: number; mac: string; frames: Uint8Array[] } | null = null;
  /**
   * Set by holdServing() while a new MASTER waits for its forwarding
   * tables: adverts go out, but the lease renewals and the announcements
   * wait (announcements are kept here) until the promise settles.
   */
  #hold: { until: Promise<void>; announcements: (() => void)[] } | null = null;
  /**
   * Set when the BFD thread took this instance over (armTakeover) before the
   * engine decided: its first announcement round is out already, so the
   * engine's first round is not sent twice, and the failover time is the
   * thread's (monotonic ms).
   */
  #nativeTakeover: { firedMs: number; sentMs: number } | null = null;
  /** The MASTER last reported by a 'master' event. */
  #lastMaster: string | null = null;
  /** When the first announcement of the last failover left (monotonic ms), for the BFD takeover breakdown. */
  lastFailoverAnnounceMs: number | null = null;

  constructor(config: InstanceConfig, opts: InstanceRunnerOptions) {
    super();
    this.config = config;
    this.#opts = opts;
    this.#log = opts.logger.child({ instance: config.name });
    this.family = vrrpFamily(config);
    this.primary = primaryAddress(config);
    // The VRRP family's VIPs, as many as one advert carries; the rest follow
    // the state without being listed, as keepalived's excess eVIPs do.
    const familyVips = config.vips.filter((v) => v.family === this.family).map((v) => v.address);
    const capacity = advertCapacity(config.version, this.family, linkInfo(config.interface).mtu);
    this.advertVips = familyVips.slice(0, capacity);
    if (familyVips.length > capacity) {
      this.#log.warn(
        { vips: familyVips.length, advertised: capacity, firstExcluded: familyVips[capacity] },
        `more VIPs than one advert carries (${capacity} on this link): the rest follow the instance's state unlisted`,
      );
    }
    this.allVips = config.vips.map((v) => v.address);
    this.vmac = config.vmac ? virtualMac(config.vrid, this.family) : undefined;
    const unicast = config.unicastPeers.map((p) => p.address);
    this.#validator = new AdvertValidator({
      version: config.version,
      family: this.family,
      vrid: config.vrid,
      addresses: this.advertVips,
      auth: config.auth ? { type: 'pass', password: config.auth.password } : { type: 'none' },
      advertIntervalMs: config.advertInterval * 1000,
      unicastPeers: unicast,
      v3Checksum: config.checksumMode === 'v2' ? 'v2-style' : 'pseudo-header',
    });
    this.#socket = VrrpSocket.open({
      interface: config.interface,
      family: this.family,
      multicast: unicast.length === 0,
      source: this.primary,
      ...(this.vmac === undefined ? {} : { vmac: this.vmac }),
      linkLayerSend: config.advertSocket === 'packet',
    });
    this.#socket.on('packet', (p) => this.#onPacket(p));
    this.#socket.on('error', (err) => this.#log.error({ err: err.message }, 'VRRP receive failed'));
    // Fix (found by test/netns/daemon-restart): JS checks in once per
    // advert interval, so a fixed 2 s bound tripped on every cycle with
    // advertInterval >= 2 s ("event loop stalled" logged each time). Allow
    // at least 3 intervals.
    const watchdogMs = opts.watchdogMs ?? Math.max(2000, Math.ceil(config.advertInterval * 3000));
    for (const dst of unicast.length > 0 ? unicast : [this.#socket.group]) {
      const sender = new AdvertSender(this.#socket, {
        intervalMs: config.advertInterval * 1000,
        destinations: [dst],
        watchdogMs,
        schedPriority: opts.schedPriority,
      });
      sender.on('watchdog', () => {
        // Delivered by the loop, so the stall is over: a MASTER sends again at once.
        const restart = this.#running && this.engine.state === 'MASTER';
        this.#log.error({ restarted: restart }, 'advert sender stopped by its watchdog: the event loop stalled too long');
        if (restart) {
          sender.start();
          this.#progress.delete(sender);
        }
        this.emit('watchdog');
      });
      sender.on('error', (err) => this.#log.warn({ err: err.message, destination: dst }, 'advert send failing'));
      sender.on('recovered', () => this.#log.info({ destination: dst }, 'advert sends work again'));
      sender.on('lease-error', (err) => this.#log.error({ err: err.message }, 'lease renewal failed'));
      this.#senders.set(dst, sender);
    }
    this.engine = new VrrpInstance(
      {
        name: config.name,
        version: config.version,
        vrid: config.vrid,
        priority: config.priority,
        advertIntervalMs: config.advertInterval * 1000,
        primaryAddress: this.primary,
        vips: this.allVips,
        preempt: config.preempt,
        preemptDelayMs: config.preemptDelay * 1000,
        track: opts.track,
        // The native sender sends every advert and keeps its own watchdog fed (see MASTER_TICK_MS).
        masterTickMs: masterTickMs(config.advertInterval * 1000),
        announce: {
          repeat: config.garp.repeat,
          intervalMs: config.garp.interval * 1000,
          secondBurstDelayMs: config.garp.delay * 1000,
          refreshMs: config.garp.refresh * 1000,
        },
      },
      {
        clock: this.#engineClock(opts.clock),
        emit: (a) => this.#onAction(a),
        drainPending: () => {
          this.#socket.drain();
          this.#syncAbsorbed();
        },
      },
    );
  }

  get state(): VrrpInstanceStatus['state'] {
    return this.engine.state;
  }

  status(): VrrpInstanceStatus {
    // The engine hears of absorbed adverts when it next looks: let it look now.
    this.#syncAbsorbed();
    return this.engine.status();
  }

  /**
   * Brings the advert counters up to date ('advert-rx' for adverts the
   * socket absorbed, 'advert-tx' for those the sender threads sent): called
   * when the metrics are scraped, so a steady instance needs no timer in JS
   * to keep them current.
   */
  syncCounters(): void {
    this.#syncAbsorbed();
    this.#countSent();
  }

  /**
   * A tracked object changed (engine.setTrackState), through the runner: a
   * BACKUP whose priority rises above its master's (with preempt) must stop
   * absorbing that master's adverts, which the engine now lets Master_Down
   * run out on.
   */
  setTrackState(name: string, up: boolean): void {
    this.#syncAbsorbed();
    this.engine.setTrackState(name, up);
    this.#recheckSteady();
  }

  /** `vipctl priority` (engine.setPriority), through the runner for the same reason as setTrackState. */
  setPriority(priority: number): void {
    this.#syncAbsorbed();
    this.engine.setPriority(priority);
    this.#recheckSteady();
  }

  /** Max gap between adverts the native sender measured (µs), and how many it sent. */
  senderStats(): { sent: number; maxGapUs: number } {
    let sent = 0;
    let maxGapUs = 0;
    for (const s of this.#senders.values()) {
      const st = s.stats();
      sent += st.sent;
      maxGapUs = Math.max(maxGapUs, st.maxGapUs);
    }
    return { sent, maxGapUs };
  }

  /**
   * What the BFD thread needs to take this instance over on its own
   * (InstanceBfd.armTakeover): the lease target and the first announcement
   * round, built ahead; null when the frames could not be prepared.
   */
  takeoverSpec(): InstanceTakeoverSpec | null {
    const c = this.#announceCache;
    if (c === null || !this.#running) return null;
    const t = this.#opts.leaseTarget;
    return {
      mapFd: t.mapFd,
      key: t.key,
      value: t.value,
      valueOffset: t.valueOffset,
      leaseNs: Math.round(this.#opts.leaseMs * 1e6),
      ifindex: c.ifindex,
      frames: c.frames,
    };
  }

  /**
   * The BFD thread took over at firedMs and its announcement left by
   * sentMs (monotonic ms); called before the engine hears of the session
   * change. Cleared if the engine does not become MASTER on it.
   */
  noteNativeTakeover(firedMs: number, sentMs: number): void {
    this.#nativeTakeover = { firedMs, sentMs };
  }

  clearNativeTakeover(): void {
    this.#nativeTakeover = null;
  }

  start(): void {
    this.#running = true;
    // Encode the advert and build the announcement frames now, so the
    // BACKUP -> MASTER path only flips switches (failover benchmark: these
    // were ~1-3 ms of the decision -> first GARP time).
    this.#setSenderPriority(this.engine.effectivePriority);
    this.#refreshAnnounceCache();
    this.engine.start();
  }

  /**
   * Graceful stop: a MASTER sends one priority-0 advert so a BACKUP takes
   * over after Skew_Time instead of Master_Down, then everything closes.
   */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    const actions = this.#running ? this.engine.shutdown() : [];
    for (const s of this.#senders.values()) s.setLease(null);
    for (const action of actions) this.#onAction(action);
    this.close();
  }

  /** Releases sockets and threads without any advert (crash-like, for tests and reload). */
  close(): void {
    this.#running = false;
    // Count what the socket absorbed and the senders sent (the engine is not fed: it is done).
    this.#syncAbsorbed();
    this.#countSent();
    for (const s of this.#senders.values()) s.close();
    this.#senders.clear();
    this.#socket.close();
  }

  #onPacket(packet: VrrpPacket): void {
    this.#syncAbsorbed();
    const meta = { family: this.family, src: packet.source, dst: packet.destination, ttl: packet.ttl };
    const res = this.#validator.receive(packet.payload, meta);
    if (!res.ok) {
      // Another router's instance on the same segment is not an error of ours.
      if (res.reason === 'vrid') return;
      this.emit('rx-invalid', res.reason);
      this.#log.debug({ reason: res.reason, from: packet.source }, 'advert rejected');
      return;
    }
    this.emit('advert-rx', 1);
    if (!this.#running) return;
    const advert = receivedAdvert(res.advert, meta, packet.arrivalMs);
    this.#inReceive = true;
    try {
      this.engine.onAdvert(advert);
    } finally {
      this.#inReceive = false;
    }
    this.#updateSteady(packet, advert);
  }

  /**
   * Absorb repeats of this advert natively when all the engine would do with
   * one is restart Master_Down: we are BACKUP, it comes from our master, and
   * it is not one we would preempt (then the engine lets Master_Down run,
   * and must see each one).
   */
  #updateSteady(packet: VrrpPacket, advert: Parameters<VrrpInstance['onAdvert']>[0]): void {
    const st = this.engine.status();
    const master = st.state === 'BACKUP' ? st.masterAddress : null;
    if (master !== this.#lastMaster) {
      this.#lastMaster = master;
      this.emit('master', master);
    }
    const absorbable =
      st.state === 'BACKUP' &&
      st.masterAddress === advert.src &&
      advert.priority > 0 &&
      !(this.config.preempt && advert.priority < st.effectivePriority);
    if (absorbable) {
      this.#steady = { advert };
      this.#socket.setSteady(packet);
    } else if (this.#steady !== null) {
      this.#clearSteady();
    }
  }

  /**
   * The engine's clock, with one difference: in the steady state a BACKUP's
   * timer (then its only one, Master_Down) runs in the socket, where absorbed
   * adverts restart it without JS. It calls back only when Master_Down has
   * really passed since the last advert: the engine gets that advert first,
   * then its timer fires and it decides.
   */
  #engineClock(clock: Clock): Clock {
    const native = Symbol('native Master_Down');
    return {
      now: () => clock.now(),
      setTimer: (delayMs, fire) => {
        if (this.#steady === null || this.engine.state !== 'BACKUP' || this.#socket.closed) return clock.setTimer(delayMs, fire);
        const masterDownMs = this.engine.status().masterDownIntervalMs;
        this.#socket.armMasterDown(clock.now() + delayMs, masterDownMs, () => {
          this.#syncAbsorbed();
          fire();
        });
        return native;
      },
      clearTimer: (id) => {
        if (id === native) this.#socket.disarmMasterDown();
        else clock.clearTimer(id);
      },
    };
  }

  #clearSteady(): void {
    this.#syncAbsorbed();
    this.#steady = null;
    this.#socket.clearSteady();
  }

  /** Gives the engine the last advert the socket absorbed (if any since the last call), and counts them. */
  #syncAbsorbed(): void {
    const a = this.#socket.closed ? { count: 0, lastArrivalMs: 0 } : this.#socket.takeAbsorbed();
    if (a.count === 0) return;
    // Counted even when the steady state just ended (a state change clears it): they were accepted.
    this.emit('advert-rx', a.count);
    if (this.#steady === null || !this.#running) return;
    const advert = { ...this.#steady.advert, arrivalMs: a.lastArrivalMs };
    this.#inReceive = true;
    try {
      this.engine.onAdvert(advert);
    } finally {
      this.#inReceive = false;
    }
    // The engine's answer may have changed (our priority rose above the master's meanwhile).
    this.#recheckSteady();
  }

  /** Stops absorbing when the engine would no longer just restart Master_Down on the steady advert. */
  #recheckSteady(): void {
    if (this.#steady === null) return;
    const advert = this.#steady.advert;
    const st = this.engine.status();
    if (st.state !== 'BACKUP' || st.masterAddress !== advert.src || (this.config.preempt && advert.priority < st.effectivePriority)) {
      this.#steady = null;
      if (!this.#socket.closed) this.#socket.clearSteady();
    }
  }

  #advertBytes(priority: number, destination: string): Buffer {
    const cfg = this.config;
    const fields: AdvertFields =
      cfg.version === 2
        ? {
            version: 2,
            vrid: cfg.vrid,
            priority,
            addresses: this.advertVips,
            authType: cfg.auth ? 1 : 0,
            authData: cfg.auth ? passwordAuthData(cfg.auth.password) : Buffer.alloc(8),
            advertIntervalSec: cfg.advertInterval,
          }
        : {
            version: 3,
            vrid: cfg.vrid,
            priority,
            addresses: this.advertVips,
            maxAdvertIntervalCs: cfg.advertIntervalCentis,
            reserved: 0,
          };
    return encodeAdvert(
      fields,
      { family: this.family, src: this.primary, dst: destination },
      { v3Checksum: cfg.checksumMode === 'v2' ? 'v2-style' : 'pseudo-header' },
    );
  }

  #setSenderPriority(priority: number): void {
    if (priority === this.#senderPriority) return;
    for (const [dst, sender] of this.#senders) sender.setAdvert(this.#advertBytes(priority, dst));
    this.#senderPriority = priority;
  }

  #onAction(action: VrrpAction): void {
    switch (action.kind) {
      case 'stateChange':
        this.#onStateChange(action);
        return;
      case 'sendAdvert':
        this.#onSendAdvert(action.priority);
        return;
      case 'announce':
        this.#announce(action.vips, action.repeat, action.intervalMs);
        return;
    }
  }

  #onStateChange(change: StateChangeAction): void {
    this.#hold = null;
    if (this.#steady !== null) {
      this.#steady = null;
      this.#socket.clearSteady();
    }
    if (change.to === 'MASTER') {
      this.#becameMasterAt = this.#nativeTakeover?.firedMs ?? this.#opts.clock.now();
      this.#progress.clear();
      this.#setSenderPriority(change.priority);
    } else if (change.from === 'MASTER') {
      for (const s of this.#senders.values()) {
        s.setLease(null);
        s.stop();
      }
      this.#countSent();
    }
    // The owner (InstanceSet) activates the data plane before the first advert and
    // announcement leave, or holds serving (holdServing) from this call.
    this.emit('state', change);
    if (change.to === 'MASTER') {
      if (this.#hold === null) this.#setLeases();
      for (const s of this.#senders.values()) s.start();
    }
  }

  #setLeases(): void {
    for (const s of this.#senders.values()) {
      s.setLease({ ...this.#opts.leaseTarget, leaseNs: BigInt(Math.round(this.#opts.leaseMs * 1e6)) });
    }
  }

  /**
   * Called by the daemon from its 'state' handler when it becomes MASTER
   * but cannot forward yet: adverts start at once (VRRP must not wait, or
   * a peer would take MASTER too), while the lease renewals (which make the
   * data plane active) and the VIP announcements wait until `until`
   * settles, by which time the daemon has activated the data plane. Left
   * MASTER meanwhile: nothing is released.
   */
  holdServing(until: Promise<void>): void {
    const hold = { until, announcements: [] as (() => void)[] };
    this.#hold = hold;
    const release = () => {
      if (this.#hold !== hold) return;
      this.#hold = null;
      if (this.engine.state !== 'MASTER' || !this.#running) return;
      this.#setLeases();
      for (const a of hold.announcements) a();
    };
    until.then(release, release);
  }

  #onSendAdvert(priority: number): void {
    if (this.#senders.size === 0) return;
    const stopping = priority === 0;
    const running = this.engine.state === 'MASTER' && !stopping;
    if (running && !this.#inReceive) {
      // The engine's periodic tick while MASTER: the sender thread has it covered.
      this.#setSenderPriority(priority);
      for (const [dst, s] of this.#senders) this.#tickSender(dst, s);
      this.#countSent();
      return;
    }
    // A reply to what we just heard (split brain), or the priority-0 goodbye: now.
    this.#setSenderPriority(priority);
    for (const [dst, s] of this.#senders) {
      try {
        s.sendNow();
      } catch (err) {
        this.#log.warn({ err: (err as Error).message, destination: dst, priority }, 'advert not sent');
      }
    }
    this.#countSent();
  }

  /** Reports the adverts the senders sent since the last report. */
  #countSent(): void {
    let n = 0;
    for (const s of this.#senders.values()) {
      if (s.closed) continue;
      const sent = s.stats().sent;
      n += Math.max(0, sent - (this.#counted.get(s) ?? 0));
      this.#counted.set(s, sent);
    }
    if (n > 0) this.emit('advert-tx', n);
  }

  #refreshAnnounceCache(): void {
    try {
      const info = linkInfo(this.config.interface);
      const mac = this.vmac ?? info.mac;
      if (!mac) throw new Error(`interface ${this.config.interface} has no MAC address`);
      this.#announceCache = { ifindex: info.ifindex, mac, frames: this.allVips.map((v) => announcementFrame(mac, v)) };
    } catch (err) {
      this.#announceCache = null;
      this.#log.debug({ err: (err as Error).message }, 'announcement frames not prepared');
    }
  }

  /**
   * Once per engine tick while MASTER: check in with the sender's watchdog,
   * count what it sent, and restart it if it stopped (its watchdog fired
   * during a stall we are now out of) or stopped making progress.
   */
  #tickSender(dst: string, s: AdvertSender): void {
    s.checkIn();
    const st = s.stats();
    const now = this.#opts.clock.now();
    const p = this.#progress.get(s) ?? { sent: st.sent, movedAt: now };
    if (st.sent !== p.sent) {
      p.sent = st.sent;
      p.movedAt = now;
    }
    this.#progress.set(s, p);
    const stalledMs = now - p.movedAt;
    if (!st.running) {
      this.#log.warn({ destination: dst }, 'event loop back: advert sender restarted');
      s.start();
      p.movedAt = now;
    } else if (stalledMs > 3 * this.config.advertInterval * 1000 + 100) {
      // Never seen in normal operation: a guard so that a stuck thread cannot leave us a silent MASTER.
      this.#log.error({ destination: dst, stalledMs: Math.round(stalledMs), stats: st }, 'advert sender made no progress: restarting it');
      s.stop();
      s.start();
      p.movedAt = now;
    }
  }

  #announce(vips: readonly string[], repeat: number, intervalMs: number): void {
    if (this.#hold !== null) {
      this.#hold.announcements.push(() => this.#announce(vips, repeat, intervalMs));
      return;
    }
    const cache = this.#announceCache;
    const allVips = vips.length === this.allVips.length && vips.every((v, i) => v === this.allVips[i]);
    const native = this.#nativeTakeover;
    this.#nativeTakeover = null;
    if (native !== null && allVips) {
      // The BFD thread sent this round already: the rest follow on schedule.
      this.#emitFailover(native.sentMs);
      if (repeat > 1) {
        setTimeout(() => {
          if (this.engine.state === 'MASTER' && this.#running) this.#announceNow(vips, repeat - 1, intervalMs);
        }, intervalMs);
      }
      return;
    }
    if (cache === null || !allVips) {
      this.#announceNow(vips, repeat, intervalMs);
      return;
    }
    // Taken before the send: packetSend returns only after closing its
    // AF_PACKET socket, and that close waits for an RCU grace period
    // (synchronize_net, 5-15 ms here) after the frames are on the wire.
    const sentAt = this.#opts.clock.now();
    try {
      packetSend(cache.ifindex, cache.frames);
    } catch (err) {
      // The interface may have been re-created (new ifindex): the slow path reads it again.
      this.#log.debug({ err: (err as Error).message }, 'prepared announcement failed; announcing afresh');
      this.#announceCache = null;
      this.#announceNow(vips, repeat, intervalMs);
      this.#refreshAnnounceCache();
      return;
    }
    this.#emitFailover(sentAt);
    // The MAC may have changed since the frames were built: re-read it now the
    // first round is out, and announce with the current one at once if so.
    this.#refreshAnnounceCache();
    const now = this.#announceCache as { mac: string } | null;
    if (now !== null && now.mac !== cache.mac) {
      this.#announceNow(vips, repeat, intervalMs);
      return;
    }
    if (repeat > 1) {
      setTimeout(() => {
        if (this.engine.state === 'MASTER' && this.#running) this.#announceNow(vips, repeat - 1, intervalMs);
      }, intervalMs);
    }
  }

  /** Announces through sendAnnouncements (reads the interface itself), the first round at once. */
  #announceNow(vips: readonly string[], repeat: number, intervalMs: number): void {
    try {
      const sentAt = this.#opts.clock.now();
      const a = sendAnnouncements(this.config.interface, vips, { repeat, intervalMs, ...(this.vmac === undefined ? {} : { mac: this.vmac }) });
      a.done.catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'announcement failed'));
      this.#emitFailover(sentAt);
    } catch (err) {
      this.#log.error({ err: (err as Error).message, vips }, 'announcement failed');
    }
  }

  #emitFailover(sentAt: number): void {
    if (this.#becameMasterAt === null) return;
    this.lastFailoverAnnounceMs = sentAt;
    const seconds = (sentAt - this.#becameMasterAt) / 1000;
    this.#becameMasterAt = null;
    this.emit('failover', seconds);
  }
}
