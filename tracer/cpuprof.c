/*
 * The CPU profile (/debug/pprof/profile?seconds=N): one POSIX timer per thread on that
 * thread's own CPU-time clock, delivering SIGPROF to that very thread (SIGEV_THREAD_ID)
 * every 10 ms of CPU it uses (100 Hz). Per-thread clocks rather than setitimer's process
 * clock: each thread is sampled for exactly the CPU it used, and a busy thread's samples
 * are never delivered to another. The handler unwinds from the interrupted context with
 * libunwind (signal-safe local unwinding), interns the stack and counts it: no lock, no
 * allocation; while a trace capture runs, each sample is also a cpu_sample event of the
 * interrupted thread, so a trace taken during a CPU profile has CPU samples (Go's trace has
 * none unless a CPU profile happens to run, golang/go#66679).
 *
 * The timers are made by the request's own thread: a thread's CPU clock id can be named
 * from any thread of the process, so threads created during the profile get their timer
 * when /proc/self/task next lists them (every 50 ms), and the thread trampoline need not
 * know about profiling. The tracer's own threads are not profiled.
 *
 * SIGPROF is the program's when it has a handler for it (gperftools, its own profiler):
 * then the request fails with 409 rather than take it. Our handler is installed only for
 * the duration of a profile; afterwards SIGPROF is set to SIG_IGN first, which discards a
 * signal still pending from a deleted timer, then given back its previous disposition.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#include "../format/pprof.h"
#include "internal.h"
#include "pprof_http.h"

#define CPU_HZ CTR_CPU_PROFILE_HZ
#define CPU_DEPTH 64

static _Atomic int cpu_busy; /* a profile request runs */
static _Atomic int cpu_on;   /* the handler records */
static struct sigaction cpu_old; /* SIGPROF's disposition before the profile */

static void on_sigprof(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	if (!atomic_load_explicit(&cpu_on, memory_order_relaxed) || si->si_code != SI_TIMER)
		return;
	int saved = errno, busy = ctr_tls.busy;
	ctr_tls.busy = 1; /* what libunwind calls (locks) is the tracer's, not the program's */
	atomic_signal_fence(memory_order_seq_cst);
	uintptr_t pcs[CPU_DEPTH];
	unsigned n = ctr_stack_unwind_signal(uc, pcs, CPU_DEPTH);
	int64_t v[2] = { 1, 1000000000 / CPU_HZ };
	uint64_t stack = ctr_stack_intern(pcs, n);
	ctr_prof_add(CTR_PROF_CPU, stack, v, 2);
	atomic_signal_fence(memory_order_seq_cst);
	ctr_tls.busy = busy;
	/*
	 * A running trace gets the sample too, unless it interrupted the tracer writing an
	 * event (busy). A thread without a slot takes one here: that maps memory and stores
	 * the slot with pthread_setspecific, which for a key below 32 only writes the thread's
	 * own first-level block in glibc (a higher key may allocate: then no sample).
	 */
	if (!busy && atomic_load_explicit(&ctr_on, memory_order_relaxed) &&
	    (ctr_tls.state == 1 || (ctr_tls.state == 0 && (unsigned)ctr_g.key < 32)))
		ctr_event(CTRACE_EV_CPU_SAMPLE, 1, &stack);
	errno = saved;
}

struct cpu_timer {
	pid_t tid;
	timer_t id;
};

struct timers {
	struct cpu_timer *v;
	size_t n, cap;
};

static int has_timer(const struct timers *t, pid_t tid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].tid == tid)
			return 1;
	return 0;
}

/* A timer for every thread of the process that has none yet. */
static void arm_new_threads(struct timers *t)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);
		if (*end || tid <= 0 || has_timer(t, (pid_t)tid) || ctr_is_internal((uint32_t)tid))
			continue;
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			struct cpu_timer *q = realloc(t->v, cap * sizeof(*q));
			if (!q)
				break;
			t->v = q;
			t->cap = cap;
		}
		/* The kernel's id of a thread's CPU-time clock (what pthread_getcpuclockid makes):
		 * ~tid in the high bits, CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED in the low three. */
		clockid_t clock = (clockid_t)((~(unsigned)tid << 3) | 6u);
		struct sigevent sev;
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_THREAD_ID;
		sev.sigev_signo = SIGPROF;
		sev._sigev_un._tid = (pid_t)tid;
		timer_t id;
		if (timer_create(clock, &sev, &id) != 0)
			continue; /* the thread is gone */
		struct itimerspec its = { { 0, 1000000000 / CPU_HZ }, { 0, 1000000000 / CPU_HZ } };
		if (timer_settime(id, 0, &its, NULL) != 0) {
			timer_delete(id);
			continue;
		}
		t->v[t->n].tid = (pid_t)tid;
		t->v[t->n].id = id;
		t->n++;
	}
	closedir(d);
}

