/**
 * The control socket's wire format, shared by the server (vipd) and the
 * client (vipctl).
 *
 * A frame is a u32 big-endian byte length followed by that many bytes of one
 * MessagePack value (msgpackr, plain maps: no records, so any MessagePack
 * implementation can talk to vipd).
 *
 *   request   {id, method, params?}           id: a safe non-negative integer,
 *                                             unique among the connection's
 *                                             requests in flight
 *   response  {id, ok: true, result?}
 *             {id, ok: false, error: {code, message}}
 *   stream    {id, ok: true, result, more: true}   zero or more items, then
 *             {id, ok: true, more: false}          the end, or an error frame
 *
 * `$cancel` with params {id} ends a stream early; closing the connection
 * ends all of its streams. Errors about a frame that has no usable id
 * (undecodable, not a map) carry `id: null`.
 */
import { Packr } from 'msgpackr';
import { VipdError } from '../../errors.js';

/** Largest request frame the daemon accepts; a bigger length prefix closes the connection. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/**
 * Largest response frame: a status of 10 000 services x 10 backends is
 * ~10 MB. Requests stay small (the daemon's guard); answers may be big.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
export const FRAME_HEADER_BYTES = 4;
/** Method that cancels a stream in flight on the same connection. */
export const CANCEL_METHOD = '$cancel';
const MAX_METHOD_LENGTH = 128;

/**
 * Stable error codes; users (vipctl, scripts) match these, never messages.
 * Handlers may use their own codes too (e.g. `NO_SUCH_INSTANCE`).
 */
export const ControlErrorCode = {
  /** The frame is not MessagePack, or not a map. */
  BadFrame: 'BAD_FRAME',
  /** The length prefix exceeds the limit (the connection is then closed). */
  FrameTooLarge: 'FRAME_TOO_LARGE',
  /** A decodable request with a bad id, method or params. */
  BadRequest: 'BAD_REQUEST',
  UnknownMethod: 'UNKNOWN_METHOD',
  /** Too many requests in flight on this connection. */
  Busy: 'BUSY',
  /** A handler or a partial frame took too long. */
  Timeout: 'TIMEOUT',
  /** A handler failed with an unexpected error. */
  Internal: 'INTERNAL',
  /** The connection closed (client side) or the server is stopping. */
  ConnectionClosed: 'CONNECTION_CLOSED',
  /** listen(): another process answers on the socket path. */
  SocketInUse: 'SOCKET_IN_USE',
  /** listen(): the path exists and is not a socket; vipd never deletes it. */
  NotASocket: 'NOT_A_SOCKET',
} as const;
export type KnownControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

/** A VipdError whose code is the control protocol's (on the wire: see src/errors.ts). */
export class ControlError extends VipdError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'ControlError';
  }
}

export interface ControlRequest {
  readonly id: number;
  readonly method: string;
  readonly params?: unknown;
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
}

export type ControlResponse =
  | { readonly id: number | null; readonly ok: true; readonly result?: unknown; readonly more?: boolean }
  | { readonly id: number | null; readonly ok: false; readonly error: ErrorBody };

// One codec both ways. useRecords off: plain maps on the wire; bigint u64
// counters round-trip as bigint.
const packr = new Packr({ useRecords: false, moreTypes: false });

/** One value as a complete frame (header + body). Throws if it is not encodable or too big. */
export function encodeFrame(value: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  const body = packr.pack(value);
  if (body.length > maxFrameBytes) {
    throw new ControlError(ControlErrorCode.FrameTooLarge, `frame of ${body.length} bytes exceeds the ${maxFrameBytes}-byte limit`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** Throws ControlError(BAD_FRAME) when the bytes are not one MessagePack value. */
export function decodeBody(body: Buffer): unknown {
  try {
    return packr.unpack(body);
  } catch (err) {
    throw new ControlError(ControlErrorCode.BadFrame, `undecodable MessagePack: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Splits a byte stream into frame bodies. A length above the limit (or 0:
 * no MessagePack value is empty) is a protocol error that throws: after it
 * the stream cannot be resynchronised, so the connection must close.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes of an incomplete frame held (for the partial-frame timeout). */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#buffered < FRAME_HEADER_BYTES) break;
      const head = this.#peek(FRAME_HEADER_BYTES);
      const length = head.readUInt32BE(0);
      if (length === 0 || length > this.#maxFrameBytes) {
        this.#chunks = [];
        this.#buffered = 0;
        throw new ControlError(
          length === 0 ? ControlErrorCode.BadFrame : ControlErrorCode.FrameTooLarge,
          length === 0 ? 'empty frame' : `frame of ${length} bytes exceeds the ${this.#maxFrameBytes}-byte limit`,
        );
      }
      if (this.#buffered < FRAME_HEADER_BYTES + length) break;
      const all = this.#take(FRAME_HEADER_BYTES + length);
      frames.push(all.subarray(FRAME_HEADER_BYTES));
    }
    return frames;
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.length >= n) return first;
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }

  #take(n: number): Buffer {
    const joined = this.#peek(n);
    const rest = joined.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered -= n;
    return joined.subarray(0, n);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

export function isValidId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
}

/**
 * A decoded value as a request, or the error to answer with (and the id to
 * answer to, when the value had a usable one).
 */
export function parseRequest(value: unknown): { request: ControlRequest } | { id: number | null; error: ControlError } {
  if (!isRecord(value)) {
    return { id: null, error: new ControlError(ControlErrorCode.BadFrame, 'a request must be a map {id, method, params}') };
  }
  const { id, method, params } = value;
  if (!isValidId(id)) {
    return { id: null, error: new ControlError(ControlErrorCode.BadRequest, 'request id must be a non-negative integer') };
  }
  if (typeof method !== 'string' || method === '' || method.length > MAX_METHOD_LENGTH) {
    return { id, error: new ControlError(ControlErrorCode.BadRequest, 'request method must be a non-empty string') };
  }
  return { request: params === undefined ? { id, method } : { id, method, params } };
}

/** A decoded value as a response; undefined if it is not one (the client drops it). */
export function parseResponse(value: unknown): ControlResponse | undefined {
  if (!isRecord(value) || !(value.id === null || isValidId(value.id))) return undefined;
  const id = value.id as number | null;
  if (value.ok === true) {
    return { id, ok: true, result: value.result, ...(typeof value.more === 'boolean' ? { more: value.more } : {}) };
  }
  if (value.ok === false && isRecord(value.error)) {
    const { code, message } = value.error;
    return { id, ok: false, error: { code: String(code), message: String(message) } };
  }
  return undefined;
}
