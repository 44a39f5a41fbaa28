/**
 * Data plane per packet: BPF_PROG_TEST_RUN of vipd's XDP program on each of
 * its paths, beside XDP_PASS, a MAC swap, the minimal DR yardstick and an
 * IPIP balancer, all through the same template-restoring wrapper
 * (bench/bpf/xdp_bench_wrapper.bpf.c) so every repetition sees the original
 * frame. Rounds are interleaved; a case's figure is the median over rounds
 * of (wrapper + program) - (wrapper alone, same frame), in ns per packet.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release } from 'node:os';
import { join } from 'node:path';
import {
  type BpfMap,
  type Collection,
  ObjectSpec,
  type Program,
  type ProgArrayMap,
  struct,
  types as t,
  xdpVerdictName,
} from '../src/bpf/index.js';
import { REASONS } from '../src/dataplane/abi.js';
import { Dataplane } from '../src/dataplane/manager.js';
import { buildMaglevTable } from '../src/dataplane/maglev.js';
import { DEFAULT_PENDING } from '../src/dataplane/sizing.js';
import {
  type BenchContext,
  type Section,
  type SectionOutcome,
  type Skip,
  fmt,
  formatTable,
  median,
  summarize,
  type Summary,
} from './lib.js';
import { barChart } from './svg.js';
import { OUR_MAC, TCP_SPORT_OFFSET, arpRequest, ipv4, neighborSolicitation, tcpSyn } from './frames.js';
import { TABLE_PORT, clientKeys, deleteRaw, fillTags, loadTableVipd, type TableVipd } from './conntrack.js';

const XDP_PASS = 2;
const XDP_TX = 3;

const OBJ = {
  wrapper: 'out/bench/bpf/xdp_bench_wrapper.bpf.o',
  pass: 'out/bench/bpf/xdp_bench_pass.bpf.o',
  macswap: 'out/bench/bpf/xdp_macswap.bpf.o',
  yardstick: 'out/bench/bpf/xdp_yardstick.bpf.o',
  ipip: 'out/bench/bpf/xdp_ipip.bpf.o',
  vipd: 'out/bpf/vipd.bpf.o',
} as const;

const VIP4 = '203.0.113.42';
const VIP6 = '2001:db8::42';
const CLIENT4 = '198.51.100.7';
const CLIENT6 = '2001:db8::7';
const PORT = 80;
/** Real servers in every balancer's Maglev ring. */
const REALS = Array.from({ length: 10 }, (_, i) => ({
  key: `10.0.0.${11 + i}`,
  weight: 100,
  mac: Buffer.from([0x02, 0x00, 0x0a, 0x00, 0x00, 11 + i]),
}));
/** The loopback device: the ingress interface of a test run without ctx. */
const TEST_RUN_IFINDEX = 1;

const TPL_MAX = 256;
const templateCodec = struct('bench_template', {
  len: t.u32,
  vary_off: t.u16,
  vary_len: t.u16,
  data: t.bytes(TPL_MAX),
});

interface Frame {
  name: string;
  bytes: Buffer;
  /** Write a per-packet sequence number here (2 bytes): a new flow each packet. */
  varyOffset?: number;
}

interface Case {
  id: string;
  label: string;
  group: 'vipd' | 'anchor';
  program: Program;
  frame: Frame;
  expect: number;
  /** vipd only: the verdict counters, to name the reason of an unexpected verdict. */
  reasons?: () => number[];
  /** Run without the wrapper (for calibration: XDP_PASS only). */
  direct?: boolean;
  /** A fixed repeat count instead of the calibrated one (a case whose state a run uses up). */
  repeat?: number;
  /** Puts the case's state back before each run (e.g. the promotion case's pending flows). */
  before?: () => void;
}

/** The table fills of the lookup-cost cases: the 65536 flows a run cycles through, then others. */
const FILLS = [65_536, 262_144, 1_048_576];
/** TCP flags byte of tcpSyn()'s frame. */
const TCP_FLAGS_OFFSET = 14 + 20 + 13;

