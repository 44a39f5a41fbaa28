/**
 * Loaded programs: test runs (BPF_PROG_TEST_RUN), pinning, and XDP attach.
 */
import { ProgType, XdpAction } from './constants.js';
import { BpfError, callNative } from './errors.js';
import { FdResource } from './fd.js';
import { attachXdp, type XdpAttachOptions, type XdpAttachment } from './link.js';
import { bpfNative, type NativeProgInfo, type NativeTestRunResult } from './native.js';

export interface RunOptions {
  /** The input packet (or context data). */
  data?: Buffer;
  /** Room for the output packet; default: input length + 256 (programs may grow it). */
  dataSizeOut?: number;
  /** How many times the kernel runs the program; duration is the mean per run. */
  repeat?: number;
  /** BPF_F_TEST_* flags, e.g. live frames. */
  flags?: number;
  /** Input context (struct xdp_md for XDP: ingress ifindex, rx queue). */
  ctx?: Buffer;
  ctxSizeOut?: number;
  /** Live-frames batch size. */
  batchSize?: number;
  /**
   * Also count the kernel instructions the calling thread retires in the
   * call (a hardware counter through perf_event_open): a cost per run that
   * does not move with the machine's load the way durationNs does.
   */
  countInstructions?: boolean;
}

export interface RunResult {
  /** The program's return value (an XDP verdict for XDP programs). */
  retval: number;
  /** The packet as the program left it. */
  data: Buffer;
  /** Mean nanoseconds per run, as the kernel measured it. */
  durationNs: number;
  ctx?: Buffer;
  /**
   * With countInstructions: kernel instructions retired during the whole
   * call (every repetition, plus the syscall's own entry and set-up);
   * undefined where the machine has no instruction counter.
   */
  instructions?: number;
}

const VERDICT_NAMES = Object.fromEntries(Object.entries(XdpAction).map(([k, v]) => [v, k.toUpperCase()]));

/** "TX", "PASS", ... for an XDP return value. */
export function xdpVerdictName(retval: number): string {
  return VERDICT_NAMES[retval] ?? `UNKNOWN(${retval})`;
}

function toRunResult(res: NativeTestRunResult): RunResult {
  const out: RunResult = { retval: res.retval, data: res.data, durationNs: res.duration, ctx: res.ctx };
  if (res.instructions !== undefined && res.instructions >= 0) out.instructions = res.instructions;
  return out;
}

export class Program extends FdResource {
  protected readonly kind = 'program';
  readonly name: string;

  constructor(fd: number, name: string) {
    super(fd);
    this.name = name;
  }

  protected override describe(): string {
    return `program '${this.name}'`;
  }

  /** Opens a program pinned in bpffs. */
  static openPinned(path: string): Program {
    const fd = callNative(`opening pinned program ${path}`, () => bpfNative().objGet(path));
    const info = bpfNative().progInfo(fd);
    return new Program(fd, info.name);
  }

  /** Opens a loaded program by kernel id (e.g. from an XDP query). */
  static fromId(id: number): Program {
    const fd = callNative(`opening program id ${id}`, () => bpfNative().getFdById('prog', id));
    return new Program(fd, bpfNative().progInfo(fd).name);
  }

  info(): NativeProgInfo {
    return callNative(this.describe(), () => bpfNative().progInfo(this.fd));
  }

  pin(path: string): void {
    callNative(`pinning ${this.describe()} at ${path}`, () => bpfNative().objPin(this.fd, path));
  }

  private runOpts(opts: RunOptions) {
    const data = opts.data ?? Buffer.alloc(0);
    return {
      data,
      dataSizeOut: opts.dataSizeOut ?? data.length + 256,
      repeat: opts.repeat ?? 1,
      flags: opts.flags ?? 0,
      ctx: opts.ctx,
      ctxSizeOut: opts.ctxSizeOut ?? (opts.ctx ? opts.ctx.length : 0),
      batchSize: opts.batchSize ?? 0,
      countInstructions: opts.countInstructions ?? false,
    };
  }

  /** BPF_PROG_TEST_RUN on the calling thread: fine for a single run or a few thousand repeats. */
  run(opts: RunOptions = {}): RunResult {
    const res = callNative(`test run of ${this.describe()}`, () => bpfNative().progTestRun(this.fd, this.runOpts(opts)));
    return toRunResult(res);
  }

  /**
   * One test run per frame, in one native loop: frames holds frames of
   * frameSize bytes end to end (a million distinct packets run in seconds).
   * Returns each run's return value; the output frames are not kept.
   */
  runEach(frames: Buffer, frameSize: number): Uint32Array {
    const out = callNative(`test runs of ${this.describe()}`, () => bpfNative().progTestRunEach(this.fd, frames, frameSize));
    return new Uint32Array(out.buffer, out.byteOffset, out.length / 4);
  }

  /** The same on the libuv thread pool, for long repeat counts (benchmarks). */
  async runAsync(opts: RunOptions = {}): Promise<RunResult> {
    try {
      const res = await bpfNative().progTestRunAsync(this.fd, this.runOpts(opts));
      return toRunResult(res);
    } catch (err) {
      throw callNative(`test run of ${this.describe()}`, () => {
        throw err;
      });
    }
  }

  /** Attaches this XDP program to an interface (by name or index). */
  attachXdp(iface: string | number, opts: XdpAttachOptions = {}): XdpAttachment {
    const info = this.info();
    if (info.type !== ProgType.Xdp) {
      throw new BpfError('VIPD_BPF_INVALID_ARGUMENT', 'xdp attach', `${this.describe()} is not an XDP program`);
    }
    return attachXdp(this, iface, opts);
  }
}
