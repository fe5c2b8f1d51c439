/*
 * What the CPU profile costs a CPU-bound program: a fixed amount of arithmetic timed in
 * rounds, alternately with no profile running and inside a 100 Hz CPU profile
 * (/debug/pprof/profile, fetched by a second thread over a plain socket), on the thread's
 * own CPU clock (what the signal handler adds is on it; other processes' load mostly is
 * not). Prints the median of each and the overhead; figures, not pass/fail.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#include "benchlib.h"

#define REPS 7

static int port;
static volatile unsigned long sink;

static __attribute__((noinline)) void work(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink = sink * 31 + i;
}

static double timed(unsigned long n)
{
	uint64_t t0 = bench_ns(CLOCK_THREAD_CPUTIME_ID);
	work(n);
	return (double)(bench_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e6;
}

static size_t profile_bytes;

/* GET /debug/pprof/profile?seconds=2 and count the bytes of the answer. */
static void *fetch(void *arg)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	profile_bytes = 0;
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
		return arg;
	static const char req[] = "GET /debug/pprof/profile?seconds=2 HTTP/1.0\r\n\r\n";
	if (write(s, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1) {
		char buf[65536];
		ssize_t n;
		while ((n = read(s, buf, sizeof(buf))) > 0)
			profile_bytes += (size_t)n;
	}
	close(s);
	return arg;
}

int main(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) < 0)
		return 1;
	port = ntohs(a.sin_port);
	close(s);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if (ctrace_http_start(addr) != 0) {
		fprintf(stderr, "cannot start the endpoint\n");
		return 1;
	}

	/* Calibrate a round to about 0.5 s of CPU. */
	unsigned long n = 10000000;
	while (timed(n) < 100)
		n *= 2;
	n *= 5;

	double off[REPS], on[REPS];
	for (int rep = 0; rep < REPS; rep++) {
		off[rep] = timed(n);
		pthread_t t;
		pthread_create(&t, NULL, fetch, NULL);
		usleep(200000); /* the timers are armed */
		on[rep] = timed(n);
		pthread_join(t, NULL);
		if (profile_bytes < 100) {
			fprintf(stderr, "no CPU profile came back\n");
			return 1;
		}
	}
	qsort(off, REPS, sizeof(double), bench_cmp_d);
	qsort(on, REPS, sizeof(double), bench_cmp_d);
	double m_off = off[REPS / 2], m_on = on[REPS / 2];
	printf("CPU profile at 100 Hz, CPU-bound thread, median of %d interleaved rounds\n", REPS);
	printf("%-40s %10s %10s %10s\n", "round", "off (ms)", "on (ms)", "overhead");
	printf("%-40s %10.1f %10.1f %9.2f%%\n", "arithmetic loop, thread CPU time", m_off, m_on,
	       100.0 * (m_on - m_off) / m_off);
	ctrace_http_stop();
	return 0;
}
