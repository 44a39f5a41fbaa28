/**
 * The changed lines between two versions of a config file, for the reload
 * event's audit trail: `-N: text` for a line of the old file that went,
 * `+N: text` for a line of the new one that came (N: its line number).
 * Values of keys that look secret (`password`, `secret`, `token`) are masked:
 * the history is shown to anyone who can run vipctl and goes to the log.
 */

/** Beyond this many lines of change the diff is cut (and says so). */
export const MAX_DIFF_LINES = 200;
/** Above this many line pairs the middle is shown as replaced instead of aligned. */
const MAX_ALIGN_CELLS = 4_000_000;

/** A secret-looking key and its scalar value, block (`password: x`) or flow style (`{ password: x }`). */
const SECRET = /([\w-]*(?:password|passwd|secret|token)[\w-]*["']?\s*:[ \t]*)("[^"]*"|'[^']*'|[^,}\]\s#]+)/gi;

export function maskSecrets(line: string): string {
  return line.replace(SECRET, '$1<masked>');
}

export function lineDiff(before: string, after: string, maxLines = MAX_DIFF_LINES): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  // Most reloads change a few lines: align only what lies between the common head and tail.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const out: string[] = [];
  const del = (i: number) => out.push(`-${head + i + 1}: ${maskSecrets(am[i])}`);
  const add = (j: number) => out.push(`+${head + j + 1}: ${maskSecrets(bm[j])}`);
  if (am.length * bm.length > MAX_ALIGN_CELLS) {
    am.forEach((_, i) => del(i));
    bm.forEach((_, j) => add(j));
  } else {
    // Longest common subsequence, then walk it: lines off it are the change.
    const n = am.length;
    const m = bm.length;
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) lcs[i][j] = am[i] === bm[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        i++;
        j++;
      } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) del(i++);
      else add(j++);
    }
  }
  if (out.length <= maxLines) return out;
  return [...out.slice(0, maxLines), `... ${out.length - maxLines} more changed lines`];
}
