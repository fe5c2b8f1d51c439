/*
 * Writes the format fixtures: tests/data/good/ (traces every reader must decode) and
 * tests/data/bad/ (files it must refuse, each with an error naming a byte offset).
 * test_format.c reads them; tests/data/README.md says what each one holds.
 *
 * Not part of the meson build: the fixtures are committed, so that a change to the encoder
 * cannot quietly change what the reader is held to. To regenerate, from the source root:
 *
 *   cc -std=gnu11 -O2 -Iinclude -Iformat -o /tmp/make_fixtures tests/unit/make_fixtures.c \
 *      format/encode.c format/events.c -lzstd && /tmp/make_fixtures tests/data
 *
 * The output is deterministic for a given zstd version (no clocks, no pids of this process).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "events.h"
#include "varint.h"

static const char *outdir;

static void die(const char *what)
{
	fprintf(stderr, "make_fixtures: %s\n", what);
	exit(1);
}

static void put_varints(struct ctr_bytes *b, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctr_bytes_varint(b, v[i]);
}
#define VARINTS(b, ...) \
	put_varints(b, (const uint64_t[]){ __VA_ARGS__ }, \
		    sizeof((const uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))

/* An event of a known type, its svarint arguments zigzagged as the writer stores them. */
static void event(struct ctr_bytes *b, uint8_t type, uint64_t delta, const uint64_t *vals,
		  const char *blob, size_t blob_len)
{
	uint8_t tmp[1 + 10 * CTR_VARINT_MAX + 256];
	uint64_t enc[CTRACE_EVENT_MAX_ARGS];
	const struct ctr_event_desc *d = &ctr_events[type];

	if (blob_len > 256)
		die("blob too long");
	for (unsigned i = 0; i < d->nargs; i++)
		enc[i] = (d->signed_mask >> i) & 1 ? ctr_zigzag((int64_t)vals[i]) : vals[i];
	ctr_bytes_put(b, tmp, ctr_event_encode(tmp, type, delta, enc, d->nargs, blob, blob_len));
}
#define EV(b, type, delta, blob, len, ...) \
	event(b, type, delta, (const uint64_t[CTRACE_EVENT_MAX_ARGS]){ __VA_ARGS__ }, blob, len)

static void record(struct ctr_genenc *e, uint8_t type, struct ctr_bytes *b)
{
	if (b->failed)
		die("out of memory");
	ctr_genenc_record(e, type, b->p, b->len);
	ctr_bytes_free(b);
}

static void ns_clock(struct ctr_genenc *e, uint64_t t0, uint64_t t1)
{
	const struct ctr_sync s[2] = { { t0, t0, 1700000000000000000ull + t0 },
				       { t1, t1, 1700000000000000000ull + t1 } };

	ctr_genenc_clock(e, 1, 1, 1, s, 2);
}

static void file_header(struct ctr_bytes *f)
{
	uint8_t h[CTR_FILE_HEADER_SIZE];

	ctr_file_header(h);
	ctr_bytes_put(f, h, sizeof(h));
}

/* Append the generation, its header @extra bytes longer than version 1.0's. */
static void finish(struct ctr_genenc *e, struct ctr_bytes *f, size_t extra)
{
	const uint8_t *hdr, *frame;
	uint8_t h[CTR_GEN_HEADER_SIZE];
	size_t len;

	if (ctr_genenc_finish(e, &hdr, &frame, &len) < 0)
		die("encoder failed");
	memcpy(h, hdr, sizeof(h));
	ctr_put_u32le(h + 4, (uint32_t)(CTR_GEN_HEADER_SIZE - 8 + extra));
	ctr_bytes_put(f, h, sizeof(h));
	for (size_t i = 0; i < extra; i++)
		ctr_bytes_put(f, "", 1);
	ctr_bytes_put(f, frame, len);
}

static void write_fixture(const char *dir, const char *name, const struct ctr_bytes *f,
			  size_t len)
{
	char path[512];

	if (f->failed || len > 4096)
		die(name);
	snprintf(path, sizeof(path), "%s/%s/%s.ctrace", outdir, dir, name);
	FILE *fp = fopen(path, "wb");
	if (!fp || fwrite(f->p, 1, len, fp) != len || fclose(fp) != 0)
		die(path);
	printf("%-40s %5zu bytes\n", path, len);
}

/*
 * The usual start of a generation as the tracer writes it: SCHEMA, CALLS, PROCESS, INFO.
 * Generations of the same pid share the process description.
 */
