/** The event history: a bounded ring, numbered, logged, followed. */
import { describe, expect, it } from 'vitest';
import type { VipdEventBody } from '../../../src/daemon/api.js';
import { describeEvent, EventLog } from '../../../src/daemon/events.js';

const backend = (n: number): VipdEventBody => ({ type: 'backend', service: 'web', backend: `10.0.0.${n}`, up: n % 2 === 0, reason: 'connect refused' });

describe('EventLog', () => {
  it('numbers and stamps events, oldest first', () => {
    let t = Date.UTC(2026, 0, 1);
    const log = new EventLog({ now: () => new Date((t += 1000)) });
    log.record(backend(1));
    log.record({ type: 'failover', instance: 'web', seconds: 0.0042 });
    expect(log.list()).toEqual([
      { ...backend(1), seq: 1, at: '2026-01-01T00:00:01.000Z' },
      { type: 'failover', instance: 'web', seconds: 0.0042, seq: 2, at: '2026-01-01T00:00:02.000Z' },
    ]);
    expect(log.lastSeq).toBe(2);
  });

  it('keeps only the newest `capacity` events; seq shows what was lost', () => {
    const log = new EventLog({ capacity: 3 });
    for (let i = 1; i <= 7; i++) log.record(backend(i));
    expect(log.list().map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(log.list(2).map((e) => e.seq)).toEqual([6, 7]);
    expect(log.list(10).map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(log.after(5).map((e) => e.seq)).toEqual([6, 7]);
    expect(log.after(1).map((e) => e.seq)).toEqual([5, 6, 7]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new EventLog({ capacity: 0 })).toThrow(RangeError);
  });

  it('writes every event to the log with a one-line description', () => {
    const lines: { fields: object; msg: string }[] = [];
    const log = new EventLog({ logger: { info: (fields, msg) => lines.push({ fields, msg }) } });
    const e = log.record({ type: 'reload', result: 'applied', changes: ['service web changed'], diff: ['-3: a', '+3: b'], by: { via: 'control', uid: 1000, pid: 42 } });
    expect(lines).toEqual([{ fields: { event: e }, msg: 'event: reload by uid 1000: service web changed' }]);
  });

  it('follow: the newest `limit` first, then new events as they come, until aborted', async () => {
    const log = new EventLog();
    for (let i = 1; i <= 5; i++) log.record(backend(i));
    const ac = new AbortController();
    const seen: number[] = [];
    const done = (async () => {
      for await (const e of log.follow(ac.signal, 2)) {
        seen.push(e.seq);
        if (seen.length === 4) ac.abort();
      }
    })();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([4, 5]);
    log.record(backend(6));
    log.record(backend(7));
    await done;
    expect(seen).toEqual([4, 5, 6, 7]);
  });

  it('follow ends when aborted while waiting', async () => {
    const log = new EventLog();
    const ac = new AbortController();
    const it = log.follow(ac.signal)[Symbol.asyncIterator]();
    const next = it.next();
    ac.abort();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('describes each type for people', () => {
    const by = { via: 'signal' as const, uid: null, pid: null };
    expect(describeEvent({ type: 'state', instance: 'web', from: 'BACKUP', to: 'MASTER', priority: 150, reason: 'master down' })).toBe('web: BACKUP -> MASTER (master down)');
    expect(describeEvent({ type: 'drain', service: 'web', backend: '10.0.0.1', drained: true, changed: false, by: { via: 'control', uid: 0, pid: 1 } })).toBe(
      'web: backend 10.0.0.1 drained (no change) by uid 0',
    );
    expect(describeEvent({ type: 'priority', instance: 'web', previous: 150, priority: 50, by })).toBe('web: priority 150 -> 50 by signal');
    expect(describeEvent({ type: 'reload', result: 'rejected', changes: [], diff: [], errors: ['vipd.yaml:3:5: bad'], by })).toBe('reload by signal rejected: vipd.yaml:3:5: bad');
  });
});
