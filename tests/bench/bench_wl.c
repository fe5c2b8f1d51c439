/*
 * The benchmark suite's workloads (tests/bench/run): a fixed amount of work each, so that
 * wall times compare across tracers. Prints one line: the mode and its own wall time.
 *
 * Prints the mode, its wall time and the CPU time of the whole process over the same
 * span (every thread: a tracer's own threads included).
 * Usage: bench_wl MODE [SCALE]   (SCALE multiplies the work, default 1)
 *   mutex     4 threads hand a token round through a mutex and a condvar, and contend
 *   pingpong  a socketpair ping-pong between two threads, each also appending 64 bytes to
 *             a file every 16 rounds
 *   malloc    3 threads malloc and free blocks of mixed sizes (16 B to 64 KiB)
 *   pool      a producer feeds 4 workers through a mutex+condvar queue; each finished item
 *             is reported through a pipe to a collector thread
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long scale = 1;

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* ---- mutex: a token passed round four threads ---- */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long turn, rounds_left;

static void *ring_member(void *arg)
{
	long me = (long)arg;
	for (;;) {
		pthread_mutex_lock(&m); /* every round takes the lock, and contends for it */
		while (turn % 4 != me && rounds_left > 0)
			pthread_cond_wait(&cv, &m);
		if (rounds_left <= 0) {
			pthread_cond_broadcast(&cv);
			pthread_mutex_unlock(&m);
			break;
		}
		turn++;
		rounds_left--;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&m);
	}
	return NULL;
}

static void mode_mutex(void)
{
	pthread_t t[4];
	rounds_left = 20000 * scale;
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, ring_member, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
}

/* ---- pingpong ---- */

static int sp[2];
static int file_fd;

static void *pong(void *arg)
{
	char b[8];
	for (long i = 0; i < 20000 * scale; i++) {
		if (read(sp[1], b, 8) != 8 || write(sp[1], b, 8) != 8)
			break;
		if (i % 16 == 0 && write(file_fd, "pong----pong----pong----pong----pong----pong----pong----pong----", 64) != 64)
			break;
	}
	return arg;
}

static void mode_pingpong(void)
{
	char path[] = "/tmp/ctrace-bench-XXXXXX";
	file_fd = mkstemp(path);
	unlink(path);
	if (file_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		exit(1);
	pthread_t t;
	pthread_create(&t, NULL, pong, NULL);
	char b[8] = "pingping";
	for (long i = 0; i < 20000 * scale; i++) {
		if (write(sp[0], b, 8) != 8 || read(sp[0], b, 8) != 8)
			break;
		if (i % 16 == 0 && write(file_fd, "ping----ping----ping----ping----ping----ping----ping----ping----", 64) != 64)
			break;
	}
	pthread_join(t, NULL);
	close(file_fd);
}

/* ---- malloc ---- */

static void *churn(void *arg)
{
	unsigned x = (unsigned)(long)arg * 2654435761u + 1;
	void *keep[64] = { 0 };
	for (long i = 0; i < 1000000 * scale; i++) {
		x = x * 1103515245u + 12345u;
		unsigned k = (x >> 8) & 63;
		size_t size = (size_t)16 << ((x >> 16) % 13); /* 16 B .. 64 KiB */
		free(keep[k]);
		keep[k] = malloc(size);
		if (keep[k])
			((char *)keep[k])[0] = 1;
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	return arg;
}

static void mode_malloc(void)
{
	pthread_t t[3];
	for (long i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, churn, (void *)i);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
}

/* ---- pool ---- */

#define QCAP 64
static long q[QCAP];
static int qhead, qlen, qdone;
static pthread_mutex_t qm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qnot_empty = PTHREAD_COND_INITIALIZER, qnot_full = PTHREAD_COND_INITIALIZER;
static int report[2];

static void *pool_worker(void *arg)
{
	for (;;) {
		pthread_mutex_lock(&qm);
		while (qlen == 0 && !qdone)
			pthread_cond_wait(&qnot_empty, &qm);
		if (qlen == 0 && qdone) {
			pthread_mutex_unlock(&qm);
			break;
		}
		long item = q[qhead];
		qhead = (qhead + 1) % QCAP;
		qlen--;
		pthread_cond_signal(&qnot_full);
		pthread_mutex_unlock(&qm);
		volatile long acc = 0;
		for (long i = 0; i < 200; i++)
			acc += item * i;
		char c = 'x';
		if (write(report[1], &c, 1) != 1)
			break;
	}
	return arg;
}

static void *collector(void *arg)
{
	long want = (long)arg, got = 0;
	char buf[256];
	while (got < want) {
		ssize_t n = read(report[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		got += n;
	}
	return NULL;
}

static void mode_pool(void)
{
	long items = 100000 * scale;
	if (pipe(report) < 0)
		exit(1);
	pthread_t w[4], c;
	pthread_create(&c, NULL, collector, (void *)items);
	for (int i = 0; i < 4; i++)
		pthread_create(&w[i], NULL, pool_worker, NULL);
	for (long i = 0; i < items; i++) {
		pthread_mutex_lock(&qm);
		while (qlen == QCAP)
			pthread_cond_wait(&qnot_full, &qm);
		q[(qhead + qlen) % QCAP] = i;
		qlen++;
		pthread_cond_signal(&qnot_empty);
		pthread_mutex_unlock(&qm);
	}
	pthread_mutex_lock(&qm);
	qdone = 1;
	pthread_cond_broadcast(&qnot_empty);
	pthread_mutex_unlock(&qm);
	for (int i = 0; i < 4; i++)
		pthread_join(w[i], NULL);
	pthread_join(c, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_wl mutex|pingpong|malloc|pool [SCALE]\n");
		return 2;
	}
	if (argc > 2)
		scale = atol(argv[2]) > 0 ? atol(argv[2]) : 1;
	double t0 = now_s(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	if (strcmp(argv[1], "mutex") == 0)
		mode_mutex();
	else if (strcmp(argv[1], "pingpong") == 0)
		mode_pingpong();
	else if (strcmp(argv[1], "malloc") == 0)
		mode_malloc();
	else if (strcmp(argv[1], "pool") == 0)
		mode_pool();
	else {
		fprintf(stderr, "bench_wl: unknown mode %s\n", argv[1]);
		return 2;
	}
	double wall = now_s() - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	printf("%s %.6f %.6f\n", argv[1], wall, cpu);
	return 0;
}
