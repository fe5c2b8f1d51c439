/*
 * What every benchmark here needs: a clock in ns and medians of repeated runs.
 */
#ifndef CTRACE_BENCHLIB_H
#define CTRACE_BENCHLIB_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* @clock now, in ns (CLOCK_MONOTONIC for wall time, CLOCK_THREAD_CPUTIME_ID for CPU). */
static inline uint64_t bench_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* qsort order of doubles. */
static inline int bench_cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of @v (sorted in place). */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_d);
	return v[n / 2];
}

/*
 * A second thread that only waits, from bench_idle_start to bench_idle_stop. ctrace is for
 * pthread programs, and a tracer's own thread makes the process multi-threaded, where the
 * kernel takes a slower path for file descriptors (fdget must count a reference) and
 * glibc's locks use atomic instructions: with this thread the bare columns pay that too,
 * instead of the tracer being charged for it.
 */
static int bench_idle_pipe[2];
static pthread_t bench_idle_thread;

static inline void *bench_idle_main(void *arg)
{
	char c;
	if (read(bench_idle_pipe[0], &c, 1) < 0)
		return arg;
	return arg;
}

static inline int bench_idle_start(void)
{
	if (pipe(bench_idle_pipe) != 0)
		return -1;
	return pthread_create(&bench_idle_thread, NULL, bench_idle_main, NULL) == 0 ? 0 : -1;
}

static inline void bench_idle_stop(void)
{
	close(bench_idle_pipe[1]);
	pthread_join(bench_idle_thread, NULL);
}

#endif
