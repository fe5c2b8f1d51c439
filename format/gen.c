/* A loaded generation: its events (time-ordered or batched) and its tables. */
#include <stdlib.h>
#include <string.h>

#include "gen_decode.h"

/* |ticks - t0| * ns_span fits 128 bits unsigned; the result saturates to int64. */
int64_t ctr_gen_ticks_to_ns_slow(const struct ctrace_gen *g, uint64_t ticks)
{
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

/* ---- events ---- */

int ctr_gen_batch_error(struct ctrace_gen *g, const struct batch *b, const char *what)
{
	return ctr_reader_fail(g->r, CTRACE_ECORRUPT, g->info.offset,
		    "corrupt generation (content offset %zu): %s in batch of tid %u",
		    b->start_off + (size_t)(b->p - b->start), what,
		    b->tid);
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
				return ctr_gen_batch_error(g, b, "bytes after the last event");
			continue;
		}
		int err = batch_decode(g, b, &b->ev);
		if (err)
			return err;
		g->heap[g->heap_len++] = (struct heap_item){ b->ticks, (uint32_t)i };
	}
	for (size_t i = g->heap_len / 2; i-- > 0;)
		heap_down(g, i);
	g->primed = 1;
	return 0;
}

CTRACE_API int64_t ctrace_gen_ticks_to_ns(const ctrace_gen *g, uint64_t ticks)
{
	return ticks_to_ns(g, ticks);
}

CTRACE_API int ctrace_gen_next_event_batched(ctrace_gen *g, const struct ctrace_event **out)
{
	int n = ctr_gen_next_batched(g, &g->out);
	if (n == 1)
		*out = &g->out;
	return n;
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
				uint64_t delta, stack;
				size_t n = ctr_event_skip(&g->schema, b->p, b->end, &delta, &stack);
				if (n == 0)
					return g->pending_err = ctr_gen_batch_error(g, b, "bad event");
				b->ticks += delta;
				b->p += n;
				b->left--;
				continue;
			}
			int err = batch_decode(g, b, &g->out);
			if (err)
				return g->pending_err = err;
			b->left--;
			*out = &g->out;
			return 1;
		}
		if (b->p != b->end)
			return g->pending_err = ctr_gen_batch_error(g, b, "bytes after the last event");
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

	*ev = b->ev;

	/* Damage after this event is reported on the next call: this one is good. */
	if (--b->left > 0) {
		g->pending_err = batch_decode(g, b, &b->ev);
		g->heap[0].ticks = b->ticks;
	} else if (b->p != b->end) {
		g->pending_err = ctr_gen_batch_error(g, b, "bytes after the last event");
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

