import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../../src/config/index.js';
import { importKeepalived, formatImportDiagnostic, type ImportOptions, type ImportResult } from '../../../src/config/keepalived/index.js';
import { runImportKeepalived } from '../../../src/cli/import-keepalived.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const vectorsDir = join(repoRoot, 'test/fixtures/keepalived-vectors');
const fixtures = join(repoRoot, 'test/fixtures/keepalived');
// Read at collection time: a missing fixture directory fails the file instead of skipping it.
const vectorFiles = readdirSync(vectorsDir).filter((f) => /^vec_.*\.conf$/.test(f)).sort();

/** Import, then prove the YAML passes the same validation as `vipd --check`. */
function importAndValidate(file: string, configId?: string, options: ImportOptions = {}): { result: ImportResult; config: Config; stderr: string[] } {
  const result = importKeepalived(file, { ...options, ...(configId === undefined ? {} : { configId }) });
  expect(result.yaml, 'no YAML produced').toBeDefined();
  const checked = parseConfig(result.yaml ?? '', 'converted.yaml');
  if (!checked.ok) throw new Error(checked.errors.map((e) => `${e.line} ${e.keyPath}: ${e.message}`).join('\n'));
  return { result, config: checked.config, stderr: result.diagnostics.map(formatImportDiagnostic) };
}

describe('keepalived vectors round trip (test/fixtures/keepalived-vectors)', () => {
  it('finds the vector configs', () => expect(vectorFiles).toHaveLength(18));

  it.each(vectorFiles)('%s converts to a valid vipd config', (name) => {
    const { result, config } = importAndValidate(join(vectorsDir, name));
    const [instance] = config.instances;
    expect(config.instances).toHaveLength(1);
    expect(instance?.name).toBe('VI_1');
    expect(instance?.interface).toBe('eth0');
    expect(instance?.priority).toBe(name.endsWith('_n1.conf') ? 150 : 100);
    expect(instance?.addAddresses).toBe(true);
    const partial = name.includes('_ah_');
    expect(result.exitCode).toBe(partial ? 1 : 0);
    // use_vmac: the VRRP virtual MAC.
    expect(instance?.vmac).toBe(name.includes('_vmac_'));
  });

  it('keeps the values keepalived puts on the wire', () => {
    const byName = (name: string): Config['instances'][number] | undefined =>
      importAndValidate(join(vectorsDir, name)).config.instances[0];
    expect(byName('vec_v2_pass_n1.conf')).toMatchObject({ version: 2, vrid: 52, advertInterval: 1, auth: { type: 'pass', password: 'ka-pass' } });
    expect(byName('vec_v2_pass_n1.conf')?.vips.map((v) => v.cidr)).toEqual(['10.77.0.100/24', '10.77.0.101/24']);
    expect(byName('vec_v3_ipv4_50ms_n1.conf')).toMatchObject({ version: 3, vrid: 62, advertIntervalCentis: 5, checksumMode: 'rfc' });
    expect(byName('vec_v3_ipv4_unicast_n2.conf')?.unicastPeers).toEqual([{ address: '10.77.0.11', family: 4 }]);
    expect(byName('vec_v3_ipv4_unicast_n1.conf')?.unicastSource).toEqual({ address: '10.77.0.11', family: 4 });
    expect(byName('vec_v3_ipv6_n1.conf')?.vips.map((v) => v.cidr)).toEqual(['fe80::77:100/64', 'fe80::77:101/64']);
    expect(byName('vec_v2_ah_n1.conf')?.auth).toBeUndefined();
  });
});