function withTcpFlags(frame: Buffer, flags: number): Buffer {
  const out = Buffer.from(frame);
  out[TCP_FLAGS_OFFSET] = flags;
  return out;
}

interface Sample {
  gross: number;
  wall: number;
  /** Kernel instructions per repetition (the whole call / repeat); undefined without a counter. */
  insns?: number;
}

interface CaseResult {
  id: string;
  label: string;
  group: string;
  frame: string;
  verdict: string;
  repeat: number;
  /** (wrapper + program) - wrapper alone, ns/packet, over rounds. */
  net: Summary;
  gross: Summary;
  wrapper: Summary;
  /** Same from wall-clock time around the syscall (includes interrupts), ns/packet. */
  wallNet: Summary;
  /** min(wrapper + program) - min(wrapper alone): the least-disturbed runs, robust on a busy machine. */
  best: number;
  ratioToYardstick: number | undefined;
  /**
   * Kernel instructions per packet, (wrapper + program) - (wrapper alone), median over rounds:
   * what the program executes, JIT-compiled, with the helpers and map code it calls. Unlike ns it
   * does not move with the machine's load. Undefined where there is no instruction counter.
   */
  insns: number | undefined;
  insnsRatioToYardstick: number | undefined;
  samples: { gross: number[]; wrapper: number[] };
}

/** Loads one object; errors say which. */
async function load(ctx: BenchContext, rel: string): Promise<Collection> {
  const spec = ObjectSpec.open(join(ctx.root, rel));
  return spec.load();
}

function setupReferenceBalancer(coll: Collection): void {
  const svcKey = struct('bench_svc_key', { addr: t.bytes(4), port: t.be16, proto: t.u8, pad: t.u8 });
  const svc = struct('bench_svc', { ring: t.u32, tunnel_src: t.bytes(4) });
  const real = struct('bench_real', { mac: t.bytes(6), pad: t.u16, addr: t.bytes(4) });
  const services = coll.map('bench_services', svcKey, svc);
  const ring = coll.map('bench_ring', t.u32, t.u32);
  const reals = coll.map('bench_reals', t.u32, real);
  try {
    services.update({ addr: ipv4(VIP4), port: PORT, proto: 6, pad: 0 }, { ring: 0, tunnel_src: ipv4('192.0.2.2') });
    REALS.forEach((r, i) => reals.update(i, { mac: r.mac, pad: 0, addr: ipv4(r.key) }));
    const table = buildMaglevTable(REALS);
    ring.updateBatch(Array.from(table, (v, i) => [i, v] as const));
  } finally {
    services.close();
    ring.close();
    reals.close();
  }
}

/**
 * vipd's program, configured through src/dataplane/manager.ts as the daemon
 * does it: one instance active with a finite lease (the daemon's are three
 * advertisement intervals; an hour here so no run outlives it), the VIPs, one TCP
 * service whose Maglev ring spreads over REALS, and the loopback device (the
 * ingress of a test run without ctx) enabled with OUR_MAC.
 */
async function openVipd(object: string): Promise<Dataplane> {
  const dp = await Dataplane.open({ object, sizes: { services: 4 }, ringQuiesceMs: 0 });
  try {
    dp.enableInterface(TEST_RUN_IFINDEX, OUR_MAC);
    dp.activate(0, 3600, TEST_RUN_IFINDEX);
    dp.setVip(VIP4, 0);
    dp.setVip(VIP6, 0);
    REALS.forEach((r, i) => dp.setReal(i, { mac: r.mac, address: r.key }));
    const service = { vip: VIP4, port: PORT, protocol: 'tcp' as const, instance: 0 };
    await dp.addService(service);
    await dp.setBackends(
      service,
      REALS.map((r, i) => ({ real: i, key: r.key, weight: r.weight })),
    );
    return dp;
  } catch (err) {
    dp.close();
    throw err;
  }
}

/** Packets counted per verdict reason: to say why a case took another path. */
function reasonCounter(dp: Dataplane): () => number[] {
  return () => {
    const v = dp.counters().verdicts;
    return REASONS.map((r) => Number(v[r].packets));
  };
}

