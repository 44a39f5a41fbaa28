/**
 * rtnetlink: interface facts (index, MAC, oper state, link-local address),
 * VIP addresses on and off an interface, the neighbour table (real-server
 * MACs) with its change events and on-demand resolution, and link up/down
 * events for tracked interfaces.
 */
import { isIP } from 'node:net';
import { native, NetError, toNetError } from './errors.js';
import { LoopHandleOwner } from './handle-owner.js';
import {
  netAddon,
  type NativeLink,
  type NativeLinkEvent,
  type NativeLinkWatcher,
  type NativeNeighbour,
  type NativeNeighbourEvent,
} from './native.js';

/** An interface by name (`eth0`) or index. */
export type LinkRef = string | number;

export interface LinkInfo {
  ifindex: number;
  name: string;
  /** `aa:bb:cc:dd:ee:ff`, or null for links without one. */
  mac: string | null;
  mtu: number;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_RUNNING: operationally up (RFC 2863 UP or UNKNOWN). */
  running: boolean;
  /** IFF_LOWER_UP: carrier. */
  lowerUp: boolean;
  /** IFLA_OPERSTATE as `ip` prints it: UP, DOWN, LOWERLAYERDOWN, UNKNOWN, ... */
  operState: string;
  /** The usable (not tentative, not DAD-failed) link-local IPv6 address, if any. */
  linkLocal: string | undefined;
}

export interface AddressInfo {
  ifindex: number;
  family: 4 | 6;
  address: string;
  prefixLen: number;
  /** 0 universe, 253 link, 254 host. */
  scope: number;
  tentative: boolean;
  dadFailed: boolean;
  permanent: boolean;
  /** Raw IFA_F_* flags. */
  flags: number;
}

export interface Neighbour {
  ifindex: number;
  family: 4 | 6;
  address: string;
  mac: string | null;
  /** NUD state: REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP, FAILED, INCOMPLETE, NONE. */
  state: string;
  router: boolean;
}

const IFA_F_DADFAILED = 0x08;
const IFA_F_TENTATIVE = 0x40;
const IFA_F_PERMANENT = 0x80;
const RT_SCOPE_LINK = 253;

/** States in which the kernel's MAC for a neighbour is one to use. */
const USABLE_NUD = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT']);

function ifindexOf(link: LinkRef): number {
  return typeof link === 'number' ? link : linkInfo(link).ifindex;
}

/** Reads one interface; NetError code ENODEV when there is none. */
export function linkInfo(link: LinkRef): LinkInfo {
  const l: NativeLink = native(`link ${link}`, 'CAP_NET_ADMIN', () => netAddon().rtnlLink(link));
  return { ...l, linkLocal: linkLocalOf(l.ifindex) };
}

function linkLocalOf(ifindex: number): string | undefined {
  const all = addresses(ifindex, 6).filter((a) => a.scope === RT_SCOPE_LINK && !a.dadFailed);
  return (all.find((a) => !a.tentative) ?? undefined)?.address;
}

/** The interface's usable link-local IPv6 address (the VRRPv3 IPv6 source), if any. */
export function linkLocalAddress(link: LinkRef): string | undefined {
  return linkLocalOf(ifindexOf(link));
}

/** Addresses on one interface (or all), optionally of one family. */
export function addresses(link?: LinkRef, family?: 4 | 6): AddressInfo[] {
  const ifindex = link === undefined ? 0 : ifindexOf(link);
  const list = native('list addresses', 'CAP_NET_ADMIN', () => netAddon().rtnlAddresses(ifindex, family ?? 0));
  return list.map((a) => ({
    ...a,
    tentative: (a.flags & IFA_F_TENTATIVE) !== 0,
    dadFailed: (a.flags & IFA_F_DADFAILED) !== 0,
    permanent: (a.flags & IFA_F_PERMANENT) !== 0,
  }));
}

/** `10.0.0.1/24`, `2001:db8::1/64`, or a bare address (full-length prefix). */
export function parseCidr(cidr: string): { address: string; prefixLen: number; family: 4 | 6 } {
  const slash = cidr.indexOf('/');
  const address = slash < 0 ? cidr : cidr.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) throw new TypeError(`not an address: '${cidr}'`);
  const max = family === 4 ? 32 : 128;
  const prefixLen = slash < 0 ? max : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
    throw new TypeError(`bad prefix length in '${cidr}'`);
  }
  return { address, prefixLen, family };
}

