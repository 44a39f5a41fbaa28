/**
 * Advert pacing under event-loop stalls (issue 4, "Adverts that leave on
 * time"): a MASTER's native sender at 10 ms while its JS event loop is
 * blocked for 100 ms every second; a BACKUP peer in another namespace
 * timestamps arrivals. Prints the sender's max inter-send gap, the
 * receiver's max inter-arrival gap, and how many gaps would have let a
 * VRRPv3 backup's Master_Down timer (3 x interval + skew) expire.
 *
 *   npm run build && npm run build:tools && sudo node dist-tools/bench/vrrp-pacing.js [--seconds 10]
 *     [--interval-ms 10] [--block-ms 100] [--sched-fifo 0] [--json]
 *
 * Goal (not a test assertion): sender max gap < 15 ms, no Master_Down gaps.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AdvertSender, monotonicMs, VrrpSocket } from '../src/net/index.js';
import { NetnsLab } from '../test/helpers/netns.js';

interface Args {
  seconds: number;
  intervalMs: number;
  blockMs: number;
  schedFifo: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, dflt: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  return {
    seconds: get('--seconds', 10),
    intervalMs: get('--interval-ms', 10),
    blockMs: get('--block-ms', 100),
    schedFifo: get('--sched-fifo', 0),
    json: argv.includes('--json'),
  };
}

const ADVERT = Buffer.from('313d960300642d560a4d00640a4d00650a4d0066', 'hex');

function say(event: string, data: unknown): void {
  process.stdout.write(`${JSON.stringify({ event, data })}\n`);
}

async function sender(a: Args): Promise<void> {
  const sock = VrrpSocket.open({ interface: 'eth0', family: 4, source: '10.250.0.1' });
  const s = new AdvertSender(sock, { intervalMs: a.intervalMs, schedPriority: a.schedFifo || undefined });
  s.setAdvert(ADVERT);
  const checkIn = setInterval(() => s.checkIn(), 100);
  s.start();
  const end = performance.now() + a.seconds * 1000;
  let blocks = 0;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 1000 - a.blockMs));
    const until = performance.now() + a.blockMs;
    while (performance.now() < until) {
      /* a synthetic event-loop stall */
    }
    blocks++;
  }
  const stats = s.stats();
  clearInterval(checkIn);
  s.close();
  sock.close();
  say('result', { ...stats, blocks });
}

async function receiver(a: Args): Promise<void> {
  const sock = VrrpSocket.open({ interface: 'eth0', family: 4 });
  const arrivals: number[] = [];
  sock.on('packet', (p) => arrivals.push(p.arrivalMs));
  say('ready', {});
  await new Promise((r) => setTimeout(r, (a.seconds + 1.5) * 1000));
  sock.close();
  let maxGap = 0;
  let masterDown = 0;
  const skewMs = ((256 - 150) * a.intervalMs) / 256;
  for (let i = 1; i < arrivals.length; i++) {
    const gap = arrivals[i] - arrivals[i - 1];
    if (gap > maxGap) maxGap = gap;
    if (gap > 3 * a.intervalMs + skewMs) masterDown++;
  }
  say('result', { received: arrivals.length, maxGapMs: maxGap, masterDownGaps: masterDown, now: monotonicMs() });
}

async function main(): Promise<void> {
  const role = process.argv[2];
  const args = parseArgs(process.argv.slice(2));
  if (role === 'sender') return sender(args);
  if (role === 'receiver') return receiver(args);

  const lab = new NetnsLab('pacing');
  try {
    const m = lab.namespace('master');
    const b = lab.namespace('backup');
    lab.veth(m, 'eth0', b, 'eth0');
    m.addr('eth0', '10.250.0.1/24');
    b.addr('eth0', '10.250.0.2/24');
    const self = fileURLToPath(import.meta.url);
    const rest = process.argv.slice(2);
    const rx = b.node(self, ['receiver', ...rest]);
    await rx.waitEvent('ready');
    const tx = m.node(self, ['sender', ...rest]);
    const timeout = (args.seconds + 10) * 1000;
    const [txr, rxr] = await Promise.all([tx.waitEvent('result', () => true, timeout), rx.waitEvent('result', () => true, timeout)]);
    const out = { intervalMs: args.intervalMs, blockMs: args.blockMs, seconds: args.seconds, sender: txr, receiver: rxr };
    if (args.json) console.log(JSON.stringify(out));
    else {
      const t = txr as { sent: number; maxGapUs: number; late: number; blocks: number; realtime: boolean };
      const r = rxr as { received: number; maxGapMs: number; masterDownGaps: number };
      console.log(`vrrp-pacing: ${args.intervalMs} ms adverts, ${args.blockMs} ms loop block every 1 s, ${args.seconds} s`);
      console.log(`  sender:   sent ${t.sent}, max gap ${(t.maxGapUs / 1000).toFixed(3)} ms, late ${t.late}, blocks ${t.blocks}, SCHED_FIFO ${t.realtime}`);
      console.log(`  receiver: got ${r.received}, max inter-arrival ${r.maxGapMs.toFixed(3)} ms, Master_Down gaps ${r.masterDownGaps}`);
    }
  } finally {
    await lab.cleanup();
  }
}

await main();
