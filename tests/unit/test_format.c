/*
 * The trace format held to FORMAT.md: traces built with the encoder read back exactly, what a
 * later minor version adds is skipped, hostile bytes give an error naming a byte offset and
 * never a crash, and the fixtures in data/good decode while those in data/bad are refused.
 *
 * Runs with tests/ as the working directory (meson sets it) so that data/ is found. The suite
 * also runs under ASan+UBSan, which is why every hostile input is read from a heap copy of
 * exactly its size: a read one byte past the end is then a reported error, not luck.
 */
#include <dirent.h>
#include <stdbool.h>
#include <unistd.h>
#include <zstd.h>
#include <ctrace/trace.h>

#include "ctest.h"
#include "encode.h"
#include "events.h"
#include "varint.h"

#define ZLEVEL 3
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- building traces ---- */

static void put_varints(struct ctr_bytes *b, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctr_bytes_varint(b, v[i]);
}
#define VARINTS(b, ...) \
	put_varints(b, (const uint64_t[]){ __VA_ARGS__ }, NELEM(((const uint64_t[]){ __VA_ARGS__ })))

static void put_str(struct ctr_bytes *b, const char *s)
{
	ctr_bytes_string(b, s, strlen(s));
}

/* Hand the payload built in @b to the encoder as one record, and empty @b. */
static void record(struct ctr_genenc *e, uint8_t type, struct ctr_bytes *b)
{
	ASSERT_EQ(b->failed, 0);
	ctr_genenc_record(e, type, b->p, b->len);
	ctr_bytes_free(b);
}

static void file_begin(struct ctr_bytes *f)
{
	uint8_t h[CTR_FILE_HEADER_SIZE];

	ctr_file_header(h);
	ctr_bytes_put(f, h, sizeof(h));
}

/* Append the finished generation to @f, its header @extra bytes longer (a later minor's). */
static void gen_finish_long(struct ctr_genenc *e, struct ctr_bytes *f, size_t extra)
{
	const uint8_t *hdr, *frame;
	uint8_t h[CTR_GEN_HEADER_SIZE];
	size_t len;

	ASSERT_EQ(ctr_genenc_finish(e, &hdr, &frame, &len), 0);
	memcpy(h, hdr, sizeof(h));
	ctr_put_u32le(h + 4, (uint32_t)(CTR_GEN_HEADER_SIZE - 8 + extra));
	ctr_bytes_put(f, h, sizeof(h));
	for (size_t i = 0; i < extra; i++)
		ctr_bytes_put(f, "\xee", 1);
	ctr_bytes_put(f, frame, len);
	ASSERT_EQ(f->failed, 0);
}

static void gen_finish(struct ctr_genenc *e, struct ctr_bytes *f)
{
	gen_finish_long(e, f, 0);
}

static void skippable(struct ctr_bytes *f, uint32_t magic, const char *payload)
{
	uint8_t h[8];

	ctr_put_u32le(h, magic);
	ctr_put_u32le(h + 4, (uint32_t)strlen(payload));
	ctr_bytes_put(f, h, 8);
	ctr_bytes_put(f, payload, strlen(payload));
}

/*
 * Append one event. @vals are what the reader should return: the svarint arguments of the
 * type are zigzagged here, since the encoder takes them as the writer stores them.
 */
static void put_event(struct ctr_bytes *b, uint8_t type, uint64_t delta, const uint64_t *vals,
		      unsigned nargs, const void *blob, size_t blob_len)
{
	uint64_t enc[16];
	unsigned smask = type < CTRACE_EV_COUNT_ ? ctr_events[type].signed_mask : 0;

	ASSERT_LE(nargs, NELEM(enc));
	for (unsigned i = 0; i < nargs; i++)
		enc[i] = (smask >> i) & 1 ? ctr_zigzag((int64_t)vals[i]) : vals[i];
	uint8_t *tmp = malloc(1 + (1 + nargs) * CTR_VARINT_MAX + CTR_VARINT_MAX + blob_len);
	ASSERT_TRUE(tmp);
	ctr_bytes_put(b, tmp, ctr_event_encode(tmp, type, delta, enc, nargs, blob, blob_len));
	free(tmp);
}

/* An event of a known type with as many arguments as CTR_EVENT_TABLE gives it (rest 0). */
#define PUT_EV(b, type, delta, blob, len, ...)                                          \
	put_event(b, type, delta, (const uint64_t[CTRACE_EVENT_MAX_ARGS]){ __VA_ARGS__ }, \
		  ctr_events[type].nargs, blob, len)

/* A kind-1 clock: ticks are ns. */
static void ns_clock(struct ctr_genenc *e, uint64_t t0)
{
	const struct ctr_sync s = { t0, t0, 1700000000000000000ull };

	ctr_genenc_clock(e, 1, 1, 1, &s, 1);
}

struct decl {
	uint64_t type, nargs;
	uint8_t flags;
	const char *name;
};

/* A SCHEMA record by hand: the built-in types but @skip, @extra more arguments for @wide. */
static void put_schema(struct ctr_genenc *e, unsigned skip, unsigned wide, unsigned extra,
		       const struct decl *more, size_t nmore)
{
	struct ctr_bytes b = { 0 };

	ctr_bytes_varint(&b, CTRACE_EV_COUNT_ - 1 - (skip != 0) + nmore);
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++) {
		if (t != skip) {
			VARINTS(&b, t, ctr_events[t].nargs + (t == wide ? extra : 0));
			ctr_bytes_put(&b, &ctr_events[t].has_blob, 1);
			put_str(&b, ctr_events[t].name);
		}
	}
	for (size_t i = 0; i < nmore; i++) {
		VARINTS(&b, more[i].type, more[i].nargs);
		ctr_bytes_put(&b, &more[i].flags, 1);
		put_str(&b, more[i].name);
	}
	record(e, CTR_REC_SCHEMA, &b);
}

/* A small valid generation of thread @pid: a call, strings, a frame, a stack, four events. */
static uint64_t small_gen(struct ctr_genenc *e, uint32_t pid, uint32_t seq)
{
	struct ctr_bytes b = { 0 };
	uint64_t t = 1000 + 100 * seq;

	ctr_genenc_begin(e, pid, seq);
	ctr_genenc_schema(e);
	ctr_genenc_record(e, CTR_REC_CALLS, "\x01\x01\x01\x04lock", 8);
	ctr_genenc_record(e, CTR_REC_STRINGS, "\x02\x01" "f" "\x06" "file.c", 10);
	ctr_genenc_record(e, CTR_REC_FRAMES, "\x01\xb4\x24\x00\x01\x02\x07", 7);
	ctr_genenc_record(e, CTR_REC_STACKS, "\x01\x01\x01\x01", 4); /* stack 1: frame 1 */
	ctr_genenc_process(e, pid, 1, "/bin/small", "small", 6, 5);
	PUT_EV(&b, CTRACE_EV_THREAD_START, 0, NULL, 0, 1, 0, 1);
	PUT_EV(&b, CTRACE_EV_BLOCK_BEGIN, 10, NULL, 0, 1, 1, 0xdead, 1);
	PUT_EV(&b, CTRACE_EV_THREAD_NAME, 5, "t1", 2, 0);
	PUT_EV(&b, CTRACE_EV_BLOCK_END, 3, NULL, 0, (uint64_t)-4);
	ctr_genenc_batch(e, pid, t, 4, b.p, b.len, (int64_t)t, (int64_t)t + 18);
	ctr_bytes_free(&b);
	ns_clock(e, 0);
	e->threads = 1;
	return 4;
}

/* Two small generations of one process; @gen2 gets the offset of the second. */
static void small_trace(struct ctr_bytes *f, size_t *gen2)
{
	struct ctr_genenc e;

	ASSERT_EQ(ctr_genenc_init(&e, ZLEVEL), 0);
	file_begin(f);
	small_gen(&e, 1, 0);
	gen_finish(&e, f);
	*gen2 = f->len;
	small_gen(&e, 1, 1);
	gen_finish(&e, f);
	ctr_genenc_fini(&e);
}

static const char *write_temp(const void *p, size_t n)
{
	static char path[256];
	const char *dir = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/test_format.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, p, n), (ssize_t)n);
	close(fd);
	return path;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void) /* xorshift64*: the same damage on every run */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* ---- reading everything, as a viewer following every id would ---- */

static volatile uint64_t sink;

static void touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += b[i];
	sink += s;
}

static void touch_str(const char *s)
{
	if (s)
		touch(s, strlen(s) + 1);
}

static void touch_frame(const struct ctrace_frame *f)
{
	if (f) {
		touch_str(f->function);
		touch_str(f->file);
		touch_str(f->mapping);
		touch(f->build_id, f->build_id_len);
	}
}

