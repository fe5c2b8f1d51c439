/*
 * Workload: N (default 3) threads spin on the CPU for argv[1] ms (default 1000), all
 * pinned to the CPUs given by argv[2] (a count: the first K CPUs, default 2), so they
 * must queue for the CPU.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long ms = 1000;
static volatile unsigned long sink;

static void *spin(void *arg)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	unsigned long x = 0;
	do {
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005ull + 1;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	} while (b.tv_sec * 1000L + b.tv_nsec / 1000000L < ms);
	sink = x;
	(void)a;
	return arg;
}

int main(int argc, char **argv)
{
	int cpus = 2, threads = 3;
	if (argc > 1)
		ms = atol(argv[1]);
	if (argc > 2)
		cpus = atoi(argv[2]);
	if (argc > 3)
		threads = atoi(argv[3]);
	cpu_set_t set;
	CPU_ZERO(&set);
	for (int i = 0; i < cpus; i++)
		CPU_SET(i, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("sched_setaffinity");
	pthread_t t[64];
	for (int i = 0; i < threads && i < 64; i++)
		pthread_create(&t[i], NULL, spin, NULL);
	for (int i = 0; i < threads && i < 64; i++)
		pthread_join(t[i], NULL);
	printf("cpu_bound: %d threads spun %ld ms of CPU each\n", threads, ms);
	return 0;
}
