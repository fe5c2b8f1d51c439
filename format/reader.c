/*
 * The trace reader: file and generation headers, zstd frames, records, and the time-ordered
 * merge of a generation's batches. Every length and id read from the input is checked
 * before use; errors carry the byte offset of the generation and inside its content.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "events.h"
#include "util.h"
#include "varint.h"

#include "reader_impl.h"

int ctr_reader_fail(struct ctrace_reader *r, int err, uint64_t off, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(r->msg, sizeof(r->msg), "%s: %s at byte offset %llu", r->name, what,
		 (unsigned long long)off);
	r->err_off = off;
	return err;
}

/* Bytes [off, off+len) of the input, or NULL when they are not all there. */
static const uint8_t *input_at(struct ctrace_reader *r, uint64_t off, size_t len, uint8_t *tmp,
			       int *err)
{
	*err = 0;
	if (off > r->size || len > r->size - off)
		return NULL;
	if (r->mem)
		return r->mem + off;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(r->fd, tmp + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = CTRACE_EIO;
			return NULL;
		}
		if (n == 0)
			return NULL; /* the file shrank under us */
		done += (size_t)n;
	}
	return tmp;
}

static int reader_new(const char *name, struct ctrace_reader **out)
{
	struct ctrace_reader *r = calloc(1, sizeof(*r));
	*out = r;
	if (!r)
		return CTRACE_ENOMEM;
	r->fd = -1;
	r->name = strdup(name);
	r->dctx = ZSTD_createDCtx();
	if (!r->name || !r->dctx)
		return CTRACE_ENOMEM;
	r->gen.r = r;
	return 0;
}

static int read_file_header(struct ctrace_reader *r)
{
	uint8_t tmp[CTR_FILE_HEADER_SIZE];
	int err;
	const uint8_t *h = input_at(r, 0, CTR_FILE_HEADER_SIZE, tmp, &err);

	if (err)
		return ctr_reader_fail(r, err, 0, "cannot read");
	if (!h) {
		/* Shorter than a header: what there is decides between "not a trace" and "cut". */
		size_t have = r->size < 4 ? (size_t)r->size : 4;
		const uint8_t *m = input_at(r, 0, have, tmp, &err);
		uint8_t magic[4];
		ctr_put_u32le(magic, CTR_FILE_MAGIC);
		if (err)
			return ctr_reader_fail(r, err, 0, "cannot read");
		if (m && have && memcmp(m, magic, have) != 0)
			return ctr_reader_fail(r, CTRACE_ENOTTRACE, 0, "not a ctrace trace (bad magic)");
		return ctr_reader_fail(r, r->size == 0 ? CTRACE_ENOTTRACE : CTRACE_ETRUNCATED, 0,
			    r->size == 0 ? "empty file, not a ctrace trace"
					 : "truncated inside the file header");
	}
	if (ctr_get_u32le(h) != CTR_FILE_MAGIC || ctr_get_u32le(h + 4) < 16 ||
	    memcmp(h + 8, ctr_file_signature, 8) != 0)
		return ctr_reader_fail(r, CTRACE_ENOTTRACE, 0, "not a ctrace trace (bad magic)");
	unsigned major = h[16] | (unsigned)h[17] << 8;
	r->minor = h[18] | (unsigned)h[19] << 8;
	if (major != CTRACE_FORMAT_MAJOR)
		return ctr_reader_fail(r, CTRACE_EVERSION, 16,
			    "unsupported trace format version %u.%u (this reader reads %u.x)",
			    major, r->minor, CTRACE_FORMAT_MAJOR);
	uint64_t hlen = ctr_get_u32le(h + 4);
	if (8 + hlen > r->size)
		return ctr_reader_fail(r, CTRACE_ETRUNCATED, 0, "truncated inside the file header");
	r->pos = 8 + hlen;

	/* The trace starts where its first generation does. */
	const struct ctrace_gen_info *gi;
	uint64_t save = r->pos;
	if (ctrace_reader_next_info(r, &gi) == 1)
		r->start_ns = gi->first_ns;
	r->pos = save;
	r->have_info = 0;
	r->msg[0] = 0;
	r->err_off = 0;
	return 0;
}

