// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* The benchmark's own XDP_PASS program (test/progs/xdp_pass.bpf.c serves
 * the tests; this copy keeps the benchmark independent of it): the floor of
 * every figure, the cost of entering and leaving a BPF program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xdp_bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
