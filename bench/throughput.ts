/**
 * Throughput through veth: packets per second forwarded by vipd's program
 * attached in native XDP mode, with real frames between namespaces.
 *
 *   gen ns                                   lb ns
 *   eth0 (xdp_count: count by dst MAC, drop) <-veth-> eth0 (program under test)
 *    ^ BPF_PROG_RUN live frames of xdp_livegen (XDP_TX out of gen's eth0)
 *
 * The generator (bench/bpf/xdp_livegen.bpf.c) runs in a node child inside
 * the generator namespace (a live-frames test run transmits on the ingress
 * ifindex of the caller's namespace): a template TCP SYN to the VIP, the
 * source port changed every frame. The balancer sends every frame back out
 * of the interface it came in on (direct routing), so the real servers'
 * frames arrive at the generator's veth, where bench/bpf/xdp_count.bpf.c
 * counts them by destination MAC (the real server's) and drops them. The
 * same topology with XDP_DROP (xdp_count on the balancer) and a MAC swap
 * XDP_TX on the balancer gives the hook's limits. Kernel LVS/IPVS is
 * compared only when /proc/net/ip_vs exists (it does not on this kernel).
 *
 * Every figure is frames counted / the generator's wall time over one run
 * (a frame-count and a time bound, whichever comes first); median over
 * interleaved rounds with min..max.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ObjectSpec, type PerCpuMap, type Program, TestRunFlag, resolveIfindex, types as t } from '../src/bpf/index.js';
import { Dataplane } from '../src/dataplane/manager.js';
import { packageRoot } from '../src/native.js';
import { NetnsLab, type Namespace, type NodeChild } from '../test/helpers/netns.js';
import { tcpSyn } from './frames.js';
import {
  type BenchContext,
  type Section,
  type SectionOutcome,
  type Skip,
  type Summary,
  fmt,
  formatTable,
  summarize,
} from './lib.js';
import { barChart } from './svg.js';

const OBJ = {
  vipd: 'out/bpf/vipd.bpf.o',
  livegen: 'out/bench/bpf/xdp_livegen.bpf.o',
  count: 'out/bench/bpf/xdp_count.bpf.o',
  macswap: 'out/bench/bpf/xdp_macswap.bpf.o',
} as const;

const GEN_MAC = '02:00:00:00:0a:01';
const LB_MAC = '02:00:00:00:0b:01';
const VIP = '10.98.0.100';
const CLIENT = '10.98.0.10';
const PORT = 80;
const REALS = [
  { address: '10.98.0.21', mac: '02:00:00:00:0c:21' },
  { address: '10.98.0.22', mac: '02:00:00:00:0c:22' },
];

/** The template frame: a TCP SYN from the client to VIP:80, gen -> lb. */
function template(): Buffer {
  const f = tcpSyn(CLIENT, 1024, VIP, PORT);
  Buffer.from(LB_MAC.replace(/:/g, ''), 'hex').copy(f, 0);
  Buffer.from(GEN_MAC.replace(/:/g, ''), 'hex').copy(f, 6);
  return f;
}

/** Headers the generator restores before every frame (Ethernet + IPv4 + TCP). */
const TEMPLATE_BYTES = 14 + 20 + 20;

// ---------------------------------------------------------------------------
// The generator child: `node throughput.js livegen` inside the generator
// namespace, JSON lines on stdin/stdout (test/helpers/netns.ts NodeChild).

interface GenRequest {
  ifname: string;
  frame: string;
  maxFrames: number;
  maxSeconds: number;
  batchSize: number;
}

interface GenResult {
  frames: number;
  seconds: number;
  calls: number;
}

async function generatorChild(): Promise<void> {
  const coll = await ObjectSpec.open(join(packageRoot(), OBJ.livegen)).load();
  const prog = coll.program('xdp_livegen');
  const tpl = coll.map('template', t.u32, t.bytes(TEMPLATE_BYTES));
  coll.close();
  const send = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  const rl = createInterface({ input: process.stdin });
  send({ event: 'ready', data: {} });
  for await (const line of rl) {
    const req = JSON.parse(line) as { id: number; op: string; args: GenRequest };
    try {
      if (req.op !== 'run') throw new Error(`unknown op ${req.op}`);
      tpl.update(0, Buffer.from(req.args.frame, 'hex').subarray(0, TEMPLATE_BYTES));
      send({ id: req.id, ok: true, result: await generate(prog, req.args) });
    } catch (err) {
      send({ id: req.id, ok: false, error: { message: (err as Error).message, code: (err as { code?: string }).code } });
    }
  }
  prog.close();
  tpl.close();
}

