/**
 * libbpf-ts: the typed TypeScript face of libbpf that vipd uses for all BPF
 * work. See docs/libbpf-ts.md for object lifetimes (fd vs pin vs link).
 */
export { ObjectSpec, MapSpec, Collection } from './object.js';
export { BpfMap, PerCpuMap, ProgArrayMap, MapBase, type UpdateFlags } from './map.js';
export { ArrayMemory } from './mmap.js';
export { Program, xdpVerdictName, type RunOptions, type RunResult } from './program.js';
export {
  XdpLink,
  NetlinkXdpAttachment,
  attachXdp,
  queryXdp,
  resolveIfindex,
  type XdpAttachment,
  type XdpAttachOptions,
  type XdpMode,
} from './link.js';
export { types, struct, raw, type Codec, type StructCodec, type FieldLayout, type CodecValue } from './codec.js';
export {
  BpfError,
  PinDirLockedError,
  PinMismatchError,
  VerifierError,
  translateNativeError,
  type BpfErrorCode,
  type PinDifference,
} from './errors.js';
export { flockHolder, tryLockDir, type DirLock } from './dir-lock.js';
export { ensureBpffs, isOnBpffs, unmountBpffs } from './bpffs.js';
export { btfStructs, compareWithBtf, type BtfStruct, type BtfMember } from './btf.js';
export { MapType, MapFlag, ProgType, XdpAction, XdpFlag, UpdateFlag, TestRunFlag, isPerCpuMapType, mapTypeName } from './constants.js';
import { bpfNative } from './native.js';

/** Number of possible CPUs (the length of every per-CPU value). */
export function possibleCpus(): number {
  return bpfNative().numPossibleCpus();
}
