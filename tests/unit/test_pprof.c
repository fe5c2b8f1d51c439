/*
 * The pprof builder: profiles are gunzipped and decoded here by a decoder that shares no code
 * with the builder's encoder, so an encoding bug cannot be mirrored on the way back. A
 * misreading of profile.proto itself is what check_pprof.sh and `go tool pprof` are for.
 *
 * `test_pprof --write FILE` writes the sample profile for check_pprof.sh, which has
 * `go tool pprof` read it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <ctrace/error.h>

#include "ctest.h"
#include "pprof.h"

/* ---- gunzip and a minimal protobuf reader ---- */

static uint8_t *gunzip(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream zs = { 0 };
	size_t cap = 4096, done = 0;
	uint8_t *d = malloc(cap);

	ASSERT_TRUE(d);
	ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK); /* gzip only, not zlib or raw */
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		if (done == cap) {
			cap *= 2;
			d = realloc(d, cap);
			ASSERT_TRUE(d);
		}
		zs.next_out = d + done;
		zs.avail_out = (uInt)(cap - done);
		int zr = inflate(&zs, Z_NO_FLUSH);
		done = cap - zs.avail_out;
		if (zr == Z_STREAM_END)
			break;
		ASSERT_EQ(zr, Z_OK);
	}
	ASSERT_EQ(zs.avail_in, 0); /* one gzip member, nothing after it */
	inflateEnd(&zs);
	*out_len = done;
	return d;
}

struct rd {
	const uint8_t *p, *end;
};

static uint64_t rd_varint(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		ASSERT_TRUE(r->p < r->end);
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	CT_FAIL("varint longer than ten bytes");
}

struct field {
	unsigned num, wire;
	uint64_t v;    /* wire type 0 */
	struct rd sub; /* wire type 2 */
};

static bool next_field(struct rd *r, struct field *f)
{
	if (r->p == r->end)
		return false;
	uint64_t key = rd_varint(r);
	f->num = (unsigned)(key >> 3);
	f->wire = key & 7;
	ASSERT_GT(f->num, 0);
	if (f->wire == 0) {
		f->v = rd_varint(r);
	} else if (f->wire == 2) {
		uint64_t n = rd_varint(r);
		ASSERT_LE(n, (uint64_t)(r->end - r->p));
		f->sub = (struct rd){ r->p, r->p + n };
		r->p += n;
	} else {
		CT_FAIL("field %u: unexpected wire type %u", f->num, f->wire);
	}
	return true;
}

/* Append to a growing array; the capacity is the next power of two of the count. */
static void *push(void *arr, size_t *n, size_t elem)
{
	if ((*n & (*n - 1)) == 0) {
		arr = realloc(arr, (*n ? *n * 2 : 1) * elem);
		ASSERT_TRUE(arr);
	}
	memset((char *)arr + *n * elem, 0, elem);
	(*n)++;
	return arr;
}

/* A repeated scalar, packed or not. */
static void rd_repeated(const struct field *f, uint64_t **arr, size_t *n)
{
	if (f->wire == 0) {
		*arr = push(*arr, n, sizeof(**arr));
		(*arr)[*n - 1] = f->v;
		return;
	}
	struct rd r = f->sub;
	while (r.p < r.end) {
		*arr = push(*arr, n, sizeof(**arr));
		(*arr)[*n - 1] = rd_varint(&r);
	}
}

/* ---- the decoded profile ---- */

struct dsample {
	uint64_t *locs, *values, *labels; /* labels: key, str pairs */
	size_t nlocs, nvalues, nlabels;
};

struct dloc {
	uint64_t id, mapping, address, function, line;
	size_t nlines;
};

struct dfunc {
	uint64_t id, name, system_name, file;
};

struct dmap {
	uint64_t id, start, limit, offset, file, build_id, has_fn, has_file, has_line;
};

