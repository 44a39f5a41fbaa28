/** Scrapes the real /metrics endpoint over HTTP with a fake data plane. */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataplaneCounters, DataplaneStatsSource } from '../../../src/metrics/dataplane-source.js';
import { isLoopback, parseListenAddress } from '../../../src/metrics/listen-address.js';
import { MetricsServer } from '../../../src/metrics/server.js';
import { VipdMetrics } from '../../../src/metrics/vipd-metrics.js';

class FakeDataplane implements DataplaneStatsSource {
  reads = 0;
  fail = false;
  counters: DataplaneCounters = {
    verdicts: { pass_not_vip: 10n, tx_forward: 2n ** 40n, drop_no_backend: 0 },
    services: [{ service: 'web', packets: 1000n, bytes: 64_000n }],
    backends: [
      { service: 'web', backend: '10.0.0.11', packets: 600n, bytes: 1n },
      { service: 'web', backend: '10.0.0.12', packets: 400 },
    ],
  };
  async readCounters(): Promise<DataplaneCounters> {
    this.reads++;
    if (this.fail) throw new Error('map gone');
    return this.counters;
  }
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function serve(metrics: VipdMetrics, logger?: { warn: (o: unknown, m: string) => void; error: () => void; info: () => void }) {
  const server = new MetricsServer(metrics, { host: '127.0.0.1', port: 0 }, logger as never);
  const { port } = await server.listen();
  cleanup.push(() => server.close());
  return { server, port };
}

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `name{labels} value` lines of one metric family, without HELP/TYPE. */
function samples(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function typeOf(body: string, name: string): string | undefined {
  return new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(body)?.[1];
}

describe('VipdMetrics over /metrics', () => {
  it('exposes exactly the DESIGN.md names (plus instance info, backend bytes, backends up per service and the connection table fill, capacity, sweep time and events) with the right types', async () => {
    const metrics = new VipdMetrics({ dataplane: new FakeDataplane() });
    const { port } = await serve(metrics);
    const res = await get(port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const vipdNames = [...res.body.matchAll(/^# TYPE (vipd_\w+) (\w+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(vipdNames).toEqual([
      'vipd_backend_bytes_total counter',
      'vipd_backend_connections gauge',
      'vipd_backend_packets_total counter',
      'vipd_backend_up gauge',
      'vipd_bgp_announced gauge',
      'vipd_bgp_session_up gauge',
      'vipd_connections gauge',
      'vipd_connections_capacity gauge',
      'vipd_connections_sweep_seconds gauge',
      'vipd_failover_seconds gauge',
      'vipd_flow_events_total counter',
      'vipd_service_backends_up gauge',
      'vipd_service_bytes_total counter',
      'vipd_service_packets_total counter',
      'vipd_vrrp_adverts_total counter',
      'vipd_vrrp_instance_info gauge',
      'vipd_vrrp_rx_invalid_total counter',
      'vipd_vrrp_state gauge',
      'vipd_vrrp_transitions_total counter',
      'vipd_xdp_verdicts_total counter',
    ]);
    // _total only on counters, prom-client's own included (its nodejs_active_*_total gauges are left out).
    for (const m of res.body.matchAll(/^# TYPE (\w+) (\w+)$/gm)) {
      if (m[1]?.endsWith('_total')) expect(m[2], m[1]).toBe('counter');
    }
    // prom-client's default process metrics are on the same registry.
    expect(typeOf(res.body, 'process_cpu_seconds_total')).toBe('counter');
    expect(typeOf(res.body, 'nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('shows a stall of the event loop in nodejs_eventloop_lag_max_seconds (every turn is measured, no sampling timer)', async () => {
    const metrics = new VipdMetrics({ defaultMetrics: true });
    const { port } = await serve(metrics);
    await get(port, '/metrics'); // what came before is in this scrape
    // 80 ms of JS that does not return: one turn of the loop at least that long.
    const until = performance.now() + 80;
    while (performance.now() < until) {
      /* busy */
    }
    const body = (await get(port, '/metrics')).body;
    const value = (name: string): number => Number(samples(body, name)[0]?.split(' ')[1]);
    expect(typeOf(body, 'nodejs_eventloop_lag_max_seconds')).toBe('gauge');
    expect(value('nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.08);
    expect(value('nodejs_eventloop_lag_min_seconds')).toBeLessThanOrEqual(value('nodejs_eventloop_lag_p50_seconds'));
    expect(value('nodejs_eventloop_lag_p99_seconds')).toBeLessThanOrEqual(value('nodejs_eventloop_lag_max_seconds'));
    expect(value('nodejs_eventloop_lag_mean_seconds')).toBeGreaterThan(0);
  });

  it('reads the kernel counters at scrape time, once per scrape', async () => {
    const dp = new FakeDataplane();
    const metrics = new VipdMetrics({ dataplane: dp, defaultMetrics: false });
    const { port } = await serve(metrics);
    let body = (await get(port, '/metrics')).body;
    expect(dp.reads).toBe(1);
    expect(samples(body, 'vipd_xdp_verdicts_total')).toEqual([
      'vipd_xdp_verdicts_total{reason="pass_not_vip"} 10',
      'vipd_xdp_verdicts_total{reason="tx_forward"} 1099511627776',
      'vipd_xdp_verdicts_total{reason="drop_no_backend"} 0',
    ]);
    expect(samples(body, 'vipd_service_packets_total')).toEqual(['vipd_service_packets_total{service="web"} 1000']);
    expect(samples(body, 'vipd_service_bytes_total')).toEqual(['vipd_service_bytes_total{service="web"} 64000']);
    expect(samples(body, 'vipd_backend_packets_total')).toEqual([
      'vipd_backend_packets_total{service="web",backend="10.0.0.11"} 600',
      'vipd_backend_packets_total{service="web",backend="10.0.0.12"} 400',
    ]);

    // New totals from the kernel, and a backend gone: no stale series.
    dp.counters = {
      verdicts: { pass_not_vip: 15n },
      services: [{ service: 'web', packets: 1500n, bytes: 96_000n }],
      backends: [{ service: 'web', backend: '10.0.0.11', packets: 1500n, bytes: 0n }],
    };
    body = (await get(port, '/metrics')).body;
    expect(dp.reads).toBe(2);
    expect(samples(body, 'vipd_xdp_verdicts_total')).toEqual(['vipd_xdp_verdicts_total{reason="pass_not_vip"} 15']);
    expect(samples(body, 'vipd_backend_packets_total')).toEqual([
      'vipd_backend_packets_total{service="web",backend="10.0.0.11"} 1500',
    ]);
  });

  it('a failing data plane read hides the kernel series, logs, and keeps the rest', async () => {
    const dp = new FakeDataplane();
    dp.fail = true;
    const warnings: string[] = [];
    const metrics = new VipdMetrics({ dataplane: dp, defaultMetrics: false, logger: { warn: ((_o: unknown, m: string) => void warnings.push(m)) as never } });
    metrics.setFailoverSeconds(0.012);
    const { port } = await serve(metrics);
    const res = await get(port, '/metrics');
    expect(res.status).toBe(200);
    expect(samples(res.body, 'vipd_xdp_verdicts_total')).toEqual([]);
    expect(samples(res.body, 'vipd_failover_seconds')).toEqual(['vipd_failover_seconds 0.012']);
    expect(warnings).toHaveLength(1);
  });

  it('without a data plane the kernel series are absent', async () => {
    const metrics = new VipdMetrics({ defaultMetrics: false });
    const body = await metrics.metrics();
    expect(samples(body, 'vipd_service_packets_total')).toEqual([]);
    metrics.setDataplane(new FakeDataplane());
    expect(samples(await metrics.metrics(), 'vipd_service_packets_total')).toHaveLength(1);
  });

  it('daemon-side metrics: state, transitions, adverts, invalid, backend up', async () => {
    const metrics = new VipdMetrics({ defaultMetrics: false });
    metrics.declareInstance('web');
    let body = await metrics.metrics();
    expect(samples(body, 'vipd_vrrp_state')).toEqual(['vipd_vrrp_state{instance="web"} 0']);
    expect(samples(body, 'vipd_vrrp_transitions_total')).toEqual([
      'vipd_vrrp_transitions_total{instance="web",to="INIT"} 0',
      'vipd_vrrp_transitions_total{instance="web",to="BACKUP"} 0',
      'vipd_vrrp_transitions_total{instance="web",to="MASTER"} 0',
      'vipd_vrrp_transitions_total{instance="web",to="FAULT"} 0',
    ]);

    metrics.transition('web', 'BACKUP');
    metrics.transition('web', 'MASTER');
    metrics.advert('web', 'tx');
    metrics.advert('web', 'tx');
    metrics.advert('web', 'rx');
    metrics.rxInvalid('web', 'checksum');
    metrics.setBackendUp('web', '10.0.0.11', true);
    metrics.setBackendUp('web', '10.0.0.12', false);
    metrics.setFailoverSeconds(0.0042);
    body = await metrics.metrics();
    expect(samples(body, 'vipd_vrrp_state')).toEqual(['vipd_vrrp_state{instance="web"} 2']);
    expect(samples(body, 'vipd_vrrp_transitions_total')).toContain('vipd_vrrp_transitions_total{instance="web",to="MASTER"} 1');
    expect(samples(body, 'vipd_vrrp_adverts_total')).toEqual([
      'vipd_vrrp_adverts_total{instance="web",direction="rx"} 1',
      'vipd_vrrp_adverts_total{instance="web",direction="tx"} 2',
    ]);
    expect(samples(body, 'vipd_vrrp_rx_invalid_total')).toEqual(['vipd_vrrp_rx_invalid_total{instance="web",reason="checksum"} 1']);
    expect(samples(body, 'vipd_backend_up')).toEqual([
      'vipd_backend_up{service="web",backend="10.0.0.11"} 1',
      'vipd_backend_up{service="web",backend="10.0.0.12"} 0',
    ]);
    expect(samples(body, 'vipd_failover_seconds')).toEqual(['vipd_failover_seconds 0.0042']);

    // A reload that removes things removes their series.
    metrics.removeBackend('web', '10.0.0.12');
    metrics.removeInstance('web');
    body = await metrics.metrics();
    expect(samples(body, 'vipd_backend_up')).toEqual(['vipd_backend_up{service="web",backend="10.0.0.11"} 1']);
    for (const name of ['vipd_vrrp_state', 'vipd_vrrp_transitions_total', 'vipd_vrrp_adverts_total', 'vipd_vrrp_rx_invalid_total']) {
      expect(samples(body, name), name).toEqual([]);
    }
    metrics.removeBackend('web');
    expect(samples(await metrics.metrics(), 'vipd_backend_up')).toEqual([]);
  });

  it('perBackend: false drops the per-backend series and keeps the per-service ones (thousands of backends)', async () => {
    const counters = {
      verdicts: {},
      services: [{ service: 'web', packets: 10n, bytes: 1000n }],
      backends: [{ service: 'web', backend: '10.0.0.11', packets: 10n, bytes: 1000n }],
    };
    const metrics = new VipdMetrics({ defaultMetrics: false, perBackend: false, dataplane: { readCounters: () => counters } });
    metrics.setBackendUp('web', '10.0.0.11', true);
    metrics.setBackendUp('web', '10.0.0.12', false);
    metrics.setBackendUp('web', '10.0.0.13', true);
    const body = await metrics.metrics();
    expect(body).not.toMatch(/^vipd_backend_/m);
    expect(samples(body, 'vipd_service_backends_up')).toEqual(['vipd_service_backends_up{service="web"} 2']);
    expect(samples(body, 'vipd_service_packets_total')).toEqual(['vipd_service_packets_total{service="web"} 10']);
    metrics.removeBackend('web', '10.0.0.13');
    expect(samples(await metrics.metrics(), 'vipd_service_backends_up')).toEqual(['vipd_service_backends_up{service="web"} 1']);
    metrics.removeBackend('web');
    expect(samples(await metrics.metrics(), 'vipd_service_backends_up')).toEqual([]);
  });

  it('two instances do not share a registry', async () => {
    const a = new VipdMetrics({ defaultMetrics: false });
    const b = new VipdMetrics({ defaultMetrics: false });
    a.setFailoverSeconds(1);
    expect(samples(await b.metrics(), 'vipd_failover_seconds')).toEqual(['vipd_failover_seconds 0']);
  });

  it('404 elsewhere, 405 for other methods, HEAD works', async () => {
    const { port } = await serve(new VipdMetrics({ defaultMetrics: false }));
    expect((await get(port, '/')).status).toBe(404);
    expect((await get(port, '/metricsx')).status).toBe(404);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
    const head = await get(port, '/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await get(port, '/metrics?name[]=x')).status).toBe(200);
  });

  it('a failing source gives 500 and the server keeps serving', async () => {
    let broken = true;
    const source = {
      contentType: 'text/plain',
      metrics: async () => {
        if (broken) throw new Error('boom');
        return 'ok\n';
      },
    };
    const errors: unknown[] = [];
    const server = new MetricsServer(source, '127.0.0.1:0', { warn: () => undefined, info: () => undefined, error: ((o: unknown) => void errors.push(o)) as never });
    const { port } = await server.listen();
    cleanup.push(() => server.close());
    expect((await get(port, '/metrics')).status).toBe(500);
    broken = false;
    expect(await get(port, '/metrics')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(errors).toHaveLength(1);
  });

  it('warns when bound to a non-loopback address, not when loopback', async () => {
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, m: string) => void warnings.push(m), error: () => undefined, info: () => undefined };
    await serve(new VipdMetrics({ defaultMetrics: false }), logger);
    expect(warnings).toEqual([]);
    const wide = new MetricsServer(new VipdMetrics({ defaultMetrics: false }), { host: '0.0.0.0', port: 0 }, logger as never);
    await wide.listen();
    cleanup.push(() => wide.close());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/non-loopback address 0\.0\.0\.0/);
  });

  it('reports a port already in use', async () => {
    const { port } = await serve(new VipdMetrics({ defaultMetrics: false }));
    const second = new MetricsServer(new VipdMetrics({ defaultMetrics: false }), { host: '127.0.0.1', port });
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('listen addresses', () => {
  it('parses host:port forms', () => {
    expect(parseListenAddress('127.0.0.1:9477')).toEqual({ host: '127.0.0.1', port: 9477 });
    expect(parseListenAddress('[::1]:9477')).toEqual({ host: '::1', port: 9477 });
    expect(parseListenAddress('localhost:1')).toEqual({ host: 'localhost', port: 1 });
    expect(() => parseListenAddress('::1:9477')).toThrow(RangeError);
    expect(() => parseListenAddress('127.0.0.1')).toThrow(RangeError);
    expect(() => parseListenAddress('127.0.0.1:70000')).toThrow(RangeError);
  });

  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '', '10.0.0.1', '2001:db8::1', 'example.com']) expect(isLoopback(h), h).toBe(false);
  });
});
