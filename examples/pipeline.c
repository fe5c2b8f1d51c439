/*
 * The bundled example: a small request pipeline, the kind of program ctrace is for.
 *
 * An acceptor thread reads requests from a pipe and queues them; four workers take them
 * from a mutex + condvar queue, look them up in a shared cache behind one mutex (the
 * contended lock of the story), allocate a response, and "write it to disk" with a short
 * sleep. Every request is a ctrace task when the program is linked with -lctrace; under
 * `ctrace record` it runs unmodified. Runs for about one second.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define REQUESTS 400
#define QUEUE 64

static int req_pipe[2];
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_nonempty = PTHREAD_COND_INITIALIZER;
static uint32_t queue[QUEUE];
static int q_head, q_len, done;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t cache[256];
static unsigned long served;

static void spin_us(long us)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

static void *acceptor(void *arg)
{
	uint32_t req;
	pthread_setname_np(pthread_self(), "acceptor");
	while (read(req_pipe[0], &req, sizeof(req)) == sizeof(req)) {
		pthread_mutex_lock(&queue_lock);
		while (q_len == QUEUE) {
			pthread_mutex_unlock(&queue_lock);
			usleep(100);
			pthread_mutex_lock(&queue_lock);
		}
		queue[(q_head + q_len++) % QUEUE] = req;
		pthread_cond_signal(&queue_nonempty);
		pthread_mutex_unlock(&queue_lock);
	}
	pthread_mutex_lock(&queue_lock);
	done = 1;
	pthread_cond_broadcast(&queue_nonempty);
	pthread_mutex_unlock(&queue_lock);
	return arg;
}

/* The hot spot: every worker serializes on the cache lock while it "computes". */
__attribute__((noinline)) static uint64_t cache_lookup(uint32_t req)
{
	pthread_mutex_lock(&cache_lock);
	uint64_t v = cache[req % 256];
	if (!v) {
		spin_us(200);
		v = cache[req % 256] = (uint64_t)req * 2654435761u;
	}
	spin_us(30);
	pthread_mutex_unlock(&cache_lock);
	return v;
}

__attribute__((noinline)) static void write_response(uint64_t v)
{
	char *resp = malloc(64 * 1024);
	if (!resp)
		return;
	memset(resp, (int)(v & 0xff), 64 * 1024);
	usleep(500); /* the disk */
	free(resp);
}

static void *worker(void *arg)
{
	char name[16];
	snprintf(name, sizeof(name), "worker-%ld", (long)(intptr_t)arg);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		pthread_mutex_lock(&queue_lock);
		while (!q_len && !done)
			pthread_cond_wait(&queue_nonempty, &queue_lock);
		if (!q_len && done) {
			pthread_mutex_unlock(&queue_lock);
			return NULL;
		}
		uint32_t req = queue[q_head];
		q_head = (q_head + 1) % QUEUE;
		q_len--;
		pthread_mutex_unlock(&queue_lock);
		write_response(cache_lookup(req));
		__atomic_add_fetch(&served, 1, __ATOMIC_RELAXED);
	}
}

int main(void)
{
	pthread_t acc, w[WORKERS];
	if (pipe(req_pipe) < 0)
		return 1;
	pthread_create(&acc, NULL, acceptor, NULL);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&w[i], NULL, worker, (void *)(intptr_t)i);
	for (uint32_t i = 0; i < REQUESTS; i++) {
		if (write(req_pipe[1], &i, sizeof(i)) != sizeof(i))
			return 1;
		if (i % 8 == 7)
			usleep(8000); /* clients arrive in bursts */
	}
	close(req_pipe[1]);
	pthread_join(acc, NULL);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(w[i], NULL);
	printf("pipeline: served %lu requests\n", served);
	return 0;
}
