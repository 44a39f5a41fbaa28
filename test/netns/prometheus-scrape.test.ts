/**
 * A real Prometheus (Debian's package) scrapes two real vipd hosts the way a
 * central Prometheus would: from the client's namespace, over the network,
 * with deploy/prometheus/vipd.rules.yml loaded. Then its HTTP API must show
 * the MASTER as vipd_vrrp_state == 2, the labels the rules rely on
 * (`exported_instance`, the instance info join) and the rules loaded and
 * quiet on a healthy pair.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LB_ADDRS } from '../../scripts/topology.js';
import { haveCommand, repoRoot } from '../helpers/netns.js';
import { createSite, ensureBuilt, printLogs, skipReason as siteSkip, STARTUP_MS, waitFor, type Site } from './fixtures/daemon-site.js';

const skipReason = siteSkip ?? (haveCommand('prometheus') ? undefined : 'needs prometheus (Debian package prometheus)');
const PROM = '127.0.0.1:9090';
const METRICS_PORT = 9477;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(skipReason)(`Prometheus scrapes vipd${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let site: Site | undefined;
  let prometheus: ChildProcess | undefined;
  let promLog = '';

  /** GET on Prometheus' API from inside the client's namespace; `data` of a success answer. */
  async function api<T>(path: string): Promise<T> {
    const r = await site!.client.exec('curl', ['-sS', '--max-time', '3', `http://${PROM}${path}`], { timeoutMs: 5000 });
    if (r.code !== 0) throw new Error(`curl ${path}: exit ${r.code}: ${r.stderr}`);
    const body = JSON.parse(r.stdout) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? r.stdout}`);
    return body.data;
  }

  const query = (expr: string) => api<{ resultType: string; result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`).then((d) => d.result);

  beforeAll(async () => {
    ensureBuilt();
    site = await createSite({ label: 'prom', advertInterval: 0.1 }, async (s) => {
      // Metrics on each host's own address, as for a central Prometheus (vipd warns about it in its log).
      for (const i of [0, 1]) s.writeConfig(i, s.config(i).replace(`metrics: 127.0.0.1:${METRICS_PORT}`, `metrics: ${LB_ADDRS[i]}:${METRICS_PORT}`));
      s.startDaemon(0, { writeConfig: false });
      s.startDaemon(1, { writeConfig: false });
      await s.waitState(0, 'MASTER', STARTUP_MS);
      await s.waitState(1, 'BACKUP', STARTUP_MS);
    });
    const dir = site.lab.tmpDir();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms }',
        `rule_files: [${join(repoRoot(), 'deploy', 'prometheus', 'vipd.rules.yml')}]`,
        'scrape_configs:',
        '  - job_name: vipd',
        `    static_configs: [{ targets: [${LB_ADDRS.map((a) => `'${a}:${METRICS_PORT}'`).join(', ')}] }]`,
        '',
      ].join('\n'),
    );
    prometheus = site.client.spawn('prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${PROM}`,
      '--log.level=warn',
    ]);
    prometheus.stderr?.setEncoding('utf8').on('data', (d: string) => (promLog = (promLog + d).slice(-20_000)));
    await waitFor('Prometheus ready', async () => {
      const r = await site!.client.exec('curl', ['-sf', '--max-time', '2', `http://${PROM}/-/ready`], { timeoutMs: 4000 });
      return r.code === 0 ? true : undefined;
    }, 30_000);
  }, 150_000);

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') {
      printLogs(site);
      console.log(`--- prometheus log (tail) ---\n${promLog}`);
    }
  });

  afterAll(async () => {
    // The lab kills Prometheus (a child it tracks) and removes its storage dir with the namespaces.
    prometheus?.kill('SIGTERM');
    await site?.cleanup();
  });

  it('both targets are up', async () => {
    const up = await waitFor('two targets up', async () => {
      const r = await query('up{job="vipd"} == 1');
      return r.length === 2 ? r : undefined;
    }, 20_000);
    expect(up.map((s) => s.metric.instance).sort()).toEqual(LB_ADDRS.map((a) => `${a}:${METRICS_PORT}`).sort());
  });

  it('the MASTER is the one series with vipd_vrrp_state == 2, its VRRP instance name as exported_instance', async () => {
    const master = await waitFor('vipd_vrrp_state == 2', async () => {
      const r = await query('vipd_vrrp_state == 2');
      return r.length > 0 ? r : undefined;
    }, 20_000);
    expect(master).toHaveLength(1);
    expect(master[0].metric).toMatchObject({ __name__: 'vipd_vrrp_state', job: 'vipd', instance: `${LB_ADDRS[0]}:${METRICS_PORT}`, exported_instance: 'web' });
    expect(master[0].value[1]).toBe('2');
    const backup = await query('vipd_vrrp_state == 1');
    expect(backup.map((s) => s.metric.instance)).toEqual([`${LB_ADDRS[1]}:${METRICS_PORT}`]);
  });

  it("the rules' join finds one MASTER for VRID 51, and the rules are loaded, healthy and quiet", async () => {
    const masters = await query(
      'count by (vrid, version) ((vipd_vrrp_state == 2) * on (instance, exported_instance) group_left (vrid, version) vipd_vrrp_instance_info)',
    );
    expect(masters).toEqual([{ metric: { vrid: '51', version: '3' }, value: [expect.any(Number), '1'] }]);
    // At start a rule may be pending for a moment (one target scraped before the other):
    // on a healthy pair every rule settles inactive, and none ever fires.
    const rules = await waitFor('every rule evaluated and inactive', async () => {
      const d = await api<{ groups: { rules: { name: string; health: string; state: string; lastEvaluation: string }[] }[] }>('/api/v1/rules?type=alert');
      const all = d.groups.flatMap((g) => g.rules);
      const firing = all.filter((r) => r.state === 'firing').map((r) => r.name);
      if (firing.length > 0) throw new Error(`firing on a healthy pair: ${firing.join(', ')}`);
      return all.length > 0 && all.every((r) => r.state === 'inactive' && !r.lastEvaluation.startsWith('0001')) ? all : undefined;
    }, 20_000);
    expect(rules.map((r) => r.name)).toContain('VipdSplitBrain');
    for (const r of rules) expect({ name: r.name, health: r.health }).toEqual({ name: r.name, health: 'ok' });
  });

  it('every query of the Grafana dashboard runs, and the state timeline shows both hosts', async () => {
    const dash = JSON.parse(readFileSync(join(repoRoot(), 'deploy', 'grafana', 'vipd.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    // Grafana's variables as a dashboard on this job would fill them in.
    const fill = (e: string) => e.replace(/\$__rate_interval/g, '10s').replace(/\$job/g, 'vipd').replace(/\$host/g, '.*');
    // A rate needs two scrapes of a counter inside its window: wait for them
    // (a loaded host may have scraped the counters once when the targets came up).
    await waitFor('two scrapes of the verdict counters', async () =>
      (await query(fill('rate(vipd_xdp_verdicts_total{job="$job"}[$__rate_interval])'))).length > 0 ? true : undefined,
    );
    const empty: string[] = [];
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        const r = await query(fill(t.expr));
        if (r.length === 0) empty.push(p.title);
      }
    }
    console.log(`[prometheus] dashboard panels with no data on an idle healthy pair: ${JSON.stringify(empty)}`);
    const states = await query(fill(dash.panels.find((p) => /state per instance/i.test(p.title))!.targets![0].expr));
    expect(states.map((s) => [s.metric.instance, s.value[1]]).sort()).toEqual([
      [`${LB_ADDRS[0]}:${METRICS_PORT}`, '2'],
      [`${LB_ADDRS[1]}:${METRICS_PORT}`, '1'],
    ]);
    expect(empty).not.toContain('Backend health');
    expect(empty).not.toContain('XDP verdicts per second');
  });
});
