/* BFD (RFC 5880 asynchronous mode, RFC 5881 single hop) on one native
 * thread: every session of the daemon, their transmit and detection timers
 * and the receive sockets, with no JavaScript per packet. JS adds and
 * removes sessions and hears only state changes (a TSFN event per change).
 *
 * Sockets: one receive socket per (family, interface), UDP 3784, bound to the
 * interface (SO_BINDTODEVICE), TTL / hop limit read per packet and required
 * to be 255. One transmit socket per session, bound to a source port in
 * 49152..65535 (the same for the session's life, RFC 5881 4), TTL 255,
 * TOS 0xc0.
 *
 * Timers: absolute CLOCK_MONOTONIC deadlines (next += interval, jittered
 * 75..100%, 75..90% with detect multiplier 1), waited for in epoll_pwait2
 * (nanosecond timeout, timer slack 1 ns), SCHED_FIFO when asked and allowed.
 * Slow start: while a session is not Up it sends at 1 s at most (RFC 5880
 * 6.8.3), and on Up switches to its interval with a Poll sequence.
 *
 * Wakeups: while every session is Up the thread wakes only for its timers
 * (the next transmit or detection deadline) and reads the receive sockets
 * dry then, taking each packet's arrival from its kernel timestamp
 * (SO_TIMESTAMPNS), so detection is measured from when packets arrived, not
 * from when they were read. One wakeup per transmitted packet instead of two
 * (send, receive): the cost of BFD on a VM is its wakeups. A Poll is then
 * answered at our next transmit, within one interval ("as soon as
 * practicable", RFC 5880 6.8.7). While a session is not Up, packets wake the
 * thread at once, so the handshake does not wait a slow-start second.
 *
 * Receive checks: bfd_packet.cc (session independent) plus the session
 * lookup here; each failure is counted by reason and the packet ignored. */
