/* The JS event loop watched without a timer of its own.
 *
 * libuv keeps, for every loop Node runs (Node turns UV_METRICS_IDLE_TIME on
 * for the main thread and for workers; performance.eventLoopUtilization()
 * reads the same figure), the total time the loop has spent waiting for
 * events in the kernel, the current wait included; another thread may read
 * it (uv_metrics_idle_time takes the loop's metrics lock). A loop that
 * waits is not stuck, and idle time that grew between two readings brackets
 * when the loop last waited: that is all the advert senders' watchdogs need,
 * with no wakeup of the loop. A prepare handle (unref'd: it keeps no loop
 * alive) adds the busy time of every turn, for the metrics. */
#ifndef VIPD_LOOP_WATCH_H
#define VIPD_LOOP_WATCH_H

#include <napi.h>

#include <cstdint>
#include <uv.h>

namespace vipd
{

/* When a loop last showed it runs, for one reader thread (not shared). */
class LoopLiveness
{
      public:
	explicit LoopLiveness(uv_loop_t *loop) : loop_(loop)
	{
	}

	/* The latest time (CLOCK_MONOTONIC ns, the domain of now) at which the
	 * loop is known to have waited for events: now while it waits, else
	 * no earlier than the end of its last wait that this reader can
	 * place (idle time that grew by d since the previous reading at t
	 * ended at t + d or later); 0 when nothing is known yet. */
	uint64_t WaitedAt(uint64_t now);

      private:
	uv_loop_t *loop_;
	uint64_t prev_read_ns_ = 0;
	uint64_t prev_idle_ns_ = 0;
	uint64_t waited_at_ = 0;
};

/* env's loop, with the busy-time watch started (once per loop). */
uv_loop_t *WatchedLoop(Napi::Env env);

} // namespace vipd

#endif
