/**
 * The connection table's sweep at 1 million entries (issue 14): the cost
 * of one sweep of flows4 (batch read, expiry, counts per real / state /
 * slot), on the real kernel map, with no daemon. Half the entries are idle
 * past the TCP timeout, so the first sweep deletes 500 000 and the second
 * reads the 500 000 left.
 *
 *   npm run build && npm run build:tools && node dist-tools/bench/connections-sweep.js [entries]
 *
 * Prints wall time and the process's CPU time (user + system: the kernel's
 * batch copies count) per sweep. Goal: well under a second of CPU for 1 M.
 */
import { Dataplane } from '../src/dataplane/manager.js';
import { seenNow } from '../src/dataplane/flows.js';

const entries = Number(process.argv[2] ?? 1_000_000);
const VIP = '10.0.0.10';

async function main(): Promise<void> {
  const dp = await Dataplane.open({
    sizes: { flows4: entries, pending4: Math.ceil(entries / 4), flows6: 1, pending6: 1, services: 4, reals: 64, ringSlots: 4096 },
  });
  try {
    dp.addService({ vip: VIP, port: 80, protocol: 'tcp', instance: 0, backends: 4 });
    for (let r = 0; r < 4; r++) dp.setReal(r, { mac: `02:00:00:00:00:0${r + 1}`, address: `10.0.1.${r + 1}` });
    await dp.setBackends({ vip: VIP, port: 80, protocol: 'tcp' }, [0, 1, 2, 3].map((r) => ({ real: r, key: `10.0.1.${r + 1}`, weight: 1 })));
    const maps = (dp as unknown as { maps: { flows4: import('../src/bpf/index.js').BpfMap<unknown, unknown> } }).maps;
    // Fill flows4 in batches of raw keys and values.
    const now = seenNow();
    const old = (now - 2_000_000) >>> 0; // ~35 min ago: past the 900 s TCP timeout
    const chunk = 65_536;
    const t0 = performance.now();
    for (let start = 0; start < entries; start += chunk) {
      const n = Math.min(chunk, entries - start);
      const keys = Buffer.alloc(16 * n);
      const values = Buffer.alloc(16 * n);
      for (let k = 0; k < n; k++) {
        const i = start + k;
        keys.writeUInt32BE(0xc6336400 + Math.floor(i / 50_000), 16 * k); // client
        keys.writeUInt32BE(0x0a00000a, 16 * k + 4); // vip
        keys.writeUInt16BE(1024 + (i % 50_000), 16 * k + 8);
        keys.writeUInt16BE(80, 16 * k + 10);
        keys[16 * k + 12] = 6;
        values.writeUInt32LE(i % 4, 16 * k);
        values.writeUInt32LE((i * 2654435761) >>> 0, 16 * k + 4);
        values.writeUInt32LE(i % 2 === 0 ? now : old, 16 * k + 8);
      }
      maps.flows4.updateBatchRaw(keys, values, n);
    }
    console.log(`filled ${entries} entries in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    for (const label of ['first sweep (deletes the idle half)', 'second sweep (reads the rest)']) {
      const cpu0 = process.cpuUsage();
      const result = dp.sweepFlows({ tcp: 900, udp: 60, closing: 10 });
      const cpu = process.cpuUsage(cpu0);
      console.log(
        `${label}: read ${result.read}, expired ${result.expired}, live tcp ${result.byState.tcp}; ` +
          `wall ${result.durationMs.toFixed(0)} ms, CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms ` +
          `(user ${(cpu.user / 1000).toFixed(0)}, system ${(cpu.system / 1000).toFixed(0)})`,
      );
    }
  } finally {
    dp.close();
  }
}

await main();
