/*
 * The profile endpoints, end to end: the profiles workload runs unmodified under
 * LD_PRELOAD with CTRACE_HTTP, each profile is fetched with Debian's curl and read by
 * Debian's `go tool pprof -raw`, and each names the workload function it must: the CPU
 * burner's 3:1 split, the leaking allocation site, the contended mutex site, the condvar
 * waiter, the thread blocked in read. Delta profiles hold only what happened in their
 * window; `ctrace capture --profile` and `ctrace pprof URL` fetch them too.
 * Arguments: the workloads build directory, libctrace.so, the ctrace binary.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

static const char *wl_dir, *lib, *ctrace_bin;
static char *tmp;

static struct {
	pid_t pid;
	FILE *in, *out;
	char url[128];
	char base[64];
} T;

static void expect_line(const char *prefix)
{
	char line[256];
	if (!fgets(line, sizeof(line), T.out))
		CT_FAIL("the workload ended before saying '%s'", prefix);
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		CT_FAIL("the workload said '%s', not '%s'", line, prefix);
}

static void start(const char *arg)
{
	int in[2], out[2];
	int port = tt_free_port();
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	snprintf(T.url, sizeof(T.url), "http://127.0.0.1:%d/debug/pprof", port);
	snprintf(T.base, sizeof(T.base), "http://127.0.0.1:%d", port);
	if (pipe(in) < 0 || pipe(out) < 0)
		abort();
	T.pid = fork();
	if (T.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		char exe[4200];
		snprintf(exe, sizeof(exe), "%s/profiles", wl_dir);
		setenv("LD_PRELOAD", lib, 1);
		setenv("CTRACE_HTTP", addr, 1);
		setenv("CTRACE_MUTEX_RATE", "1", 1);
		setenv("CTRACE_BLOCK_RATE", "1", 1);
		execl(exe, exe, arg, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	T.in = fdopen(in[1], "w");
	T.out = fdopen(out[0], "r");
	setvbuf(T.in, NULL, _IOLBF, 0);
	expect_line("ready");
}

static void finish(void)
{
	fclose(T.in);
	expect_line("bye");
	fclose(T.out);
	int st;
	waitpid(T.pid, &st, 0);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* GET @path (after /debug/pprof/) into @file under tmp; @return the HTTP status. */
static int fetch(const char *path, const char *file)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "curl -s -o '%s/%s' -w '%%{http_code}' '%s/%s'", tmp,
		 file ? file : "body", T.url, path);
	FILE *p = popen(cmd, "r");
	int code = -1;
	if (!p || fscanf(p, "%d", &code) != 1)
		code = -1;
	if (p)
		pclose(p);
	return code;
}

/* GET @path into @file in the background: a curl the caller waits for with wait_bg. */
static pid_t fetch_bg(const char *path, const char *file)
{
	char out[4200], url[4200];
	snprintf(out, sizeof(out), "%s/%s", tmp, file);
	snprintf(url, sizeof(url), "%s/%s", T.url, path);
	pid_t pid = fork();
	if (pid == 0) {
		execlp("curl", "curl", "-s", "-f", "-o", out, url, (char *)NULL);
		_exit(127);
	}
	ASSERT_GT(pid, 0);
	return pid;
}

static void wait_bg(pid_t pid)
{
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		CT_FAIL("the background curl failed (status %d)", st);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		CT_FAIL("cannot read %s", path);
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	char chunk[65536];
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = realloc(buf, cap = len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	buf[len] = 0;
	(void)cap;
	return buf;
}

static char *body(const char *file)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", tmp, file);
	return slurp(path);
}

/* ---- go tool pprof -raw, parsed ---- */

#define MAX_LOCS 4096
#define MAX_SAMPLES 8192

struct raw {
	int ntypes;
	char types[8][64];
	int nsamples;
	struct {
		long long v[8];
		int nlocs;
		int locs[64];
	} s[MAX_SAMPLES];
	char *fn[MAX_LOCS]; /* location id -> first function */
};

static struct raw R;

