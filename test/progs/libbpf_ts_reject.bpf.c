// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* A program the verifier must reject: it reads the packet without a bounds
 * check. The binding test asserts the error carries the verifier log. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_unchecked(struct xdp_md *ctx)
{
	__u8 *p = (void *)(long)ctx->data;

	return p[20] == 1 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
