/**
 * The JS owner of one long-lived addon handle (a socket with its receive
 * thread, a netlink watcher, the advert sender): closed at most once, after
 * which it is gone (`closed`), `using`-disposable, and, for handles on the
 * event loop, ref()/unref() to keep the process alive or not. One place for
 * what every such class did word for word.
 */
import { EventEmitter } from 'node:events';

export interface ClosableHandle {
  close(): void;
}

export interface LoopHandle extends ClosableHandle {
  ref(): void;
  unref(): void;
}

export abstract class HandleOwner<E extends Record<keyof E, unknown[]>, H extends ClosableHandle>
  extends EventEmitter<E>
  implements Disposable
{
  /** The addon handle; undefined once closed (subclasses set it in their constructor). */
  protected handle: H | undefined;

  get closed(): boolean {
    return this.handle === undefined;
  }

  /** Releases the handle (idempotent), then onClosed(). */
  close(): void {
    const h = this.handle;
    if (!h) return;
    this.handle = undefined;
    h.close();
    this.onClosed();
  }

  /** What a subclass does once its handle is released (e.g. emit 'close'). */
  protected onClosed(): void {}

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A HandleOwner whose handle is on the event loop: it may or may not keep the process alive. */
export abstract class LoopHandleOwner<E extends Record<keyof E, unknown[]>, H extends LoopHandle> extends HandleOwner<E, H> {
  /** Lets the process exit while the handle is open (default: it keeps it alive). */
  unref(): this {
    this.handle?.unref();
    return this;
  }

  ref(): this {
    this.handle?.ref();
    return this;
  }
}
