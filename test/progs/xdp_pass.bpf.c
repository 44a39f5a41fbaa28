// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* Passes every frame. Tests attach it to the far end of a veth: a frame
 * sent with XDP_TX on a veth reaches the peer only when the peer runs an
 * XDP program too.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