export interface AddAddressOptions {
  /** IPv6: skip duplicate address detection (usable at once). Default true. */
  nodad?: boolean;
  /** Succeed (and update) when the address is already there. Default true. */
  replace?: boolean;
}

/** Adds an address (`cidr`) to an interface. */
export function addAddress(link: LinkRef, cidr: string, opts: AddAddressOptions = {}): void {
  const { address, prefixLen } = parseCidr(cidr);
  const ifindex = ifindexOf(link);
  native(`add ${cidr} to ${link}`, 'CAP_NET_ADMIN', () =>
    netAddon().rtnlAddressChange(true, ifindex, address, prefixLen, {
      nodad: opts.nodad ?? true,
      replace: opts.replace ?? true,
    }),
  );
}

/** Removes an address; `missingOk` (default true) ignores one that is not there. */
export function removeAddress(link: LinkRef, cidr: string, opts: { missingOk?: boolean } = {}): void {
  const { address, prefixLen } = parseCidr(cidr);
  const ifindex = ifindexOf(link);
  try {
    native(`remove ${cidr} from ${link}`, 'CAP_NET_ADMIN', () =>
      netAddon().rtnlAddressChange(false, ifindex, address, prefixLen, {}),
    );
  } catch (err) {
    if ((opts.missingOk ?? true) && err instanceof NetError && err.errnoName === 'EADDRNOTAVAIL') return;
    throw err;
  }
}

/** The neighbour table (ARP / NDP cache), optionally for one interface and family. */
export function neighbours(link?: LinkRef, family?: 4 | 6): Neighbour[] {
  const ifindex = link === undefined ? 0 : ifindexOf(link);
  return native('list neighbours', 'CAP_NET_ADMIN', () => netAddon().rtnlNeighbours(ifindex, family ?? 0));
}

/** The MAC of `address` on `link` if the kernel has a usable entry for it. */
export function resolveNeighbour(link: LinkRef, address: string): string | undefined {
  const fam = isIP(address);
  if (fam !== 4 && fam !== 6) throw new TypeError(`not an address: '${address}'`);
  const n = neighbours(link, fam).find((x) => x.address === address && x.mac !== null && USABLE_NUD.has(x.state));
  return n?.mac ?? undefined;
}

/** True when the kernel's entry holds a MAC to forward to (not FAILED, INCOMPLETE or NONE). */
export function usableNeighbour(n: Pick<Neighbour, 'mac' | 'state'>): boolean {
  return n.mac !== null && USABLE_NUD.has(n.state);
}

/**
 * Asks the kernel to resolve `address` on `link` now (RTM_NEWNEIGH with
 * NTF_USE: the entry is treated as used by a packet, so an unknown
 * neighbour is created and solicited at once and a stale one re-probed).
 * The answer comes as a NeighbourWatcher event; nothing is returned.
 */
export function solicitNeighbour(link: LinkRef, address: string): void {
  const ifindex = ifindexOf(link);
  native(`resolve ${address} on ${link}`, 'CAP_NET_ADMIN', () => netAddon().rtnlNeighbourUse(ifindex, address));
}

export interface NeighbourEvent extends Neighbour {
  /** RTM_DELNEIGH: the entry is gone. */
  removed: boolean;
}

export interface NeighbourWatcherEvents {
  /** Every RTM_NEWNEIGH / RTM_DELNEIGH (IPv4 and IPv6, all interfaces). */
  neighbour: [NeighbourEvent];
  /** The kernel dropped events (ENOBUFS): re-read the table (neighbours()). */
  overrun: [];
  error: [Error];
}

/**
 * Watches the neighbour table (RTNLGRP_NEIGH) on the event loop: every
 * entry the kernel adds, changes (new MAC, new NUD state) or removes.
 * After an `overrun` the listener must re-read what it needs: events were
 * lost.
 */
export class NeighbourWatcher extends LoopHandleOwner<NeighbourWatcherEvents, NativeLinkWatcher> {

