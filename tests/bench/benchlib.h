/*
 * What every benchmark here needs: a clock in ns and medians of repeated runs.
 */
#ifndef CTRACE_BENCHLIB_H
#define CTRACE_BENCHLIB_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

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

#endif
