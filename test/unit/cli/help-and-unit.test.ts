/** Every command documents itself; the systemd unit says what DESIGN.md and the issue ask. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCliCommand } from '../../../src/cli/main.js';

const ROOT = resolve(import.meta.dirname, '../../..');

function helpOf(path: string[]): string {
  let command = buildCliCommand();
  for (const name of path) command = command.commands.find((c) => c.name() === name)!;
  let text = '';
  command.configureOutput({ writeOut: (s) => void (text += s) });
  command.outputHelp();
  return text;
}

describe('vipctl --help', () => {
  const commands = ['status', 'stats', 'drain', 'undrain', 'priority', 'reload', 'maps'];

  it.each(commands)('%s has a description, options, examples and exit codes', (name) => {
    const text = helpOf([name]);
    expect(text).toMatch(new RegExp(`^Usage: vipctl ${name}`));
    expect(text).toContain('Options:');
    expect(text).toMatch(/Examples:\n {2}vipctl /);
    expect(text).toMatch(/Exit codes:\n {2}0 {2}ok\n {2}1 {2}.+\n {2}2 {2}.+\n {2}3 {2}.+/);
  });

  it.each(['status', 'stats', 'maps'])('read command %s takes --json', (name) => {
    expect(helpOf([name])).toContain('--json');
  });

  it('vipctl itself names the socket discovery order and the exit codes', () => {
    const text = helpOf([]);
    expect(text).toContain('--socket <path>');
    expect(text).toContain('--config <file>');
    expect(text).toContain('else at /run/vipd/vipd.sock');
    expect(text).toContain('Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 missing privilege');
  });
});

describe('deploy/vipd.service', () => {
  const unit = readFileSync(join(ROOT, 'deploy/vipd.service'), 'utf8');
  const settings = new Map<string, string>();
  for (const line of unit.split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m) settings.set(m[1], m[2]);
  }

  it('is a notify service that systemd reloads with SIGHUP and stops with SIGTERM', () => {
    expect(settings.get('Type')).toBe('notify');
    expect(settings.get('ExecStart')).toBe('/usr/local/bin/vipd --config /etc/vipd/vipd.yaml');
    expect(settings.get('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(settings.get('KillSignal')).toBe('SIGTERM');
    expect(settings.get('WatchdogSec')).toMatch(/^\d+s$/);
    expect(settings.get('Restart')).toBe('on-failure');
  });

  it('bounds capabilities and owns a root-only runtime directory', () => {
    expect(settings.get('CapabilityBoundingSet')!.split(' ').sort()).toEqual(['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_ADMIN']);
    expect(settings.get('RuntimeDirectory')).toBe('vipd');
    expect(settings.get('RuntimeDirectoryMode')).toBe('0700');
  });

  it('makes no private mount namespace (a bpffs vipd mounts must outlive it)', () => {
    for (const key of ['ProtectSystem', 'PrivateTmp', 'PrivateMounts', 'ReadOnlyPaths', 'ProtectHome', 'TemporaryFileSystem']) {
      expect(settings.has(key), key).toBe(false);
    }
  });
});
