/*
 * The index of a trace, for the viewer: random access by time without holding decoded
 * events. One pass over the file builds
 *   - the model of the whole trace (statistics, latencies, profiles, warnings);
 *   - the table of generations (offset, process, time range, events);
 *   - checkpoints of every thread's state every few generations, within a memory budget;
 *   - per-thread summaries: time in each state over a fixed grid of the trace's window.
 * A timeline for a range decodes only the generations it needs, starting the model from
 * the nearest checkpoint; a range holding too many events is answered from the grid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "util.h"
#include "model.h"

#define GRID 4096                     /* summary buckets over the trace's window */
#define CHECKPOINT_BUDGET (64u << 20) /* bytes of checkpoints at most */
#define EXACT_EVENTS_MAX 8000000u     /* more than this in a range: answer from the grid */

struct gen_entry {
	uint64_t offset;
	uint32_t pid;
	int64_t first_ns, last_ns;
	uint64_t events;
	struct ctr_checkpoint *cp; /* the threads' state before this generation, or NULL */
};

/* A grid cell: µs in each state, then wait's by reason (sync, io, sleep, other). */
#define CELL 9

struct grid_thread {
	uint32_t pid, tid;
	uint32_t (*cells)[CELL];
};

struct proc_entry {
	uint32_t pid, ppid;
	char *exe;
};

struct ctrace_index {
	char *path;
	ctrace_reader *r;
	ctrace_model *model;
	struct gen_entry *gens;
	size_t ngens;
	int64_t start_ns, end_ns;
	struct grid_thread *grid;
	size_t ngrid, grid_cap;
	struct ctr_u64map grid_of; /* pid << 32 | tid -> grid index + 1 */
	uint64_t checkpoint_bytes;
	struct ctrace_model_callbacks cb; /* the model's, for as long as it lives */
	struct proc_entry *procs;
	size_t nprocs, procs_cap;
};

static int wait_column(uint32_t reason)
{
	switch (reason) {
	case CTRACE_REASON_SYNC: return 5;
	case CTRACE_REASON_IO: return 6;
	case CTRACE_REASON_SLEEP: return 7;
	default: return 8;
	}
}

static void note_process(struct ctrace_index *ix, const ctrace_gen *g)
{
	const struct ctrace_process *p = ctrace_gen_process(g);
	size_t i;
	for (i = 0; i < ix->nprocs && ix->procs[i].pid != p->pid; i++)
		;
	if (i < ix->nprocs) {
		if (!ix->procs[i].exe[0] && p->exe && p->exe[0]) {
			char *e = strdup(p->exe);
			if (e) {
				free(ix->procs[i].exe);
				ix->procs[i].exe = e;
			}
		}
		return;
	}
	if (ctr_grow((void **)&ix->procs, &ix->procs_cap, ix->nprocs + 1, sizeof(*ix->procs)) < 0)
		return;
	char *e = strdup(p->exe ? p->exe : "");
	if (!e)
		return;
	ix->procs[ix->nprocs++] = (struct proc_entry){ p->pid, p->ppid, e };
}