static enum MHD_Result cpu_fail(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Go-Pprof", "1");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Add the CPU table's rows to @p, symbolized. */
static int add_rows(struct ctr_pprof *p)
{
	struct ctr_prof_row *rows;
	size_t n;
	int err = ctr_prof_snapshot(CTR_PROF_CPU, &rows, &n);
	if (err)
		return err;
	for (size_t i = 0; !err && i < n; i++)
		if (rows[i].v[0])
			err = ctr_pprof_add_stack(p, rows[i].stack, NULL, 0, rows[i].v, NULL, 0);
	free(rows);
	return err;
}

/* Put SIGPROF back: ignored for a moment (a pending one is dropped), then as it was. */
static void restore_sigprof(const struct sigaction *old)
{
	struct sigaction ign;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPROF, &ign, NULL);
	sigaction(SIGPROF, old, NULL);
}

void ctr_cpuprof_fork_child(void)
{
	/* The parent's profile and its timers do not exist here (timers are not inherited). */
	if (atomic_load(&cpu_busy)) {
		atomic_store(&cpu_on, 0);
		restore_sigprof(&cpu_old);
		atomic_store(&cpu_busy, 0);
	}
}

enum MHD_Result ctr_cpuprof_http(struct MHD_Connection *conn, long seconds)
{
	int expect = 0;
	if (!atomic_compare_exchange_strong(&cpu_busy, &expect, 1))
		return cpu_fail(conn, MHD_HTTP_CONFLICT,
				"Could not enable CPU profiling: cpu profiling already in use\n");

	struct sigaction old, sa;
	sigaction(SIGPROF, NULL, &old);
	cpu_old = old;
	int theirs = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != on_sigprof
						 : (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN);
	if (theirs) {
		atomic_store(&cpu_busy, 0);
		return cpu_fail(conn, MHD_HTTP_CONFLICT,
				"Could not enable CPU profiling: the program has its own SIGPROF "
				"handler (another profiler?); ctrace does not take it over\n");
	}
	ctr_prof_clear(CTR_PROF_CPU);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigprof;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigaction(SIGPROF, &sa, NULL);
	atomic_store(&cpu_on, 1);

	struct timespec t0;
	clock_gettime(CLOCK_REALTIME, &t0);
	uint64_t start = ctr_mono_ns(), end = start + (uint64_t)seconds * 1000000000u;
	struct timers t = { 0 };
	for (uint64_t now = start; now < end; now = ctr_mono_ns()) {
		arm_new_threads(&t);
		uint64_t left = end - now < 50000000u ? end - now : 50000000u;
		struct timespec ts = { 0, (long)left };
		nanosleep(&ts, NULL);
	}
	uint64_t duration = ctr_mono_ns() - start;
	for (size_t i = 0; i < t.n; i++)
		timer_delete(t.v[i].id);
	free(t.v);
	atomic_store(&cpu_on, 0);
	restore_sigprof(&old);

	static const char *const types[] = { "samples", "count", "cpu", "nanoseconds" };
	struct ctr_pprof *p = ctr_pprof_new(types, 2, "cpu", "nanoseconds", 1000000000 / CPU_HZ);
	int err = p ? add_rows(p) : CTRACE_ENOMEM;
	atomic_store(&cpu_busy, 0);
	uint8_t *out = NULL;
	size_t len = 0;
	if (!err) {
		ctr_pprof_set_time(p, (int64_t)t0.tv_sec * 1000000000 + t0.tv_nsec, (int64_t)duration);
		err = ctr_pprof_write(p, &out, &len);
	}
	ctr_pprof_free(p);
	if (err) {
		char msg[128];
		snprintf(msg, sizeof(msg), "Could not write the CPU profile: %s\n", ctrace_strerror(err));
		return cpu_fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(len, out, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(out);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"profile\"");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
