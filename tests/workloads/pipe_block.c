/*
 * Workload: a reader thread blocks on an empty pipe; the main thread writes 5 bytes after
 * 200 ms. The read returns 5.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int fds[2];

__attribute__((noinline)) static ssize_t wait_for_data(char *buf, size_t n)
{
	return read(fds[0], buf, n);
}

static void *reader(void *arg)
{
	char buf[16];
	pthread_setname_np(pthread_self(), "reader");
	ssize_t n = wait_for_data(buf, sizeof(buf));
	printf("pipe_block: read %zd bytes\n", n);
	return arg;
}

int main(void)
{
	if (pipe(fds) < 0)
		return 1;
	pthread_t t;
	pthread_create(&t, NULL, reader, NULL);
	struct timespec ts = { 0, 200 * 1000000L };
	nanosleep(&ts, NULL);
	if (write(fds[1], "hello", 5) != 5)
		return 1;
	pthread_join(t, NULL);
	return 0;
}
