/*
 * The writer thread: drains every slot's ring into the open generation, closes a generation
 * every period (or when it grows past gen_max_bytes), and writes it to the sink.
 *
 * It is the only thread that touches the encoder once started; writer_start() prepares
 * the first generation before the thread exists. Its own calls are never traced (its TLS
 * state is 2) and it runs with every signal blocked, so a closed pipe gives EPIPE, not a
 * SIGPIPE that would kill the traced program.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../format/encode.h"
#include "internal.h"

enum { REQ_STOP = 1, REQ_FLUSH = 2, REQ_ADD = 4, REQ_REMOVE = 8, REQ_PAUSE = 16 };

static struct writer {
	pthread_t thread;
	int alive;
	int paused; /* alive, but its thread stood down for a while (ctr_writer_pause) */
	struct ctr_genenc enc;
	int enc_ready;
	uint32_t seq;
	struct ctr_sync gen_sync;
	uint64_t gen_events;
	uint64_t min_ticks, max_ticks;
	uint32_t threads;
	uint64_t capture_start;
	struct ctr_schema schema;
	uint8_t *stage;
	size_t stage_cap;
	_Atomic int req;
	_Atomic uint32_t flushes; /* futex: completed flushes and sink changes */
	_Atomic int owner;        /* who does the writing: 0 not yet decided, 1 the writer
				   * thread, 2 the thread that execs (ctr_writer_flush_exec) */
	struct ctr_sink *sinks;   /* the writer thread's; changed by it on request */
	struct ctr_sink *pending; /* the sink of a REQ_ADD or REQ_REMOVE */
	int error;
	uint64_t lost_written;
	/* the process, read once per stream */
	char exe[PATH_MAX];
	char *argv;
	size_t argv_len;
	pid_t ppid;
	uint64_t start_real;
} W;

static void futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

/* Hand the bytes to every sink that still works. @return how many took them. */
static int write_sinks(const void *a, size_t alen, const void *b, size_t blen)
{
	int ok = 0;
	for (struct ctr_sink *k = W.sinks; k; k = k->next) {
		if (k->failed)
			continue;
		int err = k->write(k, a, alen, b, blen);
		if (err < 0) {
			k->failed = 1;
			k->error = CTRACE_EIO;
			ctr_warn("cannot write the trace to the %s: %s; it gets no more", k->name,
				 strerror(-err));
			continue;
		}
		ok++;
	}
	return ok;
}

static void read_process(void)
{
	ssize_t n = readlink("/proc/self/exe", W.exe, sizeof(W.exe) - 1);
	W.exe[n > 0 ? n : 0] = 0;
	free(W.argv);
	W.argv = NULL;
	W.argv_len = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		size_t cap = 0;
		for (;;) {
			if (W.argv_len + 4096 > cap) {
				cap = cap ? cap * 2 : 8192;
				char *p = realloc(W.argv, cap);
				if (!p)
					break;
				W.argv = p;
			}
			ssize_t r = read(fd, W.argv + W.argv_len, cap - W.argv_len);
			if (r <= 0 || W.argv_len + (size_t)r > (1u << 20))
				break;
			W.argv_len += (size_t)r;
		}
		close(fd);
	}
	W.ppid = getppid();
	W.start_real = ctr_real_ns();
}

static void gen_begin(void)
{
	char buf[64];

	ctr_genenc_begin(&W.enc, (uint32_t)ctr_g.pid, W.seq);
	ctr_genenc_schema(&W.enc);
	ctr_genenc_calls(&W.enc);
	ctr_genenc_process(&W.enc, (uint32_t)ctr_g.pid, (uint32_t)W.ppid, W.exe, W.argv,
			   W.argv_len, W.start_real);
	ctr_genenc_info(&W.enc, "clock", ctr_clock_is_tsc ? "tsc" : "monotonic");
	ctr_genenc_info(&W.enc, "tracer", "ctrace " CTRACE_VERSION);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)ctr_g.cfg.ring_size);
	ctr_genenc_info(&W.enc, "thread_buffer_bytes", buf);
	snprintf(buf, sizeof(buf), "%llu", 1000000000ull / CTR_CPU_PROFILE_HZ);
	ctr_genenc_info(&W.enc, "cpu_sample_period_ns", buf);
	ctr_genenc_info(&W.enc, "context_switches",
			!(ctr_g.cfg.classes & CTR_CLASS_SCHED) ? "off"
			: ctr_perf_status[0]                   ? ctr_perf_status
								: "perf");
	if ((ctr_g.cfg.classes & CTR_CLASS_SCHED) && !ctr_perf_status[0])
		ctr_genenc_info(&W.enc, "context_switch_rings",
				ctr_sched_rings_name());
	ctr_gentab_reset();
	ctr_clock_sync(&W.gen_sync);
	W.gen_events = 0;
	W.min_ticks = UINT64_MAX;
	W.max_ticks = 0;
	W.threads = 0;
}

static void note_ticks(uint64_t first, uint64_t last)
{
	if (first < W.min_ticks)
		W.min_ticks = first;
	if (last > W.max_ticks)
		W.max_ticks = last;
}

static int stage_reserve(size_t need)
{
	if (need <= W.stage_cap)
		return 0;
	size_t cap = W.stage_cap ? W.stage_cap : 65536;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(W.stage, cap);
	if (!p)
		return -1;
	W.stage = p;
	W.stage_cap = cap;
	return 0;
}

/* A batch the writer makes itself for thread @tid (snapshots, kernel records). */
struct synth {
	uint8_t buf[4096];
	size_t len;
	uint64_t n, base, last, first;
	uint32_t tid;
};

