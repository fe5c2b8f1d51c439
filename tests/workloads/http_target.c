/*
 * Workload for the HTTP endpoint tests: a long-running "server".
 *   - "early" does some work at start and exits before any capture;
 *   - "stuck" blocks in read() on a pipe nobody writes to, from the start;
 *   - "worker" reads commands from stdin: "work" makes it do a recognisable unit of work
 *     (a pipe round trip through "helper" and a short sleep) and answer "done N";
 *     "flood" makes it issue many cheap calls for argv-given seconds; EOF ends the program.
 * With -DLINKED it is linked with libctrace and starts the endpoint itself at argv[1];
 * otherwise it runs unmodified and gets the endpoint from LD_PRELOAD + CTRACE_HTTP.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef LINKED
#include <ctrace/ctrace.h>
#endif

static int stuck_pipe[2], to_helper[2], from_helper[2];

static void *early(void *arg)
{
	pthread_setname_np(pthread_self(), "early");
	for (int i = 0; i < 20; i++)
		usleep(1000);
	return arg;
}

static void *stuck(void *arg)
{
	char c;
	pthread_setname_np(pthread_self(), "stuck");
	if (read(stuck_pipe[0], &c, 1) < 0)
		return NULL;
	return arg;
}

static void *helper(void *arg)
{
	char c;
	pthread_setname_np(pthread_self(), "helper");
	while (read(to_helper[0], &c, 1) == 1)
		if (write(from_helper[1], &c, 1) != 1)
			break;
	return arg;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
#ifdef LINKED
	if (argc < 2 || ctrace_http_start(argv[1]) != 0)
		return 3;
#endif
	(void)argc;
	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(stuck_pipe) < 0 || pipe(to_helper) < 0 || pipe(from_helper) < 0)
		return 1;
	pthread_setname_np(pthread_self(), "worker");
	pthread_t t[3];
	pthread_create(&t[0], NULL, early, NULL);
	pthread_join(t[0], NULL);
	pthread_create(&t[1], NULL, stuck, NULL);
	pthread_create(&t[2], NULL, helper, NULL);
	printf("ready\n");

	char line[128];
	int devnull = open("/dev/null", O_WRONLY);
	long works = 0;
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "work", 4) == 0) {
			char c = 'x';
			if (write(to_helper[1], &c, 1) != 1 || read(from_helper[0], &c, 1) != 1)
				return 1;
			usleep(2000);
			printf("done %ld\n", ++works);
		} else if (strncmp(line, "flood", 5) == 0) {
			double until = now() + atof(line + 5);
			while (now() < until)
				for (int i = 0; i < 1000; i++)
					if (write(devnull, "x", 1) != 1)
						return 1;
			printf("flooded\n");
		}
	}
	printf("bye %ld\n", works);
	return 0;
}
