/* An open-addressing hash map from nonzero uint64_t keys to uint64_t values. */
#ifndef CTR_U64MAP_H
#define CTR_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct ctr_u64map {
	uint64_t *keys; /* 0 = empty */
	uint64_t *vals;
	size_t cap, len;
};

/* @return 1 with *val set when @key is present, else 0. */
int ctr_u64map_get(const struct ctr_u64map *m, uint64_t key, uint64_t *val);
/* Insert or replace. @return 0, or -1 when out of memory. */
int ctr_u64map_put(struct ctr_u64map *m, uint64_t key, uint64_t val);
/* Forget every entry, keeping the memory. */
void ctr_u64map_clear(struct ctr_u64map *m);
void ctr_u64map_free(struct ctr_u64map *m);

/* A well-mixed hash of a key, for maps and for keys built from several fields. */
static inline uint64_t ctr_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

#endif
