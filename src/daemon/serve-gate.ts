/**
 * A new MASTER does not serve its VIPs (answer ARP/NDP, forward, announce)
 * while a service of the instance has up backends but no forwarding table
 * yet (real-server MACs still being resolved), within a bound. Issue 11:
 * a lone vipd answered for its VIP 1.9 s before it could forward, and the
 * first connection in that window timed out.
 *
 * VRRP is not delayed: adverts start at once (InstanceRunner.holdServing),
 * so a BACKUP whose Master_Down fired still claims MASTER in time and a
 * lower-priority peer (whose own Master_Down may fire a few ms later, the
 * skew between priorities) stays BACKUP. What waits is only the data plane
 * (lease and ARP answers) and the gratuitous ARPs. While it waits nobody
 * serves the VIPs (the old MASTER is gone or stepped down), which costs a
 * client what answering without a table costs, a retransmitted SYN, but
 * the SYN that is answered is then forwarded.
 */
import type { Dataplane } from '../dataplane/manager.js';
import { monotonicNs } from '../net/index.js';
import type { InstanceRunner } from './instance-runner.js';
import type { Logger } from './logger.js';
import type { ServiceTable } from './services.js';

/**
 * The bound (ms). 1 s: a Linux client retransmits an unanswered SYN after
 * 1 s (initial RTO, RFC 6298), so a wait within that costs no more than a
 * black-holed SYN would; and a resolving neighbour that has not answered
 * in 1 s has missed its first ARP request and its first retry (retrans_time
 * 1 s), so it is likely down: its service should not hold the others. In
 * the normal case MACs resolve in milliseconds and the wait ends there.
 */
export const FORWARDABLE_WAIT_MS = 1000;

/** Per runner, the MASTER term a wait belongs to: a wait from an earlier term must not activate a later one. */
const terms = new WeakMap<InstanceRunner, number>();

export interface ServeGateTarget {
  readonly dp: Dataplane;
  readonly services: ServiceTable;
  readonly log: Logger;
}

/**
 * Activates the instance's data plane now when every service can forward
 * (or the data plane serves it already: a restart that inherited the
 * lease); otherwise holds the runner's serving until the tables are in or
 * the bound passes, then activates, warning with the services that cannot
 * forward yet when the bound was hit.
 */
export function activateWhenForwardable(
  t: ServeGateTarget,
  runner: InstanceRunner,
  instance: { id: number; name: string },
  activate: () => void,
): void {
  const term = (terms.get(runner) ?? 0) + 1;
  terms.set(runner, term);
  const waiting = t.services.notForwardable(instance.id);
  const lease = waiting.length > 0 ? t.dp.instance(instance.id) : undefined;
  if (waiting.length === 0 || (lease?.active && lease.leaseExpiryNs > monotonicNs())) {
    activate();
    return;
  }
  const started = Date.now();
  t.log.info({ instance: instance.name, services: waiting, boundMs: FORWARDABLE_WAIT_MS }, 'MASTER: waiting for forwarding tables before serving the VIPs');
  runner.holdServing(
    t.services.whenForwardable(instance.id, FORWARDABLE_WAIT_MS).then((r) => {
      if (runner.state !== 'MASTER' || terms.get(runner) !== term) return;
      if (!r.ready) {
        t.log.warn(
          { instance: instance.name, services: r.waiting, waitedMs: Date.now() - started },
          'serving the VIPs although these services have no forwarding table yet (no real-server MAC resolved within the bound)',
        );
      }
      activate();
    }),
  );
}
