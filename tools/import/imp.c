/*
 * ctrace import: LTTng events (names and field values) to a ctrace trace. See imp.h.
 *
 * `ctrace:*` events carry the native recorder's arguments in the format's order (after
 * pid, tid and tick), so one rule maps them all back. Events of LTTng's own helpers are
 * mapped where their meaning is a ctrace event: lttng_ust_libc allocations and frees, and
 * lttng_ust_pthread mutex lock request/acquire as a blocking episode.
 *
 * Times. A process whose first event carries ctrace's `tick` keeps ticks: every event's
 * time is the tick the native recorder would have written (events without one, LTTng's
 * helpers and discarded-event records, get their LTTng time converted back), and each
 * generation's clock record is the native recorder's own, from the latest
 * ctrace:generation the writer thread emitted; before the first one, the ratio is
 * estimated from the first and the latest (tick, LTTng time) pairs of the process's events.
 * So intervals are the native recorder's, not LTTng's (whose timestamps come a little
 * after the tick, and for what the writer thread emits, up to its drain period later).
 * A process of other providers only keeps LTTng's CLOCK_MONOTONIC ns.
 *
 * Order. The writer's events reach LTTng after later events of their thread; each thread's
 * events are sorted by time when a generation is written, and a cut keeps back the events
 * of the last IMP_HOLD_NS of LTTng time for the next one.
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

/* A process's clock: time t (ticks, or ns for a process in ns) is ns
 * m0 + (t - t0) × nspan / tspan. */
struct imap {
	uint64_t t0;
	int64_t m0;
	uint64_t tspan, nspan;
};

enum { TIME_UNSET, TIME_TICKS, TIME_NS };

struct iproc {
	uint32_t pid;
	uint32_t seq;
	int time;             /* TIME_*: what its events' times are, from its first event */
	int started;
	uint64_t pending;     /* events waiting to be written, held ones included */
	uint64_t held;        /* of those, held back at the last cut */
	uint64_t cut_ns;      /* LTTng time of its last cut (or first event) */
	uint64_t first_ns;    /* LTTng time of its first event */
	char exe[256];
	struct istack *stacks;
	size_t nstacks, cap;
	/* The clock: the native recorder's (ctrace:generation), else estimated from the
	 * (tick, LTTng time) pairs of events its threads recorded: the first and the latest. */
	int have_gen;
	struct imap gen;
	int64_t gen_real_off;
	uint64_t npairs;
	uint64_t pair_t[2], pair_m[2];
	char switches[160];   /* context_switches, from ctrace:generation */
	int saw_switch;
};

/* An event waiting in its thread: its time, and its bytes (encoded with a zero delta). */
struct iev {
	uint64_t t;
	uint64_t seq;
	size_t off;
	uint32_t len;
};

