/**
 * The connection table cases of the data-plane benchmark (ABI 6,
 * docs/dataplane.md "Connection table"): vipd's object loaded with
 * flows4/pending4 sized here (the daemon sizes them from connections.max),
 * one TCP service VIP:443 whose every ring slot changed hands (so every
 * packet is looked up), and the table filled to a given number of flows.
 *
 * The frames vary the client's port (the wrapper writes a sequence number
 * there), so a run cycles through 65536 flows: they are all in the table,
 * and the rest of the fill is other clients' flows.
 */
import { readFileSync } from 'node:fs';
import { ObjectSpec, type BpfMap, type Collection, type Program } from '../src/bpf/index.js';
import {
  FAMILY_V4,
  INST_F_ACTIVE,
  IPPROTO_TCP,
  LEASE_FOREVER,
  MAPS,
  REAL_F_VALID,
  flow4KeyCodec,
  flowCodec,
  type Flow,
  type Flow4Key,
  type Pending,
} from '../src/dataplane/abi.js';
import { setPendingMasks } from '../src/dataplane/manager.js';
import { flowHash, pendingTag, portsWord } from '../test/model/xdp-hash.js';
import { OUR_MAC, ipv4 } from './frames.js';

export const TABLE_PORT = 443;
/** Ring size of the table service (a prime, as the daemon's are). */
const RING = 251;
/** The loopback device: the ingress interface of a test run without ctx. */
const TEST_RUN_IFINDEX = 1;

export interface TableVipd {
  coll: Collection;
  program: Program;
  flows4: BpfMap<Flow4Key, Flow>;
  pending4: BpfMap<number, Pending>;
  /** What the kernel charges for flows4 (fdinfo memlock), bytes; undefined if unreadable. */
  flowsMemlock: number | undefined;
  close(): void;
}

