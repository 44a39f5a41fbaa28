/**
 * The pin directory: what vipd pins there (every map by name, an XDP link
 * per interface as xdp_link_IFINDEX), how a later process finds it, how it
 * is removed, and the lock that keeps it to one vipd at a time.
 *
 * The lock is an flock on the directory itself (a bpffs holds no regular
 * files); the holder's pid is read from /proc/locks. The kernel drops it
 * when the holder's fd closes: at close(), at exit, at SIGKILL.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PinDirLockedError, XdpLink, flockHolder, tryLockDir, type DirLock } from '../bpf/index.js';
import { MAPS } from './abi.js';

/** Maps earlier ABIs pinned that this one has not (ABI 2: services, service_stats; ABI 1-3: ifaces). */
const RETIRED_MAPS = ['services', 'service_stats', 'ifaces'] as const;

const LINK_PREFIX = 'xdp_link_';

export function linkPinPath(pinDir: string, ifindex: number): string {
  return join(pinDir, `${LINK_PREFIX}${ifindex}`);
}

/** True when an earlier process left its maps pinned there (this one adopts them). */
export function hasPinnedMaps(pinDir: string): boolean {
  return existsSync(join(pinDir, 'instances'));
}

/**
 * Takes the pin directory's lock. A vipd handing off (SIGUSR2) releases it
 * as it closes the data plane, just before it exits: the next one waits
 * up to waitMs for that, then gives up naming the holder.
 */
export async function lockPinDir(pinDir: string, waitMs: number): Promise<DirLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = tryLockDir(pinDir);
    if (lock) return lock;
    if (Date.now() >= deadline) throw new PinDirLockedError(pinDir, flockHolder(pinDir));
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Removes every map pin under pinDir, whatever its name (maps an older ABI
 * pinned under other names go too), keeping the links (the program stays
 * attached while the maps are replaced) and what vipd never makes: the
 * kernel's `*.debug` iterators and directories. iproute2 keeps its
 * `tc/globals` on the first bpffs it finds when /sys/fs/bpf is none, which
 * may be this one; a directory here is never vipd's. Returns the names removed.
 */
export function removeMapPins(pinDir: string): string[] {
  const removed: string[] = [];
  for (const entry of readdirSync(pinDir, { withFileTypes: true })) {
    if (entry.isDirectory() || entry.name.startsWith(LINK_PREFIX) || entry.name.endsWith('.debug')) continue;
    rmSync(join(pinDir, entry.name), { force: true });
    removed.push(entry.name);
  }
  return removed.sort();
}

/**
 * Removes every pin under pinDir that vipd made: links first (which
 * detaches the program when no fd holds them), then the maps.
 */
export function unpinAll(pinDir: string): void {
  if (!existsSync(pinDir)) return;
  for (const name of readdirSync(pinDir)) {
    if (name.startsWith(LINK_PREFIX)) {
      try {
        const link = XdpLink.openPinned(join(pinDir, name));
        link.detach();
        link.close();
      } catch {
        // Already detached: removing the pin is all that is left.
      }
      rmSync(join(pinDir, name), { force: true });
    }
  }
  for (const name of [...Object.keys(MAPS), ...RETIRED_MAPS]) rmSync(join(pinDir, name), { force: true });
}
