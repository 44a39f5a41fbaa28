/**
 * Rates from two cumulative snapshots of the daemon's counters. A counter
 * that went backwards (the daemon re-created its maps) or is new in the
 * second snapshot has no rate (null), rather than a wrong one.
 */
import type { StatsSnapshot } from '../daemon/api.js';

export interface CounterRate {
  /** Cumulative, from the later snapshot. */
  readonly packets: number;
  readonly bytes: number;
  readonly pps: number | null;
  /** Bits per second. */
  readonly bps: number | null;
}

export interface BackendRate extends CounterRate {
  readonly address: string;
}

export interface ServiceRate extends CounterRate {
  readonly name: string;
  readonly backends: BackendRate[];
}

export interface VerdictRate {
  readonly reason: string;
  readonly packets: number;
  readonly pps: number | null;
}

export interface StatsRates {
  /** ISO time of the later snapshot. */
  readonly at: string;
  /** Seconds between the two snapshots. */
  readonly intervalSeconds: number;
  readonly services: ServiceRate[];
  readonly verdicts: VerdictRate[];
}

interface Counter {
  packets: number;
  bytes: number;
}

function rate(now: number, before: number | undefined, seconds: number): number | null {
  if (before === undefined || now < before || seconds <= 0) return null;
  return (now - before) / seconds;
}

// Counters are u64 and may arrive as bigint over msgpack: Number() takes either.
function counter(c: { packets: number | bigint; bytes: number | bigint }): Counter {
  return { packets: Number(c.packets), bytes: Number(c.bytes) };
}

function counterRate(now: Counter, before: Counter | undefined, seconds: number): CounterRate {
  const bytesPerSecond = rate(now.bytes, before?.bytes, seconds);
  return {
    packets: now.packets,
    bytes: now.bytes,
    pps: rate(now.packets, before?.packets, seconds),
    bps: bytesPerSecond === null ? null : bytesPerSecond * 8,
  };
}

const backendKey = (service: string, backend: string): string => `${service}\u0000${backend}`;

export function computeRates(before: StatsSnapshot, now: StatsSnapshot): StatsRates {
  const seconds = (now.at - before.at) / 1000;
  const servicesBefore = new Map(before.services.map((s) => [s.name, counter(s)]));
  const backendsBefore = new Map(before.backends.map((b) => [backendKey(b.service, b.backend), counter(b)]));
  const services: ServiceRate[] = now.services.map((s) => ({
    name: s.name,
    ...counterRate(counter(s), servicesBefore.get(s.name), seconds),
    backends: now.backends
      .filter((b) => b.service === s.name)
      .map((b) => ({ address: b.backend, ...counterRate(counter(b), backendsBefore.get(backendKey(b.service, b.backend)), seconds) })),
  }));
  const verdicts = Object.entries(now.verdicts).map(([reason, packets]) => ({
    reason,
    packets: Number(packets),
    pps: rate(Number(packets), reason in before.verdicts ? Number(before.verdicts[reason]) : undefined, seconds),
  }));
  return { at: new Date(now.at).toISOString(), intervalSeconds: seconds, services, verdicts };
}
