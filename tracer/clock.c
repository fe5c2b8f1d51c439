/*
 * The trace clock. TSC when the CPU says it is constant and does not stop in deep sleep
 * (constant_tsc and nonstop_tsc), because reading it costs a few ns; CLOCK_MONOTONIC
 * otherwise. Ticks are converted to ns with sync points taken by the writer: the ratio is
 * measured from tracer start, so it gets better as the program runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int ctr_clock_is_tsc;
static struct ctr_sync origin;

uint64_t ctr_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The kernel's tick-granular clock: half the cost of a TSC read here, precise enough for
 * "blocked since" while tracing is off. */
uint64_t ctr_coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ctr_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cpu_has_stable_tsc(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	int constant = 0, nonstop = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
}

/* A (ticks, monotonic, realtime) triple, the tightest of a few tries. */
void ctr_clock_sync(struct ctr_sync *s)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 3; i++) {
		uint64_t a = ctr_mono_ns();
		uint64_t t = ctr_ticks();
		uint64_t b = ctr_mono_ns();
		if (b - a < best) {
			best = b - a;
			s->ticks = t;
			s->mono_ns = a + (b - a) / 2;
		}
	}
	s->real_ns = ctr_real_ns();
	if (!ctr_clock_is_tsc)
		s->ticks = s->mono_ns;
}

void ctr_clock_init(void)
{
	const char *force = getenv("CTRACE_CLOCK");
	ctr_clock_is_tsc = cpu_has_stable_tsc();
	if (force && strcmp(force, "monotonic") == 0)
		ctr_clock_is_tsc = 0;
	ctr_clock_sync(&origin);
}

void ctr_clock_ratio(const struct ctr_sync *now, uint64_t *tick_span, uint64_t *ns_span)
{
	if (!ctr_clock_is_tsc || now->ticks <= origin.ticks || now->mono_ns <= origin.mono_ns) {
		*tick_span = *ns_span = 1;
		return;
	}
	*tick_span = now->ticks - origin.ticks;
	*ns_span = now->mono_ns - origin.mono_ns;
}

int64_t ctr_ticks_to_ns(uint64_t ticks, const struct ctr_sync *ref, uint64_t tick_span,
			uint64_t ns_span)
{
	__int128 d = (__int128)ticks - (__int128)ref->ticks;
	return (int64_t)((__int128)ref->mono_ns + d * (__int128)ns_span / (__int128)tick_span);
}
