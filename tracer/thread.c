/*
 * Thread life cycle: pthread_create (thread_create in the creator, thread_start in the new
 * thread through a trampoline, thread_end when its start routine returns), and thread
 * names from pthread_setname_np and prctl(PR_SET_NAME).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "internal.h"

struct start_args {
	void *(*fn)(void *);
	void *arg;
	uint32_t parent;
	uint32_t create_id;
};

/*
 * The tracer's own allocations, never recorded as the program's. The busy mark stays in
 * memory around the call because libctrace is built with -fno-builtin-malloc and its
 * kin (tracer/meson.build): as builtins, GCC took malloc and free to read no memory of
 * ours and dropped the increment and decrement as dead stores (each thread's start_args
 * was recorded, and its free in the new thread, before thread_start, made the model see
 * the thread before it started). Every busy mark around an allocation relies on that.
 */
static void *own_malloc(size_t size)
{
	ctr_tls.busy++;
	void *p = malloc(size);
	ctr_tls.busy--;
	return p;
}

static void own_free(void *p)
{
	ctr_tls.busy++;
	free(p);
	ctr_tls.busy--;
}

/*
 * The trampolines are never instrumented by AddressSanitizer: the thread functions they
 * call may end the thread without returning to them (pthread_exit, or a cancellation, as
 * liblttng-ust does to its listener threads at exit), and ASan, which repairs the stack's
 * shadow after longjmp and C++ exceptions, does not after that forced unwinding. The
 * trampoline's redzones then stay poisoned at the top of the stack, where glibc runs the
 * thread-specific-data destructors next: liblttng-ust's urcu destructor passing a local
 * sigset_t to pthread_sigmask was reported as a stack-buffer-underflow there.
 */
#define TRAMPOLINE __attribute__((no_sanitize_address))

TRAMPOLINE static void *trampoline(void *p)
{
	struct start_args a = *(struct start_args *)p;

	own_free(p);
	if (atomic_load_explicit(&ctr_on, memory_order_relaxed)) {
		uint64_t args[3] = { a.parent, a.create_id, 0 };
		ctr_event(CTRACE_EV_THREAD_START, 3, args);
	}
	void *ret = a.fn(a.arg);
	ctr_thread_end(CTRACE_END_RETURN);
	return ret;
}

/* The tids of the tracer's own threads, left out of snapshots and kernel totals. */
#define INTERNAL_MAX 128
static _Atomic uint32_t internal_tids[INTERNAL_MAX];

void ctr_internal_thread(int add)
{
	uint32_t tid = (uint32_t)ctr_gettid();
	for (int i = 0; i < INTERNAL_MAX; i++) {
		uint32_t expect = add ? 0 : tid;
		if (atomic_compare_exchange_strong(&internal_tids[i], &expect, add ? tid : 0))
			return;
	}
}

int ctr_is_internal(uint32_t tid)
{
	for (int i = 0; i < INTERNAL_MAX; i++)
		if (atomic_load_explicit(&internal_tids[i], memory_order_relaxed) == tid)
			return 1;
	return 0;
}

/*
 * Whether the program's thread @tid is alive, and its name into @name when it is. A thread
 * that pthread_join has already returned for stays in /proc/self/task a moment longer,
 * exiting: its kernel flags word (the ninth field of stat) then has PF_EXITING.
 */
#define PF_EXITING 0x4u

