/**
 * Network-namespace labs for tests (and benches, demos): uniquely named
 * namespaces, veth pairs, bridges, commands and node child processes run
 * inside them, and a cleanup that removes everything made — from afterAll,
 * on process exit, and (for namespaces left by a killed run) on the next
 * lab's start.
 *
 *   const lab = new NetnsLab('vrrp');
 *   const a = lab.namespace('a'), b = lab.namespace('b');
 *   lab.veth(a, 'eth0', b, 'eth0');
 *   a.ip('addr add 10.200.0.1/24 dev eth0');
 *   const child = a.node(script, [], { env: {...} });
 *   ...
 *   await lab.cleanup();
 *
 * Names: `vt-<pid>-<rand>-<label>`, so parallel test files never collide;
 * interfaces live only inside the lab's namespaces (they are created there,
 * never in the root namespace), and tests use only 10.x / fd00:: addresses
 * on them, so nothing routes out.
 *
 * No vitest import: usable from bench/ and scripts/ too.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../src/native.js';

const PREFIX = 'vt-';

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (`ip`) is not installed';
  }
  return undefined;
}

/** True when `cmd` is on PATH. */
export function haveCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function run(cmd: string, args: readonly string[], input?: string, env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
      env: env ? { ...process.env, ...env } : undefined,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Deletes lab namespaces whose creating process is gone (a SIGKILLed run). */
export function sweepStaleNamespaces(): string[] {
  const removed: string[] = [];
  let list: string[];
  try {
    list = readdirSync('/run/netns');
  } catch {
    return removed;
  }
  for (const name of list) {
    const m = /^vt-(\d+)-/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    try {
      run('ip', ['netns', 'del', name]);
      removed.push(name);
    } catch {
      /* raced with another sweeper */
    }
  }
  return removed;
}

/** Every live lab of this process, for the exit handler. */
const liveLabs = new Set<NetnsLab>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.cleanupSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const lab of liveLabs) lab.cleanupSync();
      process.kill(process.pid, sig);
    });
  }
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** One network namespace of a lab. */
export class Namespace {
  constructor(
    readonly lab: NetnsLab,
    /** The namespace's name (`ip netns` list). */
    readonly name: string,
    /** The short label it was made with. */
    readonly label: string,
  ) {}

  /** `ip -n NS <args>` (args split on spaces, or an array); returns stdout. */
  ip(args: string | readonly string[]): string {
    const a = typeof args === 'string' ? args.split(/\s+/).filter(Boolean) : args;
    return run('ip', ['-n', this.name, ...a]);
  }

  /**
   * Attaches the object's `sec` program to `dev` in native mode with iproute2.
   *
   * iproute2 pins into a work directory `tc/globals` on a bpffs: with no
   * bpffs at /sys/fs/bpf it takes the first bpffs in /proc/mounts, which may
   * be a pin directory another test (or a daemon) mounted, and leaves `tc/`
   * there. TC_BPF_MNT pins it to /sys/fs/bpf, which `ip -n` mounts inside its
   * own private mount namespace when the host has none: nothing outside changes.
   */
  attachXdpObject(dev: string, obj: string, sec = 'xdp'): void {
    run('ip', ['-n', this.name, 'link', 'set', 'dev', dev, 'xdpdrv', 'obj', obj, 'sec', sec], undefined, {
      TC_BPF_MNT: '/sys/fs/bpf',
    });
  }

  /** `ip -j -n NS <args>`, parsed. */
  ipJson<T = unknown>(args: string | readonly string[]): T {
    const a = typeof args === 'string' ? args.split(/\s+/).filter(Boolean) : args;
    const out = run('ip', ['-j', '-n', this.name, ...a]).trim();
    return (out === '' ? [] : JSON.parse(out)) as T;
  }