/* Run `go tool pprof -raw` on @file: it must parse it; fill R. */
static void pprof_raw(const char *file)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && HOME='%s' GOCACHE='%s/gocache' GOPATH='%s/gopath' GOENV=off GOFLAGS= "
		 "GOTOOLCHAIN=local PPROF_TMPDIR='%s' go tool pprof -raw -symbolize=none '%s' "
		 ">raw.txt 2>raw.err",
		 tmp, tmp, tmp, tmp, tmp, file);
	if (system(cmd) != 0) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/raw.err", tmp);
		CT_FAIL("go tool pprof -raw %s failed: %s", file, slurp(path));
	}
	for (int i = 0; i < MAX_LOCS; i++)
		free(R.fn[i]);
	memset(&R, 0, sizeof(R));
	char path[4200];
	snprintf(path, sizeof(path), "%s/raw.txt", tmp);
	char *text = slurp(path);
	int section = 0; /* 1 samples, 2 locations */
	int header = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "Samples:", 8) == 0) {
			section = 1;
			header = 1;
			continue;
		}
		if (strncmp(line, "Locations", 9) == 0) {
			section = 2;
			continue;
		}
		if (strncmp(line, "Mappings", 8) == 0) {
			section = 0;
			continue;
		}
		if (section == 1 && header) {
			header = 0;
			for (char *tok = strtok_r(line, " ", &line); tok && R.ntypes < 8;
			     tok = strtok_r(NULL, " ", &line))
				/* (the default type is marked "[dflt]") */
				snprintf(R.types[R.ntypes++], sizeof(R.types[0]), "%.*s",
					 (int)strcspn(tok, "["), tok);
			continue;
		}
		const char *p = line;
		while (*p == ' ')
			p++;
		if (section == 1 && *p >= '0' && *p <= '9' && strchr(p, ':') &&
		    R.nsamples < MAX_SAMPLES) {
			char *q = (char *)p;
			int k = 0;
			for (; k < R.ntypes; k++)
				R.s[R.nsamples].v[k] = strtoll(q, &q, 10);
			if (*q != ':')
				continue;
			q++;
			int n = 0;
			for (char *e; n < 64; q = e) {
				long id = strtol(q, &e, 10);
				if (e == q)
					break;
				R.s[R.nsamples].locs[n++] = (int)id;
			}
			R.s[R.nsamples].nlocs = n;
			R.nsamples++;
		} else if (section == 2 && *p >= '0' && *p <= '9') {
			char *q;
			long id = strtol(p, &q, 10);
			char addr[64], map[64], fn[512];
			if (*q == ':' && id > 0 && id < MAX_LOCS &&
			    sscanf(q + 1, "%63s %63s %511s", addr, map, fn) == 3)
				R.fn[id] = strdup(fn);
		}
	}
	free(text);
}

/* The sample type `go tool pprof` shows by default for @file. */
static char *default_type(const char *file)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && HOME='%s' GOCACHE='%s/gocache' GOPATH='%s/gopath' GOENV=off GOFLAGS= "
		 "GOTOOLCHAIN=local PPROF_TMPDIR='%s' go tool pprof -top -symbolize=none '%s' "
		 "2>/dev/null | sed -n 's/^Type: //p' >type.txt",
		 tmp, tmp, tmp, tmp, tmp, file);
	ASSERT_EQ(system(cmd), 0);
	char *t = body("type.txt");
	t[strcspn(t, "\n")] = 0;
	return t;
}

static int type_index(const char *type)
{
	for (int i = 0; i < R.ntypes; i++)
		if (strcmp(R.types[i], type) == 0)
			return i;
	CT_FAIL("the profile has no sample type %s", type);
}

static const char *loc_fn(int id)
{
	return id > 0 && id < MAX_LOCS && R.fn[id] ? R.fn[id] : "?";
}

/* The sum of @type over samples whose stack has @fn anywhere (cum) or at the leaf (flat). */
static long long total(const char *type, const char *fn, int leaf_only)
{
	int t = type_index(type);
	long long sum = 0;
	for (int i = 0; i < R.nsamples; i++) {
		int n = leaf_only && R.s[i].nlocs > 0 ? 1 : R.s[i].nlocs;
		for (int j = 0; j < n; j++)
			if (!fn || strcmp(loc_fn(R.s[i].locs[j]), fn) == 0) {
				sum += R.s[i].v[t];
				break;
			}
	}
	return sum;
}

