import { describe, expect, it } from 'vitest';
import { harness, lastReason, rx, summary } from './engine-harness.js';

const MASTER = '10.0.0.1'; // the peer; our primary address is 10.0.0.2
// v3, priority 100, 1 s: Master_Down_Interval = 3000 + (256-100)*1000/256 = 3609.375 ms
const MDI_100 = 3609.375;
const SKEW_100 = 609.375;

/** Peer adverts every second from `from` to `to` (inclusive), arriving on time. */
function feedEverySecond(h: ReturnType<typeof harness>, priority: number, from: number, to: number): void {
  for (let t = from; t <= to; t += 1000) {
    h.clock.advanceTo(t);
    h.instance.onAdvert(rx(MASTER, priority, t));
  }
}

describe('Initialize', () => {
  it('goes to BACKUP and sends nothing', () => {
    const h = harness();
    h.instance.start();
    expect(h.instance.state).toBe('BACKUP');
    expect(summary(h.take())).toEqual(['INIT->BACKUP']);
    expect(h.clock.nextDue()).toBe(MDI_100);
  });

  it('the address owner (255) goes straight to MASTER: advert, then announce', () => {
    const h = harness({ priority: 255 });
    h.instance.start();
    expect(summary(h.take())).toEqual(['INIT->MASTER', 'advert 255', 'announce 10.0.0.100 x3']);
    expect(lastReason(h.actions)).toContain('address owner');
    h.clock.advanceTo(3000);
    expect(summary(h.take())).toEqual(['advert 255', 'advert 255', 'advert 255']);
  });

  it('starts in FAULT when a weight-0 track is already down', () => {
    const h = harness({ track: [{ name: 'interface:eth1', weight: 0 }] });
    h.instance.setTrackState('interface:eth1', false);
    h.instance.start();
    expect(h.instance.state).toBe('FAULT');
    expect(lastReason(h.actions)).toContain('interface:eth1');
  });
});

