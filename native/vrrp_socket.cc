/* Raw VRRP sockets (IP protocol 112), IPv4 and IPv6, bound to one interface.
 *
 * Receive: a thread of its own per socket waits on the fd (epoll, with an
 * eventfd to wake it); each wakeup drains every pending packet (recvmmsg,
 * MSG_DONTWAIT) and either absorbs it (the steady state: an exact repeat of
 * the advert the engine last accepted) or queues it for JS, which gets the
 * queue in one call as an array of { source, destination, ttl, ifindex,
 * arrivalNs, kernelTimestamp, payload }. arrivalNs is the kernel's receive timestamp
 * (SO_TIMESTAMPNS, CLOCK_REALTIME) moved into the CLOCK_MONOTONIC domain by
 * subtracting the packet's age (realtime now - timestamp) from monotonic now.
 *
 * Send: IPv4 uses IP_HDRINCL so that the header is exactly what VRRP wants
 * (TOS 0xc0, TTL 255, DF clear, ID counting up from 1) and the source
 * address is the one the VRRP checksum was computed with. IPv6 sets hop
 * limit 255, traffic class 0xc0 and the source address via IPV6_PKTINFO. */
#include "errors.h"
#include "net_util.h"
#include "vrrp_absorb.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <netinet/ip.h>
#include <mutex>
#include <sys/epoll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <memory>
#include <vector>

#ifndef IPPROTO_VRRP
#define IPPROTO_VRRP 112
#endif

