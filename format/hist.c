#include <stdlib.h>

#include "hist.h"

/* The middle of bucket @b's range. */
static uint64_t bucket_value(unsigned b)
{
	if (b < (1u << CTR_HIST_SUB_BITS))
		return b;
	unsigned e = (b >> CTR_HIST_SUB_BITS) + CTR_HIST_SUB_BITS - 1;
	uint64_t sub = b & ((1u << CTR_HIST_SUB_BITS) - 1);
	uint64_t lo = (1ull << e) + (sub << (e - CTR_HIST_SUB_BITS));
	uint64_t width = 1ull << (e - CTR_HIST_SUB_BITS);
	return lo + width / 2;
}

int ctr_hist_add_first(struct ctr_hist *h, uint64_t v)
{
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->total += v;
	h->buckets = calloc(CTR_HIST_BUCKETS, sizeof(*h->buckets));
	if (!h->buckets)
		return -1;
	h->buckets[ctr_hist_bucket_of(v)]++;
	return 0;
}

int ctr_hist_merge(struct ctr_hist *dst, const struct ctr_hist *src)
{
	if (!src->count)
		return 0;
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->total += src->total;
	if (!src->buckets)
		return 0;
	if (!dst->buckets) {
		dst->buckets = calloc(CTR_HIST_BUCKETS, sizeof(*dst->buckets));
		if (!dst->buckets)
			return -1;
	}
	for (unsigned i = 0; i < CTR_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	return 0;
}

uint64_t ctr_hist_quantile(const struct ctr_hist *h, double q)
{
	if (!h->count || !h->buckets)
		return h->count ? h->min : 0;
	uint64_t bucketed = 0;
	for (unsigned i = 0; i < CTR_HIST_BUCKETS; i++)
		bucketed += h->buckets[i];
	uint64_t rank = (uint64_t)(q * (double)bucketed);
	if (rank >= bucketed)
		rank = bucketed - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < CTR_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen > rank) {
			uint64_t v = bucket_value(i);
			return v < h->min ? h->min : v > h->max ? h->max : v;
		}
	}
	return h->max;
}

void ctr_hist_free(struct ctr_hist *h)
{
	free(h->buckets);
	h->buckets = NULL;
}

size_t ctr_hist_buckets(const struct ctr_hist *h, uint64_t (*out)[2], size_t max)
{
	size_t n = 0;
	if (!h->buckets)
		return 0;
	for (unsigned i = 0; i < CTR_HIST_BUCKETS && n < max; i++) {
		if (!h->buckets[i])
			continue;
		/* the exclusive upper bound of bucket i */
		uint64_t upper;
		if (i + 1 < (1u << CTR_HIST_SUB_BITS)) {
			upper = i + 1;
		} else {
			unsigned e = ((i + 1) >> CTR_HIST_SUB_BITS) + CTR_HIST_SUB_BITS - 1;
			uint64_t sub = (i + 1) & ((1u << CTR_HIST_SUB_BITS) - 1);
			upper = e >= 64 ? UINT64_MAX : (1ull << e) + (sub << (e - CTR_HIST_SUB_BITS));
		}
		out[n][0] = upper;
		out[n][1] = h->buckets[i];
		n++;
	}
	return n;
}