CTRACE_API int ctrace_reader_open(const char *path, ctrace_reader **out)
{
	struct ctrace_reader *r;
	int err = reader_new(path, &r);
	struct stat st;

	*out = r;
	if (err)
		return r && r->name ? ctr_reader_fail(r, err, 0, "out of memory") : err;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return ctr_reader_fail(r, CTRACE_EIO, 0, "cannot open: %s", strerror(errno));
	if (fstat(r->fd, &st) < 0)
		return ctr_reader_fail(r, CTRACE_EIO, 0, "cannot stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ctr_reader_fail(r, CTRACE_EIO, 0, "not a regular file");
	r->size = (uint64_t)st.st_size;
	return read_file_header(r);
}

CTRACE_API int ctrace_reader_open_memory(const void *data, size_t size, ctrace_reader **out)
{
	struct ctrace_reader *r;
	int err = reader_new("<memory>", &r);

	*out = r;
	if (err)
		return r && r->name ? ctr_reader_fail(r, err, 0, "out of memory") : err;
	r->mem = data ? data : (const uint8_t *)"";
	r->size = data ? size : 0;
	return read_file_header(r);
}

static void gen_free(struct ctrace_gen *g)
{
	free(g->arena);
	free(g->strings);
	free(g->mappings);
	free(g->frames);
	free(g->frame_refs);
	free(g->frame_pool);
	free(g->stacks);
	free(g->calls);
	free(g->call_names);
	free(g->infos);
	free(g->batches);
	free(g->heap);
}

CTRACE_API void ctrace_reader_free(ctrace_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	gen_free(&r->gen);
	ZSTD_freeDCtx(r->dctx);
	free(r->cbuf);
	free(r->content);
	free(r->name);
	free(r);
}

/* A second reader of the same trace at the same position (pipeline.c's loaders). */
int ctr_reader_clone(const struct ctrace_reader *r, struct ctrace_reader **out)
{
	struct ctrace_reader *c;
	int err = reader_new(r->name, &c);
	*out = NULL;
	if (err) {
		ctrace_reader_free(c);
		return err;
	}
	if (r->fd >= 0 && (c->fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		ctrace_reader_free(c);
		return CTRACE_EIO;
	}
	c->mem = r->mem;
	c->size = r->size;
	c->pos = r->have_info ? r->info.offset : r->pos;
	c->minor = r->minor;
	c->start_ns = r->start_ns;
	*out = c;
	return 0;
}

/* Take @from's error as @r's own. */
int ctr_reader_take_error(struct ctrace_reader *r, const struct ctrace_reader *from, int err)
{
	memcpy(r->msg, from->msg, sizeof(r->msg));
	r->err_off = from->err_off;
	return err;
}

CTRACE_API void ctrace_reader_set_jobs(ctrace_reader *r, unsigned jobs)
{
	if (r)
		r->jobs = jobs;
}

CTRACE_API const char *ctrace_reader_errmsg(const ctrace_reader *r)
{
	return r ? r->msg : "out of memory";
}

CTRACE_API uint64_t ctrace_reader_error_offset(const ctrace_reader *r)
{
	return r ? r->err_off : 0;
}

CTRACE_API unsigned ctrace_reader_minor_version(const ctrace_reader *r)
{
	return r->minor;
}

CTRACE_API int64_t ctrace_reader_start_ns(const ctrace_reader *r)
{
	return r->start_ns;
}

CTRACE_API int ctrace_reader_seek(ctrace_reader *r, uint64_t offset)
{
	if (offset < CTR_FILE_HEADER_SIZE || offset > r->size)
		return ctr_reader_fail(r, CTRACE_EINVAL, offset, "seek outside the trace");
	r->pos = offset;
	r->have_info = 0;
	r->gen_loaded = 0;
	return 0;
}

CTRACE_API int ctrace_reader_next_info(ctrace_reader *r, const struct ctrace_gen_info **info)
{
	uint8_t tmp[CTR_GEN_HEADER_SIZE];
	int err;

	if (r->have_info) /* the previous generation was not loaded: skip its frame */
		r->pos += r->info.compressed_size;
	r->have_info = 0;
	r->gen_loaded = 0;
	for (;;) {
		uint64_t off = r->pos;
		if (off == r->size)
			return 0;
		const uint8_t *h = input_at(r, off, 8, tmp, &err);
		if (err)
			return ctr_reader_fail(r, err, off, "cannot read");
		if (!h)
			return ctr_reader_fail(r, CTRACE_ETRUNCATED, off,
				    "truncated: file ends inside a generation header");
		uint32_t magic = ctr_get_u32le(h);
		uint64_t len = ctr_get_u32le(h + 4);
		if (magic != CTR_GEN_MAGIC) {
			if (magic < CTR_SKIP_MAGIC_MIN || magic > CTR_SKIP_MAGIC_MAX)
				return ctr_reader_fail(r, CTRACE_ECORRUPT, off,
					    "corrupt: expected a generation header (magic 0x%08x)",
					    magic);
			if (len > r->size - off - 8)
				return ctr_reader_fail(r, CTRACE_ETRUNCATED, off,
					    "truncated: file ends inside a skippable frame");
			r->pos = off + 8 + len; /* metadata of a later version */
			continue;
		}
		if (len < CTR_GEN_HEADER_SIZE - 8)
			return ctr_reader_fail(r, CTRACE_ECORRUPT, off,
				    "corrupt: generation header too short (%llu bytes)",
				    (unsigned long long)len);
		h = input_at(r, off, CTR_GEN_HEADER_SIZE, tmp, &err);
		if (err)
			return ctr_reader_fail(r, err, off, "cannot read");
		if (!h || len > r->size - off - 8)
			return ctr_reader_fail(r, CTRACE_ETRUNCATED, off,
				    "truncated: file ends inside a generation header");
		struct ctrace_gen_info *gi = &r->info;
		gi->offset = off;
		gi->compressed_size = ctr_get_u64le(h + 8);
		gi->content_size = ctr_get_u64le(h + 16);
		gi->first_ns = (int64_t)ctr_get_u64le(h + 24);
		gi->last_ns = (int64_t)ctr_get_u64le(h + 32);
		gi->events = ctr_get_u64le(h + 40);
		gi->pid = ctr_get_u32le(h + 48);
		gi->seq = ctr_get_u32le(h + 52);
		gi->threads = ctr_get_u32le(h + 56);
		gi->flags = ctr_get_u32le(h + 60);
		if (gi->compressed_size > CTR_GEN_MAX_SIZE || gi->content_size > CTR_GEN_MAX_SIZE)
			return ctr_reader_fail(r, CTRACE_ECORRUPT, off,
				    "corrupt: generation larger than 1 GiB");
		uint64_t body = off + 8 + len;
		if (gi->compressed_size > r->size - body) {
			return ctr_reader_fail(r, CTRACE_ETRUNCATED, off,
				    "truncated: last generation incomplete (%llu of %llu bytes)",
				    (unsigned long long)(r->size - body),
				    (unsigned long long)gi->compressed_size);
		}
		/* Keep where the frame starts for load and raw. */
		r->pos = body;
		r->have_info = 1;
		*info = gi;
		return 1;
	}
}

/* ---- parsing a generation's content ---- */

struct cursor {
	const uint8_t *p, *end;
	const uint8_t *base; /* content start, for offsets in messages */
};

static int cvar(struct cursor *c, uint64_t *v)
{
	return ctr_get_varint(&c->p, c->end, v);
}

static int arena_add(struct ctrace_gen *g, const uint8_t *s, size_t len, size_t *off)
{
	if (ctr_grow((void **)&g->arena, &g->arena_cap, g->arena_len + len + 1, 1) < 0)
		return CTRACE_ENOMEM;
	if (len)
		memcpy(g->arena + g->arena_len, s, len);
	g->arena[g->arena_len + len] = 0;
	*off = g->arena_len;
	g->arena_len += len + 1;
	return 0;
}

/* A length-prefixed string or blob: returns 0 and its bytes, or -1. */
static int cbytes(struct cursor *c, const uint8_t **s, size_t *len)
{
	uint64_t n;
	if (cvar(c, &n) < 0 || n > (uint64_t)(c->end - c->p))
		return -1;
	*s = c->p;
	*len = (size_t)n;
	c->p += n;
	return 0;
}

static int cstring(struct ctrace_gen *g, struct cursor *c, size_t *off)
{
	const uint8_t *s;
	size_t len;
	if (cbytes(c, &s, &len) < 0)
		return -1;
	return arena_add(g, s, len, off) < 0 ? -2 : 0;
}

static int corrupt(struct ctrace_gen *g, const struct cursor *c, const char *what)
{
	return ctr_reader_fail(g->r, CTRACE_ECORRUPT, g->info.offset,
		    "corrupt generation (content offset %llu): %s",
		    (unsigned long long)(c->p - c->base), what);
}

static int parse_schema(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t n;
	struct ctr_schema builtin;

	ctr_schema_builtin(&builtin);
	memset(&g->schema, 0, sizeof(g->schema));
	if (cvar(c, &n) < 0 || n > 255)
		return corrupt(g, c, "bad SCHEMA count");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t type, nargs;
		const uint8_t *name;
		size_t name_len;
		if (cvar(c, &type) < 0 || cvar(c, &nargs) < 0 || c->p >= c->end)
			return corrupt(g, c, "bad SCHEMA entry");
		uint8_t flags = *c->p++;
		if (cbytes(c, &name, &name_len) < 0)
			return corrupt(g, c, "bad SCHEMA entry name");
		if (type == 0 || type > 255 || nargs > 255)
			return corrupt(g, c, "bad SCHEMA event type");
		if (builtin.known[type] &&
		    (nargs < builtin.nargs[type] || (flags & 1) != builtin.has_blob[type]))
			return corrupt(g, c, "SCHEMA disagrees with a known event type");
		ctr_schema_set(&g->schema, (unsigned)type, (unsigned)nargs, flags & 1);
	}
	g->have_schema = 1;
	return 0;
}

static int parse_calls(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t n;
	if (cvar(c, &n) < 0 || n > MAX_CALL_ID)
		return corrupt(g, c, "bad CALLS count");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t id, cls;
		size_t off;
		if (cvar(c, &id) < 0 || cvar(c, &cls) < 0)
			return corrupt(g, c, "bad CALLS entry");
		int e = cstring(g, c, &off);
		if (e == -2)
			return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
		if (e < 0 || id == 0 || id > MAX_CALL_ID)
			return corrupt(g, c, "bad CALLS entry");
		if (id >= g->ncalls) {
			size_t nn = (size_t)id + 1;
			struct ctrace_call *nc = realloc(g->calls, nn * sizeof(*nc));
			if (!nc)
				return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
			g->calls = nc;
			size_t *nm = realloc(g->call_names, nn * sizeof(*nm));
			if (!nm)
				return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
			g->call_names = nm;
			for (size_t k = g->ncalls; k < nn; k++)
				g->call_names[k] = SIZE_MAX;
			g->ncalls = nn;
		}
		g->call_names[id] = off;
		g->calls[id].reason = (uint32_t)(cls > 255 ? 0 : cls);
	}
	return 0;
}

