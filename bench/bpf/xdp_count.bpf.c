// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* The throughput benchmark's sink (bench/throughput.ts): counts every frame
 * by destination MAC in a per-CPU hash and drops it. On the generator's
 * veth it counts what the balancer sent back (per real server); on the
 * balancer's veth it is the "XDP_DROP" limit of the hook.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Key: the destination MAC in the low 6 bytes (in wire order), rest zero. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u64);
} count_by_dmac SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u64 key = 0, one = 1, *n;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(&key, eth->h_dest, ETH_ALEN);
	n = bpf_map_lookup_elem(&count_by_dmac, &key);
	if (n)
		*n += 1;
	else
		bpf_map_update_elem(&count_by_dmac, &key, &one, BPF_NOEXIST);
	return XDP_DROP;
}
