/**
 * JSON for machines. Counters may arrive as bigint (u64 from the maps or the
 * socket): they are printed as numbers while exact, as strings beyond 2^53.
 */
function replaceBigint(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** Pretty JSON with a trailing newline. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, replaceBigint, 2)}\n`;
}

/** One compact JSON object per line (--watch --json). */
export function formatJsonLine(value: unknown): string {
  return `${JSON.stringify(value, replaceBigint)}\n`;
}
