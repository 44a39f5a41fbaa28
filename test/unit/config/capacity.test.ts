/**
 * `vipd --check` refuses what the daemon would refuse at start: every limit
 * of the data plane and of the VRRP advert is checked when the config is
 * read (both paths go through parseConfig), with the key and the line of
 * the first entry past the limit.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigError } from '../../../src/config/index.js';
import { CAPACITY } from '../../../src/config/capacity.js';
import { MAX_SERVICES } from '../../../src/dataplane/abi.js';

const v4 = (n: number): string => `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`;

/** One instance `web` with these VIPs (one per line, so each has its own line number). */
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

/** 1-based line of the nth line of `text` that contains `needle`. */
function lineOf(text: string, needle: string, nth = 1): number {
  let seen = 0;
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) if (line.includes(needle) && ++seen === nth) return i + 1;
  throw new Error(`"${needle}" #${nth} not in the text`);
}

describe('config capacity: --check refuses what the daemon cannot hold', () => {
  it(`${MAX_SERVICES} services pass; one more is named with its line`, () => {
    const ok = `instances:\n${instanceYaml(['10.1.0.1'])}\n${servicesYaml(MAX_SERVICES)}\n`;
    expect(errorsOf(ok)).toEqual([]);
    const over = `instances:\n${instanceYaml(['10.1.0.1'])}\n${servicesYaml(MAX_SERVICES + 1)}\n`;
    const errors = errorsOf(over);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ keyPath: `services[${MAX_SERVICES}]`, line: lineOf(over, `port: ${1000 + MAX_SERVICES}`) - 1 });
    expect(errors[0]?.message).toBe(`${MAX_SERVICES + 1} services: the data plane holds at most ${MAX_SERVICES} (VIPD_MAX_SERVICES)`);
  });

  it('an advert carries at most 255 addresses: the 256th VIP of the VRRP family is named', () => {
    const vips = Array.from({ length: 256 }, (_, i) => v4(i + 1));
    const text = `instances:\n${instanceYaml(vips)}\n`;
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ keyPath: 'instances[0].vips[255]', line: lineOf(text, `- ${v4(256)}`) });
    expect(errors[0]?.message).toBe('256 IPv4 VIPs: a VRRP advert carries at most 255 addresses');
  });

  it("VIPs of the other family are not in the advert and do not count against it", () => {
    const vips = [...Array.from({ length: 255 }, (_, i) => v4(i + 1)), ...Array.from({ length: 20 }, (_, i) => `fd00::${i + 1}`)];
    expect(errorsOf(`instances:\n${instanceYaml(vips)}\n`)).toEqual([]);
  });

  it('20 000 VIPs in one instance: refused (the advert limit), not accepted as before', () => {
    const vips = Array.from({ length: 20_000 }, (_, i) => v4(i + 1));
    const messages = errorsOf(`instances:\n${instanceYaml(vips)}\n`).map((e) => `${e.keyPath}: ${e.message}`);
    expect(messages).toContain('instances[0].vips[255]: 20000 IPv4 VIPs: a VRRP advert carries at most 255 addresses');
    expect(messages).toContain(
      `instances[0].vips[${CAPACITY.vips}]: 20000 VIPs in all instances: the data plane holds at most ${CAPACITY.vips} (VIPD_MAX_VIPS)`,
    );
  });

  it('backends of all services together are limited by the reals map', () => {
    const perService = Math.ceil((CAPACITY.reals + 1) / 8);
    const text = `instances:\n${instanceYaml(['10.1.0.1'])}\n${servicesYaml(8, perService)}\n`;
    const errors = errorsOf(text);
    expect(errors.map((e) => e.message)).toEqual([
      `${8 * perService} backends in all services: the data plane holds at most ${CAPACITY.reals} (VIPD_MAX_REALS)`,
    ]);
    expect(errors[0]?.keyPath).toBe('services[7].backends');
  });

  it('more instances than the instances map holds', () => {
    const count = CAPACITY.instances + 1;
    const items = Array.from({ length: count }, (_, i) => instanceYaml([v4(i + 1)], `i${i}`, (i % 255) + 1).replace('eth0', `eth${Math.floor(i / 255)}`));
    const errors = errorsOf(`instances:\n${items.join('\n')}\n`);
    expect(errors.map((e) => `${e.keyPath}: ${e.message}`)).toEqual([
      `instances[${CAPACITY.instances}]: ${count} instances: the data plane holds at most ${CAPACITY.instances} (VIPD_MAX_INSTANCES)`,
    ]);
  });
});
