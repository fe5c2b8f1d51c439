/*
 * What every interposer of a blocking call does: keep the thread's "in call since" state
 * (even with tracing off, so a capture can show threads that were already blocked), and,
 * with tracing on, write the begin and end events around the real call.
 */
#ifndef CTR_TRACER_WRAP_H
#define CTR_TRACER_WRAP_H

#include <errno.h>

#include "internal.h"

struct ctr_slot *ctr_self_slow(void);

/* The calling thread's slot, made on first use; NULL inside the tracer. */
static inline struct ctr_slot *ctr_self(void)
{
	struct ctr_slot *s = ctr_tls.slot;
	if (likely(s != NULL))
		return s;
	return ctr_self_slow();
}

static inline void ctr_state_set(struct ctr_slot *s, uint32_t call, uint32_t reason,
				 uint64_t obj, uint64_t since, uint32_t coarse)
{
	uint32_t q = atomic_load_explicit(&s->st_seq, memory_order_relaxed);
	atomic_store_explicit(&s->st_seq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	/* Relaxed atomic stores (plain moves on x86): a capture's snapshot reads them from
	 * the writer thread, bracketed by st_seq. */
	__atomic_store_n(&s->st_call, call, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st_reason, reason, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st_obj, obj, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st_since, since, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st_coarse, coarse, __ATOMIC_RELAXED);
	atomic_store_explicit(&s->st_seq, q + 2, memory_order_release);
}

static inline void ctr_state_clear(struct ctr_slot *s)
{
	uint32_t q = atomic_load_explicit(&s->st_seq, memory_order_relaxed);
	atomic_store_explicit(&s->st_seq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	__atomic_store_n(&s->st_call, 0, __ATOMIC_RELAXED);
	atomic_store_explicit(&s->st_seq, q + 2, memory_order_release);
}

/* One in-flight wrapped call. */
struct ctr_episode {
	struct ctr_slot *s; /* NULL: nothing to do after the call */
	int traced;         /* events were written for the begin */
	uint64_t t0;
	int prof;           /* picked for the block or mutex profile: CTR_PROF_* + 1 */
	int prate;          /* the profile's rate when picked */
	uint64_t pstack;    /* the waiter's stack for the profile */
	uint64_t p0;        /* CLOCK_MONOTONIC ns when the wait began, for the profile */
};

/* The end of a wait picked for the block or mutex profile (wrap.c). */
void ctr_prof_wait_end(struct ctr_episode *c);

static inline int ctr_class_on(unsigned cls)
{
	return atomic_load_explicit(&ctr_on, memory_order_relaxed) &&
	       (ctr_g.cfg.classes & cls);
}

/* A syscall or I/O call begins: state, and call_begin when @cls is traced. */
static inline void ctr_call_begin(struct ctr_episode *c, unsigned cls, uint32_t call,
				  uint32_t reason, int64_t fd, uint32_t fd_kind)
{
	c->traced = 0;
	c->s = ctr_tls.busy ? NULL : ctr_self();
	if (!c->s)
		return;
	if (!ctr_class_on(cls)) {
		c->t0 = 0;
		ctr_state_set(c->s, call, reason, (uint64_t)fd, ctr_coarse_ns(), 1);
		return;
	}
	c->t0 = ctr_ticks();
	ctr_state_set(c->s, call, reason, (uint64_t)fd, c->t0, 0);
	struct ctr_slot *s = ctr_enter();
	if (!s)
		return;
	uint8_t *p = ctr_reserve(s, CTR_EV_MAX);
	if (likely(p != NULL)) {
		uint8_t *q = p;
		uint64_t delta = c->t0 > s->last ? c->t0 - s->last : 0;
		if (delta)
			s->last = c->t0;
		*q++ = CTRACE_EV_CALL_BEGIN;
		q = ctr_put_varint(q, delta);
		q = ctr_put_varint(q, call);
		q = ctr_put_varint(q, ctr_zigzag(fd));
		q = ctr_put_varint(q, fd_kind);
		*q++ = 0; /* the stack comes with call_end, when the call was slow */
		ctr_commit(s, p, q);
		c->traced = 1;
	}
	ctr_leave();
}

/* The call returned @result (errno as set by it when result < 0). Out of line (wrap.c):
 * the stack it may capture drops exactly its own frame and the wrapper's. */
void ctr_call_end_slow(struct ctr_episode *c, int64_t result, int err);

static inline void ctr_call_end(struct ctr_episode *c, int64_t result, int err)
{
	if (!c->s)
		return;
	ctr_state_clear(c->s);
	/* A call begun before the capture ends inside it: its end closes the episode the
	 * capture's snapshot announced. */
	if (c->traced || unlikely(ctr_class_on(CTR_CLASS_IO)))
		ctr_call_end_slow(c, result, err);
}

/* A synchronization wait begins (already known to block, or always waits). Out of line
 * (wrap.c), as ctr_call_end_slow. */
void ctr_block_begin(struct ctr_episode *c, uint32_t call, uint64_t obj);

static inline void ctr_block_end(struct ctr_episode *c, int64_t result)
{
	if (!c->s)
		return;
	ctr_state_clear(c->s);
	if (unlikely(c->prof))
		ctr_prof_wait_end(c);
	if (!c->traced && likely(!ctr_class_on(CTR_CLASS_SYNC)))
		return;
	uint64_t arg = ctr_zigzag(result);
	ctr_event(CTRACE_EV_BLOCK_END, 1, &arg);
}

/* A wake-up (signal, broadcast, post): only with tracing on. */
static inline void ctr_wake(uint32_t call, uint64_t obj)
{
	if (!ctr_class_on(CTR_CLASS_SYNC))
		return;
	uint64_t args[2] = { call, obj };
	ctr_event(CTRACE_EV_WAKE, 2, args);
}

#endif
