/**
 * The daemon's control socket: a Unix socket, mode 0600, speaking the framed
 * MessagePack protocol of protocol.ts. Generic: the daemon passes a handler
 * per method; this file knows nothing about VRRP or maps.
 *
 * Who may connect: the filesystem is the guard. The socket is created 0600
 * (umask while binding, then chmod) and owned by the daemon's uid (root):
 * connect(2) needs write permission on the socket, so any other non-root
 * user gets EACCES before vipd sees anything. Who did connect (SO_PEERCRED,
 * read through the `peerCredentials` option since Node cannot) is handed to
 * handlers as ctx.peer, for the audit trail of changes.
 *
 * Robustness: every connection is on its own. A malformed frame gets an
 * error response (or, when the stream cannot be resynchronised, the
 * connection is closed); nothing a client sends can throw out of here.
 */
import { chmod, stat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  CANCEL_METHOD,
  ControlError,
  ControlErrorCode,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_RESPONSE_BYTES,
  decodeBody,
  encodeFrame,
  FrameDecoder,
  isValidId,
  parseRequest,
  type ControlRequest,
  type ControlResponse,
} from './protocol.js';
import { claimSocketPath } from './socket-path.js';

export interface RequestContext {
  readonly id: number;
  readonly method: string;
  /** Aborts when the client cancels, disconnects, or the server stops. */
  readonly signal: AbortSignal;
  /** The connected process (SO_PEERCRED), when the server could read it. */
  readonly peer?: PeerCredentials;
}

/** SO_PEERCRED: the process at the other end as of its connect(2). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** Answers once. Throw a ControlError to choose the error code. */
export type UnaryHandler = (params: unknown, ctx: RequestContext) => unknown;

/** Answers with a stream of items until the iterable ends or ctx.signal aborts. */
export interface StreamHandler {
  readonly stream: (params: unknown, ctx: RequestContext) => AsyncIterable<unknown>;
}

export type Handler = UnaryHandler | StreamHandler;
export type Handlers = Readonly<Record<string, Handler>> | ReadonlyMap<string, Handler>;

export interface ControlServerOptions {
  /** Largest request frame. */
  readonly maxFrameBytes?: number;
  /** Largest response frame (a big status). */
  readonly maxResponseBytes?: number;
  /** A connection with nothing in flight and no frame for this long is closed. */
  readonly idleTimeoutMs?: number;
  /** A frame started must be complete within this (slow-loris guard). */
  readonly frameTimeoutMs?: number;
  /** A unary handler taking longer is answered with TIMEOUT. */
  readonly handlerTimeoutMs?: number;
  readonly maxInFlightPerConnection?: number;
  readonly maxConnections?: number;
  /** Unsent output beyond this (a client not reading) closes the connection. */
  readonly maxBufferedBytes?: number;
  /** Reads a new connection's peer (the daemon passes src/net's peerCredentials). */
  readonly peerCredentials?: (socket: Socket) => PeerCredentials | undefined;
}

/** The options with every limit filled in (the peer reader stays optional). */
type ServerSettings = Required<Omit<ControlServerOptions, 'peerCredentials'>> & Pick<ControlServerOptions, 'peerCredentials'>;

const DEFAULTS: ServerSettings = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
  idleTimeoutMs: 60_000,
  frameTimeoutMs: 5_000,
  handlerTimeoutMs: 30_000,
  maxInFlightPerConnection: 32,
  maxConnections: 64,
  maxBufferedBytes: 8 * 1024 * 1024,
};

/** After an unrecoverable protocol error, how long the client has to close. */
const HANG_UP_GRACE_MS = 1000;

