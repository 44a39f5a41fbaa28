/* The native advert sender: one thread per VRRP instance sends "the current
 * advert" at the advertisement interval, whatever the JS event loop is doing.
 *
 * Pacing: absolute deadlines on CLOCK_MONOTONIC (next += interval, never
 * "now + interval", so errors do not accumulate), kept by a periodic timerfd
 * (TFD_TIMER_ABSTIME, first expiry at the next deadline, period = the
 * interval). The thread blocks in read() on it: one syscall per advert
 * besides the send itself, no condition variable, no futex. JS changes the
 * schedule by re-arming the timerfd (start, sendNow, setInterval), stops it
 * by disarming it, and wakes the thread for close by arming it in the past.
 * SCHED_FIFO is optional. A deadline missed by more than one interval is
 * counted as late and the schedule restarts from now.
 *
 * Watchdog: the event loop must show it runs within watchdogMs (default
 * 2000); if it does not, the thread stops sending (checked before each
 * advert, so no advert leaves after the bound) and posts a 'watchdog' event,
 * so a wedged daemon does not stay MASTER forever. The proof that the loop
 * runs is that it waits for events (loop_watch.h: libuv's idle time, which
 * grows while the loop sleeps in the kernel and stands still while JS
 * runs), read before each advert; JS may also call checkIn(). So a steady
 * MASTER's JS needs no timer and no wakeup for the watchdog, and a stall
 * (JS that does not return, a blocking call) trips it watchdogMs after it
 * began, or up to one advert interval sooner (the sender places the end of
 * the loop's last wait only between two of its own readings).
 *
 * Lease hook: after each advert sent (at least one destination accepted it),
 * the entry is set to the value template with the u64 at valueOffset set to
 * CLOCK_MONOTONIC now + leaseNs (the bpf_ktime_get_ns() domain). In an
 * mmapable array (the instances map since ABI 7) that is written through a
 * shared mapping of the map, the expiry last in one aligned 8-byte store:
 * no system call per advert. Any other map: bpf_map_update_elem(mapFd,
 * key, value). */
#include "errors.h"
#include "loop_watch.h"
#include "net_util.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace vipd
{

struct SenderEvent {
	std::string type;
	int err;
};

struct SenderState {
	std::shared_ptr<VrrpSockCore> core;
	pthread_mutex_t mu;
	/* The schedule: a periodic CLOCK_MONOTONIC timerfd the thread reads. */
	int tfd = -1;
	bool quit = false;
	bool running = false;
	std::string advert;
	std::vector<IpAddr> dests;
	uint64_t interval_ns = 1000000000ull;
	uint64_t watchdog_ns = 2000000000ull;
	uint64_t last_checkin_ns = 0;
	/* When the event loop last waited for events (loop_watch.h): a
	 * check-in too. Read by the sender thread only. */
	std::unique_ptr<LoopLiveness> loop;
	uint64_t next_ns = 0;
	int sched_priority = 0;
	bool realtime = false;
	/* stats */
	uint64_t sent = 0, send_errors = 0, late = 0, watchdog_trips = 0;
	int last_error = 0;
	uint64_t last_send_ns = 0, last_gap_ns = 0, max_gap_ns = 0;
	/* lease hook */
	int lease_fd = -1;
	std::string lease_key, lease_value;
	uint32_t lease_offset = 0;
	uint64_t lease_ns = 0;
	uint64_t lease_updates = 0, lease_errors = 0;
	int lease_last_error = 0;
	/* An mmapable array's shared mapping (lease_map_len bytes), and the
	 * entry's expiry word in it; nullptr: renew with bpf_map_update_elem. */
	void *lease_map = nullptr;
	size_t lease_map_len = 0;
	uint64_t *lease_word = nullptr;

	void UnmapLease()
	{
		if (lease_map)
			munmap(lease_map, lease_map_len);
		lease_map = nullptr;
		lease_word = nullptr;
	}

	SenderState()
	{
		pthread_mutex_init(&mu, nullptr);
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	}
	~SenderState()
	{
		UnmapLease();
		if (lease_fd >= 0)
			close(lease_fd);
		if (tfd >= 0)
			close(tfd);
		pthread_mutex_destroy(&mu);
	}

	/* The next expiry at first_ns (CLOCK_MONOTONIC, absolute; 0 disarms),
	 * then every period_ns (0: once). */
	void Arm(uint64_t first_ns, uint64_t period_ns)
	{
		struct itimerspec its = {};
		its.it_value.tv_sec = (time_t)(first_ns / 1000000000ull);
		its.it_value.tv_nsec = (long)(first_ns % 1000000000ull);
		its.it_interval.tv_sec = (time_t)(period_ns / 1000000000ull);
		its.it_interval.tv_nsec = (long)(period_ns % 1000000000ull);
		timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr);
	}

	/* The periodic schedule from next_ns (mu held). */
	void Schedule()
	{
		Arm(next_ns ? next_ns : 1, interval_ns);
	}
};