async function generate(prog: Program, a: GenRequest): Promise<GenResult> {
  const data = Buffer.from(a.frame, 'hex');
  // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex.
  const ctx = Buffer.alloc(24);
  ctx.writeUInt32LE(data.length, 4);
  ctx.writeUInt32LE(resolveIfindex(a.ifname), 12);
  // Chunks of ~50 ms at 2 Mpps, so the time bound is kept to within a chunk.
  const chunk = Math.min(100_000, a.maxFrames);
  const start = process.hrtime.bigint();
  const limitNs = BigInt(Math.round(a.maxSeconds * 1e9));
  let frames = 0;
  let calls = 0;
  while (frames < a.maxFrames && process.hrtime.bigint() - start < limitNs) {
    const repeat = Math.min(chunk, a.maxFrames - frames);
    // Live mode takes no data_out or ctx_out: sizes 0 keep them null.
    await prog.runAsync({ data, ctx, ctxSizeOut: 0, dataSizeOut: 0, repeat, flags: TestRunFlag.XdpLiveFrames, batchSize: a.batchSize });
    frames += repeat;
    calls++;
  }
  return { frames, seconds: Number(process.hrtime.bigint() - start) / 1e9, calls };
}

// ---------------------------------------------------------------------------
// The section.

interface CaseFigure {
  name: string;
  group: string;
  /** Mpps counted where the case counts (sink or balancer). */
  mpps: Summary;
  /** Mpps the generator offered in the same runs. */
  offeredMpps: Summary;
  /** Frames counted / frames generated, summed over rounds. */
  delivered: number;
  /** Per destination (real server) frames counted, summed over rounds (vipd). */
  perDestination?: Record<string, number>;
  samples: { frames: number; counted: number; seconds: number }[];
}

/** Per-CPU frame counts of an xdp_count instance, by destination MAC. */
function countsByMac(map: PerCpuMap<Buffer, bigint>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of map.lookupBatch(256)) {
    const mac = [...k.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
    out.set(mac, v.reduce((a, b) => a + Number(b), 0));
  }
  return out;
}

function xdpMode(ns: Namespace, ifname: string): string {
  const [l] = ns.ipJson<{ xdp?: { mode?: number } }[]>(['link', 'show', 'dev', ifname]);
  return ['none', 'native', 'generic', 'offload', 'multi'][l?.xdp?.mode ?? 0] ?? String(l?.xdp?.mode);
}

function ipvsSkip(): Skip | undefined {
  return existsSync('/proc/net/ip_vs')
    ? undefined
    : {
        what: 'kernel LVS/IPVS (DR) in the same topology',
        why: 'this kernel has no IPVS (/proc/net/ip_vs is absent); no kernel balancer to compare with',
      };
}