#include "addon.h"
#include "bfd_packet.h"
#include "errors.h"
#include "net_util.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <net/if.h>
#include <pthread.h>
#include <random>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace vipd
{

static constexpr uint16_t BFD_PORT = 3784;
static constexpr uint32_t SLOW_TX_US = 1000000;

struct BfdSession {
	uint32_t id = 0;
	std::string ifname;
	unsigned ifindex = 0;
	IpAddr peer;
	int tx_fd = -1;
	uint16_t src_port = 0;
	/* RFC 5880 6.8.1 state variables */
	uint8_t state = BFD_DOWN, remote_state = BFD_DOWN, diag = BFD_DIAG_NONE;
	uint32_t local_discr = 0, remote_discr = 0;
	uint32_t desired_min_tx_us = 0, required_min_rx_us = 0;
	uint32_t remote_min_rx_us = 1, remote_desired_min_tx_us = 0;
	uint8_t detect_mult = 3, remote_detect_mult = 0;
	uint8_t remote_diag = 0;
	bool poll_active = false, send_final = false;
	uint64_t next_tx_ns = 0, detect_at_ns = 0;
	/* stats */
	uint64_t sent = 0, received = 0, ups = 0, downs = 0, late = 0, send_errors = 0;
	uint64_t last_change_ns = 0, last_rx_ns = 0, max_rx_gap_ns = 0;
	int last_error = 0;

	/* What we advertise as Desired Min TX: 1 s at least until Up. */
	uint32_t AdvertisedMinTxUs() const
	{
		return state == BFD_UP
			   ? desired_min_tx_us
			   : (desired_min_tx_us > SLOW_TX_US ? desired_min_tx_us : SLOW_TX_US);
	}
	uint64_t TxIntervalNs() const
	{
		uint32_t us = AdvertisedMinTxUs();
		if (remote_min_rx_us > us)
			us = remote_min_rx_us;
		return (uint64_t)us * 1000ull;
	}
	uint64_t DetectTimeNs() const
	{
		uint32_t us = required_min_rx_us > remote_desired_min_tx_us
				  ? required_min_rx_us
				  : remote_desired_min_tx_us;
		return (uint64_t)remote_detect_mult * us * 1000ull;
	}
};

/* An armed takeover (armTakeover): what a BACKUP's engine would do when its
 * BFD session to the MASTER leaves Up, made ready by JS while the state is
 * steady, so the BFD thread carries it out at once: the instance map write
 * that makes the data plane answer (lease = now + lease_ns, as the advert
 * sender's renewal) and the first round of gratuitous ARP / unsolicited NA.
 * JS hears of it with the session event and lets the engine decide; it fires
 * once and is gone. */
struct BfdTakeover {
	uint32_t session_id = 0;
	/* The instance's other sessions: with two or more that have been Up
	 * and none Up now, the engine goes to FAULT (our link), not MASTER. */
	std::vector<uint32_t> guard;
	int map_fd = -1;
	std::string key, value;
	uint32_t value_offset = 0;
	uint64_t lease_ns = 0;
	unsigned ifindex = 0;
	std::vector<std::string> frames;
};

struct TakeoverFired {
	uint32_t arm_id;
	uint64_t fired_ns, map_ns, sent_ns;
	int map_err, send_err;
	uint32_t frames_sent;
};

struct BfdEvent {
	uint32_t id;
	uint8_t state, diag, remote_diag;
	bool remote_admin_down; /* the peer said AdminDown: not a path failure */
	uint64_t at_ns;
	std::vector<TakeoverFired> takeovers;
};

struct RxSocket {
	int fd = -1;
	int family = 0;
	unsigned ifindex = 0;
	int users = 0;
};

struct BfdCore {
	pthread_mutex_t mu;
	bool quit = false;
	/* epfd: the wake eventfd and the receive sockets; idle_epfd: the wake
	 * eventfd only, waited on while every session is Up. */
	int epfd = -1, idle_epfd = -1, wakefd = -1;
	int sched_priority = 0;
	bool realtime = false;
	uint32_t next_id = 1;
	std::map<uint32_t, BfdSession> sessions;
	std::vector<RxSocket> rx;
	std::vector<BfdEvent> pending;
	/* Armed takeovers by arm id (one per VRRP instance), and the AF_PACKET
	 * socket their frames leave by: opened with the first arm and kept, as
	 * closing one waits for an RCU grace period (5-15 ms). */
	std::map<uint32_t, BfdTakeover> arms;
	int packet_fd = -1;
	uint64_t takeovers_fired = 0, takeovers_held = 0;
	uint64_t invalid[BFD_REJECT_COUNT] = {};
	std::mt19937 rng{std::random_device{}()};

	BfdCore()
	{
		pthread_mutex_init(&mu, nullptr);
	}
	~BfdCore()
	{
		for (auto &kv : sessions)
			if (kv.second.tx_fd >= 0)
				close(kv.second.tx_fd);
		for (RxSocket &r : rx)
			close(r.fd);
		if (epfd >= 0)
			close(epfd);
		if (wakefd >= 0)
			close(wakefd);
		if (idle_epfd >= 0)
			close(idle_epfd);
		for (auto &kv : arms)
			close(kv.second.map_fd);
		if (packet_fd >= 0)
			close(packet_fd);
		pthread_mutex_destroy(&mu);
	}
	void Wake()
	{
		uint64_t one = 1;
		if (write(wakefd, &one, sizeof(one)) < 0) {
			/* the counter is already non-zero: the thread wakes anyway */
		}
	}
};

class CoreLock
{
      public:
	explicit CoreLock(pthread_mutex_t *m) : m_(m)
	{
		pthread_mutex_lock(m_);
	}
	~CoreLock()
	{
		pthread_mutex_unlock(m_);
	}

      private:
	pthread_mutex_t *m_;
};

static void FillSockaddr(const IpAddr &ip, uint16_t port, unsigned ifindex,
			 struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (ip.family == AF_INET) {
		auto *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = ip.v4;
		*len = sizeof(*sin);
	} else {
		auto *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = ip.v6;
		if (IN6_IS_ADDR_LINKLOCAL(&ip.v6))
			sin6->sin6_scope_id = ifindex;
		*len = sizeof(*sin6);
	}
}

static bool SameIp(const IpAddr &a, const IpAddr &b)
{
	if (a.family != b.family)
		return false;
	return a.family == AF_INET ? a.v4.s_addr == b.v4.s_addr
				   : memcmp(&a.v6, &b.v6, sizeof(a.v6)) == 0;
}

/* ---- the protocol (caller holds core->mu) ------------------------------ */

static bool SameIp(const IpAddr &a, const IpAddr &b);

/* The engine's FAULT rule, seen from the session that just left Up: the
 * instance has other sessions that have been Up, and none of them is Up. */
static bool OwnLinkDown(BfdCore *c, const BfdTakeover &a)
{
	bool known = false;
	for (uint32_t id : a.guard) {
		auto it = c->sessions.find(id);
		if (it == c->sessions.end() || it->second.ups == 0)
			continue;
		if (it->second.state == BFD_UP)
			return false;
		known = true;
	}
	return known;
}

/* Session s left Up: carry out the takeovers armed on it. The map write
 * comes first, so the VIP answers before the announcement sends clients
 * here. */
static void FireTakeovers(BfdCore *c, BfdSession *s, BfdEvent *ev)
{
	for (auto it = c->arms.begin(); it != c->arms.end();) {
		BfdTakeover &a = it->second;
		if (a.session_id != s->id) {
			++it;
			continue;
		}
		if (OwnLinkDown(c, a)) {
			/* The engine will FAULT, not take over: leave it to JS. */
			c->takeovers_held++;
			++it;
			continue;
		}
		TakeoverFired f = {};
		f.arm_id = it->first;
		f.fired_ns = MonoNs();
		uint64_t expiry = f.fired_ns + a.lease_ns;
		memcpy(&a.value[a.value_offset], &expiry, sizeof(expiry));
		if (bpf_map_update_elem(a.map_fd, a.key.data(), a.value.data(), BPF_ANY))
			f.map_err = errno;
		f.map_ns = MonoNs();
		for (const std::string &fr : a.frames) {
			struct sockaddr_ll sll = {};
			sll.sll_family = AF_PACKET;
			sll.sll_ifindex = (int)a.ifindex;
			sll.sll_halen = ETH_ALEN;
			memcpy(sll.sll_addr, fr.data(), ETH_ALEN);
			memcpy(&sll.sll_protocol, fr.data() + 12, 2);
			if (sendto(c->packet_fd, fr.data(), fr.size(), MSG_DONTWAIT,
				   (struct sockaddr *)&sll, sizeof(sll)) < 0)
				f.send_err = errno;
			else
				f.frames_sent++;
		}
		f.sent_ns = MonoNs();
		c->takeovers_fired++;
		ev->takeovers.push_back(f);
		close(a.map_fd);
		it = c->arms.erase(it);
	}
}

static void SetState(BfdCore *c, BfdSession *s, uint8_t to, uint8_t diag, uint64_t now)
{
	if (s->state == to)
		return;
	uint8_t from = s->state;
	s->state = to;
	s->diag = diag;
	s->last_change_ns = now;
	if (to == BFD_UP) {
		s->ups++;
		/* Leaving slow start: our Desired Min TX drops to the configured
		 * interval, announced with a Poll (RFC 5880 6.8.3); a decrease
		 * may be used at once. */
		s->poll_active = true;
		s->next_tx_ns = now;
	} else if (from == BFD_UP) {
		s->downs++;
		s->poll_active = false;
	}
	bool admin = to == BFD_DOWN && s->remote_state == BFD_ADMIN_DOWN;

	c->pending.push_back(BfdEvent{s->id, to, diag, s->remote_diag, admin, now, {}});
	/* A peer that says AdminDown is being shut down or reconfigured on
	 * purpose: not a failure of the path (RFC 5882 3.2), so no takeover;
	 * VRRP decides as without BFD. */
	if (from == BFD_UP && !admin)
		FireTakeovers(c, s, &c->pending.back());
}

static void Transmit(BfdCore *c, BfdSession *s, bool final)
{
	BfdControl p;
	p.diag = s->diag;
	p.state = s->state;
	p.poll = s->poll_active && !final;
	p.final = final;
	p.detect_mult = s->detect_mult;
	p.my_discr = s->local_discr;
	p.your_discr = s->remote_discr;
	p.desired_min_tx_us = s->AdvertisedMinTxUs();
	p.required_min_rx_us = s->required_min_rx_us;
	uint8_t buf[BFD_CONTROL_LEN];
	BfdEncode(p, buf);
	struct sockaddr_storage ss;
	socklen_t len;
	FillSockaddr(s->peer, BFD_PORT, s->ifindex, &ss, &len);
	if (sendto(s->tx_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, len) < 0) {
		s->send_errors++;
		s->last_error = errno;
	} else {
		s->sent++;
	}
}

/* Schedules the next periodic packet: interval jittered to 75..100% (to
 * 75..90% with detect multiplier 1), counted from the last deadline so the
 * rate does not drift; a deadline missed by a whole interval restarts from
 * now and counts as late. */
static void ScheduleTx(BfdCore *c, BfdSession *s, uint64_t now)
{
	uint64_t iv = s->TxIntervalNs();
	uint32_t max_pct = s->detect_mult == 1 ? 90 : 100;
	uint64_t jittered = iv * (75 + c->rng() % (max_pct - 75 + 1)) / 100;
	s->next_tx_ns += jittered;
	if (s->next_tx_ns <= now) {
		if (now - s->next_tx_ns > iv)
			s->late++;
		s->next_tx_ns = now + jittered;
	}
}

static void Receive(BfdCore *c, const RxSocket &rx, const IpAddr &src, int ttl, const uint8_t *buf,
		    size_t len, uint64_t arrival, uint64_t now)
{
	BfdControl p;
	int why = ttl != 255 ? BFD_REJECT_TTL : BfdDecode(buf, len, &p);
	BfdSession *s = nullptr;
	if (why == BFD_OK) {
		if (p.your_discr) {
			for (auto &kv : c->sessions)
				if (kv.second.local_discr == p.your_discr) {
					s = &kv.second;
					break;
				}
			/* Single hop: the discriminator must also come from the
			 * session's peer on its interface. */
			if (!s || s->ifindex != rx.ifindex || !SameIp(s->peer, src)) {
				s = nullptr;
				why = BFD_REJECT_YOUR_DISCR;
			}
		} else {
			for (auto &kv : c->sessions)
				if (kv.second.ifindex == rx.ifindex &&
				    SameIp(kv.second.peer, src)) {
					s = &kv.second;
					break;
				}
			if (!s)
				why = BFD_REJECT_NO_SESSION;
		}
	}
	if (why != BFD_OK) {
		c->invalid[why]++;
		return;
	}
	s->received++;
	if (s->last_rx_ns && arrival > s->last_rx_ns &&
	    arrival - s->last_rx_ns > s->max_rx_gap_ns && s->state == BFD_UP)
		s->max_rx_gap_ns = arrival - s->last_rx_ns;
	if (arrival > s->last_rx_ns)
		s->last_rx_ns = arrival;
	s->remote_discr = p.my_discr;
	s->remote_state = p.state;
	s->remote_diag = p.diag;
	s->remote_detect_mult = p.detect_mult;
	s->remote_desired_min_tx_us = p.desired_min_tx_us;
	uint32_t old_remote_min_rx = s->remote_min_rx_us;
	s->remote_min_rx_us = p.required_min_rx_us;
	if (p.final && s->poll_active)
		s->poll_active = false;
	s->detect_at_ns = s->last_rx_ns + s->DetectTimeNs();
	/* The peer's Required Min RX changed: the new rate applies at once
	 * (RFC 5880 6.8.7). Faster matters most: a peer leaving slow start
	 * (1 s) for 10 ms ends its Poll as soon as our Final reaches it, and
	 * from then on expects our packets at the new rate, not at the 1 s
	 * deadline already scheduled (found against FRR bfdd: it timed the
	 * session out 30 ms after Up). */
	if (s->remote_min_rx_us != old_remote_min_rx && s->next_tx_ns > now) {
		uint64_t iv = s->TxIntervalNs();
		if (s->remote_min_rx_us > old_remote_min_rx || s->next_tx_ns > now + iv)
			s->next_tx_ns = now + iv * 3 / 4;
	}
	if (p.state == BFD_ADMIN_DOWN) {
		if (s->state != BFD_DOWN)
			SetState(c, s, BFD_DOWN, BFD_DIAG_NEIGHBOR_DOWN, now);
	} else if (s->state == BFD_DOWN) {
		if (p.state == BFD_DOWN)
			SetState(c, s, BFD_INIT, BFD_DIAG_NONE, now);
		else if (p.state == BFD_INIT)
			SetState(c, s, BFD_UP, BFD_DIAG_NONE, now);
	} else if (s->state == BFD_INIT) {
		if (p.state == BFD_INIT || p.state == BFD_UP)
			SetState(c, s, BFD_UP, BFD_DIAG_NONE, now);
	} else if (s->state == BFD_UP) {
		if (p.state == BFD_DOWN)
			SetState(c, s, BFD_DOWN, BFD_DIAG_NEIGHBOR_DOWN, now);
	}
	/* A Poll is answered at once with Final, whatever the timer says. */
	if (p.poll)
		Transmit(c, s, true);
	/* A remote that is not Up yet hears our state change at once, so the
	 * three-way handshake does not wait a slow-start second per step. */
	if (s->state != s->remote_state && s->state != BFD_DOWN && !p.poll)
		Transmit(c, s, false);
}

static void Expire(BfdCore *c, BfdSession *s, uint64_t now)
{
	s->detect_at_ns = 0;
	s->remote_discr = 0;
	if (s->state == BFD_INIT || s->state == BFD_UP)
		SetState(c, s, BFD_DOWN, BFD_DIAG_DETECT_EXPIRED, now);
}

/* ---- the thread ---------------------------------------------------------- */

static void DrainSocket(BfdCore *c, const RxSocket &rx)
{
	uint64_t now = MonoNs();
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	/* Kernel timestamps are CLOCK_REALTIME: map them onto the monotonic
	 * clock with the offset read now. */
	int64_t real_minus_mono =
	    (int64_t)((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec) - (int64_t)now;
	/* recvmmsg: every queued packet in one call, and one call (EAGAIN)
	 * when there is none: syscalls are what BFD costs on a VM. */
	constexpr unsigned BATCH = 8;
	constexpr size_t CLEN = CMSG_SPACE(sizeof(int)) * 2 + CMSG_SPACE(sizeof(struct timespec));
	for (;;) {
		uint8_t bufs[BATCH][128];
		struct sockaddr_storage froms[BATCH];
		char cbufs[BATCH][CLEN];
		struct iovec iovs[BATCH];
		struct mmsghdr mm[BATCH];
		memset(mm, 0, sizeof(mm));
		for (unsigned i = 0; i < BATCH; i++) {
			iovs[i] = {bufs[i], sizeof(bufs[i])};
			mm[i].msg_hdr.msg_name = &froms[i];
			mm[i].msg_hdr.msg_namelen = sizeof(froms[i]);
			mm[i].msg_hdr.msg_iov = &iovs[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = cbufs[i];
			mm[i].msg_hdr.msg_controllen = CLEN;
		}
		int got = recvmmsg(rx.fd, mm, BATCH, MSG_DONTWAIT, nullptr);
		if (got <= 0)
			return;
		for (int i = 0; i < got; i++) {
			struct msghdr *mh = &mm[i].msg_hdr;
			int ttl = -1;
			uint64_t arrival = now;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
				if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL) ||
				    (cm->cmsg_level == IPPROTO_IPV6 &&
				     cm->cmsg_type == IPV6_HOPLIMIT)) {
					memcpy(&ttl, CMSG_DATA(cm), sizeof(int));
				} else if (cm->cmsg_level == SOL_SOCKET &&
					   cm->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;
					memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
					int64_t a = (int64_t)((uint64_t)ts.tv_sec * 1000000000ull +
							      (uint64_t)ts.tv_nsec) -
						    real_minus_mono;
					if (a > 0 && (uint64_t)a < now)
						arrival = (uint64_t)a;
				}
			}
			IpAddr src;
			if (froms[i].ss_family == AF_INET) {
				src.family = AF_INET;
				src.v4 = ((struct sockaddr_in *)&froms[i])->sin_addr;
			} else {
				/* IPv4 never arrives on an IPv6 socket: V6ONLY. */
				src.family = AF_INET6;
				src.v6 = ((struct sockaddr_in6 *)&froms[i])->sin6_addr;
			}
			Receive(c, rx, src, ttl, bufs[i], mm[i].msg_len, arrival, now);
		}
		if (got < (int)BATCH)
			return;
	}
}

