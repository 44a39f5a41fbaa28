/** The engine's BFD input (VrrpInstance.setBfdSession): what a session going Up or Down does. */
import { describe, expect, it } from 'vitest';
import { harness, lastReason, rx, summary } from './engine-harness.js';

const MASTER = '10.0.0.1'; // the peer; our primary address is 10.0.0.2
const OTHER = '10.0.0.3';

/** A BACKUP that has heard MASTER (priority 150) at t=500, with a BFD session to each of `peers` Up. */
function backupHearing(peers: string[] = [MASTER]): ReturnType<typeof harness> {
  const h = harness();
  h.instance.start();
  h.clock.advanceTo(500);
  h.instance.onAdvert(rx(MASTER, 150, 500));
  for (const p of peers) h.instance.setBfdSession(p, true);
  h.take();
  return h;
}

describe('BFD input', () => {
  it("a BACKUP takes over at once when its master's session goes down (no Master_Down wait)", () => {
    const h = backupHearing();
    h.clock.advanceTo(510);
    h.instance.setBfdSession(MASTER, false);
    expect(summary(h.take())).toEqual(['BACKUP->MASTER', 'advert 100', 'announce 10.0.0.100 x3']);
    expect(h.instance.status().masterSince).toBe(510);
    expect(lastReason(h.actions)).toBe(`BFD session to ${MASTER} down: master ${MASTER} treated as dead`);
  });

  it('a session to another router going down changes nothing', () => {
    const h = backupHearing([MASTER, OTHER]);
    h.instance.setBfdSession(OTHER, false);
    expect(h.take()).toEqual([]);
    expect(h.instance.state).toBe('BACKUP');
  });

  it('a session that never came Up going down changes nothing', () => {
    const h = backupHearing([]);
    h.instance.setBfdSession(MASTER, false);
    expect(h.take()).toEqual([]);
    expect(h.instance.state).toBe('BACKUP');
  });

  it("the master's address is not a BFD peer: takes over only once no session is Up", () => {
    const h = backupHearing(['10.0.0.7', '10.0.0.8']);
    h.instance.setBfdSession('10.0.0.7', false);
    expect(h.instance.state).toBe('BACKUP');
    h.instance.setBfdSession('10.0.0.7', true);
    h.take();
    const single = backupHearing(['10.0.0.7']);
    single.instance.setBfdSession('10.0.0.7', false);
    expect(single.instance.state).toBe('MASTER');
  });

  it('every session down (two or more): FAULT (our link), back to BACKUP when one is Up again', () => {
    const h = harness();
    h.instance.start();
    h.clock.advanceTo(4000); // Master_Down passed: MASTER
    expect(h.instance.state).toBe('MASTER');
    h.instance.setBfdSession(MASTER, true);
    h.instance.setBfdSession(OTHER, true);
    h.take();
    h.instance.setBfdSession(MASTER, false);
    expect(h.instance.state).toBe('MASTER');
    h.instance.setBfdSession(OTHER, false);
    // Like any fault of a MASTER: a priority-0 advert first, so the backups move at once.
    expect(summary(h.take())).toEqual(['advert 0', 'MASTER->FAULT']);
    expect(lastReason(h.actions)).toBe('BFD: all 2 sessions down (our link)');
    h.instance.setBfdSession(OTHER, true);
    expect(summary(h.take())).toEqual(['FAULT->BACKUP']);
  });

  it('one peer: a MASTER whose only session goes down stays MASTER (it cannot tell its link from the peer dying)', () => {
    const h = harness();
    h.instance.start();
    h.clock.advanceTo(4000);
    h.instance.setBfdSession(MASTER, true);
    h.take();
    h.instance.setBfdSession(MASTER, false);
    expect(h.take()).toEqual([]);
    expect(h.instance.state).toBe('MASTER');
  });

  it("the master's session going down because the master said AdminDown: no takeover, VRRP decides (RFC 5882 3.2)", () => {
    const h = backupHearing();
    h.clock.advanceTo(510);
    h.instance.setBfdSession(MASTER, false, { adminDown: true });
    expect(h.take()).toEqual([]);
    expect(h.instance.state).toBe('BACKUP');
    // Master_Down still runs: silent adverts make this BACKUP the MASTER as without BFD.
    h.clock.advanceTo(500 + 3 * 1000 + 1000);
    expect(h.instance.state).toBe('MASTER');
  });

  it('an administratively down session no longer counts for "every session down" (no FAULT)', () => {
    const h = harness();
    h.instance.start();
    h.clock.advanceTo(4000);
    h.instance.setBfdSession(MASTER, true);
    h.instance.setBfdSession(OTHER, true);
    h.take();
    h.instance.setBfdSession(MASTER, false, { adminDown: true });
    h.instance.setBfdSession(OTHER, false);
    expect(h.take()).toEqual([]);
    expect(h.instance.state).toBe('MASTER');
    // Up again, it counts again.
    h.instance.setBfdSession(MASTER, true);
    h.instance.setBfdSession(MASTER, false);
    expect(summary(h.take())).toEqual(['advert 0', 'MASTER->FAULT']);
  });
});