namespace vipd
{

VrrpSockCore::~VrrpSockCore()
{
	if (fd >= 0)
		close(fd);
	if (pkt_fd >= 0)
		close(pkt_fd);
	if (link_fd >= 0)
		close(link_fd);
}

int VrrpSockCore::OpenVmac(const uint8_t mac[6])
{
	/* Protocol 0: this socket sends only, nothing is queued to it. */
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct packet_mreq mr = {};
	mr.mr_ifindex = (int)ifindex;
	mr.mr_type = PACKET_MR_UNICAST;
	mr.mr_alen = 6;
	memcpy(mr.mr_address, mac, 6);
	if (setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
		int err = errno;
		close(s);
		return -err;
	}
	memcpy(vmac, mac, 6);
	pkt_fd = s;
	return 0;
}

static uint16_t HeaderChecksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += ((uint32_t)p[i] << 8) | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static bool IsMulticast(const IpAddr &a)
{
	if (a.family == AF_INET)
		return (ntohl(a.v4.s_addr) >> 28) == 0xe;
	return a.v6.s6_addr[0] == 0xff;
}

/* The next IPv4 ID of this socket: counting up from 1, skipping 0. */
static uint16_t NextIpId(std::atomic<uint16_t> &counter)
{
	uint16_t id = (uint16_t)(counter.fetch_add(1) + 1);
	return id ? id : (uint16_t)(counter.fetch_add(1) + 1);
}

/* The group's MAC (RFC 1112, RFC 2464). */
static void GroupMac(const IpAddr &dst, uint8_t mac[6])
{
	if (dst.family == AF_INET) {
		uint32_t group = ntohl(dst.v4.s_addr);
		const uint8_t m[6] = {0x01,
				      0x00,
				      0x5e,
				      (uint8_t)((group >> 16) & 0x7f),
				      (uint8_t)(group >> 8),
				      (uint8_t)group};
		memcpy(mac, m, 6);
	} else {
		const uint8_t *g = dst.v6.s6_addr;
		const uint8_t m[6] = {0x33, 0x33, g[12], g[13], g[14], g[15]};
		memcpy(mac, m, 6);
	}
}

/* The IP header of an advert sent below the IP layer: IPv4 as with
 * IP_HDRINCL (TOS 0xc0, TTL 255, DF clear), plus the header checksum the
 * kernel would fill in; IPv6 with hop limit 255 and traffic class 0xc0.
 * Returns its length. */
static size_t BuildIpHeader(const VrrpSockCore *c, const IpAddr &dst, size_t len, uint16_t ip_id,
			    uint8_t *ip)
{
	if (c->family == AF_INET) {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[1] = 0xc0;
		ip[2] = (uint8_t)((20 + len) >> 8);
		ip[3] = (uint8_t)(20 + len);
		ip[4] = (uint8_t)(ip_id >> 8);
		ip[5] = (uint8_t)ip_id;
		ip[8] = 255;
		ip[9] = IPPROTO_VRRP;
		memcpy(ip + 12, &c->source.v4, 4);
		memcpy(ip + 16, &dst.v4, 4);
		uint16_t sum = HeaderChecksum(ip, 20);
		ip[10] = (uint8_t)(sum >> 8);
		ip[11] = (uint8_t)sum;
		return 20;
	}
	memset(ip, 0, 40);
	ip[0] = 0x6c; /* version 6, traffic class 0xc0 */
	ip[4] = (uint8_t)(len >> 8);
	ip[5] = (uint8_t)len;
	ip[6] = IPPROTO_VRRP;
	ip[7] = 255;
	memcpy(ip + 8, &c->source.v6, 16);
	memcpy(ip + 24, &dst.v6, 16);
	return 40;
}

/* An advert to a multicast group as a whole Ethernet frame from the virtual
 * MAC (vmac: a raw IP socket always takes the interface's MAC). */
static int SendFromVmac(VrrpSockCore *c, const IpAddr &dst, const uint8_t *payload, size_t len,
			uint16_t ip_id)
{
	uint8_t frame[14 + 40 + 1500];
	size_t hlen = c->family == AF_INET ? 20 : 40;
	if (len > sizeof(frame) - 14 - hlen)
		return -EMSGSIZE;
	GroupMac(dst, frame);
	memcpy(frame + 6, c->vmac, 6);
	frame[12] = c->family == AF_INET ? 0x08 : 0x86;
	frame[13] = c->family == AF_INET ? 0x00 : 0xdd;
	BuildIpHeader(c, dst, len, ip_id, frame + 14);
	memcpy(frame + 14 + hlen, payload, len);
	struct sockaddr_ll sll = {};
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)c->ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, frame, 6);
	if (sendto(c->pkt_fd, frame, 14 + hlen + len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

/* An advert to a multicast group handed to the interface's driver path as
 * an IP packet (AF_PACKET, SOCK_DGRAM: the kernel adds the Ethernet header
 * with the interface's MAC as the source, whatever it is now). This skips
 * what the raw IP socket does per advert for a destination that never
 * changes: the route lookup, source checks, the netfilter OUTPUT and
 * POSTROUTING hooks and the neighbour lookup for the group (docs/vrrp.md
 * "The advert's path"). The header and the advert go as two pieces. */
static int SendLinkLayer(VrrpSockCore *c, const IpAddr &dst, const uint8_t *payload, size_t len,
			 uint16_t ip_id)
{
	uint8_t hdr[40];
	size_t hlen = BuildIpHeader(c, dst, len, ip_id, hdr);
	struct sockaddr_ll sll = {};
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(c->family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
	sll.sll_ifindex = (int)c->ifindex;
	sll.sll_halen = 6;
	GroupMac(dst, sll.sll_addr);
	struct iovec iov[2] = {{hdr, hlen}, {(void *)payload, len}};
	struct msghdr msg = {};
	msg.msg_name = &sll;
	msg.msg_namelen = sizeof(sll);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (sendmsg(c->link_fd, &msg, 0) < 0)
		return -errno;
	return 0;
}

int VrrpSockCore::OpenLinkLayer()
{
	/* Protocol 0: this socket sends only, nothing is queued to it. */
	int s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	link_fd = s;
	return 0;
}

int VrrpSockCore::Send(const IpAddr &dst, const uint8_t *payload, size_t len)
{
	if (dst.family != family)
		return -EAFNOSUPPORT;
	/* Unicast adverts keep the IP socket: the peer's MAC comes from the
	 * kernel's neighbour table, and only the source MAC would differ. */
	if ((pkt_fd >= 0 || link_fd >= 0) && has_source && IsMulticast(dst)) {
		uint16_t id = family == AF_INET ? NextIpId(ip_id) : 0;
		if (pkt_fd >= 0)
			return SendFromVmac(this, dst, payload, len, id);
		int rc = SendLinkLayer(this, dst, payload, len, id);
		/* Larger than the link's MTU (IPv6 adverts of many addresses):
		 * the IP socket fragments it. */
		if (rc != -EMSGSIZE)
			return rc;
	}
	if (family == AF_INET) {
		/* The header and the payload go as two pieces of one datagram:
		 * no copy of the payload into a 64 KiB stack buffer per advert.
		 * The kernel fills in the source when it is 0 (no source given)
		 * and computes the header checksum again. */
		if (len > 65515)
			return -EMSGSIZE;
		uint8_t hdr[20];
		BuildIpHeader(this, dst, len, NextIpId(ip_id), hdr);
		struct sockaddr_in sin = {};
		sin.sin_family = AF_INET;
		sin.sin_addr = dst.v4;
		struct iovec iov4[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
		struct msghdr msg4 = {};
		msg4.msg_name = &sin;
		msg4.msg_namelen = sizeof(sin);
		msg4.msg_iov = iov4;
		msg4.msg_iovlen = 2;
		if (sendmsg(fd, &msg4, 0) < 0)
			return -errno;
		return 0;
	}
	struct sockaddr_in6 sin6 = {};
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = dst.v6;
	sin6.sin6_scope_id = ifindex;
	struct iovec iov = {(void *)payload, len};
	struct msghdr msg = {};
	msg.msg_name = &sin6;
	msg.msg_namelen = sizeof(sin6);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	if (has_source) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
		struct in6_pktinfo pi = {};
		pi.ipi6_addr = source.v6;
		pi.ipi6_ifindex = ifindex;
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	if (sendmsg(fd, &msg, 0) < 0)
		return -errno;
	return 0;
}

static const uint8_t *AddrBytes(const IpAddr &a)
{
	return a.family == AF_INET ? (const uint8_t *)&a.v4 : a.v6.s6_addr;
}

/* Marks JS objects that wrap a VrrpSocketHandle (napi_type_tag_object). */
static const napi_type_tag kSocketTag = {0x7669706476727270ull, 0x736f636b65740001ull};

static void SetOpt(Napi::Env env, int fd, int level, int name, int value, const char *what)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)))
		throw ErrnoError(env, "setsockopt", errno, what);
}

