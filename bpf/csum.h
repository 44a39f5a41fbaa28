/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* Internet checksum (RFC 1071) helpers.
 *
 * Words are summed as loaded (host order); the ones' complement sum does
 * not care about byte order as long as the result is stored the same way,
 * which is what the kernel's csum_* helpers rely on too.
 */
#ifndef VIPD_CSUM_H
#define VIPD_CSUM_H

#include <linux/types.h>

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Adds len bytes (even, known at compile time) at p to a running sum. The
 * caller has bounds-checked p..p+len (it came from cursor_pull()).
 */
static __always_inline __u32 csum_add_words(__u32 sum, const void *p, const int len)
{
	const __u16 *w = p;

#pragma unroll
	for (int i = 0; i < len / 2; i++)
		sum += w[i];
	return sum;
}

#endif /* VIPD_CSUM_H */
