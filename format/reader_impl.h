/*
 * The reader's private structures, shared by reader.c (files, headers, records) and
 * gen.c (a generation's events and tables). Nothing outside format/ sees them.
 */
#ifndef CTR_READER_IMPL_H
#define CTR_READER_IMPL_H

#include <stdint.h>
#include <zstd.h>

#include "events.h"

#define MAX_CALL_ID 65535u

struct batch {
	uint32_t tid;
	uint64_t base;
	uint64_t nevents;
	const uint8_t *p, *end;
	const uint8_t *start;
	size_t start_off; /* in the content, for messages (of p: start_off + (p - start)) */
	/* iteration state */
	uint64_t left;
	uint64_t ticks;
	struct ctrace_event ev; /* the event at the heap position (time-ordered iteration) */
};

struct str_ref {
	size_t off; /* into the arena */
};

struct mapping {
	uint64_t start, end, file_offset, path;
	const uint8_t *build_id;
	size_t build_id_len;
};

struct stack_ref {
	uint64_t id;
	size_t off; /* into the frame id pool */
	uint32_t depth;
};

struct info_kv {
	size_t key, value; /* arena offsets */
};

struct heap_item {
	uint64_t ticks;
	uint32_t batch;
};

struct ctrace_gen {
	struct ctrace_reader *r;
	struct ctrace_gen_info info;
	struct ctrace_process proc;
	struct ctr_schema schema;
	int have_schema, have_clock, have_process;
	/* clock */
	unsigned clock_kind;
	uint64_t t0, m0, r0, tick_span, ns_span;
	uint64_t mult_hi, mult_lo; /* ns_span / tick_span in 64.64 fixed point (floor) */
	int clock_identity; /* ticks are the monotonic clock itself */
	uint64_t fast_span; /* the fixed-point conversion applies below t0 + this (ticks_to_ns) */
	size_t cur_batch; /* batched iteration */
	/* string arena: NUL-terminated copies */
	char *arena;
	size_t arena_len, arena_cap;
	size_t exe_off, argv_off, argv_len;
	struct str_ref *strings; /* index 0 unused */
	size_t nstrings, strings_cap;
	struct mapping *mappings;
	size_t nmappings, mappings_cap;
	struct ctrace_frame *frames; /* resolved after parsing */
	uint64_t *frame_refs;        /* per frame: mapping, function, file string ids */
	size_t nframes, frames_cap;
	uint32_t *frame_pool;
	size_t pool_len, pool_cap;
	struct stack_ref *stacks;
	size_t nstacks, stacks_cap;
	struct ctrace_call *calls; /* by id */
	size_t *call_names;        /* arena offsets by id, SIZE_MAX when absent */
	size_t ncalls;             /* max id + 1 */
	struct info_kv *infos;
	size_t ninfos, infos_cap;
	struct batch *batches;
	size_t nbatches, batches_cap;
	/* merge heap of batches, keyed by their next event's ticks */
	struct heap_item *heap;
	size_t heap_len, heap_cap;
	int primed;
	int pending_err; /* damage found after the event last handed out */
	struct ctrace_event out;
};

struct ctrace_reader {
	char *name;
	int fd;
	const uint8_t *mem;
	uint64_t size;
	uint64_t pos;      /* next generation header */
	unsigned minor;
	int64_t start_ns;
	struct ctrace_gen_info info;
	int have_info;
	uint8_t *cbuf; /* compressed frame (file input) */
	size_t cbuf_cap;
	uint8_t *content;
	size_t content_cap;
	ZSTD_DCtx *dctx;
	struct ctrace_gen gen;
	int gen_loaded;
	char msg[512];
	uint64_t err_off;
	unsigned jobs; /* threads ctrace_model_build may load generations ahead with */
};

int ctr_reader_clone(const struct ctrace_reader *r, struct ctrace_reader **out);
int ctr_reader_take_error(struct ctrace_reader *r, const struct ctrace_reader *from, int err);


/* Record an error of @r with a message naming @off: @return @err. */
int ctr_reader_fail(struct ctrace_reader *r, int err, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
