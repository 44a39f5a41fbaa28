/**
 * sd_notify(3) for systemd Type=notify: one datagram to $NOTIFY_SOCKET
 * (a path, or '@name' for an abstract socket).
 */
import { native } from './errors.js';
import { netAddon } from './native.js';

/**
 * Sends `state` ("READY=1", "WATCHDOG=1", "STATUS=...", several joined by
 * newlines, or an object { READY: 1, STATUS: 'x' }). Returns false when
 * there is no notify socket (not run by systemd), true when sent; throws
 * NetError when sending fails.
 */
export function sdNotify(
  state: string | Readonly<Record<string, string | number>>,
  socketPath: string | undefined = process.env.NOTIFY_SOCKET,
): boolean {
  if (!socketPath) return false;
  const msg =
    typeof state === 'string'
      ? state
      : Object.entries(state)
          .map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)
          .join('\n');
  native(`sd_notify to ${socketPath}`, 'CAP_NET_ADMIN', () => netAddon().sdNotify(socketPath, msg));
  return true;
}
