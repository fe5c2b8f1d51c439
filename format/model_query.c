/* Reading a built model (the public accessors), and checkpoints of its timeline state. */
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"
#include "util.h"

/* ---- checkpoints: a model's timeline state, to continue from in a later model ---- */

struct ctr_checkpoint {
	int64_t start_ns;
	size_t nthreads, nprocs;
	struct mthread *threads;
	struct ctr_proc *procs;
};

struct ctr_checkpoint *ctr_model_checkpoint(const struct ctrace_model *m)
{
	struct ctr_checkpoint *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->start_ns = m->start_ns;
	c->nthreads = m->nthreads;
	c->nprocs = m->nprocs;
	c->threads = malloc((m->nthreads ? m->nthreads : 1) * sizeof(*c->threads));
	c->procs = malloc((m->nprocs ? m->nprocs : 1) * sizeof(*c->procs));
	if (!c->threads || !c->procs) {
		ctr_checkpoint_free(c);
		return NULL;
	}
	if (m->nthreads)
		memcpy(c->threads, m->threads, m->nthreads * sizeof(*c->threads));
	for (size_t i = 0; i < m->nthreads; i++) {
		/* Only where each thread is: no totals, no histograms. */
		struct mthread *t = &c->threads[i];
		memset(t->lat, 0, sizeof(t->lat));
		memset(t->acc, 0, sizeof(t->acc));
		memset(t->wait_by, 0, sizeof(t->wait_by));
		memset(&t->st, 0, sizeof(t->st));
		t->idle_preempt = 0;
	}
	for (size_t i = 0; i < m->nprocs; i++) {
		c->procs[i] = m->procs[i];
		memset(&c->procs[i].stacks, 0, sizeof(c->procs[i].stacks));
		memset(&c->procs[i].wakes, 0, sizeof(c->procs[i].wakes));
	}
	return c;
}

size_t ctr_checkpoint_size(const struct ctr_checkpoint *c)
{
	return sizeof(*c) + c->nthreads * sizeof(*c->threads) + c->nprocs * sizeof(*c->procs);
}

void ctr_checkpoint_free(struct ctr_checkpoint *c)
{
	if (!c)
		return;
	free(c->threads);
	free(c->procs);
	free(c);
}

/*
 * A model that continues from @c: its threads are where the checkpoint saw them (their
 * names and calls point into the model the checkpoint came from, which must outlive
 * this one); its statistics count from here.
 */
struct ctrace_model *ctr_model_resume(const struct ctr_checkpoint *c,
				      const struct ctrace_model_callbacks *cb)
{
	struct ctrace_model *m = ctr_model_new(cb, c->start_ns);
	if (!m)
		return NULL;
	if (ctr_grow((void **)&m->threads, &m->threads_cap, c->nthreads + 1, sizeof(*m->threads)) < 0 ||
	    ctr_grow((void **)&m->procs, &m->procs_cap, c->nprocs + 1, sizeof(*m->procs)) < 0) {
		ctrace_model_free(m);
		return NULL;
	}
	if (c->nthreads)
		memcpy(m->threads, c->threads, c->nthreads * sizeof(*m->threads));
	if (c->nprocs)
		memcpy(m->procs, c->procs, c->nprocs * sizeof(*m->procs));
	m->nthreads = c->nthreads;
	m->nprocs = c->nprocs;
	for (size_t i = 0; i < m->nthreads; i++) {
		struct mthread *t = &m->threads[i];
		if (!t->ended &&
		    ctr_u64map_put(&m->by_id, (uint64_t)t->pid << 32 | t->tid, i + 1) < 0) {
			ctrace_model_free(m);
			return NULL;
		}
	}
	return m;
}

CTRACE_API void ctrace_model_free(ctrace_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nthreads; i++)
		for (int k = 0; k < CTR_LAT_KINDS; k++)
			ctr_hist_free(&m->threads[i].lat[k]);
	for (size_t i = 0; i < m->nprocs; i++) {
		ctr_u64map_free(&m->procs[i].stacks);
		ctr_u64map_free(&m->procs[i].wakes);
	}
	for (size_t i = 0; i < m->nkinds; i++)
		ctr_hist_free(&m->kinds[i].lat);
	for (size_t i = 0; i < m->npool; i++)
		free(m->pool[i]);
	for (size_t i = 0; i < m->nwarnings; i++)
		free(m->warnings[i]);
	free(m->threads);
	free(m->procs);
	free(m->wakes);
	free(m->gw);
	free(m->kinds);
	free(m->pool);
	free(m->fr.frames);
	free(m->fr.stacks);
	free(m->samples);
	free(m->warnings);
	ctr_u64map_free(&m->by_id);
	ctr_u64map_free(&m->kind_by_name);
	ctr_u64map_free(&m->strings);
	ctr_u64map_free(&m->sample_index);
	free(m);
}

CTRACE_API size_t ctrace_model_thread_count(const ctrace_model *m)
{
	return m->nthreads;
}

CTRACE_API const struct ctrace_thread_stats *ctrace_model_thread(const ctrace_model *m, size_t i)
{
	return i < m->nthreads ? &m->threads[i].st : NULL;
}

