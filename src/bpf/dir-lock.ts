/**
 * An exclusive lock on a directory (flock on the directory's own fd, as
 * xdp-tools locks its bpffs directory): a bpffs refuses regular files, so
 * there is no lock file to create. The kernel keeps the record of who holds
 * it in /proc/locks, which is where flockHolder() reads the holder's pid:
 * nothing is written that could outlive the holder and go stale.
 */
import { readFileSync, statSync } from 'node:fs';
import { translateNativeError } from './errors.js';
import { bpfNative } from './native.js';

export interface DirLock {
  readonly path: string;
  /** Drops the lock (closing the fd); a process that ends drops it too, SIGKILL included. */
  release(): void;
}

/** Takes the lock, or returns undefined when another open file holds it. */
export function tryLockDir(path: string): DirLock | undefined {
  const native = bpfNative();
  let fd: number;
  try {
    fd = native.lockDir(path);
  } catch (err) {
    const e = translateNativeError(err, `locking ${path}`);
    if (e.errnoName === 'EAGAIN' || e.errnoName === 'EWOULDBLOCK') return undefined;
    throw e;
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      native.closeFd(fd);
    },
  };
}

/**
 * The pid of the process holding a flock on path, from /proc/locks (in the
 * reader's pid namespace); undefined when none is listed.
 */
export function flockHolder(path: string, procLocks?: string): number | undefined {
  let text = procLocks;
  let st;
  try {
    text ??= readFileSync('/proc/locks', 'utf8');
    st = statSync(path, { bigint: true });
  } catch {
    return undefined;
  }
  // glibc's dev_t encoding; /proc/locks prints major:minor in hex and the inode in decimal.
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  for (const line of text.split('\n')) {
    // "1: FLOCK  ADVISORY  WRITE 1234 00:2d:1 0 EOF"; "1: -> FLOCK ..." lines are waiters.
    const m = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (!m) continue;
    if (BigInt(`0x${m[2]}`) === major && BigInt(`0x${m[3]}`) === minor && BigInt(m[4]) === st.ino) return Number(m[1]);
  }
  return undefined;
}
