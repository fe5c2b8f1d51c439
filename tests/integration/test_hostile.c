/*
 * Hostile programs (tests/workloads/torture.c): each mode is run bare, under `ctrace
 * record`, and preloaded with the HTTP endpoint while Debian's curl captures it; its
 * output and exit status must be the bare run's, and every trace must read back and
 * analyse (`ctrace stats`). The flood mode, with tiny buffers, must count what it drops.
 * Arguments: the ctrace binary, the workloads build directory, libctrace.so.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"
#include "tracetest.h"

static const char *ctrace_bin, *lib;
static char torture[4200];
static char *tmp;

struct run {
	char *out;
	int status; /* exit code, or 128 + signal */
};

static int code_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void bare(const char *mode, struct run *r)
{
	char *argv[] = { torture, (char *)mode, NULL };
	r->status = code_of(tt_run(argv, NULL, &r->out));
}

/* `ctrace stats --format=json` of @trace: 0 and the output, or the failing status. */
static int stats_of(const char *trace, char **json)
{
	char *argv[] = { (char *)ctrace_bin, "stats", "--format=json", (char *)trace, NULL };
	*json = NULL;
	return code_of(tt_run(argv, NULL, json));
}

static void same_as_bare(const char *how, const char *mode, const struct run *b,
			 const struct run *r)
{
	if (strcmp(b->out, r->out) != 0 || b->status != r->status)
		CT_FAIL("%s %s: output/status changed:\n bare (%d): %s\n traced (%d): %s", mode, how,
			b->status, b->out, r->status, r->out);
}

/* The "events" count of a stats JSON document. */
static long long events_in(const char *json)
{
	const char *e = strstr(json, "\"events\":");
	return e ? atoll(e + 9) : -1;
}

/* Under `ctrace record`: the bare run's output and status, a trace that analyses with at
 * least @min_events events, the lost events counted when @want_lost, and a warning
 * containing @warning when it is not NULL (none containing what follows a leading '!'). */
static void recorded(const char *mode, const struct run *b, char *const env[], int want_lost,
		     long long min_events, const char *warning)
{
	char trace[4300];
	snprintf(trace, sizeof(trace), "%s/%s.trace", tmp, mode);
	char *argv[] = { (char *)ctrace_bin, "record", "-q", "-o", trace, "--", torture,
			 (char *)mode, NULL };
	struct run r;
	r.status = code_of(tt_run(argv, env, &r.out));
	same_as_bare("under ctrace record", mode, b, &r);
	char *json;
	int st = stats_of(trace, &json);
	if (st != 0)
		CT_FAIL("%s: ctrace stats on the recorded trace exits %d", mode, st);
	ASSERT_TRUE(strstr(json, "\"threads\":[") != NULL);
	long long got = events_in(json);
	fprintf(stderr, "  %s: the recorded trace holds %lld events\n", mode, got);
	ASSERT_GE(got, min_events);
	if (warning && warning[0] == '!') {
		const char *w = strstr(json, "\"warnings\":[");
		ASSERT_TRUE(w != NULL);
		const char *end = strchr(w, ']');
		const char *hit = strstr(w, warning + 1);
		if (hit && (!end || hit < end))
			CT_FAIL("%s: a warning says \"%s\": %s", mode, warning + 1, w);
		fprintf(stderr, "  %s: no warning says ...%s...\n", mode, warning + 1);
	} else if (warning) {
		const char *w = strstr(json, "\"warnings\":[");
		ASSERT_TRUE(w != NULL);
		if (!strstr(w, warning))
			CT_FAIL("%s: no warning says \"%s\": %s", mode, warning, w);
		fprintf(stderr, "  %s: stats warns: ...%s...\n", mode, warning);
	}
	if (want_lost) {
		const char *l = strstr(json, "\"lost\":");
		ASSERT_TRUE(l != NULL);
		long long lost = atoll(l + 7);
		fprintf(stderr, "  %s: %lld events dropped and counted\n", mode, lost);
		ASSERT_GT(lost, 0);
	}
	free(json);
	free(r.out);
}

