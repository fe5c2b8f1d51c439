/*
 * The events the tracer records for real programs: synchronization, I/O, sleeps,
 * scheduling, annotations, and hostile programs. Each workload is recorded with
 * `ctrace record` and checked through the reader API.
 * Arguments: the ctrace binary, the workloads build directory, libctrace.so.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctest.h"
#include "tracetest.h"

static const char *ctrace_bin, *wl_dir;
static char *tmp;

/* One blocking or call episode: begin to end on one thread. */
struct episode {
	uint32_t tid;
	int block;          /* block_begin/end, else call_begin/end */
	char call[40];
	uint32_t reason;    /* the call's class */
	uint64_t object;    /* object address, or fd */
	uint32_t fd_kind;
	int64_t begin_ns, end_ns;
	int64_t result;
	char frames[512];   /* "|fn@file|fn@file|" of its stack */
};

struct run {
	struct episode *eps;
	size_t neps;
	uint64_t wakes[64];  /* by call id */
	char wake_calls[64][40];
	uint64_t wake_obj[4096];
	char wake_name[4096][40];
	size_t nwakes;
	uint64_t counts[CTRACE_EV_COUNT_];
	uint64_t preempted;
	char switches_info[200];
	char out[4096];
	struct tt_trace t;
	char path[4200];
	/* annotations, in order */
	char notes[4096];
	/* schedstat per tid: last value seen */
	uint32_t st_tid[64];
	uint64_t st_runq[64], st_oncpu[64];
	size_t nst;
};

