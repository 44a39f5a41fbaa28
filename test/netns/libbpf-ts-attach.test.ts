/**
 * XDP attach through libbpf-ts on a real veth inside namespaces this test
 * makes: a child process in the namespace attaches and pins the link, real
 * frames cross the veth, the per-CPU counter is read from the pinned map,
 * the program is swapped atomically, detached, and nothing is left behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectSpec, PerCpuMap, XdpLink, ensureBpffs, types as t, unmountBpffs } from '../../src/bpf/index.js';
import { packageRoot } from '../../src/native.js';

const root = packageRoot();
const OBJ = join(root, 'out/test/progs/libbpf_ts_test.bpf.o');
const tag = `${process.pid % 100000}${Math.floor(Math.random() * 1000)}`;
const nsA = `lbts-a-${tag}`;
const nsB = `lbts-b-${tag}`;
let pinDir = '';
let mounted = false;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function xdpProgOn(ns: string, dev: string): number | undefined {
  const [link] = JSON.parse(ip('-n', ns, '-j', '-d', 'link', 'show', dev)) as { xdp?: { prog?: { id: number } } }[];
  return link.xdp?.prog?.id;
}

function cleanup(): void {
  for (const ns of [nsA, nsB]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      /* already gone */
    }
  }
  if (mounted) {
    try {
      unmountBpffs(pinDir);
    } catch {
      /* best effort */
    }
    mounted = false;
  }
  if (pinDir) rmSync(pinDir, { recursive: true, force: true });
}

describe('XDP attach on a veth in a namespace', () => {
  beforeAll(() => {
    process.once('exit', cleanup);
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('-n', nsA, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', '10.201.0.1/24', 'dev', 'va');
    ip('-n', nsB, 'addr', 'add', '10.201.0.2/24', 'dev', 'vb');
    ip('-n', nsA, 'link', 'set', 'va', 'up');
    ip('-n', nsB, 'link', 'set', 'vb', 'up');
    pinDir = mkdtempSync('/run/vipd-test-attach-');
    mounted = ensureBpffs(pinDir).mounted;
  });
  afterAll(cleanup);

  it('attaches, counts real frames, swaps the program, detaches, leaves nothing', async () => {
    // The namespace's interface index is only meaningful inside it: attach from a child there.
    const attachScript = `
      import { ObjectSpec } from ${JSON.stringify(join(root, 'dist/src/bpf/index.js'))};
      const spec = ObjectSpec.open(${JSON.stringify(OBJ)});
      spec.pinMapsUnder(${JSON.stringify(pinDir)});
      const coll = await spec.load();
      const prog = coll.program('xdp_count');
      const link = prog.attachXdp('vb', { mode: 'native' });
      link.pin(${JSON.stringify(join(pinDir, 'link'))});
      console.log(JSON.stringify({ ifindex: link.ifindex, mode: link.mode, via: link.via, progId: prog.info().id }));
      link.close(); prog.close(); coll.close();`;
    const out = execFileSync(
      'ip',
      ['netns', 'exec', nsB, process.execPath, '--input-type=module', '-e', attachScript],
      { encoding: 'utf8', timeout: 20_000 },
    );
    const attached = JSON.parse(out) as { ifindex: number; mode: string; via: string; progId: number };
    expect(attached).toMatchObject({ mode: 'native', via: 'link' });
    // The pinned link keeps the program attached after the process that made it exited.
    expect(xdpProgOn(nsB, 'vb')).toBe(attached.progId);

    using counters = PerCpuMap.openPinned(join(pinDir, 'test_percpu'), t.u32, t.u64);
    const sum = (i: number) => (counters.lookup(i) ?? []).reduce((a, b) => a + b, 0n);
    const ipv4Before = sum(1);
    execFileSync('ip', ['netns', 'exec', nsA, 'ping', '-c', '5', '-i', '0.05', '-W', '1', '10.201.0.2'], {
      timeout: 10_000,
    });
    // Five echo requests (plus maybe ARP, counted as "other") passed through the program.
    expect(sum(1) - ipv4Before).toBeGreaterThanOrEqual(5n);
    expect(sum(2)).toBeGreaterThanOrEqual(1n);

    // Atomic replace: a freshly loaded program takes over the same link.
    const coll2 = await ObjectSpec.open(OBJ).load();
    using prog2 = coll2.program('xdp_count');
    using link = XdpLink.openPinned(join(pinDir, 'link'));
    expect(link.programId()).toBe(attached.progId);
    link.update(prog2);
    expect(link.programId()).toBe(prog2.info().id);
    expect(xdpProgOn(nsB, 'vb')).toBe(prog2.info().id);
    coll2.close();

    link.detach();
    rmSync(join(pinDir, 'link'));
    expect(xdpProgOn(nsB, 'vb')).toBeUndefined();
    // A fresh bpffs holds the kernel's own maps.debug/progs.debug iterators; everything else was ours.
    const ours = () => readdirSync(pinDir).filter((n) => !n.endsWith('.debug'));
    for (const name of ours()) rmSync(join(pinDir, name));
    expect(ours()).toEqual([]);
  });

  it('attaching to a missing interface is a typed error and the process stays healthy', async () => {
    const coll = await ObjectSpec.open(OBJ).load();
    using prog = coll.program('xdp_count');
    expect(() => prog.attachXdp('vipd-nonexistent0')).toThrow(
      expect.objectContaining({ code: 'VIPD_BPF_NO_INTERFACE', message: "interface 'vipd-nonexistent0' does not exist" }),
    );
    expect(() => prog.attachXdp(999_999, { mode: 'generic' })).toThrow(
      expect.objectContaining({ code: 'VIPD_BPF_NO_INTERFACE' }),
    );
    expect(prog.run({ data: Buffer.alloc(60) }).retval).toBe(2);
    coll.close();
  });

  it('cleanup removes the namespaces and the bpffs', () => {
    cleanup();
    const list = ip('netns', 'list');
    expect(list).not.toContain(nsA);
    expect(list).not.toContain(nsB);
    expect(existsSync(pinDir)).toBe(false);
  });
});
