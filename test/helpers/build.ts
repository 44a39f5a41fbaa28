/**
 * The build that bin/vipd and bin/vipctl run (dist/): `npm test` builds
 * first, so normally this only checks it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './netns.js';

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * bin/vipd runs dist/: `npm test` builds first, so normally this only checks.
 * When a source is newer than the build, runs `tsc -p tsconfig.build.json`
 * (under a lock directory, since test files run in parallel). tsc rewrites
 * dist/ in place, and a daemon another test file starts meanwhile can import
 * a half-written module ("m.main is not a function"): so never build
 * unconditionally from a test, only when stale (a source edited after the
 * last `npm run build`, never the case in CI's clean clone).
 */
export function ensureBuilt(): void {
  const root = repoRoot();
  const main = join(root, 'dist', 'src', 'daemon', 'main.js');
  const native = join(root, 'build', 'Release', 'vipd_native.node');
  const xdp = join(root, 'out', 'test', 'progs', 'xdp_pass.bpf.o');
  for (const f of [native, xdp]) if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`);
  const stale = () => !existsSync(main) || newestMtime(join(root, 'src'), '.ts') > statSync(main).mtimeMs;
  if (!stale()) return;
  const lock = join(root, 'build', '.daemon-tests-tsc.lock');
  for (let i = 0; i < 600; i++) {
    try {
      execFileSync('mkdir', [lock], { stdio: 'ignore' });
    } catch {
      execFileSync('sleep', ['0.5']);
      if (!stale()) return;
      continue;
    }
    try {
      if (stale()) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit', timeout: 300_000 });
    } catch (err) {
      // tsc still emits on type errors; run what was built and let the tests say what fails.
      if (!existsSync(main)) throw err;
      console.warn(`tsc -p tsconfig.build.json failed (${(err as Error).message}); testing the build in dist/ as it is`);
    } finally {
      execFileSync('rmdir', [lock]);
    }
    break;
  }
  if (!existsSync(main)) throw new Error(`${main} is missing after tsc: run \`npm run build\``);
}

