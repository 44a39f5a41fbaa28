/**
 * A map pinned by an earlier build that differs from the object's
 * declaration: load() compares the pinned map (bpf_obj_get_info_by_fd)
 * with the declaration before libbpf sees it, and the error lists every
 * difference, not only the first.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfMap, ObjectSpec, PinMismatchError, ensureBpffs, unmountBpffs, type PinDifference } from '../../src/bpf/index.js';
import { packageRoot } from '../../src/native.js';

const SHAPES_OBJ = join(packageRoot(), 'out/test/progs/pin_shapes.bpf.o');

/** Loads pin_shapes.bpf.o with one of its maps pinned at pin (the other not pinned). */
async function loadPinning(map: 'shape_a' | 'shape_b', pin: string): Promise<void> {
  const spec = ObjectSpec.open(SHAPES_OBJ);
  try {
    spec.map(map).pinPath = pin;
    (await spec.load()).close();
  } finally {
    spec.close();
  }
}

describe('pinned map of another shape', () => {
  const dir = mkdtempSync('/run/vipd-test-pinshape-');
  const { mounted } = ensureBpffs(dir);
  const pin = join(dir, 'shape');
  afterAll(() => {
    if (existsSync(pin)) BpfMap.unpin(pin);
    if (mounted) unmountBpffs(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the error lists type, key size, value size, max entries and flags, each pinned vs declared', async () => {
    await loadPinning('shape_a', pin);
    expect(existsSync(pin)).toBe(true);
    const err = await loadPinning('shape_b', pin).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PinMismatchError);
    const e = err as PinMismatchError;
    expect(e.code).toBe('VIPD_BPF_PIN_MISMATCH');
    const expected: PinDifference[] = [
      { pin, field: 'type', pinned: 'Hash', declared: 'LruHash' },
      { pin, field: 'key size', pinned: '4', declared: '8' },
      { pin, field: 'value size', pinned: '8', declared: '4' },
      { pin, field: 'max entries', pinned: '16', declared: '32' },
      { pin, field: 'flags', pinned: '0x0', declared: '0x2' },
    ];
    expect(e.differences).toEqual(expected);
    for (const d of expected) expect(e.message).toContain(`${pin}: ${d.field} ${d.pinned} pinned, ${d.declared} in the object`);
  });

  it('a pin of the same shape is reused without complaint', async () => {
    await expect(loadPinning('shape_a', pin)).resolves.toBeUndefined();
  });
});
