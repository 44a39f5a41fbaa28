/** Where a command writes: stdout for results, stderr for diagnostics. Tests pass their own. */
export interface CliOutput {
  /** Result text, written as is (include the newline). */
  readonly out: (text: string) => void;
  /** One diagnostic line (the newline is added). */
  readonly err: (line: string) => void;
  /** True when stdout is a terminal: --watch redraws in place only then. */
  readonly isTty: boolean;
}

export const processOutput: CliOutput = {
  out: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(`${line}\n`),
  get isTty() {
    return process.stdout.isTTY === true;
  },
};
