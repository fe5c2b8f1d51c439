/*
 * What goes into the open generation: every slot's ring drained into thread batches with
 * the thread's context switches merged in time order, the batches the writer makes itself
 * (snapshots of the threads, kernel totals, allocation counters, losses), and the times
 * they span. Only the writer thread calls in here (writer.c), or the thread that
 * starts or ends a capture before the writer thread exists or after it is gone.
 */
#include <stdlib.h>
#include <string.h>

#include "drain.h"

struct ctr_open_gen ctr_gen;

/* Where a slot's batch is put together before it goes to the encoder. */
static struct {
	uint8_t *stage;
	size_t stage_cap;
} D;

/* Context switches the kernel's rings or the writer dropped, since the process began. */
static uint64_t perf_lost;

uint64_t ctr_drain_lost(void)
{
	return atomic_load(&ctr_g.lost_noslot) + perf_lost;
}

void ctr_drain_note_ticks(uint64_t first, uint64_t last)
{
	if (first < ctr_gen.min_ticks)
		ctr_gen.min_ticks = first;
	if (last > ctr_gen.max_ticks)
		ctr_gen.max_ticks = last;
}

static int stage_reserve(size_t need)
{
	if (need <= D.stage_cap)
		return 0;
	size_t cap = D.stage_cap ? D.stage_cap : 65536;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(D.stage, cap);
	if (!p)
		return -1;
	D.stage = p;
	D.stage_cap = cap;
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
	ctr_genenc_batch(&ctr_gen.enc, b->tid, b->base, b->n, b->buf, b->len, -1, -1);
	ctr_drain_note_ticks(b->first, b->last);
	ctr_gen.events += b->n;
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


static void switch_push(void *ud, uint64_t ns, int out, int preempted, uint32_t cpu)
{
	(void)ud;
	uint64_t ticks = ns_to_ticks(ns, &SW.ref, SW.tick_span, SW.ns_span);
	if (ticks < ctr_gen.capture_start)
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
			len += run_flush(D.stage + len, &run);
			ctr_ring_switched(s);
			size = s->w_mask + 1;
			tail++;
			continue;
		}
		uint64_t avail = head - tail < size - off ? head - tail : size - off;
		uint64_t delta, stack;
		size_t evlen = ctr_event_skip(&ctr_gen.schema, p, p + avail, &delta, &stack);
		if (evlen == 0) {
			atomic_fetch_add(&ctr_g.lost_noslot, 1);
			tail = head;
			break;
		}
		ticks += delta;
		tail += evlen;
		if (!keep || ticks < ctr_gen.capture_start) {
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
				len += run_flush(D.stage + len, &run);
				len += switch_encode(D.stage + len, s->tid, &SW.ev[si], &last);
				first = n ? first : last;
			}
			next_switch = si < SW.len ? SW.ev[si].ticks : UINT64_MAX;
		}
		/* The generation must carry the tables of the stacks its events name. */
		if (stack)
			ctr_gentab_note_stack(stack);
		if (ticks - delta != last) {
			len += run_flush(D.stage + len, &run);
			len += event_rewrite(D.stage + len, p, evlen, ticks - last);
			run.p = p + evlen;
		} else if (p != run.p + run.len) {
			len += run_flush(D.stage + len, &run);
			run.p = p;
			run.len = evlen;
		} else {
			run.len += evlen;
		}
		last = ticks;
		first = n ? first : last;
		n++;
	}
	len += run_flush(D.stage + len, &run);
	if (n == 0)
		last = base;
	for (; si < SW.len; si++, n++) {
		len += switch_encode(D.stage + len, s->tid, &SW.ev[si], &last);
		first = n ? first : last;
	}
done:
	s->w_ticks = ticks;
	atomic_store_explicit(&s->tail, tail, memory_order_release);
	if (pending)
		ring_grow(s, pending, size);
	if (n) {
		ctr_genenc_batch(&ctr_gen.enc, s->tid, base, n, D.stage, len, -1, -1);
		ctr_drain_note_ticks(first, last);
		ctr_gen.events += n;
		if (s->w_gen != ctr_gen.seq + 1) {
			s->w_gen = ctr_gen.seq + 1;
			ctr_gen.threads++;
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

void ctr_drain_all(int keep)
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
void ctr_drain_alloc_stats(uint64_t ticks, int last)
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
void ctr_drain_schedstat_all(uint64_t ticks)
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
void ctr_drain_snapshot(const uint32_t *tids, const char (*names)[16], size_t n, uint64_t ticks)
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
		ctr_gen.threads++;
	}
}

/* A snapshot taken by the writer thread itself, for a capture joining a running one. */
void ctr_drain_snapshot_now(void)
{
	uint32_t *tids;
	char(*names)[16];
	size_t n;
	if (ctr_snapshot_threads(&tids, &names, &n) < 0)
		return;
	ctr_drain_snapshot(tids, (const char(*)[16])names, n, ctr_ticks());
	free(tids);
	free(names);
}
