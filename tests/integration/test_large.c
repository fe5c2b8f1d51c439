/*
 * A synthetic trace of 50 million events (written through the format encoder) is
 * analysed by `ctrace stats` in bounded memory: the peak RSS of the analysis stays far
 * below the trace's size. Arguments: the ctrace binary, the synth generator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* Run @argv with stdout to /dev/null; @return its peak RSS in KiB. */
static long run_rss(char *const argv[], int *status)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	struct rusage ru;
	if (wait4(pid, status, 0, &ru) < 0)
		CT_FAIL("wait4 failed");
	return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		CT_FAIL("usage: test_large CTRACE SYNTH [EVENTS]");
	const char *events = argc > 3 ? argv[3] : "50000000";
	char *tmp = tt_tmpdir();
	char trace[4200];
	snprintf(trace, sizeof(trace), "%s/large.trace", tmp);
	char *gen[] = { argv[2], trace, (char *)events, "16", NULL };
	int st;
	run_rss(gen, &st);
	ASSERT_EQ(WEXITSTATUS(st), 0);
	struct stat sb;
	ASSERT_EQ(stat(trace, &sb), 0);

	char *stats[] = { argv[1], "stats", "--format=csv", trace, NULL };
	double t0 = now_s();
	long rss = run_rss(stats, &st);
	double dt = now_s() - t0;
	ASSERT_EQ(WEXITSTATUS(st), 0);
	double n = strtod(events, NULL);
	printf("stats on %s events (%.0f MiB trace): %.2f s, %.1f M events/s, peak RSS %ld KiB\n",
	       events, (double)sb.st_size / 1048576.0, dt, n / dt / 1e6, rss);
	/* Memory does not grow with the events: far under the trace's own size. */
	ASSERT_LT(rss, 100 * 1024);
	ASSERT_LT(rss * 1024L, sb.st_size / 4);
	tt_rmrf(tmp);
	return 0;
}