static void fill_latency(const struct ctr_hist *h, struct ctrace_latency *out)
{
	out->count = h->count;
	out->total_ns = (int64_t)h->total;
	out->min_ns = h->count ? (int64_t)h->min : 0;
	out->max_ns = (int64_t)h->max;
	out->p50_ns = (int64_t)ctr_hist_quantile(h, 0.50);
	out->p90_ns = (int64_t)ctr_hist_quantile(h, 0.90);
	out->p99_ns = (int64_t)ctr_hist_quantile(h, 0.99);
}

CTRACE_API int ctrace_model_latency(const ctrace_model *m, size_t i, uint32_t reason,
				    struct ctrace_latency *out)
{
	int k = reason == CTRACE_REASON_NONE ? 0 : lat_index(reason);
	if (k < 0 || (i != SIZE_MAX && i >= m->nthreads))
		return CTRACE_EINVAL;
	if (i != SIZE_MAX) {
		fill_latency(&m->threads[i].lat[k], out);
		return 0;
	}
	struct ctr_hist all = { 0 };
	for (size_t t = 0; t < m->nthreads; t++)
		if (ctr_hist_merge(&all, &m->threads[t].lat[k]) < 0) {
			ctr_hist_free(&all);
			return CTRACE_ENOMEM;
		}
	fill_latency(&all, out);
	ctr_hist_free(&all);
	return 0;
}

CTRACE_API size_t ctrace_model_call_kind_count(const ctrace_model *m)
{
	return m->nkinds;
}

CTRACE_API const char *ctrace_model_call_kind(const ctrace_model *m, size_t i, uint32_t *reason,
					      struct ctrace_latency *out)
{
	if (i >= m->nkinds)
		return NULL;
	if (reason)
		*reason = m->kinds[i].reason;
	if (out)
		fill_latency(&m->kinds[i].lat, out);
	return m->kinds[i].name;
}

CTRACE_API size_t ctrace_model_warning_count(const ctrace_model *m)
{
	return m->nwarnings;
}

CTRACE_API const char *ctrace_model_warning(const ctrace_model *m, size_t i)
{
	return i < m->nwarnings ? m->warnings[i] : NULL;
}

CTRACE_API void ctrace_model_window(const ctrace_model *m, int64_t *start_ns, int64_t *end_ns)
{
	*start_ns = m->start_ns;
	*end_ns = m->end_ns;
}

CTRACE_API void ctrace_model_counts(const ctrace_model *m, uint64_t *events, uint64_t *lost)
{
	*events = m->events;
	*lost = m->lost;
}

CTRACE_API const char *ctrace_state_name(uint32_t state)
{
	static const char *const names[] = { "user", "sys", "idle", "wait", "unknown" };
	return state < 5 ? names[state] : "?";
}

CTRACE_API int64_t ctrace_model_start_realtime(const ctrace_model *m)
{
	int64_t t;
	/* Both come from the file: a hostile one may make the sum overflow. */
	if (!m->realtime_offset || __builtin_add_overflow(m->start_ns, m->realtime_offset, &t))
		return 0;
	return t;
}

CTRACE_API size_t ctrace_model_latency_buckets(const ctrace_model *m, size_t i, uint32_t reason,
					       uint64_t (*out)[2], size_t max)
{
	int k = reason == CTRACE_REASON_NONE ? 0 : lat_index(reason);
	if (k < 0)
		return 0;
	if (i != SIZE_MAX)
		return i < m->nthreads ? ctr_hist_buckets(&m->threads[i].lat[k], out, max) : 0;
	struct ctr_hist all = { 0 };
	for (size_t t = 0; t < m->nthreads; t++)
		ctr_hist_merge(&all, &m->threads[t].lat[k]);
	size_t n = ctr_hist_buckets(&all, out, max);
	ctr_hist_free(&all);
	return n;
}

CTRACE_API size_t ctrace_model_call_kind_buckets(const ctrace_model *m, size_t k,
						 uint64_t (*out)[2], size_t max)
{
	return k < m->nkinds ? ctr_hist_buckets(&m->kinds[k].lat, out, max) : 0;
}

CTRACE_API int ctrace_model_samples(const ctrace_model *m, enum ctrace_profile_kind kind,
				    ctrace_sample_fn fn, void *ud)
{
	struct ctrace_frame *frames = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < m->nsamples; i++) {
		const struct ctr_sample *s = &m->samples[i];
		if (s->kind != (uint32_t)kind)
			continue;
		const struct ctr_frame *f;
		uint32_t depth = s->stack ? ctr_model_stack(m, s->pid, s->stack, &f) : 0;
		if (depth > cap) {
			struct ctrace_frame *nf = realloc(frames, depth * sizeof(*nf));
			if (!nf) {
				free(frames);
				return CTRACE_ENOMEM;
			}
			frames = nf;
			cap = depth;
		}
		for (uint32_t d = 0; d < depth; d++) {
			memset(&frames[d], 0, sizeof(frames[d]));
			frames[d].pc = f[d].pc;
			frames[d].function = f[d].function;
			frames[d].file = f[d].file;
			frames[d].line = f[d].line;
			frames[d].mapping = f[d].mapping;
		}
		int rc = fn(ud, frames, depth, s->thread ? s->thread : "", s->count, s->value);
		if (rc) {
			free(frames);
			return rc;
		}
	}
	free(frames);
	return 0;
}
