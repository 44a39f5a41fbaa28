/**
 * FRR's bfdd (Debian package `frr`, 8.4) run standalone in a lab namespace
 * as a BFD peer: no zebra, no systemd, private paths for everything.
 *
 *   const peer = await FrrBfdd.start(ns, { dir: lab.tmpDir(), peers: [{ peer: '10.0.0.1', local: '10.0.0.2' }], intervalMs: 20, multiplier: 3 });
 *   ... peer.stop();
 *
 * What this relies on (checked on this machine):
 * - Without zebra bfdd knows no interfaces: `peer A interface eth0` stays
 *   down ("specified interface eth0 doesn't exist"), so sessions are
 *   configured as `peer A local-address B` (single hop all the same: TTL
 *   255 sent and required).
 * - bfdd drops to user frr and wants its vty group: its directory must be
 *   frr's (chown), and it runs as the default user, not `-u root`.
 *
 * No vitest import: usable from bench/ too.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Namespace } from './netns.js';

export const BFDD = '/usr/lib/frr/bfdd';

export interface FrrBfddOptions {
  /** A private directory (config, pid, vty and control sockets, log). */
  dir: string;
  peers: { peer: string; local: string }[];
  intervalMs: number;
  multiplier: number;
}

export class FrrBfdd {
  private constructor(
    readonly child: ChildProcess,
    readonly log: string,
  ) {}

  static available(): boolean {
    return existsSync(BFDD);
  }

  static config(o: FrrBfddOptions): string {
    const peers = o.peers.map((p) =>
      [
        ` peer ${p.peer} local-address ${p.local}`,
        `  receive-interval ${o.intervalMs}`,
        `  transmit-interval ${o.intervalMs}`,
        `  detect-multiplier ${o.multiplier}`,
        ' !',
      ].join('\n'),
    );
    return ['bfd', ...peers, '!', ''].join('\n');
  }

  /** Starts bfdd and waits until it listens on UDP 3784. */
  static async start(ns: Namespace, o: FrrBfddOptions): Promise<FrrBfdd> {
    const conf = join(o.dir, 'bfdd.conf');
    writeFileSync(conf, FrrBfdd.config(o));
    chmodSync(conf, 0o644);
    execFileSync('chown', ['-R', 'frr:frr', o.dir]);
    const log = join(o.dir, 'bfdd.log');
    const child = ns.spawn(BFDD, [
      '-f', conf,
      '--vty_socket', o.dir,
      '-i', join(o.dir, 'bfdd.pid'),
      '-z', join(o.dir, 'zserv.api'),
      '--bfdctl', join(o.dir, 'bfdd.sock'),
      '-A', '127.0.0.1',
      '--log', `file:${log}`,
    ]);
    const self = new FrrBfdd(child, log);
    const until = Date.now() + 10_000;
    while (!ns.execSync('ss', ['-uln']).includes(':3784')) {
      if (child.exitCode !== null) throw new Error(`bfdd exited (${child.exitCode})`);
      if (Date.now() > until) throw new Error('bfdd did not open UDP 3784 within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    return self;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
