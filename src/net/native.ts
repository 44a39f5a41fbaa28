/**
 * The typed shape of the addon's network functions (native/vrrp_*.cc,
 * native/net_*.cc). Only src/net uses it; everything else uses the classes
 * and functions that src/net exports.
 */
import { nativeAddon } from '../native.js';

/** One received VRRP packet, as the addon hands it over. */
export interface NativePacket {
  source: string;
  destination: string;
  ttl: number;
  ifindex: number;
  arrivalNs: bigint;
  kernelTimestamp: boolean;
  payload: Buffer;
}

export type PacketsCallback = (err: Error | null, packets: NativePacket[] | undefined) => void;

/** What a VRRP socket's receive thread did with what it read, since open. */
export interface VrrpRxStats {
  /** Exact repeats of the steady advert, absorbed without JS. */
  absorbed: number;
  /** Packets handed to JS ('packet' events). */
  queued: number;
  /** Times the thread woke the JS thread (packets, a Master_Down expiry, an error). */
  jsWakes: number;
  /** Times the receive thread itself woke (a packet, a Master_Down deadline, a change from JS). */
  threadWakes: number;
  /** Of `absorbed`, those the kernel filter dropped before they reached the socket (no thread wakeup). */
  kernelAbsorbed: number;
  /** Times the kernel filter was attached (each steady advert, and after JS took a queued packet). */
  kernelAttaches: number;
  /** Why the kernel filter could not be loaded (errno name), when it could not: the thread absorbs alone then. */
  kernelError?: string;
}

export interface NativeVrrpSocket {
  send(payload: Uint8Array, destination: string): void;
  close(): void;
  ref(): void;
  unref(): void;
  /** Reads the socket dry and calls the packets callback before returning. */
  drain(): void;
  /** Absorb exact repeats of this advert (same source, destination, TTL 255, bytes) without calling JS. */
  setSteady(source: string, destination: string, payload: Uint8Array): void;
  clearSteady(): void;
  /** Adverts absorbed since the last call, and the arrival of the last one (CLOCK_MONOTONIC ns). */
  takeAbsorbed(): { count: number; lastArrivalNs: bigint };
  rxStats(): VrrpRxStats;
  /** One timer: calls onExpire at max(dueNs, last absorbed arrival + masterDownNs), CLOCK_MONOTONIC. */
  armMasterDown(dueNs: bigint, masterDownNs: bigint, onExpire: () => void): void;
  disarmMasterDown(): void;
}

export interface NativeSenderEvent {
  type: 'watchdog' | 'error' | 'recovered' | 'lease-error';
  code?: string;
  errno?: number;
}

export interface NativeSenderStats {
  running: boolean;
  sent: number;
  sendErrors: number;
  lastError?: string;
  late: number;
  watchdogTrips: number;
  lastGapUs: number;
  maxGapUs: number;
  leaseUpdates: number;
  leaseErrors: number;
  /** The lease map is an mmapable array: renewed through a shared mapping, no bpf() call per advert. */
  leaseMapped: boolean;
  realtime: boolean;
}

export interface NativeAdvertSender {
  setAdvert(bytes: Uint8Array): void;
  setDestinations(addresses: string[]): void;
  setInterval(intervalUs: number): void;
  setWatchdog(ms: number): void;
  start(): void;
  stop(): void;
  sendNow(): void;
  checkIn(): void;
  setLease(mapFd: number, key: Uint8Array, value: Uint8Array, valueOffset: number, leaseNs: bigint): void;
  clearLease(): void;
  stats(): NativeSenderStats;
  resetStats(): void;
  close(): void;
}

export interface NativeLink {
  ifindex: number;
  name: string;
  mac: string | null;
  mtu: number;
  up: boolean;
  running: boolean;
  lowerUp: boolean;
  operState: string;
}

export interface NativeLinkEvent extends Partial<NativeLink> {
  type: 'new' | 'del' | 'overrun';
}

export interface NativeAddress {
  ifindex: number;
  family: 4 | 6;
  address: string;
  prefixLen: number;
  scope: number;
  flags: number;
}

export interface NativeNeighbour {
  ifindex: number;
  family: 4 | 6;
  address: string;
  mac: string | null;
  state: string;
  router: boolean;
}

export interface NativeNeighbourEvent extends Partial<NativeNeighbour> {
  type: 'new' | 'del' | 'overrun';
}

export interface NativeLinkWatcher {
  close(): void;
  ref(): void;
  unref(): void;
}

export interface NetAddon {
  VrrpSocketHandle: new (
    opts: { family: 4 | 6; ifname: string; multicast: boolean; source?: string; vmac?: Uint8Array; linkLayerSend?: boolean },
    onPackets: PacketsCallback,
  ) => NativeVrrpSocket;
  AdvertSenderHandle: new (
    socket: NativeVrrpSocket,
    opts: { intervalUs: number; watchdogMs: number; destinations: string[]; schedPriority?: number },
    onEvent: (event: NativeSenderEvent) => void,
  ) => NativeAdvertSender;
  packetSend(ifindex: number, frames: Uint8Array[]): number;
  rtnlLink(link: number | string): NativeLink;
  rtnlAddressChange(
    add: boolean,
    ifindex: number,
    address: string,
    prefixLen: number,
    opts: { nodad?: boolean; replace?: boolean },
  ): void;
  rtnlAddresses(ifindex: number, family: 0 | 4 | 6): NativeAddress[];
  rtnlNeighbours(ifindex: number, family: 0 | 4 | 6): NativeNeighbour[];
  /** RTM_NEWNEIGH with NTF_USE: the kernel solicits the neighbour at once. */
  rtnlNeighbourUse(ifindex: number, address: string): void;
  LinkWatcherHandle: new (
    onEvents: (err: Error | null, events: NativeLinkEvent[] | undefined) => void,
  ) => NativeLinkWatcher;
  NeighWatcherHandle: new (
    onEvents: (err: Error | null, events: NativeNeighbourEvent[] | undefined) => void,
  ) => NativeLinkWatcher;
  sdNotify(socketPath: string, message: string): void;
  monotonicNs(): bigint;
}

/** The addon, typed for src/net. */
export function netAddon(): NetAddon {
  return nativeAddon() as NetAddon;
}
