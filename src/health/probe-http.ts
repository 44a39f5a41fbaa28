/**
 * HTTP(S) GET; healthy when the status is in the expected range. The body is
 * not read: a check needs the status line only, and a backend streaming a
 * large body must not slow the checker down.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import { describeProbe, errorText, formatExpectStatus, hostPort, statusMatches } from './describe.js';
import type { HttpProbeSpec, ProbeResult } from './types.js';

export function probeHttp(spec: HttpProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  const what = describeProbe(spec);
  const hostHeader = spec.hostHeader ?? defaultHostHeader(spec);
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ ok: false, detail: `${what}: aborted` });
    let settled = false;

    const options: RequestOptions = {
      host: spec.host,
      port: spec.port,
      path: spec.path ?? '/',
      method: 'GET',
      // No pooling: every check proves a fresh connection works, as a new
      // client's would, and leaves nothing open between runs.
      agent: false,
      headers: { Host: hostHeader, 'User-Agent': 'vipd-health-check', Connection: 'close' },
    };
    if (spec.type === 'https') {
      options.rejectUnauthorized = spec.insecure !== true;
      // SNI must be a name; an IP-literal Host means no SNI.
      const name = hostOf(hostHeader);
      if (isIP(name) === 0) options.servername = name;
    }
    const req: ClientRequest = (spec.type === 'https' ? httpsRequest : httpRequest)(options, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      if (statusMatches(status, spec.expectStatus)) {
        finish({ ok: true, detail: `${what}: status ${status}` });
      } else {
        finish({
          ok: false,
          detail: `${what}: status ${status} (expected ${formatExpectStatus(spec.expectStatus)})`,
        });
      }
    });
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(result);
    };
    const onAbort = (): void => finish({ ok: false, detail: `${what}: aborted` });
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('error', (err) => finish({ ok: false, detail: `${what}: ${errorText(err)}` }));
    req.end();
  });
}

/** The backend address, with the port only when it is not the scheme's default (RFC 9110 7.2). */
function defaultHostHeader(spec: HttpProbeSpec): string {
  const defaultPort = spec.type === 'https' ? 443 : 80;
  if (spec.port !== defaultPort) return hostPort(spec.host, spec.port);
  return isIP(spec.host) === 6 ? `[${spec.host}]` : spec.host;
}

/** The host part of a Host header: `a.example:8443` -> `a.example`, `[::1]:443` -> `::1`. */
function hostOf(header: string): string {
  const bracketed = /^\[([^\]]*)\]/.exec(header);
  if (bracketed) return bracketed[1] ?? '';
  const colons = header.split(':').length - 1;
  return colons === 1 ? header.slice(0, header.indexOf(':')) : header;
}