describe('BACKUP', () => {
  it('becomes MASTER when no advert arrives for Master_Down_Interval', () => {
    const h = harness();
    h.instance.start();
    h.take();
    h.clock.advanceTo(MDI_100 - 1);
    expect(h.instance.state).toBe('BACKUP');
    h.clock.advanceTo(MDI_100);
    expect(summary(h.take())).toEqual(['BACKUP->MASTER', 'advert 100', 'announce 10.0.0.100 x3']);
    expect(h.instance.status().masterSince).toBe(MDI_100);
  });

  it('stays BACKUP while the master advertises, then takes over Master_Down_Interval after its last advert', () => {
    const h = harness();
    h.instance.start();
    feedEverySecond(h, 150, 500, 5500);
    h.clock.advanceTo(5500 + MDI_100 - 1);
    expect(h.instance.state).toBe('BACKUP');
    expect(h.instance.status().masterAddress).toBe(MASTER);
    h.clock.advanceTo(5500 + MDI_100);
    expect(h.instance.state).toBe('MASTER');
    expect(lastReason(h.actions)).toBe(`no advert from ${MASTER} (priority 150) for ${Math.round(MDI_100)} ms`);
  });

  it('priority 0 from the master: takes over after Skew_Time from its arrival', () => {
    const h = harness();
    h.instance.start();
    feedEverySecond(h, 150, 500, 2500);
    h.clock.advanceTo(2700);
    h.instance.onAdvert(rx(MASTER, 0, 2700));
    h.clock.advanceTo(2700 + SKEW_100 - 1);
    expect(h.instance.state).toBe('BACKUP');
    h.clock.advanceTo(2700 + SKEW_100);
    expect(h.instance.state).toBe('MASTER');
    expect(lastReason(h.actions)).toBe(`priority 0 from ${MASTER} (master stopped)`);
  });

  it('learns Master_Adver_Interval from a v3 master (50 ms adverts: down after 180.5 ms)', () => {
    const h = harness();
    h.instance.start();
    h.clock.advanceTo(100);
    h.instance.onAdvert(rx(MASTER, 150, 100, 50));
    const mdi = 3 * 50 + (156 * 50) / 256;
    expect(h.instance.masterDownIntervalMs).toBe(mdi);
    h.clock.advanceTo(100 + mdi - 1);
    expect(h.instance.state).toBe('BACKUP');
    h.clock.advanceTo(100 + mdi);
    expect(h.instance.state).toBe('MASTER');
  });

  it('v2 does not learn the interval (it is validated equal) and uses the v2 skew', () => {
    const h = harness({ version: 2 });
    h.instance.start();
    h.instance.onAdvert(rx(MASTER, 150, 0, 50));
    expect(h.instance.masterDownIntervalMs).toBe(3000 + (156 * 1000) / 256);
  });

  it('preempt: ignores a lower-priority master and takes over', () => {
    const h = harness();
    h.instance.start();
    feedEverySecond(h, 50, 500, 8500);
    expect(h.instance.state).toBe('MASTER');
    // Discarded adverts do not reset the timer: takeover at Master_Down_Interval after start.
    expect(h.instance.status().masterSince).toBe(MDI_100);
    expect(lastReason(h.actions)).toBe(`preempting ${MASTER} (priority 50 < ours 100)`);
  });

  it('nopreempt: accepts a lower-priority master', () => {
    const h = harness({ preempt: false });
    h.instance.start();
    feedEverySecond(h, 50, 500, 20500);
    expect(h.instance.state).toBe('BACKUP');
    expect(h.instance.status().transitions).toBe(1);
  });

  it('preempt delay: accepts a lower master for the delay after startup, then preempts', () => {
    const h = harness({ preemptDelayMs: 5000 });
    h.instance.start();
    feedEverySecond(h, 50, 500, 12500);
    // Adverts up to 4500 ms were accepted; from 5500 on they are discarded.
    expect(h.instance.status().masterSince).toBe(4500 + MDI_100);
  });

  it('preempt gate (connection sync): follows a lower master while the gate holds, preempts once it opens', () => {
    const h = harness();
    let held: string | null = 'waiting for the MASTER connection table';
    h.instance.setPreemptGate(() => held);
    h.instance.start();
    feedEverySecond(h, 50, 500, 9500);
    expect(h.instance.state).toBe('BACKUP');
    held = null;
    feedEverySecond(h, 50, 10500, 20500);
    // The advert at 10500 is the first one discarded: Master_Down from the one before.
    expect(h.instance.status().masterSince).toBe(9500 + MDI_100);
  });

  it('equal priority: a BACKUP does not preempt, whatever the addresses', () => {
    const h = harness({ primaryAddress: '10.0.0.9' });
    h.instance.start();
    feedEverySecond(h, 100, 500, 10500);
    expect(h.instance.state).toBe('BACKUP');
  });
});

