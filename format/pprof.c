/*
 * pprof profile builder. Field numbers are those of perftools.profiles in google/pprof's
 * proto/profile.proto; the protobuf encoding (varints, length-delimited fields, packed
 * repeated scalars) is written here because the profile needs so little of it.
 *
 * Everything that profile.proto refers to by id or index is interned in open-addressing hash
 * tables as samples arrive; ids are table position + 1 because profile.proto reserves 0 for
 * "none".
 */
#define ZLIB_CONST
#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <ctrace/error.h>

#include "pprof.h"
#include "varint.h"

/* ---- growable arrays and hash tables ---- */

/* Even for @need 0 the array is allocated, so that memcpy and memcmp never see NULL. */
static int grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
	void **arr = arrp;
	if (*cap && need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / elem)
		return CTRACE_ENOMEM;
	void *n = realloc(*arr, ncap * elem);
	if (!n)
		return CTRACE_ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

struct slot {
	uint32_t idx1; /* item index + 1; 0 marks an empty slot */
	uint32_t hash;
};

struct table {
	struct slot *s;
	size_t cap, n; /* cap is a power of two, at least twice n */
};

typedef bool (*eq_fn)(const struct ctr_pprof *p, uint32_t idx, const void *key);

/* Make room for one more item. Slots hold 32-bit indexes to stay 8 bytes, hence the limit. */
static int tab_reserve(struct table *t)
{
	if (t->n >= UINT32_MAX - 1)
		return CTRACE_ETOOBIG;
	if ((t->n + 1) * 2 <= t->cap)
		return 0;
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct slot *s = calloc(ncap, sizeof(*s));
	if (!s)
		return CTRACE_ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->s[i].idx1)
			continue;
		size_t j = t->s[i].hash & (ncap - 1);
		while (s[j].idx1)
			j = (j + 1) & (ncap - 1);
		s[j] = t->s[i];
	}
	free(t->s);
	t->s = s;
	t->cap = ncap;
	return 0;
}

/* @return the slot holding an item equal to @key, or the empty slot where it belongs. */
static struct slot *tab_find(const struct table *t, uint32_t h, eq_fn eq,
			     const struct ctr_pprof *p, const void *key)
{
	size_t mask = t->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct slot *s = &t->s[i];
		if (!s->idx1 || (s->hash == h && eq(p, s->idx1 - 1, key)))
			return s;
	}
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 31);
}

static uint32_t fold(uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32));
}

/* ---- the builder ---- */

struct mapping {
	uint64_t start, end, offset;
	uint32_t file, build_id;
	/* Cleared by the first location without the information, so the flags promise only what
	 * every location of the mapping has; pprof symbolizes mappings that lack functions. */
	bool has_functions, has_filenames, has_lines;
};

struct function {
	uint32_t name, file;
};

struct location {
	uint64_t address;
	uint32_t mapping, function, line; /* mapping and function are ids, mapping 0 for none */
};

struct sample {
	size_t locs;   /* index into loc_ids */
	size_t labels; /* index into label_ids, two per label */
	uint32_t depth, nlabels;
};

struct ctr_pprof {
	/* string i is chars[str_off[i]...], NUL-terminated; string 0 is "" */
	char *chars;
	size_t chars_len, chars_cap;
	size_t *str_off;
	size_t nstr, str_cap;
	struct table strs;

	struct mapping *maps;
	size_t map_cap;
	struct table map_tab;
	struct function *funcs;
	size_t func_cap;
	struct table func_tab;
	struct location *locs;
	size_t loc_cap;
	struct table loc_tab;

	struct sample *samples;
	size_t sample_cap;
	struct table sample_tab;
	uint32_t *loc_ids, *label_ids;
	size_t loc_ids_len, loc_ids_cap, label_ids_len, label_ids_cap;
	int64_t *values; /* ntypes per sample */
	size_t values_cap;

	size_t ntypes;
	uint32_t *types; /* (type, unit) string pairs */
	uint32_t period_type, period_unit;
	int64_t period, time_nanos, duration_nanos;
	uint32_t *comments;
	size_t ncomments, comments_cap;
	uint32_t default_type; /* string index; 0: none */
	int err; /* sticky error of the functions that return none */

