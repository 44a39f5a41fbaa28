import { describe, expect, it } from 'vitest';
import { formatConfigError, parseConfig, type ConfigError } from '../../../src/config/index.js';

/** The example from DESIGN.md "Config", verbatim. */
const DESIGN_EXAMPLE = `bpf: { pin: /sys/fs/bpf/vipd, mode: auto }      # auto|native|generic
control: { socket: /run/vipd/vipd.sock, metrics: 127.0.0.1:9477 }
instances:
  - name: web
    interface: eth0
    vrid: 51
    version: 3                 # 2|3
    priority: 150              # 1..254 (255 = address owner)
    advertInterval: 0.05       # seconds; v3: 0.01..40.95, v2: 1..255
    preempt: true
    preemptDelay: 0
    unicastPeers: []           # empty: multicast 224.0.0.18 / ff02::12
    vips: [203.0.113.42/32, 2001:db8::42/128]
    addAddresses: true         # VIPs on the interface while MASTER, for local services
    garp: { repeat: 3, interval: 0.01, refresh: 60 }
    track:
      interfaces: [{ name: eth1, weight: -50 }]
      scripts: [{ name: chk, command: [/usr/bin/true], interval: 1, weight: -60, rise: 2, fall: 2 }]
    notify: { master: [], backup: [], fault: [] }   # argv lists, never a shell
services:
  - vip: 203.0.113.42
    port: 80
    protocol: tcp              # tcp|udp
    instance: web              # forwarded only while this instance is MASTER
    backends:
      - { address: 10.0.0.11, weight: 100 }   # MAC resolved from neighbours
    healthCheck: { type: http, path: /healthz, interval: 1, timeout: 0.5, rise: 2, fall: 3 }
`;

const MINIMAL = `instances:
  - name: web
    interface: eth0
    vrid: 51
    vips: [203.0.113.42]
`;

function errorsOf(text: string): ConfigError[] {
  const result = parseConfig(text, 'test.yaml');
  if (result.ok) throw new Error('expected errors, config was accepted');
  return result.errors;
}

/** The single error at `keyPath`, asserting there is exactly one. */
function onlyError(text: string): ConfigError {
  const errors = errorsOf(text);
  expect(errors.map(formatConfigError)).toHaveLength(1);
  return errors[0] as ConfigError;
}

/** MINIMAL with `line` appended inside the instance. */
function instanceWith(lines: string): string {
  return MINIMAL + lines.split('\n').map((l) => `    ${l}`).join('\n') + '\n';
}

