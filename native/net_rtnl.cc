/* rtnetlink over plain NETLINK_ROUTE sockets (no libmnl / libnl): add and
 * remove addresses, read a link (MAC, index, flags, oper state), list
 * addresses and neighbours, ask the kernel to resolve a neighbour, and watch
 * link (RTNLGRP_LINK) and neighbour (RTNLGRP_NEIGH) changes on the event
 * loop. Requests are synchronous: the kernel answers them at once. */
#include "errors.h"
#include "net_util.h"

#include <cerrno>
#include <cstring>
#include <functional>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace vipd
{

/* A netlink message under construction: header, family header, attributes. */
class NlMsg
{
      public:
	NlMsg(uint16_t type, uint16_t flags, const void *hdr, size_t hdr_len)
	{
		buf_.resize(NLMSG_SPACE(hdr_len));
		nlmsghdr *n = Hdr();
		n->nlmsg_len = (uint32_t)NLMSG_LENGTH(hdr_len);
		n->nlmsg_type = type;
		n->nlmsg_flags = (uint16_t)(flags | NLM_F_REQUEST);
		memcpy(NLMSG_DATA(n), hdr, hdr_len);
	}
	void Attr(uint16_t type, const void *data, size_t len)
	{
		size_t off = NLMSG_ALIGN(Hdr()->nlmsg_len);
		buf_.resize(off + RTA_SPACE(len));
		struct rtattr *rta = (struct rtattr *)(buf_.data() + off);
		rta->rta_type = type;
		rta->rta_len = (unsigned short)RTA_LENGTH(len);
		memcpy(RTA_DATA(rta), data, len);
		Hdr()->nlmsg_len = (uint32_t)(off + RTA_ALIGN(RTA_LENGTH(len)));
	}
	nlmsghdr *Hdr()
	{
		return (nlmsghdr *)buf_.data();
	}

      private:
	std::vector<char> buf_;
};

static int NlOpen(Napi::Env env, int groups, bool nonblock)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
			NETLINK_ROUTE);
	if (fd < 0)
		throw ErrnoError(env, "socket", errno, "NETLINK_ROUTE");
	struct sockaddr_nl sa = {};
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = (uint32_t)groups;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;
		close(fd);
		throw ErrnoError(env, "bind", err, "NETLINK_ROUTE");
	}
	return fd;
}

/* Sends one request and reads until its ack (NLMSG_ERROR) or, for a dump,
 * NLMSG_DONE; each data message goes to cb. Throws the kernel's error. */
static void NlTalk(Napi::Env env, const std::string &op, NlMsg &req,
		   const std::function<void(nlmsghdr *)> &cb)
{
	int fd = NlOpen(env, 0, false);
	static uint32_t seq_counter;
	uint32_t seq = ++seq_counter;
	req.Hdr()->nlmsg_seq = seq;
	bool dump = req.Hdr()->nlmsg_flags & NLM_F_DUMP;
	if (send(fd, req.Hdr(), req.Hdr()->nlmsg_len, 0) < 0) {
		int err = errno;
		close(fd);
		throw ErrnoError(env, op, err);
	}
	std::vector<char> buf(1 << 16);
	for (;;) {
		ssize_t n = recv(fd, buf.data(), buf.size(), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			close(fd);
			throw ErrnoError(env, op, err, "netlink recv");
		}
		for (nlmsghdr *h = (nlmsghdr *)buf.data(); NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE) {
				close(fd);
				return;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = (struct nlmsgerr *)NLMSG_DATA(h);
				close(fd);
				if (e->error)
					throw ErrnoError(env, op, -e->error);
				return;
			}
			cb(h);
			if (!dump) {
				/* a non-dump GET answers with one message and no ack */
				close(fd);
				return;
			}
		}
	}
}

static const char *OperStateName(int s)
{
	static const char *names[] = {"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN",
				      "TESTING", "DORMANT",    "UP"};
	return s >= 0 && s < 7 ? names[s] : "UNKNOWN";
}

static std::string FormatMac(const uint8_t *m, size_t len)
{
	std::string out;
	char b[4];
	for (size_t i = 0; i < len; i++) {
		snprintf(b, sizeof(b), i ? ":%02x" : "%02x", m[i]);
		out += b;
	}
	return out;
}

