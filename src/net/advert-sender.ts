/**
 * The native advert sender: a thread that sends the current advertisement
 * every interval, on absolute CLOCK_MONOTONIC deadlines, whatever the JS
 * event loop is doing. JS changes the bytes (priority, addresses), starts and
 * stops it. Watchdog: a sender whose event loop has not waited for events
 * within `watchdogMs` stops by itself and emits 'watchdog' (delivered once
 * the loop runs again). The thread reads the loop's idle time from libuv
 * before each advert (native/loop_watch.h), so an idle loop is never woken
 * for it and only a stalled one trips it; checkIn() is one more check-in.
 *
 * Optional lease hook: after every advert that left, the thread writes
 * `value` (with the u64 at `valueOffset` = CLOCK_MONOTONIC now + leaseNs) to
 * `key` in the BPF map `mapFd`, so the data-plane lease rides on the adverts.
 */
import { native, NetError } from './errors.js';
import { HandleOwner } from './handle-owner.js';
import { netAddon, type NativeAdvertSender, type NativeSenderEvent, type NativeSenderStats } from './native.js';
import type { VrrpSocket } from './vrrp-socket.js';

export interface AdvertSenderOptions {
  /** Advertisement interval in milliseconds (v3: 10..40950; fractional ok, >= 0.1). */
  intervalMs: number;
  /** Where adverts go: default the socket's multicast group; unicast peers otherwise. */
  destinations?: readonly string[];
  /** Stop sending when the event loop has not checked in for this long (default 2000; 0 disables). */
  watchdogMs?: number;
  /** Run the thread SCHED_FIFO at this priority (1..99) when allowed; default off. */
  schedPriority?: number;
}

export interface LeaseHook {
  /** fd of the BPF map holding the instance's lease (the sender keeps a dup). */
  mapFd: number;
  key: Uint8Array;
  /** The whole value to write; the u64 at valueOffset is replaced on each write. */
  value: Uint8Array;
  /** Byte offset of the u64 expiry (host byte order, bpf_ktime_get_ns domain). */
  valueOffset: number;
  /** Lease length: expiry = CLOCK_MONOTONIC now + leaseNs. */
  leaseNs: bigint;
}

export type AdvertSenderStats = NativeSenderStats;

export interface AdvertSenderEvents {
  /** The watchdog stopped the sender: JS did not check in within watchdogMs. */
  watchdog: [];
  /** Sends started failing (once per distinct errno, not per advert). */
  error: [NetError];
  /** Sends work again after an 'error'. */
  recovered: [];
  /** The lease map update failed (once per distinct errno). */
  'lease-error': [NetError];
}

/** close() stops and joins the thread, closes the lease fd dup and releases the socket fd. */
export class AdvertSender extends HandleOwner<AdvertSenderEvents, NativeAdvertSender> {
  private readonly label: string;

  constructor(socket: VrrpSocket, opts: AdvertSenderOptions) {
    super();
    const sock = socket.handle;
    if (!sock) throw new Error('AdvertSender: the VrrpSocket is closed');
    this.label = `advert sender on ${socket.interface}`;
    const addon = netAddon();
    this.handle = native(this.label, 'CAP_NET_RAW', () => {
      return new addon.AdvertSenderHandle(
        sock,
        {
          intervalUs: toUs(opts.intervalMs),
          watchdogMs: opts.watchdogMs ?? 2000,
          destinations: [...(opts.destinations ?? [socket.group])],
          schedPriority: opts.schedPriority,
        },
        (ev) => this.onEvent(ev),
      );
    });
  }

  /** The advert to send from now on (the VRRP message, checksum included). */
  setAdvert(bytes: Uint8Array): void {
    this.h().setAdvert(bytes);
  }

  setDestinations(addresses: readonly string[]): void {
    this.h().setDestinations([...addresses]);
  }

  /** New interval; the next advert is due one new interval after the last one. */
  setIntervalMs(ms: number): void {
    this.h().setInterval(toUs(ms));
  }

  /** New watchdog bound (0 disables); counts as a check-in. */
  setWatchdogMs(ms: number): void {
    this.h().setWatchdog(ms);
  }

  /** Starts periodic sending: the first advert leaves at once. Needs setAdvert first. */
  start(): void {
    this.h().start();
  }

  /** Stops periodic sending (the thread stays, idle). */
  stop(): void {
    this.handle?.stop();
  }

  /**
   * Sends the current advert now, on this thread; when running, the next
   * periodic one follows one interval later. Throws NetError when it could
   * not be sent to any destination.
   */
  sendNow(): void {
    const h = this.h();
    native(this.label, 'CAP_NET_RAW', () => h.sendNow());
  }

  /** Tells the watchdog the loop runs (the thread also asks the loop itself: see above). */
  checkIn(): void {
    this.handle?.checkIn();
  }

  /** Renew a data-plane lease after each advert sent (null: stop renewing). */
  setLease(hook: LeaseHook | null): void {
    const h = this.h();
    if (hook === null) {
      h.clearLease();
      return;
    }
    native(this.label, 'CAP_NET_ADMIN', () =>
      h.setLease(hook.mapFd, hook.key, hook.value, hook.valueOffset, hook.leaseNs),
    );
  }

  stats(): AdvertSenderStats {
    return this.h().stats();
  }

  resetStats(): void {
    this.h().resetStats();
  }



  private h(): NativeAdvertSender {
    if (!this.handle) throw new Error('AdvertSender: closed');
    return this.handle;
  }

  private onEvent(ev: NativeSenderEvent): void {
    switch (ev.type) {
      case 'watchdog':
        this.emit('watchdog');
        break;
      case 'recovered':
        this.emit('recovered');
        break;
      case 'error':
      case 'lease-error': {
        const err = new NetError(`${this.label}: ${ev.type === 'error' ? 'send' : 'lease update'} failed (${ev.code})`, {
          errnoName: ev.code ?? 'EIO',
          errno: ev.errno,
          syscall: ev.type === 'error' ? 'sendmsg' : 'bpf_map_update_elem',
        });
        // 'error' without a listener would throw from a native callback: the
        // stats carry it anyway, so only emit when someone listens.
        if (this.listenerCount(ev.type) > 0) this.emit(ev.type, err);
        break;
      }
    }
  }
}

function toUs(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0.1) throw new RangeError(`advert interval ${ms} ms is out of range`);
  return Math.round(ms * 1000);
}
