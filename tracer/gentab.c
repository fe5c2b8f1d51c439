/*
 * The tables a generation carries for its stacks: which stacks its events named, their
 * frames (symbolized once per pc by symbolize.c), the functions' and files' strings, and
 * the mappings. Writer thread only; rebuilt for every generation, so each is
 * self-contained.
 */
#include <stdlib.h>
#include <string.h>

#include "../format/encode.h"
#include "../format/u64map.h"
#include "internal.h"

/* The value of @key, or 0 when absent (values stored here are never 0). */
static uint32_t map_get(const struct ctr_u64map *m, uint64_t key)
{
	uint64_t v;
	return ctr_u64map_get(m, key, &v) ? (uint32_t)v : 0;
}

static int map_put(struct ctr_u64map *m, uint64_t key, uint32_t val)
{
	return ctr_u64map_put(m, key, val);
}

static struct {
	struct ctr_u64map stacks;  /* stack id -> 1 */
	struct ctr_u64map frames;  /* pc -> frame id */
	struct ctr_u64map strings; /* string pointer -> string id */
	struct ctr_u64map maps;    /* ctr_map pointer -> mapping id */
	uint64_t *stack_list;
	size_t nstack_list, stack_cap;
	int failed;
} T;

void ctr_gentab_reset(void)
{
	ctr_u64map_clear(&T.stacks);
	ctr_u64map_clear(&T.frames);
	ctr_u64map_clear(&T.strings);
	ctr_u64map_clear(&T.maps);
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
	ctr_symwarm_add(id);
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
