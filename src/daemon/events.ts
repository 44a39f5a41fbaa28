/**
 * The daemon's event history: every change to a VIP or its service, kept in
 * a bounded ring (the last `capacity` events) for `vipctl events`, and
 * written to the log as it happens so the full trail survives the ring.
 *
 * Followers (`vipctl events --follow`) do not get a queue each: they keep
 * the last sequence number they saw and read the ring after it on every
 * wake-up. A follower that falls more than `capacity` events behind sees a
 * gap in `seq` instead of making the daemon hold memory for it.
 */
import type { VipdEvent, VipdEventBody } from './api.js';

export const DEFAULT_EVENT_CAPACITY = 1000;

export interface EventLogOptions {
  capacity?: number;
  /** Where every event is written as it is recorded (the daemon's logger). */
  logger?: { info(fields: object, msg: string): void };
  /** The clock for `at` (tests pass a fake one). */
  now?: () => Date;
}

export class EventLog {
  readonly capacity: number;
  readonly #ring: VipdEvent[] = [];
  /** Index in #ring of the oldest event once the ring is full. */
  #head = 0;
  #lastSeq = 0;
  readonly #waiters = new Set<() => void>();
  readonly #logger: EventLogOptions['logger'];
  readonly #now: () => Date;

  constructor(options: EventLogOptions = {}) {
    this.capacity = options.capacity ?? DEFAULT_EVENT_CAPACITY;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new RangeError(`event capacity must be a positive integer, got ${this.capacity}`);
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
  }

  /** Numbers and stamps an event, keeps it (dropping the oldest when full), logs it and wakes followers. */
  record(body: VipdEventBody): VipdEvent {
    const event = { ...body, seq: ++this.#lastSeq, at: this.#now().toISOString() } as VipdEvent;
    if (this.#ring.length < this.capacity) this.#ring.push(event);
    else {
      this.#ring[this.#head] = event;
      this.#head = (this.#head + 1) % this.capacity;
    }
    this.#logger?.info({ event }, `event: ${describeEvent(event)}`);
    for (const wake of [...this.#waiters]) wake();
    return event;
  }

  /** The sequence number of the newest event (0 before the first). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The events held, oldest first; only the newest `limit` when given. */
  list(limit?: number): VipdEvent[] {
    const all = [...this.#ring.slice(this.#head), ...this.#ring.slice(0, this.#head)];
    return limit === undefined ? all : all.slice(Math.max(0, all.length - limit));
  }

  /** The events held with seq > `seq`, oldest first. */
  after(seq: number): VipdEvent[] {
    return this.list().filter((e) => e.seq > seq);
  }

  /**
   * The newest `limit` events (all when undefined), then every new event as
   * it is recorded, until `signal` aborts.
   */
  async *follow(signal: AbortSignal, limit?: number): AsyncGenerator<VipdEvent> {
    let last = this.#lastSeq;
    for (const e of this.list(limit)) yield e;
    while (!signal.aborted) {
      const fresh = this.after(last);
      if (fresh.length === 0) {
        await this.#next(signal);
        continue;
      }
      for (const e of fresh) {
        last = e.seq;
        yield e;
      }
    }
  }

  /** Resolves at the next record() or when `signal` aborts. */
  #next(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

function who(by: { via: string; uid: number | null }): string {
  return by.via === 'signal' ? 'by signal' : `by uid ${by.uid ?? '?'}`;
}

/** One line for people: the log message and `vipctl events` without --json. */
export function describeEvent(e: VipdEventBody): string {
  switch (e.type) {
    case 'state':
      return `${e.instance}: ${e.from} -> ${e.to} (${e.reason})`;
    case 'failover':
      return `${e.instance}: failover took ${(e.seconds * 1000).toFixed(1)} ms (election to first announcement)`;
    case 'backend':
      return `${e.service}: backend ${e.backend} ${e.up ? 'up' : 'down'} (${e.reason})`;
    case 'flows-lost':
      return `${e.service}: backend ${e.backend} down: its ${e.flows} flow(s) in the connection table go to other real servers`;
    case 'drain-complete':
      return `${e.service}: backend ${e.backend} drained: no connection left`;
    case 'drain':
      return `${e.service}: backend ${e.backend} ${e.drained ? 'drained' : 'undrained'}${e.changed ? '' : ' (no change)'} ${who(e.by)}`;
    case 'drain-host':
      return `host ${e.drained ? 'drained: BGP routes withdrawn' : 'undrained: BGP routes announced again'}${e.changed ? '' : ' (no change)'} ${who(e.by)}`;
    case 'priority':
      return `${e.instance}: priority ${e.previous} -> ${e.priority} ${who(e.by)}`;
    case 'reload':
      return e.result === 'applied'
        ? `reload ${who(e.by)}: ${e.changes.length ? e.changes.join('; ') : 'nothing changed'}`
        : `reload ${who(e.by)} rejected: ${(e.errors ?? []).join('; ')}`;
  }
}
