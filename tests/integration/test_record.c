/*
 * Record real programs with `ctrace record` (and with CTRACE_OUT by hand) and check their
 * traces through the reader API.
 * Arguments: the ctrace binary, the workloads build directory, libctrace.so.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctest.h"
#include "tracetest.h"

static const char *ctrace_bin, *wl_dir, *lib;
static char *tmp;

static char *wl(const char *name)
{
	static char buf[8][4096];
	static int i;
	char *b = buf[i++ % 8];
	snprintf(b, 4096, "%s/%s", wl_dir, name);
	return b;
}

static char *tmpfile_path(const char *name)
{
	static char buf[8][4096];
	static int i;
	char *b = buf[i++ % 8];
	snprintf(b, 4096, "%s/%s", tmp, name);
	return b;
}

static void eight_named_threads(void)
{
	char *out;
	char *trace = tmpfile_path("named.trace");
	char *argv[] = { (char *)ctrace_bin, "record", "-q", "-o", trace, "--",
			 wl("threads_named"), NULL };
	int st = tt_run(argv, NULL, &out);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 3);
	ASSERT_STREQ(out, "threads_named: 8 workers done\n");
	free(out);

	struct tt_trace t;
	ASSERT_EQ(tt_load(trace, &t), 0);
	ASSERT_EQ(t.npids, 1);
	int pairs = 0;
	for (size_t i = 0; i < t.nthreads; i++) {
		struct tt_thread *th = &t.threads[i];
		ASSERT_EQ(th->nonmonotonic, 0);
		if (th->existing)
			continue;
		ASSERT_EQ(th->starts, 1);
		ASSERT_EQ(th->ends, 1);
		ASSERT_UEQ(th->end_how, CTRACE_END_RETURN);
		pairs++;
	}
	ASSERT_EQ(pairs, 8);
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "worker-%d", i);
		struct tt_thread *th = tt_find_name(&t, name);
		if (!th)
			CT_FAIL("no thread named %s", name);
		ASSERT_EQ(th->starts, 1);
		ASSERT_EQ(th->ends, 1);
	}
	/* The main thread existed before tracing; it ends with the process. */
	ASSERT_UEQ(t.counts[CTRACE_EV_THREAD_CREATE], 8);
	tt_free(&t);
}

/* Tracing changes neither the output nor the exit status. */
static void output_and_status_unchanged(void)
{
	char *plain, *traced;
	char *argv[] = { wl("threads_named"), NULL };
	int st1 = tt_run(argv, NULL, &plain);
	char *rec[] = { (char *)ctrace_bin, "record", "-q", "-o", tmpfile_path("same.trace"), "--",
			wl("threads_named"), NULL };
	int st2 = tt_run(rec, NULL, &traced);
	ASSERT_STREQ(traced, plain);
	ASSERT_EQ(st1, st2);
	free(plain);
	free(traced);

	char *f1[] = { wl("fork_exec"), wl("fork_exec"), NULL };
	st1 = tt_run(f1, NULL, &plain);
	char *f2[] = { (char *)ctrace_bin, "record", "-q", "-o", tmpfile_path("same2.trace"),
		       "--", wl("fork_exec"), wl("fork_exec"), NULL };
	st2 = tt_run(f2, NULL, &traced);
	ASSERT_STREQ(traced, plain);
	ASSERT_EQ(st1, st2);
	free(plain);
	free(traced);
}

static void fork_and_exec_are_both_in_the_trace(void)
{
	char *out;
	char *trace = tmpfile_path("fork.trace");
	char *argv[] = { (char *)ctrace_bin, "record", "-q", "-o", trace, "--", wl("fork_exec"),
			 wl("fork_exec"), NULL };
	int st = tt_run(argv, NULL, &out);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_TRUE(strstr(out, "fork_exec: exec'd side ran\n") != NULL);
	ASSERT_TRUE(strstr(out, "fork_exec: child exited 0\n") != NULL);
	free(out);

	struct tt_trace t;
	ASSERT_EQ(tt_load(trace, &t), 0);
	/* parent, forked child (same pid as its exec'd image: two streams, one pid) */
	ASSERT_EQ(t.npids, 2);
	ASSERT_TRUE(tt_find_name(&t, "forked") != NULL);
	ASSERT_TRUE(tt_find_name(&t, "exec-child-t") != NULL);
	ASSERT_GE(t.counts[CTRACE_EV_EXEC], 1);
	for (size_t i = 0; i < t.nthreads; i++)
		ASSERT_EQ(t.threads[i].nonmonotonic, 0);
	tt_free(&t);
}

/* A process killed by SIGKILL keeps every generation it finished. */
static void sigkill_keeps_finished_generations(void)
{
	char *trace = tmpfile_path("killed.trace");
	char *argv[] = { (char *)ctrace_bin, "record", "-q", "-o", trace, "--", wl("killed"),
			 "1300", NULL };
	char *env[] = { "CTRACE_GEN_PERIOD=200ms", NULL };
	int st = tt_run(argv, env, NULL);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 128 + SIGKILL);

	struct tt_trace t;
	ASSERT_EQ(tt_load(trace, &t), 0); /* record dropped the incomplete generation */
	ASSERT_GE(t.generations, 3);
	ASSERT_GT(t.counts[CTRACE_EV_THREAD_START], 10);
	tt_free(&t);

	/* By hand, with CTRACE_OUT: the file ends wherever the kill struck. */
	char *direct = tmpfile_path("killed-direct.trace");
	char preload[4200], out[4200];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	snprintf(out, sizeof(out), "CTRACE_OUT=%s", direct);
	char *env2[] = { preload, out, "CTRACE_GEN_PERIOD=200ms", NULL };
	char *argv2[] = { wl("killed"), "1300", NULL };
	st = tt_run(argv2, env2, NULL);
	ASSERT_TRUE(WIFSIGNALED(st));
	ASSERT_EQ(WTERMSIG(st), SIGKILL);
	int rc = tt_load(direct, &t);
	if (rc != 0) {
		ASSERT_EQ(rc, CTRACE_ETRUNCATED);
		ASSERT_TRUE(strstr(t.msg, "byte offset") != NULL);
	}
	ASSERT_GE(t.generations, 3);
	tt_free(&t);
}

