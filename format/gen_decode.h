/*
 * Decoding a generation's events, inline: gen.c's iterators and the model's pass over a
 * generation (model.c) share it, so the model's per-event loop has no call in it.
 */
#ifndef CTR_GEN_DECODE_H
#define CTR_GEN_DECODE_H

#include <string.h>

#include "reader_impl.h"
#include "util.h"
#include "varint.h"

int64_t ctr_gen_ticks_to_ns_slow(const struct ctrace_gen *g, uint64_t ticks);
/* Record that batch @b is damaged (@what) and @return the error. */
int ctr_gen_batch_error(struct ctrace_gen *g, const struct batch *b, const char *what);

/*
 * The fast conversion holds for ticks at or after the sync point and within 2^40 ticks of
 * it, when the ratio's integer part is below 2^21 and the sync point below 2^61: then
 * d * ns_span / tick_span < 2^61 and m0 + it < 2^62, within CTR_NS_BOUND. g->fast_span
 * is 2^40 then, else 0, so one unsigned comparison of d = ticks - t0 (which wraps for
 * ticks before t0) says it all.
 */
static inline int fast_ticks(const struct ctrace_gen *g, uint64_t d)
{
	return likely(d < g->fast_span);
}

/* m0 + floor(d * ns_span / tick_span) for d = ticks - t0 where fast_ticks() holds. */
static inline int64_t fast_ticks_to_ns(const struct ctrace_gen *g, uint64_t d)
{
	/* Without a division: the 64.64 fixed-point ratio is below the exact one by less
	 * than 2^-64, so d times it is below the exact value by less than d / 2^64: the floor
	 * can only be one more when the estimate's fraction f is within d of 2^64, which one
	 * exact multiplication then settles (about one value in 2^24 for d < 2^40). An
	 * integer ratio is exact. */
	unsigned __int128 lo = (unsigned __int128)d * g->mult_lo;
	uint64_t q = d * g->mult_hi + (uint64_t)(lo >> 64);
	uint64_t f = (uint64_t)lo;
	if (unlikely(f > UINT64_MAX - d) &&
	    (unsigned __int128)(q + 1) * g->tick_span <= (unsigned __int128)d * g->ns_span)
		q++;
	return (int64_t)(g->m0 + q);
}

/* Ticks to CLOCK_MONOTONIC ns, exact, saturating at the ends of int64_t. */
static inline int64_t ticks_to_ns(const struct ctrace_gen *g, uint64_t ticks)
{
	const uint64_t d = ticks - g->t0;
	if (fast_ticks(g, d))
		return fast_ticks_to_ns(g, d);
	if (g->clock_identity && ticks <= INT64_MAX)
		return (int64_t)ticks; /* ticks are the monotonic clock itself */
	return ctr_gen_ticks_to_ns_slow(g, ticks);
}

/*
 * Times come from the file, and a hostile one may put them anywhere in int64_t. Within
 * +-CTR_NS_BOUND (2^62 - 1 ns, 146 years), any two are a representable difference apart,
 * which the model's arithmetic on intervals and durations relies on.
 */
#define CTR_NS_BOUND ((INT64_C(1) << 62) - 1)

static inline int64_t ctr_ns_bounded(int64_t t)
{
	return t > CTR_NS_BOUND ? CTR_NS_BOUND : t < -CTR_NS_BOUND ? -CTR_NS_BOUND : t;
}

/* ticks_to_ns() within +-CTR_NS_BOUND: only times off the fast path need the clamp. */
static inline int64_t ticks_to_bounded_ns(const struct ctrace_gen *g, uint64_t ticks)
{
	const uint64_t d = ticks - g->t0;
	if (fast_ticks(g, d))
		return fast_ticks_to_ns(g, d);
	return ctr_ns_bounded(ticks_to_ns(g, ticks));
}

/* One varint from bytes known to hold at least CTR_VARINT_MAX of them: no bounds checks.
 * One and two bytes (small arguments, time deltas) come first. */
static inline int varint_unbounded(const uint8_t **pp, uint64_t *out)
{
	const uint8_t *p = *pp;
	if (likely(p[0] < 0x80)) {
		*out = p[0];
		*pp = p + 1;
		return 0;
	}
	uint64_t v = (uint64_t)(p[0] & 0x7f) | (uint64_t)(p[1] & 0x7f) << 7;
	if (likely(p[1] < 0x80)) {
		*out = v;
		*pp = p + 2;
		return 0;
	}
	for (unsigned i = 2; i < CTR_VARINT_MAX; i++) {
		uint8_t c = p[i];
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (c < 0x80) {
			if (i == CTR_VARINT_MAX - 1 && c > 1)
				return -1;
			*out = v;
			*pp = p + i + 1;
			return 0;
		}
	}
	return -1;
}

/*
 * Decode the batch's next event straight into @ev, arguments past CTRACE_EVENT_MAX_ARGS
 * stepped over, signed ones unzigzagged, and advance the batch and its clock; @ev's pid,
 * tid, ticks and time are left to the caller (batch_decode() sets them). Away from the
 * batch's end the varints are read without bounds checks.
 * @return 0, or an error (recorded) when the bytes are not a well-formed event.
 */
