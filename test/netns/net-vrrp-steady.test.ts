/**
 * The native receive filter of a VRRP socket (the BACKUP's steady state) on
 * a real kernel: a sender thread in one namespace advertises every 10 ms
 * over a veth pair; the receiving socket in the other absorbs exact repeats
 * of the advert it was given (setSteady) without waking JS, and hands JS
 * everything else: a changed advert, the same bytes to another destination,
 * a corrupted copy. Its Master_Down timer is restarted by absorbed adverts
 * and fires only when they stop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsLab, netnsUnavailable, transpileForChild, type Namespace, type NodeChild } from '../helpers/netns.js';
import { waitFor } from '../helpers/wait.js';

const AGENT = new URL('./fixtures/net-agent.mjs', import.meta.url).pathname;
// A VRRPv3 advert (vrid 61, priority 150, three VIPs); the filter compares bytes only.
const ADVERT = '313d960300642d560a4d00640a4d00650a4d0066';
// The same advert at priority 140 (another checksum): a change the engine must see.
const LOWER = '313d8c0300642d600a4d00640a4d00650a4d0066';
// ADVERT with its checksum broken: not the steady advert, so JS gets it (and its validator drops it).
const CORRUPT = '313d960300642d570a4d00640a4d00650a4d0066';

interface Packet {
  source: string;
  destination: string;
  ttl: number;
  payload: string;
}
interface RxStats {
  absorbed: number;
  queued: number;
  jsWakes: number;
  threadWakes: number;
  kernelAbsorbed: number;
  kernelError?: string;
}

const skip = netnsUnavailable();

describe.skipIf(skip)('VRRP socket steady state: the native receive filter (netns)', () => {
  let lab: NetnsLab;
  let a: Namespace;
  let b: Namespace;
  let ca: NodeChild;
  let cb: NodeChild;

  const packets = async (handle: number): Promise<Packet[]> =>
    (await cb.call<{ packets: Packet[] }>('packets', { handle, clear: true })).packets;
  const rxStats = (handle: number): Promise<RxStats> => cb.call<RxStats>('rxStats', { handle });

  /** Waits until the receiver has absorbed `n` more adverts than `from`. */
  const absorbedPast = (handle: number, from: RxStats, n: number): Promise<RxStats> =>
    waitFor(`${n} adverts absorbed`, async () => {
      const st = await rxStats(handle);
      return st.absorbed >= from.absorbed + n ? st : undefined;
    }, 15_000, 20);

  /**
   * Waits until the kernel filter absorbs (its count passes `from`'s).
   * Adverts still queued for JS when the steady state was set keep it off
   * until JS has taken them: on a loaded machine that outlasted the counting
   * windows below (two full-suite runs).
   */
  const kernelAbsorbing = (handle: number, from: RxStats): Promise<RxStats> =>
    waitFor('the kernel filter absorbing', async () => {
      const st = await rxStats(handle);
      if (st.kernelError) throw new Error(`kernel filter: ${st.kernelError}`);
      return st.kernelAbsorbed > from.kernelAbsorbed ? st : undefined;
    }, 15_000, 20);

  beforeAll(async () => {
    lab = new NetnsLab('steady');
    a = lab.namespace('a');
    b = lab.namespace('b');
    lab.veth(a, 'eth0', b, 'eth0', { macA: '02:00:00:00:02:01', macB: '02:00:00:00:02:02' });
    a.addr('eth0', '10.202.0.1/24');
    b.addr('eth0', '10.202.0.2/24');
    const env = { VIPD_NET_MODULE: transpileForChild('src/net/index.ts') };
    ca = a.node(AGENT, [], { env });
    cb = b.node(AGENT, [], { env });
    await Promise.all([ca.waitEvent('ready'), cb.waitEvent('ready')]);
  });

  afterAll(async () => {
    await Promise.all([ca?.stop(), cb?.stop()]);
    await lab?.cleanup();
  });

  it('IPv4: repeats are absorbed without waking JS; a change, another destination and a bad copy wake it', async () => {
    const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4 });
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.202.0.1' });
    const snd = await ca.call<{ handle: number }>('sender', { handle: sa.handle, hex: ADVERT, intervalMs: 10, watchdogMs: 0, start: true });

    // Before the steady state every advert reaches JS.
    const first = await waitFor('an advert in JS', async () => (await packets(sb.handle))[0], 15_000, 20);
    expect(first).toMatchObject({ source: '10.202.0.1', destination: '224.0.0.18', ttl: 255, payload: ADVERT });

    await cb.call('setSteady', { handle: sb.handle, source: '10.202.0.1', destination: '224.0.0.18', hex: ADVERT });
    // Absorbing starts once JS has taken what was queued before: from the first absorbed advert on, the count is exact.
    await absorbedPast(sb.handle, await rxStats(sb.handle), 1);
    await packets(sb.handle);
    const base = await kernelAbsorbing(sb.handle, await rxStats(sb.handle));
    const after = await absorbedPast(sb.handle, base, 50);
    expect(after.jsWakes, 'JS woken while absorbing').toBe(base.jsWakes);
    // The kernel drops the repeats: the receive thread is not woken per advert
    // (it wakes for the reads above and nothing else: no Master_Down is armed).
    expect(after.kernelError).toBeUndefined();
    expect(after.kernelAbsorbed - base.kernelAbsorbed).toBeGreaterThanOrEqual(50);
    expect(after.threadWakes - base.threadWakes, 'receive thread wakeups for 50 absorbed adverts').toBeLessThan(10);
    expect(after.queued).toBe(base.queued);
    expect(await packets(sb.handle)).toEqual([]);
    const taken = await cb.call<{ count: number; lastArrivalMs: number }>('takeAbsorbed', { handle: sb.handle });
    expect(taken.count).toBeGreaterThanOrEqual(50);

    // The same bytes, unicast: another destination, so JS gets it.
    await ca.call('send', { handle: sa.handle, hex: ADVERT, destination: '10.202.0.2' });
    const uni = await waitFor('the unicast copy in JS', async () => (await packets(sb.handle)).find((p) => p.destination === '10.202.0.2'), 15_000, 20);
    expect(uni.payload).toBe(ADVERT);

    // A corrupted copy to the group: JS gets it (the validator counts it, test/netns/daemon-advert-count).
    await ca.call('send', { handle: sa.handle, hex: CORRUPT });
    await waitFor('the corrupted copy in JS', async () => ((await packets(sb.handle)).some((p) => p.payload === CORRUPT) ? true : undefined), 15_000, 20);

    // The master's priority changes: every advert now reaches JS, none is absorbed.
    await ca.call('senderCall', { handle: snd.handle, method: 'setAdvert', args: [`hex:${LOWER}`] });
    const lower = await waitFor('the changed advert in JS', async () => (await packets(sb.handle)).find((p) => p.payload === LOWER), 15_000, 20);
    expect(lower).toMatchObject({ source: '10.202.0.1', destination: '224.0.0.18' });
    const changed = await rxStats(sb.handle);
    const more = await waitFor('10 more changed adverts in JS', async () => {
      const st = await rxStats(sb.handle);
      return st.queued >= changed.queued + 10 ? st : undefined;
    }, 15_000, 20);
    expect(more.absorbed, 'absorbed after the change').toBe(changed.absorbed);
    expect(more.jsWakes).toBeGreaterThan(changed.jsWakes);

    await ca.call('close', { handle: snd.handle });
    await ca.call('close', { handle: sa.handle });
    await cb.call('close', { handle: sb.handle });
  });

  it('Master_Down in the socket: absorbed adverts restart it; it fires once they stop, not before', async () => {
    const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4 });
    const sa = await ca.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 4, source: '10.202.0.1' });
    // Steady before the first advert leaves: an advert queued for JS when
    // the steady state is set keeps the kernel filter off until JS has taken
    // it (docs/vrrp.md), and on a loaded machine that wait was long enough
    // for the count of wakeups below to see every advert (a full-suite run).
    await cb.call('setSteady', { handle: sb.handle, source: '10.202.0.1', destination: '224.0.0.18', hex: ADVERT });
    const snd = await ca.call<{ handle: number }>('sender', { handle: sa.handle, hex: ADVERT, intervalMs: 10, watchdogMs: 0, start: true });
    const base = await absorbedPast(sb.handle, await rxStats(sb.handle), 1);
    expect(base.kernelError).toBeUndefined();
    // Long beside the 10 ms interval, so that a sender delayed by this loaded machine cannot let it expire.
    const masterDownMs = 200;
    const fired: unknown[] = [];
    const listening = cb.waitEvent<{ atMs: number; absorbed: { count: number; lastArrivalMs: number } }>('master-down', () => {
      fired.push(1);
      return true;
    }, 60_000);
    // Awaited below; a failed assertion before that must not leave its rejection unhandled.
    listening.catch(() => undefined);
    const { armedAtMs } = await cb.call<{ armedAtMs: number }>('armMasterDown', { handle: sb.handle, inMs: masterDownMs, masterDownMs });
    // 150 adverts (1.5 s, 7 Master_Down intervals) absorbed after arming: it has not fired.
    const armed = await rxStats(sb.handle);
    const absorbing = await absorbedPast(sb.handle, base, 150);
    expect(fired, 'Master_Down fired while the master advertised').toEqual([]);
    // The thread wakes at Master_Down deadlines to read the kernel's count, not per advert.
    expect(absorbing.threadWakes - armed.threadWakes, 'receive thread wakeups while absorbing 150 adverts').toBeLessThan(50);

    await ca.call('senderCall', { handle: snd.handle, method: 'stop' });
    const ev = await listening;
    const lastArrivalMs = ev.absorbed.lastArrivalMs;
    expect(lastArrivalMs).toBeGreaterThan(armedAtMs);
    expect(ev.atMs - lastArrivalMs, 'fired this long after the last advert').toBeGreaterThanOrEqual(masterDownMs);
    await ca.call('close', { handle: snd.handle });
    await ca.call('close', { handle: sa.handle });
    await cb.call('close', { handle: sb.handle });
  });

  it('IPv6: the filter compares the link-local source and the group from IPV6_PKTINFO', async () => {
    const sb = await cb.call<{ handle: number }>('openSocket', { interface: 'eth0', family: 6 });
    const sa = await ca.call<{ handle: number; source: string }>('openSocket', { interface: 'eth0', family: 6 });
    const snd = await ca.call<{ handle: number }>('sender', { handle: sa.handle, hex: ADVERT, intervalMs: 10, watchdogMs: 0, start: true });
    const first = await waitFor('an advert in JS', async () => (await packets(sb.handle))[0], 15_000, 20);
    expect(first).toMatchObject({ source: sa.source, destination: 'ff02::12', ttl: 255 });
    // Another source address: nothing is absorbed.
    await cb.call('setSteady', { handle: sb.handle, source: 'fe80::1', destination: 'ff02::12', hex: ADVERT });
    const other = await rxStats(sb.handle);
    await waitFor('10 adverts in JS', async () => ((await rxStats(sb.handle)).queued >= other.queued + 10 ? true : undefined), 15_000, 20);
    expect((await rxStats(sb.handle)).absorbed).toBe(other.absorbed);
    // The master's own source: absorbed.
    await cb.call('setSteady', { handle: sb.handle, source: sa.source, destination: 'ff02::12', hex: ADVERT });
    const base = await absorbedPast(sb.handle, await rxStats(sb.handle), 1);
    await packets(sb.handle);
    // Adverts of the other source were still queued for JS when the steady state was set.
    const attached = await kernelAbsorbing(sb.handle, base);
    const after = await absorbedPast(sb.handle, attached, 30);
    expect(after.jsWakes).toBe(attached.jsWakes);
    expect(after.kernelAbsorbed - attached.kernelAbsorbed).toBeGreaterThanOrEqual(30);
    expect(after.threadWakes - attached.threadWakes, 'receive thread wakeups for 30 absorbed adverts').toBeLessThan(10);
    await ca.call('close', { handle: snd.handle });
    await ca.call('close', { handle: sa.handle });
    await cb.call('close', { handle: sb.handle });
  });
});
