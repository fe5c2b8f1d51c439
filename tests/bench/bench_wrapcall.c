/*
 * One wrapped call, timed under whatever tracer is preloaded: the benchmark suite
 * (tests/bench/run) runs it under `ctrace record` and under LTTng-UST's own wrappers in a
 * recording LTTng session, counts the events each recorded, and so prints what a call
 * and an event cost each tracer in the same run. Not linked with libctrace.
 *
 * Usage: bench_wrapcall mutex|malloc|signal
 *   mutex   pthread_mutex_lock + pthread_mutex_unlock, uncontended
 *   malloc  malloc(64) + free
 *   signal  pthread_cond_signal with no waiter
 * After WARM_NS of calls through the symbol (one-time costs out of the way), for REPS
 * interleaved rounds it times N calls of the bare libc function (looked up in
 * libc.so.6 itself, past any preloaded wrapper) and N through the dynamic symbol (the
 * preloaded wrapper, if any), and prints one line:
 *   OP bare NS via NS calls CALLS
 * with the medians in ns per call and CALLS the number of calls made through the symbol
 * (events per call = the tracer's events / CALLS). A second thread waits throughout: a
 * tracer's own threads make the process multi-threaded, where glibc's locks cost more,
 * and the bare column must pay that too (as in bench_hotpath).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

#define REPS 7
#define N 200000
#define WARM_NS 150000000ull

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void *volatile sink;

static int (*bare_lock)(pthread_mutex_t *);
static int (*bare_unlock)(pthread_mutex_t *);
static int (*bare_signal)(pthread_cond_t *);
static void *(*bare_malloc)(size_t);
static void (*bare_free)(void *);

static void mutex_bare(void)
{
	for (int i = 0; i < N; i++) {
		bare_lock(&mtx);
		bare_unlock(&mtx);
	}
}

static void mutex_via(void)
{
	for (int i = 0; i < N; i++) {
		pthread_mutex_lock(&mtx);
		pthread_mutex_unlock(&mtx);
	}
}

static void malloc_bare(void)
{
	for (int i = 0; i < N; i++) {
		sink = bare_malloc(64);
		bare_free(sink);
	}
}

static void malloc_via(void)
{
	for (int i = 0; i < N; i++) {
		sink = malloc(64);
		free(sink);
	}
}

static void signal_bare(void)
{
	for (int i = 0; i < N; i++)
		bare_signal(&cv);
}

static void signal_via(void)
{
	for (int i = 0; i < N; i++)
		pthread_cond_signal(&cv);
}

static double per_call(void (*fn)(void))
{
	uint64_t t0 = bench_ns(CLOCK_MONOTONIC);
	fn();
	return (double)(bench_ns(CLOCK_MONOTONIC) - t0) / N;
}

int main(int argc, char **argv)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (argc != 2 || !libc) {
		fprintf(stderr, "usage: bench_wrapcall mutex|malloc|signal\n");
		return 2;
	}
	bare_lock = (int (*)(pthread_mutex_t *))dlsym(libc, "pthread_mutex_lock");
	bare_unlock = (int (*)(pthread_mutex_t *))dlsym(libc, "pthread_mutex_unlock");
	bare_signal = (int (*)(pthread_cond_t *))dlvsym(libc, "pthread_cond_signal", "GLIBC_2.3.2");
	bare_malloc = (void *(*)(size_t))dlsym(libc, "malloc");
	bare_free = (void (*)(void *))dlsym(libc, "free");
	if (!bare_lock || !bare_unlock || !bare_signal || !bare_malloc || !bare_free) {
		fprintf(stderr, "bench_wrapcall: libc's functions not found: %s\n", dlerror());
		return 1;
	}
	void (*bare)(void), (*via)(void);
	if (strcmp(argv[1], "mutex") == 0) {
		bare = mutex_bare;
		via = mutex_via;
	} else if (strcmp(argv[1], "malloc") == 0) {
		bare = malloc_bare;
		via = malloc_via;
	} else if (strcmp(argv[1], "signal") == 0) {
		bare = signal_bare;
		via = signal_via;
	} else {
		fprintf(stderr, "bench_wrapcall: unknown call %s (mutex, malloc or signal)\n",
			argv[1]);
		return 2;
	}
	if (bench_idle_start() != 0) {
		fprintf(stderr, "bench_wrapcall: cannot start the idle thread\n");
		return 1;
	}
	/* Warm for WARM_NS: the wrapper's first call resolves and allocates, and a tracer's
	 * one-time work (ctrace's first stack loads libc's debug information on its
	 * symbolizer thread, some 40-80 ms of CPU) is done before the rounds, which time the
	 * cost per call and per event only. */
	long calls = (long)REPS * N;
	for (uint64_t w0 = bench_ns(CLOCK_MONOTONIC); bench_ns(CLOCK_MONOTONIC) - w0 < WARM_NS;
	     calls += N)
		via();
	double b[REPS], v[REPS];
	for (int r = 0; r < REPS; r++) {
		b[r] = per_call(bare);
		v[r] = per_call(via);
	}
	printf("%s bare %.2f via %.2f calls %ld\n", argv[1], bench_median(b, REPS),
	       bench_median(v, REPS), calls);
	bench_idle_stop();
	return 0;
}
