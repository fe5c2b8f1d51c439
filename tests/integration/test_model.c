/*
 * Ground truth for the model: workloads with a known answer, recorded for real, analysed
 * through the model API (and `ctrace stats --format=json`, which must agree).
 * Arguments: the ctrace binary, the workloads build directory.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctest.h"
#include "tracetest.h"

static const char *ctrace_bin, *wl_dir;
static char *tmp;

struct analysis {
	ctrace_reader *r;
	ctrace_model *m;
	char path[4200];
	uint64_t mutex_episodes[8]; /* per subject: pthread_mutex_lock episodes */
	uint32_t subject_tids[8];
	size_t nsubjects;
};

static int count_event(void *ud, const ctrace_gen *g, const struct ctrace_event *ev)
{
	struct analysis *a = ud;
	if (ev->type != CTRACE_EV_BLOCK_BEGIN)
		return 0;
	const struct ctrace_call *c = ctrace_gen_call(g, ev->args[1]);
	if (!c || strcmp(c->name, "pthread_mutex_lock") != 0)
		return 0;
	size_t k;
	for (k = 0; k < a->nsubjects && a->subject_tids[k] != ev->tid; k++)
		;
	if (k == a->nsubjects && k < 8)
		a->subject_tids[a->nsubjects++] = ev->tid;
	if (k < 8)
		a->mutex_episodes[k]++;
	return 0;
}

/* Every thread's time adds up, exactly. */
static void check_partition(const ctrace_model *m)
{
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++) {
		const struct ctrace_thread_stats *s = ctrace_model_thread(m, i);
		ASSERT_EQ(s->user_ns + s->sys_ns + s->idle_ns + s->wait_ns + s->unknown_ns,
			  s->duration_ns);
		ASSERT_EQ(s->sync_ns + s->io_ns + s->sleep_ns + s->other_ns, s->wait_ns);
		ASSERT_GE(s->user_ns, 0);
		ASSERT_GE(s->sys_ns, 0);
		ASSERT_GE(s->idle_ns, 0);
		ASSERT_GE(s->wait_ns, 0);
		ASSERT_GE(s->unknown_ns, 0);
		ASSERT_GE(s->duration_ns, 0);
	}
}

static void analyse(struct analysis *a, const char *mode, char *const env[])
{
	memset(a, 0, sizeof(*a));
	snprintf(a->path, sizeof(a->path), "%s/ground-%s.trace", tmp, mode);
	char exe[4096];
	snprintf(exe, sizeof(exe), "%s/ground", wl_dir);
	char *argv[] = { (char *)ctrace_bin, "record", "-q", "-o", a->path, "--", exe,
			 (char *)mode, NULL };
	int st = tt_run(argv, env, NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		CT_FAIL("ground %s failed: 0x%x", mode, st);
	ASSERT_EQ(ctrace_reader_open(a->path, &a->r), 0);
	struct ctrace_model_callbacks cb = { .userdata = a, .event = count_event };
	ASSERT_EQ(ctrace_model_build(a->r, &cb, &a->m), 0);
	check_partition(a->m);
}

static void done(struct analysis *a)
{
	ctrace_model_free(a->m);
	ctrace_reader_free(a->r);
}

static size_t subjects(const ctrace_model *m, const struct ctrace_thread_stats **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++) {
		const struct ctrace_thread_stats *s = ctrace_model_thread(m, i);
		if (strcmp(s->name, "subject") == 0 && n < max)
			out[n++] = s;
	}
	return n;
}

#define MS 1000000LL

static void sleep_is_sleep(void)
{
	struct analysis a;
	const struct ctrace_thread_stats *s[4];
	analyse(&a, "sleep", NULL);
	ASSERT_EQ(subjects(a.m, s, 4), 1);
	ASSERT_GE(s[0]->sleep_ns, 270 * MS);
	ASSERT_LE(s[0]->sleep_ns, 330 * MS);
	ASSERT_EQ(s[0]->blocks_sleep, 1);
	done(&a);
}

static void spin_is_user(void)
{
	struct analysis a;
	const struct ctrace_thread_stats *s[4];
	analyse(&a, "spin", NULL);
	ASSERT_EQ(subjects(a.m, s, 4), 1);
	/* Spinning on clock_gettime (vDSO): user time, give or take preemption. */
	ASSERT_GE(s[0]->user_ns + s[0]->idle_ns, 270 * MS);
	ASSERT_GE(s[0]->user_ns, 240 * MS);
	ASSERT_LE(s[0]->user_ns, 330 * MS);
	ASSERT_LE(s[0]->wait_ns, 30 * MS);
	done(&a);
}

static void empty_pipe_is_io(void)
{
	struct analysis a;
	const struct ctrace_thread_stats *s[4];
	analyse(&a, "pipe", NULL);
	ASSERT_EQ(subjects(a.m, s, 4), 1);
	ASSERT_GE(s[0]->io_ns, 180 * MS);
	ASSERT_LE(s[0]->io_ns, 220 * MS);
	ASSERT_EQ(s[0]->blocks_io, 1);
	done(&a);
}

static void contended_mutex_is_sync(void)
{
	struct analysis a;
	const struct ctrace_thread_stats *s[4];
	analyse(&a, "mutex", NULL);
	ASSERT_EQ(subjects(a.m, s, 4), 2);
	uint64_t total_episodes = 0;
	for (int i = 0; i < 2; i++) {
		size_t k;
		for (k = 0; k < a.nsubjects && a.subject_tids[k] != s[i]->tid; k++)
			;
		uint64_t episodes = k < a.nsubjects ? a.mutex_episodes[k] : 0;
		/* Every contended lock is one blocking episode on sync. */
		ASSERT_UEQ(s[i]->blocks_sync, episodes);
		total_episodes += episodes;
		if (episodes)
			ASSERT_GT(s[i]->sync_ns, 0);
	}
	/* Holding 5 ms with a 0.1 ms gap, the other side waits: many locks contend. */
	ASSERT_GE(total_episodes, 10);
	done(&a);
}

