/**
 * Runs vipd's BGP speaker: BIRD2 with its config and control socket in a
 * private run directory (no system service). The supervisor writes the
 * config, starts BIRD in the foreground, restarts it with backoff when it
 * dies, changes the announced VIPs by rewriting the config and asking BIRD
 * to `configure`, and polls the sessions' states.
 *
 * BIRD runs under a keeper (src/bgp/bird-keeper.ts), a small process of its
 * own that vipd talks to over `keeper.sock`: if vipd dies (killed, crashed)
 * the keeper stops BIRD at once, the BGP sessions close with a NOTIFICATION
 * and the routers withdraw this host (or BFD/hold time ends them if the host
 * is gone). At a handoff (SIGUSR2) vipd asks the keeper to hold BIRD for the
 * next vipd instead: BIRD, its sessions and its routes stay, and the next
 * vipd adopts them (start() finds the keeper) without a withdrawal.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BgpConfig } from '../config/index.js';
import { packageRoot } from '../native.js';
import { birdCommand, parseShowProtocols } from './bird-control.js';
import { peerProtocolName, renderBirdConfig } from './bird-config.js';

export interface SupervisorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PeerSession {
  readonly peer: string;
  readonly up: boolean;
  /** BGP state as BIRD reports it (Established, Active, ...), or `down` when BIRD is not running. */
  readonly state: string;
}

export interface BirdSupervisorOptions {
  logger: SupervisorLogger;
  /** The BIRD binary (Debian bird2: /usr/sbin/bird). */
  birdPath?: string;
  /** How often session states are read. */
  pollMs?: number;
}

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 30_000];
/** A keeper whose first vipd never connects stops BIRD after this long. */
const KEEPER_FIRST_CLIENT_MS = 10_000;

/** The keeper's entry point: beside this file when built, else the build's (tests import src/). */
function keeperMain(): string {
  const beside = fileURLToPath(new URL('./bird-keeper-main.js', import.meta.url));
  return existsSync(beside) ? beside : join(packageRoot(), 'dist', 'src', 'bgp', 'bird-keeper-main.js');
}
/** A BIRD that ran this long counts as healthy again: the backoff starts over. */
const HEALTHY_RUN_MS = 60_000;

export class BirdSupervisor extends EventEmitter<{ sessions: [PeerSession[]] }> {
  #bgp: BgpConfig;
  readonly #log: SupervisorLogger;
  readonly #birdPath: string;
  readonly #pollMs: number;
  #announced: string[] = [];
  /** The connection to BIRD's keeper while BIRD runs (undefined: BIRD is down or restarting). */
  #keeper: Socket | undefined;
  /** Set when the keeper has told us BIRD exited: resolves stop(). */
  #exited: (() => void) | undefined;
  #childStartedAt = 0;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  /** BIRD was started or adopted: until then changes are only recorded, for start() to apply. */
  #started = false;
  /** announce() was called before start(): its set wins over the one an adopted BIRD runs with. */
  #announcedBeforeStart = false;
  #sessions: PeerSession[] = [];
  /** Config writes and commands, one after another. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(bgp: BgpConfig, opts: BirdSupervisorOptions) {
    super();
    this.#bgp = bgp;
    this.#log = opts.logger;
    this.#birdPath = opts.birdPath ?? 'bird';
    this.#pollMs = opts.pollMs ?? 1000;
    this.#sessions = bgp.peers.map((p) => ({ peer: p.address.address, up: false, state: 'down' }));
  }

  get socketPath(): string {
    return join(this.#bgp.runDir, 'bird.ctl');
  }

  get configPath(): string {
    return join(this.#bgp.runDir, 'bird.conf');
  }

  get keeperSocketPath(): string {
    return join(this.#bgp.runDir, 'keeper.sock');
  }

  /** The VIPs the running bird.conf announces, for the vipd that adopts it. */
  get #announcedPath(): string {
    return join(this.#bgp.runDir, 'announced.json');
  }

  /** The VIPs BIRD was last told to announce. */
  get announced(): readonly string[] {
    return this.#announced;
  }

  sessions(): PeerSession[] {
    return this.#sessions;
  }

