/**
 * Connection sync between vipd hosts (docs/architecture.md "Connection
 * sync"): the MASTER sends new and changed connection-table entries to its
 * peers over UDP every `interval`, a BACKUP writes them into its own table
 * with its own real indexes, and a host that starts (or hears a new MASTER)
 * asks for everything once (a bulk sync). Datagrams carry an HMAC-SHA256
 * tag; anything that fails it, or replays, is counted and dropped.
 *
 * Which host is MASTER of what, which services exist and which real index
 * a backend has here all come from the daemon through SyncHost: this module
 * owns only the sockets, the timers and the bookkeeping.
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { randomInt } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { ConnectionSyncConfig } from '../config/index.js';
import type { Logger } from '../daemon/logger.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../dataplane/abi.js';
import { parseAddr } from '../dataplane/addr.js';
import type { SlotWords } from '../dataplane/fallbacks.js';
import type { FallbackSource, RingVersion, ServiceRef } from '../dataplane/manager.js';
import { FallbackMirrors, ringToFallbacks } from './fallbacks.js';
import { applyEntries, endpointKey, readEntries, SentEntries, seenNow, toWire, type Endpoints, type FlowMaps, type ReadEntry } from './table.js';
import {
  decodeMessage,
  encodeMessage,
  ENTRIES_PER_DATAGRAM,
  FLAG_BULK,
  FLAG_WANT_BULK,
  MessageType,
  ReplayGuard,
  type SyncEntry,
  type SyncMessage,
} from './wire.js';

/** What the sync needs to know of the daemon, read when it needs it. */
export interface SyncHost {
  /** Instance ids this host is MASTER of. */
  masterIds(): ReadonlySet<number>;
  /** The VRRP masters this host hears now (it is BACKUP of their instances). */
  heardMasters(): readonly string[];
  /** The VRRP instances' unicast peers (sync sends there too). */
  unicastPeers(): readonly string[];
  /** `vip|port|protocol` -> service (ServiceTable.endpoints()). */
  endpoints(): Endpoints;
  /** Real index -> backend address (both of a backend's indexes). */
  realAddresses(): ReadonlyMap<number, string>;
  /** Every service's live ring and fallback version (Dataplane.ringVersions()). */
  rings(): readonly RingVersion[];
  /** Both words of a live ring's slots. */
  ringSlots(ring: number, size: number): SlotWords;
  /** The MASTER's fallbacks of a service changed: rewrite its live ring from fallbackSource (Dataplane.refreshFallbacks()). */
  refreshFallbacks(service: ServiceRef): void;
}

export interface FlowSyncOptions {
  config: ConnectionSyncConfig;
  maps: FlowMaps;
  host: SyncHost;
  logger: Logger;
  /** Where the vipd_sync_* counters go (the daemon's metrics registry). */
  registry?: Registry;
  /** Seconds between hellos (and bulk-request retries). Default 1. */
  helloSeconds?: number;
  /** A live entry is sent again at least this often (the peer's sweep expires what is not refreshed). Default 20 s. */
  refreshMs?: number;
  /** This host's table is already whole (a hitless restart adopted it): no hold at start. */
  startSynced?: boolean;
}

export type SyncOutcome = 'synced' | 'alone' | 'timeout';

const HOLD_REASON = 'connection sync: waiting for the MASTER connection table';

/** A hello source counts as a peer for this many hellos after its last one. */
const HEARD_HELLOS = 5;

class SyncCounters {
  readonly datagrams: Counter<'direction' | 'result'>;
  readonly entries: Counter<'direction' | 'result'>;
  readonly slots: Counter<'direction' | 'result'>;

  constructor(registry: Registry | undefined) {
    const registers = registry ? [registry] : [];
    this.datagrams = new Counter({
      name: 'vipd_sync_datagrams_total',
      help: 'Connection-sync datagrams by direction (rx, tx) and result (ok; rx: malformed, auth, replay)',
      labelNames: ['direction', 'result'],
      registers,
    });
    this.entries = new Counter({
      name: 'vipd_sync_entries_total',
      help: 'Connection-sync entries: tx sent (increments, bulk); rx applied, unknown_service, unknown_backend, master_here',
      labelNames: ['direction', 'result'],
      registers,
    });
    this.slots = new Counter({
      name: 'vipd_sync_slots_total',
      help: 'Connection-sync slot fallbacks: tx sent (increments, bulk); rx applied, bad, unknown_service, master_here',
      labelNames: ['direction', 'result'],
      registers,
    });
  }
}

