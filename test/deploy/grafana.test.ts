/**
 * deploy/grafana/vipd.json: valid JSON Grafana can import, every query
 * valid PromQL (promtool parses it) and every metric it reads one that vipd
 * exports (the names registered by src/metrics). The alert rules are held
 * to the same names.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import { VipdMetrics } from '../../src/metrics/vipd-metrics.js';
import { repoRoot } from '../helpers/netns.js';
import { metricNames } from './promql-names.js';
import { promtool, promtoolMissing } from './promtool.js';

const DASHBOARD = join(repoRoot(), 'deploy', 'grafana', 'vipd.json');
const RULES = join(repoRoot(), 'deploy', 'prometheus', 'vipd.rules.yml');

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { refId: string; expr: string }[];
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string }[] };
  annotations: { list: { expr?: string }[] };
}

/** Every name vipd's registry exposes (vipd's own and prom-client's defaults). */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new VipdMetrics({ dataplane: { readCounters: () => ({ verdicts: {}, services: [], backends: [] }) } });
  return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
}

/** Grafana's variables, as a query would run them. */
function substitute(expr: string): string {
  return expr.replace(/\$__rate_interval/g, '1m').replace(/\$job/g, 'vipd').replace(/\$host/g, '.*');
}

const text = readFileSync(DASHBOARD, 'utf8');
const dashboard = JSON.parse(text) as Dashboard;
const queries = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
  ...dashboard.annotations.list.filter((a) => a.expr).map((a) => ({ where: 'annotation', expr: a.expr! })),
];

const tmp = mkdtempSync(join(tmpdir(), 'vipd-grafana-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('deploy/grafana/vipd.json', () => {
  it('is a dashboard: uid, panels with unique ids on a 24-column grid, a query in every non-row panel', () => {
    expect(dashboard.uid).toBe('vipd');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type !== 'row') expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'job', 'host']);
    // What the issue asks the dashboard to show.
    const titles = dashboard.panels.map((p) => p.title).join('\n');
    for (const want of [/state per instance/i, /failover/i, /packets per second per service/i, /bits per second per service/i, /per backend/i, /verdicts/i]) {
      expect(titles).toMatch(want);
    }
  });

  it('reads only metrics vipd exports', async () => {
    const exported = await exportedNames();
    const unknown = queries.flatMap((q) => [...metricNames(q.expr)].filter((n) => !exported.has(n)).map((n) => `${q.where}: ${n}`));
    expect(unknown).toEqual([]);
    // Every vipd metric has a place on the dashboard.
    const used = new Set(queries.flatMap((q) => [...metricNames(q.expr)]));
    expect([...exported].filter((n) => n.startsWith('vipd_') && !used.has(n) && n !== 'vipd_vrrp_instance_info')).toEqual([]);
  });

  it.skipIf(promtoolMissing)('every query is valid PromQL (promtool parses it as a recording rule)', () => {
    const file = join(tmp, 'dashboard-exprs.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: substitute(q.expr) })) }] }));
    const r = promtool(['check', 'rules', file]);
    expect(`${r.stdout}${r.stderr}`).toMatch(new RegExp(`SUCCESS: ${queries.length} rules found`));
  });
});

describe('metric names in the alert rules', () => {
  it('are exported by vipd, or are Prometheus\' own `up`, or come with BGP (vipd_bgp_session_up)', async () => {
    const exported = await exportedNames();
    const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    const unknown = rules.flatMap((r) => [...metricNames(r.expr)].filter((n) => !exported.has(n) && n !== 'up' && n !== 'vipd_bgp_session_up').map((n) => `${r.alert}: ${n}`));
    expect(unknown).toEqual([]);
  });
});

describe('metricNames (the scanner the checks above rely on)', () => {
  it('finds the selected names and nothing else', () => {
    expect([...metricNames('8 * sum by (service) (rate(vipd_service_bytes_total{job="$job", reason=~"a|b"}[$__rate_interval]))')]).toEqual(['vipd_service_bytes_total']);
    expect([...metricNames('count by (vrid) ((vipd_vrrp_state == 2) * on (instance) group_left (vrid) vipd_vrrp_instance_info) > 1')].sort()).toEqual([
      'vipd_vrrp_instance_info',
      'vipd_vrrp_state',
    ]);
    expect([...metricNames('up{job="vipd"} == 0 unless vipd_made_up_total offset 5m')].sort()).toEqual(['up', 'vipd_made_up_total']);
  });
});
