/**
 * What a health check is and what it reports. Plain data: the daemon builds
 * these from the config (see fromConfig.ts) and compares them on reload.
 */
import type { InitialState } from '../checks/rise-fall.js';

/** An inclusive range of HTTP status codes, or one exact code. */
export type ExpectStatus = number | { readonly min: number; readonly max: number };

/** Any 2xx or 3xx, like keepalived's HTTP_GET without status_code. */
export const DEFAULT_EXPECT_STATUS: ExpectStatus = { min: 200, max: 399 };

export interface TcpProbeSpec {
  readonly type: 'tcp';
  readonly host: string;
  readonly port: number;
}

export interface HttpProbeSpec {
  readonly type: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** Request path with any query; default `/`. */
  readonly path?: string;
  /** Host header (and TLS SNI when it is a name); default the address (`:port` if not 80/443). */
  readonly hostHeader?: string;
  /** Default 200..399. */
  readonly expectStatus?: ExpectStatus;
  /** https only: accept any certificate (self-signed real servers). */
  readonly insecure?: boolean;
}

export interface CommandProbeSpec {
  readonly type: 'command';
  /** Absolute program path first; spawned in its own process group (src/checks/run-program.ts), never a shell. */
  readonly argv: readonly string[];
  /** Added to the daemon's environment (e.g. which backend to check). */
  readonly env?: Readonly<Record<string, string>>;
}

export type ProbeSpec = TcpProbeSpec | HttpProbeSpec | CommandProbeSpec;

/** How a checker starts before its first result; see src/checks/rise-fall.ts. */
export type { InitialState } from '../checks/rise-fall.js';

export interface CheckSpec {
  /** Service name, for events and logs. */
  readonly service: string;
  /** Backend name (usually its address), for events and logs. */
  readonly backend: string;
  readonly probe: ProbeSpec;
  /** Between the starts of two runs; a run that takes longer delays the next. */
  readonly intervalMs: number;
  /** A run not finished by then is aborted and counts as a failure. */
  readonly timeoutMs: number;
  /** Consecutive successes that take a down backend up. */
  readonly rise: number;
  /** Consecutive failures that take an up backend down. */
  readonly fall: number;
  /** Default `up`: see InitialState. */
  readonly initialState?: InitialState;
}

/** The outcome of one probe. Probes never throw: failures are data. */
export interface ProbeResult {
  readonly ok: boolean;
  /** Human text naming the probe, e.g. `tcp connect 10.0.0.11:80: ECONNREFUSED`. */
  readonly detail: string;
}

/** Emitted when a backend's health flips. */
export interface HealthChange {
  readonly service: string;
  readonly backend: string;
  readonly up: boolean;
  /** The result that tipped it, plus the run count, e.g. `... : status 503 (3 in a row)`. */
  readonly reason: string;
}
