/**
 * Raw VRRP sockets and the native advert sender on a real kernel: two
 * namespaces joined by a veth pair, each running test/netns/fixtures/net-agent.mjs
 * over the transpiled src/net.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveCommand, NetnsLab, netnsUnavailable, transpileForChild, type Namespace, type NodeChild } from '../helpers/netns.js';
import { internetChecksum } from '../../src/checksum.js';
import { vrrpFilter } from '../helpers/pcap-filter.js';
import { sleep, waitFor } from '../helpers/wait.js';

const AGENT = new URL('./fixtures/net-agent.mjs', import.meta.url).pathname;
// A VRRPv3 advert (vrid 61, prio 150, 3 VIPs) from keepalived's capture; the
// bytes only have to arrive unchanged.
const ADVERT = '313d960300642d560a4d00640a4d00650a4d0066';
// The same advert with another last VIP: a frame the test can tell apart.
const MARKER = '313d960300642d560a4d00640a4d00650a4d0067';

interface Packet {
  source: string;
  destination: string;
  ttl: number;
  arrivalMs: number;
  readMs: number;
  kernelTimestamp: boolean;
  payload: string;
}

const skip = netnsUnavailable();


describe.skipIf(skip)('VRRP sockets and advert sender (netns)', () => {
  let lab: NetnsLab;
  let a: Namespace;
  let b: Namespace;
  let ca: NodeChild;
  let cb: NodeChild;

  async function packets(c: NodeChild, handle: number, clear = true): Promise<Packet[]> {
    return (await c.call<{ packets: Packet[] }>('packets', { handle, clear })).packets;
  }

  function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    return waitFor('a packet at the receiver', fn, timeoutMs, 20);
  }

  beforeAll(async () => {
    lab = new NetnsLab('vrrp');
    a = lab.namespace('a');
    b = lab.namespace('b');
    lab.veth(a, 'eth0', b, 'eth0', { macA: '02:00:00:00:01:01', macB: '02:00:00:00:01:02' });
    a.addr('eth0', '10.201.0.1/24');
    b.addr('eth0', '10.201.0.2/24');
    const mod = transpileForChild('src/net/index.ts');
    const env = { VIPD_NET_MODULE: mod };
    ca = a.node(AGENT, [], { env });
    cb = b.node(AGENT, [], { env });
    await Promise.all([ca.waitEvent('ready'), cb.waitEvent('ready')]);
  });

  afterAll(async () => {
    await Promise.all([ca?.stop(), cb?.stop()]);
    await lab?.cleanup();
  });

  // Multicast adverts leave through the raw IP socket, or below the IP layer (linkLayerSend: advertSocket: packet).
  const paths = [
    ['the IP socket', false],
    ['the link layer', true],
  ] as const;

  it.each(paths)('IPv4 through %s: multicast advert arrives with TTL 255, source, destination and a kernel timestamp', async (_path, linkLayerSend) => {
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1', linkLayerSend });
    const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4 });
    await ca.call('send', { handle: sa.handle, hex: ADVERT });
    const got = await until(async () => (await packets(cb, sb.handle))[0]);
    expect(got).toMatchObject({ source: '10.201.0.1', destination: '224.0.0.18', ttl: 255, payload: ADVERT });
    expect(got.kernelTimestamp).toBe(true);
    expect(got.arrivalMs).toBeLessThanOrEqual(got.readMs);
    expect(got.arrivalMs).toBeGreaterThan(0);

    // unicast to the peer, still TTL 255
    await ca.call('send', { handle: sa.handle, hex: ADVERT, destination: '10.201.0.2' });
    const uni = await until(async () => (await packets(cb, sb.handle))[0]);
    expect(uni).toMatchObject({ source: '10.201.0.1', destination: '10.201.0.2', ttl: 255, payload: ADVERT });

    // multicast loop is off: the sender never hears itself
    expect(await packets(ca, sa.handle)).toEqual([]);
    await ca.call('close', { handle: sa.handle });
    await cb.call('close', { handle: sb.handle });
  });

  it.each(paths)('IPv4 on the wire through %s: TOS 0xc0, TTL 255, DF clear, IP ID counting up, a valid header checksum, from the interface MAC to the group MAC', async (_path, linkLayerSend) => {
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1', linkLayerSend });
    const cap = b.capture('eth0', vrrpFilter('10.201.0.1', '224.0.0.18'), { count: 2, timeoutMs: 15_000 });
    await cap.ready;
    await ca.call('send', { handle: sa.handle, hex: ADVERT });
    await ca.call('send', { handle: sa.handle, hex: ADVERT });
    const frames = await cap.frames;
    expect(frames.length).toBe(2);
    const ip = frames.map((f) => f.subarray(14));
    for (const f of frames) {
      expect(f.subarray(0, 6).toString('hex'), 'destination MAC').toBe('01005e000012');
      expect(f.subarray(6, 12).toString('hex'), 'source MAC').toBe('020000000101');
      expect(f.readUInt16BE(12)).toBe(0x0800);
    }
    for (const h of ip) {
      expect(internetChecksum(h.subarray(0, 20)), 'header checksum').toBe(0);
      expect(h[1]).toBe(0xc0); // TOS
      expect(h.readUInt16BE(6) & 0x4000).toBe(0); // DF clear
      expect(h[8]).toBe(255);
      expect(h[9]).toBe(112);
    }
    expect(ip[1].readUInt16BE(4)).toBe(ip[0].readUInt16BE(4) + 1);
    expect(ip[0].readUInt16BE(4)).toBe(1);
    await ca.call('close', { handle: sa.handle });
  });

  it.each(paths)('IPv6 through %s: advert from the link-local address to ff02::12 with hop limit 255', async (_path, linkLayerSend) => {
    const llA = await a.linkLocal('eth0');
    const sa = await ca.call<{ handle: number; source: string }>('openSocket', { interface: 'eth0', family: 6, linkLayerSend });
    expect(sa.source).toBe(llA);
    const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 6 });
    await ca.call('send', { handle: sa.handle, hex: ADVERT });
    const got = await until(async () => (await packets(cb, sb.handle))[0]);
    expect(got).toMatchObject({ source: llA, destination: 'ff02::12', ttl: 255, payload: ADVERT, kernelTimestamp: true });
    expect(await packets(ca, sa.handle)).toEqual([]);
    await ca.call('close', { handle: sa.handle });
    await cb.call('close', { handle: sb.handle });
  });

  it.skipIf(!haveCommand('nft'))(
    "netfilter OUTPUT rules see adverts through the IP socket (advertSocket: ip), not those sent below the IP layer (packet)",
    async () => {
      // What an operator does to hold a host out of an election (or to test a failover).
      a.execSync('nft', ['-f', '-'], 'table ip vipd_test { chain out { type filter hook output priority 0; ip protocol 112 counter drop; }; }\n');
      try {
        const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4 });
        const viaIp = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1' });
        const viaLink = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1', linkLayerSend: true });
        const refused = await ca.call('send', { handle: viaIp.handle, hex: ADVERT }).then(
          () => 'sent',
          (err: Error) => err.message,
        );
        expect(refused, 'the IP socket send, dropped by the OUTPUT rule').toMatch(/EPERM|not permitted/);
        await ca.call('send', { handle: viaLink.handle, hex: MARKER });
        const heard = await until(async () => {
          const got = await packets(cb, sb.handle);
          return got.length > 0 ? got : undefined;
        });
        // Only the link-layer advert arrived (the marker: the first packet heard after both sends).
        expect(heard.map((p) => p.payload)).toEqual([MARKER]);
        const counter = a.execSync('nft', ['list', 'chain', 'ip', 'vipd_test', 'out']);
        expect(counter, 'the rule counted the IP socket advert only').toMatch(/packets 1 /);
        await ca.call('close', { handle: viaIp.handle });
        await ca.call('close', { handle: viaLink.handle });
        await cb.call('close', { handle: sb.handle });
      } finally {
        a.execSync('nft', ['delete', 'table', 'ip', 'vipd_test']);
      }
    },
  );

  it('the native sender keeps sending while the JS event loop is blocked', async () => {
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1' });
    const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4 });
    const snd = await ca.call<{ handle: number }>('sender', { handle: sa.handle, hex: ADVERT, intervalMs: 10, start: true });
    await ca.call('checkInEvery', { handle: snd.handle, ms: 50 });
    const { windows } = await ca.call<{ windows: { startMs: number; endMs: number }[] }>('blockLoop', {
      blockMs: 100,
      periodMs: 300,
      count: 3,
    });
    const stats = await ca.call<{ sent: number; maxGapUs: number; running: boolean }>('senderCall', { handle: snd.handle, method: 'stats' });
    await ca.call('senderCall', { handle: snd.handle, method: 'stop' });
    // Read until a marker sent after the stop arrives: then the receiver
    // has read every advert of the windows, however late its loop runs.
    await ca.call('send', { handle: sa.handle, hex: MARKER });
    const got: Packet[] = [];
    await until(async () => {
      got.push(...(await packets(cb, sb.handle)));
      return got.some((p) => p.payload === MARKER) ? true : undefined;
    });
    expect(stats.running).toBe(true);
    expect(stats.sent).toBeGreaterThan(0);
    for (const w of windows) {
      const during = got.filter((p) => p.arrivalMs > w.startMs && p.arrivalMs < w.endMs);
      expect(during.length, `adverts received during the block ${JSON.stringify(w)}`).toBeGreaterThan(0);
    }
    console.log(`pacing (not asserted): sent ${stats.sent}, max gap ${stats.maxGapUs} us`);
    await ca.call('close', { handle: snd.handle });
    await ca.call('close', { handle: sa.handle });
    await cb.call('close', { handle: sb.handle });
  });

  it('with its event loop idle the sender needs no check-in from JS', async () => {
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1' });
    const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4 });
    const snd = await ca.call<{ handle: number }>('sender', { handle: sa.handle, hex: ADVERT, intervalMs: 10, watchdogMs: 300, start: true });
    // Nothing is asked of a's agent while its sender runs: its loop sleeps,
    // and only b is polled. 150 adverts heard at 10 ms is five times the bound.
    let heard = 0;
    await until(async () => {
      heard += (await packets(cb, sb.handle)).filter((p) => p.payload === ADVERT).length;
      return heard >= 150 ? true : undefined;
    });
    const stats = await ca.call<{ running: boolean; sent: number; watchdogTrips: number }>('senderCall', { handle: snd.handle, method: 'stats' });
    expect(stats).toMatchObject({ running: true, watchdogTrips: 0 });
    await ca.call('close', { handle: snd.handle });
    await ca.call('close', { handle: sa.handle });
    await cb.call('close', { handle: sb.handle });
  });

  it.each([
    ['a timer callback', false],
    ['the I/O callback of a read', true],
  ])('the watchdog stops the sender when the event loop stalls in %s', async (_where, inIo) => {
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1' });
    const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4 });
    const snd = await ca.call<{ handle: number }>('sender', {
      handle: sa.handle,
      hex: ADVERT,
      intervalMs: 10,
      watchdogMs: 300,
      start: true,
    });
    // One stall of twice the bound: the loop does not wait for events during it.
    await ca.call('blockLoop', { blockMs: 600, periodMs: 620, count: 1, inIo });
    const ev = await ca.waitEvent<{ handle: number; stats: { running: boolean; watchdogTrips: number; sent: number } }>(
      'watchdog',
      (e) => e.handle === snd.handle,
    );
    expect(ev.stats.running).toBe(false);
    expect(ev.stats.watchdogTrips).toBe(1);
    expect(ev.stats.sent).toBeGreaterThan(0);
    // Stopped means nothing more on the wire. The window is anchored to a
    // marker sent after it (another payload, the same socket and link): once
    // the marker has arrived, so has every frame the sender put out before
    // it, however slowly this host runs. The sleep only makes the window
    // longer (30 intervals of the sender); it cannot make the test fail.
    await sleep(300);
    await ca.call('send', { handle: sa.handle, hex: MARKER });
    const heard: Packet[] = [];
    await until(async () => {
      heard.push(...(await packets(cb, sb.handle)));
      return heard.some((p) => p.payload === MARKER) ? true : undefined;
    });
    const fromSender = heard.filter((p) => p.payload === ADVERT).length;
    expect(fromSender, 'adverts heard, against those sent before the watchdog tripped').toBeLessThanOrEqual(ev.stats.sent);
    expect(heard.slice(-1)[0].payload, 'nothing after the marker').toBe(MARKER);
    const later = await ca.call<{ running: boolean; sent: number }>('senderCall', { handle: snd.handle, method: 'stats' });
    expect(later).toMatchObject({ running: false, sent: ev.stats.sent });
    // start() again resumes (and counts as a check-in)
    await ca.call('senderCall', { handle: snd.handle, method: 'start' });
    await until(async () => ((await packets(cb, sb.handle, false)).length > 0 ? true : undefined));
    await ca.call('close', { handle: snd.handle });
    await ca.call('close', { handle: sa.handle });
    await cb.call('close', { handle: sb.handle });
  });

  /**
   * A sender with a lease on entry `key` of a fresh map, run until it has
   * renewed: the entry holds the template with now + lease at offset 8, and
   * no other entry was written.
   */
  const leaseRenewed = async (mapArgs: string[], key: number): Promise<{ leaseMapped: boolean }> => {
    // The agent mounts its own bpffs: a mount made here after it started
    // would not reach its mount namespace (ip netns exec made one).
    const fs = lab.tmpDir();
    await ca.call('mountBpffs', { path: fs });
    const pin = `${fs}/lease`;
    const bpftool = (args: string[]): Promise<string> => ca.call<string>('exec', { cmd: 'bpftool', args });
    await bpftool(['map', 'create', pin, ...mapArgs, 'key', '4', 'value', '16', 'entries', '4', 'name', 'lease']);
    const mapFd = await ca.call<number>('objGet', { path: pin });
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1' });
    const snd = await ca.call<{ handle: number }>('sender', { handle: sa.handle, hex: ADVERT, intervalMs: 10, watchdogMs: 0 });
    const keyHex = Buffer.from([key, 0, 0, 0]).toString('hex');
    await ca.call('lease', { handle: snd.handle, mapFd, keyHex, valueHex: 'aabbccdd11223344' + '00'.repeat(8), offset: 8, leaseMs: 500 });
    const before = await ca.call<number>('monotonicMs');
    await ca.call('senderCall', { handle: snd.handle, method: 'start' });
    const stats = await until(async () => {
      const st = await ca.call<{ leaseUpdates: number; leaseErrors: number; leaseMapped: boolean }>('senderCall', { handle: snd.handle, method: 'stats' });
      return st.leaseUpdates > 0 ? st : undefined;
    });
    await ca.call('senderCall', { handle: snd.handle, method: 'stop' });
    const after = await ca.call<number>('monotonicMs');
    expect(stats.leaseUpdates).toBeGreaterThan(0);
    expect(stats.leaseErrors).toBe(0);
    const dump = JSON.parse(await bpftool(['-j', 'map', 'dump', 'pinned', pin])) as {
      key: string[];
      value: string[];
    }[];
    const bytes = (hex: string[]): Buffer => Buffer.from(hex.map((x) => parseInt(x, 16)));
    const written = dump.filter((e) => bytes(e.value).some((b) => b !== 0));
    expect(written.map((e) => bytes(e.key).readUInt32LE(0))).toEqual([key]);
    const value = bytes(written[0].value);
    expect(value.subarray(0, 8).toString('hex')).toBe('aabbccdd11223344');
    const expiryMs = Number(value.readBigUInt64LE(8)) / 1e6;
    expect(expiryMs).toBeGreaterThan(before + 500);
    expect(expiryMs).toBeLessThanOrEqual(after + 500);
    await ca.call('close', { handle: snd.handle });
    await ca.call('close', { handle: sa.handle });
    return stats;
  };

  it('the lease hook writes now + lease into the BPF map after each advert', async () => {
    const stats = await leaseRenewed(['type', 'hash'], 7);
    expect(stats.leaseMapped, 'a hash map is updated with bpf()').toBe(false);
  });

  it('the lease hook writes an mmapable array (the instances map, ABI 7) through a shared mapping', async () => {
    // BPF_F_MMAPABLE = 1 << 10; entry 2, so the element stride counts.
    const stats = await leaseRenewed(['type', 'array', 'flags', '1024'], 2);
    expect(stats.leaseMapped, 'renewed through the mapping, no bpf() per advert').toBe(true);
  });

  it('the lease hook refuses a key or value whose size is not the map\'s (the kernel would read past it)', async () => {
    const fs = lab.tmpDir();
    await ca.call('mountBpffs', { path: fs });
    const pin = `${fs}/lease-sizes`;
    await ca.call<string>('exec', { cmd: 'bpftool', args: ['map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '16', 'entries', '4', 'name', 'lease_sz'] });
    const mapFd = await ca.call<number>('objGet', { path: pin });
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.201.0.1' });
    const snd = await ca.call<{ handle: number }>('sender', { handle: sa.handle, hex: ADVERT, intervalMs: 10, watchdogMs: 0 });
    const lease = (keyHex: string, valueHex: string, offset = 8) =>
      ca.call('lease', { handle: snd.handle, mapFd, keyHex, valueHex, offset, leaseMs: 500 });
    await expect(lease('0700', '00'.repeat(16))).rejects.toThrow(/key must be 4 bytes .* got 2/);
    await expect(lease('07000000', '00'.repeat(12), 0)).rejects.toThrow(/value must be 16 bytes .* got 12/);
    await expect(lease('07000000', '00'.repeat(24))).rejects.toThrow(/value must be 16 bytes .* got 24/);
    await expect(lease('07000000', '00'.repeat(16), 9)).rejects.toThrow(/valueOffset \+ 8 exceeds/);
    // Nothing was armed: adverts leave, the map stays empty.
    await ca.call('senderCall', { handle: snd.handle, method: 'start' });
    await until(async () => {
      const st = await ca.call<{ sent: number }>('senderCall', { handle: snd.handle, method: 'stats' });
      return st.sent >= 3 ? st : undefined;
    });
    const st = await ca.call<{ leaseUpdates: number; leaseErrors: number }>('senderCall', { handle: snd.handle, method: 'stats' });
    expect(st).toMatchObject({ leaseUpdates: 0, leaseErrors: 0 });
    expect(JSON.parse(await ca.call<string>('exec', { cmd: 'bpftool', args: ['-j', 'map', 'dump', 'pinned', pin] }))).toEqual([]);
    // The right sizes are taken.
    await lease('07000000', '00'.repeat(16));
    await until(async () => {
      const s2 = await ca.call<{ leaseUpdates: number }>('senderCall', { handle: snd.handle, method: 'stats' });
      return s2.leaseUpdates > 0 ? s2 : undefined;
    });
    await ca.call('close', { handle: snd.handle });
    await ca.call('close', { handle: sa.handle });
  });
});
