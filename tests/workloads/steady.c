/*
 * A steady stream of events from the first instant: a thread signals a condition variable
 * nobody waits on, RATE times a second for SECONDS, paced, while the main thread waits for
 * it in pthread_join (a blocking call with a stack, which the writer must symbolize).
 * Prints "sent N".
 * Usage: steady RATE SECONDS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
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

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc != 3 || (rate = atof(argv[1])) <= 0 || (seconds = atof(argv[2])) <= 0) {
		fprintf(stderr, "usage: steady RATE SECONDS\n");
		return 2;
	}
	pthread_create(&t, NULL, emit, NULL);
	pthread_join(t, NULL);
	printf("sent %ld\n", sent);
	return 0;
}
