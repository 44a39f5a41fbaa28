/**
 * Errors from the network path (a VipdError: users match `code`, never the
 * message):
 * - `VIPD_NET_PRIVILEGE`: the kernel said EPERM/EACCES; the message names
 *   the capability (CAP_NET_RAW for raw and packet sockets, CAP_NET_ADMIN for
 *   rtnetlink changes and socket options). Exit code 3.
 * - otherwise `VIPD_NET_<ERRNO>` (`VIPD_NET_ENODEV`, `VIPD_NET_EADDRNOTAVAIL`,
 *   ...), with the errno name in `errnoName` and `errno` and `syscall` as the
 *   addon reported them.
 */
import { VipdError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

export type Capability = 'CAP_NET_RAW' | 'CAP_NET_ADMIN';

export const PRIVILEGE_CODE = 'VIPD_NET_PRIVILEGE';

export class NetError extends VipdError {
  override readonly name = 'NetError';
  /** The kernel's errno name ('ENODEV'), when the failure was one. */
  readonly errnoName: string | undefined;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  readonly capability: Capability | undefined;

  /** `errnoName`: the errno's name ('ENODEV'), or PRIVILEGE_CODE. */
  constructor(
    message: string,
    opts: { errnoName: string; errno?: number; syscall?: string; capability?: Capability; cause?: unknown },
  ) {
    const privilege = opts.errnoName === PRIVILEGE_CODE;
    super(privilege ? PRIVILEGE_CODE : `VIPD_NET_${opts.errnoName}`, message, {
      exitCode: privilege ? ExitCode.MissingPrivilege : ExitCode.Failure,
      cause: opts.cause,
    });
    this.errnoName = privilege ? undefined : opts.errnoName;
    this.errno = opts.errno;
    this.syscall = opts.syscall;
    this.capability = opts.capability;
  }
}

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
      errnoName: PRIVILEGE_CODE,
      errno,
      syscall,
      capability,
      cause: err,
    });
  }
  return new NetError(`${what}: ${e.message}`, { errnoName: e.code, errno, syscall, cause: err });
}

/** Runs fn, converting what it throws with toNetError. */
export function native<T>(what: string, capability: Capability, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toNetError(err, what, capability);
  }
}
