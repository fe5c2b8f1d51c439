/*
 * Allocation tracing: record tests/workloads/alloc_loop under `ctrace record` with
 * CTRACE_ALLOC=all, sampled (the default) and off, and check the alloc, free and alloc_stats
 * events through the reader API against what the workload is known to do.
 * Arguments: the ctrace binary, the workloads build directory, libctrace.so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ctest.h"
#include "tracetest.h"

/* What alloc_loop does: 3 threads named alloc-N, each making these allocations from
 * alloc_hot_site() and freeing every one. */
#define THREADS 3
#define ALLOCS_PER_THREAD 20007
#define BYTES_PER_THREAD 20027846ull
#define TOTAL_ALLOCS (THREADS * ALLOCS_PER_THREAD)
#define TOTAL_BYTES (THREADS * BYTES_PER_THREAD)
#define OUTPUT "alloc_loop: 60021 allocations, 60083538 bytes\n"
#define RATE (512u << 10)

static const struct {
	const char *call;
	uint64_t size;
	uint64_t per_thread;
} expected_calls[] = {
	{ "malloc", 1000, 20000 },       { "calloc", 777, 1 },   { "realloc", 3333, 1 },
	{ "posix_memalign", 2222, 1 },   { "aligned_alloc", 2560, 1 },
	{ "memalign", 1111, 1 },         { "valloc", 5555, 1 },  { "mmap", 12288, 1 },
};
#define NCALLS (sizeof(expected_calls) / sizeof(expected_calls[0]))

static const char *ctrace_bin, *wl_dir, *lib;
static char *tmp;

/* Addresses of alloc events not yet matched by a free: open addressing, grown by doubling. */
struct live {
	uint64_t *addr;
	uint32_t *all, *hot; /* outstanding alloc events at the address, and those from the site */
	size_t cap, used;
};

static size_t live_slot(struct live *l, uint64_t a)
{
	size_t i = (size_t)((a * 0x9e3779b97f4a7c15ull) >> 20) & (l->cap - 1);
	while (l->addr[i] && l->addr[i] != a)
		i = (i + 1) & (l->cap - 1);
	return i;
}

static void live_grow(struct live *l)
{
	struct live n = { .cap = l->cap ? l->cap * 2 : 1024 };
	n.addr = calloc(n.cap, sizeof(*n.addr));
	n.all = calloc(n.cap, sizeof(*n.all));
	n.hot = calloc(n.cap, sizeof(*n.hot));
	ASSERT_TRUE(n.addr && n.all && n.hot);
	for (size_t i = 0; i < l->cap; i++) {
		if (!l->addr[i])
			continue;
		size_t j = live_slot(&n, l->addr[i]);
		n.addr[j] = l->addr[i];
		n.all[j] = l->all[i];
		n.hot[j] = l->hot[i];
		n.used++;
	}
	free(l->addr);
	free(l->all);
	free(l->hot);
	*l = n;
}

/* What one trace says about the workload. */
struct scan {
	int names_known;        /* some alloc frame had a function name */
	uint64_t allocs, frees; /* every alloc and free event, any thread */
	uint64_t lost;
	/* alloc events made by alloc_hot_site */
	uint64_t hot, hot_bytes, hot_weight, hot_no_stack, hot_not_innermost;
	uint64_t hot_by_call[NCALLS];
	char innermost[128];    /* the first wrong innermost frame seen */
	uint64_t tracer_own;    /* alloc events made inside libctrace (its own blocks) */
	/* free events */
	uint64_t hot_freed;     /* frees matching an outstanding hot alloc event */
	uint64_t unmatched;     /* frees of addresses with no outstanding alloc event */
	/* alloc_stats: the last one of each worker */
	int stats_seen;
	uint32_t worker_tid[THREADS];
	int have_stats[THREADS];
	uint64_t stats[THREADS][3];
};

static int worker_index(struct scan *sc, uint32_t tid)
{
	for (int i = 0; i < THREADS; i++)
		if (sc->worker_tid[i] == tid)
			return i;
	return -1;
}

/* An allocation a worker made with one of the workload's sizes (libc's own are smaller). */
static int workload_size(struct scan *sc, const struct ctrace_event *ev)
{
	if (worker_index(sc, ev->tid) < 0)
		return 0;
	for (size_t i = 0; i < NCALLS; i++)
		if (ev->args[2] == expected_calls[i].size)
			return 1;
	return 0;
}

