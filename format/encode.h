/*
 * Generation encoder: builds one generation's records, compresses them with zstd as they
 * come, and produces the generation header and frame. Used by the tracer's writer thread,
 * by `ctrace import` and by the tests' synthetic traces.
 */
#ifndef CTR_ENCODE_H
#define CTR_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"

struct ZSTD_CCtx_s;

struct ctr_sync {
	uint64_t ticks;
	uint64_t mono_ns;
	uint64_t real_ns;
};

struct ctr_genenc {
	struct ZSTD_CCtx_s *cctx;
	int level;
	/* records not yet handed to zstd */
	uint8_t *raw;
	size_t raw_len, raw_cap;
	/* the compressed frame so far */
	uint8_t *out;
	size_t out_len, out_cap;
	uint64_t content_size;
	int failed; /* a CTRACE_E* error, sticky until begin */
	/* header fields */
	uint32_t pid, seq, threads, flags;
	uint64_t events;
	int64_t first_ns, last_ns;
	int64_t close_ns; /* header time of a generation without events */
	uint8_t header[CTR_GEN_HEADER_SIZE];
};

/* @return 0 or CTRACE_ENOMEM. */
int ctr_genenc_init(struct ctr_genenc *e, int level);
void ctr_genenc_fini(struct ctr_genenc *e);

/* Start a generation: resets the frame; writes nothing yet. */
void ctr_genenc_begin(struct ctr_genenc *e, uint32_t pid, uint32_t seq);

/* Append a whole record. */
void ctr_genenc_record(struct ctr_genenc *e, uint8_t type, const void *payload, size_t len);

/* Records with a known layout. */
void ctr_genenc_schema(struct ctr_genenc *e);
void ctr_genenc_calls(struct ctr_genenc *e);
void ctr_genenc_clock(struct ctr_genenc *e, unsigned kind, uint64_t tick_span, uint64_t ns_span,
		      const struct ctr_sync *syncs, size_t nsyncs);
void ctr_genenc_process(struct ctr_genenc *e, uint32_t pid, uint32_t ppid, const char *exe,
			const char *argv, size_t argv_len, uint64_t start_real_ns);
void ctr_genenc_info(struct ctr_genenc *e, const char *key, const char *value);

/*
 * A BATCH record: @nevents events of @tid, @len bytes, times relative to @base_ticks.
 * @first_ns/@last_ns are the batch's event times (for the header); pass a negative
 * @first_ns when the batch has no event.
 */
void ctr_genenc_batch(struct ctr_genenc *e, uint32_t tid, uint64_t base_ticks, uint64_t nevents,
		      const void *events, size_t len, int64_t first_ns, int64_t last_ns);

/* Low-level append for records built piecewise: the bytes go into the content as given. */
void ctr_genenc_put(struct ctr_genenc *e, const void *data, size_t len);

/*
 * End the generation. On success the header and frame pointers point into the encoder (valid until the next
 * begin) and the caller writes header then frame.
 * @return 0 or a negative error (CTRACE_ENOMEM, CTRACE_EZSTD, CTRACE_ETOOBIG).
 */
int ctr_genenc_finish(struct ctr_genenc *e, const uint8_t **hdr, const uint8_t **frame,
		      size_t *frame_len);

/* Uncompressed bytes appended so far in this generation. */
static inline uint64_t ctr_genenc_size(const struct ctr_genenc *e)
{
	return e->content_size;
}

/* The 24-byte file header. */
void ctr_file_header(uint8_t out[CTR_FILE_HEADER_SIZE]);

/* A small growable byte buffer for building record payloads. */
struct ctr_bytes {
	uint8_t *p;
	size_t len, cap;
	int failed;
};
void ctr_bytes_varint(struct ctr_bytes *b, uint64_t v);
void ctr_bytes_put(struct ctr_bytes *b, const void *data, size_t len);
void ctr_bytes_string(struct ctr_bytes *b, const char *s, size_t len);
void ctr_bytes_free(struct ctr_bytes *b);

#endif
