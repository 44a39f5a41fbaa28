/**
 * Golden cases of the connection table (ABI 7, docs/dataplane.md
 * "Connection table"): each a table before, a sequence of frames with the
 * verdict and real server each must get, and the tables after. The
 * expectations are written from the rules, not from the model: the test
 * demands that kernel, model and these agree.
 */
import {
  FLOW_CLIENT,
  FLOW_CONN,
  FLOW_F_CLOSING,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SVC_F_PERSIST,
  type FlowEventName,
  type ReasonName,
} from '../../src/dataplane/abi.js';
import { parseAddr } from '../../src/dataplane/addr.js';
import { flowHash, hashAddr, portsWord, ringSlot } from '../model/xdp-hash.js';
import { flowId, parseFlowId, pendingPlace, serviceId, type ModelState } from '../model/xdp-model.js';
import { arpRequestFrame, nsFrame, pmtuFrame, tcpFrame, udpFrame } from '../helpers/frames.js';
import {
  CHANGED_PORT,
  PERSIST_PORT,
  PREV_RING_PORT,
  PREV_SIZE,
  TRACK_ALL_PORT,
  VIP4,
  VIP4_ROUTED,
  VIP6,
  VIP6_ROUTED,
  slotKind,
  type SlotKind,
} from './state.js';

const SYN = 0x02;
const ACK = 0x10;
const FIN_ACK = 0x11;
const RST = 0x04;

export interface Flow5 {
  client: string;
  cport: number;
  vip: string;
  vport: number;
  proto: number;
}

export interface TableEntry {
  flow: Flow5;
  real: number;
  flags?: number;
  /** A persistent client's entry (cport 0, FLOW_CLIENT). */
  client?: boolean;
}

export interface ConnStep {
  input: Buffer;
  reason: ReasonName;
  /** The real server the frame must be sent to (forward / icmp_forward). */
  real?: number;
  /** flow_stats events this frame counts, in any order. */
  events: FlowEventName[];
}

export interface ConnCase {
  description: string;
  flows?: TableEntry[];
  pending?: TableEntry[];
  steps: ConnStep[];
  flowsAfter: TableEntry[];
  pendingAfter: TableEntry[];
}

/** Where a flow lands: its hash, its slot index in the service's ring, and that slot's real (reals i % 2). */
export function placeOf(state: ModelState, f: Flow5): { hash: number; index: number; real: number; fallback: number } {
  const a = parseAddr(f.vip);
  const c = parseAddr(f.client);
  const svc = state.services.get(serviceId(a.addr, a.family, f.vport, f.proto));
  if (!svc) throw new Error(`no service ${f.vip}:${f.vport}`);
  const persist = (svc.flags & SVC_F_PERSIST) !== 0;
  const hash = flowHash(hashAddr(c.addr, 0, a.family), hashAddr(a.addr, 0, a.family), portsWord(persist ? 0 : f.cport, f.vport));
  const index = ringSlot(hash, svc.ring_size);
  const real = state.rings.get(svc.ring)?.[index] ?? 0;
  const fallback = state.fallbacks.get(svc.ring)?.[index] ?? real;
  return { hash, index, real, fallback };
}

/** The model's id of a table entry, and the hash the program stores with it. */
export function entryOf(state: ModelState, e: TableEntry): { id: string; hash: number } {
  const a = parseAddr(e.flow.vip);
  const c = parseAddr(e.flow.client);
  const len = a.family === 4 ? 4 : 16;
  const id = flowId({
    family: a.family,
    client: Buffer.from(c.addr.subarray(0, len)),
    vip: Buffer.from(a.addr.subarray(0, len)),
    cport: e.client ? 0 : e.flow.cport,
    vport: e.flow.vport,
    proto: e.flow.proto,
    kind: e.client ? FLOW_CLIENT : FLOW_CONN,
  });
  return { id, hash: placeOf(state, e.flow).hash };
}

/** A pending entry's place (pendingId) and tag (ABI 7: a direct-mapped array of tags). */
export function pendingOf(state: ModelState, e: TableEntry): { id: string; tag: bigint } {
  const { id, hash } = entryOf(state, e);
  return pendingPlace(parseFlowId(id), hash, state.limits.pending);
}

