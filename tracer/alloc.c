/*
 * Allocations: malloc, calloc, realloc, reallocarray, free, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc, and mmap/munmap of anonymous memory.
 *
 * Every traced allocation bumps its thread's counters (the writer turns them into
 * alloc_stats events). By default only a sample of allocations becomes an alloc event with a
 * stack: the bytes a thread allocates are a line on which sample points fall as a Poisson
 * process of mean spacing alloc_rate, and an allocation is recorded when it covers one
 * (Go's MemProfileRate); its weight is the unbiased estimate of the bytes it stands for.
 * A sampled block's address goes into a global set so that its free is recorded too.
 * CTRACE_ALLOC=all records every allocation and every free.
 *
 * The real functions come from dlsym(RTLD_NEXT), so we sit on top of whatever allocator is
 * next (glibc, jemalloc, a sanitizer's). dlsym may itself allocate: calls made while this
 * thread resolves are served from a static buffer whose blocks are never freed.
 */
/* mmap must be the symbol mmap, not a redirect to mmap64 (which is exported separately). */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/*
 * Code that may run before a sanitizer's runtime has set itself up (ASan's initialization
 * calls dlsym, which may allocate through us) must not be instrumented; nor the wrappers,
 * which sit on top of the sanitizer's own allocator.
 */
#define EARLY __attribute__((no_sanitize_address))
#define ALLOC_WRAP CTR_WRAP EARLY

/* ---- the real functions ---- */

static void *init_malloc(size_t);
static void *init_calloc(size_t, size_t);
static void *init_realloc(void *, size_t);
static void *init_reallocarray(void *, size_t, size_t);
static void init_free(void *);
static int init_posix_memalign(void **, size_t, size_t);
static void *init_aligned_alloc(size_t, size_t);
static void *init_memalign(size_t, size_t);
static void *init_valloc(size_t);
static void *init_pvalloc(size_t);
static void *init_mmap(void *, size_t, int, int, int, off_t);
static int init_munmap(void *, size_t);

/*
 * Each pointer starts at an init_ function that resolves every pointer and then calls the
 * real one, so a wrapped call never tests for NULL.
 */
static struct {
	void *(*_Atomic malloc)(size_t);
	void *(*_Atomic calloc)(size_t, size_t);
	void *(*_Atomic realloc)(void *, size_t);
	void *(*_Atomic reallocarray)(void *, size_t, size_t);
	void (*_Atomic free)(void *);
	int (*_Atomic posix_memalign)(void **, size_t, size_t);
	void *(*_Atomic aligned_alloc)(size_t, size_t);
	void *(*_Atomic memalign)(size_t, size_t);
	void *(*_Atomic valloc)(size_t);
	void *(*_Atomic pvalloc)(size_t);
	void *(*_Atomic mmap)(void *, size_t, int, int, int, off_t);
	int (*_Atomic munmap)(void *, size_t);
} real = {
	init_malloc, init_calloc, init_realloc, init_reallocarray, init_free,
	init_posix_memalign, init_aligned_alloc, init_memalign, init_valloc, init_pvalloc,
	init_mmap, init_munmap,
};

#define REAL(fn) atomic_load_explicit(&real.fn, memory_order_relaxed)

/* This thread is inside dlsym, resolving: allocations come from boot_buf. */
static __thread int resolving __attribute__((tls_model("initial-exec")));

#define BOOT_SIZE (64u << 10)
static _Alignas(4096) char boot_buf[BOOT_SIZE];
static _Atomic size_t boot_used;

EARLY static inline int is_boot(const void *p)
{
	return (uintptr_t)p - (uintptr_t)boot_buf < BOOT_SIZE;
}

