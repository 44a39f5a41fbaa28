/**
 * Interop with keepalived 2.2.7's BFD (Debian's build has --enable-bfd) as
 * the peer: a `bfd_instance` in one namespace, vipd's native BFD thread
 * (src/bfd, in test/netns/fixtures/bfd-agent.mjs) in the other. The session
 * comes Up at 20 ms x 3, goes Down when keepalived's link dies and Up again
 * when it returns.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveCommand, NetnsLab, netnsUnavailable, transpileForChild, type Namespace, type NodeChild } from '../helpers/netns.js';
import { waitFor } from '../helpers/wait.js';

const AGENT = new URL('./fixtures/bfd-agent.mjs', import.meta.url).pathname;
const [OURS, THEIRS] = ['10.208.0.1', '10.208.0.2'];

interface Session {
  peer: string;
  state: string;
  remoteState: string;
  txIntervalUs: number;
  detectTimeUs: number;
  ups: number;
  downs: number;
  diag: number;
}

const skip = netnsUnavailable() ?? (haveCommand('keepalived') ? undefined : 'keepalived is not installed');

describe.skipIf(skip)(`BFD with keepalived's bfd_instance as the peer${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let lab: NetnsLab;
  let b: Namespace;
  let agent: NodeChild;
  let ka: ChildProcess;

  async function session(): Promise<Session | undefined> {
    return (await agent.call<Session[]>('sessions')).find((s) => s.peer === THEIRS);
  }

  beforeAll(async () => {
    lab = new NetnsLab('kabfd');
    const a = lab.namespace('a');
    b = lab.namespace('b');
    lab.veth(a, 'eth0', b, 'eth0');
    a.addr('eth0', `${OURS}/24`);
    b.addr('eth0', `${THEIRS}/24`);
    const dir = lab.tmpDir();
    const conf = join(dir, 'keepalived.conf');
    writeFileSync(
      conf,
      `global_defs {\n  router_id vipd_bfd_test\n}\nbfd_instance vipd {\n  neighbor_ip ${OURS}\n  source_ip ${THEIRS}\n  min_rx 20\n  min_tx 20\n  idle_tx 1000\n  multiplier 3\n}\n`,
    );
    // -n: foreground, private pid files; its BFD child process runs the session.
    ka = b.spawn('keepalived', ['-n', '-l', '-D', '-f', conf, '-p', join(dir, 'ka.pid'), '-r', join(dir, 'vrrp.pid'), '-c', join(dir, 'chk.pid'), '-b', join(dir, 'bfd.pid')]);
    agent = a.node(AGENT, [], { env: { VIPD_BFD_MODULE: transpileForChild('src/bfd/index.ts') } });
    await agent.waitEvent('ready');
    await agent.call('open');
    await agent.call('add', { interface: 'eth0', peer: THEIRS, interval: 0.02, multiplier: 3 });
  });

  afterAll(async () => {
    await agent?.stop();
    if (ka && ka.exitCode === null) {
      // SIGTERM: the parent stops its BFD child too (SIGKILL would orphan it).
      const exited = new Promise<void>((r) => ka.once('exit', () => r()));
      ka.kill('SIGTERM');
      await exited;
    }
    await lab?.cleanup();
  });

  it('comes Up with keepalived and runs at 20 ms x 3', async () => {
    const s = await waitFor('session Up at 20 ms', async () => {
      const x = await session();
      return x?.state === 'Up' && x.remoteState === 'Up' && x.txIntervalUs === 20_000 ? x : undefined;
    });
    expect(s.detectTimeUs).toBe(60_000);
  });

  it("goes Down (detection time expired) when keepalived's link dies, Up again when it returns", async () => {
    const before = await waitFor('Up', async () => {
      const x = await session();
      return x?.state === 'Up' ? x : undefined;
    });
    b.ip('link set eth0 down');
    const down = await waitFor('Down', async () => {
      const x = await session();
      return x && x.state === 'Down' ? x : undefined;
    });
    expect(down.diag).toBe(1);
    b.ip('link set eth0 up');
    const back = await waitFor(
      'Up again',
      async () => {
        const x = await session();
        return x && x.state === 'Up' && x.ups > before.ups ? x : undefined;
      },
      30_000,
    );
    expect(back.downs).toBeGreaterThan(before.downs);
  });
});
