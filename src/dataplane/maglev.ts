/**
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016), weighted the way Katran does it.
 *
 * The table maps each of `size` slots to a backend. The XDP program hashes a
 * flow (client address, VIP, both ports), scales the hash to a slot with a
 * multiply and a shift, `(hash * size) >> 32` (bpf/vipd.bpf.c ring_slot(), no
 * modulo), and forwards to the slot's backend.
 * Two hosts given the same backends (in any order) build byte-identical tables,
 * so a flow keeps its real server when the VIP moves between them.
 *
 * Determinism contract (see docs/maglev.md; golden vectors in the unit tests):
 * - backends are sorted by the UTF-8 bytes of their key (byte-wise), so input
 *   order never matters; the result maps slots back to the caller's indexes;
 * - each backend's permutation comes from MurmurHash3 x86_32 of the key's UTF-8
 *   bytes with two fixed seeds: offset = h(key, MAGLEV_SEED_OFFSET) % size,
 *   skip = h(key, MAGLEV_SEED_SKIP) % (size - 1) + 1;
 * - weights: every round each backend adds its weight to a running credit and
 *   takes one turn (claims its next free preferred slot) whenever the credit
 *   reaches the largest weight, which then is subtracted (Katran's MaglevV2).
 *   Backends take turns in sorted-key order; the build stops when every slot
 *   is taken.
 *
 * buildMaglevTable() runs native/maglev.cc when the addon is built and
 * buildMaglevTableReference() (below, in TypeScript) when it is not: the
 * same table for every input.
 */
import { maglevNative } from './maglev-native.js';

/** Slot value when there is no backend with a non-zero weight. */
export const NO_BACKEND = 0xffffffff;

/** Default table size: a prime, as Maglev requires (the paper's 65537). */
export const MAGLEV_DEFAULT_SIZE = 65537;

/** Seed of the hash that gives a backend's first preferred slot. */
export const MAGLEV_SEED_OFFSET = 0x6d61676c; // "magl"
/** Seed of the hash that gives a backend's step between preferred slots. */
export const MAGLEV_SEED_SKIP = 0x65763032; // "ev02"

export interface MaglevBackend {
  /** Stable identity of the backend (e.g. its address): what is hashed. */
  key: string;
  /** Non-negative integer; 0 keeps the backend out of the table. */
  weight: number;
}

/** MurmurHash3 x86_32 (Austin Appleby, public domain) of `data` (its first `len` bytes) with `seed`. */
export function murmur3_32(data: Uint8Array, seed = 0, len = data.length): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = len & 3;
  if (rest !== 0) {
    let k = 0;
    if (rest === 3) k ^= data[blocks + 2] << 16;
    if (rest >= 2) k ^= data[blocks + 1] << 8;
    k ^= data[blocks];
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** True when n is a prime (trial division; n up to 2^32 is instant). */
export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  if (n % 3 === 0) return n === 3;
  for (let d = 5; d * d <= n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false;
  }
  return true;
}

/** Largest weight accepted (a u32, like the weights in the BPF maps). */
export const MAGLEV_MAX_WEIGHT = 0xffffffff;
/** Largest table accepted: 16x the default; keeps the weighted schedule exact in doubles. */
export const MAGLEV_MAX_SIZE = 1 << 20;

const utf8 = new TextEncoder();

/** UTF-8 of the key keyBytes() encoded last (grown as needed). */
let keyBuffer = new Uint8Array(256);

/** Encodes key into keyBuffer; returns its length in bytes. */
function keyBytes(key: string): number {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8.
  if (keyBuffer.length < 3 * key.length) keyBuffer = new Uint8Array(3 * key.length);
  return utf8.encodeInto(key, keyBuffer).written;
}

function isAscii(key: string): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return false;
  return true;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/** The size validate() last found a prime: a daemon builds thousands of tables of one size. */
let lastPrimeSize = 0;