  /**
   * Adopts the BIRD a vipd handed off (its routes stay as they are), or
   * writes the config (nothing announced yet) and starts BIRD; then waits for
   * its control socket.
   */
  async start(): Promise<void> {
    mkdirSync(this.#bgp.runDir, { recursive: true, mode: 0o700 });
    if (!(await this.#adopt())) {
      await this.#retireStale();
      this.#writeConfig();
      await this.#launch();
      this.#started = true;
    }
    await this.#waitReady(10_000);
    this.#pollTimer = setInterval(() => void this.#poll(), this.#pollMs);
    void this.#poll();
  }

  /** Announces exactly these VIP addresses (and withdraws the rest). Resolves once BIRD has the new config. */
  announce(vips: readonly string[]): Promise<void> {
    const next = [...new Set(vips)].sort();
    return this.#enqueue(async () => {
      if (!this.#started) this.#announcedBeforeStart = true;
      if (next.join() === this.#announced.join()) return;
      this.#announced = next;
      await this.#configure();
    });
  }

  /** New speaker settings (a reload). */
  reconfigure(bgp: BgpConfig): Promise<void> {
    return this.#enqueue(async () => {
      this.#bgp = bgp;
      await this.#configure();
    });
  }

  /** Stops BIRD (its sessions close with a NOTIFICATION: the peers withdraw at once). */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#pollTimer);
    clearTimeout(this.#restartTimer);
    await this.#queue.catch(() => undefined);
    const keeper = this.#keeper;
    if (!keeper) return;
    const exited = new Promise<void>((resolve) => {
      this.#exited = resolve;
      keeper.once('close', () => resolve());
    });
    keeper.write(JSON.stringify({ stop: true }) + '\n');
    // The keeper kills a BIRD that ignores SIGTERM after 3 s.
    const timer = setTimeout(() => keeper.destroy(), 5000);
    await exited;
    clearTimeout(timer);
    keeper.destroy();
    rmSync(this.socketPath, { force: true });
  }

