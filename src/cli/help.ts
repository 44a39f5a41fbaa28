/** The man-page part of every command's --help: details, examples, exit codes. */

export interface HelpFooter {
  /** Paragraphs explaining what the command does beyond its one-line description. */
  readonly details?: readonly string[];
  readonly examples: readonly string[];
  /** [code, meaning], in code order. */
  readonly exitCodes: readonly (readonly [number, string])[];
}

export const DAEMON_EXIT_CODES: readonly (readonly [number, string])[] = [
  [0, 'ok'],
  [1, 'vipd is not running, did not answer, or failed'],
  [2, 'usage error (bad argument, unknown instance/service/backend)'],
  [3, 'permission denied on the control socket (run as root)'],
];

export function helpFooter(footer: HelpFooter): string {
  const parts: string[] = [''];
  for (const paragraph of footer.details ?? []) parts.push(paragraph, '');
  parts.push('Examples:', ...footer.examples.map((e) => `  ${e}`), '');
  parts.push('Exit codes:', ...footer.exitCodes.map(([code, meaning]) => `  ${code}  ${meaning}`));
  return parts.join('\n');
}