/* The next deadline of any session (transmit or detection), or UINT64_MAX. */
static uint64_t NextDeadline(BfdCore *c)
{
	uint64_t next = UINT64_MAX;
	for (auto &kv : c->sessions) {
		const BfdSession &s = kv.second;
		if (s.next_tx_ns && s.next_tx_ns < next)
			next = s.next_tx_ns;
		if (s.detect_at_ns && s.detect_at_ns < next)
			next = s.detect_at_ns;
	}
	return next;
}

static bool AllUp(BfdCore *c)
{
	for (auto &kv : c->sessions)
		if (kv.second.state != BFD_UP)
			return false;
	return true;
}

static void RunTimers(BfdCore *c)
{
	uint64_t now = MonoNs();
	for (auto &kv : c->sessions) {
		BfdSession *s = &kv.second;
		if (s->detect_at_ns && now >= s->detect_at_ns)
			Expire(c, s, now);
		/* Periodic packets stop while the remote asks for none. */
		if (s->next_tx_ns && now >= s->next_tx_ns && s->remote_min_rx_us) {
			Transmit(c, s, false);
			ScheduleTx(c, s, now);
		}
	}
}

static const char *ErrName(int err)
{
	const char *name = ErrnoName(err);
	return name ? name : "E?";
}

/* The event as JS sees it: { id, state, diag, remoteDiag, remoteAdminDown, atNs, takeovers? }. */
static Napi::Object EventObject(Napi::Env env, const BfdEvent *e)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set("id", Napi::Number::New(env, e->id));
	o.Set("state", Napi::Number::New(env, e->state));
	o.Set("diag", Napi::Number::New(env, e->diag));
	o.Set("remoteDiag", Napi::Number::New(env, e->remote_diag));
	o.Set("remoteAdminDown", Napi::Boolean::New(env, e->remote_admin_down));
	o.Set("atNs", Napi::BigInt::New(env, e->at_ns));
	if (e->takeovers.empty())
		return o;
	Napi::Array a = Napi::Array::New(env);
	uint32_t i = 0;
	for (const TakeoverFired &f : e->takeovers) {
		Napi::Object t = Napi::Object::New(env);
		t.Set("armId", Napi::Number::New(env, f.arm_id));
		t.Set("firedNs", Napi::BigInt::New(env, f.fired_ns));
		t.Set("mapNs", Napi::BigInt::New(env, f.map_ns));
		t.Set("sentNs", Napi::BigInt::New(env, f.sent_ns));
		t.Set("framesSent", Napi::Number::New(env, f.frames_sent));
		if (f.map_err)
			t.Set("mapError", ErrName(f.map_err));
		if (f.send_err)
			t.Set("sendError", ErrName(f.send_err));
		a.Set(i++, t);
	}
	o.Set("takeovers", a);
	return o;
}