static int parse_clock(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t kind, ts, ns, n;
	if (cvar(c, &kind) < 0 || cvar(c, &ts) < 0 || cvar(c, &ns) < 0 || cvar(c, &n) < 0)
		return corrupt(g, c, "bad CLOCK record");
	if (ts == 0 || ns == 0 || n == 0 || kind > 1)
		return corrupt(g, c, "bad CLOCK values");
	uint64_t t0, m0, r0;
	if (cvar(c, &t0) < 0 || cvar(c, &m0) < 0 || cvar(c, &r0) < 0)
		return corrupt(g, c, "bad CLOCK sync point");
	/* Later sync points are for tools that refine the conversion; skip them here. */
	g->clock_kind = (unsigned)kind;
	g->tick_span = ts;
	g->ns_span = ns;
	g->t0 = t0;
	g->m0 = m0;
	g->r0 = r0;
	g->mult_hi = ns / ts;
	g->mult_lo = (uint64_t)(((unsigned __int128)(ns % ts) << 64) / ts);
	g->clock_identity = ts == ns && t0 == m0;
	g->fast_span = g->mult_hi < (1ull << 21) && m0 < (1ull << 61) ? 1ull << 40 : 0;
	g->have_clock = 1;
	return 0;
}

static int parse_process(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t pid, ppid, start;
	const uint8_t *argv;
	size_t argv_len;
	if (cvar(c, &pid) < 0 || cvar(c, &ppid) < 0)
		return corrupt(g, c, "bad PROCESS record");
	int e = cstring(g, c, &g->exe_off);
	if (e == -2)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	if (e < 0 || cbytes(c, &argv, &argv_len) < 0 || cvar(c, &start) < 0)
		return corrupt(g, c, "bad PROCESS record");
	if (arena_add(g, argv, argv_len, &g->argv_off) < 0)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	g->argv_len = argv_len;
	g->have_process = 1;
	g->proc.pid = (uint32_t)pid;
	g->proc.ppid = (uint32_t)ppid;
	g->proc.start_realtime_ns = start;
	return 0;
}

