/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Limits, flags and verdict reasons of the vipd data plane.
 *
 * Shared by the XDP program and (through src/dataplane/abi.ts, checked
 * against this object's BTF) by the daemon. Anything here that changes
 * meaning is an ABI change: pinned maps from an older vipd would be
 * misread, so bump VIPD_ABI_VERSION with it.
 */
#ifndef VIPD_CONSTS_H
#define VIPD_CONSTS_H

#define VIPD_ABI_VERSION 7

/* Map sizes in the object. They are only defaults: the daemon sizes every
 * map from the config before load (src/dataplane/sizing.ts), so none of
 * these is a limit an operator meets.
 */
#define VIPD_MAX_INSTANCES 256
#define VIPD_MAX_VIPS	   16384
#define VIPD_MAX_SERVICES  64
#define VIPD_MAX_REALS	   4096
/* Ring slots, all services together: each service owns two rings of its
 * own size (double buffering, see vipd_maps.h).
 */
#define VIPD_MAX_RING_SLOTS (1u << 20)
/* The connection table per family (connections.max) and its pending stage
 * (connections.pending; ABI 7: a direct-mapped array, so a power of two;
 * the daemon sets pending_masks[] in .rodata to its size less one).
 * VIPD_MAX_PENDING is also the daemon's default (sizing.ts DEFAULT_PENDING).
 */
#define VIPD_MAX_FLOWS	 65536
#define VIPD_MAX_PENDING 65536

/* The multipliers of struct vipd_pending.tag's check word, one per 32-bit
 * word of a flow key (vipd_flow4_key: 4, vipd_flow6_key: 10): random odd
 * 64-bit constants, fixed so every host and the TypeScript model agree.
 * The check is the top half of the sum of word x multiplier mod 2^64 (a
 * vector multiply-shift hash): a function of the whole key unrelated to the
 * flow hash (jhash), so a tag tells two flows apart by 64 bits, and the
 * multiplies run side by side where a second jhash was one long chain.
 */
#define VIPD_PENDING_MUL0 0x2cb285770359f761ull
#define VIPD_PENDING_MUL1 0x0210dc5fb02ded79ull
#define VIPD_PENDING_MUL2 0x7c695b974e0ab5c7ull
#define VIPD_PENDING_MUL3 0x5e32084b607c65f7ull
#define VIPD_PENDING_MUL4 0xe9ad626e269a0d57ull
#define VIPD_PENDING_MUL5 0x1c2cd0c842b1381bull
#define VIPD_PENDING_MUL6 0xd723c0fa823f2c25ull
#define VIPD_PENDING_MUL7 0xe13bc12f1b440553ull
#define VIPD_PENDING_MUL8 0x50924c4f999ec0e9ull
#define VIPD_PENDING_MUL9 0xa50a750ff91b6319ull

/* iface_masters is an array indexed by ifindex, so it caps the ifindex of a
 * bond member (only of members: the instance's own interface may have any
 * ifindex). The manager refuses a member it cannot hold.
 */
#define VIPD_MAX_IFINDEX 4096

/* The largest ring a service can have (a prime). A service's ring size is
 * the smallest prime of the ladder in src/dataplane/sizing.ts that is at
 * least 100 times its backend count (Maglev: <= 1% imbalance), capped here.
 */
#define VIPD_RING_MAX_SIZE 65537

/* A ring slot that names no real server (a service with no live backend). */
#define VIPD_REAL_NONE 0xffffffffu

/* struct vipd_slot.fallback (ABI 6), see vipd_structs.h:
 * == real                  clean: the connection table is not consulted;
 * VIPD_SLOT_TRACKED | real consulted; a flow it does not know goes to real;
 * another real index       the slot changed hands: a flow it does not know
 *                          started before the change and goes there;
 * VIPD_SLOT_PREV_RING      as above, but the service's previous ring (of
 *                          another size) says where: see vipd_service.
 * Real indexes stay below VIPD_SLOT_TRACKED.
 */
#define VIPD_SLOT_TRACKED   0x80000000u
#define VIPD_SLOT_PREV_RING 0xfffffffeu

/* Seed of the flow hash. Every host must use the same value, or two hosts
 * would send one flow to two real servers after a failover. (ABI 3 mixed
 * the protocol into it; TCP and UDP services have rings of their own, so
 * ABI 4 does not.)
 */
#define VIPD_HASH_SEED 0x5eed1e55u

/* Address families in map keys: IP version numbers, not AF_* values, so
 * that they read the same in every language.
 */
#define VIPD_FAMILY_V4 4
#define VIPD_FAMILY_V6 6

/* struct vipd_instance.lease_expiry_ns of a lease that never ends. */
#define VIPD_LEASE_FOREVER 0xffffffffffffffffull

/* struct vipd_instance.flags */
#define VIPD_INST_F_ACTIVE (1u << 0) /* MASTER here: a lapsed lease is "expired" */
/* The VIPs are reached by routes (announce: bgp): every host serving them
 * forwards, none answers ARP/NDP for them (ABI 6).
 */
#define VIPD_INST_F_ROUTED (1u << 1)
/* mac is the VRRP virtual MAC, not host_mac (instances[].vmac, ABI 6). */
#define VIPD_INST_F_VMAC (1u << 2)

/* struct vipd_service.flags (ABI 6) */
/* Every flow is looked up, not only those of changed slots: UDP has no
 * first packet to tell a new flow from an old one.
 */
#define VIPD_SVC_F_TRACK_ALL (1u << 0)
/* Source-IP persistence: the flow key and hash leave the client's port out,
 * so every connection of a client goes to one real server.
 */
#define VIPD_SVC_F_PERSIST (1u << 1)

/* struct vipd_flow_key*.kind */
#define VIPD_FLOW_CONN	 0 /* one connection: the 5-tuple */
#define VIPD_FLOW_CLIENT 1 /* a persistent client: client port 0 */

/* struct vipd_flow.flags */
#define VIPD_FLOW_F_CLOSING (1u << 0) /* the client sent FIN or RST */

/* struct vipd_real.flags */
#define VIPD_REAL_F_VALID (1u << 0) /* the entry holds a real server */

/* Why the program returned what it returned: the index of the verdicts
 * map. The first four are XDP_TX; every other reason is XDP_PASS. The
 * program counts every reason there except VIPD_R_FORWARD, which readers
 * derive from real_stats (see vipd_maps.h).
 */
enum vipd_reason {
	VIPD_R_ARP_REPLY = 0,	   /* ARP request for an active VIP answered */
	VIPD_R_ND_ADVERT,	   /* neighbour solicitation for an active VIP answered */
	VIPD_R_FORWARD,		   /* TCP/UDP to a service sent to its real server */
	VIPD_R_ICMP_FORWARD,	   /* frag-needed / packet-too-big sent to the flow's real */
	VIPD_R_PASS_OTHER_IFACE,   /* the VIP's instance serves another interface */
	VIPD_R_PASS_TRUNCATED,	   /* the frame ends inside a header */
	VIPD_R_PASS_MALFORMED,	   /* a header is inconsistent (IHL, version, length) */
	VIPD_R_PASS_VLAN,	   /* 802.1Q / 802.1ad tagged: not ours, see docs */
	VIPD_R_PASS_ETHERTYPE,	   /* neither ARP nor IPv4 nor IPv6 */
	VIPD_R_PASS_ARP_OTHER,	   /* reply, gratuitous, not Ethernet/IPv4 */
	VIPD_R_PASS_ND_OTHER,	   /* NDP we do not answer (DAD, bad hop limit, ...) */
	VIPD_R_PASS_NOT_VIP,	   /* the destination is not a VIP (includes VRRP) */
	VIPD_R_PASS_INACTIVE,	   /* the VIP's instance is not active here */
	VIPD_R_PASS_LEASE_EXPIRED, /* active, but the daemon stopped renewing */
	VIPD_R_PASS_NO_SERVICE,	   /* a VIP, but no service on this port/protocol */
	VIPD_R_PASS_FRAGMENT,	   /* an IP fragment (see docs/dataplane.md) */
	VIPD_R_PASS_IPV6_EXT,	   /* IPv6 extension header before the transport */
	VIPD_R_PASS_ICMP_OTHER,	   /* ICMP to a VIP that is not about a service flow */
	VIPD_R_PASS_NO_BACKEND,	   /* the ring slot names no valid real server */
	VIPD_R_PASS_ROUTED,	   /* ARP/NS for a VIP of a routed instance (ABI 6) */
	VIPD_REASON_MAX,
};

#define VIPD_R_FIRST_PASS VIPD_R_PASS_OTHER_IFACE

/* What the connection table did (the flow_stats map's index, ABI 6).
 * Only packets of tracked slots or services get here: a clean slot's
 * packets never touch the table.
 */
enum vipd_flow_event {
	VIPD_FE_HIT = 0,    /* the table knew the flow */
	VIPD_FE_PENDING,    /* first packet (SYN, first datagram) tagged in pending */
	VIPD_FE_PROMOTED,   /* second packet: its pending tag -> flows */
	VIPD_FE_PINNED,	    /* an unknown flow sent to the slot's fallback and kept */
	VIPD_FE_REASSIGNED, /* the flow's real server is gone: sent by the ring */
	VIPD_FE_REOPENED,   /* a new connection on a known tuple (ABI 7: at its 2nd packet) */
	VIPD_FE_CLOSING,    /* the client sent FIN or RST */
	VIPD_FE_FULL,	    /* an insert failed (the table could not take it) */
	VIPD_FE_MAX,
};

#endif /* VIPD_CONSTS_H */
