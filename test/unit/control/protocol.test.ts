import { describe, expect, it } from 'vitest';
import {
  ControlError,
  decodeBody,
  encodeFrame,
  FrameDecoder,
  parseRequest,
  parseResponse,
} from '../../../src/daemon/control/protocol.js';
import { frameHeader } from './helpers.js';

describe('framing', () => {
  it('round-trips values, with bigint and binary intact', () => {
    const value = { id: 7, method: 'stats', params: { n: 2n ** 63n, raw: Buffer.from([1, 2, 3]), list: [1, 'a', null] } };
    const frame = encodeFrame(value);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const [body] = new FrameDecoder().push(frame);
    expect(decodeBody(body as Buffer)).toEqual(value);
  });

  it('reassembles frames split at every byte and splits frames sharing a chunk', () => {
    const frames = [encodeFrame({ a: 1 }), encodeFrame({ b: 'x'.repeat(300) }), encodeFrame([1, 2, 3])];
    const all = Buffer.concat(frames);
    const decoder = new FrameDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < all.length; i++) out.push(...decoder.push(all.subarray(i, i + 1)).map(decodeBody));
    expect(out).toEqual([{ a: 1 }, { b: 'x'.repeat(300) }, [1, 2, 3]]);
    expect(decoder.buffered).toBe(0);
    expect(new FrameDecoder().push(all).map(decodeBody)).toEqual(out);
  });

  it('rejects a length above the limit and an empty frame', () => {
    expect(() => new FrameDecoder(1024).push(frameHeader(1025))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    expect(() => new FrameDecoder().push(frameHeader(0xffffffff))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    expect(() => new FrameDecoder().push(frameHeader(0))).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
  });

  it('refuses to encode a frame above the limit', () => {
    expect(() => encodeFrame({ s: 'x'.repeat(2000) }, 1000)).toThrow(ControlError);
  });

  it('bad MessagePack is a BAD_FRAME ControlError', () => {
    expect(() => decodeBody(Buffer.from([0x92, 0x01]))).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
    expect(() => decodeBody(Buffer.alloc(50_000, 0x91))).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
  });
});

describe('parseRequest', () => {
  it('accepts {id, method, params}', () => {
    expect(parseRequest({ id: 1, method: 'status' })).toEqual({ request: { id: 1, method: 'status' } });
    expect(parseRequest({ id: 0, method: 'drain', params: { service: 'web' } })).toEqual({
      request: { id: 0, method: 'drain', params: { service: 'web' } },
    });
  });

  it('names what is wrong, with the id when there is one', () => {
    expect(parseRequest([1, 2])).toMatchObject({ id: null, error: { code: 'BAD_FRAME' } });
    expect(parseRequest(42)).toMatchObject({ id: null, error: { code: 'BAD_FRAME' } });
    expect(parseRequest({ method: 'status' })).toMatchObject({ id: null, error: { code: 'BAD_REQUEST' } });
    expect(parseRequest({ id: -1, method: 'status' })).toMatchObject({ id: null, error: { code: 'BAD_REQUEST' } });
    expect(parseRequest({ id: 1.5, method: 'status' })).toMatchObject({ id: null, error: { code: 'BAD_REQUEST' } });
    expect(parseRequest({ id: 3 })).toMatchObject({ id: 3, error: { code: 'BAD_REQUEST' } });
    expect(parseRequest({ id: 3, method: 'x'.repeat(129) })).toMatchObject({ id: 3, error: { code: 'BAD_REQUEST' } });
  });
});

describe('parseResponse', () => {
  it('accepts the three response shapes and drops the rest', () => {
    expect(parseResponse({ id: 1, ok: true, result: 5 })).toEqual({ id: 1, ok: true, result: 5 });
    expect(parseResponse({ id: 1, ok: true, result: 5, more: true })).toEqual({ id: 1, ok: true, result: 5, more: true });
    expect(parseResponse({ id: null, ok: false, error: { code: 'X', message: 'y' } })).toEqual({
      id: null,
      ok: false,
      error: { code: 'X', message: 'y' },
    });
    expect(parseResponse({ id: 1 })).toBeUndefined();
    expect(parseResponse({ id: 'a', ok: true })).toBeUndefined();
    expect(parseResponse({ id: 1, ok: false })).toBeUndefined();
  });
});