static int parse_strings(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t n;
	if (cvar(c, &n) < 0 || n > (uint64_t)(c->end - c->p))
		return corrupt(g, c, "bad STRINGS count");
	if (ctr_grow((void **)&g->strings, &g->strings_cap, g->nstrings + n + 1,
		       sizeof(*g->strings)) < 0)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		size_t off;
		int e = cstring(g, c, &off);
		if (e == -2)
			return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
		if (e < 0)
			return corrupt(g, c, "bad string in STRINGS");
		g->strings[++g->nstrings].off = off;
	}
	return 0;
}

static int parse_mappings(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t n;
	if (cvar(c, &n) < 0 || n > (uint64_t)(c->end - c->p))
		return corrupt(g, c, "bad MAPPINGS count");
	if (ctr_grow((void **)&g->mappings, &g->mappings_cap, g->nmappings + n + 1,
		       sizeof(*g->mappings)) < 0)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		struct mapping *m = &g->mappings[++g->nmappings];
		if (cvar(c, &m->start) < 0 || cvar(c, &m->end) < 0 ||
		    cvar(c, &m->file_offset) < 0 || cvar(c, &m->path) < 0 ||
		    cbytes(c, &m->build_id, &m->build_id_len) < 0)
			return corrupt(g, c, "bad MAPPINGS entry");
		if (m->path > g->nstrings)
			return corrupt(g, c, "MAPPINGS refers to an undefined string");
	}
	return 0;
}

