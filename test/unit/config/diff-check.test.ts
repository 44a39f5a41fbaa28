import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkConfigFile, diffConfig, parseConfig, type Config } from '../../../src/config/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const BASE = `instances:
  - { name: web, interface: eth0, vrid: 51, vips: [203.0.113.42, 203.0.113.43] }
  - { name: db, interface: eth0, vrid: 52, vips: [203.0.113.50] }
services:
  - { vip: 203.0.113.42, port: 80, instance: web, backends: [{ address: 10.0.0.11 }, { address: 10.0.0.12 }] }
  - { vip: 203.0.113.50, port: 5432, instance: db, backends: [{ address: 10.0.0.21 }] }
`;

function config(text: string): Config {
  const result = parseConfig(text, 't.yaml');
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.config;
}

describe('diffConfig', () => {
  it('finds nothing between equal configs', () => {
    expect(diffConfig(config(BASE), config(BASE)).empty).toBe(true);
  });

  it('separates instance, service and backend changes', () => {
    const next = BASE
      .replace('vrid: 52', 'vrid: 52, priority: 120')
      .replace("{ address: 10.0.0.12 }", "{ address: 10.0.0.12, weight: 5 }, { address: 10.0.0.13 }")
      .replace('{ address: 10.0.0.11 }, ', '')
      + `  - { vip: 203.0.113.43, port: 443, instance: web, backends: [{ address: 10.0.0.11 }] }\n`;
    const diff = diffConfig(config(BASE), config(next));
    expect(diff.empty).toBe(false);
    expect(diff.instances).toEqual({ added: [], removed: [], changed: ['db'] });
    expect(diff.services).toEqual({ added: ['203.0.113.43:443/tcp'], removed: [], changed: [] });
    expect(diff.backends).toEqual([{ service: '203.0.113.42:80/tcp', added: ['10.0.0.13'], removed: ['10.0.0.11'], changed: ['10.0.0.12'] }]);
    expect(diff.bpfChanged || diff.controlChanged).toBe(false);
  });

  it('reports removed instances and a changed service check', () => {
    const next = `instances:
  - { name: web, interface: eth0, vrid: 51, vips: [203.0.113.42, 203.0.113.43] }
services:
  - { vip: 203.0.113.42, port: 80, instance: web, backends: [{ address: 10.0.0.11 }, { address: 10.0.0.12 }], healthCheck: { type: tcp } }
control: { metrics: "127.0.0.1:9999" }
`;
    const diff = diffConfig(config(BASE), config(next));
    expect(diff.instances.removed).toEqual(['db']);
    expect(diff.services).toEqual({ added: [], removed: ['203.0.113.50:5432/tcp'], changed: ['203.0.113.42:80/tcp'] });
    expect(diff.controlChanged).toBe(true);
  });
});

describe('vipd --check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-check-'));
  const good = join(dir, 'good.yaml');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(good, BASE);
  writeFileSync(bad, BASE.replace('vrid: 51', 'vrid: 0').replace('port: 80', 'prot: 80'));

  it('prints a verdict or every error, with the exit code', async () => {
    const lines: string[] = [];
    const output = { out: (l: string) => lines.push(`out ${l}`), err: (l: string) => lines.push(`err ${l}`) };
    expect(await checkConfigFile(good, output)).toBe(0);
    expect(await checkConfigFile(bad, output)).toBe(2);
    expect(lines).toEqual([
      `out ${good}: ok (2 instances, 2 services)`,
      expect.stringMatching(/^out data plane: maps need [\d.]+ MiB of bpf\.maxMemory 1\.0 GiB \(room for 64 services, 1024 backends, 256 VIPs\)$/),
      expect.stringMatching(/^out connection table: IPv4 1000000 flows [\d.]+ MiB, IPv6 unused .*, pending 65536 tags [\d.]+ MiB \(\d+ B per IPv4 flow/),
      `err ${bad}:2:41: instances[0].vrid: must be in 1..255, got 0`,
      `err ${bad}:5:5: services[0].port: "port" is required`,
      expect.stringMatching(/services\[0\]\.prot: unknown key "prot" \(did you mean "port"\?\)/),
      `err ${bad}: 3 errors`,
    ]);
  });

  // The built binaries, when `npm run build` has been run: same behaviour end to end.
  const built = existsSync(join(repoRoot, 'dist/src/daemon/main.js')) && existsSync(join(repoRoot, 'dist/src/config/check.js'));
  it.skipIf(!built)('bin/vipd --check and bin/vipctl import-keepalived exit with the documented codes', () => {
    const ok = spawnSync(process.execPath, [join(repoRoot, 'bin/vipd'), '--check', good], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout.split('\n')[0]).toBe(`${good}: ok (2 instances, 2 services)`);
    const failed = spawnSync(process.execPath, [join(repoRoot, 'bin/vipd'), '--check', bad], { encoding: 'utf8' });
    expect(failed.status).toBe(2);
    expect(failed.stderr).toContain('instances[0].vrid: must be in 1..255, got 0');
    const partial = join(repoRoot, 'test/fixtures/keepalived/partial/keepalived.conf');
    const imported = spawnSync(process.execPath, [join(repoRoot, 'bin/vipctl'), 'import-keepalived', partial], { encoding: 'utf8' });
    expect(imported.status).toBe(1);
    expect(imported.stdout).toMatch(/^# vipd config converted/);
    expect(imported.stderr).toContain(`${partial}:40: lb_kind NAT: `);
    const missing = spawnSync(process.execPath, [join(repoRoot, 'bin/vipctl'), 'import-keepalived', '/nonexistent.conf'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
  });
});
