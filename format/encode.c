#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "encode.h"
#include "varint.h"

/* Records are gathered up to this size before zstd sees them, so small records are cheap. */
#define RAW_FLUSH (128u * 1024u)

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 4096;
	while (ncap < need)
		ncap *= 2;
	uint8_t *n = realloc(*buf, ncap);
	if (!n)
		return CTRACE_ENOMEM;
	*buf = n;
	*cap = ncap;
	return 0;
}

int ctr_genenc_init(struct ctr_genenc *e, int level)
{
	memset(e, 0, sizeof(*e));
	e->level = level;
	e->cctx = ZSTD_createCCtx();
	if (!e->cctx)
		return CTRACE_ENOMEM;
	return 0;
}

void ctr_genenc_fini(struct ctr_genenc *e)
{
	ZSTD_freeCCtx(e->cctx);
	free(e->raw);
	free(e->out);
	memset(e, 0, sizeof(*e));
}

void ctr_genenc_begin(struct ctr_genenc *e, uint32_t pid, uint32_t seq)
{
	ZSTD_CCtx_reset(e->cctx, ZSTD_reset_session_only);
	ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_compressionLevel, e->level);
	ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_checksumFlag, 1);
	e->raw_len = 0;
	e->out_len = 0;
	e->content_size = 0;
	e->failed = 0;
	e->pid = pid;
	e->seq = seq;
	e->threads = 0;
	e->flags = 0;
	e->events = 0;
	e->first_ns = -1;
	e->last_ns = -1;
	e->close_ns = 0;
}

/* Hand @len bytes at @data to zstd with @op, growing the output as it needs. */
static void compress(struct ctr_genenc *e, const void *data, size_t len, ZSTD_EndDirective op)
{
	ZSTD_inBuffer in = { data, len, 0 };

	if (e->failed)
		return;
	for (;;) {
		size_t want = e->out_len + ZSTD_CStreamOutSize();
		if (grow(&e->out, &e->out_cap, want) < 0) {
			e->failed = CTRACE_ENOMEM;
			return;
		}
		ZSTD_outBuffer out = { e->out, e->out_cap, e->out_len };
		size_t rem = ZSTD_compressStream2(e->cctx, &out, &in, op);
		e->out_len = out.pos;
		if (ZSTD_isError(rem)) {
			e->failed = CTRACE_EZSTD;
			return;
		}
		if (op == ZSTD_e_continue ? in.pos == in.size : rem == 0)
			return;
	}
}

static void flush_raw(struct ctr_genenc *e)
{
	if (e->raw_len) {
		compress(e, e->raw, e->raw_len, ZSTD_e_continue);
		e->raw_len = 0;
	}
}

void ctr_genenc_put(struct ctr_genenc *e, const void *data, size_t len)
{
	if (e->failed || !len)
		return;
	e->content_size += len;
	if (len >= RAW_FLUSH) {
		flush_raw(e);
		compress(e, data, len, ZSTD_e_continue);
		return;
	}
	if (grow(&e->raw, &e->raw_cap, e->raw_len + len) < 0) {
		e->failed = CTRACE_ENOMEM;
		return;
	}
	memcpy(e->raw + e->raw_len, data, len);
	e->raw_len += len;
	if (e->raw_len >= RAW_FLUSH)
		flush_raw(e);
}

static void put_record_head(struct ctr_genenc *e, uint8_t type, uint64_t len)
{
	uint8_t head[1 + CTR_VARINT_MAX];
	head[0] = type;
	uint8_t *p = ctr_put_varint(head + 1, len);
	ctr_genenc_put(e, head, (size_t)(p - head));
}

void ctr_genenc_record(struct ctr_genenc *e, uint8_t type, const void *payload, size_t len)
{
	put_record_head(e, type, len);
	ctr_genenc_put(e, payload, len);
}

