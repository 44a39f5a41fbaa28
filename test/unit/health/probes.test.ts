/** The real probes against real servers on 127.0.0.1. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checker } from '../../../src/health/checker.js';
import { runProbe } from '../../../src/health/probe.js';
import type { CheckSpec, HealthChange, ProbeSpec } from '../../../src/health/types.js';
import { waitFor } from '../../helpers/wait.js';

const servers: Server[] = [];
const sockets = new Set<Socket>();

function track<T extends Server>(server: T): T {
  servers.push(server);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return server;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: bind, read the port, close. */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

function probe(spec: ProbeSpec, timeoutMs = 2000) {
  return runProbe(spec, AbortSignal.timeout(timeoutMs));
}

let httpPort = 0;
let silentPort = 0;
let lastHeaders: IncomingHttpHeaders = {};

beforeAll(async () => {
  const http: HttpServer = track(
    createHttpServer((req, res) => {
      lastHeaders = req.headers;
      const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? '200');
      res.writeHead(status, { 'content-type': 'text/plain' }).end('hi\n');
    }),
  );
  httpPort = await listen(http);
  // Accepts connections, never answers: the timeout case.
  silentPort = await listen(track(createNetServer(() => undefined)));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

describe('tcp probe', () => {
  it('succeeds on a listening port', async () => {
    const port = await listen(track(createNetServer((s) => s.end())));
    expect(await probe({ type: 'tcp', host: '127.0.0.1', port })).toEqual({
      ok: true,
      detail: `tcp connect 127.0.0.1:${port}: connected`,
    });
  });

  it('fails with ECONNREFUSED on a closed port', async () => {
    const port = await closedPort();
    expect(await probe({ type: 'tcp', host: '127.0.0.1', port })).toEqual({
      ok: false,
      detail: `tcp connect 127.0.0.1:${port}: ECONNREFUSED`,
    });
  });

  it('formats IPv6 addresses with brackets', async () => {
    const port = await closedPort();
    const r = await probe({ type: 'tcp', host: '::1', port });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(new RegExp(`^tcp connect \\[::1\\]:${port}: `));
  });
});

describe('http probe', () => {
  it('accepts 2xx/3xx by default and sends the Host header', async () => {
    const r = await probe({ type: 'http', host: '127.0.0.1', port: httpPort, path: '/healthz?status=302', hostHeader: 'www.example.test' });
    expect(r).toEqual({ ok: true, detail: `http GET http://127.0.0.1:${httpPort}/healthz?status=302: status 302` });
    expect(lastHeaders.host).toBe('www.example.test');
    expect(lastHeaders['user-agent']).toBe('vipd-health-check');
  });

  it('defaults the Host header to the address, with a non-default port', async () => {
    await probe({ type: 'http', host: '127.0.0.1', port: httpPort });
    expect(lastHeaders.host).toBe(`127.0.0.1:${httpPort}`);
  });

  it('fails on an unexpected status', async () => {
    const r = await probe({ type: 'http', host: '127.0.0.1', port: httpPort, path: '/?status=503' });
    expect(r).toEqual({
      ok: false,
      detail: `http GET http://127.0.0.1:${httpPort}/?status=503: status 503 (expected 200-399)`,
    });
  });

  it('checks an exact expected status', async () => {
    const spec = { type: 'http', host: '127.0.0.1', port: httpPort, expectStatus: 204 } as const;
    expect((await probe({ ...spec, path: '/?status=204' })).ok).toBe(true);
    expect(await probe({ ...spec, path: '/?status=200' })).toMatchObject({ ok: false, detail: expect.stringMatching(/status 200 \(expected 204\)$/) });
  });

  it('fails with ECONNREFUSED on a closed port', async () => {
    const port = await closedPort();
    expect(await probe({ type: 'http', host: '127.0.0.1', port })).toEqual({
      ok: false,
      detail: `http GET http://127.0.0.1:${port}/: ECONNREFUSED`,
    });
  });

  it('a server that never answers times out through the checker', async () => {
    const spec: CheckSpec = {
      service: 'web',
      backend: '127.0.0.1',
      probe: { type: 'http', host: '127.0.0.1', port: silentPort, path: '/' },
      intervalMs: 10_000,
      timeoutMs: 150,
      rise: 1,
      fall: 1,
      initialState: 'fully-up',
    };
    const checker = new Checker(spec);
    const change = new Promise<HealthChange>((resolve) => checker.onChange(resolve));
    const t0 = Date.now();
    checker.start();
    const c = await change;
    checker.stop();
    expect(c).toEqual({
      service: 'web',
      backend: '127.0.0.1',
      up: false,
      reason: `http GET http://127.0.0.1:${silentPort}/: timed out after 150ms`,
    });
    // At the timeout, not at the next interval (10 s); the bound leaves room for a loaded host.
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

const openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!openssl)('https probe (self-signed cert made by openssl)', () => {
  let port = 0;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vipd-health-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=backend.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    const server = track(
      createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
        res.writeHead(req.url === '/bad' ? 500 : 200).end();
      }),
    );
    port = await listen(server);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('insecure accepts a self-signed certificate', async () => {
    expect(await probe({ type: 'https', host: '127.0.0.1', port, path: '/', insecure: true })).toEqual({
      ok: true,
      detail: `https GET https://127.0.0.1:${port}/: status 200`,
    });
  });

  it('insecure still checks the status', async () => {
    expect((await probe({ type: 'https', host: '127.0.0.1', port, path: '/bad', insecure: true })).ok).toBe(false);
  });

  it('verification (the default) rejects a self-signed certificate', async () => {
    const r = await probe({ type: 'https', host: '127.0.0.1', port, hostHeader: 'backend.test' });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/^https GET https:\/\/127\.0\.0\.1:\d+\/: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
  });
});
if (!openssl) console.warn('https probe tests skipped: openssl not found on PATH');

describe('command probe', () => {
  it('exit 0 is up', async () => {
    expect(await probe({ type: 'command', argv: ['/bin/true'] })).toEqual({ ok: true, detail: 'command /bin/true: exit 0' });
  });

  it('a non-zero exit is down, with the last stderr line', async () => {
    const r = await probe({ type: 'command', argv: ['/bin/sh', '-c', 'echo first >&2; echo "db unreachable" >&2; exit 3'] });
    expect(r).toEqual({ ok: false, detail: 'command /bin/sh -c echo first >&2; echo "db unreachable" >&2; exit 3: exit 3: db unreachable' });
  });

  it('argv is not a shell string: metacharacters reach the program verbatim', async () => {
    const r = await probe({ type: 'command', argv: ['/bin/sh', '-c', "test \"$1\" = 'a;b $(x)'", 'sh', 'a;b $(x)'] });
    expect(r.ok).toBe(true);
  });

  it('passes env', async () => {
    const r = await probe({ type: 'command', argv: ['/bin/sh', '-c', 'test "$VIPD_BACKEND" = 10.0.0.11'], env: { VIPD_BACKEND: '10.0.0.11' } });
    expect(r.ok).toBe(true);
  });

  it('a missing program is down with ENOENT', async () => {
    expect(await probe({ type: 'command', argv: ['/nonexistent/check'] })).toEqual({
      ok: false,
      detail: 'command /nonexistent/check: ENOENT',
    });
  });

  it('a hung command is killed at the timeout, with its children', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-health-cmd-'));
    const pidFile = join(dir, 'pid');
    const spec: CheckSpec = {
      service: 'web',
      backend: 'cmd',
      // The shell starts a grandchild and waits: both must die.
      probe: { type: 'command', argv: ['/bin/sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`] },
      intervalMs: 10_000,
      timeoutMs: 300,
      rise: 1,
      fall: 1,
      initialState: 'fully-up',
    };
    try {
      const checker = new Checker(spec);
      const change = new Promise<HealthChange>((resolve) => checker.onChange(resolve));
      const t0 = Date.now();
      checker.start();
      const c = await change;
      checker.stop();
      expect(c.up).toBe(false);
      expect(c.reason).toMatch(/: timed out after 300ms$/);
      // At the timeout, not when the hung child would have ended (30 s); the
      // bound leaves room for a loaded host.
      expect(Date.now() - t0).toBeLessThan(10_000);
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      // Killed, not left running: its death is noticed within a generous deadline.
      await waitFor('the grandchild to die', () => (isRunning(grandchild) ? undefined : true), 10_000, 10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Alive and not a zombie (an orphan may wait a while for its reaper). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}
