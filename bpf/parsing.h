/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Packet parsing: a cursor over the frame, and the only place where a
 * header read is checked against the end of the packet.
 *
 * Every handler pulls headers through cursor_pull() and gets NULL when the
 * frame ends inside the header; nothing else in the program dereferences a
 * pointer it did not get from here (in the xdp-tutorial hdr_cursor style).
 */
#ifndef VIPD_PARSING_H
#define VIPD_PARSING_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

/* For the checks that fail only on frames the program passes: clang then
 * keeps the forwarding path straight and moves the rest out of its way.
 */
#define unlikely(x) __builtin_expect(!!(x), 0)

struct hdr_cursor {
	void *pos;
	void *end;
};

/* Largest variable-length skip (IPv4 options: 60 - 20 bytes). The bound
 * lets the verifier track the cursor after a data-dependent skip.
 */
#define CURSOR_MAX_SKIP 40

/* Returns a pointer to the next len bytes and moves past them, or NULL when
 * the frame is shorter (the cursor then stays where it was).
 */
static __always_inline void *cursor_pull(struct hdr_cursor *c, __u32 len)
{
	void *p = c->pos;

	if (unlikely(p + len > c->end))
		return NULL;
	/* A packet pointer is never NULL: saying so lets clang fold the
	 * callers' NULL test into the bounds test above.
	 */
	__builtin_assume(p != NULL);
	c->pos = p + len;
	return p;
}

#define cursor_pull_type(c, type) ((type *)cursor_pull(c, sizeof(type)))

/* Skips a data-dependent length (at most CURSOR_MAX_SKIP bytes); false when
 * the frame ends first.
 */
static __always_inline bool cursor_skip(struct hdr_cursor *c, __u32 len)
{
	if (len > CURSOR_MAX_SKIP)
		return false;
	if (c->pos + len > c->end)
		return false;
	c->pos += len;
	return true;
}

/* ARP for Ethernet/IPv4 (RFC 826): struct arphdr plus its addresses, which
 * linux/if_arp.h leaves out because their sizes vary in general.
 */
struct arp_eth_ipv4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 oper;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

/* The fixed part of an ICMPv6 neighbour solicitation or advertisement
 * (RFC 4861 4.3, 4.4): type, code, checksum, flags/reserved, target.
 */
struct nd_msg_hdr {
	__u8 type;
	__u8 code;
	__sum16 cksum;
	__be32 flags;
	__u8 target[16];
};

/* A link-layer address option for Ethernet (RFC 4861 4.6.1). */
struct nd_opt_lladdr {
	__u8 type;
	__u8 len; /* in units of 8 bytes: 1 */
	__u8 mac[6];
};

/* Transport ports, the first four bytes of TCP and UDP alike. */
struct l4_ports {
	__be16 source;
	__be16 dest;
};

#endif /* VIPD_PARSING_H */
