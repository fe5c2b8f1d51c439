/*
 * A steady stream of events from the first instant: a thread signals a condition variable
 * nobody waits on, RATE times a second for SECONDS, paced, while the main thread waits for
 * it in pthread_join (a blocking call with a stack, which the writer must symbolize).
 * With THREADS, halfway through that many more threads start, each signals once, and they
 * end together (all alive at once). Prints "sent N" (the stream's signals).
 * Usage: steady RATE SECONDS [THREADS]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t all_up;
static double rate, seconds;
static long sent;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *emit(void *arg)
{
	(void)arg;
	double start = now_s();
	for (;;) {
		double t = now_s() - start;
		if (t >= seconds)
			break;
		/* Catch up with the schedule in steps of 100, then wait for it. */
		while (sent < (long)(t * rate)) {
			for (int i = 0; i < 100; i++)
				pthread_cond_signal(&cv);
			sent += 100;
		}
	}
	return NULL;
}

static void *once(void *arg)
{
	(void)arg;
	pthread_cond_signal(&cv);
	pthread_barrier_wait(&all_up);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t, more[256];
	int threads = argc > 3 ? atoi(argv[3]) : 0;
	if (argc < 3 || argc > 4 || (rate = atof(argv[1])) <= 0 ||
	    (seconds = atof(argv[2])) <= 0 || threads < 0 || threads > 256) {
		fprintf(stderr, "usage: steady RATE SECONDS [THREADS (0 to 256)]\n");
		return 2;
	}
	pthread_create(&t, NULL, emit, NULL);
	if (threads) {
		struct timespec half = { (time_t)(seconds / 2),
					 (long)((seconds / 2 - (time_t)(seconds / 2)) * 1e9) };
		nanosleep(&half, NULL);
		pthread_barrier_init(&all_up, NULL, (unsigned)threads);
		for (int i = 0; i < threads; i++)
			pthread_create(&more[i], NULL, once, NULL);
		for (int i = 0; i < threads; i++)
			pthread_join(more[i], NULL);
	}
	pthread_join(t, NULL);
	printf("sent %ld\n", sent);
	return 0;
}
