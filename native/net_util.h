/* Shared pieces of the VRRP / network native path: address parsing, the
 * monotonic clock, an fd-readiness watcher over uv_poll, and the socket core
 * that the VRRP socket and the advert sender thread share. */
#pragma once
#include <napi.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <netinet/in.h>
#include <string>

namespace vipd
{

void InitVrrpSocket(Napi::Env env, Napi::Object exports);
void InitVrrpSender(Napi::Env env, Napi::Object exports);
void InitNetPacket(Napi::Env env, Napi::Object exports);
void InitNetRtnl(Napi::Env env, Napi::Object exports);
void InitNetNotify(Napi::Env env, Napi::Object exports);

/* CLOCK_MONOTONIC in nanoseconds: the domain of process.hrtime.bigint() and
 * of bpf_ktime_get_ns(). */
uint64_t MonoNs();

/* An IPv4 or IPv6 address; family is AF_INET or AF_INET6. */
struct IpAddr {
	int family = 0;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
	IpAddr()
	{
		v6 = in6addr_any;
	}
};

/* Parses a textual address (no prefix, no scope); throws a JS TypeError. */
IpAddr ParseIp(Napi::Env env, const std::string &text);
/* Parses without throwing; false when text is not an address. */
bool TryParseIp(const std::string &text, IpAddr *out);
std::string FormatIp(int family, const void *addr);

/* Takes a Buffer / Uint8Array argument; throws a TypeError otherwise. */
std::string BytesArg(Napi::Env env, const Napi::Value &v, const char *what);

/* Watches an fd for readability on the Node event loop (uv_poll). The
 * callback runs on the JS thread with a HandleScope open; status < 0 is a
 * libuv error. Stop() is idempotent; the uv handle is freed asynchronously
 * by uv_close, never while libuv still references it. */
class FdPoller
{
      public:
	using Callback = std::function<void(int status)>;
	FdPoller(Napi::Env env, int fd, Callback cb);
	~FdPoller();
	void Stop();
	void Ref(bool ref);
	bool Active() const
	{
		return handle_ != nullptr;
	}

      private:
	static void OnPoll(uv_poll_t *h, int status, int events);
	struct Handle {
		uv_poll_t poll;
		FdPoller *owner;
	};
	Napi::Env env_;
	Handle *handle_ = nullptr;
	Callback cb_;
};

/* Calls a JS callback from native code on the JS thread (inside a libuv
 * callback): sets up the callback scope so microtasks run, and reports an
 * exception thrown by the callback as an uncaught exception. */
void CallJs(Napi::Env env, Napi::FunctionReference &fn, Napi::AsyncContext *ctx,
	    const std::initializer_list<napi_value> &args);

/* The raw VRRP socket shared by VrrpSocket (receives, ad hoc sends) and the
 * AdvertSender thread (periodic sends). The fd closes when the last owner
 * lets go; Send is thread safe. */
struct VrrpSockCore {
	int fd = -1;
	int family = 0;
	unsigned ifindex = 0;
	bool has_source = false;
	IpAddr source;
	std::atomic<uint16_t> ip_id{0};
	/* Virtual MAC mode (vmac): multicast adverts leave through pkt_fd, an
	 * AF_PACKET socket that builds the Ethernet header itself with vmac as
	 * the source (a raw IP socket always takes the interface's MAC). The
	 * same socket holds vmac in the interface's unicast filter
	 * (PACKET_MR_UNICAST) for as long as it is open. */
	int pkt_fd = -1;
	uint8_t vmac[6] = {};
	/* Without vmac: multicast adverts leave through link_fd, an AF_PACKET
	 * SOCK_DGRAM socket (the kernel adds the Ethernet header from the
	 * interface's MAC), when the socket was opened with linkLayerSend on an
	 * Ethernet interface; -1: through fd, the raw IP socket. */
	int link_fd = -1;
	~VrrpSockCore();
	/* Opens link_fd; returns 0 or -errno. */
	int OpenLinkLayer();
	/* Opens pkt_fd and adds vmac to the unicast filter; returns 0 or -errno. */
	int OpenVmac(const uint8_t mac[6]);
	/* Sends one VRRP payload to dst (IPv4: builds the IP header itself:
	 * TOS 0xc0, TTL 255, DF clear, ID counting up from 1). Returns 0 or
	 * -errno. */
	int Send(const IpAddr &dst, const uint8_t *payload, size_t len);
};

/* The core behind a JS VrrpSocketHandle object; throws a TypeError if v is not one. */
std::shared_ptr<VrrpSockCore> VrrpSockCoreOf(Napi::Env env, Napi::Value v);

} // namespace vipd
