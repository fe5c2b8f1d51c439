/*
 * The HTTP capture endpoint, end to end: a long-running program (linked, and unmodified
 * under LD_PRELOAD) is captured with Debian's curl and with `ctrace capture`, driven while
 * the capture runs, and the traces are checked through the reader API and the model.
 * Arguments: the ctrace binary, the workloads build directory, libctrace.so.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
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

static const char *ctrace_bin, *wl_dir, *lib;
static char *tmp;

struct target {
	pid_t pid;
	FILE *in;  /* its stdin */
	FILE *out; /* its stdout */
	int port;
	char url[128];
	char err_path[4200];
};

static int can_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static void expect_line(struct target *t, const char *prefix)
{
	char line[256];
	if (!fgets(line, sizeof(line), t->out))
		CT_FAIL("the target ended before saying '%s'", prefix);
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		CT_FAIL("the target said '%s', not '%s'", line, prefix);
}

/* Start the target: linked (it starts the endpoint itself) or preloaded with @env. */
static void start(struct target *t, int linked, const char *bind_addr, char *const env[])
{
	int in[2], out[2];
	memset(t, 0, sizeof(*t));
	t->port = tt_free_port();
	char addr[64];
	snprintf(addr, sizeof(addr), "%s:%d", bind_addr ? bind_addr : "127.0.0.1", t->port);
	snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%d", t->port);
	snprintf(t->err_path, sizeof(t->err_path), "%s/stderr-%d.txt", tmp, t->port);
	if (pipe(in) < 0 || pipe(out) < 0)
		abort();
	t->pid = fork();
	if (t->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		int e = open(t->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(e, 2);
		close(in[1]);
		close(out[0]);
		char exe[4200], preload[4300], http[128];
		snprintf(exe, sizeof(exe), "%s/%s", wl_dir, linked ? "http_target_linked" : "http_target");
		if (!linked) {
			snprintf(preload, sizeof(preload), "%s", lib);
			setenv("LD_PRELOAD", preload, 1);
			snprintf(http, sizeof(http), "%s", addr);
			setenv("CTRACE_HTTP", http, 1);
		}
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		execl(exe, exe, addr, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->in = fdopen(in[1], "w");
	t->out = fdopen(out[0], "r");
	setvbuf(t->in, NULL, _IOLBF, 0);
	expect_line(t, "ready");
}

static void work(struct target *t, int n)
{
	for (int i = 0; i < n; i++) {
		fprintf(t->in, "work\n");
		expect_line(t, "done ");
	}
}

/* End the target normally; @return its exit status (and check its last words). */
static int finish(struct target *t)
{
	fclose(t->in);
	expect_line(t, "bye ");
	fclose(t->out);
	int st;
	waitpid(t->pid, &st, 0);
	return st;
}

/* The HTTP status of a GET (or what @extra says) with curl; the body goes to @body. */
static int curl_status(const char *extra, const char *url, const char *body)
{
	char cmd[16384];
	snprintf(cmd, sizeof(cmd), "curl -s -o '%s' -w '%%{http_code}' %s '%s'",
		 body ? body : "/dev/null", extra ? extra : "", url);
	FILE *p = popen(cmd, "r");
	int code = 0;
	if (fscanf(p, "%d", &code) != 1)
		code = -1;
	pclose(p);
	return code;
}

static void path_in_tmp(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmp, name);
}

struct seen {
	int early, stuck_blocked, worker_reads, helper_reads, events;
	int64_t first_ns, stuck_since;
	uint32_t stuck_tid;
};

static void inspect(const char *path, struct seen *s)
{
	struct tt_trace t;
	ctrace_reader *r;
	ctrace_gen *g;
	const struct ctrace_event *ev;
	memset(s, 0, sizeof(*s));
	ASSERT_EQ(tt_load(path, &t), 0);
	struct tt_thread *st = tt_find_name(&t, "stuck");
	s->early = tt_find_name(&t, "early") != NULL;
	s->stuck_tid = st ? st->tid : 0;
	struct tt_thread *w = tt_find_name(&t, "worker"), *h = tt_find_name(&t, "helper");
	int w_read = 0, h_read = 0;
	ASSERT_EQ(ctrace_reader_open(path, &r), 0);
	s->first_ns = ctrace_reader_start_ns(r);
	while (ctrace_reader_next(r, &g) == 1) {
		while (ctrace_gen_next_event(g, &ev) == 1) {
			s->events++;
			if (ev->type == CTRACE_EV_STATE && st && ev->tid == st->tid) {
				const struct ctrace_call *c = ctrace_gen_call(g, ev->args[2]);
				if (c && strcmp(c->name, "read") == 0) {
					s->stuck_blocked = 1;
					s->stuck_since = ctrace_gen_ticks_to_ns(g, ev->args[4]);
				}
			}
			if (ev->type == CTRACE_EV_CALL_BEGIN || ev->type == CTRACE_EV_STATE) {
				/* a call begun, or one it was blocked in when the capture began */
				const struct ctrace_call *c = ctrace_gen_call(
					g, ev->type == CTRACE_EV_STATE ? ev->args[2] : ev->args[0]);
				int is_read = c && strcmp(c->name, "read") == 0;
				if (w && ev->tid == w->tid)
					w_read = is_read;
				if (h && ev->tid == h->tid)
					h_read = is_read;
			}
			if (ev->type == CTRACE_EV_CALL_END) {
				/* A completed pipe read of one byte: a unit of the driven work. */
				if (w && ev->tid == w->tid && w_read && (int64_t)ev->args[0] == 1)
					s->worker_reads++;
				if (h && ev->tid == h->tid && h_read && (int64_t)ev->args[0] == 1)
					s->helper_reads++;
			}
		}
	}
	ctrace_reader_free(r);
	tt_free(&t);
}

/* Capture while driving work; the trace holds the work, the snapshot and nothing older. */
static void capture_window(int linked)
{
	struct target t;
	start(&t, linked, NULL, NULL);
	work(&t, 5); /* before the window: must not be in the trace */
	/* The stuck thread has been blocked since the start; let it be a while. */
	sleep(10);
	char out[4300], url[256];
	path_in_tmp(out, sizeof(out), linked ? "linked.trace" : "preloaded.trace");
	snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=1.5", t.url);
	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "curl -s -o '%s' -w '%%{http_code}' '%s'", out, url);
	FILE *p = popen(cmd, "r");
	usleep(300000);
	work(&t, 10); /* inside the window */
	int code = 0;
	if (fscanf(p, "%d", &code) != 1)
		code = -1;
	pclose(p);
	ASSERT_EQ(code, 200);
	struct seen s;
	inspect(out, &s);
	ASSERT_EQ(s.early, 0);
	ASSERT_TRUE(s.stuck_tid != 0);
	ASSERT_TRUE(s.stuck_blocked);
	/* blocked since long before the capture's first moment */
	ASSERT_LT(s.stuck_since, s.first_ns - 9000000000LL);
	ASSERT_EQ(s.helper_reads, 10);
	ASSERT_EQ(s.worker_reads, 10);

	/* The model shows the stuck thread waiting on I/O from the capture's first moment. */
	ctrace_reader *r;
	ctrace_model *m;
	ASSERT_EQ(ctrace_reader_open(out, &r), 0);
	ASSERT_EQ(ctrace_model_build(r, NULL, &m), 0);
	int found = 0;
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++) {
		const struct ctrace_thread_stats *st = ctrace_model_thread(m, i);
		if (st->tid != s.stuck_tid)
			continue;
		found = 1;
		ASSERT_EQ(st->start_ns, 0);
		ASSERT_EQ(st->io_ns, st->duration_ns);
		ASSERT_GT(st->duration_ns, 1000000000LL);
	}
	ASSERT_TRUE(found);
	ctrace_model_free(m);
	ctrace_reader_free(r);

	/* And ctrace capture gets a readable trace too. */
	char out2[4300];
	path_in_tmp(out2, sizeof(out2), "captured.trace");
	char *cap[] = { (char *)ctrace_bin, "capture", t.url, "-s", "0.5", "-o", out2, NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(cap, NULL, NULL)), 0);
	inspect(out2, &s);
	ASSERT_TRUE(s.stuck_tid != 0);
	ASSERT_EQ(WEXITSTATUS(finish(&t)), 0);
}

