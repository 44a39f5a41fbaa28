/** ControlServer + ControlClient over a real Unix socket. */
import { spawn } from 'node:child_process';
import { chmodSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../../src/daemon/control/client.js';
import { ControlError, encodeFrame } from '../../../src/daemon/control/protocol.js';
import { ControlServer, type Handlers, type ControlServerOptions } from '../../../src/daemon/control/server.js';
import { frameHeader, prng, RawConnection, silentLogger, tempSocketPath } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

let streamAborted = 0;
/** Calls of `forever` the server has started: proof a request reached its handler. */
let foreverStarted = 0;

const handlers: Handlers = {
  echo: (params) => params,
  status: () => ({ instances: [{ name: 'web', state: 'MASTER', transitions: 3n }] }),
  slow: async (params) => {
    const { ms, v } = params as { ms: number; v: number };
    await sleep(ms);
    return v;
  },
  forever: (_params, ctx) => {
    foreverStarted++;
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted')));
  },
  refuse: () => {
    throw new ControlError('NO_SUCH_INSTANCE', 'no instance named nope');
  },
  crash: () => {
    throw new TypeError('handler bug');
  },
  unencodable: () => ({ big: 'x'.repeat(2 * 1024 * 1024) }),
  count: {
    async *stream(params, ctx) {
      const { n, ms } = params as { n: number; ms: number };
      try {
        for (let i = 0; i < n; i++) {
          if (ctx.signal.aborted) return;
          yield { i };
          await sleep(ms, ctx.signal);
        }
      } finally {
        if (ctx.signal.aborted) streamAborted++;
      }
    },
  },
  brokenStream: {
    async *stream() {
      yield 1;
      throw new ControlError('MAP_GONE', 'the stats map disappeared');
    },
  },
};

async function start(options: ControlServerOptions = {}) {
  const tmp = tempSocketPath();
  const server = new ControlServer(tmp.path, handlers, silentLogger, options);
  await server.listen();
  cleanups.push(tmp.cleanup, () => server.close());
  return { server, path: tmp.path, dir: tmp.dir };
}

async function client(path: string) {
  const c = await ControlClient.connect(path);
  cleanups.push(() => c.close());
  return c;
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('control socket: calls', () => {
  it('round-trips a call, bigint included', async () => {
    const { path } = await start();
    const c = await client(path);
    expect(await c.call('status')).toEqual({ instances: [{ name: 'web', state: 'MASTER', transitions: 3n }] });
    expect(await c.call('echo', { a: [1, 2, { b: 'c' }], d: null })).toEqual({ a: [1, 2, { b: 'c' }], d: null });
  });

  it('many concurrent calls on one connection each get their own answer', async () => {
    const { path } = await start({ maxInFlightPerConnection: 200 });
    const c = await client(path);
    const rand = prng(1);
    const calls = Array.from({ length: 100 }, (_, v) => c.call<number>('slow', { ms: Math.floor(rand() * 30), v }));
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 100 }, (_, v) => v));
  });

  it('several clients at once', async () => {
    const { path, server } = await start();
    const clients = await Promise.all(Array.from({ length: 10 }, () => client(path)));
    const results = await Promise.all(clients.map((c, i) => c.call('echo', i)));
    expect(results).toEqual([...Array(10).keys()]);
    expect(server.connectionCount).toBe(10);
  });

  it('handler errors: own codes pass through, bugs are INTERNAL, unknown methods UNKNOWN_METHOD', async () => {
    // A response past maxResponseBytes is the handler's bug too (the default is 256 MiB: see below).
    const { path } = await start({ maxResponseBytes: 1024 * 1024 });
    const c = await client(path);
    await expect(c.call('refuse')).rejects.toMatchObject({ name: 'ControlError', code: 'NO_SUCH_INSTANCE', message: 'no instance named nope' });
    await expect(c.call('crash')).rejects.toMatchObject({ code: 'INTERNAL', message: 'handler bug' });
    await expect(c.call('nope')).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
    await expect(c.call('$cancel', {})).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(c.call('unencodable')).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/not encodable/) });
    // The connection is still fine.
    expect(await c.call('echo', 'still here')).toBe('still here');
  });

  it('a big answer (a status of thousands of services) goes through whole, requests stay small', async () => {
    const { path } = await start();
    const c = await client(path);
    const answer = (await c.call('unencodable')) as { big: string };
    expect(answer.big).toHaveLength(2 * 1024 * 1024);
    expect(await c.call('echo', 'still here')).toBe('still here');
    await expect(c.call('echo', 'x'.repeat(2 * 1024 * 1024))).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' });
  });

  it('a handler past its timeout is answered TIMEOUT and told to stop', async () => {
    const { path } = await start({ handlerTimeoutMs: 100 });
    const c = await client(path);
    await expect(c.call('forever')).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('limits requests in flight per connection', async () => {
    const { path } = await start({ maxInFlightPerConnection: 2 });
    const c = await client(path);
    const a = c.call('slow', { ms: 100, v: 1 });
    const b = c.call('slow', { ms: 100, v: 2 });
    await expect(c.call('slow', { ms: 1, v: 3 })).rejects.toMatchObject({ code: 'BUSY' });
    expect(await Promise.all([a, b])).toEqual([1, 2]);
  });

  it('pending calls reject with CONNECTION_CLOSED when the server stops', async () => {
    const { path, server } = await start();
    const c = await client(path);
    // The expectation is attached before the close, so the rejection is never unhandled.
    const started = foreverStarted;
    const rejected = expect(c.call('forever')).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    // Pending means the server is running it: wait until the handler started.
    await until(() => foreverStarted > started);
    await server.close();
    await rejected;
    await expect(c.call('echo', 1)).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  it('client-side call timeout', async () => {
    const { path } = await start();
    const c = await client(path);
    await expect(c.call('forever', undefined, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});

describe('control socket: streams', () => {
  it('delivers every item then ends', async () => {
    const { path } = await start();
    const c = await client(path);
    const items: unknown[] = [];
    await c.stream('count', { n: 5, ms: 1 }, (item) => items.push(item)).done;
    expect(items).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
  });

  it('cancel ends the stream and aborts the handler; calls continue alongside', async () => {
    const { path } = await start();
    const c = await client(path);
    const items: unknown[] = [];
    const before = streamAborted;
    const s = c.stream('count', { n: 1_000_000, ms: 5 }, (item) => items.push(item));
    await until(() => items.length >= 3);
    expect(await c.call('echo', 'meanwhile')).toBe('meanwhile');
    s.cancel();
    await s.done;
    expect(streamAborted).toBe(before + 1);
    const n = items.length;
    // A call answered after the cancel: anything the server sent before its
    // answer has arrived by then, so no item may come after this point.
    expect(await c.call('echo', 'after')).toBe('after');
    expect(items.length).toBe(n);
  });

  it('a client that disconnects aborts its streams', async () => {
    const { path, server } = await start();
    const c = await ControlClient.connect(path);
    const before = streamAborted;
    let got = 0;
    const s = c.stream('count', { n: 1_000_000, ms: 5 }, () => got++);
    s.done.catch(() => undefined);
    await until(() => got >= 2);
    c.close();
    await until(() => streamAborted === before + 1 && server.connectionCount === 0);
  });

  it('an error mid-stream rejects done with the code', async () => {
    const { path } = await start();
    const c = await client(path);
    const items: unknown[] = [];
    await expect(c.stream('brokenStream', undefined, (i) => items.push(i)).done).rejects.toMatchObject({ code: 'MAP_GONE' });
    expect(items).toEqual([1]);
  });
});

describe('control socket: malformed input never hurts the server', () => {
  it('bad MessagePack, non-maps and missing fields get errors and the connection stays usable', async () => {
    const { path } = await start();
    const raw = await RawConnection.open(path);
    cleanups.push(() => raw.destroy());
    raw.write(Buffer.concat([frameHeader(2), Buffer.from([0x92, 0x01])])); // truncated array
    raw.write(encodeFrame([1, 2, 3]));
    raw.write(encodeFrame({ method: 'echo' }));
    raw.write(encodeFrame({ id: 9 }));
    raw.write(encodeFrame({ id: 10, method: 'nope' }));
    raw.write(encodeFrame({ id: 11, method: 'echo', params: 'ok' }));
    const r = await raw.waitFor(6);
    expect(r.map((x) => [x.id, x.ok ? 'ok' : x.error.code])).toEqual([
      [null, 'BAD_FRAME'],
      [null, 'BAD_FRAME'],
      [null, 'BAD_REQUEST'],
      [9, 'BAD_REQUEST'],
      [10, 'UNKNOWN_METHOD'],
      [11, 'ok'],
    ]);
  });

  it('a huge length prefix gets FRAME_TOO_LARGE and the connection is closed', async () => {
    const { path, server } = await start();
    const raw = await RawConnection.open(path);
    raw.write(frameHeader(0xfffffff0));
    await raw.closed;
    expect(raw.responses).toEqual([{ id: null, ok: false, error: { code: 'FRAME_TOO_LARGE', message: expect.any(String) } }]);
    await until(() => server.connectionCount === 0);
  });

  it('a truncated frame then EOF, and a stalled partial frame, are dropped', async () => {
    const { path, server } = await start({ frameTimeoutMs: 100 });
    const a = await RawConnection.open(path);
    const frame = encodeFrame({ id: 1, method: 'echo', params: 'x'.repeat(100) });
    a.write(frame.subarray(0, 50));
    a.socket.end();
    await a.closed;
    const b = await RawConnection.open(path);
    b.write(frame.subarray(0, 50));
    await b.closed; // closed by the frame timeout
    expect(b.responses[0]).toMatchObject({ id: null, ok: false, error: { code: 'TIMEOUT' } });
    await until(() => server.connectionCount === 0);
  });

  it('idle connections are closed, busy ones are not', async () => {
    const { path, server } = await start({ idleTimeoutMs: 100 });
    const idle = await RawConnection.open(path);
    const c = await client(path);
    const slow = c.call('slow', { ms: 250, v: 'done' });
    await idle.closed;
    expect(await slow).toBe('done');
    expect(server.connectionCount).toBe(1);
  });

  it('random bytes from many connections (seeded fuzz), then a normal call works', async () => {
    const { path, server } = await start({ frameTimeoutMs: 200 });
    const rand = prng(0x5eed);
    const conns: RawConnection[] = [];
    for (let i = 0; i < 40; i++) {
      const raw = await RawConnection.open(path);
      conns.push(raw);
      const kind = i % 4;
      let bytes: Buffer;
      if (kind === 0) {
        // Pure noise.
        bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
      } else {
        // A plausible length with a random body: exercises the MessagePack decoder.
        const body = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
        bytes = Buffer.concat([frameHeader(body.length), body]);
        if (kind === 2) bytes = bytes.subarray(0, Math.floor(rand() * bytes.length)); // truncated
        if (kind === 3) bytes = Buffer.concat([bytes, encodeFrame({ id: 5, method: 'echo', params: i })]);
      }
      raw.write(bytes);
    }
    await sleep(300);
    for (const raw of conns) raw.destroy();
    await until(() => server.connectionCount === 0);
    const c = await client(path);
    expect(await c.call('echo', 'alive')).toBe('alive');
  });
});

describe('control socket: the socket file', () => {
  it('is created with mode 0600', async () => {
    const { path } = await start();
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('the umask is restored after binding', async () => {
    const before = process.umask();
    await start();
    expect(process.umask()).toBe(before);
  });

  it('refuses to start when a live daemon answers, removes a stale socket, keeps a non-socket', async () => {
    const { path } = await start();
    const second = new ControlServer(path, handlers, silentLogger);
    await expect(second.listen()).rejects.toMatchObject({ code: 'SOCKET_IN_USE' });

    // Stale: a socket file nobody listens on.
    const tmp = tempSocketPath();
    cleanups.push(tmp.cleanup);
    // A process that dies by SIGKILL leaves its socket file behind, as a crashed vipd would.
    await new Promise<void>((resolve, reject) => {
      const script = `require('node:net').createServer().listen(${JSON.stringify(tmp.path)}, () => process.kill(process.pid, 'SIGKILL'))`;
      const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
      child.on('error', reject);
      child.on('exit', () => resolve());
    });
    expect(statSync(tmp.path).isSocket()).toBe(true);
    const revived = new ControlServer(tmp.path, handlers, silentLogger);
    await revived.listen();
    cleanups.push(() => revived.close());
    const c = await client(tmp.path);
    expect(await c.call('echo', 1)).toBe(1);

    const tmp2 = tempSocketPath();
    cleanups.push(tmp2.cleanup);
    writeFileSync(tmp2.path, 'not a socket');
    await expect(new ControlServer(tmp2.path, handlers, silentLogger).listen()).rejects.toMatchObject({ code: 'NOT_A_SOCKET' });
    expect(existsSync(tmp2.path)).toBe(true);
  });

  it('close() removes the socket file', async () => {
    const { path, server } = await start();
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it('connect errors keep their Node codes', async () => {
    const tmp = tempSocketPath();
    cleanups.push(tmp.cleanup);
    await expect(ControlClient.connect(tmp.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reserves $ method names', () => {
    expect(() => new ControlServer('/tmp/x.sock', { $evil: () => 1 }, silentLogger)).toThrow(/reserved/);
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('control socket: only root may connect', () => {
  /** Connects as uid/gid 65534 (nobody) from a child process; resolves with its outcome. */
  function connectAsNobody(path: string): Promise<string> {
    const script = `
      const s = require('node:net').connect(${JSON.stringify(path)});
      s.on('connect', () => { process.stdout.write('CONNECTED'); s.destroy(); });
      s.on('error', (e) => { process.stdout.write(e.code); });`;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', () => (out ? resolve(out) : reject(new Error(`child failed: ${err}`))));
    });
  }

  it('a non-root client gets EACCES from the 0600 socket', async () => {
    const { path, dir, server } = await start();
    // Let nobody reach the directory, so only the socket's own mode decides.
    chmodSync(dir, 0o755);
    expect(await connectAsNobody(path)).toBe('EACCES');
    // Control: the same client connects once the mode allows it, so EACCES
    // above came from the socket's mode and nothing else.
    chmodSync(path, 0o666);
    expect(await connectAsNobody(path)).toBe('CONNECTED');
    chmodSync(path, 0o600);
    // The refused attempt did not disturb the server.
    const c = await client(path);
    expect(await c.call('echo', 'ok')).toBe('ok');
    expect(server.connectionCount).toBe(1);
  });
});
if (!isRoot) console.warn('non-root client test skipped: it must run as root to switch to uid 65534');