	/* scratch for one ctr_pprof_add */
	uint32_t *key_locs, *key_labels;
	size_t key_locs_cap, key_labels_cap;
	char *hex;
	size_t hex_cap;
};

static size_t str_len(const struct ctr_pprof *p, uint32_t i)
{
	size_t end = i + 1 < p->nstr ? p->str_off[i + 1] : p->chars_len;
	return end - p->str_off[i] - 1;
}

struct str_key {
	const char *s;
	size_t len;
};

static bool str_eq(const struct ctr_pprof *p, uint32_t idx, const void *key)
{
	const struct str_key *k = key;
	return str_len(p, idx) == k->len && memcmp(p->chars + p->str_off[idx], k->s, k->len) == 0;
}

static int intern_len(struct ctr_pprof *p, const char *s, size_t len, uint32_t *out)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	const struct str_key key = { s, len };
	int rc = tab_reserve(&p->strs);
	if (rc < 0)
		return rc;
	struct slot *sl = tab_find(&p->strs, fold(h), str_eq, p, &key);
	if (sl->idx1) {
		*out = sl->idx1 - 1;
		return 0;
	}
	if (grow(&p->chars, &p->chars_cap, p->chars_len + len + 1, 1) < 0 ||
	    grow(&p->str_off, &p->str_cap, p->nstr + 1, sizeof(*p->str_off)) < 0)
		return CTRACE_ENOMEM;
	memcpy(p->chars + p->chars_len, s, len);
	p->chars[p->chars_len + len] = '\0';
	p->str_off[p->nstr] = p->chars_len;
	p->chars_len += len + 1;
	sl->hash = fold(h);
	sl->idx1 = (uint32_t)++p->nstr;
	p->strs.n++;
	*out = sl->idx1 - 1;
	return 0;
}

static int intern(struct ctr_pprof *p, const char *s, uint32_t *out)
{
	return intern_len(p, s ? s : "", s ? strlen(s) : 0, out);
}

struct ctr_pprof *ctr_pprof_new(const char *const *types, size_t ntypes, const char *period_type,
				const char *period_unit, int64_t period)
{
	uint32_t empty;

	if (!types && ntypes)
		return NULL;
	struct ctr_pprof *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ntypes = ntypes;
	p->period = period;
	p->types = calloc(2 * ntypes + 1, sizeof(*p->types));
	if (!p->types || intern(p, "", &empty) < 0)
		goto fail;
	assert(empty == 0);
	for (size_t i = 0; i < 2 * ntypes; i++)
		if (intern(p, types[i], &p->types[i]) < 0)
			goto fail;
	if (intern(p, period_type, &p->period_type) < 0 ||
	    intern(p, period_unit, &p->period_unit) < 0)
		goto fail;
	return p;
fail:
	ctr_pprof_free(p);
	return NULL;
}

void ctr_pprof_free(struct ctr_pprof *p)
{
	if (!p)
		return;
	free(p->chars);
	free(p->str_off);
	free(p->strs.s);
	free(p->maps);
	free(p->map_tab.s);
	free(p->funcs);
	free(p->func_tab.s);
	free(p->locs);
	free(p->loc_tab.s);
	free(p->samples);
	free(p->sample_tab.s);
	free(p->loc_ids);
	free(p->label_ids);
	free(p->values);
	free(p->types);
	free(p->comments);
	free(p->key_locs);
	free(p->key_labels);
	free(p->hex);
	free(p);
}

void ctr_pprof_set_time(struct ctr_pprof *p, int64_t time_nanos, int64_t duration_nanos)
{
	p->time_nanos = time_nanos;
	p->duration_nanos = duration_nanos;
}

int ctr_pprof_set_default_type(struct ctr_pprof *p, const char *type)
{
	return intern(p, type, &p->default_type);
}

void ctr_pprof_add_comment(struct ctr_pprof *p, const char *comment)
{
	uint32_t s;
	int rc = intern(p, comment, &s);
	if (rc == 0)
		rc = grow(&p->comments, &p->comments_cap, p->ncomments + 1, sizeof(*p->comments));
	if (rc < 0) {
		if (!p->err)
			p->err = rc;
		return;
	}
	p->comments[p->ncomments++] = s;
}

/* ---- interning frames ---- */

