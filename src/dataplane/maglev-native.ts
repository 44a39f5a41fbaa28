/**
 * The typed shape of the addon's Maglev builder (native/maglev.cc). Only
 * src/dataplane/maglev.ts uses it: buildMaglevTable() takes the native build
 * when the addon is there and the TypeScript reference when it is not (pure
 * unit tests, a checkout that was never built).
 */
import { nativeAddon } from '../native.js';

export interface MaglevNative {
  /**
   * Fills `table` (its length is the table size: a prime from 2 to 2^20)
   * with the Maglev table of `count` backends: key i is the UTF-8 in
   * `keys` from `ends[i - 1]` (0 for key 0) to `ends[i]`, its weight is
   * `weights[i]`. Slot s gets the index of its backend, or 0xffffffff in
   * every slot when no weight is above 0. Throws a TypeError or a RangeError
   * on inconsistent input (a length, an offset, a size that is not prime,
   * more weighted backends than slots); it does not check the keys for
   * duplicates: the caller validates.
   */
  maglevBuild(keys: Uint8Array, ends: Uint32Array, weights: Uint32Array, count: number, table: Uint32Array): void;
}

let loaded: MaglevNative | null | undefined;

/** The addon's Maglev builder, or null when the addon is not built (or predates it). */
export function maglevNative(): MaglevNative | null {
  if (loaded !== undefined) return loaded;
  try {
    const addon = nativeAddon() as Partial<MaglevNative>;
    loaded = typeof addon.maglevBuild === 'function' ? (addon as MaglevNative) : null;
  } catch {
    loaded = null;
  }
  return loaded;
}
