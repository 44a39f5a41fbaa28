/** Healthy when a TCP handshake completes; the connection is closed at once. */
import { connect } from 'node:net';
import { describeProbe, errorText } from './describe.js';
import type { ProbeResult, TcpProbeSpec } from './types.js';

export function probeTcp(spec: TcpProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  const what = describeProbe(spec);
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ ok: false, detail: `${what}: aborted` });
    const socket = connect({ host: spec.host, port: spec.port });
    const finish = (result: ProbeResult): void => {
      signal.removeEventListener('abort', onAbort);
      // destroy, not end: a half-closed check connection would linger in the
      // real server's accept queue for nothing.
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => finish({ ok: false, detail: `${what}: aborted` });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ ok: true, detail: `${what}: connected` }));
    socket.once('error', (err) => finish({ ok: false, detail: `${what}: ${errorText(err)}` }));
  });
}