static int parse_frames(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t n;
	if (cvar(c, &n) < 0 || n > (uint64_t)(c->end - c->p))
		return corrupt(g, c, "bad FRAMES count");
	if (ctr_grow((void **)&g->frames, &g->frames_cap, g->nframes + n + 1,
		       sizeof(*g->frames)) < 0)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	uint64_t *nr = realloc(g->frame_refs, (g->frames_cap) * 3 * sizeof(uint64_t));
	if (!nr)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	g->frame_refs = nr;
	for (uint64_t i = 0; i < n; i++) {
		size_t id = ++g->nframes;
		struct ctrace_frame *f = &g->frames[id];
		uint64_t map, fn, file, line;
		memset(f, 0, sizeof(*f));
		if (cvar(c, &f->pc) < 0 || cvar(c, &map) < 0 || cvar(c, &fn) < 0 ||
		    cvar(c, &file) < 0 || cvar(c, &line) < 0)
			return corrupt(g, c, "bad FRAMES entry");
		if (map > g->nmappings || fn > g->nstrings || file > g->nstrings)
			return corrupt(g, c, "FRAMES refers to an undefined entry");
		f->line = line > UINT32_MAX ? 0 : (uint32_t)line;
		g->frame_refs[3 * id] = map;
		g->frame_refs[3 * id + 1] = fn;
		g->frame_refs[3 * id + 2] = file;
	}
	return 0;
}