class Harness {
  private readonly tpl: BpfMap<number, { len: number; vary_off: number; vary_len: number; data: Buffer }>;
  private readonly target: ProgArrayMap;
  private current: { frame?: Frame; program?: Program | null } = {};

  constructor(
    readonly wrapper: Program,
    wrapperColl: Collection,
  ) {
    this.tpl = wrapperColl.map('bench_tpl', t.u32, templateCodec);
    this.target = wrapperColl.progArray('bench_target');
  }

  /** Sets the template frame and the program under test (null: the wrapper alone). */
  arm(frame: Frame, program: Program | null): void {
    if (this.current.frame !== frame) {
      if (frame.bytes.length > TPL_MAX) throw new Error(`frame ${frame.name} exceeds ${TPL_MAX} bytes`);
      this.tpl.update(0, {
        len: frame.bytes.length,
        vary_off: frame.varyOffset ?? 0,
        vary_len: frame.varyOffset === undefined ? 0 : 2,
        data: frame.bytes,
      });
    }
    if (this.current.program !== program) {
      if (program) this.target.set(0, program);
      else this.target.clear(0);
    }
    this.current = { frame, program };
  }

  run(frame: Frame, program: Program | null, repeat: number): RunOutcome {
    this.arm(frame, program);
    const t0 = process.hrtime.bigint();
    const r = this.wrapper.run({ data: frame.bytes, repeat, countInstructions: true });
    const wall = Number(process.hrtime.bigint() - t0) / repeat;
    return { gross: r.durationNs, wall, retval: r.retval, data: r.data, insns: perRun(r.instructions, repeat) };
  }

  close(): void {
    this.tpl.close();
    this.target.close();
  }
}

type RunOutcome = Sample & { retval: number; data: Buffer };

function runDirect(program: Program, frame: Frame, repeat: number): RunOutcome {
  const t0 = process.hrtime.bigint();
  const r = program.run({ data: frame.bytes, repeat, countInstructions: true });
  return {
    gross: r.durationNs,
    wall: Number(process.hrtime.bigint() - t0) / repeat,
    retval: r.retval,
    data: r.data,
    insns: perRun(r.instructions, repeat),
  };
}

function perRun(total: number | undefined, repeat: number): number | undefined {
  return total === undefined ? undefined : total / repeat;
}

/** Median over rounds of (case - wrapper alone) instructions; undefined if any round lacks a count. */
function netInsns(g: Sample[], b: Sample[]): number | undefined {
  const diffs: number[] = [];
  for (let i = 0; i < g.length; i++) {
    const x = g[i].insns;
    const y = b[i]?.insns;
    if (x === undefined || y === undefined) return undefined;
    diffs.push(x - y);
  }
  return diffs.length ? median(diffs) : undefined;
}