static void frames_of(const ctrace_gen *g, uint64_t stack, char *out, size_t size)
{
	const uint32_t *frames;
	int depth = ctrace_gen_stack(g, stack, &frames);
	size_t used = 0;
	out[0] = 0;
	for (int i = 0; i < depth && used + 2 < size; i++) {
		const struct ctrace_frame *f = ctrace_gen_frame(g, frames[i]);
		const char *file = f && f->file ? strrchr(f->file, '/') : NULL;
		int n = snprintf(out + used, size - used, "|%s@%s", f && f->function ? f->function : "?",
				 file ? file + 1 : "?");
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
	if (used + 2 < size)
		strcat(out, "|");
}

static struct episode *open_episode(struct run *r, uint32_t tid)
{
	for (size_t i = r->neps; i-- > 0;)
		if (r->eps[i].tid == tid && r->eps[i].end_ns < 0)
			return &r->eps[i];
	return NULL;
}

static void load(struct run *r)
{
	ctrace_reader *rd;
	ctrace_gen *g;
	const struct ctrace_event *ev;
	int n;

	ASSERT_EQ(tt_load(r->path, &r->t), 0);
	ASSERT_EQ(ctrace_reader_open(r->path, &rd), 0);
	while ((n = ctrace_reader_next(rd, &g)) == 1) {
		const char *sw = ctrace_gen_info_value(g, "context_switches");
		if (sw)
			snprintf(r->switches_info, sizeof(r->switches_info), "%s", sw);
		while ((n = ctrace_gen_next_event(g, &ev)) == 1) {
			if (ev->type < CTRACE_EV_COUNT_)
				r->counts[ev->type]++;
			const struct ctrace_call *c;
			switch (ev->type) {
			case CTRACE_EV_BLOCK_BEGIN:
			case CTRACE_EV_CALL_BEGIN: {
				r->eps = realloc(r->eps, (r->neps + 1) * sizeof(*r->eps));
				struct episode *e = &r->eps[r->neps++];
				memset(e, 0, sizeof(*e));
				e->tid = ev->tid;
				e->block = ev->type == CTRACE_EV_BLOCK_BEGIN;
				c = ctrace_gen_call(g, ev->args[e->block ? 1 : 0]);
				ASSERT_TRUE(c && c->name);
				snprintf(e->call, sizeof(e->call), "%s", c->name);
				e->reason = c->reason;
				e->object = ev->args[e->block ? 2 : 1];
				e->fd_kind = e->block ? 0 : (uint32_t)ev->args[2];
				e->begin_ns = ev->time_ns;
				e->end_ns = -1;
				if (e->block)
					frames_of(g, ev->args[3], e->frames, sizeof(e->frames));
				break;
			}
			case CTRACE_EV_BLOCK_END:
			case CTRACE_EV_CALL_END: {
				struct episode *e = open_episode(r, ev->tid);
				ASSERT_TRUE(e != NULL);
				e->end_ns = ev->time_ns;
				e->result = (int64_t)ev->args[0];
				if (!e->block && ev->args[2])
					frames_of(g, ev->args[2], e->frames, sizeof(e->frames));
				break;
			}
			case CTRACE_EV_WAKE:
				c = ctrace_gen_call(g, ev->args[0]);
				if (r->nwakes < 4096) {
					r->wake_obj[r->nwakes] = ev->args[1];
					snprintf(r->wake_name[r->nwakes], 40, "%s",
						 c && c->name ? c->name : "?");
					r->nwakes++;
				}
				break;
			case CTRACE_EV_SWITCH_OUT:
				r->preempted += ev->args[1] & 1;
				break;
			case CTRACE_EV_SCHEDSTAT: {
				size_t k;
				for (k = 0; k < r->nst && r->st_tid[k] != ev->tid; k++)
					;
				if (k == r->nst && r->nst < 64)
					r->st_tid[r->nst++] = ev->tid;
				if (k < 64) {
					r->st_oncpu[k] = ev->args[0];
					r->st_runq[k] = ev->args[1];
				}
				break;
			}
			case CTRACE_EV_TASK_BEGIN:
			case CTRACE_EV_TASK_END:
			case CTRACE_EV_REGION_BEGIN:
			case CTRACE_EV_REGION_END:
			case CTRACE_EV_LOG: {
				char line[256];
				snprintf(line, sizeof(line), "%s:%" PRIu64 ":%.*s;",
					 ctrace_event_name(ev->type), ev->args[0],
					 ev->blob ? (int)ev->blob_len : 0, ev->blob ? ev->blob : "");
				strncat(r->notes, line, sizeof(r->notes) - strlen(r->notes) - 1);
				break;
			}
			default:
				break;
			}
		}
		ASSERT_EQ(n, 0);
	}
	ASSERT_EQ(n, 0);
	ctrace_reader_free(rd);
	for (size_t i = 0; i < r->t.nthreads; i++)
		ASSERT_EQ(r->t.threads[i].nonmonotonic, 0);
}

/* Record workload @name with @args; the run's output and trace are loaded into @r. */
static void record(struct run *r, const char *name, char *const args[], char *const env[])
{
	char *argv[32];
	char exe[4096];
	int k = 0;
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s/%s.trace", tmp, name);
	snprintf(exe, sizeof(exe), "%s/%s", wl_dir, name);
	argv[k++] = (char *)ctrace_bin;
	argv[k++] = "record";
	argv[k++] = "-q";
	argv[k++] = "-o";
	argv[k++] = r->path;
	argv[k++] = "--";
	argv[k++] = exe;
	for (int i = 0; args && args[i] && k < 30; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	char *out;
	int st = tt_run(argv, env, &out);
	snprintf(r->out, sizeof(r->out), "%s", out);
	free(out);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		CT_FAIL("%s exited with status 0x%x: %s", name, st, r->out);
	load(r);
}

static void run_free(struct run *r)
{
	free(r->eps);
	tt_free(&r->t);
}

static uint64_t parse_addr(const char *out, const char *key)
{
	const char *p = strstr(out, key);
	if (!p)
		CT_FAIL("no %s in output: %s", key, out);
	return strtoull(p + strlen(key), NULL, 16);
}

static void mutex_contention_has_stacks(void)
{
	struct run r;
	record(&r, "mutex_contend", NULL, NULL);
	uint64_t lonely = parse_addr(r.out, "lonely=0x");
	size_t contended = 0;
	for (size_t i = 0; i < r.neps; i++) {
		struct episode *e = &r.eps[i];
		ASSERT_TRUE(e->object != lonely); /* uncontended locks record nothing */
		if (strcmp(e->call, "pthread_mutex_lock") != 0)
			continue;
		contended++;
		ASSERT_TRUE(e->block);
		ASSERT_EQ(e->reason, CTRACE_REASON_SYNC);
		ASSERT_GE(e->end_ns, e->begin_ns);
		ASSERT_EQ(e->result, 0);
		if (!strstr(e->frames, "|contend_on_lock@mutex_contend.c|"))
			CT_FAIL("stack without the workload's frame: %s", e->frames);
	}
	ASSERT_GT(contended, 0);
	run_free(&r);
}

/* CTRACE_SYMBOLS=names: the same stacks, with function names and no source files. */
static void names_only_stacks(void)
{
	struct run r;
	char *env[] = { "CTRACE_SYMBOLS=names", NULL };
	record(&r, "mutex_contend", NULL, env);
	size_t contended = 0;
	for (size_t i = 0; i < r.neps; i++) {
		struct episode *e = &r.eps[i];
		if (strcmp(e->call, "pthread_mutex_lock") != 0)
			continue;
		contended++;
		if (!strstr(e->frames, "|contend_on_lock@?|"))
			CT_FAIL("stack with a source file or without the frame: %s", e->frames);
	}
	ASSERT_GT(contended, 0);
	run_free(&r);
}

/* The first "start_thread@FILE" frame of a contended lock's stack in @r, into @out. */
static void start_thread_frame(const struct run *r, char *out, size_t size)
{
	for (size_t i = 0; i < r->neps; i++) {
		const char *f = strstr(r->eps[i].frames, "|start_thread@");
		if (strcmp(r->eps[i].call, "pthread_mutex_lock") != 0 || !f)
			continue;
		size_t n = strcspn(f + 1, "|");
		snprintf(out, size, "%.*s", (int)n, f + 1);
		return;
	}
	CT_FAIL("no contended lock's stack reaches start_thread");
}

/* The decompressed debug files in @dir: how many, and the first's inode and mtime. */
static int cached_copies(const char *dir, struct stat *first)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);
		char path[8192];
		if (len < 7 || strcmp(e->d_name + len - 6, ".debug") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (n++ == 0)
			ASSERT_EQ(stat(path, first), 0);
	}
	closedir(d);
	return n;
}

