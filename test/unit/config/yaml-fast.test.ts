import { readFileSync } from 'node:fs';
import { LineCounter, parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { parseSimpleYaml, plainValue } from '../../../src/config/yaml-fast.js';

const LOAD_TEST = readFileSync(new URL('./load.test.ts', import.meta.url), 'utf8');
/** The DESIGN.md example as load.test.ts holds it (comments, flow maps, IPv6, nested lists). */
const EXAMPLE = /const DESIGN_EXAMPLE = `([^`]*)`/.exec(LOAD_TEST)![1];

const MINIMAL = `instances:
  - name: web
    interface: eth0
    vrid: 51
    vips: [203.0.113.42]
`;

const SERVICE = `services:
  - vip: 203.0.113.42
    port: 80
    instance: web
    backends:
      - { address: 10.0.0.11, weight: 100 }
`;

/** Configs in the fast reader's subset, valid and not: both readers must give the same result. */
const IN_SUBSET: Record<string, string> = {
  'DESIGN.md example': EXAMPLE,
  minimal: MINIMAL,
  'with a service': MINIMAL + SERVICE,
  'an unknown key (suggestion, line and column)': MINIMAL + '    prority: 100\n',
  'a number out of range': MINIMAL + '    priority: 300\n',
  'a string where a number goes': MINIMAL + "    priority: 'high'\n",
  'a double-quoted string': MINIMAL.replace('eth0', '"eth0"'),
  "a single-quoted string with ''": MINIMAL.replace('eth0', "'et''h0'"),
  'an empty value': MINIMAL + '    priority:\n',
  'a missing required key': MINIMAL.replace('    vrid: 51\n', ''),
  'a list at the indent of its key': MINIMAL.replace('    vips: [203.0.113.42]\n', '    vips:\n    - 203.0.113.42\n    - 2001:db8::1\n'),
  'a block list of flow maps': MINIMAL + SERVICE.replace('      - { address: 10.0.0.11, weight: 100 }', '      - { address: 10.0.0.11, weight: 100 }\n      - address: 10.0.0.12\n        weight: 0x10'),
  'booleans, nulls and floats': MINIMAL + '    preempt: True\n    advertInterval: 1.5e-1\n    notify: ~\n',
  'a bad address': MINIMAL + SERVICE.replace('10.0.0.11', '10.0.0.300'),
  'a flow map with an empty value': MINIMAL + SERVICE.replace('weight: 100', 'weight:'),
  'comments and blank lines everywhere': `# head\n\n${MINIMAL.replace('vrid: 51', 'vrid: 51   # the VRID\n\n    # between')}# tail\n`,
  'an empty document': '# nothing\n',
  'a scalar with a # inside': MINIMAL.replace('eth0', 'eth#0'),
  'an IPv6 VIP': MINIMAL.replace('203.0.113.42', '2001:db8::42/128').replace('    vrid: 51', '    vrid: 51\n    version: 3'),
};

/** Texts outside the subset: the fast reader gives up and the library answers. */
const OUTSIDE_SUBSET: Record<string, string> = {
  'an anchor and alias': MINIMAL.replace('vrid: 51', 'vrid: &v 51\n    priority: *v'),
  'a block scalar': MINIMAL + '    notify: |\n      text\n',
  'a multi-line plain scalar': MINIMAL.replace('eth0', 'eth0\n      more'),
  'a duplicate key': MINIMAL + '    vrid: 52\n',
  'a tab': MINIMAL.replace('    vrid', '\tvrid'),
  'an escape': MINIMAL.replace('eth0', '"eth\\u0030"'),
  'a flow map over two lines': MINIMAL.replace('[203.0.113.42]', '[203.0.113.42,\n      203.0.113.43]'),
  'a tag': MINIMAL.replace('51', '!!int 51'),
  'a document marker': '---\n' + MINIMAL,
  'a syntax error': MINIMAL + '  - : :\n',
  'a nested mapping on one line': MINIMAL + '    garp: repeat: 3\n',
  'a flow key without a value': MINIMAL.replace('[203.0.113.42]', '{ 203.0.113.42 }'),
  'a deeper line after a value': MINIMAL.replace('    vrid: 51\n', '    vrid: 51\n      priority: 3\n'),
};

describe('parseSimpleYaml (the fast config reader)', () => {
  for (const [what, text] of Object.entries(IN_SUBSET)) {
    it(`reads ${what} as the yaml library does: same config or same errors`, () => {
      expect(parseSimpleYaml(text, new LineCounter())).toBeDefined();
      expect(parseConfig(text, 'vipd.yaml')).toEqual(parseConfig(text, 'vipd.yaml', { fastYaml: false }));
    });
  }

  for (const [what, text] of Object.entries(OUTSIDE_SUBSET)) {
    it(`leaves ${what} to the yaml library`, () => {
      expect(parseSimpleYaml(text, new LineCounter())).toBeUndefined();
      expect(parseConfig(text, 'vipd.yaml')).toEqual(parseConfig(text, 'vipd.yaml', { fastYaml: false }));
    });
  }

  it('a duplicate key is still reported by the library, with its line', () => {
    const result = parseConfig(MINIMAL + '    vrid: 52\n', 'vipd.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.some((e) => e.line === 6 && /unique/i.test(e.message))).toBe(true);
  });

  it('reads a config of many services as the library does', () => {
    const lines = [MINIMAL.trimEnd(), 'services:'];
    for (let i = 0; i < 300; i++) {
      lines.push(`  - name: s${i}`, '    vip: 203.0.113.42', `    port: ${1000 + i}`, `    protocol: ${i % 2 ? 'udp' : 'tcp'}`, '    instance: web', '    backends:');
      for (let b = 0; b < 10; b++) lines.push(`      - { address: 10.0.${i >> 8}.${b + 1}, weight: ${100 + (i % 3)} }`);
    }
    const text = lines.join('\n') + '\n';
    expect(parseSimpleYaml(text, new LineCounter())).toBeDefined();
    const fast = parseConfig(text, 'vipd.yaml');
    expect(fast.ok).toBe(true);
    expect(fast).toEqual(parseConfig(text, 'vipd.yaml', { fastYaml: false }));
  });

  it("gives plain scalars the core schema's values, as the library does", () => {
    const scalars = ['~', 'null', 'NULL', 'true', 'False', 'TRUE', 'yes', '0', '-12', '+7', '007', '0o17', '0x1F', '1.5', '.5', '1.', '1e3', '-2.5E-2',
      '.inf', '-.Inf', '.NaN', '10.0.0.1', '2001:db8::1', '127.0.0.1:9477', 'eth0', '1_000', '0b101', 'nan', '1.2.3',
      '::1', '1:2', '12:30:00', '.5.5', '1..2'];
    for (const s of scalars) expect([s, plainValue(s)]).toEqual([s, parse(s) as unknown]);
  });
});
