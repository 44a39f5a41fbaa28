/**
 * A dependency-free SVG bar chart: horizontal bars (long labels read well),
 * the median as the bar, min..max as a whisker, the value printed after it.
 */

export interface Bar {
  label: string;
  value: number;
  min?: number;
  max?: number;
  /** Bars of one group share a colour (e.g. "vipd" vs "anchor"). */
  group?: string;
}

export interface BarChart {
  title: string;
  /** Second line under the title: what was measured, how. */
  subtitle?: string;
  /** Axis unit, e.g. "ns/packet". */
  unit: string;
  bars: readonly Bar[];
  /** Digits after the point in value labels. */
  digits?: number;
}

const PALETTE = ['#2b6cb0', '#9c9c9c', '#dd6b20', '#38a169', '#805ad5', '#c53030'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" axis maximum and tick step (1, 2, 5 x 10^k) covering max. */
function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  return { top: Math.ceil(max / step) * step, step };
}

function num(n: number): string {
  return Number(n.toFixed(2)).toString();
}

export function barChart(chart: BarChart): string {
  const digits = chart.digits ?? 1;
  const labelW = Math.max(80, ...chart.bars.map((b) => b.label.length * 7 + 16));
  const plotW = 520;
  const barH = 20;
  const gap = 8;
  const top = chart.subtitle ? 58 : 40;
  const left = labelW;
  const groupNames = [...new Set(chart.bars.map((b) => b.group ?? ''))];
  const height = top + chart.bars.length * (barH + gap) + 44 + (groupNames.length > 1 ? 22 : 0);
  const width = left + plotW + 90;
  const hi = Math.max(...chart.bars.map((b) => Math.max(b.value, b.max ?? b.value)), 0);
  const { top: axisMax, step } = niceScale(hi);
  const x = (v: number): number => left + (Math.max(0, v) / axisMax) * plotW;
  const groups = groupNames;
  const colour = (g: string | undefined): string => PALETTE[groups.indexOf(g ?? '') % PALETTE.length];

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
  );
  if (chart.subtitle) {
    out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${esc(chart.subtitle)}</text>`);
  }
  const plotBottom = top + chart.bars.length * (barH + gap);
  for (let v = 0; v <= axisMax + step / 2; v += step) {
    const xv = num(x(v));
    out.push(
      `<line x1="${xv}" y1="${top - 4}" x2="${xv}" y2="${plotBottom}" stroke="#e2e2e2"/>`,
      `<text x="${xv}" y="${plotBottom + 16}" text-anchor="middle" fill="#555">${num(v)}</text>`,
    );
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${plotBottom + 34}" text-anchor="middle" fill="#333">${esc(chart.unit)}</text>`,
  );
  chart.bars.forEach((b, i) => {
    const y = top + i * (barH + gap);
    const cy = y + barH / 2;
    const tip = `${b.label}: ${b.value.toFixed(digits)} ${chart.unit}` + (b.min !== undefined && b.max !== undefined ? ` (min ${b.min.toFixed(digits)}, max ${b.max.toFixed(digits)})` : '');
    out.push(
      `<g><title>${esc(tip)}</title>`,
      `<text x="${left - 8}" y="${cy + 4}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${left}" y="${y}" width="${num(x(b.value) - left)}" height="${barH}" fill="${colour(b.group)}"/>`,
    );
    if (b.min !== undefined && b.max !== undefined) {
      const x1 = num(x(b.min));
      const x2 = num(x(b.max));
      out.push(
        `<line x1="${x1}" y1="${cy}" x2="${x2}" y2="${cy}" stroke="#222" stroke-width="1.5"/>`,
        `<line x1="${x1}" y1="${cy - 5}" x2="${x1}" y2="${cy + 5}" stroke="#222" stroke-width="1.5"/>`,
        `<line x1="${x2}" y1="${cy - 5}" x2="${x2}" y2="${cy + 5}" stroke="#222" stroke-width="1.5"/>`,
      );
    }
    const after = Math.max(x(b.value), x(b.max ?? b.value));
    out.push(`<text x="${num(after + 6)}" y="${cy + 4}" fill="#222">${b.value.toFixed(digits)}</text>`, `</g>`);
  });
  if (groups.length > 1) {
    groups.forEach((g, i) => {
      const lx = left + i * 110;
      out.push(
        `<rect x="${lx}" y="${height - 14}" width="10" height="10" fill="${colour(g)}"/>`,
        `<text x="${lx + 14}" y="${height - 5}">${esc(g || 'other')}</text>`,
      );
    });
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
