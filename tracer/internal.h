/*
 * The tracer's internals: global state, per-thread slots and the event hot path.
 *
 * Each traced thread owns a slot: a single-producer ring it appends encoded events to, in
 * exactly the bytes the file format uses, publishing its write position with a release store.
 * The writer thread (writer.c) is the only consumer: it parses what each ring holds, copies
 * it into the current generation as a batch and publishes how far it read. No lock, no
 * syscall and no allocation on the hot path; a full ring drops the event and counts it.
 */
#ifndef CTR_TRACER_INTERNAL_H
#define CTR_TRACER_INTERNAL_H

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../format/encode.h"
#include "../format/events.h"
#include "../format/varint.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define CTR_HIDDEN __attribute__((visibility("hidden")))
/* An interposed libc function: exported, and never instrumented itself. */
#define CTR_WRAP __attribute__((visibility("default"), no_instrument_function))

/* A ring byte no event begins with: the thread's events go on in the ring it was offered. */
#define CTR_RING_SWITCH 0xff
/* Rings grow (doubling) up to this size for threads that fill them between drains. */
#define CTR_RING_GROW_MAX (8u << 20)

/* Largest event the fast path writes: type + time + 8 varints. */
#define CTR_EV_MAX (1 + 9 * CTR_VARINT_MAX)

/* FREE -> BINDING (a thread claimed it and is filling it in) -> LIVE (published with a
 * release store: whoever sees LIVE with an acquire load sees its fields) -> DEAD (the
 * thread exited) -> FREE (the writer drained it). */
enum ctr_slot_state { CTR_SLOT_FREE = 0, CTR_SLOT_LIVE = 1, CTR_SLOT_DEAD = 2, CTR_SLOT_BINDING = 3 };

struct ctr_slot {
	/* Written by the owning thread only. */
	uint8_t *data;
	uint64_t mask;  /* ring size - 1 */
	uint64_t head;  /* next write position (bytes since the ring began) */
	uint64_t limit; /* the fast path may write while head + CTR_EV_MAX <= limit */
	uint64_t last;  /* ticks of the last event written */
	/* Events dropped since the last one written. The owner adds to it and takes it when
	 * it writes the lost record; the writer takes what a thread could not say before it
	 * ended or the capture did (an atomic exchange on both sides: counted once). */
	_Atomic uint64_t lost;
	uint32_t tid;
	int ended;      /* thread_end already written */
	uint32_t end_how; /* thread_end's reason + 1 when it was recorded while tracing */
	pthread_t self;
	/* allocation counters (alloc.c), read by the writer with relaxed loads */
	_Atomic uint64_t alloc_count, alloc_bytes, free_count;
	int64_t sample_left; /* bytes until the next sampled allocation */
	uint64_t rng;        /* per-thread PRNG state for sampling */
	/* what the thread is blocked in, kept even when tracing is off (for snapshots):
	 * st_seq is odd while the fields change */
	_Atomic uint32_t st_seq;
	uint32_t st_call;    /* 0 when not in a traced call */
	uint32_t st_reason;
	uint64_t st_obj;
	uint64_t st_since;   /* ticks, or CLOCK_MONOTONIC_COARSE ns when st_coarse */
	uint32_t st_coarse;  /* set while tracing was off: a cheaper clock for the state */
	/* context switches (sched.c): the thread's perf ring, read by the writer */
	_Atomic int perf_fd;  /* 0 mapped (no descriptor kept), -1 not tried, -2 unavailable */
	void *perf_ring;
	size_t perf_size;
	_Atomic uint64_t pub_head; /* head, published for the writer */
	char pad_[64];
	/* Written by the writer thread. */
	_Atomic uint64_t tail;     /* consumed up to here */
	/* A bigger ring the writer offers a thread that fills its own faster than the writer
	 * drains it (buffer.c, ctr_ring_offer): the thread takes it in its slow path and
	 * leaves a CTR_RING_SWITCH byte in the old ring where its events go on in the new. */
	_Atomic(uint8_t *) offer;
	uint64_t offer_size;
	uint8_t *w_data;           /* the ring the writer reads: the thread's, until a switch */
	uint64_t w_mask;
	uint8_t *w_offer;          /* what the writer offered, until it meets the switch */
	uint64_t w_offer_size;
	uint64_t w_ticks;          /* ticks of the last event the writer parsed */
	uint32_t w_gen;            /* last generation the slot had events in */
	uint64_t w_drain_ns;       /* CLOCK_MONOTONIC of the last drain that found events */
	uint64_t w_alloc_count, w_alloc_bytes, w_free_count; /* counters last written */
	uint64_t w_alloc_base[3];  /* the counters when the capture began */
	_Atomic int state;         /* enum ctr_slot_state */
	struct ctr_slot *next;     /* registry; slots are never unmapped */
	size_t size;
};

