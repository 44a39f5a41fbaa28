/* The event loop's watch (loop_watch.h) and its busy-time statistics.
 *
 * Every turn of the loop, less the time it waited for events, is the time
 * it spent running callbacks: a timer that fell due in it waited up to that
 * long. Each span goes into a histogram
 * (log-linear buckets, 8 per power of two: a percentile is the upper edge
 * of its bucket, within 12.5%) that loopBusy() reads and resets. This
 * replaces a sampling timer (Node's monitorEventLoopDelay) that had to wake
 * an idle daemon to measure anything: here an idle loop costs nothing and
 * a busy one two clock reads per turn, and no stall is missed. */
#include "addon.h"
#include "loop_watch.h"

#include <cmath>
#include <map>
#include <mutex>
#include <uv.h>

namespace vipd
{

static constexpr int kBuckets = 8 + 61 * 8;

static int Bucket(uint64_t ns)
{
	if (ns < 8)
		return (int)ns;
	int e = 63 - __builtin_clzll(ns); /* 3..63 */
	int sub = (int)((ns >> (e - 3)) & 7);
	return 8 + (e - 3) * 8 + sub;
}

/* The largest value that falls in bucket b. */
static uint64_t BucketTop(int b)
{
	if (b < 8)
		return (uint64_t)b;
	int e = (b - 8) / 8 + 3, sub = (b - 8) % 8;
	if (e == 63 && sub == 7)
		return UINT64_MAX;
	return (((uint64_t)(8 + sub + 1)) << (e - 3)) - 1;
}

struct BusyHistogram {
	uint64_t count = 0, min = UINT64_MAX, max = 0;
	double sum = 0, sum_sq = 0;
	uint32_t buckets[kBuckets] = {};

	void Add(uint64_t ns)
	{
		count++;
		if (ns < min)
			min = ns;
		if (ns > max)
			max = ns;
		sum += (double)ns;
		sum_sq += (double)ns * (double)ns;
		buckets[Bucket(ns)]++;
	}

	uint64_t Percentile(double p) const
	{
		uint64_t rank = (uint64_t)std::ceil(p / 100.0 * (double)count);
		if (rank == 0)
			rank = 1;
		uint64_t seen = 0;
		for (int b = 0; b < kBuckets; b++) {
			seen += buckets[b];
			if (seen >= rank)
				return BucketTop(b) < max ? BucketTop(b) : max;
		}
		return max;
	}
};

/* Lives on the loop's thread: the prepare callback and loopBusy() both
 * run there. */
struct LoopWatch {
	uv_prepare_t prepare;
	uv_loop_t *loop;
	/* The previous prepare: its time and the loop's idle time then. */
	uint64_t prev_ns = 0, prev_idle_ns = 0;
	BusyHistogram busy;
};

static std::mutex g_watches_mu;
static std::map<uv_loop_t *, LoopWatch *> g_watches;

/* A turn of the loop, from one prepare (right before it waits) to the next,
 * less the time it waited: what its callbacks took. */
static void OnPrepare(uv_prepare_t *h)
{
	auto *w = (LoopWatch *)h->data;
	uint64_t now = uv_hrtime();
	uint64_t idle = uv_metrics_idle_time(w->loop);
	if (w->prev_ns) {
		uint64_t wall = now - w->prev_ns, waited = idle - w->prev_idle_ns;
		w->busy.Add(wall > waited ? wall - waited : 0);
	}
	w->prev_ns = now;
	w->prev_idle_ns = idle;
}

static LoopWatch *WatchOf(Napi::Env env)
{
	uv_loop_t *loop = nullptr;
	if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop)
		throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
	std::lock_guard<std::mutex> guard(g_watches_mu);
	auto found = g_watches.find(loop);
	if (found != g_watches.end())
		return found->second;
	auto *w = new LoopWatch{};
	w->loop = loop;
	uv_prepare_init(loop, &w->prepare);
	w->prepare.data = w;
	uv_prepare_start(&w->prepare, OnPrepare);
	uv_unref((uv_handle_t *)&w->prepare);
	napi_add_env_cleanup_hook(
	    env,
	    [](void *arg) {
		    auto *w = (LoopWatch *)arg;
		    {
			    std::lock_guard<std::mutex> guard(g_watches_mu);
			    g_watches.erase(w->loop);
		    }
		    uv_close((uv_handle_t *)&w->prepare,
			     [](uv_handle_t *h) { delete (LoopWatch *)h->data; });
	    },
	    w);
	g_watches[loop] = w;
	return w;
}

uv_loop_t *WatchedLoop(Napi::Env env)
{
	return WatchOf(env)->loop;
}

uint64_t LoopLiveness::WaitedAt(uint64_t now)
{
	uint64_t idle = uv_metrics_idle_time(loop_);
	if (prev_read_ns_) {
		if (idle > prev_idle_ns_) {
			/* It waited since the last reading; if it still waits,
			 * a second reading has grown again. */
			uint64_t bound = prev_read_ns_ + (idle - prev_idle_ns_);
			if (uv_metrics_idle_time(loop_) > idle || bound > now)
				bound = now;
			if (bound > waited_at_)
				waited_at_ = bound;
		}
	}
	prev_read_ns_ = now;
	prev_idle_ns_ = idle;
	return waited_at_;
}

/* loopBusy(): { count, minNs, maxNs, meanNs, stddevNs, p50Ns, p90Ns,
 * p99Ns } of the busy spans since the last call (count 0: none), and
 * resets them. The first call starts the watch. */
static Napi::Value LoopBusy(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	LoopWatch *w = WatchOf(env);
	BusyHistogram &h = w->busy;
	Napi::Object o = Napi::Object::New(env);
	o.Set("count", (double)h.count);
	if (h.count) {
		double mean = h.sum / (double)h.count;
		double var = h.sum_sq / (double)h.count - mean * mean;
		o.Set("minNs", (double)h.min);
		o.Set("maxNs", (double)h.max);
		o.Set("meanNs", mean);
		o.Set("stddevNs", var > 0 ? std::sqrt(var) : 0.0);
		o.Set("p50Ns", (double)h.Percentile(50));
		o.Set("p90Ns", (double)h.Percentile(90));
		o.Set("p99Ns", (double)h.Percentile(99));
	}
	h = BusyHistogram{};
	return o;
}

void InitLoopWatch(Napi::Env env, Napi::Object exports)
{
	exports.Set("loopBusy", Napi::Function::New(env, LoopBusy));
}

} // namespace vipd