describe('keepalived import: fixtures', () => {
  it('converts a full LVS-DR config with includes, variables and a sync group, exit 0', () => {
    const { result, config, stderr } = importAndValidate(join(fixtures, 'full/keepalived.conf'));
    expect(stderr.filter((line) => !line.includes(': note: '))).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.yaml).toMatch(/^# vipd config converted from .*full\/keepalived\.conf/);
    expect(result.yaml).not.toMatch(/[&*]a1/);

    const web = config.instances.find((i) => i.name === 'VI_WEB');
    expect(web).toMatchObject({
      interface: 'eth0', vrid: 51, version: 3, priority: 150, advertIntervalCentis: 10, preempt: true, preemptDelay: 30,
      unicastSource: { address: '192.0.2.11', family: 4 }, unicastPeers: [{ address: '192.0.2.12', family: 4 }],
      garp: { repeat: 3, interval: 0, delay: 5, refresh: 60 },
      track: {
        interfaces: [{ name: 'eth1', weight: -30 }],
        scripts: [{ name: 'chk_haproxy', command: ['/usr/bin/pgrep', '-x', 'haproxy'], interval: 2, timeout: 2, weight: -20, rise: 2, fall: 3 }],
      },
      notify: { backup: ['/usr/local/bin/notify.sh', 'backup'] },
    });
    expect(web?.vips.map((v) => v.cidr)).toEqual(['203.0.113.10/24', '203.0.113.11/24']);
    const db = config.instances.find((i) => i.name === 'VI_DB');
    expect(db).toMatchObject({ version: 2, vrid: 52, auth: { type: 'pass', password: 's3cret' } });
    expect(db?.track.scripts[0]?.weight).toBe(-50);
    expect(config.syncGroups).toEqual([{
      name: 'VG_1', instances: ['VI_WEB', 'VI_DB'],
      notify: { master: ['/usr/local/bin/notify.sh', 'group-master'], fault: ['/usr/local/bin/notify.sh', 'group-fault'] },
    }]);

    const service = (name: string): Config['services'][number] | undefined => config.services.find((s) => s.name === name);
    expect(service('203.0.113.10:80/tcp')).toMatchObject({
      instance: 'VI_WEB',
      backends: [{ address: '10.0.0.11', weight: 100 }, { address: '10.0.0.12', weight: 50 }],
      healthCheck: { type: 'http', path: '/healthz', expectStatus: 200, interval: 5, timeout: 2, rise: 1, fall: 3 },
    });
    expect(service('203.0.113.10:443/tcp')?.healthCheck).toMatchObject({ type: 'https', path: '/ready', expectStatus: 204, host: 'www.example.com', interval: 10, timeout: 3, fall: 2 });
    expect(service('203.0.113.11:5432/tcp')?.healthCheck).toEqual({ type: 'tcp', port: 5433, interval: 60, timeout: 1, rise: 1, fall: 2 });
    expect(service('203.0.113.20:53/udp')).toMatchObject({
      instance: 'VI_DB',
      healthCheck: { type: 'command', command: ['/usr/lib/vipd/check-dns', '10.0.0.31', '53'], interval: 3, timeout: 2, fall: 1 },
    });
  });

  it('reports everything it cannot convert, by file and line, and still converts the rest (exit 1)', () => {
    // A search path without pgrep: the importer cannot resolve "pgrep" and says so.
    const { result, config, stderr } = importAndValidate(join(fixtures, 'partial/keepalived.conf'), undefined, { searchPath: '/nonexistent' });
    expect(result.exitCode).toBe(1);
    const file = join(fixtures, 'partial/keepalived.conf');
    const expected = [
      `${file}:3: notification_email: vipd sends no e-mail`,
      `${file}:9: include missing/*.conf: no file matches`,
      `${file}:12: script pgrep haproxy: "pgrep" is not on this host's PATH (/nonexistent); written as /usr/bin/pgrep`,
      `${file}:15: vrrp_instanec VI_TYPO: unknown keyword in the top level (did you mean "vrrp_instance"?)`,
      `${file}:22: @lb2: line skipped`,
      `${file}:24: auth_type AH: vipd does not do IPsec AH`,
      `${file}:29: 198.51.100.10/24 label eth0:vip: `,
      `${file}:34: notify /usr/local/bin/notify-all.sh: vipd runs one command per state: not run on master`,
      `${file}:40: lb_kind NAT: vipd forwards by direct routing only (it rewrites the destination MAC); virtual_server not converted. ` +
        'To move it to vipd, switch it to DR: each real server holds the VIP on lo (ip addr add 198.51.100.10/32 dev lo) with net.ipv4.conf.all.arp_ignore=1 and arp_announce=2',
      `${file}:53: SMTP_CHECK: vipd has no SMTP check; service 198.51.100.10:25/tcp is left without a health check: every backend counts as up`,
      `${file}:57: real_server 10.0.0.12 26: direct routing does not translate ports`,
    ];
    for (const start of expected) expect(stderr.some((line) => line.startsWith(start)), start).toBe(true);
    expect(config.instances.map((i) => i.name)).toEqual(['VI_AH']);
    expect(config.instances[0]?.auth).toBeUndefined();
    expect(config.instances[0]?.notify).toEqual({
      master: ['/usr/local/bin/master.sh'], backup: ['/usr/local/bin/notify-all.sh'],
      fault: ['/usr/local/bin/notify-all.sh'], stop: ['/usr/local/bin/notify-all.sh'],
    });
    // The NAT service is gone; the DR one stays without its SMTP check.
    expect(config.services.map((s) => s.name)).toEqual(['198.51.100.10:25/tcp']);
    expect(config.services[0]?.healthCheck).toBeUndefined();
    // persistence_timeout 300 (line 50) converts: one client address -> one real server.
    expect(stderr.filter((line) => line.includes('persistence_timeout'))).toEqual([]);
    expect(config.services[0]?.persistence).toEqual({ timeout: 300 });
  });

  it('selects @id lines with a config id', () => {
    const file = join(fixtures, 'conditional/keepalived.conf');
    const lb1 = importAndValidate(file, 'lb1');
    expect(lb1.result.exitCode).toBe(0);
    expect(lb1.config.instances[0]).toMatchObject({ priority: 150, preempt: true });
    const lb2 = importAndValidate(file, 'lb2');
    expect(lb2.config.instances[0]).toMatchObject({ priority: 100, preempt: false });
    const none = importAndValidate(file);
    expect(none.result.exitCode).toBe(1);
    expect(none.stderr.filter((l) => l.includes('--config-id'))).toHaveLength(2);
  });

  it('survives an include loop and an unbalanced brace', () => {
    const { result, stderr } = importAndValidate(join(fixtures, 'loop/keepalived.conf'));
    expect(result.exitCode).toBe(1);
    expect(stderr.some((l) => /:1: include keepalived\.conf: .*includes itself/.test(l))).toBe(true);
    expect(stderr.some((l) => /:10: }: no block is open here/.test(l))).toBe(true);
  });

  it('exits 2 for an unreadable file or one with nothing to convert', () => {
    expect(importKeepalived(join(fixtures, 'does-not-exist.conf')).exitCode).toBe(2);
    expect(importKeepalived(fixtures).exitCode).toBe(2);
  });
});