/* Is this alloc event from the workload's own code? By stack when frames have names. */
static int is_hot(struct scan *sc, ctrace_gen *g, const struct ctrace_event *ev)
{
	const uint32_t *frames;
	int depth = ctrace_gen_stack(g, ev->args[3], &frames);
	int site = 0, named = 0;
	for (int i = 0; i < depth; i++) {
		const struct ctrace_frame *f = ctrace_gen_frame(g, frames[i]);
		/* alloc.c's frames are hidden: any other frame in libctrace is an allocation the
		 * tracer made for itself, which must never be traced. */
		if (f && f->mapping && strstr(f->mapping, "libctrace") && i == 0)
			sc->tracer_own++;
		if (!f || !f->function)
			continue;
		named = 1;
		if (strcmp(f->function, "alloc_hot_site") == 0)
			site = 1;
	}
	if (named)
		sc->names_known = 1;
	if (!sc->names_known)
		return workload_size(sc, ev); /* no names (yet) */
	const struct ctrace_frame *f0 = depth > 0 ? ctrace_gen_frame(g, frames[0]) : NULL;
	const char *innermost = f0 && f0->function ? f0->function : "?";
	int sized = !site && workload_size(sc, ev);
	if ((site && strcmp(innermost, "alloc_hot_site") != 0) || sized) {
		/*
		 * The workload's allocation, with a stack that does not start where it was
		 * made: counted, so the other checks still run, and failed on at the end.
		 */
		sc->hot_not_innermost++;
		if (!sc->innermost[0])
			snprintf(sc->innermost, sizeof(sc->innermost), "%s", innermost);
	}
	return site || sized;
}

static void on_alloc(struct scan *sc, struct live *l, ctrace_gen *g,
		     const struct ctrace_event *ev)
{
	sc->allocs++;
	int hot = is_hot(sc, g, ev);
	if (hot) {
		sc->hot++;
		sc->hot_bytes += ev->args[2];
		sc->hot_weight += ev->args[4];
		if (ev->args[3] == 0)
			sc->hot_no_stack++;
		const struct ctrace_call *c = ctrace_gen_call(g, ev->args[0]);
		for (size_t i = 0; c && i < NCALLS; i++)
			if (strcmp(c->name, expected_calls[i].call) == 0 &&
			    ev->args[2] == expected_calls[i].size)
				sc->hot_by_call[i]++;
	}
	if ((l->used + 1) * 2 > l->cap)
		live_grow(l);
	size_t i = live_slot(l, ev->args[1]);
	if (!l->addr[i]) {
		l->addr[i] = ev->args[1];
		l->used++;
	}
	l->all[i]++;
	l->hot[i] += (uint32_t)hot;
}

static void on_free(struct scan *sc, struct live *l, const struct ctrace_event *ev)
{
	sc->frees++;
	if (!l->cap) {
		sc->unmatched++;
		return;
	}
	size_t i = live_slot(l, ev->args[1]);
	if (!l->addr[i] || !l->all[i]) {
		sc->unmatched++;
		return;
	}
	l->all[i]--;
	if (l->hot[i]) {
		l->hot[i]--;
		sc->hot_freed++;
	}
}

