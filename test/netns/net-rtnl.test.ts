/**
 * rtnetlink through src/net on a real kernel: link facts, addresses,
 * neighbours, link events; and the privilege error without CAP_NET_RAW.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveCommand, NetnsLab, netnsUnavailable, transpileForChild, type Namespace, type NodeChild } from '../helpers/netns.js';

const AGENT = new URL('./fixtures/net-agent.mjs', import.meta.url).pathname;

interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}

describe.skipIf(netnsUnavailable())('rtnetlink (netns)', () => {
  let lab: NetnsLab;
  let a: Namespace;
  let b: Namespace;
  let ca: NodeChild;
  const MAC_A = '02:00:00:00:03:01';
  const MAC_B = '02:00:00:00:03:02';

  beforeAll(async () => {
    lab = new NetnsLab('rtnl');
    a = lab.namespace('a');
    b = lab.namespace('b');
    lab.veth(a, 'eth0', b, 'eth0', { macA: MAC_A, macB: MAC_B });
    a.addr('eth0', '10.204.0.1/24');
    b.addr('eth0', '10.204.0.2/24');
    ca = a.node(AGENT, [], { env: { VIPD_NET_MODULE: transpileForChild('src/net/index.ts') } });
    await ca.waitEvent('ready');
  });

  afterAll(async () => {
    await ca?.stop();
    await lab?.cleanup();
  });

  it('reads MAC, index, oper state and link-local address', async () => {
    const ll = await a.linkLocal('eth0');
    const [link] = a.ipJson<{ ifindex: number; operstate: string; mtu: number }[]>('link show dev eth0');
    const info = await ca.call<Record<string, unknown>>('linkInfo', { link: 'eth0' });
    expect(info).toMatchObject({
      name: 'eth0',
      ifindex: link.ifindex,
      mac: MAC_A,
      mtu: link.mtu,
      up: true,
      operState: link.operstate,
      linkLocal: ll,
    });
    await expect(ca.call('linkInfo', { link: 'nope0' })).rejects.toMatchObject({ code: 'VIPD_NET_ENODEV' });
  });

  it('adds and removes IPv4 and IPv6 addresses (visible in ip -j addr)', async () => {
    const has = (addr: string): boolean =>
      a.ipJson<IpAddr[]>('addr show dev eth0').some((l) => l.addr_info.some((x) => x.local === addr));
    await ca.call('addAddress', { link: 'eth0', cidr: '10.204.0.100/32' });
    await ca.call('addAddress', { link: 'eth0', cidr: 'fd00:204::100/128' });
    expect(has('10.204.0.100')).toBe(true);
    expect(has('fd00:204::100')).toBe(true);
    const v6 = a.ipJson<IpAddr[]>('-6 addr show dev eth0')[0].addr_info.find((x) => x.local === 'fd00:204::100');
    expect(v6).toMatchObject({ prefixlen: 128 });
    expect(JSON.stringify(v6)).not.toContain('tentative'); // nodad
    // adding again is fine (replace), and our own listing sees it
    await ca.call('addAddress', { link: 'eth0', cidr: '10.204.0.100/32' });
    const listed = await ca.call<{ address: string; prefixLen: number }[]>('addresses', { link: 'eth0', family: 4 });
    expect(listed).toContainEqual(expect.objectContaining({ address: '10.204.0.100', prefixLen: 32 }));
    await ca.call('removeAddress', { link: 'eth0', cidr: '10.204.0.100/32' });
    await ca.call('removeAddress', { link: 'eth0', cidr: 'fd00:204::100/128' });
    expect(has('10.204.0.100')).toBe(false);
    expect(has('fd00:204::100')).toBe(false);
    // removing a missing one is fine by default, an error when asked
    await ca.call('removeAddress', { link: 'eth0', cidr: '10.204.0.100/32' });
    await expect(
      ca.call('removeAddress', { link: 'eth0', cidr: '10.204.0.100/32', opts: { missingOk: false } }),
    ).rejects.toMatchObject({ code: 'VIPD_NET_EADDRNOTAVAIL' });
  });

  it('lists a neighbour with its MAC after a ping', async () => {
    a.execSync('ping', ['-c', '1', '-W', '2', '10.204.0.2']);
    const mac = await ca.call<string | null>('resolveNeighbour', { link: 'eth0', address: '10.204.0.2' });
    expect(mac).toBe(MAC_B);
    const all = await ca.call<{ address: string; mac: string; state: string }[]>('neighbours', { link: 'eth0', family: 4 });
    expect(all).toContainEqual(expect.objectContaining({ address: '10.204.0.2', mac: MAC_B }));
    expect(await ca.call('resolveNeighbour', { link: 'eth0', address: '10.204.0.77' })).toBeNull();
  });

  it('solicitNeighbour (NTF_USE) makes the kernel resolve an unknown neighbour, and the neighbour watcher reports its MAC and its changes', async () => {
    a.ip('neigh flush dev eth0');
    const w = await ca.call<{ handle: number }>('watchNeighbours', {});
    const resolved = ca.waitEvent<{ address: string; mac: string; state: string; removed: boolean }>(
      'neighbour',
      (e) => e.address === '10.204.0.2' && e.mac === MAC_B && !e.removed,
    );
    // No packet to 10.204.0.2 is sent by anyone: only the request makes the kernel ask.
    await ca.call('solicitNeighbour', { link: 'eth0', address: '10.204.0.2' });
    expect((await resolved).state).toBe('REACHABLE');
    expect(await ca.call('resolveNeighbour', { link: 'eth0', address: '10.204.0.2' })).toBe(MAC_B);
    const changed = ca.waitEvent<{ address: string; mac: string }>('neighbour', (e) => e.address === '10.204.0.2' && e.mac === '02:00:00:00:03:99');
    a.ip('neigh replace 10.204.0.2 lladdr 02:00:00:00:03:99 dev eth0');
    await changed;
    const removed = ca.waitEvent<{ address: string; removed: boolean }>('neighbour', (e) => e.address === '10.204.0.2' && e.removed);
    a.ip('neigh del 10.204.0.2 dev eth0');
    await removed;
    await ca.call('close', { handle: w.handle });
  });

  it('the link watcher sees ip link set down / up', async () => {
    const w = await ca.call<{ handle: number; current: { isUp: boolean }[] }>('watchLinks', { interfaces: ['eth0'] });
    expect(w.current[0]).toMatchObject({ isUp: true });
    a.ip('link set eth0 down');
    await ca.waitEvent<{ name: string; isUp: boolean }>('link-change', (e) => e.name === 'eth0' && !e.isUp);
    a.ip('link set eth0 up');
    await ca.waitEvent<{ name: string; isUp: boolean }>('link-change', (e) => e.name === 'eth0' && e.isUp);
    await ca.call('close', { handle: w.handle });
  });

  it.skipIf(!haveCommand('setpriv'))('names the missing capability when not privileged', async () => {
    const mod = transpileForChild('src/net/index.ts');
    const res = await a.exec('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      process.execPath,
      '--input-type=module',
      '-e',
      `const net = await import(${JSON.stringify(mod)});
       try { net.VrrpSocket.open({ interface: 'eth0', family: 4 }); console.log('opened'); }
       catch (e) { console.log(JSON.stringify({ code: e.code, capability: e.capability, message: e.message })); }`,
    ]);
    const out = JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as { code?: string; capability?: string; message?: string };
    expect(out.code, res.stderr).toBe('VIPD_NET_PRIVILEGE');
    expect(out.capability).toBe('CAP_NET_RAW');
    expect(out.message).toContain('CAP_NET_RAW');
  });
});