static bool map_eq(const struct ctr_pprof *p, uint32_t idx, const void *key)
{
	const struct mapping *a = &p->maps[idx], *b = key;
	return a->start == b->start && a->end == b->end && a->offset == b->offset &&
	       a->file == b->file && a->build_id == b->build_id;
}

static bool func_eq(const struct ctr_pprof *p, uint32_t idx, const void *key)
{
	const struct function *a = &p->funcs[idx], *b = key;
	return a->name == b->name && a->file == b->file;
}

static bool loc_eq(const struct ctr_pprof *p, uint32_t idx, const void *key)
{
	const struct location *a = &p->locs[idx], *b = key;
	return a->address == b->address && a->mapping == b->mapping &&
	       a->function == b->function && a->line == b->line;
}

/* pprof wants the build id as text; the GNU note's bytes in hex is what perf and Go use. */
static int intern_build_id(struct ctr_pprof *p, const uint8_t *id, size_t len, uint32_t *out)
{
	static const char digits[] = "0123456789abcdef";
	if (!id || !len)
		return intern(p, NULL, out);
	if (len > SIZE_MAX / 2 || grow(&p->hex, &p->hex_cap, 2 * len, 1) < 0)
		return CTRACE_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		p->hex[2 * i] = digits[id[i] >> 4];
		p->hex[2 * i + 1] = digits[id[i] & 15];
	}
	return intern_len(p, p->hex, 2 * len, out);
}

/*
 * Find @item (@size bytes, hashing to @h) in @t, whose items are the array *@arrp, and append
 * it when it is new. Puts its id (index + 1) in *@id.
 * @return 1 when appended, 0 when found, or a negative CTRACE_E* error.
 */
static int tab_intern(struct ctr_pprof *p, struct table *t, void *arrp, size_t *cap,
		      const void *item, size_t size, uint64_t h, eq_fn eq, uint32_t *id)
{
	int rc = tab_reserve(t);
	if (rc < 0)
		return rc;
	struct slot *sl = tab_find(t, fold(h), eq, p, item);
	if (!sl->idx1) {
		if (grow(arrp, cap, t->n + 1, size) < 0)
			return CTRACE_ENOMEM;
		memcpy(*(char **)arrp + t->n * size, item, size);
		sl->hash = fold(h);
		sl->idx1 = (uint32_t)++t->n;
		rc = 1;
	}
	*id = sl->idx1;
	return rc;
}

/* @return 0 and the mapping id in *@id, 0 when the frame names no mapping. */
static int intern_mapping(struct ctr_pprof *p, const struct ctr_pprof_frame *f, uint32_t *id)
{
	struct mapping m = { f->map_start, f->map_end, f->map_offset, 0, 0, true, true, true };
	int rc;

	*id = 0;
	if (!f->mapping && !(f->build_id && f->build_id_len) && !f->map_end)
		return 0;
	if ((rc = intern(p, f->mapping, &m.file)) < 0 ||
	    (rc = intern_build_id(p, f->build_id, f->build_id_len, &m.build_id)) < 0)
		return rc;
	uint64_t h = mix(mix(mix(mix(m.file, m.build_id), m.start), m.end), m.offset);
	rc = tab_intern(p, &p->map_tab, &p->maps, &p->map_cap, &m, sizeof(m), h, map_eq, id);
	return rc < 0 ? rc : 0;
}

static int intern_function(struct ctr_pprof *p, const struct ctr_pprof_frame *f, uint32_t *id)
{
	struct function fn;
	char name[2 + 16 + 1];
	int rc;

	if (f->function) {
		rc = intern(p, f->function, &fn.name);
	} else {
		snprintf(name, sizeof(name), "0x%" PRIx64, f->address);
		rc = intern(p, name, &fn.name);
	}
	if (rc < 0 || (rc = intern(p, f->file, &fn.file)) < 0)
		return rc;
	uint64_t h = mix(mix(0, fn.name), fn.file);
	rc = tab_intern(p, &p->func_tab, &p->funcs, &p->func_cap, &fn, sizeof(fn), h, func_eq, id);
	return rc < 0 ? rc : 0;
}

