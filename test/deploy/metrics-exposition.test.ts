/**
 * vipd's /metrics, as a scraper sees it, passes `promtool check metrics`
 * (Prometheus' own lint of names, types, units and help). The exposition is
 * the real one: VipdMetrics with prom-client's default metrics behind the
 * real MetricsServer, every vipd series present (an instance in each state,
 * backends up and down, data-plane counters from a fake source).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataplaneCounters } from '../../src/metrics/dataplane-source.js';
import { MetricsServer } from '../../src/metrics/server.js';
import { VipdMetrics } from '../../src/metrics/vipd-metrics.js';
import { promtool, promtoolMissing } from './promtool.js';

const counters: DataplaneCounters = {
  verdicts: { forward: 100n, pass_malformed: 2n, pass_lease_expired: 0n },
  services: [{ service: 'web', packets: 100n, bytes: 6400n }],
  backends: [{ service: 'web', backend: '10.0.0.11', packets: 100n, bytes: 6400n }],
};

describe.skipIf(promtoolMissing)(`vipd /metrics under promtool check metrics${promtoolMissing ? ` (skipped: ${promtoolMissing})` : ''}`, () => {
  let server: MetricsServer;
  let url: string;

  beforeAll(async () => {
    const metrics = new VipdMetrics({ dataplane: { readCounters: () => counters } });
    metrics.declareInstance('web', { vrid: '51', interface: 'eth0', version: '3' });
    metrics.transition('web', 'MASTER');
    metrics.advert('web', 'tx', 3);
    metrics.rxInvalid('web', 'auth');
    metrics.setBackendUp('web', '10.0.0.11', true);
    metrics.setBackendUp('web', '10.0.0.12', false);
    metrics.setFailoverSeconds(0.004);
    server = new MetricsServer(metrics, { host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    url = `http://127.0.0.1:${port}/metrics`;
  });
  afterAll(() => server?.close());

  it('is clean: no lint finding, and every vipd metric is there', async () => {
    const body = await (await fetch(url)).text();
    for (const name of ['vipd_vrrp_state', 'vipd_vrrp_instance_info', 'vipd_backend_bytes_total', 'process_cpu_seconds_total', 'nodejs_active_handles']) {
      expect(body, name).toContain(`# TYPE ${name} `);
    }
    const r = promtool(['check', 'metrics'], body);
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.code).toBe(0);
  });

  it('promtool does flag a gauge named *_total (the check can fail)', () => {
    const r = promtool(['check', 'metrics'], '# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n');
    expect(`${r.stdout}${r.stderr}`).toMatch(/x_total/);
  });
});
