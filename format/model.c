/*
 * The model: every thread's state timeline, its statistics, latency distributions and
 * profile samples, built in one pass over the trace with memory proportional to threads,
 * stacks and distinct call kinds. This is the one definition of the numbers `ctrace stats`,
 * the pprof and Chrome exporters and the viewer show; README.md documents it.
 *
 * A thread is, at each moment:
 *   on CPU outside a traced call          User
 *   on CPU inside a traced call           Sys
 *   switched out while runnable           Idle   (a preempted switch record)
 *   switched out, not runnable, in call   Wait, with the call's reason
 *   switched out, not runnable, no call   Wait, reason other (faults, untraced calls)
 *   nothing says                          Unknown
 * (also between two switches out, or two in, of a thread: the kernel's record of the
 * switch between never came, and when it happened is not known)
 * With context-switch records, on/off CPU comes from them; the kernel's run-queue total
 * (schedstat) then moves the wake-up latency hidden inside voluntary switch-outs from
 * Wait to Idle. Without them, time in calls is Wait and time outside is User, and the
 * kernel's on-CPU and run-queue totals correct the split (the thread is marked estimated).
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "gen_decode.h"
#include "pipeline.h"
#include "util.h"
#include "model.h"

/* A call episode this short that never left the CPU is not a "block" without switch data. */
#include "model_impl.h"

static void warn(struct ctrace_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct ctrace_model *m, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < m->nwarnings; i++)
		if (strcmp(m->warnings[i], buf) == 0)
			return;
	char **w = realloc(m->warnings, (m->nwarnings + 1) * sizeof(*w));
	if (!w)
		return;
	m->warnings = w;
	if ((w[m->nwarnings] = strdup(buf)))
		m->nwarnings++;
}