struct dprof {
	char **str;
	uint64_t *types, *comments;
	struct dsample *samples;
	struct dloc *locs;
	struct dfunc *funcs;
	struct dmap *maps;
	size_t nstr, ntypes, ncomments, nsamples, nlocs, nfuncs, nmaps;
	uint64_t time, duration, period_type, period_unit, period, default_type;
};

static void rd_value_type(struct rd r, uint64_t *type, uint64_t *unit)
{
	struct field f;
	while (next_field(&r, &f)) {
		if (f.num == 1)
			*type = f.v;
		else if (f.num == 2)
			*unit = f.v;
	}
}

static void rd_sample(struct rd r, struct dsample *s)
{
	struct field f, g;
	while (next_field(&r, &f)) {
		if (f.num == 1) {
			rd_repeated(&f, &s->locs, &s->nlocs);
		} else if (f.num == 2) {
			rd_repeated(&f, &s->values, &s->nvalues);
		} else if (f.num == 3) {
			uint64_t key = 0, str = 0;
			while (next_field(&f.sub, &g)) {
				if (g.num == 1)
					key = g.v;
				else if (g.num == 2)
					str = g.v;
			}
			s->labels = push(s->labels, &s->nlabels, sizeof(*s->labels));
			s->labels[s->nlabels - 1] = key;
			s->labels = push(s->labels, &s->nlabels, sizeof(*s->labels));
			s->labels[s->nlabels - 1] = str;
		}
	}
	s->nlabels /= 2;
}

static void rd_location(struct rd r, struct dloc *l)
{
	struct field f, g;
	while (next_field(&r, &f)) {
		if (f.num == 1) {
			l->id = f.v;
		} else if (f.num == 2) {
			l->mapping = f.v;
		} else if (f.num == 3) {
			l->address = f.v;
		} else if (f.num == 4) {
			l->nlines++;
			while (next_field(&f.sub, &g)) {
				if (g.num == 1)
					l->function = g.v;
				else if (g.num == 2)
					l->line = g.v;
			}
		}
	}
}

static void rd_function(struct rd r, struct dfunc *fn)
{
	struct field f;
	while (next_field(&r, &f)) {
		if (f.num == 1)
			fn->id = f.v;
		else if (f.num == 2)
			fn->name = f.v;
		else if (f.num == 3)
			fn->system_name = f.v;
		else if (f.num == 4)
			fn->file = f.v;
	}
}

static void rd_mapping(struct rd r, struct dmap *m)
{
	struct field f;
	uint64_t *const dst[] = { NULL,	      &m->id,	    &m->start,	  &m->limit,
				  &m->offset, &m->file,	    &m->build_id, &m->has_fn,
				  &m->has_file, &m->has_line };
	while (next_field(&r, &f))
		if (f.num < sizeof(dst) / sizeof(dst[0]) && dst[f.num])
			*dst[f.num] = f.v;
}

static void decode(const uint8_t *gz, size_t gz_len, struct dprof *d)
{
	size_t len;
	uint8_t *raw = gunzip(gz, gz_len, &len);
	struct rd r = { raw, raw + len };
	struct field f;

	memset(d, 0, sizeof(*d));
	while (next_field(&r, &f)) {
		switch (f.num) {
		case 1:
			d->types = push(d->types, &d->ntypes, sizeof(*d->types));
			d->types = push(d->types, &d->ntypes, sizeof(*d->types));
			rd_value_type(f.sub, &d->types[d->ntypes - 2], &d->types[d->ntypes - 1]);
			break;
		case 2:
			d->samples = push(d->samples, &d->nsamples, sizeof(*d->samples));
			rd_sample(f.sub, &d->samples[d->nsamples - 1]);
			break;
		case 3:
			d->maps = push(d->maps, &d->nmaps, sizeof(*d->maps));
			rd_mapping(f.sub, &d->maps[d->nmaps - 1]);
			break;
		case 4:
			d->locs = push(d->locs, &d->nlocs, sizeof(*d->locs));
			rd_location(f.sub, &d->locs[d->nlocs - 1]);
			break;
		case 5:
			d->funcs = push(d->funcs, &d->nfuncs, sizeof(*d->funcs));
			rd_function(f.sub, &d->funcs[d->nfuncs - 1]);
			break;
		case 6:
			ASSERT_EQ(f.wire, 2);
			d->str = push(d->str, &d->nstr, sizeof(*d->str));
			d->str[d->nstr - 1] = strndup((const char *)f.sub.p, (size_t)(f.sub.end - f.sub.p));
			break;
		case 9:
			d->time = f.v;
			break;
		case 10:
			d->duration = f.v;
			break;
		case 11:
			rd_value_type(f.sub, &d->period_type, &d->period_unit);
			break;
		case 12:
			d->period = f.v;
			break;
		case 13:
			rd_repeated(&f, &d->comments, &d->ncomments);
			break;
		case 14:
			d->default_type = f.v;
			break;
		default:
			CT_FAIL("unexpected Profile field %u", f.num);
		}
	}
	ASSERT_EQ(d->ntypes % 2, 0);
	d->ntypes /= 2;
	free(raw);
}