static int parse_stacks(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t n;
	if (cvar(c, &n) < 0 || n > (uint64_t)(c->end - c->p))
		return corrupt(g, c, "bad STACKS count");
	if (ctr_grow((void **)&g->stacks, &g->stacks_cap, g->nstacks + n,
		       sizeof(*g->stacks)) < 0)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t id, depth;
		if (cvar(c, &id) < 0 || id == 0)
			return corrupt(g, c, "bad stack id in STACKS");
		if (cvar(c, &depth) < 0 || depth > CTR_STACK_MAX_DEPTH)
			return corrupt(g, c, "bad stack depth in STACKS");
		if (ctr_grow((void **)&g->frame_pool, &g->pool_cap, g->pool_len + depth + 1,
			       sizeof(uint32_t)) < 0)
			return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
		struct stack_ref *s = &g->stacks[g->nstacks++];
		s->id = id;
		s->off = g->pool_len;
		s->depth = (uint32_t)depth;
		for (uint64_t k = 0; k < depth; k++) {
			uint64_t f;
			if (cvar(c, &f) < 0)
				return corrupt(g, c, "bad frame id in STACKS");
			if (f == 0 || f > g->nframes)
				return corrupt(g, c, "STACKS refers to an undefined frame");
			g->frame_pool[g->pool_len++] = (uint32_t)f;
		}
	}
	return 0;
}

static int parse_batch(struct ctrace_gen *g, struct cursor *c)
{
	uint64_t tid, base, n;
	if (!g->have_schema)
		return corrupt(g, c, "BATCH before SCHEMA");
	if (cvar(c, &tid) < 0 || cvar(c, &base) < 0 || cvar(c, &n) < 0 || tid > UINT32_MAX)
		return corrupt(g, c, "bad BATCH header");
	if (n > (uint64_t)(c->end - c->p) + 1)
		return corrupt(g, c, "BATCH event count larger than its bytes");
	if (ctr_grow((void **)&g->batches, &g->batches_cap, g->nbatches + 1,
		       sizeof(*g->batches)) < 0)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	struct batch *b = &g->batches[g->nbatches++];
	memset(b, 0, sizeof(*b));
	b->tid = (uint32_t)tid;
	b->base = base;
	b->nevents = n;
	b->start = b->p = c->p;
	b->end = c->end;
	b->start_off = (size_t)(c->p - c->base);
	c->p = c->end;
	return 0;
}

static int parse_info(struct ctrace_gen *g, struct cursor *c)
{
	if (ctr_grow((void **)&g->infos, &g->infos_cap, g->ninfos + 1, sizeof(*g->infos)) < 0)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	struct info_kv *kv = &g->infos[g->ninfos];
	int e1 = cstring(g, c, &kv->key);
	int e2 = e1 < 0 ? e1 : cstring(g, c, &kv->value);
	if (e1 == -2 || e2 == -2)
		return ctr_reader_fail(g->r, CTRACE_ENOMEM, g->info.offset, "out of memory");
	if (e1 < 0 || e2 < 0)
		return corrupt(g, c, "bad INFO record");
	g->ninfos++;
	return 0;
}

static int parse_content(struct ctrace_gen *g, const uint8_t *content, size_t size)
{
	struct cursor all = { content, content + size, content };

	while (all.p < all.end) {
		uint64_t len;
		uint8_t type = *all.p++;
		if (cvar(&all, &len) < 0 || len > (uint64_t)(all.end - all.p))
			return corrupt(g, &all, "record runs past the end of the generation");
		struct cursor c = { all.p, all.p + len, content };
		int err = 0;
		switch (type) {
		case CTR_REC_SCHEMA: err = parse_schema(g, &c); break;
		case CTR_REC_CLOCK: err = parse_clock(g, &c); break;
		case CTR_REC_PROCESS: err = parse_process(g, &c); break;
		case CTR_REC_STRINGS: err = parse_strings(g, &c); break;
		case CTR_REC_MAPPINGS: err = parse_mappings(g, &c); break;
		case CTR_REC_FRAMES: err = parse_frames(g, &c); break;
		case CTR_REC_STACKS: err = parse_stacks(g, &c); break;
		case CTR_REC_BATCH: err = parse_batch(g, &c); break;
		case CTR_REC_INFO: err = parse_info(g, &c); break;
		case CTR_REC_CALLS: err = parse_calls(g, &c); break;
		default: break; /* a record of a later version */
		}
		if (err)
			return err;
		all.p += len;
	}
	return 0;
}

