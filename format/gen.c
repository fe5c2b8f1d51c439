/* A loaded generation: its events (time-ordered or batched) and its tables. */
#include <stdlib.h>
#include <string.h>

#include "reader_impl.h"
#include "util.h"
#include "varint.h"

/* ---- events ---- */

static int batch_error(struct ctrace_gen *g, const struct batch *b, const char *what)
{
	return ctr_reader_fail(g->r, CTRACE_ECORRUPT, g->info.offset,
		    "corrupt generation (content offset %zu): %s in batch of tid %u", b->off, what,
		    b->tid);
}

/* Decode the batch's next event into b->ev and advance its clock. */
static int batch_advance(struct ctrace_gen *g, struct batch *b)
{
	size_t n = ctr_event_scan(&g->schema, b->p, b->end, &b->ev);
	if (n == 0)
		return batch_error(g, b, "bad event");
	b->off += n;
	b->p += n;
	b->ticks += b->ev.args[0]; /* wraps on hostile input; never undefined */
	return 0;
}

/* Ties go to the earlier batch, so a thread's batches keep their order. */
static inline int heap_less(const struct heap_item *x, const struct heap_item *y)
{
	return x->ticks < y->ticks || (x->ticks == y->ticks && x->batch < y->batch);
}

static void heap_down(struct ctrace_gen *g, size_t i)
{
	struct heap_item *h = g->heap;
	size_t n = g->heap_len;
	struct heap_item x = h[i];
	for (;;) {
		size_t l = 2 * i + 1;
		if (l >= n)
			break;
		size_t m = l + 1 < n && heap_less(&h[l + 1], &h[l]) ? l + 1 : l;
		if (!heap_less(&h[m], &x))
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = x;
}

CTRACE_API void ctrace_gen_rewind(ctrace_gen *g)
{
	for (size_t i = 0; i < g->nbatches; i++) {
		struct batch *b = &g->batches[i];
		b->p = b->start;
		b->off = b->start_off;
		b->ticks = b->base;
		b->left = b->nevents;
	}
	g->primed = 0;
	g->pending_err = 0;
	g->heap_len = 0;
	g->cur_batch = 0;
}

static int prime(struct ctrace_gen *g)
{
	if (ctr_grow((void **)&g->heap, &g->heap_cap, g->nbatches + 1, sizeof(*g->heap)) < 0)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	g->heap_len = 0;
	for (size_t i = 0; i < g->nbatches; i++) {
		struct batch *b = &g->batches[i];
		if (b->left == 0) {
			if (b->p != b->end)
				return batch_error(g, b, "bytes after the last event");
			continue;
		}
		int err = batch_advance(g, b);
		if (err)
			return err;
		g->heap[g->heap_len++] = (struct heap_item){ b->ticks, (uint32_t)i };
	}
	for (size_t i = g->heap_len / 2; i-- > 0;)
		heap_down(g, i);
	g->primed = 1;
	return 0;
}

/* The fast conversion holds for ticks at or after the sync point, within 2^40 ticks of
 * it, when the ratio's integer part is below 2^21 and the sync point below 2^62, so that
 * m0 + d * ns_span / tick_span stays below 2^63. */
static inline int likely_fast(const struct ctrace_gen *g, uint64_t ticks)
{
	return g->fast_clock && ticks >= g->t0 && ticks - g->t0 < (1ull << 40);
}

static int64_t ticks_to_ns(const struct ctrace_gen *g, uint64_t ticks)
{
	if (g->clock_identity && ticks <= INT64_MAX)
		return (int64_t)ticks; /* ticks are the monotonic clock itself */
	if (likely_fast(g, ticks)) {
		/* floor(d * ns_span / tick_span) without a division: the 64.64 fixed-point ratio
		 * misses the exact value by less than d / 2^64 < 1, so the estimate is the floor
		 * or one below it, which one multiplication settles. An integer ratio is exact. */
		uint64_t d = ticks - g->t0;
		uint64_t q = d * g->mult_hi +
			     (uint64_t)(((unsigned __int128)d * g->mult_lo) >> 64);
		if (g->mult_lo &&
		    (unsigned __int128)(q + 1) * g->tick_span <= (unsigned __int128)d * g->ns_span)
			q++;
		return (int64_t)(g->m0 + q);
	}
	/* |ticks - t0| * ns_span fits 128 bits unsigned; the result saturates to int64. */
	int neg = ticks < g->t0;
	unsigned __int128 d = neg ? g->t0 - ticks : ticks - g->t0;
	unsigned __int128 q = d * g->ns_span / g->tick_span;
	__int128 m0 = (__int128)g->m0;
	if (q > (unsigned __int128)INT64_MAX * 4)
		return neg ? INT64_MIN : INT64_MAX;
	__int128 ns = neg ? m0 - (__int128)q : m0 + (__int128)q;
	if (ns > INT64_MAX)
		return INT64_MAX;
	if (ns < INT64_MIN)
		return INT64_MIN;
	return (int64_t)ns;
}

CTRACE_API int64_t ctrace_gen_ticks_to_ns(const ctrace_gen *g, uint64_t ticks)
{
	return ticks_to_ns(g, ticks);
}

static void fill_event(ctrace_gen *g, const struct batch *b, struct ctrace_event *ev)
{
	const struct ctr_raw_event *raw = &b->ev;
	ev->type = raw->type;
	ev->nargs = raw->nargs - 1u;
	ev->pid = g->proc.pid;
	ev->tid = b->tid;
	ev->ticks = b->ticks;
	ev->time_ns = ticks_to_ns(g, b->ticks);
	uint8_t smask = raw->type < CTRACE_EV_COUNT_ ? ctr_events[raw->type].signed_mask : 0;
	unsigned n = raw->nargs - 1u;
	/* A fixed-size copy (the compiler makes it a few vector moves), then the tail. */
	for (unsigned i = 0; i < CTRACE_EVENT_MAX_ARGS; i++)
		ev->args[i] = i < n ? raw->args[i + 1] : 0;
	for (; smask; smask &= (uint8_t)(smask - 1)) {
		unsigned i = (unsigned)__builtin_ctz(smask);
		ev->args[i] = (uint64_t)ctr_unzigzag(ev->args[i]);
	}
	ev->blob = raw->blob ? (const char *)raw->blob : NULL;
	ev->blob_len = raw->blob ? (size_t)raw->blob_len : 0;
}

CTRACE_API int ctrace_gen_next_event_batched(ctrace_gen *g, const struct ctrace_event **out)
{
	if (g->pending_err)
		return g->pending_err;
	while (g->cur_batch < g->nbatches) {
		struct batch *b = &g->batches[g->cur_batch];
		if (b->left == 0) {
			if (b->p != b->end)
				return g->pending_err = batch_error(g, b, "bytes after the last event");
			g->cur_batch++;
			continue;
		}
		int err = batch_advance(g, b);
		if (err)
			return g->pending_err = err;
		b->left--;
		fill_event(g, b, &g->out);
		*out = &g->out;
		return 1;
	}
	return 0;
}

/*
 * Batched iteration that decodes only events of @type and steps over the others by their
 * lengths (format-internal: the model's pass over a generation's wake-ups).
 */
int ctr_gen_next_of_type(ctrace_gen *g, uint8_t type, const struct ctrace_event **out)
{
	if (g->pending_err)
		return g->pending_err;
	while (g->cur_batch < g->nbatches) {
		struct batch *b = &g->batches[g->cur_batch];
		while (b->left) {
			if (b->p < b->end && *b->p != type) {
				size_t n = ctr_event_skip(&g->schema, b->p, b->end, &b->ticks);
				if (n == 0)
					return g->pending_err = batch_error(g, b, "bad event");
				b->p += n;
				b->off += n;
				b->left--;
				continue;
			}
			int err = batch_advance(g, b);
			if (err)
				return g->pending_err = err;
			b->left--;
			fill_event(g, b, &g->out);
			*out = &g->out;
			return 1;
		}
		if (b->p != b->end)
			return g->pending_err = batch_error(g, b, "bytes after the last event");
		g->cur_batch++;
	}
	return 0;
}

CTRACE_API int ctrace_gen_next_event(ctrace_gen *g, const struct ctrace_event **out)
{
	if (g->pending_err)
		return g->pending_err;
	if (!g->primed) {
		int err = prime(g);
		if (err)
			return err;
	}
	if (g->heap_len == 0)
		return 0;
	uint32_t top = g->heap[0].batch;
	struct batch *b = &g->batches[top];
	struct ctrace_event *ev = &g->out;

	fill_event(g, b, ev);

	/* Damage after this event is reported on the next call: this one is good. */
	if (--b->left > 0) {
		g->pending_err = batch_advance(g, b);
		g->heap[0].ticks = b->ticks;
	} else if (b->p != b->end) {
		g->pending_err = batch_error(g, b, "bytes after the last event");
	} else {
		g->heap[0] = g->heap[--g->heap_len];
	}
	if (g->heap_len > 1)
		heap_down(g, 0);
	*out = ev;
	return 1;
}

CTRACE_API const struct ctrace_gen_info *ctrace_gen_header(const ctrace_gen *g)
{
	return &g->info;
}

CTRACE_API const struct ctrace_process *ctrace_gen_process(const ctrace_gen *g)
{
	return &g->proc;
}

CTRACE_API const char *ctrace_gen_string(const ctrace_gen *g, uint64_t id)
{
	if (id == 0 || id > g->nstrings)
		return NULL;
	return g->arena + g->strings[id].off;
}

CTRACE_API const struct ctrace_frame *ctrace_gen_frame(const ctrace_gen *g, uint64_t id)
{
	if (id == 0 || id > g->nframes)
		return NULL;
	return &g->frames[id];
}

CTRACE_API int ctrace_gen_stack(const ctrace_gen *g, uint64_t id, const uint32_t **frames)
{
	size_t lo = 0, hi = g->nstacks;

	*frames = NULL;
	if (id == 0)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->stacks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == g->nstacks || g->stacks[lo].id != id)
		return CTRACE_EINVAL;
	*frames = g->frame_pool + g->stacks[lo].off;
	return (int)g->stacks[lo].depth;
}

CTRACE_API const struct ctrace_call *ctrace_gen_call(const ctrace_gen *g, uint64_t id)
{
	if (id == 0 || id >= g->ncalls || g->call_names[id] == SIZE_MAX)
		return NULL;
	return &g->calls[id];
}

CTRACE_API const char *ctrace_gen_info_value(const ctrace_gen *g, const char *key)
{
	for (size_t i = 0; i < g->ninfos; i++)
		if (strcmp(g->arena + g->infos[i].key, key) == 0)
			return g->arena + g->infos[i].value;
	return NULL;
}

CTRACE_API int ctrace_gen_info_at(const ctrace_gen *g, size_t i, const char **key,
				  const char **value)
{
	if (i >= g->ninfos)
		return 0;
	*key = g->arena + g->infos[i].key;
	*value = g->arena + g->infos[i].value;
	return 1;
}