static void scan_trace(const char *path, struct scan *sc)
{
	ctrace_reader *r;
	ctrace_gen *g;
	const struct ctrace_event *ev;
	struct live l = { 0 };
	int n;

	memset(sc, 0, sizeof(*sc));
	n = ctrace_reader_open(path, &r);
	if (n < 0)
		CT_FAIL("cannot open %s: %s", path, ctrace_reader_errmsg(r));
	while ((n = ctrace_reader_next(r, &g)) == 1) {
		while ((n = ctrace_gen_next_event(g, &ev)) == 1) {
			switch (ev->type) {
			case CTRACE_EV_THREAD_NAME: {
				uint32_t tid = ev->args[0] ? (uint32_t)ev->args[0] : ev->tid;
				int k;
				if (ev->blob_len == 7 && memcmp(ev->blob, "alloc-", 6) == 0 &&
				    (k = ev->blob[6] - '0') >= 0 && k < THREADS)
					sc->worker_tid[k] = tid;
				break;
			}
			case CTRACE_EV_ALLOC:
				on_alloc(sc, &l, g, ev);
				break;
			case CTRACE_EV_FREE:
				on_free(sc, &l, ev);
				break;
			case CTRACE_EV_ALLOC_STATS: {
				sc->stats_seen = 1;
				int k = worker_index(sc, ev->tid);
				if (k >= 0) {
					sc->have_stats[k] = 1;
					memcpy(sc->stats[k], ev->args, sizeof(sc->stats[k]));
				}
				break;
			}
			case CTRACE_EV_LOST:
				sc->lost += ev->args[0];
				break;
			default:
				break;
			}
		}
		if (n < 0)
			break;
	}
	if (n < 0)
		CT_FAIL("reading %s: %s", path, ctrace_reader_errmsg(r));
	ctrace_reader_free(r);
	free(l.addr);
	free(l.all);
	free(l.hot);
	for (int k = 0; k < THREADS; k++)
		if (!sc->worker_tid[k])
			CT_FAIL("no thread named alloc-%d in %s", k, path);
}

/* Record alloc_loop with CTRACE_ALLOC=@mode (NULL: the default); the output and status must
 * be those of a run without the tracer. */
static void record(const char *mode, const char *trace)
{
	static char *plain;
	static int plain_status;
	char wl[4096], mode_env[64], lib_env[4200];
	snprintf(wl, sizeof(wl), "%s/alloc_loop", wl_dir);
	if (!plain) {
		char *argv[] = { wl, NULL };
		plain_status = tt_run(argv, NULL, &plain);
		ASSERT_TRUE(WIFEXITED(plain_status));
		ASSERT_EQ(WEXITSTATUS(plain_status), 0);
		ASSERT_STREQ(plain, OUTPUT);
	}
	snprintf(mode_env, sizeof(mode_env), "CTRACE_ALLOC=%s", mode ? mode : "");
	snprintf(lib_env, sizeof(lib_env), "CTRACE_LIB=%s", lib);
	/* Room for every event of the all mode, so that none is lost. */
	char *env[] = { lib_env, mode_env, "CTRACE_THREAD_BUFFER=8M", NULL };
	char *argv[] = { (char *)ctrace_bin, "record", "-q", "-o", (char *)trace, "--", wl, NULL };
	char *out;
	int st = tt_run(argv, env, &out);
	ASSERT_STREQ(out, plain);
	ASSERT_EQ(st, plain_status);
	free(out);
}

static void check_names(const struct scan *sc)
{
	if (!sc->names_known) {
		fprintf(stderr, "frames carry no function names: matching allocations by worker "
				"thread and size\n");
		return;
	}
	if (sc->hot_not_innermost)
		CT_FAIL("%" PRIu64 " allocations of the workload have stacks that do not start at "
			"alloc_hot_site but at %s: the stack capture hides the wrong number of "
			"frames", sc->hot_not_innermost, sc->innermost);
}

/* The scans of the all and sampled traces, for the checks made last. */
static struct scan scans[2];

/* The last alloc_stats of each worker covers at least what it allocated and freed. */
static void check_stats(const struct scan *sc, const char *mode)
{
	fprintf(stderr, "alloc_stats of the %s trace\n", mode);
	if (!sc->stats_seen) {
		fprintf(stderr, "alloc_stats not present yet\n");
		return;
	}
	for (int k = 0; k < THREADS; k++) {
		if (!sc->have_stats[k])
			CT_FAIL("%s: worker alloc-%d (tid %u) has no alloc_stats", mode, k,
				sc->worker_tid[k]);
		ASSERT_GE(sc->stats[k][0], ALLOCS_PER_THREAD);
		ASSERT_GE(sc->stats[k][1], BYTES_PER_THREAD);
		ASSERT_GE(sc->stats[k][2], ALLOCS_PER_THREAD);
	}
}