/* A block of boot_buf, zeroed, with its size in the 8 bytes before it. Never freed. */
EARLY static void *boot_alloc(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	if (align > 4096 || size > BOOT_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	size_t used = atomic_load_explicit(&boot_used, memory_order_relaxed);
	size_t start;
	do {
		start = (used + 8 + align - 1) & ~(align - 1);
		if (start + size > BOOT_SIZE) {
			errno = ENOMEM;
			return NULL;
		}
	} while (!atomic_compare_exchange_weak_explicit(&boot_used, &used, start + size,
							memory_order_relaxed,
							memory_order_relaxed));
	memcpy(boot_buf + start - 8, &size, sizeof(size));
	return boot_buf + start;
}

EARLY static size_t boot_size(const void *p)
{
	size_t size;
	memcpy(&size, (const char *)p - 8, sizeof(size));
	return size;
}

EARLY static void resolve(void)
{
	resolving = 1;
#define R(fn)                                                                       \
	do {                                                                        \
		void *f_ = dlsym(RTLD_NEXT, #fn);                                   \
		if (f_)                                                             \
			atomic_store_explicit(&real.fn, (__typeof__(real.fn))f_,    \
					      memory_order_relaxed);                \
	} while (0)
	/* free before malloc: what a later dlsym allocates with the real malloc, it frees with
	 * the real free (until then, its blocks are boot blocks, and free ignores them). */
	R(free);
	R(malloc);
	R(calloc);
	R(realloc);
	R(reallocarray);
	R(posix_memalign);
	R(aligned_alloc);
	R(memalign);
	R(valloc);
	R(pvalloc);
	R(mmap);
	R(munmap);
#undef R
	resolving = 0;
}

/* Loaded libraries' constructors may allocate before this runs; the init_ functions cover
 * them. Resolving here too keeps dlsym away from the first traced call. */
__attribute__((constructor)) static void alloc_init(void)
{
	if (REAL(malloc) == init_malloc)
		resolve();
}

EARLY static void *init_malloc(size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(malloc) == init_malloc)
		return boot_alloc(size, 16);
	return REAL(malloc)(size);
}

EARLY static void *init_calloc(size_t n, size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(calloc) == init_calloc) {
		size_t bytes;
		if (__builtin_mul_overflow(n, size, &bytes)) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_alloc(bytes, 16);
	}
	return REAL(calloc)(n, size);
}

EARLY static void init_free(void *p)
{
	if (!resolving)
		resolve();
	if (REAL(free) != init_free)
		REAL(free)(p);
	/* Else there is no free to call: leak, as boot blocks do. */
}

/* realloc of a boot block or while resolving: a new block and a copy. */
EARLY static void *boot_realloc(void *p, size_t size)
{
	void *n = REAL(malloc)(size ? size : 1);
	if (n && p) {
		size_t old = is_boot(p) ? boot_size(p) : size;
		memcpy(n, p, old < size ? old : size);
	}
	return n;
}

EARLY static void *init_realloc(void *p, size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(realloc) == init_realloc) {
		if (p && !is_boot(p)) {
			errno = ENOMEM; /* a block of a heap we cannot reach yet */
			return NULL;
		}
		return boot_realloc(p, size);
	}
	return REAL(realloc)(p, size);
}

EARLY static void *init_reallocarray(void *p, size_t n, size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(reallocarray) == init_reallocarray) {
		size_t bytes;
		if (__builtin_mul_overflow(n, size, &bytes)) {
			errno = ENOMEM;
			return NULL;
		}
		return REAL(realloc)(p, bytes);
	}
	return REAL(reallocarray)(p, n, size);
}

EARLY static int init_posix_memalign(void **out, size_t align, size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(posix_memalign) == init_posix_memalign) {
		if (align < sizeof(void *) || (align & (align - 1)))
			return EINVAL;
		int saved = errno;
		void *p = boot_alloc(size, align);
		errno = saved;
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	return REAL(posix_memalign)(out, align, size);
}

/* aligned_alloc, memalign, valloc, pvalloc: boot blocks while resolving; through
 * posix_memalign when the next allocator lacks them. */
EARLY static void *aligned_fallback(size_t align, size_t size)
{
	if (align & (align - 1)) {
		errno = EINVAL;
		return NULL;
	}
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (resolving)
		return boot_alloc(size, align);
	void *p;
	int err = REAL(posix_memalign)(&p, align, size);
	if (err) {
		errno = err;
		return NULL;
	}
	return p;
}

EARLY static void *init_aligned_alloc(size_t align, size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(aligned_alloc) == init_aligned_alloc)
		return aligned_fallback(align, size);
	return REAL(aligned_alloc)(align, size);
}

EARLY static void *init_memalign(size_t align, size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(memalign) == init_memalign)
		return aligned_fallback(align, size);
	return REAL(memalign)(align, size);
}

EARLY static void *init_valloc(size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(valloc) == init_valloc)
		return aligned_fallback((size_t)sysconf(_SC_PAGESIZE), size);
	return REAL(valloc)(size);
}

EARLY static void *init_pvalloc(size_t size)
{
	if (!resolving)
		resolve();
	if (REAL(pvalloc) == init_pvalloc) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		if (size > SIZE_MAX - page) {
			errno = ENOMEM;
			return NULL;
		}
		return aligned_fallback(page, (size + page - 1) & ~(page - 1));
	}
	return REAL(pvalloc)(size);
}

/*
 * A system call that goes through nobody: syscall() itself is interposed (io.c), and this
 * runs before anything is resolved. @return the result, or -1 with errno set.
 */
EARLY static long raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
#else
	return syscall(nr, a1, a2, a3, a4, a5, a6);
#endif
}

/*
 * mmap and munmap go through dlsym like the rest, so that whatever is next in the chain (a
 * sanitizer, another interposer) still sees the program's mappings, and glibc's wrapper keeps
 * its argument checks. Only while this thread resolves (were dlsym to map memory itself) do
 * we make the system call directly.
 */
