/**
 * BTF of a compiled object: struct layouts as clang laid them out. Used to
 * prove that the TypeScript codecs match bpf/vipd.h field by field.
 */
import type { StructCodec } from './codec.js';
import { callNative } from './errors.js';
import { bpfNative, type BtfStruct } from './native.js';

export type { BtfStruct, BtfMember } from './native.js';

export function btfStructs(objectPath: string): BtfStruct[] {
  return callNative(`reading BTF of ${objectPath}`, () => bpfNative().btfStructs(objectPath));
}

/**
 * Differences between a codec and the struct of the same C name in BTF;
 * empty when they agree on size, field names, order and offsets.
 */
export function compareWithBtf(codec: StructCodec<unknown>, structs: readonly BtfStruct[]): string[] {
  const s = structs.find((x) => x.name === codec.cName);
  if (!s) return [`struct ${codec.cName} is not in the object's BTF`];
  const problems: string[] = [];
  if (s.size !== codec.size) problems.push(`sizeof(struct ${s.name}) is ${s.size}, codec says ${codec.size}`);
  const names = codec.layout.map((f) => f.name);
  const btfNames = s.members.map((m) => m.name);
  if (names.join(',') !== btfNames.join(',')) {
    problems.push(`struct ${s.name} fields are [${btfNames.join(', ')}], codec has [${names.join(', ')}]`);
  }
  for (const m of s.members) {
    const f = codec.layout.find((x) => x.name === m.name);
    if (!f) continue;
    if (f.offset !== m.offset) problems.push(`${s.name}.${m.name} is at offset ${m.offset}, codec says ${f.offset}`);
    if (f.size !== m.size) problems.push(`${s.name}.${m.name} is ${m.size} bytes, codec says ${f.size}`);
  }
  return problems;
}
