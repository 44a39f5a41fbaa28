/**
 * Gratuitous ARP / unsolicited NA: the pure builders against keepalived's
 * captured frames, and the frames as a peer captures them off a veth.
 * Also sd_notify to an abstract socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { garpFrame, icmpv6Checksum, ipv6Bytes, unsolicitedNaFrame } from '../../src/net/announce.js';
import { garpFilter, neighbourAdvertFilter } from '../helpers/pcap-filter.js';
import { haveCommand, NetnsLab, netnsUnavailable, transpileForChild, type Namespace, type NodeChild } from '../helpers/netns.js';

const AGENT = new URL('./fixtures/net-agent.mjs', import.meta.url).pathname;

// keepalived 2.2.7, vectors/keepalived/v3_ipv4.hex.txt frame #2 and v3_ipv6.hex.txt frame #2.
const KA_GARP = 'ffffffffffff027700000011080600010800060400010277000000110a4d0064ffffffffffff0a4d0064';
const KA_NA =
  '33330000000102770000001186dd6000000000203afffe800000000000000000000000770100ff020000000000000000000000000001' +
  '8800542820000000fe8000000000000000000000007701000201027700000011';

describe('announcement frame builders', () => {
  it('gratuitous ARP matches keepalived byte for byte', () => {
    expect(garpFrame('02:77:00:00:00:11', '10.77.0.100').toString('hex')).toBe(KA_GARP);
  });

  it('unsolicited NA matches keepalived byte for byte (checksum included)', () => {
    expect(unsolicitedNaFrame('02:77:00:00:00:11', 'fe80::77:100').toString('hex')).toBe(KA_NA);
    const f = unsolicitedNaFrame('02:00:00:00:00:01', '2001:db8::42');
    // verifying: the checksum over the message with its checksum field is 0
    expect(icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), f.subarray(54))).toBe(0);
    expect(f[21]).toBe(255);
    expect(f.readUInt32BE(54 + 4)).toBe(0x20000000); // O=1 S=0 R=0
  });

  it('parses IPv6 forms', () => {
    expect(ipv6Bytes('::ffff:10.0.0.1').toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(ipv6Bytes('fd00::1').toString('hex')).toBe('fd000000000000000000000000000001');
    expect(() => ipv6Bytes('10.0.0.1')).toThrow(TypeError);
  });
});

const skip = netnsUnavailable() ?? (haveCommand('tcpdump') ? undefined : 'tcpdump is not installed');

describe.skipIf(skip)('announcements on the wire (netns)', () => {
  let lab: NetnsLab;
  let a: Namespace;
  let b: Namespace;
  let ca: NodeChild;
  const MAC_A = '02:00:00:00:02:01';

  beforeAll(async () => {
    lab = new NetnsLab('announce');
    a = lab.namespace('a');
    b = lab.namespace('b');
    lab.veth(a, 'eth0', b, 'eth0', { macA: MAC_A, macB: '02:00:00:00:02:02' });
    ca = a.node(AGENT, [], { env: { VIPD_NET_MODULE: transpileForChild('src/net/index.ts') } });
    await ca.waitEvent('ready');
  });

  afterAll(async () => {
    await ca?.stop();
    await lab?.cleanup();
  });

  it('sends GARPs and unsolicited NAs for every VIP, repeated', async () => {
    const vips = ['10.203.0.100', '10.203.0.101', 'fd00:203::100'];
    // Only our GARPs and NAs: the kernel's router solicitations, DAD and MLD
    // from the new link (also from MAC_A) must not take a place in the count.
    const v4 = vips.filter((v) => !v.includes(':'));
    const v6 = vips.filter((v) => v.includes(':'));
    const cap = b.capture('eth0', `${garpFilter(MAC_A, v4)} or ${neighbourAdvertFilter(MAC_A, v6)}`, { count: 6, timeoutMs: 15_000 });
    await cap.ready;
    const res = await ca.call<{ frames: number }>('announce', { link: 'eth0', vips, repeat: 2, intervalMs: 20 });
    expect(res.frames).toBe(3);
    const frames = (await cap.frames).map((f) => f.toString('hex'));
    const expected = vips.map((v) => (v.includes(':') ? unsolicitedNaFrame(MAC_A, v) : garpFrame(MAC_A, v)).toString('hex'));
    expect(frames).toEqual([...expected, ...expected]);
  });
});

describe.skipIf(netnsUnavailable() ?? (haveCommand('python3') ? undefined : 'python3 is not installed'))('sd_notify (netns)', () => {
  let lab: NetnsLab;
  let a: Namespace;
  let ca: NodeChild;

  beforeAll(async () => {
    lab = new NetnsLab('notify');
    a = lab.namespace('a');
    ca = a.node(AGENT, [], { env: { VIPD_NET_MODULE: transpileForChild('src/net/index.ts') } });
    await ca.waitEvent('ready');
  });

  afterAll(async () => {
    await ca?.stop();
    await lab?.cleanup();
  });

  it('sends READY=1 to an abstract NOTIFY_SOCKET and says false when there is none', async () => {
    const name = `vipd-notify-${lab.id}`;
    // abstract unix sockets are per network namespace: listen in the same one
    const py = a.spawn('python3', [
      '-c',
      `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind("\\0${name}"); print("ready",flush=True)
print(s.recv(4096).decode().replace("\\n","|"),flush=True)`,
    ]);
    let out = '';
    const got = new Promise<string>((resolve) =>
      py.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const lines = out.split('\n');
        if (lines.length > 2) resolve(lines[1]);
      }),
    );
    await new Promise<void>((resolve) => py.stdout!.once('data', () => resolve()));
    expect(await ca.call('sdNotify', { state: { READY: 1, STATUS: 'MASTER' }, socketPath: `@${name}` })).toBe(true);
    expect(await got).toBe('READY=1|STATUS=MASTER');
    expect(await ca.call('sdNotify', { state: 'READY=1', socketPath: '' })).toBe(false);
  });
});
