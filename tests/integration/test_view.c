/*
 * `ctrace view`'s JSON API against traces of the deterministic workloads, and at scale.
 * Arguments: the ctrace binary, the workloads build directory, the synth generator.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"
#include "tracetest.h"

static const char *ctrace_bin, *wl_dir, *synth;
static char *tmp;

struct view {
	pid_t pid;
	char url[128];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start `ctrace view` on @trace; its first line says where it serves. */
static void view_start(struct view *v, const char *trace)
{
	int out[2];
	if (pipe(out) < 0)
		abort();
	v->pid = fork();
	if (v->pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execl(ctrace_bin, ctrace_bin, "view", "--no-open", "--http=127.0.0.1:0", trace,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	char line[512];
	if (!fgets(line, sizeof(line), f))
		CT_FAIL("ctrace view said nothing");
	fclose(f);
	const char *at = strstr(line, "http://");
	if (!at)
		CT_FAIL("ctrace view said: %s", line);
	snprintf(v->url, sizeof(v->url), "%.*s", (int)strcspn(at, "/ \n") + 7 +
		 (int)strcspn(at + 7, "/ \n"), at);
	v->url[strcspn(v->url, " \n")] = 0;
	size_t l = strlen(v->url);
	if (l && v->url[l - 1] == '/')
		v->url[l - 1] = 0;
}

static void view_stop(struct view *v)
{
	kill(v->pid, SIGTERM);
	int st;
	waitpid(v->pid, &st, 0);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* GET @path: its status, and its body in *body (malloc'd) when @body is not NULL. */
static int get(struct view *v, const char *path, const char *extra, char **body, size_t *len)
{
	char file[4300], cmd[8192];
	snprintf(file, sizeof(file), "%s/body", tmp);
	snprintf(cmd, sizeof(cmd), "curl -s -o '%s' -w '%%{http_code}' %s '%s%s'", file,
		 extra ? extra : "", v->url, path);
	FILE *p = popen(cmd, "r");
	int code = 0;
	if (fscanf(p, "%d", &code) != 1)
		code = -1;
	pclose(p);
	if (body) {
		FILE *f = fopen(file, "rb");
		fseek(f, 0, SEEK_END);
		long n = ftell(f);
		rewind(f);
		*body = malloc((size_t)n + 1);
		if (fread(*body, 1, (size_t)n, f) != (size_t)n)
			abort();
		(*body)[n] = 0;
		if (len)
			*len = (size_t)n;
		fclose(f);
	}
	return code;
}

static cJSON *get_json(struct view *v, const char *path)
{
	char *body;
	int code = get(v, path, NULL, &body, NULL);
	if (code != 200)
		CT_FAIL("%s: HTTP %d: %s", path, code, body);
	cJSON *j = cJSON_Parse(body);
	if (!j)
		CT_FAIL("%s: not JSON", path);
	free(body);
	return j;
}

static int64_t num(const cJSON *o, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(n))
		CT_FAIL("no number %s", key);
	return (int64_t)n->valuedouble;
}

static void record_env(const char *name, char *out, size_t size, char *const env[])
{
	char exe[4200];
	snprintf(out, size, "%s/%s.trace", tmp, name);
	snprintf(exe, sizeof(exe), "%s/%s", wl_dir, name);
	char *argv[] = { (char *)ctrace_bin, "record", "-q", "-o", out, "--", exe, NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(argv, env, NULL)), 0);
}

static void record(const char *name, char *out, size_t size)
{
	record_env(name, out, size, NULL);
}

/* /api/threads holds the numbers of `ctrace stats --format=json`, thread by thread. */
static void threads_equal_stats(void)
{
	char trace[4300];
	record("mutex_contend", trace, sizeof(trace));
	char *argv[] = { (char *)ctrace_bin, "stats", "--format=json", trace, NULL };
	char *stats;
	ASSERT_EQ(WEXITSTATUS(tt_run(argv, NULL, &stats)), 0);
	cJSON *sj = cJSON_Parse(stats);
	free(stats);
	ASSERT_TRUE(sj != NULL);
	struct view v;
	view_start(&v, trace);
	cJSON *vj = get_json(&v, "/api/threads");
	cJSON *st = cJSON_GetObjectItemCaseSensitive(sj, "threads");
	cJSON *vt = cJSON_GetObjectItemCaseSensitive(vj, "threads");
	ASSERT_EQ(cJSON_GetArraySize(st), cJSON_GetArraySize(vt));
	static const char *const keys[] = { "pid", "tid", "start_ns", "duration_ns", "user_ns",
					    "sys_ns", "idle_ns", "wait_ns", "sync_ns", "io_ns",
					    "sleep_ns", "other_ns", "unknown_ns", "blocks",
					    "syscalls", "err_ns", "sched", "allocs", "alloc_bytes" };
	for (int i = 0; i < cJSON_GetArraySize(st); i++) {
		cJSON *a = cJSON_GetArrayItem(st, i), *b = cJSON_GetArrayItem(vt, i);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			ASSERT_EQ(num(a, keys[k]), num(b, keys[k]));
		ASSERT_STREQ(cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring,
			     cJSON_GetObjectItemCaseSensitive(b, "name")->valuestring);
	}
	cJSON_Delete(sj);
	cJSON_Delete(vj);

	/* A contended lock's details name the workload's function. */
	cJSON *sum = get_json(&v, "/api/summary");
	cJSON *tr = cJSON_GetObjectItemCaseSensitive(sum, "trace");
	int64_t start = num(tr, "start_ns"), end = num(tr, "end_ns");
	char path[512];
	snprintf(path, sizeof(path), "/api/timeline?start=%" PRId64 "&end=%" PRId64 "&width=100000",
		 start, end);
	ASSERT_EQ(get(&v, path, NULL, NULL, NULL), 400); /* width out of range */
	snprintf(path, sizeof(path), "/api/timeline?start=%" PRId64 "&end=%" PRId64 "&width=16000",
		 start, end);
	cJSON *tl = get_json(&v, path);
	cJSON *calls = cJSON_GetObjectItemCaseSensitive(tl, "calls"), *th;
	int lock = -1;
	for (int i = 0; i < cJSON_GetArraySize(calls); i++)
		if (!strcmp(cJSON_GetArrayItem(calls, i)->valuestring, "pthread_mutex_lock"))
			lock = i;
	ASSERT_GE(lock, 0);
	int checked = 0;
	cJSON_ArrayForEach(th, cJSON_GetObjectItemCaseSensitive(tl, "threads"))
	{
		cJSON *sp;
		cJSON_ArrayForEach(sp, cJSON_GetObjectItemCaseSensitive(th, "spans"))
		{
			if (checked || cJSON_GetArrayItem(sp, 4)->valueint != lock ||
			    cJSON_GetArrayItem(sp, 2)->valueint != 3)
				continue;
			int64_t b = (int64_t)cJSON_GetArrayItem(sp, 0)->valuedouble;
			int64_t e = (int64_t)cJSON_GetArrayItem(sp, 1)->valuedouble;
			snprintf(path, sizeof(path), "/api/interval?tid=%" PRId64 "&at=%" PRId64,
				 num(th, "tid"), b + (e - b) / 2);
			cJSON *d = get_json(&v, path);
			ASSERT_STREQ(cJSON_GetObjectItemCaseSensitive(d, "call")->valuestring,
				     "pthread_mutex_lock");
			char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(d, "stack"));
			if (!strstr(s, "contend_on_lock"))
				CT_FAIL("the lock's stack lacks contend_on_lock: %s", s);
			free(s);
			cJSON_Delete(d);
			checked = 1;
		}
	}
	ASSERT_TRUE(checked);
	cJSON_Delete(tl);
	cJSON_Delete(sum);

	/* Bad requests, and nothing from the filesystem. */
	ASSERT_EQ(get(&v, "/api/timeline?start=abc&end=1&width=10", NULL, NULL, NULL), 400);
	ASSERT_EQ(get(&v, "/api/timeline?start=10&end=1&width=10", NULL, NULL, NULL), 400);
	ASSERT_EQ(get(&v, "/api/interval?tid=1&at=1", NULL, NULL, NULL), 400);
	ASSERT_EQ(get(&v, "/api/profile?type=nope", NULL, NULL, NULL), 400);
	ASSERT_EQ(get(&v, "/api/nope", NULL, NULL, NULL), 404);
	ASSERT_EQ(get(&v, "/etc/passwd", NULL, NULL, NULL), 404);
	ASSERT_EQ(get(&v, "/../../etc/passwd", "--path-as-is", NULL, NULL), 404);
	ASSERT_EQ(get(&v, "/api/summary", "-X POST", NULL, NULL), 405);
	ASSERT_EQ(get(&v, "/", NULL, NULL, NULL), 200);
	cJSON *prof = get_json(&v, "/api/profile?type=sync");
	ASSERT_GT(num(prof, "value"), 0);
	cJSON_Delete(prof);
	char *pb;
	size_t pblen;
	ASSERT_EQ(get(&v, "/api/pprof?type=sync", NULL, &pb, &pblen), 200);
	ASSERT_TRUE(pblen > 2 && (unsigned char)pb[0] == 0x1f && (unsigned char)pb[1] == 0x8b);
	free(pb);
	cJSON *lat = get_json(&v, "/api/latency");
	ASSERT_GT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lat, "reasons")), 0);
	cJSON_Delete(lat);
	view_stop(&v);
}

