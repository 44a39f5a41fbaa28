/**
 * The VRRP state machine for one virtual router (RFC 9568 section 6.4), plus
 * keepalived's FAULT state, preempt delay and split-brain healing.
 *
 * Pure: time comes from an injected Clock, received adverts come in as values
 * with the time they ARRIVED, and everything the daemon must do comes out as
 * VrrpAction values through `emit`. Master_Down is decided from arrival
 * times, and before any timer is evaluated the daemon gets a chance
 * (`drainPending`) to feed adverts still waiting in its socket, so an
 * event-loop stall cannot by itself cause a failover.
 */
import { compareIp, parseIp } from './addr.js';
import { advertIntervalMs, type PacketMeta, type VrrpAdvert, type VrrpVersion } from './codec.js';
import { TimerSlot, type Clock } from './clock.js';
import { masterDownIntervalMs, skewTimeMs } from './timing.js';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

/** Priority of the address owner: always MASTER, never adjusted. */
export const OWNER_PRIORITY = 255;

/**
 * A tracked interface or script and what it does to the priority, as in
 * keepalived: a negative weight is added while it is DOWN, a positive weight
 * while it is UP, and weight 0 puts the instance in FAULT while it is down.
 * Names are the daemon's (e.g. "interface:eth1", "script:chk").
 */
export interface TrackWeight {
  name: string;
  weight: number;
}

/** Gratuitous ARP / unsolicited NA bursts, as keepalived's garp_master_* settings. */
export interface AnnounceConfig {
  /** Packets per VIP in one burst. */
  repeat: number;
  /** Gap between the packets of a burst. */
  intervalMs: number;
  /** A second burst this long after becoming MASTER (keepalived: 5 s); 0 = none. */
  secondBurstDelayMs: number;
  /** Re-announce periodically while MASTER; 0 = never. */
  refreshMs: number;
}

export interface VrrpInstanceConfig {
  name: string;
  version: VrrpVersion;
  vrid: number;
  /** Base priority, 1..255 (255 = address owner). */
  priority: number;
  /** Our Advertisement_Interval; v2 whole seconds, v3 10 ms steps. */
  advertIntervalMs: number;
  /** The address we send from: the tie-break between equal priorities. */
  primaryAddress: string;
  vips: readonly string[];
  preempt: boolean;
  /** After startup or leaving FAULT, do not preempt a lower master for this long. */
  preemptDelayMs?: number;
  track?: readonly TrackWeight[];
  announce?: Partial<AnnounceConfig>;
  /**
   * How often a MASTER's periodic sendAdvert action comes, when something
   * else (the daemon's native sender thread) sends the adverts on time: at
   * least advertIntervalMs (the default). Every other advert (a new priority,
   * a reply, the goodbye) still goes at once.
   */
  masterTickMs?: number;
}

/** What the state machine needs of a received, already validated advert. */
export interface ReceivedAdvert {
  /** Sender's primary address. */
  src: string;
  priority: number;
  /** The sender's advert interval (v3: learned as Master_Adver_Interval). */
  intervalMs: number;
  /** When the packet arrived (Clock base), captured before any JS queueing. */
  arrivalMs: number;
}

export interface StateChangeAction {
  kind: 'stateChange';
  instance: string;
  from: VrrpState;
  to: VrrpState;
  /** For people: names the peer, priority or check that caused it. */
  reason: string;
  /** Effective priority after the change (the notify PRIORITY argument). */
  priority: number;
  at: number;
}

/** Send one advertisement with this priority (0 = "I am stopping"). */
export interface SendAdvertAction {
  kind: 'sendAdvert';
  instance: string;
  priority: number;
}

/** Send `repeat` gratuitous ARPs / unsolicited NAs per VIP, `intervalMs` apart. */
export interface AnnounceAction {
  kind: 'announce';
  instance: string;
  vips: readonly string[];
  repeat: number;
  intervalMs: number;
}

export type VrrpAction = StateChangeAction | SendAdvertAction | AnnounceAction;