/** Bytes the kernel charges a map (memlock in its fd's fdinfo). */
function memlockOf(fd: number): number | undefined {
  try {
    const m = /memlock:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** 65536 keys of one client's flows (every client port) to VIP:443, raw, for batch writes. */
export function clientKeys(client: string, vip: string, count = 65536, firstPort = 0): Buffer {
  const size = flow4KeyCodec.size;
  const keys = Buffer.alloc(size * count);
  for (let i = 0; i < count; i++) {
    flow4KeyCodec.encode(
      { client: ipv4(client), vip: ipv4(vip), cport: (firstPort + i) & 0xffff, vport: TABLE_PORT, proto: IPPROTO_TCP, kind: 0, pad: Buffer.alloc(2) },
      keys,
      i * size,
    );
  }
  return keys;
}

/** Values for count entries: all on real `real`. */
function flowValues(count: number, real: number): Buffer {
  const size = flowCodec.size;
  const values = Buffer.alloc(size * count);
  for (let i = 0; i < count; i++) flowCodec.encode({ real, hash: 0, seen: 0, flags: 0 }, values, i * size);
  return values;
}

/**
 * Loads vipd with flows4 of `capacity` entries (pending4: pendingCapacity, a power of two),
 * the table service on vip, `reals` real servers (MACs from realMac), and
 * `fill` flows: client's 65536 first, then filler clients 100.64.x.y.
 */
export async function loadTableVipd(o: {
  object: string;
  vip: string;
  client: string;
  reals: { mac: Buffer; key: string }[];
  capacity: number;
  pendingCapacity: number;
  fill: number;
}): Promise<TableVipd> {
  const spec = ObjectSpec.open(o.object);
  spec.map('flows4').maxEntries = o.capacity;
  spec.map('pending4').maxEntries = o.pendingCapacity;
  setPendingMasks(spec);
  spec.map('services4').maxEntries = 4;
  spec.map('rings').maxEntries = 2 * RING;
  const coll = await spec.load();
  const opened: { close(): void }[] = [];
  const keep = <T extends { close(): void }>(m: T): T => (opened.push(m), m);
  try {
    const instances = keep(coll.map('instances', MAPS.instances.key, MAPS.instances.value));
    const vips = keep(coll.map('vips', MAPS.vips.key, MAPS.vips.value));
    const services4 = keep(coll.map('services4', MAPS.services4.key, MAPS.services4.value));
    const rings = keep(coll.map('rings', MAPS.rings.key, MAPS.rings.value));
    const reals = keep(coll.map('reals', MAPS.reals.key, MAPS.reals.value));
    const flows4 = keep(coll.map('flows4', MAPS.flows4.key, MAPS.flows4.value));
    const pending4 = keep(coll.map('pending4', MAPS.pending4.key, MAPS.pending4.value));

    // What Dataplane.activate() writes, with a lease that never ends.
    instances.update(0, { lease_expiry_ns: LEASE_FOREVER, ifindex: TEST_RUN_IFINDEX, mac: OUR_MAC, flags: INST_F_ACTIVE, host_mac: OUR_MAC, pad: Buffer.alloc(6) });
    const vip = Buffer.alloc(16);
    ipv4(o.vip).copy(vip);
    vips.update({ addr: vip, family: FAMILY_V4, pad: Buffer.alloc(3) }, { instance: 0, flags: 0 });
    o.reals.forEach((r, i) => {
      const addr = Buffer.alloc(16);
      ipv4(r.key).copy(addr);
      reals.update(i, { mac: r.mac, flags: REAL_F_VALID, addr, family: FAMILY_V4, pad: Buffer.alloc(3) });
    });
    // Every slot changed hands: its fallback is the next real.
    const n = o.reals.length;
    rings.updateBatch(Array.from({ length: RING }, (_, i) => [i, { real: i % n, fallback: (i + 1) % n }] as const));
    services4.update(
      { addr: ipv4(o.vip), port: TABLE_PORT, proto: IPPROTO_TCP, pad: 0 },
      { ring: 0, ring_size: RING, instance: 0, flags: 0, index: 0, region: 0, prev_ring: 0, prev_size: 0 },
    );

    // The fill: the measured client's 65536 flows, then other clients' flows.
    const chunk = 65536;
    for (let done = 0, c = 0; done < o.fill; c++) {
      const count = Math.min(chunk, o.fill - done);
      const client = c === 0 ? o.client : `100.${64 + (c >> 8)}.${c & 0xff}.1`;
      flows4.updateBatchRaw(clientKeys(client, o.vip, count), flowValues(count, 1), count);
      done += count;
    }
    for (const m of [instances, vips, services4, rings, reals]) m.close();
    const program = coll.program('vipd_xdp');
    return {
      coll,
      program,
      flows4,
      pending4,
      flowsMemlock: memlockOf(flows4.fd),
      close() {
        program.close();
        flows4.close();
        pending4.close();
        coll.close();
      },
    };
  } catch (err) {
    for (const m of opened) m.close();
    coll.close();
    throw err;
  }
}

/**
 * Stores the pending tags of count flows of a clientKeys() buffer, as their
 * SYNs would (on real 0). Flows whose tags share an index keep the last:
 * returns how many tags are in place.
 */
export function fillTags(map: BpfMap<number, Pending>, keys: Buffer, count: number): number {
  const mask = map.maxEntries - 1;
  const size = flow4KeyCodec.size;
  const tags = new Map<number, bigint>();
  for (let i = 0; i < count; i++) {
    const key = keys.subarray(i * size, (i + 1) * size);
    const hash = flowHash(key.readUInt32LE(0), key.readUInt32LE(4), portsWord(key.readUInt16BE(8), key.readUInt16BE(10)));
    tags.set(hash & mask, pendingTag(key, hash));
  }
  map.updateBatch([...tags].map(([index, tag]) => [index, { tag, real: 0, seen: 0 }] as const));
  return tags.size;
}

/** Deletes the keys of a clientKeys() buffer from a map (one batch syscall). */
export function deleteRaw(map: BpfMap<Flow4Key, Flow>, keys: Buffer, count: number): void {
  const size = flow4KeyCodec.size;
  const list: Flow4Key[] = [];
  for (let i = 0; i < count; i++) list.push(flow4KeyCodec.decode(keys, i * size));
  try {
    map.deleteBatch(list);
  } catch {
    // ENOENT: some were not there (a run that stopped early); delete one by one.
    for (const k of list) map.delete(k);
  }
}