/* The 200 ms pipe read is one IO span of about 200 ms in the reader's lane. */
static void timeline_holds_the_pipe_read(void)
{
	char trace[4300];
	record("pipe_block", trace, sizeof(trace));
	struct view v;
	view_start(&v, trace);
	cJSON *sum = get_json(&v, "/api/summary");
	cJSON *tr = cJSON_GetObjectItemCaseSensitive(sum, "trace");
	int64_t start = num(tr, "start_ns"), end = num(tr, "end_ns");
	int64_t reader = 0;
	cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(sum, "threads"))
	{
		if (!strcmp(cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring, "reader"))
			reader = num(t, "tid");
	}
	ASSERT_GT(reader, 0);
	char path[512];
	snprintf(path, sizeof(path), "/api/timeline?start=%" PRId64 "&end=%" PRId64 "&width=1000",
		 start, end);
	cJSON *tl = get_json(&v, path);
	int found = 0;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(tl, "threads"))
	{
		if (num(t, "tid") != reader)
			continue;
		cJSON *sp;
		cJSON_ArrayForEach(sp, cJSON_GetObjectItemCaseSensitive(t, "spans"))
		{
			int64_t d = (int64_t)(cJSON_GetArrayItem(sp, 1)->valuedouble -
					      cJSON_GetArrayItem(sp, 0)->valuedouble);
			if (cJSON_GetArrayItem(sp, 2)->valueint == 3 &&
			    cJSON_GetArrayItem(sp, 3)->valueint == 2 && d > 180000000 &&
			    d < 220000000)
				found++;
		}
	}
	ASSERT_EQ(found, 1);
	cJSON_Delete(tl);
	cJSON_Delete(sum);
	view_stop(&v);
}

