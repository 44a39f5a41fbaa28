/**
 * Which VIPs this host announces over BGP now: pure, from what the daemon
 * knows. A VIP is announced when its instance announces over BGP and
 * - the host is not drained (`vipctl drain-host`) and the daemon is not stopping;
 * - the instance's interface has the data plane attached (else nothing would answer);
 * - a VRRP instance (`announce: [vrrp, bgp]`) is MASTER here;
 * - at least one service on the VIP has a backend that takes new flows
 *   (up, not drained, weight > 0): a VIP with no service or no healthy
 *   backend is withdrawn, so the routers send its clients to hosts that can serve them.
 */
import type { AnnounceMode } from '../config/index.js';

export interface AnnouncedInstance {
  readonly name: string;
  readonly interface: string;
  readonly announce: AnnounceMode;
  readonly vips: readonly string[];
}

export interface ServiceHealth {
  readonly vip: string;
  readonly backends: readonly { readonly up: boolean; readonly drained: boolean; readonly weight: number }[];
}

export interface AnnounceInputs {
  readonly instances: readonly AnnouncedInstance[];
  readonly services: readonly ServiceHealth[];
  /** Host drained or daemon stopping: announce nothing. */
  readonly withdrawAll: boolean;
  readonly attached: (iface: string) => boolean;
  /** For `vrrp+bgp`: whether this host is MASTER of the instance. */
  readonly isMaster: (instance: string) => boolean;
}

export interface AnnounceDecision {
  /** VIP addresses to announce. */
  readonly announce: string[];
  /** Every VIP that announces over BGP, with why it is not announced (null: announced). */
  readonly reasons: Map<string, string | null>;
}

export function decideAnnouncements(inp: AnnounceInputs): AnnounceDecision {
  const reasons = new Map<string, string | null>();
  const healthy = new Set(
    inp.services.filter((s) => s.backends.some((b) => b.up && !b.drained && b.weight > 0)).map((s) => s.vip),
  );
  const served = new Set(inp.services.map((s) => s.vip));
  for (const inst of inp.instances) {
    if (inst.announce === 'vrrp') continue;
    let why: string | null = null;
    if (inp.withdrawAll) why = 'host drained or stopping';
    else if (!inp.attached(inst.interface)) why = `data plane not attached to ${inst.interface}`;
    else if (inst.announce === 'vrrp+bgp' && !inp.isMaster(inst.name)) why = 'not VRRP MASTER';
    for (const vip of inst.vips) {
      let r = why;
      if (r === null && !served.has(vip)) r = 'no service on this VIP';
      else if (r === null && !healthy.has(vip)) r = 'no healthy backend';
      reasons.set(vip, r);
    }
  }
  const announce = [...reasons].filter(([, r]) => r === null).map(([vip]) => vip).sort();
  return { announce, reasons };
}