/* Look @id up in every table: hostile ids must give NULL or an error, never a wild read. */
static void touch_id(const ctrace_gen *g, uint64_t id)
{
	const uint32_t *frames;
	int depth = ctrace_gen_stack(g, id, &frames);

	ASSERT_TRUE(depth >= 0 || depth == CTRACE_EINVAL);
	for (int i = 0; i < depth; i++) {
		/* A stack that loaded names only frames that exist. */
		ASSERT_TRUE(ctrace_gen_frame(g, frames[i]) != NULL);
		touch_frame(ctrace_gen_frame(g, frames[i]));
	}
	touch_str(ctrace_gen_string(g, id));
	touch_frame(ctrace_gen_frame(g, id));
	if (ctrace_gen_call(g, id))
		touch_str(ctrace_gen_call(g, id)->name);
}

struct readout {
	int rc;          /* first error, or 0 when everything read */
	unsigned gens;   /* generations whose events all came out */
	uint64_t events; /* events of those generations */
	uint64_t err_off;
	char msg[512];
};

/* All events of @g; @return 0 or the error that stopped them. */
static int gen_events(ctrace_gen *g, uint64_t *count)
{
	const struct ctrace_event *ev;
	int rc;

	*count = 0;
	while ((rc = ctrace_gen_next_event(g, &ev)) == 1) {
		ASSERT_LE(ev->nargs, CTRACE_EVENT_MAX_ARGS);
		ASSERT_TRUE(ev->blob || ev->blob_len == 0);
		touch(ev->blob, ev->blob_len);
		for (unsigned i = 0; i < ev->nargs; i++)
			touch_id(g, ev->args[i]);
		++*count;
	}
	return rc;
}

/* Read every generation and event of @r (opened with @err), then free it. */
static struct readout read_all(ctrace_reader *r, int err)
{
	struct readout o = { .rc = 0 };
	const struct ctrace_gen_info *gi;
	const char *k, *v;
	const void *raw;
	size_t raw_len;
	ctrace_gen *g;
	uint64_t n, again;

	while (err >= 0) {
		err = ctrace_reader_next_info(r, &gi);
		if (err <= 0)
			break;
		ASSERT_EQ(ctrace_reader_raw(r, &raw, &raw_len), 0);
		ASSERT_GE(raw_len - gi->compressed_size, CTR_GEN_HEADER_SIZE);
		touch(raw, raw_len);
		err = ctrace_reader_load(r, &g);
		if (err < 0)
			break;
		touch_str(ctrace_gen_process(g)->exe);
		touch(ctrace_gen_process(g)->argv, ctrace_gen_process(g)->argv_len);
		for (size_t i = 0; ctrace_gen_info_at(g, i, &k, &v) == 1; i++) {
			touch_str(k);
			touch_str(v);
		}
		err = gen_events(g, &n);
		/* Rewinding replays the generation, errors included. */
		ctrace_gen_rewind(g);
		ASSERT_EQ(gen_events(g, &again), err);
		ASSERT_UEQ(again, n);
		if (err < 0)
			break;
		o.gens++;
		o.events += n;
	}
	if (err < 0) {
		o.rc = err;
		o.err_off = ctrace_reader_error_offset(r);
		snprintf(o.msg, sizeof(o.msg), "%s", ctrace_reader_errmsg(r));
		if (!strstr(o.msg, "byte offset"))
			CT_FAIL("error %d without a byte offset: \"%s\"", err, o.msg);
	}
	ctrace_reader_free(r);
	return o;
}

/* Read @n bytes from a heap block of exactly that size, so ASan sees any overread. */
static struct readout read_mem(const void *p, size_t n)
{
	ctrace_reader *r;
	void *copy = malloc(n ? n : 1);

	ASSERT_TRUE(copy);
	if (n)
		memcpy(copy, p, n);
	int err = ctrace_reader_open_memory(n ? copy : NULL, n, &r);
	struct readout o = read_all(r, err);
	free(copy);
	return o;
}

static struct readout read_path(const char *path)
{
	ctrace_reader *r;
	int err = ctrace_reader_open(path, &r);

	return read_all(r, err);
}

static struct readout read_file(const void *p, size_t n)
{
	const char *path = write_temp(p, n);
	struct readout o = read_path(path);

	unlink(path);
	return o;
}

/* ---- the expected model of a generation, for the round trip ---- */

struct xev {
	uint8_t type;
	uint32_t tid;
	uint64_t ticks;
	unsigned nargs;
	uint64_t args[CTRACE_EVENT_MAX_ARGS]; /* as the reader returns them */
	const void *blob;
	size_t blob_len;
	unsigned batch, pos; /* file order of its batch, place in it: how the merge breaks ties */
};

struct xgen {
	uint32_t pid, seq, threads, flags;
	uint64_t tick_span, ns_span, t0, m0;
	int64_t close_ns;
	struct xev *ev;
	size_t nev, cap;
	unsigned nbatches;
};

struct xbatch {
	struct ctr_bytes bytes;
	uint32_t tid;
	uint64_t base, ticks;
	size_t first; /* its first event in the generation's list */
};

/* FORMAT.md's conversion, written out independently of the reader. */
static int64_t xtime(const struct xgen *x, uint64_t t)
{
	__int128 d = (__int128)t - (__int128)x->t0;
	return (int64_t)((__int128)x->m0 + d * x->ns_span / x->tick_span);
}

static void batch_begin(struct xgen *x, struct xbatch *b, uint32_t tid, uint64_t base)
{
	memset(b, 0, sizeof(*b));
	b->tid = tid;
	b->base = b->ticks = base;
	b->first = x->nev;
}

static void batch_event(struct xgen *x, struct xbatch *b, uint8_t type, uint64_t delta,
			const uint64_t *vals, const void *blob, size_t blob_len)
{
	unsigned nargs = ctr_events[type].nargs;

	put_event(&b->bytes, type, delta, vals, nargs, blob, blob_len);
	if (x->nev == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 64;
		x->ev = realloc(x->ev, x->cap * sizeof(*x->ev));
		ASSERT_TRUE(x->ev);
	}
	struct xev *v = &x->ev[x->nev++];
	*v = (struct xev){ .type = type, .tid = b->tid, .ticks = b->ticks += delta, .nargs = nargs,
			   .blob = blob, .blob_len = blob_len, .pos = (unsigned)(x->nev - b->first) };
	for (unsigned i = 0; i < nargs; i++)
		v->args[i] = vals[i];
}
#define BEV(x, b, type, delta, blob, len, ...) \
	batch_event(x, b, type, delta, (const uint64_t[CTRACE_EVENT_MAX_ARGS]){ __VA_ARGS__ }, blob, len)

static void batch_end(struct ctr_genenc *e, struct xgen *x, struct xbatch *b)
{
	size_t n = x->nev - b->first;

	for (size_t i = b->first; i < x->nev; i++)
		x->ev[i].batch = x->nbatches;
	x->nbatches++;
	ctr_genenc_batch(e, b->tid, b->base, n, b->bytes.p, b->bytes.len,
			 n ? xtime(x, x->ev[b->first].ticks) : -1, n ? xtime(x, b->ticks) : -1);
	ctr_bytes_free(&b->bytes);
}

static int xev_cmp(const void *pa, const void *pb)
{
	const struct xev *a = pa, *b = pb;

	if (a->ticks != b->ticks)
		return a->ticks < b->ticks ? -1 : 1;
	if (a->batch != b->batch)
		return a->batch < b->batch ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* The header, process and every event of @g against @x, in time order. */
static void check_gen(ctrace_gen *g, struct xgen *x)
{
	const struct ctrace_gen_info *h = ctrace_gen_header(g);
	const struct ctrace_event *ev;

	if (x->nev)
		qsort(x->ev, x->nev, sizeof(*x->ev), xev_cmp);
	ASSERT_EQ(h->pid, x->pid);
	ASSERT_EQ(h->seq, x->seq);
	ASSERT_EQ(h->threads, x->threads);
	ASSERT_EQ(h->flags, x->flags);
	ASSERT_UEQ(h->events, x->nev);
	ASSERT_EQ(h->first_ns, x->nev ? xtime(x, x->ev[0].ticks) : x->close_ns);
	ASSERT_EQ(h->last_ns, x->nev ? xtime(x, x->ev[x->nev - 1].ticks) : x->close_ns);
	ASSERT_EQ(ctrace_gen_process(g)->pid, x->pid);
	for (size_t i = 0; i < x->nev; i++) {
		const struct xev *w = &x->ev[i];
		ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
		ASSERT_EQ(ev->type, w->type);
		ASSERT_EQ(ev->tid, w->tid);
		ASSERT_EQ(ev->pid, x->pid);
		ASSERT_UEQ(ev->ticks, w->ticks);
		ASSERT_EQ(ev->time_ns, xtime(x, w->ticks));
		ASSERT_EQ(ev->nargs, w->nargs);
		for (unsigned k = 0; k < CTRACE_EVENT_MAX_ARGS; k++)
			ASSERT_UEQ(ev->args[k], w->args[k]);
		ASSERT_EQ(ev->blob != NULL, ctr_events[w->type].has_blob);
		ASSERT_UEQ(ev->blob_len, w->blob_len);
		ASSERT_TRUE(w->blob_len == 0 || memcmp(ev->blob, w->blob, w->blob_len) == 0);
	}
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 0);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 0);
}

