/**
 * Config health checks (seconds, DESIGN.md "Config") to CheckSpecs (ms).
 *
 * The input types mirror src/config/schema.ts structurally instead of
 * importing it: health sits below config in the layering, and a unit test
 * checks that the config's types still fit.
 */
import type { CheckSpec, InitialState, ProbeSpec } from './types.js';

interface ConfigTiming {
  readonly interval: number;
  readonly timeout: number;
  readonly rise: number;
  readonly fall: number;
}

export type ConfigHealthCheck =
  | (ConfigTiming & { readonly type: 'tcp'; readonly port?: number })
  | (ConfigTiming & {
      readonly type: 'http' | 'https';
      readonly port?: number;
      readonly path: string;
      readonly expectStatus: number;
      readonly host?: string;
      readonly tlsVerify: boolean;
    })
  | (ConfigTiming & { readonly type: 'command'; readonly command: readonly string[] });

export interface CheckTarget {
  readonly service: string;
  /** The service port: the default port of tcp/http checks. */
  readonly servicePort: number;
  readonly backend: string;
  readonly initialState?: InitialState;
}

/**
 * Command checks get the backend in their environment (VIPD_SERVICE,
 * VIPD_BACKEND, VIPD_PORT): vipd appends nothing to the argv.
 */
export function checkSpecFromConfig(check: ConfigHealthCheck, target: CheckTarget): CheckSpec {
  let probe: ProbeSpec;
  switch (check.type) {
    case 'tcp':
      probe = { type: 'tcp', host: target.backend, port: check.port ?? target.servicePort };
      break;
    case 'http':
    case 'https':
      probe = {
        type: check.type,
        host: target.backend,
        port: check.port ?? target.servicePort,
        path: check.path,
        expectStatus: check.expectStatus,
        ...(check.host !== undefined ? { hostHeader: check.host } : {}),
        insecure: !check.tlsVerify,
      };
      break;
    case 'command':
      probe = {
        type: 'command',
        argv: check.command,
        env: { VIPD_SERVICE: target.service, VIPD_BACKEND: target.backend, VIPD_PORT: String(target.servicePort) },
      };
      break;
  }
  return {
    service: target.service,
    backend: target.backend,
    probe,
    intervalMs: check.interval * 1000,
    timeoutMs: check.timeout * 1000,
    rise: check.rise,
    fall: check.fall,
    ...(target.initialState !== undefined ? { initialState: target.initialState } : {}),
  };
}