/** The UTF-8 of the keys of the native build, one after another (grown as needed). */
let nativeKeys = new Uint8Array(4096);
/** Where each key ends in nativeKeys (a weight-0 key is left out: its end is its start). */
let nativeEnds = new Uint32Array(64);
/** Each backend's weight, for the native build. */
let nativeWeights = new Uint32Array(64);

/**
 * Checks the input (the errors buildMaglevTable() documents) and returns
 * the number of backends with a weight. With `encode` it also writes what
 * the native build takes, in the same pass: the weighted keys' UTF-8 into
 * nativeKeys, their ends into nativeEnds, the weights into nativeWeights.
 */
function validate(backends: readonly MaglevBackend[], size: number, encode = false): number {
  if (!Array.isArray(backends)) throw new TypeError('maglev: backends must be an array');
  if (size !== lastPrimeSize) {
    if (!Number.isSafeInteger(size) || size < 2 || size > MAGLEV_MAX_SIZE || !isPrime(size)) {
      throw new RangeError(`maglev: table size must be a prime between 2 and ${MAGLEV_MAX_SIZE}, got ${String(size)}`);
    }
    lastPrimeSize = size;
  }
  const n = backends.length;
  if (encode && nativeEnds.length < n) {
    nativeEnds = new Uint32Array(2 * n);
    nativeWeights = new Uint32Array(2 * n);
  }
  // A pool of a few backends (the common one) is checked for duplicates by
  // comparing keys pairwise: cheaper than a Set per build.
  const seen = n > 16 ? new Set<string>() : undefined;
  let weighted = 0;
  let end = 0;
  for (let i = 0; i < n; i++) {
    const b = backends[i];
    const key = b?.key;
    if (typeof key !== 'string') throw new TypeError(`maglev: backends[${i}].key must be a string`);
    const w = b.weight;
    if (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 0 || w > MAGLEV_MAX_WEIGHT) {
      throw new RangeError(
        `maglev: backends[${i}] (${JSON.stringify(key)}) weight must be an integer from 0 to ${MAGLEV_MAX_WEIGHT}, got ${String(w)}`,
      );
    }
    let duplicate = false;
    if (seen === undefined) {
      for (let j = 0; j < i && !duplicate; j++) duplicate = backends[j].key === key;
    } else {
      duplicate = seen.has(key);
      seen.add(key);
    }
    if (duplicate) throw new Error(`maglev: duplicate backend key ${JSON.stringify(key)} (backends[${i}])`);
    if (w > 0) weighted++;
    if (!encode) continue;
    nativeWeights[i] = w;
    if (w > 0) end = encodeKey(key, end);
    nativeEnds[i] = end;
  }
  return weighted;
}

/** Writes key's UTF-8 into nativeKeys at `at` (growing it as needed); returns where it ends. */
function encodeKey(key: string, at: number): number {
  const len = key.length;
  // A UTF-16 code unit takes at most 3 bytes of UTF-8.
  if (nativeKeys.length - at < 3 * len) {
    const grown = new Uint8Array(Math.max(2 * nativeKeys.length, at + 3 * len));
    grown.set(nativeKeys.subarray(0, at));
    nativeKeys = grown;
  }
  // ASCII (addresses, names) is copied as it is; anything else is encoded
  // by TextEncoder (a lone surrogate becomes U+FFFD, as in the reference).
  const keys = nativeKeys;
  for (let j = 0; j < len; j++) {
    const c = key.charCodeAt(j);
    if (c > 0x7f) return at + utf8.encodeInto(key, keys.subarray(at)).written;
    keys[at + j] = c;
  }
  return at + len;
}

/**
 * Builds the Maglev lookup table: element s is the index into `backends` of
 * the backend owning slot s, or NO_BACKEND when no backend has a weight.
 * Throws on a non-prime size, a negative or non-integer weight, a duplicate
 * key, or more weighted backends than slots.
 *
 * The build runs in the native addon (native/maglev.cc, ~2x faster) when
 * the addon is built, else in TypeScript (buildMaglevTableReference()); both
 * give the same table for every input (test/unit/dataplane/maglev-native.test.ts).
 */