EARLY static void *init_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (!resolving)
		resolve();
	if (REAL(mmap) == init_mmap)
		return (void *)raw_syscall6(SYS_mmap, (long)addr, (long)len, prot, flags, fd,
					    (long)off);
	return REAL(mmap)(addr, len, prot, flags, fd, off);
}

EARLY static int init_munmap(void *addr, size_t len)
{
	if (!resolving)
		resolve();
	if (REAL(munmap) == init_munmap)
		return (int)raw_syscall6(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
	return REAL(munmap)(addr, len);
}

/* ---- the set of sampled blocks ---- */

/*
 * Addresses whose free must be recorded: sampled blocks, and (bit 0 clear) anonymous
 * mappings, tracked so munmap knows which mappings were allocations. Buckets of one cache
 * line, 8 entries each; an entry lives in its hash's bucket only, so a lookup reads one line
 * and a deleted entry is simply 0 (no tombstones, no probe chains to keep intact). A full
 * bucket stops tracking what falls into it. Four bits per bucket count its entries (at most
 * SET_WAYS, so a count never carries into its neighbour), so the common miss costs a hash
 * and one load from a 16 KiB array; the buckets (2 MiB of reserve) are mapped at the first
 * insert. (A byte per bucket, 32 KiB, missed the cache often enough under an allocation-heavy
 * program that the load was two thirds of a traced free's time.)
 */
#define SET_BITS 15
#define SET_WAYS 8
#define SET_SAMPLED 1u  /* entry bit 0: an alloc event was written for it */
#define SET_PROFILED 2u /* entry bit 1: the heap profile counted it (its info is set) */
#define SET_FLAGS 3u

struct set_bucket {
	_Atomic uintptr_t e[SET_WAYS];
} __attribute__((aligned(64)));

/* A profiled block's stack and size, beside its entry: written by whoever inserted the
 * entry before the allocation returned, read by whoever removes it. */
struct set_info {
	uint64_t stack, size;
};

/* The buckets, then their infos ([bucket * SET_WAYS + way]), in one mapping. */
static struct set_bucket *_Atomic set_table;
static _Atomic uint64_t set_count[(1u << SET_BITS) / 16];
/* Inserts that found their bucket full (frees not recorded). Not in the trace yet: the
 * writer could report it as an INFO record. */
static _Atomic uint64_t set_dropped;

EARLY static inline uint32_t set_hash(uintptr_t addr)
{
	return (uint32_t)(((uint64_t)addr * 0x9e3779b97f4a7c15ull) >> (64 - SET_BITS));
}

/* Bucket @h's count, in its word of set_count. */
#define SET_COUNT_WORD(h) (&set_count[(h) >> 4])
#define SET_COUNT_SHIFT(h) (((h)&15u) * 4u)
_Static_assert(SET_WAYS < 16, "a bucket's count fits in four bits");

EARLY static inline unsigned set_entries(uint32_t h)
{
	return (unsigned)(atomic_load_explicit(SET_COUNT_WORD(h), memory_order_relaxed) >>
			  SET_COUNT_SHIFT(h)) & 15u;
}

EARLY static inline int set_maybe(uintptr_t addr)
{
	return set_entries(set_hash(addr)) != 0;
}

static struct set_bucket *set_map(void)
{
	struct set_bucket *t = atomic_load_explicit(&set_table, memory_order_acquire);
	if (likely(t != NULL))
		return t;
	size_t size = (sizeof(struct set_bucket) + SET_WAYS * sizeof(struct set_info)) << SET_BITS;
	void *m = REAL(mmap)(NULL, size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong_explicit(&set_table, &t, m, memory_order_acq_rel,
						     memory_order_acquire))
		REAL(munmap)(m, size); /* another thread mapped it first */
	else
		t = m;
	return t;
}

static inline struct set_info *set_info_at(struct set_bucket *t, uint32_t h, int way)
{
	return (struct set_info *)(t + (1u << SET_BITS)) + (size_t)h * SET_WAYS + (size_t)way;
}

/* The heap profile: a profiled block is gone. */
static void heap_free(const struct set_info *in)
{
	int64_t v[4] = { 0, 0, 1, (int64_t)in->size };
	ctr_prof_add(CTR_PROF_HEAP, in->stack, v, 4);
}

/*
 * Insert @addr with @flags; an address already present (a stale entry: its block was freed
 * where we did not look) gets its flags replaced, and @info when SET_PROFILED is given.
 * With @keep, flags already there for this very allocation are kept.
 */
static void set_insert_info(uintptr_t addr, uintptr_t flags, const struct set_info *info,
			    int keep)
{
	struct set_bucket *t = set_map();
	if (!t)
		return;
	uint32_t h = set_hash(addr);
	struct set_bucket *b = &t[h];
	for (int i = 0; i < SET_WAYS; i++) {
		uintptr_t v = atomic_load_explicit(&b->e[i], memory_order_relaxed);
		if ((v & ~(uintptr_t)SET_FLAGS) == addr) {
			struct set_info *in = set_info_at(t, h, i);
			if (v & SET_PROFILED)
				heap_free(in); /* stale: its block was freed unseen */
			if (keep)
				flags |= v & SET_SAMPLED;
			if (info)
				*in = *info;
			atomic_store_explicit(&b->e[i], addr | flags, memory_order_relaxed);
			return;
		}
	}
	for (int i = 0; i < SET_WAYS; i++) {
		uintptr_t expect = 0;
		if (atomic_compare_exchange_strong_explicit(&b->e[i], &expect, addr | flags,
							    memory_order_relaxed,
							    memory_order_relaxed)) {
			/* Read only by whoever frees the block, after the allocation returned. */
			if (info)
				*set_info_at(t, h, i) = *info;
			/*
			 * Counted after the entry is in: a lookup of @addr happens after the
			 * allocation returned, so it sees the count; a remove decrements only
			 * an entry it took, so the count never falls below the entries.
			 */
			atomic_fetch_add_explicit(SET_COUNT_WORD(h), 1ull << SET_COUNT_SHIFT(h),
						  memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&set_dropped, 1, memory_order_relaxed);
}

/* Insert @addr with @flags (no SET_PROFILED); an address already present only gets its
 * flags updated. */
static void set_insert(uintptr_t addr, uintptr_t flags)
{
	set_insert_info(addr, flags, NULL, 0);
}

/* Remove @addr, counting a profiled block's free. @return its entry (address | flags), or 0
 * when it was not there. */
static uintptr_t set_remove(uintptr_t addr)
{
	uint32_t h = set_hash(addr);
	struct set_bucket *t = atomic_load_explicit(&set_table, memory_order_acquire);
	if (!t || !set_entries(h))
		return 0;
	struct set_bucket *b = &t[h];
	for (int i = 0; i < SET_WAYS; i++) {
		uintptr_t v = atomic_load_explicit(&b->e[i], memory_order_relaxed);
		if (!v || (v & ~(uintptr_t)SET_FLAGS) != addr)
			continue;
		/* Read before the entry is let go: then another block may take its way. */
		struct set_info in = *set_info_at(t, h, i);
		if (atomic_compare_exchange_strong_explicit(&b->e[i], &v, 0, memory_order_relaxed,
							    memory_order_relaxed)) {
			atomic_fetch_sub_explicit(SET_COUNT_WORD(h), 1ull << SET_COUNT_SHIFT(h),
						  memory_order_relaxed);
			if (v & SET_PROFILED)
				heap_free(&in);
			return v;
		}
	}
	return 0;
}

/*
 * A block freed where no event can be written (a tracer thread, an exiting thread, no slot):
 * drop it from the set all the same, or a later block at its address would look sampled.
 */
static inline void forget(uintptr_t addr)
{
	if (unlikely(set_maybe(addr)))
		set_remove(addr);
}

/* ---- counting and sampling ---- */

/*
 * The slot to count this call in, with busy set (ctr_leave() after), or NULL when the call is
 * not traced: nested inside the tracer, a tracer thread, allocations not recorded, no slot.
 */
static struct ctr_slot *enter_slow(void)
{
	int saved = errno; /* taking a slot maps memory */
	struct ctr_slot *s = ctr_enter();
	errno = saved;
	return s;
}

static inline struct ctr_slot *alloc_enter(void)
{
	const struct ctr_tls *t = &ctr_tls;
	if (unlikely(t->busy || t->state == 2 || !(ctr_g.cfg.classes & CTR_CLASS_ALLOC) ||
		     ctr_g.cfg.alloc_mode == CTR_ALLOC_OFF))
		return NULL;
	if (likely(t->state == 1))
		return ctr_enter();
	return enter_slow();
}

/* Only the owning thread writes its counters: a relaxed load and store, plain moves. */
static inline void bump(_Atomic uint64_t *c, uint64_t by)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
			      memory_order_relaxed);
}

static inline void count_free(struct ctr_slot *s)
{
	bump(&s->free_count, 1);
}

/*
 * Count an allocation of @size and say whether it must be recorded: when it covers the
 * thread's next sample point (in all mode, record_alloc keeps that point behind us).
 */
static inline int count_alloc(struct ctr_slot *s, uint64_t size)
{
	bump(&s->alloc_count, 1);
	bump(&s->alloc_bytes, size);
	s->sample_left -= (int64_t)size;
	return s->sample_left <= 0;
}

static uint64_t rng_next(struct ctr_slot *s)
{
	/* xorshift64* */
	uint64_t x = s->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void rng_seed(struct ctr_slot *s)
{
	/* splitmix64 of the tid and the clock, so threads and runs differ */
	uint64_t z = ((uint64_t)s->tid << 32) ^ ctr_ticks() ^ (uint64_t)(uintptr_t)s;
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	s->rng = z ? z : 1;
}

/* Bytes to the next sample point: exponential with mean alloc_rate. */
static int64_t next_gap(struct ctr_slot *s)
{
	double u = (double)((rng_next(s) >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
	return (int64_t)(-log(u) * (double)ctr_g.cfg.alloc_rate);
}

static uint8_t *put_head_at(struct ctr_slot *s, uint8_t *p, uint8_t type, uint64_t ticks)
{
	uint64_t delta = 0;
	if (likely(ticks > s->last)) {
		delta = ticks - s->last;
		s->last = ticks;
	}
	*p++ = type;
	return ctr_put_varint(p, delta);
}

static void write_free(struct ctr_slot *s, uint32_t call, uintptr_t addr, uint64_t ticks)
{
	uint8_t *p = ctr_reserve(s, CTR_EV_MAX);
	if (p) {
		uint8_t *q = put_head_at(s, p, CTRACE_EV_FREE, ticks);
		q = ctr_put_varint(q, call);
		q = ctr_put_varint(q, addr);
		ctr_commit(s, p, q);
	}
}

/* A free event, timed now. Keeps errno: free() must not change it. */
static __attribute__((noinline)) void record_free(struct ctr_slot *s, uint32_t call,
						  uintptr_t addr, uint64_t ticks)
{
	int saved = errno;
	write_free(s, call, addr, ticks ? ticks : ctr_ticks());
	errno = saved;
}

/*
 * While a capture records sampled allocations at the heap profile's rate, one sampler
 * serves both: each sample is an alloc event and a heap profile sample, with one stack and
 * one entry in the set. Both draw exponential gaps over the bytes allocated at the same
 * mean, so the profile's statistics are the same; two samplers cost two stack captures.
 */
static inline int trace_feeds_heap(void)
{
	return atomic_load_explicit(&ctr_on, memory_order_relaxed) &&
	       (ctr_g.cfg.classes & CTR_CLASS_ALLOC) && ctr_g.cfg.alloc_mode == CTR_ALLOC_SAMPLED &&
	       atomic_load_explicit(&ctr_heap_rate, memory_order_relaxed) == ctr_g.cfg.alloc_rate;
}

/* Stack frames between ctr_stack_capture and the caller of the wrapper: record_alloc and
 * the wrapper itself (and realloc_on for realloc and reallocarray). */
#define ALLOC_SKIP 2

/*
 * The slow path of an allocation that count_alloc() selected: decide (the thread's first
 * sample point is drawn here), capture the stack, write the event and, in sampled mode,
 * remember the block. Called directly from the wrappers, never inlined, so the stack's
 * first frame is the program's call site. @return 1 when an event was written.
 */
static __attribute__((noinline, noclone)) int record_alloc(struct ctr_slot *s, uint32_t call,
							   uintptr_t addr, uint64_t size,
							   unsigned skip)
{
	int saved = errno;
	int all = ctr_g.cfg.alloc_mode == CTR_ALLOC_ALL;
	uint64_t rate = ctr_g.cfg.alloc_rate;
	uint64_t weight = size;
	int wrote = 0;

	if (all) {
		s->sample_left = INT64_MIN / 2; /* every allocation comes here */
	} else {
		if (unlikely(s->rng == 0)) {
			/* A new slot: its first sample point was never drawn. */
			rng_seed(s);
			s->sample_left = next_gap(s) - (int64_t)size;
			if (s->sample_left > 0)
				goto out;
		}
		s->sample_left = next_gap(s);
		/* P(sampled) = 1 - exp(-size/rate); the weight is size over it. */
		weight = size ? (uint64_t)((double)size / -expm1(-(double)size / (double)rate))
			      : rate;
	}
	uint64_t stack = ctr_stack_capture(skip);
	uint8_t *p = ctr_reserve(s, CTR_EV_MAX);
	if (p) {
		uint8_t *q = ctr_put_head(s, p, CTRACE_EV_ALLOC);
		q = ctr_put_varint(q, call);
		q = ctr_put_varint(q, addr);
		q = ctr_put_varint(q, size);
		q = ctr_put_varint(q, stack);
		q = ctr_put_varint(q, weight);
		ctr_commit(s, p, q);
		wrote = 1;
		if (!all && call != CTR_CALL_MMAP) {
			if (trace_feeds_heap()) {
				struct set_info in = { stack, size };
				int64_t v[4] = { 1, (int64_t)size, 0, 0 };
				ctr_prof_add(CTR_PROF_HEAP, stack, v, 4);
				set_insert_info(addr, SET_SAMPLED | SET_PROFILED, &in, 0);
			} else {
				set_insert(addr, SET_SAMPLED);
			}
		}
	}
out:
	errno = saved;
	return wrote;
}

/* Record an allocation that returned @p (not NULL). */
#define ALLOC_DONE(s, call, p, size)                                          \
	do {                                                                  \
		if (unlikely(count_alloc(s, size)))                          \
			record_alloc(s, call, (uintptr_t)(p), size, ALLOC_SKIP); \
	} while (0)

/* ---- the heap profile ---- */

/*
 * Always on (unless CTRACE_ALLOC=off), whether or not a trace is captured: every
 * allocation takes its size off the thread's heap_left, and one that reaches the sample
 * point comes here. Its own sampling, in thread-local storage, so that a thread that is
 * never traced needs no slot. Raw counts are kept; pprof_http.c scales them as Go does.
 */
static int64_t heap_gap(uint64_t rate)
{
	double u = (double)((ctr_prof_rand() >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
	return (int64_t)(-log(u) * (double)rate);
}

/* Stack frames between ctr_stack_capture and the program: heap_sample and the wrapper. */
#define HEAP_SKIP 2

/* Not instrumented: with ASan, the first allocation comes before its runtime is set up. */
EARLY static __attribute__((noinline, noclone)) void heap_sample(void *p, uint64_t size)
{
	struct ctr_tls *t = &ctr_tls;
	uint64_t rate = atomic_load_explicit(&ctr_heap_rate, memory_order_relaxed);
	if (rate == 0)
		return;
	int saved = errno;
	if (!t->heap_drawn) {
		/* The thread's first sample point was never drawn. */
		t->heap_drawn = 1;
		t->heap_left += heap_gap(rate);
		if (t->heap_left > 0)
			goto out;
	}
	t->heap_left = heap_gap(rate);
	if (t->busy || t->state == 2)
		goto out; /* the tracer's own memory */
	if (t->slot && trace_feeds_heap())
		goto out; /* the capture's sampler takes this thread's samples */
	t->busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	struct set_info in = { ctr_stack_capture(HEAP_SKIP), size };
	int64_t v[4] = { 1, (int64_t)size, 0, 0 };
	ctr_prof_add(CTR_PROF_HEAP, in.stack, v, 4);
	set_insert_info((uintptr_t)p, SET_PROFILED, &in, 1);
	atomic_signal_fence(memory_order_seq_cst);
	t->busy = 0;
out:
	errno = saved;
}

/* Is the heap profile on? One relaxed load; 0 also before the tracer's constructor ran. */
#define HEAP_ON() (atomic_load_explicit(&ctr_heap_rate, memory_order_relaxed) != 0)

/* Count an allocation that returned @p (maybe NULL) for the heap profile, known to be on. */
#define HEAP_COUNT(p, size)                                                             \
	do {                                                                            \
		if (likely((p) != NULL) &&                                              \
		    unlikely((ctr_tls.heap_left -= (int64_t)(size)) <= 0))              \
			heap_sample((p), (size));                                       \
	} while (0)

/* The same, when the heap profile may be off. */
#define HEAP_DONE(p, size)                   \
	do {                                 \
		if (HEAP_ON())               \
			HEAP_COUNT(p, size); \
	} while (0)

/* A block is freed with tracing off: a profiled one leaves the heap profile. */
#define HEAP_FREE(p)                                                         \
	do {                                                                 \
		if (HEAP_ON() && unlikely(set_maybe((uintptr_t)(p))))        \
			set_remove((uintptr_t)(p));                          \
	} while (0)

/* ---- the wrappers ---- */

ALLOC_WRAP void *malloc(size_t size)
{
	void *p;
	struct ctr_slot *s;
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed))) {
		if (!HEAP_ON())
			return REAL(malloc)(size);
		p = REAL(malloc)(size);
		HEAP_COUNT(p, size);
		return p;
	}
	if (!(s = alloc_enter())) {
		p = REAL(malloc)(size);
	} else {
		p = REAL(malloc)(size);
		if (likely(p != NULL))
			ALLOC_DONE(s, CTR_CALL_MALLOC, p, size);
		ctr_leave();
	}
	HEAP_DONE(p, size);
	return p;
}

ALLOC_WRAP void *calloc(size_t n, size_t size)
{
	void *p;
	struct ctr_slot *s;
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed))) {
		if (!HEAP_ON())
			return REAL(calloc)(n, size);
		p = REAL(calloc)(n, size);
		HEAP_COUNT(p, (uint64_t)n * size);
		return p;
	}
	if (!(s = alloc_enter())) {
		p = REAL(calloc)(n, size);
	} else {
		p = REAL(calloc)(n, size);
		if (likely(p != NULL))
			ALLOC_DONE(s, CTR_CALL_CALLOC, p, (uint64_t)n * size); /* no overflow: it succeeded */
		ctr_leave();
	}
	HEAP_DONE(p, (uint64_t)n * size);
	return p;
}