/* Thread-local state. Initial-exec TLS: one instruction to reach it. */
struct ctr_tls {
	struct ctr_slot *slot;
	int state; /* 0 no slot yet, 1 has slot, 2 never traced (tracer thread, exited) */
	int busy;  /* inside the tracer on this thread: nested calls are not traced */
	int heap_drawn;    /* heap_left holds a drawn gap */
	int64_t heap_left; /* bytes until the heap profile's next sample (alloc.c) */
	uint64_t rng;      /* the profiles' per-thread random numbers; 0 until seeded */
};
extern __thread struct ctr_tls ctr_tls __attribute__((tls_model("initial-exec")));

/* Is tracing on? The one load a wrapped call pays when it is off. */
extern _Atomic int ctr_on;

enum ctr_alloc_mode { CTR_ALLOC_OFF = 0, CTR_ALLOC_SAMPLED = 1, CTR_ALLOC_ALL = 2 };

/* Event classes (CTRACE_EVENTS). */
#define CTR_CLASS_SYNC 1u
#define CTR_CLASS_IO 2u
#define CTR_CLASS_SCHED 4u
#define CTR_CLASS_ALLOC 8u
#define CTR_CLASS_USER 16u
#define CTR_CLASS_ALL 31u

struct ctr_config {
	unsigned classes;       /* CTR_CLASS_* */
	unsigned stack_depth;   /* 0 = no stacks */
	int alloc_mode;         /* enum ctr_alloc_mode */
	uint64_t alloc_rate;    /* mean bytes between samples */
	uint64_t stack_min_ns;  /* a syscall this slow gets its stack */
	uint64_t gen_period_ns;
	uint64_t ring_size;    /* per thread, power of two */
	uint64_t buffer_total; /* all rings together */
	uint64_t gen_max_bytes;
	int zstd_level;
	uint64_t drain_ns;
	int switches;           /* enum ctr_switches */
};

/* Where context switches come from (CTRACE_SWITCHES; sched.c). */
enum ctr_switches {
	CTR_SWITCHES_AUTO,   /* a BPF filter, else per CPU when permitted, else per thread */
	CTR_SWITCHES_CPU,    /* per CPU or none */
	CTR_SWITCHES_THREAD, /* per thread */
	CTR_SWITCHES_BPF,    /* a BPF filter or none */
};

/* Global state. Fields below "control" change only under ctl. */
struct ctr_global {
	struct ctr_config cfg;
	_Atomic(struct ctr_slot *) slots;
	_Atomic uint64_t mem_used;
	_Atomic uint64_t lost_noslot; /* events dropped by threads without a slot */
	_Atomic uint32_t kick;   /* futex word: wake the writer */
	_Atomic uint32_t create_seq;
	_Atomic uint64_t stack_min_ticks; /* cfg.stack_min_ns in ticks, refined by the writer */
	pthread_key_t key;
	/* control */
	pthread_mutex_t ctl;
	struct ctr_sink *file;   /* CTRACE_OUT or ctrace_start's, when running */
	struct ctr_sink *flight; /* CTRACE_FLIGHT's recorder, when on */
	pid_t pid;
	char out_spec[4096];     /* CTRACE_OUT, "" when not set */
	char out_path[4200];     /* the file this process writes */
};
extern struct ctr_global ctr_g;

