/**
 * `vipctl status --service/--vip/--instance`: the part of a big status an
 * operator asked for (10 000 services do not fit a screen), and the one
 * summary line that says how the whole host is doing.
 */
import type { StatusResult } from '../daemon/api.js';

export interface StatusFilter {
  /** Service names containing this text. */
  readonly service?: string;
  /** Services of this VIP (exact address). */
  readonly vip?: string;
  /** This VRRP instance and its services. */
  readonly instance?: string;
}

export function filterStatus(status: StatusResult, filter: StatusFilter): StatusResult {
  const { service, vip, instance } = filter;
  if (service === undefined && vip === undefined && instance === undefined) return status;
  return {
    ...status,
    instances: instance === undefined ? status.instances : status.instances.filter((i) => i.name === instance),
    services: status.services.filter(
      (s) =>
        (service === undefined || s.name.includes(service)) &&
        (vip === undefined || s.vip === vip) &&
        (instance === undefined || s.instance === instance),
    ),
  };
}

/** "2 instances (1 MASTER); 10000 services (10000 forwarding here); 100000 backends (99998 up, 1 drained, 1 unresolved)". */
export function statusSummary(status: StatusResult): string {
  const masters = status.instances.filter((i) => i.state === 'MASTER').length;
  const forwarding = status.services.filter((s) => s.active).length;
  let backends = 0;
  let up = 0;
  let drained = 0;
  let unresolved = 0;
  for (const s of status.services) {
    for (const b of s.backends) {
      backends++;
      if (b.up) up++;
      if (b.drained) drained++;
      if (b.mac === null) unresolved++;
    }
  }
  return (
    `${status.instances.length} instances (${masters} MASTER); ` +
    `${status.services.length} services (${forwarding} forwarding here); ` +
    `${backends} backends (${up} up, ${drained} drained, ${unresolved} unresolved)`
  );
}
