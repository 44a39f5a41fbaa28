/**
 * The connection table as connection sync sees it: entries read from the
 * flows maps with their backend named by address (the sender's side), and
 * entries written back with this host's real index for that address (the
 * receiver's side). Real indexes differ per host; addresses do not.
 */
import type { BpfMap } from '../bpf/index.js';
import { IPPROTO_TCP, IPPROTO_UDP, type Flow, type Flow4Key, type Flow6Key } from '../dataplane/abi.js';
import { formatAddr, parseAddr } from '../dataplane/addr.js';
import type { SyncEntry } from './wire.js';

export interface FlowMaps {
  readonly flows4: BpfMap<Flow4Key, Flow>;
  readonly flows6: BpfMap<Flow6Key, Flow>;
}

/** A service as the sync sees it: its instance, and this host's real index for a backend address. */
export interface SyncEndpoint {
  readonly instanceId: number;
  realOf(backend: string): number | undefined;
}

/** `vip|port|protocol` -> endpoint (ServiceTable.endpoints()). */
export type Endpoints = ReadonlyMap<string, SyncEndpoint>;

/** ns >> 20: the unit of struct vipd_flow.seen (~1.05 ms). */
const SEEN_UNIT_MS = 2 ** 20 / 1e6;

/** The program's `seen` clock now (CLOCK_MONOTONIC >> 20, 32 bits). */
export function seenNow(): number {
  return Number((process.hrtime.bigint() >> 20n) & 0xffffffffn);
}

export function protocolName(proto: number): 'tcp' | 'udp' | undefined {
  return proto === IPPROTO_TCP ? 'tcp' : proto === IPPROTO_UDP ? 'udp' : undefined;
}

export function endpointKey(vip: Buffer, family: 4 | 6, port: number, proto: number): string | undefined {
  const name = protocolName(proto);
  return name && `${formatAddr(vip, family)}|${port}|${name}`;
}

/** A table entry read on the sender, with the key bytes that identify it across passes. */
export interface ReadEntry {
  /** The key's bytes as a string: identity in the change tracker. */
  readonly id: string;
  readonly endpoint: string;
  readonly real: number;
  readonly seen: number;
  readonly flags: number;
  /** Filled in by toWire(). */
  readonly key: Flow4Key | Flow6Key;
  readonly family: 4 | 6;
  readonly hash: number;
}

function idOf(family: 4 | 6, k: Flow4Key | Flow6Key): string {
  return `${family}${k.client.toString('latin1')}${k.vip.toString('latin1')}${k.cport},${k.vport},${k.proto},${k.kind}`;
}

/** Every entry of both flows maps (batch reads). */
export function readEntries(maps: FlowMaps): ReadEntry[] {
  const out: ReadEntry[] = [];
  const add = (family: 4 | 6, rows: [Flow4Key | Flow6Key, Flow][]) => {
    for (const [key, flow] of rows) {
      const endpoint = endpointKey(key.vip, family, key.vport, key.proto);
      if (endpoint === undefined) continue;
      out.push({ id: idOf(family, key), endpoint, real: flow.real, seen: flow.seen, flags: flow.flags, key, family, hash: flow.hash });
    }
  };
  add(4, maps.flows4.lookupBatch(1024));
  add(6, maps.flows6.lookupBatch(1024));
  return out;
}

/** The entry as it travels, its backend by address; undefined when the real is not one of ours any more. */
export function toWire(e: ReadEntry, addressOf: ReadonlyMap<number, string>, now: number): SyncEntry | undefined {
  const backend = addressOf.get(e.real);
  if (backend === undefined) return undefined;
  const idleUnits = (now - e.seen) >>> 0;
  return {
    family: e.family,
    proto: e.key.proto,
    kind: e.key.kind,
    client: e.key.client,
    vip: e.key.vip,
    cport: e.key.cport,
    vport: e.key.vport,
    backend: parseAddr(backend).addr.subarray(0, e.family === 4 ? 4 : 16),
    // An entry refreshed after our clock read reads as "just now", not as 4 billion units idle.
    idleMs: idleUnits > 0x7fffffff ? 0 : idleUnits * SEEN_UNIT_MS,
    flags: e.flags,
    hash: e.hash,
  };
}

export type ApplyOutcome = 'applied' | 'unknown_service' | 'unknown_backend' | 'master_here';

/**
 * Writes received entries into this host's flows maps with its own real
 * indexes. Entries of services this host is MASTER of are left alone: its
 * own data plane decides for them now.
 */
export function applyEntries(
  maps: FlowMaps,
  entries: readonly SyncEntry[],
  endpoints: Endpoints,
  isMaster: (instanceId: number) => boolean,
  now: number,
): Record<ApplyOutcome, number> {
  const counts: Record<ApplyOutcome, number> = { applied: 0, unknown_service: 0, unknown_backend: 0, master_here: 0 };
  const v4: [Flow4Key, Flow][] = [];
  const v6: [Flow6Key, Flow][] = [];
  for (const e of entries) {
    const key = endpointKey(e.vip, e.family, e.vport, e.proto);
    const ep = key === undefined ? undefined : endpoints.get(key);
    if (!ep) {
      counts.unknown_service++;
      continue;
    }
    if (isMaster(ep.instanceId)) {
      counts.master_here++;
      continue;
    }
    const real = ep.realOf(formatAddr(e.backend, e.family));
    if (real === undefined) {
      counts.unknown_backend++;
      continue;
    }
    const seen = (now - Math.round(e.idleMs / SEEN_UNIT_MS)) >>> 0;
    const flowKey = { client: e.client, vip: e.vip, cport: e.cport, vport: e.vport, proto: e.proto, kind: e.kind, pad: Buffer.alloc(2) };
    const flow: Flow = { real, hash: e.hash, seen, flags: e.flags };
    if (e.family === 4) v4.push([flowKey, flow]);
    else v6.push([flowKey, flow]);
    counts.applied++;
  }
  if (v4.length) maps.flows4.updateBatch(v4);
  if (v6.length) maps.flows6.updateBatch(v6);
  return counts;
}

/**
 * What the sender has sent, so a pass sends only what is new or changed,
 * and refreshes a live entry now and then (the BACKUP's sweep would
 * otherwise expire a long flow that never changes).
 */
export class SentEntries {
  readonly #sent = new Map<string, { real: number; flags: number; seen: number; atMs: number; pass: number }>();
  #pass = 0;

  constructor(private readonly refreshMs: number) {}

  get size(): number {
    return this.#sent.size;
  }

  beginPass(): void {
    this.#pass++;
  }

  /** Whether e is due (new, changed, or active and not sent for refreshMs); marks it present in this pass. */
  due(e: ReadEntry, nowMs: number): boolean {
    const prev = this.#sent.get(e.id);
    if (prev) prev.pass = this.#pass;
    if (!prev || prev.real !== e.real || prev.flags !== e.flags) return true;
    return prev.seen !== e.seen && nowMs - prev.atMs >= this.refreshMs;
  }

  markSent(e: ReadEntry, nowMs: number): void {
    this.#sent.set(e.id, { real: e.real, flags: e.flags, seen: e.seen, atMs: nowMs, pass: this.#pass });
  }

  /** Forgets entries the table no longer has (expired or evicted there). */
  endPass(): void {
    for (const [id, s] of this.#sent) if (s.pass !== this.#pass) this.#sent.delete(id);
  }

  clear(): void {
    this.#sent.clear();
  }
}
