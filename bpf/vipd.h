/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/* The vipd data-plane ABI: limits, flags, verdict reasons, map structs and
 * maps. Include this, not the parts; src/dataplane/abi.ts mirrors it and
 * test/bpf/abi.test.ts checks the mirror against the object's BTF.
 */
#ifndef VIPD_H
#define VIPD_H

#include "vipd_consts.h"
#include "vipd_structs.h"
#include "vipd_maps.h"

#endif /* VIPD_H */
