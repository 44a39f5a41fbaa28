/**
 * keepalived's lexical rules, one line at a time: `#` and `!` start a
 * comment anywhere outside double quotes, double quotes group words,
 * braces are words of their own, and a trailing backslash continues the
 * line. Pure string scanning: it cannot throw on any input.
 */

export interface Word {
  readonly text: string;
  /** Written in double quotes: never a brace, never a keyword. */
  readonly quoted: boolean;
}

export interface PhysicalLine {
  /** 1-based number of the line the logical line starts on. */
  readonly line: number;
  readonly text: string;
}

/** Lines with `\`-continuations joined; CR LF and lone CR count as line ends. */
export function logicalLines(source: string): PhysicalLine[] {
  const lines: PhysicalLine[] = [];
  const physical = source.split(/\r\n|\r|\n/);
  let pending: PhysicalLine | undefined;
  physical.forEach((text, index) => {
    const start: PhysicalLine = pending ?? { line: index + 1, text: '' };
    const joined = start.text + text;
    if (joined.endsWith('\\') && index < physical.length - 1) {
      pending = { line: start.line, text: joined.slice(0, -1) };
      return;
    }
    pending = undefined;
    lines.push({ line: start.line, text: joined });
  });
  return lines;
}

function isSpace(char: string): boolean {
  return char === ' ' || char === '\t' || char === '\v' || char === '\f' || char === '\0';
}

/** The words of one logical line. An unterminated quote runs to the end of the line. */
export function splitWords(text: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i] ?? '';
    if (isSpace(char)) {
      i++;
    } else if (char === '#' || char === '!') {
      break;
    } else if (char === '{' || char === '}') {
      words.push({ text: char, quoted: false });
      i++;
    } else if (char === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && text[i + 1] === '"') i++;
        value += text[i];
        i++;
      }
      i++;
      words.push({ text: value, quoted: true });
    } else {
      let value = '';
      while (i < text.length) {
        const c = text[i] ?? '';
        if (isSpace(c) || c === '{' || c === '}' || c === '"' || c === '#' || c === '!') break;
        value += c;
        i++;
      }
      words.push({ text: value, quoted: false });
    }
  }
  return words;
}

const ESCAPES: Readonly<Record<string, string>> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * Split a script string into argv the way keepalived does (it execs the
 * words, no shell): whitespace separates, single or double quotes group,
 * a backslash escapes the next character (C escapes such as \t too).
 */
export function splitCommand(text: string): string[] {
  const argv: string[] = [];
  let current = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? '';
    if (char === '\\' && i + 1 < text.length) {
      const next = text[++i] ?? '';
      current += ESCAPES[next] ?? next;
      inWord = true;
    } else if (quote) {
      if (char === quote) quote = undefined;
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) argv.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (inWord) argv.push(current);
  return argv;
}