describe('vipctl import-keepalived', () => {
  function run(args: { file: string; configId?: string }): { code: number; stdout: string; stderr: string[] } {
    let stdout = '';
    const stderr: string[] = [];
    const code = runImportKeepalived(args.file, args.configId === undefined ? {} : { configId: args.configId }, {
      out: (text) => { stdout += text; },
      err: (line) => { stderr.push(line); },
    });
    return { code, stdout, stderr };
  }

  it('prints YAML on stdout and what was not converted on stderr, with the exit code', () => {
    const full = run({ file: join(fixtures, 'full/keepalived.conf') });
    expect(full.code).toBe(0);
    expect(full.stdout).toContain('instances:');
    expect(full.stderr.every((l) => l.includes(': note: '))).toBe(true);

    const partial = run({ file: join(fixtures, 'partial/keepalived.conf') });
    expect(partial.code).toBe(1);
    expect(partial.stderr.find((l) => l.includes(':24: auth_type AH:'))).toMatch(/^\S+partial\/keepalived\.conf:24: auth_type AH: vipd does not do IPsec AH/);
    // use_vmac is converted (vmac: true), so nothing is said about it.
    expect(partial.stderr.filter((l) => l.includes('use_vmac'))).toEqual([]);
    expect(partial.stdout).toContain('vmac: true');

    const missing = run({ file: '/nonexistent/keepalived.conf' });
    expect(missing).toEqual({ code: 2, stdout: '', stderr: ['/nonexistent/keepalived.conf: keepalived config: cannot read the file'] });
  });

  it('is registered on the vipctl command line', async () => {
    const { buildCliCommand } = await import('../../../src/cli/main.js');
    const command = buildCliCommand().commands.find((c) => c.name() === 'import-keepalived');
    expect(command?.options.map((o) => o.long)).toEqual(['--config-id']);
  });
});

describe('docs/migrating-from-keepalived.md', () => {
  it('shows the real output of its worked example', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const docs = readFileSync(join(repoRoot, 'docs/migrating-from-keepalived.md'), 'utf8');
    const conf = /on lb1:\n\n```\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const stderr = /prints on stderr\n\n```\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const yaml = /and writes\n\n```yaml\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'vipd-doc-'));
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, conf);
    const result = importKeepalived(file);
    const asDocumented = (text: string): string => text.replaceAll(file, '/etc/keepalived/keepalived.conf');
    expect(result.exitCode).toBe(0);
    expect(asDocumented(result.yaml ?? '')).toBe(yaml);
    expect(result.diagnostics.map((d) => asDocumented(formatImportDiagnostic(d))).join('\n') + '\n').toBe(stderr);
  });
});