/* The leaf function with the most @type. */
static const char *top_leaf(const char *type)
{
	static char best[512];
	long long best_v = -1;
	best[0] = 0;
	for (int i = 0; i < R.nsamples; i++) {
		if (!R.s[i].nlocs)
			continue;
		const char *fn = loc_fn(R.s[i].locs[0]);
		long long v = total(type, fn, 1);
		if (v > best_v) {
			best_v = v;
			snprintf(best, sizeof(best), "%s", fn);
		}
	}
	return best;
}

/* ---- the tests ---- */

static void cpu_profile_splits_the_burner_3_to_1(void)
{
	/* A second request while one runs: 409. */
	pid_t bg = fetch_bg("profile?seconds=3", "cpu.pb.gz");
	usleep(500000);
	ASSERT_EQ(fetch("profile?seconds=1", "busy.txt"), 409);
	char *b = body("busy.txt");
	ASSERT_TRUE(strstr(b, "cpu profiling already in use") != NULL);
	free(b);
	wait_bg(bg);
	pprof_raw("cpu.pb.gz");
	long long heavy = total("cpu/nanoseconds", "burn_heavy", 0);
	long long light = total("cpu/nanoseconds", "burn_light", 0);
	long long all = total("cpu/nanoseconds", NULL, 0);
	fprintf(stderr, "cpu: burn_heavy %lld ns, burn_light %lld ns, all %lld ns\n", heavy, light,
		all);
	ASSERT_STREQ(top_leaf("cpu/nanoseconds"), "burn");
	ASSERT_GT(heavy + light, all / 2);
	double share = (double)heavy / (double)(heavy + light);
	if (share < 0.65 || share > 0.85)
		CT_FAIL("burn_heavy is %.3f of the burner's CPU, not 0.75 +- 0.10", share);
}

static void heap_profile_names_the_leak(void)
{
	ASSERT_EQ(fetch("heap", "heap.pb.gz"), 200);
	pprof_raw("heap.pb.gz");
	ASSERT_EQ(R.ntypes, 4);
	ASSERT_STREQ(R.types[0], "alloc_objects/count");
	ASSERT_STREQ(R.types[1], "alloc_space/bytes");
	ASSERT_STREQ(R.types[2], "inuse_objects/count");
	ASSERT_STREQ(R.types[3], "inuse_space/bytes");
	ASSERT_STREQ(top_leaf("inuse_space/bytes"), "leak_site");
	/* The churn site allocates as much but frees it all. */
	ASSERT_GT(total("alloc_space/bytes", "churn_site", 1), 0);
	ASSERT_LT(total("inuse_space/bytes", "churn_site", 1),
		  total("inuse_space/bytes", "leak_site", 1) / 10);
	ASSERT_GT(total("inuse_space/bytes", "early_site", 1), 0);

	char *dt = default_type("heap.pb.gz");
	ASSERT_STREQ(dt, "inuse_space");
	free(dt);
	ASSERT_EQ(fetch("allocs", "allocs.pb.gz"), 200);
	dt = default_type("allocs.pb.gz");
	ASSERT_STREQ(dt, "alloc_space");
	free(dt);
	pprof_raw("allocs.pb.gz");
	ASSERT_GT(total("alloc_space/bytes", "churn_site", 1), 0);
	ASSERT_GT(total("alloc_space/bytes", "leak_site", 1), 0);

	ASSERT_EQ(fetch("heap?debug=1", "heap.txt"), 200);
	char *t = body("heap.txt");
	ASSERT_TRUE(strncmp(t, "heap profile: ", 14) == 0);
	ASSERT_TRUE(strstr(t, "\tleak_site\t") != NULL);
	free(t);
}

static void mutex_and_block_profiles_name_the_waiters(void)
{
	ASSERT_EQ(fetch("mutex", "mutex.pb.gz"), 200);
	pprof_raw("mutex.pb.gz");
	ASSERT_STREQ(top_leaf("delay/nanoseconds"), "contend_site");
	ASSERT_GT(total("contentions/count", "contend_site", 1), 10);

	ASSERT_EQ(fetch("block", "block.pb.gz"), 200);
	pprof_raw("block.pb.gz");
	ASSERT_STREQ(top_leaf("delay/nanoseconds"), "cond_waiter");

	ASSERT_EQ(fetch("mutex?debug=1", "mutex.txt"), 200);
	char *t = body("mutex.txt");
	ASSERT_TRUE(strncmp(t, "--- mutex:\ncycles/second=", 25) == 0);
	ASSERT_TRUE(strstr(t, "\tcontend_site\t") != NULL);
	free(t);
}

