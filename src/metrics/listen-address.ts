/** `host:port` for the metrics listener, and whether it stays on this host. */
import { isIP } from 'node:net';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `127.0.0.1:9477`, `[::1]:9477`, `localhost:9477`. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 0 || port > 65535) throw new RangeError(`not a host:port address: ${JSON.stringify(text)}`);
  const host = m[1] ?? m[2] ?? '';
  if (m[1] !== undefined && isIP(host) !== 6) throw new RangeError(`not an IPv6 address in brackets: ${JSON.stringify(text)}`);
  return { host, port };
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`; false for wildcards. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
