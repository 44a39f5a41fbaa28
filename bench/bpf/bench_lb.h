/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Shared by the two reference balancers of the data-plane benchmark
 * (xdp_yardstick.bpf.c, xdp_ipip.bpf.c): their maps, the flow hash and the
 * Ethernet/IPv4/TCP parse. Deliberately minimal: one service lookup, one
 * ring lookup, one backend lookup, nothing counted.
 *
 * bpf/Makefile tracks bpf/ headers only: after editing this file, touch
 * the .bpf.c files (or run make -B) so the objects are rebuilt.
 */
#ifndef BENCH_LB_H
#define BENCH_LB_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The same flow hash as vipd (bpf/jhash.h, Katran's jhash_3words). */
#include "jhash.h"

#define BENCH_RING_SIZE	   65537
#define BENCH_MAX_SERVICES 16
#define BENCH_MAX_REALS	   1024
#define BENCH_HASH_SEED	   0x5eed1e55u

struct bench_svc_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct bench_svc {
	__u32 ring;	   /* first slot of the service's ring in bench_ring */
	__be32 tunnel_src; /* IPIP only: outer source address */
};

struct bench_real {
	__u8 mac[6];
	__u16 pad;
	__be32 addr; /* IPIP only: outer destination address */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BENCH_MAX_SERVICES);
	__type(key, struct bench_svc_key);
	__type(value, struct bench_svc);
} bench_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_RING_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} bench_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_MAX_REALS);
	__type(key, __u32);
	__type(value, struct bench_real);
} bench_reals SEC(".maps");

struct bench_flow {
	struct ethhdr *eth;
	struct iphdr *iph;
	const struct bench_real *real;
	const struct bench_svc *svc;
};

/* Parses Ethernet/IPv4/TCP and picks the real server: service lookup,
 * ring slot from the 5-tuple hash, real server lookup. False: pass.
 */
static __always_inline bool bench_pick(struct xdp_md *ctx, struct bench_flow *f)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bench_svc_key key = {};
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct tcphdr *tcp;
	__u32 slot, *real_idx;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end)
		return false;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return false;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return false;
	ihl = iph->ihl * 4;
	if (iph->version != 4 || ihl < sizeof(*iph) || ihl > 60)
		return false;
	if (iph->frag_off & bpf_htons(0x3fff)) /* MF or an offset */
		return false;
	if (iph->protocol != IPPROTO_TCP)
		return false;
	tcp = (void *)iph + ihl;
	if ((void *)(tcp + 1) > data_end)
		return false;

	key.addr = iph->daddr;
	key.port = tcp->dest;
	key.proto = IPPROTO_TCP;
	f->svc = bpf_map_lookup_elem(&bench_services, &key);
	if (!f->svc)
		return false;
	slot = jhash_3words(iph->saddr, iph->daddr, ((__u32)tcp->source << 16) | tcp->dest,
				  BENCH_HASH_SEED);
	slot = f->svc->ring + slot % BENCH_RING_SIZE;
	real_idx = bpf_map_lookup_elem(&bench_ring, &slot);
	if (!real_idx)
		return false;
	f->real = bpf_map_lookup_elem(&bench_reals, real_idx);
	if (!f->real)
		return false;
	f->eth = eth;
	f->iph = iph;
	return true;
}

#endif /* BENCH_LB_H */
