/** The changed lines of a config between two reloads. */
import { describe, expect, it } from 'vitest';
import { lineDiff, maskSecrets } from '../../../src/daemon/text-diff.js';

describe('lineDiff', () => {
  it('is empty for the same text', () => {
    expect(lineDiff('a\nb\n', 'a\nb\n')).toEqual([]);
  });

  it('shows a changed line as the old one going and the new one coming, with line numbers', () => {
    const before = 'instances:\n  - name: web\n    priority: 150\n    vrid: 51\n';
    const after = 'instances:\n  - name: web\n    priority: 50\n    vrid: 51\n';
    expect(lineDiff(before, after)).toEqual(['-3:     priority: 150', '+3:     priority: 50']);
  });

  it('aligns insertions and deletions in the middle of a file', () => {
    const before = ['a', 'b', 'c', 'd', 'e'].join('\n');
    const after = ['a', 'x', 'b', 'd', 'e', 'f'].join('\n');
    expect(lineDiff(before, after)).toEqual(['+2: x', '-3: c', '+6: f']);
  });

  it('from nothing (an unreadable file before) every line is added', () => {
    expect(lineDiff('', 'a\nb')).toEqual(['-1: ', '+1: a', '+2: b']);
  });

  it('cuts a long diff and says how much is left', () => {
    const after = Array.from({ length: 300 }, (_, i) => `line ${i}`).join('\n');
    const d = lineDiff('x', after, 10);
    expect(d).toHaveLength(11);
    expect(d[10]).toBe('... 291 more changed lines');
  });

  it('masks values of secret-looking keys', () => {
    expect(lineDiff('    auth: { type: pass, password: old }\n', '    password: hunter2\n')).toEqual(['-1:     auth: { type: pass, password: <masked> }', '+1:     password: <masked>']);
    expect(maskSecrets('  - apiToken: "abc"')).toBe('  - apiToken: <masked>');
    expect(maskSecrets('    interface: eth0')).toBe('    interface: eth0');
  });
});
