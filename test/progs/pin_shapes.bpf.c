// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Two maps that differ in every attribute a pin is checked on (type, key
 * size, value size, max entries, flags): test/bpf/pin-mismatch pins one
 * and asks the other to reuse the pin. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} shape_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, __u64);
	__type(value, __u32);
} shape_b SEC(".maps");

SEC("xdp")
int xdp_shapes(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
