/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* The ICMPv4 header, from RFC 792.
 *
 * <linux/icmp.h> would give it, but it includes <linux/if.h>, which
 * includes glibc's <sys/socket.h>: under -target bpf that pulls in
 * gnu/stubs-32.h, a header only a machine with 32-bit libc headers has.
 * The BPF objects include kernel UAPI and libbpf headers only;
 * test/build/bpf-headers.test.ts holds them to it.
 */
#ifndef VIPD_ICMP4_H
#define VIPD_ICMP4_H

#include <linux/types.h>

#define ICMP4_DEST_UNREACH 3 /* type */
#define ICMP4_FRAG_NEEDED  4 /* code of ICMP4_DEST_UNREACH */

struct icmp4hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest; /* unused, or the next-hop MTU in its low 16 bits */
};

#endif /* VIPD_ICMP4_H */
