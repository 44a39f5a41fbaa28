/** Kernel constants (include/uapi/linux/bpf.h, if_link.h) the binding needs. */

export const MapType = {
  Hash: 1,
  Array: 2,
  ProgArray: 3,
  PerfEventArray: 4,
  PerCpuHash: 5,
  PerCpuArray: 6,
  LruHash: 9,
  LruPerCpuHash: 10,
  LpmTrie: 11,
  ArrayOfMaps: 12,
  HashOfMaps: 13,
  DevMap: 14,
  CpuMap: 16,
  XskMap: 17,
  DevMapHash: 25,
  RingBuf: 27,
} as const;

const PER_CPU_TYPES = new Set<number>([MapType.PerCpuHash, MapType.PerCpuArray, MapType.LruPerCpuHash]);

export function isPerCpuMapType(type: number): boolean {
  return PER_CPU_TYPES.has(type);
}

export function mapTypeName(type: number): string {
  const entry = Object.entries(MapType).find(([, v]) => v === type);
  return entry ? entry[0] : `type${type}`;
}

/** Map creation flags (BPF_F_*) that the binding looks at. */
export const MapFlag = {
  NoPrealloc: 1 << 0,
  Mmapable: 1 << 10,
} as const;

export const ProgType = { Xdp: 6 } as const;

export const LinkType = { Xdp: 6 } as const;

/** BPF_ANY / BPF_NOEXIST / BPF_EXIST for map updates. */
export const UpdateFlag = { any: 0, noexist: 1, exist: 2 } as const;
export type UpdateFlagName = keyof typeof UpdateFlag;

/** XDP attach flags (XDP_FLAGS_*). */
export const XdpFlag = {
  UpdateIfNoExist: 1,
  SkbMode: 2,
  DrvMode: 4,
  HwMode: 8,
  Replace: 16,
} as const;

/** XDP verdicts (enum xdp_action). */
export const XdpAction = { Aborted: 0, Drop: 1, Pass: 2, Tx: 3, Redirect: 4 } as const;

/** BPF_F_TEST_XDP_LIVE_FRAMES: test-run frames really leave through the stack. */
export const TestRunFlag = { XdpLiveFrames: 2 } as const;