export type ControlLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export class ControlServer {
  readonly path: string;
  readonly #handlers: ReadonlyMap<string, Handler>;
  readonly #logger: ControlLogger;
  readonly #options: ServerSettings;
  readonly #connections = new Set<Connection>();
  #server: Server | undefined;
  #inode: number | undefined;
  #nextConnectionId = 1;

  constructor(path: string, handlers: Handlers, logger: ControlLogger, options: ControlServerOptions = {}) {
    this.path = path;
    this.#handlers = handlers instanceof Map ? new Map(handlers) : new Map(Object.entries(handlers));
    for (const name of this.#handlers.keys()) {
      if (name.startsWith('$')) throw new RangeError(`control method names starting with $ are reserved: ${name}`);
    }
    this.#logger = logger;
    this.#options = { ...DEFAULTS, ...options };
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Binds the socket 0600. Fails with SOCKET_IN_USE when a live process
   * answers on the path, NOT_A_SOCKET when the path is something else;
   * removes a stale socket.
   */
  async listen(): Promise<void> {
    if (this.#server) throw new Error('control server already listening');
    await claimSocketPath(this.path);
    const server = createServer((socket) => this.#accept(socket));
    server.maxConnections = this.#options.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // bind(2) happens inside listen(), synchronously: the umask covers
      // exactly the socket's creation, so it is never world-connectable,
      // not even between bind and chmod.
      const previous = process.umask(0o177);
      try {
        server.listen(this.path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(previous);
      }
    });
    server.on('error', (err) => this.#logger.error({ err }, 'control socket error'));
    this.#server = server;
    await chmod(this.path, 0o600);
    this.#inode = (await stat(this.path)).ino;
    this.#logger.info({ path: this.path }, 'control socket listening');
  }

  /** Stops accepting, ends every connection (aborting its streams) and removes the socket. */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const connection of [...this.#connections]) connection.destroy();
    await closed;
    // Only our own socket: a newer daemon may have replaced the path.
    try {
      if ((await stat(this.path)).ino === this.#inode) await unlink(this.path);
    } catch {
      // Already gone.
    }
  }

  #accept(socket: Socket): void {
    const connection = new Connection(this.#nextConnectionId++, socket, this.#handlers, this.#logger, this.#options, () =>
      this.#connections.delete(connection),
    );
    this.#connections.add(connection);
  }
}

/** One client connection: its decoder, its requests in flight and its timers. */
class Connection {
  readonly #id: number;
  readonly #socket: Socket;
  readonly #handlers: ReadonlyMap<string, Handler>;
  readonly #logger: ControlLogger;
  readonly #options: ServerSettings;
  readonly #decoder: FrameDecoder;
  readonly #inFlight = new Map<number, AbortController>();
  readonly #peer: PeerCredentials | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #frameTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    id: number,
    socket: Socket,
    handlers: ReadonlyMap<string, Handler>,
    logger: ControlLogger,
    options: ServerSettings,
    onClose: () => void,
  ) {
    this.#id = id;
    this.#socket = socket;
    this.#handlers = handlers;
    this.#logger = logger;
    this.#options = options;
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
    // Read once, at accept: the credentials are those of connect(2) anyway.
    this.#peer = options.peerCredentials?.(socket);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#logger.debug({ err, connection: id }, 'control connection error'));
    socket.on('close', () => {
      this.#closed = true;
      clearTimeout(this.#idleTimer);
      clearTimeout(this.#frameTimer);
      for (const controller of this.#inFlight.values()) controller.abort();
      this.#inFlight.clear();
      onClose();
    });
    this.#armIdle();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      // The length prefix is unusable: answer once, then hang up.
      const error = err instanceof ControlError ? err : new ControlError(ControlErrorCode.BadFrame, String(err));
      this.#logger.warn({ connection: this.#id, code: error.code }, `control connection closed: ${error.message}`);
      this.#fail(null, error);
      this.#hangUp();
      return;
    }
    for (const body of frames) this.#onFrame(body);
    this.#armFrameTimer();
    this.#armIdle();
  }

  #onFrame(body: Buffer): void {
    let value: unknown;
    try {
      value = decodeBody(body);
    } catch (err) {
      this.#fail(null, err as ControlError);
      return;
    }
    const parsed = parseRequest(value);
    if ('error' in parsed) {
      this.#fail(parsed.id, parsed.error);
      return;
    }
    const { request } = parsed;
    if (this.#inFlight.has(request.id)) {
      this.#fail(request.id, new ControlError(ControlErrorCode.BadRequest, `request id ${request.id} is already in flight`));
      return;
    }
    if (request.method === CANCEL_METHOD) {
      this.#cancel(request);
      return;
    }
    const handler = this.#handlers.get(request.method);
    if (!handler) {
      this.#fail(request.id, new ControlError(ControlErrorCode.UnknownMethod, `unknown method: ${request.method}`));
      return;
    }
    if (this.#inFlight.size >= this.#options.maxInFlightPerConnection) {
      this.#fail(request.id, new ControlError(ControlErrorCode.Busy, `more than ${this.#options.maxInFlightPerConnection} requests in flight`));
      return;
    }
    const controller = new AbortController();
    this.#inFlight.set(request.id, controller);
    const ctx: RequestContext = { id: request.id, method: request.method, signal: controller.signal, ...(this.#peer ? { peer: this.#peer } : {}) };
    const run =
      typeof handler === 'function'
        ? this.#runUnary(handler, request, ctx, controller)
        : this.#runStream(handler, request, ctx);
    void run.finally(() => {
      if (this.#inFlight.get(request.id) === controller) this.#inFlight.delete(request.id);
      this.#armIdle();
    });
  }

  #cancel(request: ControlRequest): void {
    const target = (request.params as { id?: unknown } | undefined)?.id;
    if (!isValidId(target)) {
      this.#fail(request.id, new ControlError(ControlErrorCode.BadRequest, `${CANCEL_METHOD} needs params {id}`));
      return;
    }
    const controller = this.#inFlight.get(target);
    controller?.abort();
    this.#send({ id: request.id, ok: true, result: { cancelled: controller !== undefined } });
  }

  async #runUnary(
    handler: UnaryHandler,
    request: ControlRequest,
    ctx: RequestContext,
    controller: AbortController,
  ): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Tell the handler to give up too; its late result is dropped.
        controller.abort();
        reject(new ControlError(ControlErrorCode.Timeout, `${request.method} took longer than ${this.#options.handlerTimeoutMs} ms`));
      }, this.#options.handlerTimeoutMs);
    });
    try {
      const result = await Promise.race([Promise.resolve().then(() => handler(request.params, ctx)), timeout]);
      this.#send({ id: request.id, ok: true, result });
    } catch (err) {
      this.#fail(request.id, this.#asControlError(err, request));
    } finally {
      clearTimeout(timer);
    }
  }

  async #runStream(handler: StreamHandler, request: ControlRequest, ctx: RequestContext): Promise<void> {
    try {
      const iterable = handler.stream(request.params, ctx);
      for await (const item of iterable) {
        if (ctx.signal.aborted || this.#closed) break;
        if (!this.#send({ id: request.id, ok: true, result: item, more: true })) {
          // Backpressure: wait for the client to read before producing more.
          await this.#drained(ctx.signal);
        }
        if (ctx.signal.aborted || this.#closed) break;
      }
      this.#send({ id: request.id, ok: true, more: false });
    } catch (err) {
      if (ctx.signal.aborted) this.#send({ id: request.id, ok: true, more: false });
      else this.#fail(request.id, this.#asControlError(err, request));
    }
  }

  #asControlError(err: unknown, request: ControlRequest): ControlError {
    if (err instanceof ControlError) return err;
    this.#logger.error({ err, method: request.method, connection: this.#id }, 'control handler failed');
    return new ControlError(ControlErrorCode.Internal, err instanceof Error ? err.message : String(err));
  }

  #fail(id: number | null, error: ControlError): void {
    this.#send({ id, ok: false, error: { code: error.code, message: error.message } });
  }

  /** False when the socket's buffer is full (or gone). */
  #send(response: ControlResponse): boolean {
    if (this.#closed || this.#socket.destroyed || !this.#socket.writable) return false;
    let frame: Buffer;
    try {
      frame = encodeFrame(response, this.#options.maxResponseBytes);
    } catch (err) {
      // An unencodable or oversized result is the handler's bug; the client
      // still gets an answer.
      this.#logger.error({ err, id: response.id, connection: this.#id }, 'control response not encodable');
      frame = encodeFrame({
        id: response.id,
        ok: false,
        error: { code: ControlErrorCode.Internal, message: `response not encodable: ${err instanceof Error ? err.message : String(err)}` },
      });
    }
    // What was still unsent before this frame: one big answer (a status of
    // 10 000 services) is not a client that stopped reading.
    const pendingBefore = this.#socket.writableLength;
    const flushed = this.#socket.write(frame);
    if (pendingBefore > this.#options.maxBufferedBytes) {
      this.#logger.warn({ connection: this.#id }, 'control client is not reading its responses; closing the connection');
      this.#socket.destroy();
      return false;
    }
    return flushed;
  }

  #drained(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#socket.once('drain', done);
      this.#socket.once('close', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Sends what is queued (the error saying why), reads nothing more, and
   * destroys the socket if the client does not close its side soon.
   */
  #hangUp(): void {
    this.#socket.pause();
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), HANG_UP_GRACE_MS).unref();
  }

  /** Closes a connection that sends nothing while nothing is in flight. */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed) return;
    this.#idleTimer = setTimeout(() => {
      if (this.#inFlight.size > 0) return this.#armIdle();
      this.#logger.debug({ connection: this.#id }, 'control connection idle; closing');
      this.#socket.destroy();
    }, this.#options.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  /** A partial frame must complete in time, else the sender is stalling us. */
  #armFrameTimer(): void {
    if (this.#decoder.buffered === 0) {
      clearTimeout(this.#frameTimer);
      this.#frameTimer = undefined;
      return;
    }
    if (this.#frameTimer || this.#closed) return;
    this.#frameTimer = setTimeout(() => {
      this.#logger.warn({ connection: this.#id }, 'control frame incomplete after the timeout; closing');
      this.#fail(null, new ControlError(ControlErrorCode.Timeout, `frame incomplete after ${this.#options.frameTimeoutMs} ms`));
      this.#frameTimer = undefined;
      this.#hangUp();
    }, this.#options.frameTimeoutMs);
    this.#frameTimer.unref();
  }
}