static void synth_begin(struct synth *b, uint32_t tid, uint64_t base)
{
	b->len = 0;
	b->n = 0;
	b->base = b->last = base;
	b->tid = tid;
}

static void synth_flush(struct synth *b)
{
	if (!b->n)
		return;
	ctr_genenc_batch(&W.enc, b->tid, b->base, b->n, b->buf, b->len, -1, -1);
	note_ticks(b->first, b->last);
	W.gen_events += b->n;
	b->base = b->last;
	b->len = 0;
	b->n = 0;
}

static void synth_add(struct synth *b, uint8_t type, uint64_t ticks, const uint64_t *args,
		      unsigned nargs, const void *blob, size_t blob_len)
{
	if (blob_len > sizeof(b->buf) / 2)
		blob_len = sizeof(b->buf) / 2;
	if (b->len + 1 + (nargs + 2) * CTR_VARINT_MAX + blob_len > sizeof(b->buf))
		synth_flush(b);
	if (ticks < b->last)
		ticks = b->last; /* keep the batch in order */
	if (!b->n)
		b->first = ticks;
	b->len += ctr_event_encode(b->buf + b->len, type, ticks - b->last, args, nargs, blob,
				   blob_len);
	b->last = ticks;
	b->n++;
}

/* ns (CLOCK_MONOTONIC) to ticks, with the ratio measured so far. */
static uint64_t ns_to_ticks(uint64_t ns, const struct ctr_sync *ref, uint64_t tick_span,
			    uint64_t ns_span)
{
	__int128 d = (__int128)ns - (__int128)ref->mono_ns;
	__int128 t = (__int128)ref->ticks + d * (__int128)tick_span / (__int128)ns_span;
	return t < 0 ? 0 : (uint64_t)t;
}

/*
 * A thread's context switches go into the same batch as its own events, merged in time
 * order: the reader hands a generation over thread batch by thread batch, so a switch in
 * a batch of its own would reach the model after the calls it happened in.
 */
struct switch_ev {
	uint64_t ticks;
	uint32_t cpu;
	uint8_t out, preempted;
};

static struct {
	struct ctr_sync ref; /* the clock at this drain: switch times are CLOCK_MONOTONIC */
	uint64_t tick_span, ns_span;
	struct switch_ev *ev; /* the slot's switches of this drain, in time order */
	size_t len, cap;
} SW;

static uint64_t perf_lost;

static void switch_push(void *ud, uint64_t ns, int out, int preempted, uint32_t cpu)
{
	(void)ud;
	uint64_t ticks = ns_to_ticks(ns, &SW.ref, SW.tick_span, SW.ns_span);
	if (ticks < W.capture_start)
		return;
	if (SW.len == SW.cap) {
		size_t cap = SW.cap ? 2 * SW.cap : 256;
		struct switch_ev *p = realloc(SW.ev, cap * sizeof(*p));
		if (!p) {
			perf_lost++;
			return;
		}
		SW.ev = p;
		SW.cap = cap;
	}
	struct switch_ev *e = &SW.ev[SW.len++];
	e->ticks = ticks;
	e->cpu = cpu;
	e->out = (uint8_t)out;
	e->preempted = (uint8_t)preempted;
}

/* The slot's context switches since the last drain, into SW (from the per-CPU rings' last
 * collect, or from the thread's own ring). */
static void gather_switches(struct ctr_slot *s)
{
	SW.len = 0;
	int own = atomic_load_explicit(&s->perf_fd, memory_order_acquire) >= 0;
	if (ctr_sched_cpu_wide()) {
		size_t n;
		const struct ctr_switch *sw = ctr_sched_cpu_find(s->tid, &n);
		for (size_t i = 0; i < n; i++)
			switch_push(NULL, sw[i].ns, sw[i].out, sw[i].preempted, sw[i].cpu);
		if (own) /* a ring from a capture before this one: the CPU rings have it all */
			ctr_sched_thread_fini(s);
	} else if (own) {
		ctr_sched_drain(s, switch_push, NULL, &perf_lost);
	}
}

/* A switch event's most bytes: type, delta, cpu, flags. */
#define SWITCH_EV_MAX (1 + 3 * CTR_VARINT_MAX)

/* Encode switch @e of thread @tid at @dst after an event at *@last (and hand it to the
 * LTTng sink when that is on): its length. */
static size_t switch_encode(uint8_t *dst, uint32_t tid, const struct switch_ev *e,
			    uint64_t *last)
{
	uint64_t t = e->ticks > *last ? e->ticks : *last; /* keep the batch in order */
	uint64_t args[2] = { e->cpu, e->preempted };
	uint8_t type = e->out ? CTRACE_EV_SWITCH_OUT : CTRACE_EV_SWITCH_IN;
	size_t n = ctr_event_encode(dst, type, t - *last, args, e->out ? 2 : 1, NULL, 0);
	ctr_lttng_synth(tid, type, t, args, e->out ? 2 : 1);
	*last = t;
	return n;
}

/*
 * The slot's allocation counters, counted from the capture's start, when they changed:
 * an alloc_stats event of its thread.
 */
