/**
 * Making the socket path ours: a live daemon on it is an error, a stale
 * socket (left by a crash) is removed, anything that is not a socket is left
 * alone and reported.
 */
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { ControlError, ControlErrorCode } from './protocol.js';

/** How long a live daemon gets to accept the probe connection. */
const PROBE_TIMEOUT_MS = 1000;

export async function claimSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) {
    throw new ControlError(ControlErrorCode.NotASocket, `${path} exists and is not a socket; not removing it`);
  }
  if (await answers(path)) {
    throw new ControlError(ControlErrorCode.SocketInUse, `another process (a running vipd?) answers on ${path}`);
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** True when something accepts a connection on the socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      // Accepting nothing within the timeout: a wedged daemon still owns it.
      socket.destroy();
      resolve(true);
    }, PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(err);
    });
  });
}
