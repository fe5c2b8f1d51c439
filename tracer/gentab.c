/*
 * The tables a generation carries for its stacks: which stacks its events named, their
 * frames (symbolized once per pc by symbolize.c), the functions' and files' strings, and
 * the mappings. Writer thread only; rebuilt for every generation, so each is
 * self-contained.
 */
#include <stdlib.h>
#include <string.h>

#include "../format/encode.h"
#include "internal.h"

/* An open-addressing map from nonzero u64 keys to u32 values. */
struct map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, len;
};

static void map_clear(struct map *m)
{
	if (m->len) {
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
		m->len = 0;
	}
}

static size_t slot_of(const struct map *m, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(h >> 20) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int map_grow(struct map *m)
{
	struct map n = { 0 };
	n.cap = m->cap ? m->cap * 2 : 1024;
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
		size_t j = slot_of(&n, m->keys[i]);
		n.keys[j] = m->keys[i];
		n.vals[j] = m->vals[i];
		n.len++;
	}
	free(m->keys);
	free(m->vals);
	*m = n;
	return 0;
}

/* The value of @key, or 0 when absent. */
static uint32_t map_get(const struct map *m, uint64_t key)
{
	if (!m->cap)
		return 0;
	size_t i = slot_of(m, key);
	return m->keys[i] ? m->vals[i] : 0;
}

static int map_put(struct map *m, uint64_t key, uint32_t val)
{
	if ((m->len + 1) * 2 > m->cap && map_grow(m) < 0)
		return -1;
	size_t i = slot_of(m, key);
	if (!m->keys[i])
		m->len++;
	m->keys[i] = key;
	m->vals[i] = val;
	return 0;
}

static struct {
	struct map stacks;  /* stack id -> 1 */
	struct map frames;  /* pc -> frame id */
	struct map strings; /* string pointer -> string id */
	struct map maps;    /* ctr_map pointer -> mapping id */
	uint64_t *stack_list;
	size_t nstack_list, stack_cap;
	int failed;
} T;

void ctr_gentab_reset(void)
{
	map_clear(&T.stacks);
	map_clear(&T.frames);
	map_clear(&T.strings);
	map_clear(&T.maps);
	T.nstack_list = 0;
	T.failed = 0;
}

void ctr_gentab_note_stack(uint64_t id)
{
	if (!id || map_get(&T.stacks, id))
		return;
	if (T.nstack_list == T.stack_cap) {
		size_t cap = T.stack_cap ? T.stack_cap * 2 : 256;
		uint64_t *n = realloc(T.stack_list, cap * sizeof(*n));
		if (!n) {
			T.failed = 1;
			return;
		}
		T.stack_list = n;
		T.stack_cap = cap;
	}
	if (map_put(&T.stacks, id, 1) < 0) {
		T.failed = 1;
		return;
	}
	T.stack_list[T.nstack_list++] = id;
}

static uint32_t string_id(struct ctr_bytes *strings, const char *s, uint32_t *next)
{
	if (!s)
		return 0;
	uint32_t id = map_get(&T.strings, (uintptr_t)s);
	if (id)
		return id;
	id = (*next)++;
	ctr_bytes_string(strings, s, strlen(s));
	if (map_put(&T.strings, (uintptr_t)s, id) < 0)
		T.failed = 1;
	return id;
}

/* Write STRINGS, MAPPINGS, FRAMES and STACKS for every stack noted in this generation. */
void ctr_gentab_emit(struct ctr_genenc *e)
{
	struct ctr_bytes strings = { 0 }, mappings = { 0 }, frames = { 0 }, stacks = { 0 };
	uint32_t nstrings = 1, nmaps = 1, nframes = 1;
	uint64_t nstacks = 0;

	if (!T.nstack_list)
		return;
	for (size_t k = 0; k < T.nstack_list; k++) {
		const uintptr_t *pcs;
		unsigned depth = ctr_stack_lookup(T.stack_list[k], &pcs);
		if (!depth)
			continue;
		ctr_bytes_varint(&stacks, T.stack_list[k]);
		ctr_bytes_varint(&stacks, depth);
		nstacks++;
		for (unsigned i = 0; i < depth; i++) {
			uint32_t fid = map_get(&T.frames, pcs[i]);
			if (!fid) {
				struct ctr_sym sym;
				ctr_symbolize(pcs[i], &sym);
				uint32_t mid = 0;
				if (sym.map) {
					mid = map_get(&T.maps, (uintptr_t)sym.map);
					if (!mid) {
						uint32_t path = string_id(&strings, sym.map->path,
									  &nstrings);
						mid = nmaps++;
						ctr_bytes_varint(&mappings, sym.map->start);
						ctr_bytes_varint(&mappings, sym.map->end);
						ctr_bytes_varint(&mappings, sym.map->offset);
						ctr_bytes_varint(&mappings, path);
						ctr_bytes_varint(&mappings, sym.map->build_id_len);
						ctr_bytes_put(&mappings, sym.map->build_id,
							      sym.map->build_id_len);
						if (map_put(&T.maps, (uintptr_t)sym.map, mid) < 0)
							T.failed = 1;
					}
				}
				uint32_t fn = string_id(&strings, sym.function, &nstrings);
				uint32_t file = string_id(&strings, sym.file, &nstrings);
				fid = nframes++;
				ctr_bytes_varint(&frames, pcs[i]);
				ctr_bytes_varint(&frames, mid);
				ctr_bytes_varint(&frames, fn);
				ctr_bytes_varint(&frames, file);
				ctr_bytes_varint(&frames, sym.line);
				if (map_put(&T.frames, pcs[i], fid) < 0)
					T.failed = 1;
			}
			ctr_bytes_varint(&stacks, fid);
		}
	}
	if (T.failed || strings.failed || mappings.failed || frames.failed || stacks.failed) {
		/* Out of memory: leave the tables out; events then read as having no stack. */
		goto out;
	}
	/* Each table is written as count + entries, the entries already encoded. */
	struct {
		uint8_t type;
		uint64_t count;
		struct ctr_bytes *b;
	} recs[] = { { CTR_REC_STRINGS, nstrings - 1u, &strings },
		     { CTR_REC_MAPPINGS, nmaps - 1u, &mappings },
		     { CTR_REC_FRAMES, nframes - 1u, &frames },
		     { CTR_REC_STACKS, nstacks, &stacks } };
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		uint8_t head[1 + 2 * CTR_VARINT_MAX], cnt[CTR_VARINT_MAX];
		size_t clen = (size_t)(ctr_put_varint(cnt, recs[i].count) - cnt);
		head[0] = recs[i].type;
		size_t hlen = (size_t)(ctr_put_varint(head + 1, clen + recs[i].b->len) - head);
		ctr_genenc_put(e, head, hlen);
		ctr_genenc_put(e, cnt, clen);
		ctr_genenc_put(e, recs[i].b->p, recs[i].b->len);
	}
out:
	ctr_bytes_free(&strings);
	ctr_bytes_free(&mappings);
	ctr_bytes_free(&frames);
	ctr_bytes_free(&stacks);
}