describe('MASTER', () => {
  function master(overrides = {}): ReturnType<typeof harness> {
    const h = harness(overrides);
    h.instance.start();
    h.clock.advanceTo(MDI_100);
    expect(h.instance.state).toBe('MASTER');
    h.take();
    return h;
  }

  it('sends an advert every Advertisement_Interval', () => {
    const h = master();
    h.clock.advanceTo(MDI_100 + 3000);
    expect(summary(h.take())).toEqual(['advert 100', 'advert 100', 'advert 100']);
  });

  it('hears a higher priority: becomes BACKUP without sending, and learns its interval', () => {
    const h = master();
    h.instance.onAdvert(rx('10.0.0.1', 150, 4000, 100));
    expect(summary(h.take())).toEqual(['MASTER->BACKUP']);
    expect(lastReason(h.actions)).toBe('higher priority 150 from 10.0.0.1 (ours 100)');
    const mdi = 300 + (156 * 100) / 256;
    h.clock.advanceTo(4000 + mdi - 1);
    expect(summary(h.take())).toEqual([]);
    h.clock.advanceTo(4000 + mdi);
    expect(h.instance.state).toBe('MASTER');
  });

  it('equal priority: the higher primary address wins', () => {
    const h = master();
    h.instance.onAdvert(rx('10.0.0.3', 100, 4000));
    expect(h.instance.state).toBe('BACKUP');
    expect(lastReason(h.actions)).toBe('equal priority 100 from higher address 10.0.0.3');

    const low = master();
    low.instance.onAdvert(rx('10.0.0.1', 100, 4000));
    expect(low.instance.state).toBe('MASTER');
    expect(summary(low.take())).toEqual(['advert 100', 'announce 10.0.0.100 x3']);
  });

  it('compares addresses as numbers (10.0.0.10 > 10.0.0.9)', () => {
    const h = master({ primaryAddress: '10.0.0.9' });
    h.instance.onAdvert(rx('10.0.0.10', 100, 4000));
    expect(h.instance.state).toBe('BACKUP');
  });

  it('hears a lower priority (split brain): advertises at once and re-announces, at most once a second', () => {
    const h = master();
    h.clock.advanceTo(4000);
    h.take();
    h.instance.onAdvert(rx('10.0.0.1', 50, 4000));
    expect(summary(h.take())).toEqual(['advert 100', 'announce 10.0.0.100 x3']);
    expect(h.instance.state).toBe('MASTER');
    // The advert timer restarted from the forced advert.
    expect(h.clock.nextDue()).toBe(5000);
    h.clock.advanceTo(4500);
    h.instance.onAdvert(rx('10.0.0.1', 50, 4500));
    expect(summary(h.take())).toEqual(['advert 100']);
    h.clock.advanceTo(5000);
    h.take();
    h.instance.onAdvert(rx('10.0.0.1', 50, 5000));
    expect(summary(h.take())).toEqual(['advert 100', 'announce 10.0.0.100 x3']);
  });

  it('hears priority 0: advertises at once so backups do not take over', () => {
    const h = master();
    h.clock.advanceTo(4000);
    h.take();
    h.instance.onAdvert(rx('10.0.0.1', 0, 4000));
    expect(summary(h.take())).toEqual(['advert 100']);
  });

  it('announces again after the second-burst delay, then every refresh', () => {
    const h = harness({ priority: 255, announce: { repeat: 5, intervalMs: 0, secondBurstDelayMs: 5000, refreshMs: 60000 } });
    h.instance.start();
    const announcedAt: number[] = [];
    for (let t = 0; t <= 125000; t += 1000) {
      h.clock.advanceTo(t);
      if (h.take().some((a) => a.kind === 'announce')) announcedAt.push(t);
    }
    expect(announcedAt).toEqual([0, 5000, 65000, 125000]);
    expect(h.actions.filter((a) => a.kind === 'announce')).toHaveLength(4);
    expect(h.actions.find((a) => a.kind === 'announce')).toMatchObject({ repeat: 5, intervalMs: 0 });
  });
});

describe('priority and tracking', () => {
  const track = [
    { name: 'interface:eth1', weight: 0 },
    { name: 'script:chk', weight: -60 },
    { name: 'script:bonus', weight: 20 },
  ];

  it('effective priority = base + weights of down (negative) and up (positive) tracks, clamped 1..254', () => {
    const h = harness({ track });
    expect(h.instance.effectivePriority).toBe(120);
    h.instance.setTrackState('script:chk', false);
    expect(h.instance.effectivePriority).toBe(60);
    h.instance.setTrackState('script:bonus', false);
    expect(h.instance.effectivePriority).toBe(40);
    h.instance.setPriority(30);
    expect(h.instance.effectivePriority).toBe(1);
    h.instance.setPriority(250);
    h.instance.setTrackState('script:bonus', true);
    h.instance.setTrackState('script:chk', true);
    expect(h.instance.effectivePriority).toBe(254);
    expect(h.instance.setTrackState('script:unknown', false)).toBe(false);
  });

  it('the owner (255) is never adjusted', () => {
    const h = harness({ priority: 255, track });
    h.instance.setTrackState('script:chk', false);
    expect(h.instance.effectivePriority).toBe(255);
  });

  it('a MASTER advertises its new priority at once, and a preempting backup takes over', () => {
    const h = harness({ track });
    h.instance.start();
    h.clock.advanceTo(MDI_100);
    h.take();
    h.clock.advanceTo(MDI_100 + 200);
    h.instance.setTrackState('script:chk', false);
    expect(summary(h.take())).toEqual(['advert 60']);
    h.instance.onAdvert(rx('10.0.0.1', 100, MDI_100 + 300));
    expect(h.instance.state).toBe('BACKUP');
  });

  it('a BACKUP whose priority rises above the master preempts it', () => {
    const h = harness({ priority: 90, track: [{ name: 'script:bonus', weight: 20 }] });
    h.instance.setTrackState('script:bonus', false);
    h.instance.start();
    feedEverySecond(h, 100, 500, 2500);
    h.instance.setTrackState('script:bonus', true); // 110 > 100
    feedEverySecond(h, 100, 3500, 9500);
    expect(h.instance.state).toBe('MASTER');
    expect(h.instance.status().masterSince).toBe(2500 + 3000 + ((256 - 90) * 1000) / 256);
  });

  it('MASTER -> FAULT on a weight-0 track: priority-0 advert first; back to BACKUP when it recovers', () => {
    const h = harness({ track });
    h.instance.start();
    h.clock.advanceTo(MDI_100);
    h.take();
    h.instance.setTrackState('interface:eth1', false);
    expect(summary(h.take())).toEqual(['advert 0', 'MASTER->FAULT']);
    expect(lastReason(h.actions)).toBe('tracked interface:eth1 is down (weight 0)');
    // FAULT takes no part: no timers, adverts ignored.
    h.instance.onAdvert(rx('10.0.0.1', 50, 5000));
    h.clock.advanceTo(60000);
    expect(h.take()).toEqual([]);
    h.instance.setTrackState('interface:eth1', true);
    expect(summary(h.take())).toEqual(['FAULT->BACKUP']);
    h.clock.advanceTo(60000 + MDI_100);
    expect(h.instance.state).toBe('MASTER');
  });
});

