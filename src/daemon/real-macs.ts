/**
 * Real-server MACs from the kernel's neighbour table, as soon as the kernel
 * has them: rtnetlink neighbour events (RTNLGRP_NEIGH) report every entry
 * that resolves or changes, and an unknown real server is solicited at once
 * (RTM_NEWNEIGH with NTF_USE: the kernel sends its ARP request / neighbour
 * solicitation now). A slow full re-read is only a safety net for events
 * the kernel dropped; a socket overrun (ENOBUFS) re-reads at once.
 *
 * Before (issue 11): the table was polled every 2 s and an unknown server
 * solicited with a UDP datagram to the discard port, so a fresh MASTER
 * could serve its VIPs for up to 2 s with no Maglev table. The datagram is
 * kept as the fallback when the kernel refuses NTF_USE.
 */
import { createSocket } from 'node:dgram';
import {
  linkInfo,
  neighbours,
  NeighbourWatcher,
  solicitNeighbour,
  usableNeighbour,
  type Neighbour,
  type NeighbourEvent,
} from '../net/index.js';
import type { Logger } from './logger.js';

export interface RealMacsOptions {
  logger: Logger;
  /** A usable MAC for a watched address (new, or changed). */
  onMac: (iface: string, address: string, mac: string) => void;
  /** Full re-read of the watched interfaces' neighbour tables (ms). */
  rereadMs: number;
  /** While a real server has no MAC, solicit it again this often (ms). Default 1 s. */
  retryMs?: number;
}

/** A watched real server: interface name and address. */
export interface RealRef {
  iface: string;
  address: string;
}

/** States in which the kernel will not re-probe by itself: a re-read leaves them alone. */
const FRESH = new Set(['REACHABLE', 'PERMANENT', 'NOARP']);

export class RealMacs {
  readonly #opts: RealMacsOptions;
  readonly #log: Logger;
  /** iface -> watched addresses. */
  #watched = new Map<string, Set<string>>();
  /** ifindex -> iface name, for events (refreshed on every re-read: an interface may be re-created). */
  #names = new Map<number, string>();
  /** `${iface}|${address}` -> the last usable MAC seen (who is resolved, for the retry). */
  readonly #known = new Map<string, string>();
  #watcher: NeighbourWatcher | undefined;
  #watcherFailed = false;
  #ntfUseFailed = false;
  #rereadTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  /** `${iface}|${address}` of servers first watched by the last watch() and not resolved yet. */
  #pending = new Set<string>();
  /** Between start() and stop(): the retry timer may run. */
  #started = false;
  /** whenResolved() callers, woken as #pending empties. */
  readonly #waiters = new Set<() => void>();

  constructor(opts: RealMacsOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
  }

