import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NotifyRunner, type ExecFileFn, type NotifyOutcome } from '../../../src/daemon/notify-runner.js';
import { notifyArgs, notifyStateFor } from '../../../src/vrrp/notify.js';

/** An execFile whose processes finish only when the test says so. */
function fakeExecFile(): {
  execFile: ExecFileFn;
  started: string[][];
  finish: (index: number, code?: number) => void;
  killed: string[];
} {
  const started: string[][] = [];
  const callbacks: Parameters<ExecFileFn>[3][] = [];
  const killed: string[] = [];
  const execFile: ExecFileFn = (file, args, _options, callback) => {
    started.push([file, ...args]);
    callbacks.push(callback);
    return { kill: (signal) => (killed.push(String(signal)), true) };
  };
  const finish = (index: number, code = 0): void => {
    const error = code === 0 ? null : Object.assign(new Error(`exit ${code}`), { code, killed: false });
    callbacks[index](error, '', '');
  };
  return { execFile, started, finish, killed };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('notify arguments', () => {
  it('are keepalived\'s TYPE NAME STATE PRIORITY, with STOP for a shutdown', () => {
    expect(notifyArgs('INSTANCE', 'VI_1', 'MASTER', 150)).toEqual(['INSTANCE', 'VI_1', 'MASTER', '150']);
    expect(notifyStateFor('INIT')).toBe('STOP');
    expect(notifyStateFor('FAULT')).toBe('FAULT');
  });
});

describe('NotifyRunner with an injected execFile', () => {
  it('returns at once and runs one hook at a time per instance, in transition order', async () => {
    const fake = fakeExecFile();
    const outcomes: NotifyOutcome[] = [];
    const runner = new NotifyRunner({ timeoutMs: 5000, execFile: fake.execFile, onOutcome: (o) => outcomes.push(o) });
    runner.notify('INSTANCE', 'VI_1', 'MASTER', 150, [['/etc/vipd/up', '--fast'], ['/etc/vipd/log']]);
    runner.notify('INSTANCE', 'VI_1', 'BACKUP', 100, [['/etc/vipd/down']]);
    runner.notify('INSTANCE', 'VI_2', 'MASTER', 90, [['/etc/vipd/up']]);
    expect(fake.started).toEqual([]); // nothing ran inside notify()
    await tick();
    // VI_1's first hook and VI_2's run side by side; VI_1's others wait.
    expect(fake.started).toEqual([
      ['/etc/vipd/up', '--fast', 'INSTANCE', 'VI_1', 'MASTER', '150'],
      ['/etc/vipd/up', 'INSTANCE', 'VI_2', 'MASTER', '90'],
    ]);
    fake.finish(0, 3);
    await tick();
    expect(fake.started[2]).toEqual(['/etc/vipd/log', 'INSTANCE', 'VI_1', 'MASTER', '150']);
    fake.finish(2);
    await tick();
    expect(fake.started[3]).toEqual(['/etc/vipd/down', 'INSTANCE', 'VI_1', 'BACKUP', '100']);
    fake.finish(3);
    fake.finish(1);
    await runner.whenIdle();
    expect(outcomes.map((o) => `${o.name} ${o.state} ${o.result} ${o.exitCode}`)).toEqual([
      'VI_1 MASTER failed 3',
      'VI_1 MASTER ok 0',
      'VI_1 BACKUP ok 0',
      'VI_2 MASTER ok 0',
    ]);
  });

  it('gives up on a hook that never ends: SIGKILL after the limit and grace, and moves on', async () => {
    const killed: string[] = [];
    const started: string[] = [];
    // '/hang' never reports back; anything else exits 0 at once.
    const execFile: ExecFileFn = (file, _args, _options, callback) => {
      started.push(file);
      if (file !== '/hang') setImmediate(() => callback(null, '', ''));
      return { kill: (signal) => (killed.push(`${file} ${String(signal)}`), true) };
    };
    const outcomes: NotifyOutcome[] = [];
    const runner = new NotifyRunner({ timeoutMs: 30, killGraceMs: 20, execFile, onOutcome: (o) => outcomes.push(o) });
    runner.notify('INSTANCE', 'VI_1', 'MASTER', 150, [['/hang']]);
    runner.notify('INSTANCE', 'VI_1', 'BACKUP', 100, [['/next']]);
    await runner.whenIdle();
    expect(killed).toEqual(['/hang SIGKILL']);
    expect(outcomes.map((o) => `${o.argv[0]} ${o.result}`)).toEqual(['/hang timeout', '/next ok']);
    expect(outcomes[0].durationMs).toBeGreaterThanOrEqual(45);
    expect(started).toEqual(['/hang', '/next']);
  });

  it('ignores empty hook lists and empty argv', async () => {
    const fake = fakeExecFile();
    const runner = new NotifyRunner({ timeoutMs: 100, execFile: fake.execFile });
    runner.notify('INSTANCE', 'VI_1', 'MASTER', 150, []);
    runner.notify('INSTANCE', 'VI_1', 'MASTER', 150, [[]]);
    await runner.whenIdle();
    expect(fake.started).toEqual([]);
  });
});

describe('NotifyRunner with real processes (no shell)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vipd-notify-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'hook.mjs');
  // MASTER hooks are slow: if hooks ran in parallel, later lines would overtake them.
  writeFileSync(
    script,
    `import { appendFileSync } from 'node:fs';
const [out, ...rest] = process.argv.slice(2);
const state = rest[rest.length - 2];
setTimeout(() => appendFileSync(out, rest.join(' ') + '\\n'), state === 'MASTER' ? 150 : 0);
`,
  );

  it('appends the keepalived arguments and keeps transition order', async () => {
    const out = path.join(dir, 'order.txt');
    const runner = new NotifyRunner({ timeoutMs: 5000 });
    const hook = [process.execPath, script, out];
    runner.notify('INSTANCE', 'VI_1', 'MASTER', 150, [hook]);
    runner.notify('INSTANCE', 'VI_1', 'BACKUP', 100, [hook]);
    runner.notify('INSTANCE', 'VI_1', 'MASTER', 150, [hook]);
    runner.notify('INSTANCE', 'VI_1', 'STOP', 150, [hook]);
    await runner.whenIdle();
    expect(readFileSync(out, 'utf8').split('\n')).toEqual([
      'INSTANCE VI_1 MASTER 150',
      'INSTANCE VI_1 BACKUP 100',
      'INSTANCE VI_1 MASTER 150',
      'INSTANCE VI_1 STOP 150',
      '',
    ]);
  });

  it('kills a hook past its time limit and runs the next', async () => {
    const outcomes: NotifyOutcome[] = [];
    const runner = new NotifyRunner({ timeoutMs: 500, onOutcome: (o) => outcomes.push(o) });
    // A hook that hangs (the appended arguments rule out `sleep 10`: it would reject them).
    const hang = [process.execPath, '-e', 'setTimeout(() => {}, 10000)'];
    runner.notify('INSTANCE', 'VI_1', 'FAULT', 0, [hang]);
    // /usr/bin/true, not node: it must finish well inside the limit even on a loaded box.
    runner.notify('INSTANCE', 'VI_1', 'BACKUP', 100, [['/usr/bin/true']]);
    runner.notify('INSTANCE', 'VI_1', 'BACKUP', 100, [['/nonexistent/vipd-hook']]);
    await runner.whenIdle();
    expect(outcomes.map((o) => `${o.argv[0]} ${o.result}`)).toEqual([
      `${process.execPath} timeout`,
      '/usr/bin/true ok',
      '/nonexistent/vipd-hook spawn_error',
    ]);
    expect(outcomes[0].signal).toBe('SIGTERM');
    expect(outcomes[0].durationMs).toBeGreaterThanOrEqual(500);
    expect(outcomes[0].durationMs).toBeLessThan(5000);
  });
});
