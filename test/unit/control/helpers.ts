/** Raw-socket helpers for poking the control server below the client. */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { decodeBody, FrameDecoder, parseResponse, type ControlResponse } from '../../../src/daemon/control/protocol.js';

export const silentLogger = pino({ level: 'silent' });

export function tempSocketPath(): { path: string; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-control-'));
  return { path: join(dir, 'vipd.sock'), dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A raw connection that collects every response frame until the server closes it. */
export class RawConnection {
  readonly socket: Socket;
  readonly responses: ControlResponse[] = [];
  readonly closed: Promise<void>;
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      for (const body of decoder.push(chunk)) {
        const r = parseResponse(decodeBody(body));
        if (r) this.responses.push(r);
      }
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  static open(path: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Buffer | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves once `n` responses have arrived. */
  async waitFor(n: number, timeoutMs = 10_000): Promise<ControlResponse[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.responses.length < n) {
      if (Date.now() > deadline) throw new Error(`got ${this.responses.length} responses, wanted ${n}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
    return this.responses;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function frameHeader(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length >>> 0, 0);
  return b;
}

/** A deterministic PRNG (mulberry32) so a failing fuzz case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
