/* Workload: a thread sleeps 3 × 100 ms (nanosleep, usleep, clock_nanosleep). */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
	pthread_setname_np(pthread_self(), "napper");
	struct timespec ts = { 0, 100 * 1000000L };
	nanosleep(&ts, NULL);
	usleep(100 * 1000);
	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	return arg;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, sleeper, NULL);
	pthread_join(t, NULL);
	printf("sleeper: slept 3 times\n");
	return 0;
}
