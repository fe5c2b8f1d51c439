/*
 * The LTTng sink's cost per event against the native recorder's, in one run: the same
 * event (pthread_cond_signal with no waiter: one `wake` event of 2 arguments) timed in
 * child processes of this program, one per sink, each linked with libctrace and started
 * with CTRACE_SINK set:
 *   native  CTRACE_SINK=native, CTRACE_OUT to a temporary file
 *   lttng   CTRACE_SINK=lttng, into an LTTng session with ctrace:* enabled
 *   lttng, no session   CTRACE_SINK=lttng, tracepoints disabled (no session listening)
 * Each child prints the median over REPS runs of ns per event above the bare libc call.
 * The LTTng rows need root and lttng-tools: this program starts lttng-sessiond when none
 * runs (and stops only that one), and uses a session of its own.
 * Run with `meson test -C build --benchmark --verbose` or directly: bench_lttng.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#include "benchlib.h"

#define REPS 7
#define N 200000

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* Child: ns per event (traced signal minus bare signal), median of REPS. */
static int child(void)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	int (*bare)(pthread_cond_t *) =
		libc ? (int (*)(pthread_cond_t *))dlvsym(libc, "pthread_cond_signal", "GLIBC_2.3.2")
		     : NULL;
	if (!bare || !ctrace_enabled()) {
		fprintf(stderr, "bench_lttng: tracing is not on in the child\n");
		return 1;
	}
	double d[REPS];
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = bench_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < N; i++)
			bare(&cv);
		uint64_t t1 = bench_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < N; i++)
			pthread_cond_signal(&cv);
		uint64_t t2 = bench_ns(CLOCK_MONOTONIC);
		d[r] = ((double)(t2 - t1) - (double)(t1 - t0)) / N;
		usleep(20000); /* let the writer or LTTng's consumer drain */
	}
	qsort(d, REPS, sizeof(d[0]), bench_cmp_d);
	printf("%.2f\n", d[REPS / 2]);
	return 0;
}

static int sh(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Run this program as a child with @env; its figure, or -1. */
static double run(const char *self, const char *env)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "%s %s --child", env, self);
	FILE *p = popen(cmd, "r");
	double v = -1;
	if (!p)
		return -1;
	if (fscanf(p, "%lf", &v) != 1)
		v = -1;
	return pclose(p) == 0 ? v : -1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child();
	char dir[] = "/tmp/ctrace-bench-lttng-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char env[8192], cmd[8192];
	snprintf(env, sizeof(env), "CTRACE_SINK=native CTRACE_THREAD_BUFFER=16M CTRACE_OUT=%s/n.trace",
		 dir);
	double native = run(argv[0], env);
	double nosession = run(argv[0], "CTRACE_SINK=lttng");
	double lttng = -1;
	int our_sessiond = 0, live = 0;
	const char *why = NULL;
	if (geteuid() != 0 || sh("command -v lttng-sessiond >/dev/null") != 0) {
		why = "needs root and lttng-tools";
	} else {
		if (sh("lttng -n list >/dev/null 2>&1") != 0) {
			snprintf(cmd, sizeof(cmd),
				 "lttng-sessiond --daemonize --pidfile=%s/sd.pid >/dev/null 2>&1", dir);
			our_sessiond = sh(cmd) == 0;
			for (int i = 0; i < 50 && sh("lttng -n list >/dev/null 2>&1") != 0; i++)
				usleep(100000);
		}
		snprintf(cmd, sizeof(cmd),
			 "lttng -n create ctrace-bench-%d --output=%s/ctf >/dev/null && "
			 "lttng -n enable-channel -u -s ctrace-bench-%d --subbuf-size=4M --num-subbuf=8 "
			 "big >/dev/null && "
			 "lttng -n enable-event -u -s ctrace-bench-%d -c big 'ctrace:*' >/dev/null && "
			 "lttng -n start ctrace-bench-%d >/dev/null",
			 (int)getpid(), dir, (int)getpid(), (int)getpid(), (int)getpid());
		live = sh(cmd) == 0;
		if (live)
			lttng = run(argv[0], "CTRACE_SINK=lttng");
		else
			why = "cannot create an LTTng session";
		snprintf(cmd, sizeof(cmd), "lttng -n destroy ctrace-bench-%d >/dev/null 2>&1",
			 (int)getpid());
		if (live)
			sh(cmd);
		if (our_sessiond) {
			snprintf(cmd, sizeof(cmd), "kill $(cat %s/sd.pid) 2>/dev/null", dir);
			sh(cmd);
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	sh(cmd);
	printf("ctrace sinks: ns per event (pthread_cond_signal, one wake event, minus bare), "
	       "median of %d\n", REPS);
	printf("%-44s %8.2f\n", "native recorder", native);
	printf("%-44s %8.2f\n", "LTTng sink, no session listening", nosession);
	if (lttng >= 0)
		printf("%-44s %8.2f\n", "LTTng sink, session with ctrace:* enabled", lttng);
	else
		printf("%-44s %8s  (%s)\n", "LTTng sink, session with ctrace:* enabled", "-",
		       why ? why : "failed");
	if (lttng > 0 && native > 0)
		printf("native is %.1fx cheaper per event than the LTTng sink\n", lttng / native);
	return native < 0 || nosession < 0;
}
