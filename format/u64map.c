#include <stdlib.h>
#include <string.h>

#include "u64map.h"

static size_t find(const struct ctr_u64map *m, uint64_t key)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)ctr_mix64(key) & mask;
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

int ctr_u64map_get(const struct ctr_u64map *m, uint64_t key, uint64_t *val)
{
	if (!m->len)
		return 0;
	size_t i = find(m, key);
	if (!m->keys[i])
		return 0;
	*val = m->vals[i];
	return 1;
}

static int grow(struct ctr_u64map *m)
{
	struct ctr_u64map n = { 0 };
	n.cap = m->cap ? m->cap * 2 : 64;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = malloc(n.cap * sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = find(&n, m->keys[i]);
		n.keys[j] = m->keys[i];
		n.vals[j] = m->vals[i];
		n.len++;
	}
	free(m->keys);
	free(m->vals);
	*m = n;
	return 0;
}

int ctr_u64map_put(struct ctr_u64map *m, uint64_t key, uint64_t val)
{
	if ((m->len + 1) * 2 > m->cap && grow(m) < 0)
		return -1;
	size_t i = find(m, key);
	if (!m->keys[i]) {
		m->keys[i] = key;
		m->len++;
	}
	m->vals[i] = val;
	return 0;
}

void ctr_u64map_clear(struct ctr_u64map *m)
{
	if (m->len)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->len = 0;
}

void ctr_u64map_free(struct ctr_u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