static int cmp_stack(const void *a, const void *b)
{
	const struct stack_ref *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Pointers into the arena, fixed once it no longer moves; stacks sorted for lookup. */
static int resolve(struct ctrace_gen *g)
{
	if (g->nstacks > 1)
		qsort(g->stacks, g->nstacks, sizeof(*g->stacks), cmp_stack);
	for (size_t i = 1; i < g->nstacks; i++)
		if (g->stacks[i].id == g->stacks[i - 1].id)
			return ctr_reader_fail(g->r, CTRACE_ECORRUPT, g->info.offset,
				    "corrupt generation: stack id %llu defined twice",
				    (unsigned long long)g->stacks[i].id);
	g->proc.exe = g->arena && g->have_process ? g->arena + g->exe_off : "";
	g->proc.argv = g->arena && g->have_process ? g->arena + g->argv_off : "";
	g->proc.argv_len = g->argv_len;
	if (!g->proc.pid)
		g->proc.pid = g->info.pid;
	for (size_t id = 1; id <= g->nframes; id++) {
		struct ctrace_frame *f = &g->frames[id];
		uint64_t map = g->frame_refs[3 * id], fn = g->frame_refs[3 * id + 1],
			 file = g->frame_refs[3 * id + 2];
		f->function = fn ? g->arena + g->strings[fn].off : NULL;
		f->file = file ? g->arena + g->strings[file].off : NULL;
		if (map) {
			struct mapping *m = &g->mappings[map];
			f->mapping = m->path ? g->arena + g->strings[m->path].off : NULL;
			f->build_id = m->build_id;
			f->build_id_len = m->build_id_len;
			f->map_start = m->start;
			f->map_end = m->end;
			f->map_offset = m->file_offset;
		}
	}
	for (size_t id = 1; id < g->ncalls; id++)
		g->calls[id].name =
			g->call_names[id] == SIZE_MAX ? NULL : g->arena + g->call_names[id];
	return 0;
}

static void gen_reset(struct ctrace_gen *g)
{
	g->have_schema = g->have_clock = g->have_process = 0;
	g->arena_len = 0;
	g->nstrings = g->nmappings = g->nframes = g->pool_len = g->nstacks = 0;
	g->ninfos = g->nbatches = 0;
	for (size_t i = 0; i < g->ncalls; i++)
		g->call_names[i] = SIZE_MAX;
	memset(&g->proc, 0, sizeof(g->proc));
	g->exe_off = g->argv_off = g->argv_len = 0;
}

CTRACE_API int ctrace_reader_load(ctrace_reader *r, ctrace_gen **out)
{
	struct ctrace_gen *g = &r->gen;
	const struct ctrace_gen_info *gi = &r->info;
	int err;

	if (!r->have_info)
		return ctr_reader_fail(r, CTRACE_EINVAL, r->pos, "no generation header was read");
	uint64_t frame_off = r->pos;
	size_t csize = (size_t)gi->compressed_size, usize = (size_t)gi->content_size;
	const uint8_t *frame;
	if (r->mem) {
		frame = r->mem + frame_off;
	} else {
		if (ctr_grow((void **)&r->cbuf, &r->cbuf_cap, csize ? csize : 1, 1) < 0)
			return ctr_reader_fail(r, CTRACE_ENOMEM, gi->offset, "out of memory");
		frame = input_at(r, frame_off, csize, r->cbuf, &err);
		if (!frame)
			return ctr_reader_fail(r, err ? err : CTRACE_ETRUNCATED, gi->offset,
				    "truncated: last generation incomplete");
	}
	/* Whatever happens below, the next call moves on to the following generation. */
	r->have_info = 0;
	r->pos = frame_off + csize;

	if (csize < 4 || ctr_get_u32le(frame) != CTR_ZSTD_MAGIC)
		return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset, "corrupt: no zstd frame after generation header");
	size_t fsize = ZSTD_findFrameCompressedSize(frame, csize);
	if (ZSTD_isError(fsize) || fsize != csize)
		return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset,
			    "corrupt: zstd frame size does not match the generation header");
	/*
	 * A frame that compresses no better than 64:1 is decompressed in one call straight
	 * into the content buffer. Beyond that, the buffer grows with what the frame really
	 * holds, so a header that lies about the size costs nothing until the data backs it up.
	 */
	ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
	size_t got = 0;
	if (usize / 64 <= csize || usize < r->content_cap) {
		if (ctr_grow((void **)&r->content, &r->content_cap, usize + 1, 1) < 0)
			return ctr_reader_fail(r, CTRACE_ENOMEM, gi->offset, "out of memory");
		got = ZSTD_decompressDCtx(r->dctx, r->content, usize + 1, frame, csize);
		if (ZSTD_isError(got) && ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall)
			return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset,
				    "corrupt: generation content is larger than its header says (%zu)",
				    usize);
		if (ZSTD_isError(got))
			return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset, "corrupt: zstd: %s",
				    ZSTD_getErrorName(got));
	} else {
		ZSTD_inBuffer in = { frame, csize, 0 };
		for (;;) {
			if (got == r->content_cap || r->content_cap == 0) {
				size_t want = r->content_cap ? r->content_cap * 2 : 1u << 20;
				if (want > usize + 1)
					want = usize + 1;
				if (want <= got)
					want = got + 1;
				if (ctr_grow((void **)&r->content, &r->content_cap, want, 1) < 0)
					return ctr_reader_fail(r, CTRACE_ENOMEM, gi->offset, "out of memory");
			}
			size_t room = r->content_cap - got;
			if (got + room > usize + 1)
				room = usize + 1 - got;
			ZSTD_outBuffer ob = { r->content + got, room, 0 };
			size_t rem = ZSTD_decompressStream(r->dctx, &ob, &in);
			if (ZSTD_isError(rem))
				return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset, "corrupt: zstd: %s",
					    ZSTD_getErrorName(rem));
			got += ob.pos;
			if (got > usize)
				return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset,
					    "corrupt: generation content is larger than its header says (%zu)",
					    usize);
			if (rem == 0)
				break;
			if (in.pos == in.size && ob.pos < ob.size)
				return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset,
					    "corrupt: zstd frame ends early");
		}
	}
	if (got != usize)
		return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset,
			    "corrupt: generation content is %zu bytes, header says %zu", got, usize);

	gen_reset(g);
	g->info = *gi;
	err = parse_content(g, r->content, usize);
	if (err)
		return err;
	if (g->nbatches && (!g->have_schema || !g->have_clock))
		return ctr_reader_fail(r, CTRACE_ECORRUPT, gi->offset, "corrupt: generation without clock");
	err = resolve(g);
	if (err)
		return err;
	ctrace_gen_rewind(g);
	r->gen_loaded = 1;
	*out = g;
	return 0;
}