static void dprof_free(struct dprof *d)
{
	for (size_t i = 0; i < d->nstr; i++)
		free(d->str[i]);
	for (size_t i = 0; i < d->nsamples; i++) {
		free(d->samples[i].locs);
		free(d->samples[i].values);
		free(d->samples[i].labels);
	}
	free(d->str);
	free(d->types);
	free(d->comments);
	free(d->samples);
	free(d->locs);
	free(d->funcs);
	free(d->maps);
}

static const char *str(const struct dprof *d, uint64_t i)
{
	ASSERT_LT(i, d->nstr);
	return d->str[i];
}

/* Check the links every consumer relies on: ids are positions + 1, references resolve. */
static void check_links(const struct dprof *d)
{
	ASSERT_GE(d->nstr, 1);
	ASSERT_STREQ(d->str[0], "");
	for (size_t i = 0; i < d->nmaps; i++) {
		ASSERT_EQ(d->maps[i].id, i + 1);
		str(d, d->maps[i].file);
		str(d, d->maps[i].build_id);
	}
	for (size_t i = 0; i < d->nfuncs; i++) {
		ASSERT_EQ(d->funcs[i].id, i + 1);
		ASSERT_NE(d->funcs[i].name, 0);
		str(d, d->funcs[i].name);
		str(d, d->funcs[i].file);
	}
	for (size_t i = 0; i < d->nlocs; i++) {
		const struct dloc *l = &d->locs[i];
		ASSERT_EQ(l->id, i + 1);
		ASSERT_EQ(l->nlines, 1);
		ASSERT_TRUE(l->function >= 1 && l->function <= d->nfuncs);
		ASSERT_LE(l->mapping, d->nmaps);
	}
	for (size_t i = 0; i < d->nsamples; i++) {
		const struct dsample *s = &d->samples[i];
		ASSERT_EQ(s->nvalues, d->ntypes);
		ASSERT_GE(s->nlocs, 1);
		for (size_t j = 0; j < s->nlocs; j++)
			ASSERT_TRUE(s->locs[j] >= 1 && s->locs[j] <= d->nlocs);
		for (size_t j = 0; j < 2 * s->nlabels; j++)
			str(d, s->labels[j]);
	}
}

static const struct dfunc *loc_func(const struct dprof *d, uint64_t loc)
{
	return &d->funcs[d->locs[loc - 1].function - 1];
}

/* The sample's stack root first, "a;b;c", then " thread=x" for each label. */
static char *describe(const struct dprof *d, const struct dsample *s)
{
	static char buf[16384];
	size_t n = 0;
	for (size_t j = s->nlocs; j-- > 0;)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", j + 1 < s->nlocs ? ";" : "",
				      str(d, loc_func(d, s->locs[j])->name));
	for (size_t j = 0; j < s->nlabels; j++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s=%s", str(d, s->labels[2 * j]),
				      str(d, s->labels[2 * j + 1]));
	ASSERT_LT(n, sizeof(buf));
	return buf;
}

