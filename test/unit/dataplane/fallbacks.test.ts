/** The fallback rules of a new table (src/dataplane/fallbacks.ts; docs/dataplane.md "Connection table"). */
import { describe, expect, it } from 'vitest';
import { REAL_NONE, SLOT_PREV_RING, SLOT_TRACKED } from '../../../src/dataplane/abi.js';
import {
  cleanFallbacks,
  fallbacksResized,
  fallbacksSameSize,
  flattenPrev,
  nextFallback,
  overlappedSlots,
  slotTarget,
  writeSameSize,
} from '../../../src/dataplane/fallbacks.js';
import { ringSlot } from '../../model/xdp-hash.js';

const T = (real: number) => (real | SLOT_TRACKED) >>> 0;
const ring = (real: number[], fallback: number[]) => ({ real: Uint32Array.from(real), fallback: Uint32Array.from(fallback) });

describe('fallbacksResized, not recording', () => {
  it('slots over clean old slots stay clean even where those disagree (no PREV_RING)', () => {
    const res = fallbacksResized(ring([1, 2, 3], [1, 2, 3]), Uint32Array.from([7, 7, 7, 7, 7]), undefined, false);
    expect([...res.fallback]).toEqual([7, 7, 7, 7, 7]);
    expect(res.usesPrev).toBe(false);
  });
});

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

  it('not recording (a host that serves nothing saw a health change): clean slots stay clean, changed ones keep their fallback', () => {
    const res = fallbacksSameSize(ring([1, 3, 1], [1, 2, T(1)]), Uint32Array.from([4, 4, 4]), undefined, false);
    expect([...res.fallback]).toEqual([4, 2, 1]);
    expect(res.changed).toBe(2);
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

describe('writeSameSize (a swap from the live ring straight into the idle one)', () => {
  // Slot words as the rings map holds them: [real, fallback] per slot.
  const pairs = (real: number[], fallback: number[]) => Uint32Array.from(real.flatMap((r, i) => [r, fallback[i]]));
  // Each slot by the rules, one at a time (docs/dataplane.md "Connection table").
  const expected = (real: number, fallback: number, next: number, down: Set<number>, record: boolean) =>
    fallback === SLOT_PREV_RING ? SLOT_PREV_RING : nextFallback(slotTarget(real, fallback), real === fallback, next, down, record);

  it('writes the new reals and the fallbacks of every kind of slot, and counts the changes', () => {
    const live = pairs([1, 1, 2, 3, 4, 5, REAL_NONE], [1, 1, T(2), 9, SLOT_PREV_RING, 5, REAL_NONE]);
    const before = Uint32Array.from(live);
    const idle = new Uint32Array(live.length).fill(0xdead);
    const next = Uint32Array.from([1, 6, 7, 3, 4, REAL_NONE, 8]);
    const res = writeSameSize(live, idle, next);
    // real word, fallback word, slot by slot
    expect([...idle]).toEqual([1, 1, 6, 1, 7, 2, 3, 9, 4, SLOT_PREV_RING, REAL_NONE, 5, 8, 8]);
    expect(live).toEqual(before); // the live ring is only read
    // changed: 6<-1, 7<-2, 3 keeps 9, PREV_RING, none<-5; moved: those whose real changed
    expect(res).toEqual({ changed: 5, moved: 3, usesPrev: true, unclean: 5 });
  });

  it('agrees with the rules slot by slot on random rings (DOWN reals, recording or not)', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const word = () => [1, 2, 3, 4, REAL_NONE, T(1 + rand(4)), SLOT_PREV_RING][rand(7)];
    for (let round = 0; round < 200; round++) {
      const n = 1 + rand(40);
      const real = Array.from({ length: n }, () => (rand(5) === 0 ? REAL_NONE : 1 + rand(4)));
      const fallback = real.map((r) => (rand(2) === 0 ? r : word()));
      const next = Uint32Array.from({ length: n }, () => (rand(6) === 0 ? REAL_NONE : 1 + rand(4)));
      const down = new Set(rand(2) === 0 ? [1 + rand(4)] : []);
      const record = rand(3) !== 0;
      const idle = new Uint32Array(2 * n);
      const res = writeSameSize(pairs(real, fallback), idle, next, down, record);
      let changed = 0;
      for (let i = 0; i < n; i++) {
        const fb = expected(real[i], fallback[i], next[i], down, record);
        expect([idle[2 * i], idle[2 * i + 1]]).toEqual([next[i], fb]);
        if (fb !== next[i] && (fb === SLOT_PREV_RING || (fb & SLOT_TRACKED) === 0)) changed++;
      }
      expect(res.changed).toBe(changed);
      expect(res.unclean).toBe(next.filter((r, i) => idle[2 * i + 1] !== r).length);
      expect(res.usesPrev).toBe([...idle].some((w, i) => i % 2 === 1 && w === SLOT_PREV_RING));
    }
  });

  it('refuses rings of another size than the table', () => {
    expect(() => writeSameSize(new Uint32Array(4), new Uint32Array(4), new Uint32Array(3))).toThrow(RangeError);
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