/** `vip|port|protocol` of a service, as endpoints() keys it. */
function serviceKey(s: ServiceRef): string {
  return `${s.vip}|${s.port}|${s.protocol}`;
}

/** Fallbacks datagrams sent in a row before the bulk answer lets the socket drain. */
const FALLBACK_BURST = 32;
/** Rings whose fallbacks one pass sends at most (a host that just became MASTER of 10 000 services sends them over several passes). */
const RINGS_PER_PASS = 256;

/** Tokens for `rate` entries per second, with one second of burst. */
class TokenBucket {
  #tokens: number;
  #at = Date.now();

  constructor(private readonly rate: number) {
    this.#tokens = rate;
  }

  take(n: number): number {
    const now = Date.now();
    this.#tokens = Math.min(this.rate, this.#tokens + ((now - this.#at) * this.rate) / 1000);
    this.#at = now;
    const got = Math.max(0, Math.min(n, Math.floor(this.#tokens)));
    this.#tokens -= got;
    return got;
  }
}

export class FlowSync {
  readonly #cfg: ConnectionSyncConfig;
  readonly #maps: FlowMaps;
  readonly #host: SyncHost;
  readonly #log: Logger;
  readonly #key: Buffer;
  readonly #counters: SyncCounters;
  readonly #sent: SentEntries;
  readonly #bucket: TokenBucket;
  readonly #replay = new ReplayGuard();
  readonly #helloMs: number;
  readonly #sender = randomInt(1, 0xffffffff);
  #seq = 0;
  #sock4: Socket | undefined;
  #sock6: Socket | undefined;
  #passTimer: NodeJS.Timeout | undefined;
  #helloTimer: NodeJS.Timeout | undefined;
  readonly #local = new Set<string>();
  /** Hello sources: address -> ms of the last hello. */
  readonly #heard = new Map<string, number>();
  /** The bulk this host asks for (its id), or null. */
  #wantBulk: number | null = null;
  #lastMasters = '';
  /** This host holds the MASTER's table (or is the MASTER, or gave up waiting): preemption is not held. */
  #synced: boolean;
  #unsyncedSince = Date.now();
  /** Bulk answers running or done: `peer|id` -> entries sent (undefined while running). */
  readonly #bulks = new Map<string, number | undefined>();
  #closed = false;
  readonly #warnedAt = new Map<string, number>();
  /** The MASTER's fallbacks of services this host does not serve. */
  readonly #mirrors = new FallbackMirrors();
  /** Services whose mirror changed since their live ring was last rewritten from it. */
  readonly #dirty = new Set<string>();
  /** What this MASTER last sent of each service's fallbacks: `vip|port|protocol` -> ring version and when. */
  readonly #sentRings = new Map<string, { version: number; atMs: number }>();
  readonly #refreshMs: number;
  /** endpoints() for the current turn of the event loop (the fallback source runs once per install). */
  #endpointsCache: Endpoints | undefined;

  constructor(opts: FlowSyncOptions) {
    this.#cfg = opts.config;
    this.#maps = opts.maps;
    this.#host = opts.host;
    this.#log = opts.logger;
    this.#key = Buffer.from(opts.config.key ?? '', 'utf8');
    this.#counters = new SyncCounters(opts.registry);
    this.#refreshMs = opts.refreshMs ?? 20_000;
    this.#sent = new SentEntries(this.#refreshMs);
    this.#bucket = new TokenBucket(opts.config.rate);
    this.#helloMs = (opts.helloSeconds ?? 1) * 1000;
    this.#synced = opts.startSynced ?? false;
  }

  async start(): Promise<void> {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) this.#local.add(a.address);
    this.#sock4 = await this.#bind('udp4', '0.0.0.0');
    this.#sock6 = await this.#bind('udp6', '::').catch((err: Error) => {
      this.#log.warn({ err: err.message }, 'connection sync: no IPv6 socket (IPv6 peers unreachable)');
      return undefined;
    });
    this.#passTimer = setInterval(() => this.#pass(), this.#cfg.interval * 1000);
    this.#helloTimer = setInterval(() => this.#hello(), this.#helloMs);
    this.#log.info(
      { port: this.#cfg.port, peers: this.#cfg.peers.map((p) => p.address), key: this.#cfg.keySource, intervalMs: this.#cfg.interval * 1000 },
      'connection sync listening',
    );
    if (!this.#synced && this.#cfg.holdTimeout > 0) {
      this.#log.info({ holdTimeoutSeconds: this.#cfg.holdTimeout }, 'connection sync: preemption held until a bulk sync from the MASTER completes');
    }
  }

