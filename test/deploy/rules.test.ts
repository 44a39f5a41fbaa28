/**
 * deploy/prometheus/vipd.rules.yml under `promtool test rules`: every alert
 * fires on the series that mean trouble and stays quiet on healthy (or
 * briefly unhealthy) ones. The series are labelled as Prometheus stores a
 * vipd scrape: the target's `instance` (host:port) and vipd's own
 * `instance` (the VRRP instance) as `exported_instance`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../helpers/netns.js';
import { promtool, promtoolMissing } from './promtool.js';

const RULES = join(repoRoot(), 'deploy', 'prometheus', 'vipd.rules.yml');

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations: Record<string, string>;
}

const rules: Rule[] = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** One promtool test group: input series, and at evalTime whether `alert` fires (with these labels and summary). */
interface Case {
  name: string;
  alert: string;
  interval?: string;
  series: Record<string, string>;
  evalTime: string;
  /** Empty: the alert must not fire. */
  fires: { labels: Record<string, string>; summary: string }[];
}

const lb = (host: 1 | 2, labels: string) => `{job="vipd", instance="lb${host}:9477"${labels ? `, ${labels}` : ''}}`;
const info = (host: 1 | 2, name: string, vrid: number) =>
  `vipd_vrrp_instance_info${lb(host, `exported_instance="${name}", vrid="${vrid}", interface="eth0", version="3"`)}`;
const state = (host: 1 | 2, name: string) => `vipd_vrrp_state${lb(host, `exported_instance="${name}"`)}`;
const MASTER = '2x12';
const BACKUP = '1x12';

