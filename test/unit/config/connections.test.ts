/** `connections:` and a service's `persistence:` (docs/configuration.md). */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { dataplaneFootprint } from '../../../src/config/capacity.js';

const BASE = [
  'instances:',
  '  - name: web',
  '    interface: eth0',
  '    vrid: 51',
  '    vips: [10.1.0.1]',
  'services:',
  '  - vip: 10.1.0.1',
  '    port: 443',
  '    instance: web',
  '    backends: [{ address: 10.2.0.1 }, { address: 10.2.0.2 }]',
].join('\n');

describe('connections', () => {
  it('defaults to DESIGN.md values; a service has no persistence unless it says so', () => {
    const r = parseConfig(`${BASE}\n`, 'vipd.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.connections).toEqual({ max: 1_000_000, pending: 65_536, tcpTimeout: 900, udpTimeout: 60 });
    expect(r.config.services[0]?.persistence).toBeUndefined();
  });

  it('reads max and timeouts, and persistence.timeout; the flow maps follow max, IPv6 unused', () => {
    const text = `connections: { max: 50000, tcpTimeout: 300, udpTimeout: 30 }\n${BASE}\n    persistence: { timeout: 600 }\n`;
    const r = parseConfig(text, 'vipd.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.connections).toEqual({ max: 50_000, pending: 65_536, tcpTimeout: 300, udpTimeout: 30 });
    expect(r.config.services[0]?.persistence).toEqual({ timeout: 600 });
    expect(dataplaneFootprint(r.config).sizes).toMatchObject({ flows4: 50_000, flows6: 1, pending4: 65_536, pending6: 1 });
  });

  it('reads pending: both pending stages get that many tags, rounded up to a power of two', () => {
    const r = parseConfig(`connections: { max: 50000, pending: 200000 }\n${BASE}\n`, 'vipd.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.connections.pending).toBe(200_000);
    expect(dataplaneFootprint(r.config).sizes).toMatchObject({ flows4: 50_000, pending4: 262_144, pending6: 1 });
  });

  it('errors name the key and its line', () => {
    const text = `connections:\n  max: 10\n  tcpTimeout: -1\n  idle: 5\n${BASE}\n    persistence: { timeout: 0 }\n`;
    const r = parseConfig(text, 'vipd.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const at = r.errors.map((e) => `${e.keyPath}@${e.line}`);
    expect(at).toEqual(['connections.max@2', 'connections.tcpTimeout@3', 'connections.idle@4', 'services[0].persistence.timeout@15']);
  });

  it('a pending size out of range is an error naming connections.pending and its line', () => {
    const r = parseConfig(`connections:\n  pending: 100\n${BASE}\n`, 'vipd.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.keyPath}@${e.line}`)).toEqual(['connections.pending@2']);
  });
});