/*
 * CTRACE_DEBUG_CACHE between processes: the first traced run writes a decompressed copy of
 * libc's debug file (compressed in Debian's libc6-dbg), the second reads it, names libc's
 * frames with the same file, and writes nothing.
 */
static void debug_cache_between_processes(void)
{
	char dir[4200], var[4300], first[200], again[200];
	snprintf(dir, sizeof dir, "%s/debugcache", tmp);
	snprintf(var, sizeof var, "CTRACE_DEBUG_CACHE=%s", dir);
	char *env[] = { var, NULL };
	struct run r;
	struct stat a, b;
	record(&r, "mutex_contend", NULL, env);
	start_thread_frame(&r, first, sizeof first);
	run_free(&r);
	if (strcmp(first, "start_thread@?") == 0) {
		fprintf(stderr, "   skipped: libc's frames have no lines here (libc6-dbg not "
				"installed?): nothing to cache\n");
		ASSERT_EQ(cached_copies(dir, &a), 0);
		return;
	}
	ASSERT_STREQ(first, "start_thread@pthread_create.c");
	ASSERT_GE(cached_copies(dir, &a), 1);
	record(&r, "mutex_contend", NULL, env);
	start_thread_frame(&r, again, sizeof again);
	run_free(&r);
	ASSERT_STREQ(again, first);
	ASSERT_GE(cached_copies(dir, &b), 1);
	/* Not written again: a new copy is renamed into place, a new inode. */
	ASSERT_EQ(a.st_ino, b.st_ino);
	ASSERT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
}

static size_t count_eps(const struct run *r, const char *call, uint64_t obj)
{
	size_t n = 0;
	for (size_t i = 0; i < r->neps; i++)
		if (strcmp(r->eps[i].call, call) == 0 && r->eps[i].object == obj)
			n++;
	return n;
}