static void slot_alloc_stats(struct ctr_slot *s, uint64_t ticks)
{
	struct synth b;
	uint64_t a[3] = {
		atomic_load_explicit(&s->alloc_count, memory_order_relaxed),
		atomic_load_explicit(&s->alloc_bytes, memory_order_relaxed),
		atomic_load_explicit(&s->free_count, memory_order_relaxed),
	};
	if (a[0] == s->w_alloc_count && a[1] == s->w_alloc_bytes && a[2] == s->w_free_count)
		return;
	s->w_alloc_count = a[0];
	s->w_alloc_bytes = a[1];
	s->w_free_count = a[2];
	for (int i = 0; i < 3; i++)
		a[i] = a[i] >= s->w_alloc_base[i] ? a[i] - s->w_alloc_base[i] : 0;
	synth_begin(&b, s->tid, ticks);
	synth_add(&b, CTRACE_EV_ALLOC_STATS, ticks, a, 3, NULL, 0);
	synth_flush(&b);
	ctr_lttng_synth(s->tid, CTRACE_EV_ALLOC_STATS, ticks, a, 3);
}

/*
 * Events the slot's thread could not record and has not said so, because it ended, or the
 * capture ends, before its ring had room for the lost record again: a lost record at
 * @ticks, and the thread's end when @ended and that was among them (it is the last event
 * a thread tries).
 */
static void slot_lost_tail(struct ctr_slot *s, uint64_t ticks, int ended)
{
	uint64_t n = atomic_exchange_explicit(&s->lost, 0, memory_order_relaxed);
	if (!n)
		return;
	struct synth b;
	if (ticks < s->w_ticks)
		ticks = s->w_ticks;
	synth_begin(&b, s->tid, ticks);
	synth_add(&b, CTRACE_EV_LOST, ticks, &n, 1, NULL, 0);
	if (ended && s->end_how) {
		uint64_t how = s->end_how - 1;
		synth_add(&b, CTRACE_EV_THREAD_END, ticks, &how, 1, NULL, 0);
	}
	synth_flush(&b);
}

/*
 * Ring events that go to the stage unchanged, copied in one piece when something else must
 * go after them (a switch, an event whose delta changes, the end of the ring's bytes).
 */
struct run {
	const uint8_t *p;
	size_t len;
};

/* Copy @r to @dst and start the next run where it ended. @return the bytes written. */
static size_t run_flush(uint8_t *dst, struct run *r)
{
	size_t n = r->len;
	if (!n)
		return 0;
	memcpy(dst, r->p, n);
	r->p += n;
	r->len = 0;
	return n;
}

/*
 * Copy the ring event at @p (@len bytes) to @dst with @delta as its time delta: switches
 * went in between it and the ring's previous event. @return the bytes written.
 */
static size_t event_rewrite(uint8_t *dst, const uint8_t *p, size_t len, uint64_t delta)
{
	size_t old = 1; /* the type byte, then the delta's varint */
	while (p[old++] & 0x80)
		;
	uint8_t *q = dst;
	*q++ = p[0];
	q = ctr_put_varint(q, delta); /* never longer: the switches came after the ring's previous */
	memcpy(q, p + old, len - old);
	return (size_t)(q - dst) + len - old;
}

/*
 * A thread that wrote more than half its ring since the last drain may fill it before the
 * next, when the writer waits for a CPU or writes a generation: offer it a ring that holds
 * two drain periods at the rate it wrote, at least twice its own, up to CTR_RING_GROW_MAX
 * and within half the buffer budget (ctr_ring_offer), in one step (doubling took a dozen drains from 16 KiB, and
 * a thread writing 10 M events/s lost events meanwhile).
 */
static void ring_grow(struct ctr_slot *s, uint64_t pending, uint64_t size)
{
	uint64_t now = SW.ref.mono_ns, since = now - s->w_drain_ns;
	s->w_drain_ns = now;
	uint64_t cur = s->w_mask + 1;
	if (pending <= size / 2 || s->w_offer_size || cur >= CTR_RING_GROW_MAX ||
	    atomic_load_explicit(&s->state, memory_order_acquire) != CTR_SLOT_LIVE)
		return;
	uint64_t want = 2 * cur;
	if (since > 0 && since < 1000000000u) {
		__int128 need = (__int128)pending * 2 * ctr_g.cfg.drain_ns / since;
		while (want < need && want < CTR_RING_GROW_MAX)
			want *= 2;
	}
	if (want > CTR_RING_GROW_MAX)
		want = CTR_RING_GROW_MAX;
	ctr_ring_offer(s, want, 2 * cur);
}

/* Move what the slot's ring holds into the open generation (or drop it when @keep is 0),
 * with the thread's context switches merged in. */
