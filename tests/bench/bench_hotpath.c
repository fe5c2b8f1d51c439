/*
 * Microbenchmark of the tracer's hot path, linked with libctrace. For each operation it
 * measures, interleaved and repeated, the bare libc function (found in libc.so.6 itself),
 * the interposer with tracing off, and the interposer with tracing on, and prints median
 * ns per operation and the overhead against bare. Run with `meson test -C build
 * --benchmark --verbose` or directly. Figures, not pass/fail: the machine is noisy.
 * The process has a second, idle thread throughout (see bench_idle_start).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>
#include <ctrace/trace.h>

#include "benchlib.h"

#define REPS 7

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int devnull;
static int (*bare_lock)(pthread_mutex_t *);
static int (*bare_unlock)(pthread_mutex_t *);
static int (*bare_signal)(pthread_cond_t *);
static ssize_t (*bare_write)(int, const void *, size_t);
static void *(*bare_malloc)(size_t);
static void (*bare_free)(void *);

typedef void (*op_fn)(long n);

static void op_mutex_bare(long n)
{
	for (long i = 0; i < n; i++) {
		bare_lock(&mtx);
		bare_unlock(&mtx);
	}
}

static void op_mutex(long n)
{
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&mtx);
		pthread_mutex_unlock(&mtx);
	}
}

static void op_signal_bare(long n)
{
	for (long i = 0; i < n; i++)
		bare_signal(&cv);
}

static void op_signal(long n)
{
	for (long i = 0; i < n; i++)
		pthread_cond_signal(&cv);
}

static void op_write_bare(long n)
{
	for (long i = 0; i < n; i++)
		if (bare_write(devnull, "x", 1) != 1)
			abort();
}

static void op_write(long n)
{
	for (long i = 0; i < n; i++)
		if (write(devnull, "x", 1) != 1)
			abort();
}

static void *volatile sink;

static void op_malloc_bare(long n)
{
	for (long i = 0; i < n; i++) {
		sink = bare_malloc(64);
		bare_free(sink);
	}
}

static void op_malloc(long n)
{
	for (long i = 0; i < n; i++) {
		sink = malloc(64);
		free(sink);
	}
}

static void op_region(long n)
{
	for (long i = 0; i < n; i++)
		ctrace_region_begin(1, "r");
}

/* The floor of an event's cost: every event reads the TSC once. */
static void op_rdtsc(long n)
{
	uint64_t sum = 0;
	for (long i = 0; i < n; i++) {
		uint32_t lo, hi;
		__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
		sum += lo + ((uint64_t)hi << 32);
	}
	__asm__ __volatile__("" : : "r"(sum));
}

static double time_op(op_fn fn, long n)
{
	uint64_t t0 = bench_ns(CLOCK_MONOTONIC);
	fn(n);
	return (double)(bench_ns(CLOCK_MONOTONIC) - t0) / (double)n;
}

struct row {
	const char *name;
	op_fn bare, wrapped;
	long n;
	double v_bare[REPS], v_off[REPS], v_on[REPS];
};

static char trace_path[] = "/tmp/ctrace-bench-XXXXXX";

int main(void)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!libc) {
		fprintf(stderr, "cannot find libc.so.6: %s\n", dlerror());
		return 1;
	}
	bare_lock = (int (*)(pthread_mutex_t *))dlsym(libc, "pthread_mutex_lock");
	bare_unlock = (int (*)(pthread_mutex_t *))dlsym(libc, "pthread_mutex_unlock");
	bare_signal = (int (*)(pthread_cond_t *))dlvsym(libc, "pthread_cond_signal", "GLIBC_2.3.2");
	bare_write = (ssize_t(*)(int, const void *, size_t))dlsym(libc, "write");
	bare_malloc = (void *(*)(size_t))dlsym(libc, "malloc");
	bare_free = (void (*)(void *))dlsym(libc, "free");
	devnull = open("/dev/null", O_WRONLY);
	if (bench_idle_start() != 0) {
		fprintf(stderr, "cannot start the idle thread\n");
		return 1;
	}
	int fd = mkstemp(trace_path);
	if (!bare_lock || !bare_unlock || !bare_signal || !bare_write || !bare_malloc ||
	    !bare_free || devnull < 0 || fd < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}

	struct row rows[] = {
		{ "mutex lock+unlock (uncontended)", op_mutex_bare, op_mutex, 4000000 },
		{ "cond_signal, no waiter (1 event)", op_signal_bare, op_signal, 2000000 },
		{ "write 1 byte to /dev/null (2 events)", op_write_bare, op_write, 500000 },
		{ "malloc+free 64 B (sampled)", op_malloc_bare, op_malloc, 2000000 },
	};
	size_t nrows = sizeof(rows) / sizeof(rows[0]);
	double region_on[REPS], region_off[REPS], tsc[REPS];

	for (int rep = 0; rep < REPS; rep++) {
		for (size_t i = 0; i < nrows; i++) {
			struct row *r = &rows[i];
			r->v_bare[rep] = time_op(r->bare, r->n);
			r->v_off[rep] = time_op(r->wrapped, r->n);
		}
		region_off[rep] = time_op(op_region, 2000000);
		tsc[rep] = time_op(op_rdtsc, 4000000);
		if (ctrace_start(fd) != 0) {
			fprintf(stderr, "ctrace_start failed\n");
			return 1;
		}
		for (size_t i = 0; i < nrows; i++)
			rows[i].v_on[rep] = time_op(rows[i].wrapped, rows[i].n);
		region_on[rep] = time_op(op_region, 2000000);
		ctrace_stop();
		if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
			return 1;
	}

	/* How many events were dropped in the last repetition (the trace of it is in fd). */
	printf("ctrace hot path, median of %d interleaved runs, ns per operation\n", REPS);
	printf("%-40s %8s %8s %8s %10s %10s\n", "operation", "bare", "off", "on", "off-bare",
	       "on-bare");
	for (size_t i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		double b = bench_median(r->v_bare, REPS), off = bench_median(r->v_off, REPS),
		       on = bench_median(r->v_on, REPS);
		printf("%-40s %8.2f %8.2f %8.2f %10.2f %10.2f\n", r->name, b, off, on, off - b,
		       on - b);
	}
	double ron = bench_median(region_on, REPS), roff = bench_median(region_off, REPS);
	printf("%-40s %8s %8.2f %8.2f %10s %10.2f\n", "region_begin (1 event with a name)", "-",
	       roff, ron, "-", ron - roff);
	printf("%-40s %8.2f   (each event reads the TSC once: the floor of on-bare)\n",
	       "rdtsc, back to back", bench_median(tsc, REPS));
	close(fd);
	unlink(trace_path);
	bench_idle_stop();
	return 0;
}