/* Preloaded with the endpoint; curl captures from its start until it exits (the response
 * ends cleanly at the exit, with the last generation), and the capture holds at least
 * @min_events events. */
static void captured(const char *mode, const struct run *b, long long min_events)
{
	int port = tt_free_port();
	char http[64], preload[4300], out_path[4300], cap[4300], url[128];
	snprintf(http, sizeof(http), "CTRACE_HTTP=127.0.0.1:%d", port);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	snprintf(out_path, sizeof(out_path), "%s/%s.http-out", tmp, mode);
	snprintf(cap, sizeof(cap), "%s/%s.http.trace", tmp, mode);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/debug/pprof/trace?seconds=20", port);

	pid_t pid = fork();
	if (pid == 0) {
		char *env[] = { preload, http, "TORTURE_START_DELAY_MS=700", NULL };
		char *argv[] = { torture, (char *)mode, NULL };
		char *o = NULL;
		int st = tt_run(argv, env, &o);
		FILE *f = fopen(out_path, "w");
		if (f) {
			fputs(o ? o : "", f);
			fclose(f);
		}
		_exit(code_of(st));
	}
	int connected = 0;
	for (int i = 0; i < 500 && !connected; i++) {
		int fd = tt_connect(port);
		connected = fd >= 0;
		if (connected)
			close(fd);
		if (!connected)
			usleep(10 * 1000);
	}
	if (!connected)
		CT_FAIL("%s: the endpoint never listened on %d", mode, port);
	char *curl[] = { "/usr/bin/curl", "-s", "-o", cap, "-w", "%{http_code}", url, NULL };
	char *code;
	int cst = tt_run(curl, NULL, &code);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	struct run r = { NULL, code_of(st) };
	FILE *f = fopen(out_path, "r");
	ASSERT_TRUE(f != NULL);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	r.out = buf;
	same_as_bare("with an HTTP capture", mode, b, &r);
	if (code_of(cst) != 0 || strcmp(code, "200") != 0)
		CT_FAIL("%s: curl exits %d with HTTP %s", mode, code_of(cst), code);
	char *json;
	int s = stats_of(cap, &json);
	if (s != 0)
		CT_FAIL("%s: ctrace stats on the captured trace exits %d", mode, s);
	long long got = events_in(json);
	fprintf(stderr, "  %s: the HTTP capture holds %lld events\n", mode, got);
	ASSERT_GE(got, min_events);
	free(json);
	free(code);
}

/* Bare, recorded and captured; the recorded trace warns (or not) as @warning says (see
 * recorded()). */
static void hostile_warned(const char *mode, long long min_events, const char *warning)
{
	struct run b;
	bare(mode, &b);
	fprintf(stderr, "  bare: %s", b.out);
	recorded(mode, &b, NULL, 0, min_events, warning);
	captured(mode, &b, min_events);
	free(b.out);
}

static void hostile(const char *mode, long long min_events)
{
	hostile_warned(mode, min_events, NULL);
}

/* The minimum events: what the mode makes for certain (2 per thread start and end...). */
static void threads(void) { hostile("threads", 4000); }
static void lockexit(void) { hostile("lockexit", 6); }
static void forkexec(void) { hostile("forkexec", 100); }
static void spawn(void) { hostile("spawn", 20); }
static void signals(void) { hostile("signals", 100); }
static void longjmp_out(void) { hostile("longjmp", 400); }
static void exitthread(void) { hostile("exitthread", 8); }
static void dlopen_threads(void) { hostile("dlopen", 160); }
/* A library's constructor ran before the tracer's and kept a value under a key: the
 * tracer's first call must not store its slot under that key (perf crashed at exit). */
static void earlykey(void) { hostile("earlykey", 0); }

/*
 * unshare(CLONE_NEWUSER) from a program with one thread of its own: the kernel refuses
 * it to a multi-threaded process, so the tracer's threads stand down around it. Recorded
 * only: the HTTP endpoint's thread cannot. The trace goes on after it: the second
 * contention's two threads are in it too.
 */
