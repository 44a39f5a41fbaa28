/** The metrics listener's address (parsed by src/addr.ts) and whether it stays on this host. */
import { isIP } from 'node:net';

export { parseListenAddress, type ListenAddress } from '../addr.js';

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`; false for wildcards. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
