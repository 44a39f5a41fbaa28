/** Human names of probes, the prefix of every reason string. */
import { isIP } from 'node:net';
import type { ExpectStatus, HttpProbeSpec, ProbeSpec } from './types.js';
import { DEFAULT_EXPECT_STATUS } from './types.js';

/** `10.0.0.11:80`, `[2001:db8::11]:80`. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function httpUrl(spec: HttpProbeSpec): string {
  return `${spec.type}://${hostPort(spec.host, spec.port)}${spec.path ?? '/'}`;
}

export function formatExpectStatus(expect: ExpectStatus = DEFAULT_EXPECT_STATUS): string {
  return typeof expect === 'number' ? String(expect) : `${expect.min}-${expect.max}`;
}

export function statusMatches(status: number, expect: ExpectStatus = DEFAULT_EXPECT_STATUS): boolean {
  return typeof expect === 'number' ? status === expect : status >= expect.min && status <= expect.max;
}

export function describeProbe(spec: ProbeSpec): string {
  switch (spec.type) {
    case 'tcp':
      return `tcp connect ${hostPort(spec.host, spec.port)}`;
    case 'http':
    case 'https':
      return `${spec.type} GET ${httpUrl(spec)}`;
    case 'command':
      return `command ${spec.argv.join(' ')}`;
  }
}

/** The error code when Node gives one (ECONNREFUSED), else the message. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return typeof code === 'string' && code !== '' ? code : err.message;
  }
  return String(err);
}
