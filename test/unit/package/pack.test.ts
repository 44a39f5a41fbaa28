/**
 * What `npm pack` ships: only what a user runs (bin/, dist/src, the vipd BPF
 * object, the addon) and the sources the addon and the object are built from.
 * No test, bench or script code, no test or bench BPF objects. Needs
 * `npm run build` first: a missing build output fails the test.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

let files: string[] = [];
beforeAll(() => {
  const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  const [pack] = JSON.parse(json) as { files: { path: string }[] }[];
  files = pack.files.map((f) => f.path).sort();
}, 60_000);

/** The module each bin/* script imports, e.g. dist/src/daemon/main.js. */
function binEntryPoint(bin: string): string {
  const match = /import\('(\.\.\/dist\/[^']+)'\)/.exec(readFileSync(join(ROOT, bin), 'utf8'));
  if (!match) throw new Error(`${bin}: no import('../dist/...') found`);
  return normalize(join('bin', match[1]));
}

describe('npm pack', () => {
  it('ships the programs a user runs', () => {
    const entryPoints = ['bin/vipd', 'bin/vipctl'].map(binEntryPoint);
    expect(entryPoints).toEqual(['dist/src/daemon/main.js', 'dist/src/cli/main.js']);
    for (const path of ['bin/vipd', 'bin/vipctl', ...entryPoints, 'out/bpf/vipd.bpf.o', 'build/Release/vipd_native.node', 'binding.gyp']) {
      expect(files).toContain(path);
    }
  });

  it('ships no test, bench or script code and no BPF object but vipd.bpf.o', () => {
    const devOnly = files.filter((f) => /^(test|bench|scripts|dist-tools|dist\/(test|bench|scripts))\//.test(f));
    expect(devOnly).toEqual([]);
    expect(files.filter((f) => f.endsWith('.bpf.o') || f.endsWith('.bpf.c'))).toEqual(['bpf/vipd.bpf.c', 'out/bpf/vipd.bpf.o']);
  });

  it('every relative import of the shipped code resolves inside the package', () => {
    const shipped = new Set(files);
    const unresolved: string[] = [];
    for (const file of files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = normalize(join(dirname(file), spec));
        if (!shipped.has(target)) unresolved.push(`${file} -> ${spec}`);
      }
    }
    expect(unresolved).toEqual([]);
  });
});