/* ---- 1. round trip ---- */

static const uint64_t edges[] = {
	0, 1, 127, 128, 16383, 16384, UINT32_MAX, (1ull << 56) - 1, 1ull << 56,
	(1ull << 63) - 1, 1ull << 63, UINT64_MAX - 1, UINT64_MAX,
};
static const uint64_t deltas[] = { 0, 1, 3, 1000, 1ull << 20, 0, 1ull << 40 };
static const uint8_t odd_blob[] = { 0, 0xff, 'a', 0, 0x80, '\n' };
static uint8_t long_blob[300];
static const char build_id[20] = "\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
				 "\x0b\x0c\x0d\x0e\x0f";
static const char argv_a[] = "prog\0-x\0two words";
#define STACK_BIG 0x123456789ull

/* STRINGS twice (ids run on across records), MAPPINGS and FRAMES, byte by byte. */
static void put_tables(struct ctr_genenc *e)
{
	struct ctr_bytes b = { 0 };

	ctr_bytes_varint(&b, 4);
	put_str(&b, "main");
	put_str(&b, "worker.c");
	put_str(&b, "/usr/lib/libfoo.so");
	put_str(&b, "");
	record(e, CTR_REC_STRINGS, &b);
	ctr_bytes_varint(&b, 1);
	put_str(&b, "helper");
	record(e, CTR_REC_STRINGS, &b);
	VARINTS(&b, 2, 0x400000, 0x401000, 0x1000, 3);
	ctr_bytes_string(&b, build_id, sizeof(build_id));
	VARINTS(&b, 0x7f0000000000, UINT64_MAX, 0, 0, 0);
	record(e, CTR_REC_MAPPINGS, &b);
	VARINTS(&b, 3, 0x400123, 1, 1, 2, 42, UINT64_MAX, 0, 0, 0, 0, 0x10, 2, 5, 4, UINT32_MAX);
	record(e, CTR_REC_FRAMES, &b);
}

/* STACKS with ids of the recorder's choosing, out of order, after the events that use them. */
static void put_stacks(struct ctr_genenc *e)
{
	struct ctr_bytes b = { 0 };

	VARINTS(&b, 3, UINT64_MAX, CTR_STACK_MAX_DEPTH);
	for (unsigned i = 0; i < CTR_STACK_MAX_DEPTH; i++)
		ctr_bytes_varint(&b, i % 3 + 1);
	VARINTS(&b, 1, 2, 1, 3, STACK_BIG, 0);
	record(e, CTR_REC_STACKS, &b);
}

static void check_tables_a(const ctrace_gen *g)
{
	const struct ctrace_frame *f;
	const uint32_t *fr;
	const char *k, *v;

	ASSERT_STREQ(ctrace_gen_string(g, 1), "main");
	ASSERT_STREQ(ctrace_gen_string(g, 3), "/usr/lib/libfoo.so");
	ASSERT_STREQ(ctrace_gen_string(g, 4), "");
	ASSERT_STREQ(ctrace_gen_string(g, 5), "helper");
	ASSERT_TRUE(!ctrace_gen_string(g, 0) && !ctrace_gen_string(g, 6));

	f = ctrace_gen_frame(g, 1);
	ASSERT_UEQ(f->pc, 0x400123);
	ASSERT_STREQ(f->function, "main");
	ASSERT_STREQ(f->file, "worker.c");
	ASSERT_EQ(f->line, 42);
	ASSERT_STREQ(f->mapping, "/usr/lib/libfoo.so");
	ASSERT_EQ(f->build_id_len, sizeof(build_id));
	ASSERT_TRUE(memcmp(f->build_id, build_id, sizeof(build_id)) == 0);
	f = ctrace_gen_frame(g, 2);
	ASSERT_UEQ(f->pc, UINT64_MAX);
	ASSERT_TRUE(!f->function && !f->file && !f->mapping && !f->line && !f->build_id_len);
	f = ctrace_gen_frame(g, 3);
	ASSERT_STREQ(f->function, "helper");
	ASSERT_STREQ(f->file, "");
	ASSERT_UEQ(f->line, UINT32_MAX);
	ASSERT_TRUE(f->mapping == NULL && f->build_id_len == 0); /* mapping 2 has no path */
	ASSERT_TRUE(!ctrace_gen_frame(g, 0) && !ctrace_gen_frame(g, 4));

	ASSERT_EQ(ctrace_gen_stack(g, 0, &fr), 0);
	ASSERT_EQ(ctrace_gen_stack(g, 1, &fr), 2);
	ASSERT_TRUE(fr[0] == 1 && fr[1] == 3);
	ASSERT_EQ(ctrace_gen_stack(g, STACK_BIG, &fr), 0);
	ASSERT_EQ(ctrace_gen_stack(g, UINT64_MAX, &fr), CTR_STACK_MAX_DEPTH);
	for (unsigned i = 0; i < CTR_STACK_MAX_DEPTH; i++)
		ASSERT_EQ(fr[i], i % 3 + 1);
	ASSERT_EQ(ctrace_gen_stack(g, 2, &fr), CTRACE_EINVAL);
	ASSERT_EQ(ctrace_gen_stack(g, STACK_BIG - 1, &fr), CTRACE_EINVAL);

	for (unsigned c = 1; c < CTR_CALL_COUNT_; c++) {
		ASSERT_STREQ(ctrace_gen_call(g, c)->name, ctr_calls[c].name);
		ASSERT_EQ(ctrace_gen_call(g, c)->reason, ctr_calls[c].reason);
	}
	ASSERT_TRUE(!ctrace_gen_call(g, 0) && !ctrace_gen_call(g, CTR_CALL_COUNT_));

	ASSERT_STREQ(ctrace_gen_info_value(g, "clock"), "tsc");
	ASSERT_STREQ(ctrace_gen_info_value(g, "empty"), "");
	ASSERT_TRUE(ctrace_gen_info_value(g, "missing") == NULL);
	ASSERT_EQ(ctrace_gen_info_at(g, 1, &k, &v), 1);
	ASSERT_STREQ(k, "empty");
	ASSERT_EQ(ctrace_gen_info_at(g, 2, &k, &v), 0);

	const struct ctrace_process *p = ctrace_gen_process(g);
	ASSERT_EQ(p->ppid, 1);
	ASSERT_STREQ(p->exe, "/usr/bin/prog");
	ASSERT_EQ(p->argv_len, sizeof(argv_a));
	ASSERT_TRUE(memcmp(p->argv, argv_a, sizeof(argv_a)) == 0);
	ASSERT_UEQ(p->start_realtime_ns, UINT64_MAX);

	/* CLOCK kind 0, 3 ticks per ns from (500, 7e9): ns = m0 + (t - t0) * 1 / 3. */
	ASSERT_EQ(ctrace_gen_ticks_to_ns(g, 500), 7000000000);
	ASSERT_EQ(ctrace_gen_ticks_to_ns(g, 503), 7000000001);
	ASSERT_EQ(ctrace_gen_ticks_to_ns(g, 505), 7000000001);
	ASSERT_EQ(ctrace_gen_ticks_to_ns(g, 3500), 7000001000);
}

/*
 * Every event type with every edge value in every argument, over four batches of three
 * threads: tids 11 and 12 start at the same tick with the same deltas, so every one of their
 * events ties and the merge must keep batch order; tid 11 has a second, later batch.
 */