describe('parseConfig: valid configs', () => {
  it('accepts the DESIGN.md example and resolves every value', () => {
    const result = parseConfig(DESIGN_EXAMPLE, 'vipd.yaml');
    if (!result.ok) throw new Error(result.errors.map(formatConfigError).join('\n'));
    const { config } = result;
    expect(config.bpf).toEqual({ pin: '/sys/fs/bpf/vipd', mode: 'auto', maxMemory: 1024 ** 3 });
    expect(config.control.metrics).toEqual({ host: '127.0.0.1', port: 9477 });
    const web = config.instances[0];
    expect(web?.advertIntervalCentis).toBe(5);
    expect(web?.vips.map((v) => v.cidr)).toEqual(['203.0.113.42/32', '2001:db8::42/128']);
    expect(web?.garp).toEqual({ repeat: 3, interval: 0.01, delay: 5, refresh: 60 });
    expect(web?.track.scripts[0]).toEqual({ name: 'chk', command: ['/usr/bin/true'], interval: 1, timeout: 1, weight: -60, rise: 2, fall: 2 });
    expect(web?.notify).toEqual({});
    const service = config.services[0];
    expect(service?.name).toBe('203.0.113.42:80/tcp');
    expect(service?.healthCheck).toEqual({ type: 'http', path: '/healthz', expectStatus: 200, tlsVerify: false, interval: 1, timeout: 0.5, rise: 2, fall: 3 });
  });

  it('fills defaults for a minimal config', () => {
    const result = parseConfig(MINIMAL, 'min.yaml');
    if (!result.ok) throw new Error(result.errors.map(formatConfigError).join('\n'));
    const [instance] = result.config.instances;
    expect(instance).toMatchObject({ version: 3, priority: 100, advertInterval: 1, advertIntervalCentis: 100, preempt: true, checksumMode: 'rfc', addAddresses: false, advertSocket: 'packet', unicastPeers: [] });
    expect(result.config.control).toEqual({ socket: '/run/vipd/vipd.sock', metrics: { host: '127.0.0.1', port: 9477 }, backendMetrics: true });
    expect(result.config.syncGroups).toEqual([]);
  });

  it('canonicalises IPv6 so the service VIP matches the instance VIP', () => {
    const text = `instances:
  - { name: v6, interface: eth0, vrid: 7, vips: ["2001:DB8:0:0::42/64"] }
services:
  - { vip: "2001:db8::42", port: 443, instance: v6, backends: [{ address: "2001:db8::1:11" }] }
`;
    const result = parseConfig(text, 'v6.yaml');
    if (!result.ok) throw new Error(result.errors.map(formatConfigError).join('\n'));
    expect(result.config.instances[0]?.vips[0]?.cidr).toBe('2001:db8::42/64');
    expect(result.config.services[0]?.name).toBe('[2001:db8::42]:443/tcp');
  });

  it('accepts v2 with password auth, sync groups and every check type', () => {
    const text = `instances:
  - { name: a, interface: eth0, vrid: 1, version: 2, advertInterval: 2, auth: { type: pass, password: secret12 }, vips: [10.0.0.1/24], unicastPeers: [10.0.0.3], unicastSource: 10.0.0.2 }
  - { name: b, interface: eth1, vrid: 1, checksumMode: v2, advertSocket: ip, vips: [10.1.0.1/24], notify: { master: [/usr/local/bin/n, master] } }
syncGroups:
  - { name: g, instances: [a, b], notify: { fault: [/bin/logger, fault] } }
services:
  - { vip: 10.0.0.1, port: 80, instance: a, backends: [{ address: 10.0.0.11 }], healthCheck: { type: tcp, port: 8080 } }
  - { vip: 10.0.0.1, port: 443, instance: a, backends: [{ address: 10.0.0.11 }], healthCheck: { type: https, host: www.example.com, expectStatus: 204 } }
  - { vip: 10.1.0.1, port: 53, protocol: udp, instance: b, backends: [{ address: 10.1.0.11, weight: 0 }], healthCheck: { type: command, command: [/usr/lib/check-dns, "10.1.0.11", 53] } }
`;
    const result = parseConfig(text, 'all.yaml');
    if (!result.ok) throw new Error(result.errors.map(formatConfigError).join('\n'));
    expect(result.config.instances[0]?.auth).toEqual({ type: 'pass', password: 'secret12' });
    expect(result.config.instances[0]?.unicastSource).toEqual({ address: '10.0.0.2', family: 4 });
    expect(result.config.instances[1]?.advertSocket).toBe('ip');
    expect(result.config.syncGroups[0]).toEqual({ name: 'g', instances: ['a', 'b'], notify: { fault: ['/bin/logger', 'fault'] } });
    expect(result.config.services[2]?.healthCheck).toMatchObject({ type: 'command', command: ['/usr/lib/check-dns', '10.1.0.11', '53'] });
  });

  it('accepts a backend\'s own healthCheck, which replaces the service\'s for that backend', () => {
    const text = `${MINIMAL}services:
  - vip: 203.0.113.42
    port: 53
    protocol: udp
    instance: web
    backends:
      - { address: 10.0.0.31 }
      - { address: 10.0.0.32, healthCheck: { type: command, command: [/usr/lib/check-dns, 10.0.0.32], interval: 5 } }
    healthCheck: { type: command, command: [/usr/lib/check-dns, 10.0.0.31] }
`;
    const result = parseConfig(text, 'per-backend.yaml');
    if (!result.ok) throw new Error(result.errors.map(formatConfigError).join('\n'));
    const [plain, own] = result.config.services[0]?.backends ?? [];
    expect(plain).toEqual({ address: '10.0.0.31', family: 4, weight: 1 });
    expect(own?.healthCheck).toEqual({ type: 'command', command: ['/usr/lib/check-dns', '10.0.0.32'], interval: 5, timeout: 1, rise: 2, fall: 3 });
  });
});

