/**
 * import-keepalived on the shapes found in real keepalived.conf files
 * (issue 17 part A): every fixture in test/fixtures/keepalived/real-world
 * covers one item, and every fixture of the importer converts to YAML that
 * `vipd --check` (parseConfig) accepts.
 */
import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../../src/config/index.js';
import { formatImportDiagnostic, importKeepalived, type ImportOptions, type ImportResult } from '../../../src/config/keepalived/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = join(repoRoot, 'test/fixtures/keepalived');
const realWorld = join(fixtures, 'real-world');
/** A search path where no program exists, so results do not depend on this host. */
const EMPTY_PATH = { searchPath: '/nonexistent' };

interface Imported {
  result: ImportResult;
  config: Config;
  /** stderr lines without the file name: `LINE: what: reason`. */
  lines: string[];
}

function importFixture(name: string, options: ImportOptions = EMPTY_PATH): Imported {
  const file = join(realWorld, name);
  const result = importKeepalived(file, options);
  const checked = parseConfig(result.yaml ?? '', 'converted.yaml');
  if (!checked.ok) throw new Error(checked.errors.map((e) => `${e.line} ${e.keyPath}: ${e.message}`).join('\n'));
  const lines = result.diagnostics.map((d) => formatImportDiagnostic(d).slice(`${file}:`.length));
  return { result, config: checked.config, lines };
}

function lineAt(lines: readonly string[], line: number): string {
  const found = lines.filter((l) => l.startsWith(`${line}: `));
  expect(found, `one diagnostic at line ${line} in\n${lines.join('\n')}`).toHaveLength(1);
  return found[0] ?? '';
}

/** A directory holding one executable, to stand for PATH. */
function pathWith(program: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-ka-path-'));
  writeFileSync(join(dir, program), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, program), 0o755);
  return dir;
}