static void gen_begin(struct ctr_genenc *e, uint32_t pid, uint32_t seq)
{
	static const char argv[] = "worker\0--threads\0" "2";

	ctr_genenc_begin(e, pid, seq);
	ctr_genenc_schema(e);
	ctr_genenc_calls(e);
	ctr_genenc_process(e, pid, 1, "/usr/bin/worker", argv, sizeof(argv), 1700000000000000000ull);
	ctr_genenc_info(e, "clock", "monotonic");
}

/* Thread @tid's life from @t: start, a contended lock, a read of a pipe, a name, its end. */
static void thread_batch(struct ctr_genenc *e, uint32_t tid, uint64_t t, int last)
{
	struct ctr_bytes b = { 0 };

	EV(&b, CTRACE_EV_THREAD_START, 0, NULL, 0, 1000, 0, 0);
	EV(&b, CTRACE_EV_THREAD_NAME, 10, "worker-1", 8, 0);
	EV(&b, CTRACE_EV_BLOCK_BEGIN, 500, NULL, 0, CTRACE_REASON_SYNC, CTR_CALL_PTHREAD_MUTEX_LOCK,
	   0x7ffd1000, 0);
	EV(&b, CTRACE_EV_BLOCK_END, 2500, NULL, 0, 0);
	EV(&b, CTRACE_EV_CALL_BEGIN, 40, NULL, 0, CTR_CALL_READ, 3, CTRACE_FD_PIPE, 0);
	EV(&b, CTRACE_EV_CALL_END, 9000, NULL, 0, (uint64_t)-11, 11, 0);
	EV(&b, CTRACE_EV_SWITCH_OUT, 5, NULL, 0, 2, 0);
	EV(&b, CTRACE_EV_SWITCH_IN, 700, NULL, 0, 3);
	EV(&b, CTRACE_EV_THREAD_END, 60, NULL, 0, last ? CTRACE_END_PROCESS_EXIT : CTRACE_END_RETURN);
	ctr_genenc_batch(e, tid, t, 9, b.p, b.len, (int64_t)t, (int64_t)t + 12815);
	ctr_bytes_free(&b);
}

/* One process, one generation, two threads, stopped cleanly. */
static void single_generation(struct ctr_genenc *e, struct ctr_bytes *f)
{
	file_header(f);
	gen_begin(e, 1000, 0);
	thread_batch(e, 1000, 5000000000, 0);
	thread_batch(e, 1001, 5000001000, 1);
	ns_clock(e, 5000000000, 5000020000);
	e->threads = 2;
	e->flags = CTRACE_GEN_LAST;
	finish(e, f, 0);
}

/* Two processes merged: 1000's two generations around 2000's one, by first event time. */
static void multi_process(struct ctr_genenc *e, struct ctr_bytes *f)
{
	static const struct { uint32_t pid, seq; uint64_t t; int last; } gens[3] = {
		{ 1000, 0, 5000000000, 0 }, { 2000, 0, 5000005000, 1 }, { 1000, 1, 5000030000, 1 },
	};

	file_header(f);
	for (int i = 0; i < 3; i++) {
		gen_begin(e, gens[i].pid, gens[i].seq);
		thread_batch(e, gens[i].pid, gens[i].t, gens[i].last);
		ns_clock(e, gens[i].t, gens[i].t + 20000);
		e->threads = 1;
		e->flags = gens[i].last ? CTRACE_GEN_LAST : 0;
		finish(e, f, 0);
	}
}

