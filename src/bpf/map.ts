/**
 * Typed BPF maps. A map handle owns one fd; keys and values go through
 * codecs whose sizes are checked against the kernel's map on open, so a
 * wrong struct is an error at open time, not corrupted data later.
 */
import { unlinkSync } from 'node:fs';
import type { Codec } from './codec.js';
import { isPerCpuMapType, mapTypeName, MapType, UpdateFlag, type UpdateFlagName } from './constants.js';
import { BpfError, callNative } from './errors.js';
import { FdResource } from './fd.js';
import { bpfNative, type NativeMapInfo } from './native.js';

export type UpdateFlags = UpdateFlagName | number;

function flagValue(flags: UpdateFlags | undefined): number {
  if (flags === undefined) return UpdateFlag.any;
  return typeof flags === 'number' ? flags : UpdateFlag[flags];
}

/** What every map kind shares: fd ownership, info, pinning. */
export abstract class MapBase extends FdResource {
  protected readonly kind = 'map';
  readonly name: string;
  readonly info: NativeMapInfo;

  protected constructor(fd: number, name: string) {
    super(fd);
    this.info = callNative(`map '${name}'`, () => bpfNative().mapInfo(fd));
    this.name = name || this.info.name;
  }

  protected override describe(): string {
    return `map '${this.name}'`;
  }

  get type(): number {
    return this.info.type;
  }

  get maxEntries(): number {
    return this.info.maxEntries;
  }

  /** Pins the map in bpffs; it then outlives this process. */
  pin(path: string): void {
    callNative(`pinning ${this.describe()} at ${path}`, () => bpfNative().objPin(this.fd, path));
  }

  /** Removes a pin (the map lives on while any fd or program holds it). */
  static unpin(path: string): void {
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  protected checkSizes(keySize: number, valueSize: number, perCpu: boolean): void {
    const kernelValue = this.info.valueSize;
    if (keySize !== this.info.keySize) {
      throw new BpfError(
        'VIPD_BPF_INVALID_ARGUMENT',
        'map open',
        `${this.describe()} has ${this.info.keySize}-byte keys, but the key codec encodes ${keySize} bytes`,
      );
    }
    if (valueSize !== kernelValue) {
      throw new BpfError(
        'VIPD_BPF_INVALID_ARGUMENT',
        'map open',
        `${this.describe()} has ${kernelValue}-byte values, but the value codec encodes ${valueSize} bytes`,
      );
    }
    if (perCpu !== isPerCpuMapType(this.info.type)) {
      throw new BpfError(
        'VIPD_BPF_INVALID_ARGUMENT',
        'map open',
        `${this.describe()} is a ${mapTypeName(this.info.type)} map: use ${perCpu ? 'BpfMap' : 'PerCpuMap'}`,
      );
    }
  }
}

/** Shared key/value plumbing for single-value and per-CPU maps. */
abstract class KeyedMap<K, V, Stored> extends MapBase {
  protected readonly keyBuf: Buffer;
  protected readonly valueBuf: Buffer;

  protected constructor(
    fd: number,
    name: string,
    readonly keyCodec: Codec<K>,
    protected readonly storedSize: number,
  ) {
    super(fd, name);
    this.keyBuf = Buffer.alloc(keyCodec.size);
    this.valueBuf = Buffer.alloc(storedSize);
  }

  protected abstract decodeStored(buf: Buffer): Stored;
  protected abstract encodeStored(value: V | Stored, buf: Buffer): void;

  protected encodeKey(key: K, buf = this.keyBuf): Buffer {
    this.keyCodec.encode(key, buf, 0);
    return buf;
  }

  /** The value for key, or undefined when there is none. */
  lookup(key: K): Stored | undefined {
    const k = this.encodeKey(key);
    const found = callNative(`lookup in ${this.describe()}`, () => bpfNative().mapLookup(this.fd, k, this.valueBuf));
    return found ? this.decodeStored(this.valueBuf) : undefined;
  }

  update(key: K, value: V | Stored, flags?: UpdateFlags): void {
    const k = this.encodeKey(key);
    this.encodeStored(value, this.valueBuf);
    callNative(`update of ${this.describe()}`, () => bpfNative().mapUpdate(this.fd, k, this.valueBuf, flagValue(flags)));
  }

  /** Deletes key; false when it was not there. */
  delete(key: K): boolean {
    const k = this.encodeKey(key);
    return callNative(`delete in ${this.describe()}`, () => bpfNative().mapDelete(this.fd, k));
  }

