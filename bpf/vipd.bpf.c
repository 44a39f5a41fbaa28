// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* vipd's XDP program: answers ARP and neighbour solicitations for the VIPs
 * this host is MASTER for, and forwards service traffic to real servers in
 * direct-routing style (only the MAC addresses change), choosing the real
 * server from a Maglev ring by a hash of the 5-tuple.
 *
 * It passes everything it does not own, and counts every verdict by reason.
 * docs/dataplane.md describes the maps and the policies (VLAN, fragments,
 * leases); test/model/xdp-model.ts is the same logic in TypeScript, and the
 * tests in test/bpf hold the two to the same output, byte for byte.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "vipd.h"
#include "parsing.h"
#include "csum.h"
#include "icmp4.h"
#include "jhash.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ARPOP_REQUEST_BE bpf_htons(1)
#define ARPOP_REPLY_BE	 bpf_htons(2)
#define IP_MF		 0x2000
#define IP_OFFSET	 0x1fff
#define NDISC_NS	 135
#define NDISC_NA	 136
#define ND_OPT_TARGET_LL 2
#define NA_FLAGS_S_O	 bpf_htonl(0x60000000) /* solicited, override */

/* The frame length of the advertisement we send: Ethernet, IPv6, the NA
 * and one target link-layer address option.
 */
#define NA_LEN	    (sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + NA_BODY_LEN)
#define NA_BODY_LEN (sizeof(struct nd_msg_hdr) + sizeof(struct nd_opt_lladdr))

