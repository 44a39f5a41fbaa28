/**
 * Failover with the connection table (issue 14 item 4), beside the
 * failover section: two vipd hosts with `connections.sync`, 4 real servers
 * (scripts/topology.ts Site), VRRPv3 at 100 ms adverts.
 *
 * Per trial (a fresh site each):
 *  - 100 long-lived TCP connections (a line every 200 ms each), rs4 added
 *    on both hosts (reload), 100 more connections;
 *  - sync lag: 20 more connections opened one at a time; for each, the
 *    bench polls the MASTER's pinned flows4 for its entry (from the moment
 *    the real server's greeting arrived, so the entry is there already),
 *    then the BACKUP's, every millisecond: lag = present on the BACKUP -
 *    present on the MASTER. Only connections on slots the change touched
 *    get an entry; the others are not counted;
 *  - the MASTER's link goes down; once every connection answered again
 *    through lb2: how many of them changed real server or broke ("moved").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../src/bpf/index.js';
import { MAPS, type Flow, type Flow4Key } from '../src/dataplane/abi.js';
import { Dataplane } from '../src/dataplane/manager.js';
import { SERVICE_PORT, Site, VIP, sleep } from '../scripts/topology.js';
import { haveCommand, netnsUnavailable, type NodeChild } from '../test/helpers/netns.js';
import { type BenchContext, type Section, type SectionOutcome, fmt, formatTable, summarize } from './lib.js';

const TABLE = 'connections:\n  max: 65536';
const SYNC = `${TABLE}\n  sync: { key: bench-connection-sync-key-0123 }`;
const LAG_CONNS = 20;
const LAG_POLL_LIMIT_MS = 2000;

interface Conn {
  index: number;
  localPort: number;
  server: string | null;
  servers: string[];
  answered: number;
  error: string | null;
  closed: boolean;
}

interface TrialResult {
  conns: number;
  onNewBackend: number;
  masterEntries: number;
  lagMs: number[];
  moved: number;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`connectionSync: timed out waiting for ${what}`);
    await sleep(20);
  }
}

function flowKey(clientPort: number): Flow4Key {
  const ip = (a: string) => Buffer.from(a.split('.').map(Number));
  return { client: ip('10.99.0.10'), vip: ip(VIP), cport: clientPort, vport: SERVICE_PORT, proto: 6, kind: 0, pad: Buffer.alloc(2) };
}

/** ms (performance clock) when the entry shows up in map, or undefined within the limit. */
async function appears(map: BpfMap<Flow4Key, Flow>, key: Flow4Key, limitMs: number): Promise<number | undefined> {
  const end = performance.now() + limitMs;
  while (performance.now() < end) {
    if (map.lookup(key)) return performance.now();
    await sleep(1);
  }
  return undefined;
}

/** The last "Maglev table installed" line of host i's log for service web names `count` backends. */
function webTableHas(site: Site, i: number, count: number): boolean {
  let last = 0;
  for (const line of readFileSync(site.logPath(i), 'utf8').split('\n')) {
    if (!line.includes('Maglev table installed')) continue;
    try {
      const rec = JSON.parse(line) as { service?: string; backends?: string[] };
      if (rec.service === 'web' && rec.backends) last = rec.backends.length;
    } catch {
      /* a line still being written */
    }
  }
  return last === count;
}

async function waitAnswered(agent: NodeChild, more: number): Promise<Conn[]> {
  const since = (await agent.call<{ conns: Conn[] }>('snapshot', {})).conns;
  return until('every connection to answer again', async () => {
    const now = (await agent.call<{ conns: Conn[] }>('snapshot', {})).conns;
    return now.every((c, i) => c.closed || c.answered >= (since[i]?.answered ?? 0) + more) ? now : undefined;
  }, 60_000);
}

