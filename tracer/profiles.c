/*
 * Profiles kept in the tracer, always on and independent of any trace capture, like Go's
 * runtime profiles: heap (sampled allocations and their frees), block, mutex, threadcreate
 * and CPU. Each is a table from interned stack id to a few counters, served by pprof_http.c.
 *
 * The tables are open-addressed arrays in address space reserved once (MAP_NORESERVE), an
 * entry claimed with a compare-and-swap of its key and counted with relaxed atomic adds: no
 * lock and no allocation, so recording is safe inside a malloc interposer and in a signal
 * handler. A full table drops what it cannot hold and counts it (shown as a comment in the
 * profile).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <ctrace/ctrace.h>

#include "internal.h"

#define PROF_BITS 16 /* 64K distinct stacks per profile */
#define PROF_SLOTS (1u << PROF_BITS)

struct prof_entry {
	_Atomic uint32_t key; /* stack id + 1; 0 = empty */
	uint32_t pad_;
	_Atomic int64_t v[CTR_PROF_VALUES];
};

static struct prof_entry *tables[CTR_PROF_KINDS];
static _Atomic uint64_t dropped[CTR_PROF_KINDS];

_Atomic uint64_t ctr_heap_rate;
_Atomic int ctr_block_rate, ctr_mutex_rate;
_Atomic unsigned ctr_watch;

static void rate_from_env(const char *name, _Atomic int *rate)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 1000000000L) {
		ctr_warn("%s=%s is not a rate (0 off, 1 every event, N one in N); using 0", name, s);
		return;
	}
	atomic_store(rate, (int)v);
}

void ctr_prof_init(void)
{
	for (int k = 0; k < CTR_PROF_KINDS; k++) {
		if (tables[k])
			continue;
		void *m = mmap(NULL, sizeof(struct prof_entry) * PROF_SLOTS, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED)
			tables[k] = m;
	}
	rate_from_env("CTRACE_BLOCK_RATE", &ctr_block_rate);
	rate_from_env("CTRACE_MUTEX_RATE", &ctr_mutex_rate);
	ctr_watch_set(CTR_WATCH_BLOCK, atomic_load(&ctr_block_rate) != 0);
	ctr_watch_set(CTR_WATCH_MUTEX, atomic_load(&ctr_mutex_rate) != 0);
	/* The heap profile samples as the allocation events do; CTRACE_ALLOC=off turns both off. */
	atomic_store(&ctr_heap_rate,
		     ctr_g.cfg.alloc_mode == CTR_ALLOC_OFF ? 0 : ctr_g.cfg.alloc_rate);
}

static inline uint32_t slot_of(uint32_t key)
{
	return (uint32_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> (64 - PROF_BITS));
}

void ctr_prof_add(int kind, uint64_t stack, const int64_t *v, unsigned n)
{
	struct prof_entry *t = tables[kind];
	if (!t)
		return;
	uint32_t key = (uint32_t)stack + 1;
	uint32_t i = slot_of(key);
	for (uint32_t probes = 0; probes < PROF_SLOTS / 2; probes++, i = (i + 1) & (PROF_SLOTS - 1)) {
		uint32_t k = atomic_load_explicit(&t[i].key, memory_order_acquire);
		if (k == 0) {
			uint32_t expect = 0;
			if (!atomic_compare_exchange_strong_explicit(&t[i].key, &expect, key,
								    memory_order_acq_rel,
								    memory_order_acquire))
				k = expect;
			else
				k = key;
		}
		if (k == key) {
			for (unsigned j = 0; j < n && j < CTR_PROF_VALUES; j++)
				if (v[j])
					atomic_fetch_add_explicit(&t[i].v[j], v[j],
								  memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&dropped[kind], 1, memory_order_relaxed);
}

int ctr_prof_snapshot(int kind, struct ctr_prof_row **rows, size_t *n)
{
	const struct prof_entry *t = tables[kind];
	size_t cap = 256, len = 0;
	struct ctr_prof_row *r = malloc(cap * sizeof(*r));
	if (!r)
		return CTRACE_ENOMEM;
	for (uint32_t i = 0; t && i < PROF_SLOTS; i++) {
		uint32_t key = atomic_load_explicit(&t[i].key, memory_order_acquire);
		if (!key)
			continue;
		if (len == cap) {
			struct ctr_prof_row *q = realloc(r, cap * 2 * sizeof(*r));
			if (!q) {
				free(r);
				return CTRACE_ENOMEM;
			}
			r = q;
			cap *= 2;
		}
		r[len].stack = key - 1;
		for (int j = 0; j < CTR_PROF_VALUES; j++)
			r[len].v[j] = atomic_load_explicit(&t[i].v[j], memory_order_relaxed);
		len++;
	}
	*rows = r;
	*n = len;
	return 0;
}

void ctr_prof_clear(int kind)
{
	struct prof_entry *t = tables[kind];
	for (uint32_t i = 0; t && i < PROF_SLOTS; i++) {
		if (!atomic_load_explicit(&t[i].key, memory_order_relaxed))
			continue;
		for (int j = 0; j < CTR_PROF_VALUES; j++)
			atomic_store_explicit(&t[i].v[j], 0, memory_order_relaxed);
	}
}

uint64_t ctr_prof_dropped(int kind)
{
	return atomic_load_explicit(&dropped[kind], memory_order_relaxed);
}

/* A per-thread xorshift64* generator, seeded on first use. */
uint64_t ctr_prof_rand(void)
{
	uint64_t x = ctr_tls.rng;
	if (unlikely(x == 0)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&ctr_tls ^ 0x9e3779b97f4a7c15ull;
		x = x ? x : 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ctr_tls.rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

int ctr_prof_pick(int rate)
{
	if (rate <= 1)
		return rate == 1;
	return (ctr_prof_rand() >> 33) % (uint64_t)rate == 0;
}

/* A contended lock or a blocking wait that was picked: its waiter's stack and time, scaled
 * by the rate so that the profile estimates every event (Go's scaleBlockProfile). */
void ctr_prof_block(int kind, uint64_t stack, uint64_t ns, int rate)
{
	int64_t v[2] = { rate, (int64_t)ns * rate };
	ctr_prof_add(kind, stack, v, 2);
}

CTRACE_API int ctrace_set_block_rate(int rate)
{
	if (rate < 0)
		return CTRACE_EINVAL;
	atomic_store(&ctr_block_rate, rate);
	ctr_watch_set(CTR_WATCH_BLOCK, rate != 0);
	return 0;
}

CTRACE_API int ctrace_set_mutex_rate(int rate)
{
	if (rate < 0)
		return CTRACE_EINVAL;
	atomic_store(&ctr_mutex_rate, rate);
	ctr_watch_set(CTR_WATCH_MUTEX, rate != 0);
	return 0;
}
