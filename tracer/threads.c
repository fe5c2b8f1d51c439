/*
 * The threads profile (/debug/pprof/threads, and goroutine as Go's name for it): every live
 * thread of the program with its stack now, collected by signalling each thread with a
 * real-time signal and unwinding in its handler, plus what the thread is blocked in (the
 * slot's st_* fields, kept by the interposers even when tracing is off).
 *
 * The signal is the first of SIGRTMIN+6 .. SIGRTMAX-2 the program leaves at its default;
 * the handler is installed for the request only, and afterwards the signal is ignored for
 * a moment (a thread that had it blocked drops it then) and given back its disposition.
 * Threads that do not answer within a second (the signal blocked, or not scheduled) are
 * reported without a stack. Threads inside a call that a signal would cut short even with
 * SA_RESTART (sleeps, poll, select, epoll_wait) are not signalled: they are reported with
 * their call and no stack, so that the program never sees an EINTR it did not ask for.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#include "internal.h"
#include "pprof_http.h"

#define MAX_THREADS 4096
#define DEPTH 64

struct req_thread {
	_Atomic pid_t tid;
	_Atomic int done;
	unsigned n;
	uintptr_t pcs[DEPTH];
};

/* One request at a time; the buffer is static so that a late handler never writes to
 * freed memory. */
static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
static struct req_thread req[MAX_THREADS];
static _Atomic size_t req_n;
static _Atomic int req_on;
static int req_sig;                 /* the signal in use, 0 when none */
static struct sigaction req_old;    /* its disposition before */

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	if (!atomic_load_explicit(&req_on, memory_order_acquire))
		return;
	int saved = errno, busy = ctr_tls.busy;
	ctr_tls.busy = 1; /* what libunwind calls (locks) is the tracer's, not the program's */
	atomic_signal_fence(memory_order_seq_cst);
	pid_t tid = (pid_t)syscall(SYS_gettid);
	size_t n = atomic_load_explicit(&req_n, memory_order_acquire);
	for (size_t i = 0; i < n; i++) {
		if (atomic_load_explicit(&req[i].tid, memory_order_relaxed) != tid)
			continue;
		if (!atomic_load_explicit(&req[i].done, memory_order_relaxed)) {
			req[i].n = ctr_stack_unwind_signal(uc, req[i].pcs, DEPTH);
			atomic_store_explicit(&req[i].done, 1, memory_order_release);
		}
		break;
	}
	atomic_signal_fence(memory_order_seq_cst);
	ctr_tls.busy = busy;
	errno = saved;
}

struct thread_info {
	pid_t tid;
	char name[32];
	uint32_t call;  /* 0: not in a traced call */
	uint64_t since_ns; /* how long it has been in it */
	int signalled;
	int answered;
	unsigned n;
	uintptr_t pcs[DEPTH];
};

static uint64_t ticks_to_ns(uint64_t ticks)
{
	if (!ctr_clock_is_tsc)
		return ticks;
	struct ctr_sync now;
	uint64_t tick_span, ns_span;
	ctr_clock_sync(&now);
	ctr_clock_ratio(&now, &tick_span, &ns_span);
	if (!tick_span)
		return 0;
	return (uint64_t)((double)ticks * (double)ns_span / (double)tick_span);
}

/* What thread @tid is blocked in, from its slot. */
static void blocked_in(struct thread_info *t)
{
	for (struct ctr_slot *s = atomic_load(&ctr_g.slots); s; s = s->next) {
		if (s->tid != (uint32_t)t->tid ||
		    atomic_load_explicit(&s->state, memory_order_acquire) != CTR_SLOT_LIVE)
			continue;
		for (int tries = 0; tries < 100; tries++) {
			uint32_t q = atomic_load_explicit(&s->st_seq, memory_order_acquire);
			if (q & 1)
				continue;
			uint32_t call = s->st_call;
			uint64_t since = s->st_since;
			uint32_t coarse = s->st_coarse;
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&s->st_seq, memory_order_relaxed) != q)
				continue;
			t->call = call < CTR_CALL_COUNT_ ? call : 0;
			if (t->call) {
				uint64_t now = coarse ? ctr_coarse_ns() : ctr_ticks();
				uint64_t d = now > since ? now - since : 0;
				t->since_ns = coarse ? d : ticks_to_ns(d);
			}
			return;
		}
		return;
	}
}