const cases: Case[] = [
  {
    name: 'two MASTERs of one VRID on two hosts',
    alert: 'VipdSplitBrain',
    series: { [info(1, 'web', 51)]: '1x12', [info(2, 'web', 51)]: '1x12', [state(1, 'web')]: MASTER, [state(2, 'web')]: MASTER },
    evalTime: '1m',
    fires: [{ labels: { vrid: '51', version: '3' }, summary: 'VRID 51 (VRRPv3) has 2 MASTERs' }],
  },
  {
    name: 'each host MASTER of a different VRID (no split brain, every VRID has its MASTER)',
    alert: 'VipdSplitBrain',
    series: {
      [info(1, 'web', 51)]: '1x12',
      [info(2, 'web', 51)]: '1x12',
      [info(1, 'api', 52)]: '1x12',
      [info(2, 'api', 52)]: '1x12',
      [state(1, 'web')]: MASTER,
      [state(2, 'web')]: BACKUP,
      [state(1, 'api')]: BACKUP,
      [state(2, 'api')]: MASTER,
    },
    evalTime: '1m',
    fires: [],
  },
  {
    name: 'two MASTERs for one advert interval (a failover in progress)',
    alert: 'VipdSplitBrain',
    series: { [info(1, 'web', 51)]: '1x12', [info(2, 'web', 51)]: '1x12', [state(1, 'web')]: '1 2 1x10', [state(2, 'web')]: MASTER },
    evalTime: '1m',
    fires: [],
  },
  {
    name: 'every host BACKUP',
    alert: 'VipdNoMaster',
    series: { [info(1, 'web', 51)]: '1x12', [info(2, 'web', 51)]: '1x12', [state(1, 'web')]: BACKUP, [state(2, 'web')]: '3x12' },
    evalTime: '1m',
    fires: [{ labels: { vrid: '51', version: '3' }, summary: 'VRID 51 (VRRPv3) has no MASTER' }],
  },
  {
    name: 'one MASTER, one BACKUP',
    alert: 'VipdNoMaster',
    series: { [info(1, 'web', 51)]: '1x12', [info(2, 'web', 51)]: '1x12', [state(1, 'web')]: MASTER, [state(2, 'web')]: BACKUP },
    evalTime: '1m',
    fires: [],
  },
  {
    name: 'a state change every minute',
    alert: 'VipdFlapping',
    interval: '1m',
    series: { [`vipd_vrrp_transitions_total${lb(1, 'exported_instance="web", to="MASTER"')}`]: '0+1x15' },
    evalTime: '12m',
    fires: [{ labels: { instance: 'lb1:9477', exported_instance: 'web' }, summary: 'VRRP instance web on lb1:9477 changed state 10 times in 10 minutes' }],
  },
  {
    name: 'two state changes in ten minutes',
    alert: 'VipdFlapping',
    interval: '1m',
    series: { [`vipd_vrrp_transitions_total${lb(1, 'exported_instance="web", to="MASTER"')}`]: '0 1 2x13' },
    evalTime: '12m',
    fires: [],
  },
  {
    name: 'traffic for a VIP past its lease',
    alert: 'VipdLeaseExpired',
    series: { [`vipd_xdp_verdicts_total${lb(1, 'reason="pass_lease_expired"')}`]: '0+50x12' },
    evalTime: '1m',
    fires: [{ labels: { instance: 'lb1:9477' }, summary: 'lb1:9477 gets traffic for a VIP whose data-plane lease ran out' }],
  },
  {
    name: 'forwarding, no lease-expired packet',
    alert: 'VipdLeaseExpired',
    series: {
      [`vipd_xdp_verdicts_total${lb(1, 'reason="pass_lease_expired"')}`]: '7x12',
      [`vipd_xdp_verdicts_total${lb(1, 'reason="forward"')}`]: '0+1000x12',
    },
    evalTime: '1m',
    fires: [],
  },
  {
    name: 'a backend down for two minutes',
    alert: 'VipdBackendDown',
    series: { [`vipd_backend_up${lb(1, 'service="web", backend="10.0.0.12"')}`]: '0x12' },
    evalTime: '2m',
    fires: [{ labels: { job: 'vipd', instance: 'lb1:9477', service: 'web', backend: '10.0.0.12' }, summary: 'Backend 10.0.0.12 of service web fails its health check on lb1:9477' }],
  },
  {
    name: 'a backend down for 30 s, then up',
    alert: 'VipdBackendDown',
    series: { [`vipd_backend_up${lb(1, 'service="web", backend="10.0.0.12"')}`]: '1 0 0 0 1x9' },
    evalTime: '2m',
    fires: [],
  },
  {
    name: 'both backends of a service down',
    alert: 'VipdServiceAllBackendsDown',
    series: {
      [`vipd_backend_up${lb(1, 'service="web", backend="10.0.0.11"')}`]: '0x12',
      [`vipd_backend_up${lb(1, 'service="web", backend="10.0.0.12"')}`]: '0x12',
      [`vipd_backend_up${lb(1, 'service="api", backend="10.0.0.13"')}`]: '1x12',
    },
    evalTime: '1m',
    fires: [{ labels: { instance: 'lb1:9477', service: 'web' }, summary: 'Service web has no healthy backend on lb1:9477' }],
  },
  {
    name: 'one backend of two down',
    alert: 'VipdServiceAllBackendsDown',
    series: {
      [`vipd_backend_up${lb(1, 'service="web", backend="10.0.0.11"')}`]: '0x12',
      [`vipd_backend_up${lb(1, 'service="web", backend="10.0.0.12"')}`]: '1x12',
    },
    evalTime: '1m',
    fires: [],
  },
  {
    name: '5 % of packets malformed or truncated',
    alert: 'VipdXdpMalformed',
    series: {
      [`vipd_xdp_verdicts_total${lb(1, 'reason="pass_malformed"')}`]: '0+30x120',
      [`vipd_xdp_verdicts_total${lb(1, 'reason="pass_truncated"')}`]: '0+20x120',
      [`vipd_xdp_verdicts_total${lb(1, 'reason="forward"')}`]: '0+950x120',
    },
    evalTime: '15m',
    fires: [{ labels: { instance: 'lb1:9477' }, summary: 'lb1:9477: 5% of packets seen by XDP are malformed or truncated' }],
  },
  {
    name: '0.1 % of packets malformed',
    alert: 'VipdXdpMalformed',
    series: {
      [`vipd_xdp_verdicts_total${lb(1, 'reason="pass_malformed"')}`]: '0+1x120',
      [`vipd_xdp_verdicts_total${lb(1, 'reason="forward"')}`]: '0+999x120',
    },
    evalTime: '15m',
    fires: [],
  },
  {
    name: 'a BGP session down',
    alert: 'VipdBgpSessionDown',
    series: { [`vipd_bgp_session_up${lb(1, 'peer="192.0.2.1"')}`]: '0x12' },
    evalTime: '1m',
    fires: [{ labels: { job: 'vipd', instance: 'lb1:9477', peer: '192.0.2.1' }, summary: 'BGP session to 192.0.2.1 is down on lb1:9477' }],
  },
  {
    name: 'a BGP session up',
    alert: 'VipdBgpSessionDown',
    series: { [`vipd_bgp_session_up${lb(1, 'peer="192.0.2.1"')}`]: '1x12' },
    evalTime: '1m',
    fires: [],
  },
  {
    name: 'a vipd that does not answer scrapes',
    alert: 'VipdDown',
    series: { [`up${lb(2, '')}`]: '0x12' },
    evalTime: '2m',
    fires: [{ labels: { job: 'vipd', instance: 'lb2:9477' }, summary: 'vipd on lb2:9477 does not answer scrapes' }],
  },
  {
    name: 'a vipd that answers',
    alert: 'VipdDown',
    series: { [`up${lb(2, '')}`]: '1x12' },
    evalTime: '2m',
    fires: [],
  },
];