static void drain_slot(struct ctr_slot *s, int keep)
{
	uint64_t head = atomic_load_explicit(&s->pub_head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
	uint64_t ticks = s->w_ticks, base = s->w_ticks, first = 0, last = 0;
	size_t len = 0, si = 0;
	uint64_t n = 0;
	struct run run = { NULL, 0 }; /* starts at the first event kept */
	/* The time of SW.ev[si], kept at hand: most events have no switch before them. */
	uint64_t next_switch = UINT64_MAX;

	gather_switches(s);
	/* Until its first event the thread is not in the trace: the kernel switched it in
	 * before it wrote thread_start, and the per-CPU rings saw that. */
	int fresh = s->w_ticks == 0;
	/* With the LTTng sink alone the rings stay empty (events go to LTTng as they are
	 * made): the import puts such a switch after thread_start. */
	if (ctr_lttng_mode == CTR_SINK_LTTNG)
		fresh = 0;
	if (!keep || (fresh && head == tail))
		SW.len = 0;
	/* The ring's size was set before its first event was published (ring_map): read it
	 * only after seeing the ring. From then on the writer follows the thread's ring
	 * switches itself. */
	if (head != tail && !s->w_data &&
	    (s->w_data = atomic_load_explicit((_Atomic(uint8_t *) *)&s->data,
					      memory_order_acquire)))
		s->w_mask = s->mask;
	uint64_t size = 0;
	if (s->w_data)
		size = s->w_mask + 1;
	else
		head = tail;
	const uint64_t pending = head - tail;
	if (pending > size + s->w_offer_size ||
	    stage_reserve(pending + SW.len * SWITCH_EV_MAX) < 0) {
		/* Cannot happen unless memory is short: drop the lot, but count it. */
		atomic_fetch_add(&ctr_g.lost_noslot, 1);
		tail = head;
		SW.len = 0;
		goto done;
	}
	while (tail < head) {
		uint64_t off = tail & s->w_mask;
		const uint8_t *p = s->w_data + off;
		if (*p == 0) { /* padding to the end of the ring */
			tail = (tail | s->w_mask) + 1;
			continue;
		}
		if (*p == CTR_RING_SWITCH) { /* on in the ring the thread was offered */
			len += run_flush(W.stage + len, &run);
			ctr_ring_switched(s);
			size = s->w_mask + 1;
			tail++;
			continue;
		}
		uint64_t avail = head - tail < size - off ? head - tail : size - off;
		uint64_t delta, stack;
		size_t evlen = ctr_event_skip(&W.schema, p, p + avail, &delta, &stack);
		if (evlen == 0) {
			atomic_fetch_add(&ctr_g.lost_noslot, 1);
			tail = head;
			break;
		}
		ticks += delta;
		tail += evlen;
		if (!keep || ticks < W.capture_start) {
			base = ticks; /* before this capture: the next kept event counts from here */
			continue;
		}
		if (n == 0) {
			last = base;
			run.p = p;
			while (fresh && si < SW.len && SW.ev[si].ticks < ticks)
				si++;
			next_switch = si < SW.len ? SW.ev[si].ticks : UINT64_MAX;
		}
		if (unlikely(next_switch <= ticks)) {
			for (; si < SW.len && SW.ev[si].ticks <= ticks; si++, n++) {
				len += run_flush(W.stage + len, &run);
				len += switch_encode(W.stage + len, s->tid, &SW.ev[si], &last);
				first = n ? first : last;
			}
			next_switch = si < SW.len ? SW.ev[si].ticks : UINT64_MAX;
		}
		/* The generation must carry the tables of the stacks its events name. */
		if (stack)
			ctr_gentab_note_stack(stack);
		if (ticks - delta != last) {
			len += run_flush(W.stage + len, &run);
			len += event_rewrite(W.stage + len, p, evlen, ticks - last);
			run.p = p + evlen;
		} else if (p != run.p + run.len) {
			len += run_flush(W.stage + len, &run);
			run.p = p;
			run.len = evlen;
		} else {
			run.len += evlen;
		}
		last = ticks;
		first = n ? first : last;
		n++;
	}
	len += run_flush(W.stage + len, &run);
	if (n == 0)
		last = base;
	for (; si < SW.len; si++, n++) {
		len += switch_encode(W.stage + len, s->tid, &SW.ev[si], &last);
		first = n ? first : last;
	}
done:
	s->w_ticks = ticks;
	atomic_store_explicit(&s->tail, tail, memory_order_release);
	if (pending)
		ring_grow(s, pending, size);
	if (n) {
		ctr_genenc_batch(&W.enc, s->tid, base, n, W.stage, len, -1, -1);
		note_ticks(first, last);
		W.gen_events += n;
		if (s->w_gen != W.seq + 1) {
			s->w_gen = W.seq + 1;
			W.threads++;
		}
	}
	if (atomic_load_explicit(&s->state, memory_order_acquire) == CTR_SLOT_DEAD &&
	    atomic_load_explicit(&s->pub_head, memory_order_acquire) == tail) {
		if (keep) {
			slot_alloc_stats(s, s->w_ticks ? s->w_ticks : ctr_ticks());
			slot_lost_tail(s, ctr_ticks(), 1);
		}
		ctr_sched_thread_fini(s);
		ctr_sched_thread_gone(s->tid);
		s->w_ticks = 0;
		s->w_alloc_count = s->w_alloc_bytes = s->w_free_count = 0;
		memset(s->w_alloc_base, 0, sizeof(s->w_alloc_base));
		atomic_store_explicit(&s->state, CTR_SLOT_FREE, memory_order_release);
	}
}

static void drain_all(int keep)
{
	ctr_clock_sync(&SW.ref);
	ctr_clock_ratio(&SW.ref, &SW.tick_span, &SW.ns_span);
	ctr_sched_cpu_collect(&perf_lost);
	for (struct ctr_slot *s = atomic_load_explicit(&ctr_g.slots, memory_order_acquire); s;
	     s = s->next)
		drain_slot(s, keep);
}

/* Per thread, the allocation counters when they changed since the last time; at the
 * capture's end (@last) also the events it lost and could not say so yet. */
static void alloc_stats(uint64_t ticks, int last)
{
	for (struct ctr_slot *s = atomic_load_explicit(&ctr_g.slots, memory_order_acquire); s;
	     s = s->next) {
		int st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (st == CTR_SLOT_LIVE || st == CTR_SLOT_DEAD) {
			slot_alloc_stats(s, ticks);
			if (last)
				slot_lost_tail(s, ticks, 0);
		}
	}
}

/* The kernel's totals for every live thread (at the end of a capture). */
static void schedstat_all(uint64_t ticks)
{
	uint32_t *tids;
	char(*names)[16];
	size_t n;
	struct synth b;
	uint32_t self = (uint32_t)ctr_gettid();

	if (ctr_snapshot_threads(&tids, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		uint64_t st[3];
		if (tids[i] == self || ctr_schedstat_read(tids[i], st) < 0)
			continue;
		synth_begin(&b, tids[i], ticks);
		synth_add(&b, CTRACE_EV_SCHEDSTAT, ticks, st, 3, NULL, 0);
		synth_flush(&b);
	}
	free(tids);
	free(names);
}

/*
 * Before a generation's tables are written: while the symbolizer thread still works on
 * stacks this generation named, keep draining (the events go into this generation, and
 * the new stacks they name go to the symbolizer too). Bounded by the generation's size
 * limit and its period; past them the writer symbolizes what is left itself.
 */
static void await_symbols(void)
{
	uint64_t start = ctr_mono_ns();
	while (ctr_symwarm_pending() && ctr_genenc_size(&W.enc) < ctr_g.cfg.gen_max_bytes &&
	       ctr_mono_ns() - start < ctr_g.cfg.gen_period_ns) {
		ctr_symwarm_wait(ctr_g.cfg.drain_ns / 4);
		drain_all(1);
	}
}

/* Close the open generation and write it. */
static void gen_finish(int last)
{
	struct ctr_sync end;
	uint64_t tick_span, ns_span;
	const uint8_t *hdr, *frame;
	size_t frame_len;

	await_symbols();
	ctr_clock_sync(&end);
	alloc_stats(end.ticks, last);
	if (last)
		schedstat_all(end.ticks);
	ctr_gentab_emit(&W.enc);
	uint64_t lost = atomic_load(&ctr_g.lost_noslot) + perf_lost;
	if (lost > W.lost_written) {
		/* Events no thread could record, and context switches the kernel or the
		 * writer dropped: a process-wide lost record (tid 0). */
		uint8_t ev[1 + 2 * CTR_VARINT_MAX];
		uint64_t arg = lost - W.lost_written;
		size_t n = ctr_event_encode(ev, CTRACE_EV_LOST, 0, &arg, 1, NULL, 0);
		ctr_genenc_batch(&W.enc, 0, end.ticks, 1, ev, n, -1, -1);
		note_ticks(end.ticks, end.ticks);
		W.gen_events++;
		W.lost_written = lost;
	}
	ctr_clock_ratio(&end, &tick_span, &ns_span);
	ctr_lttng_generation(&end, tick_span, ns_span);
	atomic_store(&ctr_g.stack_min_ticks,
		     (uint64_t)((__int128)ctr_g.cfg.stack_min_ns * tick_span / ns_span));
	struct ctr_sync syncs[2] = { W.gen_sync, end };
	ctr_genenc_clock(&W.enc, ctr_clock_is_tsc ? 0 : 1, tick_span, ns_span, syncs, 2);
	if (W.gen_events) {
		W.enc.first_ns = ctr_ticks_to_ns(W.min_ticks, &W.gen_sync, tick_span, ns_span);
		W.enc.last_ns = ctr_ticks_to_ns(W.max_ticks, &W.gen_sync, tick_span, ns_span);
	}
	W.enc.close_ns = (int64_t)end.mono_ns;
	W.enc.threads = W.threads;
	W.enc.flags = last ? CTRACE_GEN_LAST : 0;
	int err = ctr_genenc_finish(&W.enc, &hdr, &frame, &frame_len);
	if (err == 0) {
		/* When no sink takes them any more, stop recording: nobody would read it. */
		if (!write_sinks(hdr, CTR_GEN_HEADER_SIZE, frame, frame_len) && W.sinks)
			ctr_set_on(0);
	} else {
		W.error = err;
		ctr_warn("cannot encode a generation: %s", ctrace_strerror(err));
	}
	W.seq++;
}

/*
 * What thread @tid is blocked in, read from its slot (a consistent copy: the owner may be
 * changing it). @a gets state, reason, call, object, since.
 */
static int blocked_state(uint32_t tid, uint64_t a[5])
{
	for (struct ctr_slot *s = atomic_load_explicit(&ctr_g.slots, memory_order_acquire); s;
	     s = s->next) {
		if (atomic_load_explicit(&s->state, memory_order_acquire) != CTR_SLOT_LIVE ||
		    s->tid != tid)
			continue;
		for (int tries = 0; tries < 100; tries++) {
			uint32_t q = atomic_load_explicit(&s->st_seq, memory_order_acquire);
			if (q & 1)
				continue;
			uint32_t call = __atomic_load_n(&s->st_call, __ATOMIC_RELAXED);
			uint32_t reason = __atomic_load_n(&s->st_reason, __ATOMIC_RELAXED);
			uint64_t obj = __atomic_load_n(&s->st_obj, __ATOMIC_RELAXED);
			uint64_t since = __atomic_load_n(&s->st_since, __ATOMIC_RELAXED);
			uint32_t coarse = __atomic_load_n(&s->st_coarse, __ATOMIC_RELAXED);
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&s->st_seq, memory_order_relaxed) != q)
				continue;
			if (!call)
				return 0;
			a[0] = reason == CTRACE_REASON_SYNC ? 1 : 2;
			a[1] = reason;
			a[2] = call;
			a[3] = obj;
			if (coarse) { /* CLOCK_MONOTONIC_COARSE ns: to ticks */
				struct ctr_sync now;
				uint64_t ts, ns;
				ctr_clock_sync(&now);
				ctr_clock_ratio(&now, &ts, &ns);
				since = ns_to_ticks(since, &now, ts, ns);
			}
			a[4] = since;
			return 1;
		}
		return 0;
	}
	return 0;
}