describe('event-loop stalls', () => {
  /** BACKUP following a master that advertises every second from 500 ms on. */
  function following(drain = true): ReturnType<typeof harness> {
    const h = harness({}, { drain });
    h.instance.start();
    feedEverySecond(h, 150, 500, 2500);
    h.take();
    return h;
  }

  it('a late timer does not fail over while adverts that arrived in time wait in the socket', () => {
    const h = following();
    // JS is stuck from 2500 to 9000 ms; meanwhile the master kept advertising.
    for (let t = 3500; t <= 8500; t += 1000) h.socket.push(rx(MASTER, 150, t));
    h.clock.stallUntil(9000);
    h.clock.fireOverdue();
    expect(h.instance.state).toBe('BACKUP');
    expect(h.take()).toEqual([]);
    expect(h.socket).toHaveLength(0);
    // And the master-down deadline now runs from the last arrival, 8500 ms.
    h.clock.advanceTo(8500 + MDI_100);
    expect(h.instance.state).toBe('MASTER');
  });

  it('without the drain, the same stall WOULD fail over (why drainPending exists)', () => {
    const h = following(false);
    for (let t = 3500; t <= 8500; t += 1000) h.socket.push(rx(MASTER, 150, t));
    h.clock.stallUntil(9000);
    h.clock.fireOverdue();
    expect(h.instance.state).toBe('MASTER');
  });

  it('adverts processed late (after the stall, before the timer) count by arrival time', () => {
    const h = following();
    h.clock.stallUntil(9000);
    // The daemon reads the socket first in this loop turn: stamped arrivals, processed at 9000.
    for (let t = 3500; t <= 8500; t += 1000) h.instance.onAdvert(rx(MASTER, 150, t));
    h.clock.fireOverdue();
    expect(h.instance.state).toBe('BACKUP');
  });

  it('a late timer still fails over when the arrival times show the master died', () => {
    const h = following();
    h.socket.push(rx(MASTER, 150, 3500)); // its last advert
    h.clock.stallUntil(9000);
    h.clock.fireOverdue();
    expect(h.instance.state).toBe('MASTER');
    expect(lastReason(h.actions)).toBe(`no advert from ${MASTER} (priority 150) for 5500 ms`);
  });
});

describe('shutdown', () => {
  it('a MASTER returns a priority-0 advert and INIT, emits nothing, and stops its timers', () => {
    const h = harness({ priority: 255 });
    h.instance.start();
    h.take();
    const actions = h.instance.shutdown();
    expect(summary(actions)).toEqual(['advert 0', 'MASTER->INIT']);
    expect(h.instance.state).toBe('INIT');
    h.clock.advanceTo(60000);
    expect(h.take()).toEqual([]);
    expect(h.instance.shutdown()).toEqual([]);
  });

  it('a BACKUP just leaves: no advert', () => {
    const h = harness();
    h.instance.start();
    expect(summary(h.instance.shutdown())).toEqual(['BACKUP->INIT']);
  });
});
