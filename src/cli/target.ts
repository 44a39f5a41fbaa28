/**
 * Where vipctl looks: the control socket (--socket, else --config's
 * control.socket, else the default) and the pin directory (--pin, else
 * --config's bpf.pin, else the default).
 *
 * vipctl needs two keys of the config, not a valid config: a file that
 * vipd would reject (say, being edited before `vipctl reload`) still names
 * the socket. Only when the key vipctl needs is unusable are the config's
 * errors reported (exit 2).
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { DEFAULTS, formatConfigError, loadConfig } from '../config/index.js';
import { ExitCode } from '../exit-codes.js';
import { CliError } from './errors.js';

/** Options every command inherits from `vipctl`. */
export interface GlobalOptions {
  readonly socket?: string;
  readonly config?: string;
}

export const DEFAULT_SOCKET = DEFAULTS.control.socket;
export const DEFAULT_PIN_DIR = DEFAULTS.bpf.pin;

interface Locations {
  readonly socket: string;
  readonly pin: string;
}

type Key = keyof Locations;

/** The key from a config vipd would reject: the default when absent, undefined when unusable. */
async function readKeyLeniently(file: string, key: Key): Promise<string | undefined> {
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  const [section, field, fallback] = key === 'socket' ? (['control', 'socket', DEFAULT_SOCKET] as const) : (['bpf', 'pin', DEFAULT_PIN_DIR] as const);
  if (doc === null || typeof doc !== 'object') return undefined;
  const sectionValue = (doc as Record<string, unknown>)[section];
  if (sectionValue === undefined || sectionValue === null) return fallback;
  if (typeof sectionValue !== 'object') return undefined;
  const value = (sectionValue as Record<string, unknown>)[field];
  if (value === undefined) return fallback;
  return typeof value === 'string' && value.startsWith('/') ? value : undefined;
}

async function fromConfig(file: string, key: Key): Promise<string> {
  const result = await loadConfig(file);
  if (result.ok) return key === 'socket' ? result.config.control.socket : result.config.bpf.pin;
  const lenient = await readKeyLeniently(file, key);
  if (lenient !== undefined) return lenient;
  throw new CliError(`cannot use --config ${file}:`, ExitCode.Usage, result.errors.map(formatConfigError));
}

export async function resolveSocketPath(options: GlobalOptions): Promise<string> {
  if (options.socket !== undefined) return options.socket;
  if (options.config !== undefined) return fromConfig(options.config, 'socket');
  return DEFAULT_SOCKET;
}

export async function resolvePinDir(options: GlobalOptions & { readonly pin?: string }): Promise<string> {
  if (options.pin !== undefined) return options.pin;
  if (options.config !== undefined) return fromConfig(options.config, 'pin');
  return DEFAULT_PIN_DIR;
}
