/*
 * Workload: 4 threads take one mutex 2000 times each, holding it 20 µs of spinning, so
 * most acquisitions are contended. A second mutex is only ever taken by the main thread,
 * uncontended, 1000 times: it must record nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define THREADS 4
#define ITERS 2000

static pthread_mutex_t contended = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lonely = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void spin_us(long us)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

__attribute__((noinline)) static void contend_on_lock(void)
{
	for (int i = 0; i < ITERS; i++) {
		pthread_mutex_lock(&contended);
		counter++;
		spin_us(20);
		pthread_mutex_unlock(&contended);
	}
}

static void *worker(void *arg)
{
	contend_on_lock();
	return arg;
}

int main(void)
{
	pthread_t t[THREADS];
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&lonely);
		pthread_mutex_unlock(&lonely);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("mutex_contend: counter=%ld lonely=%p\n", counter, (void *)&lonely);
	return 0;
}
