/**
 * Where the Maglev tables live: the `rings` array map, RING_SIZE slots of
 * real-server indexes per ring, two rings per service (2 * index and
 * 2 * index + 1). One ring is live (the service entry names it), the other
 * idle; a new table is written into the idle ring and made live by one
 * write of the service entry, so no packet sees a half-written table.
 *
 * The service table uses nothing but reset(), install() and read(): the
 * layout behind them (array of rings, double buffer, quiescence) is this
 * module's alone, so it can be replaced without touching its callers.
 */
import type { BpfMap } from '../bpf/index.js';
import { REAL_NONE, RING_SIZE } from './abi.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class MaglevRings {
  /** Preallocated ring write: keys (consecutive u32) and a view of them. */
  private ringKeys: Buffer | undefined;
  /** Service index -> when its previous ring was retired (Date.now()). */
  private readonly retiredAt = new Map<number, number>();

  constructor(
    private readonly rings: BpfMap<number, number>,
    /** Minimum time between retiring a ring and writing it again. */
    private readonly quiesceMs: number,
  ) {}

  /** Empties the first ring of a new service and returns it: the ring its entry starts with. */
  reset(service: number): number {
    const ring = 2 * service;
    this.write(ring, new Uint32Array(RING_SIZE).fill(REAL_NONE));
    this.retiredAt.delete(service);
    return ring;
  }

  /**
   * Writes table into the service's idle ring (the one not `live`), then
   * calls publish(ring), which must point the service entry at it.
   */
  async install(service: number, live: number, table: Uint32Array, publish: (ring: number) => void): Promise<void> {
    if (table.length !== RING_SIZE) throw new RangeError(`a table has ${RING_SIZE} slots, got ${table.length}`);
    // The idle ring was live until the last swap; packets that read the old
    // selector finish within microseconds (XDP runs under RCU), so waiting
    // a few milliseconds before overwriting it is ample.
    const wait = (this.retiredAt.get(service) ?? 0) + this.quiesceMs - Date.now();
    if (wait > 0) await sleep(wait);
    const idle = live ^ 1;
    this.write(idle, table);
    publish(idle);
    this.retiredAt.set(service, Date.now());
  }

  /**
   * One BPF_MAP_UPDATE_BATCH of the whole ring, straight from the table's
   * bytes: keys are consecutive u32 (a preallocated buffer), values the
   * Uint32Array's own memory. Both in host order, which is the kernel's.
   */
  private write(ring: number, table: Uint32Array): void {
    this.ringKeys ??= Buffer.alloc(RING_SIZE * 4);
    const keys = new Uint32Array(this.ringKeys.buffer, this.ringKeys.byteOffset, RING_SIZE);
    const base = ring * RING_SIZE;
    for (let i = 0; i < RING_SIZE; i++) keys[i] = base + i;
    const values = Buffer.from(table.buffer, table.byteOffset, RING_SIZE * 4);
    const written = this.rings.updateBatchRaw(this.ringKeys, values, RING_SIZE);
    if (written !== RING_SIZE) throw new Error(`ring ${ring}: ${written} of ${RING_SIZE} slots written`);
  }

  /** A whole ring in one BPF_MAP_LOOKUP_BATCH (REAL_NONE where the read falls short). */
  read(ring: number): Uint32Array {
    const out = new Uint32Array(RING_SIZE).fill(REAL_NONE);
    if ((ring + 1) * RING_SIZE > this.rings.maxEntries) return out;
    const keys = Buffer.alloc(RING_SIZE * 4);
    const values = Buffer.from(out.buffer, out.byteOffset, RING_SIZE * 4);
    // The array's batch cursor is the last index read: start after base - 1.
    let cursor: Buffer | null = null;
    if (ring > 0) {
      cursor = Buffer.alloc(4);
      cursor.writeUInt32LE(ring * RING_SIZE - 1);
    }
    this.rings.lookupBatchRaw(cursor, keys, values, RING_SIZE);
    return out;
  }
}