static void queue_on_one_cpu(char *const env[], int estimated)
{
	struct analysis a;
	const struct ctrace_thread_stats *s[4];
	analyse(&a, "queue", env);
	ASSERT_EQ(subjects(a.m, s, 4), 3);
	for (int i = 0; i < 3; i++) {
		double share = (double)s[i]->idle_ns / (double)s[i]->duration_ns;
		fprintf(stderr, "  subject %u: idle %.0f%% of %" PRId64 " ms%s\n", s[i]->tid,
			share * 100, (int64_t)(s[i]->duration_ns / MS), s[i]->estimated ? " (estimated)" : "");
		/* Three threads on one CPU: each waits for it about two thirds of the time.
		 * The one started first and the one started last see less queueing. */
		ASSERT_EQ(s[i]->estimated, estimated);
		if (share < (2.0 / 3) * 0.85 - 0.15 || share > (2.0 / 3) * 1.15)
			CT_FAIL("subject %u idle share %.2f", s[i]->tid, share);
	}
	double mean = 0;
	for (int i = 0; i < 3; i++)
		mean += (double)s[i]->idle_ns / (double)s[i]->duration_ns / 3;
	ASSERT_TRUE(mean > (2.0 / 3) * 0.85 && mean < (2.0 / 3) * 1.15);
	done(&a);
}

static void three_threads_one_cpu(void)
{
	queue_on_one_cpu(NULL, 0);
}

static void three_threads_one_cpu_without_perf(void)
{
	char *env[] = { "CTRACE_EVENTS=sync,io,alloc,user", NULL };
	queue_on_one_cpu(env, 1);
}

/* `ctrace stats --format=json` prints the model's numbers. */
static void stats_json_matches_the_model(void)
{
	struct analysis a;
	analyse(&a, "mutex", NULL);
	char *argv[] = { (char *)ctrace_bin, "stats", "--format=json", a.path, NULL };
	char *out;
	int st = tt_run(argv, NULL, &out);
	ASSERT_EQ(WEXITSTATUS(st), 0);
	for (size_t i = 0; i < ctrace_model_thread_count(a.m); i++) {
		const struct ctrace_thread_stats *s = ctrace_model_thread(a.m, i);
		char want[512];
		snprintf(want, sizeof(want),
			 "\"tid\":%u,\"name\":\"%s\",\"start_ns\":%" PRId64 ",\"duration_ns\":%" PRId64
			 ",\"idle_ns\":%" PRId64 ",\"sys_ns\":%" PRId64 ",\"blocks\":%" PRIu64
			 ",\"wait_ns\":%" PRId64,
			 s->tid, s->name, s->start_ns, s->duration_ns, s->idle_ns, s->sys_ns, s->blocks,
			 s->wait_ns);
		if (!strstr(out, want))
			CT_FAIL("json lacks %s", want);
	}
	free(out);
	/* And the table and CSV run. */
	char *t1[] = { (char *)ctrace_bin, "stats", "--sort=wait", "--top=2", a.path, NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(t1, NULL, NULL)), 0);
	char *t2[] = { (char *)ctrace_bin, "stats", "--format=csv", "--latency", a.path, NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(t2, NULL, NULL)), 0);
	char *t3[] = { (char *)ctrace_bin, "stats", "--sort=bogus", a.path, NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(t3, NULL, NULL)), 2);
	char *t4[] = { (char *)ctrace_bin, "stats", "/nonexistent", NULL };
	ASSERT_EQ(WEXITSTATUS(tt_run(t4, NULL, NULL)), 1);
	done(&a);
}

/* A latency distribution: count and quantiles of the subject's sleeps. */
static void latency_of_sleeps(void)
{
	struct analysis a;
	analyse(&a, "sleep", NULL);
	for (size_t i = 0; i < ctrace_model_thread_count(a.m); i++) {
		const struct ctrace_thread_stats *s = ctrace_model_thread(a.m, i);
		if (strcmp(s->name, "subject"))
			continue;
		struct ctrace_latency l;
		ASSERT_EQ(ctrace_model_latency(a.m, i, CTRACE_REASON_SLEEP, &l), 0);
		ASSERT_UEQ(l.count, 1);
		ASSERT_GE(l.p50_ns, 290 * MS);
		ASSERT_LE(l.p50_ns, 330 * MS);
		ASSERT_EQ(l.min_ns, l.max_ns);
	}
	int found = 0;
	for (size_t k = 0; k < ctrace_model_call_kind_count(a.m); k++)
		found |= strcmp(ctrace_model_call_kind(a.m, k, NULL, NULL), "usleep") == 0;
	ASSERT_TRUE(found);
	done(&a);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		CT_FAIL("usage: test_model CTRACE WORKLOAD_DIR");
	ctrace_bin = argv[1];
	wl_dir = argv[2];
	tmp = tt_tmpdir();
	RUN(sleep_is_sleep);
	RUN(spin_is_user);
	RUN(empty_pipe_is_io);
	RUN(contended_mutex_is_sync);
	RUN(three_threads_one_cpu);
	RUN(three_threads_one_cpu_without_perf);
	RUN(stats_json_matches_the_model);
	RUN(latency_of_sleeps);
	tt_rmrf(tmp);
	return 0;
}