static size_t count_wakes(const struct run *r, const char *call, uint64_t obj)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nwakes; i++)
		if (strcmp(r->wake_name[i], call) == 0 && r->wake_obj[i] == obj)
			n++;
	return n;
}

static void condvar_pingpong_counts(void)
{
	struct run r;
	char *args[] = { "300", NULL };
	record(&r, "condvar_pingpong", args, NULL);
	uint64_t to_pong = parse_addr(r.out, "to_pong=0x"), to_ping = parse_addr(r.out, "to_ping=0x");
	ASSERT_EQ(count_eps(&r, "pthread_cond_wait", to_pong), 300);
	ASSERT_EQ(count_eps(&r, "pthread_cond_wait", to_ping), 300);
	ASSERT_EQ(count_wakes(&r, "pthread_cond_signal", to_pong), 300);
	ASSERT_EQ(count_wakes(&r, "pthread_cond_signal", to_ping), 300);
	run_free(&r);
}

static void pipe_read_blocks_200ms(void)
{
	struct run r;
	record(&r, "pipe_block", NULL, NULL);
	struct tt_thread *reader = tt_find_name(&r.t, "reader");
	ASSERT_TRUE(reader != NULL);
	int found = 0;
	for (size_t i = 0; i < r.neps; i++) {
		struct episode *e = &r.eps[i];
		if (e->tid != reader->tid || strcmp(e->call, "read") != 0)
			continue;
		found++;
		ASSERT_EQ(e->fd_kind, CTRACE_FD_PIPE);
		ASSERT_EQ(e->reason, CTRACE_REASON_IO);
		ASSERT_EQ(e->result, 5);
		int64_t d = e->end_ns - e->begin_ns;
		ASSERT_GE(d, 180000000);
		ASSERT_LE(d, 220000000);
		/* A slow call carries the stack of its caller. */
		if (!strstr(e->frames, "@pipe_block.c|"))
			CT_FAIL("read without the workload's frame: %s", e->frames);
	}
	ASSERT_EQ(found, 1);
	run_free(&r);
}

static void three_sleeps(void)
{
	struct run r;
	record(&r, "sleeper", NULL, NULL);
	struct tt_thread *s = tt_find_name(&r.t, "napper");
	ASSERT_TRUE(s != NULL);
	int sleeps = 0;
	for (size_t i = 0; i < r.neps; i++) {
		struct episode *e = &r.eps[i];
		if (e->tid != s->tid)
			continue;
		ASSERT_EQ(e->reason, CTRACE_REASON_SLEEP);
		int64_t d = e->end_ns - e->begin_ns;
		ASSERT_GE(d, 95000000);
		ASSERT_LE(d, 130000000);
		sleeps++;
	}
	ASSERT_EQ(sleeps, 3);
	run_free(&r);
}

static void cpu_bound_threads_queue(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (cores < 2) {
		fprintf(stderr, "cpu_bound_threads_queue: skipped, needs 2 CPUs (have %ld)\n", cores);
		return;
	}
	struct run r;
	/* 3 threads, 600 ms of CPU each, pinned to 2 CPUs */
	char *args[] = { "600", "2", "3", NULL };
	record(&r, "cpu_bound", args, NULL);
	int spinners = 0;
	for (size_t k = 0; k < r.nst; k++) {
		if (r.st_oncpu[k] < 500000000ull)
			continue; /* not a spinner */
		spinners++;
		/* 3 threads on 2 CPUs: each waits about half as long as it runs */
		if (r.st_runq[k] < 100000000ull)
			CT_FAIL("tid %u waited only %" PRIu64 " ns for a CPU", r.st_tid[k], r.st_runq[k]);
	}
	ASSERT_EQ(spinners, 3);
	if (strcmp(r.switches_info, "perf") == 0)
		ASSERT_GT(r.preempted, 10);
	else
		fprintf(stderr, "no perf context switches here: %s\n", r.switches_info);
	run_free(&r);
}

