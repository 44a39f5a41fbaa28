/**
 * Real processes: a command that times out leaves nothing running, even a
 * grandchild that ignores SIGTERM. Before the shared runner, a track script
 * killed only its direct child and the grandchild lived on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runProgram } from '../../../src/checks/run-program.js';
import { TrackScript } from '../../../src/checks/track-script.js';
import { NotifyRunner, type NotifyOutcome } from '../../../src/daemon/notify-runner.js';
import { Checker } from '../../../src/health/checker.js';
import { systemClock } from '../../../src/health/clock.js';
import type { HealthChange } from '../../../src/health/types.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A shell that ignores SIGTERM (so does the `sleep` it starts: an ignored
 * signal stays ignored across exec), writes "shell-pid sleep-pid" and waits.
 */
function stubbornScript(name: string): { argv: string[]; pids: () => number[] } {
  const pidFile = join(dir, name);
  const argv = ['/bin/sh', '-c', `trap '' TERM; sleep 30 & echo $$ $! > ${pidFile}; wait`];
  return { argv, pids: () => readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) };
}

/** Alive and not a zombie (an orphan may wait a while for its reaper). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function expectAllGone(pids: number[]): Promise<void> {
  expect(pids).toHaveLength(2);
  // SIGTERM is ignored, so only the SIGKILL after the grace (1 s) ends them.
  await vi.waitFor(() => expect(pids.filter(isRunning)).toEqual([]), { timeout: 5000, interval: 20 });
}

describe('a command that times out leaves nothing running', () => {
  it('track script: its grandchild that ignores SIGTERM is killed too', async () => {
    const script = stubbornScript('track');
    const down = new Promise<boolean>((resolve) => {
      const track = new TrackScript(
        { name: 'stubborn', argv: script.argv, intervalMs: 60_000, timeoutMs: 300, rise: 1, fall: 1, weight: -10 },
        {
          clock: systemClock,
          onChange: (_name, up) => {
            track.stop();
            resolve(up);
          },
        },
      );
      track.start();
    });
    expect(await down).toBe(false);
    await expectAllGone(script.pids());
  });

  it('health command check: its grandchild that ignores SIGTERM is killed too', async () => {
    const script = stubbornScript('health');
    const checker = new Checker({
      service: 'web',
      backend: 'cmd',
      probe: { type: 'command', argv: script.argv },
      intervalMs: 60_000,
      timeoutMs: 300,
      rise: 1,
      fall: 1,
      initialState: 'fully-up',
    });
    const change = new Promise<HealthChange>((resolve) => checker.onChange(resolve));
    checker.start();
    const c = await change;
    checker.stop();
    expect(c).toMatchObject({ up: false, reason: expect.stringMatching(/: timed out after 300ms$/) });
    await expectAllGone(script.pids());
  });

  it('notify hook: its grandchild that ignores SIGTERM is killed too', async () => {
    const script = stubbornScript('notify');
    const outcomes: NotifyOutcome[] = [];
    const runner = new NotifyRunner({ timeoutMs: 300, onOutcome: (o) => outcomes.push(o) });
    runner.notify('INSTANCE', 'VI_1', 'MASTER', 150, [script.argv]);
    await runner.whenIdle();
    expect(outcomes.map((o) => o.result)).toEqual(['timeout']);
    await expectAllGone(script.pids());
  });
});

describe('runProgram', () => {
  it('reports the exit status and the stderr it wrote', async () => {
    expect(await runProgram(['/bin/sh', '-c', 'echo oops >&2; exit 4'])).toEqual({ kind: 'exited', code: 4, stderr: 'oops\n' });
  });

  it('a program that cannot start is an outcome, not an exception', async () => {
    expect(await runProgram(['/nonexistent/script'])).toEqual({ kind: 'spawn-error', code: 'ENOENT' });
  });

  it('its own time limit stops the whole group the same way', async () => {
    const script = stubbornScript('limit');
    expect(await runProgram(script.argv, { timeoutMs: 200, killGraceMs: 100 })).toMatchObject({ kind: 'stopped' });
    await expectAllGone(script.pids());
  });
});
