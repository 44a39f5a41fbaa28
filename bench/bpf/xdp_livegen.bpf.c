// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* The throughput benchmark's traffic generator (bench/throughput.ts). Run
 * with BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES on a TCP SYN (Ethernet +
 * IPv4 + TCP, no options) and a struct xdp_md naming the generator's veth
 * as ingress: every XDP_TX becomes a real frame sent out of that veth.
 *
 * In live mode a page is initialised once and then recycled as it was left,
 * and veth hands the very page to the peer's XDP program, which rewrites it
 * (MACs). So every run copies the headers back from the `template` map
 * (written by the harness), then sets the next TCP source port (many flows)
 * and fixes the TCP checksum incrementally (RFC 1624).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define HDR_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))

struct hdrs {
	__u8 bytes[HDR_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hdrs);
} template SEC(".maps");

/* Frames built so far (one CPU runs a live-frames test run). */
__u64 sent = 0;

static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int xdp_livegen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);
	struct hdrs *tpl;
	__u32 zero = 0;
	__u16 old, port;

	if ((void *)(tcp + 1) > data_end)
		return XDP_ABORTED;
	tpl = bpf_map_lookup_elem(&template, &zero);
	if (!tpl)
		return XDP_ABORTED;
	__builtin_memcpy(data, tpl->bytes, HDR_LEN);
	port = bpf_htons(1024 + (__u16)(sent % 60000));
	sent++;
	old = tcp->source;
	tcp->source = port;
	tcp->check = csum_replace16(tcp->check, old, port);
	return XDP_TX;
}
