/**
 * The BPF objects build on a fresh Debian 12 machine.
 *
 * Under `-target bpf`, a glibc header (sys/socket.h, features.h, ...) pulls
 * in gnu/stubs-32.h, which only a machine with 32-bit libc headers has: the
 * README's first command once failed on a new machine because
 * linux/icmp.h -> linux/if.h -> sys/socket.h. Two checks keep it fixed:
 * every header the BPF sources include comes from the kernel UAPI, libbpf,
 * clang or the repository; and the objects build in a private mount
 * namespace whose multiarch gnu/ directory has no stubs-32.h, whatever this
 * machine happens to have installed.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bpfDir = join(repoRoot, 'bpf');
const multiarch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim();

/** Where a BPF object may take headers from under /usr/include. */
const ALLOWED_SYSTEM_DIRS = ['linux/', 'asm-generic/', 'bpf/', `${multiarch}/asm/`];

/** Every header that a BPF source includes, as `clang -M` lists it with the Makefile's flags. */
function includedHeaders(source: string): string[] {
  const cflags = execFileSync('make', ['-s', '-C', bpfDir, 'cflags'], { encoding: 'utf8' }).trim().split(/\s+/);
  const deps = execFileSync('clang', [...cflags, '-M', source], { cwd: bpfDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return deps.split(/[\s\\]+/).filter((word) => word.endsWith('.h'));
}

/** Every BPF source the Makefile builds (bpf/, bench/bpf/, test/progs/), relative to bpf/. */
function bpfSources(): string[] {
  return ['bpf', 'bench/bpf', 'test/progs'].flatMap((dir) =>
    readdirSync(join(repoRoot, dir))
      .filter((f) => f.endsWith('.bpf.c'))
      .map((f) => join('..', dir, f)),
  );
}

function whyNoPrivateMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for a private mount namespace';
  try {
    execFileSync('unshare', ['-m', 'true'], { stdio: 'ignore' });
  } catch {
    return 'unshare -m is not available';
  }
  return undefined;
}

describe('BPF objects build with the headers of a fresh machine', () => {
  it.each(bpfSources())('%s includes no glibc header (only kernel UAPI, libbpf, clang and our own)', (source) => {
    const headers = includedHeaders(source);
    expect(headers).toContain('/usr/include/linux/bpf.h');
    const foreign = headers.filter(
      (h) => h.startsWith('/usr/include/') && !ALLOWED_SYSTEM_DIRS.some((dir) => h.startsWith(`/usr/include/${dir}`)),
    );
    expect(foreign, 'headers from outside the kernel UAPI and libbpf (glibc?)').toEqual([]);
  });

  it.skipIf(whyNoPrivateMount())('build where gnu/stubs-32.h does not exist', () => {
    const gnu = `/usr/include/${multiarch}/gnu`;
    const work = mkdtempSync(join(tmpdir(), 'vipd-fresh-'));
    try {
      // A copy of this machine's gnu/ without the 32-bit stubs, mounted over
      // the real one in a mount namespace that dies with the command.
      cpSync(gnu, join(work, 'gnu'), { recursive: true });
      rmSync(join(work, 'gnu', 'stubs-32.h'), { force: true });
      const out = join(work, 'out');
      const script = `mount --bind "$1/gnu" "$2" && make -B -s -C "$3" OUT="$4"`;
      execFileSync('unshare', ['-m', 'sh', '-c', script, 'sh', work, gnu, bpfDir, out], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
      // Each object lands under OUT at its source's path (bpf/, bench/bpf/, test/progs/).
      const built = readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.bpf.o'));
      expect(built.sort()).toEqual(bpfSources().map((f) => relative('..', f).replace(/\.c$/, '.o')).sort());
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
