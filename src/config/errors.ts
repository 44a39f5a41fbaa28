/** One problem found in a config file, located precisely enough to fix it. */
export interface ConfigError {
  /** Where in the document, e.g. `instances[0].vrid`; empty for the whole file. */
  readonly keyPath: string;
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  readonly message: string;
}

/** `file:line:col: keyPath: message`, the form editors and grep understand. */
export function formatConfigError(error: ConfigError): string {
  const where = error.keyPath === '' ? '(document)' : error.keyPath;
  return `${error.file}:${error.line}:${error.column}: ${where}: ${error.message}`;
}

/** Errors in file order, so the first one printed is the first one in the file. */
export function sortConfigErrors(errors: readonly ConfigError[]): ConfigError[] {
  return [...errors].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column,
  );
}
