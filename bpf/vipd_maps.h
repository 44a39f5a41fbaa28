/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* The maps of the vipd XDP program (BTF-defined).
 *
 * The daemon pins each one under its bpf.pin directory by the name given
 * here, and a restarted daemon re-adopts them: these names are ABI.
 *
 * Maglev rings are double-buffered in one flat array rather than kept in
 * an array-of-maps: each service owns two rings of its own size, and
 * struct vipd_service names the live one by its first slot. The daemon
 * writes the idle ring, then flips vipd_service.ring with one update of the
 * services hash, which the kernel replaces as a whole, so a packet sees the
 * old table or the new one, never a mix. A flat array needs no map creation
 * at run time (the loader only opens this object) and costs one array
 * lookup per packet instead of two. The price is memory for both halves,
 * paid up front.
 *
 * The services maps are not preallocated (ABI 5): a preallocated hash
 * recycles a replaced element at once, so a reader still holding it could
 * see the next update's ring with this one's size; without preallocation
 * the old element is freed only after an RCU grace period.
 */
#ifndef VIPD_MAPS_H
#define VIPD_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "vipd_consts.h"
#include "vipd_structs.h"

/* Mmapable (ABI 7): the native advert sender renews a lease with one
 * 8-byte store through a shared mapping, not a bpf() call per advert. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIPD_MAX_INSTANCES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct vipd_instance);
} instances SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIPD_MAX_VIPS);
	__type(key, struct vipd_vip_key);
	__type(value, struct vipd_vip);
} vips SEC(".maps");

/* One service index space over both maps (the manager allocates it), so
 * together they hold at most VIPD_MAX_SERVICES services.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, VIPD_MAX_SERVICES);
	__type(key, struct vipd_service4_key);
	__type(value, struct vipd_service);
} services4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, VIPD_MAX_SERVICES);
	__type(key, struct vipd_service6_key);
	__type(value, struct vipd_service);
} services6 SEC(".maps");

/* Mmapable (ABI 5): the daemon writes a whole ring through a shared
 * mapping, with no syscall per slot, then flips the service entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, VIPD_MAX_RING_SLOTS);
	__type(key, __u32);
	__type(value, struct vipd_slot);
} rings SEC(".maps");

/* The connection table (ABI 6): flows whose real server differs from what
 * their ring slot now says, and every flow of a VIPD_SVC_F_TRACK_ALL
 * service. LRU, so a full table forgets the flows idle longest instead of
 * refusing new ones. A flow gets here only by its second packet: its first
 * (a SYN, a first datagram) is tagged in pending, so a flood of spoofed
 * first packets churns pending and never evicts an established flow.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIPD_MAX_FLOWS);
	__type(key, struct vipd_flow4_key);
	__type(value, struct vipd_flow);
} flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIPD_MAX_FLOWS);
	__type(key, struct vipd_flow6_key);
	__type(value, struct vipd_flow);
} flows6 SEC(".maps");

/* The pending stage (ABI 7; ABI 6 had an LRU hash of 16-byte keys): a
 * direct-mapped array of flow tags, one per index. A first packet stores
 * its tag without looking anything up; a flood of them overwrites other
 * tags, never an established flow. The program indexes it with
 * pending_masks[] (.rodata): max_entries must be a power of
 * two that the mask covers.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIPD_MAX_PENDING);
	__type(key, __u32);
	__type(value, struct vipd_pending);
} pending4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIPD_MAX_PENDING);
	__type(key, __u32);
	__type(value, struct vipd_pending);
} pending6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIPD_MAX_REALS);
	__type(key, __u32);
	__type(value, struct vipd_real);
} reals SEC(".maps");

/* iface_masters: ifindex of a bond member -> ifindex of its bond (0: none).
 * XDP on a bond runs on its members, and a frame carries the member's
 * ifindex, while the instance names the bond. Read only when the ingress
 * interface is not the instance's own, so hosts without bonds never touch
 * it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIPD_MAX_IFINDEX);
	__type(key, __u32);   /* ifindex of the member */
	__type(value, __u32); /* ifindex of the bond */
} iface_masters SEC(".maps");

/* Every verdict but VIPD_R_FORWARD: a forwarded packet updates one counter,
 * its real server's in real_stats. Real servers are indexed per (service,
 * backend), so the reader derives the forward count (the sum of real_stats
 * less the icmp_forward count, which real_stats includes too) and the
 * per-service totals (ABI 3; ABI 2 counted forward here and kept a
 * service_stats map).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIPD_REASON_MAX);
	__type(key, __u32); /* enum vipd_reason */
	__type(value, struct vipd_counter);
} verdicts SEC(".maps");

/* What the connection table did, by enum vipd_flow_event (packets only). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIPD_FE_MAX);
	__type(key, __u32); /* enum vipd_flow_event */
	__type(value, struct vipd_counter);
} flow_stats SEC(".maps");

/* Packets sent to each real server (forward and icmp_forward). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIPD_MAX_REALS);
	__type(key, __u32); /* real server index */
	__type(value, struct vipd_counter);
} real_stats SEC(".maps");

#endif /* VIPD_MAPS_H */
