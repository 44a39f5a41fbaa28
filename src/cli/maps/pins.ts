/**
 * Opening vipd's pinned maps by name, with errors that name the path:
 * a missing directory or map is exit 1, a permission problem exit 3.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, PerCpuMap, isOnBpffs, type Codec } from '../../bpf/index.js';
import type { MapName } from '../../dataplane/abi.js';
import { ExitCode } from '../../exit-codes.js';
import { CliError } from '../errors.js';

function statFailure(path: string, what: string, err: unknown): CliError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new CliError(`permission denied on ${path}: vipctl maps must run as root`, ExitCode.MissingPrivilege);
  }
  if (code === 'ENOENT' || code === 'ENOTDIR') return new CliError(what, ExitCode.Failure);
  return new CliError(`cannot read ${path}: ${(err as Error).message}`, ExitCode.Failure);
}

/** Throws unless dir is a directory on a bpffs. */
export function checkPinDir(dir: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (err) {
    throw statFailure(
      dir,
      `no pinned maps at ${dir}: the directory does not exist (has vipd run with bpf.pin ${dir}? use --pin DIR or --config FILE to look elsewhere)`,
      err,
    );
  }
  if (!isDirectory) throw new CliError(`${dir} is not a directory`, ExitCode.Failure);
  if (!isOnBpffs(dir)) {
    throw new CliError(`${dir} is not on a bpf filesystem, so no maps are pinned there (is bpffs mounted?)`, ExitCode.Failure);
  }
}

export function pinPath(dir: string, name: MapName): string {
  return join(dir, name);
}

function checkPinned(dir: string, name: MapName): string {
  const path = pinPath(dir, name);
  try {
    statSync(path);
  } catch (err) {
    throw statFailure(path, `map ${name} is not pinned at ${path}`, err);
  }
  return path;
}

export function openPinnedMap<K, V>(dir: string, name: MapName, key: Codec<K>, value: Codec<V>): BpfMap<K, V> {
  return BpfMap.openPinned(checkPinned(dir, name), key, value);
}

export function openPinnedPerCpuMap<K, V>(dir: string, name: MapName, key: Codec<K>, value: Codec<V>): PerCpuMap<K, V> {
  return PerCpuMap.openPinned(checkPinned(dir, name), key, value);
}
