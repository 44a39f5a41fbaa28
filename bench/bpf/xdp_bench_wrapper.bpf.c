// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* The template-restoring wrapper of the data-plane benchmark.
 *
 * BPF_PROG_TEST_RUN with repeat=N runs a program N times on one buffer, so
 * from the second run on a program sees its own output (an ARP reply
 * instead of the request, an encapsulated frame...). This wrapper runs
 * first on every repetition: it puts the frame back to the template's
 * length (moving the head, which undoes an encapsulation), copies the
 * template over it, optionally writes a per-CPU sequence number into it
 * (a new flow on every packet), and tail-calls the program under test in
 * slot 0 of bench_target. With slot 0 empty the tail call falls through
 * and the wrapper returns XDP_PASS: that run measures the wrapper alone,
 * which the harness subtracts.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BENCH_TPL_MAX 256

struct bench_template {
	__u32 len;	/* frame length, 1..BENCH_TPL_MAX */
	__u16 vary_off; /* where the sequence number goes */
	__u16 vary_len; /* 0 (off), 2 or 4 bytes, network order */
	__u8 data[BENCH_TPL_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_template);
} bench_tpl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_seq SEC(".maps");

SEC("xdp")
int xdp_bench_wrapper(struct xdp_md *ctx)
{
	struct bench_template *t;
	__u32 zero = 0, len, *seq;
	int cur;

	t = bpf_map_lookup_elem(&bench_tpl, &zero);
	if (!t)
		return XDP_ABORTED;
	len = t->len;
	if (len == 0 || len > BENCH_TPL_MAX)
		return XDP_ABORTED;
	cur = (int)(ctx->data_end - ctx->data);
	if (cur != (int)len && bpf_xdp_adjust_head(ctx, cur - (int)len))
		return XDP_ABORTED;
	if (bpf_xdp_store_bytes(ctx, 0, t->data, len))
		return XDP_ABORTED;

	if (t->vary_len) {
		seq = bpf_map_lookup_elem(&bench_seq, &zero);
		if (!seq)
			return XDP_ABORTED;
		*seq += 1;
		if (t->vary_len == 2) {
			__be16 v = bpf_htons((__u16)*seq);

			bpf_xdp_store_bytes(ctx, t->vary_off, &v, sizeof(v));
		} else {
			__be32 v = bpf_htonl(*seq);

			bpf_xdp_store_bytes(ctx, t->vary_off, &v, sizeof(v));
		}
	}

	bpf_tail_call(ctx, &bench_target, 0);
	return XDP_PASS;
}