static void annotations_round_trip(void)
{
	struct run r;
	record(&r, "annotations", NULL, NULL);
	const char *want =
		"task_begin:1:request;task_begin:2:db;region_begin:1:outer;region_begin:1:inner;"
		"log:1:httpGET /index.html;region_end:1:inner;region_end:1:outer;"
		"region_begin:2:db-work;log:2:dbquery done;region_end:2:db-work;task_end:2:;"
		"task_end:1:;";
	ASSERT_STREQ(r.notes, want);
	run_free(&r);
}

static void hostile_program_survives(void)
{
	struct run r;
	char *plain;
	char exe[4096];
	snprintf(exe, sizeof(exe), "%s/hostile", wl_dir);
	char *argv[] = { exe, NULL };
	int st = tt_run(argv, NULL, &plain);
	ASSERT_EQ(WEXITSTATUS(st), 0);
	record(&r, "hostile", NULL, NULL);
	ASSERT_STREQ(r.out, plain);
	ASSERT_STREQ(r.out, "hostile: child 7, read 4, alarms many\n");
	ASSERT_EQ(r.t.npids, 2); /* the forked child has its own stream */
	free(plain);
	run_free(&r);
}

/*
 * A program that closes every descriptor it did not open (a close loop, closefrom,
 * close_range) keeps its descriptor numbers, its file holds only what it wrote, and the
 * trace goes on after the closing: the contention that follows is in it.
 */
static void program_that_closes_every_descriptor(void)
{
	struct run r;
	char *plain, file[4200], exe[4096];
	snprintf(exe, sizeof(exe), "%s/closeall", wl_dir);
	snprintf(file, sizeof(file), "%s/closeall.data", tmp);
	char *argv[] = { exe, file, NULL };
	/* A common soft limit, so the program's close loop reaches the tracer's descriptors
	 * (they sit just below it) without a million traced closes where the limit is high. */
	struct rlimit saved, rl;
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
	rl = saved;
	if (rl.rlim_cur > 1024)
		rl.rlim_cur = 1024;
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ASSERT_EQ(WEXITSTATUS(tt_run(argv, NULL, &plain)), 0);
	ASSERT_STREQ(plain, "closeall: first fd 3, file holds program data\n");
	char *args[] = { file, NULL };
	record(&r, "closeall", args, NULL);
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
	ASSERT_STREQ(r.out, plain);
	ASSERT_EQ(r.t.status, 0);
	int after = 0;
	for (size_t i = 0; i < r.t.nthreads; i++)
		after += strcmp(r.t.threads[i].name, "after-close") == 0;
	ASSERT_EQ(after, 2);
	size_t locks = 0;
	for (size_t i = 0; i < r.neps; i++)
		locks += r.eps[i].block && strcmp(r.eps[i].call, "pthread_mutex_lock") == 0;
	ASSERT_GT(locks, 10);
	free(plain);
	run_free(&r);
}

/* CTRACE_EVENTS limits what is recorded. */
static void event_classes(void)
{
	struct run r;
	char *env[] = { "CTRACE_EVENTS=io", NULL };
	record(&r, "mutex_contend", NULL, env);
	ASSERT_UEQ(r.counts[CTRACE_EV_BLOCK_BEGIN], 0);
	ASSERT_UEQ(r.counts[CTRACE_EV_SWITCH_OUT], 0);
	run_free(&r);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		CT_FAIL("usage: test_events CTRACE WORKLOAD_DIR");
	ctrace_bin = argv[1];
	wl_dir = argv[2];
	tmp = tt_tmpdir();
	RUN(mutex_contention_has_stacks);
	RUN(names_only_stacks);
	RUN(debug_cache_between_processes);
	RUN(condvar_pingpong_counts);
	RUN(pipe_read_blocks_200ms);
	RUN(three_sleeps);
	RUN(cpu_bound_threads_queue);
	RUN(annotations_round_trip);
	RUN(hostile_program_survives);
	RUN(program_that_closes_every_descriptor);
	RUN(event_classes);
	tt_rmrf(tmp);
	return 0;
}