/* clock.c */
extern int ctr_clock_is_tsc; /* ticks are TSC; else CLOCK_MONOTONIC ns */
void ctr_clock_init(void);
uint64_t ctr_mono_ns(void);
uint64_t ctr_coarse_ns(void);
uint64_t ctr_real_ns(void);
static inline uint64_t ctr_ticks(void)
{
	if (likely(ctr_clock_is_tsc)) {
		uint32_t lo, hi;
		__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
		return ((uint64_t)hi << 32) | lo;
	}
	return ctr_mono_ns();
}
void ctr_clock_sync(struct ctr_sync *s);
/* The ratio ns/ticks measured from tracer start to @now. */
void ctr_clock_ratio(const struct ctr_sync *now, uint64_t *tick_span, uint64_t *ns_span);
int64_t ctr_ticks_to_ns(uint64_t ticks, const struct ctr_sync *ref, uint64_t tick_span,
			uint64_t ns_span);

/* buffer.c */
struct ctr_slot *ctr_slot_acquire(void);
uint8_t *ctr_reserve_slow(struct ctr_slot *s, size_t need);
void ctr_slot_reset_after_fork(void);
/* Writer: offer slot @s a ring of @size bytes, or of less down to @min (powers of two),
 * within the growth budget. @return 0, or -1. */
int ctr_ring_offer(struct ctr_slot *s, uint64_t size, uint64_t min);
/* Writer: the thread moved to the offered ring (the switch byte was read): read on there
 * and give the old one back. */
void ctr_ring_switched(struct ctr_slot *s);
void ctr_buffer_init(void);
void ctr_kick_writer(void);
void ctr_thread_end(uint64_t how);
/* The calling thread is the tracer's own from here: never traced, and a slot it was given
 * (by a sanitizer's allocations at its start) is given back unrecorded. */
void ctr_become_internal(void);

/* stack.c: capture and intern stacks (any thread); look them up (writer) */
void ctr_stack_init(void);
/* The calling thread's stack, interned: a global id (never 0), or 0 when stacks are off
 * or it cannot be captured. The caller's frame is the innermost unless @skip > 0 drops
 * that many frames (a noinline helper called by an interposer passes 2 to hide both).
 * Signal-safe. */
uint64_t ctr_stack_capture(unsigned skip);
/* Intern @n program counters (innermost first). Signal-safe. @return the id, or 0. */
uint64_t ctr_stack_intern(const uintptr_t *pcs, unsigned n);
/* Unwind from a signal handler's ucontext @uc into @pcs (at most @max), the interrupted
 * pc first (plus one, as a return address). Signal-safe. @return the depth. */
unsigned ctr_stack_unwind_signal(void *uc, uintptr_t *pcs, unsigned max);
/* The program counters of stack @id, innermost first. @return the depth, 0 when unknown. */
unsigned ctr_stack_lookup(uint64_t id, const uintptr_t **pcs);

/* profiles.c: the always-on profiles (heap, block, mutex, threadcreate, CPU), tables from
 * stack id to counters. Adding is lock-free and signal-safe. */
enum ctr_prof_kind {
	CTR_PROF_HEAP,         /* alloc count, alloc bytes, free count, free bytes (samples) */
	CTR_PROF_BLOCK,        /* contentions, delay ns (scaled by the rate) */
	CTR_PROF_MUTEX,        /* contentions, delay ns (scaled by the rate) */
	CTR_PROF_THREADCREATE, /* threads created */
	CTR_PROF_CPU,          /* samples */
	CTR_PROF_KINDS
};
#define CTR_PROF_VALUES 4
struct ctr_prof_row {
	uint64_t stack;
	int64_t v[CTR_PROF_VALUES];
};
extern _Atomic uint64_t ctr_heap_rate;          /* mean bytes between samples; 0 off */
extern _Atomic int ctr_block_rate, ctr_mutex_rate; /* 0 off, 1 all, N one in N */