export const throughput: Section = {
  key: 'throughput',
  title: 'Throughput through veth (native XDP, live frames)',
  requires: { root: true, native: true, objects: Object.values(OBJ) },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const skipped: Skip[] = [];
    const ipvs = ipvsSkip();
    if (ipvs) {
      skipped.push(ipvs);
      ctx.progress(`throughput: kernel LVS/IPVS skipped: /proc/net/ip_vs is absent (no IPVS in this kernel)`);
    } else {
      skipped.push({ what: 'kernel LVS/IPVS (DR) in the same topology', why: 'IPVS is present but the comparison is not implemented yet' });
    }
    const rounds = ctx.quick ? 1 : 3;
    const maxSeconds = ctx.quick ? 0.5 : 1.2;
    const maxFrames = ctx.quick ? 1_000_000 : 5_000_000;
    const batchSize = 64;
    const root = ctx.root;
    const lab = new NetnsLab('tput');
    let dp: Dataplane | undefined;
    const closers: (() => void)[] = [];
    try {
      ctx.progress('throughput: namespaces gen <-veth-> lb, pinned programs on a private bpffs');
      const gen = lab.namespace('gen');
      const lb = lab.namespace('lb');
      for (const ns of [gen, lb]) ns.execSync('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      lab.veth(gen, 'eth0', lb, 'eth0', { macA: GEN_MAC, macB: LB_MAC });
      const pins = lab.bpffs();
      const [lbLink] = lb.ipJson<{ ifindex: number }[]>(['link', 'show', 'dev', 'eth0']);

      // The programs, loaded here and pinned so `ip -n NS link set ... pinned` attaches them.
      const load = async (obj: string, prog: string, pin: string): Promise<{ map?: PerCpuMap<Buffer, bigint> }> => {
        const coll = await ObjectSpec.open(join(root, obj)).load();
        try {
          const p = coll.program(prog);
          p.pin(join(pins, pin));
          p.close();
          const map = coll.mapNames.includes('count_by_dmac') ? coll.perCpuMap('count_by_dmac', t.bytes(8), t.u64) : undefined;
          if (map) closers.push(() => map.close());
          return { map };
        } finally {
          coll.close();
        }
      };
      const sink = (await load(OBJ.count, 'xdp_count', 'sink')).map!;
      const lbDrop = (await load(OBJ.count, 'xdp_count', 'lbdrop')).map!;
      await load(OBJ.macswap, 'xdp_macswap', 'macswap');

      dp = await Dataplane.open({ object: join(root, OBJ.vipd), sizes: { services: 1 }, ringQuiesceMs: 0 });
      dp.program.pin(join(pins, 'vipd'));
      dp.enableInterface(lbLink.ifindex, LB_MAC);
      dp.activate(0, Infinity, lbLink.ifindex);
      dp.setVip(VIP, 0);
      REALS.forEach((r, i) => dp!.setReal(i, r));
      const service = { vip: VIP, port: PORT, protocol: 'tcp' as const, instance: 0 };
      dp.addService(service);
      await dp.setBackends(
        service,
        REALS.map((r, i) => ({ real: i, key: r.address, weight: 100 })),
      );

      const attach = (ns: Namespace, pin: string): void => {
        ns.ip(['link', 'set', 'dev', 'eth0', 'xdpdrv', 'off']);
        ns.ip(['link', 'set', 'dev', 'eth0', 'xdpdrv', 'pinned', join(pins, pin)]);
        const mode = xdpMode(ns, 'eth0');
        if (mode !== 'native') throw new Error(`${ns.label}/eth0: ${pin} attached in ${mode} mode, not native`);
      };
      attach(gen, 'sink');

      const script = fileURLToPath(import.meta.url);
      if (!script.endsWith('.js')) throw new Error(`throughput: run from the build (node dist-tools/bench/run.js), not ${script}`);
      const child: NodeChild = gen.node(script, ['livegen']);
      await child.waitEvent('ready', () => true, 15_000);

      const frame = template().toString('hex');
      const cases = [
        {
          name: 'vipd forward (DR, XDP_TX)',
          group: 'vipd',
          lbPin: 'vipd',
          map: sink,
          counts: (m: Map<string, number>) => REALS.reduce((a, r) => a + (m.get(r.mac) ?? 0), 0),
        },
        { name: 'XDP_DROP on the balancer', group: 'hook limit', lbPin: 'lbdrop', map: lbDrop, counts: (m: Map<string, number>) => m.get(LB_MAC) ?? 0 },
        { name: 'MAC swap XDP_TX', group: 'hook limit', lbPin: 'macswap', map: sink, counts: (m: Map<string, number>) => m.get(GEN_MAC) ?? 0 },
      ];
      const samples = new Map(cases.map((c) => [c.name, [] as CaseFigure['samples']]));
      const perDest = new Map<string, number>();
      ctx.progress(
        `throughput: ${cases.length} cases x ${rounds} rounds, each run ${maxFrames / 1e6}M frames or ${maxSeconds} s (load ${loadavg()[0].toFixed(2)}, ${availableParallelism()} CPUs)`,
      );
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < cases.length; i++) {
          const c = cases[(i + round) % cases.length];
          attach(lb, c.lbPin);
          const before = countsByMac(c.map);
          const res = await child.call<GenResult>('run', { ifname: 'eth0', frame, maxFrames, maxSeconds, batchSize }, (maxSeconds + 20) * 1000);
          await new Promise((r) => setTimeout(r, 100)); // let the last frames land
          const after = countsByMac(c.map);
          const delta = new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
          const counted = c.counts(delta);
          samples.get(c.name)!.push({ frames: res.frames, counted, seconds: res.seconds });
          if (c.lbPin === 'vipd') for (const r of REALS) perDest.set(r.address, (perDest.get(r.address) ?? 0) + (delta.get(r.mac) ?? 0));
          ctx.progress(
            `throughput: round ${round + 1}/${rounds} ${c.name}: ${fmt(counted / res.seconds / 1e6, 3)} Mpps counted, ${fmt(res.frames / res.seconds / 1e6, 3)} Mpps offered`,
          );
          if (counted === 0 && c.lbPin === 'vipd') {
            const v = dp.counters().verdicts;
            const top = Object.entries(v)
              .filter(([, x]) => x.packets > 0n)
              .map(([k, x]) => `${k}=${x.packets}`)
              .join(' ');
            throw new Error(`vipd forwarded nothing to the real servers' MACs; its verdicts: ${top || 'none'}`);
          }
        }
      }
      await child.stop();
      lb.ip(['link', 'set', 'dev', 'eth0', 'xdpdrv', 'off']);

      const figures: CaseFigure[] = cases.map((c) => {
        const s = samples.get(c.name)!;
        const frames = s.reduce((a, x) => a + x.frames, 0);
        const counted = s.reduce((a, x) => a + x.counted, 0);
        return {
          name: c.name,
          group: c.group,
          mpps: summarize(s.map((x) => x.counted / x.seconds / 1e6)),
          offeredMpps: summarize(s.map((x) => x.frames / x.seconds / 1e6)),
          delivered: frames ? counted / frames : 0,
          perDestination: c.lbPin === 'vipd' ? Object.fromEntries(perDest) : undefined,
          samples: s,
        };
      });

      const svgFile = join(ctx.resultsDir, 'throughput.svg');
      writeFileSync(
        svgFile,
        barChart({
          title: 'vipd throughput through veth (native XDP)',
          subtitle: `live frames -> veth -> balancer -> veth -> XDP counter; median of ${rounds}, min..max; no IPVS here`,
          unit: 'Mpps (frames counted / generator wall time)',
          digits: 3,
          bars: figures.map((f) => ({ label: f.name, value: f.mpps.median, min: f.mpps.min, max: f.mpps.max, group: f.group })),
        }),
      );
      const vipd = figures[0];
      const table =
        formatTable(
          [
            ['case', 'Mpps (median)', 'min', 'max', 'offered Mpps', 'delivered', 'ns/frame (chain)'],
            ...figures.map((f) => [
              f.name,
              fmt(f.mpps.median, 3),
              fmt(f.mpps.min, 3),
              fmt(f.mpps.max, 3),
              fmt(f.offeredMpps.median, 3),
              `${fmt(f.delivered * 100, 1)}%`,
              fmt(1000 / f.mpps.median, 0),
            ]),
          ],
          [false, true, true, true, true, true, true],
        ) +
        `\nvipd per real server: ${Object.entries(vipd.perDestination ?? {})
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}` +
        `\nkernel LVS/IPVS: ${ipvs ? 'skipped (/proc/net/ip_vs is absent: no IPVS in this kernel)' : 'not compared'}` +
        `\nthe generator, both veth ends and the counter share the generator's CPU (a live-frames run processes the veth NAPI in its own softirq), so a figure is the whole chain's rate`;
      return {
        json: {
          cases: figures,
          ipvs: ipvs ? 'skipped: /proc/net/ip_vs is absent (no IPVS in this kernel)' : 'not compared',
          run: { rounds, maxFrames, maxSeconds, batchSize, frameBytes: frame.length / 2, loadavg: loadavg(), cpus: availableParallelism() },
        },
        table,
        files: [svgFile],
        skipped,
      };
    } finally {
      for (const c of closers) c();
      dp?.close();
      await lab.cleanup();
    }
  },
};

if (process.argv[2] === 'livegen' && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await generatorChild();
}