  /**
   * Watches exactly these real servers from now on. Subscribes to events
   * first, then reads the table (so no change falls between the two),
   * solicits the ones without a usable entry, and returns the MACs known now.
   */
  watch(reals: readonly RealRef[]): { iface: string; address: string; mac: string }[] {
    this.#watched = new Map();
    const before = this.#watched;
    this.#watched = new Map();
    this.#pending = new Set();
    for (const r of reals) {
      let set = this.#watched.get(r.iface);
      if (!set) this.#watched.set(r.iface, (set = new Set()));
      set.add(r.address);
    }
    for (const k of [...this.#known.keys()]) {
      const [iface, address] = k.split('|');
      if (!this.#watched.get(iface)?.has(address)) this.#known.delete(k);
    }
    this.#openWatcher();
    const known = this.#reread();
    for (const [iface, addrs] of this.#watched) {
      for (const address of addrs) {
        const k = `${iface}|${address}`;
        if (!before.get(iface)?.has(address) && !this.#known.has(k)) this.#pending.add(k);
      }
    }
    this.#armRetry();
    return known;
  }

  /**
   * Resolves when every server the last watch() was the first to watch
   * has a MAC (the kernel answers a solicitation in milliseconds), or after
   * boundMs, with how many are still without one. A server watched before
   * (one that is down, say) is not waited for again on every reload.
   */
  whenResolved(boundMs: number): Promise<number> {
    if (this.#pending.size === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(this.#pending.size);
      };
      const wake = () => {
        if (this.#pending.size === 0) done();
      };
      const timer = setTimeout(done, boundMs);
      this.#waiters.add(wake);
    });
  }

  /** Starts the safety-net re-read and the retry of unresolved servers. */
  start(): void {
    this.#stopTimers();
    this.#started = true;
    this.#rereadTimer = setInterval(() => {
      for (const m of this.#reread()) this.#opts.onMac(m.iface, m.address, m.mac);
    }, this.#opts.rereadMs);
    this.#rereadTimer.unref();
    this.#armRetry();
  }

  /**
   * The retry runs only while a watched server has no MAC (a known MAC is
   * only forgotten when its server is no longer watched): once every one
   * is known it stops, so a steady daemon has no timer waking it each
   * second for nothing. watch() arms it again for new servers.
   */
  #armRetry(): void {
    if (!this.#started || this.#retryTimer || !this.#hasUnresolved()) return;
    this.#retryTimer = setInterval(() => {
      this.#retryUnresolved();
      if (this.#hasUnresolved()) return;
      clearInterval(this.#retryTimer);
      this.#retryTimer = undefined;
    }, this.#opts.retryMs ?? 1000);
    this.#retryTimer.unref();
  }

  #hasUnresolved(): boolean {
    for (const [iface, addrs] of this.#watched) for (const address of addrs) if (!this.#known.has(`${iface}|${address}`)) return true;
    return false;
  }

  stop(): void {
    this.#started = false;
    this.#stopTimers();
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #stopTimers(): void {
    if (this.#rereadTimer) clearInterval(this.#rereadTimer);
    if (this.#retryTimer) clearInterval(this.#retryTimer);
    this.#rereadTimer = this.#retryTimer = undefined;
  }

  #openWatcher(): void {
    if (this.#watcher || this.#watcherFailed) return;
    try {
      const w = new NeighbourWatcher().unref();
      w.on('neighbour', (n) => this.#onEvent(n));
      w.on('overrun', () => {
        this.#log.warn('neighbour events lost (socket overrun): re-reading the neighbour table');
        for (const m of this.#reread()) this.#opts.onMac(m.iface, m.address, m.mac);
      });
      w.on('error', (err) => this.#log.error({ err: err.message }, 'neighbour watcher failed'));
      this.#watcher = w;
    } catch (err) {
      // Without events the re-read (every rereadMs) and the retry are all there is.
      this.#watcherFailed = true;
      this.#log.error({ err: (err as Error).message }, 'neighbour events unavailable: real-server MACs come from the periodic re-read only');
    }
  }

  #onEvent(n: NeighbourEvent): void {
    const iface = this.#names.get(n.ifindex);
    if (iface === undefined || !this.#watched.get(iface)?.has(n.address)) return;
    // A removed, failed or incomplete entry keeps the MAC we know: the
    // server may merely be re-probed; a new answer brings the new MAC.
    if (n.removed || !usableNeighbour(n)) return;
    this.#take(iface, n.address, n.mac!);
  }

  /** Records a usable MAC and passes it on (the listener skips what it has already). */
  #take(iface: string, address: string, mac: string): void {
    const k = `${iface}|${address}`;
    this.#known.set(k, mac);
    this.#opts.onMac(iface, address, mac);
    if (this.#pending.delete(k) && this.#pending.size === 0) for (const wake of [...this.#waiters]) wake();
  }

  /**
   * Reads the watched interfaces' tables. Returns every usable MAC of a
   * watched server (callers pass them on); solicits every watched server without a
   * fresh entry (unknown ones are resolved, stale ones re-probed, so a MAC
   * that changed without an announcement is found too).
   */
  #reread(): { iface: string; address: string; mac: string }[] {
    const out: { iface: string; address: string; mac: string }[] = [];
    for (const [iface, addrs] of this.#watched) {
      let ifindex: number;
      let table: Neighbour[];
      try {
        ifindex = linkInfo(iface).ifindex;
        table = neighbours(ifindex);
      } catch (err) {
        this.#log.warn({ interface: iface, err: (err as Error).message }, 'neighbour table not read');
        continue;
      }
      for (const [i, name] of this.#names) if (name === iface && i !== ifindex) this.#names.delete(i);
      this.#names.set(ifindex, iface);
      const byAddress = new Map(table.map((n) => [n.address, n]));
      for (const address of addrs) {
        const n = byAddress.get(address);
        const k = `${iface}|${address}`;
        if (n && usableNeighbour(n)) {
          this.#known.set(k, n.mac!);
          this.#pending.delete(k);
          out.push({ iface, address, mac: n.mac! });
        }
        if (!n || !FRESH.has(n.state)) this.#solicit(iface, ifindex, address);
      }
    }
    // Woken waiters resume after the caller has passed these MACs on (a promise continuation).
    if (this.#pending.size === 0) for (const wake of [...this.#waiters]) wake();
    return out;
  }

  /** Solicits again the servers that have no MAC yet (a server that comes up late). */
  #retryUnresolved(): void {
    for (const [iface, addrs] of this.#watched) {
      const ifindex = [...this.#names].find(([, name]) => name === iface)?.[0];
      if (ifindex === undefined) continue;
      for (const address of addrs) if (!this.#known.has(`${iface}|${address}`)) this.#solicit(iface, ifindex, address);
    }
  }

  /** Makes the kernel resolve an address now; never guesses a MAC. */
  #solicit(iface: string, ifindex: number, address: string): void {
    if (!this.#ntfUseFailed) {
      try {
        solicitNeighbour(ifindex, address);
        return;
      } catch (err) {
        this.#ntfUseFailed = true;
        this.#log.warn(
          { interface: iface, backend: address, err: (err as Error).message },
          'the kernel refused an NTF_USE neighbour request: soliciting real servers with a datagram instead',
        );
      }
    }
    // The fallback: one empty datagram to the discard port makes the kernel resolve the address.
    const sock = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    sock.on('error', () => sock.close());
    sock.send(Buffer.alloc(0), 9, address, () => sock.close());
  }
}