class Lock
{
      public:
	explicit Lock(pthread_mutex_t *m) : m_(m)
	{
		pthread_mutex_lock(m_);
	}
	~Lock()
	{
		pthread_mutex_unlock(m_);
	}

      private:
	pthread_mutex_t *m_;
};

/* Sends the current advert to every destination, renews the lease. now is
 * the caller's CLOCK_MONOTONIC reading for this advert (the thread's wake
 * time): the gap statistics and the lease expiry use it, so that an advert
 * reads the clock once. Caller holds st->mu. Returns 0, or the first errno
 * when no destination took it. */
static int SendLocked(SenderState *st, uint64_t now, int *first_err)
{
	int ok = 0, err = 0;
	for (const IpAddr &d : st->dests) {
		int rc = st->core->Send(d, (const uint8_t *)st->advert.data(), st->advert.size());
		if (rc == 0)
			ok++;
		else if (!err)
			err = -rc;
	}
	if (ok) {
		st->sent++;
		if (st->last_send_ns) {
			st->last_gap_ns = now - st->last_send_ns;
			if (st->last_gap_ns > st->max_gap_ns)
				st->max_gap_ns = st->last_gap_ns;
		}
		st->last_send_ns = now;
	}
	if (err) {
		st->send_errors++;
		st->last_error = err;
	}
	if (ok && st->lease_word) {
		/* The same value the update would write: the template around the
		 * expiry (unchanged bytes, unless JS rewrote the entry under us,
		 * as an update would undo too), then the expiry in one store. */
		char *entry = (char *)st->lease_word - st->lease_offset;
		const char *tmpl = st->lease_value.data();
		size_t tail = st->lease_offset + 8;
		memcpy(entry, tmpl, st->lease_offset);
		memcpy(entry + tail, tmpl + tail, st->lease_value.size() - tail);
		__atomic_store_n(st->lease_word, now + st->lease_ns, __ATOMIC_RELEASE);
		st->lease_updates++;
	} else if (ok && st->lease_fd >= 0) {
		uint64_t expiry = now + st->lease_ns;
		memcpy(&st->lease_value[st->lease_offset], &expiry, sizeof(expiry));
		if (bpf_map_update_elem(st->lease_fd, st->lease_key.data(), st->lease_value.data(),
					BPF_ANY)) {
			st->lease_errors++;
			st->lease_last_error = errno;
		} else {
			st->lease_updates++;
		}
	}
	*first_err = err;
	return ok ? 0 : err;
}