static int cmp_proc(const void *a, const void *b)
{
	const struct proc_entry *x = a, *y = b;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

CTRACE_API int ctrace_index_process(const ctrace_index *ix, size_t i, uint32_t *pid,
				    uint32_t *ppid, const char **exe)
{
	if (i >= ix->nprocs)
		return 0;
	*pid = ix->procs[i].pid;
	*ppid = ix->procs[i].ppid;
	*exe = ix->procs[i].exe;
	return 1;
}

static struct grid_thread *grid_of(struct ctrace_index *ix, uint32_t pid, uint32_t tid)
{
	uint64_t key = (uint64_t)pid << 32 | tid, idx;
	if (ctr_u64map_get(&ix->grid_of, key, &idx))
		return &ix->grid[idx - 1];
	if (ctr_grow((void **)&ix->grid, &ix->grid_cap, ix->ngrid + 1, sizeof(*ix->grid)) < 0)
		return NULL;
	struct grid_thread *g = &ix->grid[ix->ngrid];
	g->pid = pid;
	g->tid = tid;
	g->cells = calloc(GRID, sizeof(*g->cells));
	if (!g->cells || ctr_u64map_put(&ix->grid_of, key, ix->ngrid + 1) < 0) {
		free(g->cells);
		return NULL;
	}
	ix->ngrid++;
	return g;
}

static double cell_ns(const struct ctrace_index *ix)
{
	double w = (double)(ix->end_ns - ix->start_ns) / GRID;
	return w > 1 ? w : 1;
}

/* Add an interval's time to the grid cells it covers. */
static int grid_add(void *ud, const struct ctrace_interval *iv)
{
	struct ctrace_index *ix = ud;
	struct grid_thread *g = grid_of(ix, iv->pid, iv->tid);
	if (!g || iv->end_ns <= iv->begin_ns)
		return 0;
	double w = cell_ns(ix);
	int64_t b = iv->begin_ns, e = iv->end_ns;
	while (b < e) {
		double pos = (double)(b - ix->start_ns) / w;
		long c = pos < 0 ? 0 : pos >= GRID ? GRID - 1 : (long)pos;
		int64_t cell_end = ix->start_ns + (int64_t)((double)(c + 1) * w);
		int64_t upto = e < cell_end || c == GRID - 1 ? e : cell_end;
		if (upto <= b)
			upto = b + 1;
		uint64_t us = (uint64_t)(upto - b + 500) / 1000;
		uint32_t *cell = &g->cells[c][iv->state < 5 ? iv->state : 4];
		*cell = *cell + us > UINT32_MAX ? UINT32_MAX : *cell + (uint32_t)us;
		if (iv->state == CTRACE_STATE_WAIT) {
			cell = &g->cells[c][wait_column(iv->reason)];
			*cell = *cell + us > UINT32_MAX ? UINT32_MAX : *cell + (uint32_t)us;
		}
		b = upto;
	}
	return 0;
}

CTRACE_API void ctrace_index_free(ctrace_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->ngens; i++)
		ctr_checkpoint_free(ix->gens[i].cp);
	for (size_t i = 0; i < ix->ngrid; i++)
		free(ix->grid[i].cells);
	for (size_t i = 0; i < ix->nprocs; i++)
		free(ix->procs[i].exe);
	free(ix->procs);
	free(ix->grid);
	ctr_u64map_free(&ix->grid_of);
	free(ix->gens);
	ctrace_model_free(ix->model);
	ctrace_reader_free(ix->r);
	free(ix->path);
	free(ix);
}

