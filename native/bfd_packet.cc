/* BFD control packet encoding and the session-independent reception checks
 * (RFC 5880 4.1, 6.8.6). */
#include "bfd_packet.h"

#include <arpa/inet.h>
#include <cstring>

namespace vipd
{

const char *BfdRejectName(int reason)
{
	switch (reason) {
	case BFD_REJECT_TTL:
		return "ttl";
	case BFD_REJECT_VERSION:
		return "version";
	case BFD_REJECT_LENGTH:
		return "length";
	case BFD_REJECT_DETECT_MULT:
		return "detect_mult";
	case BFD_REJECT_MULTIPOINT:
		return "multipoint";
	case BFD_REJECT_MY_DISCR:
		return "my_discriminator";
	case BFD_REJECT_YOUR_DISCR:
		return "your_discriminator";
	case BFD_REJECT_STATE:
		return "state";
	case BFD_REJECT_NO_SESSION:
		return "no_session";
	case BFD_REJECT_AUTH:
		return "auth";
	default:
		return "ok";
	}
}

static void Put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t Get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return ntohl(v);
}

void BfdEncode(const BfdControl &c, uint8_t out[BFD_CONTROL_LEN])
{
	out[0] = (uint8_t)((c.version & 7) << 5 | (c.diag & 0x1f));
	out[1] = (uint8_t)((c.state & 3) << 6 | (c.poll ? 0x20 : 0) | (c.final ? 0x10 : 0) |
			   (c.cpi ? 0x08 : 0) | (c.auth ? 0x04 : 0) | (c.demand ? 0x02 : 0) |
			   (c.multipoint ? 0x01 : 0));
	out[2] = c.detect_mult;
	out[3] = (uint8_t)BFD_CONTROL_LEN;
	Put32(out + 4, c.my_discr);
	Put32(out + 8, c.your_discr);
	Put32(out + 12, c.desired_min_tx_us);
	Put32(out + 16, c.required_min_rx_us);
	Put32(out + 20, c.required_min_echo_rx_us);
}

int BfdDecode(const uint8_t *buf, size_t len, BfdControl *c)
{
	if (len < 4)
		return BFD_REJECT_LENGTH;
	c->version = buf[0] >> 5;
	c->diag = buf[0] & 0x1f;
	c->state = buf[1] >> 6;
	c->poll = buf[1] & 0x20;
	c->final = buf[1] & 0x10;
	c->cpi = buf[1] & 0x08;
	c->auth = buf[1] & 0x04;
	c->demand = buf[1] & 0x02;
	c->multipoint = buf[1] & 0x01;
	c->detect_mult = buf[2];
	c->length = buf[3];
	if (c->version != 1)
		return BFD_REJECT_VERSION;
	/* The Length field covers the authentication section when A is set. */
	if (c->length < (c->auth ? 26 : 24) || c->length > len)
		return BFD_REJECT_LENGTH;
	c->my_discr = Get32(buf + 4);
	c->your_discr = Get32(buf + 8);
	c->desired_min_tx_us = Get32(buf + 12);
	c->required_min_rx_us = Get32(buf + 16);
	c->required_min_echo_rx_us = Get32(buf + 20);
	if (c->detect_mult == 0)
		return BFD_REJECT_DETECT_MULT;
	if (c->multipoint)
		return BFD_REJECT_MULTIPOINT;
	if (c->my_discr == 0)
		return BFD_REJECT_MY_DISCR;
	if (c->your_discr == 0 && c->state != BFD_DOWN && c->state != BFD_ADMIN_DOWN)
		return BFD_REJECT_STATE;
	/* No session of vipd's uses authentication: a packet with A set is
	 * discarded (and one without it is what every session expects). */
	if (c->auth)
		return BFD_REJECT_AUTH;
	return BFD_OK;
}

} // namespace vipd