static void threadcreate_and_threads(void)
{
	ASSERT_EQ(fetch("threadcreate", "tc.pb.gz"), 200);
	pprof_raw("tc.pb.gz");
	ASSERT_EQ(total("threadcreate/count", "main", 0), 7);

	ASSERT_EQ(fetch("threads", "threads.pb.gz"), 200);
	pprof_raw("threads.pb.gz");
	ASSERT_GE(total("threads/count", NULL, 0), 8);
	ASSERT_EQ(total("threads/count", "pipe_reader", 0), 1);
	ASSERT_EQ(fetch("goroutine", "goroutine.pb.gz"), 200);
	pprof_raw("goroutine.pb.gz");
	ASSERT_EQ(R.ntypes, 1);
	ASSERT_STREQ(R.types[0], "goroutine/count");
	ASSERT_EQ(total("goroutine/count", "pipe_reader", 0), 1);

	ASSERT_EQ(fetch("threads?debug=2", "threads.txt"), 200);
	char *t = body("threads.txt");
	const char *r = strstr(t, "\"reader\" [blocked in read, ");
	if (!r)
		CT_FAIL("no reader blocked in read in:\n%s", t);
	const char *end = strstr(r, "\n\n");
	const char *fn = strstr(r, "\npipe_reader(");
	ASSERT_TRUE(fn != NULL && end != NULL && fn < end);
	free(t);
	ASSERT_EQ(fetch("threads?debug=1", "threads1.txt"), 200);
	t = body("threads1.txt");
	ASSERT_TRUE(strncmp(t, "threads profile: total ", 23) == 0);
	ASSERT_TRUE(strstr(t, "\tpipe_reader\t") != NULL);
	free(t);
}

static void delta_profiles_hold_only_their_window(void)
{
	/* late_site allocates only inside the window; early_site only before it. */
	pid_t bg = fetch_bg("heap?seconds=2", "delta.pb.gz");
	usleep(500000);
	fprintf(T.in, "late\n");
	expect_line("late done");
	wait_bg(bg);
	pprof_raw("delta.pb.gz");
	ASSERT_GT(total("alloc_space/bytes", "late_site", 1), 0);
	ASSERT_EQ(total("alloc_space/bytes", "early_site", 1), 0);
	/* Two seconds of leak_site, not the whole run's. */
	ASSERT_GT(total("alloc_space/bytes", "leak_site", 1), 0);

	/* godeltaprof's paths: since the previous request; in-use stays absolute. */
	ASSERT_EQ(fetch("delta_heap", "d1.pb.gz"), 200);
	pprof_raw("d1.pb.gz");
	ASSERT_GT(total("alloc_space/bytes", "early_site", 1), 0);
	ASSERT_EQ(fetch("delta_heap", "d2.pb.gz"), 200);
	pprof_raw("d2.pb.gz");
	ASSERT_EQ(total("alloc_space/bytes", "early_site", 1), 0);
	ASSERT_GT(total("inuse_space/bytes", "early_site", 1), 0);

	ASSERT_EQ(fetch("mutex?seconds=1", "dm.pb.gz"), 200);
	pprof_raw("dm.pb.gz");
	long long n = total("contentions/count", "contend_site", 1);
	/* about 250 a second (a 2 ms hold, two lockers); the whole run's are many more */
	ASSERT_GT(n, 20);
	ASSERT_LT(n, 2000);

	/* ctrace_set_mutex_rate(0) at run time: nothing more is recorded, then 1 again. */
	fprintf(T.in, "mutexrate 0\n");
	expect_line("rate 0");
	ASSERT_EQ(fetch("mutex?seconds=1", "dm0.pb.gz"), 200);
	pprof_raw("dm0.pb.gz");
	ASSERT_LE(total("contentions/count", NULL, 0), 2); /* a wait begun before the call */
	fprintf(T.in, "mutexrate -1\n");
	expect_line("rate -1"); /* CTRACE_EINVAL */
	fprintf(T.in, "mutexrate 1\n");
	expect_line("rate 0");
}

