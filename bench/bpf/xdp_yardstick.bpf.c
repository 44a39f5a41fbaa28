// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* The yardstick of issue 3: the least a direct-routing balancer can do.
 * Parse Ethernet/IPv4/TCP, one service hash lookup, one Maglev ring
 * lookup, one real-server lookup, rewrite the MACs, XDP_TX. No VLANs, no
 * IPv6, no ARP, no leases, no counters. vipd's forward path is measured
 * against this (target: at most 1.2x).
 */
#include "bench_lb.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xdp_yardstick(struct xdp_md *ctx)
{
	struct bench_flow f;

	if (!bench_pick(ctx, &f))
		return XDP_PASS;
	/* The frame came to our MAC: that becomes the source. */
	__builtin_memcpy(f.eth->h_source, f.eth->h_dest, ETH_ALEN);
	__builtin_memcpy(f.eth->h_dest, f.real->mac, ETH_ALEN);
	return XDP_TX;
}
