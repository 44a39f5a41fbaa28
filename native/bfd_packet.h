/* BFD control packets (RFC 5880 section 4.1): encoding, and the reception
 * checks of section 6.8.6 that do not need a session (the rest, which pick
 * the session, are in bfd.cc). Pure: no sockets, no clock. */
#pragma once
#include <cstddef>
#include <cstdint>

namespace vipd
{

enum BfdState : uint8_t {
	BFD_ADMIN_DOWN = 0,
	BFD_DOWN = 1,
	BFD_INIT = 2,
	BFD_UP = 3,
};

/* Diagnostic codes (RFC 5880 4.1) vipd sets. */
enum BfdDiag : uint8_t {
	BFD_DIAG_NONE = 0,
	BFD_DIAG_DETECT_EXPIRED = 1,
	BFD_DIAG_NEIGHBOR_DOWN = 3,
	BFD_DIAG_ADMIN_DOWN = 7,
};

/* Why a received packet was discarded; the names are the metric's reason
 * label (BfdRejectName). BFD_REJECT_COUNT ends the list. */
enum BfdReject {
	BFD_OK = 0,
	BFD_REJECT_TTL,		/* TTL / hop limit not 255 (RFC 5881 5) */
	BFD_REJECT_VERSION,	/* version != 1 */
	BFD_REJECT_LENGTH,	/* Length < 24 (26 with A), or more than received */
	BFD_REJECT_DETECT_MULT, /* Detect Mult == 0 */
	BFD_REJECT_MULTIPOINT,	/* M bit set */
	BFD_REJECT_MY_DISCR,	/* My Discriminator == 0 */
	BFD_REJECT_YOUR_DISCR,	/* Your Discriminator names no session of ours */
	BFD_REJECT_STATE,	/* Your Discriminator 0 but State not Down/AdminDown */
	BFD_REJECT_NO_SESSION,	/* Your Discriminator 0 and no session for source + interface */
	BFD_REJECT_AUTH,	/* A bit set: vipd uses no authentication */
	BFD_REJECT_COUNT,
};

const char *BfdRejectName(int reason);

struct BfdControl {
	uint8_t version = 1;
	uint8_t diag = 0;
	uint8_t state = BFD_DOWN;
	bool poll = false, final = false, cpi = false, auth = false, demand = false,
	     multipoint = false;
	uint8_t detect_mult = 0;
	uint8_t length = 24;
	uint32_t my_discr = 0, your_discr = 0;
	uint32_t desired_min_tx_us = 0, required_min_rx_us = 0, required_min_echo_rx_us = 0;
};

constexpr size_t BFD_CONTROL_LEN = 24;

/* Writes the 24-byte mandatory section (no authentication) into out. */
void BfdEncode(const BfdControl &c, uint8_t out[BFD_CONTROL_LEN]);

/* Decodes and applies the session-independent checks of RFC 5880 6.8.6
 * (version, length, detect mult, multipoint, my discriminator, your
 * discriminator 0 only in Down/AdminDown, no authentication). Returns BFD_OK
 * or the reason to discard. */
int BfdDecode(const uint8_t *buf, size_t len, BfdControl *out);

} // namespace vipd
