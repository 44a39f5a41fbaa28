/**
 * Handlers learn who is on the other end of the control socket (SO_PEERCRED
 * through the addon): the uid that `vipctl events` shows for a drain or a
 * reload. A real socket, real processes, the real addon.
 */
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../../src/daemon/control/client.js';
import { decodeBody, encodeFrame, FrameDecoder } from '../../../src/daemon/control/protocol.js';
import { ControlServer, type Handlers } from '../../../src/daemon/control/server.js';
import { peerCredentials } from '../../../src/net/index.js';
import { silentLogger, tempSocketPath } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const handlers: Handlers = { whoami: (_params, ctx) => ctx.peer ?? null };

async function start(withPeer: boolean): Promise<{ path: string; dir: string }> {
  const tmp = tempSocketPath();
  const server = new ControlServer(tmp.path, handlers, silentLogger, withPeer ? { peerCredentials } : {});
  await server.listen();
  cleanups.push(tmp.cleanup, () => server.close());
  return tmp;
}

/** Calls `whoami` from a child process running as `uid` (raw frames: the child runs plain JS). */
function whoamiAs(path: string, uid: number): Promise<unknown> {
  const script = `
    const s = require('node:net').connect(process.argv[1]);
    const chunks = [];
    s.on('connect', () => s.write(Buffer.from(process.argv[2], 'base64')));
    s.on('data', (d) => { chunks.push(d); const b = Buffer.concat(chunks); if (b.length >= 4 && b.length >= 4 + b.readUInt32BE(0)) { process.stdout.write(b.toString('base64')); s.end(); } });
    s.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  const frame = encodeFrame({ id: 1, method: 'whoami', params: {} }).toString('base64');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, path, frame], { uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`child exited ${code}: ${err}`));
      const frames = new FrameDecoder().push(Buffer.from(out, 'base64'));
      resolve((decodeBody(frames[0]) as { result?: unknown }).result);
    });
  });
}

const root = process.getuid?.() === 0;

describe('control socket: the peer', () => {
  it("hands the caller's uid, gid and pid to the handler", async () => {
    const { path } = await start(true);
    const c = await ControlClient.connect(path);
    cleanups.push(() => c.close());
    expect(await c.call('whoami')).toEqual({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
  });

  it('without a peer reader, handlers get no peer', async () => {
    const { path } = await start(false);
    const c = await ControlClient.connect(path);
    cleanups.push(() => c.close());
    expect(await c.call('whoami')).toBe(null);
  });

  it.skipIf(!root)('tells another user apart (uid 65534 on a socket opened up for the test)', async () => {
    const { path, dir } = await start(true);
    chmodSync(dir, 0o755);
    chmodSync(path, 0o666);
    const peer = (await whoamiAs(path, 65534)) as { uid: number; gid: number; pid: number };
    expect(peer.uid).toBe(65534);
    expect(peer.gid).toBe(65534);
    expect(peer.pid).not.toBe(process.pid);
  });
});