describe('parseConfig: errors', () => {
  it('reports an unknown key by name and line, with a suggestion', () => {
    const error = onlyError(instanceWith('prority: 120'));
    expect(formatConfigError(error)).toBe('test.yaml:6:5: instances[0].prority: unknown key "prority" (did you mean "priority"?); allowed here: name, interface, announce, vrid, version, priority, advertInterval, preempt, preemptDelay, unicastPeers, unicastSource, auth, checksumMode, vips, addAddresses, vmac, advertSocket, garp, track, notify, bfd');
  });

  it.each([
    ['vrid out of range', MINIMAL.replace('vrid: 51', 'vrid: 256'), 'instances[0].vrid', 4, /in 1\.\.255/],
    ['vrid not a number', MINIMAL.replace('vrid: 51', 'vrid: "51"'), 'instances[0].vrid', 4, /must be a number/],
    ['priority 0', instanceWith('priority: 0'), 'instances[0].priority', 6, /in 1\.\.255/],
    ['v3 interval too small', instanceWith('advertInterval: 0.005'), 'instances[0].advertInterval', 6, /0\.01\.\.40\.95/],
    ['v3 interval off the 10 ms grid', instanceWith('advertInterval: 0.055'), 'instances[0].advertInterval', 6, /multiple of 0\.01/],
    ['v2 fractional interval', instanceWith('version: 2\nadvertInterval: 0.5'), 'instances[0].advertInterval', 7, /whole number/],
    ['version 4', instanceWith('version: 4'), 'instances[0].version', 6, /one of 2, 3/],
    ['auth with v3', instanceWith('auth: { type: pass, password: x }'), 'instances[0].auth', 6, /only in VRRPv2/],
    ["AH auth", instanceWith("version: 2\nauth: { type: ah, password: x }"), "instances[0].auth.type", 7, /must be "pass"/],
    ['long password', instanceWith('version: 2\nauth: { type: pass, password: 123456789 }'), 'instances[0].auth.password', 7, /at most 8 bytes/],
    ['IPv6 VIP with v2', MINIMAL.replace('version: 3', '').replace('vips: [203.0.113.42]', 'version: 2\n    vips: ["2001:db8::1"]'), 'instances[0].vips[0]', 6, /needs version: 3/],
    ['bad CIDR', MINIMAL.replace('203.0.113.42', '203.0.113.42/33'), 'instances[0].vips[0]', 5, /prefix length "33"/],
    ['not an address', MINIMAL.replace('203.0.113.42', '203.0.113'), 'instances[0].vips[0]', 5, /not an IPv4 or IPv6/],
    ['multicast VIP', MINIMAL.replace('203.0.113.42', '224.0.0.18'), 'instances[0].vips[0]', 5, /multicast/],
    ['notify as a shell string', instanceWith('notify: { master: "/usr/bin/logger became master" }'), 'instances[0].notify.master', 6, /not a string: vipd never runs a shell; write \["\/usr\/bin\/logger", "became", "master"\]/],
    ['relative program', instanceWith('notify: { master: [logger, x] }'), 'instances[0].notify.master[0]', 6, /absolute path/],
    ['empty track command', instanceWith('track: { scripts: [{ name: c, command: [] }] }'), 'instances[0].track.scripts[0].command', 6, /must not be empty/],
    ['track weight', instanceWith('track: { interfaces: [{ name: eth1, weight: 300 }] }'), 'instances[0].track.interfaces[0].weight', 6, /-254\.\.254/],
    ['unicastSource family', instanceWith('unicastPeers: [10.0.0.2]\nunicastSource: "2001:db8::2"'), 'instances[0].unicastSource', 7, /same address family/],
    ['metrics address', `control: { metrics: "localhost:9477" }\n${MINIMAL}`, 'control.metrics', 1, /IP:PORT/],
    ['missing vrid', MINIMAL.replace('    vrid: 51\n', ''), 'instances[0].vrid', 2, /"vrid" is required/],
  ])('%s', (_name, text, keyPath, line, message) => {
    const error = onlyError(text);
    expect(error.keyPath).toBe(keyPath);
    expect(error.line).toBe(line);
    expect(error.message).toMatch(message);
  });

  it('checks services against instances, families, weights and ports', () => {
    const text = `${MINIMAL}services:
  - vip: 203.0.113.99
    port: 70000
    instance: web
    backends:
      - { address: "2001:db8::11", weight: 70000 }
  - vip: 203.0.113.42
    port: 80
    instance: db
    backends: [{ address: 10.0.0.1 }]
  - vip: 203.0.113.42
    port: 81
    instance: web
    backends: [{ address: 10.0.0.1 }, { address: 10.0.0.1 }]
    healthCheck: { type: http, command: [/bin/true] }
  - vip: 203.0.113.42
    port: 82
    instance: web
    backends: [{ address: 10.0.0.2, healthCheck: { type: ping } }, { address: 10.0.0.3, healthCheck: { type: tcp, path: / } }]
`;
    const errors = errorsOf(text).map((e) => `${e.line} ${e.keyPath}: ${e.message}`);
    expect(errors).toEqual([
      expect.stringMatching(/^7 services\[0\]\.vip: 203\.0\.113\.99 is not one of instance "web"'s vips/),
      expect.stringMatching(/^8 services\[0\]\.port: must be in 1\.\.65535/),
      expect.stringMatching(/^11 services\[0\]\.backends\[0\]\.address: backend 2001:db8::11 is IPv6 but the VIP is IPv4/),
      expect.stringMatching(/^11 services\[0\]\.backends\[0\]\.weight: must be in 0\.\.65535/),
      expect.stringMatching(/^14 services\[1\]\.instance: no instance is named "db"; instances: web/),
      expect.stringMatching(/^19 services\[2\]\.backends\[1\]\.address: backend 10\.0\.0\.1 is listed twice/),
      expect.stringMatching(/^20 services\[2\]\.healthCheck\.command: unknown key "command"/),
      expect.stringMatching(/^24 services\[3\]\.backends\[0\]\.healthCheck\.type: must be one of tcp, http, https, command/),
      expect.stringMatching(/^24 services\[3\]\.backends\[1\]\.healthCheck\.path: unknown key "path"/),
    ]);
  });

  it('names the key and line of an advertSocket that is neither packet nor ip', () => {
    const text = `instances:
  - name: web
    interface: eth0
    vrid: 51
    vips: [10.0.0.1]
    advertSocket: raw
`;
    const errors = errorsOf(text).map((e) => `${e.line} ${e.keyPath}: ${e.message}`);
    expect(errors).toEqual([expect.stringMatching(/^6 instances\[0\]\.advertSocket: must be one of packet, ip/)]);
  });

  it('reports duplicates across instances, sync groups and services', () => {
    const text = `instances:
  - { name: a, interface: eth0, vrid: 5, vips: [10.0.0.1] }
  - { name: a, interface: eth1, vrid: 6, vips: [10.0.0.2] }
  - { name: b, interface: eth0, vrid: 5, vips: [10.0.0.1] }
syncGroups:
  - { name: g, instances: [a, zz] }
  - { name: h, instances: [a] }
services:
  - { vip: 10.0.0.1, port: 80, instance: a, backends: [{ address: 10.0.1.1 }] }
  - { vip: 10.0.0.1, port: 80, instance: a, backends: [{ address: 10.0.1.2 }] }
`;
    const errors = errorsOf(text).map((e) => `${e.line} ${e.message}`);
    expect(errors).toEqual([
      '3 instance name "a" is used twice',
      expect.stringMatching(/^4 vrid 5 on eth0 is already used by instance "a"/),
      expect.stringMatching(/^4 10\.0\.0\.1 is already a VIP of instance "a"/),
      '6 no instance is named "zz"',
      '7 instance "a" is already in sync group "g"',
      expect.stringMatching(/^10 10\.0\.0\.1 port 80\/tcp is already service/),
    ]);
  });

  it('collects every error of a file at once, in file order', () => {
    const text = `bpf: { mode: turbo }
control: { socket: relative.sock }
instances:
  - name: "bad name"
    interface: eth0
    vrid: 0
    priority: 300
    vips: []
    colour: blue
services: {}
extra: 1
`;
    const errors = errorsOf(text);
    expect(errors.map((e) => `${e.line}:${e.column} ${e.keyPath}`)).toEqual([
      '1:14 bpf.mode',
      '2:20 control.socket',
      '4:11 instances[0].name',
      '6:11 instances[0].vrid',
      '7:15 instances[0].priority',
      '8:11 instances[0].vips',
      '9:5 instances[0].colour',
      '10:11 services',
      '11:1 extra',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    const syntax = errorsOf('instances:\n  - name: [unclosed\n');
    expect(syntax[0]?.line).toBeGreaterThanOrEqual(2);
    const duplicate = errorsOf(MINIMAL + '    vrid: 52\n');
    expect(duplicate.some((e) => e.line === 6 && /unique/i.test(e.message))).toBe(true);
  });

  it('refuses an empty document', () => {
    expect(onlyError('').message).toMatch(/empty/);
  });
});

describe('docs/configuration.md', () => {
  it('has a complete example that validates', async () => {
    const { readFile } = await import('node:fs/promises');
    const docs = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const example = /## Complete example\s+```yaml\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const result = parseConfig(example, 'configuration.md');
    if (!result.ok) throw new Error(result.errors.map(formatConfigError).join('\n'));
    expect(result.config.instances.map((i) => i.name)).toEqual(['web', 'db']);
    expect(result.config.services.map((s) => s.name)).toEqual(['203.0.113.42:80/tcp', 'dns']);
  });
});
