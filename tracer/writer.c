/*
 * The writer thread: drains every slot's ring into the open generation (drain.c), closes
 * a generation every period (or when it grows past gen_max_bytes), and writes it to every
 * sink. Here: the thread's life (start, stop, pause, fork), the requests it serves, and the
 * generation's beginning and end.
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

#include "drain.h"

enum { REQ_STOP = 1, REQ_FLUSH = 2, REQ_ADD = 4, REQ_REMOVE = 8, REQ_PAUSE = 16 };

static struct writer {
	pthread_t thread;
	int alive;
	int paused; /* alive, but its thread stood down for a while (ctr_writer_pause) */
	int enc_ready;
	struct ctr_sync gen_sync;
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

	ctr_genenc_begin(&ctr_gen.enc, (uint32_t)ctr_g.pid, ctr_gen.seq);
	ctr_genenc_schema(&ctr_gen.enc);
	ctr_genenc_calls(&ctr_gen.enc);
	ctr_genenc_process(&ctr_gen.enc, (uint32_t)ctr_g.pid, (uint32_t)W.ppid, W.exe, W.argv,
			   W.argv_len, W.start_real);
	ctr_genenc_info(&ctr_gen.enc, "clock", ctr_clock_is_tsc ? "tsc" : "monotonic");
	ctr_genenc_info(&ctr_gen.enc, "tracer", "ctrace " CTRACE_VERSION);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)ctr_g.cfg.ring_size);
	ctr_genenc_info(&ctr_gen.enc, "thread_buffer_bytes", buf);
	snprintf(buf, sizeof(buf), "%llu", 1000000000ull / CTR_CPU_PROFILE_HZ);
	ctr_genenc_info(&ctr_gen.enc, "cpu_sample_period_ns", buf);
	ctr_genenc_info(&ctr_gen.enc, "context_switches",
			!(ctr_g.cfg.classes & CTR_CLASS_SCHED) ? "off"
			: ctr_perf_status[0]                   ? ctr_perf_status
								: "perf");
	if ((ctr_g.cfg.classes & CTR_CLASS_SCHED) && !ctr_perf_status[0])
		ctr_genenc_info(&ctr_gen.enc, "context_switch_rings",
				ctr_sched_rings_name());
	ctr_gentab_reset();
	ctr_clock_sync(&W.gen_sync);
	ctr_gen.events = 0;
	ctr_gen.min_ticks = UINT64_MAX;
	ctr_gen.max_ticks = 0;
	ctr_gen.threads = 0;
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
	while (ctr_symwarm_pending() && ctr_genenc_size(&ctr_gen.enc) < ctr_g.cfg.gen_max_bytes &&
	       ctr_mono_ns() - start < ctr_g.cfg.gen_period_ns) {
		ctr_symwarm_wait(ctr_g.cfg.drain_ns / 4);
		ctr_drain_all(1);
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
	ctr_drain_alloc_stats(end.ticks, last);
	if (last)
		ctr_drain_schedstat_all(end.ticks);
	ctr_gentab_emit(&ctr_gen.enc);
	uint64_t lost = ctr_drain_lost();
	if (lost > W.lost_written) {
		/* Events no thread could record, and context switches the kernel or the
		 * writer dropped: a process-wide lost record (tid 0). */
		uint8_t ev[1 + 2 * CTR_VARINT_MAX];
		uint64_t arg = lost - W.lost_written;
		size_t n = ctr_event_encode(ev, CTRACE_EV_LOST, 0, &arg, 1, NULL, 0);
		ctr_genenc_batch(&ctr_gen.enc, 0, end.ticks, 1, ev, n, -1, -1);
		ctr_drain_note_ticks(end.ticks, end.ticks);
		ctr_gen.events++;
		W.lost_written = lost;
	}
	ctr_clock_ratio(&end, &tick_span, &ns_span);
	ctr_lttng_generation(&end, tick_span, ns_span);
	atomic_store(&ctr_g.stack_min_ticks,
		     (uint64_t)((__int128)ctr_g.cfg.stack_min_ns * tick_span / ns_span));
	struct ctr_sync syncs[2] = { W.gen_sync, end };
	ctr_genenc_clock(&ctr_gen.enc, ctr_clock_is_tsc ? 0 : 1, tick_span, ns_span, syncs, 2);
	if (ctr_gen.events) {
		ctr_gen.enc.first_ns =
			ctr_ticks_to_ns(ctr_gen.min_ticks, &W.gen_sync, tick_span, ns_span);
		ctr_gen.enc.last_ns =
			ctr_ticks_to_ns(ctr_gen.max_ticks, &W.gen_sync, tick_span, ns_span);
	}
	ctr_gen.enc.close_ns = (int64_t)end.mono_ns;
	ctr_gen.enc.threads = ctr_gen.threads;
	ctr_gen.enc.flags = last ? CTRACE_GEN_LAST : 0;
	int err = ctr_genenc_finish(&ctr_gen.enc, &hdr, &frame, &frame_len);
	if (err == 0) {
		/* When no sink takes them any more, stop recording: nobody would read it. */
		if (!write_sinks(hdr, CTR_GEN_HEADER_SIZE, frame, frame_len) && W.sinks)
			ctr_set_on(0);
	} else {
		W.error = err;
		ctr_warn("cannot encode a generation: %s", ctrace_strerror(err));
	}
	ctr_gen.seq++;
}


