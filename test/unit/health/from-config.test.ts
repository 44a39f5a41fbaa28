import { describe, expect, expectTypeOf, it } from 'vitest';
import type { HealthCheckConfig } from '../../../src/config/schema.js';
import { checkSpecFromConfig, type ConfigHealthCheck } from '../../../src/health/from-config.js';

const timing = { interval: 1, timeout: 0.5, rise: 2, fall: 3 };

describe('checkSpecFromConfig', () => {
  it('the config schema still fits the structural input type', () => {
    expectTypeOf<HealthCheckConfig>().toExtend<ConfigHealthCheck>();
  });

  it('tcp defaults to the service port and converts seconds to ms', () => {
    expect(checkSpecFromConfig({ type: 'tcp', ...timing }, { service: 'web', servicePort: 80, backend: '10.0.0.11' })).toEqual({
      service: 'web',
      backend: '10.0.0.11',
      probe: { type: 'tcp', host: '10.0.0.11', port: 80 },
      intervalMs: 1000,
      timeoutMs: 500,
      rise: 2,
      fall: 3,
    });
  });

  it('http maps host, status and tlsVerify', () => {
    const spec = checkSpecFromConfig(
      { type: 'https', ...timing, port: 8443, path: '/healthz', expectStatus: 204, host: 'www.example.test', tlsVerify: false },
      { service: 'web', servicePort: 443, backend: '10.0.0.11', initialState: 'down' },
    );
    expect(spec.probe).toEqual({
      type: 'https',
      host: '10.0.0.11',
      port: 8443,
      path: '/healthz',
      expectStatus: 204,
      hostHeader: 'www.example.test',
      insecure: true,
    });
    expect(spec.initialState).toBe('down');
  });

  it('command gets the backend in its environment', () => {
    const spec = checkSpecFromConfig({ type: 'command', ...timing, command: ['/usr/local/bin/check'] }, { service: 'web', servicePort: 80, backend: '10.0.0.11' });
    expect(spec.probe).toEqual({
      type: 'command',
      argv: ['/usr/local/bin/check'],
      env: { VIPD_SERVICE: 'web', VIPD_BACKEND: '10.0.0.11', VIPD_PORT: '80' },
    });
  });
});
