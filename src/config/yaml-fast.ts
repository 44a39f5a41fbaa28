/**
 * A fast reader for the plain YAML a vipd config is written in: block
 * mappings and sequences, flow mappings and sequences on one line, plain,
 * 'single' and "double" quoted scalars (without escapes), comments. It
 * builds nodes that FieldReader reads as it reads the yaml library's (the
 * library's node-type tag, value and source, range, items, key and value,
 * the core schema's values), so the config and its error messages (key
 * path, file:line:col) are the same whichever read the text. They are
 * plain objects: the library's own node classes define their tag with
 * Object.defineProperty, which cost more than the whole parse here.
 *
 * Why: the yaml library's lexer, parser and composer take ~3 s (and much
 * garbage) for a config of 10 000 services, the most of a 5 s start
 * budget; this reads it in a small fraction of that.
 *
 * Anything else (anchors, aliases, tags, block scalars, multi-line scalars
 * or flow collections, escapes, duplicate keys, tabs, a syntax error) makes
 * it give up (undefined): the caller then parses with the yaml library,
 * which handles all of YAML and words the errors.
 */
import type { LineCounter, Node } from 'yaml';

/** Thrown inside the reader when the text leaves the subset; never escapes parseSimpleYaml(). */
class OutsideSubset extends Error {}

const giveUp = (): never => {
  throw new OutsideSubset();
};

/** The yaml library's core schema for a plain scalar (schema/core: null, bool, int, float). */
export function plainValue(text: string): string | number | boolean | null {
  // Most scalars are names and words: only these first characters can start anything else.
  if (!'0123456789+-.~tTfFnN'.includes(text[0])) return text;
  // Addresses (10.0.0.1, 2001:db8::1) start with a digit but are none of
  // the forms below: none has a ':' or a second '.'.
  if (text.includes(':') || text.indexOf('.') !== text.lastIndexOf('.')) return text;
  if (text === '~' || text === 'null' || text === 'Null' || text === 'NULL') return null;
  if (/^(?:[Tt]rue|TRUE)$/.test(text)) return true;
  if (/^(?:[Ff]alse|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return parseInt(text, 10);
  if (/^0o[0-7]+$/.test(text)) return parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^(?:[-+]?\.(?:inf|Inf|INF))$/.test(text)) return text.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^(?:\.nan|\.NaN|\.NAN)$/.test(text)) return Number.NaN;
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(text) || /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(text)) {
    return parseFloat(text);
  }
  return text;
}

/** The yaml library's node tags (yaml/dist/nodes/identity.js): what isScalar(), isMap() ... test. */
const NODE_TYPE = Symbol.for('yaml.node.type');
const SCALAR = Symbol.for('yaml.scalar');
const MAP = Symbol.for('yaml.map');
const SEQ = Symbol.for('yaml.seq');
const PAIR = Symbol.for('yaml.pair');

type Range = [number, number, number];

class FastScalar {
  readonly [NODE_TYPE] = SCALAR;
  constructor(
    readonly value: string | number | boolean | null,
    readonly source: string,
    readonly range: Range,
  ) {}
}

class FastPair {
  readonly [NODE_TYPE] = PAIR;
  constructor(
    readonly key: FastScalar,
    readonly value: FastNode,
  ) {}
}

class FastMap {
  readonly [NODE_TYPE] = MAP;
  readonly items: FastPair[] = [];
  range: Range = [0, 0, 0];
}

class FastSeq {
  readonly [NODE_TYPE] = SEQ;
  readonly items: FastNode[] = [];
  range: Range = [0, 0, 0];
}

type FastNode = FastScalar | FastMap | FastSeq;

function scalar(value: string | number | boolean | null, source: string, start: number, end: number): FastScalar {
  return new FastScalar(value, source, [start, end, end]);
}

/** Characters that may not start a plain scalar here (YAML indicators the subset leaves to the library). */
const NOT_PLAIN_START = new Set([',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`']);

class Reader {
  /** Significant lines (not blank, not only a comment): start of content, end, indent. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly indents: number[] = [];
  line = 0;

  constructor(readonly text: string) {}

  get more(): boolean {
    return this.line < this.starts.length;
  }

  /** A block node starting at the current line, whose lines are indented `indent`. */
  block(indent: number): FastNode {
    return this.isSeqItem(this.line) ? this.sequence(indent) : this.mapping(indent);
  }

  isSeqItem(line: number): boolean {
    const at = this.starts[line];
    return this.text[at] === '-' && (at + 1 === this.ends[line] || this.text[at + 1] === ' ');
  }