/* What the sync interposers may have to look at, in one word, so that their path with
 * nothing on is one load and a branch: tracing on, the mutex profile, the block profile.
 * Kept by ctr_set_on() and the rate setters; the interposers then check precisely. */
#define CTR_WATCH_ON 1u
#define CTR_WATCH_MUTEX 2u
#define CTR_WATCH_BLOCK 4u
extern _Atomic unsigned ctr_watch;
static inline void ctr_watch_set(unsigned bit, int on)
{
	if (on)
		atomic_fetch_or_explicit(&ctr_watch, bit, memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&ctr_watch, ~bit, memory_order_relaxed);
}
/* Tracing on or off: ctr_on, and its bit in ctr_watch. */
static inline void ctr_set_on(int on)
{
	atomic_store(&ctr_on, on);
	ctr_watch_set(CTR_WATCH_ON, on);
}
void ctr_prof_init(void);
void ctr_prof_add(int kind, uint64_t stack, const int64_t *v, unsigned n);
/* A malloc'd copy of a profile's rows. @return 0 or CTRACE_ENOMEM. */
int ctr_prof_snapshot(int kind, struct ctr_prof_row **rows, size_t *n);
void ctr_prof_clear(int kind);
uint64_t ctr_prof_dropped(int kind);
uint64_t ctr_prof_rand(void);
int ctr_prof_pick(int rate); /* one in @rate: 1 */
void ctr_prof_block(int kind, uint64_t stack, uint64_t ns, int rate);
/* pprof_http.c: in a fork child, forget the parent's profile requests. */
void ctr_prof_fork_child(void);
/* symbolize.c: any thread (serialized by a lock inside); ctr_symbolize_reset only with no
 * other thread symbolizing (after fork) */
struct ctr_map {
	uint64_t start, end, offset;
	const char *path;          /* owned by the symbolizer, stable */
	const uint8_t *build_id;
	size_t build_id_len;
};
struct ctr_sym {
	const char *function;      /* NULL when unknown; owned by the symbolizer, stable */
	const char *file;          /* NULL when unknown */
	uint32_t line;             /* 0 when unknown */
	const struct ctr_map *map; /* NULL when unknown */
};
/* Symbolize a return address (the call site, pc - 1, is looked up). Cached per pc. */
void ctr_symbolize(uintptr_t pc, struct ctr_sym *out);
/* Forget every cached mapping (after fork or when libraries were loaded). */
void ctr_symbolize_reset(void);
/* Source lines from DWARF (1, the default), or function names from the symbol table only
 * (0: no debug information is loaded), for pcs symbolized from now on. */
void ctr_symbolize_lines(int on);
/* Keep decompressed copies of compressed debug files in @dir (absolute), by build id, and
 * read them from there (debugcache.c); NULL: no cache. */
void ctr_symbolize_cache(const char *dir);

/* sched.c */
void ctr_sched_thread_init(struct ctr_slot *s); /* open the perf ring of the calling thread */
void ctr_sched_thread_fini(struct ctr_slot *s);
/* Read a thread's kernel schedstat (on-CPU ns, run-queue ns, switches): 0 or -1. */
int ctr_schedstat_read(uint32_t tid, uint64_t out[3]);
void ctr_sched_drain(struct ctr_slot *s,
		     void (*fn)(void *ud, uint64_t ns, int out, int preempted, uint32_t cpu),
		     void *ud, uint64_t *lost);
