/**
 * What the metrics need from the data plane: its per-CPU BPF counters,
 * already summed over CPUs. Read at scrape time, never cached, so a scrape
 * shows the kernel's totals as of that scrape.
 */

/** Kernel counters are u64; numbers are accepted too (what a fake returns). */
export type CounterValue = bigint | number;

export interface ServiceCounters {
  /** The service name (config `services[].name`). */
  readonly service: string;
  readonly packets: CounterValue;
  readonly bytes: CounterValue;
}

export interface BackendCounters {
  readonly service: string;
  /** The backend address. */
  readonly backend: string;
  readonly packets: CounterValue;
  /** vipd_backend_bytes_total (0 when the source has none). */
  readonly bytes?: CounterValue;
}

export interface DataplaneCounters {
  /** XDP verdicts by reason (`pass_not_vip`, `tx_forward`, ...), totals since load. */
  readonly verdicts: Readonly<Record<string, CounterValue>>;
  readonly services: readonly ServiceCounters[];
  readonly backends: readonly BackendCounters[];
  /** What the connection table did, by event (`hit`, `pinned`, `reassigned`, ...; packets), ABI 6. */
  readonly flowEvents?: Readonly<Record<string, CounterValue>>;
}

export interface DataplaneStatsSource {
  /** Totals since the program's maps were created; may be async (map reads). */
  readCounters(): DataplaneCounters | Promise<DataplaneCounters>;
}
