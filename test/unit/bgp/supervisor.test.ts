/**
 * The supervisor with a real BIRD (Debian bird2): it starts, takes the VIPs
 * to announce into its table through `configure`, withdraws them, and comes
 * back after being killed. The peer does not exist: only BIRD's own table is
 * checked here (test/netns/bgp-ecmp has the routers).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { birdCommand, BirdSupervisor } from '../../../src/bgp/index.js';

const haveBird = (() => {
  try {
    execFileSync('bird', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function routes(sock: string): Promise<string> {
  const lines = await birdCommand(sock, 'show route');
  return lines.map((l) => l.text).join('\n');
}

describe.skipIf(!haveBird || process.getuid?.() !== 0)('BirdSupervisor (real BIRD)', () => {
  let dir = '';
  let sup: BirdSupervisor | undefined;
  afterEach(async () => {
    await sup?.stop();
    sup = undefined;
    // BIRD may still be writing its socket directory as it exits: retry ENOTEMPTY.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10 });
  });

  it('announces and withdraws VIPs by reconfiguring, and restarts BIRD when it dies', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vipd-bird-'));
    sup = new BirdSupervisor(
      {
        asn: 65001,
        routerId: '192.0.2.2',
        peers: [{ address: { address: '192.0.2.1', family: 4 }, asn: 65000, bfd: false, holdTime: 9 }],
        gracePeriod: 0,
        runDir: dir,
      },
      { logger: quiet, pollMs: 100 },
    );
    await sup.start();
    expect(await routes(sup.socketPath)).not.toContain('198.51.100.10/32');

    await sup.announce(['198.51.100.10', '2001:db8:1::10']);
    const table = await routes(sup.socketPath);
    expect(table).toContain('198.51.100.10/32');
    expect(table).toContain('2001:db8:1::10/128');
    expect(sup.sessions()).toEqual([{ peer: '192.0.2.1', up: false, state: expect.any(String) }]);

    await sup.announce(['2001:db8:1::10']);
    expect(await routes(sup.socketPath)).not.toContain('198.51.100.10/32');

    // A reload with another peer: BIRD gets a session for it, the announced routes stay.
    await sup.reconfigure({
      asn: 65001,
      routerId: '192.0.2.2',
      peers: [
        { address: { address: '192.0.2.1', family: 4 }, asn: 65000, bfd: false, holdTime: 9 },
        { address: { address: '192.0.2.3', family: 4 }, asn: 65000, bfd: true, holdTime: 3 },
      ],
      gracePeriod: 0,
      runDir: dir,
    });
    const protocols = (await birdCommand(sup.socketPath, 'show protocols')).map((l) => l.text).join('\n');
    expect(protocols).toMatch(/peer_192_0_2_3\s+BGP/);
    expect(protocols).toMatch(/bfd\d*\s+BFD/);
    expect(await routes(sup.socketPath)).toContain('2001:db8:1::10/128');

    const pid = Number(execFileSync('cat', [join(dir, 'bird.pid')]).toString().trim());
    process.kill(pid, 'SIGKILL');
    // Restarted with the announced set from the config file it was left.
    await until('BIRD back with the VIP', async () => {
      const now = Number(execFileSync('cat', [join(dir, 'bird.pid')]).toString().trim());
      if (now === pid) return undefined;
      return (await routes(sup!.socketPath).catch(() => '')).includes('2001:db8:1::10/128') || undefined;
    });
  }, 20_000);

  const config = (runDir: string) => ({
    asn: 65001,
    routerId: '192.0.2.2',
    peers: [{ address: { address: '192.0.2.1', family: 4 as const }, asn: 65000, bfd: false, holdTime: 9 }],
    gracePeriod: 0,
    runDir,
  });

  it('takes VIPs announced before start (the run directory does not exist yet) into the BIRD it starts', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vipd-bird-'));
    sup = new BirdSupervisor(config(join(dir, 'run')), { logger: quiet, pollMs: 100 });
    await sup.announce(['198.51.100.10']);
    await sup.start();
    expect(await routes(sup.socketPath)).toContain('198.51.100.10/32');
  }, 20_000);

  it('hands BIRD off to the next supervisor: same BIRD process, routes kept; a new set applies after adoption', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vipd-bird-'));
    const first = new BirdSupervisor(config(dir), { logger: quiet, pollMs: 100 });
    await first.start();
    await first.announce(['198.51.100.10', '198.51.100.11']);
    const pid = Number(execFileSync('cat', [join(dir, 'bird.pid')]).toString().trim());
    await first.handoff(5000);

    sup = new BirdSupervisor(config(dir), { logger: quiet, pollMs: 100 });
    await sup.start();
    expect(Number(execFileSync('cat', [join(dir, 'bird.pid')]).toString().trim())).toBe(pid);
    expect(sup.announced).toEqual(['198.51.100.10', '198.51.100.11']);
    const table = await routes(sup.socketPath);
    expect(table).toContain('198.51.100.10/32');
    expect(table).toContain('198.51.100.11/32');
    await sup.announce(['198.51.100.11']);
    expect(await routes(sup.socketPath)).not.toContain('198.51.100.10/32');
  }, 20_000);
});
