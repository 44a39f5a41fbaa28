/** `vipd --check FILE`: validate, print a one-line verdict or every error. */
import { BYTES_PER_FLOW, formatBytes } from '../dataplane/sizing.js';
import { ExitCode } from '../exit-codes.js';
import { dataplaneFootprint } from './capacity.js';
import { formatConfigError } from './errors.js';
import { loadConfig } from './load.js';

export interface CheckOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const consoleOutput: CheckOutput = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** Returns the exit code: Ok, or Usage when the file has any error. */
export async function checkConfigFile(file: string, output: CheckOutput = consoleOutput): Promise<ExitCode> {
  const result = await loadConfig(file);
  if (!result.ok) {
    for (const error of result.errors) output.err(formatConfigError(error));
    output.err(`${file}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}`);
    return ExitCode.Usage;
  }
  const { instances, services } = result.config;
  // The exact wording is a contract (DESIGN.md, scripts grep it): no singular forms.
  output.out(`${file}: ok (${instances.length} instances, ${services.length} services)`);
  const { sizes, memory } = dataplaneFootprint(result.config);
  output.out(
    `data plane: maps need ${formatBytes(memory.total)} of bpf.maxMemory ${formatBytes(result.config.bpf.maxMemory)} ` +
      `(room for ${sizes.services} services, ${sizes.reals} backends, ${sizes.vips} VIPs)`,
  );
  const flows = (n: number) => (n <= 1 ? 'unused' : `${n} flows`);
  output.out(
    `connection table: IPv4 ${flows(sizes.flows4)} ${formatBytes(memory.byMap.flows4 ?? 0)}, ` +
      `IPv6 ${flows(sizes.flows6)} ${formatBytes(memory.byMap.flows6 ?? 0)}, ` +
      // A family no service uses has a 1-entry pending stage: not a tag anyone can use.
      `pending ${[sizes.pending4, sizes.pending6].filter((n) => n > 1).reduce((sum, n) => sum + n, 0)} tags ` +
      `${formatBytes((memory.byMap.pending4 ?? 0) + (memory.byMap.pending6 ?? 0))} ` +
      `(${BYTES_PER_FLOW.v4} B per IPv4 flow, ${BYTES_PER_FLOW.v6} B per IPv6 flow, and a 16 B bucket)`,
  );
  return ExitCode.Ok;
}
