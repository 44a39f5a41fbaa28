/**
 * Backend changes under load, with the connection table (ABI 6): 200
 * long-lived TCP connections through the VIP over real servers that echo
 * their name on every line. Drain, a weight change, a backend added, a live
 * backend removed by reload, weight 0: not one connection breaks or changes
 * server, and new connections follow the new table at once; 32 UDP flows
 * (a drained UDP backend's too) keep their server. `vipctl drain
 * --wait` returns once the drained backend's connections are closed; a
 * backend that goes DOWN loses its flows (counted and logged).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConnectionsResult, DrainResult, ReloadResult, StatusResult, VipdEvent } from '../../src/daemon/api.js';
import { packageRoot } from '../../src/native.js';
import { type ConnSummary, type TrafficSummary, type Site, metricValue, skipReason, tally, useDaemonSite, waitFor, waitMaglevTable } from './fixtures/daemon-site.js';

const CONNS = 200;
const RS = ['10.99.0.21', '10.99.0.22', '10.99.0.23', '10.99.0.24'];

/** The site's config for lb1 with the web service's backends replaced. */
function webConfig(site: Site, backends: readonly { address: string; weight: number }[]): string {
  const all = site.realAddrs.map((a) => `\n      - { address: ${a}, weight: 100 }`).join('');
  const text = site.config(0);
  const want = backends.map((b) => `\n      - { address: ${b.address}, weight: ${b.weight} }`).join('');
  const at = text.indexOf(`backends:${all}`);
  if (at < 0) throw new Error('the site config has no web backends block');
  return text.slice(0, at) + `backends:${want}` + text.slice(at + `backends:${all}`.length);
}

async function reload(site: Site, backends: readonly { address: string; weight: number }[]): Promise<ReloadResult> {
  site.writeConfig(0, webConfig(site, backends));
  return site.call<ReloadResult>(0, 'reload', {});
}

/** Connections that broke or changed real server (not those the client closed itself). */
function broken(snap: TrafficSummary): ConnSummary[] {
  return snap.conns.filter((c) => !c.ended && (c.closed || c.error !== null || c.servers.some((s) => s !== c.server)));
}

/**
 * What the table did, for a failure to be understood: the program's flow
 * events (a PINNED count that grows between backend changes means live
 * entries were deleted and pinned again), the table's fill, and the
 * sweep's expiries.
 */