  /**
   * Handoff: BIRD keeps running with its sessions and routes, held by its
   * keeper for `holdMs` for the next vipd to adopt; if none does, the keeper
   * stops it then (the routes are withdrawn).
   */
  async handoff(holdMs: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#pollTimer);
    clearTimeout(this.#restartTimer);
    await this.#queue.catch(() => undefined);
    const keeper = this.#keeper;
    if (!keeper) return;
    const closed = new Promise<void>((resolve) => keeper.once('close', () => resolve()));
    keeper.end(JSON.stringify({ hold: holdMs }) + '\n');
    const timer = setTimeout(() => keeper.destroy(), 2000);
    await closed;
    clearTimeout(timer);
    this.#log.info({ holdMs, keeper: this.keeperSocketPath }, 'BIRD left running for the next vipd');
  }

  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job, job);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #writeConfig(): void {
    const tmp = `${this.configPath}.tmp`;
    writeFileSync(tmp, renderBirdConfig({ bgp: this.#bgp, announce: this.#announced }), { mode: 0o600 });
    renameSync(tmp, this.configPath);
    writeFileSync(this.#announcedPath, JSON.stringify(this.#announced) + '\n', { mode: 0o600 });
  }

  async #configure(): Promise<void> {
    // Before start(): the files may belong to a BIRD this vipd has not adopted yet; start() writes them.
    if (!this.#started) return;
    this.#writeConfig();
    // BIRD not running (restarting): it reads the new file when it starts.
    if (!this.#keeper) return;
    await birdCommand(this.socketPath, 'configure');
  }

  /** A BIRD left on our socket by a vipd that could not stop it is told to go. */
  async #retireStale(): Promise<void> {
    if (!existsSync(this.socketPath)) return;
    try {
      await birdCommand(this.socketPath, 'down', 2000);
      this.#log.warn({ socket: this.socketPath }, 'a BIRD left by an earlier vipd was stopped');
    } catch {
      // Nobody listens: a stale socket file.
    }
    rmSync(this.socketPath, { force: true });
  }

  /**
   * A keeper left by a vipd that handed off: connect, take its BIRD as it is.
   * The announced set is the one that BIRD runs with (announced.json), so
   * nothing is withdrawn until this vipd decides otherwise; changed speaker
   * settings (a new config) are applied by `configure`.
   */
  async #adopt(): Promise<boolean> {
    if (!existsSync(this.keeperSocketPath)) return false;
    let sock: Socket;
    try {
      sock = await this.#connectKeeper(1000);
    } catch {
      // Nobody listens: a keeper that is gone.
      rmSync(this.keeperSocketPath, { force: true });
      return false;
    }
    this.#attach(sock);
    this.#childStartedAt = Date.now();
    try {
      const list = JSON.parse(readFileSync(this.#announcedPath, 'utf8')) as unknown;
      if (Array.isArray(list) && !this.#announcedBeforeStart) this.#announced = list.filter((v): v is string => typeof v === 'string');
    } catch {
      // No record: the config is rewritten below if it differs.
    }
    this.#started = true;
    const text = renderBirdConfig({ bgp: this.#bgp, announce: this.#announced });
    let running = '';
    try {
      running = readFileSync(this.configPath, 'utf8');
    } catch {
      // No file: written below.
    }
    this.#log.info({ keeper: this.keeperSocketPath, announced: this.#announced }, 'BIRD adopted from the previous vipd');
    if (running !== text) {
      await this.#waitReady(10_000);
      await this.#configure();
    }
    return true;
  }

  /** Starts a keeper (detached: it must be able to outlive this vipd at a handoff) and connects to it. */
  async #launch(): Promise<void> {
    rmSync(this.keeperSocketPath, { force: true });
    const birdArgs = ['-f', '-c', this.configPath, '-s', this.socketPath, '-P', join(this.#bgp.runDir, 'bird.pid')];
    const keeper = spawn(process.execPath, [keeperMain(), this.keeperSocketPath, String(KEEPER_FIRST_CLIENT_MS), this.#birdPath, ...birdArgs], {
      detached: true,
      stdio: 'ignore',
    });
    keeper.on('error', (err) => this.#log.error({ err: err.message }, 'BIRD keeper could not be started'));
    keeper.unref();
    this.#childStartedAt = Date.now();
    const sock = await this.#connectKeeper(5000);
    this.#attach(sock);
    this.#log.info({ keeperPid: keeper.pid, config: this.configPath, socket: this.socketPath }, 'BIRD started');
  }

  async #connectKeeper(timeoutMs: number): Promise<Socket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await new Promise<Socket>((resolve, reject) => {
          const sock = createConnection(this.keeperSocketPath);
          sock.once('connect', () => {
            sock.off('error', reject);
            resolve(sock);
          });
          sock.once('error', reject);
        });
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`BIRD keeper did not answer on ${this.keeperSocketPath}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Reads the keeper's lines: BIRD's log, and BIRD's exit. */
  #attach(sock: Socket): void {
    this.#keeper = sock;
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    let buf = '';
    let exit: { code: number | null; signal: string | null } | undefined;
    sock.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let msg: { log?: unknown; exit?: { code: number | null; signal: string | null } };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        if (typeof msg.log === 'string') this.#log.info({ bird: msg.log }, 'bird');
        if (msg.exit) exit = msg.exit;
      }
    });
    sock.on('close', () => {
      if (this.#keeper !== sock) return;
      this.#keeper = undefined;
      this.#exited?.();
      this.#onExit(exit?.code ?? null, exit?.signal ?? (exit ? null : 'keeper gone'));
    });
  }

  #onExit(code: number | null, signal: string | null): void {
    this.#setSessions(this.#bgp.peers.map((p) => ({ peer: p.address.address, up: false, state: 'down' })));
    if (this.#stopping) return;
    if (Date.now() - this.#childStartedAt > HEALTHY_RUN_MS) this.#failures = 0;
    const delay = BACKOFF_MS[Math.min(this.#failures, BACKOFF_MS.length - 1)] ?? 30_000;
    this.#failures++;
    this.#log.error({ code, signal, restartInMs: delay }, 'BIRD exited: restarting');
    this.#restartTimer = setTimeout(() => {
      if (this.#stopping) return;
      rmSync(this.socketPath, { force: true });
      this.#writeConfig();
      this.#launch().catch((err: Error) => {
        this.#log.error({ err: err.message }, 'BIRD could not be restarted');
        this.#onExit(null, null);
      });
    }, delay);
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await birdCommand(this.socketPath, 'show status', 1000);
        return;
      } catch (err) {
        if (!this.#keeper || Date.now() > deadline) {
          throw new Error(`BIRD did not come up (${(err as Error).message}); its config: ${this.configPath}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async #poll(): Promise<void> {
    if (!this.#keeper) return;
    try {
      const rows = parseShowProtocols(await birdCommand(this.socketPath, 'show protocols', 2000));
      this.#setSessions(
        this.#bgp.peers.map((p) => {
          const row = rows.find((r) => r.name === peerProtocolName(p));
          const state = row ? row.info || row.state : 'down';
          return { peer: p.address.address, up: state === 'Established', state };
        }),
      );
    } catch {
      // BIRD is (re)starting: the exit handler reports it.
    }
  }

  #setSessions(next: PeerSession[]): void {
    const changed = JSON.stringify(next) !== JSON.stringify(this.#sessions);
    this.#sessions = next;
    if (changed) this.emit('sessions', next);
  }
}