export function buildMaglevTable(backends: readonly MaglevBackend[], size: number = MAGLEV_DEFAULT_SIZE): Uint32Array {
  return maglevNative() === null ? buildMaglevTableReference(backends, size) : buildMaglevTableNative(backends, size);
}

/**
 * buildMaglevTable() in the native addon: the same validation and errors,
 * in a pass that also writes the weighted keys' UTF-8 into one reused
 * buffer and the weights into a reused typed array; native/maglev.cc then
 * fills a new table. Throws when the addon is not built.
 */
export function buildMaglevTableNative(backends: readonly MaglevBackend[], size: number = MAGLEV_DEFAULT_SIZE): Uint32Array {
  const native = maglevNative();
  if (native === null) throw new Error('maglev: the native addon is not built (run `npm run build`)');
  const weighted = validate(backends, size, true);
  if (weighted > size) throw new RangeError(`maglev: ${weighted} weighted backends do not fit a table of ${size} slots`);
  const table = new Uint32Array(size);
  native.maglevBuild(nativeKeys, nativeEnds, nativeWeights, backends.length, table);
  return table;
}

/**
 * The TypeScript build: the reference the native one is tested against, and
 * the build when the addon is absent. Same contract as buildMaglevTable().
 */
export function buildMaglevTableReference(
  backends: readonly MaglevBackend[],
  size: number = MAGLEV_DEFAULT_SIZE,
): Uint32Array {
  validate(backends, size);
  const table = new Uint32Array(size).fill(NO_BACKEND);
  // The same memory seen as signed: NO_BACKEND reads as -1, a small integer,
  // where the unsigned view reads a value above 2^31 that V8 boxes as a
  // double, which made every probe of the loop below several times slower.
  const slots = new Int32Array(table.buffer, table.byteOffset, size);

  // The weighted backends' indexes in key order. Keys of ASCII only
  // (addresses, names) sort the same as their UTF-8 bytes by plain string
  // comparison, and are hashed from one reused buffer: no object and no
  // Uint8Array per key (10 000 services x 10 backends at start-up).
  const live: number[] = [];
  let ascii = true;
  let maxWeight = 0;
  let equal = true;
  for (let i = 0; i < backends.length; i++) {
    const { key, weight } = backends[i];
    if (weight <= 0) continue;
    if (maxWeight !== 0 && weight !== maxWeight) equal = false;
    if (weight > maxWeight) maxWeight = weight;
    if (ascii && !isAscii(key)) ascii = false;
    live.push(i);
  }
  if (ascii) {
    live.sort((a, b) => {
      const ka = backends[a].key;
      const kb = backends[b].key;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  } else {
    const bytes = new Map(live.map((i) => [i, utf8.encode(backends[i].key)]));
    live.sort((a, b) => compareBytes(bytes.get(a)!, bytes.get(b)!));
  }
  const n = live.length;
  if (n === 0) return table;
  if (n > size) throw new RangeError(`maglev: ${n} weighted backends do not fit a table of ${size} slots`);

  // Slots and skips fit an Int32Array (size <= 2^20): integer arrays keep the
  // probe loop in small integers (a Float64Array index is a double: ~5x slower).
  const pos = new Int32Array(n); // current preferred slot of each backend
  const skip = new Int32Array(n);
  const owner = new Int32Array(n); // indexes into backends (n <= size <= 2^20)
  for (let i = 0; i < n; i++) {
    const index = live[i];
    const len = keyBytes(backends[index].key);
    pos[i] = murmur3_32(keyBuffer, MAGLEV_SEED_OFFSET, len) % size;
    skip[i] = (murmur3_32(keyBuffer, MAGLEV_SEED_SKIP, len) % (size - 1)) + 1;
    owner[i] = index;
  }

  // Equal weights (the common pool): every round each backend takes one turn,
  // in key order, so the turns simply cycle; the same table as the general
  // schedule below, without its heap. The walk is written out here (no call
  // per turn): it is most of a build.
  if (equal) {
    for (let filled = 0, i = 0; filled < size; filled++) {
      const step = skip[i];
      let p = pos[i];
      while (slots[p] !== -1) {
        p += step;
        if (p >= size) p -= size;
      }
      slots[p] = owner[i];
      p += step;
      pos[i] = p >= size ? p - size : p;
      if (++i === n) i = 0;
    }
    return table;
  }

  const weight = new Float64Array(n);
  const turns = new Float64Array(n); // turns taken so far
  const round = new Float64Array(n); // round of the next turn
  for (let i = 0; i < n; i++) weight[i] = backends[live[i]].weight;

  /** Backend i's turn: it claims its next free preferred slot. */
  const takeTurn = (i: number): void => {
    const step = skip[i];
    let p = pos[i];
    while (slots[p] !== -1) {
      p += step;
      if (p >= size) p -= size;
    }
    slots[p] = owner[i];
    p += step;
    pos[i] = p >= size ? p - size : p;
  };

  // Katran's loop walks rounds 1, 2, ... and in each round visits backends in
  // order; backend i gains w_i credit and takes a turn when its credit reaches
  // the largest weight W. After r rounds it has taken floor(r * w_i / W) turns,
  // so its (t+1)-th turn falls in round ceil((t+1) * W / w_i). Taking turns in
  // (round, index) order from a heap gives the same table without walking the
  // empty rounds a very uneven weight set would cost. All products stay below
  // 2^52 (size <= 2^20, weight < 2^32): exact in doubles.
  const nextRound = (i: number): number => ceilDiv((turns[i] + 1) * maxWeight, weight[i]);
  const before = (a: number, b: number): boolean => round[a] < round[b] || (round[a] === round[b] && a < b);
  const heap = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    round[i] = nextRound(i);
    heap[i] = i; // backends in key order; equal weights give equal rounds
  }
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(heap, n, i, before);

  for (let filled = 0; filled < size; filled++) {
    const i = heap[0];
    takeTurn(i);
    turns[i]++;
    round[i] = nextRound(i);
    siftDown(heap, n, 0, before);
  }
  return table;
}

/** ceil(a / b) for positive integers below 2^53, exact (the float quotient is only a first guess). */
function ceilDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  while (q * b < a) q++;
  while (q > 0 && (q - 1) * b >= a) q--;
  return q;
}

