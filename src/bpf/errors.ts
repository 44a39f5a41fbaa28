/**
 * Typed errors of the BPF layer. Users match `code`, never messages
 * (as undici does). Every native failure is translated here, so no caller
 * ever sees a bare errno number.
 */
import { VipdError } from '../errors.js';

/** Stable codes; documented in docs/libbpf-ts.md. */
export type BpfErrorCode =
  | 'VIPD_BPF_PERMISSION'
  | 'VIPD_BPF_VERIFIER'
  | 'VIPD_BPF_NOT_FOUND'
  | 'VIPD_BPF_INVALID_ARGUMENT'
  | 'VIPD_BPF_KEY_EXISTS'
  | 'VIPD_BPF_NO_SPACE'
  | 'VIPD_BPF_BUSY'
  | 'VIPD_BPF_UNSUPPORTED'
  | 'VIPD_BPF_NO_INTERFACE'
  | 'VIPD_BPF_BPFFS'
  | 'VIPD_BPF_CLOSED'
  | 'VIPD_BPF_PIN_MISMATCH'
  | 'VIPD_BPF_PIN_DIR_LOCKED'
  | 'VIPD_BPF_SYSTEM';

/**
 * Exit code a CLI should use: 3 for missing privilege or kernel feature,
 * 2 for a pin directory another process holds (a setup error), else 1.
 */
function bpfExitCode(code: BpfErrorCode): 1 | 2 | 3 {
  if (code === 'VIPD_BPF_PERMISSION' || code === 'VIPD_BPF_UNSUPPORTED' || code === 'VIPD_BPF_BPFFS') return 3;
  return code === 'VIPD_BPF_PIN_DIR_LOCKED' ? 2 : 1;
}

export class BpfError extends VipdError {
  override name = 'BpfError';
  declare readonly code: BpfErrorCode;
  /** The failing operation, e.g. "bpf_map_update_elem". */
  readonly op: string;
  /** The errno name from the kernel ("EPERM"), when there was one. */
  readonly errnoName?: string;

  constructor(code: BpfErrorCode, op: string, message: string, opts: { errnoName?: string; cause?: unknown } = {}) {
    super(code, message, { exitCode: bpfExitCode(code), cause: opts.cause });
    this.op = op;
    this.errnoName = opts.errnoName;
  }
}

/** One way a pinned map differs from the object's declaration of it. */
export interface PinDifference {
  /** The pin's path. */
  pin: string;
  field: 'type' | 'key size' | 'value size' | 'max entries' | 'flags';
  /** What the pinned map has, and what the object declares (type names, numbers, hex flags). */
  pinned: string;
  declared: string;
}

/**
 * Maps pinned by an earlier build cannot be reused by this object: every
 * difference is listed (in the message, and in `differences`).
 */
export class PinMismatchError extends BpfError {
  override name = 'PinMismatchError';
  readonly differences: readonly PinDifference[];
  constructor(object: string, differences: readonly PinDifference[]) {
    const list = differences.map((d) => `${d.pin}: ${d.field} ${d.pinned} pinned, ${d.declared} in the object`);
    super(
      'VIPD_BPF_PIN_MISMATCH',
      'bpf_obj_get_info_by_fd',
      `${differences.length} difference(s) between the pinned maps and ${object}: ${list.join('; ')}`,
    );
    this.differences = differences;
  }
}

/** Another process holds the pin directory's lock (a second vipd on the same pins). */
export class PinDirLockedError extends BpfError {
  override name = 'PinDirLockedError';
  /** The holder, from /proc/locks; undefined when the kernel did not list it. */
  readonly holderPid: number | undefined;
  constructor(dir: string, holderPid: number | undefined) {
    super(
      'VIPD_BPF_PIN_DIR_LOCKED',
      'flock',
      `the pin directory ${dir} is in use by ${holderPid === undefined ? 'another process' : `another vipd (pid ${holderPid})`}: ` +
        'one vipd per pin directory (stop it, or give this one its own bpf.pin)',
      { errnoName: 'EWOULDBLOCK' },
    );
    this.holderPid = holderPid;
  }
}

/** The kernel refused to load a program; `log` holds libbpf's output with the verifier log. */
export class VerifierError extends BpfError {
  override name = 'VerifierError';
  readonly log: string;
  constructor(op: string, message: string, log: string, opts: { errnoName?: string; cause?: unknown } = {}) {
    super('VIPD_BPF_VERIFIER', op, message, opts);
    this.log = log;
  }
}

interface NativeErrorShape {
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
  message?: unknown;
  log?: unknown;
}

const PERMISSION_HINT = 'needs CAP_BPF and CAP_NET_ADMIN (run as root)';

/** Turns an error thrown by the addon into a typed BpfError with a message a user can act on. */
export function translateNativeError(err: unknown, context = ''): BpfError {
  if (err instanceof BpfError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as NativeErrorShape;
  const errnoName = typeof e.code === 'string' ? e.code : undefined;
  const op = typeof e.syscall === 'string' ? e.syscall : 'bpf';
  const raw = typeof e.message === 'string' ? e.message : String(err);
  const where = context ? `${context}: ` : '';
  const opts = { errnoName, cause: err };
  switch (errnoName) {
    case 'EPERM':
    case 'EACCES':
      return new BpfError('VIPD_BPF_PERMISSION', op, `${where}${op} was refused: ${PERMISSION_HINT}`, opts);
    case 'ENOENT':
      return new BpfError('VIPD_BPF_NOT_FOUND', op, `${where}${raw}`, opts);
    case 'EEXIST':
      return new BpfError('VIPD_BPF_KEY_EXISTS', op, `${where}${raw}`, opts);
    case 'E2BIG':
    case 'ENOSPC':
      return new BpfError('VIPD_BPF_NO_SPACE', op, `${where}${raw} (map full?)`, opts);
    case 'EBUSY':
      return new BpfError('VIPD_BPF_BUSY', op, `${where}${raw}`, opts);
    case 'ENODEV':
    case 'ENXIO':
      return new BpfError('VIPD_BPF_NO_INTERFACE', op, `${where}${raw}`, opts);
    case 'EOPNOTSUPP':
    case 'ENOSYS':
      return new BpfError('VIPD_BPF_UNSUPPORTED', op, `${where}${raw}: the kernel lacks this BPF feature`, opts);
    case 'EBADF':
      return new BpfError('VIPD_BPF_CLOSED', op, `${where}${raw}`, opts);
    case 'EINVAL':
      return new BpfError('VIPD_BPF_INVALID_ARGUMENT', op, `${where}${raw}`, opts);
    default:
      return new BpfError('VIPD_BPF_SYSTEM', op, `${where}${raw}`, opts);
  }
}

/** Runs a native call and rethrows any failure as a typed BpfError. */
export function callNative<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw translateNativeError(err, context);
  }
}
