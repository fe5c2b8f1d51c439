/*
 * ctrace import: LTTng events (names and field values) to a ctrace trace. See imp.h.
 *
 * `ctrace:*` events carry the native recorder's arguments in the format's order (after
 * pid, tid and tick), so one rule maps them all back. Events of LTTng's own helpers are
 * mapped where their meaning is a ctrace event: lttng_ust_libc allocations and frees, and
 * lttng_ust_pthread mutex lock request/acquire as a blocking episode. Event times are the
 * CTF timestamps (CLOCK_MONOTONIC ns), written with a CLOCK_MONOTONIC clock record; the
 * ctrace `tick` field is not needed for that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../format/encode.h"
#include "../../format/varint.h"
#include "imp.h"

struct istack {
	uint64_t id;
	uint32_t depth;
	uint64_t *pcs;
};

struct iproc {
	uint32_t pid;
	uint32_t seq;
	uint64_t pending;     /* events in the open generation */
	uint64_t gen_start;   /* mono ns of its first event */
	char exe[256];
	struct istack *stacks;
	size_t nstacks, cap;
};

struct ithr {
	uint32_t pid, tid;
	struct ctr_bytes buf;
	uint64_t n;
	uint64_t base, last; /* ns */
};

struct imp {
	int fd;
	int failed;
	struct ctr_genenc enc;
	struct iproc *procs;
	size_t nprocs;
	struct ithr *thr;
	size_t nthr;
	size_t hint;
	int64_t real_off; /* realtime ns - monotonic ns, from the first event */
	int have_off;
	uint32_t last_pid, last_tid;
	struct imp_stats st;
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

struct imp *imp_new(int fd)
{
	struct imp *im = calloc(1, sizeof(*im));
	if (!im)
		return NULL;
	im->fd = fd;
	if (ctr_genenc_init(&im->enc, 3) < 0) {
		free(im);
		return NULL;
	}
	uint8_t hdr[CTR_FILE_HEADER_SIZE];
	ctr_file_header(hdr);
	if (write_all(fd, hdr, sizeof(hdr)) < 0) {
		imp_free(im);
		return NULL;
	}
	return im;
}

static struct iproc *proc_get(struct imp *im, uint32_t pid)
{
	for (size_t i = 0; i < im->nprocs; i++)
		if (im->procs[i].pid == pid)
			return &im->procs[i];
	struct iproc *np = realloc(im->procs, (im->nprocs + 1) * sizeof(*np));
	if (!np)
		return NULL;
	im->procs = np;
	struct iproc *p = &np[im->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

static struct ithr *thr_get(struct imp *im, uint32_t pid, uint32_t tid)
{
	if (im->hint < im->nthr && im->thr[im->hint].tid == tid && im->thr[im->hint].pid == pid)
		return &im->thr[im->hint];
	for (size_t i = 0; i < im->nthr; i++) {
		if (im->thr[i].tid == tid && im->thr[i].pid == pid) {
			im->hint = i;
			return &im->thr[i];
		}
	}
	struct ithr *nt = realloc(im->thr, (im->nthr + 1) * sizeof(*nt));
	if (!nt)
		return NULL;
	im->thr = nt;
	struct ithr *t = &nt[im->nthr];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->tid = tid;
	im->hint = im->nthr++;
	return t;
}

/* The frames and stacks of @p: every stack the process announced so far (unsymbolized
 * program counters, one frame each). */
static void put_stacks(struct imp *im, const struct iproc *p)
{
	struct ctr_bytes frames = { 0 }, stacks = { 0 };
	uint64_t nframes = 0;
	for (size_t i = 0; i < p->nstacks; i++) {
		const struct istack *s = &p->stacks[i];
		ctr_bytes_varint(&stacks, s->id);
		ctr_bytes_varint(&stacks, s->depth);
		for (uint32_t k = 0; k < s->depth; k++) {
			ctr_bytes_varint(&frames, s->pcs[k]);
			ctr_bytes_varint(&frames, 0); /* mapping */
			ctr_bytes_varint(&frames, 0); /* function */
			ctr_bytes_varint(&frames, 0); /* file */
			ctr_bytes_varint(&frames, 0); /* line */
			ctr_bytes_varint(&stacks, ++nframes);
		}
	}
	if (frames.failed || stacks.failed) {
		im->failed = 1;
	} else if (p->nstacks) {
		struct ctr_bytes rec = { 0 };
		ctr_bytes_varint(&rec, nframes);
		ctr_bytes_put(&rec, frames.p, frames.len);
		if (!rec.failed)
			ctr_genenc_record(&im->enc, CTR_REC_FRAMES, rec.p, rec.len);
		rec.len = 0;
		ctr_bytes_varint(&rec, p->nstacks);
		ctr_bytes_put(&rec, stacks.p, stacks.len);
		if (!rec.failed)
			ctr_genenc_record(&im->enc, CTR_REC_STACKS, rec.p, rec.len);
		im->failed |= rec.failed;
		ctr_bytes_free(&rec);
	}
	ctr_bytes_free(&frames);
	ctr_bytes_free(&stacks);
}

/* Write the open generation of @p (@last: the last one of its stream). */
static int flush_proc(struct imp *im, struct iproc *p, int last)
{
	struct ctr_genenc *e = &im->enc;
	if (!p->pending && !last)
		return 0;
	ctr_genenc_begin(e, p->pid, p->seq++);
	ctr_genenc_schema(e);
	ctr_genenc_calls(e);
	ctr_genenc_process(e, p->pid, 0, p->exe, p->exe, strlen(p->exe),
			   (uint64_t)((int64_t)p->gen_start + im->real_off));
	ctr_genenc_info(e, "clock", "monotonic");
	ctr_genenc_info(e, "source", "lttng (ctrace import)");
	put_stacks(im, p);
	uint64_t first = UINT64_MAX, lastns = 0;
	uint32_t threads = 0;
	for (size_t i = 0; i < im->nthr; i++) {
		struct ithr *t = &im->thr[i];
		if (t->pid != p->pid || !t->n)
			continue;
		ctr_genenc_batch(e, t->tid, t->base, t->n, t->buf.p, t->buf.len, (int64_t)t->base,
				 (int64_t)t->last);
		if (t->base < first)
			first = t->base;
		if (t->last > lastns)
			lastns = t->last;
		threads++;
		im->st.events_out += t->n;
		t->n = 0;
		t->buf.len = 0;
	}
	if (first == UINT64_MAX)
		first = lastns = p->gen_start;
	struct ctr_sync s[2] = {
		{ first, first, (uint64_t)((int64_t)first + im->real_off) },
		{ lastns, lastns, (uint64_t)((int64_t)lastns + im->real_off) },
	};
	ctr_genenc_clock(e, 1, 1, 1, s, lastns > first ? 2 : 1);
	e->threads = threads;
	e->close_ns = (int64_t)lastns;
	if (last)
		e->flags |= 1;
	const uint8_t *hdr, *frame;
	size_t flen;
	if (ctr_genenc_finish(e, &hdr, &frame, &flen) < 0 ||
	    write_all(im->fd, hdr, CTR_GEN_HEADER_SIZE) < 0 || write_all(im->fd, frame, flen) < 0)
		return -1;
	im->st.generations++;
	p->pending = 0;
	return 0;
}

/* Append one event of @type at @ns to thread (@pid, @tid). */
static int put_event(struct imp *im, uint32_t pid, uint32_t tid, uint64_t ns, uint8_t type,
		     const uint64_t *args, unsigned nargs, const void *blob, size_t blen)
{
	struct iproc *p = proc_get(im, pid);
	if (!p)
		return -1;
	if (p->pending && (p->pending >= IMP_GEN_EVENTS || ns - p->gen_start >= IMP_GEN_NS) &&
	    flush_proc(im, p, 0) < 0)
		return -1;
	struct ithr *t = thr_get(im, pid, tid);
	if (!t)
		return -1;
	if (!p->pending)
		p->gen_start = ns;
	if (!t->n)
		t->base = t->last = ns;
	if (ns < t->last)
		ns = t->last; /* not in time order: keep the thread's order */
	if (blen > 65536)
		blen = 65536;
	uint8_t small[256];
	size_t need = 1 + (1 + (size_t)nargs) * CTR_VARINT_MAX + CTR_VARINT_MAX + blen;
	uint8_t *tmp = need <= sizeof(small) ? small : malloc(need);
	if (!tmp)
		return -1;
	size_t n = ctr_event_encode(tmp, type, ns - t->last, args, nargs, blob, blen);
	ctr_bytes_put(&t->buf, tmp, n);
	if (tmp != small)
		free(tmp);
	if (t->buf.failed)
		return -1;
	t->last = ns;
	t->n++;
	p->pending++;
	im->last_pid = pid;
	im->last_tid = tid;
	return 0;
}

static const struct imp_field *field(const struct imp_event *ev, const char *name)
{
	for (unsigned i = 0; i < ev->nfields; i++)
		if (strcmp(ev->f[i].name, name) == 0)
			return &ev->f[i];
	return NULL;
}

static uint64_t fval(const struct imp_event *ev, const char *name)
{
	const struct imp_field *f = field(ev, name);
	return f && (f->kind == IMP_UINT || f->kind == IMP_SINT) ? f->u : 0;
}

static int stack_event(struct imp *im, const struct imp_event *ev)
{
	const struct imp_field *pcs = field(ev, "pcs");
	uint32_t pid = (uint32_t)fval(ev, "pid");
	uint64_t id = fval(ev, "id");
	if (!pid)
		pid = ev->vpid;
	if (!pcs || pcs->kind != IMP_ARRAY || !id || !pcs->len || pcs->len > CTR_STACK_MAX_DEPTH)
		return 0;
	struct iproc *p = proc_get(im, pid);
	if (!p)
		return -1;
	for (size_t i = 0; i < p->nstacks; i++)
		if (p->stacks[i].id == id)
			return 0; /* a forked child's repeat */
	if (p->nstacks == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct istack *ns = realloc(p->stacks, cap * sizeof(*ns));
		if (!ns)
			return -1;
		p->stacks = ns;
		p->cap = cap;
	}
	uint64_t *copy = malloc(pcs->len * sizeof(*copy));
	if (!copy)
		return -1;
	memcpy(copy, pcs->array, pcs->len * sizeof(*copy));
	p->stacks[p->nstacks++] = (struct istack){ id, (uint32_t)pcs->len, copy };
	return 0;
}

static int ctrace_event(struct imp *im, const struct imp_event *ev, const char *name)
{
	if (strcmp(name, "stack") == 0)
		return stack_event(im, ev);
	unsigned type;
	for (type = 1; type < CTRACE_EV_COUNT_; type++)
		if (ctr_events[type].name && strcmp(ctr_events[type].name, name) == 0)
			break;
	if (type == CTRACE_EV_COUNT_)
		return 1;
	uint64_t args[CTRACE_EVENT_MAX_ARGS] = { 0 };
	unsigned n = 0;
	const char *blob = NULL;
	size_t blen = 0;
	uint32_t pid = ev->vpid, tid = ev->vtid;
	for (unsigned i = 0; i < ev->nfields; i++) {
		const struct imp_field *f = &ev->f[i];
		if (strcmp(f->name, "pid") == 0) {
			pid = (uint32_t)f->u;
		} else if (strcmp(f->name, "tid") == 0) {
			tid = (uint32_t)f->u;
		} else if (strcmp(f->name, "tick") == 0 || f->name[0] == '_') {
			continue;
		} else if (f->kind == IMP_TEXT) {
			blob = f->text;
			blen = f->len;
		} else if ((f->kind == IMP_UINT || f->kind == IMP_SINT) && n < ctr_events[type].nargs &&
			   n < CTRACE_EVENT_MAX_ARGS) {
			args[n] = (ctr_events[type].signed_mask >> n) & 1 ? ctr_zigzag((int64_t)f->u)
									   : f->u;
			n++;
		}
	}
	if (n < ctr_events[type].nargs || !tid)
		return 1; /* not the layout this importer knows */
	if (type == CTRACE_EV_THREAD_NAME && tid == pid && (args[0] == 0 || args[0] == tid)) {
		struct iproc *p = proc_get(im, pid);
		if (p && !p->exe[0]) {
			size_t l = blen < sizeof(p->exe) - 1 ? blen : sizeof(p->exe) - 1;
			if (l) /* a name event without its text field has no blob */
				memcpy(p->exe, blob, l);
			p->exe[l] = 0;
		}
	}
	if (type == CTRACE_EV_LOST)
		im->st.lost += args[0];
	return put_event(im, pid, tid, ev->mono_ns, (uint8_t)type, args, n, blob,
			 ctr_events[type].has_blob ? blen : 0);
}

/* lttng_ust_libc and lttng_ust_pthread (LTTng's own wrappers). */
static int helper_event(struct imp *im, const struct imp_event *ev)
{
	const char *n = ev->name;
	uint64_t a[5] = { 0 };
	uint8_t type;
	unsigned nargs;
	if (strcmp(n, "lttng_ust_libc:malloc") == 0 || strcmp(n, "lttng_ust_libc:calloc") == 0 ||
	    strcmp(n, "lttng_ust_libc:realloc") == 0 || strcmp(n, "lttng_ust_libc:memalign") == 0 ||
	    strcmp(n, "lttng_ust_libc:posix_memalign") == 0) {
		const char *fn = strchr(n, ':') + 1;
		uint64_t size = fval(ev, "size");
		if (strcmp(fn, "calloc") == 0)
			size *= fval(ev, "nmemb");
		uint64_t ptr = strcmp(fn, "posix_memalign") == 0 ? fval(ev, "out_ptr") : fval(ev, "ptr");
		if (!ptr)
			return 0; /* failed allocation */
		uint32_t call = CTR_CALL_MALLOC;
		if (strcmp(fn, "calloc") == 0)
			call = CTR_CALL_CALLOC;
		else if (strcmp(fn, "realloc") == 0)
			call = CTR_CALL_REALLOC;
		else if (strcmp(fn, "memalign") == 0)
			call = CTR_CALL_MEMALIGN;
		else if (strcmp(fn, "posix_memalign") == 0)
			call = CTR_CALL_POSIX_MEMALIGN;
		a[0] = call, a[1] = ptr, a[2] = size, a[3] = 0, a[4] = size;
		type = CTRACE_EV_ALLOC, nargs = 5;
	} else if (strcmp(n, "lttng_ust_libc:free") == 0) {
		a[0] = CTR_CALL_FREE, a[1] = fval(ev, "ptr");
		if (!a[1])
			return 0;
		type = CTRACE_EV_FREE, nargs = 2;
	} else if (strcmp(n, "lttng_ust_pthread:pthread_mutex_lock_req") == 0) {
		a[0] = CTRACE_REASON_SYNC, a[1] = CTR_CALL_PTHREAD_MUTEX_LOCK;
		a[2] = fval(ev, "mutex"), a[3] = 0;
		type = CTRACE_EV_BLOCK_BEGIN, nargs = 4;
	} else if (strcmp(n, "lttng_ust_pthread:pthread_mutex_lock_acq") == 0) {
		a[0] = ctr_zigzag((int64_t)(int32_t)fval(ev, "status"));
		type = CTRACE_EV_BLOCK_END, nargs = 1;
	} else {
		return 1;
	}
	if (!ev->vtid) {
		im->st.unattributed++;
		return 0;
	}
	return put_event(im, ev->vpid, ev->vtid, ev->mono_ns, type, a, nargs, NULL, 0);
}

static void count_unknown(struct imp *im, const char *name)
{
	struct imp_stats *st = &im->st;
	for (unsigned i = 0; i < st->nunknown; i++) {
		if (strcmp(st->unknown[i].name, name) == 0) {
			st->unknown[i].count++;
			return;
		}
	}
	if (st->nunknown == sizeof(st->unknown) / sizeof(st->unknown[0])) {
		st->unknown_other++;
		return;
	}
	snprintf(st->unknown[st->nunknown].name, sizeof(st->unknown[0].name), "%s", name);
	st->unknown[st->nunknown++].count = 1;
}

int imp_event(struct imp *im, const struct imp_event *ev)
{
	if (im->failed)
		return -1;
	im->st.events_in++;
	if (!im->have_off) {
		im->real_off = ev->real_ns - (int64_t)ev->mono_ns;
		im->have_off = 1;
	}
	int r;
	if (strncmp(ev->name, "ctrace:", 7) == 0)
		r = ctrace_event(im, ev, ev->name + 7);
	else
		r = helper_event(im, ev);
	if (r > 0)
		count_unknown(im, ev->name);
	if (r < 0)
		im->failed = 1;
	return r < 0 ? -1 : 0;
}

int imp_discarded(struct imp *im, uint32_t vpid, uint32_t vtid, uint64_t mono_ns,
		  uint64_t count)
{
	if (im->failed || !count)
		return im->failed ? -1 : 0;
	if (!vtid) {
		vpid = im->last_pid;
		vtid = im->last_tid;
	}
	if (!vtid) {
		if (!im->nthr) {
			im->st.lost += count; /* nothing to attach it to: reported, not written */
			return 0;
		}
		vpid = im->thr[0].pid;
		vtid = im->thr[0].tid;
	}
	im->st.lost += count;
	if (put_event(im, vpid, vtid, mono_ns, CTRACE_EV_LOST, &count, 1, NULL, 0) < 0) {
		im->failed = 1;
		return -1;
	}
	return 0;
}

int imp_finish(struct imp *im, struct imp_stats *st)
{
	int r = im->failed ? -1 : 0;
	for (size_t i = 0; i < im->nprocs && r == 0; i++)
		if (flush_proc(im, &im->procs[i], 1) < 0)
			r = -1;
	im->st.processes = im->nprocs;
	im->st.threads = im->nthr;
	if (st)
		*st = im->st;
	return r;
}

void imp_free(struct imp *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->nprocs; i++) {
		for (size_t k = 0; k < im->procs[i].nstacks; k++)
			free(im->procs[i].stacks[k].pcs);
		free(im->procs[i].stacks);
	}
	for (size_t i = 0; i < im->nthr; i++)
		ctr_bytes_free(&im->thr[i].buf);
	free(im->procs);
	free(im->thr);
	ctr_genenc_fini(&im->enc);
	free(im);
}
