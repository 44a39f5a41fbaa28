/**
 * Reload (SIGHUP and the control socket's `reload`) with good and bad
 * configs, and the control socket under abuse: malformed frames, an unknown
 * method, a non-root client. The daemon must apply good configs, keep the
 * running one when a new one is bad, and never be harmed by what a client
 * sends.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ReloadResult, StatusResult } from '../../src/daemon/api.js';
import { ControlClient } from '../../src/daemon/control/index.js';
import { decodeBody, encodeFrame, FrameDecoder } from '../../src/daemon/control/protocol.js';
import { advertsReceived, logTail, skipReason, waitAdvertsReceived, waitFor, useDaemonSite } from './fixtures/daemon-site.js';

const EXTRA_SERVICE = `  - name: web-8081
    vip: 10.99.0.100
    port: 8081
    protocol: tcp
    instance: web
    backends:
      - { address: 10.99.0.21, weight: 100 }
      - { address: 10.99.0.22, weight: 100 }
`;

/** The parts of status a reload may change (no clocks or counters). */
function shape(st: StatusResult): unknown {
  return {
    instances: st.instances.map((i) => ({ name: i.name, state: i.state, priority: i.priority, vrid: i.vrid, vips: i.vips })),
    services: st.services.map((s) => ({ name: s.name, vip: s.vip, port: s.port, protocol: s.protocol, backends: s.backends.map((b) => [b.address, b.weight, b.drained]) })),
  };
}

interface RawResult {
  frames: unknown[];
  closedByDaemon: boolean;
}

/**
 * Writes raw bytes to the control socket; collects the daemon's frames until
 * it hangs up, `frames` frames have come (when given), or `waitMs` passes
 * (generous by default: an answer on a loaded host may take a while).
 */
function rawExchange(path: string, bytes: Buffer, opts: { frames?: number; waitMs?: number } = {}): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const dec = new FrameDecoder();
    const frames: unknown[] = [];
    let timedOut = false;
    const finish = (): void => {
      timedOut = true;
      s.destroy();
      resolve({ frames, closedByDaemon: false });
    };
    const t = setTimeout(finish, opts.waitMs ?? 15_000);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d: Buffer) => {
      for (const f of dec.push(d)) frames.push(decodeBody(f));
      if (opts.frames !== undefined && frames.length >= opts.frames) {
        clearTimeout(t);
        finish();
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') {
        clearTimeout(t);
        reject(err);
      }
    });
    s.on('close', () => {
      clearTimeout(t);
      if (!timedOut) resolve({ frames, closedByDaemon: true });
    });
  });
}

function header(len: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(len >>> 0, 0);
  return b;
}

