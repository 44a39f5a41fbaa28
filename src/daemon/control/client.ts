/**
 * vipctl's side of the control socket: one connection, many requests in
 * flight (matched by id), and streams.
 *
 * Connection failures keep Node's codes (ENOENT: no daemon; ECONNREFUSED: a
 * stale socket; EACCES: not root) so vipctl can say which. Failures of a
 * request reject with a ControlError carrying the server's code.
 */
import { connect, type Socket } from 'node:net';
import {
  CANCEL_METHOD,
  ControlError,
  ControlErrorCode,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_RESPONSE_BYTES,
  decodeBody,
  encodeFrame,
  FrameDecoder,
  parseResponse,
  type ControlResponse,
} from './protocol.js';

export interface ControlClientOptions {
  /** For connect() and, by default, for each call. */
  readonly timeoutMs?: number;
  /** Largest request frame this client sends. */
  readonly maxFrameBytes?: number;
  /** Largest response frame it accepts (a status of 10 000 services is ~10 MB). */
  readonly maxResponseBytes?: number;
}

export interface CallOptions {
  /** Rejects with TIMEOUT after this; the server may still complete the request. */
  readonly timeoutMs?: number;
}

export interface ControlStream {
  /** Resolves when the server ends the stream (also after cancel); rejects on an error frame. */
  readonly done: Promise<void>;
  /** Asks the server to end the stream; `done` then resolves. */
  cancel(): void;
}

interface Pending {
  onFrame(response: ControlResponse): void;
  onClose(error: ControlError): void;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class ControlClient {
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #maxFrameBytes: number;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closedError: ControlError | undefined;

  private constructor(socket: Socket, options: ControlClientOptions) {
    this.#socket = socket;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#decoder = new FrameDecoder(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined); // 'close' follows and reports.
    socket.on('close', () => this.#onClose(new ControlError(ControlErrorCode.ConnectionClosed, 'the daemon closed the control connection')));
  }

  static connect(path: string, options: ControlClientOptions = {}): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ControlError(ControlErrorCode.Timeout, `no answer from ${path} within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`));
      }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket, options));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get closed(): boolean {
    return this.#closedError !== undefined;
  }

  /** One request, one answer. */
  call<T = unknown>(method: string, params?: unknown, options: CallOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.#allocateId();
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ControlError(ControlErrorCode.Timeout, `${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = (): void => {
        clearTimeout(timer);
        this.#pending.delete(id);
      };
      this.#pending.set(id, {
        onFrame: (response) => {
          settle();
          if (response.ok) resolve(response.result as T);
          else reject(new ControlError(response.error.code, response.error.message));
        },
        onClose: (error) => {
          settle();
          reject(error);
        },
      });
      this.#write({ id, method, ...(params === undefined ? {} : { params }) }, id);
    });
  }

  /** Items arrive through onItem until the server ends the stream or it is cancelled. */
  stream(method: string, params: unknown, onItem: (item: unknown) => void): ControlStream {
    const id = this.#allocateId();
    const done = new Promise<void>((resolve, reject) => {
      this.#pending.set(id, {
        onFrame: (response) => {
          if (!response.ok) {
            this.#pending.delete(id);
            reject(new ControlError(response.error.code, response.error.message));
          } else if (response.more === true) {
            onItem(response.result);
          } else {
            this.#pending.delete(id);
            resolve();
          }
        },
        onClose: (error) => {
          this.#pending.delete(id);
          reject(error);
        },
      });
    });
    this.#write({ id, method, ...(params === undefined ? {} : { params }) }, id);
    return {
      done,
      cancel: () => {
        if (!this.#pending.has(id) || this.closed) return;
        // The cancel's own answer is not awaited: the stream's end frame is what counts.
        const cancelId = this.#allocateId();
        this.#pending.set(cancelId, { onFrame: () => this.#pending.delete(cancelId), onClose: () => this.#pending.delete(cancelId) });
        this.#write({ id: cancelId, method: CANCEL_METHOD, params: { id } }, cancelId);
      },
    };
  }

  close(): void {
    this.#socket.end();
    this.#socket.destroySoon();
  }

  #allocateId(): number {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffff_ffff ? 1 : this.#nextId + 1;
    return id;
  }

  #write(request: unknown, id: number): void {
    if (this.#closedError) {
      this.#pending.get(id)?.onClose(this.#closedError);
      return;
    }
    let frame: Buffer;
    try {
      frame = encodeFrame(request, this.#maxFrameBytes);
    } catch (err) {
      const error = err instanceof ControlError ? err : new ControlError(ControlErrorCode.BadRequest, String(err));
      this.#pending.get(id)?.onClose(error);
      return;
    }
    this.#socket.write(frame);
  }

  #onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.#onClose(err as ControlError);
      this.#socket.destroy();
      return;
    }
    for (const body of frames) {
      let response: ControlResponse | undefined;
      try {
        response = parseResponse(decodeBody(body));
      } catch {
        response = undefined;
      }
      if (!response) continue;
      if (response.id === null) {
        // The server could not tell which request: every one in flight may be lost.
        if (!response.ok) this.#onClose(new ControlError(response.error.code, response.error.message), false);
        continue;
      }
      this.#pending.get(response.id)?.onFrame(response);
    }
  }

  #onClose(error: ControlError, final = true): void {
    if (final) this.#closedError ??= error;
    for (const pending of [...this.#pending.values()]) pending.onClose(error);
    this.#pending.clear();
  }
}