static const struct dsample *find_sample(const struct dprof *d, const char *want)
{
	const struct dsample *found = NULL;
	for (size_t i = 0; i < d->nsamples; i++) {
		if (strcmp(describe(d, &d->samples[i]), want) == 0) {
			ASSERT_TRUE(!found); /* merged: each stack and label set once */
			found = &d->samples[i];
		}
	}
	if (!found)
		CT_FAIL("no sample %s", want);
	return found;
}

static size_t find_str(const struct dprof *d, const char *s)
{
	for (size_t i = 0; i < d->nstr; i++)
		if (strcmp(d->str[i], s) == 0)
			return i;
	CT_FAIL("no string \"%s\"", s);
}

/* ---- the sample profile ---- */

static const uint8_t demo_build_id[] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };

static struct ctr_pprof_frame demo(const char *fn, const char *file, uint32_t line, uint64_t pc)
{
	return (struct ctr_pprof_frame){ .function = fn, .file = file, .line = line,
					 .address = pc, .mapping = "/opt/ctrace-test/demo",
					 .build_id = demo_build_id,
					 .build_id_len = sizeof(demo_build_id),
					 .map_start = 0x400000, .map_end = 0x500000 };
}

#define DEEP 200

static struct ctr_pprof *sample_profile(void)
{
	static const char *const types[] = { "contentions", "count", "delay", "nanoseconds" };
	static const char *const w1[] = { "thread", "worker-1" };
	static const char *const w2[] = { "thread", "worker-2" };
	const struct ctr_pprof_frame lock = demo("worker_lock", "lock.c", 10, 0x401010),
				     wait = demo("worker_wait", "lock.c", 30, 0x401020),
				     run = demo("worker_run", "worker.c", 20, 0x401100),
				     mn = demo("main", "main.c", 5, 0x401200);
	/* A library without symbols, and a synthetic frame with no address or mapping. */
	const struct ctr_pprof_frame anon = { .address = 0x7f0000001abc,
					      .mapping = "/opt/ctrace-test/libanon.so",
					      .map_start = 0x7f0000000000,
					      .map_end = 0x7f0000010000,
					      .map_offset = 0x1000 };
	const struct ctr_pprof_frame blocked = { .function = "[blocked]" };

	struct ctr_pprof *p = ctr_pprof_new(types, 2, "contentions", "count", 1);
	ASSERT_TRUE(p);
	ctr_pprof_set_time(p, 1700000000000000000, 2000000000);
	ctr_pprof_add_comment(p, "ctrace test profile");

	const struct ctr_pprof_frame a[] = { lock, run, mn }, b[] = { wait, run, mn },
				     c[] = { blocked, anon, run, mn };
	ASSERT_EQ(ctr_pprof_add(p, a, 3, (int64_t[]){ 1, 100 }, w1, 1), 0);
	ASSERT_EQ(ctr_pprof_add(p, b, 3, (int64_t[]){ 2, 250 }, w2, 1), 0);
	ASSERT_EQ(ctr_pprof_add(p, a, 3, (int64_t[]){ 3, 300 }, w1, 1), 0); /* merges */
	ASSERT_EQ(ctr_pprof_add(p, a, 3, (int64_t[]){ 4, 4000 }, w2, 1), 0);
	ASSERT_EQ(ctr_pprof_add(p, c, 4, (int64_t[]){ 1, 7000 }, NULL, 0), 0);
	ASSERT_EQ(ctr_pprof_add(p, NULL, 0, (int64_t[]){ 5, 50 }, NULL, 0), 0);
	/* Negative values are legal (diff profiles); they take ten bytes each. */
	ASSERT_EQ(ctr_pprof_add(p, b, 3, (int64_t[]){ -1, -20 }, NULL, 0), 0);

