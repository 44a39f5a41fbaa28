/**
 * Shared memory of a BPF_F_MMAPABLE array: what the XDP program reads,
 * written from JavaScript with plain stores instead of one syscall per
 * entry (a Maglev ring is thousands of entries).
 *
 * The kernel lays an array's entries out every round_up(value_size, 8)
 * bytes, so a 4-byte value sits in the first half of each 8-byte stride
 * and an 8-byte value fills it; `u32At`/`setU32`/`readU32` hide that and
 * address a value's 32-bit words by number (word 1 only in 8-byte values). Writes are visible to the program at once,
 * entry by entry: a caller that needs a whole table to change at once
 * writes an area no packet reads, then publishes it with one map update
 * (src/dataplane does exactly that with the services map).
 */
import { MapFlag, MapType } from './constants.js';
import { BpfError, callNative } from './errors.js';
import type { MapBase } from './map.js';
import { bpfNative } from './native.js';

const PAGE_SIZE = 4096;

export class ArrayMemory {
  /** Bytes between two entries. */
  readonly stride: number;
  /** Entries of the array. */
  readonly length: number;
  #buffer: ArrayBuffer | undefined;
  #words: Uint32Array;
  readonly #name: string;
  /** 32-bit words in a value: 1 or 2. */
  readonly #wordsPerValue: number;

  private constructor(name: string, buffer: ArrayBuffer, stride: number, length: number, wordsPerValue: number) {
    this.#name = name;
    this.#wordsPerValue = wordsPerValue;
    this.#buffer = buffer;
    this.stride = stride;
    this.length = length;
    this.#words = new Uint32Array(buffer, 0, (stride * length) / 4);
  }

  /** Maps an mmapable array of 4-byte values (the map stays open: keep its handle). */
  static ofU32Array(map: MapBase): ArrayMemory {
    return ArrayMemory.#open(map, 4);
  }

  /** Maps an mmapable array of 8-byte values, two 32-bit words each (e.g. struct vipd_slot). */
  static ofU32PairArray(map: MapBase): ArrayMemory {
    return ArrayMemory.#open(map, 8);
  }

  static #open(map: MapBase, valueSize: 4 | 8): ArrayMemory {
    const { type, flags, valueSize: actual, maxEntries } = map.info;
    if (type !== MapType.Array || (flags & MapFlag.Mmapable) === 0 || actual !== valueSize) {
      throw new BpfError(
        'VIPD_BPF_INVALID_ARGUMENT',
        'mmap',
        `map '${map.name}' is not an mmapable array of ${valueSize}-byte values (type ${type}, flags 0x${flags.toString(16)}, value ${actual} B)`,
      );
    }
    const stride = 8;
    const bytes = Math.ceil((stride * maxEntries) / PAGE_SIZE) * PAGE_SIZE;
    const buffer = callNative(`mapping map '${map.name}'`, () => bpfNative().mapMmap(map.fd, bytes));
    return new ArrayMemory(map.name, buffer, stride, maxEntries, valueSize / 4);
  }

  #check(index: number, count: number, word: number): void {
    if (this.#buffer === undefined) throw new BpfError('VIPD_BPF_CLOSED', 'mmap', `the mapping of map '${this.#name}' is closed`);
    if (!Number.isInteger(index) || index < 0 || index + count > this.length) {
      throw new RangeError(`map '${this.#name}': entries ${index}..${index + count - 1} are outside 0..${this.length - 1}`);
    }
    if (!Number.isInteger(word) || word < 0 || word >= this.#wordsPerValue) {
      throw new RangeError(`map '${this.#name}': a value has ${this.#wordsPerValue} word(s), not a word ${word}`);
    }
  }

  /** Word `word` of entry index. */
  u32At(index: number, word = 0): number {
    this.#check(index, 1, word);
    return this.#words[index * 2 + word] ?? 0;
  }

  /** Writes values[i] to word `word` of entry start + i. */
  setU32(start: number, values: ArrayLike<number>, word = 0): void {
    this.#check(start, values.length, word);
    const words = this.#words;
    for (let i = 0, w = start * 2 + word; i < values.length; i++, w += 2) words[w] = values[i] ?? 0;
  }

  /**
   * Writes first[i] to word 0 and second[i] to word 1 of entry start + i
   * (8-byte values): setU32() of both words in one pass over the entries.
   */
  setU32Pair(start: number, first: Uint32Array, second: Uint32Array): void {
    this.#check(start, first.length, 1);
    if (second.length !== first.length) throw new RangeError(`map '${this.#name}': word arrays of ${first.length} and ${second.length} values`);
    const words = this.#words;
    for (let i = 0, w = start * 2; i < first.length; i++, w += 2) {
      words[w] = first[i];
      words[w + 1] = second[i];
    }
  }

  /**
   * The words of `count` 8-byte entries from start, as a view of the
   * mapping (no copy: [word 0, word 1] of each entry, in order). Reads and
   * writes through it are the program's memory at once; the view is only
   * valid until close(), so use it and drop it.
   */
  pairView(start: number, count: number): Uint32Array {
    this.#check(start, count, 1);
    return this.#words.subarray(start * 2, (start + count) * 2);
  }

  /** Writes `value` to every word of `count` entries from start (one native fill for 8-byte values). */
  fillU32(start: number, count: number, value: number): void {
    this.#check(start, count, 0);
    if (this.#wordsPerValue === 2) this.#words.fill(value, start * 2, (start + count) * 2);
    else for (let i = 0, w = start * 2; i < count; i++, w += 2) this.#words[w] = value;
  }

  /** Copies word `word` of `count` entries from start into a new array. */
  readU32(start: number, count: number, word = 0): Uint32Array {
    this.#check(start, count, word);
    const out = new Uint32Array(count);
    const words = this.#words;
    for (let i = 0, w = start * 2 + word; i < count; i++, w += 2) out[i] = words[w] ?? 0;
    return out;
  }

  /** Both words of `count` 8-byte entries from start, in one pass: [word 0 of each, word 1 of each]. */
  readU32Pair(start: number, count: number): [first: Uint32Array, second: Uint32Array] {
    this.#check(start, count, 1);
    const first = new Uint32Array(count);
    const second = new Uint32Array(count);
    const words = this.#words;
    for (let i = 0, w = start * 2; i < count; i++, w += 2) {
      first[i] = words[w];
      second[i] = words[w + 1];
    }
    return [first, second];
  }

  /** Unmaps now; later reads and writes throw. */
  close(): void {
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    this.#buffer = undefined;
    this.#words = new Uint32Array(0);
    bpfNative().mapMunmap(buffer);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