static uint64_t hash_bytes(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull ^ len;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

const char *ctr_model_intern(struct ctrace_model *m, const char *s, size_t len)
{
	if (!s)
		return NULL;
	uint64_t h = hash_bytes(s, len), idx;
	/* Equal hashes of different strings probe on to the next key. */
	for (uint64_t k = h;; k = ctr_mix64(k) | 1) {
		if (!ctr_u64map_get(&m->strings, k, &idx)) {
			if (ctr_grow((void **)&m->pool, &m->pool_cap, m->npool + 1, sizeof(char *)) < 0)
				goto oom;
			char *c = malloc(len + 1);
			if (!c)
				goto oom;
			memcpy(c, s, len);
			c[len] = 0;
			m->pool[m->npool++] = c;
			if (ctr_u64map_put(&m->strings, k, m->npool) < 0)
				goto oom;
			return c;
		}
		const char *c = m->pool[idx - 1];
		if (strlen(c) == len && memcmp(c, s, len) == 0)
			return c;
	}
oom:
	m->failed = 1;
	return "";
}

static struct ctr_proc *proc_of(struct ctrace_model *m, uint32_t pid)
{
	for (size_t i = m->nprocs; i-- > 0;)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	if (ctr_grow((void **)&m->procs, &m->procs_cap, m->nprocs + 1, sizeof(*m->procs)) < 0) {
		m->failed = 1;
		return NULL;
	}
	struct ctr_proc *p = &m->procs[m->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->end_ns = INT64_MIN;
	return p;
}

static struct mthread *thread_new(struct ctrace_model *m, struct ctr_proc *p, uint32_t tid,
				  int64_t t)
{
	if (ctr_grow((void **)&m->threads, &m->threads_cap, m->nthreads + 1, sizeof(*m->threads)) < 0) {
		m->failed = 1;
		return NULL;
	}
	struct mthread *th = &m->threads[m->nthreads++];
	memset(th, 0, sizeof(*th));
	th->pid = p->pid;
	th->tid = tid;
	th->proc = (size_t)(p - m->procs);
	th->start_ns = th->cur_ns = t;
	th->on_cpu = 1;
	th->fd = -1;
	th->name = "";
	uint64_t key = (uint64_t)p->pid << 32 | tid;
	if (ctr_u64map_put(&m->by_id, key, m->nthreads) < 0)
		m->failed = 1;
	m->tcache[tid & (TCACHE - 1)][0] = key;
	m->tcache[tid & (TCACHE - 1)][1] = m->nthreads - 1;
	return th;
}

static struct mthread *thread_of(struct ctrace_model *m, struct ctr_proc *p, uint32_t tid,
				 int64_t t)
{
	uint64_t idx;
	if (ctr_u64map_get(&m->by_id, (uint64_t)p->pid << 32 | tid, &idx))
		return &m->threads[idx - 1];
	/* A thread named by another before any event of its own: provisional until its
	 * own events say more (its thread_start adopts this record). */
	struct mthread *th = thread_new(m, p, tid, t);
	if (th) {
		th->existing = 1;
		th->pending = 1;
	}
	return th;
}

/* The state of the open interval. */
static uint32_t state_now(const struct ctr_proc *p, const struct mthread *th, uint32_t *reason)
{
	*reason = 0;
	if (th->gap)
		return CTRACE_STATE_UNKNOWN;
	if (th->pending) {
		if (th->in_call) {
			*reason = th->reason;
			return CTRACE_STATE_WAIT;
		}
		return CTRACE_STATE_UNKNOWN;
	}
	if (p->switches) {
		if (th->on_cpu)
			return th->in_call ? CTRACE_STATE_SYS : CTRACE_STATE_USER;
		if (th->preempted)
			return CTRACE_STATE_IDLE;
		*reason = th->in_call ? th->reason : CTRACE_REASON_SYSCALL;
		return CTRACE_STATE_WAIT;
	}
	/* No switch records: in a call is waiting, outside is running (corrected later). */
	if (th->in_call) {
		*reason = th->reason;
		return CTRACE_STATE_WAIT;
	}
	return CTRACE_STATE_USER;
}


/* Hand the interval [th->cur_ns, @t) out to the interval callback. */
static __attribute__((noinline)) int emit_interval(struct ctrace_model *m,
						   const struct mthread *th, int64_t t,
						   uint32_t state, uint32_t reason, int episode_end)
{
	struct ctrace_interval iv = {
		.pid = th->pid,
		.tid = th->tid,
		.begin_ns = th->cur_ns,
		.end_ns = t,
		.state = state,
		.reason = reason,
		.call = th->in_call ? th->call : NULL,
		.object = th->in_call == 1 ? th->object : 0,
		.fd = th->in_call == 2 ? th->fd : -1,
		.fd_kind = th->in_call == 2 ? th->fd_kind : 0,
		.stack = th->in_call ? th->stack : 0,
		.waker_tid = episode_end ? th->waker_tid : 0,
		.wake_ns = episode_end ? th->wake_ns : 0,
	};
	return m->cb->interval(m->cb->userdata, &iv);
}

/* Close the open interval at @t: account it and hand it out. @p is @th's process, passed
 * because finding it (m->procs[th->proc]) on every event costs more than the rest of the
 * state's choice; there is no assert for the same reason. */
static inline int close_at(struct ctrace_model *m, const struct ctr_proc *p, struct mthread *th,
			   int64_t t, int episode_end)
{
	if (t <= th->cur_ns)
		return 0;
	uint32_t reason;
	uint32_t state = state_now(p, th, &reason);
	int64_t d = t - th->cur_ns;
	th->acc[state] += d;
	if (state == CTRACE_STATE_WAIT)
		th->wait_by[reason < 6 ? reason : CTRACE_REASON_SYSCALL] += d;
	int rc = 0;
	if (m->intervals)
		rc = emit_interval(m, th, t, state, reason, episode_end);
	th->cur_ns = t;
	return rc;
}

/* ---- profile samples ---- */

/* add_sample() when the thread's last sample of @kind is another. */
static __attribute__((noinline)) void add_sample_slow(struct ctrace_model *m, struct mthread *th,
						     uint32_t kind, uint64_t stack,
						     int64_t count, int64_t value)
{
	const char *thread = stack ? NULL : th->name;
	uint64_t key = ctr_mix64(((uint64_t)kind << 56) ^ ((uint64_t)th->pid << 24) ^ stack ^
				 (stack ? 0 : (uint64_t)(uintptr_t)thread));
	uint64_t idx;
	for (uint64_t k = key | 1;; k = ctr_mix64(k) | 1) {
		if (!ctr_u64map_get(&m->sample_index, k, &idx)) {
			if (ctr_grow((void **)&m->samples, &m->samples_cap, m->nsamples + 1,
				 sizeof(*m->samples)) < 0 ||
			    ctr_u64map_put(&m->sample_index, k, m->nsamples + 1) < 0) {
				m->failed = 1;
				return;
			}
			m->samples[m->nsamples++] = (struct ctr_sample){
				kind, th->pid, stack, thread, count, value
			};
			idx = m->nsamples;
			break;
		}
		struct ctr_sample *s = &m->samples[idx - 1];
		if (s->kind == kind && s->pid == th->pid && s->stack == stack &&
		    (stack || s->thread == thread)) {
			s->count += count;
			s->value += value;
			break;
		}
	}
	th->sc_stack[kind] = stack;
	th->sc_idx[kind] = idx;
}

/* Add to the sample of (@kind, @th's process, @stack, or @th's name without one). */
static inline void add_sample(struct ctrace_model *m, struct mthread *th, uint32_t kind,
			      uint64_t stack, int64_t count, int64_t value)
{
	const char *thread = stack ? NULL : th->name;
	size_t ci = th->sc_idx[kind];
	if (ci && th->sc_stack[kind] == stack && ci <= m->nsamples) {
		struct ctr_sample *s = &m->samples[ci - 1];
		if (s->kind == kind && s->pid == th->pid && s->stack == stack && s->thread == thread) {
			s->count += count;
			s->value += value;
			return;
		}
	}
	add_sample_slow(m, th, kind, stack, count, value);
}

static void note_stack(struct ctrace_model *m, struct ctr_proc *p, const ctrace_gen *g,
		       uint64_t id)
{
	uint64_t idx;
	if (!id || ctr_u64map_get(&p->stacks, id, &idx))
		return;
	const uint32_t *fids;
	int depth = ctrace_gen_stack(g, id, &fids);
	if (depth < 0)
		depth = 0;
	struct ctr_model_frames *f = &m->fr;
	if (ctr_grow((void **)&f->frames, &f->cap, f->nframes + (size_t)depth, sizeof(*f->frames)) < 0 ||
	    ctr_grow((void **)&f->stacks, &f->stacks_cap, f->nstacks + 1, sizeof(*f->stacks)) < 0) {
		m->failed = 1;
		return;
	}
	struct ctr_stack *s = &f->stacks[f->nstacks];
	s->first = f->nframes;
	s->depth = 0;
	for (int i = 0; i < depth; i++) {
		const struct ctrace_frame *src = ctrace_gen_frame(g, fids[i]);
		if (!src)
			continue;
		struct ctr_frame *dst = &f->frames[f->nframes++];
		dst->pc = src->pc;
		dst->line = src->line;
		dst->function = src->function ? ctr_model_intern(m, src->function, strlen(src->function)) : NULL;
		dst->file = src->file ? ctr_model_intern(m, src->file, strlen(src->file)) : NULL;
		dst->mapping = src->mapping ? ctr_model_intern(m, src->mapping, strlen(src->mapping)) : NULL;
		dst->build_id = src->build_id_len
			? (const uint8_t *)ctr_model_intern(m, (const char *)src->build_id, src->build_id_len)
			: NULL;
		dst->build_id_len = src->build_id_len;
		dst->map_start = src->map_start;
		dst->map_end = src->map_end;
		dst->map_offset = src->map_offset;
		s->depth++;
	}
	f->nstacks++;
	if (ctr_u64map_put(&p->stacks, id, f->nstacks) < 0)
		m->failed = 1;
}

uint32_t ctr_model_stack(const struct ctrace_model *m, uint32_t pid, uint64_t stack,
			 const struct ctr_frame **frames)
{
	for (size_t i = 0; i < m->nprocs; i++) {
		uint64_t idx;
		if (m->procs[i].pid != pid || !ctr_u64map_get(&m->procs[i].stacks, stack, &idx))
			continue;
		const struct ctr_stack *s = &m->fr.stacks[idx - 1];
		*frames = s->depth ? m->fr.frames + s->first : NULL;
		return s->depth;
	}
	*frames = NULL;
	return 0;
}

void ctr_model_samples(const struct ctrace_model *m, const struct ctr_sample **samples, size_t *n)
{
	*samples = m->samples;
	*n = m->nsamples;
}

static int cmp_gwake(const void *a, const void *b)
{
	const struct gwake *x = a, *y = b;
	if (x->object != y->object)
		return x->object < y->object ? -1 : 1;
	return x->ns < y->ns ? -1 : x->ns > y->ns;
}

/* The last wake of @object at or before @t in this generation: 1 with *out, or 0. */
static int gen_wake(const struct ctrace_model *m, uint64_t object, int64_t t,
		    struct wake *out)
{
	size_t lo = 0, hi = m->ngw;
	while (lo < hi) { /* the first entry after (object, t) */
		size_t mid = lo + (hi - lo) / 2;
		const struct gwake *w = &m->gw[mid];
		if (w->object < object || (w->object == object && w->ns <= t))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || m->gw[lo - 1].object != object)
		return 0;
	out->tid = m->gw[lo - 1].tid;
	out->ns = m->gw[lo - 1].ns;
	return 1;
}

/* ---- events ---- */

static const char *call_kind_name(struct ctrace_model *m, const char *call, uint64_t id,
				  uint32_t fd_kind, int io)
{
	char buf[96];
	if (!io || fd_kind == CTRACE_FD_UNKNOWN)
		return call;
	int cached = id < 256 && fd_kind < 8 && m->cache_gen;
	if (cached && m->kind_name[id][fd_kind] && m->call_name[id] == call)
		return m->kind_name[id][fd_kind];
	snprintf(buf, sizeof(buf), "%s on %s", call, ctrace_fd_kind_name(fd_kind));
	const char *n = ctr_model_intern(m, buf, strlen(buf));
	if (cached && m->call_name[id] == call)
		m->kind_name[id][fd_kind] = n;
	return n;
}

static void kind_add(struct ctrace_model *m, const char *name, uint32_t reason, int64_t d)
{
	size_t ci = ((uintptr_t)name >> 4) & (TCACHE - 1);
	uint64_t idx;
	if (m->kcache_name[ci] == name) {
		idx = m->kcache_idx[ci];
	} else if (!ctr_u64map_get(&m->kind_by_name, (uintptr_t)name, &idx)) {
		if (ctr_grow((void **)&m->kinds, &m->kinds_cap, m->nkinds + 1, sizeof(*m->kinds)) < 0 ||
		    ctr_u64map_put(&m->kind_by_name, (uintptr_t)name, m->nkinds + 1) < 0) {
			m->failed = 1;
			return;
		}
		memset(&m->kinds[m->nkinds], 0, sizeof(*m->kinds));
		m->kinds[m->nkinds].name = name;
		m->kinds[m->nkinds].reason = reason;
		idx = ++m->nkinds;
	}
	m->kcache_name[ci] = name;
	m->kcache_idx[ci] = idx;
	if (ctr_hist_add(&m->kinds[idx - 1].lat, (uint64_t)d) < 0)
		m->failed = 1;
}

/* call_name() when the generation's cache does not have it yet. */
static __attribute__((noinline)) const char *call_name_slow(struct ctrace_model *m,
							   const ctrace_gen *g, uint64_t id,
							   uint32_t *reason)
{
	const struct ctrace_call *c = ctrace_gen_call(g, id);
	*reason = c ? c->reason : CTRACE_REASON_SYSCALL;
	if (!c || !c->name)
		return "?";
	if (m->cache_gen != g) {
		memset(m->call_name, 0, sizeof(m->call_name));
		memset(m->kind_name, 0, sizeof(m->kind_name));
		m->cache_gen = g;
	}
	const char *n = ctr_model_intern(m, c->name, strlen(c->name));
	if (id < 256) {
		m->call_name[id] = n;
		m->call_reason[id] = *reason;
	}
	return n;
}

/* The interned name of call @id of @g and its reason (cached for the generation). */
static inline const char *call_name(struct ctrace_model *m, const ctrace_gen *g, uint64_t id,
				    uint32_t *reason)
{
	if (likely(id < 256 && m->cache_gen == g && m->call_name[id])) {
		*reason = m->call_reason[id];
		return m->call_name[id];
	}
	return call_name_slow(m, g, id, reason);
}

static void episode_begin(struct ctrace_model *m, struct ctr_proc *p, struct mthread *th,
			  const ctrace_gen *g, const struct ctrace_event *ev, int block)
{
	uint64_t id = block ? ev->args[1] : ev->args[0];
	uint32_t creason;
	close_at(m, p, th, ev->time_ns, 0);
	th->pending = 0;
	th->in_call = block ? 1 : 2;
	th->call = call_name(m, g, id, &creason);
	th->call_id = id;
	th->reason = block ? (uint32_t)ev->args[0] : creason;
	if (th->reason == CTRACE_REASON_NONE || th->reason > CTRACE_REASON_SYSCALL)
		th->reason = CTRACE_REASON_SYSCALL;
	th->object = block ? ev->args[2] : 0;
	th->fd = block ? -1 : (int64_t)ev->args[1];
	th->fd_kind = block ? 0 : (uint32_t)ev->args[2];
	th->stack = ev->args[3];
	th->ep_begin = ev->time_ns;
	th->ep_off = 0;
	th->waker_tid = 0;
	th->wake_ns = 0;
	note_stack(m, p, g, th->stack);
}

static void episode_end(struct ctrace_model *m, struct ctr_proc *p, struct mthread *th,
			const ctrace_gen *g, const struct ctrace_event *ev, int block)
{
	if (!th->in_call)
		return; /* its begin was before the trace, or lost */
	int64_t t = ev->time_ns;
	int64_t d = t - th->ep_begin;
	if (d < 0)
		d = 0;
	if (block && th->object && m->intervals) {
		struct wake found;
		const struct wake *w = gen_wake(m, th->object, t, &found) ? &found : NULL;
		uint64_t wi;
		if (!w && ctr_u64map_get(&p->wakes, th->object, &wi))
			w = &m->wakes[wi];
		if (w && w->tid != th->tid && w->ns >= th->ep_begin && w->ns <= t) {
			th->waker_tid = w->tid;
			th->wake_ns = w->ns;
		}
	}
	if (!block && ev->args[2]) { /* a slow call carries its stack at its end */
		th->stack = ev->args[2];
		note_stack(m, p, g, th->stack);
	}
	close_at(m, p, th, t, 1);

	int64_t result = (int64_t)ev->args[0];
	int failed = block ? result != 0 : result < 0;
	if (failed)
		th->st.err_ns += d;
	int blocked = th->in_call == 1 ||
		      (p->switches ? th->ep_off : d >= BLOCK_MIN_NS);
	if (blocked) {
		th->st.blocks++;
		switch (th->reason) {
		case CTRACE_REASON_SYNC: th->st.blocks_sync++; break;
		case CTRACE_REASON_IO: th->st.blocks_io++; break;
		case CTRACE_REASON_SLEEP: th->st.blocks_sleep++; break;
		default: th->st.blocks_other++; break;
		}
	}
	if (th->in_call == 2)
		th->st.syscalls++;
	int li = lat_index(th->reason);
	if (li >= 0 && ctr_hist_add(&th->lat[li], (uint64_t)d) < 0)
		m->failed = 1;
	kind_add(m, call_kind_name(m, th->call, th->call_id, th->fd_kind, th->reason == CTRACE_REASON_IO),
		 th->reason, d);
	uint32_t pk = th->reason == CTRACE_REASON_SYNC ? CTRACE_PROFILE_SYNC
		      : th->reason == CTRACE_REASON_IO ? CTRACE_PROFILE_IO
							: CTRACE_PROFILE_SYSCALL;
	add_sample(m, th, pk, th->stack, 1, d);
	th->in_call = 0;
	th->call = NULL;
	th->stack = 0;
}

static void on_switch(struct ctrace_model *m, const struct ctr_proc *p, struct mthread *th,
		      const struct ctrace_event *ev)
{
	int out = ev->type == CTRACE_EV_SWITCH_OUT;
	if (th->pending) {
		/* The first switch tells what the thread was doing since the capture began:
		 * switched in, so it was off CPU; switched out, so it was on. */
		th->pending = 0;
		th->on_cpu = out;
		th->preempted = 0;
	}
	/*
	 * Out twice, or in twice: the record of the switch between never came. The kernel's
	 * sched_switch tracepoint skips some switches on some kernels (seen on 6.18 under
	 * KVM, for perf and BPF alike), and a ring can lose records. Since the last switch
	 * the thread was on and off the CPU for parts unknown: Unknown, which correct()
	 * apportions by the kernel's own totals.
	 */
	if (th->saw_switch && out == !th->on_cpu) {
		int64_t from = th->cur_ns;
		th->gap = 1;
		close_at(m, p, th, ev->time_ns, 0);
		th->gap = 0;
		if (ev->time_ns > from)
			th->gap_ns[th->in_call != 0] += ev->time_ns - from;
	} else {
		close_at(m, p, th, ev->time_ns, 0);
	}
	th->saw_switch = 1;
	if (out) {
		th->on_cpu = 0;
		th->preempted = ev->args[1] & 1;
		th->switch_out_ns = ev->time_ns;
		if (th->preempted)
			th->st.sched++;
		else if (th->in_call)
			th->ep_off = 1;
		return;
	}
	if (!th->on_cpu && th->preempted) {
		int64_t d = ev->time_ns - th->switch_out_ns;
		if (d > 0) {
			th->idle_preempt += d;
			if (ctr_hist_add(&th->lat[0], (uint64_t)d) < 0)
				m->failed = 1;
			uint64_t stack = th->in_call ? th->stack : 0;
			add_sample(m, th, CTRACE_PROFILE_SCHED, stack, 1, d);
		}
	}
	th->on_cpu = 1;
	th->preempted = 0;
}

static void on_state(struct ctrace_model *m, struct mthread *th, const ctrace_gen *g,
		     const struct ctrace_event *ev)
{
	/* A snapshot: the thread was inside a call when the capture began. */
	if (ev->args[0] == 0 || th->in_call)
		return;
	th->in_call = ev->args[1] == CTRACE_REASON_SYNC ? 1 : 2;
	uint32_t creason; /* the snapshot says the reason itself */
	th->call = call_name(m, g, ev->args[2], &creason);
	th->call_id = ev->args[2];
	th->reason = (uint32_t)ev->args[1];
	if (th->reason == CTRACE_REASON_NONE || th->reason > CTRACE_REASON_SYSCALL)
		th->reason = CTRACE_REASON_SYSCALL;
	th->object = th->in_call == 1 ? ev->args[3] : 0;
	th->fd = th->in_call == 2 ? (int64_t)ev->args[3] : -1;
	th->fd_kind = 0;
	th->stack = 0;
	th->ep_begin = ctrace_gen_ticks_to_ns(g, ev->args[4]);
	if (th->ep_begin > ev->time_ns)
		th->ep_begin = ev->time_ns;
	th->ep_off = 1;
}

static void on_name(struct ctrace_model *m, struct ctr_proc *p, struct mthread *th,
		    const struct ctrace_event *ev)
{
	struct mthread *named = th;
	if (ev->args[0] && ev->args[0] != th->tid)
		named = thread_of(m, p, (uint32_t)ev->args[0], ev->time_ns);
	if (named && ev->blob)
		named->name = ctr_model_intern(m, ev->blob, ev->blob_len);
}

static void on_start(struct ctrace_model *m, struct ctr_proc *p, struct mthread **thp,
		     const struct ctrace_event *ev)
{
	struct mthread *th = *thp;
	int existing = (ev->args[2] & CTRACE_THREAD_EXISTING) != 0;
	if (th && th->started && !th->ended && existing)
		return; /* the same thread in the next image of the process (after exec) */
	if (!th || (th->started && !th->pending)) {
		/* A new thread, or a tid used again after the first one ended. */
		th = thread_new(m, p, ev->tid, ev->time_ns);
		if (!th)
			return;
		*thp = th;
	}
	th->started = 1;
	th->existing = existing;
	th->start_ns = th->cur_ns = ev->time_ns;
	/* A thread that existed before the capture: what it did until now is not known. */
	th->pending = existing;
	th->on_cpu = !existing;
}

/*
 * A generation's events are handled batch by batch (each thread in its own order, no
 * merge across threads): only the wake-ups need another thread's timeline, so they are
 * gathered first, and a wait's end looks its waker up among them.
 */
static int gather_wakes(struct ctrace_model *m, ctrace_gen *g)
{
	const struct ctrace_event *ev;
	int n;
	m->ngw = 0;
	while ((n = ctr_gen_next_of_type(g, CTRACE_EV_WAKE, &ev)) == 1) {
		if (ctr_grow((void **)&m->gw, &m->gw_cap, m->ngw + 1, sizeof(*m->gw)) < 0) {
			m->failed = 1;
			break;
		}
		m->gw[m->ngw++] = (struct gwake){ ev->args[1], ctr_ns_bounded(ev->time_ns), ev->tid };
	}
	if (m->ngw > 1)
		qsort(m->gw, m->ngw, sizeof(*m->gw), cmp_gwake);
	ctrace_gen_rewind(g);
	return n;
}

/* After a generation: the last wake of each object, for waits that end in a later one. */
static void carry_wakes(struct ctrace_model *m, struct ctr_proc *p)
{
	for (size_t i = 0; i < m->ngw; i++) {
		if (i + 1 < m->ngw && m->gw[i + 1].object == m->gw[i].object)
			continue; /* not the last of its object */
		uint64_t wi;
		struct wake w = { m->gw[i].tid, m->gw[i].ns };
		if (ctr_u64map_get(&p->wakes, m->gw[i].object, &wi)) {
			m->wakes[wi] = w;
			continue;
		}
		if (ctr_grow((void **)&m->wakes, &m->wakes_cap, m->nwakes + 1, sizeof(*m->wakes)) < 0 ||
		    ctr_u64map_put(&p->wakes, m->gw[i].object, m->nwakes) < 0) {
			m->failed = 1;
			return;
		}
		m->wakes[m->nwakes++] = w;
	}
	m->ngw = 0;
}

/*
 * The thread of @ev, found or made, for an event that changes a thread's timeline: NULL
 * when @ev was handled here already (process-wide records, thread starts, totals after a
 * thread's end). Out of line: handle() asks only when its thread changed.
 */
static __attribute__((noinline)) struct mthread *resolve_thread(struct ctrace_model *m,
							      struct ctr_proc *p,
							      const struct ctrace_event *ev)
{
	if (ev->tid == 0) { /* process-wide records */
		if (ev->type == CTRACE_EV_LOST)
			m->lost += ev->args[0];
		return NULL;
	}
	uint64_t idx, key = (uint64_t)p->pid << 32 | ev->tid;
	struct mthread *th = NULL;
	/* A small direct-mapped cache in front of the map: most events are of a few threads.
	 * thread_new() puts every new thread in it, so a key found is the current thread. */
	uint64_t *slot = m->tcache[ev->tid & (TCACHE - 1)];
	if (slot[0] == key && slot[1] < m->nthreads) {
		th = &m->threads[slot[1]];
	} else if (ctr_u64map_get(&m->by_id, key, &idx)) {
		th = &m->threads[idx - 1];
	}
	if (ev->type == CTRACE_EV_THREAD_START) {
		on_start(m, p, &th, ev);
		return NULL;
	}
	if (th && th->ended &&
	    (ev->type == CTRACE_EV_SCHEDSTAT || ev->type == CTRACE_EV_ALLOC_STATS ||
	     ev->type == CTRACE_EV_LOST || ev->type == CTRACE_EV_THREAD_END ||
	     ev->type == CTRACE_EV_SWITCH_OUT || ev->type == CTRACE_EV_SWITCH_IN)) {
		/* Totals written for a thread as it ended, or by the writer at the end, and
		 * the switches of its last moments in the kernel: still the ended thread. */
		if (ev->type == CTRACE_EV_SCHEDSTAT) {
			memcpy(th->ss_last, ev->args, sizeof(th->ss_last));
			th->have_ss_last = 1;
		} else if (ev->type == CTRACE_EV_ALLOC_STATS) {
			th->st.allocs = ev->args[0];
			th->st.alloc_bytes = ev->args[1];
		} else if (ev->type == CTRACE_EV_LOST) {
			m->lost += ev->args[0];
		}
		return NULL;
	}
	if (!th || th->ended) {
		if (ev->type == CTRACE_EV_THREAD_END)
			return NULL;
		th = thread_new(m, p, ev->tid, ev->time_ns);
		if (!th)
			return NULL;
		th->started = 1;
		th->existing = 1;
		th->pending = 1;
	}
	slot[0] = key;
	slot[1] = (uint64_t)(th - m->threads);
	return th;
}

/* One event of thread @th, in time order. */
static inline __attribute__((always_inline)) void dispatch(struct ctrace_model *m,
							   struct ctr_proc *p,
							   const ctrace_gen *g,
							   const struct ctrace_event *ev,
							   struct mthread *th)
{
	switch (ev->type) {
	case CTRACE_EV_THREAD_END:
		close_at(m, p, th, ev->time_ns, 0);
		th->ended = 1;
		th->end_ns = ev->time_ns;
		break;
	case CTRACE_EV_THREAD_NAME:
		on_name(m, p, th, ev);
		break;
	case CTRACE_EV_THREAD_CREATE:
		note_stack(m, p, g, ev->args[1]);
		break;
	case CTRACE_EV_BLOCK_BEGIN:
		episode_begin(m, p, th, g, ev, 1);
		break;
	case CTRACE_EV_CALL_BEGIN:
		episode_begin(m, p, th, g, ev, 0);
		break;
	case CTRACE_EV_BLOCK_END:
		episode_end(m, p, th, g, ev, 1);
		break;
	case CTRACE_EV_CALL_END:
		episode_end(m, p, th, g, ev, 0);
		break;
	case CTRACE_EV_WAKE:
		break; /* gathered per generation before its events are handled (gen_wakes) */
	case CTRACE_EV_SWITCH_OUT:
	case CTRACE_EV_SWITCH_IN:
		on_switch(m, p, th, ev);
		break;
	case CTRACE_EV_SCHEDSTAT:
		if (!th->have_ss_first) {
			memcpy(th->ss_first, ev->args, sizeof(th->ss_first));
			th->have_ss_first = 1;
		}
		memcpy(th->ss_last, ev->args, sizeof(th->ss_last));
		th->have_ss_last = 1;
		break;
	case CTRACE_EV_ALLOC_STATS:
		th->st.allocs = ev->args[0];
		th->st.alloc_bytes = ev->args[1];
		break;
	case CTRACE_EV_ALLOC:
		note_stack(m, p, g, ev->args[3]);
		/* A sample of weight w stands for about w / size objects of this size. */
		add_sample(m, th, CTRACE_PROFILE_ALLOC, ev->args[3],
			   ev->args[2] ? (int64_t)(ev->args[4] / ev->args[2]) : 1, (int64_t)ev->args[4]);
		break;
	case CTRACE_EV_CPU_SAMPLE:
		note_stack(m, p, g, ev->args[0]);
		add_sample(m, th, CTRACE_PROFILE_CPU, ev->args[0], 1, p->cpu_period_ns);
		break;
	case CTRACE_EV_STATE:
		on_state(m, th, g, ev);
		break;
	case CTRACE_EV_LOST:
		m->lost += ev->args[0];
		break;
	default:
		break;
	}
}

/*
 * An event earlier than what its thread's batches said before: one whose thread was
 * preempted between reading the time and publishing it, while the writer drained the
 * switches after it (or a damaged trace). Taken at the latest moment known: never back
 * in time, and never dropped (a call's end that was dropped lost its whole episode).
 */
static __attribute__((noinline)) void handle_late(struct ctrace_model *m, struct ctr_proc *p,
						  const ctrace_gen *g,
						  const struct ctrace_event *ev,
						  struct mthread *th)
{
	struct ctrace_event late = *ev;
	late.time_ns = th->cur_ns;
	dispatch(m, p, g, &late, th);
}

/* The events after which handle() resolves the thread again: only thread_new() changes
 * what a tid names (thread starts, a name of another thread, the first event after an
 * end), and it may move the threads too. */
static const uint8_t rethread[256] = {
	[CTRACE_EV_THREAD_START] = 1, [CTRACE_EV_THREAD_END] = 1, [CTRACE_EV_THREAD_NAME] = 1,
};

/*
 * Handle @ev of a batch. *@cur is the batch's thread as resolved for the event before, or
 * NULL when it must be resolved again (at the batch's start, after rethread[] events).
 */
static inline __attribute__((always_inline)) void handle(struct ctrace_model *m, struct ctr_proc *p,
							 const ctrace_gen *g,
							 const struct ctrace_event *ev,
							 struct mthread **cur)
{
	struct mthread *th = *cur;
	if (unlikely(!th || rethread[ev->type])) {
		th = resolve_thread(m, p, ev);
		*cur = rethread[ev->type] ? NULL : th;
		if (!th)
			return;
	}
	assert(!th->ended);
	if (unlikely(ev->time_ns < th->cur_ns)) {
		handle_late(m, p, g, ev, th);
		return;
	}
	dispatch(m, p, g, ev, th);
}

/* ---- finishing ---- */

/* Move @amount of wait time to @to, taken from the reasons in proportion. */
static void take_from_wait(struct mthread *th, int64_t amount, int to)
{
	int64_t wait = th->acc[CTRACE_STATE_WAIT];
	if (amount > wait)
		amount = wait;
	if (amount <= 0)
		return;
	int64_t moved = 0;
	int last = -1;
	for (int r = 0; r < 6; r++) {
		if (!th->wait_by[r])
			continue;
		int64_t part = (int64_t)((__int128)th->wait_by[r] * amount / wait);
		th->wait_by[r] -= part;
		moved += part;
		last = r;
	}
	if (last >= 0 && moved < amount) { /* rounding */
		int64_t rest = amount - moved;
		if (rest > th->wait_by[last])
			rest = th->wait_by[last];
		th->wait_by[last] -= rest;
		moved += rest;
	}
	th->acc[CTRACE_STATE_WAIT] -= moved;
	th->acc[to] += moved;
}

/* Move up to @amount of @th's switch-gap time (@in_call: the part inside calls) from
 * Unknown to @to. @return what moved. */
static int64_t take_from_gap(struct mthread *th, int in_call, int64_t amount, int to)
{
	int64_t *gap = &th->gap_ns[in_call];
	if (amount > *gap)
		amount = *gap;
	if (amount > th->acc[CTRACE_STATE_UNKNOWN])
		amount = th->acc[CTRACE_STATE_UNKNOWN];
	if (amount <= 0)
		return 0;
	*gap -= amount;
	th->acc[CTRACE_STATE_UNKNOWN] -= amount;
	th->acc[to] += amount;
	return amount;
}

/*
 * Time in switch gaps, by the kernel's totals: the on-CPU time the switches do not
 * account for was spent in them (User outside calls, Sys inside), then the run-queue
 * time they do not account for (Idle). What is left stays Unknown.
 */
static void fill_gaps(struct mthread *th, int64_t oncpu, int64_t runq)
{
	if (!th->gap_ns[0] && !th->gap_ns[1])
		return;
	int64_t on = oncpu - th->acc[CTRACE_STATE_USER] - th->acc[CTRACE_STATE_SYS];
	on -= take_from_gap(th, 0, on, CTRACE_STATE_USER);
	take_from_gap(th, 1, on, CTRACE_STATE_SYS);
	int64_t queued = runq - th->idle_preempt;
	for (int in_call = 0; in_call < 2 && queued > 0; in_call++) {
		int64_t moved = take_from_gap(th, in_call, queued, CTRACE_STATE_IDLE);
		queued -= moved;
		th->idle_preempt += moved;
	}
}

/* Bring the split in line with the kernel's totals (see the comment at the top). */
static void correct(struct ctrace_model *m, struct mthread *th)
{
	int have_ss = th->have_ss_last;
	uint64_t first[3] = { 0, 0, 0 };
	if (th->existing) {
		if (!th->have_ss_first || th->ss_last[0] < th->ss_first[0])
			have_ss = 0;
		else
			memcpy(first, th->ss_first, sizeof(first));
	}
	int64_t oncpu = have_ss ? (int64_t)(th->ss_last[0] - first[0]) : 0;
	int64_t runq = have_ss ? (int64_t)(th->ss_last[1] - first[1]) : 0;
	if (runq < 0)
		runq = 0;

	if (m->procs[th->proc].switches) {
		if (have_ss)
			fill_gaps(th, oncpu, runq);
		/* Wake-up latency inside voluntary switch-outs is run-queue time too. */
		if (have_ss && runq > th->idle_preempt)
			take_from_wait(th, runq - th->idle_preempt, CTRACE_STATE_IDLE);
		return;
	}
	th->st.estimated = 1;
	if (!have_ss)
		return;
	int64_t *a = th->acc;
	int64_t user0 = a[CTRACE_STATE_USER], wait0 = a[CTRACE_STATE_WAIT];
	int64_t both = user0 + wait0;
	if (both <= 0)
		return;
	/* Idle: the kernel's run-queue total, taken from both sides in proportion. */
	int64_t idle = runq < both ? runq : both;
	int64_t idle_user = (int64_t)((__int128)idle * user0 / both);
	a[CTRACE_STATE_USER] -= idle_user;
	a[CTRACE_STATE_IDLE] += idle_user;
	take_from_wait(th, idle - idle_user, CTRACE_STATE_IDLE);
	/* User is at most the on-CPU total; the rest outside calls is unexplained. */
	if (a[CTRACE_STATE_USER] > oncpu) {
		a[CTRACE_STATE_UNKNOWN] += a[CTRACE_STATE_USER] - oncpu;
		a[CTRACE_STATE_USER] = oncpu;
	}
	/* On-CPU time left over was spent inside calls: Sys. */
	take_from_wait(th, oncpu - a[CTRACE_STATE_USER], CTRACE_STATE_SYS);
}

static int cmp_thread(const void *a, const void *b)
{
	const struct mthread *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static void finish(struct ctrace_model *m)
{
	int no_switches = 0;
	for (size_t i = 0; i < m->nthreads; i++) {
		struct mthread *th = &m->threads[i];
		struct ctr_proc *p = &m->procs[th->proc];
		int64_t end = th->ended ? th->end_ns : p->end_ns;
		if (end < th->cur_ns)
			end = th->cur_ns;
		close_at(m, p, th, end, 0);
		th->end_ns = end;
		correct(m, th);
		no_switches |= !p->switches;

		struct ctrace_thread_stats *st = &th->st;
		st->pid = th->pid;
		st->tid = th->tid;
		st->name = th->name;
		st->start_ns = th->start_ns - m->start_ns;
		st->duration_ns = th->end_ns - th->start_ns;
		st->user_ns = th->acc[CTRACE_STATE_USER];
		st->sys_ns = th->acc[CTRACE_STATE_SYS];
		st->idle_ns = th->acc[CTRACE_STATE_IDLE];
		st->wait_ns = th->acc[CTRACE_STATE_WAIT];
		st->unknown_ns = th->acc[CTRACE_STATE_UNKNOWN];
		st->sync_ns = th->wait_by[CTRACE_REASON_SYNC];
		st->io_ns = th->wait_by[CTRACE_REASON_IO];
		st->sleep_ns = th->wait_by[CTRACE_REASON_SLEEP];
		st->other_ns = th->wait_by[CTRACE_REASON_SYSCALL] + th->wait_by[CTRACE_REASON_NONE] +
			       th->wait_by[CTRACE_REASON_MEMORY];
		st->ended = th->ended;
	}
	if (m->nthreads > 1)
		qsort(m->threads, m->nthreads, sizeof(*m->threads), cmp_thread);
	if (no_switches)
		warn(m, "no context-switch records: the User/Sys/Idle/Wait split is estimated from "
			"the kernel's per-thread totals (see the 'estimated' threads)");
	if (m->lost)
		warn(m, "%llu events were lost: the recorder's buffers were full",
		     (unsigned long long)m->lost);
	if (m->failed)
		warn(m, "out of memory while analysing: some numbers are incomplete");
}

struct ctrace_model *ctr_model_new(const struct ctrace_model_callbacks *cb, int64_t start_ns)
{
	struct ctrace_model *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cb = cb;
	m->intervals = cb && cb->interval;
	m->start_ns = m->end_ns = ctr_ns_bounded(start_ns);
	return m;
}

/* Handle one generation. @return 0, 1 when a callback asked to stop, or a reader error. */
int ctr_model_feed(struct ctrace_model *m, ctrace_gen *g)
{
	const struct ctrace_gen_info *gi = ctrace_gen_header(g);
	struct ctr_proc *p = proc_of(m, gi->pid);
	if (!p)
		return CTRACE_ENOMEM;
	const int64_t last_ns = ctr_ns_bounded(gi->last_ns);
	if (last_ns > p->end_ns)
		p->end_ns = last_ns;
	if (last_ns > m->end_ns)
		m->end_ns = last_ns;
	if (!m->realtime_offset)
		m->realtime_offset = ctrace_gen_realtime_offset(g);
	/* What a CPU sample stands for (traces before this key: unknown, counted only). */
	const char *period = ctrace_gen_info_value(g, "cpu_sample_period_ns");
	p->cpu_period_ns = period ? strtoll(period, NULL, 10) : 0;
	if (p->cpu_period_ns < 0 || p->cpu_period_ns > 60000000000ll)
		p->cpu_period_ns = 0;
	const char *sw = ctrace_gen_info_value(g, "context_switches");
	p->switches = sw && strcmp(sw, "perf") == 0;
	if (sw && strcmp(sw, "perf") != 0 && strcmp(sw, "off") != 0)
		warn(m, "pid %u: context switches %s", gi->pid, sw);
	/* Who woke a wait is told only in intervals: without their callback (the statistics
	 * alone) the pass over the wake-ups is saved. */
	int wakes = m->cb && m->cb->interval;
	m->cache_gen = NULL; /* call ids are the generation's own: forget the last one's */
	int n = wakes ? gather_wakes(m, g) : 0;
	if (n < 0)
		return n;
	int (*const on_event)(void *, const ctrace_gen *, const struct ctrace_event *) =
		m->cb ? m->cb->event : NULL;
	struct ctrace_event one;
	struct batch *b;
	one.pid = g->proc.pid;
	while ((b = ctr_gen_batch_at(g, &n))) {
		/* A batch is one thread's events, in order. */
		struct mthread *cur = NULL;
		one.tid = b->tid;
		do {
			n = batch_decode_args(g, b, &one);
			if (n)
				return g->pending_err = n;
			b->left--;
			one.ticks = b->ticks;
			one.time_ns = ticks_to_bounded_ns(g, b->ticks);
			m->events++;
			if (on_event && on_event(m->cb->userdata, g, &one))
				return 1;
			handle(m, p, g, &one, &cur);
		} while (b->left);
	}
	if (wakes)
		carry_wakes(m, p);
	return n;
}

/* Close every thread's open interval at @t (a timeline window's end), without ending it. */
void ctr_model_flush(struct ctrace_model *m, int64_t t)
{
	t = ctr_ns_bounded(t);
	for (size_t i = 0; i < m->nthreads; i++) {
		struct mthread *th = &m->threads[i];
		int64_t end = th->ended ? th->end_ns : t;
		if (end > t)
			end = t;
		close_at(m, &m->procs[th->proc], th, end, 0);
	}
}

void ctr_model_finish(struct ctrace_model *m)
{
	finish(m);
}

void ctr_model_warn(struct ctrace_model *m, const char *msg)
{
	warn(m, "%s", msg);
}

CTRACE_API int ctrace_model_build(ctrace_reader *r, const struct ctrace_model_callbacks *cb,
				  ctrace_model **out)
{
	ctrace_gen *g;
	struct ctr_pipeline *pl = NULL;
	int n, gens = 0;

	*out = NULL;
	struct ctrace_model *m = ctr_model_new(cb, ctrace_reader_start_ns(r));
	if (!m)
		return CTRACE_ENOMEM;
	/* With jobs, other threads decompress and parse the next generations meanwhile. */
	if (r->jobs > 0 && ctr_pipeline_start(r, r->jobs, &pl) < 0)
		pl = NULL; /* then on this thread alone */
	uint64_t total = ctrace_reader_size(r);
	while ((n = pl ? ctr_pipeline_next(pl, &g) : ctrace_reader_next(r, &g)) == 1) {
		gens++;
		n = ctr_model_feed(m, g);
		if (n)
			break;
		if (cb && cb->progress) {
			const struct ctrace_gen_info *gi = ctrace_gen_header(g);
			cb->progress(cb->userdata, gi->offset + gi->compressed_size, total);
		}
	}
	ctr_pipeline_free(pl);
	if (n < 0) {
		if (!gens) {
			ctrace_model_free(m);
			return n;
		}
		warn(m, "%s; the analysis covers what came before", ctrace_reader_errmsg(r));
	}
	finish(m);
	*out = m;
	return 0;
}

