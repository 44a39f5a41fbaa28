/**
 * What the importer could not carry over, located in the keepalived source.
 * `dropped` means behaviour is lost (exit 1); `note` means vipd does the
 * same job another way and the operator should only know about it.
 */
export type ImportSeverity = 'dropped' | 'note';

export interface ImportDiagnostic {
  readonly file: string;
  readonly line: number;
  /** The keyword or value concerned, e.g. `lb_kind NAT`. */
  readonly what: string;
  readonly reason: string;
  readonly severity: ImportSeverity;
}

/** `file:line: what: reason`, notes marked so scripts can tell them apart. */
export function formatImportDiagnostic(diagnostic: ImportDiagnostic): string {
  const reason = diagnostic.severity === 'note' ? `note: ${diagnostic.reason}` : diagnostic.reason;
  // Line 0 is about the file as a whole.
  const where = diagnostic.line > 0 ? `${diagnostic.file}:${diagnostic.line}` : diagnostic.file;
  return `${where}: ${diagnostic.what}: ${reason}`;
}

/** Where a keepalived statement came from. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
}

/** Collects diagnostics while converting; one instance per import. */
export class DiagnosticLog {
  readonly entries: ImportDiagnostic[] = [];
  /** noteOnce keys: the entry written for the first occurrence and how many were not written. */
  private readonly repeats = new Map<string, { entry: ImportDiagnostic; more: number }>();

  dropped(at: SourcePosition, what: string, reason: string): void {
    this.entries.push({ file: at.file, line: at.line, what, reason, severity: 'dropped' });
  }

  note(at: SourcePosition, what: string, reason: string): void {
    this.entries.push({ file: at.file, line: at.line, what, reason, severity: 'note' });
  }

  /**
   * A note that would say the same thing at every occurrence (per real
   * server, say): written once, with the number of further occurrences.
   */
  noteOnce(key: string, at: SourcePosition, what: string, reason: string): void {
    const seen = this.repeats.get(key);
    if (seen) {
      seen.more++;
      return;
    }
    this.note(at, what, reason);
    const entry = this.entries[this.entries.length - 1];
    if (entry) this.repeats.set(key, { entry, more: 0 });
  }

  /** Entries by file (in `fileOrder`, others last) and line, so the report reads like the config. */
  sorted(fileOrder: readonly string[]): ImportDiagnostic[] {
    const rank = (file: string): number => {
      const index = fileOrder.indexOf(file);
      return index < 0 ? fileOrder.length : index;
    };
    const counted = new Map([...this.repeats.values()].filter((r) => r.more > 0).map((r) => [r.entry, r.more]));
    return this.entries
      .map((entry) => {
        const more = counted.get(entry);
        return more ? { ...entry, reason: `${entry.reason} (and ${more} more like it, not listed)` } : entry;
      })
      .sort((a, b) => rank(a.file) - rank(b.file) || a.line - b.line);
  }

  get anyDropped(): boolean {
    return this.entries.some((entry) => entry.severity === 'dropped');
  }
}