describe('import-keepalived on real configs', () => {
  it('1: resolves bare script names on PATH, runs shell syntax through /bin/sh, and keeps tracking an unresolvable name', () => {
    const bin = pathWith('killall');
    const { result, config, lines } = importFixture('bare-script-names.conf', { searchPath: `/nonexistent:${bin}` });
    const scripts = Object.fromEntries((config.instances[0]?.track.scripts ?? []).map((s) => [s.name, s.command]));
    expect(scripts).toEqual({
      chk_haproxy: [join(bin, 'killall'), '-0', 'haproxy'],
      chk_apiserver: ['/bin/sh', '-c', '</dev/tcp/127.0.0.1/6443'],
      chk_pipeline: ['/bin/sh', '-c', 'pidof haproxy && curl -sf http://127.0.0.1:8404/healthz >/dev/null'],
      chk_not_here: ['/usr/bin/check_not_installed', '--quiet'],
    });
    expect(lineAt(lines, 3)).toContain(`note: "killall" resolved on PATH to ${join(bin, 'killall')}`);
    expect(lineAt(lines, 8)).toMatch(/note: keepalived runs a script starting with "<\/" through \/bin\/sh/);
    expect(lineAt(lines, 12)).toMatch(/"&&" needs a shell.*converted to \[\/bin\/sh, -c, \.\.\.\]/);
    expect(lineAt(lines, 12)).not.toContain('note:');
    expect(lineAt(lines, 15)).toMatch(/"check_not_installed" is not on this host's PATH .*written as \/usr\/bin\/check_not_installed/);
    expect(result.exitCode).toBe(1);
  });

  it('1: runs a notify command that needs a shell with its appended arguments as $1..$4', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-ka-'));
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, 'vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n' +
      ' notify_master "/usr/bin/logger -t vrrp $1 > /dev/null"\n}\n');
    const result = importKeepalived(file, EMPTY_PATH);
    const checked = parseConfig(result.yaml ?? '', 'converted.yaml');
    expect(checked.ok && checked.config.instances[0]?.notify.master).toEqual(['/bin/sh', '-c', '/usr/bin/logger -t vrrp $1 > /dev/null', 'sh']);
  });

  it('2: drops authentication where vrrp_strict (or strict_mode) makes keepalived ignore it', () => {
    const { config, lines } = importFixture('strict-auth.conf');
    const [strict, relaxed] = config.instances;
    expect(strict?.auth).toBeUndefined();
    expect(strict?.preemptDelay).toBe(0);
    expect(lineAt(lines, 16)).toMatch(/authentication: note: keepalived ignores authentication in strict mode \(.*strict-auth\.conf:5\)/);
    expect(lineAt(lines, 13)).toContain('preempt_delay 10: note: keepalived ignores preempt_delay in strict mode');
    // `strict_mode off` in the instance overrides the global.
    expect(relaxed?.auth).toEqual({ type: 'pass', password: '2222' });
  });

  it('3: removes repeats with a diagnostic at the keepalived line, so the YAML passes --check', () => {
    const { result, config, lines } = importFixture('duplicates.conf');
    expect(result.validationErrors).toEqual([]);
    const [vi1] = config.instances;
    expect(vi1?.vips.map((v) => v.cidr)).toEqual(['192.0.2.100/24', '192.0.2.101/24']);
    expect(vi1?.unicastPeers.map((p) => p.address)).toEqual(['192.0.2.12']);
    expect(vi1?.track.interfaces).toEqual([{ name: 'eth1', weight: 0 }]);
    expect(vi1?.track.scripts.map((s) => s.name)).toEqual(['chk']);
    expect(config.syncGroups[0]?.instances).toEqual(['VI_1', 'VI_2']);
    expect(lineAt(lines, 11)).toContain('peer 192.0.2.12 is already listed');
    expect(lineAt(lines, 12)).toContain('2001:db8::12: the first peer 192.0.2.12 is IPv4');
    expect(lineAt(lines, 17)).toContain('192.0.2.100 is already listed (as 192.0.2.100/24)');
    expect(lineAt(lines, 21)).toContain('eth1 is already tracked');
    expect(lineAt(lines, 25)).toContain('"chk" is already tracked');
    expect(lineAt(lines, 39)).toContain('VI_1: note: already a member of this group');
  });

  it('4: state MASTER gets priority 255 by default and ignores nopreempt and preempt_delay, as in keepalived', () => {
    const { result, config, lines } = importFixture('state-master.conf');
    const byName = new Map(config.instances.map((i) => [i.name, i]));
    expect(byName.get('OWNER')).toMatchObject({ priority: 255, preempt: true, preemptDelay: 0 });
    expect(byName.get('MASTER_150')).toMatchObject({ priority: 150, preempt: true, preemptDelay: 0 });
    expect(byName.get('BACKUP_100')).toMatchObject({ priority: 100, preempt: false });
    expect(byName.get('BACKUP_DELAY')).toMatchObject({ priority: 100, preempt: true, preemptDelay: 30 });
    expect(lineAt(lines, 3)).toContain('state MASTER: note: no priority: keepalived makes an initial MASTER the address owner (priority 255)');
    expect(lineAt(lines, 6)).toContain('nopreempt: note: keepalived ignores nopreempt at priority 255');
    expect(lineAt(lines, 16)).toMatch(/nopreempt: note: keepalived ignores nopreempt with state MASTER \(.*:12\)/);
    expect(lineAt(lines, 17)).toContain('preempt_delay 30: note: keepalived ignores preempt_delay with state MASTER');
    expect(result.exitCode).toBe(0);
  });

  it('5: keeps a real server\'s own MISC_CHECK as that backend\'s health check', () => {
    const { result, config } = importFixture('per-server-checks.conf');
    const [service] = config.services;
    expect(service?.healthCheck).toMatchObject({ type: 'command', command: ['/usr/lib/vipd/check-dns', '10.0.0.31'] });
    const checkOf = (address: string): unknown => service?.backends.find((b) => b.address === address)?.healthCheck;
    expect(checkOf('10.0.0.31')).toBeUndefined();
    expect(checkOf('10.0.0.32')).toMatchObject({ type: 'command', command: ['/usr/lib/vipd/check-dns', '10.0.0.32'], interval: 5 });
    // Same command as the service's: no override needed.
    expect(checkOf('10.0.0.33')).toBeUndefined();
    expect(result.exitCode).toBe(0);
  });

  it('6: says which service or backend is left without a health check, and what to do about NAT, TUN and persistence; converts use_vmac', () => {
    const { config, lines } = importFixture('unsupported-forwarding.conf');
    // use_vmac converts (vmac: true): nothing to say about it.
    expect(lines.filter((l) => l.includes('use_vmac'))).toEqual([]);
    expect(config.instances[0]?.vmac).toBe(true);
    expect(lineAt(lines, 15)).toMatch(/UDP_CHECK: vipd has no UDP check yet; service 192\.0\.2\.100:53\/udp is left without a health check: every backend counts as up/);
    expect(lineAt(lines, 28)).toMatch(/PING_CHECK: vipd has no ICMP \(ping\) check yet; backend 10\.0\.0\.42 gets the service's TCP_CHECK \(line 23\) instead/);
    expect(lineAt(lines, 35)).toMatch(/SMTP_CHECK: vipd has no SMTP check; backend 10\.0\.0\.43 is checked by its TCP_CHECK \(line 32\) only/);
    expect(lineAt(lines, 40)).toMatch(/lb_kind NAT: vipd forwards by direct routing only.*switch it to DR: each real server holds the VIP on lo \(ip addr add 192\.0\.2\.100\/32 dev lo\) with net\.ipv4\.conf\.all\.arp_ignore=1 and arp_announce=2.*keep this service on IPVS/);
    expect(lineAt(lines, 45)).toMatch(/lb_kind TUN: .*switch it to DR/);
    // persistence_timeout converts (persistence: { timeout }): nothing to say about it; the TUN service is dropped anyway.
    expect(lines.filter((l) => l.includes('persistence_timeout'))).toEqual([]);
    expect(config.services.map((s) => s.name)).toEqual(['192.0.2.100:53/udp', '192.0.2.100:25/tcp']);
    expect(config.services[0]?.healthCheck).toBeUndefined();
  });

  it('7: reads the words after a notify command as keepalived\'s run-as user, and never turns an undefined ${VAR} into a value', () => {
    const { result, config, lines } = importFixture('notify-user-variables.conf');
    expect(config.instances[0]).toMatchObject({ interface: 'eth0', vrid: 51 });
    expect(config.instances[0]?.notify).toEqual({
      master: ['/etc/keepalived/notify.sh', 'MASTER'],
      backup: ['/etc/keepalived/notify.sh'],
      fault: ['/etc/keepalived/notify.sh', 'FAULT'],
    });
    expect(lineAt(lines, 5)).toMatch(/^5: \$\{IFACE\}: not defined .*the line is skipped$/);
    expect(lineAt(lines, 10)).toContain('note: keepalived runs this command as user "root"');
    expect(lineAt(lines, 11)).toContain('note: keepalived runs this command as user and group "keepalived_script:users"');
    expect(result.yaml).not.toMatch(/: \$/m);
    expect(result.exitCode).toBe(1);
  });

  it('8: is silent about settings that lose nothing and reports a per-server note once', () => {
    const { result, lines } = importFixture('noise.conf');
    expect(lines).toEqual([
      '13: ha_suspend: note: vipd forwards a service only while its instance is MASTER anyway',
      '17: delay_before_retry 3: note: vipd retries at the check interval; fall counts the retries (and 2 more like it, not listed)',
    ]);
    expect(result.exitCode).toBe(0);
  });
});

