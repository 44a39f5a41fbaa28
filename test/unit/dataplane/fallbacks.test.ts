/** The fallback rules of a new table (src/dataplane/fallbacks.ts; docs/dataplane.md "Connection table"). */
import { describe, expect, it } from 'vitest';
import { REAL_NONE, SLOT_PREV_RING, SLOT_TRACKED } from '../../../src/dataplane/abi.js';
import {
  cleanFallbacks,
  fallbacksResized,
  fallbacksSameSize,
  flattenPrev,
  overlappedSlots,
  slotTarget,
} from '../../../src/dataplane/fallbacks.js';
import { ringSlot } from '../../model/xdp-hash.js';

const T = (real: number) => (real | SLOT_TRACKED) >>> 0;
const ring = (real: number[], fallback: number[]) => ({ real: Uint32Array.from(real), fallback: Uint32Array.from(fallback) });

describe('fallbacksSameSize', () => {
  it('first table over an empty ring: every slot clean', () => {
    const res = fallbacksSameSize(ring([REAL_NONE, REAL_NONE], [REAL_NONE, REAL_NONE]), Uint32Array.from([1, 2]));
    expect([...res.fallback]).toEqual([1, 2]);
    expect(res.changed).toBe(0);
  });

  it('clean X -> X stays clean; clean X -> Y falls back to X', () => {
    const res = fallbacksSameSize(ring([1, 2], [1, 2]), Uint32Array.from([1, 3]));
    expect([...res.fallback]).toEqual([1, 2]);
    expect(res.changed).toBe(1);
  });

  it('changed (fallback F) keeps F; F equal to the new real becomes TRACKED | real', () => {
    const res = fallbacksSameSize(ring([3, 3], [2, 2]), Uint32Array.from([4, 2]));
    expect([...res.fallback]).toEqual([2, T(2)]);
  });

  it('tracked X: a new real elsewhere falls back to X; the same real stays tracked', () => {
    const res = fallbacksSameSize(ring([1, 1], [T(1), T(1)]), Uint32Array.from([5, 1]));
    expect([...res.fallback]).toEqual([1, T(1)]);
  });

  it('a DOWN real is never a fallback: its slots become TRACKED | new real (or clean when they were clean)', () => {
    const down = new Set([2]);
    const res = fallbacksSameSize(ring([2, 3, 1], [2, 2, 2]), Uint32Array.from([1, 1, 1]), down);
    expect([...res.fallback]).toEqual([1, T(1), T(1)]);
    expect(res.changed).toBe(0);
  });

  it('no backend left: the slot names none, the fallback keeps the old real (drained flows stay)', () => {
    const res = fallbacksSameSize(ring([1], [1]), Uint32Array.from([REAL_NONE]));
    expect([...res.fallback]).toEqual([1]);
  });

  it('PREV_RING slots keep asking the previous ring', () => {
    const res = fallbacksSameSize(ring([1], [SLOT_PREV_RING]), Uint32Array.from([2]));
    expect([...res.fallback]).toEqual([SLOT_PREV_RING]);
    expect(res.usesPrev).toBe(true);
  });
});

describe('slotTarget', () => {
  it('reads each kind of fallback', () => {
    expect(slotTarget(1, 1)).toBe(1);
    expect(slotTarget(1, T(1))).toBe(1);
    expect(slotTarget(1, 2)).toBe(2);
    expect(slotTarget(1, SLOT_PREV_RING)).toBe(SLOT_PREV_RING);
  });
});

describe('overlappedSlots (resize)', () => {
  it('covers exactly the old slots the program computes for every hash of the new slot', () => {
    const [M, N] = [251, 509];
    // Every hash h lands in new slot ringSlot(h, M) and old slot ringSlot(h, N): sample densely.
    for (let k = 0; k < 200_000; k++) {
      const h = Math.floor((k * 4294967296) / 200_000) + (k % 7);
      const j = ringSlot(h >>> 0, M);
      const [lo, hi] = overlappedSlots(j, M, N);
      const old = ringSlot(h >>> 0, N);
      expect(old >= lo && old <= hi, `hash ${h}: old slot ${old} outside ${lo}..${hi}`).toBe(true);
    }
    expect(overlappedSlots(0, M, N)[0]).toBe(0);
    expect(overlappedSlots(M - 1, M, N)[1]).toBe(N - 1);
  });
});

describe('fallbacksResized', () => {
  it('old slots that agree give their target; that disagree give PREV_RING', () => {
    // Old ring of 4: slots 0,1 on real 1; 2,3 on 1 and 2. New ring of 2.
    const old = ring([1, 1, 1, 2], [1, 1, 1, 2]);
    const res = fallbacksResized(old, Uint32Array.from([1, 3]));
    expect([...res.fallback]).toEqual([1, SLOT_PREV_RING]);
    expect(res.usesPrev).toBe(true);
  });

  it('all old slots on one real that stays: clean', () => {
    const res = fallbacksResized(ring([7, 7, 7], [7, 7, 7]), Uint32Array.from([7, 7, 7, 7, 7]));
    expect([...res.fallback]).toEqual([7, 7, 7, 7, 7]);
    expect(res.usesPrev).toBe(false);
  });

  it('a DOWN real in the old slots does not make a disagreement', () => {
    const res = fallbacksResized(ring([1, 2], [1, 2]), Uint32Array.from([3]), new Set([2]));
    expect([...res.fallback]).toEqual([1]);
  });
});

describe('flattenPrev', () => {
  it('resolves PREV_RING from the previous ring (most common target when they disagree)', () => {
    const live = ring([5, 5], [SLOT_PREV_RING, 5]);
    const prev = ring([1, 1, 2, 3], [1, 1, 2, 3]);
    const { fallback, lost } = flattenPrev(live, prev);
    expect([...fallback]).toEqual([1, 5]);
    expect(lost).toBe(0);
    const mixed = flattenPrev(ring([5], [SLOT_PREV_RING]), ring([1, 1, 2], [1, 1, 2]));
    expect([...mixed.fallback]).toEqual([1]);
    expect(mixed.lost).toBe(1);
  });
});

describe('cleanFallbacks (the sweep)', () => {
  it('ages changed slots to TRACKED only when asked, and cleans tracked ones without live entries', () => {
    const live = ring([1, 1, 1, 2], [3, T(1), T(1), SLOT_PREV_RING]);
    const hasEntry = Uint8Array.from([0, 1, 0, 0]);
    const young = cleanFallbacks(live, hasEntry, { ageChanged: false, cleanTracked: true });
    expect([...young.fallback]).toEqual([3, T(1), 1, SLOT_PREV_RING]);
    const old = cleanFallbacks(live, hasEntry, { ageChanged: true, cleanTracked: true });
    // A slot made tracked now is cleaned by a later sweep only (flows may be pinned after this read).
    expect([...old.fallback]).toEqual([T(1), T(1), 1, T(2)]);
    expect(old.rewritten).toBe(3);
  });

  it('a fallback naming an invalid real becomes TRACKED at once', () => {
    const res = cleanFallbacks(ring([1], [4]), Uint8Array.from([0]), { ageChanged: false, cleanTracked: false, invalid: new Set([4]) });
    expect([...res.fallback]).toEqual([T(1)]);
  });
});
