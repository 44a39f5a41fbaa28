/**
 * Runs vipd's BGP speaker: BIRD2 as a child process with its config and
 * control socket in a private run directory (no system service). The
 * supervisor writes the config, starts BIRD in the foreground, restarts it
 * with backoff when it dies, changes the announced VIPs by rewriting the
 * config and asking BIRD to `configure`, and polls the sessions' states.
 *
 * BIRD runs under `setpriv --pdeathsig KILL`: if vipd is killed outright its
 * BIRD dies with it, the BGP sessions drop and the routers withdraw this
 * host (at once on the TCP reset, or after BFD/hold time if the host is gone).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BgpConfig } from '../config/index.js';
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
/** A BIRD that ran this long counts as healthy again: the backoff starts over. */
const HEALTHY_RUN_MS = 60_000;

export class BirdSupervisor extends EventEmitter<{ sessions: [PeerSession[]] }> {
  #bgp: BgpConfig;
  readonly #log: SupervisorLogger;
  readonly #birdPath: string;
  readonly #pollMs: number;
  #announced: string[] = [];
  #child: ChildProcess | undefined;
  #childStartedAt = 0;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #stopping = false;
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

  /** The VIPs BIRD was last told to announce. */
  get announced(): readonly string[] {
    return this.#announced;
  }

  sessions(): PeerSession[] {
    return this.#sessions;
  }

  /** Writes the config (nothing announced yet), starts BIRD and waits for its control socket. */
  async start(): Promise<void> {
    mkdirSync(this.#bgp.runDir, { recursive: true, mode: 0o700 });
    await this.#retireStale();
    this.#writeConfig();
    this.#spawn();
    await this.#waitReady(10_000);
    this.#pollTimer = setInterval(() => void this.#poll(), this.#pollMs);
    void this.#poll();
  }

  /** Announces exactly these VIP addresses (and withdraws the rest). Resolves once BIRD has the new config. */
  announce(vips: readonly string[]): Promise<void> {
    const next = [...new Set(vips)].sort();
    return this.#enqueue(async () => {
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
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    rmSync(this.socketPath, { force: true });
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
  }

  async #configure(): Promise<void> {
    this.#writeConfig();
    // BIRD not running (restarting): it reads the new file when it starts.
    if (!this.#child || this.#child.exitCode !== null) return;
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

  #spawn(): void {
    const args = ['--pdeathsig', 'KILL', '--', this.#birdPath, '-f', '-c', this.configPath, '-s', this.socketPath, '-P', join(this.#bgp.runDir, 'bird.pid')];
    const child = spawn('setpriv', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#childStartedAt = Date.now();
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim()) this.#log.info({ bird: line.trim() }, 'bird');
    });
    child.on('error', (err) => this.#log.error({ err: err.message }, 'BIRD could not be started'));
    child.on('exit', (code, signal) => this.#onExit(child, code, signal));
    this.#log.info({ pid: child.pid, config: this.configPath, socket: this.socketPath }, 'BIRD started');
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.#child) return;
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
      this.#spawn();
    }, delay);
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await birdCommand(this.socketPath, 'show status', 1000);
        return;
      } catch (err) {
        if (this.#child?.exitCode !== null || Date.now() > deadline) {
          throw new Error(`BIRD did not come up (${(err as Error).message}); its config: ${this.configPath}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async #poll(): Promise<void> {
    if (!this.#child || this.#child.exitCode !== null) return;
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
