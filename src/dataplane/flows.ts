/**
 * The connection table's sweep (ABI 6, docs/dataplane.md "Connection
 * table"): reads flows4/flows6 in big batches as raw bytes (no object per
 * entry: a million entries are read, judged and counted in a few hundred
 * milliseconds), deletes the entries idle past their timeout, and counts
 * what stays (between batches it yields to the event loop: a sweep of a
 * million entries takes seconds of wall time on a loaded host, and the
 * daemon must go on answering meanwhile): per real index (connections per backend), per state (the
 * table's fill), and which ring slots still have a live entry (the slot
 * clean-up). pending4/6 (first-packet tags) are only counted.
 *
 * Nothing here decides what to do with the counts: src/daemon does.
 */
import type { BpfMap } from '../bpf/index.js';
import { FAMILY_V4, FLOW_CLIENT, FLOW_F_CLOSING, IPPROTO_TCP, IPPROTO_UDP, type Flow, type Flow4Key, type Flow6Key, type Pending } from './abi.js';
import { monotonicNs } from './instances.js';
import type { ServiceSlotsView } from './service-entries.js';

/** Seconds an entry may stay idle. */
export interface FlowTimeouts {
  readonly tcp: number;
  readonly udp: number;
  /** A TCP flow whose client sent FIN or RST. */
  readonly closing: number;
}

/** What a live entry is: the labels of vipd_connections{state}. */
export const FLOW_STATES = ['tcp', 'tcp_closing', 'udp', 'client', 'pending'] as const;
export type FlowState = (typeof FLOW_STATES)[number];

export interface FlowMaps {
  readonly flows4: BpfMap<Flow4Key, Flow>;
  readonly flows6: BpfMap<Flow6Key, Flow>;
  readonly pending4: BpfMap<number, Pending>;
  readonly pending6: BpfMap<number, Pending>;
}

export interface SweepResult {
  /** Date.now() when the read began. */
  readonly startedAt: number;
  /** Wall time of the sweep (ms). */
  readonly durationMs: number;
  /** Entries read (flows4 + flows6). */
  readonly read: number;
  /** Entries deleted as idle past their timeout. */
  readonly expired: number;
  /** Live entries (after the deletions) per real index. */
  readonly byReal: ReadonlyMap<number, number>;
  /** Live entries per state; `pending` counts the tags of pending4 + pending6 set in the last PENDING_RECENT_S. */
  readonly byState: Readonly<Record<FlowState, number>>;
  /** Room in flows4 + flows6 and in pending4 + pending6. */
  readonly capacity: { readonly flows: number; readonly pending: number };
  /** Service index -> per slot of its live ring (as the sweep saw it), 1 when a live entry maps there. */
  readonly slots: ReadonlyMap<number, { readonly ring: number; readonly hasEntry: Uint8Array }>;
}

/** The lease clock's unit in `struct vipd_flow.seen`: ns >> 20. */
const SEEN_SHIFT = 20n;
const SEEN_UNIT_MS = 2 ** 20 / 1e6;

/** The program's clock as `seen` counts it (u32, wraps after ~52 days: compare modulo 2^32). */
export function seenNow(): number {
  return Number((monotonicNs() >> SEEN_SHIFT) & 0xffffffffn);
}

/**
 * Clock units since `seen`, modulo the wrap; a `seen` after `now` is 0. The
 * sweep reads its clock before the table, and packets refresh entries
 * during the read (one batch walks every bucket of the map, milliseconds
 * for a million-entry table, and a loaded host may run other tasks between
 * the clock and the walk). Read modulo 2^32 such an entry was 52 days idle
 * and the sweep deleted a live flow: one that lived by its entry alone
 * went to its slot's fallback at its next packet (issue 14). Half the wrap
 * (26 days) is far beyond any timeout (at most a day).
 */
export function idleUnits(seen: number, now: number): number {
  const units = (now - seen) >>> 0;
  return units > 0x7fffffff ? 0 : units;
}

/** Seconds since `seen` (idleUnits()). */
export function idleSeconds(seen: number, now: number): number {
  return (idleUnits(seen, now) * SEEN_UNIT_MS) / 1000;
}

/** How many entries one batch reads: big batches, few syscalls (a bucket never holds this many). */
const BATCH = 8192;
const KEY4 = 16;
const KEY6 = 40;
const VALUE = 16;

interface ServiceSlotsState {
  readonly view: ServiceSlotsView;
  readonly hasEntry: Uint8Array;
}

