/*
 * The trace reader held to FORMAT.md against hostile bytes: a trace cut at every byte, random
 * bit flips over whole files, damaged content re-compressed so that the record and event
 * parsers themselves meet it, bad file headers, corrupt generations built on purpose (each
 * after a valid one, which must still come out whole), and a tick ratio whose times must
 * saturate. Every refusal is an error that names a byte offset, and nothing crashes.
 * test_format.c holds the reader to well-formed traces; formatlib.c has what both share.
 *
 * Runs with tests/ as the working directory (meson sets it): bad_file_headers_are_refused
 * opens data/no-such-file.ctrace and the directory data. The suite also runs under
 * ASan+UBSan, which is why every hostile input is read from a heap copy of exactly its size:
 * a read one byte past the end is then a reported error, not luck.
 */
#include <zstd.h>
#include <ctrace/trace.h>

#include "ctest.h"
#include "encode.h"
#include "events.h"
#include "formatlib.h"
#include "varint.h"

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
		/* Through a file too (short_file_reads_as_truncated, in test_format.c, covers the
		 * file header). */
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

/* Test names on the command line run only those tests (formatlib.h, TEST). */
int main(int argc, char **argv)
{
	test_args(argc, argv);
	TEST(truncation_at_every_byte);
	TEST(bit_flips_never_crash);
	TEST(damaged_content_never_crashes);
	TEST(bad_file_headers_are_refused);
	TEST(corrupt_generations_are_refused);
	/* Last, since it fails until the reader bug it describes is fixed. */
	TEST(hostile_clock_saturates);
	return 0;
}