struct ithr {
	uint32_t pid, tid;
	struct ctr_bytes buf;
	struct iev *ev;
	size_t n, cap;
	uint64_t seq;
	int wrote;
	uint64_t last; /* time of the last event written */
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

/* Spans kept below 2^40 (a ratio, not a count: the precision lost is nothing), so that
 * the reader's and our products stay small. */
static void map_ratio(struct imap *m, uint64_t tspan, uint64_t nspan)
{
	while (tspan >= (1ull << 40) || nspan >= (1ull << 40)) {
		tspan >>= 1;
		nspan >>= 1;
	}
	m->tspan = tspan ? tspan : 1;
	m->nspan = nspan ? nspan : 1;
}

/* The clock @p's times are converted with now. */
static void proc_map(const struct iproc *p, struct imap *m)
{
	if (p->time != TIME_TICKS) {
		*m = (struct imap){ 0, 0, 1, 1 };
	} else if (p->have_gen) {
		*m = p->gen;
	} else if (p->npairs >= 2 && p->pair_t[1] > p->pair_t[0] && p->pair_m[1] > p->pair_m[0]) {
		m->t0 = p->pair_t[0];
		m->m0 = (int64_t)p->pair_m[0];
		map_ratio(m, p->pair_t[1] - p->pair_t[0], p->pair_m[1] - p->pair_m[0]);
	} else if (p->npairs) {
		*m = (struct imap){ p->pair_t[0], (int64_t)p->pair_m[0], 1, 1 };
	} else {
		*m = (struct imap){ 0, 0, 1, 1 };
	}
}

/* Saturating, so that hostile input gives times the reader takes. */
static int64_t map_ns(const struct imap *m, uint64_t t)
{
	const __int128 lim = ((__int128)1 << 62) - 1;
	__int128 v = (__int128)m->m0 +
		     ((__int128)t - (__int128)m->t0) * (__int128)m->nspan / (__int128)m->tspan;
	return (int64_t)(v > lim ? lim : v < -lim ? -lim : v);
}

static uint64_t map_ticks(const struct imap *m, uint64_t ns)
{
	__int128 v = (__int128)m->t0 +
		     ((__int128)ns - (__int128)m->m0) * (__int128)m->tspan / (__int128)m->nspan;
	return v < 0 ? 0 : v > (__int128)UINT64_MAX ? UINT64_MAX : (uint64_t)v;
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

static int cmp_iev(const void *a, const void *b)
{
	const struct iev *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Events the recorder's writer thread makes for a thread (LTTng's time is when it read
 * them, and its vtid the writer's). */
static int writer_made(unsigned type)
{
	return type == CTRACE_EV_SWITCH_IN || type == CTRACE_EV_SWITCH_OUT ||
	       type == CTRACE_EV_ALLOC_STATS;
}

/*
 * A thread's perf ring opens as it records its first event, thread_start, just before that
 * event's time is taken: a context switch in between comes before thread_start by time.
 * Natively it comes after (in a batch of its own, read after the thread's); so here too,
 * at thread_start's time, so that the thread starts with its thread_start.
 */
static void start_first(struct ithr *t)
{
	size_t k = 0;
	while (k < t->n && writer_made(t->buf.p[t->ev[k].off]))
		k++;
	if (k == 0 || k == t->n || t->buf.p[t->ev[k].off] != CTRACE_EV_THREAD_START)
		return;
	struct iev start = t->ev[k];
	memmove(&t->ev[1], &t->ev[0], k * sizeof(*t->ev));
	t->ev[0] = start;
	for (size_t i = 1; i <= k; i++)
		t->ev[i].t = start.t;
}

/*
 * Thread @t's events (sorted) up to time @upto, as one batch; the later ones stay.
 * @return the number written, or -1 when out of memory.
 */
static int64_t put_thread(struct imp *im, struct ithr *t, uint64_t upto, const struct imap *m,
			  uint64_t *first, uint64_t *lastt)
{
	size_t k = 0;
	while (k < t->n && t->ev[k].t <= upto)
		k++;
	if (!k)
		return 0;
	struct ctr_bytes out = { 0 }, keep = { 0 };
	uint64_t prev = t->wrote && t->last > t->ev[0].t ? t->last : t->ev[0].t;
	const uint64_t base = prev;
	for (size_t i = 0; i < k; i++) {
		const struct iev *e = &t->ev[i];
		/* Later than an event already written (one more than the hold-back late):
		 * at that event's time, so that the thread's order holds. */
		uint64_t tm = e->t < prev ? prev : e->t;
		const uint8_t *b = t->buf.p + e->off;
		ctr_bytes_put(&out, b, 1);
		ctr_bytes_varint(&out, tm - prev);
		ctr_bytes_put(&out, b + 2, e->len - 2);
		prev = tm;
	}
	for (size_t i = k; i < t->n; i++) {
		struct iev *e = &t->ev[i];
		size_t off = keep.len;
		ctr_bytes_put(&keep, t->buf.p + e->off, e->len);
		e->off = off;
		t->ev[i - k] = *e;
	}
	if (out.failed || keep.failed) {
		ctr_bytes_free(&out);
		ctr_bytes_free(&keep);
		return -1;
	}
	ctr_genenc_batch(&im->enc, t->tid, base, k, out.p, out.len, map_ns(m, base),
			 map_ns(m, prev));
	ctr_bytes_free(&out);
	ctr_bytes_free(&t->buf);
	t->buf = keep;
	t->n -= k;
	t->wrote = 1;
	t->last = prev;
	if (base < *first)
		*first = base;
	if (prev > *lastt)
		*lastt = prev;
	return (int64_t)k;
}

/* How late an event made by the recorder's writer thread (a context switch, allocation
 * counters) may reach LTTng after the events its thread recorded itself: the writer reads
 * them every 10 ms; a cut keeps back what is younger than this. */
#define IMP_HOLD_NS 250000000ull

/*
 * Write @p's events up to LTTng time @upto_ns (all of them with @last: the last generation
 * of its stream).
 */
static int flush_proc(struct imp *im, struct iproc *p, uint64_t upto_ns, int last)
{
	struct ctr_genenc *e = &im->enc;
	if (!p->pending && !last)
		return 0;
	struct imap m;
	proc_map(p, &m);
	uint64_t upto = last ? UINT64_MAX : p->time == TIME_TICKS ? map_ticks(&m, upto_ns) : upto_ns;
	int64_t real_off = p->have_gen ? p->gen_real_off : im->real_off;
	uint64_t ready = 0;
	for (size_t i = 0; i < im->nthr; i++) {
		struct ithr *t = &im->thr[i];
		if (t->pid != p->pid || !t->n)
			continue;
		qsort(t->ev, t->n, sizeof(*t->ev), cmp_iev);
		start_first(t);
		ready += t->ev[0].t <= upto;
	}
	if (!ready && !last) {
		p->held = p->pending; /* everything is held back: no generation yet */
		return 0;
	}
	ctr_genenc_begin(e, p->pid, p->seq);
	ctr_genenc_schema(e);
	ctr_genenc_calls(e);
	ctr_genenc_process(e, p->pid, 0, p->exe, p->exe, strlen(p->exe),
			   (uint64_t)((int64_t)p->first_ns + im->real_off));
	ctr_genenc_info(e, "clock", p->time == TIME_TICKS && m.tspan != m.nspan ? "tsc" : "monotonic");
	ctr_genenc_info(e, "source", "lttng (ctrace import)");
	if (p->switches[0])
		ctr_genenc_info(e, "context_switches", p->switches);
	else if (p->saw_switch)
		ctr_genenc_info(e, "context_switches", "perf");
	put_stacks(im, p);
	uint64_t first = UINT64_MAX, lastt = 0, written = 0;
	uint32_t threads = 0;
	for (size_t i = 0; i < im->nthr; i++) {
		struct ithr *t = &im->thr[i];
		if (t->pid != p->pid || !t->n)
			continue;
		int64_t k = put_thread(im, t, upto, &m, &first, &lastt);
		if (k < 0)
			return -1;
		if (k)
			threads++;
		written += (uint64_t)k;
	}
	p->seq++;
	im->st.events_out += written;
	if (first == UINT64_MAX)
		first = lastt = p->time == TIME_TICKS ? map_ticks(&m, p->cut_ns) : p->cut_ns;
	int64_t f_ns = map_ns(&m, first), l_ns = map_ns(&m, lastt);
	struct ctr_sync s[2] = {
		{ first, (uint64_t)f_ns, (uint64_t)(f_ns + real_off) },
		{ lastt, (uint64_t)l_ns, (uint64_t)(l_ns + real_off) },
	};
	ctr_genenc_clock(e, m.tspan == m.nspan && (int64_t)m.t0 == m.m0 ? 1 : 0, m.tspan, m.nspan,
			 s, lastt > first ? 2 : 1);
	e->threads = threads;
	e->close_ns = l_ns;
	if (last)
		e->flags |= 1;
	const uint8_t *hdr, *frame;
	size_t flen;
	if (ctr_genenc_finish(e, &hdr, &frame, &flen) < 0 ||
	    write_all(im->fd, hdr, CTR_GEN_HEADER_SIZE) < 0 || write_all(im->fd, frame, flen) < 0)
		return -1;
	im->st.generations++;
	p->pending -= written;
	p->held = p->pending;
	return 0;
}

/* Append one event of @type at time @tm (the process's unit) to thread (@pid, @tid);
 * @ns is its LTTng time. */
static int put_event(struct imp *im, uint32_t pid, uint32_t tid, uint64_t tm, uint64_t ns,
		     uint8_t type, const uint64_t *args, unsigned nargs, const void *blob,
		     size_t blen)
{
	struct iproc *p = proc_get(im, pid);
	if (!p)
		return -1;
	if (!p->started) {
		p->started = 1;
		p->first_ns = p->cut_ns = ns;
	}
	if (p->pending > p->held &&
	    (p->pending - p->held >= IMP_GEN_EVENTS || ns - p->cut_ns >= IMP_GEN_NS)) {
		p->cut_ns = ns;
		if (flush_proc(im, p, ns > IMP_HOLD_NS ? ns - IMP_HOLD_NS : 0, 0) < 0)
			return -1;
	}
	struct ithr *t = thr_get(im, pid, tid);
	if (!t)
		return -1;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct iev *ne = realloc(t->ev, cap * sizeof(*ne));
		if (!ne)
			return -1;
		t->ev = ne;
		t->cap = cap;
	}
	if (blen > 65536)
		blen = 65536;
	uint8_t small[256];
	size_t need = 1 + (1 + (size_t)nargs) * CTR_VARINT_MAX + CTR_VARINT_MAX + blen;
	uint8_t *tmp = need <= sizeof(small) ? small : malloc(need);
	if (!tmp)
		return -1;
	size_t n = ctr_event_encode(tmp, type, 0, args, nargs, blob, blen);
	size_t off = t->buf.len;
	ctr_bytes_put(&t->buf, tmp, n);
	if (tmp != small)
		free(tmp);
	if (t->buf.failed)
		return -1;
	t->ev[t->n++] = (struct iev){ tm, t->seq++, off, (uint32_t)n };
	p->pending++;
	im->last_pid = pid;
	im->last_tid = tid;
	return 0;
}

/* The time of an event of process @pid in its unit: @tick when it carries one (and the
 * process counts ticks), else its LTTng time @ns. */
static int event_time(struct imp *im, uint32_t pid, int has_tick, uint64_t tick, uint64_t ns,
		      uint64_t *tm)
{
	struct iproc *p = proc_get(im, pid);
	if (!p)
		return -1;
	if (p->time == TIME_UNSET)
		p->time = has_tick ? TIME_TICKS : TIME_NS;
	if (p->time == TIME_NS) {
		*tm = ns;
	} else if (has_tick) {
		*tm = tick;
	} else {
		struct imap m;
		proc_map(p, &m);
		*tm = map_ticks(&m, ns);
	}
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

/* ctrace:generation: the native recorder's clock, which the process's ticks convert with
 * from now on, and how it recorded context switches. */
static int generation_event(struct imp *im, const struct imp_event *ev)
{
	uint32_t pid = (uint32_t)fval(ev, "pid");
	uint64_t tspan = fval(ev, "tick_span"), nspan = fval(ev, "ns_span");
	if (!pid)
		pid = ev->vpid;
	if (!pid || !tspan || !nspan)
		return 1;
	struct iproc *p = proc_get(im, pid);
	if (!p)
		return -1;
	p->have_gen = 1;
	p->gen.t0 = fval(ev, "tick");
	p->gen.m0 = (int64_t)(fval(ev, "mono_ns") & (UINT64_MAX >> 2));
	map_ratio(&p->gen, tspan, nspan);
	p->gen_real_off = (int64_t)(fval(ev, "real_ns") & (UINT64_MAX >> 2)) - p->gen.m0;
	const struct imp_field *sw = field(ev, "context_switches");
	if (sw && sw->kind == IMP_TEXT) {
		size_t l = sw->len < sizeof(p->switches) - 1 ? sw->len : sizeof(p->switches) - 1;
		if (l)
			memcpy(p->switches, sw->text, l);
		p->switches[l] = 0;
	}
	return 0;
}

static int ctrace_event(struct imp *im, const struct imp_event *ev, const char *name)
{
	if (strcmp(name, "stack") == 0)
		return stack_event(im, ev);
	if (strcmp(name, "generation") == 0)
		return generation_event(im, ev);
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
	uint64_t tick = 0;
	int has_tick = 0;
	for (unsigned i = 0; i < ev->nfields; i++) {
		const struct imp_field *f = &ev->f[i];
		if (strcmp(f->name, "pid") == 0) {
			pid = (uint32_t)f->u;
		} else if (strcmp(f->name, "tid") == 0) {
			tid = (uint32_t)f->u;
		} else if (strcmp(f->name, "tick") == 0) {
			has_tick = f->kind == IMP_UINT || f->kind == IMP_SINT;
			tick = f->u;
		} else if (f->name[0] == '_') {
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
	uint64_t tm;
	if (event_time(im, pid, has_tick, tick, ev->mono_ns, &tm) < 0)
		return -1;
	struct iproc *p = proc_get(im, pid);
	if (writer_made(type)) {
		p->saw_switch |= type != CTRACE_EV_ALLOC_STATS;
	} else if (has_tick && p->time == TIME_TICKS) {
		/* A clock pair: the tick and LTTng's time, taken a moment later on the thread. */
		int k = p->npairs ? 1 : 0;
		p->pair_t[k] = tick;
		p->pair_m[k] = ev->mono_ns;
		p->npairs++;
	}
	return put_event(im, pid, tid, tm, ev->mono_ns, (uint8_t)type, args, n, blob,
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
	uint64_t tm;
	if (event_time(im, ev->vpid, 0, 0, ev->mono_ns, &tm) < 0)
		return -1;
	return put_event(im, ev->vpid, ev->vtid, tm, ev->mono_ns, type, a, nargs, NULL, 0);
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
	uint64_t tm;
	if (event_time(im, vpid, 0, 0, mono_ns, &tm) < 0 ||
	    put_event(im, vpid, vtid, tm, mono_ns, CTRACE_EV_LOST, &count, 1, NULL, 0) < 0) {
		im->failed = 1;
		return -1;
	}
	return 0;
}

int imp_finish(struct imp *im, struct imp_stats *st)
{
	int r = im->failed ? -1 : 0;
	for (size_t i = 0; i < im->nprocs && r == 0; i++)
		if (flush_proc(im, &im->procs[i], 0, 1) < 0)
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
	for (size_t i = 0; i < im->nthr; i++) {
		ctr_bytes_free(&im->thr[i].buf);
		free(im->thr[i].ev);
	}
	free(im->procs);
	free(im->thr);
	ctr_genenc_fini(&im->enc);
	free(im);
}
