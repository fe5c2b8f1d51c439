/*
 * Workload linked with -lctrace: traces only what happens between ctrace_start() and
 * ctrace_stop(), into the file named by argv[1].
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

static void *worker(void *arg)
{
	pthread_setname_np(pthread_self(), (const char *)arg);
	return NULL;
}

static void run(const char *name)
{
	pthread_t t;
	pthread_create(&t, NULL, worker, (void *)name);
	pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	run("before");
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 2;
	if (ctrace_start(fd) != 0)
		return 3;
	if (ctrace_start(fd) != CTRACE_EBUSY)
		return 4;
	run("during");
	if (ctrace_stop() != 0)
		return 5;
	if (ctrace_stop() != CTRACE_ENOTRUNNING)
		return 6;
	run("after");
	close(fd);
	printf("linked_api: ok\n");
	return 0;
}