int ctr_task_live(long tid, char name[16])
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
	name[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *open_paren = strchr(buf, '(');
	char *close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return 0;
	char state;
	unsigned long flags;
	if (sscanf(close_paren + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return 0;
	if ((flags & PF_EXITING) || state == 'Z' || state == 'X')
		return 0;
	size_t len = (size_t)(close_paren - open_paren - 1);
	if (len > 15)
		len = 15;
	memcpy(name, open_paren + 1, len);
	name[len] = 0;
	return 1;
}

/* A thread the tracer's own code creates (the HTTP server's): never traced. */
TRAMPOLINE static void *internal_trampoline(void *p)
{
	struct start_args a = *(struct start_args *)p;
	ctr_become_internal();
	free(p);
	ctr_internal_thread(1);
	void *ret = a.fn(a.arg);
	ctr_internal_thread(0);
	return ret;
}

/* The threadcreate profile, always on: creating a thread costs far more than a stack. */
static __attribute__((noinline)) void count_create(void)
{
	ctr_tls.busy++;
	int64_t one = 1;
	ctr_prof_add(CTR_PROF_THREADCREATE, ctr_stack_capture(2), &one, 1);
	ctr_tls.busy--;
}

CTR_WRAP int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			       void *(*fn)(void *), void *arg)
{
#ifdef __SANITIZE_THREAD__
	/* The ThreadSanitizer build (tests only): TSan's interceptor called this one, and its
	 * start routine must be the first code of the new thread, so no trampoline goes in
	 * front of it. Threads take their slot at their first event instead, and give it back
	 * at exit through the slot key's destructor. */
	return CTR_REAL(pthread_create)(thread, attr, fn, arg);
#endif
	if (unlikely(ctr_tls.busy || ctr_tls.state == 2)) {
		/* Created by the tracer, or by one of its threads. */
		struct start_args *a = own_malloc(sizeof(*a));
		if (!a)
			return EAGAIN;
		a->fn = fn;
		a->arg = arg;
		int rc = CTR_REAL(pthread_create)(thread, attr, internal_trampoline, a);
		if (rc != 0)
			own_free(a);
		return rc;
	}
	count_create();
	if (likely(!atomic_load_explicit(&ctr_on, memory_order_relaxed)))
		return CTR_REAL(pthread_create)(thread, attr, fn, arg);

	struct start_args *a = own_malloc(sizeof(*a));
	if (!a)
		return CTR_REAL(pthread_create)(thread, attr, fn, arg);
	a->fn = fn;
	a->arg = arg;
	a->parent = (uint32_t)ctr_gettid();
	a->create_id = atomic_fetch_add_explicit(&ctr_g.create_seq, 1, memory_order_relaxed) + 1;
	uint64_t args[2] = { a->create_id, 0 };
	ctr_event(CTRACE_EV_THREAD_CREATE, 2, args);
	int rc = CTR_REAL(pthread_create)(thread, attr, trampoline, a);
	if (rc != 0)
		own_free(a);
	return rc;
}

static void name_event(uint32_t tid, const char *name, size_t max)
{
	if (!name)
		return;
	uint64_t args[1] = { tid };
	ctr_event_blob(CTRACE_EV_THREAD_NAME, 1, args, name, strnlen(name, max));
}

/* The tid of a thread we have a slot for, or 0 when we do not know it. */
static uint32_t tid_of(pthread_t t)
{
	for (struct ctr_slot *s = atomic_load(&ctr_g.slots); s; s = s->next)
		if (atomic_load_explicit(&s->state, memory_order_acquire) == CTR_SLOT_LIVE &&
		    pthread_equal(s->self, t))
			return s->tid;
	return 0;
}

CTR_WRAP int pthread_setname_np(pthread_t t, const char *name)
{
	int rc = CTR_REAL(pthread_setname_np)(t, name);
	if (rc == 0 && atomic_load_explicit(&ctr_on, memory_order_relaxed) && !ctr_tls.busy) {
		uint32_t tid = pthread_equal(t, pthread_self()) ? 0 : tid_of(t);
		if (tid || pthread_equal(t, pthread_self()))
			name_event(tid, name, 64);
	}
	return rc;
}

CTR_WRAP int prctl(int option, ...)
{
	va_list ap;
	va_start(ap, option);
	unsigned long a2 = va_arg(ap, unsigned long);
	unsigned long a3 = va_arg(ap, unsigned long);
	unsigned long a4 = va_arg(ap, unsigned long);
	unsigned long a5 = va_arg(ap, unsigned long);
	va_end(ap);
	int rc = CTR_REAL(prctl)(option, a2, a3, a4, a5);
	if (rc == 0 && option == PR_SET_NAME &&
	    atomic_load_explicit(&ctr_on, memory_order_relaxed) && !ctr_tls.busy) {
		char name[17];
		size_t len = strnlen((const char *)a2, 16);
		memcpy(name, (const char *)a2, len);
		name[len] = 0;
		name_event(0, name, sizeof(name));
	}
	return rc;
}
