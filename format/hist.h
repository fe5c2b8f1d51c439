/*
 * Latency histograms with bounded relative error: log-linear buckets, 32 per power of two,
 * so a quantile is within about 3% of the true value; count, total, min and max are exact.
 * Buckets are allocated on the first value, so an unused histogram costs 32 bytes.
 */
#ifndef CTR_HIST_H
#define CTR_HIST_H

#include <stdint.h>

#define CTR_HIST_SUB_BITS 5
#define CTR_HIST_BUCKETS ((64 - CTR_HIST_SUB_BITS + 1) << CTR_HIST_SUB_BITS)

struct ctr_hist {
	uint64_t count;
	uint64_t total;
	uint64_t min, max;
	uint32_t *buckets; /* NULL until the first value (so count > 0 when not NULL) */
};

static inline unsigned ctr_hist_bucket_of(uint64_t v)
{
	if (v < (1u << CTR_HIST_SUB_BITS))
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
	unsigned sub = (unsigned)(v >> (e - CTR_HIST_SUB_BITS)) & ((1u << CTR_HIST_SUB_BITS) - 1);
	return ((e - CTR_HIST_SUB_BITS + 1) << CTR_HIST_SUB_BITS) + sub;
}

/* ctr_hist_add() of a histogram without its buckets yet. */
int ctr_hist_add_first(struct ctr_hist *h, uint64_t v);

/* @return 0 or -1 when out of memory (the value is then counted, not bucketed). Inline:
 * the model adds a value or two for every call it sees. */
static inline int ctr_hist_add(struct ctr_hist *h, uint64_t v)
{
	if (__builtin_expect(!h->buckets, 0))
		return ctr_hist_add_first(h, v);
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->total += v;
	h->buckets[ctr_hist_bucket_of(v)]++;
	return 0;
}
int ctr_hist_merge(struct ctr_hist *dst, const struct ctr_hist *src);
/* The value at quantile @q (0..1), clamped to [min, max]. */
uint64_t ctr_hist_quantile(const struct ctr_hist *h, double q);
void ctr_hist_free(struct ctr_hist *h);
/* The non-empty buckets, ascending, as (exclusive upper bound, count): @return how many. */
size_t ctr_hist_buckets(const struct ctr_hist *h, uint64_t (*out)[2], size_t max);

#endif