/*
 * A free of @p (not NULL) in a traced section. In sampled mode, the lookup comes before the
 * real free: once the block is back in the heap another thread may get the same address
 * and sample it.
 */
static inline void free_traced(struct ctr_slot *s, uint32_t call, void *p)
{
	count_free(s);
	if (ctr_g.cfg.alloc_mode == CTR_ALLOC_ALL) {
		HEAP_FREE(p);
		record_free(s, call, (uintptr_t)p, 0);
	} else if (unlikely(set_maybe((uintptr_t)p))) {
		if (set_remove((uintptr_t)p) & SET_SAMPLED)
			record_free(s, call, (uintptr_t)p, 0);
	}
}

/* Out of line, so that free's off path saves no registers before its tail call. */
static __attribute__((noinline)) void free_on(void *p)
{
	if (!p || is_boot(p))
		return;
	struct ctr_slot *s = alloc_enter();
	if (!s) {
		forget((uintptr_t)p);
		REAL(free)(p);
		return;
	}
	free_traced(s, CTR_CALL_FREE, p);
	REAL(free)(p);
	ctr_leave();
}

ALLOC_WRAP void free(void *p)
{
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed))) {
		if (unlikely(is_boot(p)))
			return;
		HEAP_FREE(p);
		REAL(free)(p);
		return;
	}
	free_on(p);
}

