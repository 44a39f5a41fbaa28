/**
 * ObjectSpec and Collection, after cilium/ebpf: a spec is an ELF object
 * opened but not loaded, whose map sizes, pins and `const volatile`
 * settings can still change; load() verifies it on the thread pool and
 * returns a Collection of live maps and programs, each with its own fd.
 */
import { existsSync } from 'node:fs';
import type { Codec } from './codec.js';
import { mapTypeName } from './constants.js';
import {
  BpfError,
  callNative,
  PinMismatchError,
  translateNativeError,
  VerifierError,
  type PinDifference,
} from './errors.js';
import { BpfMap, PerCpuMap, ProgArrayMap } from './map.js';
import {
  bpfNative,
  type BtfVar,
  type NativeBpfObject,
  type NativeMapDesc,
  type NativeMapInfo,
  type NativeProgDesc,
} from './native.js';
import { Program } from './program.js';

/** A map as declared in the object; maxEntries may change until load. */
export class MapSpec {
  constructor(
    private readonly obj: NativeBpfObject,
    private desc: NativeMapDesc,
  ) {}

  get name(): string {
    return this.desc.name;
  }
  get type(): number {
    return this.desc.type;
  }
  get typeName(): string {
    return mapTypeName(this.desc.type);
  }
  get keySize(): number {
    return this.desc.keySize;
  }
  get valueSize(): number {
    return this.desc.valueSize;
  }
  get maxEntries(): number {
    return this.desc.maxEntries;
  }
  set maxEntries(n: number) {
    callNative(`resizing map '${this.name}'`, () => this.obj.setMaxEntries(this.name, n));
    this.desc = { ...this.desc, maxEntries: n };
  }
  get flags(): number {
    return this.desc.flags;
  }
  /** Where load() pins it (reusing an existing compatible pin instead of creating a map). */
  get pinPath(): string | undefined {
    return this.desc.pinPath;
  }
  set pinPath(path: string | undefined) {
    callNative(`setting the pin of map '${this.name}'`, () => this.obj.setPinPath(this.name, path ?? null));
    this.desc = { ...this.desc, pinPath: path };
  }
  /** .rodata, .data, .bss: libbpf's maps for global variables. */
  get internal(): boolean {
    return this.desc.internal;
  }
}

export class ObjectSpec {
  readonly path: string;
  readonly maps: ReadonlyMap<string, MapSpec>;
  readonly programs: readonly NativeProgDesc[];
  #obj: NativeBpfObject | undefined;
  #rodataVars: BtfVar[] | undefined;

  private constructor(path: string, obj: NativeBpfObject) {
    this.path = path;
    this.#obj = obj;
    this.maps = new Map(obj.maps().map((d) => [d.name, new MapSpec(obj, d)]));
    this.programs = obj.programs();
  }

  /** Opens a compiled BPF ELF object (clang -target bpf -g). Nothing is loaded yet. */
  static open(path: string): ObjectSpec {
    if (!existsSync(path)) {
      throw new BpfError('VIPD_BPF_NOT_FOUND', 'open', `BPF object ${path} does not exist (run \`npm run build\`)`);
    }
    const native = bpfNative();
    const obj = callNative(`opening ${path}`, () => new native.BpfObject(path));
    return new ObjectSpec(path, obj);
  }

