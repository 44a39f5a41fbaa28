/**
 * Reading the config file for the daemon: a config with errors becomes one
 * ConfigRejected carrying every error line. Its own module so that the
 * daemon (start, reload), main (exit code 2) and the control handlers
 * (reload answers CONFIG) all import it without importing each other.
 */
import { formatConfigError, loadConfig, type Config } from '../config/index.js';

export class ConfigRejected extends Error {
  constructor(readonly errors: string[]) {
    super(`config rejected:\n${errors.join('\n')}`);
  }
}

export async function readConfig(file: string): Promise<Config> {
  const res = await loadConfig(file);
  if (!res.ok) throw new ConfigRejected(res.errors.map(formatConfigError));
  return res.config;
}