export interface SweepOptions {
  readonly timeouts: FlowTimeouts;
  /** Persistence timeout (seconds) by service index, for VIPD_FLOW_CLIENT entries; absent: tcp/udp timeout. */
  readonly persistence?: ReadonlyMap<number, number>;
  /** The services and their live rings (ServiceEntries.slotsViews()). */
  readonly services: readonly ServiceSlotsView[];
  /** The clock to judge by (seenNow()); for tests. */
  readonly now?: number;
  /**
   * The `pending` figure when the caller has it (Dataplane.sweepFlows():
   * from the flow event counters); absent, the sweep reads both pending
   * arrays whole (countPendingTags(): 32 MiB at the default 1M flows, too
   * much for every 5 s).
   */
  readonly pending?: number;
}

/** One sweep over both families; yields to the event loop between batches. */
export async function sweepFlows(maps: FlowMaps, opts: SweepOptions): Promise<SweepResult> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const now = opts.now ?? seenNow();
  const byState: Record<FlowState, number> = { tcp: 0, tcp_closing: 0, udp: 0, client: 0, pending: 0 };
  const byReal = new Map<number, number>();
  const slots = new Map<number, { ring: number; hasEntry: Uint8Array }>();
  const v4 = new Map<number, ServiceSlotsState>();
  const v6 = new Map<string, ServiceSlotsState>();
  for (const view of opts.services) {
    const state = { view, hasEntry: new Uint8Array(view.ringSize) };
    slots.set(view.index, { ring: view.ring, hasEntry: state.hasEntry });
    if (view.family === FAMILY_V4) v4.set(v4Id(view.vip.readUInt32LE(0), view.port, view.proto), state);
    else v6.set(v6Id(view.vip.toString('latin1', 0, 16), view.port, view.proto), state);
  }
  const judge = (svc: ServiceSlotsState | undefined, proto: number, kind: number, words: Uint32Array, w: number): boolean => {
    const real = words[w];
    const hash = words[w + 1];
    const seen = words[w + 2];
    const flags = words[w + 3];
    let state: FlowState;
    let timeout: number;
    if (kind === FLOW_CLIENT) {
      state = 'client';
      timeout = (svc && opts.persistence?.get(svc.view.index)) ?? (proto === IPPROTO_UDP ? opts.timeouts.udp : opts.timeouts.tcp);
    } else if (proto === IPPROTO_TCP) {
      const closing = (flags & FLOW_F_CLOSING) !== 0;
      state = closing ? 'tcp_closing' : 'tcp';
      timeout = closing ? opts.timeouts.closing : opts.timeouts.tcp;
    } else {
      state = 'udp';
      timeout = opts.timeouts.udp;
    }
    if (idleSeconds(seen, now) > timeout) return false;
    byState[state]++;
    byReal.set(real, (byReal.get(real) ?? 0) + 1);
    if (svc) svc.hasEntry[Math.floor((hash * svc.view.ringSize) / 4294967296)] = 1;
    return true;
  };
  let read = 0;
  let expired = 0;
  const r4 = await sweepMap(maps.flows4, KEY4, (keys, k, words, w) => {
    const svc = v4.get(v4Id(keys.readUInt32LE(k + 4), keys.readUInt16BE(k + 10), keys[k + 12]));
    return judge(svc, keys[k + 12], keys[k + 13], words, w);
  });
  const r6 = await sweepMap(maps.flows6, KEY6, (keys, k, words, w) => {
    const svc = v6.get(v6Id(keys.toString('latin1', k + 16, k + 32), keys.readUInt16BE(k + 34), keys[k + 36]));
    return judge(svc, keys[k + 36], keys[k + 37], words, w);
  });
  read = r4.read + r6.read;
  expired = r4.expired + r6.expired;
  byState.pending = opts.pending ?? (await countPendingTags(maps, now));
  return {
    startedAt,
    durationMs: performance.now() - t0,
    read,
    expired,
    byReal,
    byState,
    capacity: { flows: maps.flows4.maxEntries + maps.flows6.maxEntries, pending: maps.pending4.maxEntries + maps.pending6.maxEntries },
    slots,
  };
}

const v4Id = (vip: number, port: number, proto: number) => vip * 131072 + port * 2 + (proto === IPPROTO_UDP ? 1 : 0);
const v6Id = (vip: string, port: number, proto: number) => `${vip}|${port}|${proto}`;