static int intern_location(struct ctr_pprof *p, const struct ctr_pprof_frame *f, uint32_t *id)
{
	struct location l = { .address = f->address, .line = f->line };
	int rc;

	if ((rc = intern_mapping(p, f, &l.mapping)) < 0 ||
	    (rc = intern_function(p, f, &l.function)) < 0)
		return rc;
	uint64_t h = mix(mix(mix(mix(0, l.address), l.mapping), l.function), l.line);
	rc = tab_intern(p, &p->loc_tab, &p->locs, &p->loc_cap, &l, sizeof(l), h, loc_eq, id);
	if (rc == 1 && l.mapping) {
		struct mapping *m = &p->maps[l.mapping - 1];
		m->has_functions &= f->function != NULL;
		m->has_filenames &= f->file != NULL;
		m->has_lines &= f->line != 0;
	}
	return rc < 0 ? rc : 0;
}

/* ---- samples ---- */

struct sample_key {
	const uint32_t *locs, *labels;
	size_t depth, nlabels;
};

static bool sample_eq(const struct ctr_pprof *p, uint32_t idx, const void *key)
{
	const struct sample *s = &p->samples[idx];
	const struct sample_key *k = key;
	return s->depth == k->depth && s->nlabels == k->nlabels &&
	       memcmp(p->loc_ids + s->locs, k->locs, k->depth * sizeof(*k->locs)) == 0 &&
	       memcmp(p->label_ids + s->labels, k->labels, 2 * k->nlabels * sizeof(*k->labels)) == 0;
}

/*
 * profile.proto allows a sample without locations, but `go tool pprof` (1.19) drops such samples
 * in FilterSamplesByName, which runs even without -focus, while its total still counts them:
 * the value would show in no node of -top, -raw or a flame graph. Go's runtime never writes
 * one either; it substitutes frames such as runtime._ExternalCode.
 */
static const struct ctr_pprof_frame no_stack = { .function = "[no stack]" };

int ctr_pprof_add(struct ctr_pprof *p, const struct ctr_pprof_frame *frames, size_t depth,
		  const int64_t *values, const char *const *labels, size_t nlabels)
{
	int rc;

	if ((!frames && depth) || (!values && p->ntypes) || (!labels && nlabels))
		return CTRACE_EINVAL;
	if (depth > UINT32_MAX || nlabels > UINT32_MAX / 2)
		return CTRACE_ETOOBIG;
	for (size_t i = 0; i < 2 * nlabels; i++)
		if (!labels[i])
			return CTRACE_EINVAL;
	if (!depth) {
		frames = &no_stack;
		depth = 1;
	}
	if (grow(&p->key_locs, &p->key_locs_cap, depth, sizeof(uint32_t)) < 0 ||
	    grow(&p->key_labels, &p->key_labels_cap, 2 * nlabels + 1, sizeof(uint32_t)) < 0)
		return CTRACE_ENOMEM;
	uint64_t h = mix(depth, nlabels);
	for (size_t i = 0; i < depth; i++) {
		if ((rc = intern_location(p, &frames[i], &p->key_locs[i])) < 0)
			return rc;
		h = mix(h, p->key_locs[i]);
	}
	for (size_t i = 0; i < 2 * nlabels; i++) {
		if ((rc = intern(p, labels[i], &p->key_labels[i])) < 0)
			return rc;
		h = mix(h, p->key_labels[i]);
	}

	const struct sample_key key = { p->key_locs, p->key_labels, depth, nlabels };
	if ((rc = tab_reserve(&p->sample_tab)) < 0)
		return rc;
	struct slot *sl = tab_find(&p->sample_tab, fold(h), sample_eq, p, &key);
	size_t n = p->sample_tab.n;
	if (!sl->idx1) {
		if (grow(&p->samples, &p->sample_cap, n + 1, sizeof(*p->samples)) < 0 ||
		    grow(&p->loc_ids, &p->loc_ids_cap, p->loc_ids_len + depth, sizeof(uint32_t)) < 0 ||
		    grow(&p->label_ids, &p->label_ids_cap, p->label_ids_len + 2 * nlabels,
			 sizeof(uint32_t)) < 0 ||
		    grow(&p->values, &p->values_cap, (n + 1) * p->ntypes, sizeof(int64_t)) < 0)
			return CTRACE_ENOMEM;
		p->samples[n] = (struct sample){ p->loc_ids_len, p->label_ids_len, (uint32_t)depth,
						 (uint32_t)nlabels };
		memcpy(p->loc_ids + p->loc_ids_len, p->key_locs, depth * sizeof(uint32_t));
		p->loc_ids_len += depth;
		memcpy(p->label_ids + p->label_ids_len, p->key_labels, 2 * nlabels * sizeof(uint32_t));
		p->label_ids_len += 2 * nlabels;
		memset(p->values + n * p->ntypes, 0, p->ntypes * sizeof(int64_t));
		sl->hash = fold(h);
		sl->idx1 = (uint32_t)++p->sample_tab.n;
	}
	int64_t *v = p->values + (size_t)(sl->idx1 - 1) * p->ntypes;
	for (size_t i = 0; i < p->ntypes; i++) /* wraps rather than overflowing into UB */
		v[i] = (int64_t)((uint64_t)v[i] + (uint64_t)values[i]);
	return 0;
}

