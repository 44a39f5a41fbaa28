/**
 * The metric names a PromQL expression selects, for checking dashboards and
 * rules against what vipd exports. A small scanner, enough for the
 * expressions we ship: strings, label matchers, grouping clauses and range
 * selectors are removed; an identifier followed by `(` is a function; the
 * keywords are not names; what remains is a metric name.
 */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

export function metricNames(expr: string): Set<string> {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const names = new Set<string>();
  // Not after a digit or `$`: the unit of a duration (5m), an exponent (1e3), a $variable.
  for (const m of bare.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, id, call] = m;
    if (call || KEYWORDS.has(id.toLowerCase())) continue;
    names.add(id);
  }
  return names;
}