static void build_gen_a(struct ctr_genenc *e, struct xgen *x)
{
	static const struct { uint32_t tid; uint64_t base; unsigned slot; } plan[4] = {
		{ 11, 1000, 0 }, { 13, 900, 2 }, { 12, 1000, 1 }, { 11, 0, 3 },
	};
	const void *blobs[4] = { "", "x", odd_blob, long_blob };
	const size_t blob_lens[4] = { 0, 1, sizeof(odd_blob), sizeof(long_blob) };
	struct xbatch b;
	uint64_t b0_end = 0;

	*x = (struct xgen){ .pid = 100, .seq = 0, .threads = 3, .tick_span = 3, .ns_span = 1,
			    .t0 = 500, .m0 = 7000000000 };
	ctr_genenc_begin(e, x->pid, x->seq);
	ctr_genenc_schema(e);
	ctr_genenc_calls(e);
	ctr_genenc_process(e, 100, 1, "/usr/bin/prog", argv_a, sizeof(argv_a), UINT64_MAX);
	put_tables(e);
	ctr_genenc_info(e, "clock", "tsc");
	ctr_genenc_info(e, "empty", "");
	for (int j = 0; j < 4; j++) {
		batch_begin(x, &b, plan[j].tid, j == 3 ? b0_end : plan[j].base);
		unsigned pos = 0;
		for (unsigned k = plan[j].slot; k < (CTRACE_EV_COUNT_ - 1) * NELEM(edges); k += 4) {
			uint8_t type = (uint8_t)(1 + k / NELEM(edges));
			unsigned round = k % NELEM(edges), blob = ctr_events[type].has_blob;
			uint64_t vals[CTRACE_EVENT_MAX_ARGS];
			for (unsigned i = 0; i < CTRACE_EVENT_MAX_ARGS; i++)
				vals[i] = i < ctr_events[type].nargs ? edges[(round + i) % NELEM(edges)] : 0;
			batch_event(x, &b, type, deltas[pos++ % NELEM(deltas)], vals,
				    blob ? blobs[round % 4] : NULL, blob ? blob_lens[round % 4] : 0);
		}
		if (j == 0)
			b0_end = b.ticks;
		batch_end(e, x, &b);
	}
	put_stacks(e);
	const struct ctr_sync syncs[2] = { { 500, 7000000000, 1 }, { b0_end * 2, 7100000000, 2 } };
	ctr_genenc_clock(e, 0, 3, 1, syncs, 2);
	e->threads = x->threads;
}

/* Another process: ns clock, a sparse CALLS record of its own, signed arguments. */
static void build_gen_b(struct ctr_genenc *e, struct xgen *x)
{
	struct ctr_bytes c = { 0 };
	struct xbatch b;

	*x = (struct xgen){ .pid = 200, .seq = 0, .threads = 2, .flags = CTRACE_GEN_LAST,
			    .tick_span = 1, .ns_span = 1, .t0 = 8000000000, .m0 = 8000000000 };
	ctr_genenc_begin(e, x->pid, x->seq);
	ctr_genenc_schema(e);
	VARINTS(&c, 2, 7, CTRACE_REASON_IO);
	put_str(&c, "read_v2");
	VARINTS(&c, 1000, CTRACE_REASON_MEMORY);
	put_str(&c, "");
	record(e, CTR_REC_CALLS, &c);
	ctr_genenc_process(e, 200, 100, NULL, NULL, 0, 0);
	batch_begin(x, &b, 200, 8000000000);
	BEV(x, &b, CTRACE_EV_CALL_BEGIN, 5, NULL, 0, 1000, (uint64_t)-1, CTRACE_FD_SOCKET, 0);
	BEV(x, &b, CTRACE_EV_CALL_END, 7, NULL, 0, (uint64_t)-11, 11, 0);
	BEV(x, &b, CTRACE_EV_BLOCK_END, 1, NULL, 0, 1ull << 63);
	batch_end(e, x, &b);
	batch_begin(x, &b, 201, 8000000006);
	BEV(x, &b, CTRACE_EV_WAKE, 0, NULL, 0, 7, 0x1000);
	BEV(x, &b, CTRACE_EV_SWITCH_OUT, 100, NULL, 0, 3, 1);
	batch_end(e, x, &b);
	batch_begin(x, &b, 202, 8000000000); /* a batch may be empty */
	batch_end(e, x, &b);
	ns_clock(e, 8000000000);
	e->threads = x->threads;
	e->flags = x->flags;
}

/* The first process again: a 1 MiB blob, and a string table of its own. */
static void build_gen_c(struct ctr_genenc *e, struct xgen *x, const uint8_t *huge, size_t n)
{
	const struct ctr_sync sync = { 2000, 7100000000, 3 };
	struct xbatch b;

	*x = (struct xgen){ .pid = 100, .seq = 1, .threads = 1, .tick_span = 1, .ns_span = 1000,
			    .t0 = 2000, .m0 = 7100000000 };
	ctr_genenc_begin(e, x->pid, x->seq);
	ctr_genenc_schema(e);
	ctr_genenc_record(e, CTR_REC_STRINGS, "\x01\x09only in C", 11);
	batch_begin(x, &b, 11, 2000);
	BEV(x, &b, CTRACE_EV_THREAD_NAME, 3, huge, n, 0);
	BEV(x, &b, CTRACE_EV_EXEC, 1, "", 0, 0);
	BEV(x, &b, CTRACE_EV_THREAD_END, 0, NULL, 0, CTRACE_END_PROCESS_EXIT);
	batch_end(e, x, &b);
	ctr_genenc_clock(e, 0, 1, 1000, &sync, 1);
	e->threads = x->threads;
}

/* Read back the four generations of round_trip_is_exact(), from memory or a file. */
static void check_round_trip(ctrace_reader *r, int err, struct xgen *x)
{
	ctrace_gen *g;
	const uint32_t *fr;

	ASSERT_EQ(err, 0);
	ASSERT_EQ(ctrace_reader_minor_version(r), 0);
	ASSERT_EQ(ctrace_reader_start_ns(r), xtime(&x[0], 900)); /* tid 13 starts first */
	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	ASSERT_UEQ(ctrace_gen_header(g)->offset, CTR_FILE_HEADER_SIZE);
	check_tables_a(g);
	check_gen(g, &x[0]);

	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	check_gen(g, &x[1]);
	ASSERT_STREQ(ctrace_gen_call(g, 7)->name, "read_v2");
	ASSERT_EQ(ctrace_gen_call(g, 7)->reason, CTRACE_REASON_IO);
	ASSERT_STREQ(ctrace_gen_call(g, 1000)->name, "");
	ASSERT_EQ(ctrace_gen_call(g, 1000)->reason, CTRACE_REASON_MEMORY);
	/* Tables belong to their generation: nothing of the first one shows through. */
	ASSERT_TRUE(!ctrace_gen_call(g, 1) && !ctrace_gen_call(g, 8));
	ASSERT_TRUE(!ctrace_gen_string(g, 1) && !ctrace_gen_frame(g, 1));
	ASSERT_EQ(ctrace_gen_stack(g, 1, &fr), CTRACE_EINVAL);
	ASSERT_TRUE(ctrace_gen_info_value(g, "clock") == NULL);
	ASSERT_EQ(ctrace_gen_process(g)->ppid, 100);
	ASSERT_STREQ(ctrace_gen_process(g)->exe, "");
	ASSERT_EQ(ctrace_gen_process(g)->argv_len, 0);

	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	ASSERT_STREQ(ctrace_gen_string(g, 1), "only in C");
	ASSERT_EQ(ctrace_gen_ticks_to_ns(g, 2003), 7100003000);
	check_gen(g, &x[2]);

	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	check_gen(g, &x[3]);
	ASSERT_EQ(ctrace_reader_next(r, &g), 0);
	ASSERT_EQ(ctrace_reader_next(r, &g), 0);
	ctrace_reader_free(r);
}

static void round_trip_is_exact(void)
{
	struct ctr_genenc e;
	struct ctr_bytes f = { 0 };
	struct xgen x[4];
	const size_t huge_len = 1u << 20;
	uint8_t *huge = malloc(huge_len);
	ctrace_reader *r;

	ASSERT_TRUE(huge);
	for (size_t i = 0; i < huge_len; i++)
		huge[i] = (uint8_t)(rng() >> 56);
	for (size_t i = 0; i < sizeof(long_blob); i++)
		long_blob[i] = (uint8_t)(i * 7);
	ASSERT_EQ(ctr_genenc_init(&e, ZLEVEL), 0);
	file_begin(&f);
	build_gen_a(&e, &x[0]);
	gen_finish(&e, &f);
	build_gen_b(&e, &x[1]);
	gen_finish(&e, &f);
	build_gen_c(&e, &x[2], huge, huge_len);
	gen_finish(&e, &f);
	/* A generation without events carries the time it was closed. */
	x[3] = (struct xgen){ .pid = 100, .seq = 2, .flags = CTRACE_GEN_LAST, .close_ns = 7200000000 };
	ctr_genenc_begin(&e, 100, 2);
	ctr_genenc_schema(&e);
	ctr_genenc_process(&e, 100, 1, "/usr/bin/prog", NULL, 0, 0);
	e.close_ns = x[3].close_ns;
	e.flags = CTRACE_GEN_LAST;
	gen_finish(&e, &f);
	ctr_genenc_fini(&e);
	ASSERT_EQ(x[0].nev, (CTRACE_EV_COUNT_ - 1) * NELEM(edges));

	int err = ctrace_reader_open_memory(f.p, f.len, &r);
	check_round_trip(r, err, x);
	const char *path = write_temp(f.p, f.len);
	err = ctrace_reader_open(path, &r);
	check_round_trip(r, err, x);
	unlink(path);
	for (int i = 0; i < 4; i++)
		free(x[i].ev);
	ctr_bytes_free(&f);
	free(huge);
}

