/**
 * The BPF half of the native addon checks its arguments: every exported
 * function called from JavaScript with a wrong type (none at all, a string
 * for a number, a number for a Buffer, a Buffer too short for the map)
 * throws a TypeError naming the function and the argument. The calls run in
 * a child process (fixtures/native-args-child.mjs), so a crash is a failed
 * test that names the call, not a dead test runner.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/native.js';

const root = packageRoot();

/** Every BPF function of the addon (src/bpf/native.ts BpfNative), and the BpfObject methods that take arguments. */
const BPF_FUNCTIONS = [
  'mapLookup', 'mapUpdate', 'mapDelete', 'mapGetNextKey', 'mapLookupBatch', 'mapUpdateBatch', 'mapDeleteBatch',
  'mapFreeze', 'objPin', 'objGet', 'closeFd', 'dupFd', 'mapInfo', 'progInfo', 'linkInfo', 'getFdById',
  'progTestRun', 'progTestRunAsync', 'progTestRunEach', 'xdpLinkCreate', 'linkUpdate', 'linkDetach', 'xdpAttach', 'xdpDetach',
  'xdpQuery', 'btfStructs', 'btfDatasec', 'ifNameToIndex', 'ifIndexToName', 'isBpffs', 'mountBpffs', 'unmount',
  'lockDir', 'BpfObject', 'BpfObject.setMaxEntries', 'BpfObject.setPinPath', 'BpfObject.initialValue',
  'BpfObject.setInitialValue', 'BpfObject.setAutoload', 'BpfObject.mapFd', 'BpfObject.progFd',
];

interface CallResult {
  fn: string;
  what: string;
  threw: string | null;
  message?: string;
}

describe('native BPF functions called with wrong arguments', () => {
  const child = spawnSync(
    process.execPath,
    [
      join(root, 'test/bpf/fixtures/native-args-child.mjs'),
      join(root, 'build/Release/vipd_native.node'),
      join(root, 'out/test/progs/libbpf_ts_test.bpf.o'),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const lines = child.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Partial<CallResult> & { start?: string; done?: boolean });
  const results = lines.filter((l): l is CallResult => l.fn !== undefined);
  const lastStarted = lines.filter((l) => l.start).at(-1)?.start;

  it('the child process ran every call and exited on its own (no crash)', () => {
    const how = `exit ${child.status}, signal ${child.signal}, last call started: ${lastStarted}\n${child.stderr}`;
    expect(child.signal, how).toBeNull();
    expect(child.status, how).toBe(0);
    expect(lines.at(-1)).toEqual({ done: true });
  });

  it('every exported BPF function is exercised', () => {
    const tried = new Set(results.filter((r) => !r.what.endsWith('(valid)')).map((r) => r.fn));
    expect(BPF_FUNCTIONS.filter((f) => !tried.has(f))).toEqual([]);
  });

  it('each wrong call throws a TypeError naming the function and the argument', () => {
    const wrong = results.filter((r) => !r.what.endsWith('(valid)'));
    expect(wrong.length).toBeGreaterThan(60);
    for (const r of wrong) {
      expect(r.threw, `${r.fn}: ${r.what}: ${r.message}`).toBe('TypeError');
      expect(r.message).toMatch(new RegExp(`^${r.fn.replace('BpfObject.', '')}: (argument \\d+ \\(\\w+\\)|option \\w+) must be`));
    }
  });

  it('well-formed calls still go through (a Buffer of the map key and value size, every CPU for a per-CPU map)', () => {
    const valid = results.filter((r) => r.what.endsWith('(valid)'));
    expect(valid).toHaveLength(3);
    for (const r of valid) expect(r.threw, `${r.fn}: ${r.message}`).toBeNull();
  });
});