/*
 * realloc and reallocarray, traced: called (never as a tail call) from the wrappers, so
 * that their off path saves no registers and the stack is always one frame deeper. The old
 * block's free is recorded only when the call succeeds, but timed before it: after it,
 * another thread may already have that address again.
 */
static __attribute__((noinline, noclone)) void *realloc_on(void *p, size_t n, size_t size,
							   int array)
{
	if (unlikely(is_boot(p))) {
		/* Rare enough to leave untraced. */
		size_t bytes;
		if (__builtin_mul_overflow(n, size, &bytes)) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_realloc(p, bytes);
	}
	struct ctr_slot *s = alloc_enter();
	if (!s) {
		forget((uintptr_t)p);
		return array ? REAL(reallocarray)(p, n, size) : REAL(realloc)(p, n);
	}

	int all = ctr_g.cfg.alloc_mode == CTR_ALLOC_ALL;
	uintptr_t entry = 0;
	uint64_t ticks = 0;
	if (p) {
		if (unlikely(set_maybe((uintptr_t)p)))
			entry = set_remove((uintptr_t)p);
		if (all || entry)
			ticks = ctr_ticks();
	}
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes))
		bytes = SIZE_MAX; /* reallocarray fails with ENOMEM */
	void *q = array ? REAL(reallocarray)(p, n, size) : REAL(realloc)(p, bytes);
	if (q || (p && bytes == 0)) {
		/* Success; realloc(p, 0) returning NULL has freed p. */
		if (p) {
			count_free(s);
			if (all || (entry & SET_SAMPLED))
				record_free(s, CTR_CALL_REALLOC, (uintptr_t)p, ticks);
		}
		if (q && unlikely(count_alloc(s, bytes)))
			record_alloc(s, CTR_CALL_REALLOC, (uintptr_t)q, bytes, ALLOC_SKIP + 1);
	} else if (entry) {
		int saved = errno;
		set_insert((uintptr_t)p, entry & SET_SAMPLED); /* p is still live */
		errno = saved;
	}
	ctr_leave();
	return q;
}

