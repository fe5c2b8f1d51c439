/*
 * Stacks: captured with libunwind where a call is already slow (a blocking begin, a
 * sampled allocation, a thread creation) and interned in one lock-free table, so that an
 * event carries a small id and identical stacks are stored once.
 *
 * Everything lives in address space reserved once at start (MAP_NORESERVE: pages cost
 * memory only when touched), so capturing never allocates and is signal-safe. When the
 * reserve is used up, new stacks are not recorded (the event then has stack 0).
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define TABLE_BITS 22                    /* 4M slots, at most half full */
#define MAX_STACKS (1u << (TABLE_BITS - 1))
#define ARENA_BYTES (256ull << 20)
#define MAX_DEPTH 128

struct stack {
	uint64_t hash;
	uint32_t depth;
	uint32_t pad_;
	uintptr_t pcs[];
};

static _Atomic uint32_t *table;     /* slot -> stack id, 0 = empty */
static uint64_t *index_;            /* stack id -> arena offset */
static uint8_t *arena;
static _Atomic uint64_t arena_used;
static _Atomic uint32_t next_id = 1;

void ctr_stack_init(void)
{
	if (table)
		return;
	size_t tsize = sizeof(*table) << TABLE_BITS;
	size_t isize = sizeof(*index_) * (size_t)(MAX_STACKS + 1);
	void *t = mmap(NULL, tsize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *i = mmap(NULL, isize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *a = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED || i == MAP_FAILED || a == MAP_FAILED) {
		if (t != MAP_FAILED)
			munmap(t, tsize);
		if (i != MAP_FAILED)
			munmap(i, isize);
		if (a != MAP_FAILED)
			munmap(a, ARENA_BYTES);
		return; /* stacks stay off */
	}
	index_ = i;
	arena = a;
	table = t;
}

static uint64_t hash_pcs(const uintptr_t *pcs, unsigned n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (unsigned i = 0; i < n; i++) {
		h ^= pcs[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h ? h : 1;
}

static const struct stack *stack_at(uint32_t id)
{
	return (const struct stack *)(arena + index_[id]);
}

static int same(const struct stack *s, uint64_t h, const uintptr_t *pcs, unsigned n)
{
	return s->hash == h && s->depth == n && memcmp(s->pcs, pcs, n * sizeof(*pcs)) == 0;
}

static uint32_t intern(const uintptr_t *pcs, unsigned n)
{
	uint64_t h = hash_pcs(pcs, n);
	uint32_t mask = (1u << TABLE_BITS) - 1;
	uint32_t id_new = 0;

	for (uint32_t i = (uint32_t)h & mask, probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
		uint32_t id = atomic_load_explicit(&table[i], memory_order_acquire);
		if (id == 0) {
			if (!id_new) {
				size_t bytes = sizeof(struct stack) + n * sizeof(uintptr_t);
				uint64_t off = atomic_fetch_add(&arena_used, (bytes + 15) & ~15ull);
				if (off + bytes > ARENA_BYTES)
					return 0;
				id_new = atomic_fetch_add(&next_id, 1);
				if (id_new > MAX_STACKS)
					return 0;
				struct stack *s = (struct stack *)(arena + off);
				s->hash = h;
				s->depth = n;
				memcpy(s->pcs, pcs, n * sizeof(*pcs));
				index_[id_new] = off;
			}
			uint32_t expect = 0;
			if (atomic_compare_exchange_strong_explicit(&table[i], &expect, id_new,
								    memory_order_release,
								    memory_order_acquire))
				return id_new;
			id = expect; /* another thread filled this slot first */
		}
		if (same(stack_at(id), h, pcs, n))
			return id; /* an id_new made meanwhile stays unused: a few bytes */
	}
	return 0;
}

uint64_t ctr_stack_capture(unsigned skip)
{
	void *buf[MAX_DEPTH + 40];
	unsigned depth = ctr_g.cfg.stack_depth;

	if (!depth || !table)
		return 0;
	if (depth > MAX_DEPTH)
		depth = MAX_DEPTH;
	if (skip > 30)
		skip = 30;
	/* Frame 0 is this function (unw_backtrace starts at its caller); 1 is our caller. */
	int first = 1 + (int)skip;
	int n = unw_backtrace(buf, (int)depth + first);
	if (n <= first)
		return 0;
	return intern((const uintptr_t *)(buf + first), (unsigned)(n - first));
}

uint64_t ctr_stack_intern(const uintptr_t *pcs, unsigned n)
{
	if (!table || n == 0)
		return 0;
	return intern(pcs, n > MAX_DEPTH ? MAX_DEPTH : n);
}

unsigned ctr_stack_unwind_signal(void *uc, uintptr_t *pcs, unsigned max)
{
	unw_cursor_t c;
	unsigned n = 0;
	/* On x86_64 an unw_context_t is a ucontext_t: start at the interrupted instruction. */
	if (unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0)
		return 0;
	do {
		unw_word_t ip;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		/* The interrupted pc is exact; one past it, so that looking up pc - 1 (the call
		 * site of a return address) finds its own instruction. */
		pcs[n] = n == 0 ? (uintptr_t)ip + 1 : (uintptr_t)ip;
		n++;
	} while (n < max && unw_step(&c) > 0);
	return n;
}

unsigned ctr_stack_lookup(uint64_t id, const uintptr_t **pcs)
{
	if (!table || id == 0 || id >= atomic_load(&next_id) || id > MAX_STACKS)
		return 0;
	const struct stack *s = stack_at((uint32_t)id);
	*pcs = s->pcs;
	return s->depth;
}
