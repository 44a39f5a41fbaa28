/**
 * The sweep's idle clock (src/dataplane/flows.ts): `seen` and the sweep's
 * clock are 32-bit counts of ~1 ms that wrap; an entry refreshed after the
 * sweep read its clock is live, not 52 days idle (issue 14).
 */
import { describe, expect, it } from 'vitest';
import { idleSeconds, idleUnits } from '../../../src/dataplane/flows.js';

describe('the sweep idle clock', () => {
  it('an entry seen after the sweep read its clock is not idle', () => {
    expect(idleUnits(1_000_005, 1_000_000)).toBe(0);
    expect(idleSeconds(1_000_040, 1_000_000)).toBe(0);
  });

  it('counts units since seen, across the 32-bit wrap', () => {
    expect(idleUnits(1_000_000, 1_000_010)).toBe(10);
    expect(idleUnits(0xffff_fff0, 0x10)).toBe(0x20);
    // 900 s (the default TCP timeout) is ~858 000 units of 2^20 ns.
    expect(idleSeconds(0, 858_307)).toBeCloseTo(900, 0);
  });
});