CTRACE_API int ctrace_index_open(const char *path, const struct ctrace_model_callbacks *progress,
				 ctrace_index **out, char *errbuf, size_t errlen)
{
	struct ctrace_index *ix = calloc(1, sizeof(*ix));
	const struct ctrace_gen_info *gi;
	size_t cap = 0;
	int n;

	*out = NULL;
	if (!ix || !(ix->path = strdup(path))) {
		free(ix);
		snprintf(errbuf, errlen, "out of memory");
		return CTRACE_ENOMEM;
	}
	n = ctrace_reader_open(path, &ix->r);
	if (n < 0) {
		snprintf(errbuf, errlen, "%s", ix->r ? ctrace_reader_errmsg(ix->r) : ctrace_strerror(n));
		ctrace_index_free(ix);
		return n;
	}
	/* The generations' headers first: the window, and how often to checkpoint. */
	ix->start_ns = ctrace_reader_start_ns(ix->r);
	ix->end_ns = ix->start_ns;
	while ((n = ctrace_reader_next_info(ix->r, &gi)) == 1) {
		if (ctr_grow((void **)&ix->gens, &cap, ix->ngens + 1, sizeof(*ix->gens)) < 0) {
			n = CTRACE_ENOMEM;
			break;
		}
		ix->gens[ix->ngens++] = (struct gen_entry){ gi->offset, gi->pid, gi->first_ns,
							    gi->last_ns, gi->events, NULL };
		if (gi->last_ns > ix->end_ns)
			ix->end_ns = gi->last_ns;
	}
	char damage[512] = "";
	if (n < 0) {
		if (!ix->ngens) {
			snprintf(errbuf, errlen, "%s", ctrace_reader_errmsg(ix->r));
			ctrace_index_free(ix);
			return n;
		}
		snprintf(damage, sizeof(damage), "%s; the viewer shows what came before",
			 ctrace_reader_errmsg(ix->r));
	}

	/* Then the model, with the grid and the checkpoints on the way. */
	ix->cb = (struct ctrace_model_callbacks){ ix, grid_add, NULL, NULL };
	struct ctrace_model *m = ctr_model_new(&ix->cb, ix->start_ns);
	if (!m) {
		ctrace_index_free(ix);
		return CTRACE_ENOMEM;
	}
	size_t every = 1;
	ctrace_gen *g;
	uint64_t total = ctrace_reader_size(ix->r);
	for (size_t i = 0; i < ix->ngens; i++) {
		if (i % every == 0) {
			struct ctr_checkpoint *c = ctr_model_checkpoint(m);
			if (c) {
				ix->gens[i].cp = c;
				ix->checkpoint_bytes += ctr_checkpoint_size(c);
				/* Spread the budget over the generations left. */
				uint64_t per = ctr_checkpoint_size(c);
				uint64_t room = CHECKPOINT_BUDGET > ix->checkpoint_bytes
							? CHECKPOINT_BUDGET - ix->checkpoint_bytes
							: 0;
				uint64_t left = ix->ngens - i;
				every = room / per >= left ? 1 : left / (room / per + 1) + 1;
			}
		}
		if (ctrace_reader_seek(ix->r, ix->gens[i].offset) < 0 ||
		    ctrace_reader_next(ix->r, &g) != 1 || ctr_model_feed(m, g) < 0) {
			snprintf(damage, sizeof(damage), "%s; the viewer shows what came before",
				 ctrace_reader_errmsg(ix->r));
			ix->ngens = i;
			break;
		}
		note_process(ix, g);
		if (progress && progress->progress)
			progress->progress(progress->userdata,
					   ix->gens[i].offset + 64, total);
	}
	if (damage[0])
		ctr_model_warn(m, damage);
	ctr_model_finish(m);
	if (ix->nprocs > 1)
		qsort(ix->procs, ix->nprocs, sizeof(*ix->procs), cmp_proc);
	ix->model = m;
	*out = ix;
	return 0;
}

CTRACE_API const ctrace_model *ctrace_index_model(const ctrace_index *ix)
{
	return ix->model;
}

CTRACE_API size_t ctrace_index_generation_count(const ctrace_index *ix)
{
	return ix->ngens;
}

CTRACE_API void ctrace_index_window(const ctrace_index *ix, int64_t *start_ns, int64_t *end_ns)
{
	*start_ns = ix->start_ns;
	*end_ns = ix->end_ns;
}

/* ---- timelines ---- */

struct merge {
	uint32_t pid, tid;
	int open;
	struct ctrace_span s;
};

struct run {
	struct ctrace_index *ix;
	int64_t start, end;
	double px; /* ns per pixel */
	const struct ctrace_timeline_callbacks *cb;
	struct merge *merges;
	size_t nmerges, merges_cap;
	struct ctr_u64map merge_of;
	int stop;
	/* for a single interval's lookup */
	uint32_t want_pid, want_tid;
	int64_t want_at;
	struct ctrace_interval found;
	char found_call[128];
	int have_found;
	uint64_t next_id;
};

