/* VRRP raw sockets, the native advert sender thread, AF_PACKET announcements,
 * rtnetlink and sd_notify. This file holds the helpers they share; each part
 * lives in its own vrrp_*.cc / net_*.cc. The typed face is src/net. */
#include "addon.h"
#include "errors.h"
#include "net_util.h"

#include <arpa/inet.h>
#include <cstring>
#include <ctime>

namespace vipd
{

uint64_t MonoNs()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool TryParseIp(const std::string &text, IpAddr *out)
{
	if (inet_pton(AF_INET, text.c_str(), &out->v4) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text.c_str(), &out->v6) == 1) {
		out->family = AF_INET6;
		return true;
	}
	return false;
}

IpAddr ParseIp(Napi::Env env, const std::string &text)
{
	IpAddr a;
	if (!TryParseIp(text, &a))
		throw Napi::TypeError::New(env, "not an IPv4 or IPv6 address: '" + text + "'");
	return a;
}

std::string FormatIp(int family, const void *addr)
{
	char buf[INET6_ADDRSTRLEN];
	if (!inet_ntop(family, addr, buf, sizeof(buf)))
		return "";
	return buf;
}

std::string BytesArg(Napi::Env env, const Napi::Value &v, const char *what)
{
	if (!v.IsTypedArray())
		throw Napi::TypeError::New(env,
					   std::string(what) + " must be a Buffer or Uint8Array");
	Napi::TypedArray ta = v.As<Napi::TypedArray>();
	if (ta.TypedArrayType() != napi_uint8_array)
		throw Napi::TypeError::New(env,
					   std::string(what) + " must be a Buffer or Uint8Array");
	Napi::Uint8Array u8 = v.As<Napi::Uint8Array>();
	return std::string((const char *)u8.Data(), u8.ByteLength());
}

FdPoller::FdPoller(Napi::Env env, int fd, Callback cb) : env_(env), cb_(std::move(cb))
{
	uv_loop_t *loop = nullptr;
	if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop)
		throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
	auto *h = new Handle;
	h->owner = this;
	int rc = uv_poll_init(loop, &h->poll, fd);
	if (rc < 0) {
		delete h;
		throw ErrnoError(env, "uv_poll_init", -rc);
	}
	h->poll.data = h;
	rc = uv_poll_start(&h->poll, UV_READABLE, OnPoll);
	if (rc < 0) {
		uv_close((uv_handle_t *)&h->poll, [](uv_handle_t *p) { delete (Handle *)p->data; });
		throw ErrnoError(env, "uv_poll_start", -rc);
	}
	handle_ = h;
}

FdPoller::~FdPoller()
{
	Stop();
}

void FdPoller::Stop()
{
	if (!handle_)
		return;
	Handle *h = handle_;
	handle_ = nullptr;
	h->owner = nullptr;
	uv_poll_stop(&h->poll);
	uv_close((uv_handle_t *)&h->poll, [](uv_handle_t *p) { delete (Handle *)p->data; });
}

void FdPoller::Ref(bool ref)
{
	if (!handle_)
		return;
	if (ref)
		uv_ref((uv_handle_t *)&handle_->poll);
	else
		uv_unref((uv_handle_t *)&handle_->poll);
}

void FdPoller::OnPoll(uv_poll_t *p, int status, int events)
{
	Handle *h = (Handle *)p->data;
	if (!h->owner)
		return;
	Napi::HandleScope scope(h->owner->env_);
	/* Copy: the callback may Stop() (and so destroy) this poller. */
	Callback cb = h->owner->cb_;
	cb(status);
}

void CallJs(Napi::Env env, Napi::FunctionReference &fn, Napi::AsyncContext *ctx,
	    const std::initializer_list<napi_value> &args)
{
	try {
		fn.MakeCallback(env.Global(), args, *ctx);
	} catch (const Napi::Error &e) {
		napi_fatal_exception(env, e.Value());
	}
}

void InitVrrpNative(Napi::Env env, Napi::Object exports)
{
	InitVrrpSocket(env, exports);
	InitVrrpSender(env, exports);
	InitNetPacket(env, exports);
	InitNetRtnl(env, exports);
	InitNetNotify(env, exports);
	exports.Set("monotonicNs", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
			    return Napi::BigInt::New(info.Env(), MonoNs());
		    }));
}

} // namespace vipd