  /** Iterates keys with BPF_MAP_GET_NEXT_KEY (a key deleted meanwhile may restart a hash walk). */
  *keys(): Generator<K> {
    const native = bpfNative();
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keyCodec.size);
      const more = callNative(`iterating ${this.describe()}`, () => native.mapGetNextKey(this.fd, prev, next));
      if (!more) return;
      yield this.keyCodec.decode(next, 0);
      prev = next;
    }
  }

  *entries(): Generator<[K, Stored]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value !== undefined) yield [key, value];
    }
  }

  /**
   * Reads the whole map with BPF_MAP_LOOKUP_BATCH (one syscall per batch).
   * Falls back to key iteration on kernels or map types without batch ops.
   */
  lookupBatch(batchSize = 256): [K, Stored][] {
    const native = bpfNative();
    const keySize = this.keyCodec.size;
    const keys = Buffer.alloc(keySize * batchSize);
    const values = Buffer.alloc(this.storedSize * batchSize);
    const out: [K, Stored][] = [];
    // The batch cursor is opaque and at most a key's size (hash maps use a bucket index).
    const cursor = Buffer.alloc(Math.max(keySize, 8));
    let inBatch: Buffer | null = null;
    for (;;) {
      let res: { count: number; done: boolean };
      try {
        res = native.mapLookupBatch(this.fd, inBatch, cursor, keys, values, batchSize);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (out.length === 0 && (code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP')) {
          return [...this.entries()];
        }
        throw callNative(`batch lookup in ${this.describe()}`, () => {
          throw err;
        });
      }
      for (let i = 0; i < res.count; i++) {
        const key = this.keyCodec.decode(keys, i * keySize);
        const value = this.decodeStored(values.subarray(i * this.storedSize, (i + 1) * this.storedSize));
        out.push([key, value]);
      }
      if (res.done) return out;
      inBatch = Buffer.from(cursor);
    }
  }

  /** Writes many entries with BPF_MAP_UPDATE_BATCH; returns how many were written. */
  updateBatch(entries: readonly (readonly [K, V | Stored])[], flags?: UpdateFlags): number {
    if (entries.length === 0) return 0;
    const keySize = this.keyCodec.size;
    const keys = Buffer.alloc(keySize * entries.length);
    const values = Buffer.alloc(this.storedSize * entries.length);
    entries.forEach(([k, v], i) => {
      this.keyCodec.encode(k, keys, i * keySize);
      this.encodeStored(v, values.subarray(i * this.storedSize, (i + 1) * this.storedSize));
    });
    return callNative(`batch update of ${this.describe()}`, () =>
      bpfNative().mapUpdateBatch(this.fd, keys, values, entries.length, flagValue(flags)),
    );
  }

  /**
   * BPF_MAP_UPDATE_BATCH from buffers the caller has already encoded: count
   * keys of keyCodec.size bytes each, and count stored values (for a per-CPU
   * map, one slot per possible CPU each), in the kernel's byte order. No
   * codec and no per-entry objects: for bulk writes of bytes the caller
   * holds anyway (a Uint32Array's buffer). Returns how many were written.
   */
  updateBatchRaw(keys: Buffer, values: Buffer, count: number, flags?: UpdateFlags): number {
    this.checkBatchBuffers(keys, values, count);
    if (count === 0) return 0;
    return callNative(`batch update of ${this.describe()}`, () =>
      bpfNative().mapUpdateBatch(this.fd, keys, values, count, flagValue(flags)),
    );
  }

  /**
   * BPF_MAP_LOOKUP_BATCH into the caller's buffers (keys and stored values,
   * raw), up to count entries. inBatch is the cursor the previous call
   * returned as outBatch, or null to start at the beginning. For an array
   * map the cursor is the last key read (a u32 index), so passing index
   * i - 1 starts the read at index i. done: the map has no more entries.
   */
  lookupBatchRaw(
    inBatch: Buffer | null,
    keys: Buffer,
    values: Buffer,
    count: number,
  ): { count: number; done: boolean; outBatch: Buffer } {
    this.checkBatchBuffers(keys, values, count);
    const outBatch = Buffer.alloc(Math.max(this.keyCodec.size, 8));
    const res = callNative(`batch lookup in ${this.describe()}`, () =>
      bpfNative().mapLookupBatch(this.fd, inBatch, outBatch, keys, values, count),
    );
    return { ...res, outBatch };
  }

  private checkBatchBuffers(keys: Buffer, values: Buffer, count: number): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`batch count must be a non-negative integer, got ${count}`);
    if (keys.length < count * this.keyCodec.size) {
      throw new RangeError(`${this.describe()}: ${count} keys need ${count * this.keyCodec.size} bytes, the buffer has ${keys.length}`);
    }
    if (values.length < count * this.storedSize) {
      throw new RangeError(`${this.describe()}: ${count} values need ${count * this.storedSize} bytes, the buffer has ${values.length}`);
    }
  }

  /**
   * Deletes count keys encoded end to end in keys (keyCodec.size bytes
   * each). BPF_MAP_DELETE_BATCH stops at the first key that is gone (an
   * LRU map may have evicted it meanwhile): the rest are then deleted one
   * by one. Returns how many were deleted.
   */
  deleteBatchRaw(keys: Buffer, count: number): number {
    const keySize = this.keyCodec.size;
    if (keys.length < count * keySize) throw new RangeError(`${this.describe()}: ${count} keys need ${count * keySize} bytes`);
    if (count === 0) return 0;
    const native = bpfNative();
    try {
      return native.mapDeleteBatch(this.fd, keys, count);
    } catch {
      let deleted = 0;
      for (let i = 0; i < count; i++) {
        const key = keys.subarray(i * keySize, (i + 1) * keySize);
        if (callNative(`delete in ${this.describe()}`, () => native.mapDelete(this.fd, key))) deleted++;
      }
      return deleted;
    }
  }

  /** Deletes many keys with BPF_MAP_DELETE_BATCH; returns how many were deleted. */
  deleteBatch(keysToDelete: readonly K[]): number {
    if (keysToDelete.length === 0) return 0;
    const keySize = this.keyCodec.size;
    const keys = Buffer.alloc(keySize * keysToDelete.length);
    keysToDelete.forEach((k, i) => this.keyCodec.encode(k, keys, i * keySize));
    return callNative(`batch delete in ${this.describe()}`, () =>
      bpfNative().mapDeleteBatch(this.fd, keys, keysToDelete.length),
    );
  }
}

