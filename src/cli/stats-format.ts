/** `vipctl stats` as tables for people. */
import type { StatsRates } from './stats-rates.js';
import { tableLines, type ColumnSpec } from './table.js';
import { formatBps, formatCount, formatPps } from './units.js';

const RATE_COLUMNS: ColumnSpec[] = [
  { title: 'PPS', align: 'right' },
  { title: 'BPS', align: 'right' },
  { title: 'PACKETS', align: 'right' },
  { title: 'BYTES', align: 'right' },
];

export function formatStats(rates: StatsRates, header: string): string {
  const rows: string[][] = [];
  for (const s of rates.services) {
    rows.push([s.name, formatPps(s.pps), formatBps(s.bps), formatCount(s.packets), formatCount(s.bytes)]);
    for (const b of s.backends) {
      rows.push([`  ${b.address}`, formatPps(b.pps), formatBps(b.bps), formatCount(b.packets), formatCount(b.bytes)]);
    }
  }
  const lines = [header, ''];
  if (rows.length === 0) lines.push('No services.');
  else lines.push(...tableLines(['SERVICE / BACKEND', ...RATE_COLUMNS], rows));
  // Every reason that happened at all; the rest stay out of the way.
  const verdicts = rates.verdicts.filter((v) => v.packets > 0);
  if (verdicts.length > 0) {
    lines.push(
      '',
      ...tableLines(
        ['XDP VERDICT', { title: 'PPS', align: 'right' }, { title: 'PACKETS', align: 'right' }],
        verdicts.map((v) => [v.reason, formatPps(v.pps), formatCount(v.packets)]),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
