/*
 * Analysis throughput: `ctrace stats` on a synthetic trace of 50 million events (16
 * threads, written through the format encoder by synth). Runs, interleaved and repeated,
 * the analysis pinned to one CPU with no loader threads (--jobs=0: one core), and free on
 * every CPU with its default loaders; prints the median wall time, events per second and
 * peak RSS of each, and the spread. Figures, not pass/fail: the machine is noisy. The CPU
 * time (user + system) and events per CPU second are printed too: on a machine shared with
 * other work, the pinned run waits for its CPU and its wall time says more about the load
 * than about ctrace, while its CPU time is still the work done on one core.
 * Usage: bench_analysis CTRACE SYNTH [EVENTS]
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

#define REPS 5

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Run @argv (stdout to /dev/null), pinned to CPU 0 when @pin; wall and CPU seconds, peak RSS. */
static int run(char *const argv[], int pin, double *secs, double *cpu, long *rss_kib)
{
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (pin) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(0, &set);
			if (sched_setaffinity(0, sizeof(set), &set) < 0)
				_exit(125);
		}
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	*secs = now_s() - t0;
	*cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
	*rss_kib = ru.ru_maxrss;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_analysis CTRACE SYNTH [EVENTS]\n");
		return 2;
	}
	const char *events = argc > 3 ? argv[3] : "50000000";
	char dir[] = "/tmp/ctrace-bench-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("bench_analysis: mkdtemp");
		return 1;
	}
	char trace[64];
	snprintf(trace, sizeof(trace), "%s/synth.trace", dir);
	char *gen[] = { argv[2], trace, (char *)events, "16", NULL };
	double secs, cpu;
	long rss;
	if (run(gen, 0, &secs, &cpu, &rss) < 0) {
		fprintf(stderr, "bench_analysis: synth failed\n");
		return 1;
	}
	struct stat sb;
	stat(trace, &sb);
	double n = strtod(events, NULL);

	char *one[] = { argv[1], "stats", "--jobs=0", trace, NULL };
	char *all[] = { argv[1], "stats", trace, NULL };
	double t[2][REPS], c[2][REPS];
	long peak[2] = { 0, 0 };
	for (int i = 0; i < REPS; i++) {
		for (int k = 0; k < 2; k++) {
			if (run(k == 0 ? one : all, k == 0, &t[k][i], &c[k][i], &rss) < 0) {
				fprintf(stderr, "bench_analysis: ctrace stats failed\n");
				return 1;
			}
			if (rss > peak[k])
				peak[k] = rss;
		}
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	printf("ctrace stats on %.0f M synthetic events (%.0f MiB trace), median of %d "
	       "interleaved runs:\n", n / 1e6, (double)sb.st_size / 1048576.0, REPS);
	printf("%-34s %8s %14s %10s %16s %8s %14s\n", "", "wall", "events/s", "peak RSS",
	       "spread (min-max)", "CPU", "events/CPU-s");
	for (int k = 0; k < 2; k++) {
		qsort(t[k], REPS, sizeof(double), bench_cmp_d);
		qsort(c[k], REPS, sizeof(double), bench_cmp_d);
		double med = t[k][REPS / 2], cmed = c[k][REPS / 2];
		char label[64];
		if (k == 0)
			snprintf(label, sizeof(label), "one core (--jobs=0, pinned)");
		else
			snprintf(label, sizeof(label), "all cores (%ld CPUs, default jobs)", cpus);
		printf("%-34s %7.2fs %11.1f M/s %7.1f MiB %7.2f-%.2fs %7.2fs %11.1f M/s\n", label, med,
		       n / med / 1e6, (double)peak[k] / 1024.0, t[k][0], t[k][REPS - 1], cmed,
		       n / cmed / 1e6);
	}
	unlink(trace);
	rmdir(dir);
	return 0;
}