	struct ctr_pprof_frame deep[DEEP];
	char names[DEEP][24];
	for (int i = 0; i < DEEP; i++) {
		snprintf(names[i], sizeof(names[i]), "deep_%d", i);
		deep[i] = demo(names[i], "deep.c", (uint32_t)(100 + i), 0x410000 + 16 * (uint64_t)i);
	}
	deep[DEEP - 1] = mn;
	ASSERT_EQ(ctr_pprof_add(p, deep, DEEP, (int64_t[]){ 1, 900 }, NULL, 0), 0);
	return p;
}

static struct dprof write_decode(struct ctr_pprof *p)
{
	uint8_t *gz;
	size_t len;
	struct dprof d;

	ASSERT_EQ(ctr_pprof_write(p, &gz, &len), 0);
	ASSERT_TRUE(len > 18 && gz[0] == 0x1f && gz[1] == 0x8b); /* gzip magic */
	decode(gz, len, &d);
	free(gz);
	check_links(&d);
	return d;
}

static void test_sample_profile(void)
{
	struct ctr_pprof *p = sample_profile();
	struct dprof d = write_decode(p);

	/* The string table holds every string once. */
	for (size_t i = 0; i < d.nstr; i++)
		for (size_t j = i + 1; j < d.nstr; j++)
			if (strcmp(d.str[i], d.str[j]) == 0)
				CT_FAIL("string \"%s\" at %zu and %zu", d.str[i], i, j);

	ASSERT_EQ(d.ntypes, 2);
	ASSERT_STREQ(str(&d, d.types[0]), "contentions");
	ASSERT_STREQ(str(&d, d.types[1]), "count");
	ASSERT_STREQ(str(&d, d.types[2]), "delay");
	ASSERT_STREQ(str(&d, d.types[3]), "nanoseconds");
	ASSERT_STREQ(str(&d, d.period_type), "contentions");
	ASSERT_STREQ(str(&d, d.period_unit), "count");
	ASSERT_EQ(d.period, 1);
	ASSERT_EQ(d.time, 1700000000000000000);
	ASSERT_EQ(d.duration, 2000000000);
	ASSERT_EQ(d.ncomments, 1);
	ASSERT_STREQ(str(&d, d.comments[0]), "ctrace test profile");

	ASSERT_EQ(d.nsamples, 7);
	const struct dsample *s = find_sample(&d, "main;worker_run;worker_lock thread=worker-1");
	ASSERT_EQ(s->values[0], 4);
	ASSERT_EQ(s->values[1], 400);
	s = find_sample(&d, "main;worker_run;worker_lock thread=worker-2");
	ASSERT_EQ(s->values[0], 4);
	ASSERT_EQ(s->values[1], 4000);
	s = find_sample(&d, "main;worker_run;worker_wait thread=worker-2");
	ASSERT_EQ(s->values[1], 250);
	s = find_sample(&d, "main;worker_run;worker_wait");
	ASSERT_EQ((int64_t)s->values[0], -1);
	ASSERT_EQ((int64_t)s->values[1], -20);
	s = find_sample(&d, "main;worker_run;0x7f0000001abc;[blocked]");
	ASSERT_EQ(s->values[1], 7000);
	s = find_sample(&d, "[no stack]");
	ASSERT_EQ(s->values[0], 5);
	ASSERT_EQ(s->nlocs, 1);
	ASSERT_EQ(d.locs[s->locs[0] - 1].address, 0);
	ASSERT_EQ(d.locs[s->locs[0] - 1].mapping, 0);

	/* Shared frames share one location: worker_run and main sit under all three stacks. */
	const struct dsample *sa = find_sample(&d, "main;worker_run;worker_lock thread=worker-1");
	const struct dsample *sb = find_sample(&d, "main;worker_run;worker_wait thread=worker-2");
	ASSERT_NE(sa->locs[0], sb->locs[0]);
	ASSERT_EQ(sa->locs[1], sb->locs[1]);
	ASSERT_EQ(sa->locs[2], sb->locs[2]);
	const struct dloc *run = &d.locs[sa->locs[1] - 1];
	ASSERT_UEQ(run->address, 0x401100);
	ASSERT_EQ(run->line, 20);
	ASSERT_STREQ(str(&d, d.funcs[run->function - 1].file), "worker.c");
	ASSERT_STREQ(str(&d, d.funcs[run->function - 1].system_name), "worker_run");

	/* 200 deep-stack frames (deep_199 replaced by main) plus 7 others, one location each. */
	ASSERT_EQ(d.nlocs, 199 + 7);
	ASSERT_EQ(d.nfuncs, 199 + 7);
	s = &d.samples[d.nsamples - 1]; /* samples keep the order they were first added in */
	ASSERT_EQ(s->nlocs, DEEP);
	ASSERT_STREQ(str(&d, loc_func(&d, s->locs[0])->name), "deep_0");
	ASSERT_STREQ(str(&d, loc_func(&d, s->locs[DEEP - 1])->name), "main");
	ASSERT_EQ(d.locs[s->locs[7] - 1].line, 107);

	/* The demo binary is fully symbolized; the anonymous library is not. */
	ASSERT_EQ(d.nmaps, 2);
	const struct dmap *m = &d.maps[d.locs[sa->locs[0] - 1].mapping - 1];
	ASSERT_STREQ(str(&d, m->file), "/opt/ctrace-test/demo");
	ASSERT_STREQ(str(&d, m->build_id), "deadbeef01");
	ASSERT_UEQ(m->start, 0x400000);
	ASSERT_UEQ(m->limit, 0x500000);
	ASSERT_TRUE(m->has_fn && m->has_file && m->has_line);
	const struct dsample *sc = find_sample(&d, "main;worker_run;0x7f0000001abc;[blocked]");
	ASSERT_EQ(d.locs[sc->locs[0] - 1].mapping, 0);
	m = &d.maps[d.locs[sc->locs[1] - 1].mapping - 1];
	ASSERT_STREQ(str(&d, m->file), "/opt/ctrace-test/libanon.so");
	ASSERT_EQ(m->build_id, 0);
	ASSERT_UEQ(m->offset, 0x1000);
	ASSERT_TRUE(!m->has_fn && !m->has_file && !m->has_line);
	ASSERT_EQ(find_str(&d, "0x7f0000001abc"), loc_func(&d, sc->locs[1])->name);

	dprof_free(&d);
	ctr_pprof_free(p);
}