  private get obj(): NativeBpfObject {
    if (!this.#obj) throw new BpfError('VIPD_BPF_CLOSED', 'spec', `spec of ${this.path} was loaded or closed`);
    return this.#obj;
  }

  map(name: string): MapSpec {
    const spec = this.maps.get(name);
    if (!spec) {
      const known = [...this.maps.keys()].filter((n) => !this.maps.get(n)?.internal);
      throw new BpfError('VIPD_BPF_NOT_FOUND', 'spec', `${this.path} has no map '${name}' (it has: ${known.join(', ')})`);
    }
    return spec;
  }

  /** Pins every non-internal map as DIR/NAME; a compatible existing pin is reused. */
  pinMapsUnder(dir: string): void {
    for (const spec of this.maps.values()) if (!spec.internal) spec.pinPath = `${dir}/${spec.name}`;
  }

  /** Skips loading a program (it stays in the spec). */
  setAutoload(program: string, on: boolean): void {
    callNative(`autoload of '${program}'`, () => this.obj.setAutoload(program, on));
  }

  /** Names of the `const volatile` settings in .rodata. */
  constants(): string[] {
    return this.rodataVars().map((v) => v.name);
  }

  private rodataVars(): BtfVar[] {
    this.#rodataVars ??= callNative('reading BTF', () => bpfNative().btfDatasec(this.path, '.rodata'));
    return this.#rodataVars;
  }

  private rodataMapName(): string {
    const spec = [...this.maps.values()].find((m) => m.internal && m.name.endsWith('.rodata'));
    if (!spec) throw new BpfError('VIPD_BPF_NOT_FOUND', 'spec', `${this.path} has no .rodata section`);
    return spec.name;
  }

  /**
   * Sets a `const volatile` global before load. Numbers are written in host
   * order at the variable's size; a Buffer must match the size exactly.
   */
  setConstant(name: string, value: number | bigint | boolean | Buffer): void {
    const v = this.rodataVars().find((x) => x.name === name);
    if (!v) {
      throw new BpfError(
        'VIPD_BPF_NOT_FOUND',
        'spec',
        `${this.path} has no const volatile '${name}' (it has: ${this.constants().join(', ') || 'none'})`,
      );
    }
    const mapName = this.rodataMapName();
    const data = callNative('reading .rodata', () => this.obj.initialValue(mapName));
    if (Buffer.isBuffer(value)) {
      if (value.length !== v.size) {
        throw new BpfError('VIPD_BPF_INVALID_ARGUMENT', 'spec', `'${name}' is ${v.size} bytes, got ${value.length}`);
      }
      value.copy(data, v.offset);
    } else {
      const n = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
      if (![1, 2, 4, 8].includes(v.size)) {
        throw new BpfError('VIPD_BPF_INVALID_ARGUMENT', 'spec', `'${name}' is ${v.size} bytes: pass a Buffer`);
      }
      const max = (1n << BigInt(v.size * 8)) - 1n;
      if (n < 0n || n > max) {
        throw new BpfError('VIPD_BPF_INVALID_ARGUMENT', 'spec', `'${name}' (${v.size} bytes) cannot hold ${n}`);
      }
      for (let i = 0; i < v.size; i++) data[v.offset + i] = Number((n >> BigInt(8 * i)) & 0xffn);
    }
    callNative('writing .rodata', () => this.obj.setInitialValue(mapName, data));
  }

  /**
   * Loads maps and programs into the kernel (verifier on the thread pool).
   * The spec is consumed: each map and program of the Collection gets its
   * own fd, and libbpf's object is freed.
   */
  async load(): Promise<Collection> {
    const obj = this.obj;
    const differences = this.pinDifferences();
    if (differences.length > 0) throw new PinMismatchError(this.path, differences);
    try {
      await obj.load();
    } catch (err) {
      const log = typeof (err as { log?: unknown }).log === 'string' ? (err as { log: string }).log : '';
      const e = translateNativeError(err, `loading ${this.path}`);
      // The verifier answers EACCES too: only a load without a verifier log is a privilege problem.
      const verifierSpoke = /BEGIN PROG LOAD LOG|program load failed/i.test(log);
      if (e.code === 'VIPD_BPF_PERMISSION' && !verifierSpoke) throw e;
      const reason = lastVerifierLine(log);
      throw new VerifierError(e.op, `${this.path} was rejected by the kernel${reason ? `: ${reason}` : ''}`, log, {
        errnoName: e.errnoName,
        cause: err,
      });
    }
    const native = bpfNative();
    const maps = new Map<string, number>();
    const progs = new Map<string, number>();
    try {
      for (const name of this.maps.keys()) maps.set(name, native.dupFd(obj.mapFd(name)));
      for (const p of this.programs) if (p.autoload) progs.set(p.name, native.dupFd(obj.progFd(p.name)));
    } catch (err) {
      for (const fd of [...maps.values(), ...progs.values()]) native.closeFd(fd);
      throw translateNativeError(err, `collecting ${this.path}`);
    } finally {
      obj.close();
      this.#obj = undefined;
    }
    return new Collection(this.path, maps, progs);
  }

  /**
   * How each map already pinned where this spec pins it differs from its
   * declaration: what libbpf checks before it reuses a pin (type, key
   * size, value size, max entries, flags), read from the pinned map
   * itself, so every difference is named, not only the first libbpf meets.
   */
  pinDifferences(): PinDifference[] {
    const native = bpfNative();
    const out: PinDifference[] = [];
    for (const spec of this.maps.values()) {
      const pin = spec.pinPath;
      if (pin === undefined || !existsSync(pin)) continue;
      const fd = callNative(`opening the pin ${pin}`, () => native.objGet(pin));
      let info: NativeMapInfo;
      try {
        info = callNative(`reading the pin ${pin}`, () => native.mapInfo(fd));
      } finally {
        native.closeFd(fd);
      }
      const differ = (field: PinDifference['field'], pinned: string, declared: string) => {
        if (pinned !== declared) out.push({ pin, field, pinned, declared });
      };
      differ('type', mapTypeName(info.type), spec.typeName);
      differ('key size', String(info.keySize), String(spec.keySize));
      differ('value size', String(info.valueSize), String(spec.valueSize));
      differ('max entries', String(info.maxEntries), String(spec.maxEntries));
      differ('flags', `0x${info.flags.toString(16)}`, `0x${spec.flags.toString(16)}`);
    }
    return out;
  }

  /** Frees the spec without loading. */
  close(): void {
    this.#obj?.close();
    this.#obj = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The verifier's last words: the line that names the fault, for the error message. */
function lastVerifierLine(log: string): string {
  const lines = log
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('--') && !l.startsWith('libbpf:') && !/^processed \d+ insns/.test(l));
  return lines.at(-1) ?? '';
}

/**
 * Live maps and programs of a loaded object. Handles taken from it with
 * map()/program() own a duplicate fd each, so they may outlive the
 * collection; close() releases the collection's own fds.
 */
export class Collection {
  #maps: Map<string, number>;
  #programs: Map<string, number>;

  constructor(
    readonly path: string,
    maps: Map<string, number>,
    programs: Map<string, number>,
  ) {
    this.#maps = maps;
    this.#programs = programs;
  }

  get mapNames(): string[] {
    return [...this.#maps.keys()];
  }

  get programNames(): string[] {
    return [...this.#programs.keys()];
  }

  private mapFd(name: string): number {
    const fd = this.#maps.get(name);
    if (fd === undefined) {
      throw new BpfError('VIPD_BPF_NOT_FOUND', 'collection', `${this.path} has no map '${name}'`);
    }
    return callNative(`map '${name}'`, () => bpfNative().dupFd(fd));
  }

  private withFd<T>(fd: number, make: (fd: number) => T): T {
    try {
      return make(fd);
    } catch (err) {
      bpfNative().closeFd(fd);
      throw err;
    }
  }

  map<K, V>(name: string, key: Codec<K>, value: Codec<V>): BpfMap<K, V> {
    return this.withFd(this.mapFd(name), (fd) => new BpfMap(fd, name, key, value));
  }

  perCpuMap<K, V>(name: string, key: Codec<K>, value: Codec<V>): PerCpuMap<K, V> {
    return this.withFd(this.mapFd(name), (fd) => new PerCpuMap(fd, name, key, value));
  }

  progArray(name: string): ProgArrayMap {
    return this.withFd(this.mapFd(name), (fd) => new ProgArrayMap(fd, name));
  }

  program(name: string): Program {
    const fd = this.#programs.get(name);
    if (fd === undefined) {
      throw new BpfError(
        'VIPD_BPF_NOT_FOUND',
        'collection',
        `${this.path} has no program '${name}' (it has: ${this.programNames.join(', ')})`,
      );
    }
    return new Program(callNative(`program '${name}'`, () => bpfNative().dupFd(fd)), name);
  }

  close(): void {
    const native = bpfNative();
    for (const fd of [...this.#maps.values(), ...this.#programs.values()]) native.closeFd(fd);
    this.#maps = new Map();
    this.#programs = new Map();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
