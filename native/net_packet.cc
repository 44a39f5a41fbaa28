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

/* One AF_PACKET socket for the whole process, opened on first use and kept:
 * closing one waits for the kernel (synchronize_net() in packet_release,
 * 6-24 ms measured here), which would block the event loop on every
 * announcement round. Protocol 0: it never receives; sendto names the
 * interface, so one socket serves them all. */
static int packet_fd = -1;

static int PacketFd(Napi::Env env)
{
	if (packet_fd < 0) {
		packet_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (packet_fd < 0)
			throw ErrnoError(env, "socket", errno, "AF_PACKET");
	}
	return packet_fd;
}

/* packetSend(ifindex, frames: Uint8Array[]): sends each frame once, in
 * order; throws on the first failure. */
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
	int fd = PacketFd(env);
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
			throw ErrnoError(env, "sendto", err,
					 "AF_PACKET frame on ifindex " + std::to_string(ifindex));
		}
	}
	return Napi::Number::New(env, (double)bufs.size());
}

void InitNetPacket(Napi::Env env, Napi::Object exports)
{
	exports.Set("packetSend", Napi::Function::New(env, PacketSend));
}

} // namespace vipd