static void captures_linked_program(void)
{
	capture_window(1);
}

static void captures_preloaded_program(void)
{
	capture_window(0);
}

static int count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	int n = 0;
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static long status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

static void one_capture_at_a_time(void)
{
	struct target t;
	start(&t, 0, NULL, NULL);
	char url[256], cmd[600];
	snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=1", t.url);
	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' '%s'", url);
	FILE *p = popen(cmd, "r");
	usleep(300000);
	char body[4300];
	path_in_tmp(body, sizeof(body), "409.txt");
	ASSERT_EQ(curl_status(NULL, url, body), 409);
	int code = 0;
	if (fscanf(p, "%d", &code) != 1)
		code = -1;
	pclose(p);
	ASSERT_EQ(code, 200);

	/* A client that goes away after 100 ms ends its capture: the next one starts at once. */
	snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=30", t.url);
	curl_status("--max-time 0.1", url, NULL); /* curl hangs up after 100 ms */
	snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=0.1", t.url);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int got;
	while ((got = curl_status(NULL, url, NULL)) == 409) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (b.tv_sec - a.tv_sec > 1)
			break;
		usleep(10000);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ASSERT_EQ(got, 200);
	double waited = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	fprintf(stderr, "  after a client left, the next capture got in after %.3f s\n", waited);
	ASSERT_LT(waited * 1000, 400);

	/* Fifty short captures leak nothing. */
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(curl_status(NULL, url, NULL), 200);
	usleep(200000); /* the last capture's writer thread ends after its response */
	int fds0 = count_fds(t.pid);
	long threads0 = status_field(t.pid, "Threads:"), rss0 = status_field(t.pid, "VmRSS:");
	for (int i = 0; i < 50; i++)
		ASSERT_EQ(curl_status(NULL, url, NULL), 200);
	usleep(200000);
	int fds1 = count_fds(t.pid);
	long threads1 = status_field(t.pid, "Threads:"), rss1 = status_field(t.pid, "VmRSS:");
	fprintf(stderr, "  50 captures: fds %d -> %d, threads %ld -> %ld, RSS %ld -> %ld KiB\n",
		fds0, fds1, threads0, threads1, rss0, rss1);
	ASSERT_EQ(fds1, fds0);
	ASSERT_EQ(threads1, threads0);
	if (getenv("ASAN_OPTIONS"))
		fprintf(stderr, "  RSS not compared under AddressSanitizer: its quarantine keeps "
				"freed memory (LeakSanitizer and the normal build check leaks)\n");
	else
		ASSERT_LT(rss1 - rss0, 4096);
	work(&t, 2);
	ASSERT_EQ(WEXITSTATUS(finish(&t)), 0);
}