function siftDown(heap: Uint32Array, n: number, at: number, before: (a: number, b: number) => boolean): void {
  const item = heap[at];
  for (;;) {
    let child = 2 * at + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap[child + 1], heap[child])) child++;
    if (!before(heap[child], item)) break;
    heap[at] = heap[child];
    at = child;
  }
  heap[at] = item;
}

/**
 * Number of slots whose backend differs between two tables of equal size.
 * Without keys, slot values (indexes) are compared as they are; with
 * `keysA`/`keysB` (the key of each index in the backends array each table was
 * built from) slots are compared by backend key, so tables built from
 * different arrays (a backend added or removed) compare correctly.
 */
export function tableDiff(
  a: Uint32Array,
  b: Uint32Array,
  keysA?: readonly string[],
  keysB?: readonly string[],
): number {
  if (a.length !== b.length) throw new RangeError(`maglev: tables differ in size (${a.length} vs ${b.length})`);
  if ((keysA === undefined) !== (keysB === undefined)) throw new TypeError('maglev: pass both key lists or neither');
  let moved = 0;
  if (keysA === undefined || keysB === undefined) {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) moved++;
    return moved;
  }
  const keyOf = (keys: readonly string[], v: number): string | undefined => (v === NO_BACKEND ? undefined : keys[v]);
  for (let i = 0; i < a.length; i++) if (keyOf(keysA, a[i]) !== keyOf(keysB, b[i])) moved++;
  return moved;
}