/* Rounds of before / start / during / stop / after; a thread joined just before a start is
 * never in that capture. */
#define LINKED_ROUNDS 10

static void linked_program_controls_tracing(void)
{
	char *trace = tmpfile_path("linked.trace");
	char rounds[16], *out;
	snprintf(rounds, sizeof(rounds), "%d", LINKED_ROUNDS);
	char *argv[] = { wl("linked_api"), trace, rounds, NULL };
	int st = tt_run(argv, NULL, &out);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_STREQ(out, "linked_api: ok\n");
	free(out);
	for (int i = 0; i < LINKED_ROUNDS; i++) {
		char path[4200];
		if (i == 0)
			snprintf(path, sizeof(path), "%s", trace);
		else
			snprintf(path, sizeof(path), "%s.%d", trace, i);
		struct tt_trace t;
		ASSERT_EQ(tt_load(path, &t), 0);
		ASSERT_TRUE(tt_find_name(&t, "during") != NULL);
		ASSERT_TRUE(tt_find_name(&t, "before") == NULL);
		ASSERT_TRUE(tt_find_name(&t, "after") == NULL);
		ASSERT_UEQ(t.counts[CTRACE_EV_THREAD_CREATE], 1);
		tt_free(&t);
	}
}

/* CTRACE_OUT=PATH by hand: the process writes PATH, a forked child PATH.PID. */
static void ctrace_out_by_hand(void)
{
	char *trace = tmpfile_path("hand.trace");
	char preload[4200], out[4200];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	snprintf(out, sizeof(out), "CTRACE_OUT=%s", trace);
	char *env[] = { preload, out, NULL };
	char *argv[] = { wl("fork_exec"), wl("fork_exec"), NULL };
	int st = tt_run(argv, env, NULL);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	struct tt_trace t;
	ASSERT_EQ(tt_load(trace, &t), 0);
	ASSERT_EQ(t.npids, 1);
	tt_free(&t);
	/* The child's streams: PATH.PID (forked) and PATH.PID.PID (its exec'd image). */
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "ls %s/hand.trace.* | wc -l", tmp);
	FILE *p = popen(cmd, "r");
	int files = 0;
	ASSERT_EQ(fscanf(p, "%d", &files), 1);
	pclose(p);
	ASSERT_EQ(files, 2);
}

static void bad_arguments(void)
{
	char *a1[] = { (char *)ctrace_bin, "record", NULL };
	int st = tt_run(a1, NULL, NULL);
	ASSERT_EQ(WEXITSTATUS(st), 2);
	char *a2[] = { (char *)ctrace_bin, "record", "--bogus", "--", "/bin/true", NULL };
	st = tt_run(a2, NULL, NULL);
	ASSERT_EQ(WEXITSTATUS(st), 2);
	char *a3[] = { (char *)ctrace_bin, "record", "-q", "-o", tmpfile_path("none.trace"), "--",
		       "/nonexistent/program", NULL };
	st = tt_run(a3, NULL, NULL);
	ASSERT_EQ(WEXITSTATUS(st), 127);
	char *a4[] = { (char *)ctrace_bin, "dump", "/nonexistent.trace", NULL };
	st = tt_run(a4, NULL, NULL);
	ASSERT_EQ(WEXITSTATUS(st), 1);
	char *a5[] = { (char *)ctrace_bin, "frobnicate", NULL };
	st = tt_run(a5, NULL, NULL);
	ASSERT_EQ(WEXITSTATUS(st), 2);
}

/* Bad environment values: one warning each, the defaults, and the program runs. */
static void bad_environment(void)
{
	char *trace = tmpfile_path("badenv.trace");
	char preload[4200], out[4200];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	snprintf(out, sizeof(out), "CTRACE_OUT=%s", trace);
	char *env[] = { preload, out, "CTRACE_GEN_PERIOD=banana", "CTRACE_BUFFER_SIZE=-5",
			"CTRACE_THREAD_BUFFER=1T", "CTRACE_ZSTD_LEVEL=99", "CTRACE_SYMBOLS=both",
			"CTRACE_DEBUG_CACHE=relative/dir",
			NULL };
	char *argv[] = { wl("threads_named"), NULL };
	char *o;
	int st = tt_run(argv, env, &o);
	ASSERT_EQ(WEXITSTATUS(st), 3);
	ASSERT_STREQ(o, "threads_named: 8 workers done\n");
	free(o);
	struct tt_trace t;
	ASSERT_EQ(tt_load(trace, &t), 0);
	ASSERT_UEQ(t.counts[CTRACE_EV_THREAD_CREATE], 8);
	tt_free(&t);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		CT_FAIL("usage: test_record CTRACE WORKLOAD_DIR LIBCTRACE");
	ctrace_bin = argv[1];
	wl_dir = argv[2];
	lib = argv[3];
	tmp = tt_tmpdir();
	RUN(eight_named_threads);
	RUN(output_and_status_unchanged);
	RUN(fork_and_exec_are_both_in_the_trace);
	RUN(sigkill_keeps_finished_generations);
	RUN(linked_program_controls_tracing);
	RUN(ctrace_out_by_hand);
	RUN(bad_arguments);
	RUN(bad_environment);
	tt_rmrf(tmp);
	return 0;
}
