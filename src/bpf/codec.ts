/**
 * Fixed-size codecs for map keys and values. A struct codec lays its fields
 * out with C alignment rules and exposes that layout, so a test can compare
 * it field by field with the BTF of the compiled object (bpf/vipd.h is the
 * source of truth; these mirror it and cannot silently drift).
 */

export interface Codec<T> {
  /** Bytes the value occupies (sizeof in C). */
  readonly size: number;
  /** C alignment of the type. */
  readonly align: number;
  encode(value: T, buf: Buffer, offset: number): void;
  decode(buf: Buffer, offset: number): T;
}

export type CodecValue<C> = C extends Codec<infer T> ? T : never;

export interface FieldLayout {
  name: string;
  offset: number;
  size: number;
}

export interface StructCodec<T> extends Codec<T> {
  /** The C struct name (as in bpf/vipd.h), for BTF checks and messages. */
  readonly cName: string;
  readonly layout: readonly FieldLayout[];
  /** Encodes into a new zero-filled buffer (padding is always zero). */
  toBuffer(value: T): Buffer;
  fromBuffer(buf: Buffer): T;
}

function scalar<T>(size: number, encode: Codec<T>['encode'], decode: Codec<T>['decode']): Codec<T> {
  return { size, align: size, encode, decode };
}

/** The primitive codecs. Host order is little-endian on every target vipd supports. */
export const types = {
  u8: scalar<number>(1, (v, b, o) => void b.writeUInt8(v, o), (b, o) => b.readUInt8(o)),
  u16: scalar<number>(2, (v, b, o) => void b.writeUInt16LE(v, o), (b, o) => b.readUInt16LE(o)),
  u32: scalar<number>(4, (v, b, o) => void b.writeUInt32LE(v >>> 0, o), (b, o) => b.readUInt32LE(o)),
  s32: scalar<number>(4, (v, b, o) => void b.writeInt32LE(v, o), (b, o) => b.readInt32LE(o)),
  u64: scalar<bigint>(8, (v, b, o) => void b.writeBigUInt64LE(v, o), (b, o) => b.readBigUInt64LE(o)),
  /** Network byte order (__be16 in C): ports. */
  be16: scalar<number>(2, (v, b, o) => void b.writeUInt16BE(v, o), (b, o) => b.readUInt16BE(o)),
  /** Network byte order (__be32 in C): IPv4 addresses as numbers. */
  be32: scalar<number>(4, (v, b, o) => void b.writeUInt32BE(v >>> 0, o), (b, o) => b.readUInt32BE(o)),
  /** A byte array (u8 name[n] in C): MACs, IPv6 addresses. Short input is zero-padded. */
  bytes(n: number): Codec<Buffer> {
    return {
      size: n,
      align: 1,
      encode(v, b, o) {
        if (v.length > n) throw new RangeError(`expected at most ${n} bytes, got ${v.length}`);
        b.fill(0, o, o + n);
        v.copy(b, o);
      },
      decode: (b, o) => Buffer.from(b.subarray(o, o + n)),
    };
  },
  /** A fixed array of another codec (T name[n] in C). */
  array<T>(item: Codec<T>, n: number): Codec<T[]> {
    return {
      size: item.size * n,
      align: item.align,
      encode(v, b, o) {
        if (v.length !== n) throw new RangeError(`expected ${n} items, got ${v.length}`);
        v.forEach((x, i) => item.encode(x, b, o + i * item.size));
      },
      decode(b, o) {
        const out: T[] = [];
        for (let i = 0; i < n; i++) out.push(item.decode(b, o + i * item.size));
        return out;
      },
    };
  },
} as const;

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

type FieldCodecs = Record<string, Codec<unknown>>;
type StructValue<F extends FieldCodecs> = { [K in keyof F]: CodecValue<F[K]> };

/**
 * A C struct: fields in declaration order, each at its natural alignment,
 * total size rounded up to the largest alignment (what clang does without
 * __attribute__((packed))).
 */
export function struct<F extends FieldCodecs>(cName: string, fields: F): StructCodec<StructValue<F>> {
  const layout: FieldLayout[] = [];
  let offset = 0;
  let align = 1;
  const entries = Object.entries(fields);
  for (const [name, codec] of entries) {
    offset = alignUp(offset, codec.align);
    layout.push({ name, offset, size: codec.size });
    offset += codec.size;
    align = Math.max(align, codec.align);
  }
  const size = alignUp(Math.max(offset, 1), align);
  const codec: StructCodec<StructValue<F>> = {
    cName,
    size,
    align,
    layout,
    encode(value, buf, base) {
      buf.fill(0, base, base + size);
      entries.forEach(([name, field], i) => {
        const v = value[name];
        if (v === undefined) throw new TypeError(`${cName}.${name} is missing`);
        field.encode(v, buf, base + layout[i].offset);
      });
    },
    decode(buf, base) {
      const out: Record<string, unknown> = {};
      entries.forEach(([name, field], i) => {
        out[name] = field.decode(buf, base + layout[i].offset);
      });
      return out as StructValue<F>;
    },
    toBuffer(value) {
      const b = Buffer.alloc(size);
      codec.encode(value, b, 0);
      return b;
    },
    fromBuffer(buf) {
      return codec.decode(buf, 0);
    },
  };
  return codec;
}

/** Raw bytes of a given size: for maps whose layout the caller handles itself. */
export function raw(size: number): Codec<Buffer> {
  return types.bytes(size);
}