/** One trial; `sync` false: the control, the same failover with each host's table its own. */
async function trial(ctx: BenchContext, n: number, sync = true): Promise<TrialResult> {
  const site = await Site.create({ label: `bcs${n}`, advertInterval: 0.1, realServers: 4, configTop: sync ? SYNC : TABLE, instanceExtra: '\n    preemptDelay: 1' });
  const agent = site.client.node(join(ctx.root, 'test', 'netns', 'fixtures', 'daemon-traffic.mjs'));
  const maps: BpfMap<Flow4Key, Flow>[] = [];
  try {
    for (const i of [0, 1]) site.writeConfig(i, site.config(i, { backends: site.realAddrs.slice(0, 3) }));
    site.startDaemon(0, { writeConfig: false });
    site.startDaemon(1, { writeConfig: false });
    await site.waitState(0, 'MASTER', 45_000);
    await site.waitState(1, 'BACKUP', 45_000);
    for (const i of [0, 1]) {
      await until(`lb${i + 1}: backends up`, async () => ((await site.status(i)).services.every((s) => s.backends.every((b) => b.up && b.mac)) ? true : undefined));
    }
    const args = { host: VIP, port: SERVICE_PORT, intervalMs: 200 };
    await agent.call('start', { ...args, conns: 100, udpIntervalMs: 0, maxMs: 120_000 }, 60_000);
    ctx.progress(`connectionSync: trial ${n}: 100 connections; adding rs4`);
    for (const i of [0, 1]) site.writeConfig(i, site.config(i, { backends: site.realAddrs }));
    for (const i of [0, 1]) await site.call(i, 'reload');
    for (const i of [0, 1]) await until(`lb${i + 1}: rs4 in the Maglev table`, () => (webTableHas(site, i, 4) ? true : undefined));
    const after = await agent.call<{ conns: Conn[] }>('more', { ...args, conns: 100 }, 60_000);
    maps.push(...[0, 1].map((i) => BpfMap.openPinned(join(site.pins[i], 'flows4'), MAPS.flows4.key, MAPS.flows4.value)));
    const lagMs: number[] = [];
    for (let k = 0; sync && k < LAG_CONNS; k++) {
      const c = (await agent.call<{ conns: Conn[] }>('more', { ...args, conns: 1 }, 30_000)).conns[0];
      const key = flowKey(c.localPort);
      const onMaster = await appears(maps[0], key, 50);
      if (onMaster === undefined) continue; // a clean slot: no entry, nothing to sync
      const onBackup = await appears(maps[1], key, LAG_POLL_LIMIT_MS);
      lagMs.push(onBackup === undefined ? LAG_POLL_LIMIT_MS : onBackup - onMaster);
    }
    let masterEntries = 0;
    for (const [k] of maps[0].lookupBatch(1024)) if (k.vport === SERVICE_PORT) masterEntries++;
    ctx.progress(`connectionSync: trial ${n}: ${masterEntries} entries on the MASTER, lag samples ${lagMs.length}; failing over`);
    await waitAnswered(agent, 2);
    site.lbs[0].ip(['link', 'set', 'eth0', 'down']);
    await site.waitState(1, 'MASTER');
    const conns = await waitAnswered(agent, 5);
    const moved = conns.filter((c) => c.error !== null || c.closed || c.servers.some((s) => s !== c.server)).length;
    await agent.call('stop', { settleMs: 200 });
    return { conns: conns.length, onNewBackend: after.conns.filter((c) => c.server === 'rs4').length, masterEntries, lagMs, moved };
  } finally {
    for (const m of maps) m.close();
    await agent.stop().catch(() => undefined);
    await site.cleanup();
    for (const p of site.pins) Dataplane.unpinAll(p);
  }
}

export const connectionSync: Section = {
  key: 'connectionSync',
  title: 'Failover after a backend change, with connection sync',
  requires: { root: true, native: true, objects: ['out/bpf/vipd.bpf.o', 'out/test/progs/xdp_pass.bpf.o'] },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const why = netnsUnavailable() ?? (haveCommand('tcpdump') ? undefined : 'tcpdump is not installed');
    if (why) throw new Error(`connectionSync: ${why}`);
    const trials = ctx.quick ? 1 : 3;
    const results: TrialResult[] = [];
    for (let n = 1; n <= trials; n++) results.push(await trial(ctx, n));
    ctx.progress('connectionSync: control trial without sync');
    const control = await trial(ctx, trials + 1, false);
    const lag = summarize(results.flatMap((r) => r.lagMs));
    const moved = results.reduce((a, r) => a + r.moved, 0);
    const conns = results.reduce((a, r) => a + r.conns, 0);
    const table = [
      formatTable(
        [
          ['trials', 'connections', 'moved after failover', 'MASTER entries (per trial)', 'sync lag ms, median (min-max)', 'lag samples'],
          [
            String(trials),
            String(conns),
            `${moved}/${conns}`,
            results.map((r) => r.masterEntries).join(' '),
            `${fmt(lag.median, 1)} (${fmt(lag.min, 1)}-${fmt(lag.max, 1)})`,
            String(lag.n),
          ],
        ],
        [true, true, true, false, false, true],
      ),
      `control, the same failover without sync: ${control.moved}/${control.conns} moved (MASTER entries ${control.masterEntries}).`,
      'each trial: 100 connections, rs4 added (reload both), 100 + 20 more, then the MASTER\'s link down; sync interval 0.2 s (the default).',
      'lag: the entry present in the BACKUP\'s flows4 minus present in the MASTER\'s (polled every ms from the greeting on).',
      `goal: 0 moved: ${moved === 0 ? 'MET' : 'NOT MET'}`,
    ].join('\n');
    return {
      json: { trials: results, control, movedTotal: moved, connections: conns, lagMs: lag, method: { syncIntervalSeconds: 0.2, advertIntervalSeconds: 0.1 } },
      table,
      files: [],
      skipped: [],
    };
  },
};
