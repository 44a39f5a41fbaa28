/**
 * `vipctl events`: what an operator reads after the fact. Real daemons in a
 * namespace site; the changes are made the way an operator makes them
 * (vipctl drain, an edited file + vipctl reload, SIGHUP, a stopped MASTER)
 * and `vipctl events --json` (and --follow) must list each, with the uid of
 * whoever asked.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VipdEvent } from '../../src/daemon/api.js';
import { packageRoot } from '../../src/native.js';
import { skipReason, waitFor, useDaemonSite } from './fixtures/daemon-site.js';

const VIPCTL = join(packageRoot(), 'bin', 'vipctl');
const RS1 = '10.99.0.21';

/** `vipctl ARGS --socket SOCKET`, run as root like an operator would. */
function vipctl(socket: string, args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [VIPCTL, ...args, '--socket', socket], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function events(socket: string, extra: readonly string[] = []): VipdEvent[] {
  const r = vipctl(socket, ['events', '--json', ...extra]);
  if (r.code !== 0) throw new Error(`vipctl events exited ${r.code}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as VipdEvent);
}

const ROOT = { via: 'control', uid: 0 };

describe.skipIf(skipReason)(`vipctl events${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const env = useDaemonSite({ label: 'events', advertInterval: 0.1 }, [0]);

  it('lists the startup election, then a drain and undrain with the uid that asked', () => {
    const socket = env.site.socket(0);
    expect(vipctl(socket, ['drain', 'web', RS1]).code).toBe(0);
    expect(vipctl(socket, ['undrain', 'web', RS1]).code).toBe(0);
    const list = events(socket);
    expect(list.find((e) => e.type === 'state' && e.to === 'MASTER')).toMatchObject({ instance: 'web', from: 'BACKUP' });
    const drains = list.filter((e) => e.type === 'drain');
    expect(drains).toEqual([
      expect.objectContaining({ service: 'web', backend: RS1, drained: true, changed: true, by: expect.objectContaining(ROOT) }),
      expect.objectContaining({ service: 'web', backend: RS1, drained: false, changed: true, by: expect.objectContaining(ROOT) }),
    ]);
    // Numbered in order, no gap.
    expect(list.map((e) => e.seq)).toEqual(list.map((_, i) => i + 1));
    // The same history for people.
    const text = vipctl(socket, ['events', '--type', 'drain']).stdout;
    expect(text).toMatch(new RegExp(`web: backend ${RS1.replace(/\./g, '\\.')} drained by uid 0`));
  });

  it('a health check going down is a backend event with its reason', async () => {
    const s = env.site;
    await s.setRealServerTcp(0, false);
    try {
      const down = await waitFor('backend down event', () => events(s.socket(0), ['--type', 'backend']).find((e) => e.type === 'backend' && !e.up));
      expect(down).toMatchObject({ service: 'web', backend: RS1, up: false });
      console.log(`[events] ${JSON.stringify(down)}`);
    } finally {
      await s.setRealServerTcp(0, true);
    }
    await waitFor('backend up event', () => events(s.socket(0), ['--type', 'backend']).find((e) => e.type === 'backend' && e.up));
  });

  it('reloads: applied by vipctl with the changed lines and uid, rejected ones too, SIGHUP as a signal', async () => {
    const s = env.site;
    const socket = s.socket(0);
    s.writeConfig(0, s.config(0).replace(`{ address: ${RS1}, weight: 100 }`, `{ address: ${RS1}, weight: 60 }`));
    expect(vipctl(socket, ['reload']).code).toBe(0);
    const applied = events(socket, ['--type', 'reload']).at(-1);
    expect(applied).toMatchObject({ type: 'reload', result: 'applied', by: expect.objectContaining(ROOT) });
    if (applied?.type !== 'reload') throw new Error('no reload event');
    expect(applied.changes.join('\n')).toContain(RS1);
    expect(applied.diff.filter((l) => l.startsWith('-'))[0]).toMatch(new RegExp(`^-\\d+: .*${RS1.replace(/\./g, '\\.')}, weight: 100`));
    expect(applied.diff.filter((l) => l.startsWith('+'))[0]).toMatch(/weight: 60/);

    s.writeConfig(0, s.config(0).replace('advertInterval:', 'advertIntervall:'));
    expect(vipctl(socket, ['reload']).code).toBe(2);
    const rejected = events(socket, ['--type', 'reload']).at(-1);
    expect(rejected).toMatchObject({ result: 'rejected', by: expect.objectContaining(ROOT) });
    expect(rejected?.type === 'reload' && rejected.errors?.join('\n')).toMatch(/advertIntervall/);

    s.writeConfig(0);
    s.daemons[0]!.kill('SIGHUP');
    const bySignal = await waitFor('SIGHUP reload event', () =>
      events(socket, ['--type', 'reload']).find((e) => e.type === 'reload' && e.by.via === 'signal'),
    );
    expect(bySignal).toMatchObject({ result: 'applied', by: { via: 'signal', uid: null, pid: null } });
  });

  it('a failover: --follow on the BACKUP shows its state change and the failover time as they happen', async () => {
    const s = env.site;
    let follower: ChildProcess | undefined;
    try {
      follower = spawn(process.execPath, [VIPCTL, 'events', '--follow', '--json', '--socket', s.socket(1)], { stdio: ['ignore', 'pipe', 'pipe'] });
      const seen: VipdEvent[] = [];
      let buf = '';
      follower.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l) seen.push(JSON.parse(l) as VipdEvent);
      });
      // The history comes first: lb2's own start as BACKUP. It may have been
      // MASTER for a moment at startup (a failover event of its own), and the
      // history may still be streaming: the mark is the last event lb2 holds,
      // read apart, once the follower has it too. Only what follows counts.
      await waitFor('history from --follow', () => (seen.some((e) => e.type === 'state' && e.to === 'BACKUP') ? true : undefined));
      const mark = Math.max(...events(s.socket(1)).map((e) => e.seq));
      await waitFor('the follower to catch up with the history', () => (seen.some((e) => e.seq >= mark) ? true : undefined));
      await s.stopDaemon(0);
      const failover = await waitFor('failover event on lb2', () => seen.find((e) => e.type === 'failover' && e.seq > mark), 20_000);
      const toMaster = seen.find((e) => e.type === 'state' && e.to === 'MASTER' && e.seq > mark);
      expect(toMaster).toMatchObject({ instance: 'web', from: 'BACKUP' });
      expect(failover).toMatchObject({ instance: 'web' });
      if (failover.type !== 'failover') throw new Error('not a failover');
      expect(failover.seconds).toBeGreaterThan(0);
      expect(failover.seconds).toBeLessThan(5);
      expect(failover.seq).toBeGreaterThan(toMaster!.seq);
      console.log(`[events] lb2 took over: ${JSON.stringify(failover)}`);
      // The follower is still attached: it ends only when told to.
      expect(follower.exitCode).toBe(null);
    } finally {
      follower?.kill('SIGTERM');
    }
    // And the plain listing agrees.
    expect(events(s.socket(1), ['--type', 'failover']).length).toBeGreaterThan(0);
  });
});
