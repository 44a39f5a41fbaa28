/**
 * The clock of received-packet timestamps: CLOCK_MONOTONIC. On Linux
 * process.hrtime.bigint() reads the same clock (libuv's uv_hrtime), so
 * `monotonicMs()` and a packet's `arrivalMs` can be subtracted directly. So
 * can bpf_ktime_get_ns(), which the data-plane lease is compared with.
 */

/** CLOCK_MONOTONIC now, in nanoseconds. */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

/** CLOCK_MONOTONIC now, in (fractional) milliseconds. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
