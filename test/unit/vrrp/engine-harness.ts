/** Builds a VrrpInstance on a fake clock and records what it asks the daemon to do. */
import {
  VrrpInstance,
  type VrrpInstanceConfig,
  type ReceivedAdvert,
  type VrrpAction,
} from '../../../src/vrrp/instance.js';
import { FakeClock } from './fake-clock.js';

export const BASE_CONFIG: VrrpInstanceConfig = {
  name: 'VI_1',
  version: 3,
  vrid: 51,
  priority: 100,
  advertIntervalMs: 1000,
  primaryAddress: '10.0.0.2',
  vips: ['10.0.0.100'],
  preempt: true,
  announce: { repeat: 3, intervalMs: 10, secondBurstDelayMs: 0, refreshMs: 0 },
};

export interface Harness {
  clock: FakeClock;
  instance: VrrpInstance;
  /** Every action emitted so far. */
  actions: VrrpAction[];
  /** Returns the actions emitted since the last take() and forgets them. */
  take(): VrrpAction[];
  /** Adverts the "socket" holds but the daemon has not read: drainPending feeds them. */
  socket: ReceivedAdvert[];
}

export function harness(overrides: Partial<VrrpInstanceConfig> = {}, options: { drain?: boolean; clock?: FakeClock } = {}): Harness {
  const clock = options.clock ?? new FakeClock(0);
  const actions: VrrpAction[] = [];
  let taken = 0;
  const socket: ReceivedAdvert[] = [];
  const instance: VrrpInstance = new VrrpInstance(
    { ...BASE_CONFIG, ...overrides },
    {
      clock,
      emit: (action) => actions.push(action),
      drainPending:
        options.drain === false
          ? undefined
          : () => {
              for (let rx = socket.shift(); rx !== undefined; rx = socket.shift()) instance.onAdvert(rx);
            },
    },
  );
  return {
    clock,
    instance,
    actions,
    socket,
    take() {
      const fresh = actions.slice(taken);
      taken = actions.length;
      return fresh;
    },
  };
}

export function rx(src: string, priority: number, arrivalMs: number, intervalMs = 1000): ReceivedAdvert {
  return { src, priority, arrivalMs, intervalMs };
}

/** Compact view of actions, so expectations read like a log. */
export function summary(actions: readonly VrrpAction[]): string[] {
  return actions.map((a) => {
    switch (a.kind) {
      case 'stateChange':
        return `${a.from}->${a.to}`;
      case 'sendAdvert':
        return `advert ${a.priority}`;
      case 'announce':
        return `announce ${a.vips.join(',')} x${a.repeat}`;
    }
  });
}

/** The reason text of the last state change. */
export function lastReason(actions: readonly VrrpAction[]): string {
  const changes = actions.filter((a) => a.kind === 'stateChange');
  const last = changes[changes.length - 1];
  return last === undefined ? '' : last.reason;
}