export const dataplane: Section = {
  key: 'dataplane',
  title: 'Data plane per packet (BPF_PROG_TEST_RUN)',
  requires: {
    root: true,
    native: true,
    objects: [OBJ.wrapper, OBJ.pass, OBJ.macswap, OBJ.yardstick, OBJ.ipip],
  },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const skipped: Skip[] = [];
    openTables.length = 0;
    const rounds = ctx.quick ? 5 : 15;
    const targetMs = ctx.quick ? 10 : 30;
    const colls: Collection[] = [];
    const progs: Program[] = [];
    const keepColl = (c: Collection): Collection => (colls.push(c), c);
    const keep = (p: Program): Program => (progs.push(p), p);

    ctx.progress('dataplane: loading the wrapper and the anchor programs');
    const wrapperColl = keepColl(await load(ctx, OBJ.wrapper));
    let dp: Dataplane | undefined;
    const harness = new Harness(keep(wrapperColl.program('xdp_bench_wrapper')), wrapperColl);
    try {
      const passProg = keep(keepColl(await load(ctx, OBJ.pass)).program('xdp_bench_pass'));
      const macswap = keep(keepColl(await load(ctx, OBJ.macswap)).program('xdp_macswap'));
      const yardColl = keepColl(await load(ctx, OBJ.yardstick));
      setupReferenceBalancer(yardColl);
      const yardstick = keep(yardColl.program('xdp_yardstick'));
      const ipipColl = keepColl(await load(ctx, OBJ.ipip));
      setupReferenceBalancer(ipipColl);
      const ipip = keep(ipipColl.program('xdp_ipip'));

      const syn: Frame = { name: 'tcp4-syn', bytes: tcpSyn(CLIENT4, 40000, VIP4, PORT) };
      const synNew: Frame = { name: 'tcp4-syn-new-flow', bytes: syn.bytes, varyOffset: TCP_SPORT_OFFSET };
      const arp: Frame = { name: 'arp-request', bytes: arpRequest(CLIENT4, VIP4) };
      const ns: Frame = { name: 'ipv6-ns', bytes: neighborSolicitation(CLIENT6, VIP6) };
      const other: Frame = { name: 'tcp4-not-vip', bytes: tcpSyn(CLIENT4, 40000, '192.0.2.99', 22) };

      const ack: Frame = { name: 'tcp4-ack', bytes: withTcpFlags(syn.bytes, 0x10) };
      const cases: Case[] = [];
      const tables: TableInfo[] = [];
      let vipd: Program | undefined;
      let reasons: (() => number[]) | undefined;
      try {
        ctx.progress('dataplane: loading out/bpf/vipd.bpf.o and configuring its maps');
        dp = await openVipd(join(ctx.root, OBJ.vipd));
        reasons = reasonCounter(dp);
        vipd = dp.program;
      } catch (err) {
        skipped.push({ what: 'vipd program (ARP, NS, forward, pass)', why: (err as Error).message.split('\n')[0] });
      }
      if (vipd) {
        const vipdCases: Case[] = [];
        vipdCases.push(
          { id: 'vipd_arp_reply', label: 'vipd ARP reply', group: 'vipd', program: vipd, frame: arp, expect: XDP_TX },
          { id: 'vipd_ns_reply', label: 'vipd NS reply', group: 'vipd', program: vipd, frame: ns, expect: XDP_TX },
          { id: 'vipd_forward', label: 'vipd forward (same flow)', group: 'vipd', program: vipd, frame: syn, expect: XDP_TX },
          {
            id: 'vipd_forward_new_flow',
            label: 'vipd forward (new flow)',
            group: 'vipd',
            program: vipd,
            frame: synNew,
            expect: XDP_TX,
          },
          { id: 'vipd_pass', label: 'vipd pass (not a VIP)', group: 'vipd', program: vipd, frame: other, expect: XDP_PASS },
          { id: 'vipd_est_clean', label: 'established, clean slot', group: 'vipd', program: vipd, frame: ack, expect: XDP_TX },
        );
        cases.push(...vipdCases.map((c) => ({ ...c, reasons })));
        try {
          cases.push(...(await tableCases(ctx, tables)));
        } catch (err) {
          skipped.push({ what: 'connection table cases', why: (err as Error).message.split('\n')[0] });
        }
      }
      cases.push(
        { id: 'xdp_pass', label: 'XDP_PASS', group: 'anchor', program: passProg, frame: syn, expect: XDP_PASS },
        {
          id: 'xdp_pass_direct',
          label: 'XDP_PASS (no wrapper)',
          group: 'anchor',
          program: passProg,
          frame: syn,
          expect: XDP_PASS,
          direct: true,
        },
        { id: 'macswap', label: 'MAC swap + XDP_TX', group: 'anchor', program: macswap, frame: syn, expect: XDP_TX },
        { id: 'yardstick', label: 'yardstick DR (same flow)', group: 'anchor', program: yardstick, frame: syn, expect: XDP_TX },
        {
          id: 'yardstick_new_flow',
          label: 'yardstick DR (new flow)',
          group: 'anchor',
          program: yardstick,
          frame: synNew,
          expect: XDP_TX,
        },
        { id: 'ipip', label: 'IPIP balancer', group: 'anchor', program: ipip, frame: syn, expect: XDP_TX },
      );

      // Check each path once: the verdict, and that the wrapper restores the
      // frame (two runs leave the same bytes as one).
      const good: Case[] = [];
      for (const c of cases) {
        const before = c.reasons?.();
        const once = c.direct ? runDirect(c.program, c.frame, 1) : harness.run(c.frame, c.program, 1);
        const after = c.reasons?.();
        const reason =
          before && after ? REASONS.filter((_, i) => after[i] > before[i]).join(', ') || undefined : undefined;
        const thrice = c.direct ? once : harness.run(c.frame, c.program, 3);
        const restored = c.direct || c.frame.varyOffset !== undefined || once.data.equals(thrice.data);
        if (once.retval !== c.expect || thrice.retval !== c.expect || !restored) {
          skipped.push({
            what: c.label,
            why:
              once.retval !== c.expect
                ? `returned ${xdpVerdictName(once.retval)}${reason ? ` (reason ${reason})` : ''}, expected ${xdpVerdictName(c.expect)}`
                : 'the output changed between repetitions (the wrapper did not restore the frame)',
          });
          continue;
        }
        good.push(c);
      }

      // Repeat counts: each run should take about targetMs.
      const frames = [...new Set(good.filter((c) => !c.direct).map((c) => c.frame))];
      const repeatOf = new Map<Case | Frame, number>();
      const calibrate = (key: Case | Frame, ns: number): void => {
        repeatOf.set(key, Math.max(10_000, Math.min(5_000_000, Math.round((targetMs * 1e6) / Math.max(ns, 1)))));
      };
      for (const c of good) {
        if (c.repeat) {
          repeatOf.set(c, c.repeat);
          continue;
        }
        const s = c.direct ? runDirect(c.program, c.frame, 100_000) : harness.run(c.frame, c.program, 100_000);
        calibrate(c, s.wall);
      }
      for (const f of frames) calibrate(f, harness.run(f, null, 100_000).wall);

      const gross = new Map<Case, Sample[]>(good.map((c) => [c, []]));
      const base = new Map<Frame, Sample[]>(frames.map((f) => [f, []]));
      const steps: Array<{ label: string; go: () => void }> = [
        ...frames.map((f) => ({
          label: `wrapper alone, ${f.name}`,
          go: () => base.get(f)?.push(harness.run(f, null, repeatOf.get(f) ?? 10_000)),
        })),
        ...good.map((c) => ({
          label: c.label,
          go: () =>
            (c.before?.(), gross)
              .get(c)
              ?.push(
                c.direct
                  ? runDirect(c.program, c.frame, repeatOf.get(c) ?? 10_000)
                  : harness.run(c.frame, c.program, repeatOf.get(c) ?? 10_000),
              ),
        })),
      ];
      for (let r = 0; r < rounds; r++) {
        ctx.progress(`dataplane: round ${r + 1}/${rounds} (${steps.length} runs of ~${targetMs} ms)`);
        // Rotate the order each round so no case always follows the same one.
        for (let i = 0; i < steps.length; i++) steps[(i + r) % steps.length].go();
      }

      const results: CaseResult[] = good.map((c) => {
        const g = gross.get(c) ?? [];
        const b = c.direct ? g.map(() => ({ gross: 0, wall: 0, insns: 0 })) : (base.get(c.frame) ?? []);
        const net = g.map((s, i) => s.gross - b[i].gross);
        const wallNet = g.map((s, i) => s.wall - b[i].wall);
        return {
          id: c.id,
          label: c.label,
          group: c.group,
          frame: c.frame.name,
          verdict: xdpVerdictName(c.expect),
          repeat: repeatOf.get(c) ?? 0,
          net: summarize(net),
          gross: summarize(g.map((s) => s.gross)),
          wrapper: summarize(b.map((s) => s.gross)),
          wallNet: summarize(wallNet),
          best: Math.min(...g.map((s) => s.gross)) - Math.min(...b.map((s) => s.gross)),
          ratioToYardstick: undefined,
          insns: netInsns(g, b),
          insnsRatioToYardstick: undefined,
          samples: { gross: g.map((s) => s.gross), wrapper: b.map((s) => s.gross) },
        };
      });
      const yard = results.find((r) => r.id === 'yardstick')?.net.median;
      const yardInsns = results.find((r) => r.id === 'yardstick')?.insns;
      for (const r of results) {
        r.ratioToYardstick = yard && yard > 0 ? r.net.median / yard : undefined;
        r.insnsRatioToYardstick =
          yardInsns && yardInsns > 0 && r.insns !== undefined ? r.insns / yardInsns : undefined;
      }

      const loadAvg = loadavg();
      const cpus = availableParallelism();
      const svgFile = join(ctx.resultsDir, 'dataplane.svg');
      writeFileSync(
        svgFile,
        barChart({
          title: 'vipd XDP data plane, cost per packet',
          subtitle: `BPF_PROG_TEST_RUN, template-restoring wrapper subtracted; median of ${rounds} interleaved rounds, whiskers min..max`,
          unit: 'ns/packet',
          bars: results.map((r) => ({
            label: r.label,
            value: r.net.median,
            min: r.net.min,
            max: r.net.max,
            group: r.group,
          })),
        }),
      );

      const rows = [
        ['case', 'verdict', 'ns/pkt', 'min', 'max', 'x yardstick', 'insns/pkt', 'x yardstick', 'gross', 'wrapper'],
        ...results.map((r) => [
          r.label,
          r.verdict,
          fmt(r.net.median),
          fmt(r.net.min),
          fmt(r.net.max),
          r.ratioToYardstick === undefined ? '-' : fmt(r.ratioToYardstick, 2),
          r.insns === undefined ? '-' : fmt(r.insns, 0),
          r.insnsRatioToYardstick === undefined ? '-' : fmt(r.insnsRatioToYardstick, 2),
          fmt(r.gross.median),
          fmt(r.wrapper.median),
        ]),
      ];
      const fwd = results.find((r) => r.id === 'vipd_forward');
      const ipipR = results.find((r) => r.id === 'ipip');
      const goals: string[] = [];
      const goal = (id: string, what: string, max: number) => {
        const r = results.find((x) => x.id === id);
        if (!r || !yard) return;
        const ratio = r.net.median / yard;
        const insns = r.insnsRatioToYardstick === undefined ? '' : `; by instructions ${fmt(r.insnsRatioToYardstick, 2)}x`;
        goals.push(`goal: ${what} <= ${max}x yardstick: ${fmt(ratio, 2)}x ${ratio <= max ? 'MET' : 'NOT MET'}${insns}`);
      };
      goal('vipd_est_clean', 'established, clean slot', 1.2);
      goal('vipd_est_tracked_same', 'established, tracked slot (table hit, same flow)', 1.2);
      goal('vipd_est_tracked_65536', 'established, tracked slot (table hit, 64k flows)', 1.2);
      goal('vipd_syn_pending', 'new flow (SYN -> pending of 16k)', 2);
      goal('vipd_syn_pending_default', 'new flow (SYN -> pending of the default size)', 2);
      goal('vipd_syn_pending_1m', 'new flow (SYN -> pending of 1M)', 2);
      goal('vipd_promote', 'second packet (promotion)', 2);
      // The same new-flow packets against the yardstick forwarding new flows
      // (a new 5-tuple each packet misses the caches in both): like for like.
      const yardNew = results.find((r) => r.id === 'yardstick_new_flow')?.net.median;
      for (const [id, what] of [
        ['vipd_syn_pending', 'new flow (SYN -> pending of 16k)'],
        ['vipd_syn_pending_default', 'new flow (SYN -> pending of the default size)'],
        ['vipd_syn_pending_1m', 'new flow (SYN -> pending of 1M)'],
      ] as const) {
        const r = results.find((x) => x.id === id);
        if (!r || !yardNew) continue;
        const ratio = r.net.median / yardNew;
        goals.push(`goal: ${what} <= 2x yardstick (new flow): ${fmt(ratio, 2)}x ${ratio <= 2 ? 'MET' : 'NOT MET'}`);
      }
      const big = tables.find((tv) => tv.capacity === Math.max(...tables.map((x) => x.capacity)));
      if (big?.memlock !== undefined) {
        goals.push(
          `table: flows4 of ${big.capacity} entries holds ${big.fill} flows; the kernel charges ${fmt(big.memlock / 2 ** 20, 1)} MiB ` +
            `(${fmt(big.memlock / big.capacity, 1)} bytes per flow, ${release()} memlock)`,
        );
      }
      if (fwd && yard) {
        const ratio = fwd.net.median / yard;
        goals.push(`goal: vipd forward <= 1.2x yardstick: ${fmt(ratio, 2)}x ${ratio <= 1.2 ? 'MET' : 'NOT MET'}`);
      }
      if (fwd?.insnsRatioToYardstick !== undefined) {
        const ratio = fwd.insnsRatioToYardstick;
        goals.push(
          `      by kernel instructions (load-independent): ${fmt(fwd.insns ?? 0, 0)} vs ${fmt(yardInsns ?? 0, 0)} = ${fmt(ratio, 2)}x ${ratio <= 1.2 ? 'MET' : 'NOT MET'}`,
        );
      }
      if (fwd && ipipR) {
        goals.push(
          `goal: vipd forward < IPIP: ${fmt(fwd.net.median)} vs ${fmt(ipipR.net.median)} ns ${fwd.net.median < ipipR.net.median ? 'MET' : 'NOT MET'}`,
        );
      }
      const table = [
        formatTable(rows, [false, false, true, true, true, true, true, true, true, true]),
        '',
        'ns/pkt = (wrapper + program) - (wrapper alone on the same frame), kernel-measured, median over rounds;',
        'the tail call is included; kernel durations are whole ns. gross = wrapper + program; wrapper = wrapper alone.',
        'insns/pkt = the same difference in kernel instructions retired (hardware counter, median over rounds):',
        'the JIT-compiled program with the helpers and map code it calls.',
        `load average ${loadAvg.map((l) => l.toFixed(2)).join(' ')} on ${cpus} CPUs` +
          (loadAvg[0] > cpus ? ': the machine is busy, figures are inflated and noisy (compare ratios)' : ''),
        ...goals,
      ].join('\n');

      return {
        json: {
          unit: 'ns/packet',
          method:
            'BPF_PROG_TEST_RUN repeat=N through xdp_bench_wrapper (copies the template frame, tail-calls the program); ' +
            'figure = median over interleaved rounds of (wrapper+program) - (wrapper alone, same frame)',
          rounds,
          kernel: release(),
          cpus,
          loadAverage: loadAvg,
          cases: results,
          tables: tables.map(({ capacity, fill, memlock }) => ({ capacity, fill, memlockBytes: memlock })),
          yardstickNs: yard,
          yardstickInsns: yardInsns,
          medianOfAll: median(results.map((r) => r.net.median)),
        },
        table,
        files: [svgFile],
        skipped,
      };
    } finally {
      for (const tv of openTables) tv.close();
      dp?.close();
      harness.close();
      for (const p of progs) p.close();
      for (const c of colls) c.close();
    }
  },
};

