/*
 * Per-thread slots: registration, the ring's slow path, thread exit.
 *
 * Slots live in a list that only grows (a lock-free push); a slot whose thread has exited is
 * drained by the writer and then handed to the next new thread, ring and all, so memory is
 * bounded by the largest number of threads alive at once, and by buffer_total.
 */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "wrap.h"

__thread struct ctr_tls ctr_tls __attribute__((tls_model("initial-exec")));

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void ctr_kick_writer(void)
{
	if (atomic_load_explicit(&ctr_g.kick, memory_order_relaxed))
		return;
	atomic_store_explicit(&ctr_g.kick, 1, memory_order_release);
	syscall(SYS_futex, &ctr_g.kick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ctr_g.key is made once, by the first of ctr_init and the first slot taken. Without it
 * (no key left) a thread's slot is not given back at its exit. */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static _Atomic int key_made;
static void slot_release(void *p);

static void slot_bind(struct ctr_slot *s)
{
	s->tid = (uint32_t)ctr_gettid();
	s->self = pthread_self();
	s->last = 0;
	atomic_store_explicit(&s->lost, 0, memory_order_relaxed);
	s->ended = 0;
	s->end_how = 0;
	s->limit = 0; /* the first event takes the slow path and computes it */
	atomic_store_explicit(&s->alloc_count, 0, memory_order_relaxed);
	atomic_store_explicit(&s->alloc_bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&s->free_count, 0, memory_order_relaxed);
	s->sample_left = 0;
	s->rng = 0;
	s->st_call = 0;
	ctr_tls.slot = s;
	ctr_tls.state = 1;
	/* A library's constructor can make the first traced call before ours has run: the
	 * key is made here then. Never store under a key not ours (key 0, the zero of
	 * ctr_g.key, was glib's in perf, which crashed at exit). */
	ctr_buffer_init();
	if (atomic_load_explicit(&key_made, memory_order_acquire))
		pthread_setspecific(ctr_g.key, s);
}

/*
 * Slot headers come from pages carved up here; they are never unmapped. Each chunk keeps
 * the count of what it handed out in its own first bytes: a count kept beside the chunk
 * pointer was reset by the thread installing a new chunk after another thread had already
 * taken from that chunk, and both got the same header.
 */
static struct ctr_slot *header_alloc(void)
{
	static _Atomic(uint8_t *) chunk;
	const size_t chunk_size = 64u << 10;
	const size_t sz = (sizeof(struct ctr_slot) + 63) & ~(size_t)63;

	for (;;) {
		uint8_t *c = atomic_load(&chunk);
		if (c) {
			size_t off = atomic_fetch_add((_Atomic size_t *)(void *)c, sz);
			if (off + sz <= chunk_size)
				return (struct ctr_slot *)(c + off);
		}
		/* This chunk is full: map a new one; the loser of a race unmaps its own. */
		uint8_t *n = map_anon(chunk_size);
		if (!n)
			return NULL;
		atomic_init((_Atomic size_t *)(void *)n, 64); /* the headers start after the count */
		if (!atomic_compare_exchange_strong(&chunk, &c, n))
			munmap(n, chunk_size);
	}
}

/*
 * The calling thread's slot: a free one, or a new header. The ring is mapped later, on the
 * first event (ring_map), so a thread that only needs its blocking state pays for a header.
 * Called with ctr_tls.busy set.
 */
struct ctr_slot *ctr_slot_acquire(void)
{
	struct ctr_slot *s;

	for (s = atomic_load_explicit(&ctr_g.slots, memory_order_acquire); s; s = s->next) {
		int expect = CTR_SLOT_FREE;
		if (atomic_load_explicit(&s->state, memory_order_relaxed) == CTR_SLOT_FREE &&
		    atomic_compare_exchange_strong_explicit(&s->state, &expect, CTR_SLOT_BINDING,
							    memory_order_acquire,
							    memory_order_relaxed)) {
			slot_bind(s);
			atomic_store_explicit(&s->state, CTR_SLOT_LIVE, memory_order_release);
			return s;
		}
	}
	s = header_alloc();
	if (!s) {
		atomic_fetch_add(&ctr_g.lost_noslot, 1);
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->perf_fd = -1;
	slot_bind(s);
	atomic_store_explicit(&s->state, CTR_SLOT_LIVE, memory_order_relaxed); /* published below */
	struct ctr_slot *head = atomic_load_explicit(&ctr_g.slots, memory_order_relaxed);
	do {
		s->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&ctr_g.slots, &head, s,
							memory_order_release,
							memory_order_relaxed));
	return s;
}

/* A ring of @size bytes while all rings stay within @budget bytes, or NULL. */
static uint8_t *ring_alloc(uint64_t size, uint64_t budget)
{
	uint64_t used = atomic_fetch_add(&ctr_g.mem_used, size);
	uint8_t *mem = used + size > budget ? NULL : map_anon(size);
	if (!mem)
		atomic_fetch_sub(&ctr_g.mem_used, size);
	return mem;
}

/* Map the slot's ring. Called by the owner with busy set. */
static int ring_map(struct ctr_slot *s)
{
	uint64_t ring = ctr_g.cfg.ring_size;
	uint8_t *mem = ring_alloc(ring, ctr_g.cfg.buffer_total);
	if (!mem)
		return -1;
	s->size = ring;
	s->mask = ring - 1;
	/* The writer reads data after it sees a head past tail: publish data first. */
	atomic_store_explicit((_Atomic(uint8_t *) *)&s->data, mem, memory_order_release);
	return 0;
}

int ctr_ring_offer(struct ctr_slot *s, uint64_t size, uint64_t min)
{
	/* Rings grow only while all rings take at most half of CTRACE_BUFFER_SIZE: the rest
	 * stays for the first rings of threads to come. */
	uint8_t *mem = NULL;
	for (; size >= min && !(mem = ring_alloc(size, ctr_g.cfg.buffer_total / 2)); size /= 2)
		;
	if (!mem)
		return -1;
	s->w_offer = mem;
	s->w_offer_size = size;
	s->offer_size = size;
	atomic_store_explicit(&s->offer, mem, memory_order_release);
	return 0;
}

void ctr_ring_switched(struct ctr_slot *s)
{
	munmap(s->w_data, s->w_mask + 1);
	atomic_fetch_sub(&ctr_g.mem_used, s->w_mask + 1);
	s->w_data = s->w_offer;
	s->w_mask = s->w_offer_size - 1;
	s->w_offer = NULL;
	s->w_offer_size = 0;
}

/*
 * Move to the ring the writer offered, when the old one has room for the switch byte: the
 * writer reads up to that byte in the old ring and on from the same position in the new.
 * Positions run on across rings, so the room computed after counts what the writer has not
 * read of the old ring against the new one.
 */
static void ring_take_offer(struct ctr_slot *s)
{
	uint64_t tail = atomic_load_explicit(&s->tail, memory_order_acquire);
	if (s->head + 1 - tail > s->mask + 1)
		return; /* full: not even room for the switch byte, next time */
	uint8_t *mem = atomic_exchange_explicit(&s->offer, NULL, memory_order_acquire);
	if (!mem)
		return;
	s->data[s->head & s->mask] = CTR_RING_SWITCH;
	s->head++;
	s->data = mem;
	s->size = s->offer_size;
	s->mask = s->offer_size - 1;
	atomic_store_explicit(&s->pub_head, s->head, memory_order_release);
}

uint8_t *ctr_reserve_slow(struct ctr_slot *s, size_t need)
{
	if (unlikely(!s->data) && ring_map(s) < 0) {
		/* No ring to hold a lost record later: count it for the whole process. */
		atomic_fetch_add_explicit(&ctr_g.lost_noslot, 1, memory_order_relaxed);
		return NULL;
	}
	if (unlikely(atomic_load_explicit(&s->perf_fd, memory_order_relaxed) == -1))
		ctr_sched_thread_init(s);
	if (unlikely(atomic_load_explicit(&s->offer, memory_order_relaxed) != NULL))
		ring_take_offer(s);
	uint64_t size = s->mask + 1;
	uint64_t tail = atomic_load_explicit(&s->tail, memory_order_acquire);
	/* Room for the lost marker too, so the count is never lost itself. */
	uint64_t lost = atomic_load_explicit(&s->lost, memory_order_relaxed);
	size_t want = need + (lost ? 1 + 2 * CTR_VARINT_MAX : 0);
	uint64_t off = s->head & s->mask;

	if (want > size / 4)
		goto drop;
	if (size - off < want) {
		/* Not enough contiguous room before the end: pad to the end and wrap. */
		if (s->head + (size - off) + want - tail > size)
			goto drop;
		s->data[off] = 0;
		s->head += size - off;
		off = 0;
	}
	if (s->head + want - tail > size)
		goto drop;
	if (lost && (lost = atomic_exchange_explicit(&s->lost, 0, memory_order_relaxed))) {
		uint8_t *p = s->data + off;
		uint8_t *q = ctr_put_head(s, p, CTRACE_EV_LOST);
		q = ctr_put_varint(q, lost);
		ctr_commit(s, p, q);
		off = s->head & s->mask;
	}
	/* Come back here at half full, to wake the writer before the ring fills: between its
	 * periodic drains a fast thread fills a ring (10 ms at 50 MB/s), and the end of the
	 * ring alone, where this ran before, may come only after that. */
	uint64_t end_of_ring = (s->head | s->mask) + 1;
	uint64_t half = tail + size / 2, lim = tail + size;
	if (s->head + want <= half)
		lim = half;
	else
		ctr_kick_writer(); /* over half full */
	s->limit = lim < end_of_ring ? lim : end_of_ring;
	return s->data + off;
drop:
	atomic_fetch_add_explicit(&s->lost, 1, memory_order_relaxed);
	s->limit = 0;
	ctr_kick_writer();
	return NULL;
}

void ctr_event_blob(uint8_t type, unsigned n, const uint64_t *args, const void *blob, size_t len)
{
	struct ctr_slot *s = ctr_enter();
	if (!s)
		return;
	size_t max = ctr_g.cfg.ring_size / 8;
	if (len > max)
		len = max;
	size_t need = CTR_EV_MAX + CTR_VARINT_MAX + len;
	uint8_t *p = ctr_reserve(s, need);
	if (p) {
		uint8_t *q = ctr_put_head(s, p, type);
		for (unsigned i = 0; i < n; i++)
			q = ctr_put_varint(q, args[i]);
		q = ctr_put_varint(q, len);
		memcpy(q, blob, len);
		ctr_commit(s, p, q + len);
	}
	ctr_leave();
}

void ctr_become_internal(void)
{
	ctr_tls.busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	/* A sanitizer's thread start may have allocated through us before this: give back
	 * the slot that made, without a trace of it. */
	struct ctr_slot *mine = ctr_tls.slot;
	if (mine) {
		atomic_store(&mine->alloc_count, 0);
		atomic_store(&mine->alloc_bytes, 0);
		atomic_store(&mine->free_count, 0);
		ctr_tls.slot = NULL;
		if (atomic_load_explicit(&key_made, memory_order_acquire))
			pthread_setspecific(ctr_g.key, NULL);
		atomic_store_explicit(&mine->state, CTR_SLOT_DEAD, memory_order_release);
	}
	ctr_tls.state = 2;
}

/* The thread is ending: its kernel totals, then thread_end. */
void ctr_thread_end(uint64_t how)
{
	struct ctr_slot *s = ctr_tls.slot;
	if (!s || s->ended || ctr_tls.busy)
		return;
	if (atomic_load_explicit(&ctr_on, memory_order_relaxed)) {
		uint64_t st[3];
		ctr_tls.busy = 1;
		int have = ctr_schedstat_read(s->tid, st) == 0;
		ctr_tls.busy = 0;
		if (have)
			ctr_event(CTRACE_EV_SCHEDSTAT, 3, st);
		uint64_t args[1] = { how };
		s->end_how = (uint32_t)how + 1;
		ctr_event(CTRACE_EV_THREAD_END, 1, args);
	}
	s->ended = 1;
}

/* The key's destructor: the thread is exiting. Its slot goes back to the writer. */
static void slot_release(void *p)
{
	struct ctr_slot *s = p;
	if (!s || ctr_tls.slot != s)
		return;
	ctr_tls.busy = 0;
	ctr_thread_end(CTRACE_END_EXIT);
	ctr_tls.busy = 1; /* nothing more from this thread */
	ctr_tls.slot = NULL;
	ctr_tls.state = 2;
	atomic_store_explicit(&s->state, CTR_SLOT_DEAD, memory_order_release);
}

static void key_make(void)
{
	if (pthread_key_create(&ctr_g.key, slot_release) == 0)
		atomic_store_explicit(&key_made, 1, memory_order_release);
}

void ctr_buffer_init(void)
{
	pthread_once(&key_once, key_make);
}

/*
 * In the child of fork only the forking thread lives; every other slot is a copy of a
 * parent's ring. Empty all rings and free the slots of threads that do not exist here.
 */
void ctr_slot_reset_after_fork(void)
{
	for (struct ctr_slot *s = atomic_load(&ctr_g.slots); s; s = s->next) {
		/* Perf rings watch the parent's threads. */
		ctr_sched_thread_fini(s);
		s->head = 0;
		s->limit = 0;
		s->last = 0;
		atomic_store(&s->lost, 0);
		s->w_ticks = 0;
		s->w_gen = 0;
		/* The parent's writer may have been between a ring switch and the byte that
		 * marks it: the rings empty here, the writer reads the thread's ring. */
		if (s->w_data && s->w_data != s->data) {
			munmap(s->w_data, s->w_mask + 1);
			atomic_fetch_sub(&ctr_g.mem_used, s->w_mask + 1);
		}
		s->w_data = s->data;
		s->w_mask = s->mask;
		if (!atomic_load(&s->offer)) {
			s->w_offer = NULL;
			s->w_offer_size = 0;
		}
		atomic_store(&s->pub_head, 0);
		atomic_store(&s->tail, 0);
		if (s == ctr_tls.slot) {
			s->tid = (uint32_t)ctr_gettid();
			atomic_store(&s->state, CTR_SLOT_LIVE);
		} else {
			atomic_store(&s->state, CTR_SLOT_FREE);
		}
	}
	atomic_store(&ctr_g.lost_noslot, 0);
	atomic_store(&ctr_g.kick, 0);
}

/* The slot of a thread that has none yet, for its blocking state. */
struct ctr_slot *ctr_self_slow(void)
{
	if (ctr_tls.busy || ctr_tls.state != 0)
		return NULL;
	ctr_tls.busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	struct ctr_slot *s = ctr_slot_acquire();
	atomic_signal_fence(memory_order_seq_cst);
	ctr_tls.busy = 0;
	return s;
}
