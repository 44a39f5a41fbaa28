/**
 * keepalived-compatible notify hooks, the pure half: the TYPE and STATE
 * arguments a hook gets. The daemon runs the hooks (src/daemon/notify-runner.ts).
 */
import type { VrrpState } from './instance.js';

export type NotifyType = 'INSTANCE' | 'GROUP';
/** The STATE argument; keepalived says STOP for a graceful shutdown. */
export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

/** keepalived's notify state for an engine state: INIT after a run means stopped. */
export function notifyStateFor(state: VrrpState): NotifyState {
  return state === 'INIT' ? 'STOP' : state;
}

/** The arguments keepalived appends: TYPE NAME STATE PRIORITY. */
export function notifyArgs(type: NotifyType, name: string, state: NotifyState, priority: number): string[] {
  return [type, name, state, String(priority)];
}
