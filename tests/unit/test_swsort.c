/*
 * ctr_swsort_order, which puts the writer's context switches in order by thread, then
 * time, held to qsort by the same key on the shapes the rings give: perf's per-CPU rings
 * (each CPU's records in time order, one CPU after another, threads moving between
 * CPUs), the BPF ring (time order, with neighbours swapped), random order, one thread,
 * many threads (the tid table grows), and sizes that grow and shrink between calls.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "internal.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int by_key(const void *a, const void *b)
{
	const struct ctr_switch *x = a, *y = b;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return (x->ns > y->ns) - (x->ns < y->ns);
}

enum shape { PER_CPU, BPF, RANDOM };

/* @n records of @threads threads on @cpus CPUs in @shape; times all different. */
static struct ctr_switch *make(size_t n, unsigned threads, unsigned cpus, enum shape shape)
{
	struct ctr_switch *v = calloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].ns = 1000000 + i * 7 + next() % 5; /* increasing, unique */
		v[i].tid = 1000 + (uint32_t)(next() % threads) * 17;
		v[i].cpu = (uint32_t)(next() % cpus);
		v[i].out = (uint8_t)(i & 1);
	}
	if (shape == PER_CPU) {
		/* Stable by CPU: each CPU's records stay in time order. */
		struct ctr_switch *t = malloc(n * sizeof(*t));
		size_t k = 0;
		for (unsigned c = 0; c < cpus; c++)
			for (size_t i = 0; i < n; i++)
				if (v[i].cpu == c)
					t[k++] = v[i];
		memcpy(v, t, n * sizeof(*v));
		free(t);
	} else if (shape == BPF) {
		for (size_t i = 0; i + 1 < n; i++)
			if (next() % 8 == 0) {
				struct ctr_switch x = v[i];
				v[i] = v[i + 1];
				v[i + 1] = x;
			}
	} else {
		for (size_t i = n; i > 1; i--) {
			size_t j = next() % i;
			struct ctr_switch x = v[i - 1];
			v[i - 1] = v[j];
			v[j] = x;
		}
	}
	return v;
}

static void check(struct ctr_swsort *o, size_t n, unsigned threads, unsigned cpus,
		  enum shape shape)
{
	struct ctr_switch *v = make(n, threads, cpus, shape);
	struct ctr_switch *want = malloc((n ? n : 1) * sizeof(*want));
	memcpy(want, v, n * sizeof(*v));
	qsort(want, n, sizeof(*want), by_key);
	ctr_swsort_order(o, v, n);
	for (size_t i = 0; i < n; i++)
		if (memcmp(&v[i], &want[i], sizeof(*v)) != 0)
			CT_FAIL("n %zu, %u threads, %u CPUs, shape %d: record %zu is tid %u ns %llu, "
				"not tid %u ns %llu",
				n, threads, cpus, (int)shape, i, v[i].tid,
				(unsigned long long)v[i].ns, want[i].tid,
				(unsigned long long)want[i].ns);
	free(v);
	free(want);
}

static void shapes(void)
{
	struct ctr_swsort o;
	memset(&o, 0, sizeof(o));
	for (int shape = PER_CPU; shape <= RANDOM; shape++) {
		check(&o, 0, 1, 1, (enum shape)shape);
		check(&o, 1, 1, 1, (enum shape)shape);
		check(&o, 2, 2, 2, (enum shape)shape);
		check(&o, 3000, 1, 2, (enum shape)shape);
		check(&o, 3000, 6, 2, (enum shape)shape);
		check(&o, 20000, 6, 16, (enum shape)shape);
		check(&o, 500, 6, 2, (enum shape)shape); /* smaller again: the scratch stays */
		check(&o, 50000, 3000, 8, (enum shape)shape); /* the tid table grows */
		check(&o, 100, 3, 2, (enum shape)shape);
	}
	ctr_swsort_free(&o);
	/* After a free, it starts over. */
	check(&o, 5000, 4, 4, PER_CPU);
	ctr_swsort_free(&o);
}

int main(void)
{
	RUN(shapes);
	return 0;
}