/* One context switch of this process, from the per-CPU rings. */
struct ctr_switch {
	uint64_t ns; /* CLOCK_MONOTONIC */
	uint32_t tid, cpu;
	uint8_t out, preempted;
};
/* swsort.c: switches in order by thread, then time, with scratch kept between calls. */
struct ctr_swsort_run {
	uint32_t tid, n, at;
};
struct ctr_swsort {
	struct ctr_switch *tmp;
	uint32_t *run_idx; /* each record's run */
	size_t cap;
	struct ctr_swsort_run *runs;
	size_t nruns, runs_cap;
	uint32_t *slot; /* open addressing, tid -> run index + 1 */
	size_t slot_cap;
};
void ctr_swsort_order(struct ctr_swsort *o, struct ctr_switch *v, size_t n);
void ctr_swsort_free(struct ctr_swsort *o);
/* Open the per-CPU rings for a capture (when CTRACE_SWITCHES allows and the kernel
 * permits): 0, or -1 and the threads open their own. */
int ctr_sched_cpu_open(void);
void ctr_sched_cpu_close(void);  /* the writer, at the capture's end */
void ctr_sched_cpu_forget(void); /* fork child: the rings are the parent's */
int ctr_sched_cpu_wide(void);    /* 1 while the per-CPU rings are open */
/* Read every per-CPU ring: this process's switches, sorted by thread and time. */
void ctr_sched_cpu_collect(uint64_t *lost);
/* How full the fullest per-CPU (or BPF) switch ring was at the last collect, in
 * thousandths: those rings cannot grow, the writer drains sooner instead. */
unsigned ctr_sched_cpu_fill(void);
/* Thread @tid's switches of the last collect: @n of them. */
const struct ctr_switch *ctr_sched_cpu_find(uint32_t tid, size_t *n);
/* The writer freed the slot of thread @tid: its switches are no longer wanted. */
void ctr_sched_thread_gone(uint32_t tid);
/* Where the switches come from: "bpf", "cpu" or "thread". */
const char *ctr_sched_rings_name(void);
extern char ctr_perf_status[320];

/* schedbpf.c: switches through a BPF filter on the sched_switch tracepoint. */
int ctr_sched_bpf_open(char *why, size_t why_len); /* 0, or -1 and why */
void ctr_sched_bpf_close(void);
void ctr_sched_bpf_mark(uint32_t tid, int ours);
void ctr_sched_bpf_fork_child(void);
unsigned ctr_sched_bpf_read(void (*fn)(void *ud, const struct ctr_switch *sw), void *ud,
			    uint64_t *lost);

/* symwarm.c: the frames of stacks new to the writer, symbolized on a thread of their own
 * so that loading a library's debug information does not stop the writer's draining. */
void ctr_symwarm_allow(void); /* the writer thread runs: it may start the symbolizer's */
/* Writer thread: hand over stack @id unless it was before. @return 1 when queued. */
int ctr_symwarm_add(uint64_t id);
int ctr_symwarm_pending(void);   /* 1 while a handed-over stack is not symbolized yet */
void ctr_symwarm_wait(uint64_t ns); /* until none is pending, or @ns passed */
void ctr_symwarm_fork_child(void);
void ctr_symwarm_pause(void);   /* its thread returns (the writer's stood down) */
void ctr_symwarm_restart(void); /* writer thread: a thread again if stacks are queued */

/* gentab.c: the stack tables of the open generation (writer thread only) */
void ctr_gentab_reset(void);
void ctr_gentab_note_stack(uint64_t id);
void ctr_gentab_emit(struct ctr_genenc *e);

/* A destination for generations (sink.c, http.c). The writer thread calls write; whoever
 * removed the sink from the capture calls release. */
struct ctr_sink {
	/* The file header or one generation, in two pieces. @return 0 or a negative errno. */
	int (*write)(struct ctr_sink *s, const void *a, size_t alen, const void *b, size_t blen);
	void (*release)(struct ctr_sink *s);
	const char *name; /* for messages: "file", "HTTP client", ... */
	int failed;       /* a write failed: the writer skips it from then on */
	int error;        /* the CTRACE_E* of that */
	struct ctr_sink *next;
};
struct ctr_sink *ctr_fd_sink_new(int fd, int own);
struct ctr_sink *ctr_null_sink_new(void);

