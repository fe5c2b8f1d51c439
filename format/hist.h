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
	uint32_t *buckets; /* NULL until the first value */
};

/* @return 0 or -1 when out of memory (the value is then counted, not bucketed). */
int ctr_hist_add(struct ctr_hist *h, uint64_t v);
int ctr_hist_merge(struct ctr_hist *dst, const struct ctr_hist *src);
/* The value at quantile @q (0..1), clamped to [min, max]. */
uint64_t ctr_hist_quantile(const struct ctr_hist *h, double q);
void ctr_hist_free(struct ctr_hist *h);
/* The non-empty buckets, ascending, as (exclusive upper bound, count): @return how many. */
size_t ctr_hist_buckets(const struct ctr_hist *h, uint64_t (*out)[2], size_t max);

#endif