/* ---- 2. forward compatibility ---- */

/*
 * What a minor version may add, in one file: a higher minor and unknown flag bits, skippable
 * frames, a longer generation header, unknown records (one before SCHEMA), trailing fields in
 * known records, unknown event types (with a blob; with more arguments than a reader keeps),
 * trailing arguments on a known type; and a non-minimal varint, which any version may write.
 */
static void later_minor_version_is_read(void)
{
	static const struct decl more[] = {
		{ 200, 2, 1, "future_blob" }, { 201, 0, 0, "future_bare" }, { 202, 12, 0, "future_wide" },
	};
	static const uint8_t wake_nonminimal[] = { CTRACE_EV_WAKE, 0x83, 0x80, 0x00,
						   0x81, 0x00, 0x80, 0x80, 0x80, 0x00 };
	const unsigned sw = ctr_events[CTRACE_EV_SWITCH_IN].nargs;
	struct ctr_genenc e;
	struct ctr_bytes f = { 0 }, b = { 0 };
	uint64_t vals[12], n;
	ctrace_reader *r;
	ctrace_gen *g;
	const struct ctrace_event *ev;

	ASSERT_EQ(ctr_genenc_init(&e, ZLEVEL), 0);
	file_begin(&f);
	f.p[18] = 7;
	f.p[20] = 0xff;
	f.p[23] = 0x80;
	skippable(&f, CTR_SKIP_MAGIC_MIN, "later");
	size_t gen1 = f.len;
	ctr_genenc_begin(&e, 42, 0);
	ctr_genenc_record(&e, 77, "\x01\x02\x03", 3);
	put_schema(&e, 0, CTRACE_EV_SWITCH_IN, 2, more, NELEM(more));
	VARINTS(&b, 42, 1);
	put_str(&b, "fwd");
	ctr_bytes_string(&b, "a\0b", 3);
	VARINTS(&b, 5, 99);
	put_str(&b, "a field of 1.7");
	record(&e, CTR_REC_PROCESS, &b);
	put_str(&b, "k");
	put_str(&b, "v");
	put_str(&b, "extra");
	record(&e, CTR_REC_INFO, &b);

	for (unsigned i = 0; i < 12; i++)
		vals[i] = i < sw ? 3 : 77 + i - sw;
	put_event(&b, CTRACE_EV_SWITCH_IN, 1, vals, sw + 2, NULL, 0);
	put_event(&b, 200, 2, (const uint64_t[]){ 5, UINT64_MAX }, 2, NULL, 0);
	put_str(&b, "hello"); /* the encoder writes no blob for a type it does not know */
	put_event(&b, 201, 0, NULL, 0, NULL, 0);
	for (unsigned i = 0; i < 12; i++)
		vals[i] = i + 1;
	put_event(&b, 202, 1, vals, 12, NULL, 0);
	ctr_bytes_put(&b, wake_nonminimal, sizeof(wake_nonminimal));
	PUT_EV(&b, CTRACE_EV_BLOCK_END, 0, NULL, 0, (uint64_t)-5);
	PUT_EV(&b, CTRACE_EV_THREAD_END, 1, NULL, 0, 2);
	ctr_genenc_batch(&e, 5, 100, 7, b.p, b.len, 101, 108);
	ctr_bytes_free(&b);
	ctr_genenc_record(&e, 255, long_blob, sizeof(long_blob));
	/* kind, spans, three sync points, then a field of a later version */
	VARINTS(&b, 1, 1, 1, 3, 0, 0, 0, 50, 50, 1, 100, 100, 2, 7);
	record(&e, CTR_REC_CLOCK, &b);
	e.threads = 1;
	gen_finish_long(&e, &f, 24);
	skippable(&f, CTR_SKIP_MAGIC_MAX, "");
	size_t gen2 = f.len;
	uint64_t n2 = small_gen(&e, 300, 0);
	gen_finish(&e, &f);
	ctr_genenc_fini(&e);

	ASSERT_EQ(ctrace_reader_open_memory(f.p, f.len, &r), 0);
	ASSERT_EQ(ctrace_reader_minor_version(r), 7);
	ASSERT_EQ(ctrace_reader_start_ns(r), 101);
	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	ASSERT_UEQ(ctrace_gen_header(g)->offset, gen1);
	ASSERT_EQ(ctrace_gen_header(g)->pid, 42);
	ASSERT_STREQ(ctrace_gen_process(g)->exe, "fwd");
	ASSERT_EQ(ctrace_gen_process(g)->argv_len, 3);
	ASSERT_UEQ(ctrace_gen_process(g)->start_realtime_ns, 5);
	ASSERT_STREQ(ctrace_gen_info_value(g, "k"), "v");

	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_EQ(ev->type, CTRACE_EV_SWITCH_IN);
	ASSERT_TRUE(ev->ticks == 101 && ev->time_ns == 101 && ev->args[0] == 3);
	/* The reader hands out the trailing arguments too ("as many as are in args[]"). */
	ASSERT_EQ(ev->nargs, sw + 2);
	ASSERT_TRUE(ev->args[sw] == 77 && ev->args[sw + 1] == 78);
	/* Unknown types come out with their number, their arguments and their blob. */
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_EQ(ev->type, 200);
	ASSERT_TRUE(ctrace_event_name(ev->type) == NULL);
	ASSERT_UEQ(ev->ticks, 103);
	ASSERT_EQ(ev->nargs, 2);
	ASSERT_TRUE(ev->args[0] == 5 && ev->args[1] == UINT64_MAX);
	ASSERT_EQ(ev->blob_len, 5);
	ASSERT_TRUE(memcmp(ev->blob, "hello", 5) == 0);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_TRUE(ev->type == 201 && ev->nargs == 0 && ev->blob == NULL);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_EQ(ev->type, 202);
	ASSERT_UEQ(ev->ticks, 104);
	ASSERT_EQ(ev->nargs, CTRACE_EVENT_MAX_ARGS); /* the rest are skipped */
	for (unsigned i = 0; i < CTRACE_EVENT_MAX_ARGS; i++)
		ASSERT_UEQ(ev->args[i], i + 1);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_EQ(ev->type, CTRACE_EV_WAKE);
	ASSERT_TRUE(ev->ticks == 107 && ev->nargs == 2 && ev->args[0] == 1 && ev->args[1] == 0);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_EQ(ev->type, CTRACE_EV_BLOCK_END);
	ASSERT_EQ((int64_t)ev->args[0], -5);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_TRUE(ev->type == CTRACE_EV_THREAD_END && ev->ticks == 108 && ev->args[0] == 2);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 0);

	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	ASSERT_UEQ(ctrace_gen_header(g)->offset, gen2);
	ASSERT_EQ(ctrace_gen_process(g)->pid, 300);
	ASSERT_EQ(gen_events(g, &n), 0);
	ASSERT_UEQ(n, n2);
	ASSERT_EQ(ctrace_reader_next(r, &g), 0);
	ctrace_reader_free(r);
	ctr_bytes_free(&f);
}

/* Index a trace by its generation headers alone, then load one by seeking to it. */
static void index_then_seek(void)
{
	struct ctr_bytes f = { 0 };
	const struct ctrace_gen_info *gi;
	const void *raw;
	size_t gen2, raw_len;
	ctrace_reader *r;
	ctrace_gen *g;

	small_trace(&f, &gen2);
	ASSERT_EQ(ctrace_reader_open_memory(f.p, f.len, &r), 0);
	ASSERT_EQ(ctrace_reader_load(r, &g), CTRACE_EINVAL); /* no header read yet */
	ASSERT_EQ(ctrace_reader_next_info(r, &gi), 1);
	ASSERT_TRUE(gi->offset == CTR_FILE_HEADER_SIZE && gi->seq == 0);
	ASSERT_EQ(ctrace_reader_next_info(r, &gi), 1); /* skips the first frame unread */
	ASSERT_TRUE(gi->offset == gen2 && gi->seq == 1 && gi->events == 4);
	ASSERT_EQ(ctrace_reader_raw(r, &raw, &raw_len), 0);
	ASSERT_TRUE(raw_len == f.len - gen2 && memcmp(raw, f.p + gen2, raw_len) == 0);
	ASSERT_EQ(ctrace_reader_next_info(r, &gi), 0);
	ASSERT_EQ(ctrace_reader_seek(r, f.len + 1), CTRACE_EINVAL);
	ASSERT_EQ(ctrace_reader_seek(r, gen2), 0);
	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	ASSERT_EQ(ctrace_gen_header(g)->seq, 1);
	ASSERT_EQ(ctrace_reader_next(r, &g), 0);
	ctrace_reader_free(r);
	ctr_bytes_free(&f);
}

/* ---- 3. hostile input ---- */