/* Run the ctrace command with @args in tmp; @return its exit status. */
static int ctrace(const char *args)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' %s 2>cli.err", tmp, ctrace_bin, args);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void the_cli_fetches_profiles(void)
{
	char args[4096];
	snprintf(args, sizeof(args), "capture %s --profile=heap -o cli-heap.pb.gz", T.base);
	ASSERT_EQ(ctrace(args), 0);
	pprof_raw("cli-heap.pb.gz");
	ASSERT_STREQ(top_leaf("inuse_space/bytes"), "leak_site");

	snprintf(args, sizeof(args), "pprof --type=mutex -s 1 -o cli-mutex.pb.gz %s", T.base);
	ASSERT_EQ(ctrace(args), 0);
	pprof_raw("cli-mutex.pb.gz");
	ASSERT_STREQ(top_leaf("delay/nanoseconds"), "contend_site");

	snprintf(args, sizeof(args), "pprof --type=cpu -s 1 -o cli-cpu.pb.gz %s/debug/pprof/",
		 T.base);
	ASSERT_EQ(ctrace(args), 0);
	pprof_raw("cli-cpu.pb.gz");
	ASSERT_STREQ(top_leaf("cpu/nanoseconds"), "burn");

	snprintf(args, sizeof(args), "pprof --type=nosuch %s", T.base);
	ASSERT_EQ(ctrace(args), 2);
	snprintf(args, sizeof(args), "capture %s --profile=nosuch -o x.pb.gz", T.base);
	ASSERT_EQ(ctrace(args), 1);
	char *e = body("cli.err");
	ASSERT_TRUE(strstr(e, "HTTP 404: Unknown profile") != NULL);
	free(e);
}

static void a_trace_during_a_cpu_profile_has_its_samples(void)
{
	pid_t bg = fetch_bg("trace?seconds=2", "during.trace");
	usleep(300000);
	ASSERT_EQ(fetch("profile?seconds=1", "during.pb.gz"), 200);
	wait_bg(bg);
	ASSERT_EQ(ctrace("pprof --type=cpu -o trace-cpu.pb.gz during.trace"), 0);
	pprof_raw("trace-cpu.pb.gz");
	ASSERT_GT(total("samples/count", "burn_heavy", 0), 10);
	ASSERT_STREQ(top_leaf("samples/count"), "burn");
	/* Each sample stands for the profile's period (10 ms at 100 Hz). */
	ASSERT_EQ(total("cpu/nanoseconds", "burn_heavy", 0),
		  total("samples/count", "burn_heavy", 0) * 10000000);
}

/*
 * During a trace capture the capture's allocation sampler feeds the heap profile too (one
 * stack per sample): the profile of that window still names the sites, and the blocks it
 * sampled leave the in-use figures when freed. The trace has the same samples.
 */
static void the_heap_profile_during_a_trace(void)
{
	pid_t bg = fetch_bg("trace?seconds=3", "heapcap.trace");
	usleep(300000);
	ASSERT_EQ(fetch("heap?seconds=2", "heapcap.pb.gz"), 200);
	wait_bg(bg);
	pprof_raw("heapcap.pb.gz");
	/* leak_site has stopped at its 64 MiB by now; churn_site goes on: 32 KiB every 5 ms,
	 * about 13 MiB in the 2 s, sampled every 512 KiB on average. */
	long long churn = total("alloc_space/bytes", "churn_site", 1);
	fprintf(stderr, "  in the window: churn_site %lld bytes\n", churn);
	ASSERT_GT(churn, 4 << 20);
	ASSERT_LT(churn, 40 << 20);
	/* ... and its blocks are freed at once: none in use, whoever sampled them. */
	ASSERT_EQ(fetch("heap", "heapafter.pb.gz"), 200);
	pprof_raw("heapafter.pb.gz");
	ASSERT_LT(total("inuse_space/bytes", "churn_site", 1),
		  total("inuse_space/bytes", "leak_site", 1) / 10);
	ASSERT_EQ(ctrace("pprof --type=alloc -o heapcap-alloc.pb.gz heapcap.trace"), 0);
	pprof_raw("heapcap-alloc.pb.gz");
	ASSERT_GT(total("alloc_space/bytes", "churn_site", 1), 4 << 20);
}