/* The empty asm keeps realloc_on's call out of tail position, so its frame count is fixed. */
ALLOC_WRAP void *realloc(void *p, size_t size)
{
	void *q;
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed))) {
		if (unlikely(is_boot(p)))
			return boot_realloc(p, size);
		if (p)
			HEAP_FREE(p);
		q = REAL(realloc)(p, size);
	} else {
		q = realloc_on(p, size, 1, 0);
		__asm__ __volatile__("" ::"r"(q));
	}
	HEAP_DONE(q, size);
	return q;
}

ALLOC_WRAP void *reallocarray(void *p, size_t n, size_t size)
{
	void *q;
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed))) {
		size_t bytes;
		if (unlikely(is_boot(p))) {
			if (__builtin_mul_overflow(n, size, &bytes)) {
				errno = ENOMEM;
				return NULL;
			}
			return boot_realloc(p, bytes);
		}
		if (p)
			HEAP_FREE(p);
		q = REAL(reallocarray)(p, n, size);
	} else {
		q = realloc_on(p, n, size, 1);
		__asm__ __volatile__("" ::"r"(q));
	}
	HEAP_DONE(q, (uint64_t)n * size); /* no overflow when it succeeded */
	return q;
}

ALLOC_WRAP int posix_memalign(void **out, size_t align, size_t size)
{
	int rc;
	struct ctr_slot *s;
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed))) {
		if (!HEAP_ON())
			return REAL(posix_memalign)(out, align, size);
		rc = REAL(posix_memalign)(out, align, size);
		if (rc == 0)
			HEAP_COUNT(*out, size);
		return rc;
	}
	if (!(s = alloc_enter())) {
		rc = REAL(posix_memalign)(out, align, size);
	} else {
		rc = REAL(posix_memalign)(out, align, size);
		if (rc == 0)
			ALLOC_DONE(s, CTR_CALL_POSIX_MEMALIGN, *out, size);
		ctr_leave();
	}
	if (rc == 0)
		HEAP_DONE(*out, size);
	return rc;
}

