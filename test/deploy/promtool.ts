/**
 * Runs Debian's promtool (package `prometheus`, installed by
 * scripts/bootstrap) for the test/deploy tests.
 */
import { spawnSync } from 'node:child_process';
import { haveCommand } from '../helpers/netns.js';

/** Why promtool tests cannot run here, or undefined. */
export const promtoolMissing: string | undefined = haveCommand('promtool')
  ? undefined
  : 'needs promtool (Debian package prometheus; scripts/bootstrap installs it)';

export interface PromtoolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** promtool with `args`, `input` on stdin; bounded at 60 s. */
export function promtool(args: readonly string[], input?: string): PromtoolResult {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
