/*
 * What the format tests share (test_format.c and test_format_hostile.c): building traces with
 * the encoder, reading them back as a viewer would, the expected model of a generation, and
 * the choice of tests to run. The comments in formatlib.c say more about each function.
 */
#ifndef FORMATLIB_H
#define FORMATLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ctrace/trace.h>

#include "ctest.h"
#include "encode.h"
#include "events.h"

#define ZLEVEL 3
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- building traces ---- */

/* Append the @n varints at @v to @b. */
void put_varints(struct ctr_bytes *b, const uint64_t *v, size_t n);
#define VARINTS(b, ...) \
	put_varints(b, (const uint64_t[]){ __VA_ARGS__ }, NELEM(((const uint64_t[]){ __VA_ARGS__ })))

/* Append @s as a string (its length, then its bytes). */
void put_str(struct ctr_bytes *b, const char *s);

/* Hand the payload built in @b to the encoder as one record, and empty @b. */
void record(struct ctr_genenc *e, uint8_t type, struct ctr_bytes *b);

/* Start a file in @f with the file header. */
void file_begin(struct ctr_bytes *f);

/* Append the finished generation to @f, its header @extra bytes longer (a later minor's). */
void gen_finish_long(struct ctr_genenc *e, struct ctr_bytes *f, size_t extra);

/* Append the finished generation to @f. */
void gen_finish(struct ctr_genenc *e, struct ctr_bytes *f);

/* Append one event of @nargs arguments @vals, as the reader should return them, to @b. */
void put_event(struct ctr_bytes *b, uint8_t type, uint64_t delta, const uint64_t *vals,
	       unsigned nargs, const void *blob, size_t blob_len);

/* An event of a known type with as many arguments as CTR_EVENT_TABLE gives it (rest 0). */
#define PUT_EV(b, type, delta, blob, len, ...)                                          \
	put_event(b, type, delta, (const uint64_t[CTRACE_EVENT_MAX_ARGS]){ __VA_ARGS__ }, \
		  ctr_events[type].nargs, blob, len)

/* A kind-1 clock (ticks are ns) synced at tick @t0. */
void ns_clock(struct ctr_genenc *e, uint64_t t0);

/* An event type as a SCHEMA record declares it. */
struct decl {
	uint64_t type, nargs;
	uint8_t flags;
	const char *name;
};

/* A SCHEMA record by hand: the built-in types but @skip, @extra more arguments for @wide. */
void put_schema(struct ctr_genenc *e, unsigned skip, unsigned wide, unsigned extra,
		const struct decl *more, size_t nmore);

/* A small valid generation of thread @pid; @return its number of events (4). */
uint64_t small_gen(struct ctr_genenc *e, uint32_t pid, uint32_t seq);

/* Two small generations of one process in @f; @gen2 gets the offset of the second. */
void small_trace(struct ctr_bytes *f, size_t *gen2);

/* Write @n bytes to a new temporary file; @return its path (static, until the next call). */
const char *write_temp(const void *p, size_t n);

/* The state of rng(); a test sets it to have the same numbers whatever ran before. */
extern uint64_t rng_state;

/* The next number of a xorshift64* sequence. */
uint64_t rng(void);

/* ---- reading everything, as a viewer following every id would ---- */

struct readout {
	int rc;          /* first error, or 0 when everything read */
	unsigned gens;   /* generations whose events all came out */
	uint64_t events; /* events of those generations */
	uint64_t err_off;
	char msg[512];
};

/* Read all events of @g into @count; @return 0 or the error that stopped them. */
int gen_events(ctrace_gen *g, uint64_t *count);

/* Read everything of the @n bytes at @p, from a heap copy of exactly that size. */
struct readout read_mem(const void *p, size_t n);

/* Read everything of the file at @path. */
struct readout read_path(const char *path);

/* Read everything of the @n bytes at @p, through a temporary file. */
struct readout read_file(const void *p, size_t n);

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

/* The time in ns of tick @t by @x's clock, as FORMAT.md converts it. */
int64_t xtime(const struct xgen *x, uint64_t t);

/* Begin batch @b of thread @tid at tick @base. */
void batch_begin(struct xgen *x, struct xbatch *b, uint32_t tid, uint64_t base);

/* Append an event to @b, and to the events @x expects. */
void batch_event(struct xgen *x, struct xbatch *b, uint8_t type, uint64_t delta,
		 const uint64_t *vals, const void *blob, size_t blob_len);
#define BEV(x, b, type, delta, blob, len, ...) \
	batch_event(x, b, type, delta, (const uint64_t[CTRACE_EVENT_MAX_ARGS]){ __VA_ARGS__ }, blob, len)

/* Hand batch @b to the encoder and free its bytes. */
void batch_end(struct ctr_genenc *e, struct xgen *x, struct xbatch *b);

/* The header, process and every event of @g against @x, in time order. */
void check_gen(ctrace_gen *g, struct xgen *x);

/* ---- the tables of the round trip's first generation ---- */

/* The build id of its first mapping. */
extern const char build_id[20];

/* Its process's argv: "prog\0-x\0two words" and the final NUL. */
extern const char argv_a[18];

/* A stack id defined with no frames. */
#define STACK_BIG 0x123456789ull

/* Its STRINGS, MAPPINGS and FRAMES records. */
void put_tables(struct ctr_genenc *e);

/* Its STACKS record. */
void put_stacks(struct ctr_genenc *e);

/* ---- which tests run ---- */

/* Keep the command line: the names on it are the tests to run (none: all of them). */
void test_args(int argc, char **argv);

/* Whether test @name runs: no test is named on the command line, or it is one of those. */
bool test_named(const char *name);

/* Run @fn when no test is named on the command line or it is one of those named. */
#define TEST(fn)                     \
	do {                         \
		if (test_named(#fn)) \
			RUN(fn);     \
	} while (0)

#endif
