/*
 * Workload linked with -lctrace: traces only what happens between ctrace_start() and
 * ctrace_stop(), into the file named by argv[1] (and more, with a round count).
 */
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

/*
 * The "before" thread leaves with a private file table of eventfds: closing them keeps it
 * exiting, still listed in /proc/self/task, for milliseconds after pthread_join returns,
 * and the capture that starts right then must not take it for a live thread.
 */
static void *worker(void *arg)
{
	pthread_setname_np(pthread_self(), (const char *)arg);
	if (strcmp((const char *)arg, "before") == 0 && unshare(CLONE_FILES) == 0)
		for (int i = 0; i < 2000; i++)
			if (eventfd(0, 0) < 0)
				break;
	return NULL;
}

static void run(const char *name)
{
	pthread_t t;
	pthread_create(&t, NULL, worker, (void *)name);
	pthread_join(t, NULL);
}

/* One round: a thread before the capture, one during it, one after it, into @path. */
static int round_into(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 2;
	run("before");
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
	return 0;
}

/*
 * linked_api PATH [ROUNDS]: round 0 into PATH, round i into PATH.i. A thread just joined
 * is still listed by the kernel for a moment, exiting, so that many rounds give a capture's
 * start many chances to take the exiting "before" thread for a live one.
 */
int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	for (int i = 0; i < rounds; i++) {
		char path[4096];
		if (i == 0)
			snprintf(path, sizeof(path), "%s", argv[1]);
		else
			snprintf(path, sizeof(path), "%s.%d", argv[1], i);
		int rc = round_into(path);
		if (rc)
			return rc;
	}
	printf("linked_api: ok\n");
	return 0;
}