/* Cut at every byte: the whole generations before the cut come out, then ETRUNCATED. */
static void truncation_at_every_byte(void)
{
	struct ctr_bytes f = { 0 };
	size_t gen2;

	small_trace(&f, &gen2);
	for (size_t cut = 0; cut < f.len; cut++) {
		struct readout o = read_mem(f.p, cut);
		if (cut == 0) {
			ASSERT_EQ(o.rc, CTRACE_ENOTTRACE);
		} else if (cut == CTR_FILE_HEADER_SIZE || cut == gen2) {
			ASSERT_EQ(o.rc, 0); /* a prefix of whole generations is a trace */
			ASSERT_EQ(o.gens, cut == gen2);
		} else {
			if (o.rc != CTRACE_ETRUNCATED)
				CT_FAIL("cut at %zu of %zu: %d (%s)", cut, f.len, o.rc, o.msg);
			ASSERT_EQ(o.gens, cut > gen2);
			ASSERT_UEQ(o.events, cut > gen2 ? 4 : 0);
			if (cut > CTR_FILE_HEADER_SIZE)
				ASSERT_UEQ(o.err_off, cut > gen2 ? gen2 : CTR_FILE_HEADER_SIZE);
		}
		/* Through a file too (short_file_reads_as_truncated covers the file header). */
		if (cut >= CTR_FILE_HEADER_SIZE) {
			struct readout o2 = read_file(f.p, cut);
			ASSERT_TRUE(o2.rc == o.rc && o2.gens == o.gens && o2.err_off == o.err_off);
		}
	}
	ctr_bytes_free(&f);
}