export interface InstanceDeps {
  clock: Clock;
  /** Receives every action, in the order the daemon must carry them out. */
  emit: (action: VrrpAction) => void;
  /**
   * Called at the start of every timer evaluation: the daemon reads its VRRP
   * socket(s) dry here and calls onAdvert for each packet with its arrival
   * time, so that adverts queued during a stall are seen before Master_Down
   * is decided.
   */
  drainPending?: () => void;
}

export interface VrrpInstanceStatus {
  name: string;
  vrid: number;
  state: VrrpState;
  priority: number;
  effectivePriority: number;
  /** Clock time of becoming MASTER, or null when not MASTER. */
  masterSince: number | null;
  transitions: number;
  /** The master we last accepted an advert from, while BACKUP. */
  masterAddress: string | null;
  masterDownIntervalMs: number;
}

/** keepalived's defaults: 5 per VIP at once, 5 more after 5 s, no refresh. */
const DEFAULT_ANNOUNCE: AnnounceConfig = { repeat: 5, intervalMs: 0, secondBurstDelayMs: 5000, refreshMs: 0 };

/** Split-brain healing re-announces at most this often, so a deaf peer cannot cause a GARP storm. */
const HEAL_ANNOUNCE_MIN_GAP_MS = 1000;

/** Builds the engine's input from a decoded advert. */
export function receivedAdvert(advert: VrrpAdvert, meta: PacketMeta, arrivalMs: number): ReceivedAdvert {
  return { src: meta.src, priority: advert.priority, intervalMs: advertIntervalMs(advert), arrivalMs };
}

export class VrrpInstance {
  readonly name: string;
  readonly vrid: number;
  readonly #config: VrrpInstanceConfig;
  readonly #announce: AnnounceConfig;
  readonly #clock: Clock;
  readonly #emit: (action: VrrpAction) => void;
  readonly #drainPending: (() => void) | undefined;
  readonly #ownAddress: Buffer;
  readonly #trackWeights: ReadonlyMap<string, number>;
  /** Adver_Timer while MASTER, Master_Down_Timer while BACKUP. */
  readonly #electionTimer: TimerSlot;
  readonly #announceTimer: TimerSlot;
  /** Actions not yet emitted: state is made consistent first, then the world is told. */
  readonly #outbox: VrrpAction[] = [];

  #state: VrrpState = 'INIT';
  #basePriority: number;
  readonly #failedTracks = new Set<string>();
  /** Set by a sync group while another member is in FAULT. */
  #externalFault: string | null = null;
  #masterAdverIntervalMs: number;
  #masterDownAt = Infinity;
  #lastArrivalMs = -Infinity;
  #master: { address: string; priority: number } | null = null;
  /** Why Master_Down will fire, when we know better than "silence". */
  #downCause: string | null = null;
  #preemptAllowedAt = 0;
  /** Says why preemption must wait now (connection sync: the table first), or null. */
  #preemptGate: (() => string | null) | null = null;
  #lastHealAnnounceAt = -Infinity;
  #masterSince: number | null = null;
  #transitions = 0;
  /** BFD: each peer whose session has been Up at least once, and whether it is Up now. */
  readonly #bfdSessions = new Map<string, boolean>();
  /** Set while every BFD session (two or more) is down: our own link, not the peers. */
  #bfdFault: string | null = null;

  constructor(config: VrrpInstanceConfig, deps: InstanceDeps) {
    const own = parseIp(config.primaryAddress);
    if (own === null) throw new RangeError(`${config.name}: primary address ${config.primaryAddress} is not an IP`);
    if (!Number.isInteger(config.priority) || config.priority < 1 || config.priority > OWNER_PRIORITY) {
      throw new RangeError(`${config.name}: priority ${config.priority} is outside 1..255`);
    }
    if (!(config.advertIntervalMs > 0)) throw new RangeError(`${config.name}: advert interval must be > 0`);
    this.name = config.name;
    this.vrid = config.vrid;
    this.#config = config;
    this.#announce = { ...DEFAULT_ANNOUNCE, ...config.announce };
    this.#clock = deps.clock;
    this.#emit = deps.emit;
    this.#drainPending = deps.drainPending;
    this.#ownAddress = own.bytes;
    this.#trackWeights = new Map((config.track ?? []).map((t) => [t.name, t.weight]));
    this.#basePriority = config.priority;
    this.#masterAdverIntervalMs = config.advertIntervalMs;
    this.#electionTimer = new TimerSlot(deps.clock, () => this.#onElectionTimer());
    this.#announceTimer = new TimerSlot(deps.clock, () => this.#onAnnounceTimer());
  }

