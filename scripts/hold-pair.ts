/**
 * Investigation aid: a vipd pair (or a keepalived pair with --keepalived) at
 * one advert interval, held up until SIGINT/SIGTERM, its pids printed, so
 * that perf or /proc/PID/task can be read while it runs.
 * node dist-tools/scripts/hold-pair.js [intervalSeconds] [--keepalived]
 */
import { Site } from './topology.js';
import { Keepalived } from '../test/helpers/keepalived.js';

const advertInterval = Number(process.argv[2] ?? '0.01');
const useKeepalived = process.argv.includes('--keepalived');
const site = await Site.create({ label: 'hold', advertInterval, healthCheck: 'none', ...(useKeepalived ? { vipdHosts: [false, false] } : {}) });
const kas: Keepalived[] = [];
const done = async (): Promise<void> => {
  for (const ka of kas) await ka.stop().catch(() => ka.crash());
  await site.cleanup();
  process.exit(0);
};
process.on('SIGINT', () => void done());
process.on('SIGTERM', () => void done());
if (useKeepalived) {
  for (const [i, priority] of [150, 100].entries()) {
    kas.push(await Keepalived.start(site.lbs[i], { dir: site.lab.tmpDir(), priority, advertInterval, vrid: 51, vips: [`${site.vip}/32`] }));
  }
  await kas[0].waitState('MASTER', 20_000);
  await kas[1].waitState('BACKUP', 20_000);
  console.log(JSON.stringify({ master: kas[0].pids(), backup: kas[1].pids() }));
} else {
  site.startDaemon(0);
  site.startDaemon(1);
  await site.waitState(0, 'MASTER', 20_000);
  await site.waitState(1, 'BACKUP', 20_000);
  console.log(JSON.stringify({ master: [site.daemons[0]?.pid], backup: [site.daemons[1]?.pid] }));
}
setInterval(() => {}, 1 << 30);