/* Strings, mappings, frames and stacks that events refer to; a TSC clock at 3 ticks per ns. */
static void symbols(struct ctr_genenc *e, struct ctr_bytes *f)
{
	static const char build_id[] = "\x5a\x1e\x0f\x77\x12\x34\x56\x78\x9a\xbc";
	const struct ctr_sync s[2] = { { 3000, 1000, 1700000000000000000ull },
				       { 303000, 101000, 1700000000000100000ull } };
	struct ctr_bytes b = { 0 };

	file_header(f);
	gen_begin(e, 1000, 0);
	VARINTS(&b, 5);
	ctr_bytes_string(&b, "/usr/bin/worker", 15);
	ctr_bytes_string(&b, "/usr/lib/libc.so.6", 18);
	ctr_bytes_string(&b, "main", 4);
	ctr_bytes_string(&b, "do_work", 7);
	ctr_bytes_string(&b, "worker.c", 8);
	record(e, CTR_REC_STRINGS, &b);
	VARINTS(&b, 2, 0x400000, 0x402000, 0, 1);
	ctr_bytes_string(&b, build_id, sizeof(build_id) - 1);
	VARINTS(&b, 0x7f0000000000, 0x7f0000200000, 0x28000, 2, 0);
	record(e, CTR_REC_MAPPINGS, &b);
	VARINTS(&b, 3, 0x401234, 1, 4, 5, 42, 0x400800, 1, 3, 5, 7, 0x7f0000031337, 2, 0, 0, 0);
	record(e, CTR_REC_FRAMES, &b);

	EV(&b, CTRACE_EV_ALLOC, 0, NULL, 0, CTR_CALL_MALLOC, 0x5555000010, 4096, 7, 4096);
	EV(&b, CTRACE_EV_CPU_SAMPLE, 3000, NULL, 0, 7);
	EV(&b, CTRACE_EV_BLOCK_BEGIN, 30, NULL, 0, CTRACE_REASON_IO, CTR_CALL_READ, 3, 9);
	EV(&b, CTRACE_EV_BLOCK_END, 60000, NULL, 0, 4096);
	EV(&b, CTRACE_EV_FREE, 300, NULL, 0, CTR_CALL_FREE, 0x5555000010);
	EV(&b, CTRACE_EV_ALLOC_STATS, 3, NULL, 0, 1, 4096, 1);
	ctr_genenc_batch(e, 1000, 4500, 6, b.p, b.len, 1500, 22611);
	ctr_bytes_free(&b);
	/* The writer puts the stacks after the events that use them; ids are its own. */
	VARINTS(&b, 2, 7, 3, 1, 2, 3, 9, 2, 3, 2);
	record(e, CTR_REC_STACKS, &b);
	ctr_genenc_clock(e, 0, 3, 1, s, 2);
	e->threads = 1;
	e->flags = CTRACE_GEN_LAST;
	finish(e, f, 0);
}

/* What version 1.3 might write: all of it skippable by a 1.0 reader. */
static void future_minor(struct ctr_genenc *e, struct ctr_bytes *f)
{
	static const uint8_t meta[] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'm', 'e', 't', 'a' };
	struct ctr_bytes b = { 0 };
	const unsigned sw = ctr_events[CTRACE_EV_SWITCH_IN].nargs;

	file_header(f);
	f->p[18] = 3;
	ctr_bytes_put(f, meta, sizeof(meta)); /* a skippable frame between generations */
	ctr_genenc_begin(e, 1000, 0);
	ctr_genenc_record(e, 42, "new record", 10);
	/* SCHEMA: the 1.0 types, switch_in with one more argument, and a new type 100. */
	VARINTS(&b, CTRACE_EV_COUNT_);
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++) {
		VARINTS(&b, t, ctr_events[t].nargs + (t == CTRACE_EV_SWITCH_IN));
		ctr_bytes_put(&b, &ctr_events[t].has_blob, 1);
		ctr_bytes_string(&b, ctr_events[t].name, strlen(ctr_events[t].name));
	}
	VARINTS(&b, 100, 2);
	ctr_bytes_put(&b, "\x01", 1);
	ctr_bytes_string(&b, "gpu_kernel", 10);
	record(e, CTR_REC_SCHEMA, &b);
	ctr_genenc_calls(e);
	/* PROCESS with a field after start_realtime_ns. */
	VARINTS(&b, 1000, 1);
	ctr_bytes_string(&b, "/usr/bin/worker", 15);
	ctr_bytes_string(&b, "worker", 7);
	VARINTS(&b, 1700000000000000000ull, 12345);
	record(e, CTR_REC_PROCESS, &b);

	EV(&b, CTRACE_EV_THREAD_START, 0, NULL, 0, 1, 0, 1);
	VARINTS(&b, CTRACE_EV_SWITCH_IN, 100);
	for (unsigned i = 0; i < sw; i++)
		ctr_bytes_varint(&b, 2);
	ctr_bytes_varint(&b, 77); /* the new trailing argument */
	VARINTS(&b, 100, 50, 1, 123456789);
	ctr_bytes_string(&b, "saxpy", 5);
	EV(&b, CTRACE_EV_THREAD_END, 10, NULL, 0, CTRACE_END_PROCESS_EXIT);
	ctr_genenc_batch(e, 1000, 1000, 4, b.p, b.len, 1000, 1160);
	ctr_bytes_free(&b);
	ns_clock(e, 1000, 2000);
	e->threads = 1;
	e->flags = CTRACE_GEN_LAST;
	finish(e, f, 16);
}