  /** What follows a ':' or '- ' on a line: a value there, a block below, or null. */
  valueAfter(pos: number, indent: number, seqAtSameIndent: boolean): FastNode {
    const end = this.ends[this.line];
    pos = this.skipSpaces(pos, end);
    if (pos < end && this.text[pos] !== '#') {
      const value = this.inline(pos, end, false);
      this.expectEnd(value.end, end);
      this.line++;
      // A deeper line after an inline value: a multi-line scalar, or an error.
      if (this.more && this.indents[this.line] > indent) giveUp();
      return value.node;
    }
    this.line++;
    if (this.more && (this.indents[this.line] > indent || (seqAtSameIndent && this.indents[this.line] === indent && this.isSeqItem(this.line)))) {
      return this.block(this.indents[this.line]);
    }
    return scalar(null, '', pos, pos);
  }

  mapping(indent: number): FastMap {
    const map = new FastMap();
    const first = this.starts[this.line];
    const keys = new Set<unknown>();
    let last = first;
    while (this.more && this.indents[this.line] === indent && !this.isSeqItem(this.line)) {
      const start = this.starts[this.line];
      const end = this.ends[this.line];
      const colon = this.keyEnd(start, end);
      const keyText = this.text.slice(start, colon).trimEnd();
      if (keyText === '' || NOT_PLAIN_START.has(keyText[0]) || keyText.includes(' #') || keyText.startsWith('? ')) giveUp();
      const keyValue = plainValue(keyText);
      if (keys.has(keyValue)) giveUp(); // the library words duplicate keys
      keys.add(keyValue);
      const key = scalar(keyValue, keyText, start, start + keyText.length);
      const value = this.valueAfter(colon + 1, indent, true);
      map.items.push(new FastPair(key, value));
      last = value.range?.[2] ?? last;
    }
    if (this.more && this.indents[this.line] > indent) giveUp();
    map.range = [first, last, last];
    return map;
  }

  sequence(indent: number): FastSeq {
    const seq = new FastSeq();
    const first = this.starts[this.line];
    let last = first;
    while (this.more && this.indents[this.line] === indent && this.isSeqItem(this.line)) {
      const start = this.starts[this.line];
      const end = this.ends[this.line];
      const at = this.skipSpaces(start + 1, end);
      let item: FastNode;
      if (at < end && this.text[at] !== '#' && this.isCompactKey(at, end)) {
        // "- key: value": a mapping whose keys are indented at `at`.
        const column = at - (start - indent);
        this.starts[this.line] = at;
        this.indents[this.line] = column;
        item = this.mapping(column);
      } else {
        if (this.text[at] === '-' && (at + 1 === end || this.text[at + 1] === ' ')) giveUp();
        item = this.valueAfter(at, indent, false);
      }
      seq.items.push(item);
      last = item.range?.[2] ?? last;
    }
    if (this.more && this.indents[this.line] > indent) giveUp();
    seq.range = [first, last, last];
    return seq;
  }

  /** True when the text at `at` is "key:" or "key: ..." with a plain key. */
  isCompactKey(at: number, end: number): boolean {
    if (NOT_PLAIN_START.has(this.text[at])) return false;
    const colon = this.findColon(at, end);
    return colon !== -1;
  }

  /** The ':' that ends a block key: followed by a space or the end of the line. */
  findColon(from: number, end: number): number {
    for (let i = from; i < end; i++) {
      const c = this.text[i];
      if (c === '#' && this.text[i - 1] === ' ') return -1;
      if (c === ':' && (i + 1 === end || this.text[i + 1] === ' ')) return i;
    }
    return -1;
  }

  keyEnd(start: number, end: number): number {
    const colon = this.findColon(start, end);
    if (colon === -1) giveUp();
    return colon;
  }

  skipSpaces(pos: number, end: number): number {
    while (pos < end && this.text[pos] === ' ') pos++;
    return pos;
  }

  /** Only spaces or a comment may follow a value on its line. */
  expectEnd(pos: number, end: number): void {
    pos = this.skipSpaces(pos, end);
    if (pos < end && !(this.text[pos] === '#' && this.text[pos - 1] === ' ')) giveUp();
  }