  constructor() {
    super();
    const addon = netAddon();
    this.handle = native('neighbour watcher', 'CAP_NET_ADMIN', () => new addon.NeighWatcherHandle((e, evs) => this.onEvents(e, evs)));
  }



  private onEvents(err: Error | null, events: NativeNeighbourEvent[] | undefined): void {
    if (err) {
      this.emit('error', toNetError(err, 'neighbour watcher', 'CAP_NET_ADMIN'));
      return;
    }
    for (const ev of events ?? []) {
      if (!this.handle) return;
      if (ev.type === 'overrun') {
        this.emit('overrun');
        continue;
      }
      if (ev.address === undefined) continue;
      const n = ev as NativeNeighbour & { type: 'new' | 'del' };
      this.emit('neighbour', {
        ifindex: n.ifindex,
        family: n.family,
        address: n.address,
        mac: n.mac,
        state: n.state,
        router: n.router,
        removed: ev.type === 'del',
      });
    }
  }
}

/** A link's state as the watcher reports it. */
export interface LinkState {
  ifindex: number;
  name: string;
  /** IFF_UP and IFF_RUNNING: what keepalived calls an interface up. */
  isUp: boolean;
  up: boolean;
  running: boolean;
  lowerUp: boolean;
  operState: string;
  /** The link was deleted. */
  removed: boolean;
}

export interface LinkWatcherEvents {
  /** isUp changed (or the link went away) for a watched link. */
  change: [LinkState];
  /** Every RTM_NEWLINK / RTM_DELLINK seen for a watched link, changed or not. */
  link: [LinkState];
  /** The kernel dropped events; the watcher re-read the watched links. */
  overrun: [];
  error: [Error];
}

/**
 * Watches link up/down (RTNLGRP_LINK) on the event loop. With `interfaces`,
 * only those names are reported; their state at start is read at once and
 * `current(name)` answers from it.
 */
export class LinkWatcher extends LoopHandleOwner<LinkWatcherEvents, NativeLinkWatcher> {
  private readonly names: Set<string> | undefined;
  private readonly states = new Map<string, LinkState>();

  constructor(opts: { interfaces?: readonly string[] } = {}) {
    super();
    this.names = opts.interfaces ? new Set(opts.interfaces) : undefined;
    const addon = netAddon();
    this.handle = native('link watcher', 'CAP_NET_ADMIN', () => new addon.LinkWatcherHandle((e, evs) => this.onEvents(e, evs)));
    this.reread(false);
  }

  /** The last known state of a watched link (undefined if it does not exist). */
  current(name: string): LinkState | undefined {
    return this.states.get(name);
  }



  private reread(emit: boolean): void {
    for (const name of this.names ?? []) {
      let st: LinkState;
      try {
        st = toState(netAddon().rtnlLink(name), false);
      } catch {
        st = { ifindex: 0, name, isUp: false, up: false, running: false, lowerUp: false, operState: 'NOTPRESENT', removed: true };
      }
      this.update(st, emit);
    }
  }

  private update(st: LinkState, emit: boolean): void {
    if (this.names && !this.names.has(st.name)) return;
    const prev = this.states.get(st.name);
    this.states.set(st.name, st);
    if (!emit) return;
    this.emit('link', st);
    if (!prev || prev.isUp !== st.isUp || prev.removed !== st.removed) this.emit('change', st);
  }

  private onEvents(err: Error | null, events: NativeLinkEvent[] | undefined): void {
    if (err) {
      this.emit('error', toNetError(err, 'link watcher', 'CAP_NET_ADMIN'));
      return;
    }
    for (const ev of events ?? []) {
      if (!this.handle) return;
      if (ev.type === 'overrun') {
        this.reread(true);
        this.emit('overrun');
        continue;
      }
      if (ev.name === undefined) continue;
      this.update(toState(ev as NativeLink, ev.type === 'del'), true);
    }
  }
}

function toState(l: NativeLink, removed: boolean): LinkState {
  return {
    ifindex: l.ifindex,
    name: l.name,
    isUp: !removed && l.up && l.running,
    up: l.up,
    running: l.running,
    lowerUp: l.lowerUp,
    operState: l.operState,
    removed,
  };
}
