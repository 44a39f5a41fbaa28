/** Aligned text tables for people: a header row, two spaces between columns. */

export interface Column {
  readonly title: string;
  /** Numbers read better right-aligned. */
  readonly align?: 'left' | 'right';
}

export type ColumnSpec = string | Column;

function asColumn(spec: ColumnSpec): Column {
  return typeof spec === 'string' ? { title: spec } : spec;
}

/** Lines of the table (no trailing spaces), each prefixed by indent. */
export function tableLines(columns: readonly ColumnSpec[], rows: readonly (readonly string[])[], indent = ''): string[] {
  const cols = columns.map(asColumn);
  const widths = cols.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    indent +
    cols
      .map((c, i) => {
        const cell = cells[i] ?? '';
        return c.align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      })
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.title)), ...rows.map(line)];
}

/** The table as text ending with a newline. */
export function formatTable(columns: readonly ColumnSpec[], rows: readonly (readonly string[])[], indent = ''): string {
  return `${tableLines(columns, rows, indent).join('\n')}\n`;
}