static void bad_requests_get_4xx(void)
{
	struct target t;
	start(&t, 0, NULL, NULL);
	char url[12000];
	const char *bad[] = { "abc", "-1", "0", "1e309", "nan", "inf", "1e3x", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=%s", t.url, bad[i]);
		ASSERT_EQ(curl_status(NULL, url, NULL), 400);
	}
	snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=100000", t.url);
	ASSERT_EQ(curl_status(NULL, url, NULL), 400);
	/* a 10 KB query string */
	int n = snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=", t.url);
	memset(url + n, '9', 10240);
	url[n + 10240] = 0;
	int code = curl_status(NULL, url, NULL);
	ASSERT_TRUE(code >= 400 && code < 500);
	snprintf(url, sizeof(url), "%s/nowhere", t.url);
	ASSERT_EQ(curl_status(NULL, url, NULL), 404);
	snprintf(url, sizeof(url), "%s/debug/pprof/trace", t.url);
	ASSERT_EQ(curl_status("-X POST", url, NULL), 405);
	ASSERT_EQ(curl_status("-X DELETE", url, NULL), 405);
	snprintf(url, sizeof(url), "%s/debug/pprof/", t.url);
	char body[4300];
	path_in_tmp(body, sizeof(body), "index.html");
	ASSERT_EQ(curl_status(NULL, url, body), 200);
	snprintf(url, sizeof(url), "%s/debug/pprof/cmdline", t.url);
	ASSERT_EQ(curl_status(NULL, url, body), 200);
	/* The program did not notice any of it. */
	work(&t, 3);
	ASSERT_EQ(WEXITSTATUS(finish(&t)), 0);
}