interface BatchBuffers {
  keys: Buffer;
  values: Buffer;
  words: Uint32Array;
  dead: Buffer;
}

/**
 * Batch buffers no read holds, by key size: a read takes a set of its own
 * (reads never share one) and gives it back when done, so a sweep every 5 s
 * does not allocate and zero about 1 MB per map each time.
 */
const spareBuffers = new Map<number, BatchBuffers[]>();

function takeBatchBuffers(keySize: number): BatchBuffers {
  const spare = spareBuffers.get(keySize)?.pop();
  if (spare) return spare;
  const valuesAb = new ArrayBuffer(VALUE * BATCH);
  return { keys: Buffer.alloc(keySize * BATCH), values: Buffer.from(valuesAb), words: new Uint32Array(valuesAb), dead: Buffer.alloc(keySize * BATCH) };
}

function giveBatchBuffers(keySize: number, buffers: BatchBuffers): void {
  let spare = spareBuffers.get(keySize);
  if (!spare) spareBuffers.set(keySize, (spare = []));
  // Two reads at once at most in practice (a sweep and a pending count).
  if (spare.length < 2) spare.push(buffers);
}

type FlowMap = BpfMap<Flow4Key, Flow> | BpfMap<Flow6Key, Flow> | BpfMap<number, Pending>;

/**
 * A whole flow map, batch by batch into the same buffers (raw keys, values
 * as 32-bit words), yielding to the event loop between batches; an empty
 * map (1 entry: no service of that family) is not read.
 */
async function* rawBatches(map: FlowMap, keySize: number): AsyncGenerator<{ count: number; keys: Buffer; words: Uint32Array; dead: Buffer }> {
  if (map.maxEntries <= 1) return;
  const buffers = takeBatchBuffers(keySize);
  const { keys, values, words, dead } = buffers;
  try {
    let cursor: Buffer | null = null;
    for (;;) {
      let res: { count: number; done: boolean; outBatch: Buffer };
      try {
        res = map.lookupBatchRaw(cursor, keys, values, BATCH);
      } catch (err) {
        // An empty hash map answers ENOENT to the first batch.
        if ((err as { code?: string }).code === 'ENOENT' || /ENOENT/.test((err as Error).message)) return;
        throw err;
      }
      yield { count: res.count, keys, words, dead };
      if (res.done) return;
      cursor = res.outBatch;
      await yieldToEventLoop();
    }
  } finally {
    giveBatchBuffers(keySize, buffers);
  }
}

/**
 * Reads a whole map batch by batch; keep(keys, keyOffset, words, wordOffset)
 * says whether an entry stays. Deletes the others a batch at a time.
 */
async function sweepMap(
  map: FlowMap,
  keySize: number,
  keep: (keys: Buffer, k: number, words: Uint32Array, w: number) => boolean,
): Promise<{ read: number; expired: number }> {
  let read = 0;
  let expired = 0;
  for await (const { count, keys, words, dead } of rawBatches(map, keySize)) {
    let deadCount = 0;
    for (let i = 0; i < count; i++) {
      if (keep(keys, i * keySize, words, i * 4)) continue;
      keys.copy(dead, deadCount * keySize, i * keySize, (i + 1) * keySize);
      deadCount++;
    }
    read += count;
    if (deadCount > 0) expired += map.deleteBatchRaw(dead, deadCount);
  }
  return { read, expired };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A tag stays in pending until its flow's second packet or another flow's
 * first packet at its index replaces it: only the recent ones (handshakes
 * under way, or a flood) are counted.
 */
export const PENDING_RECENT_S = 10;

/** Tags of pending4 and pending6 set in the last PENDING_RECENT_S (reads both arrays whole). */
export async function countPendingTags(maps: Pick<FlowMaps, 'pending4' | 'pending6'>, now = seenNow()): Promise<number> {
  return (await countTags(maps.pending4, now)) + (await countTags(maps.pending6, now));
}

/** Tags of a pending array (struct vipd_pending: tag words 0-1, real, seen) set in the last PENDING_RECENT_S. */
async function countTags(map: BpfMap<number, Pending>, now: number): Promise<number> {
  let n = 0;
  for await (const { count, words } of rawBatches(map, 4)) {
    for (let i = 0; i < count; i++) {
      const w = i * 4;
      if ((words[w] !== 0 || words[w + 1] !== 0) && idleSeconds(words[w + 3], now) <= PENDING_RECENT_S) n++;
    }
  }
  return n;
}