/* ---- protobuf encoding ---- */

enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

struct buf {
	uint8_t *d;
	size_t len, cap;
	int err; /* sticky, so the encoders need not check each call */
};

static uint8_t *buf_room(struct buf *b, size_t n)
{
	if (b->err || grow(&b->d, &b->cap, b->len + n, 1) < 0) {
		b->err = CTRACE_ENOMEM;
		return NULL;
	}
	return b->d + b->len;
}

static void put_varint(struct buf *b, uint64_t v)
{
	uint8_t *d = buf_room(b, CTR_VARINT_MAX);
	if (d)
		b->len = (size_t)(ctr_put_varint(d, v) - b->d);
}

/* A varint field. Negative int64 values are sign-extended to ten bytes, as protobuf says. */
static void put_field(struct buf *b, unsigned field, uint64_t v)
{
	put_varint(b, (uint64_t)field << 3 | WIRE_VARINT);
	put_varint(b, v);
}

/* proto3 leaves out scalars equal to their default. */
static void put_opt(struct buf *b, unsigned field, uint64_t v)
{
	if (v)
		put_field(b, field, v);
}

static void put_bytes(struct buf *b, unsigned field, const void *data, size_t len)
{
	put_varint(b, (uint64_t)field << 3 | WIRE_BYTES);
	put_varint(b, len);
	uint8_t *d = buf_room(b, len);
	if (d && len) {
		memcpy(d, data, len);
		b->len += len;
	}
}

/* Append @msg as field @field of @b and empty it for the next message. */
static void put_msg(struct buf *b, unsigned field, struct buf *msg)
{
	if (msg->err)
		b->err = msg->err;
	put_bytes(b, field, msg->d, msg->len);
	msg->len = 0;
}

static void put_packed_u32(struct buf *b, unsigned field, const uint32_t *v, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += ctr_varint_len(v[i]);
	put_varint(b, (uint64_t)field << 3 | WIRE_BYTES);
	put_varint(b, len);
	for (size_t i = 0; i < n; i++)
		put_varint(b, v[i]);
}

static void put_packed_i64(struct buf *b, unsigned field, const int64_t *v, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += ctr_varint_len((uint64_t)v[i]);
	put_varint(b, (uint64_t)field << 3 | WIRE_BYTES);
	put_varint(b, len);
	for (size_t i = 0; i < n; i++)
		put_varint(b, (uint64_t)v[i]);
}

static void put_value_type(struct buf *b, unsigned field, struct buf *msg, uint32_t type,
			   uint32_t unit)
{
	put_opt(msg, 1, type);
	put_opt(msg, 2, unit);
	put_msg(b, field, msg);
}

static void encode_samples(const struct ctr_pprof *p, struct buf *b, struct buf *msg,
			   struct buf *sub)
{
	for (size_t i = 0; i < p->sample_tab.n; i++) {
		const struct sample *s = &p->samples[i];
		put_packed_u32(msg, 1, p->loc_ids + s->locs, s->depth);
		put_packed_i64(msg, 2, p->values + i * p->ntypes, p->ntypes);
		for (size_t j = 0; j < s->nlabels; j++) {
			put_opt(sub, 1, p->label_ids[s->labels + 2 * j]);
			put_opt(sub, 2, p->label_ids[s->labels + 2 * j + 1]);
			put_msg(msg, 3, sub);
		}
		put_msg(b, 2, msg);
	}
}