/* A big synthetic trace: the index builds in bounded memory, and the whole range's
 * timeline is answered fast, at a size that depends on the width, not the trace. */
static void scale(void)
{
	const char *events = getenv("CTRACE_VIEW_SCALE_EVENTS");
	if (!events)
		events = "100000000";
	char trace[4300];
	snprintf(trace, sizeof(trace), "%s/big.trace", tmp);
	char *gen[] = { (char *)synth, trace, (char *)events, "16", NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(gen, NULL, NULL)), 0);
	double t0 = now_s();
	struct view v;
	view_start(&v, trace); /* returns when the index is built and the server listens */
	double t1 = now_s();
	cJSON *sum = get_json(&v, "/api/summary");
	cJSON *tr = cJSON_GetObjectItemCaseSensitive(sum, "trace");
	int64_t start = num(tr, "start_ns"), end = num(tr, "end_ns");
	char path[512];
	snprintf(path, sizeof(path), "/api/timeline?start=%" PRId64 "&end=%" PRId64 "&width=1600",
		 start, end);
	char *body;
	size_t len;
	double t2 = now_s();
	ASSERT_EQ(get(&v, path, NULL, &body, &len), 200);
	double t3 = now_s();
	cJSON *tl = cJSON_Parse(body);
	ASSERT_TRUE(tl != NULL);
	ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tl, "threads")), 16);
	char status[64];
	snprintf(status, sizeof(status), "/proc/%d/status", (int)v.pid);
	FILE *f = fopen(status, "r");
	long rss = 0;
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			rss = atol(line + 6);
	if (f)
		fclose(f);
	printf("view at scale: %s events: index built in %.2f s, full-range timeline at 1600 px "
	       "in %.3f s (%zu bytes), server peak RSS %ld KiB\n",
	       events, t1 - t0, t3 - t2, len, rss);
	ASSERT_LT((t3 - t2) * 1000, 3000);
	ASSERT_LT(len, 16 * 1600 * 2 * 120); /* per thread about two items a pixel at most */
	ASSERT_LT(rss, 1024 * 1024);
	free(body);
	cJSON_Delete(tl);
	cJSON_Delete(sum);
	view_stop(&v);
}

