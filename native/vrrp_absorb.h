/* The steady BACKUP's adverts absorbed in the kernel: a socket filter
 * (eBPF, built from the steady advert's bytes) on the raw VRRP socket drops
 * exact repeats before they are queued, so the receive thread is not woken
 * for them, and records how many it dropped and when the last one arrived
 * (bpf_ktime_get_ns: CLOCK_MONOTONIC) in a one-entry array the thread reads
 * through a shared mapping, with no system call. Anything else passes to
 * the socket as before. */
#ifndef VIPD_VRRP_ABSORB_H
#define VIPD_VRRP_ABSORB_H

#include "net_util.h"

#include <cstdint>
#include <string>

namespace vipd
{

class KernelAbsorber
{
      public:
	KernelAbsorber() = default;
	~KernelAbsorber();
	KernelAbsorber(const KernelAbsorber &) = delete;
	KernelAbsorber &operator=(const KernelAbsorber &) = delete;

	/* Builds and loads the filter for this steady advert (source,
	 * destination, VRRP payload; TTL / hop limit 255) and attaches it to
	 * sock_fd, replacing the previous one. Returns 0, or an errno: the
	 * caller then absorbs in user space only (detached). */
	/* attach_now false: build the filter for this advert, attach it at Reattach(). */
	int Attach(int sock_fd, int family, const IpAddr &src, const IpAddr &dst,
		   const std::string &payload, bool attach_now = true);
	/* Takes the filter off the socket (keeps the counters). */
	void Detach(int sock_fd);
	/* Puts the last loaded filter back on (after Detach). */
	int Reattach(int sock_fd);
	bool attached() const
	{
		return attached_;
	}

	/* Adverts dropped since the last call, and the arrival of the last one
	 * (CLOCK_MONOTONIC ns; 0 when none). */
	uint64_t Take(int64_t *last_arrival_ns);

      private:
	int OpenCounters();

	int map_fd_ = -1;
	int prog_fd_ = -1;
	/* The mapped entry: { u64 count; u64 last_ns } */
	volatile uint64_t *counters_ = nullptr;
	uint64_t seen_ = 0;
	bool attached_ = false;
};

} // namespace vipd

#endif