/* A sink joins the running capture: it gets the file header, then generations from a
 * fresh one that begins with a snapshot of the threads. */
static void add_sink(struct ctr_sink *k)
{
	uint8_t hdr[CTR_FILE_HEADER_SIZE];
	if (ctr_gen.events) {
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
	ctr_drain_snapshot_now();
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
		ctr_drain_all(1);
		wait = next_wait(wait);
		uint64_t now = ctr_mono_ns();
		int stop = req & REQ_STOP;
		if (req & REQ_REMOVE) {
			await_symbols(); /* the kernel's totals come after the last events */
			ctr_drain_schedstat_all(ctr_ticks());
			remove_sink(W.pending);
			gen_start = now;
		}
		if (req & REQ_ADD) {
			add_sink(W.pending);
			gen_start = now;
			wait = next_wait(0);
		}
		if (stop || (req & REQ_FLUSH) || now - gen_start >= ctr_g.cfg.gen_period_ns ||
		    ctr_genenc_size(&ctr_gen.enc) >= ctr_g.cfg.gen_max_bytes) {
			/* An empty generation says nothing new; only the last one is always written. */
			if (ctr_gen.events || stop) {
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
		int err = ctr_genenc_init(&ctr_gen.enc, ctr_g.cfg.zstd_level);
		if (err)
			return err;
		ctr_schema_builtin(&ctr_gen.schema);
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
	ctr_gen.seq = 0;
	W.error = 0;
	atomic_store(&W.req, 0);
	read_process();
	/* Whatever the rings hold is from before this capture; allocation counters count
	 * from here. */
	ctr_drain_all(0);
	W.lost_written = ctr_drain_lost();
	for (struct ctr_slot *s = atomic_load_explicit(&ctr_g.slots, memory_order_acquire); s;
	     s = s->next) {
		s->w_alloc_base[0] = s->w_alloc_count = atomic_load(&s->alloc_count);
		s->w_alloc_base[1] = s->w_alloc_bytes = atomic_load(&s->alloc_bytes);
		s->w_alloc_base[2] = s->w_free_count = atomic_load(&s->free_count);
	}
	ctr_sched_cpu_open(); /* or each thread opens its own ring */
	ctr_gen.capture_start = ctr_ticks(); /* switches before it are dropped (switch_push) */
	gen_begin();
	ctr_drain_snapshot(tids, (const char(*)[16])names, n, ctr_gen.capture_start);
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
	ctr_drain_all(1);
	if (ctr_gen.events) {
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