/* CTRACE_ALLOC=all: every allocation of the workload, with its stack, and every free. */
static void all_mode_records_every_allocation_and_free(void)
{
	char trace[4200];
	struct scan sc;
	snprintf(trace, sizeof(trace), "%s/all.trace", tmp);
	record("all", trace);
	scan_trace(trace, &sc);
	ASSERT_UEQ(sc.lost, 0);
	/* The tracer's own blocks (e.g. each pthread_create's start arguments) are not the
	 * program's: once the compiler dropped the guard around them and they were traced. */
	ASSERT_UEQ(sc.tracer_own, 0);
	ASSERT_UEQ(sc.hot, TOTAL_ALLOCS);
	ASSERT_UEQ(sc.hot_no_stack, 0);
	ASSERT_UEQ(sc.hot_bytes, TOTAL_BYTES);
	ASSERT_UEQ(sc.hot_weight, TOTAL_BYTES); /* weight = size when nothing is sampled */
	for (size_t i = 0; i < NCALLS; i++)
		if (sc.hot_by_call[i] != THREADS * expected_calls[i].per_thread)
			CT_FAIL("%s(%" PRIu64 "): %" PRIu64 " alloc events, expected %" PRIu64,
				expected_calls[i].call, expected_calls[i].size, sc.hot_by_call[i],
				THREADS * expected_calls[i].per_thread);
	/* Every block was freed (realloc's old block and munmap included). */
	ASSERT_UEQ(sc.hot_freed, TOTAL_ALLOCS);
	scans[0] = sc;
}

/* The default: about one sample per 512 KiB, weights adding up to the bytes allocated, and
 * the free of every sampled block. */
static void sampled_mode_estimates_the_bytes(void)
{
	char trace[4200];
	struct scan sc;
	snprintf(trace, sizeof(trace), "%s/sampled.trace", tmp);
	record(NULL, trace);
	scan_trace(trace, &sc);
	ASSERT_UEQ(sc.lost, 0);
	const double want = (double)TOTAL_BYTES / RATE; /* 114.6 */
	fprintf(stderr, "sampled: %" PRIu64 " samples (expected %.1f), weights %" PRIu64
			" bytes (allocated %llu), %" PRIu64 " frees\n",
		sc.hot, want, sc.hot_weight, (unsigned long long)TOTAL_BYTES, sc.frees);
	ASSERT_GE(sc.hot, (uint64_t)(want / 2));
	ASSERT_LE(sc.hot, (uint64_t)(want * 2));
	ASSERT_GE(sc.hot_weight, TOTAL_BYTES / 2);
	ASSERT_LE(sc.hot_weight, TOTAL_BYTES * 3 / 2);
	ASSERT_UEQ(sc.hot_no_stack, 0);
	/* Every sampled block the workload freed has its free event, and only those do. */
	ASSERT_UEQ(sc.hot_freed, sc.hot);
	ASSERT_UEQ(sc.unmatched, 0);
	scans[1] = sc;
}

/* Each stack starts at the allocating call: alloc.c's frames are hidden, and no more. */
static void stacks_start_at_the_call_site(void)
{
	check_names(&scans[0]);
	check_names(&scans[1]);
}

/* The writer's alloc_stats, from the counters every mode keeps. */
static void alloc_stats_cover_each_worker(void)
{
	check_stats(&scans[0], "all");
	check_stats(&scans[1], "sampled");
}

static void off_mode_records_no_allocation(void)
{
	char trace[4200];
	snprintf(trace, sizeof(trace), "%s/off.trace", tmp);
	record("off", trace);
	struct tt_trace t;
	ASSERT_EQ(tt_load(trace, &t), 0);
	ASSERT_UEQ(t.counts[CTRACE_EV_ALLOC], 0);
	ASSERT_UEQ(t.counts[CTRACE_EV_FREE], 0);
	ASSERT_GE(t.counts[CTRACE_EV_THREAD_START], THREADS); /* the rest is still traced */
	tt_free(&t);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		CT_FAIL("usage: test_alloc CTRACE WORKLOAD_DIR LIBCTRACE");
	ctrace_bin = argv[1];
	wl_dir = argv[2];
	lib = argv[3];
	tmp = tt_tmpdir();
	RUN(all_mode_records_every_allocation_and_free);
	RUN(sampled_mode_estimates_the_bytes);
	RUN(off_mode_records_no_allocation);
	RUN(stacks_start_at_the_call_site);
	RUN(alloc_stats_cover_each_worker);
	tt_rmrf(tmp);
	return 0;
}