/* aligned_alloc, memalign, valloc, pvalloc: the same body around a different call. */
#define ALIGNED_WRAPPER(fn, call, params, args, size)                                 \
	ALLOC_WRAP void *fn params                                                      \
	{                                                                             \
		void *p;                                                              \
		struct ctr_slot *s;                                                   \
		if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed))) {  \
			if (!HEAP_ON())                                               \
				return REAL(fn) args;                                 \
			p = REAL(fn) args;                                            \
			HEAP_COUNT(p, size);                                          \
			return p;                                                     \
		}                                                                     \
		if (!(s = alloc_enter())) {                                           \
			p = REAL(fn) args;                                            \
		} else {                                                              \
			p = REAL(fn) args;                                            \
			if (likely(p != NULL))                                        \
				ALLOC_DONE(s, call, p, size);                         \
			ctr_leave();                                                  \
		}                                                                     \
		HEAP_DONE(p, size);                                                   \
		return p;                                                             \
	}

ALIGNED_WRAPPER(aligned_alloc, CTR_CALL_ALIGNED_ALLOC, (size_t align, size_t size),
		(align, size), size)
ALIGNED_WRAPPER(memalign, CTR_CALL_MEMALIGN, (size_t align, size_t size), (align, size), size)
ALIGNED_WRAPPER(valloc, CTR_CALL_VALLOC, (size_t size), (size), size)
/* The calls table has no pvalloc: it is recorded as valloc, its older sibling. */
ALIGNED_WRAPPER(pvalloc, CTR_CALL_VALLOC, (size_t size), (size), size)

