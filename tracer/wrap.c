/*
 * The out-of-line halves of wrap.h: the parts of a wrapped call that may capture a stack.
 * They are never inlined, so a capture skips exactly two frames: this function and the
 * interposer that called it.
 */
#include "wrap.h"

__attribute__((noinline)) void ctr_call_end_slow(struct ctr_episode *c, int64_t result, int err)
{
	struct ctr_slot *s = ctr_enter();
	if (!s)
		return;
	uint8_t *p = ctr_reserve(s, CTR_EV_MAX);
	if (likely(p != NULL)) {
		uint64_t now = ctr_ticks();
		uint64_t stack = 0;
		/* (a call begun before the capture has no begin time in ticks: no stack) */
		if (unlikely(c->t0 && now - c->t0 >= atomic_load_explicit(&ctr_g.stack_min_ticks,
									     memory_order_relaxed)) &&
		    ctr_g.cfg.stack_depth)
			stack = ctr_stack_capture(2);
		uint8_t *q = p;
		uint64_t delta = now > s->last ? now - s->last : 0;
		if (delta)
			s->last = now;
		*q++ = CTRACE_EV_CALL_END;
		q = ctr_put_varint(q, delta);
		q = ctr_put_varint(q, ctr_zigzag(result));
		q = ctr_put_varint(q, (uint64_t)(result < 0 ? err : 0));
		q = ctr_put_varint(q, stack);
		ctr_commit(s, p, q);
	}
	ctr_leave();
}

/* Mutexes, rwlocks and spinlocks go to the mutex profile; other waits to the block profile. */
static int prof_kind(uint32_t call)
{
	switch (call) {
	case CTR_CALL_PTHREAD_MUTEX_LOCK:
	case CTR_CALL_PTHREAD_MUTEX_TIMEDLOCK:
	case CTR_CALL_PTHREAD_RWLOCK_RDLOCK:
	case CTR_CALL_PTHREAD_RWLOCK_WRLOCK:
	case CTR_CALL_PTHREAD_RWLOCK_TIMEDRDLOCK:
	case CTR_CALL_PTHREAD_RWLOCK_TIMEDWRLOCK:
	case CTR_CALL_PTHREAD_SPIN_LOCK:
		return CTR_PROF_MUTEX;
	default:
		return CTR_PROF_BLOCK;
	}
}

void ctr_prof_wait_end(struct ctr_episode *c)
{
	uint64_t now = ctr_mono_ns();
	ctr_prof_block(c->prof - 1, c->pstack, now > c->p0 ? now - c->p0 : 0, c->prate);
}

__attribute__((noinline)) void ctr_block_begin(struct ctr_episode *c, uint32_t call, uint64_t obj)
{
	c->traced = 0;
	c->prof = 0;
	c->s = ctr_tls.busy ? NULL : ctr_self();
	if (!c->s)
		return;
	int kind = prof_kind(call);
	int rate = atomic_load_explicit(kind == CTR_PROF_MUTEX ? &ctr_mutex_rate : &ctr_block_rate,
					memory_order_relaxed);
	if (unlikely(rate > 0) && ctr_prof_pick(rate)) {
		ctr_tls.busy++;
		c->pstack = ctr_stack_capture(2);
		ctr_tls.busy--;
		c->prof = kind + 1;
		c->prate = rate;
		c->p0 = ctr_mono_ns();
	}
	if (!ctr_class_on(CTR_CLASS_SYNC)) {
		c->t0 = 0;
		ctr_state_set(c->s, call, CTRACE_REASON_SYNC, obj, ctr_coarse_ns(), 1);
		return;
	}
	c->t0 = ctr_ticks();
	ctr_state_set(c->s, call, CTRACE_REASON_SYNC, obj, c->t0, 0);
	struct ctr_slot *s = ctr_enter();
	if (!s)
		return;
	uint64_t stack = c->prof ? c->pstack : ctr_stack_capture(2);
	uint64_t args[4] = { CTRACE_REASON_SYNC, call, obj, stack };
	uint8_t *p = ctr_reserve(s, CTR_EV_MAX);
	if (likely(p != NULL)) {
		uint8_t *q = ctr_put_head(s, p, CTRACE_EV_BLOCK_BEGIN);
		for (int i = 0; i < 4; i++)
			q = ctr_put_varint(q, args[i]);
		ctr_commit(s, p, q);
		c->traced = 1;
	}
	ctr_leave();
}