static struct merge *merge_of(struct run *r, uint32_t pid, uint32_t tid)
{
	uint64_t key = (uint64_t)pid << 32 | tid, idx;
	if (ctr_u64map_get(&r->merge_of, key, &idx))
		return &r->merges[idx - 1];
	if (ctr_grow((void **)&r->merges, &r->merges_cap, r->nmerges + 1, sizeof(*r->merges)) < 0 ||
	    ctr_u64map_put(&r->merge_of, key, r->nmerges + 1) < 0)
		return NULL;
	struct merge *mg = &r->merges[r->nmerges++];
	memset(mg, 0, sizeof(*mg));
	mg->pid = pid;
	mg->tid = tid;
	return mg;
}

static void flush_merge(struct run *r, struct merge *mg)
{
	if (!mg->open)
		return;
	mg->open = 0;
	if (!r->stop && r->cb->span && r->cb->span(r->cb->userdata, &mg->s))
		r->stop = 1;
}

static int on_interval(void *ud, const struct ctrace_interval *iv)
{
	struct run *r = ud;
	if (r->want_tid) {
		if (iv->tid == r->want_tid && iv->pid == r->want_pid && iv->begin_ns <= r->want_at &&
		    r->want_at < iv->end_ns) {
			r->found = *iv;
			/* the replaying model's strings go with it: keep a copy */
			snprintf(r->found_call, sizeof(r->found_call), "%s", iv->call ? iv->call : "");
			r->have_found = 1;
		}
		return 0;
	}
	int64_t b = iv->begin_ns < r->start ? r->start : iv->begin_ns;
	int64_t e = iv->end_ns > r->end ? r->end : iv->end_ns;
	if (e <= b)
		return 0;
	if (iv->waker_tid && r->cb->wake && iv->end_ns <= r->end && iv->end_ns > r->start &&
	    r->cb->wake(r->cb->userdata, iv->pid, iv->waker_tid, iv->wake_ns, iv->tid, iv->end_ns))
		r->stop = 1;
	struct merge *mg = merge_of(r, iv->pid, iv->tid);
	if (!mg)
		return 1;
	if ((double)(e - b) >= r->px) {
		flush_merge(r, mg);
		struct ctrace_span s = { iv->pid, iv->tid, iv->begin_ns, iv->end_ns, iv->state,
					 iv->reason, iv->call, iv->begin_ns, { 0 }, 1, 0, { 0 } };
		s.mix[iv->state < 5 ? iv->state : 4] = e - b;
		if (iv->state == CTRACE_STATE_WAIT)
			s.wait_mix[wait_column(iv->reason) - 5] = e - b;
		if (!r->stop && r->cb->span && r->cb->span(r->cb->userdata, &s))
			r->stop = 1;
		return r->stop;
	}
	/* Shorter than a pixel: into the thread's summary span. */
	if (mg->open && b - mg->s.end_ns > (int64_t)r->px)
		flush_merge(r, mg);
	if (!mg->open) {
		memset(&mg->s, 0, sizeof(mg->s));
		mg->s.pid = iv->pid;
		mg->s.tid = iv->tid;
		mg->s.begin_ns = b;
		mg->s.summary = 1;
		mg->open = 1;
	}
	mg->s.end_ns = e;
	mg->s.mix[iv->state < 5 ? iv->state : 4] += e - b;
	if (iv->state == CTRACE_STATE_WAIT)
		mg->s.wait_mix[wait_column(iv->reason) - 5] += e - b;
	mg->s.count++;
	if ((double)(mg->s.end_ns - mg->s.begin_ns) >= r->px) {
		/* a pixel's worth: its dominant state names it */
		int best = 0;
		for (int k = 1; k < 5; k++)
			if (mg->s.mix[k] > mg->s.mix[best])
				best = k;
		mg->s.state = (uint32_t)best;
		flush_merge(r, mg);
	}
	return r->stop;
}

