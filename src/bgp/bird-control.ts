/**
 * BIRD's control socket (what `birdc` speaks): on connect BIRD sends
 * `0001 BIRD x.y ready.`; each command is one line; every reply line starts
 * with a 4-digit code followed by `-` (more follows) or a space (the last
 * line), or with a space alone (continues the previous code). Codes 0xxx
 * are success, 1xxx table rows, 2xxx table headings, 8xxx/9xxx errors.
 */
import { createConnection } from 'node:net';
import { VipdError } from '../errors.js';

export interface BirdReplyLine {
  readonly code: number;
  readonly text: string;
}

/** VIPD_BGP_BIRD: BIRD refused a command; `birdCode` is its reply code. */
export class BirdCommandError extends VipdError {
  override name = 'BirdCommandError';
  constructor(
    readonly command: string,
    readonly birdCode: number,
    detail: string,
  ) {
    super('VIPD_BGP_BIRD', `bird: ${command}: ${detail} (${birdCode})`);
  }
}

/**
 * Splits reply text into lines with their codes; `done` once the final line
 * (code and a space) has arrived.
 */
export function parseReply(text: string): { lines: BirdReplyLine[]; done: boolean } {
  const lines: BirdReplyLine[] = [];
  let code = 0;
  let done = false;
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const m = /^(\d{4})([ -])(.*)$/.exec(raw);
    if (m) {
      code = Number(m[1]);
      lines.push({ code, text: m[3] ?? '' });
      if (m[2] === ' ') done = true;
    } else if (raw.startsWith(' ')) {
      lines.push({ code, text: raw.slice(1) });
    }
  }
  return { lines, done };
}

/** Runs one command on a fresh connection; rejects on an error code or timeout. */
export function birdCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<BirdReplyLine[]> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = '';
    let greeted = false;
    const timer = setTimeout(() => finish(new Error(`bird: ${command}: no reply within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | null, lines?: BirdReplyLine[]) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(lines ?? []);
    };
    sock.setEncoding('utf8');
    sock.on('error', (err) => finish(err));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (!greeted) {
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        if (!buf.startsWith('0001 ')) return finish(new Error(`bird: unexpected greeting ${JSON.stringify(buf.slice(0, nl))}`));
        greeted = true;
        buf = buf.slice(nl + 1);
        sock.write(`${command}\n`);
      }
      if (!buf.endsWith('\n')) return;
      const { lines, done } = parseReply(buf);
      if (!done) return;
      const last = lines[lines.length - 1];
      if (last && last.code >= 8000) return finish(new BirdCommandError(command, last.code, last.text));
      finish(null, lines);
    });
  });
}

export interface ProtocolState {
  readonly name: string;
  readonly proto: string;
  /** BIRD's protocol state: up, start, down, ... */
  readonly state: string;
  /** For BGP: Established, Active, Connect, Idle, ... (the Info column's first word). */
  readonly info: string;
}

/** The rows of `show protocols` (code 1002). */
export function parseShowProtocols(lines: readonly BirdReplyLine[]): ProtocolState[] {
  const out: ProtocolState[] = [];
  for (const l of lines) {
    if (l.code !== 1002) continue;
    const cols = l.text.trim().split(/\s+/);
    const [name, proto, , state] = cols;
    if (!name || !proto || !state) continue;
    // The Since column is one or two words (time, or date and time); Info follows it.
    const bgpStates = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established', 'Close'];
    const info = cols.slice(4).find((c) => bgpStates.includes(c)) ?? '';
    out.push({ name, proto, state, info });
  }
  return out;
}
