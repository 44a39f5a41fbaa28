/** One entry point for every probe type, so the checker can take a fake. */
import { probeCommand } from './probe-command.js';
import { probeHttp } from './probe-http.js';
import { probeTcp } from './probe-tcp.js';
import type { ProbeResult, ProbeSpec } from './types.js';

/**
 * Runs one probe. Must resolve (never reject) and must stop its work when
 * `signal` aborts: the checker aborts it at the timeout.
 */
export type ProbeFn = (spec: ProbeSpec, signal: AbortSignal) => Promise<ProbeResult>;

export const runProbe: ProbeFn = (spec, signal) => {
  switch (spec.type) {
    case 'tcp':
      return probeTcp(spec, signal);
    case 'http':
    case 'https':
      return probeHttp(spec, signal);
    case 'command':
      return probeCommand(spec, signal);
  }
};