/* A signal would cut these short even with SA_RESTART: leave the thread alone. */
static int interruptible(uint32_t call)
{
	if (call == 0)
		return 0;
	if (ctr_calls[call].reason == CTRACE_REASON_SLEEP)
		return 1;
	switch (call) {
	case CTR_CALL_POLL:
	case CTR_CALL_PPOLL:
	case CTR_CALL_SELECT:
	case CTR_CALL_PSELECT:
	case CTR_CALL_EPOLL_WAIT:
	case CTR_CALL_EPOLL_PWAIT:
		return 1;
	default:
		return 0;
	}
}

/* The program's live threads (not the tracer's). @return a malloc'd array, or NULL. */
static struct thread_info *list_threads(size_t *count)
{
	uint32_t *tids;
	char(*names)[16];
	size_t n;
	if (ctr_snapshot_threads(&tids, &names, &n) < 0)
		return NULL;
	struct thread_info *v = calloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++) {
		v[i].tid = (pid_t)tids[i];
		memcpy(v[i].name, names[i], sizeof(names[i]));
		blocked_in(&v[i]);
	}
	free(tids);
	free(names);
	*count = n;
	return v;
}

void ctr_threads_fork_child(void)
{
	/* A request in the parent (its lock held, its handler installed) is not ours. */
	pthread_mutex_init(&req_lock, NULL);
	atomic_store(&req_on, 0);
	atomic_store(&req_n, 0);
	if (req_sig) {
		struct sigaction ign;
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigaction(req_sig, &ign, NULL);
		sigaction(req_sig, &req_old, NULL);
		req_sig = 0;
	}
}

size_t ctr_threads_count(void)
{
	uint32_t *tids;
	char(*names)[16];
	size_t n;
	if (ctr_snapshot_threads(&tids, &names, &n) < 0)
		return 0;
	free(tids);
	free(names);
	return n;
}

/* A real-time signal the program leaves at its default, or 0. */
static int pick_signal(struct sigaction *old)
{
	for (int sig = SIGRTMIN + 6; sig <= SIGRTMAX - 2; sig++) {
		if (sigaction(sig, NULL, old) != 0)
			continue;
		if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler == SIG_DFL)
			return sig;
	}
	return 0;
}

/* Signal the threads and collect their stacks. @return 0, or -1 with no free signal. */
static int collect_stacks(struct thread_info *v, size_t n)
{
	struct sigaction old, sa;
	int sig = pick_signal(&old);
	if (!sig)
		return -1;
	pthread_mutex_lock(&req_lock);
	size_t m = n < MAX_THREADS ? n : MAX_THREADS;
	for (size_t i = 0; i < m; i++) {
		atomic_store(&req[i].tid, v[i].tid);
		atomic_store(&req[i].done, 0);
		req[i].n = 0;
	}
	atomic_store(&req_n, m);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	req_sig = sig;
	req_old = old;
	sigaction(sig, &sa, NULL);
	atomic_store_explicit(&req_on, 1, memory_order_release);

	pid_t pid = getpid();
	for (size_t i = 0; i < m; i++) {
		if (interruptible(v[i].call))
			continue;
		if (syscall(SYS_tgkill, (long)pid, (long)v[i].tid, (long)sig) == 0)
			v[i].signalled = 1;
	}
	uint64_t deadline = ctr_mono_ns() + 1000000000u;
	for (;;) {
		size_t waiting = 0;
		for (size_t i = 0; i < m; i++)
			if (v[i].signalled && !atomic_load_explicit(&req[i].done, memory_order_acquire))
				waiting++;
		if (!waiting || ctr_mono_ns() >= deadline)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	atomic_store_explicit(&req_on, 0, memory_order_release);
	for (size_t i = 0; i < m; i++) {
		if (v[i].signalled && atomic_load_explicit(&req[i].done, memory_order_acquire)) {
			v[i].answered = 1;
			v[i].n = req[i].n;
			memcpy(v[i].pcs, req[i].pcs, req[i].n * sizeof(uintptr_t));
		}
	}
	atomic_store(&req_n, 0);
	struct sigaction ign;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(sig, &ign, NULL); /* drops the signal where it is still pending */
	sigaction(sig, &old, NULL);
	req_sig = 0;
	pthread_mutex_unlock(&req_lock);
	return 0;
}

static void state_text(const struct thread_info *t, char *buf, size_t size)
{
	if (!t->call)
		snprintf(buf, size, "running");
	else
		snprintf(buf, size, "blocked in %s, %" PRIu64 " ms", ctr_calls[t->call].name,
			 t->since_ns / 1000000);
}

static const char *missing(const struct thread_info *t)
{
	if (t->answered)
		return NULL;
	if (interruptible(t->call))
		return "(no stack: not interrupted in a call a signal would cut short)";
	if (t->signalled)
		return "(no stack: the thread did not answer the signal in time)";
	return "(no stack)";
}

static enum MHD_Result fail(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	char *s = strdup(msg);
	return s ? ctr_pprof_respond(conn, status, "text/plain; charset=utf-8", s, strlen(s), NULL)
		 : MHD_NO;
}

/* Text in an open_memstream; symbolized frames in Go's debug=2 style. */
static void frames_text(FILE *f, const uintptr_t *pcs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct ctr_sym sym;
		ctr_symbolize(pcs[i], &sym);
		fprintf(f, "%s(...)\n\t%s:%u pc=%#" PRIxPTR "\n", sym.function ? sym.function : "?",
			sym.file ? sym.file : "?", sym.line, pcs[i]);
	}
}

