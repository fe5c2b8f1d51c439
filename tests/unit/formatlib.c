/*
 * What the format tests share (test_format.c and test_format_hostile.c): traces built with
 * the encoder record by record, a reader that follows every id of every event as a viewer
 * would and reports the first error, the expected model of a generation for the round trip,
 * the tables of the round trip's first generation, and the choice of tests to run.
 * formatlib.h says what each function does.
 */
#include <stdbool.h>
#include <unistd.h>
#include <ctrace/trace.h>

#include "ctest.h"
#include "encode.h"
#include "events.h"
#include "formatlib.h"
#include "varint.h"

/* ---- building traces ---- */

void put_varints(struct ctr_bytes *b, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctr_bytes_varint(b, v[i]);
}

void put_str(struct ctr_bytes *b, const char *s)
{
	ctr_bytes_string(b, s, strlen(s));
}

/* Hand the payload built in @b to the encoder as one record, and empty @b. */
void record(struct ctr_genenc *e, uint8_t type, struct ctr_bytes *b)
{
	ASSERT_EQ(b->failed, 0);
	ctr_genenc_record(e, type, b->p, b->len);
	ctr_bytes_free(b);
}

void file_begin(struct ctr_bytes *f)
{
	uint8_t h[CTR_FILE_HEADER_SIZE];

	ctr_file_header(h);
	ctr_bytes_put(f, h, sizeof(h));
}

/* Append the finished generation to @f, its header @extra bytes longer (a later minor's). */
void gen_finish_long(struct ctr_genenc *e, struct ctr_bytes *f, size_t extra)
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

void gen_finish(struct ctr_genenc *e, struct ctr_bytes *f)
{
	gen_finish_long(e, f, 0);
}

/*
 * Append one event. @vals are what the reader should return: the svarint arguments of the
 * type are zigzagged here, since the encoder takes them as the writer stores them.
 */
void put_event(struct ctr_bytes *b, uint8_t type, uint64_t delta, const uint64_t *vals,
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

/* A kind-1 clock: ticks are ns. */
void ns_clock(struct ctr_genenc *e, uint64_t t0)
{
	const struct ctr_sync s = { t0, t0, 1700000000000000000ull };

	ctr_genenc_clock(e, 1, 1, 1, &s, 1);
}

/* A SCHEMA record by hand: the built-in types but @skip, @extra more arguments for @wide. */
void put_schema(struct ctr_genenc *e, unsigned skip, unsigned wide, unsigned extra,
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
uint64_t small_gen(struct ctr_genenc *e, uint32_t pid, uint32_t seq)
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
void small_trace(struct ctr_bytes *f, size_t *gen2)
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

const char *write_temp(const void *p, size_t n)
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

uint64_t rng_state = 0x9e3779b97f4a7c15ull;

uint64_t rng(void) /* xorshift64*: the same damage on every run */
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

/* All events of @g; @return 0 or the error that stopped them. */
int gen_events(ctrace_gen *g, uint64_t *count)
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
struct readout read_mem(const void *p, size_t n)
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

struct readout read_path(const char *path)
{
	ctrace_reader *r;
	int err = ctrace_reader_open(path, &r);

	return read_all(r, err);
}

struct readout read_file(const void *p, size_t n)
{
	const char *path = write_temp(p, n);
	struct readout o = read_path(path);

	unlink(path);
	return o;
}

/* ---- the expected model of a generation, for the round trip ---- */

/* FORMAT.md's conversion, written out independently of the reader. */
int64_t xtime(const struct xgen *x, uint64_t t)
{
	__int128 d = (__int128)t - (__int128)x->t0;
	return (int64_t)((__int128)x->m0 + d * x->ns_span / x->tick_span);
}

void batch_begin(struct xgen *x, struct xbatch *b, uint32_t tid, uint64_t base)
{
	memset(b, 0, sizeof(*b));
	b->tid = tid;
	b->base = b->ticks = base;
	b->first = x->nev;
}

void batch_event(struct xgen *x, struct xbatch *b, uint8_t type, uint64_t delta,
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

void batch_end(struct ctr_genenc *e, struct xgen *x, struct xbatch *b)
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
void check_gen(ctrace_gen *g, struct xgen *x)
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

/* ---- the tables of the round trip's first generation, which damaged content reuses ---- */

const char build_id[20] = "\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
			  "\x0b\x0c\x0d\x0e\x0f";
const char argv_a[] = "prog\0-x\0two words";

/* STRINGS twice (ids run on across records), MAPPINGS and FRAMES, byte by byte. */
void put_tables(struct ctr_genenc *e)
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
void put_stacks(struct ctr_genenc *e)
{
	struct ctr_bytes b = { 0 };

	VARINTS(&b, 3, UINT64_MAX, CTR_STACK_MAX_DEPTH);
	for (unsigned i = 0; i < CTR_STACK_MAX_DEPTH; i++)
		ctr_bytes_varint(&b, i % 3 + 1);
	VARINTS(&b, 1, 2, 1, 3, STACK_BIG, 0);
	record(e, CTR_REC_STACKS, &b);
}

/* ---- which tests run ---- */

static int argc_;
static char **argv_;

void test_args(int argc, char **argv)
{
	argc_ = argc;
	argv_ = argv;
}

bool test_named(const char *name)
{
	bool run = argc_ < 2;

	for (int i = 1; i < argc_; i++)
		run |= strcmp(argv_[i], name) == 0;
	return run;
}
