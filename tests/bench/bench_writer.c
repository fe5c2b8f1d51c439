/*
 * Does the writer thread keep up? Producer threads emit one-event calls
 * (pthread_cond_signal with no waiter: a `wake` event) paced to a target rate for two
 * seconds into a capture with the default buffer memory (linked with libctrace, nothing
 * set in the environment); then the trace is read back and the events it holds and the
 * events the rings dropped are counted. Figures, not pass/fail.
 * Usage: bench_writer [SECONDS]   (run by `meson test -C build --benchmark --verbose`)
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>
#include <ctrace/trace.h>

#include "benchlib.h"

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static double seconds = 2;

struct producer {
	pthread_t t;
	double rate; /* events per second for this thread */
	uint64_t sent;
};

/* Emit in chunks of 1,000, waiting (spinning) whenever ahead of the schedule. */
static void *produce(void *arg)
{
	struct producer *p = arg;
	uint64_t start = bench_ns(CLOCK_MONOTONIC), end = start + (uint64_t)(seconds * 1e9);
	for (;;) {
		uint64_t now = bench_ns(CLOCK_MONOTONIC);
		if (now >= end)
			break;
		uint64_t due = (uint64_t)((double)(now - start) * 1e-9 * p->rate);
		if (p->sent >= due)
			continue;
		for (int i = 0; i < 1000; i++)
			pthread_cond_signal(&cv);
		p->sent += 1000;
	}
	return NULL;
}

static void run(double rate, int threads)
{
	char path[] = "/tmp/ctrace-bench-writer.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ctrace_start(fd) != 0) {
		fprintf(stderr, "bench_writer: cannot start a capture into %s\n", path);
		exit(1);
	}
	struct producer p[8];
	uint64_t t0 = bench_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < threads; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].rate = rate / threads;
		pthread_create(&p[i].t, NULL, produce, &p[i]);
	}
	uint64_t sent = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(p[i].t, NULL);
		sent += p[i].sent;
	}
	double wall = (double)(bench_ns(CLOCK_MONOTONIC) - t0) * 1e-9;
	ctrace_stop();
	close(fd);

	ctrace_reader *r;
	ctrace_model *m;
	uint64_t events = 0, lost = 0;
	if (ctrace_reader_open(path, &r) != 0 || ctrace_model_build(r, NULL, &m) != 0) {
		fprintf(stderr, "bench_writer: cannot read %s back\n", path);
		exit(1);
	}
	ctrace_model_counts(m, &events, &lost);
	off_t bytes = 0;
	int rfd = open(path, O_RDONLY);
	if (rfd >= 0) {
		bytes = lseek(rfd, 0, SEEK_END);
		close(rfd);
	}
	ctrace_model_free(m);
	ctrace_reader_free(r);
	unlink(path);
	printf("%10.1f %8d %12.1f %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %9.4f%% %8.2f\n",
	       rate / 1e6, threads, (double)sent / wall / 1e6, sent, events, lost,
	       sent ? 100.0 * (double)lost / (double)sent : 0.0,
	       events ? (double)bytes / (double)events : 0.0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc > 1 && (seconds = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: bench_writer [SECONDS]\n");
		return 2;
	}
	printf("writer throughput: paced producers, %.0f s each, default buffer memory\n",
	       seconds);
	printf("%10s %8s %12s %12s %12s %12s %10s %8s\n", "target M/s", "threads", "sent M/s",
	       "sent", "in trace", "lost", "lost", "B/event");
	const double rates[] = { 5e6, 10e6, 20e6, 30e6, 40e6 };
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		run(rates[i], 1);
	run(20e6, 2);
	return 0;
}