static void bad_files(void)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/not-a-trace", tmp);
	FILE *f = fopen(path, "w");
	fputs("hello\n", f);
	fclose(f);
	char *argv[] = { (char *)ctrace_bin, "view", "--no-open", path, NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(argv, NULL, NULL)), 1);
	char *argv2[] = { (char *)ctrace_bin, "view", "--no-open", "--http=nonsense", path, NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(argv2, NULL, NULL)), 2);
	/* A truncated trace opens with a warning: what came before the damage. */
	char trace[4300], cut[4400];
	char *env[] = { "CTRACE_GEN_PERIOD=50ms", NULL };
	record_env("sleeper", trace, sizeof(trace), env);
	snprintf(cut, sizeof(cut), "%s.cut", trace);
	FILE *in = fopen(trace, "rb"), *out = fopen(cut, "wb");
	char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf), in);
	fwrite(buf, 1, n - 10, out); /* the last generation loses its tail */
	fclose(in);
	fclose(out);
	struct view v;
	view_start(&v, cut);
	cJSON *sum = get_json(&v, "/api/summary");
	cJSON *w = cJSON_GetObjectItemCaseSensitive(sum, "warnings");
	ASSERT_GE(cJSON_GetArraySize(w), 1);
	char *ws = cJSON_PrintUnformatted(w);
	if (!strstr(ws, "truncated"))
		CT_FAIL("no truncation warning: %s", ws);
	free(ws);
	ASSERT_GT(num(cJSON_GetObjectItemCaseSensitive(sum, "trace"), "generations"), 1);
	cJSON_Delete(sum);
	view_stop(&v);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		CT_FAIL("usage: test_view CTRACE WORKLOAD_DIR SYNTH");
	if (system("command -v curl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "SKIP: no curl (tests/run installs it)\n");
		return 77;
	}
	ctrace_bin = argv[1];
	wl_dir = argv[2];
	synth = argv[3];
	tmp = tt_tmpdir();
	RUN(threads_equal_stats);
	RUN(timeline_holds_the_pipe_read);
	RUN(bad_files);
	RUN(scale);
	tt_rmrf(tmp);
	return 0;
}
