/**
 * Typed reads from a YAML syntax tree that remember where every value came
 * from. Each read either returns a value or records a ConfigError with the
 * key path and file:line:col, and validation carries on: the caller sees
 * every error in one pass.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigError } from './errors.js';

/** A value in the document with its key path and source offset. */
export interface Field {
  readonly node: Node | null;
  readonly path: string;
  /** Offset of the value, or of its key when the value is empty. */
  readonly offset: number;
}

export interface NumberRule {
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** Word after the number in messages, e.g. "seconds". */
  readonly unit?: string;
}

export class FieldReader {
  readonly errors: ConfigError[] = [];

  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
    private readonly file: string,
  ) {}

  root(): Field {
    return { node: this.resolve(this.doc.contents), path: '', offset: this.doc.contents?.range?.[0] ?? 0 };
  }

  error(at: Pick<Field, 'path' | 'offset'>, message: string): void {
    const pos = this.lineCounter.linePos(at.offset);
    this.errors.push({ keyPath: at.path, file: this.file, line: pos.line, column: pos.col, message });
  }

  /** Record a YAML syntax problem reported by the yaml library. */
  syntaxError(offset: number, message: string): void {
    this.error({ path: '', offset }, message.split('\n')[0] ?? message);
  }

  private resolve(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null | undefined) ?? null;
  }

  private isEmpty(field: Field): boolean {
    return field.node === null || (isScalar(field.node) && field.node.value === null);
  }

  /**
   * A mapping whose keys must be in `allowed`. Unknown keys are errors that
   * name the key; the known ones come back as fields. Undefined when the
   * value is not a mapping (the error is already recorded).
   */
  mapping(field: Field, allowed: readonly string[]): Partial<Record<string, Field>> | undefined {
    if (!isMap(field.node)) {
      this.error(field, `must be a mapping with keys ${allowed.join(', ')}`);
      return undefined;
    }
    const fields: Partial<Record<string, Field>> = {};
    for (const pair of field.node.items) {
      const keyNode = this.resolve(pair.key);
      const keyOffset = keyNode?.range?.[0] ?? field.offset;
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      const keyPath = key === undefined ? field.path : joinPath(field.path, key);
      if (key === undefined || !allowed.includes(key)) {
        const hint = key === undefined ? '' : suggestion(key, allowed);
        this.error(
          { path: keyPath, offset: keyOffset },
          `unknown key${key === undefined ? '' : ` "${key}"`}${hint}; allowed here: ${allowed.join(', ')}`,
        );
        continue;
      }
      const value = this.resolve(pair.value);
      fields[key] = { node: value, path: keyPath, offset: value?.range?.[0] ?? keyOffset };
    }
    return fields;
  }

  /** The value under `key` of a mapping, without checking anything else. */
  peek(field: Field, key: string): Field | undefined {
    if (!isMap(field.node)) return undefined;
    for (const pair of field.node.items) {
      const keyNode = this.resolve(pair.key);
      if (!isScalar(keyNode) || keyNode.value !== key) continue;
      const value = this.resolve(pair.value);
      return { node: value, path: joinPath(field.path, key), offset: value?.range?.[0] ?? keyNode.range?.[0] ?? field.offset };
    }
    return undefined;
  }

  /** Items of a sequence; an empty value counts as an empty list. */
  list(field: Field): Field[] | undefined {
    if (this.isEmpty(field)) return [];
    if (!isSeq(field.node)) {
      this.error(field, 'must be a list');
      return undefined;
    }
    return field.node.items.map((item, index) => {
      const node = this.resolve(item);
      return { node, path: `${field.path}[${index}]`, offset: node?.range?.[0] ?? field.offset };
    });
  }

  /** Report a missing key at the mapping that should hold it. */
  required(parent: Field, fields: Partial<Record<string, Field>>, key: string): Field | undefined {
    const field = fields[key];
    if (field && !this.isEmpty(field)) return field;
    this.error(field ?? { path: joinPath(parent.path, key), offset: parent.offset }, `"${key}" is required`);
    return undefined;
  }

  string(field: Field): string | undefined {
    if (isScalar(field.node) && typeof field.node.value === 'string' && field.node.value !== '') {
      return field.node.value;
    }
    this.error(field, 'must be a non-empty string');
    return undefined;
  }

  /** Like string(), but numbers and booleans written bare are accepted as their text. */
  text(field: Field): string | undefined {
    if (isScalar(field.node) && field.node.value !== null && typeof field.node.value !== 'object') {
      const source = typeof field.node.source === 'string' ? field.node.source : String(field.node.value);
      if (source !== '') return source;
    }
    this.error(field, 'must be a non-empty string');
    return undefined;
  }

  number(field: Field, rule: NumberRule = {}): number | undefined {
    const value = isScalar(field.node) ? field.node.value : undefined;
    const unit = rule.unit ? ` ${rule.unit}` : '';
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.error(field, `must be a number${rangeText(rule)}`);
      return undefined;
    }
    if (rule.integer && !Number.isInteger(value)) {
      this.error(field, `must be a whole number${rangeText(rule)}, got ${value}${unit}`);
      return undefined;
    }
    if ((rule.min !== undefined && value < rule.min) || (rule.max !== undefined && value > rule.max)) {
      this.error(field, `must be${rangeText(rule)}${unit}, got ${value}`);
      return undefined;
    }
    return value;
  }

  boolean(field: Field): boolean | undefined {
    if (isScalar(field.node) && typeof field.node.value === 'boolean') return field.node.value;
    this.error(field, 'must be true or false');
    return undefined;
  }

  oneOf<T extends string | number>(field: Field, choices: readonly T[]): T | undefined {
    const value = isScalar(field.node) ? field.node.value : undefined;
    const match = choices.find((choice) => choice === value);
    if (match === undefined) this.error(field, `must be one of ${choices.join(', ')}`);
    return match;
  }

  /**
   * A command as an argv list: non-empty strings, absolute path first.
   * A single string is refused with a hint, because vipd never runs a shell.
   * `allowEmpty` accepts `[]` as "no command" (notify hooks).
   */
  argv(field: Field, allowEmpty: boolean): string[] | undefined {
    if (isScalar(field.node) && typeof field.node.value === 'string') {
      const words = field.node.value.trim().split(/\s+/);
      this.error(
        field,
        `must be a list (argv), not a string: vipd never runs a shell; write [${words.map((w) => JSON.stringify(w)).join(', ')}]`,
      );
      return undefined;
    }
    const items = this.list(field);
    if (!items) return undefined;
    if (items.length === 0) {
      if (!allowEmpty) this.error(field, 'must not be empty: give the program path and its arguments');
      return allowEmpty ? [] : undefined;
    }
    const argv: string[] = [];
    for (const item of items) {
      const word = this.text(item);
      if (word === undefined) return undefined;
      argv.push(word);
    }
    if (!argv[0]?.startsWith('/')) {
      this.error(items[0] ?? field, `the program must be an absolute path, got "${argv[0]}"`);
      return undefined;
    }
    return argv;
  }
}

export function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

function rangeText(rule: NumberRule): string {
  if (rule.min !== undefined && rule.max !== undefined) return ` in ${rule.min}..${rule.max}`;
  if (rule.min !== undefined) return ` >= ${rule.min}`;
  if (rule.max !== undefined) return ` <= ${rule.max}`;
  return '';
}

/** ` (did you mean "x"?)` for a key one or two edits away from an allowed one. */
export function suggestion(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
