import { describe, expect, it } from 'vitest';
import { VrrpInstance, type VrrpAction } from '../../../src/vrrp/instance.js';
import { SyncGroup } from '../../../src/vrrp/sync-group.js';
import { BASE_CONFIG, rx, summary } from './engine-harness.js';
import { FakeClock } from './fake-clock.js';

/** Two instances wired to one group the way the daemon wires them. */
function pair(): { clock: FakeClock; outside: VrrpInstance; inside: VrrpInstance; group: SyncGroup; log: VrrpAction[] } {
  const clock = new FakeClock(0);
  const log: VrrpAction[] = [];
  // The group is built after its members, so the sink reaches it through a holder.
  const wiring: { group?: SyncGroup } = {};
  const emit = (action: VrrpAction): void => {
    log.push(action);
    if (action.kind === 'stateChange') wiring.group?.onStateChange(action);
  };
  const track = [{ name: 'interface:eth1', weight: 0 }];
  // outside has the higher priority, so its Master_Down_Interval ends first.
  const outside = new VrrpInstance({ ...BASE_CONFIG, name: 'outside', vrid: 1, priority: 200, track }, { clock, emit });
  const inside = new VrrpInstance({ ...BASE_CONFIG, name: 'inside', vrid: 2, priority: 100, track }, { clock, emit });
  const group = new SyncGroup('router', [outside, inside]);
  wiring.group = group;
  outside.start();
  inside.start();
  return { clock, outside, inside, group, log };
}

const changes = (log: readonly VrrpAction[]): string[] =>
  log.flatMap((a) => (a.kind === 'stateChange' ? [`${a.instance} ${a.from}->${a.to}`] : []));

describe('SyncGroup', () => {
  it('when one member becomes MASTER the others follow at once', () => {
    const { clock, outside, inside, group, log } = pair();
    clock.advanceTo(3000 + (56 * 1000) / 256);
    expect([outside.state, inside.state]).toEqual(['MASTER', 'MASTER']);
    expect(group.state).toBe('MASTER');
    const forced = log.find((a) => a.kind === 'stateChange' && a.instance === 'inside' && a.to === 'MASTER');
    expect(forced).toMatchObject({ reason: 'sync group router: outside became MASTER' });
    // The follower sent its own advert and announcement.
    expect(summary(log.filter((a) => a.instance === 'inside'))).toEqual(['INIT->BACKUP', 'BACKUP->MASTER', 'advert 100', 'announce 10.0.0.100 x3']);
  });

  it('when a MASTER member steps down, the others step down too', () => {
    const { clock, outside, inside, log } = pair();
    clock.advanceTo(4000);
    inside.onAdvert(rx('10.0.0.1', 250, 4000));
    expect([outside.state, inside.state]).toEqual(['BACKUP', 'BACKUP']);
    expect(changes(log).slice(-2)).toEqual(['inside MASTER->BACKUP', 'outside MASTER->BACKUP']);
  });

  it('a fault in one member holds all in FAULT until it clears', () => {
    const { clock, outside, inside, group, log } = pair();
    clock.advanceTo(4000);
    log.length = 0;
    inside.setTrackState('interface:eth1', false);
    expect([outside.state, inside.state]).toEqual(['FAULT', 'FAULT']);
    expect(group.state).toBe('FAULT');
    // Both were MASTER: both tell their backups with a priority-0 advert.
    expect(summary(log)).toEqual(['advert 0', 'MASTER->FAULT', 'advert 0', 'MASTER->FAULT']);
    inside.setTrackState('interface:eth1', true);
    expect([outside.state, inside.state]).toEqual(['BACKUP', 'BACKUP']);
  });

  it('with faults in two members, nobody leaves FAULT until both clear', () => {
    const { clock, outside, inside, group, log } = pair();
    clock.advanceTo(4000);
    outside.setTrackState('interface:eth1', false);
    inside.setTrackState('interface:eth1', false); // already held: no state change, so the daemon refreshes
    group.refreshFaults();
    log.length = 0;
    outside.setTrackState('interface:eth1', true);
    group.refreshFaults();
    expect([outside.state, inside.state]).toEqual(['FAULT', 'FAULT']);
    expect(changes(log)).toEqual([]);
    inside.setTrackState('interface:eth1', true);
    group.refreshFaults();
    expect([outside.state, inside.state]).toEqual(['BACKUP', 'BACKUP']);
  });

  it('refuses an instance listed twice', () => {
    const { outside } = pair();
    expect(() => new SyncGroup('g', [outside, outside])).toThrow(RangeError);
  });
});