export function buildCases(state: ModelState): ConnCase[] {
  /** The first client port from 40000 whose flow lands on a slot of that kind. */
  const portOn = (client: string, vip: string, vport: number, proto: number, kind: SlotKind, from = 40000): number => {
    for (let p = from; p < 65536; p++) if (slotKind(placeOf(state, { client, cport: p, vip, vport, proto }).index) === kind) return p;
    throw new Error('no port');
  };
  /** The first client address (persistence hashes the address alone) on a slot of that kind. */
  const clientOn = (prefix: string, vip: string, vport: number, kind: SlotKind): string => {
    for (let i = 1; i < 255; i++) {
      const client = `${prefix}${i}`;
      if (slotKind(placeOf(state, { client, cport: 1, vip, vport, proto: IPPROTO_TCP }).index) === kind) return client;
    }
    throw new Error('no client');
  };
  const C4 = '198.51.100.7';
  const C6 = '2001:db8:100::7';
  const flow = (client: string, vip: string, vport: number, kind: SlotKind, proto = IPPROTO_TCP): Flow5 => ({
    client,
    cport: portOn(client, vip, vport, proto, kind),
    vip,
    vport,
    proto,
  });
  const frame = (f: Flow5, flags = ACK, cport = f.cport) =>
    f.proto === IPPROTO_TCP
      ? tcpFrame({ src: f.client, dst: f.vip, sport: cport, dport: f.vport, flags })
      : udpFrame({ src: f.client, dst: f.vip, sport: cport, dport: f.vport, payload: Buffer.from('datagram') });
  const real = (f: Flow5) => placeOf(state, f).real;

  const clean = flow(C4, VIP4, CHANGED_PORT, 'clean');
  const changed = flow(C4, VIP4, CHANGED_PORT, 'changed');
  const tracked = flow(C4, VIP4, CHANGED_PORT, 'tracked');
  const changed6 = flow(C6, VIP6, CHANGED_PORT, 'changed');
  // i % 3 != 0: VIPD_SLOT_PREV_RING; the previous ring's slot j says 1 (odd j) or 2, and
  // the flow is pinned only where that differs from the slot's real.
  const prevSays = (f: Flow5) => (ringSlot(placeOf(state, f).hash, PREV_SIZE) % 2 ? 1 : 2);
  let prev = flow(C4, VIP4, PREV_RING_PORT, 'changed');
  while (prevSays(prev) === real(prev)) prev = { ...prev, cport: portOn(C4, VIP4, PREV_RING_PORT, IPPROTO_TCP, 'changed', prev.cport + 1) };
  const prevFallback = prevSays(prev);
  const udpClean = flow(C4, VIP4, TRACK_ALL_PORT, 'clean', IPPROTO_UDP);
  const udpChanged6 = flow(C6, VIP6, TRACK_ALL_PORT, 'changed', IPPROTO_UDP);
  const pClient = clientOn('198.51.101.', VIP4, PERSIST_PORT, 'changed');
  const persist1: Flow5 = { client: pClient, cport: 40000, vip: VIP4, vport: PERSIST_PORT, proto: IPPROTO_TCP };
  const persist2: Flow5 = { ...persist1, cport: 51234 };
  const pClean = clientOn('198.51.102.', VIP4, PERSIST_PORT, 'clean');
  const persistClean1: Flow5 = { client: pClean, cport: 40000, vip: VIP4, vport: PERSIST_PORT, proto: IPPROTO_TCP };
  // Another flow whose tag takes the same pending index (a flood's SYN), on a changed slot too.
  const pendingIndex = (f: Flow5) => pendingOf(state, { flow: f, real: 0 }).id;
  let collider: Flow5 = { ...changed, cport: portOn(C4, VIP4, CHANGED_PORT, IPPROTO_TCP, 'changed', 1) };
  while (collider.cport === changed.cport || pendingIndex(collider) !== pendingIndex(changed)) {
    collider = { ...collider, cport: portOn(C4, VIP4, CHANGED_PORT, IPPROTO_TCP, 'changed', collider.cport + 1) };
  }
  const pmtu = (f: Flow5) => pmtuFrame({ router: '198.51.100.1', vip: f.vip, client: f.client, vport: f.vport, cport: f.cport });

  return [
    {
      description: 'clean slot: SYN and ACK go by the ring, the table is not touched',
      steps: [
        { input: frame(clean, SYN), reason: 'forward', real: real(clean), events: [] },
        { input: frame(clean, ACK), reason: 'forward', real: real(clean), events: [] },
        { input: frame(clean, FIN_ACK), reason: 'forward', real: real(clean), events: [] },
      ],
      flowsAfter: [],
      pendingAfter: [],
    },
    {
      description: 'changed slot: SYN -> the slot real, noted in pending; ACK -> promoted to flows',
      steps: [
        { input: frame(changed, SYN), reason: 'forward', real: real(changed), events: ['pending'] },
        { input: frame(changed, ACK), reason: 'forward', real: real(changed), events: ['promoted'] },
        { input: frame(changed, ACK), reason: 'forward', real: real(changed), events: ['hit'] },
      ],
      flowsAfter: [{ flow: changed, real: real(changed) }],
      pendingAfter: [],
    },
    {
      description: "changed slot: another flow's SYN on the same pending index replaces the tag; the first flow's ACK is then pinned to the fallback",
      steps: [
        { input: frame(changed, SYN), reason: 'forward', real: real(changed), events: ['pending'] },
        { input: frame(collider, SYN), reason: 'forward', real: real(collider), events: ['pending'] },
        { input: frame(changed, ACK), reason: 'forward', real: 2, events: ['pinned'] },
        { input: frame(collider, ACK), reason: 'forward', real: real(collider), events: ['promoted'] },
      ],
      flowsAfter: [
        { flow: changed, real: 2 },
        { flow: collider, real: real(collider) },
      ],
      pendingAfter: [],
    },
    {
      description: 'changed slot: a handshake that straddles a table change is promoted to the real its SYN went to',
      pending: [{ flow: changed, real: 1 - real(changed) }],
      steps: [{ input: frame(changed, ACK), reason: 'forward', real: 1 - real(changed), events: ['promoted'] }],
      flowsAfter: [{ flow: changed, real: 1 - real(changed) }],
      pendingAfter: [],
    },
    {
      description: 'changed slot: an unknown ACK (a flow older than the change) -> the fallback, pinned',
      steps: [
        { input: frame(changed, ACK), reason: 'forward', real: 2, events: ['pinned'] },
        { input: frame(changed, ACK), reason: 'forward', real: 2, events: ['hit'] },
      ],
      flowsAfter: [{ flow: changed, real: 2 }],
      pendingAfter: [],
    },
    {
      description: 'changed slot: a known flow goes to its entry, whatever the ring says',
      flows: [{ flow: changed, real: 2 }],
      steps: [{ input: frame(changed, ACK), reason: 'forward', real: 2, events: ['hit'] }],
      flowsAfter: [{ flow: changed, real: 2 }],
      pendingAfter: [],
    },
    {
      description: "changed slot: an entry whose real is no longer valid is reassigned to the slot's real",
      flows: [{ flow: changed, real: 3 }],
      steps: [{ input: frame(changed, ACK), reason: 'forward', real: real(changed), events: ['reassigned'] }],
      flowsAfter: [{ flow: changed, real: real(changed) }],
      pendingAfter: [],
    },
    {
      description: "a new connection on a known 5-tuple: the SYN goes by the ring, its ACK replaces the entry (reopened)",
      flows: [{ flow: changed, real: 2, flags: FLOW_F_CLOSING }],
      steps: [
        { input: frame(changed, SYN), reason: 'forward', real: real(changed), events: ['pending'] },
        { input: frame(changed, ACK), reason: 'forward', real: real(changed), events: ['reopened'] },
        { input: frame(changed, ACK), reason: 'forward', real: real(changed), events: ['hit'] },
      ],
      flowsAfter: [{ flow: changed, real: real(changed) }],
      pendingAfter: [],
    },
    {
      description: "tracked slot: a new connection on a known 5-tuple: its ACK rewrites the old entry to the slot's real",
      flows: [{ flow: tracked, real: 2 }],
      steps: [
        { input: frame(tracked, SYN), reason: 'forward', real: real(tracked), events: ['pending'] },
        { input: frame(tracked, ACK), reason: 'forward', real: real(tracked), events: ['reopened'] },
      ],
      flowsAfter: [{ flow: tracked, real: real(tracked) }],
      pendingAfter: [],
    },
    {
      description: 'FIN and RST from the client mark the entry closing (counted once)',
      flows: [{ flow: changed, real: 2 }],
      steps: [
        { input: frame(changed, FIN_ACK), reason: 'forward', real: 2, events: ['hit', 'closing'] },
        { input: frame(changed, RST), reason: 'forward', real: 2, events: ['hit'] },
      ],
      flowsAfter: [{ flow: changed, real: 2, flags: FLOW_F_CLOSING }],
      pendingAfter: [],
    },
    {
      description: 'a FIN of an unknown flow on a changed slot is pinned closing',
      steps: [{ input: frame(changed, FIN_ACK), reason: 'forward', real: 2, events: ['pinned', 'closing'] }],
      flowsAfter: [{ flow: changed, real: 2, flags: FLOW_F_CLOSING }],
      pendingAfter: [],
    },
    {
      description: "tracked slot: an unknown flow goes to the slot's real and is not written",
      steps: [{ input: frame(tracked, ACK), reason: 'forward', real: real(tracked), events: [] }],
      flowsAfter: [],
      pendingAfter: [],
    },
    {
      description: "tracked slot: a new connection's tag is promoted by its ACK, as on a changed slot",
      steps: [
        { input: frame(tracked, SYN), reason: 'forward', real: real(tracked), events: ['pending'] },
        { input: frame(tracked, ACK), reason: 'forward', real: real(tracked), events: ['promoted'] },
        { input: frame(tracked, ACK), reason: 'forward', real: real(tracked), events: ['hit'] },
      ],
      flowsAfter: [{ flow: tracked, real: real(tracked) }],
      pendingAfter: [],
    },
    {
      description: 'tracked slot: a known flow keeps its entry',
      flows: [{ flow: tracked, real: 2 }],
      steps: [{ input: frame(tracked, ACK), reason: 'forward', real: 2, events: ['hit'] }],
      flowsAfter: [{ flow: tracked, real: 2 }],
      pendingAfter: [],
    },
    {
      description: "VIPD_SLOT_PREV_RING: an unknown flow goes where the previous ring's slot says, pinned",
      steps: [{ input: frame(prev, ACK), reason: 'forward', real: prevFallback, events: ['pinned'] }],
      flowsAfter: [{ flow: prev, real: prevFallback }],
      pendingAfter: [],
    },
    {
      description: 'ICMP frag-needed follows the entry, else the fallback, and writes nothing',
      flows: [{ flow: changed, real: 1 - real(changed) }],
      steps: [
        { input: pmtu(changed), reason: 'icmp_forward', real: 1 - real(changed), events: [] },
        { input: pmtu({ ...changed, cport: portOn(C4, VIP4, CHANGED_PORT, IPPROTO_TCP, 'changed', changed.cport + 1) }), reason: 'icmp_forward', real: 2, events: [] },
      ],
      flowsAfter: [{ flow: changed, real: 1 - real(changed) }],
      pendingAfter: [],
    },
    {
      description: 'TRACK_ALL (UDP), clean slot: first datagram noted in pending, the second promoted',
      steps: [
        { input: frame(udpClean), reason: 'forward', real: real(udpClean), events: ['pending'] },
        { input: frame(udpClean), reason: 'forward', real: real(udpClean), events: ['promoted'] },
        { input: frame(udpClean), reason: 'forward', real: real(udpClean), events: ['hit'] },
      ],
      flowsAfter: [{ flow: udpClean, real: real(udpClean) }],
      pendingAfter: [{ flow: udpClean, real: real(udpClean) }],
    },
    {
      description: 'TRACK_ALL (UDP over IPv6), changed slot: a known flow keeps its real',
      flows: [{ flow: udpChanged6, real: 2 }],
      steps: [{ input: frame(udpChanged6), reason: 'forward', real: 2, events: ['hit'] }],
      flowsAfter: [{ flow: udpChanged6, real: 2 }],
      pendingAfter: [],
    },
    {
      description: 'IPv6 changed slot: SYN noted in pending, the ACK promoted',
      steps: [
        { input: frame(changed6, SYN), reason: 'forward', real: real(changed6), events: ['pending'] },
        { input: frame(changed6, ACK), reason: 'forward', real: real(changed6), events: ['promoted'] },
      ],
      flowsAfter: [{ flow: changed6, real: real(changed6) }],
      pendingAfter: [],
    },
    {
      description: 'persistence, changed slot: two connections of one client (other ports) -> one real, one client entry',
      steps: [
        { input: frame(persist1, SYN), reason: 'forward', real: 2, events: ['pinned'] },
        { input: frame(persist2, SYN), reason: 'forward', real: 2, events: ['hit'] },
        { input: frame(persist2, FIN_ACK), reason: 'forward', real: 2, events: ['hit'] },
      ],
      flowsAfter: [{ flow: persist1, real: 2, client: true }],
      pendingAfter: [],
    },
    {
      description: 'persistence, clean slot: every connection of a client on one real, no table',
      steps: [
        { input: frame(persistClean1, SYN), reason: 'forward', real: real(persistClean1), events: [] },
        { input: frame({ ...persistClean1, cport: 61000 }, SYN), reason: 'forward', real: real(persistClean1), events: [] },
      ],
      flowsAfter: [],
      pendingAfter: [],
    },
    {
      description: 'routed instance: ARP and NS for its VIPs pass, its traffic is forwarded',
      steps: [
        { input: arpRequestFrame({ spa: C4, tpa: VIP4_ROUTED }), reason: 'pass_routed', events: [] },
        { input: nsFrame({ src: C6, target: VIP6_ROUTED }), reason: 'pass_routed', events: [] },
        {
          input: tcpFrame({ src: C4, dst: VIP4_ROUTED, sport: 40000, dport: 80 }),
          reason: 'forward',
          real: placeOf(state, { client: C4, cport: 40000, vip: VIP4_ROUTED, vport: 80, proto: IPPROTO_TCP }).real,
          events: [],
        },
      ],
      flowsAfter: [],
      pendingAfter: [],
    },
  ];
}
