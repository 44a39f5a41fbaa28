// SPDX-License-Identifier: Apache-2.0
/* The platform's floor for advert pacing: how late does a bare SCHED_FIFO
 * thread wake on this machine? 10 ms absolute deadlines for N seconds; prints
 * the largest wake-up lateness and how many wakes were over 5 ms late.
 *
 *   gcc -O2 -o /tmp/wake-jitter bench/tools/wake-jitter.c && sudo /tmp/wake-jitter 600
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long ns(struct timespec t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10;
	struct sched_param sp = {.sched_priority = 10};
	int rt = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
	struct timespec next, now;
	long long maxlate = 0, late5 = 0, n = secs * 100LL;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long long i = 0; i < n; i++) {
		next.tv_nsec += 10000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long late = ns(now) - ns(next);
		if (late > maxlate)
			maxlate = late;
		if (late > 5000000)
			late5++;
	}
	printf("{\"seconds\":%d,\"sched_fifo\":%d,\"wakes\":%lld,\"maxLateMs\":%.3f,"
	       "\"lateOver5ms\":%lld}\n",
	       secs, rt, n, maxlate / 1e6, late5);
	return 0;
}