/* io.c: descriptors the tracer owns, kept from a program that closes every descriptor. */
int ctr_fd_guard(int fd);
void ctr_fd_close_guarded(int fd);
/* A guarded descriptor whose number lives in @where: a program's dup2 onto it moves it and
 * updates @where (on = 0 forgets it). Its writes read the number with ctr_fd_enter and end
 * with ctr_fd_leave, so that the move waits for a write in progress. */
void ctr_fd_follow(_Atomic int *where, int on);
int ctr_fd_enter(_Atomic int *where);
void ctr_fd_leave(void);
void ctr_fd_fork_child(void);
void ctr_fd_sink_own(struct ctr_sink *s, int own);
struct ctr_sink *ctr_flight_sink_new(uint64_t limit);
int ctr_flight_copy(struct ctr_sink *s, int (*out)(void *ud, const void *p, size_t n), void *ud);
uint64_t ctr_flight_bytes(struct ctr_sink *s);
int ctr_write_fd_cb(void *ud, const void *p, size_t n);

/* cpuprof.c: the CPU profile's rate; its samples in a trace each stand for 1/HZ s. */
#define CTR_CPU_PROFILE_HZ 100

/* http.c */
void ctr_http_forget(void);
void ctr_http_process_exit(int timeout_ms);

/* thread.c: the tracer's own threads (writer, HTTP server) */
void ctr_internal_thread(int add);
int ctr_is_internal(uint32_t tid);
int ctr_task_live(long tid, char name[16]); /* 0: gone, or exiting */

/* writer.c; all but flush with ctl held */
int ctr_capture_add(struct ctr_sink *s);    /* starts tracing with the first sink */
int ctr_capture_remove(struct ctr_sink *s, int timeout_ms); /* stops it with the last */
int ctr_capture_count(void);
int ctr_capture_stop_all(int timeout_ms); /* at exit: the final generation to every sink */
int ctr_writer_flush(int timeout_ms);
int ctr_writer_flush_exec(int timeout_ms);
/* With ctl held: the tracer's threads stand down for a call that wants the process
 * single-threaded (1 when they did), and start again. */
int ctr_writer_pause(void);
/* Fork handlers the writer needs (under AddressSanitizer: wait for it to be asleep). */
void ctr_writer_atfork(void);
void ctr_writer_fork_child(void);
void ctr_writer_resume(void);
void ctr_writer_forget(void);

/* tracer.c */
int ctr_open_output(int forked);
void ctr_process_exit(void);
void ctr_fork_child(void);
void ctr_config_from_env(void);
int ctr_start_locked(int fd, int own);
int ctr_start_lttng_locked(void);
/* The program's live threads (not the tracer's, not exiting), with their names: the one
 * listing of /proc/self/task the capture's snapshot, the threads profile and its count use.
 * @return 0, or CTRACE_ENOMEM. */
int ctr_snapshot_threads(uint32_t **tids, char (**names)[16], size_t *n);
pid_t ctr_gettid(void);
void ctr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Real functions behind the interposers, resolved once. */
struct ctr_real {
	int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	void (*pthread_exit)(void *) __attribute__((noreturn));
	int (*pthread_setname_np)(pthread_t, const char *);
	int (*prctl)(int, unsigned long, unsigned long, unsigned long, unsigned long);
	pid_t (*fork)(void);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	void (*_exit)(int) __attribute__((noreturn));
	int (*unshare)(int);
	int (*setns)(int, int);
};
extern struct ctr_real ctr_real;
void ctr_resolve(void);
#define CTR_REAL(fn) (likely(ctr_real.fn != NULL) ? ctr_real.fn : (ctr_resolve(), ctr_real.fn))