class VrrpSocketHandle : public Napi::ObjectWrap<VrrpSocketHandle>
{
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(
		    env, "VrrpSocketHandle",
		    {
			InstanceMethod("send", &VrrpSocketHandle::SendJs),
			InstanceMethod("close", &VrrpSocketHandle::Close),
			InstanceMethod("ref", &VrrpSocketHandle::RefJs),
			InstanceMethod("unref", &VrrpSocketHandle::UnrefJs),
			InstanceMethod("drain", &VrrpSocketHandle::DrainJs),
			InstanceMethod("setSteady", &VrrpSocketHandle::SetSteadyJs),
			InstanceMethod("clearSteady", &VrrpSocketHandle::ClearSteadyJs),
			InstanceMethod("takeAbsorbed", &VrrpSocketHandle::TakeAbsorbedJs),
			InstanceMethod("rxStats", &VrrpSocketHandle::RxStatsJs),
			InstanceMethod("armMasterDown", &VrrpSocketHandle::ArmMasterDownJs),
			InstanceMethod("disarmMasterDown", &VrrpSocketHandle::DisarmMasterDownJs),
		    });
	}

	/* new VrrpSocketHandle({ family: 4|6, ifname, multicast, source?, vmac? }, onPackets) */
	VrrpSocketHandle(const Napi::CallbackInfo &info) : Napi::ObjectWrap<VrrpSocketHandle>(info)
	{
		Napi::Env env = info.Env();
		Napi::Object o = info[0].As<Napi::Object>();
		int fam = o.Get("family").As<Napi::Number>().Int32Value();
		std::string ifname = o.Get("ifname").As<Napi::String>();
		bool multicast = o.Get("multicast").ToBoolean();
		if (fam != 4 && fam != 6)
			throw Napi::TypeError::New(env, "family must be 4 or 6");
		if (!info[1].IsFunction())
			throw Napi::TypeError::New(env, "onPackets must be a function");
		unsigned ifindex = if_nametoindex(ifname.c_str());
		if (!ifindex)
			throw ErrnoError(env, "if_nametoindex", errno ? errno : ENODEV,
					 "interface '" + ifname + "'");

		auto core = std::make_shared<VrrpSockCore>();
		core->family = fam == 4 ? AF_INET : AF_INET6;
		core->ifindex = ifindex;
		Napi::Value src = o.Get("source");
		if (src.IsString()) {
			core->source = ParseIp(env, src.As<Napi::String>());
			if (core->source.family != core->family)
				throw Napi::TypeError::New(env, "source address family differs");
			core->has_source = true;
		}
		core->fd =
		    socket(core->family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_VRRP);
		if (core->fd < 0)
			throw ErrnoError(env, "socket", errno, "raw VRRP socket");
		int fd = core->fd;
		if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), ifname.size() + 1))
			throw ErrnoError(env, "setsockopt", errno, "SO_BINDTODEVICE " + ifname);
		SetOpt(env, fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
		if (core->family == AF_INET) {
			SetOpt(env, fd, IPPROTO_IP, IP_HDRINCL, 1, "IP_HDRINCL");
			SetOpt(env, fd, IPPROTO_IP, IP_TTL, 255, "IP_TTL");
			SetOpt(env, fd, IPPROTO_IP, IP_TOS, 0xc0, "IP_TOS");
			SetOpt(env, fd, IPPROTO_IP, IP_MULTICAST_TTL, 255, "IP_MULTICAST_TTL");
			SetOpt(env, fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP");
			SetOpt(env, fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
			SetOpt(env, fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL");
			struct ip_mreqn mr = {};
			mr.imr_ifindex = (int)ifindex;
			if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)))
				throw ErrnoError(env, "setsockopt", errno, "IP_MULTICAST_IF");
			if (multicast) {
				inet_pton(AF_INET, "224.0.0.18", &mr.imr_multiaddr);
				if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
					throw ErrnoError(env, "setsockopt", errno,
							 "IP_ADD_MEMBERSHIP 224.0.0.18 on " +
							     ifname);
			}
		} else {
			SetOpt(env, fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255, "IPV6_UNICAST_HOPS");
			SetOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255,
			       "IPV6_MULTICAST_HOPS");
			SetOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0,
			       "IPV6_MULTICAST_LOOP");
			SetOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex,
			       "IPV6_MULTICAST_IF");
			SetOpt(env, fd, IPPROTO_IPV6, IPV6_TCLASS, 0xc0, "IPV6_TCLASS");
			SetOpt(env, fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
			SetOpt(env, fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
			if (multicast) {
				struct ipv6_mreq mr = {};
				inet_pton(AF_INET6, "ff02::12", &mr.ipv6mr_multiaddr);
				mr.ipv6mr_interface = ifindex;
				if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof(mr)))
					throw ErrnoError(env, "setsockopt", errno,
							 "IPV6_JOIN_GROUP ff02::12 on " + ifname);
			}
		}
		/* Multicast adverts below the IP layer (SendLinkLayer), on an
		 * Ethernet interface with a source address; vmac has its own. */
		if (o.Get("linkLayerSend").ToBoolean() && core->has_source) {
			struct ifreq ifr = {};
			int q = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			bool ether = false;
			if (q >= 0 && ifname.size() < sizeof(ifr.ifr_name)) {
				memcpy(ifr.ifr_name, ifname.c_str(), ifname.size() + 1);
				ether = ioctl(q, SIOCGIFHWADDR, &ifr) == 0 &&
					ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
			}
			if (q >= 0)
				close(q);
			if (ether) {
				int rc = core->OpenLinkLayer();
				if (rc < 0)
					throw ErrnoError(env, "socket", -rc,
							 "AF_PACKET (VRRP adverts) on " + ifname);
			}
		}
		Napi::Value vmac = o.Get("vmac");
		if (!vmac.IsUndefined() && !vmac.IsNull()) {
			std::string mac = BytesArg(env, vmac, "vmac");
			if (mac.size() != 6)
				throw Napi::TypeError::New(env, "vmac must be 6 bytes");
			if (!core->has_source)
				throw Napi::TypeError::New(env, "vmac needs a source address");
			int rc = core->OpenVmac((const uint8_t *)mac.data());
			if (rc < 0)
				throw ErrnoError(env, "setsockopt", -rc,
						 "PACKET_ADD_MEMBERSHIP (virtual MAC) on " +
						     ifname);
		}
		napi_type_tag_object(env, info.This(), &kSocketTag);
		onPackets_ = Napi::Persistent(info[1].As<Napi::Function>());
		ctx_ = std::make_unique<Napi::AsyncContext>(env, "VrrpSocket");
		core_ = core;
		StartReceiver(env);
	}

	~VrrpSocketHandle() override
	{
		Shutdown();
	}

	std::shared_ptr<VrrpSockCore> Core() const
	{
		return core_;
	}

      private:
	/* A packet read by the receive thread, waiting for JS. */
	struct RawPacket {
		std::string source, destination, payload;
		int ttl;
		unsigned ifindex;
		int64_t arrival;
		bool kernel_ts;
	};

	/* Stops receiving; the fd itself lives on while an AdvertSender still
	 * holds the core, so it gets a drop-everything filter and leaves its
	 * multicast group now. */
	void Shutdown()
	{
		if (rx_thread_.joinable()) {
			{
				std::lock_guard<std::mutex> lock(mu_);
				quit_ = true;
			}
			Wake();
			rx_thread_.join();
		}
		if (async_) {
			async_->data = nullptr;
			uv_close((uv_handle_t *)async_,
				 [](uv_handle_t *h) { delete (uv_async_t *)h; });
			async_ = nullptr;
		}
		if (ep_fd_ >= 0) {
			close(ep_fd_);
			ep_fd_ = -1;
		}
		if (wake_fd_ >= 0) {
			close(wake_fd_);
			wake_fd_ = -1;
		}
		onExpire_.Reset();
		if (!core_)
			return;
		if (core_.use_count() > 1) {
			struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
			struct sock_fprog prog = {1, &drop};
			setsockopt(core_->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
		}
		core_.reset();
	}

	void Wake()
	{
		uint64_t one = 1;
		if (wake_fd_ >= 0 && write(wake_fd_, &one, sizeof(one)) < 0) {
			/* the counter is already non-zero: the thread wakes anyway */
		}
	}

	/* Starts the receive thread. It reads the socket, absorbs steady-state
	 * repeats, keeps the Master_Down deadline, and wakes the JS thread
	 * (uv_async) only when there is something for JS: so a steady BACKUP
	 * costs the event loop nothing per advert. */
	void StartReceiver(Napi::Env env)
	{
		uv_loop_t *loop = nullptr;
		if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop)
			throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
		wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (wake_fd_ < 0)
			throw ErrnoError(env, "eventfd", errno);
		/* epoll rather than poll: the two fds are registered once, so a
		 * wakeup does not set up and tear down wait queue entries. */
		ep_fd_ = epoll_create1(EPOLL_CLOEXEC);
		if (ep_fd_ < 0)
			throw ErrnoError(env, "epoll_create1", errno);
		struct epoll_event ev = {};
		ev.events = EPOLLIN;
		ev.data.fd = core_->fd;
		if (epoll_ctl(ep_fd_, EPOLL_CTL_ADD, core_->fd, &ev))
			throw ErrnoError(env, "epoll_ctl", errno);
		ev.data.fd = wake_fd_;
		if (epoll_ctl(ep_fd_, EPOLL_CTL_ADD, wake_fd_, &ev))
			throw ErrnoError(env, "epoll_ctl", errno);
		async_ = new uv_async_t;
		uv_async_init(loop, async_, [](uv_async_t *h) {
			VrrpSocketHandle *self = (VrrpSocketHandle *)h->data;
			if (self)
				self->Deliver(true);
		});
		async_->data = this;
		rx_thread_ = std::thread([this]() { ReceiveLoop(); });
	}

	void ReceiveLoop()
	{
		pthread_setname_np(pthread_self(), "vipd-vrrp-rx");
		int fd = core_->fd;
		std::unique_lock<std::mutex> lock(mu_);
		while (!quit_) {
			int timeout = -1;
			FoldKernelLocked();
			if (md_armed_ && !md_fired_) {
				int64_t left = MasterDownDueLocked() - (int64_t)MonoNs();
				timeout = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
			}
			lock.unlock();
			struct epoll_event evs[2];
			int rc = epoll_wait(ep_fd_, evs, 2, timeout);
			lock.lock();
			thread_wakes_++;
			if (quit_)
				break;
			bool readable = false;
			for (int i = 0; i < rc; i++) {
				if (evs[i].data.fd == wake_fd_) {
					uint64_t v;
					if (read(wake_fd_, &v, sizeof(v)) < 0) {
						/* EAGAIN: nothing to clear */
					}
				} else if (evs[i].data.fd == fd) {
					readable = true;
				}
			}
			if (readable)
				ReadLocked();
			FoldKernelLocked();
			if (md_armed_ && !md_fired_ && (int64_t)MonoNs() >= MasterDownDueLocked()) {
				/* Read the socket dry before believing the timer: an
				 * advert that arrived before the deadline may wait
				 * there while this thread was late (epoll reported the
				 * timeout, not the fd), and its arrival time counts. */
				if (!readable)
					ReadLocked();
				FoldKernelLocked();
				if ((int64_t)MonoNs() >= MasterDownDueLocked())
					md_fired_ = true;
			}
			if (!queue_.empty() || md_fired_ || rx_err_) {
				js_wakes_++;
				uv_async_send(async_);
			}
		}
	}

	/* The Master_Down deadline: the engine's, or one interval after the
	 * last advert absorbed since it was armed, whichever is later. */
	int64_t MasterDownDueLocked() const
	{
		int64_t due = md_due_;
		if (absorbed_arrival_ != md_since_ && absorbed_arrival_ + md_interval_ > due)
			due = absorbed_arrival_ + md_interval_;
		return due;
	}

	/* One received datagram's storage for recvmmsg. */
	struct RxSlot {
		uint8_t buf[9000];
		union {
			struct sockaddr_in v4;
			struct sockaddr_in6 v6;
		} from;
		alignas(struct cmsghdr) char cbuf[256];
		struct iovec iov;
	};
	static constexpr unsigned kRxBatch = 8;

	/* Does this packet repeat the steady advert (mu_ held)? Compared on the
	 * raw bytes: no address formatting per advert. */
	bool IsSteadyLocked(int ttl, const uint8_t *src, const uint8_t *dst, const uint8_t *payload,
			    size_t plen) const
	{
		size_t alen = core_->family == AF_INET ? 4 : 16;
		return steady_ && queue_.empty() && ttl == 255 && dst != nullptr &&
		       memcmp(src, AddrBytes(steady_src_), alen) == 0 &&
		       memcmp(dst, AddrBytes(steady_dst_), alen) == 0 &&
		       plen == steady_payload_.size() &&
		       memcmp(payload, steady_payload_.data(), plen) == 0;
	}

	/* Reads the socket dry (mu_ held): recvmmsg in batches of kRxBatch, so
	 * a wakeup for one advert costs one call (a short batch means the
	 * socket is empty: no second call that ends in EAGAIN). The steady
	 * state: the advert the engine last accepted, again, byte for byte,
	 * from the same source to the same destination with TTL 255, is
	 * absorbed without JS; the runner hands the last one to the engine when
	 * it next looks (takeAbsorbed). While anything waits for JS nothing is
	 * absorbed, so the engine sees adverts in order. */
	void ReadLocked()
	{
		if (!slots_)
			slots_.reset(new RxSlot[kRxBatch]);
		struct mmsghdr msgs[kRxBatch];
		struct timespec real_now, mono_now;
		bool have_now = false;
		int64_t real_ns = 0, mono_ns = 0;
		for (int round = 0; round < 512; round++) {
			memset(msgs, 0, sizeof(msgs));
			for (unsigned i = 0; i < kRxBatch; i++) {
				RxSlot &s = slots_[i];
				s.iov = {s.buf, sizeof(s.buf)};
				msgs[i].msg_hdr.msg_name = &s.from;
				msgs[i].msg_hdr.msg_namelen = sizeof(s.from);
				msgs[i].msg_hdr.msg_iov = &s.iov;
				msgs[i].msg_hdr.msg_iovlen = 1;
				msgs[i].msg_hdr.msg_control = s.cbuf;
				msgs[i].msg_hdr.msg_controllen = sizeof(s.cbuf);
			}
			int n = recvmmsg(core_->fd, msgs, kRxBatch, MSG_DONTWAIT, nullptr);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					rx_err_ = errno;
				return;
			}
			if (!have_now) {
				/* Once per wakeup: packet ages are measured against it. */
				clock_gettime(CLOCK_REALTIME, &real_now);
				clock_gettime(CLOCK_MONOTONIC, &mono_now);
				real_ns =
				    (int64_t)real_now.tv_sec * 1000000000ll + real_now.tv_nsec;
				mono_ns =
				    (int64_t)mono_now.tv_sec * 1000000000ll + mono_now.tv_nsec;
				have_now = true;
			}
			for (int i = 0; i < n; i++)
				TakeLocked(slots_[i], msgs[i].msg_hdr, msgs[i].msg_len, real_ns,
					   mono_ns);
			if ((unsigned)n < kRxBatch)
				return;
		}
	}

	/* One datagram: absorbed, or queued for JS. */
	void TakeLocked(RxSlot &s, struct msghdr &msg, unsigned len, int64_t real_ns,
			int64_t mono_ns)
	{
		if (msg.msg_flags & MSG_TRUNC)
			return;
		int ttl = -1;
		unsigned ifindex = core_->ifindex;
		bool kernel_ts = false;
		int64_t arrival = mono_ns;
		const uint8_t *dst6 = nullptr;
		struct in6_pktinfo pi6;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				int64_t t = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
				int64_t age = real_ns - t;
				if (age < 0)
					age = 0;
				arrival = mono_ns - age;
				kernel_ts = true;
			} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				ifindex = (unsigned)pi.ipi_ifindex;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
				ifindex = pi6.ipi6_ifindex;
				dst6 = pi6.ipi6_addr.s6_addr;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
				int h;
				memcpy(&h, CMSG_DATA(c), sizeof(h));
				ttl = h;
			}
		}
		const uint8_t *buf = s.buf;
		const uint8_t *payload = buf, *src, *dst;
		size_t plen = len;
		if (core_->family == AF_INET) {
			if (plen < 20)
				return;
			size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
			size_t tot = ((size_t)buf[2] << 8) | buf[3];
			if (ihl < 20 || ihl > plen)
				return;
			if (tot >= ihl && tot < plen)
				plen = tot;
			ttl = buf[8];
			src = buf + 12;
			dst = buf + 16;
			payload = buf + ihl;
			plen -= ihl;
		} else {
			src = s.from.v6.sin6_addr.s6_addr;
			dst = dst6;
		}
		if (IsSteadyLocked(ttl, src, dst, payload, plen)) {
			absorbed_++;
			absorbed_total_++;
			absorbed_arrival_ = arrival;
			return;
		}
		RawPacket p;
		p.ttl = ttl;
		p.ifindex = ifindex;
		p.kernel_ts = kernel_ts;
		p.arrival = arrival;
		p.source = FormatIp(core_->family, src);
		if (dst)
			p.destination = FormatIp(core_->family, dst);
		p.payload.assign((const char *)payload, plen);
		queue_.push_back(std::move(p));
		queued_total_++;
		/* Nothing is absorbed while a packet waits for JS (the engine
		 * sees adverts in order): the kernel stops too, until JS has it. */
		if (kabs_.attached()) {
			kabs_.Detach(core_->fd);
			kabs_paused_ = true;
		}
	}

	/* Counts what the kernel filter absorbed since the last look as
	 * absorbed here (mu_ held): no system call, a read of shared memory. */
	void FoldKernelLocked()
	{
		int64_t last;
		uint64_t n = kabs_.Take(&last);
		if (!n)
			return;
		absorbed_ += n;
		absorbed_total_ += n;
		kernel_absorbed_total_ += n;
		if (last > absorbed_arrival_)
			absorbed_arrival_ = last;
	}

	/* On the JS thread: hands what the receive thread queued to JS, then
	 * (with_expiry) a Master_Down expiry. */
	void Deliver(bool with_expiry)
	{
		Napi::Env env = Env();
		Napi::HandleScope scope(env);
		std::vector<RawPacket> q;
		bool fired = false;
		int err = 0;
		{
			std::lock_guard<std::mutex> lock(mu_);
			q.swap(queue_);
			if (with_expiry && md_fired_) {
				fired = true;
				md_fired_ = false;
				md_armed_ = false;
			}
			err = rx_err_;
			rx_err_ = 0;
		}
		if (!q.empty()) {
			Napi::Array out = Napi::Array::New(env, q.size());
			uint32_t n = 0;
			for (const RawPacket &r : q) {
				Napi::Object p = Napi::Object::New(env);
				p.Set("source", r.source);
				p.Set("destination", r.destination);
				p.Set("ttl", Napi::Number::New(env, r.ttl));
				p.Set("ifindex", Napi::Number::New(env, r.ifindex));
				p.Set("arrivalNs", Napi::BigInt::New(env, (uint64_t)r.arrival));
				p.Set("kernelTimestamp", Napi::Boolean::New(env, r.kernel_ts));
				p.Set("payload", Napi::Buffer<uint8_t>::Copy(
						     env, (const uint8_t *)r.payload.data(),
						     r.payload.size()));
				out.Set(n++, p);
			}
			CallJs(env, onPackets_, ctx_.get(), {env.Null(), out});
		}
		{
			/* JS has what was queued (by this call or an earlier one):
			 * the kernel may absorb again. */
			std::lock_guard<std::mutex> lock(mu_);
			if (kabs_paused_ && steady_ && queue_.empty() && core_) {
				kabs_paused_ = false;
				/* Counted only when a filter went back on (Reattach()
				 * does nothing, and returns 0, when none was built). */
				bool was_attached = kabs_.attached();
				if (kabs_.Reattach(core_->fd) == 0 && !was_attached &&
				    kabs_.attached())
					kernel_attaches_++;
			}
		}
		if (err && core_) {
			Napi::Error e = ErrnoError(env, "recvmsg", err, "VRRP socket");
			CallJs(env, onPackets_, ctx_.get(), {e.Value(), env.Undefined()});
		}
		if (fired && !onExpire_.IsEmpty()) {
			Napi::FunctionReference fn = std::move(onExpire_);
			CallJs(env, fn, ctx_.get(), {});
		}
	}

	/* Reads the socket dry now and delivers what was queued through the
	 * usual callback, before returning. The engine calls this before it
	 * acts on an expired timer: after an event-loop stall libuv runs timers
	 * before polling, and adverts still in the socket must count first. */
	Napi::Value DrainJs(const Napi::CallbackInfo &info)
	{
		if (core_ && rx_thread_.joinable()) {
			{
				std::lock_guard<std::mutex> lock(mu_);
				ReadLocked();
			}
			/* Packets only: a Master_Down expiry is the async callback's. */
			Deliver(false);
		}
		return info.Env().Undefined();
	}

	/* setSteady(source, destination, payload): from now on, absorb exact
	 * repeats of this advert. */
	Napi::Value SetSteadyJs(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		IpAddr src = ParseIp(env, info[0].As<Napi::String>().Utf8Value());
		IpAddr dst = ParseIp(env, info[1].As<Napi::String>().Utf8Value());
		if (!core_ || src.family != core_->family || dst.family != core_->family)
			throw Napi::TypeError::New(
			    env, "setSteady: addresses must be of the socket's family");
		std::string payload = BytesArg(env, info[2], "payload");
		std::lock_guard<std::mutex> lock(mu_);
		steady_src_ = src;
		steady_dst_ = dst;
		steady_payload_.swap(payload);
		steady_ = true;
		/* The kernel absorbs from now on too (what it absorbed of the
		 * previous steady advert is counted first). Without it (no
		 * CAP_BPF, say) the receive thread absorbs every advert itself. */
		FoldKernelLocked();
		kabs_paused_ = !queue_.empty();
		/* Paused (a packet waits for JS): the filter for this advert is
		 * built now and attached once JS has the packet; attaching the
		 * older advert's filter then would absorb that advert as this
		 * one's repeat. */
		if (kabs_paused_)
			kabs_.Detach(core_->fd);
		int err = kabs_.Attach(core_->fd, core_->family, src, dst, steady_payload_,
				       !kabs_paused_);
		if (err)
			kernel_error_ = err;
		else if (!kabs_paused_)
			kernel_attaches_++;
		return env.Undefined();
	}

	Napi::Value ClearSteadyJs(const Napi::CallbackInfo &info)
	{
		std::lock_guard<std::mutex> lock(mu_);
		FoldKernelLocked();
		if (core_)
			kabs_.Detach(core_->fd);
		kabs_paused_ = false;
		steady_ = false;
		return info.Env().Undefined();
	}

	/* { count, lastArrivalNs }: the adverts absorbed since the last call
	 * and when the last of them arrived; the count restarts at 0. */
	Napi::Value TakeAbsorbedJs(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		uint64_t count;
		int64_t last;
		{
			std::lock_guard<std::mutex> lock(mu_);
			FoldKernelLocked();
			count = absorbed_;
			last = absorbed_arrival_;
			absorbed_ = 0;
		}
		Napi::Object o = Napi::Object::New(env);
		o.Set("count", Napi::Number::New(env, (double)count));
		o.Set("lastArrivalNs", Napi::BigInt::New(env, (uint64_t)last));
		return o;
	}

	/* rxStats(): totals since open of what the receive thread did with
	 * what it read: { absorbed, queued, jsWakes, threadWakes,
	 * kernelAbsorbed, kernelAttaches, kernelError? }. */
	Napi::Value RxStatsJs(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		std::lock_guard<std::mutex> lock(mu_);
		FoldKernelLocked();
		Napi::Object o = Napi::Object::New(env);
		o.Set("absorbed", Napi::Number::New(env, (double)absorbed_total_));
		o.Set("threadWakes", Napi::Number::New(env, (double)thread_wakes_));
		o.Set("kernelAbsorbed", Napi::Number::New(env, (double)kernel_absorbed_total_));
		o.Set("kernelAttaches", Napi::Number::New(env, (double)kernel_attaches_));
		if (kernel_error_) {
			const char *name = ErrnoName(kernel_error_);
			o.Set("kernelError",
			      name ? std::string(name) : "E" + std::to_string(kernel_error_));
		}
		o.Set("queued", Napi::Number::New(env, (double)queued_total_));
		o.Set("jsWakes", Napi::Number::New(env, (double)js_wakes_));
		return o;
	}

	/* armMasterDown(dueNs, masterDownNs, onExpire): the BACKUP's
	 * Master_Down timer, when the engine's timer is handed to the socket
	 * (steady state). It fires at max(due, last absorbed arrival +
	 * Master_Down interval), so absorbed adverts restart it with no JS;
	 * only the real expiry calls onExpire. */
	Napi::Value ArmMasterDownJs(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		bool lossless;
		int64_t due = (int64_t)info[0].As<Napi::BigInt>().Uint64Value(&lossless);
		int64_t interval = (int64_t)info[1].As<Napi::BigInt>().Uint64Value(&lossless);
		onExpire_ = Napi::Persistent(info[2].As<Napi::Function>());
		{
			std::lock_guard<std::mutex> lock(mu_);
			FoldKernelLocked();
			md_due_ = due;
			md_interval_ = interval;
			md_since_ = absorbed_arrival_;
			md_armed_ = true;
			md_fired_ = false;
		}
		Wake();
		return env.Undefined();
	}

	Napi::Value DisarmMasterDownJs(const Napi::CallbackInfo &info)
	{
		{
			std::lock_guard<std::mutex> lock(mu_);
			md_armed_ = false;
			md_fired_ = false;
		}
		onExpire_.Reset();
		return info.Env().Undefined();
	}

	Napi::Value SendJs(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!core_)
			throw ErrnoError(env, "send", EBADF, "VRRP socket is closed");
		std::string bytes = BytesArg(env, info[0], "payload");
		IpAddr dst = ParseIp(env, info[1].As<Napi::String>());
		int rc = core_->Send(dst, (const uint8_t *)bytes.data(), bytes.size());
		if (rc < 0)
			throw ErrnoError(env, "sendmsg", -rc,
					 "VRRP advert to " + info[1].ToString().Utf8Value());
		return env.Undefined();
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Shutdown();
		return info.Env().Undefined();
	}

	Napi::Value RefJs(const Napi::CallbackInfo &info)
	{
		if (async_)
			uv_ref((uv_handle_t *)async_);
		return info.Env().Undefined();
	}

	Napi::Value UnrefJs(const Napi::CallbackInfo &info)
	{
		if (async_)
			uv_unref((uv_handle_t *)async_);
		return info.Env().Undefined();
	}

	std::shared_ptr<VrrpSockCore> core_;
	std::thread rx_thread_;
	int wake_fd_ = -1;
	int ep_fd_ = -1;
	uv_async_t *async_ = nullptr;
	Napi::FunctionReference onPackets_;
	std::unique_ptr<Napi::AsyncContext> ctx_;
	Napi::FunctionReference onExpire_;
	/* Shared with the receive thread. */
	std::mutex mu_;
	bool quit_ = false;
	std::vector<RawPacket> queue_;
	int rx_err_ = 0;
	bool steady_ = false;
	IpAddr steady_src_, steady_dst_;
	std::string steady_payload_;
	/* Totals since open, for stats(): adverts absorbed, packets queued for
	 * JS, and times the JS thread was woken. */
	uint64_t absorbed_total_ = 0, queued_total_ = 0, js_wakes_ = 0;
	/* The kernel filter (vrrp_absorb.h): what it absorbed (part of
	 * absorbed_total_), how often it went on, the last error loading it. */
	KernelAbsorber kabs_;
	bool kabs_paused_ = false;
	uint64_t kernel_absorbed_total_ = 0, kernel_attaches_ = 0, thread_wakes_ = 0;
	int kernel_error_ = 0;
	std::unique_ptr<RxSlot[]> slots_;
	uint64_t absorbed_ = 0;
	int64_t absorbed_arrival_ = 0;
	bool md_armed_ = false, md_fired_ = false;
	int64_t md_due_ = 0, md_interval_ = 0, md_since_ = 0;
};

std::shared_ptr<VrrpSockCore> VrrpSockCoreOf(Napi::Env env, Napi::Value v)
{
	bool ok = false;
	if (v.IsObject())
		napi_check_object_type_tag(env, v, &kSocketTag, &ok);
	if (!ok)
		throw Napi::TypeError::New(env, "expected a VrrpSocketHandle");
	VrrpSocketHandle *h = VrrpSocketHandle::Unwrap(v.As<Napi::Object>());
	auto core = h->Core();
	if (!core)
		throw ErrnoError(env, "AdvertSender", EBADF, "VRRP socket is closed");
	return core;
}

void InitVrrpSocket(Napi::Env env, Napi::Object exports)
{
	exports.Set("VrrpSocketHandle", VrrpSocketHandle::Define(env));
}

} // namespace vipd