/*
 * The threads alive now, as existing threads at the capture's first instant: name,
 * kernel totals, and what each was blocked in (the interposers keep that even while
 * tracing is off).
 */
static void snapshot(const uint32_t *tids, const char (*names)[16], size_t n, uint64_t ticks)
{
	uint32_t self = (uint32_t)ctr_gettid();
	for (size_t i = 0; i < n; i++) {
		struct synth b;
		uint64_t a[5] = { 0, 0, CTRACE_THREAD_EXISTING };
		uint64_t st[3];
		if (tids[i] == self && ctr_tls.state == 2)
			continue; /* the writer itself */
		synth_begin(&b, tids[i], ticks);
		synth_add(&b, CTRACE_EV_THREAD_START, ticks, a, 3, NULL, 0);
		a[0] = 0;
		synth_add(&b, CTRACE_EV_THREAD_NAME, ticks, a, 1, names[i], strnlen(names[i], 16));
		if (ctr_schedstat_read(tids[i], st) == 0)
			synth_add(&b, CTRACE_EV_SCHEDSTAT, ticks, st, 3, NULL, 0);
		if (blocked_state(tids[i], a))
			synth_add(&b, CTRACE_EV_STATE, ticks, a, 5, NULL, 0);
		synth_flush(&b);
		W.threads++;
	}
}

