/**
 * Logs: pino JSON lines on stdout (what journald and log shippers want), or
 * `--log pretty` for people. Every state change is logged once, with why.
 */
import { destination, pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';
export type { Logger };

export function createLogger(format: LogFormat, level = process.env.VIPD_LOG_LEVEL ?? 'info'): Logger {
  if (format === 'pretty') {
    // Synchronous, so the last lines before an exit are never lost.
    return pino({ level, base: undefined }, pretty({ sync: true, colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino({ level, base: { pid: process.pid } }, destination({ sync: true }));
}
