/**
 * `vipd --check` refuses what the daemon would refuse at start: map sizes
 * follow the config, and what bounds a config is the kernel memory of the
 * maps against bpf.maxMemory, checked when the config is read (the daemon
 * and --check both go through parseConfig).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigError } from '../../../src/config/index.js';
import { dataplaneFootprint } from '../../../src/config/capacity.js';

const v4 = (n: number): string => `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`;

function instanceYaml(vips: readonly string[], name = 'web', vrid = 51): string {
  return [`  - name: ${name}`, '    interface: eth0', `    vrid: ${vrid}`, '    vips:', ...vips.map((v) => `      - ${v}`)].join('\n');
}

function servicesYaml(count: number, backendsEach = 1): string {
  const lines = ['services:'];
  for (let i = 0; i < count; i++) {
    lines.push(`  - vip: 10.1.0.1`, `    port: ${1000 + i}`, '    instance: web', '    backends:');
    for (let b = 0; b < backendsEach; b++) lines.push(`      - { address: ${v4(0x020001 + b)} }`);
  }
  return lines.join('\n');
}

function errorsOf(text: string): ConfigError[] {
  const result = parseConfig(text, 'vipd.yaml');
  return result.ok ? [] : result.errors;
}

describe('config capacity: sized from the config, bounded by bpf.maxMemory', () => {
  it('65 services (the old fixed limit was 64) pass, and the maps grow with them', () => {
    const text = `instances:\n${instanceYaml(['10.1.0.1'])}\n${servicesYaml(65)}\n`;
    const result = parseConfig(text, 'vipd.yaml');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(dataplaneFootprint(result.config).sizes.services).toBeGreaterThanOrEqual(65);
  });

  it('a config that needs more than bpf.maxMemory is refused at that key, with the figure', () => {
    // A small connection table: the rings are what this config is about.
    const text = `bpf:\n  maxMemory: 4MiB\nconnections:\n  max: 1024\ninstances:\n${instanceYaml(['10.1.0.1'])}\n${servicesYaml(200, 10)}\n`;
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ keyPath: 'bpf.maxMemory', line: 2 });
    expect(errors[0]?.message).toMatch(
      /^the data-plane maps for this config need [\d.]+ MiB of kernel memory \(rings [\d.]+ MiB, .*; 200 services, \d+ CPUs\), more than bpf\.maxMemory 4\.0 MiB( \(connections\.max 1024 sizes flows4\/flows6, connections\.pending 65536 pending4\/pending6\))?$/,
    );
  });

  it('without bpf.maxMemory the default (1 GiB) applies', () => {
    const result = parseConfig(`instances:\n${instanceYaml(['10.1.0.1'])}\n${servicesYaml(2)}\n`, 'vipd.yaml');
    expect(result.ok && result.config.bpf.maxMemory).toBe(1024 ** 3);
  });

  it('bpf.maxMemory takes binary units and refuses nonsense', () => {
    const at = (value: string) => errorsOf(`bpf: { maxMemory: ${value} }\ninstances:\n${instanceYaml(['10.1.0.1'])}\n`);
    expect(at('512MiB')).toEqual([]);
    expect(at('2G')).toEqual([]);
    expect(at('lots')[0]?.message).toBe('"lots" must be a size such as 512MiB or 2GiB (binary units: K, M, G, T)');
    expect(at('100K')[0]?.message).toBe('"100K" is below 1 MiB: the data plane cannot run in so little');
  });

  it('20 000 VIPs in one instance are accepted: the advert carries the first 255, like keepalived', () => {
    const vips = Array.from({ length: 20_000 }, (_, i) => v4(i + 1));
    expect(errorsOf(`instances:\n${instanceYaml(vips)}\n`)).toEqual([]);
  });
});
