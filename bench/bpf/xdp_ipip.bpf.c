// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* An IPIP-encapsulating balancer (Katran's way), for comparison with
 * direct routing: the yardstick's lookups, then bpf_xdp_adjust_head() to
 * make room for an outer IPv4 header (protocol 4) addressed to the real
 * server, with its header checksum, and a new Ethernet header. XDP_TX.
 */
#include "bench_lb.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline __u16 ipv4_csum(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*iph) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int xdp_ipip(struct xdp_md *ctx)
{
	__u8 our_mac[ETH_ALEN], real_mac[ETH_ALEN];
	struct ethhdr *eth;
	struct iphdr *outer;
	struct bench_flow f;
	void *data, *data_end;
	__be32 src, dst;
	__u16 inner_len;
	__u8 tos;

	if (!bench_pick(ctx, &f))
		return XDP_PASS;
	__builtin_memcpy(our_mac, f.eth->h_dest, ETH_ALEN);
	__builtin_memcpy(real_mac, f.real->mac, ETH_ALEN);
	inner_len = bpf_ntohs(f.iph->tot_len);
	tos = f.iph->tos;
	src = f.svc->tunnel_src;
	dst = f.real->addr;

	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct iphdr)))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	outer = (void *)(eth + 1);
	if ((void *)(outer + 1) > data_end)
		return XDP_DROP;

	__builtin_memcpy(eth->h_dest, real_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, our_mac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);

	outer->version = 4;
	outer->ihl = sizeof(*outer) / 4;
	outer->tos = tos;
	outer->tot_len = bpf_htons(inner_len + sizeof(*outer));
	outer->id = 0;
	outer->frag_off = bpf_htons(0x4000); /* DF */
	outer->ttl = 64;
	outer->protocol = IPPROTO_IPIP;
	outer->check = 0;
	outer->saddr = src;
	outer->daddr = dst;
	outer->check = ipv4_csum(outer);
	return XDP_TX;
}
