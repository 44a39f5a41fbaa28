/** Reading keepalived statement arguments, reporting what cannot be used. */
import type { DiagnosticLog } from './diagnostics.js';
import type { Statement } from './parser.js';

/** The statement as the user wrote it, shortened for messages. */
export function describe(statement: Statement): string {
  const text = [statement.keyword, ...statement.args].join(' ');
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
}

/** The first argument as a number within the rule, or undefined after reporting why not. */
export function readNumber(log: DiagnosticLog, statement: Statement, rule: NumberRule): number | undefined {
  const text = statement.args[0];
  const value = text !== undefined && /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (Number.isNaN(value) || (rule.integer && !Number.isInteger(value)) || value < rule.min || value > rule.max) {
    const kind = rule.integer ? 'a whole number' : 'a number';
    log.dropped(statement, describe(statement), `needs ${kind} in ${rule.min}..${rule.max}; ignored`);
    return undefined;
  }
  return value;
}

/** The first argument, or undefined after reporting that it is missing. */
export function readWord(log: DiagnosticLog, statement: Statement): string | undefined {
  const word = statement.args[0];
  if (word === undefined || word === '') log.dropped(statement, statement.keyword, 'needs a value; ignored');
  return word === '' ? undefined : word;
}

/** Children of a block statement, reporting a statement that needed a block and has none. */
export function blockOf(log: DiagnosticLog, statement: Statement): Statement[] {
  if (statement.children) return statement.children;
  log.dropped(statement, describe(statement), 'needs a { ... } block; ignored');
  return [];
}
