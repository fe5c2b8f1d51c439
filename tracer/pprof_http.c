/*
 * The profiles of Go's net/http/pprof, served from the tables the tracer keeps
 * (profiles.c, cpuprof.c, threads.c) in profile.proto, gzipped, or as text (debug=N):
 *
 *   GET /debug/pprof/heap, allocs        sampled allocations (in use / all since start)
 *   GET /debug/pprof/block, mutex        contended waits and locks, by the waiter's stack
 *   GET /debug/pprof/threadcreate        the stacks that created threads
 *   GET /debug/pprof/profile?seconds=N   a CPU profile of the next N seconds
 *   GET /debug/pprof/threads, goroutine  every live thread's stack now
 *   GET /debug/pprof/delta_heap, delta_block, delta_mutex
 *                                        what changed since the previous request to it
 *
 * Query parameters as Go's: debug=N (0 binary, N > 0 text), seconds=N (a delta over the
 * next N seconds on heap, allocs, block, mutex, threadcreate, threads), gc (ignored).
 * Everything here runs on the HTTP server's threads, which are never traced: it may
 * allocate, lock and symbolize.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#include "httpparse.h"
#include "internal.h"
#include "pprof_http.h"

/* ---- answers ---- */

enum MHD_Result ctr_pprof_respond(struct MHD_Connection *conn, unsigned status,
				   const char *type, void *body, size_t len, const char *filename)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (filename) {
		char cd[128];
		snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", filename);
		MHD_add_response_header(r, "Content-Disposition", cd);
	}
	if (status != MHD_HTTP_OK)
		MHD_add_response_header(r, "X-Go-Pprof", "1");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* An error as Go's serveError: status and one line of text. */
static enum MHD_Result fail(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum MHD_Result fail(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	char *s = malloc(512);
	if (!s)
		return MHD_NO;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s, 510, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > 509)
		n = 509;
	s[n++] = '\n';
	return ctr_pprof_respond(conn, status, "text/plain; charset=utf-8", s, (size_t)n, NULL);
}

/* A growing text buffer; out of memory is remembered and reported once at the end. */
struct text {
	char *p;
	size_t len, cap;
	int failed;
};

