/**
 * Who is at the other end of a connected Unix socket (SO_PEERCRED): the
 * control socket records the uid of whoever asked for a change. Node has no
 * API for it, so the addon reads it from the socket's fd.
 */
import type { Socket } from 'node:net';
import { nativeAddon } from '../native.js';

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

interface PeerCredAddon {
  peerCredentials(fd: number): PeerCredentials;
}

/**
 * The peer's credentials as of its connect(2); undefined when the socket
 * has no fd (closed already, or not a Unix socket: then getsockopt fails).
 */
export function peerCredentials(socket: Socket): PeerCredentials | undefined {
  // libuv's pipe handle exposes its fd; there is no public accessor.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  try {
    return (nativeAddon() as PeerCredAddon).peerCredentials(fd);
  } catch {
    return undefined;
  }
}
