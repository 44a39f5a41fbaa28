/**
 * BFD (native/bfd.cc through src/bfd) on a real kernel: two namespaces
 * joined by a veth pair, each running test/netns/fixtures/bfd-agent.mjs.
 * Sessions come Up over IPv4 and IPv6, stay Up through an event-loop stall,
 * ignore (and count) packets that fail RFC 5880 6.8.6 / RFC 5881 checks, and
 * go Down when the peer's link dies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsLab, netnsUnavailable, transpileForChild, type Namespace, type NodeChild } from '../helpers/netns.js';
import { waitFor } from '../helpers/wait.js';

const AGENT = new URL('./fixtures/bfd-agent.mjs', import.meta.url).pathname;

interface Session {
  id: number;
  peer: string;
  state: string;
  localDiscriminator: number;
  remoteDiscriminator: number;
  ups: number;
  downs: number;
  received: number;
  sourcePort: number;
  txIntervalUs: number;
  detectTimeUs: number;
}

interface Change {
  id: number;
  state: string;
  diag: number;
}

/** A BFD control packet (RFC 5880 4.1), fields as given; length = bytes unless told. */
function control(f: {
  version?: number;
  state?: number;
  flags?: number;
  mult?: number;
  length?: number;
  my: number;
  your: number;
  extra?: number;
}): string {
  const b = Buffer.alloc(24 + (f.extra ?? 0));
  b[0] = ((f.version ?? 1) << 5) | 0;
  b[1] = ((f.state ?? 1) << 6) | (f.flags ?? 0);
  b[2] = f.mult ?? 3;
  b[3] = f.length ?? b.length;
  b.writeUInt32BE(f.my, 4);
  b.writeUInt32BE(f.your, 8);
  b.writeUInt32BE(10_000, 12);
  b.writeUInt32BE(10_000, 16);
  return b.toString('hex');
}

const skip = netnsUnavailable();

