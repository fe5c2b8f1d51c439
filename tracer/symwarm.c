/*
 * Symbolizing ahead of the writer, on a thread of its own.
 *
 * The first frame the symbolizer meets in a library loads that library's debug information,
 * which can take long: libc's from Debian's libc6-dbg (4 MiB of compressed DWARF) takes
 * 40 ms on the development machine, a large C++ program's far more. When the writer did
 * that itself while closing a generation it drained no ring meanwhile, and a thread writing
 * 5 M events/s lost some 200,000 events at the start of every process's first capture. Now
 * the writer hands each stack it has not seen before to this thread, which symbolizes the
 * stack's frames into the symbolizer's cache, and keeps draining while it waits for that
 * before it writes a generation's tables (writer.c, await_symbols).
 *
 * The queue is the writer's and this thread's only: a mutex and two futex words.
 */
#include <linux/futex.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../format/u64map.h"
#include "internal.h"

static struct {
	pthread_mutex_t lock;
	uint64_t *queue; /* stack ids not yet symbolized, under lock */
	size_t len, cap;
	_Atomic uint32_t work; /* futex: bumped when the queue grows */
	_Atomic uint32_t done; /* futex: bumped when the queue is empty again */
	_Atomic uint64_t pending; /* queued or being symbolized */
	_Atomic int allowed;      /* the writer thread runs (not a fork child's exec) */
	int started;              /* the thread exists (writer thread only) */
	pthread_t thread;         /* it, while started */
	_Atomic int quit;         /* it must return (ctr_symwarm_pause) */
	int failed;               /* it could not be started: the writer symbolizes itself */
	struct ctr_u64map seen;   /* every stack id handed over (writer thread only) */
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void futex_wait(_Atomic uint32_t *word, uint32_t val, const struct timespec *ts)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, ts, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void symbolize_stack(uint64_t id)
{
	const uintptr_t *pcs;
	unsigned depth = ctr_stack_lookup(id, &pcs);
	for (unsigned i = 0; i < depth; i++) {
		struct ctr_sym sym;
		ctr_symbolize(pcs[i], &sym);
	}
}

static void *warm_main(void *arg)
{
	(void)arg;
	/* Never traced, whichever pthread_create started it (the ThreadSanitizer build's
	 * starts the function itself). */
	ctr_become_internal();
	if (!ctr_is_internal((uint32_t)ctr_gettid()))
		ctr_internal_thread(1);
	for (;;) {
		uint32_t seen = atomic_load(&S.work);
		if (atomic_load(&S.quit))
			break;
		pthread_mutex_lock(&S.lock);
		uint64_t id = 0;
		if (S.len)
			id = S.queue[--S.len];
		pthread_mutex_unlock(&S.lock);
		if (!id) {
			futex_wait(&S.work, seen, NULL);
			continue;
		}
		symbolize_stack(id);
		if (atomic_fetch_sub(&S.pending, 1) == 1) {
			atomic_fetch_add(&S.done, 1);
			futex_wake(&S.done);
		}
	}
	return NULL;
}

static int start(void)
{
	/* The writer runs with every signal blocked, and so does a thread it creates. Through
	 * the interposer, which takes a thread the tracer creates as its own (thread.c).
	 * Joinable: ctr_symwarm_pause waits for it to be gone. */
	return pthread_create(&S.thread, NULL, warm_main, NULL) == 0 ? 0 : -1;
}

/* The writer thread stood down (ctr_writer_pause): this one goes too, its queue kept. */
void ctr_symwarm_pause(void)
{
	if (!S.started)
		return;
	atomic_store(&S.quit, 1);
	atomic_fetch_add(&S.work, 1);
	futex_wake(&S.work);
	pthread_join(S.thread, NULL);
	atomic_store(&S.quit, 0);
	S.started = 0;
}

/* The writer thread (again): a queue left by a pause gets a thread to work it off. */
void ctr_symwarm_restart(void)
{
	if (S.started || S.failed || !atomic_load(&S.allowed) || !S.len)
		return;
	if (start() < 0) {
		S.failed = 1;
		return;
	}
	S.started = 1;
}

void ctr_symwarm_allow(void)
{
	atomic_store(&S.allowed, 1);
}

int ctr_symwarm_add(uint64_t id)
{
#ifdef __SANITIZE_ADDRESS__
	/* Not under AddressSanitizer. GCC 12's ASan allocator does not hold its size-class
	 * locks across fork(), as glibc's malloc does, so a thread allocating as much as
	 * loading DWARF does holds one at a fork often enough that the child, which
	 * symbolizes its last generation before exec, waits on it forever in its first
	 * allocation: `torture forkexec` under `ctrace record` hung in 6 of 40 runs with
	 * this thread (gdb: the child in SizeClassAllocator64::GetFromAllocator under
	 * elf_compress), in none without it. */
	(void)id;
	return 0;
#endif
	uint64_t v;
	/* A fork child's exec'ing thread that drains for a writer thread that never ran
	 * symbolizes inline: no thread is started in a process about to exec. */
	if (!atomic_load_explicit(&S.allowed, memory_order_relaxed) || S.failed ||
	    ctr_u64map_get(&S.seen, id, &v))
		return 0;
	if (!S.started) {
		if (start() < 0) {
			S.failed = 1;
			return 0;
		}
		S.started = 1;
	}
	pthread_mutex_lock(&S.lock);
	if (S.len == S.cap) {
		size_t cap = S.cap ? 2 * S.cap : 256;
		uint64_t *q = realloc(S.queue, cap * sizeof(*q));
		if (!q) {
			pthread_mutex_unlock(&S.lock);
			return 0; /* the writer symbolizes it when it writes the tables */
		}
		S.queue = q;
		S.cap = cap;
	}
	S.queue[S.len++] = id;
	atomic_fetch_add(&S.pending, 1);
	pthread_mutex_unlock(&S.lock);
	/* Out of memory, it is handed over again next time: work done twice, no harm. */
	(void)ctr_u64map_put(&S.seen, id, 1);
	atomic_fetch_add(&S.work, 1);
	futex_wake(&S.work);
	return 1;
}

int ctr_symwarm_pending(void)
{
	return atomic_load(&S.pending) != 0;
}

void ctr_symwarm_wait(uint64_t ns)
{
	uint32_t d = atomic_load(&S.done);
	if (!ctr_symwarm_pending())
		return;
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	futex_wait(&S.done, d, &ts);
}

void ctr_symwarm_fork_child(void)
{
	/* The thread is the parent's; so is the cache it filled (ctr_symbolize_reset). */
	pthread_mutex_init(&S.lock, NULL);
	atomic_store(&S.allowed, 0);
	S.len = 0;
	S.started = 0;
	S.failed = 0;
	atomic_store(&S.pending, 0);
	/* The parent's writer may have been growing the map: dropped, not freed (copy-on-write
	 * pages only). */
	S.seen = (struct ctr_u64map){ 0 };
}