static __always_inline void counter_add(void *map, __u32 key, __u64 bytes)
{
	struct vipd_counter *c = bpf_map_lookup_elem(map, &key);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* Copies a MAC address as three 16-bit words: clang turns memcpy() of the
 * byte arrays of packed headers into six byte loads and six byte stores.
 * Every MAC the program moves starts at an even offset of the frame or of a
 * map value, so these accesses are aligned even for a verifier that checks
 * alignment strictly.
 */
static __always_inline void mac_copy(void *dst, const void *src)
{
	__u16 *d = dst;
	const __u16 *s = src;

	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
}

/* The lease clock. bpf_ktime_get_ns() costs as much as the whole forwarding
 * path on some machines (a virtual machine's clock read), so the program
 * reads it once per jiffy and reuses the reading for the rest of that
 * jiffy: bpf_jiffies64() is a single load once the verifier has inlined it.
 * The time seen lags CLOCK_MONOTONIC by less than a tick, so a lease may
 * outlive its deadline by up to a tick (1-10 ms) and never ends early.
 *
 * One cache for all CPUs, in .bss (not pinned, not ABI: a reload starts
 * empty). Each jiffy one CPU or a few rewrite it, each with a reading of
 * its own; a CPU that pairs the new jiffy with an older reading (stores
 * seen out of order) gets a time that is older still, never newer, so the
 * rule above holds. jiffies starts at INITIAL_JIFFIES, never 0, so the
 * zeroed cache always misses first. (ABI 3 kept one slot per CPU: the CPU
 * number and the slot address cost more than the rare shared miss.)
 */
struct lease_clock_cache {
	__u64 jiffies;
	__u64 ns;
};

struct lease_clock_cache clock_cache;

static __always_inline __u64 lease_clock(void)
{
	__u64 now = bpf_jiffies64();

	if (clock_cache.jiffies != now) {
		clock_cache.ns = bpf_ktime_get_ns();
		clock_cache.jiffies = now;
	}
	return clock_cache.ns;
}

/* Is ingress the instance's interface, or a member of it (a bond's)? */
static __always_inline bool serves_on(const struct vipd_instance *inst, __u32 ingress)
{
	__u32 *master;

	if (inst->ifindex == ingress)
		return true;
	master = bpf_map_lookup_elem(&iface_masters, &ingress);
	return master && *master != 0 && *master == inst->ifindex;
}

/* The instance if this host serves it on the frame's interface now: the
 * lease runs and the instance lives on that interface. Otherwise NULL, and
 * *reason says why. An instance that is not active has a lease that ended
 * at 0, so one comparison covers both, and flags only name the reason.
 */
static __always_inline const struct vipd_instance *instance_serving(struct xdp_md *ctx, __u32 id,
								    __u32 *reason)
{
	const struct vipd_instance *inst = bpf_map_lookup_elem(&instances, &id);

	if (!inst) {
		*reason = VIPD_R_PASS_INACTIVE;
		return NULL;
	}
	if (lease_clock() >= inst->lease_expiry_ns) {
		*reason = inst->flags & VIPD_INST_F_ACTIVE ? VIPD_R_PASS_LEASE_EXPIRED
							   : VIPD_R_PASS_INACTIVE;
		return NULL;
	}
	if (!serves_on(inst, ctx->ingress_ifindex)) {
		*reason = VIPD_R_PASS_OTHER_IFACE;
		return NULL;
	}
	return inst;
}

/* Is mac a VRRP virtual MAC, 00:00:5e:00:01:xx or 00:00:5e:00:02:xx (RFC 9568 7.3)? */
static __always_inline bool is_vrrp_vmac(const __u8 *mac)
{
	const __u16 *w = (const __u16 *)mac;

	return w[0] == bpf_htons(0x0000) && w[1] == bpf_htons(0x5e00) &&
	       (mac[4] == 1 || mac[4] == 2);
}

static __always_inline bool mac_eq(const void *a, const void *b)
{
	const __u16 *x = a, *y = b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
}

/* The reason for a packet to addr that no handler took: a VIP's traffic
 * gets vip_reason, anything else is not ours. Only packets that found no
 * service come here, so the vips lookup stays off the forwarding path; a
 * function of its own (not inlined) so that clang cannot hoist the key's
 * set-up into the paths that never need it.
 *
 * A VIP's frame sent to the virtual MAC of an instance served here (ABI 6)
 * goes up to the kernel re-addressed to the interface's own MAC: the kernel
 * would drop it as addressed to another host (a ping to the VIP, a port no
 * service has). A macvlan with the virtual MAC would do the same, at the
 * price of an interface per instance (docs/vrrp.md).
 */
static __noinline __u32 miss_reason(struct xdp_md *ctx, struct ethhdr *eth, const __u32 *addr,
				    __u32 family, __u32 vip_reason)
{
	struct vipd_vip_key key = {.family = family};
	const struct vipd_instance *inst;
	struct vipd_vip *vip;
	__u32 r;

	__builtin_memcpy(key.addr, addr, 4);
	if (family == VIPD_FAMILY_V6)
		__builtin_memcpy(key.addr + 4, addr + 1, 12);
	vip = bpf_map_lookup_elem(&vips, &key);
	if (!vip)
		return VIPD_R_PASS_NOT_VIP;
	if (is_vrrp_vmac(eth->h_dest)) {
		inst = instance_serving(ctx, vip->instance, &r);
		if (inst && (inst->flags & VIPD_INST_F_VMAC) && mac_eq(eth->h_dest, inst->mac))
			mac_copy(eth->h_dest, inst->host_mac);
	}
	return vip_reason;
}

/* Address comparisons word by word: clang emits a call to memcmp() for
 * __builtin_memcmp(), and BPF has no memcmp().
 */
static __always_inline bool addr6_eq(const struct in6_addr *a, const void *b)
{
	const __u32 *x = a->in6_u.u6_addr32;
	const __u32 *y = b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

static __always_inline bool addr6_is_zero(const struct in6_addr *a)
{
	const __u32 *x = a->in6_u.u6_addr32;

	return (x[0] | x[1] | x[2] | x[3]) == 0;
}

/* The flow hash: jhash_3words over the client's address, the VIP and the
 * two ports (client's first), each word the little-endian reading of its
 * four bytes in the packet, so the program hashes what it loads, without
 * byte swaps (test/model/xdp-hash.ts). An IPv6 address is folded to one
 * word by XOR of its four.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define le32_word(w) (w)
#else
#define le32_word(w) __builtin_bswap32(w)
#endif

static __always_inline __u32 flow_hash(__u32 client, __u32 vip, __u32 ports)
{
	return jhash_3words(le32_word(client), le32_word(vip), le32_word(ports), VIPD_HASH_SEED);
}

/* The two ports of a packet from the client, as one word: they start
 * 4-byte aligned (after a header of 20 + 4n or 40 bytes).
 */
static __always_inline __u32 ports_word(const struct l4_ports *ports)
{
	return *(const __u32 *)ports;
}

/* The same word from the ports of a packet to the client (quoted in ICMP):
 * the client's port is the destination there.
 */
static __always_inline __u32 ports_word_reversed(const struct l4_ports *ports)
{
	struct l4_ports fwd = {.source = ports->dest, .dest = ports->source};

	return *(__u32 *)&fwd;
}

static __always_inline __u32 fold_v6(const __u32 *w)
{
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

/* The slot of a flow in a ring of ring_size slots: the hash scaled down by
 * a multiply and a shift (Lemire's reduction) instead of a modulo, which is
 * a division on every packet. The hash is uniform, so the slots are too.
 */
static __always_inline __u32 ring_slot(__u32 hash, __u32 ring_size)
{
	return (__u32)(((__u64)hash * ring_size) >> 32);
}

/* Persistent services (VIPD_SVC_F_PERSIST) hash the client's address
 * alone: the client's port (the first two bytes of the ports word as it
 * sits in memory) is masked out, so every connection of a client lands
 * on one slot and one table entry.
 */
static __always_inline __u32 svc_ports(const struct vipd_service *svc, __u32 ports)
{
	if (svc->flags & VIPD_SVC_F_PERSIST)
		ports &= bpf_htonl(0x0000ffff);
	return ports;
}

/* Where a packet's flow sits in it, for the connection table. Built by
 * each caller of forward() and only read when the slot is looked up: after
 * inlining these are registers, so the clean path pays nothing for them.
 */
struct flow_at {
	const __u32 *client; /* the client's address: 4 or 16 bytes */
	const __u32 *vip;
	const struct l4_ports *ports;
	const void *end; /* the packet's end, to read the TCP flags */
	__u8 family;
	__u8 proto;
	bool icmp; /* an ICMP error quoting the flow: ports reversed, read only */
};

/* What a packet means to the connection table (conn_decide()). */
#define PKT_SYN	    (1u << 0) /* TCP SYN without ACK: a new connection */
#define PKT_CLOSING (1u << 1) /* TCP FIN or RST from the client */
#define PKT_ICMP    (1u << 2) /* an ICMP error about the flow: never writes */

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

static __always_inline __u32 packet_kind(const struct flow_at *at)
{
	const __u8 *tcp = (const __u8 *)at->ports;
	__u32 kind = 0;
	__u8 flags;

	if (at->icmp)
		return PKT_ICMP;
	/* The TCP header was pulled whole, but the verifier cannot tell
	 * that path from UDP's here: one bounds test more, off the fast path.
	 */
	if (at->proto != IPPROTO_TCP || (const void *)(tcp + sizeof(struct tcphdr)) > at->end)
		return 0;
	flags = tcp[13];
	if ((flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN)
		kind |= PKT_SYN;
	if (flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		kind |= PKT_CLOSING;
	return kind;
}

/* struct vipd_flow.seen: the lease clock in ~1.05 ms units. */
static __always_inline __u32 flow_clock(void)
{
	return (__u32)(lease_clock() >> 20);
}

/* Where a flow the table does not know goes (struct vipd_slot.fallback).
 * VIPD_SLOT_TRACKED | real names the slot's own real; so does
 * VIPD_REAL_NONE, which has that bit too (an empty slot had no flows).
 * VIPD_SLOT_PREV_RING asks the service's previous ring, whose slot gives
 * its own fallback if it has one, else its real (no chains).
 */
static __always_inline __u32 slot_fallback(const struct vipd_service *svc,
					   const struct vipd_slot *slot, __u32 hash)
{
	const struct vipd_slot *prev;
	__u32 fb = slot->fallback;
	__u32 idx;

	if (fb == VIPD_SLOT_PREV_RING) {
		idx = svc->prev_ring + ring_slot(hash, svc->prev_size);
		prev = bpf_map_lookup_elem(&rings, &idx);
		if (!prev)
			return slot->real;
		slot = prev;
		fb = prev->fallback;
	}
	return fb & VIPD_SLOT_TRACKED ? slot->real : fb;
}

/* One access, as the kernel's: a pending tag is read and written whole. */
#define READ_ONCE(x)	 (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

/* The sizes of pending4 and pending6 less one (powers of two): the daemon
 * sets them before load from the maps' sizes (src/dataplane/manager.ts
 * setPendingMasks()). One variable: the loader finds a setting by its BTF,
 * whose offsets clang leaves at 0 for every variable of .rodata.
 */
const volatile __u32 pending_masks[2] = {VIPD_MAX_PENDING - 1, VIPD_MAX_PENDING - 1};

/* Writes a table entry and counts ev, or VIPD_FE_FULL if the map refused.
 * With BPF_NOEXIST (a promotion) an entry already there is a reused tuple:
 * rewritten, and counted as reopened.
 */
static __always_inline void flow_note(void *map, const void *key, __u32 real, __u32 hash,
				      __u32 flags, __u32 ev, __u64 bytes, __u64 how)
{
	struct vipd_flow f = {.real = real, .hash = hash, .seen = flow_clock(), .flags = flags};
	long err = bpf_map_update_elem(map, key, &f, how);

	if (err == -EEXIST) {
		ev = VIPD_FE_REOPENED;
		err = bpf_map_update_elem(map, key, &f, BPF_ANY);
	}
	if (err)
		ev = VIPD_FE_FULL;
	counter_add(&flow_stats, ev, bytes);
}

/* A flows entry for a flow first seen now (promoted, pinned): closing
 * already if the packet is a FIN or RST. A persistent client's entry
 * never closes: one connection's end is not the client's.
 */
static __always_inline void flow_insert(void *flows, const void *key, __u32 real, __u32 hash,
					__u32 kind, bool persist, __u32 ev, __u64 bytes, __u64 how)
{
	bool closing = (kind & PKT_CLOSING) && !persist;

	flow_note(flows, key, real, hash, closing ? VIPD_FLOW_F_CLOSING : 0, ev, bytes, how);
	if (closing)
		counter_add(&flow_stats, VIPD_FE_CLOSING, bytes);
}

/* Rule 1 of docs/dataplane.md: a flow the table knows. The entry is
 * written in place, and seen only when its ~1 ms unit changed, to spare
 * the cache line.
 */
static __always_inline __u32 flow_known(struct vipd_flow *e, __u32 kind, bool persist, __u64 bytes,
					__u32 real)
{
	const struct vipd_real *rv;
	__u32 r = e->real;
	__u32 ev = VIPD_FE_HIT;
	__u32 seen;

	rv = bpf_map_lookup_elem(&reals, &r);
	if (!rv || !(rv->flags & VIPD_REAL_F_VALID)) {
		/* The backend went DOWN or was removed: nothing else can
		 * serve the flow than what the ring says.
		 */
		e->real = real;
		r = real;
		ev = VIPD_FE_REASSIGNED;
	}
	counter_add(&flow_stats, ev, bytes);
	if ((kind & PKT_CLOSING) && !persist && !(e->flags & VIPD_FLOW_F_CLOSING)) {
		e->flags |= VIPD_FLOW_F_CLOSING;
		counter_add(&flow_stats, VIPD_FE_CLOSING, bytes);
	}
	seen = flow_clock();
	if (e->seen != seen)
		e->seen = seen;
	return r;
}

/* The check word of a flow's pending tag: the top half of
 * sum(word i of the whole table key x VIPD_PENDING_MULi) mod 2^64 (an IPv6
 * client's four words, not their XOR as in the flow hash). Four (ten)
 * independent multiplies and a short sum, where a second jhash was a chain
 * of some 60 dependent instructions on every SYN of a changed slot.
 */
static __always_inline __u32 pending_check(const void *key, bool v6)
{
	const __u32 *w = key;
	__u64 h = (__u64)w[0] * VIPD_PENDING_MUL0 + (__u64)w[1] * VIPD_PENDING_MUL1 +
		  (__u64)w[2] * VIPD_PENDING_MUL2 + (__u64)w[3] * VIPD_PENDING_MUL3;

	if (v6)
		h += (__u64)w[4] * VIPD_PENDING_MUL4 + (__u64)w[5] * VIPD_PENDING_MUL5 +
		     (__u64)w[6] * VIPD_PENDING_MUL6 + (__u64)w[7] * VIPD_PENDING_MUL7 +
		     (__u64)w[8] * VIPD_PENDING_MUL8 + (__u64)w[9] * VIPD_PENDING_MUL9;
	return h >> 32;
}

static __always_inline __u64 pending_tag(const void *key, bool v6, __u32 hash)
{
	return (__u64)pending_check(key, v6) << 32 | hash;
}

/* Rule 2's note: the flow's tag at its index, overwriting whatever was
 * there. real and seen first, the tag last: a reader that sees the tag
 * sees them (barring two first packets on one index at once, see docs).
 */
static __always_inline void pending_note(struct vipd_pending *p, __u64 tag, __u32 real, __u64 bytes)
{
	p->real = real;
	p->seen = flow_clock();
	/* clang otherwise moves the plain stores past the volatile one. */
	asm volatile("" ::: "memory");
	WRITE_ONCE(p->tag, tag);
	counter_add(&flow_stats, VIPD_FE_PENDING, bytes);
}

/* Rule 3: whether p holds this flow's tag. The flow hash (free) is
 * compared first; the check word is computed only when it matches.
 */
static __always_inline bool pending_match(const struct vipd_pending *p, __u64 *tag, const void *key,
					  bool v6, __u32 hash)
{
	__u64 t = READ_ONCE(p->tag);

	if ((__u32)t != hash)
		return false;
	*tag = pending_tag(key, v6, hash);
	return t == *tag;
}

/* The real server of a packet on a looked-up slot (docs/dataplane.md,
 * "Connection table", rules 1-4). flows and pending are one family's maps,
 * mask pending's size less one.
 */
static __always_inline __u32 conn_decide(void *flows, void *pending, __u32 mask, bool v6,
					 const void *key, const struct vipd_service *svc,
					 const struct vipd_slot *slot, __u32 hash, __u32 kind,
					 __u64 bytes)
{
	bool persist = svc->flags & VIPD_SVC_F_PERSIST;
	bool track_all = svc->flags & VIPD_SVC_F_TRACK_ALL;
	__u32 idx = hash & mask;
	__u32 real = slot->real;
	struct vipd_pending *p;
	struct vipd_flow *e;
	__u64 tag = 0;
	__u32 fb;

	if (kind & PKT_ICMP) {
		e = bpf_map_lookup_elem(flows, key);
		return e ? e->real : slot_fallback(svc, slot, hash);
	}
	p = bpf_map_lookup_elem(pending, &idx);
	if (!p)
		return real;
	if (!persist && !track_all) {
		/* (Rule 2, a SYN of such a service, never gets here:
		 * pending_first() took it.)
		 *
		 * Rule 3 before rule 1: a tuple reused by a new connection
		 * still has the old one's entry, which the promotion replaces
		 * (reopened). The tag is cleared, or every packet would match.
		 * Every promotion is written, even where the fallback names
		 * the same real (see docs/dataplane.md: the daemon test broke
		 * connections without it).
		 */
		if (pending_match(p, &tag, key, v6, hash)) {
			real = p->real;
			WRITE_ONCE(p->tag, 0);
			flow_insert(flows, key, real, hash, kind, false, VIPD_FE_PROMOTED, bytes,
				    BPF_NOEXIST);
			return real;
		}
	}
	e = bpf_map_lookup_elem(flows, key);
	if (e)
		return flow_known(e, kind, persist, bytes, real);
	fb = slot_fallback(svc, slot, hash);
	if (track_all) {
		/* UDP: the second datagram of a flow whose first was tagged,
		 * else a first datagram.
		 */
		/* The tag stays (as ABI 6's pending entry did): a flow whose
		 * entry the sweep or the LRU dropped is promoted again to the
		 * same real by its next datagram, not placed anew.
		 */
		if (pending_match(p, &tag, key, v6, hash)) {
			real = p->real;
			flow_insert(flows, key, real, hash, kind, persist, VIPD_FE_PROMOTED, bytes,
				    BPF_ANY);
			return real;
		}
		if (!persist || fb == real) {
			pending_note(p, tag ? tag : pending_tag(key, v6, hash), real, bytes);
			return real;
		}
	} else if ((kind & PKT_SYN) && fb == real) {
		/* A persistent client's first connection since the change. */
		return real;
	}
	/* Rule 4 (and a persistent client's first packet): a flow older than
	 * the slot's change, which the table never saw, keeps its real.
	 */
	if (fb != real)
		flow_insert(flows, key, fb, hash, kind, persist, VIPD_FE_PINNED, bytes, BPF_ANY);
	return fb;
}

/* Rule 2, TCP: a SYN (of a service neither persistent nor tracked as a
 * whole) is a new connection, whatever the table holds for its tuple: the
 * ring places it, and its tag is stored with no lookup at all. Inlined in
 * flow_real(), ahead of the conn_real4/6() call: the commonest packet of a
 * changed slot in a flood pays neither the call nor the request on the
 * stack.
 */
static __always_inline bool pending_first_applies(const struct vipd_service *svc, __u32 kind)
{
	return (kind & PKT_SYN) && !(svc->flags & (VIPD_SVC_F_PERSIST | VIPD_SVC_F_TRACK_ALL));
}

static __always_inline __u32 pending_first(void *pending, __u32 mask, bool v6, const void *key,
					   __u32 real, __u32 hash, __u64 bytes)
{
	__u32 idx = hash & mask;
	struct vipd_pending *p = bpf_map_lookup_elem(pending, &idx);

	if (p)
		pending_note(p, pending_tag(key, v6, hash), real, bytes);
	return real;
}

/* One family's table request, built on the caller's stack. */
struct conn_req4 {
	struct vipd_flow4_key key;
	__u32 hash;
	__u32 kind;
	__u64 bytes;
};

struct conn_req6 {
	struct vipd_flow6_key key;
	__u32 hash;
	__u32 kind;
	__u64 bytes;
};

/* The table decision as subprograms, one per family: forward() is inlined
 * four times, and the verifier walks each copy of the decision's branches
 * once per caller instead of once per inlined copy of everything around
 * it; clang also keeps its stack and registers off the clean path.
 */
static __noinline __u32 conn_real4(const struct vipd_service *svc, const struct vipd_slot *slot,
				   const struct conn_req4 *req)
{
	return conn_decide(&flows4, &pending4, pending_masks[0], false, &req->key, svc, slot,
			   req->hash, req->kind, req->bytes);
}

static __noinline __u32 conn_real6(const struct vipd_service *svc, const struct vipd_slot *slot,
				   const struct conn_req6 *req)
{
	return conn_decide(&flows6, &pending6, pending_masks[1], true, &req->key, svc, slot,
			   req->hash, req->kind, req->bytes);
}

static __always_inline void addr6_copy(void *dst, const __u32 *src)
{
	__u32 *d = dst;

	d[0] = src[0];
	d[1] = src[1];
	d[2] = src[2];
	d[3] = src[3];
}

/* The real server of a flow on a looked-up slot: the table key from the
 * packet (client port 0 for a persistent service), then the decision.
 */
static __always_inline __u32 flow_real(const struct vipd_service *svc, const struct vipd_slot *slot,
				       __u32 hash, __u64 bytes, const struct flow_at *at)
{
	bool persist = svc->flags & VIPD_SVC_F_PERSIST;
	__be16 cport = at->icmp ? at->ports->dest : at->ports->source;
	__be16 vport = at->icmp ? at->ports->source : at->ports->dest;
	__u32 kind = packet_kind(at);

	if (persist)
		cport = 0;
	if (at->family == VIPD_FAMILY_V4) {
		struct conn_req4 req = {
		    .key = {.client = at->client[0],
			    .vip = at->vip[0],
			    .cport = cport,
			    .vport = vport,
			    .proto = at->proto,
			    .kind = persist ? VIPD_FLOW_CLIENT : VIPD_FLOW_CONN},
		    .hash = hash,
		    .kind = kind,
		    .bytes = bytes,
		};

		if (pending_first_applies(svc, kind))
			return pending_first(&pending4, pending_masks[0], false, &req.key,
					     slot->real, hash, bytes);
		return conn_real4(svc, slot, &req);
	} else {
		struct conn_req6 req = {
		    .key = {.cport = cport,
			    .vport = vport,
			    .proto = at->proto,
			    .kind = persist ? VIPD_FLOW_CLIENT : VIPD_FLOW_CONN},
		    .hash = hash,
		    .kind = kind,
		    .bytes = bytes,
		};

		addr6_copy(req.key.client, at->client);
		addr6_copy(req.key.vip, at->vip);
		if (pending_first_applies(svc, kind))
			return pending_first(&pending6, pending_masks[1], true, &req.key,
					     slot->real, hash, bytes);
		return conn_real6(svc, slot, &req);
	}
}

/* Sends the frame to the real server of the flow: the one its slot of the
 * service's live ring names (ring_size slots of rings from slot
 * svc->ring), unless the slot or the service asks the connection table.
 * New destination MAC, our MAC as source, nothing else changes.
 */
static __always_inline __u32 forward(struct xdp_md *ctx, struct ethhdr *eth,
				     const struct vipd_service *svc, __u32 hash, __u64 bytes,
				     __u32 reason, struct flow_at at)
{
	__u32 idx = svc->ring + ring_slot(hash, svc->ring_size);
	const struct vipd_instance *inst;
	const struct vipd_slot *slot;
	struct vipd_real *real;
	__u32 r;

	inst = instance_serving(ctx, svc->instance, &r);
	if (!inst)
		return r;
	slot = bpf_map_lookup_elem(&rings, &idx);
	if (!slot)
		return VIPD_R_PASS_NO_BACKEND;
	r = slot->real;
	/* A clean slot (fallback == real) of a service not tracked as a
	 * whole: the ring alone decides, and the table is not touched.
	 */
	if (slot->fallback != r || (svc->flags & VIPD_SVC_F_TRACK_ALL))
		r = flow_real(svc, slot, hash, bytes, &at);
	/* VIPD_REAL_NONE is out of the reals array's range: no entry. */
	real = bpf_map_lookup_elem(&reals, &r);
	if (!real || !(real->flags & VIPD_REAL_F_VALID))
		return VIPD_R_PASS_NO_BACKEND;

	mac_copy(eth->h_dest, real->mac);
	mac_copy(eth->h_source, inst->mac);
	/* The one counter of a forwarded packet: the service's totals and the
	 * forward verdict are sums of real_stats (docs/dataplane.md).
	 */
	counter_add(&real_stats, r, bytes);
	return reason;
}

static __always_inline __u32 handle_arp(struct xdp_md *ctx, struct hdr_cursor *c,
					struct ethhdr *eth)
{
	struct arp_eth_ipv4 *arp = cursor_pull_type(c, struct arp_eth_ipv4);
	struct vipd_vip_key key = {.family = VIPD_FAMILY_V4};
	const struct vipd_instance *inst;
	__u16 *spa, *tpa;
	struct vipd_vip *vip;
	__u32 r;

	if (!arp)
		return VIPD_R_PASS_TRUNCATED;
	/* htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, oper 1 (request):
	 * the first 8 bytes, compared at once.
	 */
	if (*(__u64 *)arp != bpf_cpu_to_be64(0x0001080006040001ull))
		return VIPD_R_PASS_ARP_OTHER;
	/* Gratuitous ARP (sender = target) announces; it asks nothing. */
	spa = (__u16 *)arp->spa;
	tpa = (__u16 *)arp->tpa;
	if (spa[0] == tpa[0] && spa[1] == tpa[1])
		return VIPD_R_PASS_ARP_OTHER;

	((__u16 *)key.addr)[0] = tpa[0];
	((__u16 *)key.addr)[1] = tpa[1];
	vip = bpf_map_lookup_elem(&vips, &key);
	if (!vip)
		return VIPD_R_PASS_NOT_VIP;
	inst = instance_serving(ctx, vip->instance, &r);
	if (!inst)
		return r;
	/* Routes bring the VIP's traffic here (announce: bgp): an answer
	 * would draw the segment's traffic to this host alone.
	 */
	if (inst->flags & VIPD_INST_F_ROUTED)
		return VIPD_R_PASS_ROUTED;

	/* The reply goes to the requester's hardware address, as Linux's. */
	mac_copy(arp->tha, arp->sha);
	tpa[0] = spa[0];
	tpa[1] = spa[1];
	mac_copy(arp->sha, inst->mac);
	spa[0] = ((__u16 *)key.addr)[0];
	spa[1] = ((__u16 *)key.addr)[1];
	arp->oper = ARPOP_REPLY_BE;
	mac_copy(eth->h_dest, arp->tha);
	mac_copy(eth->h_source, inst->mac);
	return VIPD_R_ARP_REPLY;
}

/* ICMP "fragmentation needed" about a flow of ours quotes the header of a
 * packet the real server sent as the VIP: route it by that inner header to
 * the same real server, with the direction of the 5-tuple turned around.
 */
static __always_inline __u32 handle_icmp4(struct xdp_md *ctx, struct hdr_cursor *c,
					  struct ethhdr *eth, struct iphdr *outer, __u64 bytes)
{
	struct icmp4hdr *icmp = cursor_pull_type(c, struct icmp4hdr);
	struct vipd_service4_key key = {};
	struct vipd_service *svc;
	struct l4_ports *ports;
	struct iphdr *inner;
	__u32 hash;

	if (!icmp)
		return VIPD_R_PASS_TRUNCATED;
	if (icmp->type != ICMP4_DEST_UNREACH || icmp->code != ICMP4_FRAG_NEEDED)
		return miss_reason(ctx, eth, &outer->daddr, VIPD_FAMILY_V4, VIPD_R_PASS_ICMP_OTHER);

	inner = cursor_pull_type(c, struct iphdr);
	if (!inner)
		return VIPD_R_PASS_TRUNCATED;
	if (inner->version != 4 || inner->ihl < 5)
		return VIPD_R_PASS_MALFORMED;
	if (!cursor_skip(c, inner->ihl * 4 - sizeof(*inner)))
		return VIPD_R_PASS_TRUNCATED;
	/* RFC 792 quotes 8 bytes of the original datagram: the ports. */
	ports = cursor_pull_type(c, struct l4_ports);
	if (!ports)
		return VIPD_R_PASS_TRUNCATED;
	if (inner->saddr != outer->daddr ||
	    (inner->protocol != IPPROTO_TCP && inner->protocol != IPPROTO_UDP) ||
	    (inner->frag_off & bpf_htons(IP_OFFSET)))
		return miss_reason(ctx, eth, &outer->daddr, VIPD_FAMILY_V4, VIPD_R_PASS_ICMP_OTHER);

	key.addr = inner->saddr;
	key.port = ports->source;
	key.proto = inner->protocol;
	svc = bpf_map_lookup_elem(&services4, &key);
	if (!svc)
		return miss_reason(ctx, eth, &outer->daddr, VIPD_FAMILY_V4, VIPD_R_PASS_ICMP_OTHER);
	hash = flow_hash(inner->daddr, inner->saddr, svc_ports(svc, ports_word_reversed(ports)));
	return forward(ctx, eth, svc, hash, bytes, VIPD_R_ICMP_FORWARD,
		       (struct flow_at){.client = &inner->daddr,
					.vip = &inner->saddr,
					.ports = ports,
					.end = c->end,
					.family = VIPD_FAMILY_V4,
					.proto = inner->protocol,
					.icmp = true});
}

static __always_inline __u32 handle_ipv4(struct xdp_md *ctx, struct hdr_cursor *c,
					 struct ethhdr *eth, __u64 bytes)
{
	struct iphdr *iph = cursor_pull_type(c, struct iphdr);
	struct vipd_service4_key key;
	struct vipd_service *svc;
	struct l4_ports *ports;
	__u32 hash;

	if (!iph)
		return VIPD_R_PASS_TRUNCATED;
	/* Version 4 without options is one byte, and the common case. */
	if (*(__u8 *)iph != 0x45) {
		if (iph->version != 4 || iph->ihl < 5)
			return VIPD_R_PASS_MALFORMED;
		/* Options are skipped, not refused: DR forwarding leaves
		 * them intact.
		 */
		if (!cursor_skip(c, iph->ihl * 4 - sizeof(*iph)))
			return VIPD_R_PASS_TRUNCATED;
	}
	if (bpf_ntohs(iph->tot_len) < iph->ihl * 4)
		return VIPD_R_PASS_MALFORMED;
	/* No fragment can be placed: only the first carries ports, and the
	 * rest could not follow it to the same real server. Passed, so that
	 * the kernel reassembles them when the VIP is a local address.
	 */
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return miss_reason(ctx, eth, &iph->daddr, VIPD_FAMILY_V4, VIPD_R_PASS_FRAGMENT);

	switch (iph->protocol) {
	case IPPROTO_TCP:
		ports = cursor_pull(c, sizeof(struct tcphdr));
		break;
	case IPPROTO_UDP:
		ports = cursor_pull(c, sizeof(struct udphdr));
		break;
	case IPPROTO_ICMP:
		return handle_icmp4(ctx, c, eth, iph, bytes);
	default:
		return miss_reason(ctx, eth, &iph->daddr, VIPD_FAMILY_V4, VIPD_R_PASS_NO_SERVICE);
	}
	if (!ports)
		return VIPD_R_PASS_TRUNCATED;

	key.addr = iph->daddr;
	key.port = ports->dest;
	key.proto = iph->protocol;
	key.pad = 0;
	svc = bpf_map_lookup_elem(&services4, &key);
	if (!svc)
		return miss_reason(ctx, eth, &iph->daddr, VIPD_FAMILY_V4, VIPD_R_PASS_NO_SERVICE);
	hash = flow_hash(iph->saddr, iph->daddr, svc_ports(svc, ports_word(ports)));
	return forward(ctx, eth, svc, hash, bytes, VIPD_R_FORWARD,
		       (struct flow_at){.client = &iph->saddr,
					.vip = &iph->daddr,
					.ports = ports,
					.end = c->end,
					.family = VIPD_FAMILY_V4,
					.proto = iph->protocol});
}

/* Is dst the solicited-node multicast address of target (RFC 4291 2.7.1):
 * ff02::1:ff00:0/104 plus the target's low 24 bits?
 */
static __always_inline bool is_solicited_node(const struct in6_addr *dst, const __u8 *target)
{
	const __be32 *w = dst->in6_u.u6_addr32;

	return w[0] == bpf_htonl(0xff020000) && w[1] == 0 && w[2] == bpf_htonl(1) &&
	       dst->in6_u.u6_addr8[12] == 0xff && dst->in6_u.u6_addr8[13] == target[13] &&
	       dst->in6_u.u6_addr8[14] == target[14] && dst->in6_u.u6_addr8[15] == target[15];
}

/* Neighbour solicitation for an active VIP -> neighbour advertisement,
 * built in place. The frame is cut (or grown) to exactly Ethernet + IPv6 +
 * NA + target link-layer option; the solicitation's options are not kept.
 */
static __always_inline __u32 handle_ns(struct xdp_md *ctx, struct hdr_cursor *c, struct ethhdr *eth,
				       struct ipv6hdr *ip6h)
{
	struct nd_msg_hdr *ns = cursor_pull_type(c, struct nd_msg_hdr);
	struct vipd_vip_key key = {.family = VIPD_FAMILY_V6};
	const struct vipd_instance *inst;
	struct nd_opt_lladdr *opt;
	__u16 peer_mac[ETH_ALEN / 2];
	struct in6_addr peer;
	struct vipd_vip *vip;
	void *data, *data_end;
	__u64 sum;
	__u32 r;
	int delta;

	if (!ns)
		return VIPD_R_PASS_TRUNCATED;
	/* RFC 4861 7.1.1: hop limit 255 proves the sender is on link. DAD
	 * probes (from ::) are left to the kernel: a conflict is its business.
	 */
	if (ip6h->hop_limit != 255 || ns->code != 0 || addr6_is_zero(&ip6h->saddr))
		return VIPD_R_PASS_ND_OTHER;
	if (!addr6_eq(&ip6h->daddr, ns->target) && !is_solicited_node(&ip6h->daddr, ns->target))
		return VIPD_R_PASS_ND_OTHER;

	__builtin_memcpy(key.addr, ns->target, 16);
	vip = bpf_map_lookup_elem(&vips, &key);
	if (!vip)
		return VIPD_R_PASS_NOT_VIP;
	inst = instance_serving(ctx, vip->instance, &r);
	if (!inst)
		return r;
	if (inst->flags & VIPD_INST_F_ROUTED)
		return VIPD_R_PASS_ROUTED; /* as in handle_arp() */

	mac_copy(peer_mac, eth->h_source);
	__builtin_memcpy(&peer, &ip6h->saddr, sizeof(peer));
	delta = (int)NA_LEN - (int)(ctx->data_end - ctx->data);
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return VIPD_R_PASS_ND_OTHER;

	/* The frame moved: parse it again from the start. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	c->pos = data;
	c->end = data_end;
	eth = cursor_pull_type(c, struct ethhdr);
	ip6h = cursor_pull_type(c, struct ipv6hdr);
	ns = cursor_pull_type(c, struct nd_msg_hdr);
	opt = cursor_pull_type(c, struct nd_opt_lladdr);
	if (!eth || !ip6h || !ns || !opt)
		return VIPD_R_PASS_TRUNCATED;

	mac_copy(eth->h_dest, peer_mac);
	mac_copy(eth->h_source, inst->mac);
	*(__be32 *)ip6h = bpf_htonl(0x60000000); /* version 6, no class or flow label */
	ip6h->payload_len = bpf_htons(NA_BODY_LEN);
	ip6h->nexthdr = IPPROTO_ICMPV6;
	ip6h->hop_limit = 255;
	__builtin_memcpy(&ip6h->saddr, key.addr, 16);
	__builtin_memcpy(&ip6h->daddr, &peer, 16);
	ns->type = NDISC_NA;
	ns->code = 0;
	ns->cksum = 0;
	ns->flags = NA_FLAGS_S_O;
	/* ns->target stays: it is the VIP. */
	opt->type = ND_OPT_TARGET_LL;
	opt->len = 1;
	mac_copy(opt->mac, inst->mac);

	/* Pseudo-header (addresses, upper-layer length, next header), then
	 * the message. Every part starts 4-byte aligned (the IPv6 header
	 * does, as the verifier assumes with NET_IP_ALIGN), so 32-bit words.
	 */
	sum = csum_add_words32(0, &ip6h->saddr, 32);
	sum += bpf_htons(NA_BODY_LEN) + bpf_htons(IPPROTO_ICMPV6);
	sum = csum_add_words32(sum, ns, sizeof(*ns));
	sum = csum_add_words32(sum, opt, sizeof(*opt));
	ns->cksum = csum_fold64(sum);
	return VIPD_R_ND_ADVERT;
}

/* ICMPv6 "packet too big" about a flow of ours: as handle_icmp4(). */
static __always_inline __u32 handle_ptb(struct xdp_md *ctx, struct hdr_cursor *c,
					struct ethhdr *eth, struct ipv6hdr *outer, __u64 bytes)
{
	struct vipd_service6_key key = {};
	struct vipd_service *svc;
	struct l4_ports *ports;
	struct ipv6hdr *inner;
	__u32 hash;

	if (!cursor_pull(c, 4)) /* the MTU */
		return VIPD_R_PASS_TRUNCATED;
	inner = cursor_pull_type(c, struct ipv6hdr);
	if (!inner)
		return VIPD_R_PASS_TRUNCATED;
	ports = cursor_pull_type(c, struct l4_ports);
	if (!ports)
		return VIPD_R_PASS_TRUNCATED;
	if (!addr6_eq(&inner->saddr, &outer->daddr) ||
	    (inner->nexthdr != IPPROTO_TCP && inner->nexthdr != IPPROTO_UDP))
		return miss_reason(ctx, eth, outer->daddr.in6_u.u6_addr32, VIPD_FAMILY_V6,
				   VIPD_R_PASS_ICMP_OTHER);

	__builtin_memcpy(key.addr, &inner->saddr, 16);
	key.port = ports->source;
	key.proto = inner->nexthdr;
	svc = bpf_map_lookup_elem(&services6, &key);
	if (!svc)
		return miss_reason(ctx, eth, outer->daddr.in6_u.u6_addr32, VIPD_FAMILY_V6,
				   VIPD_R_PASS_ICMP_OTHER);
	hash =
	    flow_hash(fold_v6(inner->daddr.in6_u.u6_addr32), fold_v6(inner->saddr.in6_u.u6_addr32),
		      svc_ports(svc, ports_word_reversed(ports)));
	return forward(ctx, eth, svc, hash, bytes, VIPD_R_ICMP_FORWARD,
		       (struct flow_at){.client = inner->daddr.in6_u.u6_addr32,
					.vip = inner->saddr.in6_u.u6_addr32,
					.ports = ports,
					.end = c->end,
					.family = VIPD_FAMILY_V6,
					.proto = inner->nexthdr,
					.icmp = true});
}

static __always_inline __u32 handle_ipv6(struct xdp_md *ctx, struct hdr_cursor *c,
					 struct ethhdr *eth, __u64 bytes)
{
	struct ipv6hdr *ip6h = cursor_pull_type(c, struct ipv6hdr);
	struct vipd_service6_key key = {};
	struct vipd_service *svc;
	struct icmp6hdr *icmp6;
	struct l4_ports *ports;
	__u32 hash;

	if (!ip6h)
		return VIPD_R_PASS_TRUNCATED;
	if (ip6h->version != 6)
		return VIPD_R_PASS_MALFORMED;

	switch (ip6h->nexthdr) {
	case IPPROTO_TCP:
		ports = cursor_pull(c, sizeof(struct tcphdr));
		break;
	case IPPROTO_UDP:
		ports = cursor_pull(c, sizeof(struct udphdr));
		break;
	case IPPROTO_ICMPV6:
		/* Peek at the type only: each handler pulls its own message. */
		icmp6 = c->pos;
		if ((void *)icmp6 + 4 > c->end)
			return VIPD_R_PASS_TRUNCATED;
		if (icmp6->icmp6_type == NDISC_NS)
			return handle_ns(ctx, c, eth, ip6h);
		if (icmp6->icmp6_type == ICMPV6_PKT_TOOBIG && icmp6->icmp6_code == 0) {
			c->pos += 4;
			return handle_ptb(ctx, c, eth, ip6h, bytes);
		}
		return miss_reason(ctx, eth, ip6h->daddr.in6_u.u6_addr32, VIPD_FAMILY_V6,
				   VIPD_R_PASS_ICMP_OTHER);
	case IPPROTO_FRAGMENT:
		return miss_reason(ctx, eth, ip6h->daddr.in6_u.u6_addr32, VIPD_FAMILY_V6,
				   VIPD_R_PASS_FRAGMENT);
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
		/* Extension chains are not walked: a bounded walk would pass
		 * the verifier, but nothing we serve sends them.
		 */
		return miss_reason(ctx, eth, ip6h->daddr.in6_u.u6_addr32, VIPD_FAMILY_V6,
				   VIPD_R_PASS_IPV6_EXT);
	default:
		return miss_reason(ctx, eth, ip6h->daddr.in6_u.u6_addr32, VIPD_FAMILY_V6,
				   VIPD_R_PASS_NO_SERVICE);
	}
	if (!ports)
		return VIPD_R_PASS_TRUNCATED;

	__builtin_memcpy(key.addr, &ip6h->daddr, 16);
	key.port = ports->dest;
	key.proto = ip6h->nexthdr;
	svc = bpf_map_lookup_elem(&services6, &key);
	if (!svc)
		return miss_reason(ctx, eth, ip6h->daddr.in6_u.u6_addr32, VIPD_FAMILY_V6,
				   VIPD_R_PASS_NO_SERVICE);
	hash = flow_hash(fold_v6(ip6h->saddr.in6_u.u6_addr32), fold_v6(ip6h->daddr.in6_u.u6_addr32),
			 svc_ports(svc, ports_word(ports)));
	return forward(ctx, eth, svc, hash, bytes, VIPD_R_FORWARD,
		       (struct flow_at){.client = ip6h->saddr.in6_u.u6_addr32,
					.vip = ip6h->daddr.in6_u.u6_addr32,
					.ports = ports,
					.end = c->end,
					.family = VIPD_FAMILY_V6,
					.proto = ip6h->nexthdr});
}

static __always_inline __u32 process(struct xdp_md *ctx, __u64 bytes)
{
	struct hdr_cursor c = {
	    .pos = (void *)(long)ctx->data,
	    .end = (void *)(long)ctx->data_end,
	};
	struct ethhdr *eth;
	__be16 proto;

	eth = cursor_pull_type(&c, struct ethhdr);
	if (!eth)
		return VIPD_R_PASS_TRUNCATED;

	/* ethhdr is packed: read h_proto as one (aligned) 16-bit word. IPv4
	 * is tested first: it is most of the traffic.
	 */
	proto = *(__be16 *)((void *)eth + offsetof(struct ethhdr, h_proto));
	if (proto == bpf_htons(ETH_P_IP))
		return handle_ipv4(ctx, &c, eth, bytes);
	switch (proto) {
	case bpf_htons(ETH_P_ARP):
		return handle_arp(ctx, &c, eth);
	case bpf_htons(ETH_P_IPV6):
		return handle_ipv6(ctx, &c, eth, bytes);
	case bpf_htons(ETH_P_8021Q):
	case bpf_htons(ETH_P_8021AD):
		/* A VIP belongs to one L2 segment; the tag names another. */
		return VIPD_R_PASS_VLAN;
	default:
		return VIPD_R_PASS_ETHERTYPE;
	}
}

SEC("xdp")
int vipd_xdp(struct xdp_md *ctx)
{
	/* Pointer arithmetic: 64 bits, nothing to truncate. */
	__u64 bytes = (void *)(long)ctx->data_end - (void *)(long)ctx->data;
	__u32 reason = process(ctx, bytes);

	/* forward is counted in real_stats alone (see vipd_maps.h). */
	if (reason == VIPD_R_FORWARD)
		return XDP_TX;
	counter_add(&verdicts, reason, bytes);
	return reason < VIPD_R_FIRST_PASS ? XDP_TX : XDP_PASS;
}
