/**
 * Reads a keepalived config and everything it includes into one list of
 * lines, in the order keepalived would see them. Handles `include` (globs,
 * relative to the including file), `@id` / `@^id` conditional lines and
 * `$NAME=value` definitions. Never throws: unreadable files become
 * diagnostics.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { DiagnosticLog } from './diagnostics.js';
import { expandGlob } from './glob.js';
import { logicalLines, splitWords, type Word } from './lexer.js';

export interface SourceLine {
  readonly file: string;
  readonly line: number;
  readonly words: readonly Word[];
}

export interface SourceOptions {
  /**
   * keepalived's config id (`-i`, by default the host name). Lines starting
   * `@id` are kept only when it matches, `@^id` only when it does not.
   * Unset: no id matches, and each skipped `@id` line is reported.
   */
  readonly configId?: string;
}

export interface SourceResult {
  readonly lines: SourceLine[];
  /** False when the top file itself could not be read. */
  readonly readable: boolean;
  /** Every file read, in the order keepalived reads them. */
  readonly files: readonly string[];
}

/** Deeper than this is an include loop in disguise (keepalived allows far less in practice). */
const MAX_INCLUDE_DEPTH = 32;

const DEFINITION = /^\$([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
const CONDITIONAL = /^@(\^?)(\S+)\s*(.*)$/;

class SourceReader {
  readonly lines: SourceLine[] = [];
  readonly files: string[] = [];
  private readonly variables = new Map<string, string>();
  private readonly open = new Set<string>();

  constructor(
    private readonly options: SourceOptions,
    private readonly log: DiagnosticLog,
  ) {}

  readFile(file: string, depth: number): boolean {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return false;
    }
    // Files are shown as the user wrote them, but loops are found by real path.
    const identity = resolve(file);
    this.files.push(file);
    this.open.add(identity);
    for (const { line, text: raw } of logicalLines(text)) this.readLine(file, line, raw, depth);
    this.open.delete(identity);
    return true;
  }

  /** The line's text if it applies to this host, else undefined. */
  private applyConditional(file: string, line: number, text: string): string | undefined {
    const match = CONDITIONAL.exec(text);
    if (!match) return text;
    const negated = match[1] === '^';
    const id = match[2] ?? '';
    const matches = this.options.configId === id;
    if (negated !== matches) return match[3] ?? '';
    if (this.options.configId === undefined && !negated) {
      this.log.dropped({ file, line }, `@${id}`, 'line skipped: it applies only to config id ' +
        `"${id}"; run again with --config-id ${id} to convert that host's config`);
    }
    return undefined;
  }

  /**
   * The line with its references replaced, or undefined (reported) when it
   * uses one that is not defined: `${NAME}` would leave braces that change
   * the block structure, and a bare `$NAME` a literal `$` in a setting.
   * A bare `$NAME` inside double quotes stays as written, as keepalived
   * leaves it: it is meant for the shell of a script.
   */
  private substitute(file: string, line: number, text: string): string | undefined {
    const missing: string[] = [];
    const result = text.replace(REFERENCE, (whole, braced: string | undefined, bare: string | undefined, offset: number) => {
      const value = this.variables.get(braced ?? bare ?? '');
      if (value !== undefined) return value;
      const quoted = (text.slice(0, offset).match(/"/g)?.length ?? 0) % 2 === 1;
      if (braced !== undefined || !quoted) missing.push(whole);
      return whole;
    });
    if (missing.length === 0) return result;
    const names = missing.map((ref) => ref.replace(/[${}]/g, ''));
    this.log.dropped({ file, line }, missing.join(' '), `not defined (keepalived needs a "$${names[0]}=value" line before it); the line is skipped`);
    return undefined;
  }

  private readLine(file: string, line: number, raw: string, depth: number): void {
    const conditional = this.applyConditional(file, line, raw.trimStart());
    if (conditional === undefined) return;
    const definition = DEFINITION.exec(conditional);
    if (definition) {
      const value = this.substitute(file, line, (definition[2] ?? '').trim());
      if (value !== undefined) this.variables.set(definition[1] ?? '', value);
      return;
    }
    const substituted = this.substitute(file, line, conditional);
    if (substituted === undefined) return;
    const words = splitWords(substituted);
    if (words.length === 0) return;
    if (words[0]?.text === 'include' && !words[0].quoted) {
      this.include(file, line, words.slice(1), depth);
      return;
    }
    this.lines.push({ file, line, words });
  }

  private include(file: string, line: number, patterns: readonly Word[], depth: number): void {
    if (patterns.length === 0) {
      this.log.dropped({ file, line }, 'include', 'no file named');
      return;
    }
    for (const pattern of patterns) {
      const target = isAbsolute(pattern.text) ? pattern.text : join(dirname(file), pattern.text);
      const files = expandGlob(target);
      if (files.length === 0) {
        this.log.dropped({ file, line }, `include ${pattern.text}`, 'no file matches');
        continue;
      }
      for (const included of files) {
        if (this.open.has(resolve(included)) || depth >= MAX_INCLUDE_DEPTH) {
          this.log.dropped({ file, line }, `include ${pattern.text}`, `${included} includes itself (directly or not); skipped`);
          continue;
        }
        if (!this.readFile(included, depth + 1)) {
          this.log.dropped({ file, line }, `include ${pattern.text}`, `cannot read ${included}`);
        }
      }
    }
  }
}

export function readKeepalivedSource(file: string, options: SourceOptions, log: DiagnosticLog): SourceResult {
  const reader = new SourceReader(options, log);
  const readable = reader.readFile(file, 0);
  return { lines: reader.lines, readable, files: reader.files };
}
