/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* The flow hash: Bob Jenkins' lookup3 final mix, as jhash_3words() in the
 * kernel's linux/jhash.h (and in Katran). test/model/xdp-hash.ts is the same
 * function in TypeScript; the differential test keeps them equal.
 */
#ifndef VIPD_JHASH_H
#define VIPD_JHASH_H

#include <linux/types.h>

#define JHASH_INITVAL 0xdeadbeefu

static __always_inline __u32 rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

static __always_inline __u32 jhash_3words(__u32 a, __u32 b, __u32 c, __u32 initval)
{
	initval += JHASH_INITVAL + (3 << 2);
	a += initval;
	b += initval;
	c += initval;

	c ^= b;
	c -= rol32(b, 14);
	a ^= c;
	a -= rol32(c, 11);
	b ^= a;
	b -= rol32(a, 25);
	c ^= b;
	c -= rol32(b, 16);
	a ^= c;
	a -= rol32(c, 4);
	b ^= a;
	b -= rol32(a, 14);
	c ^= b;
	c -= rol32(b, 24);
	return c;
}

#endif /* VIPD_JHASH_H */
