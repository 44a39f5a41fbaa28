/**
 * Interop with FRR's bfdd (Debian `frr` 8.4) as the BFD peer, IPv4 and IPv6:
 * vipd's native BFD thread (src/bfd, in test/netns/fixtures/bfd-agent.mjs)
 * brings sessions Up with bfdd at 20 ms x 3, runs at the negotiated rate,
 * goes Down when bfdd's link dies and Up again when it returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrrBfdd } from '../helpers/frr-bfdd.js';
import { NetnsLab, netnsUnavailable, transpileForChild, type Namespace, type NodeChild } from '../helpers/netns.js';
import { waitFor } from '../helpers/wait.js';

const AGENT = new URL('./fixtures/bfd-agent.mjs', import.meta.url).pathname;
const PEERS = { v4: ['10.205.0.1', '10.205.0.2'], v6: ['fd00:205::1', 'fd00:205::2'] } as const;

interface Session {
  id: number;
  peer: string;
  state: string;
  remoteState: string;
  txIntervalUs: number;
  detectTimeUs: number;
  ups: number;
  downs: number;
  diag: number;
}

const skip = netnsUnavailable() ?? (FrrBfdd.available() ? undefined : 'FRR bfdd is not installed (apt-get install frr)');

describe.skipIf(skip)(`BFD with FRR bfdd as the peer${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let lab: NetnsLab;
  let a: Namespace;
  let b: Namespace;
  let agent: NodeChild;
  let frr: FrrBfdd;

  async function session(peer: string): Promise<Session | undefined> {
    return (await agent.call<Session[]>('sessions')).find((s) => s.peer === peer);
  }

  beforeAll(async () => {
    lab = new NetnsLab('frrbfd');
    a = lab.namespace('a');
    b = lab.namespace('b');
    lab.veth(a, 'eth0', b, 'eth0');
    a.addr('eth0', `${PEERS.v4[0]}/24`);
    b.addr('eth0', `${PEERS.v4[1]}/24`);
    a.addr('eth0', `${PEERS.v6[0]}/64`);
    b.addr('eth0', `${PEERS.v6[1]}/64`);
    frr = await FrrBfdd.start(b, {
      dir: lab.tmpDir(),
      peers: [
        { peer: PEERS.v4[0], local: PEERS.v4[1] },
        { peer: PEERS.v6[0], local: PEERS.v6[1] },
      ],
      intervalMs: 20,
      multiplier: 3,
    });
    agent = a.node(AGENT, [], { env: { VIPD_BFD_MODULE: transpileForChild('src/bfd/index.ts') } });
    await agent.waitEvent('ready');
    await agent.call('open');
    for (const fam of ['v4', 'v6'] as const) {
      await agent.call('add', { interface: 'eth0', peer: PEERS[fam][1], interval: 0.02, multiplier: 3 });
    }
  });

  afterAll(async () => {
    await agent?.stop();
    await frr?.stop();
    await lab?.cleanup();
  });

  for (const fam of ['v4', 'v6'] as const) {
    it(`comes Up with bfdd over ${fam === 'v4' ? 'IPv4' : 'IPv6'} and runs at 20 ms x 3`, async () => {
      const s = await waitFor(`session to ${PEERS[fam][1]} Up at 20 ms`, async () => {
        const x = await session(PEERS[fam][1]);
        return x?.state === 'Up' && x.remoteState === 'Up' && x.txIntervalUs === 20_000 ? x : undefined;
      });
      expect(s.detectTimeUs).toBe(60_000);
    });
  }

  it("goes Down (detection time expired) when bfdd's link dies, Up again when it returns", async () => {
    const peer = PEERS.v4[1];
    const before = await waitFor('Up', async () => ((await session(peer))?.state === 'Up' ? session(peer) : undefined));
    b.ip('link set eth0 down');
    const down = await waitFor('Down', async () => {
      const x = await session(peer);
      return x && x.state === 'Down' ? x : undefined;
    });
    expect(down.diag).toBe(1);
    b.ip('link set eth0 up');
    const back = await waitFor('Up again', async () => {
      const x = await session(peer);
      return x && x.state === 'Up' && x.ups > before!.ups ? x : undefined;
    }, 30_000);
    expect(back.downs).toBeGreaterThan(before!.downs);
  });
});