describe.skipIf(skip)('BFD sessions (netns)', () => {
  let lab: NetnsLab;
  let a: Namespace;
  let b: Namespace;
  let ca: NodeChild;
  let cb: NodeChild;

  async function session(c: NodeChild, peer: string): Promise<Session | undefined> {
    return (await c.call<Session[]>('sessions')).find((s) => s.peer === peer);
  }

  function up(c: NodeChild, peer: string): Promise<Session> {
    return waitFor(`BFD session to ${peer} Up`, async () => {
      const s = await session(c, peer);
      return s?.state === 'Up' ? s : undefined;
    });
  }

  beforeAll(async () => {
    lab = new NetnsLab('bfd');
    a = lab.namespace('a');
    b = lab.namespace('b');
    lab.veth(a, 'eth0', b, 'eth0');
    a.addr('eth0', '10.203.0.1/24');
    b.addr('eth0', '10.203.0.2/24');
    b.addr('eth0', '10.203.0.3/24');
    a.addr('eth0', 'fd00:203::1/64');
    b.addr('eth0', 'fd00:203::2/64');
    const env = { VIPD_BFD_MODULE: transpileForChild('src/bfd/index.ts') };
    ca = a.node(AGENT, [], { env });
    cb = b.node(AGENT, [], { env });
    await Promise.all([ca.waitEvent('ready'), cb.waitEvent('ready')]);
    await Promise.all([ca.call('open'), cb.call('open')]);
    // 20 ms x 5: fast enough to show the timers, slow enough that a loaded CI machine does not flap it.
    const opts = { interface: 'eth0', interval: 0.02, multiplier: 5 };
    await ca.call('add', { ...opts, peer: '10.203.0.2' });
    await cb.call('add', { ...opts, peer: '10.203.0.1' });
    await ca.call('add', { ...opts, peer: 'fd00:203::2' });
    await cb.call('add', { ...opts, peer: 'fd00:203::1' });
  });

  afterAll(async () => {
    await Promise.all([ca?.stop(), cb?.stop()]);
    await lab?.cleanup();
  });

  it('comes Up over IPv4 and IPv6 and runs at the configured interval from a port in 49152..65535', async () => {
    for (const [c, peer] of [
      [ca, '10.203.0.2'],
      [cb, '10.203.0.1'],
      [ca, 'fd00:203::2'],
      [cb, 'fd00:203::1'],
    ] as const) {
      await up(c, peer);
      // After the Poll sequence both sides run at 20 ms: detection 5 x 20 ms.
      const s = await waitFor('10 ms timers', async () => {
        const x = await session(c, peer);
        return x && x.txIntervalUs === 20_000 && x.detectTimeUs === 100_000 ? x : undefined;
      });
      expect(s.sourcePort).toBeGreaterThanOrEqual(49152);
      expect(s.remoteDiscriminator).not.toBe(0);
    }
  });

  it('stays Up through a 300 ms event-loop stall (the thread needs no JavaScript)', async () => {
    await up(ca, '10.203.0.2');
    await ca.call('stall', { ms: 300 });
    const s = await session(ca, '10.203.0.2');
    expect(s).toMatchObject({ state: 'Up', downs: 0 });
    expect((await session(cb, '10.203.0.1'))?.downs).toBe(0);
  });

  it('counts and ignores packets that fail the RFC 5880 6.8.6 / RFC 5881 checks', async () => {
    const mine = (await up(ca, '10.203.0.2')).localDiscriminator;
    const theirs = (await up(cb, '10.203.0.1')).localDiscriminator;
    const before = (await ca.call<{ invalid: Record<string, number> }>('stats')).invalid;
    // Each would bring the session Down (state Down, the right discriminators) were it accepted.
    const bad: [string, string, number, string?][] = [
      ['version', control({ version: 2, my: theirs, your: mine }), 255],
      ['length', control({ length: 23, my: theirs, your: mine }), 255],
      ['length', control({ length: 40, my: theirs, your: mine }), 255],
      ['detect_mult', control({ mult: 0, my: theirs, your: mine }), 255],
      ['multipoint', control({ flags: 0x01, my: theirs, your: mine }), 255],
      ['my_discriminator', control({ my: 0, your: mine }), 255],
      ['your_discriminator', control({ my: theirs, your: (mine ^ 0x5a5a) >>> 0 }), 255],
      ['state', control({ state: 3, my: theirs, your: 0 }), 255],
      ['auth', control({ flags: 0x04, extra: 2, my: theirs, your: mine }), 255],
      ['ttl', control({ my: theirs, your: mine }), 254],
      ['no_session', control({ my: 77, your: 0 }), 255, '10.203.0.3'],
    ];
    for (const [, hex, ttl, from] of bad) {
      await cb.call('send', { address: '10.203.0.1', hex, ttl, sourcePort: 49999, sourceAddress: from ?? '10.203.0.2' });
    }
    const want: Record<string, number> = {};
    for (const [reason] of bad) want[reason] = (want[reason] ?? 0) + 1;
    const after = await waitFor('every bad packet counted', async () => {
      const inv = (await ca.call<{ invalid: Record<string, number> }>('stats')).invalid;
      const counted = Object.keys(want).every((r) => (inv[r] ?? 0) - (before[r] ?? 0) >= want[r]!);
      return counted ? inv : undefined;
    });
    for (const [reason, n] of Object.entries(want)) {
      expect({ reason, counted: (after[reason] ?? 0) - (before[reason] ?? 0) }).toEqual({ reason, counted: n });
    }
    expect(await session(ca, '10.203.0.2')).toMatchObject({ state: 'Up', downs: 0 });
  });

  it('goes Down (detection time expired) when the peer link dies, and Up again when it returns', async () => {
    const s = await up(ca, '10.203.0.2');
    const seen = ca.eventsNamed('session').length;
    b.ip('link set eth0 down');
    const down = await ca.waitEvent<Change>('session', (c) => c.id === s.id && c.state === 'Down', 5000);
    expect(down.diag).toBe(1);
    expect(ca.eventsNamed('session').length).toBeGreaterThan(seen);
    b.ip('link set eth0 up');
    const back = await waitFor('Up again', async () => {
      const x = await session(ca, '10.203.0.2');
      return x && x.state === 'Up' && x.ups >= 2 ? x : undefined;
    }, 20_000);
    expect(back.downs).toBe(1);
  });
});
