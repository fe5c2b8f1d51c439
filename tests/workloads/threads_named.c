/*
 * Workload: 8 threads that name themselves "worker-N" and exit on their own at staggered
 * times; the main thread joins them. Prints a known line and exits with status 3.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *worker(void *arg)
{
	long i = (long)arg;
	char name[16];
	snprintf(name, sizeof(name), "worker-%ld", i);
	pthread_setname_np(pthread_self(), name);
	usleep((useconds_t)(2000 * (i + 1)));
	return NULL;
}

int main(void)
{
	pthread_t t[8];
	for (long i = 0; i < 8; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
			return 1;
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	printf("threads_named: 8 workers done\n");
	return 3;
}
