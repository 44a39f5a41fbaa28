/**
 * Slot fallbacks as connection sync carries them (docs/architecture.md
 * "Connection sync"): the MASTER sends, per service, where each non-clean
 * slot sends a flow its table does not know, by backend address; a host
 * that does not serve the service keeps that (FallbackMirrors) and writes
 * it into its own rings with its own real indexes, so the day it takes
 * over it decides for unknown flows as the MASTER did, whatever its own
 * health checks saw meanwhile (its link was down, say).
 *
 * Pure: no sockets, no maps. The daemon writes what fallbackWords() returns.
 */
import { REAL_NONE, SLOT_PREV_RING } from '../dataplane/abi.js';
import { formatAddr, parseAddr } from '../dataplane/addr.js';
import { slotTarget, tracked, type SlotWords } from '../dataplane/fallbacks.js';
import { MAX_SLOT_ADDRESSES, SLOT_KEEP, slotsPerDatagram, type SyncFallbacks } from './wire.js';

/** A service as a Fallbacks datagram names it. */
export interface FallbackService {
  readonly family: 4 | 6;
  readonly proto: number;
  /** 4 or 16 bytes. */
  readonly vip: Buffer;
  readonly vport: number;
}

/**
 * The sender's side: a live ring's non-clean slots as Fallbacks bodies
 * (covering every slot, so the receiver also learns which are clean).
 * A PREV_RING slot, or one whose target has no address here, travels as
 * SLOT_KEEP: the receiver keeps what it computed for it.
 */
export function ringToFallbacks(svc: FallbackService, ring: SlotWords, addressOf: ReadonlyMap<number, string>): SyncFallbacks[] {
  const size = ring.real.length;
  const len = svc.family === 4 ? 4 : 16;
  const out: SyncFallbacks[] = [];
  let first = 0;
  let addresses: Buffer[] = [];
  const codes = new Map<string, number>();
  let slots: { slot: number; code: number }[] = [];
  const flush = (end: number) => {
    out.push({ ...svc, ringSize: size, first, end, addresses, slots });
    first = end;
    addresses = [];
    codes.clear();
    slots = [];
  };
  for (let i = 0; i < size; i++) {
    const real = ring.real[i];
    const fallback = ring.fallback[i];
    if (fallback === real) continue;
    const target = fallback === SLOT_PREV_RING ? SLOT_PREV_RING : slotTarget(real, fallback);
    const address = target === SLOT_PREV_RING || target === REAL_NONE ? undefined : addressOf.get(target);
    const isNew = address !== undefined && !codes.has(address) ? 1 : 0;
    if (addresses.length + isNew > MAX_SLOT_ADDRESSES || slots.length + 1 > slotsPerDatagram(addresses.length + isNew)) flush(i);
    if (address !== undefined && !codes.has(address)) {
      codes.set(address, addresses.length);
      addresses.push(parseAddr(address).addr.subarray(0, len));
    }
    const code = address === undefined ? SLOT_KEEP : (codes.get(address) ?? SLOT_KEEP);
    slots.push({ slot: i, code });
  }
  flush(size);
  return out;
}

/** What one Fallbacks datagram did on the receiver, by slot (vipd_sync_slots_total). */
export interface MirrorOutcome {
  /** Slots of the range taken (listed or clean). */
  applied: number;
  /** Listed slots out of the range or the ring, or naming no address of the datagram. */
  bad: number;
}

/** One service's fallbacks as its MASTER has them: per slot, 0 clean, KEEP, or 1 + an index into addresses. */
interface Mirror {
  readonly ringSize: number;
  readonly codes: Uint16Array;
  readonly addresses: string[];
  readonly index: Map<string, number>;
}

const CODE_CLEAN = 0;
const CODE_KEEP = 0xffff;

/**
 * The receiver's side: the MASTER's fallbacks per service (`vip|port|protocol`),
 * kept by backend address. A host that becomes MASTER of the service drops
 * them (forget()): its own table decides from then on.
 */
export class FallbackMirrors {
  readonly #mirrors = new Map<string, Mirror>();

  has(service: string): boolean {
    return this.#mirrors.has(service);
  }

  get size(): number {
    return this.#mirrors.size;
  }

  forget(service: string): void {
    this.#mirrors.delete(service);
  }

  services(): string[] {
    return [...this.#mirrors.keys()];
  }

  /** Takes slots [first, end) of one datagram: listed slots as named, the others clean. */
  apply(service: string, f: SyncFallbacks): MirrorOutcome {
    let m = this.#mirrors.get(service);
    if (!m || m.ringSize !== f.ringSize) {
      m = { ringSize: f.ringSize, codes: new Uint16Array(f.ringSize).fill(CODE_KEEP), addresses: [], index: new Map() };
      this.#mirrors.set(service, m);
    }
    const end = Math.min(f.end, f.ringSize);
    if (f.first >= end) return { applied: 0, bad: f.slots.length };
    m.codes.fill(CODE_CLEAN, f.first, end);
    const family = f.vip.length === 4 ? 4 : 6;
    const local = f.addresses.map((a) => {
      const text = formatAddr(a, family);
      let i = m.index.get(text);
      if (i === undefined) {
        i = m.addresses.length;
        m.addresses.push(text);
        m.index.set(text, i);
      }
      return i + 1;
    });
    let bad = 0;
    for (const { slot, code } of f.slots) {
      if (slot < f.first || slot >= end || (code !== SLOT_KEEP && code >= local.length)) {
        bad++;
        continue;
      }
      m.codes[slot] = code === SLOT_KEEP ? CODE_KEEP : local[code];
    }
    return { applied: end - f.first - bad, bad };
  }

  /**
   * The fallback words this host's ring should hold for the MASTER's
   * decisions, given its own slots (`live`: the reals of the table being
   * written, and the fallbacks it computed itself). undefined when there is
   * no mirror of this ring size. A slot clean on the MASTER is clean here
   * (same config and health give the same real); a slot whose target is
   * this host's real is tracked; another target is named by this host's
   * index for that address. KEEP, and an address this host has no real
   * for, keep this host's own fallback.
   */
  fallbackWords(service: string, live: SlotWords, realOf: (backend: string) => number | undefined): Uint32Array | undefined {
    const m = this.#mirrors.get(service);
    if (!m || m.ringSize !== live.real.length) return undefined;
    const reals = m.addresses.map((a) => realOf(a));
    const out = new Uint32Array(live.real.length);
    for (let i = 0; i < out.length; i++) {
      const real = live.real[i];
      const code = m.codes[i];
      if (code === CODE_CLEAN) out[i] = real;
      else if (code === CODE_KEEP) out[i] = live.fallback[i];
      else {
        const target = reals[code - 1];
        out[i] = target === undefined ? live.fallback[i] : target === real ? tracked(real) : target;
      }
    }
    return out;
  }
}