/** A map with one value per key: hash, array, LRU hash, LPM trie. */
export class BpfMap<K, V> extends KeyedMap<K, V, V> {
  constructor(
    fd: number,
    name: string,
    keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
  ) {
    super(fd, name, keyCodec, valueCodec.size);
    this.checkSizes(keyCodec.size, valueCodec.size, false);
  }

  /** Opens a map pinned in bpffs (works from any process, daemon running or not). */
  static openPinned<K, V>(path: string, keyCodec: Codec<K>, valueCodec: Codec<V>): BpfMap<K, V> {
    const fd = callNative(`opening pinned map ${path}`, () => bpfNative().objGet(path));
    try {
      return new BpfMap(fd, '', keyCodec, valueCodec);
    } catch (err) {
      bpfNative().closeFd(fd);
      throw err;
    }
  }

  protected decodeStored(buf: Buffer): V {
    return this.valueCodec.decode(buf, 0);
  }

  protected encodeStored(value: V, buf: Buffer): void {
    this.valueCodec.encode(value, buf, 0);
  }
}

/**
 * A per-CPU map: the kernel keeps one value per possible CPU, each padded to
 * 8 bytes. lookup() returns one value per CPU; update() takes one value per
 * CPU, or a single value written to every CPU.
 */
export class PerCpuMap<K, V> extends KeyedMap<K, V, V[]> {
  readonly cpus: number;
  readonly slot: number;

  constructor(
    fd: number,
    name: string,
    keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
  ) {
    const cpus = bpfNative().numPossibleCpus();
    const slot = Math.ceil(valueCodec.size / 8) * 8;
    super(fd, name, keyCodec, slot * cpus);
    this.cpus = cpus;
    this.slot = slot;
    this.checkSizes(keyCodec.size, valueCodec.size, true);
  }

  static openPinned<K, V>(path: string, keyCodec: Codec<K>, valueCodec: Codec<V>): PerCpuMap<K, V> {
    const fd = callNative(`opening pinned map ${path}`, () => bpfNative().objGet(path));
    try {
      return new PerCpuMap(fd, '', keyCodec, valueCodec);
    } catch (err) {
      bpfNative().closeFd(fd);
      throw err;
    }
  }

  protected decodeStored(buf: Buffer): V[] {
    const out: V[] = [];
    for (let cpu = 0; cpu < this.cpus; cpu++) out.push(this.valueCodec.decode(buf, cpu * this.slot));
    return out;
  }

  protected encodeStored(value: V | V[], buf: Buffer): void {
    buf.fill(0);
    // An array of exactly one value per CPU is per-CPU input; anything else is one value for all CPUs.
    const perCpu = Array.isArray(value) && value.length === this.cpus;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      const v = perCpu ? (value as V[])[cpu] : (value as V);
      this.valueCodec.encode(v, buf, cpu * this.slot);
    }
  }
}

/** A program array for tail calls: index -> program fd. */
export class ProgArrayMap extends MapBase {
  constructor(fd: number, name: string) {
    super(fd, name);
    if (this.info.type !== MapType.ProgArray) {
      throw new BpfError('VIPD_BPF_INVALID_ARGUMENT', 'map open', `${this.describe()} is not a prog array`);
    }
  }

  set(index: number, program: { fd: number }): void {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(index);
    const v = Buffer.alloc(4);
    v.writeUInt32LE(program.fd);
    callNative(`update of ${this.describe()}`, () => bpfNative().mapUpdate(this.fd, k, v, 0));
  }

  /** The id of the program at index, or undefined. */
  get(index: number): number | undefined {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(index);
    const v = Buffer.alloc(4);
    const found = callNative(`lookup in ${this.describe()}`, () => bpfNative().mapLookup(this.fd, k, v));
    return found ? v.readUInt32LE(0) : undefined;
  }

  clear(index: number): boolean {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(index);
    return callNative(`delete in ${this.describe()}`, () => bpfNative().mapDelete(this.fd, k));
  }
}
