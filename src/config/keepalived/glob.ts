/**
 * The small part of glob(3) keepalived's `include` needs: `*`, `?` and
 * `[...]` within path segments, results sorted. (fs.globSync is Node 22+.)
 */
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';

const MAGIC = /[*?[]/;

function segmentPattern(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i] ?? '';
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      source += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else source += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function listDirectory(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

/**
 * Files matching a pattern (absolute, or relative to the working
 * directory, and then returned relative); without magic a pattern matches
 * itself if that file exists.
 */
export function expandGlob(pattern: string): string[] {
  const absolute = isAbsolute(pattern);
  let candidates = [absolute ? sep : '.'];
  for (const segment of pattern.split(sep)) {
    if (segment === '') continue;
    if (!MAGIC.test(segment)) {
      candidates = candidates.map((dir) => join(dir, segment));
      continue;
    }
    let regex: RegExp;
    try {
      regex = segmentPattern(segment);
    } catch {
      return [];
    }
    // As in the shell, a wildcard does not match a leading dot.
    candidates = candidates.flatMap((dir) =>
      listDirectory(dir)
        .filter((name) => regex.test(name) && (!name.startsWith('.') || segment.startsWith('.')))
        .map((name) => join(dir, name)),
    );
  }
  // join('.', x) is already x: relative patterns come back relative.
  return candidates.filter(isFile);
}