  /** Runs a command inside the namespace, synchronously; throws on failure. */
  execSync(cmd: string, args: readonly string[] = [], input?: string): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], input);
  }

  /** Runs a command inside the namespace to completion (never throws on exit code). */
  exec(cmd: string, args: readonly string[] = [], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const child = this.spawn(cmd, args);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise((resolvePromise, reject) => {
      const t = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
      child.on('error', reject);
      child.on('close', (code) => {
        if (t) clearTimeout(t);
        resolvePromise({ stdout, stderr, code });
      });
    });
  }

  /** Starts a process inside the namespace; the lab kills it at cleanup. */
  spawn(cmd: string, args: readonly string[] = [], opts: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    this.lab.track(child);
    return child;
  }

  /**
   * Starts `node script args` inside the namespace, talking JSON lines on
   * stdin/stdout (see NodeChild). Use a .mjs / .js script, e.g. one from
   * transpileForChild().
   */
  node(script: string, args: readonly string[] = [], opts: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {}): NodeChild {
    const child = this.spawn(process.execPath, [...(opts.execArgv ?? []), script, ...args], opts);
    return new NodeChild(child, `${this.label}:${script.split('/').pop()}`);
  }

  /**
   * Captures frames on an interface with tcpdump (Debian's) until `count`
   * frames matched `filter` (a pcap filter) or `timeoutMs` passed. Await
   * `ready` before sending; `frames` resolves with the raw Ethernet frames.
   * (tcpdump is stopped by -c, not by a signal: on SIGINT it drops what is
   * still in its ring.)
   */
  capture(ifname: string, filter: string, opts: { count: number; timeoutMs?: number }): Capture {
    const file = join(this.lab.tmpDir(), 'capture.pcap');
    const child = this.spawn('tcpdump', ['-i', ifname, '-Z', 'root', '-U', '-n', '-c', String(opts.count), '-w', file, filter]);
    let err = '';
    const ready = new Promise<void>((resolvePromise, reject) => {
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        if (err.includes('listening on')) resolvePromise();
      });
      child.once('exit', () => reject(new Error(`tcpdump exited before listening: ${err}`)));
    });
    const frames = new Promise<Buffer[]>((resolvePromise) => {
      const t = setTimeout(() => child.kill('SIGINT'), opts.timeoutMs ?? 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolvePromise(existsSync(file) ? readPcap(readFileSync(file)) : []);
      });
    });
    ready.catch(() => {});
    const stopAt = async (isMarker: (frame: Buffer) => boolean, timeoutMs = 15_000): Promise<Buffer[]> => {
      // -U writes each frame as it is read, in order: once the marker is in
      // the file, so is every frame captured before it.
      const until = Date.now() + timeoutMs;
      for (;;) {
        const got = existsSync(file) ? readPcap(readFileSync(file)) : [];
        const at = got.findIndex(isMarker);
        if (at >= 0) {
          child.kill('SIGINT');
          return got.slice(0, at);
        }
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > until) {
          child.kill('SIGINT');
          throw new Error(`capture on ${ifname}: no marker frame within ${timeoutMs} ms (${got.length} frames)`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { ready, frames, stopAt };
  }

  /** Sets an interface up. */
  up(ifname: string): void {
    this.ip(['link', 'set', ifname, 'up']);
  }

  /** Adds an address (nodad for IPv6, so it is usable at once). */
  addr(ifname: string, cidr: string): void {
    this.ip(['addr', 'add', cidr, 'dev', ifname, ...(cidr.includes(':') ? ['nodad'] : [])]);
  }

  /** The interface's MAC. */
  mac(ifname: string): string {
    const [l] = this.ipJson<{ address: string }[]>(['link', 'show', 'dev', ifname]);
    return l.address;
  }

  /** Waits until the interface has a non-tentative link-local IPv6 address; returns it. */
  async linkLocal(ifname: string, timeoutMs = 5000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const info = this.ipJson<{ addr_info: { family: string; scope: string; local: string; tentative?: boolean }[] }[]>([
        '-6',
        'addr',
        'show',
        'dev',
        ifname,
      ]);
      const a = info[0]?.addr_info.find((x) => x.family === 'inet6' && x.scope === 'link' && !x.tentative);
      if (a) return a.local;
      if (Date.now() > end) throw new Error(`${this.name}/${ifname}: no link-local address after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface Capture {
  ready: Promise<void>;
  /** Every frame captured, once tcpdump has stopped (count reached, or timeout). */
  frames: Promise<Buffer[]>;
  /**
   * Stops the capture at a marker: waits until a frame for which `isMarker`
   * is true has been captured (the filter must match it too), then returns
   * the frames before it. A test sends the marker after its traffic, so
   * the window ends at an event, not at a time.
   */
  stopAt(isMarker: (frame: Buffer) => boolean, timeoutMs?: number): Promise<Buffer[]>;
}

/** Frames of a classic pcap file (microsecond or nanosecond, little-endian); a partly written last record is left out. */
export function readPcap(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  if (buf.length < 24) return out;
  let off = 24;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off + 8);
    if (off + 16 + len > buf.length) break; // a record still being written
    out.push(Buffer.from(buf.subarray(off + 16, off + 16 + len)));
    off += 16 + len;
  }
  return out;
}

/** A reply or event line from a NodeChild. */
interface ChildLine {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: { message: string; code?: string };
  event?: string;
  data?: unknown;
}

/**
 * A node process in a namespace, speaking JSON lines: requests
 * `{"id":1,"op":"x","args":{...}}` on stdin, replies
 * `{"id":1,"ok":true,"result":...}` / `{"id":1,"ok":false,"error":{message,code}}`
 * and events `{"event":"name","data":...}` on stdout. stderr is kept for
 * error messages.
 */
export class NodeChild {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly events: { event: string; data: unknown }[] = [];
  private readonly waiters = new Set<() => void>();
  stderr = '';
  exitCode: number | null | undefined;

  constructor(
    readonly process: ChildProcess,
    readonly label: string,
  ) {
    process.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-20_000);
    });
    const rl = createInterface({ input: process.stdout! });
    rl.on('line', (line) => this.onLine(line));
    process.on('exit', (code) => {
      this.exitCode = code;
      for (const p of this.pending.values()) p.reject(new Error(`${label} exited (${code}) before replying; stderr:\n${this.stderr}`));
      this.pending.clear();
      for (const w of this.waiters) w();
    });
    process.stdin?.on('error', () => {});
  }

  private onLine(line: string): void {
    let msg: ChildLine;
    try {
      msg = JSON.parse(line) as ChildLine;
    } catch {
      this.stderr += `[stdout] ${line}\n`;
      return;
    }
    if (msg.event !== undefined) {
      this.events.push({ event: msg.event, data: msg.data });
      for (const w of this.waiters) w();
      return;
    }
    const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id!);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(Object.assign(new Error(`${this.label}: ${msg.error?.message}`), { code: msg.error?.code }));
  }

  /** Sends a request and waits for its reply. */
  call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    if (this.exitCode !== undefined) return Promise.reject(new Error(`${this.label} has exited; stderr:\n${this.stderr}`));
    const id = this.nextId++;
    return new Promise<T>((resolvePromise, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: ${op} timed out after ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolvePromise(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.process.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** Events received so far with this name (all when name is omitted). */
  eventsNamed(name?: string): unknown[] {
    return this.events.filter((e) => name === undefined || e.event === name).map((e) => e.data);
  }

  /** Waits for an event with this name (and matching `pred`), including ones already received. */
  waitEvent<T = unknown>(name: string, pred: (data: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      const check = (): boolean => {
        const hit = this.events.find((e) => e.event === name && pred(e.data as T));
        if (hit) {
          done();
          resolvePromise(hit.data as T);
          return true;
        }
        if (this.exitCode !== undefined) {
          done();
          reject(new Error(`${this.label} exited while waiting for '${name}'; stderr:\n${this.stderr}`));
          return true;
        }
        return false;
      };
      const t = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: no '${name}' event within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      const waiter = (): void => void check();
      const done = (): void => {
        clearTimeout(t);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      check();
    });
  }

  /** Asks nicely (stdin closed), then SIGKILL after graceMs. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exitCode !== undefined) return;
    const exited = new Promise<void>((r) => this.process.once('exit', () => r()));
    this.process.stdin?.end();
    const t = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }
}

/** A bridge (a switch): its own namespace holding `br0`. */
export class Bridge {
  private ports = 0;
  constructor(readonly ns: Namespace) {}

  /** Connects `host` to the bridge with a veth whose host end is `ifname`. */
  attach(host: Namespace, ifname: string, opts: { mac?: string } = {}): void {
    const port = `p${this.ports++}`;
    this.ns.lab.veth(this.ns, port, host, ifname, { macB: opts.mac });
    this.ns.ip(['link', 'set', port, 'master', 'br0']);
  }
}

/** A set of namespaces (and their children) that is cleaned up as one. */
export class NetnsLab implements AsyncDisposable {
  /** `<pid>-<random>`: part of every name this lab makes. */
  readonly id: string;
  private readonly namespaces: Namespace[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly tmpDirs: string[] = [];
  private readonly mounts: string[] = [];
  private cleaned = false;

  constructor(readonly label = 'lab') {
    const why = netnsUnavailable();
    if (why) throw new Error(`NetnsLab: ${why}`);
    sweepStaleNamespaces();
    this.id = `${process.pid}-${randomBytes(3).toString('hex')}`;
    liveLabs.add(this);
    installExitHook();
  }

  /**
   * Creates a namespace with `lo` up. IPv6 duplicate address detection is
   * off by default (addresses usable at once); `{ ipv6Dad: true }` keeps it.
   */
  namespace(label: string, opts: { ipv6Dad?: boolean } = {}): Namespace {
    const name = `${PREFIX}${this.id}-${label}`;
    run('ip', ['netns', 'add', name]);
    const ns = new Namespace(this, name, label);
    this.namespaces.push(ns);
    if (!opts.ipv6Dad) {
      ns.execSync('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    }
    ns.ip('link set lo up');
    return ns;
  }

  /** Mounts a private bpffs (visible from every namespace) and returns its path. */
  bpffs(): string {
    const dir = this.tmpDir();
    run('mount', ['-t', 'bpf', 'bpf', dir]);
    this.mounts.push(dir);
    return dir;
  }

  /** A veth pair between two namespaces (both ends up); names are per-namespace. */
  veth(a: Namespace, aIf: string, b: Namespace, bIf: string, opts: { macA?: string; macB?: string } = {}): void {
    const args = ['link', 'add', aIf];
    if (opts.macA) args.push('address', opts.macA);
    args.push('type', 'veth', 'peer', 'name', bIf);
    if (opts.macB) args.push('address', opts.macB);
    args.push('netns', b.name);
    a.ip(args);
    a.up(aIf);
    b.up(bIf);
  }

  /** A bridge in its own namespace; attach hosts with bridge.attach(). */
  bridge(label = 'sw'): Bridge {
    const ns = this.namespace(label);
    ns.ip('link add br0 type bridge');
    ns.ip('link set br0 type bridge stp_state 0 forward_delay 0');
    ns.up('br0');
    return new Bridge(ns);
  }

  /** @internal children started in the lab's namespaces. */
  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** A temporary directory removed at cleanup. */
  tmpDir(): string {
    const dir = join('/tmp', `${PREFIX}${this.id}-${this.tmpDirs.length}`);
    mkdirSync(dir, { recursive: true });
    this.tmpDirs.push(dir);
    return dir;
  }

  /** Kills children, deletes namespaces (and so their interfaces) and temp dirs. */
  async cleanup(): Promise<void> {
    const waits = [...this.children].map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          c.once('exit', () => r());
          c.kill('SIGKILL');
          setTimeout(r, 2000).unref();
        }),
    );
    await Promise.all(waits);
    this.cleanupSync();
  }

  /** The synchronous part of cleanup (also run from the process exit hook). */
  cleanupSync(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    liveLabs.delete(this);
    for (const c of this.children) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const ns of this.namespaces.reverse()) {
      try {
        run('ip', ['netns', 'del', ns.name]);
      } catch {
        /* already gone */
      }
    }
    for (const m of this.mounts.reverse()) {
      try {
        run('umount', ['-l', m]);
      } catch {
        /* not mounted */
      }
    }
    for (const d of this.tmpDirs) rmSync(d, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanup();
  }
}

/** The repository root (the folder with binding.gyp). */
export const repoRoot = packageRoot;

const transpiled = new Map<string, string>();

/**
 * Makes a TypeScript entry point (and every relative import it reaches)
 * runnable by plain `node` in a child process: transpiles without type
 * checking (typescript's transpileModule; `tsc --noEmit` checks types) into
 * build/netns-js/ under the repository, so packageRoot() and node_modules
 * resolve as from the sources. Fast (no full `tsc` build). Each file is
 * written atomically (temp + rename) and only when it changed, so parallel
 * test files transpiling the same sources do not race. Returns the .js path
 * of the entry.
 */
export function transpileForChild(entryTs: string): string {
  const root = repoRoot();
  const entry = resolve(root, entryTs);
  const cached = transpiled.get(entry);
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const ts = require('typescript') as typeof import('typescript');
  const outRoot = join(root, 'build', 'netns-js');
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    const out = ts.transpileModule(src, {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        sourceMap: false,
        verbatimModuleSyntax: false,
      },
    });
    const dest = join(outRoot, relative(root, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    if (!existsSync(dest) || readFileSync(dest, 'utf8') !== out.outputText) {
      const tmp = `${dest}.${process.pid}.tmp`;
      writeFileSync(tmp, out.outputText);
      renameSync(tmp, dest);
    }
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
      queue.push(resolve(dirname(file), `${m[1]}.ts`));
    }
  }
  const js = join(outRoot, relative(root, entry)).replace(/\.ts$/, '.js');
  transpiled.set(entry, js);
  return js;
}
