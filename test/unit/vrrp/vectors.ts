/** Reads the keepalived capture dumps (NAME.hex.txt) in test/fixtures/keepalived-vectors. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const VECTOR_DIR = path.resolve(repoRoot, 'test/fixtures/keepalived-vectors');

/** What the capture tool decoded for one frame (the JSON line), loosely typed. */
export type FrameFacts = Record<string, unknown>;

export interface CapturedFrame {
  file: string;
  index: number;
  facts: FrameFacts;
  bytes: Buffer;
}

/** The capture dumps; a missing fixture directory is an error, never a reason to skip. */
export function listVectorFiles(): string[] {
  if (!existsSync(VECTOR_DIR)) throw new Error(`keepalived vectors missing: ${VECTOR_DIR} (they are part of the repository)`);
  return readdirSync(VECTOR_DIR)
    .filter((f) => f.endsWith('.hex.txt'))
    .sort();
}

/** Frames of one file: "#N ts=... " header, "#  {json}" facts, then offset + hex byte lines. */
export function readFrames(file: string): CapturedFrame[] {
  const frames: CapturedFrame[] = [];
  let current: CapturedFrame | null = null;
  for (const line of readFileSync(path.join(VECTOR_DIR, file), 'utf8').split('\n')) {
    const header = /^#(\d+) /.exec(line);
    if (header !== null) {
      current = { file, index: Number(header[1]), facts: {}, bytes: Buffer.alloc(0) };
      frames.push(current);
    } else if (line.startsWith('#  {') && current !== null) {
      current.facts = JSON.parse(line.slice(3)) as FrameFacts;
    } else if (/^[0-9a-f]{4} {2}/.test(line) && current !== null) {
      const hex = line.slice(6).trim().split(/\s+/).join('');
      current.bytes = Buffer.concat([current.bytes, Buffer.from(hex, 'hex')]);
    }
  }
  return frames;
}
