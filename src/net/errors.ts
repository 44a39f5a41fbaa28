/**
 * Errors from the network path. Users match `code`, never the message:
 * - `VIPD_ERR_NET_PRIVILEGE`: the kernel said EPERM/EACCES; the message names
 *   the capability (CAP_NET_RAW for raw and packet sockets, CAP_NET_ADMIN for
 *   rtnetlink changes and socket options). Maps to exit code 3.
 * - otherwise the errno name (`ENODEV`, `EADDRNOTAVAIL`, `EEXIST`, ...), with
 *   `errno` and `syscall` as the addon reported them.
 */
export type Capability = 'CAP_NET_RAW' | 'CAP_NET_ADMIN';

export class NetError extends Error {
  override readonly name = 'NetError';
  readonly code: string;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  readonly capability: Capability | undefined;

  constructor(
    message: string,
    opts: { code: string; errno?: number; syscall?: string; capability?: Capability; cause?: unknown },
  ) {
    super(message, { cause: opts.cause });
    this.code = opts.code;
    this.errno = opts.errno;
    this.syscall = opts.syscall;
    this.capability = opts.capability;
  }
}

export const PRIVILEGE_CODE = 'VIPD_ERR_NET_PRIVILEGE';

interface ErrnoLike {
  message: string;
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
}

/** Turns an addon error into a NetError; `what` says what we were doing. */
export function toNetError(err: unknown, what: string, capability: Capability): Error {
  if (!(err instanceof Error)) return new Error(`${what}: ${String(err)}`);
  if (err instanceof NetError) return err;
  const e = err as ErrnoLike;
  if (typeof e.code !== 'string') return err; // a TypeError from argument checks
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const syscall = typeof e.syscall === 'string' ? e.syscall : undefined;
  if (e.code === 'EPERM' || e.code === 'EACCES') {
    return new NetError(`${what}: permission denied: needs ${capability} (run vipd as root): ${e.message}`, {
      code: PRIVILEGE_CODE,
      errno,
      syscall,
      capability,
      cause: err,
    });
  }
  return new NetError(`${what}: ${e.message}`, { code: e.code, errno, syscall, cause: err });
}

/** Runs fn, converting what it throws with toNetError. */
export function native<T>(what: string, capability: Capability, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toNetError(err, what, capability);
  }
}