static void PostEvents(BfdCore *c, const Napi::ThreadSafeFunction &tsfn)
{
	for (BfdEvent &e : c->pending) {
		auto *ev = new BfdEvent(std::move(e));
		napi_status st =
		    tsfn.NonBlockingCall(ev, [](Napi::Env env, Napi::Function fn, BfdEvent *e) {
			    if (env && fn)
				    fn.Call({EventObject(env, e)});
			    delete e;
		    });
		if (st != napi_ok)
			delete ev;
	}
	c->pending.clear();
}

static void Run(std::shared_ptr<BfdCore> core, Napi::ThreadSafeFunction tsfn)
{
	BfdCore *c = core.get();
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	pthread_setname_np(pthread_self(), "vipd-bfd");
	bool rt = false;
	if (c->sched_priority > 0) {
		struct sched_param sp = {};
		sp.sched_priority = c->sched_priority;
		rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
	}
	{
		CoreLock lock(&c->mu);
		c->realtime = rt;
	}
	struct epoll_event evs[16];
	for (;;) {
		uint64_t next;
		bool all_up;
		{
			CoreLock lock(&c->mu);
			if (c->quit)
				break;
			next = NextDeadline(c);
			all_up = AllUp(c);
		}
		struct timespec ts, *tp = nullptr;
		if (next != UINT64_MAX) {
			uint64_t now = MonoNs();
			uint64_t d = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(d / 1000000000ull);
			ts.tv_nsec = (long)(d % 1000000000ull);
			tp = &ts;
		}
		int n = epoll_pwait2(all_up ? c->idle_epfd : c->epfd, evs, 16, tp, nullptr);
		CoreLock lock(&c->mu);
		if (c->quit)
			break;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == c->wakefd) {
				uint64_t v;
				if (read(c->wakefd, &v, sizeof(v)) < 0) {
					/* EAGAIN: nothing to clear */
				}
			}
		}
		/* Every socket, whatever woke us: packets that arrived while
		 * we slept are taken (with their arrival times) before any
		 * detection deadline is judged. */
		for (const RxSocket &r : c->rx)
			DrainSocket(c, r);
		RunTimers(c);
		PostEvents(c, tsfn);
	}
}