static void a_program_with_its_own_sigprof_handler_keeps_it(void)
{
	start("sigprof");
	ASSERT_EQ(fetch("profile?seconds=1", "own.txt"), 409);
	char *t = body("own.txt");
	ASSERT_TRUE(strstr(t, "own SIGPROF handler") != NULL);
	free(t);
	ASSERT_EQ(fetch("heap", "own.pb.gz"), 200); /* the rest still works */
	finish();
}

static void bad_rates_warn(void)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && CTRACE_BLOCK_RATE=abc CTRACE_MUTEX_RATE=-1 LD_PRELOAD='%s' '%s/profiles' "
		 "</dev/null >rates.out 2>rates.err",
		 tmp, lib, wl_dir);
	ASSERT_EQ(system(cmd), 0);
	char *e = body("rates.err");
	if (!strstr(e, "ctrace: CTRACE_BLOCK_RATE=abc is not a rate") ||
	    !strstr(e, "ctrace: CTRACE_MUTEX_RATE=-1 is not a rate"))
		CT_FAIL("no warnings for the bad rates in:\n%s", e);
	free(e);
	char *o = body("rates.out");
	ASSERT_TRUE(strstr(o, "bye") != NULL);
	free(o);
}

static void bad_requests(void)
{
	ASSERT_EQ(fetch("nosuch", "e.txt"), 404);
	char *t = body("e.txt");
	ASSERT_STREQ(t, "Unknown profile\n");
	free(t);
	ASSERT_EQ(fetch("heap?seconds=abc", "e.txt"), 400);
	t = body("e.txt");
	ASSERT_STREQ(t, "invalid value for \"seconds\" - must be a positive integer\n");
	free(t);
	ASSERT_EQ(fetch("heap?seconds=0", "e.txt"), 400);
	ASSERT_EQ(fetch("mutex?seconds=1&debug=1", "e.txt"), 400);
	t = body("e.txt");
	ASSERT_STREQ(t, "seconds and debug params are incompatible\n");
	free(t);
	ASSERT_EQ(fetch("delta_heap?seconds=1", "e.txt"), 400);
	ASSERT_EQ(fetch("heap?seconds=100000", "e.txt"), 400);
	ASSERT_EQ(fetch("heap?gc=1", "e.txt"), 200); /* gc is ignored */
	ASSERT_EQ(fetch("", "index.html"), 200);
	t = body("index.html");
	const char *names[] = { "allocs", "block", "goroutine", "heap", "mutex", "profile",
				"threadcreate", "threads" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char want[128];
		snprintf(want, sizeof(want), "\">%s</a>", names[i]);
		if (!strstr(t, want))
			CT_FAIL("the index lacks %s", names[i]);
	}
	free(t);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		CT_FAIL("usage: test_profiles WORKLOAD_DIR LIBCTRACE CTRACE");
	if (system("command -v curl >/dev/null 2>&1 && command -v go >/dev/null 2>&1") != 0)
		SKIP("needs curl and go (golang-go; tests/run installs them)");
	wl_dir = argv[1];
	lib = argv[2];
	ctrace_bin = argv[3];
	signal(SIGPIPE, SIG_IGN);
	tmp = tt_tmpdir();
	start(NULL);
	sleep(1); /* some leaking, locking and waiting first */
	RUN(cpu_profile_splits_the_burner_3_to_1);
	RUN(heap_profile_names_the_leak);
	RUN(mutex_and_block_profiles_name_the_waiters);
	RUN(threadcreate_and_threads);
	RUN(delta_profiles_hold_only_their_window);
	RUN(bad_requests);
	RUN(the_cli_fetches_profiles);
	RUN(a_trace_during_a_cpu_profile_has_its_samples);
	RUN(the_heap_profile_during_a_trace);
	finish();
	RUN(a_program_with_its_own_sigprof_handler_keeps_it);
	RUN(bad_rates_warn);
	tt_rmrf(tmp);
	return 0;
}