/* Writing twice gives the same bytes: write does not consume the builder. */
static void test_write_is_repeatable(void)
{
	struct ctr_pprof *p = sample_profile();
	uint8_t *a, *b;
	size_t alen, blen;

	ASSERT_EQ(ctr_pprof_write(p, &a, &alen), 0);
	ASSERT_EQ(ctr_pprof_write(p, &b, &blen), 0);
	ASSERT_EQ(alen, blen);
	ASSERT_TRUE(memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	ctr_pprof_free(p);
}

static void test_empty_profile(void)
{
	struct ctr_pprof *p = ctr_pprof_new(NULL, 0, NULL, NULL, 0);
	ASSERT_TRUE(p);
	struct dprof d = write_decode(p);
	ASSERT_EQ(d.nstr, 1);
	ASSERT_EQ(d.nsamples + d.nlocs + d.nfuncs + d.nmaps + d.ntypes, 0);
	ASSERT_EQ(d.period_type, 0);
	dprof_free(&d);
	ctr_pprof_free(p);
}

static void test_default_sample_type(void)
{
	static const char *const types[] = { "alloc_space", "bytes", "inuse_space", "bytes" };
	struct ctr_pprof *p = ctr_pprof_new(types, 2, NULL, NULL, 0);
	ASSERT_TRUE(p);
	struct dprof d = write_decode(p);
	ASSERT_EQ(d.default_type, 0); /* none: viewers show the last type */
	dprof_free(&d);
	ASSERT_EQ(ctr_pprof_set_default_type(p, "alloc_space"), 0);
	d = write_decode(p);
	ASSERT_STREQ(d.str[d.default_type], "alloc_space");
	ASSERT_EQ(d.default_type, d.types[0]);
	dprof_free(&d);
	ctr_pprof_free(p);
}

static void test_bad_arguments(void)
{
	static const char *const types[] = { "samples", "count" };
	static const char *const bad_labels[] = { "thread", NULL };
	const struct ctr_pprof_frame f = { .function = "f" };
	struct ctr_pprof *p = ctr_pprof_new(types, 1, NULL, NULL, 0);

	ASSERT_TRUE(!ctr_pprof_new(NULL, 1, NULL, NULL, 0));
	ASSERT_EQ(ctr_pprof_add(p, &f, 1, NULL, NULL, 0), CTRACE_EINVAL);
	ASSERT_EQ(ctr_pprof_add(p, NULL, 1, (int64_t[]){ 1 }, NULL, 0), CTRACE_EINVAL);
	ASSERT_EQ(ctr_pprof_add(p, &f, 1, (int64_t[]){ 1 }, bad_labels, 1), CTRACE_EINVAL);
	struct dprof d = write_decode(p);
	ASSERT_EQ(d.nsamples, 0);
	dprof_free(&d);
	ctr_pprof_free(p);
}

/*
 * 100k distinct stacks of depth 16 over 1k frames, each added twice: the builder must stay
 * linear (hash tables, no scans), and merging must find every duplicate.
 */
static void test_many_stacks(void)
{
	static const char *const types[] = { "samples", "count" };
	enum { STACKS = 100000, DEPTH = 16, FRAMES = 1000 };
	struct ctr_pprof *p = ctr_pprof_new(types, 1, NULL, NULL, 0);
	struct ctr_pprof_frame f[DEPTH];
	char names[FRAMES][24];

	ASSERT_TRUE(p);
	for (int i = 0; i < FRAMES; i++)
		snprintf(names[i], sizeof(names[i]), "fn_%d", i);
	for (int round = 0; round < 2; round++) {
		for (uint32_t s = 0; s < STACKS; s++) {
			/* Base-1000 digits of s make every stack distinct. */
			uint32_t x = s;
			for (int j = 0; j < DEPTH; j++) {
				uint32_t k = j < 2 ? x % FRAMES : (s * 31 + (uint32_t)j) % FRAMES;
				if (j < 2)
					x /= FRAMES;
				f[j] = (struct ctr_pprof_frame){ .function = names[k],
								 .address = 0x1000 + 4 * k };
			}
			ASSERT_EQ(ctr_pprof_add(p, f, DEPTH, (int64_t[]){ 1 + round }, NULL, 0), 0);
		}
	}
	struct dprof d = write_decode(p);
	ASSERT_EQ(d.nsamples, STACKS);
	ASSERT_EQ(d.nfuncs, FRAMES);
	ASSERT_EQ(d.nlocs, FRAMES);
	for (size_t i = 0; i < d.nsamples; i++)
		ASSERT_EQ(d.samples[i].values[0], 3);
	dprof_free(&d);
	ctr_pprof_free(p);
}

static int write_sample(const char *path)
{
	struct ctr_pprof *p = sample_profile();
	uint8_t *gz;
	size_t len;
	FILE *f = fopen(path, "wb");

	ASSERT_TRUE(f);
	ASSERT_EQ(ctr_pprof_write(p, &gz, &len), 0);
	ASSERT_EQ(fwrite(gz, 1, len, f), len);
	ASSERT_EQ(fclose(f), 0);
	free(gz);
	ctr_pprof_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write") == 0)
		return write_sample(argv[2]);
	RUN(test_sample_profile);
	RUN(test_write_is_repeatable);
	RUN(test_empty_profile);
	RUN(test_default_sample_type);
	RUN(test_bad_arguments);
	RUN(test_many_stacks);
	return 0;
}
