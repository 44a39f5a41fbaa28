/**
 * The BIRD keeper: a small process of its own between vipd and BIRD, so that
 * BIRD (and with it the BGP and BFD sessions and the announced routes) can
 * outlive one vipd and be adopted by the next (a hitless restart, SIGUSR2),
 * yet still dies with a vipd that dies.
 *
 *   node bird-keeper-main.js SOCKET FIRST_CLIENT_MS BIRD [BIRD ARGS...]
 *
 * It starts BIRD under `setpriv --pdeathsig KILL` (a killed keeper takes BIRD
 * with it) and listens on SOCKET for one vipd at a time. Lines of JSON:
 *   vipd -> keeper  {"hold": MS}   when I disconnect, keep BIRD MS more for the next vipd
 *                   {"stop": true} stop BIRD now (routes withdrawn) and exit
 *   keeper -> vipd  {"log": LINE}  a line BIRD wrote to stderr (kept while no vipd is connected)
 *                   {"exit": {"code": N, "signal": S}}  BIRD exited; the keeper exits too
 * A vipd that disconnects without asking for a hold (it crashed or was
 * killed) makes the keeper stop BIRD at once: BIRD closes its sessions with a
 * NOTIFICATION and the routers withdraw this host. So does a hold that runs
 * out, and a first vipd that never connects.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';

/** BIRD log lines kept while no vipd listens (the newest win). */
const BACKLOG_LINES = 200;
/** A BIRD that ignores SIGTERM this long is killed. */
const STOP_KILL_MS = 3000;

export function runKeeper(argv: readonly string[]): void {
  const [socketPath, firstClientMsText, bird, ...birdArgs] = argv;
  const firstClientMs = Number(firstClientMsText);
  if (!socketPath || !bird || !Number.isFinite(firstClientMs)) {
    process.stderr.write('usage: bird-keeper SOCKET FIRST_CLIENT_MS BIRD [ARGS...]\n');
    process.exit(2);
  }
  let client: Socket | undefined;
  /** Hold asked by the connected vipd for when it leaves (ms), or undefined: stop BIRD when it leaves. */
  let holdMs: number | undefined;
  let holdTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  const backlog: string[] = [];

  const send = (msg: object): void => {
    const line = JSON.stringify(msg) + '\n';
    if (client && !client.destroyed) client.write(line);
    else if ('log' in msg) {
      backlog.push(line);
      if (backlog.length > BACKLOG_LINES) backlog.shift();
    }
  };

  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', bird, ...birdArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.setEncoding('utf8');
  let partial = '';
  child.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) send({ log: l.trim() });
  });
  child.on('error', (err) => send({ log: `keeper: BIRD could not be started: ${err.message}` }));

  const stopBird = (why: string): void => {
    if (stopping) return;
    stopping = true;
    send({ log: `keeper: stopping BIRD (${why})` });
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), STOP_KILL_MS).unref();
  };

  const server = createServer((sock) => {
    // One vipd at a time: a new one replaces the old (which is leaving anyway).
    if (client && !client.destroyed) client.destroy();
    client = sock;
    holdMs = undefined;
    clearTimeout(holdTimer);
    for (const line of backlog.splice(0)) sock.write(line);
    sock.setEncoding('utf8');
    let buf = '';
    sock.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let msg: { hold?: unknown; stop?: unknown };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        if (typeof msg.hold === 'number') holdMs = msg.hold;
        if (msg.stop === true) stopBird('vipd asked');
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (client !== sock) return;
      client = undefined;
      if (holdMs === undefined) return stopBird('vipd went away without a handoff');
      const ms = holdMs;
      send({ log: `keeper: vipd handed off; BIRD kept ${ms} ms for the next vipd` });
      holdTimer = setTimeout(() => stopBird(`no vipd took BIRD over within ${ms} ms`), ms);
    });
  });

  child.on('exit', (code, signal) => {
    send({ exit: { code, signal } });
    server.close();
    rmSync(socketPath, { force: true });
    // Let the last line reach vipd, then go.
    if (client && !client.destroyed) client.end(() => process.exit(0));
    else process.exit(0);
    setTimeout(() => process.exit(0), 1000).unref();
  });

  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stopBird(sig));
  rmSync(socketPath, { force: true });
  server.listen(socketPath);
  holdTimer = setTimeout(() => {
    if (!client) stopBird(`no vipd connected within ${firstClientMs} ms`);
  }, firstClientMs);
}
