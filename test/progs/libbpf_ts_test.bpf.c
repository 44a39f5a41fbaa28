// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Test object for the libbpf-ts binding: one map of each kind vipd uses, a
 * const volatile setting, and XDP programs whose output bytes tests check. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct test_key {
	__u32 id;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct test_value {
	__u64 counter;
	__u32 flags;
	__u8 mac[6];
	__u16 weight;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct test_key);
	__type(value, struct test_value);
} test_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct test_value);
} test_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} test_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} test_lru SEC(".maps");

/* Written through a shared mapping (src/bpf/mmap.ts). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1000);
	__type(key, __u32);
	__type(value, __u32);
} test_mmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} test_progs SEC(".maps");

/* Set from userspace between open and load. */
const volatile __u32 swap_macs = 0;
const volatile __u8 tail_call_slot = 0;

enum { COUNT_ALL = 0, COUNT_IPV4 = 1, COUNT_OTHER = 2 };

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&test_percpu, &idx);

	if (c)
		*c += 1;
}

/* Counts every frame; IPv4 frames get their MACs swapped (when enabled) and
 * go back out (XDP_TX); everything else passes. */
SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	count(COUNT_ALL);
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP)) {
		count(COUNT_OTHER);
		return XDP_PASS;
	}
	count(COUNT_IPV4);
	if (!swap_macs)
		return XDP_PASS;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

/* Jumps through the prog array; XDP_ABORTED when the slot is empty. */
SEC("xdp")
int xdp_tail(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &test_progs, tail_call_slot);
	return XDP_ABORTED;
}

/* A tail-call target that writes a marker byte into the first octet. */
SEC("xdp")
int xdp_mark(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;

	if ((void *)(p + 1) > data_end)
		return XDP_DROP;
	p[0] = 0xee;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
