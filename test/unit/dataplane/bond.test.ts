/**
 * Bond members from sysfs. This kernel has no bonding driver, so the real
 * /sys/class/net cannot hold a bond here: the test lays out the files the
 * bonding driver provides (bond/bonding/slaves, member/ifindex) in a
 * directory of its own. test/bpf/manager.test.ts runs frames through a
 * member on the real program.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bondMembers } from '../../../src/dataplane/bond.js';

describe('bondMembers', () => {
  const root = mkdtempSync(join(tmpdir(), 'vipd-sysfs-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const dev = (name: string, ifindex: number | string, slaves?: string) => {
    mkdirSync(join(root, name, 'bonding'), { recursive: true });
    writeFileSync(join(root, name, 'ifindex'), `${ifindex}\n`);
    if (slaves !== undefined) writeFileSync(join(root, name, 'bonding', 'slaves'), slaves);
  };

  it('lists a bond\'s members with their ifindexes, and nothing for other interfaces', () => {
    dev('eth0', 2);
    dev('eth1', 3);
    dev('bond0', 7, 'eth0 eth1\n');
    dev('bond1', 8, '\n');
    mkdirSync(join(root, 'lo'));
    expect(bondMembers('bond0', root)).toEqual([
      { name: 'eth0', ifindex: 2 },
      { name: 'eth1', ifindex: 3 },
    ]);
    expect(bondMembers('bond1', root)).toEqual([]);
    expect(bondMembers('lo', root)).toEqual([]);
    expect(bondMembers('nope', root)).toEqual([]);
  });

  it('names the member whose ifindex cannot be read', () => {
    dev('eth9', 'x');
    dev('bond2', 9, 'eth9');
    expect(() => bondMembers('bond2', root)).toThrow(/bond bond2: member eth9 has no ifindex/);
  });
});