/* { ifindex, name, mac, mtu, up, running, lowerUp, operState } */
static Napi::Object LinkObject(Napi::Env env, nlmsghdr *h)
{
	struct ifinfomsg *ifi = (struct ifinfomsg *)NLMSG_DATA(h);
	Napi::Object o = Napi::Object::New(env);
	o.Set("ifindex", Napi::Number::New(env, ifi->ifi_index));
	o.Set("up", Napi::Boolean::New(env, ifi->ifi_flags & IFF_UP));
	o.Set("running", Napi::Boolean::New(env, ifi->ifi_flags & IFF_RUNNING));
	o.Set("lowerUp", Napi::Boolean::New(env, ifi->ifi_flags & IFF_LOWER_UP));
	o.Set("operState", "UNKNOWN");
	o.Set("mac", env.Null());
	int len = (int)IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case IFLA_IFNAME:
			o.Set("name", std::string((const char *)RTA_DATA(a)));
			break;
		case IFLA_ADDRESS:
			o.Set("mac", FormatMac((const uint8_t *)RTA_DATA(a), RTA_PAYLOAD(a)));
			break;
		case IFLA_MTU:
			o.Set("mtu", Napi::Number::New(env, *(uint32_t *)RTA_DATA(a)));
			break;
		case IFLA_OPERSTATE:
			o.Set("operState", OperStateName(*(uint8_t *)RTA_DATA(a)));
			break;
		}
	}
	return o;
}

/* rtnlLink(ifindex | name) */
static Napi::Value LinkInfo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct ifinfomsg ifi = {};
	ifi.ifi_family = AF_UNSPEC;
	std::string name;
	if (info[0].IsNumber()) {
		ifi.ifi_index = info[0].As<Napi::Number>().Int32Value();
	} else {
		name = info[0].As<Napi::String>();
		if (name.empty() || name.size() >= IFNAMSIZ)
			throw Napi::TypeError::New(env, "bad interface name '" + name + "'");
	}
	NlMsg req(RTM_GETLINK, 0, &ifi, sizeof(ifi));
	if (!name.empty())
		req.Attr(IFLA_IFNAME, name.c_str(), name.size() + 1);
	Napi::Object out;
	std::string what =
	    name.empty() ? "ifindex " + std::to_string(ifi.ifi_index) : "interface '" + name + "'";
	try {
		NlTalk(env, "RTM_GETLINK", req, [&](nlmsghdr *h) {
			if (h->nlmsg_type == RTM_NEWLINK)
				out = LinkObject(env, h);
		});
	} catch (Napi::Error &e) {
		e.Set("message", e.Message() + ": " + what);
		throw;
	}
	if (out.IsEmpty())
		throw ErrnoError(env, "RTM_GETLINK", ENODEV, what);
	return out;
}

/* rtnlAddressChange(add: boolean, ifindex, address, prefixLen, { nodad, replace }) */
static Napi::Value AddressChange(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	bool add = info[0].ToBoolean();
	int ifindex = info[1].As<Napi::Number>().Int32Value();
	std::string text = info[2].As<Napi::String>();
	IpAddr ip = ParseIp(env, text);
	int plen = info[3].As<Napi::Number>().Int32Value();
	int maxlen = ip.family == AF_INET ? 32 : 128;
	if (plen < 0 || plen > maxlen)
		throw Napi::RangeError::New(env, "prefix length out of range");
	bool nodad = false, replace = false;
	if (info[4].IsObject()) {
		Napi::Object o = info[4].As<Napi::Object>();
		nodad = o.Get("nodad").ToBoolean();
		replace = o.Get("replace").ToBoolean();
	}
	struct ifaddrmsg ifa = {};
	ifa.ifa_family = (uint8_t)ip.family;
	ifa.ifa_prefixlen = (uint8_t)plen;
	ifa.ifa_index = (uint32_t)ifindex;
	ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	uint32_t flags = 0;
	if (nodad && ip.family == AF_INET6)
		flags |= IFA_F_NODAD;
	ifa.ifa_flags = (uint8_t)flags;
	uint16_t nlflags = NLM_F_ACK;
	if (add)
		nlflags |= NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
	NlMsg req(add ? RTM_NEWADDR : RTM_DELADDR, nlflags, &ifa, sizeof(ifa));
	size_t alen = ip.family == AF_INET ? 4 : 16;
	req.Attr(IFA_LOCAL, &ip.v6, alen);
	req.Attr(IFA_ADDRESS, &ip.v6, alen);
	if (add)
		req.Attr(IFA_FLAGS, &flags, sizeof(flags));
	try {
		NlTalk(env, add ? "RTM_NEWADDR" : "RTM_DELADDR", req, [](nlmsghdr *) {});
	} catch (Napi::Error &e) {
		e.Set("message", e.Message() + ": " + text + "/" + std::to_string(plen) +
				     " on ifindex " + std::to_string(ifindex));
		throw;
	}
	return env.Undefined();
}