/* ---- sockets --------------------------------------------------------------- */

static int OpenRx(int family, const std::string &ifname, int *err)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bool ok = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
			     (socklen_t)ifname.size()) == 0;
	if (ok)
		ok = setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == 0;
	if (ok && family == AF_INET)
		ok = setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)) == 0;
	if (ok && family == AF_INET6)
		ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0 &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) == 0;
	if (ok) {
		IpAddr any;
		any.family = family;
		if (family == AF_INET)
			any.v4.s_addr = INADDR_ANY;
		struct sockaddr_storage ss;
		socklen_t len;
		FillSockaddr(any, BFD_PORT, 0, &ss, &len);
		ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	}
	if (!ok) {
		*err = errno;
		close(fd);
		return -1;
	}
	return fd;
}

/* A transmit socket for one session: TTL 255, bound to the interface and to
 * a free source port in 49152..65535, tried from a random start. */
static int OpenTx(BfdCore *c, int family, const std::string &ifname, const IpAddr *local,
		  uint16_t *port, int *err)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	int ttl = 255, tos = 0xc0;
	bool ok = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
			     (socklen_t)ifname.size()) == 0;
	if (ok && family == AF_INET)
		ok = setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) == 0 &&
		     setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) == 0;
	if (ok && family == AF_INET6)
		ok = setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) == 0 &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos)) == 0;
	if (!ok) {
		*err = errno;
		close(fd);
		return -1;
	}
	IpAddr src;
	if (local) {
		src = *local;
	} else {
		src.family = family;
		if (family == AF_INET)
			src.v4.s_addr = INADDR_ANY;
	}
	unsigned start = c->rng() % 16384;
	for (unsigned i = 0; i < 16384; i++) {
		uint16_t p = (uint16_t)(49152 + (start + i) % 16384);
		struct sockaddr_storage ss;
		socklen_t len;
		FillSockaddr(src, p, if_nametoindex(ifname.c_str()), &ss, &len);
		if (bind(fd, (struct sockaddr *)&ss, len) == 0) {
			*port = p;
			return fd;
		}
		if (errno != EADDRINUSE) {
			*err = errno;
			close(fd);
			return -1;
		}
	}
	*err = EADDRINUSE;
	close(fd);
	return -1;
}