/** Table programs of the current run, closed at its end. */
const openTables: TableVipd[] = [];

interface TableInfo {
  capacity: number;
  fill: number;
  memlock: number | undefined;
}

/**
 * The connection table cases, each on a vipd object of its own (flows4
 * sized for its fill): a hit at each fill, a SYN noted in pending, and the
 * promotion of a flow from pending to flows.
 */
async function tableCases(ctx: BenchContext, info: TableInfo[]): Promise<Case[]> {
  const object = join(ctx.root, OBJ.vipd);
  const client = CLIENT4;
  const vary = (name: string, src: string, flags: number): Frame => ({
    name,
    bytes: withTcpFlags(tcpSyn(src, 0, VIP4, TABLE_PORT), flags),
    varyOffset: TCP_SPORT_OFFSET,
  });
  const open = async (fill: number, capacity: number, pendingCapacity: number) => {
    ctx.progress(`dataplane: vipd with flows4 of ${capacity} entries, ${fill} flows in it`);
    const tv = await loadTableVipd({ object, vip: VIP4, client, reals: REALS, capacity, pendingCapacity, fill });
    openTables.push(tv);
    info.push({ capacity, fill, memlock: tv.flowsMemlock });
    return tv;
  };
  const cases: Case[] = [];
  // An LRU map evicts before it is full (per-CPU free lists): a quarter more room.
  for (const fill of FILLS) {
    const tv = await open(fill, Math.round(fill * 1.25), 16_384);
    cases.push({
      id: `vipd_est_tracked_${fill}`,
      label: `established, tracked slot (table hit, ${fill >= 1 << 20 ? `${fill >> 20}M` : `${fill >> 10}k`} flows)`,
      group: 'vipd',
      program: tv.program,
      frame: vary('tcp4-ack-tracked', client, 0x10),
      expect: XDP_TX,
    });
    if (fill === FILLS[0]) {
      // One flow over and over, as the yardstick's same-flow case: the lookup without cache misses.
      cases.push({
        id: 'vipd_est_tracked_same',
        label: 'established, tracked slot (table hit, same flow)',
        group: 'vipd',
        program: tv.program,
        frame: { name: 'tcp4-ack-tracked-same', bytes: withTcpFlags(tcpSyn(client, 40000, VIP4, TABLE_PORT), 0x10) },
        expect: XDP_TX,
      });
      // Another client's SYNs, each storing its tag in a pending of 16k entries (ABI 6: an LRU that was full, the flood case).
      cases.push({
        id: 'vipd_syn_pending',
        label: 'new flow (SYN on a changed slot -> pending of 16k)',
        group: 'vipd',
        program: tv.program,
        frame: vary('tcp4-syn-changed', '198.51.100.8', 0x02),
        expect: XDP_TX,
      });
    }
  }
  // The same SYNs into pending arrays of the daemon's default size
  // (connections.pending, DEFAULT_PENDING: 64k tags, 1 MiB) and of 1M
  // (16 MiB, what an operator who raises it gets; the default before it was
  // sized apart from connections.max): random indexes, so each SYN's store
  // misses the cache as far as the array outgrows it, as a real flood's would.
  const sized = (entries: number) => (entries >= 1 << 20 ? `${entries >> 20}M` : `${entries >> 10}k`);
  const pendingCases: Array<{ id: string; entries: number; src: string; what: string }> = [
    { id: 'vipd_syn_pending_default', entries: DEFAULT_PENDING, src: '198.51.100.10', what: `pending of ${sized(DEFAULT_PENDING)}, the default` },
    { id: 'vipd_syn_pending_1m', entries: 1 << 20, src: '198.51.100.11', what: 'pending of 1M' },
  ];
  for (const pc of pendingCases) {
    const tv = await open(65_536, Math.round(65_536 * 1.25), pc.entries);
    cases.push({
      id: pc.id,
      label: `new flow (SYN on a changed slot -> ${pc.what})`,
      group: 'vipd',
      program: tv.program,
      frame: vary(`tcp4-syn-changed-${sized(pc.entries)}`, pc.src, 0x02),
      expect: XDP_TX,
    });
  }
  // Promotion: pending holds a third client's 65536 flows; a run of exactly
  // 65536 packets promotes each once, and the flows it wrote are removed
  // before the next run.
  const promo = await open(0, 262_144, 1 << 20);
  const promoClient = '198.51.100.9';
  const keys = clientKeys(promoClient, VIP4);
  // ABI 7: pending is a direct-mapped array of tags; the few flows whose
  // tags share an index are pinned instead (the same flows insert).
  const tagged = fillTags(promo.pending4, keys, 65536);
  ctx.progress(`dataplane: ${tagged} of 65536 tags in place for the promotion case`);
  cases.push({
    id: 'vipd_promote',
    label: 'second packet (pending -> flows)',
    group: 'vipd',
    program: promo.program,
    frame: vary('tcp4-ack-promote', promoClient, 0x10),
    expect: XDP_TX,
    repeat: 65536,
    before: () => {
      deleteRaw(promo.flows4, keys, 65536);
      fillTags(promo.pending4, keys, 65536);
    },
  });
  return cases;
}