void ctr_bytes_put(struct ctr_bytes *b, const void *data, size_t len)
{
	if (b->failed || !len)
		return;
	if (grow(&b->p, &b->cap, b->len + len) < 0) {
		b->failed = 1;
		return;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void ctr_bytes_varint(struct ctr_bytes *b, uint64_t v)
{
	uint8_t tmp[CTR_VARINT_MAX];
	ctr_bytes_put(b, tmp, (size_t)(ctr_put_varint(tmp, v) - tmp));
}

void ctr_bytes_string(struct ctr_bytes *b, const char *s, size_t len)
{
	ctr_bytes_varint(b, len);
	ctr_bytes_put(b, s, len);
}

void ctr_bytes_free(struct ctr_bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void record_bytes(struct ctr_genenc *e, uint8_t type, struct ctr_bytes *b)
{
	if (b->failed)
		e->failed = CTRACE_ENOMEM;
	else
		ctr_genenc_record(e, type, b->p, b->len);
	ctr_bytes_free(b);
}

void ctr_genenc_schema(struct ctr_genenc *e)
{
	struct ctr_bytes b = { 0 };
	unsigned n = 0;

	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++)
		n += ctr_events[t].name != NULL;
	ctr_bytes_varint(&b, n);
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++) {
		const struct ctr_event_desc *d = &ctr_events[t];
		if (!d->name)
			continue;
		uint8_t flags = d->has_blob ? 1 : 0;
		ctr_bytes_varint(&b, t);
		ctr_bytes_varint(&b, d->nargs);
		ctr_bytes_put(&b, &flags, 1);
		ctr_bytes_string(&b, d->name, strlen(d->name));
	}
	record_bytes(e, CTR_REC_SCHEMA, &b);
}

void ctr_genenc_calls(struct ctr_genenc *e)
{
	struct ctr_bytes b = { 0 };

	ctr_bytes_varint(&b, CTR_CALL_COUNT_ - 1);
	for (unsigned c = 1; c < CTR_CALL_COUNT_; c++) {
		ctr_bytes_varint(&b, c);
		ctr_bytes_varint(&b, ctr_calls[c].reason);
		ctr_bytes_string(&b, ctr_calls[c].name, strlen(ctr_calls[c].name));
	}
	record_bytes(e, CTR_REC_CALLS, &b);
}

void ctr_genenc_clock(struct ctr_genenc *e, unsigned kind, uint64_t tick_span, uint64_t ns_span,
		      const struct ctr_sync *syncs, size_t nsyncs)
{
	struct ctr_bytes b = { 0 };

	ctr_bytes_varint(&b, kind);
	ctr_bytes_varint(&b, tick_span);
	ctr_bytes_varint(&b, ns_span);
	ctr_bytes_varint(&b, nsyncs);
	for (size_t i = 0; i < nsyncs; i++) {
		ctr_bytes_varint(&b, syncs[i].ticks);
		ctr_bytes_varint(&b, syncs[i].mono_ns);
		ctr_bytes_varint(&b, syncs[i].real_ns);
	}
	record_bytes(e, CTR_REC_CLOCK, &b);
}

void ctr_genenc_process(struct ctr_genenc *e, uint32_t pid, uint32_t ppid, const char *exe,
			const char *argv, size_t argv_len, uint64_t start_real_ns)
{
	struct ctr_bytes b = { 0 };

	ctr_bytes_varint(&b, pid);
	ctr_bytes_varint(&b, ppid);
	ctr_bytes_string(&b, exe ? exe : "", exe ? strlen(exe) : 0);
	ctr_bytes_string(&b, argv ? argv : "", argv ? argv_len : 0);
	ctr_bytes_varint(&b, start_real_ns);
	record_bytes(e, CTR_REC_PROCESS, &b);
}

void ctr_genenc_info(struct ctr_genenc *e, const char *key, const char *value)
{
	struct ctr_bytes b = { 0 };

	ctr_bytes_string(&b, key, strlen(key));
	ctr_bytes_string(&b, value, strlen(value));
	record_bytes(e, CTR_REC_INFO, &b);
}

void ctr_genenc_batch(struct ctr_genenc *e, uint32_t tid, uint64_t base_ticks, uint64_t nevents,
		      const void *events, size_t len, int64_t first_ns, int64_t last_ns)
{
	uint8_t head[3 * CTR_VARINT_MAX];
	uint8_t *p = head;

	p = ctr_put_varint(p, tid);
	p = ctr_put_varint(p, base_ticks);
	p = ctr_put_varint(p, nevents);
	put_record_head(e, CTR_REC_BATCH, (size_t)(p - head) + len);
	ctr_genenc_put(e, head, (size_t)(p - head));
	ctr_genenc_put(e, events, len);
	e->events += nevents;
	if (nevents && first_ns >= 0) {
		if (e->first_ns < 0 || first_ns < e->first_ns)
			e->first_ns = first_ns;
		if (last_ns > e->last_ns)
			e->last_ns = last_ns;
	}
}

int ctr_genenc_finish(struct ctr_genenc *e, const uint8_t **hdr, const uint8_t **frame,
		      size_t *frame_len)
{
	flush_raw(e);
	compress(e, NULL, 0, ZSTD_e_end);
	if (e->failed)
		return e->failed;
	if (e->out_len > CTR_GEN_MAX_SIZE || e->content_size > CTR_GEN_MAX_SIZE)
		return CTRACE_ETOOBIG;

	uint8_t *h = e->header;
	ctr_put_u32le(h, CTR_GEN_MAGIC);
	ctr_put_u32le(h + 4, CTR_GEN_HEADER_SIZE - 8);
	ctr_put_u64le(h + 8, e->out_len);
	ctr_put_u64le(h + 16, e->content_size);
	int64_t first = e->first_ns < 0 ? e->close_ns : e->first_ns;
	int64_t last = e->last_ns < 0 ? e->close_ns : e->last_ns;
	ctr_put_u64le(h + 24, (uint64_t)first);
	ctr_put_u64le(h + 32, (uint64_t)last);
	ctr_put_u64le(h + 40, e->events);
	ctr_put_u32le(h + 48, e->pid);
	ctr_put_u32le(h + 52, e->seq);
	ctr_put_u32le(h + 56, e->threads);
	ctr_put_u32le(h + 60, e->flags);
	*hdr = h;
	*frame = e->out;
	*frame_len = e->out_len;
	return 0;
}

void ctr_file_header(uint8_t out[CTR_FILE_HEADER_SIZE])
{
	ctr_put_u32le(out, CTR_FILE_MAGIC);
	ctr_put_u32le(out + 4, 16);
	memcpy(out + 8, ctr_file_signature, 8);
	out[16] = CTRACE_FORMAT_MAJOR;
	out[17] = 0;
	out[18] = CTRACE_FORMAT_MINOR;
	out[19] = 0;
	ctr_put_u32le(out + 20, 0);
}
