/**
 * bpffs: where pins live. Many machines (this VM among them) do not mount
 * /sys/fs/bpf, and `ip netns exec` remounts /sys, so vipd mounts a bpffs
 * where it is told to, or fails with a message that names what is missing.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BpfError, translateNativeError } from './errors.js';
import { bpfNative } from './native.js';

/** True when path (or, if it does not exist yet, its nearest existing parent) is on a bpffs. */
export function isOnBpffs(path: string): boolean {
  let p = path;
  while (!existsSync(p)) {
    const parent = dirname(p);
    if (parent === p) return false;
    p = parent;
  }
  return bpfNative().isBpffs(p);
}

/**
 * Makes sure dir is on a bpffs: nothing to do if it already is; otherwise
 * creates dir and mounts a bpffs on it. Exit-code-3 errors name what is missing.
 */
export function ensureBpffs(dir: string): { mounted: boolean } {
  const native = bpfNative();
  if (native.isBpffs(dir)) return { mounted: false };
  // A pin directory below a mounted bpffs (e.g. /sys/fs/bpf/vipd): create it there.
  if (native.isBpffs(dirname(dir))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return { mounted: false };
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new BpfError('VIPD_BPF_BPFFS', 'mkdir', `cannot create the pin directory ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    native.mountBpffs(dir);
    return { mounted: true };
  } catch (err) {
    const e = translateNativeError(err);
    if (e.errnoName === 'EPERM' || e.errnoName === 'EACCES') {
      throw new BpfError('VIPD_BPF_BPFFS', 'mount', `mounting bpffs at ${dir} needs CAP_SYS_ADMIN (run as root)`, {
        errnoName: e.errnoName,
        cause: err,
      });
    }
    if (e.errnoName === 'ENODEV') {
      throw new BpfError('VIPD_BPF_BPFFS', 'mount', `this kernel has no bpf filesystem (CONFIG_BPF_SYSCALL)`, {
        errnoName: e.errnoName,
        cause: err,
      });
    }
    throw new BpfError('VIPD_BPF_BPFFS', 'mount', `cannot mount bpffs at ${dir}: ${e.message}`, {
      errnoName: e.errnoName,
      cause: err,
    });
  }
}

/** Unmounts a bpffs this process mounted (pins under it disappear). */
export function unmountBpffs(dir: string): void {
  try {
    bpfNative().unmount(dir);
  } catch (err) {
    throw translateNativeError(err, `unmounting ${dir}`);
  }
}