static inline __attribute__((always_inline)) int batch_decode_args(struct ctrace_gen *g,
								   struct batch *b,
								   struct ctrace_event *ev)
{
	const uint8_t *p = b->p, *end = b->end;
	const int room = likely((size_t)(end - p) > (CTRACE_EVENT_MAX_ARGS + 2) * CTR_VARINT_MAX);
	if (!room && p >= end)
		return ctr_gen_batch_error(g, b, "bad event");
	uint8_t type = *p;
	uint32_t desc = g->schema.desc[type];
	if (!desc)
		return ctr_gen_batch_error(g, b, "bad event");
	unsigned n = desc & 0xff;
	uint64_t delta;
	memset(ev->args, 0, sizeof(ev->args));
	p++;
	if (likely(room && n <= CTRACE_EVENT_MAX_ARGS)) {
		if (varint_unbounded(&p, &delta) < 0)
			return ctr_gen_batch_error(g, b, "bad event");
		/* Entered at its argument count, each case decodes the next argument and falls
		 * through: no loop counter, and one jump to predict instead of n exits. */
		uint64_t *a = ev->args;
#define CTR_ARG_ /* the next argument */                                          \
		if (unlikely(varint_unbounded(&p, a++) < 0))                       \
			return ctr_gen_batch_error(g, b, "bad event");
		switch (n) {
		case 8: CTR_ARG_ __attribute__((fallthrough));
		case 7: CTR_ARG_ __attribute__((fallthrough));
		case 6: CTR_ARG_ __attribute__((fallthrough));
		case 5: CTR_ARG_ __attribute__((fallthrough));
		case 4: CTR_ARG_ __attribute__((fallthrough));
		case 3: CTR_ARG_ __attribute__((fallthrough));
		case 2: CTR_ARG_ __attribute__((fallthrough));
		case 1: CTR_ARG_ __attribute__((fallthrough));
		default: break;
		}
#undef CTR_ARG_
		ev->nargs = n;
	} else {
		if (ctr_get_varint(&p, end, &delta) < 0)
			return ctr_gen_batch_error(g, b, "bad event");
		for (unsigned i = 0; i < n; i++) {
			uint64_t v;
			if (ctr_get_varint(&p, end, &v) < 0)
				return ctr_gen_batch_error(g, b, "bad event");
			if (i < CTRACE_EVENT_MAX_ARGS)
				ev->args[i] = v;
		}
		ev->nargs = n < CTRACE_EVENT_MAX_ARGS ? n : CTRACE_EVENT_MAX_ARGS;
	}
	ev->blob = NULL;
	ev->blob_len = 0;
	if (desc & 0x100) {
		uint64_t len;
		if (ctr_get_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
			return ctr_gen_batch_error(g, b, "bad event");
		ev->blob = (const char *)p;
		ev->blob_len = (size_t)len;
		p += len;
	}
	uint8_t smask = (uint8_t)(desc >> 16);
	for (; smask; smask &= (uint8_t)(smask - 1)) {
		unsigned i = (unsigned)__builtin_ctz(smask);
		ev->args[i] = (uint64_t)ctr_unzigzag(ev->args[i]);
	}
	ev->type = type;
	b->p = p;
	b->ticks += delta; /* wraps on hostile input; never undefined */
	return 0;
}

/* batch_decode_args() and the event's pid, tid, ticks and time. */
static inline __attribute__((always_inline)) int batch_decode(struct ctrace_gen *g, struct batch *b,
							      struct ctrace_event *ev)
{
	int err = batch_decode_args(g, b, ev);
	if (err)
		return err;
	ev->pid = g->proc.pid;
	ev->tid = b->tid;
	ev->ticks = b->ticks;
	ev->time_ns = ticks_to_ns(g, b->ticks);
	return 0;
}

/*
 * The batch where the batched iteration stands, with events left: NULL at the end (*err
 * 0) or at damage (*err, kept). A caller decodes its events with batch_decode(), counting
 * b->left down, and asks again when none are left.
 */
static inline struct batch *ctr_gen_batch_at(struct ctrace_gen *g, int *err)
{
	*err = g->pending_err;
	if (*err)
		return NULL;
	for (; g->cur_batch < g->nbatches; g->cur_batch++) {
		struct batch *b = &g->batches[g->cur_batch];
		if (b->left)
			return b;
		if (b->p != b->end) {
			*err = g->pending_err = ctr_gen_batch_error(g, b, "bytes after the last event");
			return NULL;
		}
	}
	return NULL;
}

/* The next event in batch order into @ev: 1, 0 at the end, or an error (kept). */
static inline __attribute__((always_inline)) int ctr_gen_next_batched(struct ctrace_gen *g, struct ctrace_event *ev)
{
	int err;
	struct batch *b = ctr_gen_batch_at(g, &err);
	if (!b)
		return err;
	err = batch_decode(g, b, ev);
	if (err)
		return g->pending_err = err;
	b->left--;
	return 1;
}

#endif