/* rtnlAddresses(ifindex (0 = all), family (0, 4, 6)) -> [{ ifindex, family,
 * address, prefixLen, scope, flags }] */
static Napi::Value Addresses(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int ifindex = info[0].As<Napi::Number>().Int32Value();
	int fam = info[1].As<Napi::Number>().Int32Value();
	struct ifaddrmsg ifa = {};
	ifa.ifa_family = fam == 4 ? AF_INET : fam == 6 ? AF_INET6 : AF_UNSPEC;
	NlMsg req(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	Napi::Array out = Napi::Array::New(env);
	uint32_t n = 0;
	NlTalk(env, "RTM_GETADDR", req, [&](nlmsghdr *h) {
		if (h->nlmsg_type != RTM_NEWADDR)
			return;
		struct ifaddrmsg *m = (struct ifaddrmsg *)NLMSG_DATA(h);
		if (ifindex && (int)m->ifa_index != ifindex)
			return;
		uint32_t flags = m->ifa_flags;
		const void *addr = nullptr, *local = nullptr;
		int len = (int)IFA_PAYLOAD(h);
		for (struct rtattr *a = IFA_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			if (a->rta_type == IFA_ADDRESS)
				addr = RTA_DATA(a);
			else if (a->rta_type == IFA_LOCAL)
				local = RTA_DATA(a);
			else if (a->rta_type == IFA_FLAGS)
				flags = *(uint32_t *)RTA_DATA(a);
		}
		if (local)
			addr = local;
		if (!addr)
			return;
		Napi::Object o = Napi::Object::New(env);
		o.Set("ifindex", Napi::Number::New(env, m->ifa_index));
		o.Set("family", Napi::Number::New(env, m->ifa_family == AF_INET ? 4 : 6));
		o.Set("address", FormatIp(m->ifa_family, addr));
		o.Set("prefixLen", Napi::Number::New(env, m->ifa_prefixlen));
		o.Set("scope", Napi::Number::New(env, m->ifa_scope));
		o.Set("flags", Napi::Number::New(env, flags));
		out.Set(n++, o);
	});
	return out;
}

static const char *NudName(uint16_t s)
{
	if (s & NUD_PERMANENT)
		return "PERMANENT";
	if (s & NUD_NOARP)
		return "NOARP";
	if (s & NUD_REACHABLE)
		return "REACHABLE";
	if (s & NUD_STALE)
		return "STALE";
	if (s & NUD_DELAY)
		return "DELAY";
	if (s & NUD_PROBE)
		return "PROBE";
	if (s & NUD_FAILED)
		return "FAILED";
	if (s & NUD_INCOMPLETE)
		return "INCOMPLETE";
	return "NONE";
}

/* { ifindex, family, address, mac | null, state, router }, or an empty
 * object for a message that is not an IPv4/IPv6 neighbour with an address. */
static Napi::Object NeighObject(Napi::Env env, nlmsghdr *h)
{
	struct ndmsg *m = (struct ndmsg *)NLMSG_DATA(h);
	Napi::Object o = Napi::Object::New(env);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return o;
	if (m->ndm_family != AF_INET && m->ndm_family != AF_INET6)
		return o;
	Napi::Object n = Napi::Object::New(env);
	n.Set("mac", env.Null());
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	bool have_dst = false;
	for (struct rtattr *a = (struct rtattr *)((char *)m + NLMSG_ALIGN(sizeof(*m)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST) {
			n.Set("address", FormatIp(m->ndm_family, RTA_DATA(a)));
			have_dst = true;
		} else if (a->rta_type == NDA_LLADDR) {
			n.Set("mac", FormatMac((const uint8_t *)RTA_DATA(a), RTA_PAYLOAD(a)));
		}
	}
	if (!have_dst)
		return o;
	n.Set("ifindex", Napi::Number::New(env, m->ndm_ifindex));
	n.Set("family", Napi::Number::New(env, m->ndm_family == AF_INET ? 4 : 6));
	n.Set("state", NudName(m->ndm_state));
	n.Set("router", Napi::Boolean::New(env, m->ndm_flags & NTF_ROUTER));
	return n;
}

/* rtnlNeighbours(ifindex (0 = all), family (0, 4, 6)) -> [{ ifindex, family,
 * address, mac | null, state, router }] */
static Napi::Value Neighbours(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int ifindex = info[0].As<Napi::Number>().Int32Value();
	int fam = info[1].As<Napi::Number>().Int32Value();
	struct ndmsg nd = {};
	nd.ndm_family = fam == 4 ? AF_INET : fam == 6 ? AF_INET6 : AF_UNSPEC;
	NlMsg req(RTM_GETNEIGH, NLM_F_DUMP, &nd, sizeof(nd));
	Napi::Array out = Napi::Array::New(env);
	uint32_t n = 0;
	NlTalk(env, "RTM_GETNEIGH", req, [&](nlmsghdr *h) {
		if (h->nlmsg_type != RTM_NEWNEIGH)
			return;
		struct ndmsg *m = (struct ndmsg *)NLMSG_DATA(h);
		if (ifindex && m->ndm_ifindex != ifindex)
			return;
		Napi::Object o = NeighObject(env, h);
		if (o.Has("address"))
			out.Set(n++, o);
	});
	return out;
}

/* rtnlNeighbourUse(ifindex, address): RTM_NEWNEIGH with NTF_USE, which makes
 * the kernel treat the entry as used by a packet (neigh_event_send): an
 * unknown neighbour is created and solicited at once (ARP request / NS), a
 * stale one is re-probed. No MAC is set; the answer arrives as an
 * RTM_NEWNEIGH event. NLM_F_CREATE makes the entry when there is none. */
static Napi::Value NeighbourUse(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int ifindex = info[0].As<Napi::Number>().Int32Value();
	std::string text = info[1].As<Napi::String>();
	IpAddr ip = ParseIp(env, text);
	struct ndmsg nd = {};
	nd.ndm_family = (uint8_t)ip.family;
	nd.ndm_ifindex = ifindex;
	nd.ndm_state = NUD_NONE;
	nd.ndm_flags = NTF_USE;
	NlMsg req(RTM_NEWNEIGH, NLM_F_ACK | NLM_F_CREATE, &nd, sizeof(nd));
	req.Attr(NDA_DST, &ip.v6, ip.family == AF_INET ? 4 : 16);
	try {
		NlTalk(env, "RTM_NEWNEIGH", req, [](nlmsghdr *) {});
	} catch (Napi::Error &e) {
		e.Set("message",
		      e.Message() + ": resolve " + text + " on ifindex " + std::to_string(ifindex));
		throw;
	}
	return env.Undefined();
}

/* A multicast rtnetlink subscription on the event loop: messages drained per
 * wakeup, each turned into an object by Parse (an empty object is skipped);
 * events carry type 'new' | 'del', or { type: 'overrun' } when the kernel
 * dropped messages (ENOBUFS): re-read the whole state then. */
template <class Derived> class RtnlWatcher : public Napi::ObjectWrap<Derived>
{
      public:
	static Napi::Function Define(Napi::Env env, const char *name)
	{
		return Napi::ObjectWrap<Derived>::DefineClass(
		    env, name,
		    {
			Napi::ObjectWrap<Derived>::InstanceMethod("close", &RtnlWatcher::Close),
			Napi::ObjectWrap<Derived>::InstanceMethod("ref", &RtnlWatcher::RefJs),
			Napi::ObjectWrap<Derived>::InstanceMethod("unref", &RtnlWatcher::UnrefJs),
		    });
	}

	RtnlWatcher(const Napi::CallbackInfo &info, int groups, uint16_t new_type,
		    uint16_t del_type, const char *what)
	    : Napi::ObjectWrap<Derived>(info), new_type_(new_type), del_type_(del_type), what_(what)
	{
		Napi::Env env = info.Env();
		if (!info[0].IsFunction())
			throw Napi::TypeError::New(env, "onEvents must be a function");
		fd_ = NlOpen(env, groups, true);
		cb_ = Napi::Persistent(info[0].As<Napi::Function>());
		ctx_ = std::make_unique<Napi::AsyncContext>(env, what);
		try {
			poller_ = std::make_unique<FdPoller>(
			    env, fd_, [this](int status) { OnReadable(status); });
		} catch (...) {
			close(fd_);
			fd_ = -1;
			throw;
		}
	}

	~RtnlWatcher() override
	{
		Shutdown();
	}

      protected:
	virtual Napi::Object Parse(Napi::Env env, nlmsghdr *h) = 0;

      private:
	void Shutdown()
	{
		poller_.reset();
		if (fd_ >= 0) {
			close(fd_);
			fd_ = -1;
		}
	}

	void OnReadable(int status)
	{
		Napi::Env env = this->Env();
		if (status < 0) {
			CallJs(env, cb_, ctx_.get(),
			       {ErrnoError(env, "uv_poll", -status).Value(), env.Undefined()});
			return;
		}
		Napi::Array out = Napi::Array::New(env);
		uint32_t n = 0;
		int err = 0;
		std::vector<char> buf(1 << 16);
		while (fd_ >= 0 && n < 4096) {
			ssize_t len = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
			if (len < 0) {
				if (errno == EINTR)
					continue;
				if (errno == ENOBUFS) {
					Napi::Object o = Napi::Object::New(env);
					o.Set("type", "overrun");
					out.Set(n++, o);
					continue;
				}
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					err = errno;
				break;
			}
			for (nlmsghdr *h = (nlmsghdr *)buf.data(); NLMSG_OK(h, (size_t)len);
			     h = NLMSG_NEXT(h, len)) {
				if (h->nlmsg_type != new_type_ && h->nlmsg_type != del_type_)
					continue;
				Napi::Object o = Parse(env, h);
				if (o.GetPropertyNames().Length() == 0)
					continue;
				o.Set("type", h->nlmsg_type == new_type_ ? "new" : "del");
				out.Set(n++, o);
			}
		}
		if (n > 0)
			CallJs(env, cb_, ctx_.get(), {env.Null(), out});
		if (err && fd_ >= 0)
			CallJs(env, cb_, ctx_.get(),
			       {ErrnoError(env, "recv", err, what_).Value(), env.Undefined()});
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Shutdown();
		return info.Env().Undefined();
	}

	Napi::Value RefJs(const Napi::CallbackInfo &info)
	{
		if (poller_)
			poller_->Ref(true);
		return info.Env().Undefined();
	}

	Napi::Value UnrefJs(const Napi::CallbackInfo &info)
	{
		if (poller_)
			poller_->Ref(false);
		return info.Env().Undefined();
	}

	uint16_t new_type_, del_type_;
	const char *what_;
	int fd_ = -1;
	std::unique_ptr<FdPoller> poller_;
	Napi::FunctionReference cb_;
	std::unique_ptr<Napi::AsyncContext> ctx_;
};

/* new LinkWatcherHandle(onEvents(err, events)): RTM_NEWLINK / RTM_DELLINK;
 * events are link objects. */
class LinkWatcherHandle : public RtnlWatcher<LinkWatcherHandle>
{
      public:
	LinkWatcherHandle(const Napi::CallbackInfo &info)
	    : RtnlWatcher(info, RTMGRP_LINK, RTM_NEWLINK, RTM_DELLINK, "link watcher")
	{
	}

      protected:
	Napi::Object Parse(Napi::Env env, nlmsghdr *h) override
	{
		return LinkObject(env, h);
	}
};

/* new NeighWatcherHandle(onEvents(err, events)): RTM_NEWNEIGH / RTM_DELNEIGH
 * (RTNLGRP_NEIGH); events are neighbour objects, IPv4 and IPv6. */
class NeighWatcherHandle : public RtnlWatcher<NeighWatcherHandle>
{
      public:
	NeighWatcherHandle(const Napi::CallbackInfo &info)
	    : RtnlWatcher(info, RTMGRP_NEIGH, RTM_NEWNEIGH, RTM_DELNEIGH, "neighbour watcher")
	{
	}

      protected:
	Napi::Object Parse(Napi::Env env, nlmsghdr *h) override
	{
		return NeighObject(env, h);
	}
};

void InitNetRtnl(Napi::Env env, Napi::Object exports)
{
	exports.Set("rtnlLink", Napi::Function::New(env, LinkInfo));
	exports.Set("rtnlAddressChange", Napi::Function::New(env, AddressChange));
	exports.Set("rtnlAddresses", Napi::Function::New(env, Addresses));
	exports.Set("rtnlNeighbours", Napi::Function::New(env, Neighbours));
	exports.Set("rtnlNeighbourUse", Napi::Function::New(env, NeighbourUse));
	exports.Set("LinkWatcherHandle", LinkWatcherHandle::Define(env, "LinkWatcherHandle"));
	exports.Set("NeighWatcherHandle", NeighWatcherHandle::Define(env, "NeighWatcherHandle"));
}

} // namespace vipd