static int on_event(void *ud, const ctrace_gen *g, const struct ctrace_event *ev)
{
	struct run *r = ud;
	(void)g;
	if (r->want_tid || !r->cb->event || ev->time_ns < r->start || ev->time_ns > r->end)
		return 0;
	switch (ev->type) {
	case CTRACE_EV_TASK_BEGIN:
	case CTRACE_EV_TASK_END:
	case CTRACE_EV_REGION_BEGIN:
	case CTRACE_EV_REGION_END:
	case CTRACE_EV_LOG:
		if (r->cb->event(r->cb->userdata, ev))
			r->stop = 1;
		break;
	default:
		break;
	}
	return r->stop;
}

/* The generations to decode for [start, end]: from the checkpoint at or before the first
 * one that reaches @start, to the last that begins before @end. */
static void gen_range(const struct ctrace_index *ix, int64_t start, int64_t end, size_t *from,
		      size_t *to, uint64_t *events)
{
	size_t first = ix->ngens;
	for (size_t i = 0; i < ix->ngens; i++)
		if (ix->gens[i].last_ns >= start) {
			first = i;
			break;
		}
	size_t last = first;
	*events = 0;
	for (size_t i = first; i < ix->ngens; i++) {
		if (ix->gens[i].first_ns > end)
			break;
		last = i + 1;
		*events += ix->gens[i].events;
	}
	size_t cp = first < ix->ngens ? first : ix->ngens ? ix->ngens - 1 : 0;
	while (cp > 0 && !ix->gens[cp].cp)
		cp--;
	*from = cp;
	*to = last;
}

static int replay(struct ctrace_index *ix, struct run *r, size_t from, size_t to)
{
	if (!ix->ngens || !ix->gens[from].cp)
		return 0;
	struct ctrace_model_callbacks cb = { r, on_interval, on_event, NULL };
	struct ctrace_model *m = ctr_model_resume(ix->gens[from].cp, &cb);
	if (!m)
		return CTRACE_ENOMEM;
	ctrace_gen *g;
	int err = 0;
	for (size_t i = from; i < to && !r->stop; i++) {
		if (ctrace_reader_seek(ix->r, ix->gens[i].offset) < 0 ||
		    ctrace_reader_next(ix->r, &g) != 1) {
			err = CTRACE_ECORRUPT;
			break;
		}
		if (ctr_model_feed(m, g) < 0)
			break;
	}
	if (!r->stop)
		ctr_model_flush(m, r->end);
	ctrace_model_free(m);
	return err;
}

/* A range too big to decode: per thread, the grid's cells as summary spans. */
static int from_grid(struct ctrace_index *ix, struct run *r)
{
	double w = cell_ns(ix);
	for (size_t t = 0; t < ix->ngrid && !r->stop; t++) {
		struct grid_thread *g = &ix->grid[t];
		long c0 = (long)((double)(r->start - ix->start_ns) / w);
		long c1 = (long)((double)(r->end - ix->start_ns) / w);
		if (c0 < 0)
			c0 = 0;
		if (c1 >= GRID)
			c1 = GRID - 1;
		/* Cells narrower than a pixel are added up to a pixel. */
		long per = r->px > w ? (long)(r->px / w) : 1;
		for (long c = c0; c <= c1 && !r->stop; c += per) {
			struct ctrace_span s = { g->pid, g->tid, 0, 0, 0, 0, NULL, 0, { 0 }, 0, 1, { 0 } };
			uint64_t total = 0;
			for (long k = c; k < c + per && k <= c1; k++) {
				for (int st = 0; st < 5; st++) {
					s.mix[st] += (int64_t)g->cells[k][st] * 1000;
					total += g->cells[k][st];
				}
				for (int r2 = 0; r2 < 4; r2++)
					s.wait_mix[r2] += (int64_t)g->cells[k][5 + r2] * 1000;
			}
			if (!total)
				continue;
			s.begin_ns = ix->start_ns + (int64_t)((double)c * w);
			s.end_ns = ix->start_ns + (int64_t)((double)(c + per) * w);
			if (s.begin_ns < r->start)
				s.begin_ns = r->start;
			if (s.end_ns > r->end)
				s.end_ns = r->end;
			int best = 0;
			for (int k = 1; k < 5; k++)
				if (s.mix[k] > s.mix[best])
					best = k;
			s.state = (uint32_t)best;
			s.count = 0; /* unknown: the grid keeps time, not intervals */
			if (r->cb->span && r->cb->span(r->cb->userdata, &s))
				r->stop = 1;
		}
	}
	return 0;
}

