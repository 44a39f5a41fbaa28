/**
 * Reading the config file for the daemon: a config with errors becomes one
 * ConfigRejected carrying every error line. Its own module so that the
 * daemon (start, reload), main (exit code 2) and the control handlers
 * (reload answers CONFIG) all import it without importing each other.
 */
import { formatConfigError, loadConfig, type Config } from '../config/index.js';
import { VipdError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

/** VIPD_CONFIG_REJECTED, exit code 2: every error line of the config. */
export class ConfigRejected extends VipdError {
  override name = 'ConfigRejected';
  constructor(readonly errors: string[]) {
    super('VIPD_CONFIG_REJECTED', `config rejected:\n${errors.join('\n')}`, { exitCode: ExitCode.Usage });
  }
}

export async function readConfig(file: string): Promise<Config> {
  const res = await loadConfig(file);
  if (!res.ok) throw new ConfigRejected(res.errors.map(formatConfigError));
  return res.config;
}