static void flip_bits(uint8_t *p, size_t n)
{
	unsigned flips = 1 + (unsigned)(rng() % 4);

	for (unsigned i = 0; i < flips; i++) {
		uint64_t bit = rng() % (n * 8);
		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

/* Random bit flips over the whole file: any outcome but a crash or a silent error. */
static void bit_flips_never_crash(void)
{
	struct ctr_bytes f = { 0 };
	size_t gen2;
	unsigned failed = 0;

	small_trace(&f, &gen2);
	uint8_t *copy = malloc(f.len);
	ASSERT_TRUE(copy);
	rng_state = 0x5eed0001;
	for (int it = 0; it < 5000; it++) {
		memcpy(copy, f.p, f.len);
		flip_bits(copy, f.len);
		struct readout o = read_mem(copy, f.len);
		ASSERT_LE(o.gens, 2);
		failed += o.rc < 0;
	}
	/* Most flips land where the reader must notice (zstd checksums the content). */
	ASSERT_GT(failed, 2500);
	free(copy);
	ctr_bytes_free(&f);
}

/* @n bytes of content in a valid frame behind a valid header: only the records can be bad. */
static struct readout read_content(struct ctr_genenc *e, const uint8_t *c, size_t n)
{
	struct ctr_bytes f = { 0 };

	file_begin(&f);
	ctr_genenc_begin(e, 9, 0);
	ctr_genenc_put(e, c, n);
	gen_finish(e, &f);
	struct readout o = read_mem(f.p, f.len);
	ctr_bytes_free(&f);
	if (o.rc != 0 && (o.rc != CTRACE_ECORRUPT || o.err_off != CTR_FILE_HEADER_SIZE))
		CT_FAIL("content of %zu bytes: %d (%s)", n, o.rc, o.msg);
	return o;
}

/* Finish the generation begun in @e; @return its content, uncompressed, @n bytes. */
static uint8_t *content_of(struct ctr_genenc *e, size_t *n)
{
	struct ctr_bytes f = { 0 };

	gen_finish(e, &f);
	*n = (size_t)ctr_get_u64le(f.p + 16);
	uint8_t *c = malloc(*n);
	ASSERT_TRUE(c);
	ASSERT_UEQ(ZSTD_decompress(c, *n, f.p + CTR_GEN_HEADER_SIZE, ctr_get_u64le(f.p + 8)), *n);
	ctr_bytes_free(&f);
	return c;
}

/* Every cut, then random flips and bytes, of @n bytes of content that read as @events. */
static void damage_content(struct ctr_genenc *e, const uint8_t *content, size_t n,
			   uint64_t events)
{
	uint8_t *copy = malloc(n);

	ASSERT_TRUE(copy);
	ASSERT_UEQ(read_content(e, content, n).events, events);
	for (size_t cut = 0; cut < n; cut++)
		read_content(e, content, cut);
	for (int it = 0; it < 4000; it++) {
		memcpy(copy, content, n);
		flip_bits(copy, n);
		if (it % 4 == 0) /* the byte values where varints and lengths change meaning */
			copy[rng() % n] = (const uint8_t[]){ 0, 1, 0x7f, 0x80, 0xff }[rng() % 5];
		read_content(e, copy, n);
	}
	free(copy);
}

/*
 * Flips through zstd mostly meet its checksum; these re-compress damaged content, so that
 * the record and event parsers themselves meet every cut and flip: in a small generation,
 * and in one with every table and every event type (arguments 1 and 2, ids that exist).
 */
static void damaged_content_never_crashes(void)
{
	struct ctr_genenc e;
	struct ctr_bytes b = { 0 };
	uint64_t vals[CTRACE_EVENT_MAX_ARGS];
	size_t n;

	ASSERT_EQ(ctr_genenc_init(&e, 1), 0);
	rng_state = 0x5eed0002;
	uint64_t events = small_gen(&e, 1, 0);
	uint8_t *content = content_of(&e, &n);
	damage_content(&e, content, n, events);
	free(content);

	ctr_genenc_begin(&e, 1, 0);
	ctr_genenc_schema(&e);
	ctr_genenc_calls(&e);
	put_tables(&e);
	ctr_genenc_process(&e, 1, 1, "/usr/bin/prog", argv_a, sizeof(argv_a), 1);
	ctr_genenc_info(&e, "k", "v");
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++) {
		for (unsigned i = 0; i < CTRACE_EVENT_MAX_ARGS; i++)
			vals[i] = 1 + (i + t) % 2;
		put_event(&b, (uint8_t)t, t, vals, ctr_events[t].nargs, "ab", 2);
	}
	ctr_genenc_batch(&e, 1, 0, CTRACE_EV_COUNT_ - 1, b.p, b.len, 0, 0);
	ctr_bytes_free(&b);
	put_stacks(&e);
	ns_clock(&e, 0);
	content = content_of(&e, &n);
	damage_content(&e, content, n, CTRACE_EV_COUNT_ - 1);
	free(content);
	ctr_genenc_fini(&e);
}

static void bad_file_headers_are_refused(void)
{
	struct ctr_bytes f = { 0 };
	size_t gen2;

	small_trace(&f, &gen2);
	uint8_t *c = malloc(f.len);
	ASSERT_TRUE(c);
	memcpy(c, f.p, f.len);
	c[0] ^= 1;
	ASSERT_EQ(read_mem(c, f.len).rc, CTRACE_ENOTTRACE);
	memcpy(c, f.p, f.len);
	c[13] = 'X'; /* in "CTRACE" */
	ASSERT_EQ(read_mem(c, f.len).rc, CTRACE_ENOTTRACE);
	ASSERT_EQ(read_file(c, f.len).rc, CTRACE_ENOTTRACE);
	memcpy(c, f.p, f.len);
	c[16] = 2;
	ASSERT_EQ(read_mem(c, f.len).rc, CTRACE_EVERSION);
	ASSERT_EQ(read_file(c, f.len).rc, CTRACE_EVERSION);
	c[16] = 1;
	c[18] = c[19] = 0xff; /* minor 65535 is still version 1 */
	ASSERT_EQ(read_mem(c, f.len).rc, 0);

	ASSERT_EQ(read_mem(NULL, 0).rc, CTRACE_ENOTTRACE);
	ASSERT_EQ(read_file("", 0).rc, CTRACE_ENOTTRACE);
	ASSERT_EQ(read_mem(f.p, 3).rc, CTRACE_ETRUNCATED);
	ASSERT_TRUE(read_mem("abc", 3).rc < 0);
	ASSERT_EQ(read_path("data/no-such-file.ctrace").rc, CTRACE_EIO);
	ASSERT_EQ(read_path("data").rc, CTRACE_EIO);
	free(c);
	ctr_bytes_free(&f);
}

/* ---- corrupt generations built on purpose ---- */

static void schema_without_wake(struct ctr_genenc *e)
{
	put_schema(e, CTRACE_EV_WAKE, 0, 0, NULL, 0);
}

static void schema_alloc_2_args(struct ctr_genenc *e)
{
	static const struct decl alloc = { CTRACE_EV_ALLOC, 2, 0, "alloc" };

	put_schema(e, CTRACE_EV_ALLOC, 0, 0, &alloc, 1);
}

static void schema_name_no_blob(struct ctr_genenc *e)
{
	static const struct decl name = { CTRACE_EV_THREAD_NAME, 1, 0, "thread_name" };

	put_schema(e, CTRACE_EV_THREAD_NAME, 0, 0, &name, 1);
}

static void stack_5000_deep(struct ctr_genenc *e)
{
	struct ctr_bytes b = { 0 };

	ctr_genenc_record(e, CTR_REC_FRAMES, "\x01\x01\x00\x00\x00\x00", 6);
	VARINTS(&b, 1, 1, 5000);
	for (int i = 0; i < 5000; i++)
		ctr_bytes_varint(&b, 1);
	record(e, CTR_REC_STACKS, &b);
}

/* Header patches: @h is the corrupt generation's header in the file, its frame follows. */
static void h_compressed_2g(uint8_t *h) { ctr_put_u64le(h + 8, 1ull << 31); }
static void h_content_2g(uint8_t *h) { ctr_put_u64le(h + 16, 1ull << 31); }
static void h_content_more(uint8_t *h) { ctr_put_u64le(h + 16, ctr_get_u64le(h + 16) + 1); }
static void h_frame_less(uint8_t *h) { ctr_put_u64le(h + 8, ctr_get_u64le(h + 8) - 1); }
static void h_short(uint8_t *h) { ctr_put_u32le(h + 4, 40); }
static void h_magic(uint8_t *h) { ctr_put_u32le(h, 0x12345678); }
static void h_not_zstd(uint8_t *h) { ctr_put_u32le(h + CTR_GEN_HEADER_SIZE, 0x12345678); }
static void h_checksum(uint8_t *h) { h[CTR_GEN_HEADER_SIZE + ctr_get_u64le(h + 8) - 1] ^= 8; }

#define SCH 1 /* a SCHEMA first */
#define CLK 2 /* a CLOCK last */
#define WHERE 4 /* the message gives the offset inside the content, as FORMAT.md asks */
#define RAW(s) s, sizeof(s) - 1
/* Records byte by byte. LOST has 1 argument, WAKE 2, thread_name 1 and a blob. */
#define FRAME1 "\x06\x06\x01\x01\x00\x00\x00\x00"  /* frame 1 */
#define LOST1 "\x08\x06\x01\x64\x01\x15\x00\x01"   /* a batch of one LOST event */
#define FF9 "\xff\xff\xff\xff\xff\xff\xff\xff\xff"

static const struct bad_case {
	const char *name;
	unsigned flags;
	void (*build)(struct ctr_genenc *e); /* records before @raw */
	const char *raw;
	size_t raw_len;
	void (*patch)(uint8_t *h); /* of a valid generation, when neither build nor raw */
} bad_cases[] = {
	{ "record past the generation", SCH | WHERE, NULL, RAW("\x09\x64\x01k"), NULL },
	{ "11-byte varint", SCH | CLK | WHERE, NULL,
	  RAW("\x08\x10\x01\x64\x01\x15" FF9 "\xff\x01\x01"), NULL },
	{ "11-byte record length", SCH | WHERE, NULL,
	  RAW("\x09\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), NULL },
	{ "varint over 64 bits", SCH | CLK | WHERE, NULL,
	  RAW("\x08\x0f\x01\x64\x01\x15\x00" FF9 "\x02"), NULL },
	{ "BATCH before SCHEMA", CLK | WHERE, NULL, RAW(LOST1), NULL },
	{ "stack of an undefined frame", WHERE, NULL,
	  RAW(FRAME1 "\x07\x05\x01\x01\x02\x01\x02"), NULL },
	{ "stack id 0", WHERE, NULL, RAW(FRAME1 "\x07\x04\x01\x00\x01\x01"), NULL },
	{ "stack id defined twice", 0, NULL,
	  RAW(FRAME1 "\x07\x07\x02\x05\x01\x01\x05\x01\x01"), NULL },
	{ "frame of an undefined string", WHERE, NULL,
	  RAW("\x04\x03\x01\x01x\x06\x06\x01\x01\x00\x02\x00\x00"), NULL },
	{ "mapping of an undefined path", WHERE, NULL,
	  RAW("\x05\x06\x01\x01\x02\x00\x01\x00"), NULL },
	{ "event type not in the schema", CLK | WHERE, schema_without_wake,
	  RAW("\x08\x07\x01\x64\x01\x09\x00\x01\x01"), NULL },
	{ "batch with fewer events", SCH | CLK | WHERE, NULL,
	  RAW("\x08\x0c\x01\x64\x05\x15\x00\x01\x15\x01\x01\x15\x01\x01"), NULL },
	{ "bytes after the last event", SCH | CLK | WHERE, NULL,
	  RAW("\x08\x09\x01\x64\x01\x15\x00\x01\x15\x01\x01"), NULL },
	{ "blob past the batch", SCH | CLK | WHERE, NULL,
	  RAW("\x08\x09\x01\x64\x01\x04\x00\x00\x32t1"), NULL },
	{ "stack 5000 deep", WHERE, stack_5000_deep, RAW(""), NULL },
	{ "batch without clock", SCH, NULL, RAW(LOST1), NULL },
	{ "clock with tick_span 0", WHERE, NULL,
	  RAW("\x02\x07\x00\x00\x01\x01\x00\x00\x00"), NULL },
	{ "PROCESS shorter than its fields", WHERE, NULL, RAW("\x03\x05\x01\x01\x05" "ab"), NULL },
	{ "SCHEMA with fewer arguments", WHERE, schema_alloc_2_args, RAW(""), NULL },
	{ "SCHEMA without a known blob", WHERE, schema_name_no_blob, RAW(""), NULL },
	{ "compressed size 2 GiB", 0, NULL, NULL, 0, h_compressed_2g },
	{ "content size 2 GiB", 0, NULL, NULL, 0, h_content_2g },
	{ "content size one too many", 0, NULL, NULL, 0, h_content_more },
	{ "frame one byte shorter", 0, NULL, NULL, 0, h_frame_less },
	{ "generation header too short", 0, NULL, NULL, 0, h_short },
	{ "unknown frame magic", 0, NULL, NULL, 0, h_magic },
	{ "no zstd frame", 0, NULL, NULL, 0, h_not_zstd },
	{ "zstd checksum", 0, NULL, NULL, 0, h_checksum },
};

/* Each case follows a valid generation, which must still come out whole. */
static void corrupt_generations_are_refused(void)
{
	struct ctr_genenc e;

	ASSERT_EQ(ctr_genenc_init(&e, ZLEVEL), 0);
	for (size_t i = 0; i < NELEM(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct ctr_bytes f = { 0 };
		file_begin(&f);
		small_gen(&e, 1, 0);
		gen_finish(&e, &f);
		size_t off = f.len;
		if (bc->raw) {
			ctr_genenc_begin(&e, 2, 0);
			if (bc->flags & SCH)
				ctr_genenc_schema(&e);
			if (bc->build)
				bc->build(&e);
			ctr_genenc_put(&e, bc->raw, bc->raw_len);
			if (bc->flags & CLK)
				ns_clock(&e, 0);
		} else {
			small_gen(&e, 2, 0);
		}
		gen_finish(&e, &f);
		if (bc->patch)
			bc->patch(f.p + off);
		for (int via_file = 0; via_file < 2; via_file++) {
			struct readout o = via_file ? read_file(f.p, f.len) : read_mem(f.p, f.len);
			if (o.rc != CTRACE_ECORRUPT || o.gens != 1 || o.err_off != off)
				CT_FAIL("%s: error %d, %u generations, offset %llu (want %d, 1, %zu): %s",
					bc->name, o.rc, o.gens, (unsigned long long)o.err_off,
					CTRACE_ECORRUPT, off, o.msg);
			if ((bc->flags & WHERE) && !strstr(o.msg, "content offset"))
				CT_FAIL("%s: no content offset in \"%s\"", bc->name, o.msg);
		}
		ctr_bytes_free(&f);
	}
	ctr_genenc_fini(&e);
}

/* ---- reader bugs: these fail until format/reader.c is fixed (see each comment) ---- */

/* A hostile tick ratio must saturate; the 128-bit product in ticks_to_ns() overflows. */
static void hostile_clock_saturates(void)
{
	struct ctr_genenc e;
	struct ctr_bytes f = { 0 }, b = { 0 };
	const struct ctr_sync s = { 0, 0, 0 };
	ctrace_reader *r;
	ctrace_gen *g;
	const struct ctrace_event *ev;

	ASSERT_EQ(ctr_genenc_init(&e, ZLEVEL), 0);
	file_begin(&f);
	ctr_genenc_begin(&e, 1, 0);
	ctr_genenc_schema(&e);
	PUT_EV(&b, CTRACE_EV_SWITCH_IN, UINT64_MAX, NULL, 0, 1);
	ctr_genenc_batch(&e, 1, 0, 1, b.p, b.len, 0, 0);
	ctr_bytes_free(&b);
	ctr_genenc_clock(&e, 0, 1, UINT64_MAX, &s, 1);
	gen_finish(&e, &f);
	ctr_genenc_fini(&e);
	ASSERT_EQ(ctrace_reader_open_memory(f.p, f.len, &r), 0);
	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_EQ(ev->time_ns, INT64_MAX);
	ASSERT_EQ(ctrace_gen_ticks_to_ns(g, UINT64_MAX), INT64_MAX);
	ctrace_reader_free(r);
	ctr_bytes_free(&f);
}

/* The exact conversion, saturating, by 128-bit division: what ticks_to_ns must match. */
static int64_t ref_ticks_to_ns(uint64_t ts, uint64_t ns, uint64_t t0, uint64_t m0, uint64_t t)
{
	int neg = t < t0;
	unsigned __int128 d = neg ? t0 - t : t - t0;
	unsigned __int128 q = d * ns / ts;
	__int128 v = neg ? (__int128)m0 - (__int128)q : (__int128)m0 + (__int128)q;
	if (q > (unsigned __int128)INT64_MAX * 4 || v > INT64_MAX)
		return neg ? INT64_MIN : INT64_MAX;
	return v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The fixed-point fast path and the slow path agree with exact division, for TSC-like
 * ratios, integer ratios, huge ratios and ticks before, at, near and far from the sync,
 * and sync points on either side of 2^61 (where the fast path stops). Where the fast path
 * applies, its times are within +-(2^62 - 1), which the model relies on to clamp only
 * the others. */
static void tick_conversion_is_exact(void)
{
	static const uint64_t spans[][2] = {
		{ 2899999999, 1000000000 }, { 3, 1 }, { 1, 1 }, { 1, 1000 }, { 7, 3 },
		{ 1000000007, 999999937 }, { 1, (1ull << 21) - 1 }, { 1, 1ull << 21 },
		{ UINT64_MAX, UINT64_MAX - 1 }, { 12345, UINT64_MAX / 3 },
	};
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	for (size_t k = 0; k < sizeof(spans) / sizeof(spans[0]); k++) {
		for (int round = 0; round < 6; round++) {
			uint64_t t0 = round == 0 ? 0 : xorshift(&rng) >> (round * 8);
			uint64_t m0 = round == 3   ? (1ull << 62) + 5
				      : round == 4 ? (1ull << 61) - 1
				      : round == 5 ? 1ull << 61
						   : xorshift(&rng) >> 4;
			struct ctr_genenc e;
			struct ctr_bytes f = { 0 };
			const struct ctr_sync s = { t0, m0, 0 };
			ctrace_reader *r;
			ctrace_gen *g;
			ASSERT_EQ(ctr_genenc_init(&e, ZLEVEL), 0);
			file_begin(&f);
			ctr_genenc_begin(&e, 1, 0);
			ctr_genenc_schema(&e);
			ctr_genenc_clock(&e, 0, spans[k][0], spans[k][1], &s, 1);
			gen_finish(&e, &f);
			ctr_genenc_fini(&e);
			ASSERT_EQ(ctrace_reader_open_memory(f.p, f.len, &r), 0);
			ASSERT_EQ(ctrace_reader_next(r, &g), 1);
			for (int i = 0; i < 20000; i++) {
				uint64_t x = xorshift(&rng), t;
				switch (i % 5) {
				case 0: t = t0 + (x & 0xffff); break;
				case 1: t = t0 + (x >> 24); break; /* within 2^40 */
				case 2: t = t0 + ((1ull << 40) - 1 - (x & 0xff)); break;
				case 3: t = t0 - (x & 0xffffff); break;
				default: t = x; break;
				}
				int64_t want = ref_ticks_to_ns(spans[k][0], spans[k][1], t0, m0, t);
				int64_t got = ctrace_gen_ticks_to_ns(g, t);
				if (got != want)
					fprintf(stderr, "ticks %llu span %llu/%llu t0 %llu m0 %llu\n",
						(unsigned long long)t, (unsigned long long)spans[k][1],
						(unsigned long long)spans[k][0],
						(unsigned long long)t0, (unsigned long long)m0);
				ASSERT_EQ(got, want);
				if (spans[k][1] / spans[k][0] < (1ull << 21) && m0 < (1ull << 61) &&
				    t - t0 < (1ull << 40))
					ASSERT_LE(got, (INT64_C(1) << 62) - 1);
			}
			ctrace_reader_free(r);
			ctr_bytes_free(&f);
		}
	}
}

/* Without a PROCESS record resolve() points exe at arena offset 0, the first string read. */
static void process_record_is_optional(void)
{
	struct ctr_genenc e;
	struct ctr_bytes f = { 0 };
	ctrace_reader *r;
	ctrace_gen *g;

	ASSERT_EQ(ctr_genenc_init(&e, ZLEVEL), 0);
	file_begin(&f);
	ctr_genenc_begin(&e, 77, 0);
	ctr_genenc_schema(&e);
	ctr_genenc_calls(&e);
	gen_finish(&e, &f);
	ctr_genenc_fini(&e);
	ASSERT_EQ(ctrace_reader_open_memory(f.p, f.len, &r), 0);
	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	ASSERT_EQ(ctrace_gen_process(g)->pid, 77);
	ASSERT_STREQ(ctrace_gen_process(g)->exe, "");
	ASSERT_EQ(ctrace_gen_process(g)->argv_len, 0);
	ctrace_reader_free(r);
	ctr_bytes_free(&f);
}

/* A file shorter than its header: read_file_header() tests the magic of a buffer never read. */
static void short_file_reads_as_truncated(void)
{
	struct ctr_bytes f = { 0 };
	size_t gen2;

	small_trace(&f, &gen2);
	for (size_t cut = 1; cut < CTR_FILE_HEADER_SIZE; cut++) {
		ASSERT_EQ(read_mem(f.p, cut).rc, CTRACE_ETRUNCATED);
		ASSERT_EQ(read_file(f.p, cut).rc, CTRACE_ETRUNCATED);
	}
	ctr_bytes_free(&f);
}

/* ---- 4. fixtures ---- */

/* Read every .ctrace file in @dir with @check; @return how many there were. */
static unsigned each_fixture(const char *dir, void (*check)(const char *, const struct readout *))
{
	char path[512];
	unsigned n = 0;
	struct dirent *d;
	DIR *dh = opendir(dir);

	if (!dh)
		CT_FAIL("cannot open %s (run from tests/)", dir);
	while ((d = readdir(dh))) {
		size_t len = strlen(d->d_name);
		if (len > 7 && strcmp(d->d_name + len - 7, ".ctrace") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
			struct readout o = read_path(path);
			check(path, &o);
			n++;
		}
	}
	closedir(dh);
	return n;
}

static void expect_good(const char *path, const struct readout *o)
{
	if (o->rc != 0 || o->gens == 0 || o->events == 0)
		CT_FAIL("%s: error %d, %u generations, %llu events: %s", path, o->rc, o->gens,
			(unsigned long long)o->events, o->msg);
}

static void expect_bad(const char *path, const struct readout *o)
{
	/* read_all() has checked that the message names a byte offset. */
	if (o->rc != CTRACE_ENOTTRACE && o->rc != CTRACE_EVERSION &&
	    o->rc != CTRACE_ETRUNCATED && o->rc != CTRACE_ECORRUPT)
		CT_FAIL("%s: read with %d, want a refusal: %s", path, o->rc, o->msg);
}

static void good_fixtures_decode(void)
{
	ASSERT_GE(each_fixture("data/good", expect_good), 3);
}

static void bad_fixtures_are_refused(void)
{
	ASSERT_GE(each_fixture("data/bad", expect_bad), 8);
}

static int argc_;
static char **argv_;

/* Run @fn when no test is named on the command line or it is one of those named. */
#define TEST(fn)                                                          \
	do {                                                              \
		bool run_ = argc_ < 2;                                    \
		for (int i_ = 1; i_ < argc_; i_++)                        \
			run_ |= strcmp(argv_[i_], #fn) == 0;              \
		if (run_)                                                 \
			RUN(fn);                                          \
	} while (0)

int main(int argc, char **argv)
{
	argc_ = argc;
	argv_ = argv;
	TEST(round_trip_is_exact);
	TEST(later_minor_version_is_read);
	TEST(index_then_seek);
	TEST(truncation_at_every_byte);
	TEST(bit_flips_never_crash);
	TEST(damaged_content_never_crashes);
	TEST(bad_file_headers_are_refused);
	TEST(corrupt_generations_are_refused);
	TEST(good_fixtures_decode);
	TEST(bad_fixtures_are_refused);
	TEST(tick_conversion_is_exact);
	/* Last, since they fail until the reader bugs they describe are fixed. */
	TEST(process_record_is_optional);
	TEST(hostile_clock_saturates);
	TEST(short_file_reads_as_truncated);
	return 0;
}