static void encode_tables(const struct ctr_pprof *p, struct buf *b, struct buf *msg,
			  struct buf *sub)
{
	for (size_t i = 0; i < p->map_tab.n; i++) {
		const struct mapping *m = &p->maps[i];
		put_field(msg, 1, i + 1);
		put_opt(msg, 2, m->start);
		put_opt(msg, 3, m->end);
		put_opt(msg, 4, m->offset);
		put_opt(msg, 5, m->file);
		put_opt(msg, 6, m->build_id);
		put_opt(msg, 7, m->has_functions);
		put_opt(msg, 8, m->has_filenames);
		put_opt(msg, 9, m->has_lines);
		put_msg(b, 3, msg);
	}
	for (size_t i = 0; i < p->loc_tab.n; i++) {
		const struct location *l = &p->locs[i];
		put_field(msg, 1, i + 1);
		put_opt(msg, 2, l->mapping);
		put_opt(msg, 3, l->address);
		put_field(sub, 1, l->function);
		put_opt(sub, 2, l->line);
		put_msg(msg, 4, sub);
		put_msg(b, 4, msg);
	}
	for (size_t i = 0; i < p->func_tab.n; i++) {
		const struct function *f = &p->funcs[i];
		put_field(msg, 1, i + 1);
		put_opt(msg, 2, f->name);
		put_opt(msg, 3, f->name); /* system_name: we have no separate mangled name */
		put_opt(msg, 4, f->file);
		put_msg(b, 5, msg);
	}
	for (uint32_t i = 0; i < p->nstr; i++)
		put_bytes(b, 6, p->chars + p->str_off[i], str_len(p, i));
}

static int encode(const struct ctr_pprof *p, struct buf *b)
{
	struct buf msg = { 0 }, sub = { 0 };

	for (size_t i = 0; i < p->ntypes; i++)
		put_value_type(b, 1, &msg, p->types[2 * i], p->types[2 * i + 1]);
	encode_samples(p, b, &msg, &sub);
	encode_tables(p, b, &msg, &sub);
	put_opt(b, 9, (uint64_t)p->time_nanos);
	put_opt(b, 10, (uint64_t)p->duration_nanos);
	if (p->period_type || p->period_unit)
		put_value_type(b, 11, &msg, p->period_type, p->period_unit);
	put_opt(b, 12, (uint64_t)p->period);
	/* Packed, as protoc has written proto3 repeated scalars since proto3 began. */
	if (p->ncomments)
		put_packed_u32(b, 13, p->comments, p->ncomments);
	put_opt(b, 14, p->default_type);
	free(msg.d);
	free(sub.d);
	return b->err;
}

/* ---- gzip ---- */

static int gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream zs = { 0 };
	/* windowBits 15 + 16 asks zlib for a gzip header and trailer instead of zlib's. */
	int zr = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zr != Z_OK)
		return zr == Z_MEM_ERROR ? CTRACE_ENOMEM : CTRACE_EZSTD;

	size_t cap = deflateBound(&zs, len), done = 0, left = len;
	uint8_t *d = malloc(cap);
	int rc = 0;
	if (!d) {
		rc = CTRACE_ENOMEM;
		goto out;
	}
	zs.next_in = in;
	for (;;) {
		/* zlib counts in uInt; feed a larger buffer in pieces. */
		if (!zs.avail_in && left) {
			zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
			left -= zs.avail_in;
		}
		if (done == cap && grow(&d, &cap, cap + 1, 1) < 0) {
			rc = CTRACE_ENOMEM;
			goto out;
		}
		uInt room = cap - done > UINT_MAX ? UINT_MAX : (uInt)(cap - done);
		zs.next_out = d + done;
		zs.avail_out = room;
		zr = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
		done += room - zs.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = CTRACE_EZSTD; /* the error table's one compression error */
			goto out;
		}
	}
	*out = d;
	*out_len = done;
	d = NULL;
out:
	deflateEnd(&zs);
	free(d);
	return rc;
}

int ctr_pprof_write(struct ctr_pprof *p, uint8_t **out, size_t *len)
{
	struct buf b = { 0 };

	if (p->err)
		return p->err;
	int rc = encode(p, &b);
	if (rc == 0)
		rc = gzip(b.d, b.len, out, len);
	free(b.d);
	return rc;
}
