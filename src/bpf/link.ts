/**
 * XDP attachment. The preferred form is a bpf_link (kernel 5.9+): an fd that
 * can be pinned so the program stays attached after the process exits,
 * replaced atomically, and detached explicitly. Where links are missing the
 * program is attached over netlink instead, with the same interface.
 *
 * Lifetime: an unpinned link detaches when its last fd closes; a pinned link
 * stays until detach() or the pin is removed and every fd closed.
 */
import { LinkType, XdpFlag } from './constants.js';
import { BpfError, callNative, translateNativeError } from './errors.js';
import { FdResource } from './fd.js';
import { bpfNative } from './native.js';

export type XdpMode = 'auto' | 'native' | 'generic';

export interface XdpAttachOptions {
  /** native (driver), generic (skb), or auto: native, then generic if the driver lacks XDP. */
  mode?: XdpMode;
  /** Use netlink attach when the kernel has no XDP links (default true). */
  netlinkFallback?: boolean;
}

interface ProgramLike {
  readonly fd: number;
  readonly name: string;
}

/** An attached XDP program, however it was attached. */
export interface XdpAttachment {
  readonly ifindex: number;
  readonly mode: Exclude<XdpMode, 'auto'>;
  readonly via: 'link' | 'netlink';
  /** Swaps in another program atomically: no packet sees neither. */
  update(program: ProgramLike): void;
  /** Detaches from the interface now (and for a link, even if pinned). */
  detach(): void;
  /** Pins the attachment so it outlives this process (links only). */
  pin(path: string): void;
  close(): void;
  [Symbol.dispose](): void;
}

/** Interface index for a name or index; a missing interface is a typed error naming it. */
export function resolveIfindex(iface: string | number): number {
  if (typeof iface === 'number') return iface;
  try {
    return bpfNative().ifNameToIndex(iface);
  } catch (err) {
    const e = translateNativeError(err);
    throw new BpfError('VIPD_BPF_NO_INTERFACE', 'if_nametoindex', `interface '${iface}' does not exist`, {
      errnoName: e.errnoName,
      cause: err,
    });
  }
}

function modeFlags(mode: Exclude<XdpMode, 'auto'>): number {
  return mode === 'native' ? XdpFlag.DrvMode : XdpFlag.SkbMode;
}

export class XdpLink extends FdResource implements XdpAttachment {
  protected readonly kind = 'xdp link';
  readonly via = 'link' as const;

  constructor(
    fd: number,
    readonly ifindex: number,
    readonly mode: Exclude<XdpMode, 'auto'>,
  ) {
    super(fd);
  }

  protected override describe(): string {
    return `XDP link on ifindex ${this.ifindex}`;
  }

  /** Re-opens a pinned link (e.g. after a daemon restart). */
  static openPinned(path: string): XdpLink {
    const fd = callNative(`opening pinned link ${path}`, () => bpfNative().objGet(path));
    const info = bpfNative().linkInfo(fd);
    if (info.type !== LinkType.Xdp) {
      bpfNative().closeFd(fd);
      throw new BpfError('VIPD_BPF_INVALID_ARGUMENT', 'link open', `${path} is not an XDP link`);
    }
    return new XdpLink(fd, info.ifindex ?? 0, 'native');
  }

  /** The id of the program the link runs now. */
  programId(): number {
    return callNative(this.describe(), () => bpfNative().linkInfo(this.fd).progId);
  }

  update(program: ProgramLike): void {
    callNative(`replacing the program of ${this.describe()}`, () => bpfNative().linkUpdate(this.fd, program.fd));
  }

  detach(): void {
    callNative(`detaching ${this.describe()}`, () => bpfNative().linkDetach(this.fd));
  }

  pin(path: string): void {
    callNative(`pinning ${this.describe()} at ${path}`, () => bpfNative().objPin(this.fd, path));
  }
}

/** Netlink-attached XDP: stays attached until detach(), whatever happens to this process. */
export class NetlinkXdpAttachment implements XdpAttachment {
  readonly via = 'netlink' as const;
  #programFd: number;

  constructor(
    readonly ifindex: number,
    readonly mode: Exclude<XdpMode, 'auto'>,
    programFd: number,
  ) {
    this.#programFd = programFd;
  }

  update(program: ProgramLike): void {
    const old = this.#programFd;
    callNative(`replacing XDP on ifindex ${this.ifindex}`, () =>
      bpfNative().xdpAttach(this.ifindex, program.fd, modeFlags(this.mode), old),
    );
    this.#programFd = program.fd;
  }

  detach(): void {
    callNative(`detaching XDP from ifindex ${this.ifindex}`, () =>
      bpfNative().xdpDetach(this.ifindex, modeFlags(this.mode)),
    );
  }

  pin(): void {
    throw new BpfError(
      'VIPD_BPF_UNSUPPORTED',
      'pin',
      'a netlink XDP attachment cannot be pinned (the kernel has no XDP links); it stays attached anyway',
    );
  }

  close(): void {}

  [Symbol.dispose](): void {
    this.close();
  }
}

function isLinkUnsupported(code: string | undefined): boolean {
  return code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'E2BIG';
}

/** Attaches prog to iface; see XdpAttachOptions. */
export function attachXdp(program: ProgramLike, iface: string | number, opts: XdpAttachOptions = {}): XdpAttachment {
  const ifindex = resolveIfindex(iface);
  const modes: Exclude<XdpMode, 'auto'>[] =
    (opts.mode ?? 'auto') === 'auto' ? ['native', 'generic'] : [opts.mode as Exclude<XdpMode, 'auto'>];
  const native = bpfNative();
  let lastError: unknown;
  for (const mode of modes) {
    try {
      const fd = native.xdpLinkCreate(program.fd, ifindex, modeFlags(mode));
      return new XdpLink(fd, ifindex, mode);
    } catch (err) {
      lastError = err;
      const code = (err as { code?: string }).code;
      if (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY' || code === 'EEXIST') break;
      if (isLinkUnsupported(code) && opts.netlinkFallback !== false) {
        try {
          native.xdpAttach(ifindex, program.fd, modeFlags(mode) | XdpFlag.UpdateIfNoExist);
          return new NetlinkXdpAttachment(ifindex, mode, program.fd);
        } catch (nlErr) {
          lastError = nlErr;
        }
      }
    }
  }
  const e = translateNativeError(lastError, `attaching '${program.name}' to ifindex ${ifindex} (${modes.join(', ')})`);
  if (e.errnoName === 'EBUSY' || e.errnoName === 'EEXIST') {
    throw new BpfError(
      'VIPD_BPF_BUSY',
      e.op,
      `another XDP program is already attached to ifindex ${ifindex}; detach it first (ip link set dev IFACE xdp off)`,
      { errnoName: e.errnoName, cause: lastError },
    );
  }
  throw e;
}

/** Which XDP program ids an interface runs now (0 = none), by mode. */
export function queryXdp(iface: string | number): { native: number; generic: number; any: number } {
  const ifindex = resolveIfindex(iface);
  const q = callNative(`querying XDP on ifindex ${ifindex}`, () => bpfNative().xdpQuery(ifindex));
  return { native: q.drvProgId, generic: q.skbProgId, any: q.progId || q.drvProgId || q.skbProgId };
}