class AdvertSenderHandle : public Napi::ObjectWrap<AdvertSenderHandle>
{
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(
		    env, "AdvertSenderHandle",
		    {
			InstanceMethod("setAdvert", &AdvertSenderHandle::SetAdvert),
			InstanceMethod("setDestinations", &AdvertSenderHandle::SetDestinations),
			InstanceMethod("setInterval", &AdvertSenderHandle::SetIntervalJs),
			InstanceMethod("setWatchdog", &AdvertSenderHandle::SetWatchdog),
			InstanceMethod("start", &AdvertSenderHandle::Start),
			InstanceMethod("stop", &AdvertSenderHandle::Stop),
			InstanceMethod("sendNow", &AdvertSenderHandle::SendNow),
			InstanceMethod("checkIn", &AdvertSenderHandle::CheckIn),
			InstanceMethod("setLease", &AdvertSenderHandle::SetLease),
			InstanceMethod("clearLease", &AdvertSenderHandle::ClearLease),
			InstanceMethod("stats", &AdvertSenderHandle::Stats),
			InstanceMethod("resetStats", &AdvertSenderHandle::ResetStats),
			InstanceMethod("close", &AdvertSenderHandle::Close),
		    });
	}

	/* new AdvertSenderHandle(socketHandle, { intervalUs, watchdogMs,
	 * destinations, schedPriority }, onEvent(event)) */
	AdvertSenderHandle(const Napi::CallbackInfo &info)
	    : Napi::ObjectWrap<AdvertSenderHandle>(info), st_(std::make_shared<SenderState>())
	{
		Napi::Env env = info.Env();
		if (st_->tfd < 0)
			throw ErrnoError(env, "timerfd_create", errno, "advert sender");
		st_->core = VrrpSockCoreOf(env, info[0]);
		st_->loop = std::make_unique<LoopLiveness>(WatchedLoop(env));
		Napi::Object o = info[1].As<Napi::Object>();
		st_->interval_ns = IntervalNs(env, o.Get("intervalUs"));
		st_->watchdog_ns =
		    (uint64_t)o.Get("watchdogMs").As<Napi::Number>().Int64Value() * 1000000ull;
		st_->dests = Dests(env, o.Get("destinations"), st_->core->family);
		Napi::Value prio = o.Get("schedPriority");
		if (prio.IsNumber())
			st_->sched_priority = prio.As<Napi::Number>().Int32Value();
		if (!info[2].IsFunction())
			throw Napi::TypeError::New(env, "onEvent must be a function");
		tsfn_ = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(),
						      "AdvertSender", 0, 1);
		tsfn_.Unref(env);
		napi_add_env_cleanup_hook(env, CleanupHook, this);
		hooked_ = true;
		auto st = st_;
		auto tsfn = tsfn_;
		thread_ = std::thread([st, tsfn]() { Run(st, tsfn); });
	}

	~AdvertSenderHandle() override
	{
		Shutdown();
	}

      private:
	static uint64_t IntervalNs(Napi::Env env, Napi::Value v)
	{
		int64_t us = v.As<Napi::Number>().Int64Value();
		if (us < 100 || us > 3600ll * 1000000)
			throw Napi::RangeError::New(env, "intervalUs must be 100..3600e6");
		return (uint64_t)us * 1000ull;
	}

	static std::vector<IpAddr> Dests(Napi::Env env, Napi::Value v, int family)
	{
		if (!v.IsArray())
			throw Napi::TypeError::New(env,
						   "destinations must be an array of addresses");
		Napi::Array a = v.As<Napi::Array>();
		std::vector<IpAddr> out;
		for (uint32_t i = 0; i < a.Length(); i++) {
			IpAddr ip = ParseIp(env, a.Get(i).ToString());
			if (ip.family != family)
				throw Napi::TypeError::New(
				    env, "destination family differs from the socket's");
			out.push_back(ip);
		}
		return out;
	}

	static void Post(const Napi::ThreadSafeFunction &tsfn, const char *type, int err)
	{
		auto *ev = new SenderEvent{type, err};
		napi_status s =
		    tsfn.NonBlockingCall(ev, [](Napi::Env env, Napi::Function fn, SenderEvent *e) {
			    if (env && fn) {
				    Napi::Object o = Napi::Object::New(env);
				    o.Set("type", e->type);
				    if (e->err) {
					    const char *name = ErrnoName(e->err);
					    o.Set("code", name ? std::string(name)
							       : "E" + std::to_string(e->err));
					    o.Set("errno", Napi::Number::New(env, e->err));
				    }
				    fn.Call({o});
			    }
			    delete e;
		    });
		if (s != napi_ok)
			delete ev;
	}

	static void Run(std::shared_ptr<SenderState> ref, Napi::ThreadSafeFunction tsfn)
	{
		SenderState *st = ref.get();
		prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
		pthread_setname_np(pthread_self(), "vipd-advert");
		bool rt = false;
		if (st->sched_priority > 0) {
			struct sched_param sp = {};
			sp.sched_priority = st->sched_priority;
			rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
		}
		int reported_err = 0, reported_lease_err = 0;
		pthread_mutex_lock(&st->mu);
		st->realtime = rt;
		while (!st->quit) {
			if (st->running) {
				uint64_t now = MonoNs();
				/* No watchdog (watchdogMs 0): nothing to read per advert. */
				uint64_t waited = st->watchdog_ns ? st->loop->WaitedAt(now) : 0;
				if (waited > st->last_checkin_ns)
					st->last_checkin_ns = waited;
				if (st->watchdog_ns &&
				    now >= st->last_checkin_ns + st->watchdog_ns) {
					st->running = false;
					st->watchdog_trips++;
					st->Arm(0, 0);
					Post(tsfn, "watchdog", 0);
				} else if (now >= st->next_ns) {
					int err = 0;
					SendLocked(st, now, &err);
					if (err != reported_err) {
						if (err)
							Post(tsfn, "error", err);
						else
							Post(tsfn, "recovered", 0);
						reported_err = err;
					}
					if (st->lease_fd >= 0 &&
					    st->lease_last_error != reported_lease_err) {
						if (st->lease_last_error)
							Post(tsfn, "lease-error",
							     st->lease_last_error);
						reported_lease_err = st->lease_last_error;
					}
					st->next_ns += st->interval_ns;
					if (st->next_ns <= now) {
						st->late++;
						st->next_ns = now + st->interval_ns;
						st->Schedule();
					}
				}
			}
			pthread_mutex_unlock(&st->mu);
			/* Blocks until the next deadline, or until JS re-arms the
			 * timer (a change, or close). A stopped sender's timer is
			 * disarmed: it sleeps here until started. */
			uint64_t expirations;
			bool broken = read(st->tfd, &expirations, sizeof(expirations)) < 0 &&
				      errno != EINTR && errno != EAGAIN;
			pthread_mutex_lock(&st->mu);
			if (broken) {
				/* Cannot happen (the fd is ours until the join);
				 * stop rather than spin. */
				st->running = false;
				st->last_error = errno;
				Post(tsfn, "error", errno);
				break;
			}
		}
		pthread_mutex_unlock(&st->mu);
	}

	static void CleanupHook(void *arg)
	{
		AdvertSenderHandle *self = (AdvertSenderHandle *)arg;
		self->hooked_ = false;
		self->Shutdown();
	}

	void Shutdown()
	{
		if (thread_.joinable()) {
			{
				Lock lock(&st_->mu);
				st_->quit = true;
				st_->Arm(1, 0);
			}
			thread_.join();
			tsfn_.Release();
		}
		if (hooked_) {
			napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
			hooked_ = false;
		}
		Lock lock(&st_->mu);
		st_->UnmapLease();
		if (st_->lease_fd >= 0) {
			close(st_->lease_fd);
			st_->lease_fd = -1;
		}
		st_->core.reset();
	}

	void CheckOpen(Napi::Env env)
	{
		if (!thread_.joinable())
			throw ErrnoError(env, "AdvertSender", EBADF, "sender is closed");
	}

	Napi::Value SetAdvert(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		std::string b = BytesArg(env, info[0], "advert");
		Lock lock(&st_->mu);
		st_->advert.swap(b);
		return env.Undefined();
	}

	Napi::Value SetDestinations(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		std::vector<IpAddr> d = Dests(env, info[0], st_->core->family);
		Lock lock(&st_->mu);
		st_->dests.swap(d);
		return env.Undefined();
	}

	Napi::Value SetIntervalJs(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		uint64_t ns = IntervalNs(env, info[0]);
		Lock lock(&st_->mu);
		/* The next advert is due one new interval after the last one. */
		if (st_->running && st_->last_send_ns)
			st_->next_ns = st_->last_send_ns + ns;
		st_->interval_ns = ns;
		if (st_->running)
			st_->Schedule();
		return env.Undefined();
	}

	Napi::Value SetWatchdog(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		int64_t ms = info[0].As<Napi::Number>().Int64Value();
		if (ms < 0)
			throw Napi::RangeError::New(env, "watchdogMs must be >= 0");
		Lock lock(&st_->mu);
		st_->watchdog_ns = (uint64_t)ms * 1000000ull;
		st_->last_checkin_ns = MonoNs();
		return env.Undefined();
	}

	/* start(): first advert at once, then every interval. */
	Napi::Value Start(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		Lock lock(&st_->mu);
		if (st_->advert.empty())
			throw Napi::Error::New(
			    env, "AdvertSender.start: no advert set (call setAdvert first)");
		if (!st_->running) {
			uint64_t now = MonoNs();
			st_->running = true;
			st_->last_checkin_ns = now;
			st_->next_ns = now;
			st_->last_send_ns = 0;
			st_->Schedule();
		}
		return env.Undefined();
	}

	Napi::Value Stop(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!thread_.joinable())
			return env.Undefined();
		Lock lock(&st_->mu);
		st_->running = false;
		st_->Arm(0, 0);
		return env.Undefined();
	}

	/* One advert now, on the calling thread; when running, the next
	 * periodic one is due one interval later. Throws when no destination
	 * took it. */
	Napi::Value SendNow(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		Lock lock(&st_->mu);
		if (st_->advert.empty())
			throw Napi::Error::New(env, "AdvertSender.sendNow: no advert set");
		int err = 0;
		uint64_t now = MonoNs();
		int rc = SendLocked(st_.get(), now, &err);
		if (st_->running) {
			st_->next_ns = now + st_->interval_ns;
			st_->Schedule();
		}
		if (rc)
			throw ErrnoError(env, "sendmsg", rc, "VRRP advert");
		return env.Undefined();
	}

	Napi::Value CheckIn(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!thread_.joinable())
			return env.Undefined();
		Lock lock(&st_->mu);
		st_->last_checkin_ns = MonoNs();
		return env.Undefined();
	}

	/* The thread hands key and value to bpf_map_update_elem, and the kernel
	 * reads the map's key_size and value_size bytes from them: buffers of
	 * another size would make it read past their end (or write a value cut
	 * short). Per-CPU maps want a value per CPU: not a lease map. */
	static struct bpf_map_info CheckLeaseMap(Napi::Env env, int map_fd, size_t key_len,
						 size_t value_len)
	{
		struct bpf_map_info mi;
		__u32 len = sizeof(mi);
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(map_fd, &mi, &len))
			throw ErrnoError(env, "bpf_obj_get_info_by_fd", errno,
					 "lease map fd " + std::to_string(map_fd) +
					     " (not a map?)");
		if (mi.type == BPF_MAP_TYPE_PERCPU_HASH || mi.type == BPF_MAP_TYPE_PERCPU_ARRAY ||
		    mi.type == BPF_MAP_TYPE_LRU_PERCPU_HASH)
			throw Napi::TypeError::New(env,
						   "setLease: a per-CPU map cannot hold a lease");
		if (key_len != mi.key_size)
			throw Napi::TypeError::New(
			    env, "setLease: key must be " + std::to_string(mi.key_size) +
				     " bytes (the map's key size), got " + std::to_string(key_len));
		if (value_len != mi.value_size)
			throw Napi::TypeError::New(env, "setLease: value must be " +
							    std::to_string(mi.value_size) +
							    " bytes (the map's value size), got " +
							    std::to_string(value_len));
		return mi;
	}

	/* The expiry word of entry key in an mmapable array, through a shared
	 * mapping of the whole array (elements are value_size rounded up to 8
	 * bytes apart); nullptr for any other map, or if the mapping fails. */
	static uint64_t *MapLeaseWord(const struct bpf_map_info &mi, int fd, const std::string &key,
				      uint32_t off, void **map, size_t *map_len)
	{
		if (mi.type != BPF_MAP_TYPE_ARRAY || !(mi.map_flags & BPF_F_MMAPABLE) ||
		    key.size() != 4 || off % 8)
			return nullptr;
		uint32_t index;
		memcpy(&index, key.data(), 4);
		if (index >= mi.max_entries)
			return nullptr;
		size_t elem = ((size_t)mi.value_size + 7) & ~(size_t)7;
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t len = (elem * mi.max_entries + page - 1) / page * page;
		void *m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return nullptr;
		*map = m;
		*map_len = len;
		return (uint64_t *)((char *)m + elem * index + off);
	}

	/* setLease(mapFd, key, valueTemplate, valueOffset, leaseNs) */
	Napi::Value SetLease(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		CheckOpen(env);
		int map_fd = info[0].As<Napi::Number>().Int32Value();
		std::string key = BytesArg(env, info[1], "key");
		std::string value = BytesArg(env, info[2], "value");
		uint32_t off = info[3].As<Napi::Number>().Uint32Value();
		uint64_t lease_ns;
		if (info[4].IsBigInt()) {
			bool lossless;
			lease_ns = info[4].As<Napi::BigInt>().Uint64Value(&lossless);
		} else {
			lease_ns = (uint64_t)info[4].As<Napi::Number>().Int64Value();
		}
		if ((size_t)off + 8 > value.size())
			throw Napi::RangeError::New(env, "valueOffset + 8 exceeds the value size");
		struct bpf_map_info mi = CheckLeaseMap(env, map_fd, key.size(), value.size());
		int fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			throw ErrnoError(env, "fcntl", errno,
					 "dup of map fd " + std::to_string(map_fd));
		void *map = nullptr;
		size_t map_len = 0;
		uint64_t *word = MapLeaseWord(mi, fd, key, off, &map, &map_len);
		Lock lock(&st_->mu);
		st_->UnmapLease();
		st_->lease_map = map;
		st_->lease_map_len = map_len;
		st_->lease_word = word;
		if (st_->lease_fd >= 0)
			close(st_->lease_fd);
		st_->lease_fd = fd;
		st_->lease_key.swap(key);
		st_->lease_value.swap(value);
		st_->lease_offset = off;
		st_->lease_ns = lease_ns;
		st_->lease_last_error = 0;
		return env.Undefined();
	}

	Napi::Value ClearLease(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		Lock lock(&st_->mu);
		st_->UnmapLease();
		if (st_->lease_fd >= 0) {
			close(st_->lease_fd);
			st_->lease_fd = -1;
		}
		return env.Undefined();
	}

	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		Lock lock(&st_->mu);
		Napi::Object o = Napi::Object::New(env);
		o.Set("running", Napi::Boolean::New(env, st_->running));
		o.Set("sent", Napi::Number::New(env, (double)st_->sent));
		o.Set("sendErrors", Napi::Number::New(env, (double)st_->send_errors));
		const char *name = ErrnoName(st_->last_error);
		if (st_->last_error)
			o.Set("lastError",
			      name ? std::string(name) : "E" + std::to_string(st_->last_error));
		o.Set("late", Napi::Number::New(env, (double)st_->late));
		o.Set("watchdogTrips", Napi::Number::New(env, (double)st_->watchdog_trips));
		o.Set("lastGapUs", Napi::Number::New(env, (double)st_->last_gap_ns / 1000.0));
		o.Set("maxGapUs", Napi::Number::New(env, (double)st_->max_gap_ns / 1000.0));
		o.Set("leaseUpdates", Napi::Number::New(env, (double)st_->lease_updates));
		o.Set("leaseMapped", Napi::Boolean::New(env, st_->lease_word != nullptr));
		o.Set("leaseErrors", Napi::Number::New(env, (double)st_->lease_errors));
		o.Set("realtime", Napi::Boolean::New(env, st_->realtime));
		return o;
	}

	Napi::Value ResetStats(const Napi::CallbackInfo &info)
	{
		Lock lock(&st_->mu);
		st_->sent = st_->send_errors = st_->late = st_->watchdog_trips = 0;
		st_->last_gap_ns = st_->max_gap_ns = 0;
		st_->lease_updates = st_->lease_errors = 0;
		st_->last_error = 0;
		return info.Env().Undefined();
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Shutdown();
		return info.Env().Undefined();
	}

	std::shared_ptr<SenderState> st_;
	std::thread thread_;
	Napi::ThreadSafeFunction tsfn_;
	bool hooked_ = false;
};

void InitVrrpSender(Napi::Env env, Napi::Object exports)
{
	exports.Set("AdvertSenderHandle", AdvertSenderHandle::Define(env));
}

} // namespace vipd
