/**
 * Two vipd hosts elect one MASTER, and the operator's views agree on it:
 * `status --json` (control socket), the client's neighbour table, and the
 * metrics endpoint. Also the command line's exit codes (DESIGN.md
 * "Commands"): --check, a bad config, a non-root start.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/native.js';
import {
  Site,
  Traffic,
  VIP,
  advertsReceived,
  clientVipMac,
  ensureBuilt,
  metricValue,
  printLogs,
  skipReason,
  tally,
  waitAdvertsReceived,
  waitFor,
  startPair,
} from './fixtures/daemon-site.js';

const VIPD = () => join(packageRoot(), 'bin', 'vipd');

describe.skipIf(skipReason)(`vipd election with two hosts${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let site: Site | undefined;
  let traffic: Traffic | undefined;

  beforeAll(async () => {
    ensureBuilt();
    site = await Site.create({ label: 'elect', advertInterval: 0.1 });
    await startPair(site, []);
  }, 120_000);

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') printLogs(site);
  });

  afterAll(async () => {
    await traffic?.close().catch(() => undefined);
    await site?.cleanup();
  });

  it('elects exactly one MASTER, the higher priority, and status --json says so', async () => {
    const s = site!;
    const [a, b] = await Promise.all([s.status(0), s.status(1)]);
    const [ia, ib] = [a.instances[0], b.instances[0]];
    expect(a.instances).toHaveLength(1);
    expect(ia).toMatchObject({ name: 'web', state: 'MASTER', priority: 150, effectivePriority: 150, vrid: 51 });
    expect(ib).toMatchObject({ name: 'web', state: 'BACKUP', priority: 100, effectivePriority: 100, vrid: 51 });
    // masterSince: an ISO time on the MASTER, null on the BACKUP.
    expect(typeof ia.masterSince).toBe('string');
    expect(Number.isNaN(Date.parse(ia.masterSince!))).toBe(false);
    expect(ib.masterSince).toBeNull();
    // INIT -> BACKUP -> MASTER at most, and INIT -> BACKUP on the BACKUP.
    expect(ia.transitions).toBeGreaterThanOrEqual(1);
    expect(ib.transitions).toBeGreaterThanOrEqual(1);
    // Still exactly one MASTER a moment later (no flapping): ten more adverts
    // (1 s at 0.1 s) as lb2 heard them, however busy the host is.
    const before = [ia.transitions, ib.transitions];
    await waitAdvertsReceived(s, 1, await advertsReceived(s, 1), 10);
    const [a2, b2] = await Promise.all([s.status(0), s.status(1)]);
    expect([a2.instances[0].state, b2.instances[0].state]).toEqual(['MASTER', 'BACKUP']);
    expect([a2.instances[0].transitions, b2.instances[0].transitions]).toEqual(before);

    // Services and backends as DESIGN.md lists them, on both hosts.
    for (const st of [a, b]) {
      const web = st.services.find((x) => x.port === 8080 && x.protocol === 'tcp');
      expect(web).toMatchObject({ vip: VIP, port: 8080, protocol: 'tcp' });
      expect(st.services.find((x) => x.protocol === 'udp')).toMatchObject({ vip: VIP, port: 8080 });
      expect(web!.backends.map((x) => x.address).sort()).toEqual(['10.99.0.21', '10.99.0.22']);
      for (const be of web!.backends) {
        expect(typeof be.up).toBe('boolean');
        expect(be).toMatchObject({ weight: 100, drained: false });
      }
    }
    // Health checks pass on both real servers (tcp check).
    await waitFor('both backends up on the MASTER', async () =>
      (await s.status(0)).services.every((x) => x.backends.every((be) => be.up)) ? true : undefined,
    );
    expect(a.services.every((x) => x.active)).toBe(true);
    expect(b.services.every((x) => !x.active)).toBe(true);
  });

  it("the client's neighbour entry for the VIP is the MASTER's MAC, and TCP through the VIP reaches both real servers", async () => {
    const s = site!;
    traffic = Traffic.open(s);
    const seen = await traffic.connect(40);
    const t = tally(seen);
    console.log(`[election] 40 connections through the VIP: ${JSON.stringify(t)}`);
    expect(Object.keys(t).sort()).toEqual(['rs1', 'rs2']);
    expect(clientVipMac(s)).toBe(s.lbMac(0));
    expect(clientVipMac(s)).not.toBe(s.lbMac(1));
  });

  it('vipd_vrrp_state on the metrics endpoint: 2 on the MASTER, 1 on the BACKUP', async () => {
    const s = site!;
    const [m0, m1] = await Promise.all([s.metrics(0), s.metrics(1)]);
    expect(metricValue(m0, 'vipd_vrrp_state', { instance: 'web' })).toBe(2);
    expect(metricValue(m1, 'vipd_vrrp_state', { instance: 'web' })).toBe(1);
    expect(metricValue(m0, 'vipd_vrrp_adverts_total', { instance: 'web', direction: 'tx' })).toBeGreaterThan(0);
    expect(metricValue(m1, 'vipd_vrrp_adverts_total', { instance: 'web', direction: 'rx' })).toBeGreaterThan(0);
    expect(metricValue(m0, 'vipd_backend_up', { backend: '10.99.0.21' })).toBe(1);
    // prom-client's default process metrics are there too.
    expect(m0).toMatch(/^process_cpu_seconds_total /m);
  });

  describe('command line', () => {
    it('vipd --check on the generated config exits 0', () => {
      const s = site!;
      const r = spawnSync(process.execPath, [VIPD(), '--check', s.configPath(0)], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
    });

    it('vipd --config with a bad config exits 2 and names the key and the line', () => {
      const s = site!;
      const bad = join(s.dirs[0], 'bad.yaml');
      // A misspelt key right after the instance's `priority:` line.
      const lines = s.config(0).split('\n');
      const at = lines.findIndex((l) => l.trim().startsWith('priority:'));
      lines.splice(at + 1, 0, '    priorty: 120');
      writeFileSync(bad, lines.join('\n'));
      for (const mode of ['--check', '--config']) {
        const r = spawnSync(process.execPath, [VIPD(), mode, bad], { encoding: 'utf8', timeout: 30_000 });
        expect(r.status, `${mode}: ${r.stdout}${r.stderr}`).toBe(2);
        const out = `${r.stdout}${r.stderr}`;
        expect(out).toContain('priorty');
        expect(out).toContain(`${bad}:${at + 2}`);
      }
    });

    it('vipd --config as a non-root user exits 3 naming the missing privilege', async () => {
      const s = site!;
      // A config of its own socket, so a start that got further could not
      // disturb the running daemon's.
      const cfg = join(s.dirs[0], 'nonroot.yaml');
      writeFileSync(cfg, s.config(0).replace(s.socket(0), join(s.dirs[0], 'nonroot.sock')));
      chmodSync(cfg, 0o644);
      const r = spawnSync('ip', ['netns', 'exec', s.lbs[0].name, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, VIPD(), '--config', cfg], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      const out = `${r.stdout}${r.stderr}`;
      console.log(`[cli] vipd as uid 65534: exit ${r.status}: ${out.trim().split('\n').pop()}`);
      expect(r.status, out).toBe(3);
      expect(out).toMatch(/CAP_NET_ADMIN/);
      expect(out).toMatch(/CAP_BPF/);
      // And the real daemon on that host did not notice.
      expect((await s.status(0)).instances[0].state).toBe('MASTER');
    });

    it('a second vipd on the same pin directory exits 2 naming the running one by pid', async () => {
      const s = site!;
      const before = await s.status(0);
      // Same pin directory, its own control socket: only the pin lock can stop it.
      const cfg = join(s.dirs[0], 'second.yaml');
      writeFileSync(cfg, s.config(0).replace(s.socket(0), join(s.dirs[0], 'second.sock')));
      const r = await s.lbs[0].exec(process.execPath, [VIPD(), '--config', cfg], { timeoutMs: 30_000 });
      const out = `${r.stdout}${r.stderr}`;
      console.log(`[cli] second vipd on ${before.daemon.pinDir}: exit ${r.code}: ${out.trim().split('\n').pop()}`);
      expect(r.code, out).toBe(2);
      expect(out).toContain(`pin directory ${before.daemon.pinDir} is in use by another vipd (pid ${before.daemon.pid})`);
      // The running daemon kept its pins, its state and its lease.
      const after = await s.status(0);
      expect(after.daemon.pid).toBe(before.daemon.pid);
      expect(after.instances[0].state).toBe('MASTER');
      expect(after.instances[0].transitions).toBe(before.instances[0].transitions);
    });
  });
});
