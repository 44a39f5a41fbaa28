/** `vipctl maps` as tables for people: one section per map. */
import { REAL_NONE } from '../../dataplane/abi.js';
import { tableLines, type ColumnSpec } from '../table.js';
import { formatDuration } from '../units.js';
import type { AnyMapDump, CounterEntry, InstanceEntry, RingEntry } from './model.js';

const R = (title: string): ColumnSpec => ({ title, align: 'right' });

function lease(entry: InstanceEntry): string {
  const left = entry.leaseRemainingSeconds;
  if (left === null) return 'none';
  return left >= 0 ? `expires in ${formatDuration(left)}` : `expired ${formatDuration(-left)} ago`;
}

function iface(entry: InstanceEntry): string {
  if (entry.ifindex === 0) return '-';
  return `${entry.interface ?? '?'} (${entry.ifindex})`;
}

function flags(names: readonly string[]): string {
  return names.length === 0 ? '-' : names.join(',');
}

function counterRows(entries: readonly CounterEntry[], withAction: boolean): string[][] {
  return entries.map((c) => [
    String(c.index),
    c.derived === true ? `${c.label ?? '-'} (from real_stats)` : (c.label ?? '-'),
    ...(withAction ? [c.action ?? ''] : []),
    String(c.packets),
    String(c.bytes),
  ]);
}

function ringShares(ring: RingEntry): string {
  const parts = ring.reals.map((r) => `${r.address ?? `real ${r.real}`}=${r.slots}`);
  if (ring.empty > 0) parts.push(`none=${ring.empty}`);
  return parts.join(' ');
}

function ringTableLines(ring: RingEntry): string[] {
  if (ring.table === undefined) return [];
  return [
    '',
    `  ring ${ring.ring} (${ring.role} for ${ring.service}), every slot:`,
    ...tableLines([R('SLOT'), R('REAL')], ring.table.map((real, slot) => [String(slot), real === REAL_NONE ? 'none' : String(real)]), '    '),
  ];
}

function bodyLines(dump: AnyMapDump): string[] {
  switch (dump.name) {
    case 'instances':
      return tableLines(
        [R('ID'), 'FLAGS', 'LEASE', R('EXPIRY NS'), 'INTERFACE', 'MAC'],
        dump.entries.map((e) => [String(e.id), flags(e.flags), lease(e), String(e.leaseExpiryNs), iface(e), e.mac]),
        '  ',
      );
    case 'vips':
      return tableLines(['VIP', R('INSTANCE'), R('FLAGS')], dump.entries.map((e) => [e.vip, String(e.instance), String(e.flags)]), '  ');
    case 'services4':
    case 'services6':
      return tableLines(
        ['SERVICE', R('INDEX'), R('LIVE RING'), R('RING SIZE'), R('INSTANCE'), R('FLAGS')],
        dump.entries.map((e) => [e.service, String(e.index), String(e.ring), String(e.ringSize), String(e.instance), String(e.flags)]),
        '  ',
      );
    case 'rings':
      return [
        ...tableLines(
          [R('FIRST SLOT'), 'SERVICE', 'ROLE', 'SLOTS PER REAL SERVER'],
          dump.entries.map((e) => [String(e.ring), e.service, e.role, ringShares(e)]),
          '  ',
        ),
        ...dump.entries.flatMap(ringTableLines),
      ];
    case 'reals':
      return tableLines([R('INDEX'), 'ADDRESS', 'MAC', 'FLAGS'], dump.entries.map((e) => [String(e.index), e.address || '-', e.mac, flags(e.flags)]), '  ');
    case 'iface_masters':
      return tableLines(
        [R('IFINDEX'), 'MEMBER', R('BOND IFINDEX'), 'BOND'],
        dump.entries.map((e) => [String(e.ifindex), e.name ?? '?', String(e.master), e.masterName ?? (e.master === 0 ? '-' : '?')]),
        '  ',
      );
    case 'verdicts':
      return tableLines([R('INDEX'), 'REASON', 'ACTION', R('PACKETS'), R('BYTES')], counterRows(dump.entries, true), '  ');
    case 'real_stats':
      return tableLines([R('INDEX'), 'REAL SERVER', R('PACKETS'), R('BYTES')], counterRows(dump.entries, false), '  ');
    case 'flow_stats':
      return tableLines([R('INDEX'), 'EVENT', R('PACKETS'), R('BYTES')], counterRows(dump.entries, false), '  ');
    case 'pending4':
    case 'pending6':
      return tableLines(
        [R('INDEX'), 'HASH', 'CHECK', 'REAL SERVER', R('AGE')],
        dump.entries.map((e) => [
          String(e.index),
          e.hash.toString(16).padStart(8, '0'),
          e.check.toString(16).padStart(8, '0'),
          e.address ?? `real ${e.real}`,
          formatDuration(e.idleSeconds),
        ]),
        '  ',
      );
    case 'flows4':
    case 'flows6':
      return tableLines(
        ['CLIENT', 'SERVICE', 'KIND', 'REAL SERVER', R('IDLE'), 'FLAGS'],
        dump.entries.map((e) => [
          `${e.client}:${e.clientPort}`,
          `${e.vip}:${e.port}/${e.protocol}`,
          e.kind,
          e.address ?? `real ${e.real}`,
          formatDuration(e.idleSeconds),
          flags(e.flags),
        ]),
        '  ',
      );
  }
}

function title(dump: AnyMapDump): string {
  const perCpu = dump.name === 'verdicts' || dump.name === 'real_stats' || dump.name === 'flow_stats' ? ', per-CPU counters summed' : '';
  return `${dump.name}  ${dump.path}  (${dump.type}, max ${dump.maxEntries}${perCpu})`;
}

export function formatMapDump(dump: AnyMapDump): string {
  const lines = [title(dump)];
  lines.push(...(dump.entries.length === 0 ? ['  (empty)'] : bodyLines(dump)));
  if (dump.note !== undefined) lines.push(`  ${dump.note}`);
  return `${lines.join('\n')}\n`;
}

export function formatMapDumps(dumps: readonly AnyMapDump[]): string {
  return dumps.map(formatMapDump).join('\n');
}