/* ---- the JS handle ----------------------------------------------------------- */

static const char *StateName(uint8_t s)
{
	switch (s) {
	case BFD_ADMIN_DOWN:
		return "AdminDown";
	case BFD_DOWN:
		return "Down";
	case BFD_INIT:
		return "Init";
	default:
		return "Up";
	}
}

class BfdHandle : public Napi::ObjectWrap<BfdHandle>
{
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "BfdHandle",
				   {
				       InstanceMethod("addSession", &BfdHandle::AddSession),
				       InstanceMethod("removeSession", &BfdHandle::RemoveSession),
				       InstanceMethod("sessions", &BfdHandle::Sessions),
				       InstanceMethod("stats", &BfdHandle::Stats),
				       InstanceMethod("armTakeover", &BfdHandle::ArmTakeover),
				       InstanceMethod("disarmTakeover", &BfdHandle::DisarmTakeover),
				       InstanceMethod("close", &BfdHandle::Close),
				   });
	}

	/* new BfdHandle({ schedPriority }, onEvent({ id, state, diag, remoteDiag, atNs })) */
	BfdHandle(const Napi::CallbackInfo &info)
	    : Napi::ObjectWrap<BfdHandle>(info), core_(std::make_shared<BfdCore>())
	{
		Napi::Env env = info.Env();
		if (info[0].IsObject()) {
			Napi::Value prio = info[0].As<Napi::Object>().Get("schedPriority");
			if (prio.IsNumber())
				core_->sched_priority = prio.As<Napi::Number>().Int32Value();
		}
		if (!info[1].IsFunction())
			throw Napi::TypeError::New(env, "onEvent must be a function");
		core_->epfd = epoll_create1(EPOLL_CLOEXEC);
		core_->idle_epfd = epoll_create1(EPOLL_CLOEXEC);
		core_->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (core_->epfd < 0 || core_->idle_epfd < 0 || core_->wakefd < 0)
			throw ErrnoError(env, "epoll/eventfd", errno);
		for (int ep : {core_->epfd, core_->idle_epfd}) {
			struct epoll_event ev = {};
			ev.events = EPOLLIN;
			ev.data.fd = core_->wakefd;
			epoll_ctl(ep, EPOLL_CTL_ADD, core_->wakefd, &ev);
		}
		tsfn_ =
		    Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "Bfd", 0, 1);
		tsfn_.Unref(env);
		napi_add_env_cleanup_hook(env, CleanupHook, this);
		hooked_ = true;
		auto core = core_;
		auto tsfn = tsfn_;
		thread_ = std::thread([core, tsfn]() { Run(core, tsfn); });
	}

	~BfdHandle() override
	{
		Shutdown();
	}

      private:
	static void CleanupHook(void *arg)
	{
		BfdHandle *self = (BfdHandle *)arg;
		self->hooked_ = false;
		self->Shutdown();
	}

	void Shutdown()
	{
		if (thread_.joinable()) {
			{
				CoreLock lock(&core_->mu);
				core_->quit = true;
				core_->Wake();
			}
			thread_.join();
			tsfn_.Release();
		}
		if (hooked_) {
			napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
			hooked_ = false;
		}
	}

	void CheckOpen(Napi::Env env)
	{
		if (!thread_.joinable())
			throw ErrnoError(env, "Bfd", EBADF, "BFD is closed");
	}

	static uint32_t Us(Napi::Env env, Napi::Object o, const char *key)
	{
		int64_t v = o.Get(key).As<Napi::Number>().Int64Value();
		if (v < 1000 || v > 60000000)
			throw Napi::RangeError::New(env, std::string(key) + " must be 1000..60e6");
		return (uint32_t)v;
	}

	/* addSession({ interface, peer, local?, desiredMinTxUs, requiredMinRxUs,
	 * detectMult }) -> id. The session starts Down and sends at once. */
	Napi::Value AddSession(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		Napi::Object o = info[0].As<Napi::Object>();
		BfdSession s;
		s.ifname = o.Get("interface").ToString();
		s.ifindex = if_nametoindex(s.ifname.c_str());
		if (!s.ifindex)
			throw ErrnoError(env, "if_nametoindex", errno, s.ifname);
		s.peer = ParseIp(env, o.Get("peer").ToString());
		IpAddr local;
		bool has_local = o.Get("local").IsString();
		if (has_local) {
			local = ParseIp(env, o.Get("local").ToString());
			if (local.family != s.peer.family)
				throw Napi::TypeError::New(env, "local and peer families differ");
		}
		s.desired_min_tx_us = Us(env, o, "desiredMinTxUs");
		s.required_min_rx_us = Us(env, o, "requiredMinRxUs");
		int64_t mult = o.Get("detectMult").As<Napi::Number>().Int64Value();
		if (mult < 1 || mult > 255)
			throw Napi::RangeError::New(env, "detectMult must be 1..255");
		s.detect_mult = (uint8_t)mult;

		CoreLock lock(&core_->mu);
		for (auto &kv : core_->sessions)
			if (kv.second.ifindex == s.ifindex && SameIp(kv.second.peer, s.peer))
				throw Napi::Error::New(
				    env, "BFD session to " + FormatIp(s.peer.family, &s.peer.v6) +
					     " on " + s.ifname + " exists");
		int err = 0;
		RxSocket *rx = nullptr;
		for (RxSocket &r : core_->rx)
			if (r.family == s.peer.family && r.ifindex == s.ifindex)
				rx = &r;
		if (!rx) {
			int fd = OpenRx(s.peer.family, s.ifname, &err);
			if (fd < 0)
				throw ErrnoError(env, "bind", err,
						 "BFD receive socket (UDP 3784) on " + s.ifname);
			struct epoll_event ev = {};
			ev.events = EPOLLIN;
			ev.data.fd = fd;
			epoll_ctl(core_->epfd, EPOLL_CTL_ADD, fd, &ev);
			core_->rx.push_back(RxSocket{fd, s.peer.family, s.ifindex, 0});
			rx = &core_->rx.back();
		}
		s.tx_fd = OpenTx(core_.get(), s.peer.family, s.ifname, has_local ? &local : nullptr,
				 &s.src_port, &err);
		if (s.tx_fd < 0)
			throw ErrnoError(env, "bind", err, "BFD transmit socket on " + s.ifname);
		rx->users++;
		s.id = core_->next_id++;
		/* Local discriminators: random, non-zero, unique in this process. */
		do {
			s.local_discr = (uint32_t)core_->rng();
			for (auto &kv : core_->sessions)
				if (kv.second.local_discr == s.local_discr)
					s.local_discr = 0;
		} while (!s.local_discr);
		s.next_tx_ns = MonoNs();
		s.last_change_ns = s.next_tx_ns;
		uint32_t id = s.id;
		core_->sessions.emplace(id, std::move(s));
		core_->Wake();
		return Napi::Number::New(env, id);
	}

	/* removeSession(id): one AdminDown packet (the peer goes Down at once,
	 * diag "neighbor signaled session down"), then the session is gone. */
	Napi::Value RemoveSession(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		uint32_t id = info[0].As<Napi::Number>().Uint32Value();
		CoreLock lock(&core_->mu);
		auto it = core_->sessions.find(id);
		if (it == core_->sessions.end())
			return env.Undefined();
		BfdSession &s = it->second;
		s.state = BFD_ADMIN_DOWN;
		s.diag = BFD_DIAG_ADMIN_DOWN;
		Transmit(core_.get(), &s, false);
		close(s.tx_fd);
		for (size_t i = 0; i < core_->rx.size(); i++) {
			RxSocket &r = core_->rx[i];
			if (r.family == s.peer.family && r.ifindex == s.ifindex && --r.users == 0) {
				epoll_ctl(core_->epfd, EPOLL_CTL_DEL, r.fd, nullptr);
				close(r.fd);
				core_->rx.erase(core_->rx.begin() + (long)i);
				break;
			}
		}
		core_->sessions.erase(it);
		core_->Wake();
		return env.Undefined();
	}

	/* armTakeover(armId, { session, guard: [ids], mapFd, key, value,
	 * valueOffset, leaseNs, ifindex, frames: [Buffer] }): replaces the
	 * arm of that id. The map fd is duplicated (the caller keeps its own). */
	Napi::Value ArmTakeover(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		uint32_t arm_id = info[0].As<Napi::Number>().Uint32Value();
		Napi::Object o = info[1].As<Napi::Object>();
		BfdTakeover a;
		a.session_id = o.Get("session").As<Napi::Number>().Uint32Value();
		Napi::Array guard = o.Get("guard").As<Napi::Array>();
		for (uint32_t i = 0; i < guard.Length(); i++)
			a.guard.push_back(guard.Get(i).As<Napi::Number>().Uint32Value());
		a.key = BytesArg(env, o.Get("key"), "key");
		a.value = BytesArg(env, o.Get("value"), "value");
		a.value_offset = o.Get("valueOffset").As<Napi::Number>().Uint32Value();
		if ((size_t)a.value_offset + 8 > a.value.size())
			throw Napi::RangeError::New(env, "valueOffset + 8 exceeds the value");
		int64_t lease = o.Get("leaseNs").As<Napi::Number>().Int64Value();
		if (lease <= 0)
			throw Napi::RangeError::New(env, "leaseNs must be positive");
		a.lease_ns = (uint64_t)lease;
		a.ifindex = o.Get("ifindex").As<Napi::Number>().Uint32Value();
		Napi::Array frames = o.Get("frames").As<Napi::Array>();
		for (uint32_t i = 0; i < frames.Length(); i++) {
			a.frames.push_back(BytesArg(env, frames.Get(i), "frame"));
			if (a.frames.back().size() < ETH_HLEN)
				throw Napi::RangeError::New(
				    env, "frame shorter than an Ethernet header");
		}
		int map_fd = o.Get("mapFd").As<Napi::Number>().Int32Value();
		CoreLock lock(&core_->mu);
		if (!core_->sessions.count(a.session_id))
			throw Napi::RangeError::New(env, "no BFD session " +
							     std::to_string(a.session_id));
		if (core_->packet_fd < 0) {
			core_->packet_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
			if (core_->packet_fd < 0)
				throw ErrnoError(env, "socket", errno, "AF_PACKET for takeovers");
		}
		a.map_fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 0);
		if (a.map_fd < 0)
			throw ErrnoError(env, "dup", errno, "instance map fd");
		auto it = core_->arms.find(arm_id);
		if (it != core_->arms.end()) {
			close(it->second.map_fd);
			it->second = std::move(a);
		} else {
			core_->arms.emplace(arm_id, std::move(a));
		}
		return env.Undefined();
	}

	/* disarmTakeover(armId) -> whether one was armed. */
	Napi::Value DisarmTakeover(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		uint32_t arm_id = info[0].As<Napi::Number>().Uint32Value();
		CoreLock lock(&core_->mu);
		auto it = core_->arms.find(arm_id);
		if (it == core_->arms.end())
			return Napi::Boolean::New(env, false);
		close(it->second.map_fd);
		core_->arms.erase(it);
		return Napi::Boolean::New(env, true);
	}

	Napi::Value Sessions(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CoreLock lock(&core_->mu);
		Napi::Array a = Napi::Array::New(env);
		uint32_t i = 0;
		uint64_t now = MonoNs();
		for (auto &kv : core_->sessions) {
			const BfdSession &s = kv.second;
			Napi::Object o = Napi::Object::New(env);
			o.Set("id", Napi::Number::New(env, s.id));
			o.Set("interface", s.ifname);
			o.Set("peer", FormatIp(s.peer.family, &s.peer.v6));
			o.Set("sourcePort", Napi::Number::New(env, s.src_port));
			o.Set("state", StateName(s.state));
			o.Set("remoteState", StateName(s.remote_state));
			o.Set("diag", Napi::Number::New(env, s.diag));
			o.Set("remoteDiag", Napi::Number::New(env, s.remote_diag));
			o.Set("localDiscriminator", Napi::Number::New(env, s.local_discr));
			o.Set("remoteDiscriminator", Napi::Number::New(env, s.remote_discr));
			o.Set("txIntervalUs",
			      Napi::Number::New(env, (double)s.TxIntervalNs() / 1000.0));
			o.Set("detectTimeUs",
			      Napi::Number::New(env, (double)s.DetectTimeNs() / 1000.0));
			o.Set("remoteMinRxUs", Napi::Number::New(env, s.remote_min_rx_us));
			o.Set("remoteMinTxUs", Napi::Number::New(env, s.remote_desired_min_tx_us));
			o.Set("remoteDetectMult", Napi::Number::New(env, s.remote_detect_mult));
			o.Set("sent", Napi::Number::New(env, (double)s.sent));
			o.Set("received", Napi::Number::New(env, (double)s.received));
			o.Set("sendErrors", Napi::Number::New(env, (double)s.send_errors));
			if (s.last_error) {
				const char *name = ErrnoName(s.last_error);
				o.Set("lastError", name ? std::string(name)
							: "E" + std::to_string(s.last_error));
			}
			o.Set("late", Napi::Number::New(env, (double)s.late));
			o.Set("ups", Napi::Number::New(env, (double)s.ups));
			o.Set("downs", Napi::Number::New(env, (double)s.downs));
			o.Set("maxRxGapUs",
			      Napi::Number::New(env, (double)s.max_rx_gap_ns / 1000.0));
			o.Set("sinceMs",
			      Napi::Number::New(env, (double)(now - s.last_change_ns) / 1e6));
			a.Set(i++, o);
		}
		return a;
	}

	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CoreLock lock(&core_->mu);
		Napi::Object o = Napi::Object::New(env);
		Napi::Object inv = Napi::Object::New(env);
		for (int r = 1; r < BFD_REJECT_COUNT; r++)
			inv.Set(BfdRejectName(r),
				Napi::Number::New(env, (double)core_->invalid[r]));
		o.Set("invalid", inv);
		o.Set("realtime", Napi::Boolean::New(env, core_->realtime));
		o.Set("armed", Napi::Number::New(env, (double)core_->arms.size()));
		o.Set("takeoversFired", Napi::Number::New(env, (double)core_->takeovers_fired));
		o.Set("takeoversHeld", Napi::Number::New(env, (double)core_->takeovers_held));
		return o;
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Shutdown();
		return info.Env().Undefined();
	}

	std::shared_ptr<BfdCore> core_;
	std::thread thread_;
	Napi::ThreadSafeFunction tsfn_;
	bool hooked_ = false;
};

void InitBfd(Napi::Env env, Napi::Object exports)
{
	exports.Set("BfdHandle", BfdHandle::Define(env));
}

} // namespace vipd
