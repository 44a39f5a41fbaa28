/** A real ControlServer on a temp socket, and an output that records what a command printed. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ControlServer, type Handlers } from '../../../src/daemon/control/index.js';
import type { CliOutput } from '../../../src/cli/output.js';

export interface RecordedOutput extends CliOutput {
  readonly stdout: () => string;
  readonly stderr: () => string;
}

export function recordOutput(isTty = false): RecordedOutput {
  let out = '';
  let err = '';
  return {
    out: (text) => void (out += text),
    err: (line) => void (err += `${line}\n`),
    isTty,
    stdout: () => out,
    stderr: () => err,
  };
}

export interface TestDaemon {
  readonly socket: string;
  readonly dir: string;
  readonly server: ControlServer;
  close(): Promise<void>;
}

export async function startDaemon(handlers: Handlers): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'vipctl-test-'));
  const socket = join(dir, 'vipd.sock');
  const server = new ControlServer(socket, handlers, pino({ level: 'silent' }));
  await server.listen();
  return {
    socket,
    dir,
    server,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