describe.skipIf(skipReason)(`vipd reload and control socket${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const env = useDaemonSite({ label: 'reload', advertInterval: 0.1 }, [0]);

  describe('reload', () => {
    it('SIGHUP applies a new service on port 8081', async () => {
      const s = env.site;
      s.writeConfig(0, s.config(0, { extraServices: EXTRA_SERVICE }));
      s.daemons[0]!.kill('SIGHUP');
      const svc = await waitFor('service web-8081 in status', async () => (await s.status(0)).services.find((x) => x.port === 8081));
      expect(svc).toMatchObject({ name: 'web-8081', vip: '10.99.0.100', port: 8081, protocol: 'tcp', active: true });
      expect(svc.backends.map((b) => b.address).sort()).toEqual(['10.99.0.21', '10.99.0.22']);
      // The instance was not touched: still MASTER, no new transition.
      expect((await s.status(0)).instances[0].state).toBe('MASTER');
      // The service shows in status before the reload has finished and logged: wait for the line.
      await waitFor('reload logged', () => (/reload applied|config reloaded/.test(logTail(s, 0, 200)) ? true : undefined), 5000);
    });

    it('control `reload` applies a weight change and says what changed', async () => {
      const s = env.site;
      const before = (await s.status(0)).instances[0].transitions;
      const text = s.config(0, { extraServices: EXTRA_SERVICE }).replace('{ address: 10.99.0.21, weight: 100 }', '{ address: 10.99.0.21, weight: 50 }');
      s.writeConfig(0, text);
      const r = await s.call<ReloadResult>(0, 'reload');
      console.log(`[reload] changes: ${JSON.stringify(r.changes)}`);
      expect(r.changes.join('\n')).toMatch(/10\.99\.0\.21/);
      const web = (await s.status(0)).services.find((x) => x.name === 'web')!;
      expect(web.backends.find((b) => b.address === '10.99.0.21')).toMatchObject({ weight: 50 });
      expect(web.backends.find((b) => b.address === '10.99.0.22')).toMatchObject({ weight: 100 });
      // Reloading the same file again changes nothing.
      expect((await s.call<ReloadResult>(0, 'reload')).changes).toEqual([]);
      const st = (await s.status(0)).instances[0];
      expect(st.state).toBe('MASTER');
      expect(st.transitions).toBe(before);
      const seen = await env.traffic.connect(20);
      expect(seen.filter((x) => x.startsWith('error'))).toEqual([]);
    });

    it('a bad config is rejected with CONFIG naming the key and line, and the running config stays', async () => {
      const s = env.site;
      const good = await s.status(0);
      const lines = s.config(0).split('\n');
      const at = lines.findIndex((l) => l.trim().startsWith('advertInterval:'));
      lines.splice(at + 1, 0, '    advertIntervall: 0.2');
      s.writeConfig(0, lines.join('\n'));

      const err = (await s.call(0, 'reload').then(
        () => undefined,
        (e: unknown) => e,
      )) as { code?: string; message?: string } | undefined;
      expect(err, 'reload of a bad config must fail').toBeDefined();
      expect(err!.code).toBe('CONFIG');
      expect(err!.message).toContain('advertIntervall');
      expect(err!.message).toContain(`${s.configPath(0)}:${at + 2}`);
      console.log(`[reload] rejected: ${err!.message}`);

      // SIGHUP with the same bad file: logged, the daemon goes on.
      s.daemons[0]!.kill('SIGHUP');
      await waitFor('reload rejected in the log', () => (/reload rejected/.test(logTail(s, 0, 50)) ? true : undefined));

      const now = await s.status(0);
      expect(shape(now)).toEqual(shape(good));
      expect(now.daemon.pid).toBe(good.daemon.pid);
      const seen = await env.traffic.connect(20);
      expect(seen.filter((x) => x.startsWith('error'))).toEqual([]);
      // Put a good config back for the rest of the file.
      s.writeConfig(0, s.config(0, { extraServices: EXTRA_SERVICE }));
    });
  });

  describe('control socket', () => {
    it('is a socket with mode 0600', () => {
      const st = statSync(env.site.socket(0));
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(st.uid).toBe(0);
    });

    it('refuses malformed frames and an unknown method without harming the daemon', async () => {
      const s = env.site;
      const path = s.socket(0);
      const pid = (await s.status(0)).daemon.pid;

      // A frame whose body is not MessagePack (0xc1 is never used).
      const bad = await rawExchange(path, Buffer.concat([header(3), Buffer.from([0xc1, 0xc1, 0xc1])]), { frames: 1 });
      expect(bad.frames[0]).toMatchObject({ id: null, ok: false, error: { code: 'BAD_FRAME' } });

      // MessagePack, but not a request map.
      const notMap = await rawExchange(path, encodeFrame([1, 2, 3]), { frames: 1 });
      expect(notMap.frames[0]).toMatchObject({ id: null, ok: false, error: { code: 'BAD_FRAME' } });

      // A request without a usable id or method.
      const badReq = await rawExchange(path, encodeFrame({ id: -1, method: 42 }), { frames: 1 });
      expect(badReq.frames[0]).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });

      // A huge length prefix: answered once, then the daemon hangs up (waits for the hang-up).
      const huge = await rawExchange(path, Buffer.concat([header(0xffffffff), randomBytes(64)]));
      expect(huge.frames[0]).toMatchObject({ ok: false, error: { code: 'FRAME_TOO_LARGE' } });
      expect(huge.closedByDaemon).toBe(true);

      // Random bytes, several times (no answer is asserted: 300 ms each is only how long they are kept up).
      for (let i = 0; i < 5; i++) await rawExchange(path, randomBytes(2048), { waitMs: 300 });

      // An unknown method over a well-behaved client.
      const c = await ControlClient.connect(path, { timeoutMs: 3000 });
      try {
        await expect(c.call('no-such-method', {})).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
        // Bad parameters to a real method.
        await expect(c.call('drain', { service: 42 })).rejects.toMatchObject({ code: 'INVALID' });
        await expect(c.call('priority', { instance: 'web', priority: 999 })).rejects.toMatchObject({ code: 'INVALID' });
        // The same connection still answers.
        expect((await c.call<StatusResult>('status', {})).instances[0].state).toBe('MASTER');
      } finally {
        c.close();
      }

      // The daemon is unharmed: same process, still MASTER, still forwarding.
      const st = await s.status(0);
      expect(st.daemon.pid).toBe(pid);
      expect(st.instances[0].state).toBe('MASTER');
      expect(s.daemons[0]?.exitCode).toBe(null);
      // lb2 stayed BACKUP while lb1's adverts kept coming (a few more heard).
      await waitAdvertsReceived(s, 1, await advertsReceived(s, 1), 3);
      expect((await s.status(1)).instances[0].state).toBe('BACKUP');
      const seen = await env.traffic.connect(10);
      expect(seen.filter((x) => x.startsWith('error'))).toEqual([]);
    });

    it('a non-root client gets EACCES', async () => {
      const s = env.site;
      const script = `const c = require('node:net').connect(process.argv[1]);
        c.on('connect', () => { console.log('CONNECTED'); process.exit(0); });
        c.on('error', (e) => { console.log(e.code); process.exit(0); });`;
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script, s.socket(0)], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('EACCES');
      expect((await s.status(0)).instances[0].state).toBe('MASTER');
    });
  });
});