/*
 * Anonymous mappings are allocations; file mappings pass through untouched. Every traced
 * anonymous mapping enters the set (flagged when it got an alloc event), so that munmap
 * counts only the mappings that were counted as allocations.
 */
ALLOC_WRAP void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed)) ||
	    !(flags & MAP_ANONYMOUS))
		return REAL(mmap)(addr, len, prot, flags, fd, off);
	struct ctr_slot *s = alloc_enter();
	if (!s)
		return REAL(mmap)(addr, len, prot, flags, fd, off);
	void *p = REAL(mmap)(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED) {
		int sampled = 0;
		if (unlikely(count_alloc(s, len)))
			sampled = record_alloc(s, CTR_CALL_MMAP, (uintptr_t)p, len, ALLOC_SKIP);
		int saved = errno;
		set_insert((uintptr_t)p, sampled ? SET_SAMPLED : 0);
		errno = saved;
	}
	ctr_leave();
	return p;
}

/* Programs built with _FILE_OFFSET_BITS=64 call mmap64: the same function on 64-bit. */
_Static_assert(sizeof(off_t) == sizeof(off64_t), "mmap64 is mmap only where off_t is 64-bit");
ALLOC_WRAP void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
	__attribute__((alias("mmap")));

ALLOC_WRAP int munmap(void *addr, size_t len)
{
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed)))
		return REAL(munmap)(addr, len);
	struct ctr_slot *s = alloc_enter();
	if (!s) {
		forget((uintptr_t)addr);
		return REAL(munmap)(addr, len);
	}
	uintptr_t entry = 0;
	uint64_t ticks = 0;
	if (unlikely(set_maybe((uintptr_t)addr))) {
		entry = set_remove((uintptr_t)addr);
		if (entry & SET_SAMPLED)
			ticks = ctr_ticks();
	}
	int rc = REAL(munmap)(addr, len);
	if (entry) {
		if (rc == 0) {
			count_free(s);
			if (entry & SET_SAMPLED)
				record_free(s, CTR_CALL_MUNMAP, (uintptr_t)addr, ticks);
		} else {
			int saved = errno;
			set_insert((uintptr_t)addr, entry & SET_SAMPLED);
			errno = saved;
		}
	}
	ctr_leave();
	return rc;
}
