/*
 * The trace format held to FORMAT.md: traces built with the encoder read back exactly, what a
 * later minor version adds is skipped, ticks convert to ns exactly, and the fixtures in
 * data/good decode while those in data/bad are refused. Section 3, hostile input, is
 * test_format_hostile.c; formatlib.c has what both share.
 *
 * Runs with tests/ as the working directory (meson sets it) so that data/ is found. The suite
 * also runs under ASan+UBSan, which is why every hostile input is read from a heap copy of
 * exactly its size: a read one byte past the end is then a reported error, not luck.
 */
#include <dirent.h>
#include <unistd.h>
#include <ctrace/trace.h>

#include "ctest.h"
#include "encode.h"
#include "events.h"
#include "formatlib.h"
#include "varint.h"

/* ---- 1. round trip ---- */

static const uint64_t edges[] = {
	0, 1, 127, 128, 16383, 16384, UINT32_MAX, (1ull << 56) - 1, 1ull << 56,
	(1ull << 63) - 1, 1ull << 63, UINT64_MAX - 1, UINT64_MAX,
};
static const uint64_t deltas[] = { 0, 1, 3, 1000, 1ull << 20, 0, 1ull << 40 };
static const uint8_t odd_blob[] = { 0, 0xff, 'a', 0, 0x80, '\n' };
static uint8_t long_blob[300];

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

static void skippable(struct ctr_bytes *f, uint32_t magic, const char *payload)
{
	uint8_t h[8];

	ctr_put_u32le(h, magic);
	ctr_put_u32le(h + 4, (uint32_t)strlen(payload));
	ctr_bytes_put(f, h, 8);
	ctr_bytes_put(f, payload, strlen(payload));
}

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

/* ---- reader bugs: these fail until format/reader.c is fixed (see each comment) ---- */

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

/* Test names on the command line run only those tests (formatlib.h, TEST). */
int main(int argc, char **argv)
{
	test_args(argc, argv);
	TEST(round_trip_is_exact);
	TEST(later_minor_version_is_read);
	TEST(index_then_seek);
	TEST(good_fixtures_decode);
	TEST(bad_fixtures_are_refused);
	TEST(tick_conversion_is_exact);
	/* Last, since they fail until the reader bugs they describe are fixed. */
	TEST(process_record_is_optional);
	TEST(short_file_reads_as_truncated);
	return 0;
}