  get state(): VrrpState {
    return this.#state;
  }

  /** Base priority plus the weights of tracked objects (1..254); 255 stays 255. */
  get effectivePriority(): number {
    if (this.#basePriority === OWNER_PRIORITY) return OWNER_PRIORITY;
    let priority = this.#basePriority;
    for (const [name, weight] of this.#trackWeights) {
      const up = !this.#failedTracks.has(name);
      if ((weight < 0 && !up) || (weight > 0 && up)) priority += weight;
    }
    return Math.min(254, Math.max(1, priority));
  }

  /** Our own reason to be in FAULT (a weight-0 track that is down), or null. */
  get ownFaultReason(): string | null {
    for (const name of this.#failedTracks) {
      if (this.#trackWeights.get(name) === 0) return `tracked ${name} is down (weight 0)`;
    }
    return null;
  }

  /** Master_Down_Interval for the current master's interval and our priority. */
  get masterDownIntervalMs(): number {
    return masterDownIntervalMs(this.#config.version, this.effectivePriority, this.#masterAdverIntervalMs);
  }

  status(): VrrpInstanceStatus {
    return {
      name: this.name,
      vrid: this.vrid,
      state: this.#state,
      priority: this.#basePriority,
      effectivePriority: this.effectivePriority,
      masterSince: this.#masterSince,
      transitions: this.#transitions,
      masterAddress: this.#state === 'BACKUP' ? (this.#master?.address ?? null) : null,
      masterDownIntervalMs: this.masterDownIntervalMs,
    };
  }

  /** Leaves INIT (RFC 9568 6.4.1): owner -> MASTER, else BACKUP; FAULT if a weight-0 track is down. */
  start(): void {
    if (this.#state !== 'INIT') return;
    this.#leaveInit('startup');
    this.#flush();
  }

  /** A validated advert for this VRID. */
  onAdvert(rx: ReceivedAdvert): void {
    if (this.#state === 'BACKUP') this.#backupReceive(rx);
    else if (this.#state === 'MASTER') this.#masterReceive(rx);
    // INIT and FAULT do not take part in the election.
    this.#flush();
  }

  /** A tracked interface or script went up or down. Returns false for a name not tracked. */
  setTrackState(name: string, up: boolean): boolean {
    if (!this.#trackWeights.has(name)) return false;
    const before = this.effectivePriority;
    if (up) this.#failedTracks.delete(name);
    else this.#failedTracks.add(name);
    this.#reevaluate(before, `tracked ${name} ${up ? 'up' : 'down'}`);
    this.#flush();
    return true;
  }

  /**
   * A BFD session to `peer` went Up or Down (the daemon's BFD thread decides
   * that; the engine decides what it means, keepalived's track_bfd plus a
   * fast takeover):
   * - a BACKUP whose master's session goes down treats the master as dead
   *   and takes over at once, without waiting Master_Down (the master is
   *   matched by address; when its address is not a BFD peer, e.g. an IPv6
   *   link-local advert source, only when no session is left Up);
   * - when two or more sessions have been Up and all are down, the fault is
   *   ours (our link died, not every peer at once): FAULT until one is Up
   *   again. With one peer vipd cannot tell its link from the peer dying, so
   *   a MASTER stays MASTER (its own link going down puts it in FAULT
   *   through the interface track anyway).
   * Sessions that never came Up do not count, nor does one the peer took
   * down on purpose (`adminDown`: it said AdminDown, RFC 5882 3.2 says that
   * is no path failure): VRRP alone decides about that peer until its
   * session is Up again.
   */
  setBfdSession(peer: string, up: boolean, opts: { adminDown?: boolean } = {}): void {
    if (!up && !this.#bfdSessions.has(peer)) return;
    const adminDown = !up && opts.adminDown === true;
    if (adminDown) this.#bfdSessions.delete(peer);
    else this.#bfdSessions.set(peer, up);
    const before = this.effectivePriority;
    const states = [...this.#bfdSessions.values()];
    const allDown = states.length >= 2 && states.every((s) => !s);
    const fault = allDown ? `BFD: all ${states.length} sessions down (our link)` : null;
    if (fault !== this.#bfdFault) {
      this.#bfdFault = fault;
      this.#reevaluate(before, fault ?? `BFD session to ${peer} ${adminDown ? 'administratively down' : 'up'}`);
    }
    if (!up && !adminDown && this.#state === 'BACKUP' && this.#master !== null) {
      const master = this.#master.address;
      const masterIsPeer = this.#bfdSessions.has(master);
      if (master === peer || (!masterIsPeer && !states.some((s) => s))) {
        this.#becomeMaster(`BFD session to ${peer} down: master ${master} treated as dead`);
      }
    }
    this.#flush();
  }

  /** Changes the base priority (vipctl priority); the owner's 255 is a config matter. */
  setPriority(priority: number): void {
    if (!Number.isInteger(priority) || priority < 1 || priority > OWNER_PRIORITY) {
      throw new RangeError(`${this.name}: priority ${priority} is outside 1..255`);
    }
    const before = this.effectivePriority;
    this.#basePriority = priority;
    this.#reevaluate(before, `priority set to ${priority}`);
    this.#flush();
  }

  /** Sync group: hold this instance in FAULT (reason) or release it (null). */
  setExternalFault(reason: string | null): void {
    if (reason === this.#externalFault) return;
    const before = this.effectivePriority;
    this.#externalFault = reason;
    this.#reevaluate(before, reason ?? 'sync group fault cleared');
    this.#flush();
  }

  /**
   * A gate on preemption: while it returns a reason, a BACKUP that would
   * preempt a lower-priority MASTER keeps following it instead. Connection
   * sync holds preemption until this host has the MASTER's connection table
   * (LoxiLB issue #565: a master that preempted before its sync reset
   * clients). Taking over from a MASTER that went silent is never held.
   */
  setPreemptGate(gate: (() => string | null) | null): void {
    this.#preemptGate = gate;
  }

  /** Sync group: a BACKUP joins its group's new MASTER state. */
  forceMaster(reason: string): void {
    if (this.#state === 'BACKUP') this.#becomeMaster(reason);
    this.#flush();
  }

  /** Sync group: a MASTER steps down with its group. */
  forceBackup(reason: string): void {
    if (this.#state === 'MASTER') this.#becomeBackup(reason, this.#clock.now() + this.masterDownIntervalMs);
    this.#flush();
  }

  /**
   * Graceful stop: back to INIT. A MASTER says so with a priority-0 advert, so
   * the best backup takes over after Skew_Time instead of Master_Down_Interval.
   * The actions are RETURNED, not emitted, so the stop path sends them itself
   * before it exits.
   */
  shutdown(): VrrpAction[] {
    if (this.#state === 'INIT') return [];
    this.#flush();
    this.#cancelTimers();
    const actions: VrrpAction[] = [];
    if (this.#state === 'MASTER') actions.push(this.#advert(0));
    actions.push(this.#setState('INIT', 'shutdown'));
    return actions;
  }

  // ---- transitions -------------------------------------------------------

  #leaveInit(why: string): void {
    const now = this.#clock.now();
    this.#preemptAllowedAt = now + (this.#config.preemptDelayMs ?? 0);
    const fault = this.#faultReason();
    if (fault !== null) {
      this.#cancelTimers();
      this.#queue(this.#setState('FAULT', `${why}: ${fault}`));
      return;
    }
    if (this.effectivePriority === OWNER_PRIORITY) {
      this.#becomeMaster(`${why}: address owner (priority 255)`);
      return;
    }
    this.#masterAdverIntervalMs = this.#config.advertIntervalMs;
    this.#master = null;
    this.#downCause = null;
    this.#lastArrivalMs = now;
    this.#becomeBackup(
      `${why}: priority ${this.effectivePriority}, waiting ${this.masterDownIntervalMs} ms for a master`,
      now + this.masterDownIntervalMs,
    );
  }

  #becomeMaster(reason: string): void {
    const now = this.#clock.now();
    this.#electionTimer.cancel();
    this.#master = null;
    this.#downCause = null;
    this.#queue(this.#setState('MASTER', reason));
    this.#sendAdvert(this.effectivePriority);
    this.#queueAnnounce();
    const firstRepeat = this.#announce.secondBurstDelayMs || this.#announce.refreshMs;
    if (firstRepeat > 0) this.#announceTimer.armAt(now + firstRepeat);
  }

  #becomeBackup(reason: string, masterDownAt: number): void {
    this.#announceTimer.cancel();
    this.#queue(this.#setState('BACKUP', reason));
    this.#masterDownAt = masterDownAt;
    this.#electionTimer.armAt(masterDownAt);
  }

  #enterFault(reason: string): void {
    const wasMaster = this.#state === 'MASTER';
    this.#cancelTimers();
    // Like keepalived: a MASTER that faults tells the backups at once.
    if (wasMaster) this.#queue(this.#advert(0));
    this.#queue(this.#setState('FAULT', reason));
  }

  /** After a track, priority or sync-group change: FAULT in/out, or a new priority to advertise. */
  #reevaluate(priorityBefore: number, why: string): void {
    if (this.#state === 'INIT') return;
    const fault = this.#faultReason();
    if (fault !== null) {
      if (this.#state !== 'FAULT') this.#enterFault(fault);
      return;
    }
    if (this.#state === 'FAULT') {
      this.#leaveInit(`${why}, fault cleared`);
      return;
    }
    // A MASTER advertises a new priority at once so a better backup can preempt
    // without waiting an interval. A BACKUP's new skew applies from the next advert.
    if (this.#state === 'MASTER' && this.effectivePriority !== priorityBefore) {
      this.#sendAdvert(this.effectivePriority);
    }
  }

  // ---- receiving (RFC 9568 6.4.2 / 6.4.3) --------------------------------

  #backupReceive(rx: ReceivedAdvert): void {
    const ours = this.effectivePriority;
    if (rx.priority === 0) {
      // The master is stopping: take over after Skew_Time, measured from arrival.
      this.#masterDownAt = rx.arrivalMs + skewTimeMs(this.#config.version, ours, this.#masterAdverIntervalMs);
      this.#downCause = `priority 0 from ${rx.src} (master stopped)`;
      this.#electionTimer.armNoLaterThan(this.#masterDownAt);
      return;
    }
    const mayPreempt = this.#config.preempt && rx.arrivalMs >= this.#preemptAllowedAt && (this.#preemptGate?.() ?? null) === null;
    if (mayPreempt && rx.priority < ours) {
      // Discard: Master_Down_Timer keeps running and we take over when it fires.
      this.#downCause = `preempting ${rx.src} (priority ${rx.priority} < ours ${ours})`;
      return;
    }
    if (this.#config.version === 3 && rx.intervalMs > 0) this.#masterAdverIntervalMs = rx.intervalMs;
    this.#lastArrivalMs = Math.max(this.#lastArrivalMs, rx.arrivalMs);
    this.#masterDownAt = this.#lastArrivalMs + this.masterDownIntervalMs;
    this.#master = { address: rx.src, priority: rx.priority };
    this.#downCause = null;
    this.#electionTimer.armNoLaterThan(this.#masterDownAt);
  }

  #masterReceive(rx: ReceivedAdvert): void {
    const ours = this.effectivePriority;
    if (rx.priority === 0) {
      // Another router is stopping: show ourselves at once so backups do not fail over.
      this.#sendAdvert(ours);
      return;
    }
    const theirAddress = parseIp(rx.src)?.bytes ?? Buffer.alloc(0);
    const addressOrder = compareIp(theirAddress, this.#ownAddress);
    if (rx.priority > ours || (rx.priority === ours && addressOrder > 0)) {
      if (this.#config.version === 3 && rx.intervalMs > 0) this.#masterAdverIntervalMs = rx.intervalMs;
      this.#lastArrivalMs = rx.arrivalMs;
      this.#master = { address: rx.src, priority: rx.priority };
      this.#downCause = null;
      const why =
        rx.priority > ours
          ? `higher priority ${rx.priority} from ${rx.src} (ours ${ours})`
          : `equal priority ${rx.priority} from higher address ${rx.src}`;
      this.#becomeBackup(why, rx.arrivalMs + this.masterDownIntervalMs);
      return;
    }
    // Split brain: a lower (or equal, lower-address) router thinks it is MASTER.
    // Advertise now so it steps down, and re-announce so switches and hosts
    // that followed its ARPs come back to us.
    this.#sendAdvert(ours);
    const now = this.#clock.now();
    if (now - this.#lastHealAnnounceAt >= HEAL_ANNOUNCE_MIN_GAP_MS) {
      this.#lastHealAnnounceAt = now;
      this.#queueAnnounce();
    }
  }

  // ---- timers ------------------------------------------------------------

  #onElectionTimer(): void {
    // Let the daemon feed adverts that arrived while JS was busy; if one of
    // them re-armed the timer (a live master, a step-down), that decision stands.
    this.#drainPending?.();
    if (!this.#electionTimer.armed) {
      if (this.#state === 'MASTER') {
        this.#sendAdvert(this.effectivePriority);
      } else if (this.#state === 'BACKUP') {
        const now = this.#clock.now();
        if (now < this.#masterDownAt) this.#electionTimer.armAt(this.#masterDownAt);
        else this.#becomeMaster(this.#downReason(now));
      }
    }
    this.#flush();
  }

  #onAnnounceTimer(): void {
    if (this.#state !== 'MASTER') return;
    this.#queueAnnounce();
    if (this.#announce.refreshMs > 0) this.#announceTimer.armAt(this.#clock.now() + this.#announce.refreshMs);
    this.#flush();
  }

  #downReason(now: number): string {
    if (this.#downCause !== null) return this.#downCause;
    const silentFor = Math.round(now - this.#lastArrivalMs);
    if (this.#master === null) return `no master heard for ${silentFor} ms`;
    return `no advert from ${this.#master.address} (priority ${this.#master.priority}) for ${silentFor} ms`;
  }

  // ---- helpers -----------------------------------------------------------

  #faultReason(): string | null {
    return this.ownFaultReason ?? this.#bfdFault ?? this.#externalFault;
  }

  #cancelTimers(): void {
    this.#electionTimer.cancel();
    this.#announceTimer.cancel();
  }

  #advert(priority: number): SendAdvertAction {
    return { kind: 'sendAdvert', instance: this.name, priority };
  }

  /** Queues an advert and restarts Adver_Timer from now. */
  #sendAdvert(priority: number): void {
    this.#queue(this.#advert(priority));
    this.#electionTimer.armAt(this.#clock.now() + Math.max(this.#config.advertIntervalMs, this.#config.masterTickMs ?? 0));
  }

  #queueAnnounce(): void {
    const { repeat, intervalMs } = this.#announce;
    this.#queue({ kind: 'announce', instance: this.name, vips: this.#config.vips, repeat, intervalMs });
  }

  #setState(to: VrrpState, reason: string): StateChangeAction {
    const at = this.#clock.now();
    const from = this.#state;
    this.#state = to;
    this.#transitions++;
    this.#masterSince = to === 'MASTER' ? at : null;
    return { kind: 'stateChange', instance: this.name, from, to, reason, priority: this.effectivePriority, at };
  }

  #queue(action: VrrpAction): void {
    this.#outbox.push(action);
  }

  /** Emits queued actions in order; re-entrant calls from `emit` append and are delivered in turn. */
  #flush(): void {
    for (let action = this.#outbox.shift(); action !== undefined; action = this.#outbox.shift()) {
      this.#emit(action);
    }
  }
}
