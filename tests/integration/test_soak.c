/*
 * Soak: a traced program (preloaded http_target, driven to work without pause) captured
 * over HTTP every 3 seconds for SECONDS (default 30, the version the suite runs; the
 * documented long run is 600). Each capture must read back with no lost event; the
 * program's RSS, descriptors and threads, sampled after every capture, must stay flat.
 * Prints the figures at the end.
 * Arguments: the ctrace binary, the workloads build directory, libctrace.so [SECONDS].
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"
#include "tracetest.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Atomic int stop_driver;
static FILE *to_prog, *from_prog;
static _Atomic long units;

/* Keep the program working: a unit of work (pipe round trip, short sleep) after another. */
static void *driver(void *arg)
{
	char line[256];
	while (!stop_driver) {
		fprintf(to_prog, "work\n");
		fflush(to_prog);
		if (!fgets(line, sizeof(line), from_prog) || strncmp(line, "done ", 5) != 0)
			break;
		units++;
	}
	return arg;
}

static long long json_int(const char *json, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\":", key);
	const char *p = strstr(json, k);
	return p ? atoll(p + strlen(k)) : -1;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		CT_FAIL("usage: test_soak CTRACE WORKLOADS LIBCTRACE [SECONDS]");
	const char *ctrace_bin = argv[1];
	double seconds = argc > 4 ? atof(argv[4]) : 30;
	if (seconds < 6)
		seconds = 6;
	signal(SIGPIPE, SIG_IGN);
	char *tmp = tt_tmpdir();
	int port = tt_free_port();
	char addr[64], url[128], exe[4200];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "http://%s/debug/pprof/trace?seconds=1", addr);
	snprintf(exe, sizeof(exe), "%s/http_target", argv[2]);

	int in[2], out[2];
	if (pipe(in) < 0 || pipe(out) < 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		setenv("LD_PRELOAD", argv[3], 1);
		setenv("CTRACE_HTTP", addr, 1);
		execl(exe, exe, addr, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	to_prog = fdopen(in[1], "w");
	from_prog = fdopen(out[0], "r");
	char line[256];
	if (!fgets(line, sizeof(line), from_prog) || strncmp(line, "ready", 5) != 0)
		CT_FAIL("http_target did not start");
	pthread_t d;
	pthread_create(&d, NULL, driver, NULL);

	char cap[4300];
	snprintf(cap, sizeof(cap), "%s/soak.trace", tmp);
	long rss_first = -1, rss_max = 0, rss_last = 0;
	long thr_first = -1, thr_last = 0;
	int fds_first = -1, fds_last = 0;
	long long events = 0;
	int captures = 0;
	double end = now_s() + seconds;
	while (now_s() < end) {
		double t0 = now_s();
		char *curl[] = { "/usr/bin/curl", "-s", "-f", "-o", cap, url, NULL };
		int st = tt_run(curl, NULL, NULL);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			CT_FAIL("capture %d: curl failed (0x%x)", captures + 1, st);
		char *json = NULL;
		char *stats[] = { (char *)ctrace_bin, "stats", "--format=json", cap, NULL };
		st = tt_run(stats, NULL, &json);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			CT_FAIL("capture %d does not analyse", captures + 1);
		long long lost = json_int(json, "lost"), n = json_int(json, "events");
		if (lost != 0)
			CT_FAIL("capture %d lost %lld events", captures + 1, lost);
		ASSERT_GT(n, 0);
		events += n;
		free(json);
		captures++;
		rss_last = tt_status_field(pid, "VmRSS");
		thr_last = tt_status_field(pid, "Threads");
		fds_last = tt_count_fds(pid);
		if (captures == 2) { /* after the first capture opened what it keeps */
			rss_first = rss_last;
			thr_first = thr_last;
			fds_first = fds_last;
		}
		if (rss_last > rss_max)
			rss_max = rss_last;
		double left = 3 - (now_s() - t0);
		if (left > 0)
			usleep((useconds_t)(left * 1e6));
	}
	stop_driver = 1;
	pthread_join(d, NULL);
	fclose(to_prog);
	while (fgets(line, sizeof(line), from_prog))
		;
	fclose(from_prog);
	int st;
	waitpid(pid, &st, 0);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	printf("soak: %.0f s, %d captures, %lld events, %ld units of work, 0 lost\n", seconds,
	       captures, events, (long)units);
	printf("soak: RSS %ld kB after the 2nd capture, %ld kB at the end, %ld kB at most; "
	       "threads %ld -> %ld; fds %d -> %d\n",
	       rss_first, rss_last, rss_max, thr_first, thr_last, fds_first, fds_last);
	ASSERT_GE(captures, 2);
	ASSERT_EQ(thr_last, thr_first);
	ASSERT_EQ(fds_last, fds_first);
	ASSERT_LT(rss_last, rss_first + 8 * 1024);
	tt_rmrf(tmp);
	return 0;
}