/*
 * The model keeps every time within +-(2^62 - 1) ns: a query beyond that bound asks for
 * nothing more, and bounded, every difference of two times fits in int64.
 */
#define TIME_BOUND ((int64_t)((1ull << 62) - 1))

static int64_t bounded(int64_t t)
{
	return t > TIME_BOUND ? TIME_BOUND : t < -TIME_BOUND ? -TIME_BOUND : t;
}

CTRACE_API int ctrace_index_timeline(ctrace_index *ix, int64_t start, int64_t end,
				     uint32_t width, const struct ctrace_timeline_callbacks *cb)
{
	if (end <= start || width == 0 || width > 100000)
		return CTRACE_EINVAL;
	start = bounded(start);
	end = bounded(end);
	if (end <= start)
		return 0; /* wholly beyond the bound: no time of the trace is there */
	struct run r = { .ix = ix, .start = start, .end = end, .cb = cb };
	r.px = (double)(end - start) / width;
	size_t from, to;
	uint64_t events;
	gen_range(ix, start, end, &from, &to, &events);
	int err;
	if (events > EXACT_EVENTS_MAX) {
		err = from_grid(ix, &r);
	} else {
		err = replay(ix, &r, from, to);
		for (size_t i = 0; i < r.nmerges; i++)
			flush_merge(&r, &r.merges[i]);
	}
	free(r.merges);
	ctr_u64map_free(&r.merge_of);
	return err;
}

CTRACE_API int ctrace_index_interval(ctrace_index *ix, uint32_t pid, uint32_t tid, int64_t at,
				     struct ctrace_interval *out, const char **call)
{
	static const struct ctrace_timeline_callbacks none = { 0 };
	at = bounded(at);
	struct run r = { .ix = ix, .start = at, .end = at + 1, .cb = &none };
	if (!tid)
		return CTRACE_EINVAL;
	r.want_pid = pid;
	r.want_tid = tid;
	r.want_at = at;
	size_t from, to;
	uint64_t events;
	gen_range(ix, at, at, &from, &to, &events);
	/* The interval may have begun generations earlier: the checkpoint covers that. */
	int err = replay(ix, &r, from, to);
	free(r.merges);
	ctr_u64map_free(&r.merge_of);
	if (err)
		return err;
	if (!r.have_found)
		return CTRACE_EINVAL;
	*out = r.found;
	/* The call's name, interned in the index's model, which lives as long as it does. */
	*call = r.found.call ? ctr_model_intern((struct ctrace_model *)ix->model, r.found_call,
						 strlen(r.found_call))
			     : NULL;
	out->call = *call;
	return 0;
}

CTRACE_API int ctrace_index_stack(const ctrace_index *ix, uint32_t pid, uint64_t stack,
				  struct ctrace_frame *frames, size_t max)
{
	const struct ctr_frame *f;
	uint32_t depth = ctr_model_stack(ix->model, pid, stack, &f);
	size_t n = depth < max ? depth : max;
	for (size_t i = 0; i < n; i++) {
		memset(&frames[i], 0, sizeof(frames[i]));
		frames[i].pc = f[i].pc;
		frames[i].function = f[i].function;
		frames[i].file = f[i].file;
		frames[i].line = f[i].line;
		frames[i].mapping = f[i].mapping;
	}
	return (int)n;
}
