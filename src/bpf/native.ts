/** Types for the BPF half of the native addon (native/bpf_*.cc, btf_layout.cc, sys.cc). */
import { nativeAddon } from '../native.js';

export interface NativeMapDesc {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  internal: boolean;
  pinPath?: string;
}

export interface NativeProgDesc {
  name: string;
  section: string;
  type: number;
  autoload: boolean;
}

export interface NativeBpfObject {
  maps(): NativeMapDesc[];
  programs(): NativeProgDesc[];
  setMaxEntries(map: string, n: number): void;
  setPinPath(map: string, path: string | null): void;
  initialValue(map: string): Buffer;
  setInitialValue(map: string, data: Buffer): void;
  setAutoload(prog: string, on: boolean): void;
  /** Resolves with libbpf's log; rejects with an error that has `.log`. */
  load(): Promise<string>;
  mapFd(map: string): number;
  progFd(prog: string): number;
  close(): void;
}

export interface NativeMapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  btfId: number;
}

export interface NativeProgInfo {
  type: number;
  id: number;
  name: string;
  tag: string;
  btfId: number;
  runCount: number;
  runTimeNs: number;
}

export interface NativeLinkInfo {
  type: number;
  id: number;
  progId: number;
  ifindex?: number;
}

export interface NativeTestRunOpts {
  data?: Buffer;
  dataSizeOut?: number;
  ctx?: Buffer;
  ctxSizeOut?: number;
  repeat?: number;
  flags?: number;
  batchSize?: number;
  countInstructions?: boolean;
}

export interface NativeTestRunResult {
  retval: number;
  duration: number;
  /** With countInstructions: kernel instructions retired in the call, -1 without a counter. */
  instructions?: number;
  data: Buffer;
  ctx?: Buffer;
}

export interface NativeXdpQuery {
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
  attachMode: number;
}

export interface BtfMember {
  name: string;
  offset: number;
  size: number;
  bitfield: boolean;
}

export interface BtfStruct {
  name: string;
  kind: 'struct' | 'union';
  size: number;
  members: BtfMember[];
}

export interface BtfVar {
  name: string;
  offset: number;
  size: number;
}

export interface BpfNative {
  BpfObject: new (path: string) => NativeBpfObject;
  mapLookup(fd: number, key: Buffer | null, value: Buffer, flags?: number | bigint): boolean;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags?: number | bigint): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapGetNextKey(fd: number, key: Buffer | null, next: Buffer): boolean;
  mapLookupBatch(
    fd: number,
    inBatch: Buffer | null,
    outBatch: Buffer,
    keys: Buffer,
    values: Buffer,
    count: number,
    andDelete?: boolean,
  ): { count: number; done: boolean };
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number, flags?: number | bigint): number;
  mapDeleteBatch(fd: number, keys: Buffer, count: number): number;
  mapFreeze(fd: number): void;
  mapMmap(fd: number, bytes: number): ArrayBuffer;
  mapMunmap(buffer: ArrayBuffer): void;
  objPin(fd: number, path: string): void;
  objGet(path: string): number;
  closeFd(fd: number): void;
  dupFd(fd: number): number;
  mapInfo(fd: number): NativeMapInfo;
  progInfo(fd: number): NativeProgInfo;
  linkInfo(fd: number): NativeLinkInfo;
  getFdById(kind: 'map' | 'prog' | 'link', id: number): number;
  progTestRun(fd: number, opts: NativeTestRunOpts): NativeTestRunResult;
  progTestRunAsync(fd: number, opts: NativeTestRunOpts): Promise<NativeTestRunResult>;
  /** One test run per frame of equal-sized frames; the return values as native-endian u32s. */
  progTestRunEach(fd: number, frames: Buffer, frameSize: number): Buffer;
  xdpLinkCreate(progFd: number, ifindex: number, flags: number): number;
  linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): void;
  linkDetach(linkFd: number): void;
  xdpAttach(ifindex: number, progFd: number, flags: number, oldProgFd?: number): void;
  xdpDetach(ifindex: number, flags: number): void;
  xdpQuery(ifindex: number): NativeXdpQuery;
  numPossibleCpus(): number;
  btfStructs(path: string): BtfStruct[];
  btfDatasec(path: string, section: string): BtfVar[];
  ifNameToIndex(name: string): number;
  ifIndexToName(index: number): string;
  isBpffs(path: string): boolean;
  mountBpffs(path: string): void;
  unmount(path: string): void;
  /** An exclusive, non-blocking flock on a directory: the fd holding it (closeFd releases it). */
  lockDir(path: string): number;
}

/** The addon, typed. Throws a clear error when it was never built. */
export function bpfNative(): BpfNative {
  return nativeAddon() as BpfNative;
}