enum MHD_Result ctr_threads_http(struct MHD_Connection *conn, const char *name, long debug,
				 long seconds)
{
	if (seconds > 0)
		return fail(conn, MHD_HTTP_BAD_REQUEST,
			    "\"seconds\" parameter is not supported for this profile type\n");
	size_t n = 0;
	struct thread_info *v = list_threads(&n);
	if (!v)
		return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot list the threads\n");
	if (collect_stacks(v, n) != 0) {
		free(v);
		return fail(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "no real-time signal is free to collect stacks with: the program "
			    "handles them all\n");
	}
	if (debug > 0) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		if (!f) {
			free(v);
			return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		}
		if (debug >= 2) {
			for (size_t i = 0; i < n; i++) {
				char st[128];
				state_text(&v[i], st, sizeof(st));
				fprintf(f, "thread %d \"%s\" [%s]:\n", (int)v[i].tid, v[i].name, st);
				if (missing(&v[i]))
					fprintf(f, "%s\n", missing(&v[i]));
				frames_text(f, v[i].pcs, v[i].n);
				fprintf(f, "\n");
			}
		} else {
			/* Grouped by stack, as Go's debug=1. */
			uint64_t *ids = calloc(n ? n : 1, sizeof(*ids));
			int *done = calloc(n ? n : 1, sizeof(*done));
			fprintf(f, "%s profile: total %zu\n", name, n);
			for (size_t i = 0; ids && done && i < n; i++)
				ids[i] = v[i].answered ? ctr_stack_intern(v[i].pcs, v[i].n) : 0;
			for (size_t i = 0; ids && done && i < n; i++) {
				if (done[i])
					continue;
				size_t count = 0;
				for (size_t j = i; j < n; j++)
					if (!done[j] && ids[j] == ids[i] && v[j].call == v[i].call) {
						done[j] = 1;
						count++;
					}
				fprintf(f, "%zu @", count);
				for (unsigned k = 0; k < v[i].n; k++)
					fprintf(f, " %#" PRIxPTR, v[i].pcs[k]);
				fprintf(f, "\n");
				if (v[i].call)
					fprintf(f, "# blocked in %s\n", ctr_calls[v[i].call].name);
				for (unsigned k = 0; k < v[i].n; k++) {
					struct ctr_sym sym;
					ctr_symbolize(v[i].pcs[k], &sym);
					fprintf(f, "#\t%#" PRIxPTR "\t%s\t%s:%u\n", v[i].pcs[k],
						sym.function ? sym.function : "?",
						sym.file ? sym.file : "?", sym.line);
				}
				fprintf(f, "\n");
			}
			free(ids);
			free(done);
		}
		int bad = ferror(f);
		fclose(f);
		free(v);
		if (bad || !buf) {
			free(buf);
			return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		}
		return ctr_pprof_respond(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", buf, len, NULL);
	}

	/* Scrapers that ask for goroutine get Go's sample type. */
	const char *types[] = { name, "count" };
	struct ctr_pprof *p = ctr_pprof_new(types, 1, name, "count", 1);
	int err = p ? 0 : CTRACE_ENOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		char st[128];
		state_text(&v[i], st, sizeof(st));
		if (v[i].call)
			snprintf(st, sizeof(st), "blocked in %s", ctr_calls[v[i].call].name);
		const char *labels[4] = { "thread", v[i].name, "state", st };
		int64_t one = 1;
		err = ctr_pprof_add_stack(p, 0, v[i].pcs, v[i].n, &one, labels, 2);
	}
	free(v);
	uint8_t *out = NULL;
	size_t len = 0;
	if (!err)
		err = ctr_pprof_write(p, &out, &len);
	ctr_pprof_free(p);
	if (err)
		return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, ctrace_strerror(err));
	return ctr_pprof_respond(conn, MHD_HTTP_OK, "application/octet-stream", out, len, "threads");
}
