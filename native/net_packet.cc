/* AF_PACKET sending of whole Ethernet frames (gratuitous ARP, unsolicited
 * NA). The frames are built in TypeScript (src/net/announce.ts); this only
 * puts the bytes on the wire of one interface. */
#include "errors.h"
#include "net_util.h"

#include <cerrno>
#include <cstring>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

namespace vipd
{

/* packetSend(ifindex, frames: Uint8Array[]): sends each frame once, in
 * order; throws on the first failure. The socket has protocol 0, so it never
 * receives anything. */
static Napi::Value PacketSend(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int ifindex = info[0].As<Napi::Number>().Int32Value();
	if (!info[1].IsArray())
		throw Napi::TypeError::New(env, "frames must be an array of Buffers");
	Napi::Array frames = info[1].As<Napi::Array>();
	std::vector<std::string> bufs;
	for (uint32_t i = 0; i < frames.Length(); i++) {
		bufs.push_back(BytesArg(env, frames.Get(i), "frame"));
		if (bufs.back().size() < ETH_HLEN)
			throw Napi::RangeError::New(env, "frame shorter than an Ethernet header");
	}
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw ErrnoError(env, "socket", errno, "AF_PACKET");
	for (const std::string &f : bufs) {
		struct sockaddr_ll sll = {};
		sll.sll_family = AF_PACKET;
		sll.sll_ifindex = ifindex;
		sll.sll_halen = ETH_ALEN;
		memcpy(sll.sll_addr, f.data(), ETH_ALEN);
		uint16_t proto;
		memcpy(&proto, f.data() + 12, 2);
		sll.sll_protocol = proto;
		if (sendto(fd, f.data(), f.size(), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
			int err = errno;
			close(fd);
			throw ErrnoError(env, "sendto", err,
					 "AF_PACKET frame on ifindex " + std::to_string(ifindex));
		}
	}
	close(fd);
	return Napi::Number::New(env, (double)bufs.size());
}

void InitNetPacket(Napi::Env env, Napi::Object exports)
{
	exports.Set("packetSend", Napi::Function::New(env, PacketSend));
}

} // namespace vipd