static void non_loopback_needs_a_token(void)
{
	struct target t;
	/* Without a token: a warning, no server, the program runs on. */
	start(&t, 0, "0.0.0.0", NULL);
	usleep(200000);
	ASSERT_TRUE(!can_connect(t.port));
	work(&t, 1);
	ASSERT_EQ(WEXITSTATUS(finish(&t)), 0);
	char line[512] = "";
	FILE *e = fopen(t.err_path, "r");
	ASSERT_TRUE(e && fgets(line, sizeof(line), e));
	fclose(e);
	ASSERT_TRUE(strstr(line, "CTRACE_HTTP_TOKEN") != NULL);

	char *env[] = { "CTRACE_HTTP_TOKEN=s3cret-token", NULL };
	start(&t, 0, "0.0.0.0", env);
	char url[256];
	snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=0.2", t.url);
	ASSERT_EQ(curl_status(NULL, url, NULL), 401);
	ASSERT_EQ(curl_status("-H 'Authorization: Bearer wrong'", url, NULL), 401);
	char out[4300];
	path_in_tmp(out, sizeof(out), "token.trace");
	ASSERT_EQ(curl_status("-H 'Authorization: Bearer s3cret-token'", url, out), 200);
	struct tt_trace tr;
	ASSERT_EQ(tt_load(out, &tr), 0);
	tt_free(&tr);
	ASSERT_EQ(WEXITSTATUS(finish(&t)), 0);
}

/* A port in use, or an address that is not one: a line on stderr, the program runs on. */
static void bad_addresses_warn(void)
{
	struct target a, b;
	start(&a, 0, NULL, NULL);
	/* b asks for a's port */
	char busy[64];
	snprintf(busy, sizeof(busy), "CTRACE_HTTP=127.0.0.1:%d", a.port);
	char *env[] = { busy, NULL };
	start(&b, 0, NULL, env);
	work(&b, 1);
	ASSERT_EQ(WEXITSTATUS(finish(&b)), 0);
	char line[512] = "";
	FILE *e = fopen(b.err_path, "r");
	ASSERT_TRUE(e && fgets(line, sizeof(line), e));
	fclose(e);
	if (!strstr(line, "cannot listen"))
		CT_FAIL("no warning for a port in use: %s", line);
	ASSERT_EQ(WEXITSTATUS(finish(&a)), 0);

	char *bad[] = { "CTRACE_HTTP=not-an-address", NULL };
	start(&b, 0, NULL, bad);
	work(&b, 1);
	ASSERT_EQ(WEXITSTATUS(finish(&b)), 0);
	e = fopen(b.err_path, "r");
	ASSERT_TRUE(e && fgets(line, sizeof(line), e));
	fclose(e);
	if (!strstr(line, "CTRACE_HTTP=not-an-address"))
		CT_FAIL("no warning for a bad address: %s", line);
}

