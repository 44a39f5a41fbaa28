/** Numbers and times in the units people read: 1.2 Mpps, 340 Mbit/s, 3m12s ago. */

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

/** 1234567 -> "1.23 M"; below 1000 as an integer or one decimal. */
function si(value: number): string {
  let v = value;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < SI.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = i === 0 ? (Number.isInteger(v) ? 0 : 1) : Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${SI[i]}`;
}

export function formatPps(pps: number | null): string {
  return pps === null ? '-' : `${si(pps)}pps`;
}

export function formatBps(bps: number | null): string {
  return bps === null ? '-' : `${si(bps)}bit/s`;
}

/** A counter: 1234567 -> "1.23 M" (exact values are in --json). */
export function formatCount(n: number | bigint): string {
  return si(Number(n)).trimEnd();
}

/** 0.004 -> "4ms", 75 -> "1m15s", 90061 -> "1d1h1m". */
export function formatDuration(seconds: number): string {
  const s = Math.abs(seconds);
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1).replace(/\.0$/, '') : Math.floor(s)}s`;
  const total = Math.floor(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d}d${h}h${m}m`;
  if (h > 0) return `${h}h${m}m`;
  return `${m}m${sec}s`;
}

/** An ISO time as "3m12s ago" relative to now. */
export function formatAgo(iso: string, now: Date): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = (now.getTime() - then) / 1000;
  return seconds >= 0 ? `${formatDuration(seconds)} ago` : `in ${formatDuration(-seconds)}`;
}