/** Every top-level keepalived config among the fixtures (included files are read through them). */
function everyFixture(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(fixtures)) {
    const path = join(fixtures, entry);
    if (!statSync(path).isDirectory()) continue;
    const inside = readdirSync(path);
    if (inside.includes('keepalived.conf')) found.push(join(path, 'keepalived.conf'));
    else found.push(...inside.filter((name) => name.endsWith('.conf')).map((name) => join(path, name)));
  }
  const vectors = join(repoRoot, 'test/fixtures/keepalived-vectors');
  found.push(...readdirSync(vectors).filter((name) => name.endsWith('.conf')).map((name) => join(vectors, name)));
  return found.sort();
}

describe('every keepalived fixture converts to YAML that vipd --check accepts', () => {
  const files = everyFixture();
  it('finds the fixtures', () => expect(files.length).toBeGreaterThanOrEqual(30));

  it.each(files.map((file) => [file.slice(repoRoot.length + 1), file]))('%s', (_name, file) => {
    for (const options of [EMPTY_PATH, {}, { configId: 'lb1' }] satisfies ImportOptions[]) {
      const result = importKeepalived(file, options);
      expect(result.yaml, 'no YAML').toBeDefined();
      expect(result.validationErrors).toEqual([]);
      const checked = parseConfig(result.yaml ?? '', 'converted.yaml');
      expect(checked.ok ? [] : checked.errors).toEqual([]);
    }
  });
});
