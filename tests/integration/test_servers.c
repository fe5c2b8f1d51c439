/*
 * Both HTTP servers under abuse: the capture endpoint inside a traced program (preloaded
 * http_target) and `ctrace view`. Many idle connections at once, requests cut in the
 * middle, oversized headers, a client that asks for a big response and never reads it,
 * paths that try to reach files. Through all of it the servers' threads and memory stay
 * bounded, nothing crashes, the traced program keeps working, and afterwards a normal
 * request is answered and the descriptors and threads are back where they were.
 * Arguments: the ctrace binary, the workloads build directory, libctrace.so, synth.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"
#include "tracetest.h"

static const char *ctrace_bin, *wl_dir, *lib, *synth;
static char *tmp;

struct server {
	const char *what;
	pid_t pid;
	int port;
	const char *ok_path;  /* answered with 200 */
	const char *big_path; /* a large response */
	FILE *in, *out;       /* the traced program's stdin/stdout, or NULL */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send @req on a new connection and read the status code of the answer (0: none). */
static int request(int port, const char *req, double timeout_s)
{
	int s = tt_connect(port);
	if (s < 0)
		return 0;
	size_t len = strlen(req), off = 0;
	while (off < len) {
		ssize_t n = send(s, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	char buf[64] = { 0 };
	size_t got = 0;
	double end = now_s() + timeout_s;
	while (got < 12 && now_s() < end) {
		struct pollfd p = { s, POLLIN, 0 };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = recv(s, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(s);
	return got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 ? atoi(buf + 9) : 0;
}

static int get(struct server *sv, const char *path)
{
	char req[512];
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		 path);
	return request(sv->port, req, 10);
}

/* The traced program still does its work (a pipe round trip and a sleep on command). */
/* A normal request is answered again within 10 s (the server may still be closing the
 * connections of the abuse before it, up to its limit). */
static void answers_again(struct server *sv)
{
	double t0 = now_s();
	int st = 0;
	while (now_s() - t0 < 10 && (st = get(sv, sv->ok_path)) != 200)
		usleep(100 * 1000);
	if (st != 200)
		CT_FAIL("%s: %s gets %d 10 s after the abuse", sv->what, sv->ok_path, st);
}

static void program_works(struct server *sv)
{
	if (!sv->in)
		return;
	char line[256];
	fprintf(sv->in, "work\n");
	fflush(sv->in);
	if (!fgets(line, sizeof(line), sv->out) || strncmp(line, "done ", 5) != 0)
		CT_FAIL("%s: the traced program stopped working: %s", sv->what, line);
}

static void wait_listening(int port)
{
	for (int i = 0; i < 500; i++) {
		int s = tt_connect(port);
		if (s >= 0) {
			close(s);
			return;
		}
		usleep(10 * 1000);
	}
	CT_FAIL("nothing listens on %d", port);
}

static void start_endpoint(struct server *sv)
{
	int in[2], out[2];
	memset(sv, 0, sizeof(*sv));
	sv->what = "endpoint";
	sv->port = tt_free_port();
	sv->ok_path = "/debug/pprof/";
	sv->big_path = "/debug/pprof/trace?seconds=3";
	if (pipe(in) < 0 || pipe(out) < 0)
		abort();
	sv->pid = fork();
	if (sv->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		char exe[4200], addr[64];
		snprintf(exe, sizeof(exe), "%s/http_target", wl_dir);
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", sv->port);
		setenv("LD_PRELOAD", lib, 1);
		setenv("CTRACE_HTTP", addr, 1);
		execl(exe, exe, addr, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	sv->in = fdopen(in[1], "w");
	sv->out = fdopen(out[0], "r");
	char line[256];
	if (!fgets(line, sizeof(line), sv->out) || strncmp(line, "ready", 5) != 0)
		CT_FAIL("http_target did not start");
	wait_listening(sv->port);
}

static void start_viewer(struct server *sv, const char *trace)
{
	memset(sv, 0, sizeof(*sv));
	sv->what = "viewer";
	sv->port = tt_free_port();
	sv->ok_path = "/api/summary";
	sv->big_path = "/api/timeline?start=0&end=9000000000000000000&width=16384";
	sv->pid = fork();
	if (sv->pid == 0) {
		char addr[64];
		snprintf(addr, sizeof(addr), "--http=127.0.0.1:%d", sv->port);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		execl(ctrace_bin, ctrace_bin, "view", "--no-open", addr, trace, (char *)NULL);
		_exit(127);
	}
	wait_listening(sv->port);
}

static void stop(struct server *sv)
{
	int st;
	if (sv->in) {
		fclose(sv->in);
		char line[256];
		while (fgets(line, sizeof(line), sv->out))
			;
		fclose(sv->out);
		waitpid(sv->pid, &st, 0);
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	} else {
		kill(sv->pid, SIGTERM);
		waitpid(sv->pid, &st, 0);
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

/* Poll until @pid's threads and descriptors are back to @threads and @fds (a little slack
 * for a connection still closing). */
static void settles(struct server *sv, long threads, int fds)
{
	long t = -1;
	int f = -1;
	for (int i = 0; i < 100; i++) {
		t = tt_status_field(sv->pid, "Threads");
		f = tt_count_fds(sv->pid);
		if (t <= threads + 1 && f <= fds + 1)
			return;
		usleep(100 * 1000);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)sv->pid);
	if (system(cmd) != 0)
		fprintf(stderr, "(no listing)\n");
	CT_FAIL("%s: %ld threads and %d fds after the abuse, %ld and %d before", sv->what, t, f,
		threads, fds);
}

/* Read a whole response of a GET of @path, the program working meanwhile; @return its
 * status. */
static int fetch(struct server *sv, const char *path)
{
	char req[512], buf[65536];
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 path);
	int s = tt_connect(sv->port);
	if (s < 0 || send(s, req, strlen(req), MSG_NOSIGNAL) < 0)
		return 0;
	for (int i = 0; i < 3; i++)
		program_works(sv); /* something to record meanwhile */
	ssize_t n, total = 0;
	int code = 0;
	while ((n = recv(s, buf, sizeof(buf), 0)) > 0) {
		if (total == 0 && n >= 12)
			code = atoi(buf + 9);
		total += n;
	}
	close(s);
	return code;
}

static void abuse(struct server *sv)
{
	ASSERT_EQ(get(sv, sv->ok_path), 200);
	/* Once through a whole big response first: what the tracer opens once for the
	 * process (perf rings of the traced threads, the symbolizer's files) is then open. */
	ASSERT_EQ(fetch(sv, sv->big_path), 200);
	/* And every thread's stack symbolized: the symbolizer keeps the files it read open. */
	if (strcmp(sv->what, "endpoint") == 0)
		ASSERT_EQ(fetch(sv, "/debug/pprof/threads?debug=2"), 200);
	program_works(sv);
	long threads0 = tt_status_field(sv->pid, "Threads");
	long rss0 = tt_status_field(sv->pid, "VmRSS");
	int fds0 = tt_count_fds(sv->pid);
	fprintf(stderr, "  %s: %ld threads, %d fds, RSS %ld kB at rest\n", sv->what, threads0, fds0,
		rss0);

	/* 200 connections that say nothing: the server holds a bounded number. */
	int idle[200], nidle = 0;
	for (int i = 0; i < 200; i++)
		if ((idle[nidle] = tt_connect(sv->port)) >= 0)
			nidle++;
	usleep(300 * 1000);
	long threads_held = tt_status_field(sv->pid, "Threads");
	fprintf(stderr, "  %s: %d idle connections made, %ld threads while held\n", sv->what,
		nidle, threads_held);
	ASSERT_LE(threads_held, threads0 + 70);
	program_works(sv);
	for (int i = 0; i < nidle; i++)
		close(idle[i]);
	answers_again(sv);

	/* Requests cut in the middle, at every length of a request line. */
	const char *req = "GET /debug/pprof/trace?seconds=1 HTTP/1.1\r\nHost: x\r\n";
	for (size_t cut = 1; cut < strlen(req); cut++) {
		int s = tt_connect(sv->port);
		if (s < 0)
			continue;
		if (send(s, req, cut, MSG_NOSIGNAL) < 0) {
			close(s);
			continue;
		}
		close(s);
	}
	answers_again(sv);

	/* A 256 KiB header, and a 64 KiB request line: refused, not swallowed. */
	size_t big = 256 * 1024;
	char *r = malloc(big + 256);
	int n = snprintf(r, 256, "GET %s HTTP/1.1\r\nX-Big: ", sv->ok_path);
	memset(r + n, 'a', big);
	strcpy(r + n + big, "\r\n\r\n");
	int code = request(sv->port, r, 10);
	fprintf(stderr, "  %s: a 256 KiB header gets %d\n", sv->what, code);
	ASSERT_TRUE(code == 0 || (code >= 400 && code < 500));
	n = snprintf(r, 256, "GET /");
	memset(r + n, 'b', 64 * 1024);
	strcpy(r + n + 64 * 1024, " HTTP/1.1\r\n\r\n");
	code = request(sv->port, r, 10);
	fprintf(stderr, "  %s: a 64 KiB URL gets %d\n", sv->what, code);
	ASSERT_TRUE(code == 0 || (code >= 400 && code < 500));
	free(r);
	answers_again(sv);

	/* Paths that would reach files if it served any. */
	const char *paths[] = { "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
				"/debug/pprof/../../etc/passwd", "//etc/passwd", "/etc/passwd" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		code = get(sv, paths[i]);
		if (code != 404 && code != 400)
			CT_FAIL("%s: %s gets %d", sv->what, paths[i], code);
	}

	/* A client that asks for a big response and never reads: memory stays bounded. */
	char slow_req[512];
	snprintf(slow_req, sizeof(slow_req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", sv->big_path);
	int slow = tt_connect(sv->port);
	ASSERT_TRUE(slow >= 0);
	int small = 4096;
	setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ASSERT_TRUE(send(slow, slow_req, strlen(slow_req), MSG_NOSIGNAL) > 0);
	for (int i = 0; i < 5; i++) {
		program_works(sv);
		usleep(400 * 1000);
	}
	long rss1 = tt_status_field(sv->pid, "VmRSS");
	fprintf(stderr, "  %s: RSS %ld kB with a client that does not read\n", sv->what, rss1);
	ASSERT_LT(rss1, rss0 + 100 * 1024);
	close(slow);
	answers_again(sv);
	program_works(sv);
	settles(sv, threads0, fds0);
	long rss2 = tt_status_field(sv->pid, "VmRSS");
	fprintf(stderr, "  %s: RSS %ld kB after (%+ld kB)\n", sv->what, rss2, rss2 - rss0);
}

static void endpoint(void)
{
	struct server sv;
	start_endpoint(&sv);
	abuse(&sv);
	stop(&sv);
}

static void viewer(void)
{
	char trace[4300];
	snprintf(trace, sizeof(trace), "%s/servers.trace", tmp);
	char *gen[] = { (char *)synth, trace, "2000000", "8", NULL };
	ASSERT_EQ(tt_run(gen, NULL, NULL), 0);
	struct server sv;
	start_viewer(&sv, trace);
	abuse(&sv);
	stop(&sv);
}

int main(int argc, char **argv)
{
	if (argc < 5)
		CT_FAIL("usage: test_servers CTRACE WORKLOADS LIBCTRACE SYNTH");
	ctrace_bin = argv[1];
	wl_dir = argv[2];
	lib = argv[3];
	synth = argv[4];
	signal(SIGPIPE, SIG_IGN);
	tmp = tt_tmpdir();
	RUN(endpoint);
	RUN(viewer);
	tt_rmrf(tmp);
	return 0;
}