function testFile(cs: readonly Case[]): string {
  return stringify({
    rule_files: [RULES],
    evaluation_interval: '10s',
    tests: cs.map((c) => {
      const rule = rules.find((r) => r.alert === c.alert);
      if (!rule) throw new Error(`no alert ${c.alert} in ${RULES}`);
      return {
        name: c.name,
        interval: c.interval ?? '10s',
        input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          {
            eval_time: c.evalTime,
            alertname: c.alert,
            exp_alerts: c.fires.map((f) => ({
              exp_labels: { ...rule.labels, ...f.labels },
              exp_annotations: { ...rule.annotations, summary: f.summary },
            })),
          },
        ],
      };
    }),
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'vipd-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function testRules(cs: readonly Case[]): { code: number | null; output: string } {
  const file = join(tmp, `t${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, testFile(cs));
  const r = promtool(['test', 'rules', file]);
  return { code: r.code, output: `${r.stdout}${r.stderr}` };
}

describe.skipIf(promtoolMissing)(`deploy/prometheus/vipd.rules.yml${promtoolMissing ? ` (skipped: ${promtoolMissing})` : ''}`, () => {
  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES]);
    expect(`${r.stdout}${r.stderr}`).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    expect(r.code).toBe(0);
  });

  it('every alert has a firing and a quiet case, and a runbook section', () => {
    const runbook = readFileSync(join(repoRoot(), 'docs', 'runbook.md'), 'utf8');
    for (const r of rules) {
      expect(cases.some((c) => c.alert === r.alert && c.fires.length > 0), `${r.alert} firing case`).toBe(true);
      expect(cases.some((c) => c.alert === r.alert && c.fires.length === 0), `${r.alert} quiet case`).toBe(true);
      expect(r.annotations.runbook_url).toBe(`docs/runbook.md#${r.alert.toLowerCase()}`);
      expect(runbook, `docs/runbook.md section for ${r.alert}`).toMatch(new RegExp(`^## ${r.alert}$`, 'm'));
    }
  });

  for (const c of cases) {
    it(`${c.alert} ${c.fires.length ? 'fires' : 'stays quiet'}: ${c.name}`, () => {
      const r = testRules([c]);
      expect(r.output).toMatch(/SUCCESS/);
      expect(r.code).toBe(0);
    });
  }

  it('a wrong expectation fails promtool (the harness can fail)', () => {
    const firing = cases.find((c) => c.alert === 'VipdSplitBrain' && c.fires.length > 0)!;
    const r = testRules([{ ...firing, fires: [] }]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/VipdSplitBrain/);
  });
});
