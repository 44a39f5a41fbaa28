/**
 * Talking to vipd: connect to the control socket, turning the ways that can
 * fail into messages an operator can act on.
 */
import { ControlClient, ControlError, ControlErrorCode } from '../daemon/control/index.js';
import type { ControlMethodName, ControlMethods } from '../daemon/api.js';
import { ExitCode } from '../exit-codes.js';
import { CliError } from './errors.js';
import { resolveSocketPath, type GlobalOptions } from './target.js';

const CONNECT_TIMEOUT_MS = 5_000;

function connectFailure(path: string, err: unknown): Error {
  if (err instanceof ControlError && err.code === ControlErrorCode.Timeout) {
    return new CliError(`vipd does not accept connections on ${path} (no answer within ${CONNECT_TIMEOUT_MS} ms)`, ExitCode.Failure);
  }
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return new CliError(`vipd is not running (no socket at ${path})`, ExitCode.Failure);
    case 'ECONNREFUSED':
      return new CliError(`vipd is not running (nothing listens on ${path}: a stale socket, or not a socket)`, ExitCode.Failure);
    case 'EACCES':
    case 'EPERM':
      return new CliError(`permission denied on ${path}: vipctl must run as root (the socket is 0600)`, ExitCode.MissingPrivilege);
    case 'ENOTDIR':
      return new CliError(`no socket at ${path}: a part of the path is not a directory`, ExitCode.Failure);
    default:
      return new CliError(`cannot connect to vipd at ${path}: ${err instanceof Error ? err.message : String(err)}`, ExitCode.Failure);
  }
}

/** A connected client, typed by the contract in src/daemon/api.ts. */
export class DaemonConnection {
  readonly path: string;
  readonly client: ControlClient;

  private constructor(path: string, client: ControlClient) {
    this.path = path;
    this.client = client;
  }

  static async open(path: string): Promise<DaemonConnection> {
    try {
      return new DaemonConnection(path, await ControlClient.connect(path, { timeoutMs: CONNECT_TIMEOUT_MS }));
    } catch (err) {
      throw connectFailure(path, err);
    }
  }

  call<M extends ControlMethodName>(method: M, params: ControlMethods[M][0], timeoutMs?: number): Promise<ControlMethods[M][1]> {
    return this.client.call<ControlMethods[M][1]>(method, params, timeoutMs === undefined ? {} : { timeoutMs });
  }

  close(): void {
    this.client.close();
  }
}

/** Finds the daemon, runs fn with a connection, and always closes it. */
export async function withDaemon<T>(options: GlobalOptions, fn: (daemon: DaemonConnection) => Promise<T>): Promise<T> {
  const daemon = await DaemonConnection.open(await resolveSocketPath(options));
  try {
    return await fn(daemon);
  } finally {
    daemon.close();
  }
}
