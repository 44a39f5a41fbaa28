/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Every key and value that crosses the kernel/user boundary.
 *
 * Layout rules, so that the TypeScript codecs (src/dataplane/abi.ts) stay
 * simple: explicit padding, no bitfields, addresses as 16 bytes in network
 * order (an IPv4 address in the first 4, the rest zero), ports in network
 * order. test/bpf/abi.test.ts compares every struct here with its codec.
 */
#ifndef VIPD_STRUCTS_H
#define VIPD_STRUCTS_H

#include <linux/types.h>

/* instances: VRRP instance id -> whether this host serves it, until when,
 * on which interface, and with which MAC. Failover of an instance is one
 * write of this entry, however many VIPs and services refer to it.
 *
 * The interface lives here (ABI 4; ABI 3 had an ifaces map looked up on
 * every frame): the instance is looked up anyway on every path that
 * answers or forwards, so checking the ingress interface and finding the
 * source MAC cost two loads more instead of a map lookup, and the check is
 * finer: a VIP is served on its own instance's interface only.
 */
struct vipd_instance {
	/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) deadline; 0: not served here. */
	__u64 lease_expiry_ns;
	__u32 ifindex; /* the interface the instance's VIPs are served on */
	__u8 mac[6];   /* its MAC: the source of every frame sent back out */
	__u16 flags;   /* VIPD_INST_F_* */
	/* The interface's own MAC (ABI 6). With VIPD_INST_F_VMAC, mac is the
	 * VRRP virtual MAC, which the kernel does not own: a frame to it that
	 * the program passes (a ping to the VIP, a port no service has) is
	 * re-addressed to host_mac, or the kernel would drop it as not its own.
	 */
	__u8 host_mac[6];
	__u8 pad[6]; /* 0 */
};

/* vips: (address, family) -> the instance that owns it. */
struct vipd_vip_key {
	__u8 addr[16];
	__u8 family; /* VIPD_FAMILY_V4 / VIPD_FAMILY_V6 */
	__u8 pad[3];
};

struct vipd_vip {
	__u32 instance;
	__u32 flags; /* reserved, 0 */
};

/* services4 / services6: (VIP, port, protocol) -> ring, instance (ABI 5:
 * the live ring by its first slot and its size, rings sized per service). Two maps,
 * so that an IPv4 service key is 8 bytes: the kernel hashes and compares
 * every byte of a hash key, and IPv4 is the common case (ABI 3; ABI 2 had
 * one map with a 20-byte key for both families).
 */
struct vipd_service4_key {
	__be32 addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 pad;   /* 0 */
};

struct vipd_service6_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto; /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 pad;   /* 0 */
};

struct vipd_service {
	__u32 ring;	 /* first slot of the live ring in rings */
	__u32 ring_size; /* slots of each of its rings: a prime from its backend count */
	__u32 instance;	 /* same instance as the VIP's: one lookup less per packet */
	__u32 flags;	 /* VIPD_SVC_F_* */
	/* The daemon's bookkeeping, never read by the program: the service's
	 * number (for counters) and the first slot of its two rings (ring is
	 * region or region + ring_size), so a restarted daemon finds both.
	 */
	__u32 index;
	__u32 region;
	/* The ring before a resize (ABI 6): a slot whose fallback is
	 * VIPD_SLOT_PREV_RING finds the flow's fallback in this ring's slot
	 * for the same hash. 0/0 when no slot refers to it.
	 */
	__u32 prev_ring;
	__u32 prev_size;
};

/* rings: one slot of a Maglev ring (ABI 6; ABI 5 held the real alone, on
 * the same 8-byte stride of the mmapable array). See VIPD_SLOT_* for what
 * fallback means; docs/dataplane.md "Connection table" for why.
 */
struct vipd_slot {
	__u32 real;	/* real server index of a new flow, or VIPD_REAL_NONE */
	__u32 fallback; /* where a flow the connection table does not know goes */
};

/* flows4: a flow to an IPv4 service. kind VIPD_FLOW_CLIENT
 * (persistence) has cport 0. 16 bytes: the kernel hashes every byte.
 */
struct vipd_flow4_key {
	__be32 client;
	__be32 vip;
	__be16 cport;
	__be16 vport;
	__u8 proto;
	__u8 kind; /* VIPD_FLOW_* */
	__u8 pad[2];
};

struct vipd_flow6_key {
	__u8 client[16];
	__u8 vip[16];
	__be16 cport;
	__be16 vport;
	__u8 proto;
	__u8 kind;
	__u8 pad[2];
};

/* The real server a flow stays on, whatever the rings say now. */
struct vipd_flow {
	__u32 real;  /* real server index */
	__u32 hash;  /* the flow hash: the daemon finds the slot from it */
	__u32 seen;  /* lease clock >> 20 (~1.05 ms units) at the last packet */
	__u32 flags; /* VIPD_FLOW_F_* */
};

/* pending4 / pending6 (ABI 7): the tag of a flow whose first packet (a
 * SYN, a first datagram) was sent to `real`, at index hash & pendingN_mask
 * of a direct-mapped array. tag = (u64)check << 32 | flow hash, where check
 * is a second hash of the flow key (VIPD_PENDING_MUL*); 0: empty. The
 * program writes real and seen, then the tag (one 8-byte store), and reads
 * the tag first. docs/dataplane.md "Connection table" says why.
 */
struct vipd_pending {
	__u64 tag;
	__u32 real; /* real server index the first packet went to */
	__u32 seen; /* lease clock >> 20 when it came */
};

/* reals: real server index -> where to send the frame. */
struct vipd_real {
	__u8 mac[6];
	__u16 flags; /* VIPD_REAL_F_* */
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};

/* verdicts, real_stats: one per CPU, summed by the reader. */
struct vipd_counter {
	__u64 packets;
	__u64 bytes;
};

#endif /* VIPD_STRUCTS_H */
