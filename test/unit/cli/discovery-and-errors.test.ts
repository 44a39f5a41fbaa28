/**
 * Finding the daemon (--socket, --config, default) and the messages and exit
 * codes when it cannot be reached. The permission case runs the built CLI
 * as nobody, since root passes every permission check.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/cli/action.js';
import { runMaps } from '../../../src/cli/maps/command.js';
import { runStatus } from '../../../src/cli/status.js';
import { DEFAULT_PIN_DIR, DEFAULT_SOCKET, resolvePinDir, resolveSocketPath } from '../../../src/cli/target.js';
import { ensureBuilt } from '../../helpers/build.js';
import { STATUS } from './fixtures.js';
import { recordOutput, startDaemon, type TestDaemon } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const BUILT_CLI = join(ROOT, 'dist/src/cli/main.js');
const NOBODY = 65534;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'vipctl-errors-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

describe('finding the daemon', () => {
  it('uses --socket, else --config control.socket, else the default', async () => {
    const config = writeConfig(
      'a.yaml',
      'control: { socket: /run/elsewhere/vipd.sock }\nbpf: { pin: /run/vipd-bpf }\n' +
        'instances:\n  - { name: web, interface: eth0, vrid: 51, vips: [203.0.113.42] }\n',
    );
    expect(await resolveSocketPath({ socket: '/x.sock', config })).toBe('/x.sock');
    expect(await resolveSocketPath({ config })).toBe('/run/elsewhere/vipd.sock');
    expect(await resolveSocketPath({})).toBe(DEFAULT_SOCKET);
    expect(DEFAULT_SOCKET).toBe('/run/vipd/vipd.sock');
    expect(await resolvePinDir({ pin: '/p', config })).toBe('/p');
    expect(await resolvePinDir({ config })).toBe('/run/vipd-bpf');
    expect(await resolvePinDir({})).toBe(DEFAULT_PIN_DIR);
  });

  it('talks to the daemon named by --config', async () => {
    const daemon = await startDaemon({ status: () => STATUS });
    try {
      const config = writeConfig('b.yaml', `control: { socket: ${daemon.socket} }\n`);
      const output = recordOutput();
      expect(await runStatus({ config, json: true }, output)).toBe(0);
      expect(JSON.parse(output.stdout())).toEqual(STATUS);
    } finally {
      await daemon.close();
    }
  });

  it('takes the socket from a config vipd would reject, if that key is usable', async () => {
    const config = writeConfig('partial.yaml', 'control: { socket: /run/x/vipd.sock }\ninstances: [{ name: web }]\n');
    expect(await resolveSocketPath({ config })).toBe('/run/x/vipd.sock');
    expect(await resolvePinDir({ config })).toBe(DEFAULT_PIN_DIR);
  });

  it('an unusable control.socket in --config is a usage error listing every problem (exit 2)', async () => {
    const config = writeConfig('bad.yaml', 'control: { socket: relative.sock, bogus: 1 }\n');
    const output = recordOutput();
    expect(await runCommand(() => runStatus({ config }, output), output)).toBe(2);
    const err = output.stderr();
    expect(err).toContain(`vipctl: cannot use --config ${config}:`);
    expect(err).toMatch(/bad\.yaml:1:\d+: control\.socket: must be an absolute path/);
    expect(err).toMatch(/control\.bogus/);
    const missing = recordOutput();
    expect(await runCommand(() => runStatus({ config: join(tmp, 'absent.yaml') }, missing), missing)).toBe(2);
    expect(missing.stderr()).toContain('cannot read the config');
  });
});

describe('when the daemon cannot be reached', () => {
  it('no socket: "vipd is not running", exit 1', async () => {
    const path = join(tmp, 'missing.sock');
    const output = recordOutput();
    expect(await runCommand(() => runStatus({ socket: path }, output), output)).toBe(1);
    expect(output.stderr()).toBe(`vipctl: vipd is not running (no socket at ${path})\n`);
  });

  it('a stale socket nobody listens on: exit 1', async () => {
    const path = join(tmp, 'stale.sock');
    const server = createServer();
    await new Promise<void>((done) => server.listen(path, done));
    // Closing a listener with unlink disabled leaves the file behind, as a crash would.
    (server as unknown as { _pipeName?: string })._pipeName = undefined;
    await new Promise<void>((done) => server.close(() => done()));
    if (!existsSync(path)) writeFileSync(path, '');
    const output = recordOutput();
    expect(await runCommand(() => runStatus({ socket: path }, output), output)).toBe(1);
    expect(output.stderr()).toContain(`vipctl: vipd is not running (nothing listens on ${path}`);
  });

  it('the daemon closing the connection mid-request: exit 1', async () => {
    const daemon = await startDaemon({
      status: () => {
        void daemon.server.close();
        return new Promise(() => undefined);
      },
    });
    const output = recordOutput();
    expect(await runCommand(() => runStatus({ socket: daemon.socket }, output), output)).toBe(1);
    expect(output.stderr()).toContain('vipd closed the connection before answering');
    await daemon.close();
  });

  it('an unknown map name is a usage error listing the names (exit 2)', async () => {
    const output = recordOutput();
    expect(await runCommand(() => runMaps('nope', { pin: tmp }, output), output)).toBe(2);
    expect(output.stderr()).toBe(
      "vipctl: no map named 'nope'; vipd pins: instances, vips, services4, services6, rings, reals, iface_masters, verdicts, real_stats, flows4, flows6, pending4, pending6, flow_stats\n",
    );
  });

  it('maps: a missing pin directory is named, exit 1', async () => {
    const dir = join(tmp, 'no-such-pins');
    const output = recordOutput();
    expect(await runCommand(() => runMaps(undefined, { pin: dir }, output), output)).toBe(1);
    expect(output.stderr()).toContain(`vipctl: no pinned maps at ${dir}: the directory does not exist`);
  });
});

describe('the built CLI as a non-root user', () => {
  let built = false;
  let daemon: TestDaemon | undefined;

  beforeAll(async () => {
    // Only when stale: a build in place races the daemons other test files start (helpers/build.ts).
    try {
      ensureBuilt();
    } catch {
      // Nothing built; the tests below say so.
    }
    built = existsSync(BUILT_CLI);
    daemon = await startDaemon({ status: () => STATUS });
    // The directory is searchable by all: the 0600 socket is what refuses nobody.
    chmodSync(daemon.dir, 0o755);
  }, 120_000);
  afterAll(() => daemon?.close());

  const run = (args: string[], options: { uid?: number; gid?: number } = {}) =>
    promisify(execFile)(process.execPath, [join(ROOT, 'bin/vipctl'), ...args], { cwd: '/', ...options }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  it('EACCES on the 0600 socket: "must run as root", exit 3', async (ctx) => {
    if (!built) ctx.skip(`${BUILT_CLI} is missing: \`npx tsc -p tsconfig.build.json\` emitted nothing`);
    if (process.getuid?.() !== 0) ctx.skip('needs root to run the CLI as uid 65534');
    const socket = daemon!.socket;
    const result = await run(['status', '--socket', socket], { uid: NOBODY, gid: NOBODY });
    expect(result.stderr).toBe(`vipctl: permission denied on ${socket}: vipctl must run as root (the socket is 0600)\n`);
    expect(result.code).toBe(3);
  });

  it('works for root, and maps usage errors to exit 2', async (ctx) => {
    if (!built) ctx.skip(`${BUILT_CLI} is missing`);
    const ok = await run(['--socket', daemon!.socket, 'status', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual(STATUS);
    expect((await run(['priority', 'web', '255', '--socket', daemon!.socket])).code).toBe(2);
    expect((await run(['status', '--no-such-option'])).code).toBe(2);
    expect((await run(['status', '--socket', join(tmp, 'absent.sock')])).code).toBe(1);
    const help = await run(['maps', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:[\s\S]*Exit codes:/);
  });
});