/* The flight recorder keeps the most recent generations within its size. */
static void flight_recorder(void)
{
	struct target t;
	char *env[] = { "CTRACE_FLIGHT=8M", "CTRACE_GEN_PERIOD=250ms", NULL };
	start(&t, 0, NULL, env);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fprintf(t.in, "flood 10\n");
	expect_line(&t, "flooded");
	char out[4300], url[256];
	path_in_tmp(out, sizeof(out), "flight.trace");
	snprintf(url, sizeof(url), "%s/debug/pprof/trace?flight=1", t.url);
	ASSERT_EQ(curl_status(NULL, url, out), 200);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);

	ctrace_reader *r;
	const struct ctrace_gen_info *gi;
	ASSERT_EQ(ctrace_reader_open(out, &r), 0);
	int64_t first = INT64_MAX, last = 0;
	uint64_t bytes = 0, biggest = 0, gens = 0;
	int n;
	while ((n = ctrace_reader_next_info(r, &gi)) == 1) {
		gens++;
		if (gi->first_ns < first)
			first = gi->first_ns;
		if (gi->last_ns > last)
			last = gi->last_ns;
		uint64_t size = 64 + gi->compressed_size;
		bytes += size;
		if (size > biggest)
			biggest = size;
	}
	ASSERT_EQ(n, 0);
	ctrace_reader_free(r);
	int64_t start_ns = (int64_t)t0.tv_sec * 1000000000LL + t0.tv_nsec;
	int64_t end_ns = (int64_t)t1.tv_sec * 1000000000LL + t1.tv_nsec;
	fprintf(stderr, "  flight: %" PRIu64 " generations, %.1f MiB, covering %.2f s of %.2f s\n",
		gens, (double)bytes / 1048576.0, (double)(last - first) / 1e9,
		(double)(end_ns - start_ns) / 1e9);
	ASSERT_LE(bytes, (8u << 20) + biggest);
	ASSERT_GT(gens, 2);
	/* the most recent moments are there; the oldest were let go */
	ASSERT_GT(last, end_ns - 1000000000LL);
	ASSERT_GT(first, start_ns + 1000000000LL);
	ASSERT_EQ(WEXITSTATUS(finish(&t)), 0);
}

/* A file capture (CTRACE_OUT) and an HTTP capture at once: both get the work. */
static void file_and_http_together(void)
{
	struct target t;
	char file[4300], env_out[4400];
	path_in_tmp(file, sizeof(file), "both-file.trace");
	snprintf(env_out, sizeof(env_out), "CTRACE_OUT=%s", file);
	char *env[] = { env_out, NULL };
	start(&t, 0, NULL, env);
	char out[4300], url[256], cmd[9000];
	path_in_tmp(out, sizeof(out), "both-http.trace");
	snprintf(url, sizeof(url), "%s/debug/pprof/trace?seconds=1", t.url);
	snprintf(cmd, sizeof(cmd), "curl -s -o '%s' -w '%%{http_code}' '%s'", out, url);
	FILE *p = popen(cmd, "r");
	usleep(300000);
	work(&t, 4);
	int code = 0;
	if (fscanf(p, "%d", &code) != 1)
		code = -1;
	pclose(p);
	ASSERT_EQ(code, 200);
	ASSERT_EQ(WEXITSTATUS(finish(&t)), 0);
	struct seen a, b;
	inspect(out, &a);
	inspect(file, &b);
	ASSERT_EQ(a.helper_reads, 4);
	ASSERT_GE(b.helper_reads, 4);
	ASSERT_GT(b.events, a.events); /* the file saw more: it ran from the start */
}

int main(int argc, char **argv)
{
	if (argc < 4)
		CT_FAIL("usage: test_http CTRACE WORKLOAD_DIR LIBCTRACE");
	if (system("command -v curl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "SKIP: no curl (tests/run installs it)\n");
		return 77;
	}
	ctrace_bin = argv[1];
	wl_dir = argv[2];
	lib = argv[3];
	signal(SIGPIPE, SIG_IGN);
	tmp = tt_tmpdir();
	RUN(captures_linked_program);
	RUN(captures_preloaded_program);
	RUN(one_capture_at_a_time);
	RUN(bad_requests_get_4xx);
	RUN(non_loopback_needs_a_token);
	RUN(bad_addresses_warn);
	RUN(flight_recorder);
	RUN(file_and_http_together);
	tt_rmrf(tmp);
	return 0;
}