async function tableDiagnostics(site: Site): Promise<string> {
  const text = await site.metrics(0);
  const lines = text.split('\n').filter((l) => /^vipd_(flow_events_total|connections|backend_connections)\{/.test(l));
  return `[conns] table diagnostics:\n  ${lines.join('\n  ')}`;
}

async function connections(site: Site, backend: string): Promise<number> {
  return (await site.call<ConnectionsResult>(0, 'connections', { service: 'web', backend })).connections;
}

describe.skipIf(skipReason)(`connection table: backend changes keep established connections${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const env = useDaemonSite({ label: 'conns', advertInterval: 0.1, realServers: 4 }, [0], async ({ site }) => {
    // Three backends to start with: the fourth is added under load.
    await reload(site, RS.slice(0, 3).map((address) => ({ address, weight: 100 })));
    await waitMaglevTable(site, 0, 'web', RS.slice(0, 3));
  });

  it('drain, weight change, add, remove live, weight 0: 0 of 200 connections break or move; drain --wait; DOWN loses its flows', async () => {
    const s = env.site;
    const t = env.traffic;
    // And 32 UDP flows (one per socket) to the web-udp service, a datagram every 10 ms in turn.
    const started = await t.start({ conns: CONNS, intervalMs: 200, udpIntervalMs: 10, udpSockets: 32, maxMs: 240_000 });
    expect(started.conns.filter((c) => c.server !== null)).toHaveLength(CONNS);
    const per = tally(started.conns.map((c) => c.server ?? 'none'));
    console.log(`[conns] ${CONNS} connections: ${JSON.stringify(per)}`);
    expect(Object.keys(per).sort()).toEqual(['rs1', 'rs2', 'rs3']);

    /** Every open connection answered 3 more lines after the change (its fate is settled), then none broke. */
    const expectKept = async (label: string): Promise<TrafficSummary> => {
      const since = await t.snapshot();
      const snap = await waitFor(`${label}: every connection answered 3 more lines`, async () => {
        const now = await t.snapshot();
        const settled = now.conns.every((c, k) => c.ended || c.closed || c.error !== null || c.answered >= (since.conns[k]?.answered ?? 0) + 3);
        return settled ? now : undefined;
      }, 30_000);
      const lost = broken(snap);
      console.log(`[conns] ${label}: ${lost.length} of ${snap.conns.filter((c) => !c.ended).length} connections broke or moved`);
      if (lost.length > 0 || process.env.VIPD_CONNS_DIAG) console.log(await tableDiagnostics(s));
      expect(lost.map((c) => `${c.index} on ${c.server}: ${c.error ?? (c.closed ? 'closed' : c.servers.join(','))}`)).toEqual([]);
      return snap;
    };

    const udpBefore = await waitFor('every UDP flow answered', async () => {
      const now = await t.snapshot();
      return now.udp?.bySocket?.every((x) => x.length === 1) ? now.udp : undefined;
    });
    const udpOnRs1 = udpBefore.bySocket?.filter((x) => x[0] === 'rs1').length ?? 0;
    console.log(`[conns] 32 UDP flows: ${JSON.stringify(tally(udpBefore.bySocket?.map((x) => x[0] ?? '') ?? []))}`);

    // 1. drain rs1 (TCP and UDP services): new connections avoid it at once; its established ones stay.
    expect(await s.call<DrainResult>(0, 'drain', { service: 'web', backend: RS[0] })).toMatchObject({ drained: true, changed: true });
    expect(await s.call<DrainResult>(0, 'drain', { service: 'web-udp', backend: RS[0] })).toMatchObject({ drained: true, changed: true });
    const afterDrain = tally(await t.connect(30));
    console.log(`[conns] 30 new connections after the drain: ${JSON.stringify(afterDrain)}`);
    expect(afterDrain.rs1).toBeUndefined();
    await expectKept('drain rs1');
    const onRs1 = started.conns.filter((c) => c.server === 'rs1').length;
    // Every connection of the drained backend sends, so the table holds each one (vipctl status CONNS).
    await waitFor('rs1 connections counted', async () => ((await connections(s, RS[0])) === onRs1 ? true : undefined), 20_000);
    const status = await s.call<StatusResult>(0, 'status', {});
    const rs1 = status.services.find((x) => x.name === 'web')?.backends.find((b) => b.address === RS[0]);
    expect(rs1).toMatchObject({ drained: true, connections: onRs1 });
    expect(metricValue(await s.metrics(0), 'vipd_backend_connections', { service: 'web', backend: RS[0] })).toBe(onRs1);

    // 2. a weight change.
    await reload(s, [{ address: RS[0], weight: 100 }, { address: RS[1], weight: 50 }, { address: RS[2], weight: 100 }]);
    await expectKept('rs2 weight 100 -> 50');

    // 3. a backend added: new connections reach it.
    await reload(s, [{ address: RS[0], weight: 100 }, { address: RS[1], weight: 50 }, { address: RS[2], weight: 100 }, { address: RS[3], weight: 100 }]);
    await waitMaglevTable(s, 0, 'web', [RS[1], RS[2], RS[3]]);
    await expectKept('rs4 added');
    const withRs4 = tally(await t.connect(40));
    console.log(`[conns] 40 new connections with rs4: ${JSON.stringify(withRs4)}`);
    expect(withRs4.rs4).toBeGreaterThan(0);
    expect(withRs4.rs1).toBeUndefined();

    // 4. a live backend removed by reload (rs3): its connections stay on it, new ones avoid it.
    await reload(s, [{ address: RS[0], weight: 100 }, { address: RS[1], weight: 50 }, { address: RS[3], weight: 100 }]);
    await waitMaglevTable(s, 0, 'web', [RS[1], RS[3]]);
    await expectKept('rs3 removed by reload');
    const noRs3 = tally(await t.connect(30));
    expect(noRs3.rs3).toBeUndefined();

    // 5. weight 0: quiescent like a drain.
    await reload(s, [{ address: RS[0], weight: 100 }, { address: RS[1], weight: 0 }, { address: RS[3], weight: 100 }]);
    await waitMaglevTable(s, 0, 'web', [RS[3]]);
    await expectKept('rs2 weight 0');
    const onlyRs4 = tally(await t.connect(20));
    expect(onlyRs4).toEqual({ rs4: 20 });

    // 6. drain --wait returns once rs1's connections are closed (FIN, then the close timeout).
    const cli = join(packageRoot(), 'bin', 'vipctl');
    const waiter = spawn(process.execPath, [cli, '--socket', s.socket(0), 'drain', 'web', RS[0], '--wait', '--timeout', '90'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    waiter.stdout.on('data', (d: Buffer) => (out += d.toString()));
    waiter.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => waiter.on('exit', (code) => resolve(code)));
    let waiterDone = false;
    void exited.then(() => (waiterDone = true));
    // Still waiting while rs1 has connections.
    await waitFor('vipctl drain --wait started', () => (out.includes('drained') || out.includes('already') ? true : undefined));
    expect(waiterDone).toBe(false);
    const ended = await t.end('rs1');
    expect(ended).toBe(onRs1);
    const code = await exited;
    console.log(`[conns] vipctl drain --wait: exit ${code}: ${out.trim().split('\n').at(-1)}`);
    expect(code, out).toBe(0);
    expect(await connections(s, RS[0])).toBe(0);
    await expectKept('rs1 connections closed by the client');

    // 7. rs2 (weight 0, its connections still on it) goes DOWN: its listener
    // stops, established connections would live on, but the health check
    // fails: its flows are handed to the ring, and break there.
    const before = await t.snapshot();
    const onRs2 = before.conns.filter((c) => c.server === 'rs2' && !c.ended && !c.closed).map((c) => c.index);
    expect(onRs2.length).toBeGreaterThan(0);
    // Each is in the table from its first packet after rs2 left the ring (every 200 ms): wait for the last one.
    await waitFor(`the table to count rs2's ${onRs2.length} connections`, async () => ((await connections(s, RS[1])) === onRs2.length ? true : undefined), 15_000);
    await s.setRealServerTcp(1, false);
    const lostEvent = await waitFor('flows-lost event in vipctl events', () => {
      const r = spawnSync(process.execPath, [cli, '--socket', s.socket(0), 'events', '--json', '--type', 'flows-lost'], { encoding: 'utf8', timeout: 20_000 });
      const list = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as VipdEvent);
      return list.find((e) => e.type === 'flows-lost' && e.backend === RS[1]);
    }, 30_000);
    console.log(`[conns] ${JSON.stringify(lostEvent)}`);
    expect(lostEvent).toMatchObject({ service: 'web', flows: onRs2.length });
    const snap = await waitFor('rs2 connections broke', async () => {
      const now = await t.snapshot();
      return onRs2.every((i) => now.conns[i]?.closed || now.conns[i]?.error !== null) ? now : undefined;
    }, 30_000);
    console.log(`[conns] rs2 DOWN: its ${onRs2.length} connections broke (nothing else can serve them)`);
    expect(broken(snap).filter((c) => c.server !== 'rs2')).toEqual([]);
    await s.setRealServerTcp(1, true);

    // UDP flows stayed on their real servers through all of it (rs1's too: drained, not DOWN).
    const udpAfter = (await t.snapshot()).udp;
    console.log(`[conns] UDP: ${udpAfter?.received}/${udpAfter?.sent} answered, servers per flow ${JSON.stringify(udpAfter?.bySocket)}`);
    expect(udpAfter?.bySocket?.filter((x) => x.length !== 1)).toEqual([]);
    // A flow's count comes from the sweep's last reading: wait for one that has them all.
    const udpCount = async () => (await s.call<ConnectionsResult>(0, 'connections', { service: 'web-udp', backend: RS[0] })).connections;
    await waitFor(`the table to count rs1's ${udpOnRs1} UDP flows`, async () => ((await udpCount()) === udpOnRs1 ? true : undefined), 15_000);
    await t.stop(100);
  }, 300_000);
});