/* A snapshot taken by the writer thread itself, for a capture joining a running one. */
static void snapshot_now(void)
{
	uint32_t *tids;
	char(*names)[16];
	size_t n;
	if (ctr_snapshot_threads(&tids, &names, &n) < 0)
		return;
	snapshot(tids, (const char(*)[16])names, n, ctr_ticks());
	free(tids);
	free(names);
}

/* A sink joins the running capture: it gets the file header, then generations from a
 * fresh one that begins with a snapshot of the threads. */
static void add_sink(struct ctr_sink *k)
{
	uint8_t hdr[CTR_FILE_HEADER_SIZE];
	if (W.gen_events) {
		gen_finish(0);
		gen_begin();
	}
	ctr_file_header(hdr);
	if (k->write(k, hdr, sizeof(hdr), NULL, 0) < 0) {
		k->failed = 1;
		k->error = CTRACE_EIO;
	}
	k->next = W.sinks;
	W.sinks = k;
	snapshot_now();
}

/* A sink leaves: the generation so far, with the kernel's totals, is its last. */
static void remove_sink(struct ctr_sink *k)
{
	gen_finish(0);
	gen_begin();
	for (struct ctr_sink **p = &W.sinks; *p; p = &(*p)->next) {
		if (*p == k) {
			*p = k->next;
			break;
		}
	}
	k->next = NULL;
}