CTRACE_API int ctrace_reader_next(ctrace_reader *r, ctrace_gen **gen)
{
	const struct ctrace_gen_info *info;
	int n = ctrace_reader_next_info(r, &info);
	if (n <= 0)
		return n;
	int err = ctrace_reader_load(r, gen);
	return err < 0 ? err : 1;
}

CTRACE_API int ctrace_reader_raw(ctrace_reader *r, const void **data, size_t *size)
{
	if (!r->have_info)
		return ctr_reader_fail(r, CTRACE_EINVAL, r->pos, "no generation header was read");
	uint64_t off = r->info.offset;
	uint64_t total = (r->pos - off) + r->info.compressed_size;
	int err;
	if (r->mem) {
		*data = r->mem + off;
	} else {
		if (ctr_grow((void **)&r->cbuf, &r->cbuf_cap, (size_t)total, 1) < 0)
			return ctr_reader_fail(r, CTRACE_ENOMEM, off, "out of memory");
		const uint8_t *p = input_at(r, off, (size_t)total, r->cbuf, &err);
		if (!p)
			return ctr_reader_fail(r, err ? err : CTRACE_ETRUNCATED, off, "cannot read generation");
		*data = p;
	}
	*size = (size_t)total;
	return 0;
}

CTRACE_API uint64_t ctrace_reader_size(const ctrace_reader *r)
{
	return r->size;
}

CTRACE_API int64_t ctrace_gen_realtime_offset(const ctrace_gen *g)
{
	return g->have_clock ? (int64_t)(g->r0 - g->m0) : 0;
}
