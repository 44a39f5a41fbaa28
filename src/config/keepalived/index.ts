/**
 * `vipctl import-keepalived`: keepalived.conf (with includes) -> vipd YAML
 * plus a list of what could not be carried over.
 */
import { formatConfigError, type ConfigError } from '../errors.js';
import { parseConfig } from '../load.js';
import { convertStatements, type ConversionOptions } from './convert.js';
import { DiagnosticLog, type ImportDiagnostic } from './diagnostics.js';
import { emitYaml } from './emit.js';
import { parseStatements } from './parser.js';
import { readKeepalivedSource, type SourceOptions } from './source.js';

export { formatImportDiagnostic, type ImportDiagnostic, type ImportSeverity } from './diagnostics.js';

/** Where to read from (config id) and how to resolve bare script names (search path, default: this process's PATH). */
export type ImportOptions = SourceOptions & ConversionOptions;

/** 0: everything converted, 1: something left out (see diagnostics), 2: nothing usable. */
export type ImportExitCode = 0 | 1 | 2;

export interface ImportResult {
  /** The vipd config, absent when nothing could be converted. */
  readonly yaml?: string;
  readonly diagnostics: readonly ImportDiagnostic[];
  /** Problems parseConfig found in the output: always empty unless the converter has a bug. */
  readonly validationErrors: readonly ConfigError[];
  readonly exitCode: ImportExitCode;
}

export function importKeepalived(file: string, options: ImportOptions = {}): ImportResult {
  const log = new DiagnosticLog();
  const source = readKeepalivedSource(file, options, log);
  if (!source.readable) {
    return { diagnostics: [{ file, line: 0, what: 'keepalived config', reason: 'cannot read the file', severity: 'dropped' }], validationErrors: [], exitCode: 2 };
  }
  const statements = parseStatements(source.lines, log);
  const searchPath = 'searchPath' in options ? options.searchPath : process.env.PATH;
  const { document, recognized } = convertStatements(log, statements, searchPath === undefined ? {} : { searchPath });
  if (document.instances.length === 0) {
    const reason = recognized === 0 ? 'no keepalived configuration found' : 'no vrrp_instance could be converted, and vipd needs at least one';
    log.dropped({ file, line: 0 }, 'keepalived config', reason);
    return { diagnostics: log.sorted(source.files), validationErrors: [], exitCode: 2 };
  }
  const dropped = log.entries.filter((entry) => entry.severity === 'dropped').length;
  const yaml = emitYaml(document, [
    `vipd config converted from ${file} by vipctl import-keepalived.`,
    dropped === 0
      ? 'Everything was converted; review it before use (docs/migrating-from-keepalived.md).'
      : `${dropped} setting(s) could not be converted: see the list on stderr and docs/migrating-from-keepalived.md.`,
  ]);
  const check = parseConfig(yaml, '<converted>');
  const validationErrors = check.ok ? [] : check.errors;
  for (const error of validationErrors) {
    log.dropped({ file, line: 0 }, 'converted config', `fails validation: ${formatConfigError(error)}`);
  }
  return { yaml, diagnostics: log.sorted(source.files), validationErrors, exitCode: log.anyDropped ? 1 : 0 };
}
