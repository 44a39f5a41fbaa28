/**
 * Logs: pino JSON lines on stdout (what journald and log shippers want), or
 * `--log pretty` for people. Every state change is logged once, with why.
 * JSON lines are written asynchronously; pretty output stays synchronous.
 */
import { createRequire } from 'node:module';
import { destination, pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

/** pino-pretty, loaded only for `--log pretty` (~0.1 s of a daemon's start otherwise). */
const loadPretty = (): typeof PinoPretty => createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;

export type LogFormat = 'json' | 'pretty';
export type { Logger };

export function createLogger(format: LogFormat, level = process.env.VIPD_LOG_LEVEL ?? 'info'): Logger {
  if (format === 'pretty') {
    // Synchronous, so the last lines before an exit are never lost.
    return pino({ level, base: undefined }, loadPretty()({ sync: true, colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  // Asynchronous: a burst (a table installed for each of 10 000 services)
  // is written in big chunks off the JS thread; a synchronous stdout blocked
  // the event loop ~1 s at that size whenever the reader lagged (EAGAIN on a
  // pipe). pino flushes what is left synchronously on exit (also on a crash).
  return pino({ level, base: { pid: process.pid } }, destination({ sync: false }));
}