/* A generation of @content after SCHEMA, for the must-reject files built from records. */
static void bad_gen(struct ctr_genenc *e, struct ctr_bytes *f, int schema, const char *content,
		    size_t len)
{
	file_header(f);
	ctr_genenc_begin(e, 1000, 0);
	if (schema)
		ctr_genenc_schema(e);
	ctr_genenc_put(e, content, len);
	ns_clock(e, 1000, 2000);
	e->threads = 1;
	finish(e, f, 0);
}

static void bad(const char *name, struct ctr_genenc *e, int schema, const char *content,
		size_t len)
{
	struct ctr_bytes f = { 0 };

	bad_gen(e, &f, schema, content, len);
	write_fixture("bad", name, &f, f.len);
	ctr_bytes_free(&f);
}

int main(int argc, char **argv)
{
	struct ctr_genenc e;
	struct ctr_bytes f = { 0 };
	size_t frame;

	outdir = argc > 1 ? argv[1] : "tests/data";
	if (ctr_genenc_init(&e, 19) < 0)
		die("out of memory");

	multi_process(&e, &f);
	write_fixture("good", "multi_process", &f, f.len);
	ctr_bytes_free(&f);
	symbols(&e, &f);
	write_fixture("good", "symbols", &f, f.len);
	ctr_bytes_free(&f);
	future_minor(&e, &f);
	write_fixture("good", "future_minor", &f, f.len);
	ctr_bytes_free(&f);

	/* The single generation, then the ways a copy of it can be damaged. */
	single_generation(&e, &f);
	write_fixture("good", "single_generation", &f, f.len);
	frame = CTR_FILE_HEADER_SIZE + CTR_GEN_HEADER_SIZE;
	write_fixture("bad", "truncated_file_header", &f, 12);
	write_fixture("bad", "truncated_gen_header", &f, CTR_FILE_HEADER_SIZE + 30);
	write_fixture("bad", "truncated_frame", &f, f.len - 10);
	f.p[frame + (f.len - frame) / 2] ^= 0x10;
	write_fixture("bad", "corrupt_zstd", &f, f.len);
	f.p[frame + (f.len - frame) / 2] ^= 0x10;
	ctr_put_u64le(f.p + CTR_FILE_HEADER_SIZE + 16, 1ull << 31);
	write_fixture("bad", "oversized_generation", &f, f.len);
	ctr_bytes_free(&f);
	file_header(&f);
	f.p[0] = 0x28; /* a zstd frame's magic, not a trace's */
	write_fixture("bad", "bad_magic", &f, f.len);
	f.p[0] = 0x5c;
	f.p[16] = 2;
	write_fixture("bad", "future_major", &f, f.len);
	ctr_bytes_free(&f);

	/* Records byte by byte; a batch is tid 1000 (e8 07), base 1000, then its events. */
	static const char varint[] = "\x08\x12\xe8\x07\xe8\x07\x01\x15"
				     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01";
	bad("bad_varint", &e, 1, varint, sizeof(varint) - 1);
	static const char frame9[] = "\x06\x06\x01\x01\x00\x00\x00\x00\x07\x05\x01\x01\x02\x01\x09";
	bad("undefined_frame", &e, 1, frame9, sizeof(frame9) - 1);
	static const char early[] = "\x08\x08\xe8\x07\xe8\x07\x01\x15\x00\x01";
	bad("batch_before_schema", &e, 0, early, sizeof(early) - 1);
	static const char unknown[] = "\x08\x08\xe8\x07\xe8\x07\x01\x63\x00\x01";
	bad("event_not_in_schema", &e, 1, unknown, sizeof(unknown) - 1);
	static const char fewer[] = "\x08\x0e\xe8\x07\xe8\x07\x04\x15\x00\x01\x15\x01\x01\x15\x01\x01";
	bad("batch_short", &e, 1, fewer, sizeof(fewer) - 1);
	struct ctr_bytes deep = { 0 };
	ctr_bytes_put(&deep, "\x06\x06\x01\x01\x00\x00\x00\x00", 8);
	VARINTS(&deep, CTR_REC_STACKS, 5004, 1, 1, 5000);
	for (int i = 0; i < 5000; i++)
		ctr_bytes_varint(&deep, 1);
	bad("stack_too_deep", &e, 1, (const char *)deep.p, deep.len);
	ctr_bytes_free(&deep);
	ctr_genenc_fini(&e);
	return 0;
}
