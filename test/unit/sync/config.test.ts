import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';

const base = (connections: string, auth = '') => `
connections:
${connections}
instances:
  - name: web
    interface: eth0
    vrid: 51
    vips: [192.0.2.10/32]${auth}
`;

describe('connections.sync config', () => {
  it('fills the defaults and keeps the key', () => {
    const r = parseConfig(base('  sync: { key: 0123456789abcdef }'), 'vipd.yaml');
    expect(r.ok && r.config.connections.sync).toEqual({
      port: 8899,
      peers: [],
      key: '0123456789abcdef',
      keySource: 'key',
      interval: 0.2,
      rate: 100_000,
      holdTimeout: 30,
    });
  });

  it("takes the key from an instance's auth when none is given", () => {
    const r = parseConfig(base('  sync: { peers: [192.0.2.2] }', '\n    version: 2\n    auth: { type: pass, password: secret12 }'), 'vipd.yaml');
    expect(r.ok ? [] : r.errors).toEqual([]);
    expect(r.ok && r.config.connections.sync?.keySource).toBe('vrrp-auth');
    expect(r.ok && r.config.connections.sync?.peers.map((p) => p.address)).toEqual(['192.0.2.2']);
  });

  it('refuses a sync without a key, a short key, and a peer listed twice', () => {
    const messages = (text: string) => {
      const r = parseConfig(text, 'vipd.yaml');
      return r.ok ? [] : r.errors.map((e) => `${e.keyPath}: ${e.message}`);
    };
    expect(messages(base('  sync: { port: 8899 }')).join('\n')).toMatch(/connections\.sync: needs key or keyFile/);
    expect(messages(base('  sync: { key: short }')).join('\n')).toMatch(/at least 16 bytes/);
    expect(messages(base('  sync: { key: 0123456789abcdef, peers: [192.0.2.2, 192.0.2.2] }')).join('\n')).toMatch(/listed twice/);
  });
});