static void unshare_user(void)
{
	struct run b;
	bare("unshare", &b);
	fprintf(stderr, "  bare: %s", b.out);
	recorded("unshare", &b, NULL, 0, 200, NULL);
	char trace[4300], *json;
	snprintf(trace, sizeof(trace), "%s/unshare.trace", tmp);
	ASSERT_EQ(stats_of(trace, &json), 0);
	int threads = 0;
	for (const char *p = json; (p = strstr(p, "\"tid\":")) != NULL; p++)
		threads++;
	fprintf(stderr, "  unshare: %d threads in the trace\n", threads);
	ASSERT_GE(threads, 5); /* main, and two contending threads before and two after */
	free(json);
	free(b.out);
}

/* Contention between two threads for 1.2 s makes hundreds of lock waits; 200 events is
 * far below what any of these makes when the trace is whole, and far above what is left
 * when the trace or the endpoint stops at the program's close or dup2 calls. */
static void closeall(void) { hostile("closeall", 200); }
static void dup2_low(void) { hostile("dup2", 200); }

/* dup2 onto every descriptor it did not open, the trace output among them: the output
 * moves and the trace stays whole. (Not with the endpoint: its connection's socket is
 * the program's after that; see README, Limits.) */
static void recorded_only(const char *mode)
{
	struct run b;
	bare(mode, &b);
	fprintf(stderr, "  bare: %s", b.out);
	recorded(mode, &b, NULL, 0, 200, NULL);
	free(b.out);
}

static void dup2_all(void) { recorded_only("dup2all"); }

/* A hard limit of 8 or 4 set by the program: its descriptors are what they are without
 * ctrace (the tracer's are above the limit), and context switches are still recorded: the
 * per-CPU rings were opened with the capture, and no ring keeps a descriptor. */
static void nofile8(void) { hostile_warned("nofile8", 200, "!context switches unavailable"); }
static void nofile4(void) { hostile_warned("nofile4", 200, "!context switches unavailable"); }
/* A soft limit of 8 at the start of the image (the tracer's descriptors go above it). The
 * mode execs itself, which ends an HTTP capture: recorded only. */
static void nofilesoft(void) { recorded_only("nofilesoft"); }
/* A seccomp filter that refuses perf_event_open (and timer_create), installed by the
 * program after the tracer started: the capture's per-CPU rings were opened before it and
 * go on; the per-thread rings a thread opens after it are refused, and stats says why. */
static void seccomp(void)
{
	struct run b;
	bare("seccomp", &b);
	fprintf(stderr, "  bare: %s", b.out);
	recorded("seccomp", &b, NULL, 0, 200, "!context switches unavailable");
	char *per_thread[] = { "CTRACE_SWITCHES=thread", NULL };
	recorded("seccomp", &b, per_thread, 0, 200,
		 "context switches unavailable: perf_event_open: Operation not permitted");
	captured("seccomp", &b, 200);
	free(b.out);
}

static void flood(void)
{
	struct run b;
	bare("flood", &b);
	char *env[] = { "CTRACE_THREAD_BUFFER=16K", "CTRACE_BUFFER=256K", NULL };
	recorded("flood", &b, env, 1, 0, NULL);
	free(b.out);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		CT_FAIL("usage: test_hostile CTRACE WORKLOADS LIBCTRACE");
	ctrace_bin = argv[1];
	lib = argv[3];
	snprintf(torture, sizeof(torture), "%s/torture", argv[2]);
	if (access("/usr/bin/curl", X_OK) != 0)
		CT_FAIL("curl is missing: scripts/deps.sh --test installs it");
	signal(SIGPIPE, SIG_IGN);
	tmp = tt_tmpdir();
	RUN(threads);
	RUN(lockexit);
	RUN(forkexec);
	RUN(spawn);
	RUN(signals);
	RUN(longjmp_out);
	RUN(exitthread);
	RUN(dlopen_threads);
	RUN(earlykey);
	RUN(unshare_user);
	RUN(flood);
	RUN(closeall);
	RUN(dup2_low);
	RUN(dup2_all);
	RUN(nofile8);
	RUN(nofile4);
	RUN(nofilesoft);
	RUN(seccomp);
	tt_rmrf(tmp);
	return 0;
}