static void tprintf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(struct text *t, const char *fmt, ...)
{
	for (;;) {
		if (t->failed)
			return;
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if (t->p && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap <= t->len + (size_t)n)
			cap *= 2;
		char *q = realloc(t->p, cap);
		if (!q) {
			t->failed = 1;
			return;
		}
		t->p = q;
		t->cap = cap;
	}
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, struct text *t)
{
	if (t->failed || !t->p) {
		free(t->p);
		return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	return ctr_pprof_respond(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", t->p, t->len, NULL);
}

static enum MHD_Result reply_profile(struct MHD_Connection *conn, struct ctr_pprof *p,
				     const char *name)
{
	uint8_t *out;
	size_t len;
	int err = p ? ctr_pprof_write(p, &out, &len) : CTRACE_ENOMEM;
	ctr_pprof_free(p);
	if (err)
		return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", ctrace_strerror(err));
	return ctr_pprof_respond(conn, MHD_HTTP_OK, "application/octet-stream", out, len, name);
}

/* ---- stacks ---- */

static int64_t now_unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int ctr_pprof_add_stack(struct ctr_pprof *p, uint64_t stack, const uintptr_t *pcs, unsigned npcs,
		      const int64_t *values, const char *const *labels, size_t nlabels)
{
	struct ctr_pprof_frame fr[128];
	unsigned n = pcs ? npcs : ctr_stack_lookup(stack, &pcs);
	if (n > 128)
		n = 128;
	for (unsigned i = 0; i < n; i++) {
		struct ctr_sym sym;
		ctr_symbolize(pcs[i], &sym);
		fr[i] = (struct ctr_pprof_frame){
			.function = sym.function,
			.file = sym.file,
			.line = sym.line,
			.address = pcs[i],
		};
		if (sym.map) {
			fr[i].mapping = sym.map->path;
			fr[i].build_id = sym.map->build_id;
			fr[i].build_id_len = sym.map->build_id_len;
			fr[i].map_start = sym.map->start;
			fr[i].map_end = sym.map->end;
			fr[i].map_offset = sym.map->offset;
		}
	}
	return ctr_pprof_add(p, fr, n, values, labels, nlabels);
}

/* The "@ 0x... 0x..." line end and the "#\t0x...\tfunction\tfile:line" lines of Go's text
 * profiles. */
static void text_stack(struct text *t, uint64_t stack, const uintptr_t *pcs, unsigned n)
{
	if (!pcs)
		n = ctr_stack_lookup(stack, &pcs);
	tprintf(t, " @");
	for (unsigned i = 0; i < n; i++)
		tprintf(t, " %#" PRIxPTR, pcs[i]);
	tprintf(t, "\n");
	for (unsigned i = 0; i < n; i++) {
		struct ctr_sym sym;
		ctr_symbolize(pcs[i], &sym);
		tprintf(t, "#\t%#" PRIxPTR "\t%s\t%s:%u\n", pcs[i],
			sym.function ? sym.function : "?", sym.file ? sym.file : "?", sym.line);
	}
	tprintf(t, "\n");
}

/* ---- table profiles ---- */

struct table_profile {
	const char *name;
	int kind;
	int alloc;  /* heap: the allocs view (its default sample type is alloc_space) */
	int deltas; /* served under delta_NAME: changes since the previous request */
};

static const struct table_profile tables[] = {
	{ "heap", CTR_PROF_HEAP, 0, 0 },
	{ "allocs", CTR_PROF_HEAP, 1, 0 },
	{ "block", CTR_PROF_BLOCK, 0, 0 },
	{ "mutex", CTR_PROF_MUTEX, 0, 0 },
	{ "threadcreate", CTR_PROF_THREADCREATE, 0, 0 },
	{ "delta_heap", CTR_PROF_HEAP, 0, 1 },
	{ "delta_block", CTR_PROF_BLOCK, 0, 1 },
	{ "delta_mutex", CTR_PROF_MUTEX, 0, 1 },
};

static int by_stack(const void *a, const void *b)
{
	const struct ctr_prof_row *x = a, *y = b;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* @now -= @before, row by row (both sorted by stack here). */
static void subtract(struct ctr_prof_row *now, size_t n, struct ctr_prof_row *before, size_t m)
{
	if (!n || !m)
		return;
	qsort(now, n, sizeof(*now), by_stack);
	qsort(before, m, sizeof(*before), by_stack);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		while (j < m && before[j].stack < now[i].stack)
			j++;
		if (j < m && before[j].stack == now[i].stack)
			for (int k = 0; k < CTR_PROF_VALUES; k++)
				now[i].v[k] -= before[j].v[k];
	}
}

/* Go's scaleHeapSample: undo the sampling of @count objects of @size bytes in all. */
static void scale_heap(int64_t count, int64_t size, uint64_t rate, int64_t *oc, int64_t *os)
{
	if (count <= 0 || size <= 0) {
		*oc = *os = 0;
		return;
	}
	if (rate <= 1) {
		*oc = count;
		*os = size;
		return;
	}
	double avg = (double)size / (double)count;
	double scale = 1 / (1 - exp(-avg / (double)rate));
	*oc = (int64_t)((double)count * scale);
	*os = (int64_t)((double)size * scale);
}

static int row_empty(const struct ctr_prof_row *r)
{
	for (int k = 0; k < CTR_PROF_VALUES; k++)
		if (r->v[k])
			return 0;
	return 1;
}

/* The rows of a profile, as a delta when @deltas (@abs: the absolute rows too, for the
 * heap's in-use values) */
static pthread_mutex_t delta_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctr_prof_row *delta_prev[CTR_PROF_KINDS];
static size_t delta_nprev[CTR_PROF_KINDS];

static enum MHD_Result write_table(struct MHD_Connection *conn, const struct table_profile *tp,
				   struct ctr_prof_row *rows, size_t n, const int64_t *inuse_abs,
				   int debug, int64_t start_ns, int64_t duration_ns)
{
	uint64_t rate = atomic_load(&ctr_heap_rate);
	if (debug > 0) {
		struct text t = { 0 };
		if (tp->kind == CTR_PROF_HEAP) {
			int64_t tot[4] = { 0 };
			for (size_t i = 0; i < n; i++) {
				tot[0] += rows[i].v[0] - rows[i].v[2];
				tot[1] += rows[i].v[1] - rows[i].v[3];
				tot[2] += rows[i].v[0];
				tot[3] += rows[i].v[1];
			}
			tprintf(&t, "heap profile: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64
				    "] @ heap/%" PRIu64 "\n",
				tot[0], tot[1], tot[2], tot[3], rate * 2);
			for (size_t i = 0; i < n; i++) {
				if (row_empty(&rows[i]))
					continue;
				tprintf(&t, "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "]",
					rows[i].v[0] - rows[i].v[2], rows[i].v[1] - rows[i].v[3],
					rows[i].v[0], rows[i].v[1]);
				text_stack(&t, rows[i].stack, NULL, 0);
			}
		} else if (tp->kind == CTR_PROF_THREADCREATE) {
			int64_t total = 0;
			for (size_t i = 0; i < n; i++)
				total += rows[i].v[0];
			tprintf(&t, "threadcreate profile: total %" PRId64 "\n", total);
			for (size_t i = 0; i < n; i++) {
				if (row_empty(&rows[i]))
					continue;
				tprintf(&t, "%" PRId64, rows[i].v[0]);
				text_stack(&t, rows[i].stack, NULL, 0);
			}
		} else {
			int rate_bm = atomic_load(tp->kind == CTR_PROF_MUTEX ? &ctr_mutex_rate
									   : &ctr_block_rate);
			/* Go's headers: "--- contention:" (block) and "--- mutex:". */
			tprintf(&t, "--- %s:\ncycles/second=1000000000\n",
				tp->kind == CTR_PROF_MUTEX ? "mutex" : "contention");
			if (tp->kind == CTR_PROF_MUTEX)
				tprintf(&t, "sampling period=%d\n", rate_bm);
			for (size_t i = 0; i < n; i++) {
				if (row_empty(&rows[i]))
					continue;
				tprintf(&t, "%" PRId64 " %" PRId64, rows[i].v[1], rows[i].v[0]);
				text_stack(&t, rows[i].stack, NULL, 0);
			}
		}
		return reply_text(conn, &t);
	}

	struct ctr_pprof *p = NULL;
	if (tp->kind == CTR_PROF_HEAP) {
		static const char *const types[] = { "alloc_objects", "count", "alloc_space",
						     "bytes",         "inuse_objects", "count",
						     "inuse_space",   "bytes" };
		p = ctr_pprof_new(types, 4, "space", "bytes", (int64_t)rate);
		/* As Go's: allocs opens on what was allocated, heap on what is in use. */
		if (p && tp->alloc && ctr_pprof_set_default_type(p, "alloc_space") != 0) {
			ctr_pprof_free(p);
			p = NULL;
		}
	} else if (tp->kind == CTR_PROF_THREADCREATE) {
		static const char *const types[] = { "threadcreate", "count" };
		p = ctr_pprof_new(types, 1, "threadcreate", "count", 1);
	} else {
		static const char *const types[] = { "contentions", "count", "delay", "nanoseconds" };
		p = ctr_pprof_new(types, 2, "contentions", "count", 1);
	}
	if (!p)
		return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	ctr_pprof_set_time(p, start_ns, duration_ns);
	int err = 0;
	for (size_t i = 0; i < n && !err; i++) {
		int64_t v[4] = { 0 };
		if (tp->kind == CTR_PROF_HEAP) {
			scale_heap(rows[i].v[0], rows[i].v[1], rate, &v[0], &v[1]);
			if (inuse_abs)
				scale_heap(inuse_abs[2 * i], inuse_abs[2 * i + 1], rate, &v[2], &v[3]);
			else
				scale_heap(rows[i].v[0] - rows[i].v[2], rows[i].v[1] - rows[i].v[3],
					   rate, &v[2], &v[3]);
		} else {
			v[0] = rows[i].v[0];
			v[1] = rows[i].v[1];
		}
		if (!v[0] && !v[1] && !v[2] && !v[3])
			continue;
		err = ctr_pprof_add_stack(p, rows[i].stack, NULL, 0, v, NULL, 0);
	}
	if (ctr_prof_dropped(tp->kind)) {
		char c[96];
		snprintf(c, sizeof(c), "ctrace: %" PRIu64 " events dropped: the profile's table is full",
			 ctr_prof_dropped(tp->kind));
		ctr_pprof_add_comment(p, c);
	}
	if (err) {
		ctr_pprof_free(p);
		return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", ctrace_strerror(err));
	}
	return reply_profile(conn, p, tp->name);
}

static void sleep_seconds(long seconds)
{
	struct timespec ts = { seconds, 0 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static enum MHD_Result serve_table(struct MHD_Connection *conn, const struct table_profile *tp,
				   int debug, long seconds)
{
	struct ctr_prof_row *before = NULL, *rows = NULL;
	size_t nbefore = 0, n = 0;
	int64_t start = now_unix_ns(), duration = 0;
	int64_t *inuse_abs = NULL;
	enum MHD_Result ret;

	if (seconds > 0) {
		if (ctr_prof_snapshot(tp->kind, &before, &nbefore) != 0)
			return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		sleep_seconds(seconds);
		duration = now_unix_ns() - start;
	}
	if (ctr_prof_snapshot(tp->kind, &rows, &n) != 0) {
		free(before);
		return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	if (tp->deltas) {
		/* Like godeltaprof: allocations and contentions since the previous scrape; the
		 * heap's in-use values stay absolute. */
		pthread_mutex_lock(&delta_lock);
		struct ctr_prof_row *copy = malloc((n ? n : 1) * sizeof(*copy));
		if (tp->kind == CTR_PROF_HEAP)
			inuse_abs = malloc((n ? n : 1) * 2 * sizeof(*inuse_abs));
		if (!copy || (tp->kind == CTR_PROF_HEAP && !inuse_abs)) {
			pthread_mutex_unlock(&delta_lock);
			free(copy);
			free(inuse_abs);
			free(rows);
			return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		}
		qsort(rows, n, sizeof(*rows), by_stack);
		memcpy(copy, rows, n * sizeof(*rows));
		for (size_t i = 0; inuse_abs && i < n; i++) {
			inuse_abs[2 * i] = rows[i].v[0] - rows[i].v[2];
			inuse_abs[2 * i + 1] = rows[i].v[1] - rows[i].v[3];
		}
		subtract(rows, n, delta_prev[tp->kind], delta_nprev[tp->kind]);
		free(delta_prev[tp->kind]);
		delta_prev[tp->kind] = copy;
		delta_nprev[tp->kind] = n;
		pthread_mutex_unlock(&delta_lock);
	} else if (before) {
		subtract(rows, n, before, nbefore);
	}
	ret = write_table(conn, tp, rows, n, inuse_abs, debug, start, duration);
	free(inuse_abs);
	free(before);
	free(rows);
	return ret;
}

void ctr_prof_fork_child(void)
{
	pthread_mutex_init(&delta_lock, NULL);
	ctr_cpuprof_fork_child();
	ctr_threads_fork_child();
}

/* ---- requests ---- */

enum MHD_Result ctr_pprof_http(struct MHD_Connection *conn, const char *name)
{
	const char *sec = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "seconds");
	const char *debug = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "debug");
	const struct table_profile *tp = NULL;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcmp(name, tables[i].name) == 0)
			tp = &tables[i];
	struct ctr_pprof_query q;
	unsigned status;
	const char *why;
	if (ctr_pprof_query(name, sec, debug, ctr_http_max_seconds(), tp != NULL,
			    tp && tp->deltas, &q, &status, &why) < 0)
		return fail(conn, status, "%s", why);
	if (q.what == CTR_PPROF_CPU)
		return ctr_cpuprof_http(conn, q.seconds);
	if (q.what == CTR_PPROF_THREADS)
		return ctr_threads_http(conn, name, q.debug, q.seconds);
	return serve_table(conn, tp, (int)q.debug, q.seconds);
}

/* The index's rows: every profile with its current count, as Go's index shows. */
void ctr_pprof_index(char *buf, size_t size)
{
	static const struct {
		const char *name, *href, *what;
		int kind;
	} rows[] = {
		{ "allocs", "allocs?debug=1", "A sampling of all past memory allocations.",
		  CTR_PROF_HEAP },
		{ "block", "block?debug=1",
		  "Stack traces that led to blocking on condition variables, semaphores, joins "
		  "and barriers (CTRACE_BLOCK_RATE or ctrace_set_block_rate turns it on).",
		  CTR_PROF_BLOCK },
		{ "goroutine", "goroutine?debug=1", "The stacks of all current threads (as threads).",
		  -1 },
		{ "heap", "heap?debug=1", "A sampling of memory allocations of live objects.",
		  CTR_PROF_HEAP },
		{ "mutex", "mutex?debug=1",
		  "Stack traces of waiters for contended mutexes, rwlocks and spinlocks "
		  "(CTRACE_MUTEX_RATE or ctrace_set_mutex_rate turns it on).",
		  CTR_PROF_MUTEX },
		{ "profile", "profile",
		  "CPU profile: the next N seconds (?seconds=N, default 30) at 100 Hz.", -2 },
		{ "threadcreate", "threadcreate?debug=1",
		  "Stack traces that led to the creation of new threads.", CTR_PROF_THREADCREATE },
		{ "threads", "threads?debug=1", "The stacks of all current threads.", -1 },
	};
	size_t len = 0;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		long count = 0;
		if (rows[i].kind >= 0) {
			struct ctr_prof_row *r;
			size_t n;
			if (ctr_prof_snapshot(rows[i].kind, &r, &n) == 0) {
				for (size_t j = 0; j < n; j++)
					if (!row_empty(&r[j]) &&
					    (strcmp(rows[i].name, "heap") != 0 || r[j].v[0] != r[j].v[2]))
						count++;
				free(r);
			}
		} else if (rows[i].kind == -1) {
			count = (long)ctr_threads_count();
		}
		char c[32] = "";
		if (rows[i].kind != -2)
			snprintf(c, sizeof(c), "%ld", count);
		int k = snprintf(buf + len, size - len,
				 "<tr><td>%s</td><td><a href=\"%s\">%s</a></td><td>%s</td></tr>\n", c,
				 rows[i].href, rows[i].name, rows[i].what);
		if (k < 0 || (size_t)k >= size - len) {
			buf[len] = 0;
			return;
		}
		len += (size_t)k;
	}
}