  #bind(type: 'udp4' | 'udp6', address: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type, ipv6Only: type === 'udp6' });
      sock.once('error', reject);
      sock.bind(this.#cfg.port, address, () => {
        sock.off('error', reject);
        sock.on('error', (err) => this.#log.warn({ err: err.message }, 'connection sync socket error'));
        sock.on('message', (msg, rinfo) => this.#receive(msg, rinfo.address));
        resolve(sock);
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#passTimer);
    clearInterval(this.#helloTimer);
    this.#sock4?.close();
    this.#sock6?.close();
  }

  /**
   * Why preemption must wait now, or null (the VRRP engines' preempt gate).
   * A host that hears a MASTER it has no bulk sync from yet (it started,
   * came back from FAULT, or another host took over) holds preemption
   * until the bulk completed or `holdTimeout` passed.
   */
  preemptHold(): string | null {
    this.#followMasters();
    if (this.#synced) return null;
    if (Date.now() - this.#unsyncedSince >= this.#cfg.holdTimeout * 1000) {
      this.#markSynced('timeout', this.#lastMasters);
      return null;
    }
    return HOLD_REASON;
  }

  /** Whether this host holds the MASTER's table (tests, status). */
  get synced(): boolean {
    return this.#synced;
  }

  /**
   * The data plane's fallback source (Dataplane.setFallbackSource()): for a
   * service this host is not MASTER of and has the MASTER's fallbacks for,
   * the words that make its ring decide as the MASTER's does.
   */
  readonly fallbackSource: FallbackSource = (service, slots) => {
    const key = serviceKey(service);
    if (this.#closed || !this.#mirrors.has(key)) return undefined;
    const ep = this.#endpoints().get(key);
    if (!ep || this.#host.masterIds().has(ep.instanceId)) return undefined;
    return this.#mirrors.fallbackWords(key, slots, (backend) => ep.realOf(backend));
  };

  #endpoints(): Endpoints {
    if (!this.#endpointsCache) {
      this.#endpointsCache = this.#host.endpoints();
      setImmediate(() => (this.#endpointsCache = undefined));
    }
    return this.#endpointsCache;
  }

  /** Follows the masters this host hears: a new one means a bulk to ask for. */
  #followMasters(): void {
    const masters = this.#host.heardMasters().filter((a) => !this.#local.has(a));
    const key = [...masters].sort().join(',');
    if (masters.length === 0) {
      this.#lastMasters = '';
      // The MASTER itself holds what there is; a host that hears nobody and is nobody (starting, FAULT) is out of touch.
      if (this.#host.masterIds().size > 0) this.#markSynced('alone', '');
      else this.#markUnsynced('no MASTER heard');
      return;
    }
    if (key === this.#lastMasters) return;
    this.#lastMasters = key;
    this.#wantBulk = randomInt(1, 0xffffffff);
    this.#markUnsynced(`MASTER ${key}`);
  }

  #markSynced(outcome: SyncOutcome, from: string): void {
    if (this.#synced) return;
    this.#synced = true;
    const fields = { outcome, from, ms: Date.now() - this.#unsyncedSince };
    if (outcome === 'timeout') this.#log.warn(fields, 'connection sync: no bulk sync within holdTimeout; preemption allowed');
    else this.#log.info(fields, outcome === 'synced' ? 'connection sync: MASTER table received; preemption allowed' : 'connection sync: this host is MASTER');
  }

  #markUnsynced(why: string): void {
    if (!this.#synced) return;
    this.#synced = false;
    this.#unsyncedSince = Date.now();
    this.#log.info({ why, holdTimeoutSeconds: this.#cfg.holdTimeout }, 'connection sync: preemption held until a bulk sync from the MASTER completes');
  }

  // ---- sending ----------------------------------------------------------------

  #nextHeader(type: MessageType, flags: number, bulkId = 0, value = 0): Omit<SyncMessage, 'entries'> {
    this.#seq = (this.#seq + 1) >>> 0;
    return { type, flags, sender: this.#sender, seq: this.#seq, timeMs: Date.now(), bulkId, value };
  }

  #send(m: SyncMessage, to: string): void {
    const sock = isIPv4(to) ? this.#sock4 : isIPv6(to) ? this.#sock6 : undefined;
    if (!sock || this.#closed) return;
    sock.send(encodeMessage(m, this.#key), this.#cfg.port, to);
    this.#counters.datagrams.inc({ direction: 'tx', result: 'ok' });
  }

  /** Where increments go: the configured peers, the VRRP unicast peers and the hosts heard saying hello, never ourselves. */
  #targets(): string[] {
    const now = Date.now();
    for (const [a, at] of this.#heard) if (now - at > HEARD_HELLOS * this.#helloMs) this.#heard.delete(a);
    const all = new Set([...this.#cfg.peers.map((p) => p.address), ...this.#host.unicastPeers(), ...this.#heard.keys()]);
    return [...all].filter((a) => !this.#local.has(a));
  }

  /** The entries of services this host is MASTER of, with their backends by address. */
  #masterEntries(): { read: ReadEntry; wire: SyncEntry }[] {
    const masters = this.#host.masterIds();
    if (masters.size === 0) return [];
    const endpoints = this.#host.endpoints();
    const addresses = this.#host.realAddresses();
    const now = seenNow();
    const out: { read: ReadEntry; wire: SyncEntry }[] = [];
    for (const read of readEntries(this.#maps)) {
      const ep = endpoints.get(read.endpoint);
      if (!ep || !masters.has(ep.instanceId)) continue;
      const wire = toWire(read, addresses, now);
      if (wire) out.push({ read, wire });
    }
    return out;
  }

  /** One pass: the new and changed entries (and refreshes), within the rate, to every peer. */
  #pass(): void {
    if (this.#closed) return;
    try {
      if (this.#host.masterIds().size === 0) {
        // Not MASTER: when this host becomes one, everything it holds is news to the peers.
        this.#sent.clear();
        this.#sentRings.clear();
        return;
      }
      this.#forgetServed();
      const targets = this.#targets();
      if (targets.length === 0) return;
      const nowMs = Date.now();
      this.#sendFallbacks(targets, nowMs);
      this.#sent.beginPass();
      const due = this.#masterEntries().filter((e) => this.#sent.due(e.read, nowMs));
      this.#sent.endPass();
      const allowed = this.#bucket.take(due.length);
      const batch = due.slice(0, allowed);
      for (let i = 0; i < batch.length; i += ENTRIES_PER_DATAGRAM) {
        const chunk = batch.slice(i, i + ENTRIES_PER_DATAGRAM);
        const m = { ...this.#nextHeader(MessageType.Entries, 0), entries: chunk.map((e) => e.wire) };
        for (const to of targets) this.#send(m, to);
      }
      for (const e of batch) this.#sent.markSent(e.read, nowMs);
      if (batch.length) this.#counters.entries.inc({ direction: 'tx', result: 'sent' }, batch.length);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'connection sync pass failed');
    }
  }

  /** Mirrors of services this host is MASTER of now: its own table decides for them. */
  #forgetServed(): void {
    if (this.#mirrors.size === 0) return;
    const masters = this.#host.masterIds();
    const endpoints = this.#endpoints();
    for (const key of this.#mirrors.services()) {
      const ep = endpoints.get(key);
      if (!ep || masters.has(ep.instanceId)) this.#mirrors.forget(key);
    }
  }

  /** The Fallbacks datagrams of one ring (a service this host is MASTER of). */
  #fallbackMessages(r: RingVersion, addresses: ReadonlyMap<number, string>, flags: number, bulkId: number): SyncMessage[] {
    const { addr, family } = parseAddr(r.vip);
    const svc = { family, proto: r.protocol === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP, vip: addr.subarray(0, family === 4 ? 4 : 16), vport: r.port };
    return ringToFallbacks(svc, this.#host.ringSlots(r.ring, r.ringSize), addresses).map((fallbacks) => ({
      ...this.#nextHeader(MessageType.Fallbacks, flags, bulkId),
      entries: [],
      fallbacks,
    }));
  }

  /** The fallbacks of every service this host is MASTER of whose ring changed since sent (or every refreshMs), to every peer. */
  #sendFallbacks(targets: readonly string[], nowMs: number): void {
    const masters = this.#host.masterIds();
    let addresses: ReadonlyMap<number, string> | undefined;
    let slots = 0;
    let rings = 0;
    for (const r of this.#host.rings()) {
      if (!masters.has(r.instance)) continue;
      const key = serviceKey(r);
      const prev = this.#sentRings.get(key);
      if (prev && prev.version === r.version && nowMs - prev.atMs < this.#refreshMs) continue;
      if (++rings > RINGS_PER_PASS) break;
      addresses ??= this.#host.realAddresses();
      for (const m of this.#fallbackMessages(r, addresses, 0, 0)) {
        for (const to of targets) this.#send(m, to);
        slots += m.fallbacks?.slots.length ?? 0;
      }
      this.#sentRings.set(key, { version: r.version, atMs: nowMs });
    }
    if (slots > 0) this.#counters.slots.inc({ direction: 'tx', result: 'sent' }, slots);
  }

  /**
   * A BACKUP says hello to each MASTER it hears (so a multicast MASTER
   * learns where to send) and asks for a bulk when its MASTER is new to it
   * (start, back from FAULT, another host took over), until it has one.
   */
  #hello(): void {
    if (this.#closed) return;
    this.#followMasters();
    const want = this.#wantBulk;
    for (const to of this.#lastMasters === '' ? [] : this.#lastMasters.split(',')) {
      this.#send({ ...this.#nextHeader(MessageType.Hello, want === null ? 0 : FLAG_WANT_BULK, want ?? 0), entries: [] }, to);
    }
  }

  /** Everything this host is MASTER of, to one peer, within the rate; then BulkDone. */
  async #answerBulk(to: string, bulkId: number): Promise<void> {
    const id = `${to}|${bulkId}`;
    if (this.#bulks.has(id)) {
      const sent = this.#bulks.get(id);
      // Done already: the BulkDone was lost, send it again.
      if (sent !== undefined) this.#send({ ...this.#nextHeader(MessageType.BulkDone, 0, bulkId, sent), entries: [] }, to);
      return;
    }
    this.#bulks.set(id, undefined);
    if (this.#bulks.size > 256) this.#bulks.delete(this.#bulks.keys().next().value as string);
    const started = Date.now();
    // The fallbacks first: the BulkDone that ends the preemption hold comes after them.
    const masters = this.#host.masterIds();
    const addresses = this.#host.realAddresses();
    let sentFallbacks = 0;
    let slots = 0;
    for (const r of this.#host.rings()) {
      if (!masters.has(r.instance)) continue;
      for (const m of this.#fallbackMessages(r, addresses, FLAG_BULK, bulkId)) {
        if (this.#closed) return;
        this.#send(m, to);
        slots += m.fallbacks?.slots.length ?? 0;
        if (++sentFallbacks % FALLBACK_BURST === 0) await new Promise((r) => setTimeout(r, 1));
      }
    }
    if (slots > 0) this.#counters.slots.inc({ direction: 'tx', result: 'bulk' }, slots);
    const entries = this.#masterEntries().map((e) => e.wire);
    let at = 0;
    while (at < entries.length && !this.#closed) {
      const n = this.#bucket.take(Math.min(ENTRIES_PER_DATAGRAM, entries.length - at));
      if (n === 0) {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      this.#send({ ...this.#nextHeader(MessageType.Entries, FLAG_BULK, bulkId), entries: entries.slice(at, at + n) }, to);
      at += n;
    }
    this.#counters.entries.inc({ direction: 'tx', result: 'bulk' }, entries.length);
    this.#bulks.set(id, entries.length);
    this.#send({ ...this.#nextHeader(MessageType.BulkDone, 0, bulkId, entries.length), entries: [] }, to);
    this.#log.info({ peer: to, entries: entries.length, fallbackDatagrams: sentFallbacks, ms: Date.now() - started }, 'connection sync: bulk sent');
  }

  // ---- receiving --------------------------------------------------------------

  #receive(buf: Buffer, from: string): void {
    if (this.#closed) return;
    const decoded = decodeMessage(buf, this.#key);
    if (!decoded.ok) {
      this.#counters.datagrams.inc({ direction: 'rx', result: decoded.reason });
      const now = Date.now();
      // One warning per reason per 10 s: a flood of bad datagrams must not flood the log.
      if (now - (this.#warnedAt.get(decoded.reason) ?? 0) > 10_000) {
        this.#warnedAt.set(decoded.reason, now);
        this.#log.warn({ from, reason: decoded.reason }, 'connection sync: datagram dropped (counted in vipd_sync_datagrams_total)');
      }
      return;
    }
    const m = decoded.message;
    if (!this.#replay.accept(m, Date.now())) {
      this.#counters.datagrams.inc({ direction: 'rx', result: 'replay' });
      return;
    }
    this.#counters.datagrams.inc({ direction: 'rx', result: 'ok' });
    try {
      if (m.type === MessageType.Entries) this.#receiveEntries(m);
      else if (m.type === MessageType.Fallbacks) this.#receiveFallbacks(m);
      else if (m.type === MessageType.Hello) {
        this.#heard.set(from, Date.now());
        if ((m.flags & FLAG_WANT_BULK) !== 0 && this.#host.masterIds().size > 0) void this.#answerBulk(from, m.bulkId);
      } else if (m.type === MessageType.BulkDone && m.bulkId !== 0 && m.bulkId === this.#wantBulk) {
        this.#wantBulk = null;
        // The bulk's fallbacks go into the rings before preemption is allowed.
        this.#flushFallbacks();
        this.#log.info({ from, entries: m.value, mirroredServices: this.#mirrors.size }, 'connection sync: bulk received');
        this.#markSynced('synced', from);
      }
    } catch (err) {
      this.#log.warn({ from, err: (err as Error).message }, 'connection sync: applying a datagram failed');
    }
  }

  #receiveFallbacks(m: SyncMessage): void {
    const f = m.fallbacks;
    if (!f) return;
    const key = endpointKey(f.vip, f.family, f.vport, f.proto);
    const ep = key === undefined ? undefined : this.#endpoints().get(key);
    const listed = f.slots.length;
    if (key === undefined || !ep) {
      if (listed > 0) this.#counters.slots.inc({ direction: 'rx', result: 'unknown_service' }, listed);
      return;
    }
    if (this.#host.masterIds().has(ep.instanceId)) {
      if (listed > 0) this.#counters.slots.inc({ direction: 'rx', result: 'master_here' }, listed);
      return;
    }
    const { bad } = this.#mirrors.apply(key, f);
    if (listed - bad > 0) this.#counters.slots.inc({ direction: 'rx', result: 'applied' }, listed - bad);
    if (bad > 0) this.#counters.slots.inc({ direction: 'rx', result: 'bad' }, bad);
    // One rewrite per service for a burst of datagrams (a ring's fallbacks span several).
    if (this.#dirty.size === 0) setImmediate(() => this.#flushFallbacks());
    this.#dirty.add(key);
  }

  /** Rewrites the live rings of the services whose mirror changed. */
  #flushFallbacks(): void {
    if (this.#closed) return;
    for (const key of this.#dirty) {
      const [vip, port, protocol] = key.split('|');
      this.#host.refreshFallbacks({ vip, port: Number(port), protocol: protocol as 'tcp' | 'udp' });
    }
    this.#dirty.clear();
  }

  #receiveEntries(m: SyncMessage): void {
    const masters = this.#host.masterIds();
    const counts = applyEntries(this.#maps, m.entries, this.#host.endpoints(), (id) => masters.has(id), seenNow());
    for (const [result, n] of Object.entries(counts)) if (n > 0) this.#counters.entries.inc({ direction: 'rx', result }, n);
  }
}