static void ack(void)
{
	atomic_fetch_add(&W.flushes, 1);
	syscall(SYS_futex, &W.flushes, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * How long to sleep before the next drain. Thread rings grow to what a drain period needs;
 * the per-CPU switch rings (and the BPF filter's) cannot, and a burst of switches filled
 * perf's per-CPU rings (of 128 KiB then) in less than the 10 ms period, losing half of a
 * condvar ping-pong's records. So when the last collect found one over a quarter full, the sleep shrinks in
 * proportion (down to 1 ms), and grows back by doubling once they stay under a tenth. A
 * capture starts at 1 ms: a program switching hard from its first instant fills them
 * before the first full period ends.
 */
static uint64_t next_wait(uint64_t wait)
{
	const uint64_t lo = 1000000u, hi = ctr_g.cfg.drain_ns;
	unsigned fill = ctr_sched_cpu_fill();
	if (fill > 250)
		wait = wait * 250 / fill;
	else if (fill < 100)
		wait *= 2;
	if (wait > hi)
		wait = hi;
	if (wait < lo)
		wait = lo < hi ? lo : hi;
	return wait;
}

/*
 * Under AddressSanitizer only: a fork waits (up to 200 ms) for the writer thread to be
 * asleep between drains. GCC 12's ASan allocator does not hold its locks across fork(), as
 * glibc's malloc does, so a fork while the writer was allocating left a size-class lock
 * held in the child for good: its threads, the program's own among them, hung in their
 * first allocation there (gdb: both in SizeClassAllocator64::GetFromAllocator under
 * AsanThread::ThreadStart; `hostile` under `ctrace record`, 2 runs in 30 once the writer
 * drained every millisecond at a capture's start).
 */
#ifdef __SANITIZE_ADDRESS__
static pthread_mutex_t W_busy = PTHREAD_MUTEX_INITIALIZER;
static int W_busy_forking;
static _Atomic uint32_t W_running; /* bumped by each writer thread once it runs */
#define WORK_BEGIN() pthread_mutex_lock(&W_busy)
#define WORK_END() pthread_mutex_unlock(&W_busy)

/* The thread start allocates too (ASan's own, before writer_main): a capture's start waits
 * up to 1 s for the thread to run, so that a program forking at once forks after it. */
static void running(void)
{
	atomic_fetch_add(&W_running, 1);
	syscall(SYS_futex, &W_running, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void await_running(uint32_t before)
{
	uint64_t deadline = ctr_mono_ns() + 1000000000u;
	while (atomic_load(&W_running) == before) {
		uint64_t now = ctr_mono_ns();
		if (now >= deadline)
			return;
		futex_wait(&W_running, before, deadline - now);
	}
}

static void fork_prepare(void)
{
	ctr_tls.busy++;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	W_busy_forking = pthread_mutex_timedlock(&W_busy, &ts) == 0;
}

static void fork_parent(void)
{
	if (W_busy_forking)
		pthread_mutex_unlock(&W_busy);
	W_busy_forking = 0;
	ctr_tls.busy--;
}

void ctr_writer_atfork(void)
{
	pthread_atfork(fork_prepare, fork_parent, NULL);
}

void ctr_writer_fork_child(void)
{
	pthread_mutex_init(&W_busy, NULL);
	W_busy_forking = 0;
	ctr_tls.busy--;
}
#else
#define WORK_BEGIN() ((void)0)
#define WORK_END() ((void)0)
static void running(void)
{
}
static _Atomic uint32_t W_running;
static void await_running(uint32_t before)
{
	(void)before;
}
void ctr_writer_atfork(void)
{
}

void ctr_writer_fork_child(void)
{
}
#endif

static void *writer_main(void *arg)
{
	(void)arg;
	WORK_BEGIN();
	running();
	ctr_become_internal();
	int expect = 0;
	if (!atomic_compare_exchange_strong(&W.owner, &expect, 1)) {
		WORK_END();
		return NULL; /* a fork child's exec did the work before this thread could start */
	}
	ctr_internal_thread(1);
	ctr_symwarm_allow();
	ctr_symwarm_restart(); /* after a pause, what was queued */
	uint64_t gen_start = ctr_mono_ns(), wait = next_wait(0);

	for (;;) {
		WORK_END();
		if (!atomic_load_explicit(&ctr_g.kick, memory_order_acquire))
			futex_wait(&ctr_g.kick, 0, wait);
		WORK_BEGIN();
		atomic_store_explicit(&ctr_g.kick, 0, memory_order_relaxed);
		int req = atomic_exchange(&W.req, 0);
		drain_all(1);
		wait = next_wait(wait);
		uint64_t now = ctr_mono_ns();
		int stop = req & REQ_STOP;
		if (req & REQ_REMOVE) {
			await_symbols(); /* the kernel's totals come after the last events */
			schedstat_all(ctr_ticks());
			remove_sink(W.pending);
			gen_start = now;
		}
		if (req & REQ_ADD) {
			add_sink(W.pending);
			gen_start = now;
			wait = next_wait(0);
		}
		if (stop || (req & REQ_FLUSH) || now - gen_start >= ctr_g.cfg.gen_period_ns ||
		    ctr_genenc_size(&W.enc) >= ctr_g.cfg.gen_max_bytes) {
			/* An empty generation says nothing new; only the last one is always written. */
			if (W.gen_events || stop) {
				gen_finish(stop);
				if (!stop)
					gen_begin();
			}
			gen_start = now;
		}
		if (req & (REQ_FLUSH | REQ_ADD | REQ_REMOVE))
			ack();
		if (stop)
			break;
		if (req & REQ_PAUSE) {
			/* The capture goes on without this thread: the generation stays open,
			 * the switch rings stay mapped, and the next writer thread carries on. */
			WORK_END();
			ctr_internal_thread(0);
			return NULL;
		}
	}
	ctr_sched_cpu_close();
	WORK_END();
	ctr_internal_thread(0);
	return NULL;
}

/* Start the writer thread, every signal blocked (it and the threads it starts). */
static int spawn(void)
{
	uint32_t before = atomic_load(&W_running);
	atomic_store(&W.owner, 0);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
#ifdef __SANITIZE_THREAD__
	/* Through the interposable symbol, so that ThreadSanitizer's interceptor sees the
	 * thread start; ctrace's own wrapper, which it calls next, takes it as internal. */
	ctr_tls.busy++;
	int rc = pthread_create(&W.thread, NULL, writer_main, NULL);
	ctr_tls.busy--;
#else
	int rc = CTR_REAL(pthread_create)(&W.thread, NULL, writer_main, NULL);
#endif
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		await_running(before);
	return rc;
}

/* Called with ctl held and ctr_tls.busy set, before tracing is turned on. */
static int writer_start(struct ctr_sink *first)
{
	uint32_t *tids;
	char(*names)[16];
	size_t n;
	uint8_t hdr[CTR_FILE_HEADER_SIZE];

	if (!W.enc_ready) {
		int err = ctr_genenc_init(&W.enc, ctr_g.cfg.zstd_level);
		if (err)
			return err;
		ctr_schema_builtin(&W.schema);
		W.enc_ready = 1;
	}
	ctr_file_header(hdr);
	if (first->write(first, hdr, sizeof(hdr), NULL, 0) < 0)
		return CTRACE_EIO;
	int err = ctr_snapshot_threads(&tids, &names, &n);
	if (err)
		return err;
	first->next = NULL;
	W.sinks = first;
	W.seq = 0;
	W.error = 0;
	atomic_store(&W.req, 0);
	read_process();
	/* Whatever the rings hold is from before this capture; allocation counters count
	 * from here. */
	drain_all(0);
	W.lost_written = atomic_load(&ctr_g.lost_noslot) + perf_lost;
	for (struct ctr_slot *s = atomic_load_explicit(&ctr_g.slots, memory_order_acquire); s;
	     s = s->next) {
		s->w_alloc_base[0] = s->w_alloc_count = atomic_load(&s->alloc_count);
		s->w_alloc_base[1] = s->w_alloc_bytes = atomic_load(&s->alloc_bytes);
		s->w_alloc_base[2] = s->w_free_count = atomic_load(&s->free_count);
	}
	ctr_sched_cpu_open(); /* or each thread opens its own ring */
	W.capture_start = ctr_ticks(); /* switches before it are dropped (switch_push) */
	gen_begin();
	snapshot(tids, (const char(*)[16])names, n, W.capture_start);
	free(tids);
	free(names);

	int rc = spawn();
	if (rc != 0) {
		ctr_sched_cpu_close();
		W.sinks = NULL;
		return CTRACE_ENOMEM;
	}
	W.alive = 1;
	ctr_set_on(1);
	return 0;
}

/* Post @req and wait until the writer has done it. */
static int request(int req, struct ctr_sink *k, int timeout_ms)
{
	uint32_t before = atomic_load(&W.flushes);
	W.pending = k;
	atomic_fetch_or(&W.req, req);
	atomic_store(&ctr_g.kick, 1);
	syscall(SYS_futex, &ctr_g.kick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	uint64_t deadline = ctr_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	while (atomic_load(&W.flushes) == before) {
		uint64_t now = ctr_mono_ns();
		if (now >= deadline)
			return CTRACE_EIO;
		futex_wait(&W.flushes, before, deadline - now);
	}
	return 0;
}

/* Post @req (STOP or PAUSE) and join the writer thread within @timeout_ms. */
static int end_thread(int req, int timeout_ms)
{
	atomic_fetch_or(&W.req, req);
	atomic_store(&ctr_g.kick, 1);
	syscall(SYS_futex, &ctr_g.kick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(W.thread, NULL, &ts) != 0) {
		/* Stuck writing to a sink that does not read: leave it, never hang the program. */
		pthread_detach(W.thread);
		return CTRACE_EIO;
	}
	return 0;
}

static int writer_stop(int timeout_ms)
{
	ctr_set_on(0);
	W.alive = 0;
	if (W.paused) {
		/* No thread: the last generation is written here. */
		W.paused = 0;
		if (spawn() != 0)
			return CTRACE_ENOMEM;
	}
	return end_thread(REQ_STOP, timeout_ms);
}

/*
 * unshare(CLONE_NEWUSER) and setns into a user or mount namespace want the calling
 * process single-threaded (EINVAL otherwise), and a program that makes them before its
 * first thread must not fail for the tracer's threads: the writer thread (and the
 * symbolizer's) stand down while the call is made, the capture staying open, and start
 * again after it. Called with ctl held. @return 1 when they stood down.
 */
int ctr_writer_pause(void)
{
	if (!W.alive || W.paused)
		return 0;
	if (end_thread(REQ_PAUSE, 2000) != 0) {
		/* Stuck in a sink: the capture is given up rather than the program blocked. */
		ctr_set_on(0);
		W.alive = 0;
		return 0;
	}
	ctr_symwarm_pause();
	W.paused = 1;
	return 1;
}

void ctr_writer_resume(void)
{
	if (!W.paused)
		return;
	W.paused = 0;
	atomic_store(&W.req, 0);
	if (spawn() != 0) {
		ctr_set_on(0); /* no thread to write with: the capture ends unwritten */
		W.alive = 0;
	}
}

int ctr_capture_add(struct ctr_sink *k)
{
	k->failed = 0;
	k->error = 0;
	if (!W.alive)
		return writer_start(k);
	for (struct ctr_sink *s = W.sinks; s; s = s->next)
		if (s == k)
			return CTRACE_EBUSY;
	int err = request(REQ_ADD, k, 5000);
	if (!err)
		ctr_set_on(1);
	return err ? err : k->error;
}

int ctr_capture_remove(struct ctr_sink *k, int timeout_ms)
{
	if (!W.alive)
		return CTRACE_ENOTRUNNING;
	int err;
	if (W.sinks == k && !k->next) {
		err = writer_stop(timeout_ms);
		W.sinks = NULL;
	} else {
		err = request(REQ_REMOVE, k, timeout_ms);
	}
	return err ? err : k->error;
}

int ctr_capture_stop_all(int timeout_ms)
{
	if (!W.alive)
		return CTRACE_ENOTRUNNING;
	return writer_stop(timeout_ms);
}

int ctr_capture_count(void)
{
	int n = 0;
	if (W.alive)
		for (struct ctr_sink *s = W.sinks; s; s = s->next)
			n++;
	return n;
}

int ctr_writer_flush(int timeout_ms)
{
	if (!W.alive)
		return CTRACE_ENOTRUNNING;
	if (W.paused)
		return CTRACE_EBUSY;
	return request(REQ_FLUSH, NULL, timeout_ms);
}

/*
 * Before exec: the generation so far goes to the sinks. A writer thread started in a fork
 * child may never run (under AddressSanitizer it can wait forever for an allocator lock the
 * fork copied held, by a parent thread that does not exist in the child): when it has not
 * started yet, the calling thread does the writing itself, at once, and the writer thread
 * stands down if it ever starts.
 */
int ctr_writer_flush_exec(int timeout_ms)
{
	if (!W.alive)
		return CTRACE_ENOTRUNNING;
	int expect = 0;
	if (!atomic_compare_exchange_strong(&W.owner, &expect, 2) && expect != 2)
		return request(REQ_FLUSH, NULL, timeout_ms);
	drain_all(1);
	if (W.gen_events) {
		gen_finish(0);
		gen_begin();
	}
	return 0;
}

/* In a fork child: the writer thread does not exist here, nor do the parent's sinks. */
void ctr_writer_forget(void)
{
	W.alive = 0;
	W.paused = 0;
	W.sinks = NULL;
	atomic_store(&W.req, 0);
}