/* ---- the hot path ---- */

/* The slot of this thread, or NULL when it must not record (nested, tracer-owned, no memory). */
static inline struct ctr_slot *ctr_enter(void)
{
	struct ctr_tls *t = &ctr_tls;
	if (unlikely(t->busy))
		return NULL;
	t->busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (likely(t->state == 1))
		return t->slot;
	struct ctr_slot *s = t->state == 0 ? ctr_slot_acquire() : NULL;
	if (!s) {
		atomic_signal_fence(memory_order_seq_cst);
		t->busy = 0;
	}
	return s;
}

static inline void ctr_leave(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	ctr_tls.busy = 0;
}

/* Room for an event of at most @need bytes, or NULL when the ring is full (counted as lost). */
static inline uint8_t *ctr_reserve(struct ctr_slot *s, size_t need)
{
	if (likely(s->head + need <= s->limit))
		return s->data + (s->head & s->mask);
	return ctr_reserve_slow(s, need);
}

/* Write type and time delta at @p; returns the position after them. */
static inline uint8_t *ctr_put_head(struct ctr_slot *s, uint8_t *p, uint8_t type)
{
	uint64_t now = ctr_ticks();
	uint64_t delta = 0;
	if (likely(now > s->last)) {
		delta = now - s->last;
		s->last = now;
	}
	*p++ = type;
	return ctr_put_varint(p, delta);
}

/* lttng/sink.c: where events go besides the native recorder (CTRACE_SINK). */
enum ctr_sink_mode { CTR_SINK_NATIVE = 0, CTR_SINK_BOTH = 1, CTR_SINK_LTTNG = 2 };
extern int ctr_lttng_mode; /* enum ctr_sink_mode; not native only once the provider loaded */
/* CTRACE_SINK's value: a mode, or -1 when it is not one. */
int ctr_sink_parse(const char *s);
/* Load the provider library for @mode (not native). @return 0, or -1 (warned) when it
 * cannot be loaded: then events stay native only. */
int ctr_lttng_load(int mode);
void ctr_lttng_fork_child(void);
/* Hand the event at [start, end) to LTTng. @return 1 when it must not be kept natively. */
int ctr_lttng_commit(struct ctr_slot *s, const uint8_t *start, const uint8_t *end);
/* Writer thread: an event it synthesizes for thread @tid (a context switch, allocation
 * counters) to LTTng as well; nothing unless the LTTng sink is on. */
void ctr_lttng_synth(uint32_t tid, uint8_t type, uint64_t ticks, const uint64_t *args,
		     unsigned nargs);
/* Writer thread: the clock of the generation it closes (sync point @end, the ratio). */
void ctr_lttng_generation(const struct ctr_sync *end, uint64_t tick_span, uint64_t ns_span);

static inline void ctr_commit(struct ctr_slot *s, const uint8_t *start, const uint8_t *end)
{
	if (unlikely(ctr_lttng_mode) && ctr_lttng_commit(s, start, end))
		return;
	s->head += (uint64_t)(end - start);
	atomic_store_explicit(&s->pub_head, s->head, memory_order_release);
}

/* Record an event of @type with @n (≤ 8) arguments on this thread. */
static inline void ctr_event(uint8_t type, unsigned n, const uint64_t *args)
{
	struct ctr_slot *s = ctr_enter();
	if (!s)
		return;
	uint8_t *p = ctr_reserve(s, CTR_EV_MAX);
	if (likely(p != NULL)) {
		uint8_t *q = ctr_put_head(s, p, type);
		for (unsigned i = 0; i < n; i++)
			q = ctr_put_varint(q, args[i]);
		ctr_commit(s, p, q);
	}
	ctr_leave();
}

/* Record an event with a blob (names, logs): the blob is cut at @max bytes. */
void ctr_event_blob(uint8_t type, unsigned n, const uint64_t *args, const void *blob,
		    size_t len);

#endif