  /** A value on one line from pos: flow collection, quoted or plain scalar. */
  inline(pos: number, end: number, inFlow: boolean): { node: FastNode; end: number } {
    const c = this.text[pos];
    if (c === '{' || c === '[') return this.flow(pos, end);
    if (c === '"' || c === "'") {
      const close = c === '"' ? this.text.indexOf('"', pos + 1) : this.singleQuoteEnd(pos + 1, end);
      if (close === -1 || close >= end) giveUp();
      const raw = this.text.slice(pos + 1, close);
      if (c === '"' && raw.includes('\\')) giveUp();
      const value = c === "'" ? raw.replaceAll("''", "'") : raw;
      return { node: scalar(value, value, pos, close + 1), end: close + 1 };
    }
    if (NOT_PLAIN_START.has(c) || ((c === '-' || c === '?' || c === ':') && (pos + 1 === end || this.text[pos + 1] === ' '))) giveUp();
    let i = pos;
    for (; i < end; i++) {
      const ch = this.text[i];
      if (ch === '#' && this.text[i - 1] === ' ') break;
      if (ch === ':' && (i + 1 === end || this.text[i + 1] === ' ')) {
        if (inFlow) break;
        giveUp(); // "a: b: c": the library reports it
      }
      if (inFlow && (ch === ',' || ch === ']' || ch === '}' || ch === '[' || ch === '{')) break;
      if (inFlow && ch === ':' && ',]}'.includes(this.text[i + 1])) giveUp();
    }
    const source = this.text.slice(pos, i).trimEnd();
    const stop = pos + source.length;
    return { node: scalar(plainValue(source), source, pos, stop), end: stop };
  }

  singleQuoteEnd(from: number, end: number): number {
    for (let i = from; i < end; i++) {
      if (this.text[i] !== "'") continue;
      if (this.text[i + 1] === "'") i++;
      else return i;
    }
    return -1;
  }

  /** A flow mapping or sequence that closes on the same line. */
  flow(pos: number, end: number): { node: FastNode; end: number } {
    const isMap = this.text[pos] === '{';
    const close = isMap ? '}' : ']';
    const node = isMap ? new FastMap() : new FastSeq();
    const keys = new Set<unknown>();
    let i = this.skipSpaces(pos + 1, end);
    while (i < end && this.text[i] !== close) {
      const first = this.inline(i, end, true);
      i = this.skipSpaces(first.end, end);
      if (isMap) {
        if (this.text[i] !== ':') giveUp(); // "{ a }": a key without a value
        const key = first.node;
        if (!(key instanceof FastScalar) || keys.has(key.value)) return giveUp();
        keys.add(key.value);
        i = this.skipSpaces(i + 1, end);
        const value = this.text[i] === ',' || this.text[i] === close ? { node: scalar(null, '', i, i), end: i } : this.inline(i, end, true);
        (node as FastMap).items.push(new FastPair(key, value.node));
        i = this.skipSpaces(value.end, end);
      } else {
        (node as FastSeq).items.push(first.node);
      }
      if (this.text[i] === ',') i = this.skipSpaces(i + 1, end);
      else if (this.text[i] !== close) giveUp();
    }
    if (i >= end) giveUp(); // continues on the next line
    node.range = [pos, i + 1, i + 1];
    return { node, end: i + 1 };
  }
}

/**
 * The document's root node (null when empty), with every line start given
 * to lineCounter, or undefined when the text is outside the subset (then
 * lineCounter is untouched: the library fills it).
 */
export function parseSimpleYaml(text: string, lineCounter: LineCounter): { contents: Node | null } | undefined {
  if (/[\t\r\uFEFF]/.test(text)) return undefined;
  const reader = new Reader(text);
  const lineStarts: number[] = [];
  for (let start = 0; start <= text.length; ) {
    lineStarts.push(start);
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let content = start;
    while (content < end && text[content] === ' ') content++;
    if (content < end && text[content] !== '#') {
      if (text.startsWith('---', content) || text.startsWith('...', content) || (content === start && text[content] === '%')) return undefined;
      let lineEnd = end;
      while (lineEnd > content && text[lineEnd - 1] === ' ') lineEnd--;
      reader.starts.push(content);
      reader.ends.push(lineEnd);
      reader.indents.push(content - start);
    }
    if (end === text.length) break;
    start = end + 1;
  }
  let contents: FastNode | null = null;
  try {
    if (reader.more) {
      const first = reader.starts[0];
      // A document that is a single scalar or flow collection: left to the library.
      if (!reader.isSeqItem(0) && reader.findColon(first, reader.ends[0]) === -1) return undefined;
      contents = reader.block(reader.indents[0]);
      if (reader.more) return undefined;
    }
  } catch (err) {
    if (err instanceof OutsideSubset) return undefined;
    throw err;
  }
  for (const offset of lineStarts) lineCounter.addNewLine(offset);
  // Typed as the library's nodes for FieldReader, which reads them only
  // through isScalar()/isMap()/isSeq() and the fields the classes above have.
  return { contents: contents as unknown as Node | null };
}
