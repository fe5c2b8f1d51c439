/*
 * Workload with a known answer per mode, for the model's ground-truth tests:
 *   sleep   a thread "subject" sleeps 300 ms
 *   spin    a thread "subject" spins on the CPU for 300 ms
 *   pipe    a thread "subject" blocks 200 ms reading an empty pipe
 *   mutex   two threads "subject" contend on one mutex (each holds it 5 ms, 20 times)
 *   queue   three threads "subject" spin 300 ms of CPU each, pinned to one CPU
 */

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *mode;

static long now_us(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void spin_us(clockid_t clk, long us)
{
	long end = now_us(clk) + us;
	while (now_us(clk) < end)
		;
}

static void *subject(void *arg)
{
	pthread_setname_np(pthread_self(), "subject");
	if (!strcmp(mode, "sleep")) {
		usleep(300000);
	} else if (!strcmp(mode, "spin")) {
		spin_us(CLOCK_MONOTONIC, 300000);
	} else if (!strcmp(mode, "pipe")) {
		char c;
		if (read(fds[0], &c, 1) != 1)
			return NULL;
	} else if (!strcmp(mode, "mutex")) {
		for (int i = 0; i < 20; i++) {
			pthread_mutex_lock(&lock);
			spin_us(CLOCK_MONOTONIC, 5000);
			pthread_mutex_unlock(&lock);
			/* Let the other one in: a handoff, so nearly every lock contends. */
			usleep(100);
		}
	} else if (!strcmp(mode, "queue")) {
		spin_us(CLOCK_THREAD_CPUTIME_ID, 300000);
	}
	return arg;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	mode = argv[1];
	int n = !strcmp(mode, "mutex") ? 2 : !strcmp(mode, "queue") ? 3 : 1;
	if (pipe(fds) < 0)
		return 1;
	if (!strcmp(mode, "queue")) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(0, &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	pthread_t t[3];
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, subject, NULL);
	if (!strcmp(mode, "pipe")) {
		usleep(200000);
		if (write(fds[1], "x", 1) != 1)
			return 1;
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("ground %s: done\n", mode);
	return 0;
}
