import { callNative, BpfError } from './errors.js';
import { bpfNative } from './native.js';

/**
 * Something that owns exactly one kernel file descriptor. close() is
 * idempotent; `using` (Symbol.dispose) closes at the end of a scope, so a
 * failing test never leaks an fd.
 */
export abstract class FdResource {
  #fd: number;
  protected abstract readonly kind: string;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** The descriptor; throws once closed, so a stale handle never acts on a reused fd number. */
  get fd(): number {
    if (this.#fd < 0) throw new BpfError('VIPD_BPF_CLOSED', this.kind, `${this.describe()} is closed`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  protected describe(): string {
    return this.kind;
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    callNative(`closing ${this.describe()}`, () => bpfNative().closeFd(fd));
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
