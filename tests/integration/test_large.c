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

/* `ctrace stats --format=json --jobs=@jobs @trace`: its output and, after it, its status. */
static char *stats_json(const char *ctrace, const char *trace, const char *jobs, int *status)
{
	char *out = NULL;
	char *argv[] = { (char *)ctrace, "stats", "--format=json", (char *)jobs, (char *)trace,
			 NULL };
	*status = tt_run(argv, NULL, &out);
	ASSERT_TRUE(out != NULL);
	return out;
}

/* Generations loaded ahead on other threads change nothing: the same numbers, the same
 * warnings, the same stop where the trace is cut. */
static void check_jobs_same(const char *ctrace, const char *trace, off_t cut)
{
	if (cut)
		ASSERT_EQ(truncate(trace, cut), 0);
	int s0, s3, s1;
	char *a = stats_json(ctrace, trace, "--jobs=0", &s0);
	char *b = stats_json(ctrace, trace, "--jobs=3", &s3);
	char *c = stats_json(ctrace, trace, "--jobs=1", &s1);
	ASSERT_EQ(s0, 0);
	ASSERT_EQ(s3, s0);
	ASSERT_EQ(s1, s0);
	ASSERT_TRUE(strlen(a) > 100);
	if (strcmp(a, b) != 0 || strcmp(a, c) != 0)
		CT_FAIL("stats differ between --jobs=0 and --jobs=1/3%s", cut ? " on a cut trace" : "");
	if (cut && !strstr(a, "the analysis covers what came before"))
		CT_FAIL("the cut trace gives no warning: %.300s", a);
	free(a);
	free(b);
	free(c);
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

	check_jobs_same(argv[1], trace, 0);
	check_jobs_same(argv[1], trace, sb.st_size * 2 / 3); /* inside a generation */
	tt_rmrf(tmp);
	return 0;
}
