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

/* Adds len bytes (a multiple of 4, known at compile time) at p, read as
 * 32-bit words, to a running 64-bit sum. The caller has bounds-checked
 * p..p+len (it came from cursor_pull()) and p is 4-byte aligned. A 32-bit
 * word is the sum of its two 16-bit halves modulo 0xffff (2^16 = 1), so
 * the folded result is the RFC 1071 one, with half the loads.
 */
static __always_inline __u64 csum_add_words32(__u64 sum, const void *p, const int len)
{
	const __u32 *w = p;

#pragma unroll
	for (int i = 0; i < len / 4; i++)
		sum += w[i];
	return sum;
}

static __always_inline __u16 csum_fold64(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return csum_fold((__u32)sum);
}

#endif /* VIPD_CSUM_H */
