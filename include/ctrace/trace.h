/*
 * ctrace: reading traces (libctrace-format).
 *
 * A trace is a sequence of generations (see format/FORMAT.md). A reader hands them out one
 * at a time; each generation owns its tables (calls, strings, frames, stacks) and yields its
 * events in time order. Every byte of input is treated as hostile: errors are returned, with
 * a message naming the byte offset, never a crash.
 */
#ifndef CTRACE_TRACE_H
#define CTRACE_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <ctrace/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CTRACE_FORMAT_MAJOR 1
#define CTRACE_FORMAT_MINOR 0

/* Event types, as numbered in FORMAT.md. */
enum ctrace_event_type {
	CTRACE_EV_THREAD_START = 1,
	CTRACE_EV_THREAD_END = 2,
	CTRACE_EV_THREAD_CREATE = 3,
	CTRACE_EV_THREAD_NAME = 4,
	CTRACE_EV_BLOCK_BEGIN = 5,
	CTRACE_EV_BLOCK_END = 6,
	CTRACE_EV_CALL_BEGIN = 7,
	CTRACE_EV_CALL_END = 8,
	CTRACE_EV_WAKE = 9,
	CTRACE_EV_SWITCH_OUT = 10,
	CTRACE_EV_SWITCH_IN = 11,
	CTRACE_EV_SCHEDSTAT = 12,
	CTRACE_EV_ALLOC = 13,
	CTRACE_EV_FREE = 14,
	CTRACE_EV_ALLOC_STATS = 15,
	CTRACE_EV_TASK_BEGIN = 16,
	CTRACE_EV_TASK_END = 17,
	CTRACE_EV_REGION_BEGIN = 18,
	CTRACE_EV_REGION_END = 19,
	CTRACE_EV_LOG = 20,
	CTRACE_EV_LOST = 21,
	CTRACE_EV_CPU_SAMPLE = 22,
	CTRACE_EV_STATE = 23,
	CTRACE_EV_EXEC = 24,
	CTRACE_EV_COUNT_ /* one past the last type this library knows */
};

/* Reasons a thread waits, also the class of a call. */
enum ctrace_reason {
	CTRACE_REASON_NONE = 0,
	CTRACE_REASON_SYNC = 1,
	CTRACE_REASON_IO = 2,
	CTRACE_REASON_SLEEP = 3,
	CTRACE_REASON_SYSCALL = 4,
	CTRACE_REASON_MEMORY = 5,
};

enum ctrace_fd_kind {
	CTRACE_FD_UNKNOWN = 0,
	CTRACE_FD_FILE = 1,
	CTRACE_FD_PIPE = 2,
	CTRACE_FD_SOCKET = 3,
	CTRACE_FD_TTY = 4,
	CTRACE_FD_EVENTFD = 5,
	CTRACE_FD_OTHER = 6,
};

/* thread_end "how" values. */
enum ctrace_thread_end {
	CTRACE_END_RETURN = 0,
	CTRACE_END_EXIT = 1,
	CTRACE_END_PROCESS_EXIT = 2,
	CTRACE_END_VANISHED = 3,
};

#define CTRACE_THREAD_EXISTING 1u /* thread_start flag */
#define CTRACE_EVENT_MAX_ARGS 8

/* One event. Owned by its generation; valid until the next call on that generation. */
struct ctrace_event {
	uint32_t type;     /* enum ctrace_event_type, or a type this library does not know */
	uint32_t nargs;    /* arguments after the time, as many as are in args[] */
	uint32_t pid;
	uint32_t tid;
	uint64_t ticks;    /* raw trace clock */
	int64_t time_ns;   /* CLOCK_MONOTONIC ns */
	uint64_t args[CTRACE_EVENT_MAX_ARGS]; /* svarint arguments are already decoded */
	const char *blob;  /* NULL when the event has none */
	size_t blob_len;
};

/* What the uncompressed generation header says. */
struct ctrace_gen_info {
	uint64_t offset;          /* of the generation header in the file */
	uint64_t compressed_size; /* of the zstd frame */
	uint64_t content_size;    /* uncompressed */
	int64_t first_ns, last_ns;
	uint64_t events;
	uint32_t pid;
	uint32_t seq;
	uint32_t threads;
	uint32_t flags;
};
#define CTRACE_GEN_LAST 1u

struct ctrace_process {
	uint32_t pid, ppid;
	const char *exe;
	const char *argv;   /* NUL-separated arguments */
	size_t argv_len;
	uint64_t start_realtime_ns;
};

struct ctrace_frame {
	uint64_t pc;
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when unknown */
	uint32_t line;        /* 0 when unknown */
	const char *mapping;  /* path of the object, NULL when unknown */
	const uint8_t *build_id;
	size_t build_id_len;
	uint64_t map_start, map_end, map_offset; /* the object's mapping, 0 when unknown */
};

struct ctrace_call {
	const char *name;
	uint32_t reason; /* enum ctrace_reason */
};

typedef struct ctrace_reader ctrace_reader;
typedef struct ctrace_gen ctrace_gen;

/**
 * Open a trace file. Reads and checks the file header.
 * @return 0 with *out set; or a negative error, with *out still set (when memory allowed)
 *         to a reader whose ctrace_reader_errmsg() explains, which the caller frees.
 */
CTRACE_API int ctrace_reader_open(const char *path, ctrace_reader **out);

/**
 * Open a trace held in memory. @data is borrowed and must outlive the reader.
 * @return as ctrace_reader_open().
 */
CTRACE_API int ctrace_reader_open_memory(const void *data, size_t size, ctrace_reader **out);

/** Free a reader and its generations. Accepts NULL. */
CTRACE_API void ctrace_reader_free(ctrace_reader *r);

/**
 * Read the next generation's header only, without decoding it.
 * @return 1 with *info (owned by the reader, valid until the next call) set; 0 at the end
 *         of the trace; CTRACE_ETRUNCATED when the file ends inside a generation;
 *         CTRACE_ECORRUPT and others on bad input (see ctrace_reader_errmsg()).
 */
CTRACE_API int ctrace_reader_next_info(ctrace_reader *r, const struct ctrace_gen_info **info);

/**
 * Decode the generation whose header ctrace_reader_next_info() just returned.
 * @return 0 with *gen set (owned by the reader, valid until the next call on it), or a
 *         negative error.
 */
CTRACE_API int ctrace_reader_load(ctrace_reader *r, ctrace_gen **gen);

/**
 * Let ctrace_model_build() decompress and parse the next generations on @jobs threads of
 * its own while it analyses the current one (0: none, the default; 2 keep one generation
 * always ready). The results do not change; memory grows by one decoded generation per job.
 */
CTRACE_API void ctrace_reader_set_jobs(ctrace_reader *r, unsigned jobs);

/** ctrace_reader_next_info() then ctrace_reader_load(): @return 1, 0 at the end, or < 0. */
CTRACE_API int ctrace_reader_next(ctrace_reader *r, ctrace_gen **gen);

/**
 * The raw bytes (generation header and zstd frame) of the generation whose header was just
 * read, for copying it into another trace unchanged. Valid until the next call on @r.
 * @return 0, or a negative error.
 */
CTRACE_API int ctrace_reader_raw(ctrace_reader *r, const void **data, size_t *size);

/** Continue reading at @offset, which must be the offset of a generation header. */
CTRACE_API int ctrace_reader_seek(ctrace_reader *r, uint64_t offset);

/** @return the last error's one-line message ("" when none); owned by the reader. */
CTRACE_API const char *ctrace_reader_errmsg(const ctrace_reader *r);

/** @return the byte offset in the file of the last error. */
CTRACE_API uint64_t ctrace_reader_error_offset(const ctrace_reader *r);

/** @return the format minor version of the file. */
CTRACE_API unsigned ctrace_reader_minor_version(const ctrace_reader *r);

/** @return the first event time of the first generation (the trace start), or 0. */
CTRACE_API int64_t ctrace_reader_start_ns(const ctrace_reader *r);

/** @return the header of a loaded generation; owned by it. */
CTRACE_API const struct ctrace_gen_info *ctrace_gen_header(const ctrace_gen *g);

/** @return the generation's process; owned by it. */
CTRACE_API const struct ctrace_process *ctrace_gen_process(const ctrace_gen *g);

/**
 * The next event of the generation, all threads merged in time order (a thread's own
 * events keep their recorded order).
 * @return 1 with *ev set, 0 when done, or CTRACE_ECORRUPT (see ctrace_reader_errmsg()).
 */
CTRACE_API int ctrace_gen_next_event(ctrace_gen *g, const struct ctrace_event **ev);

/**
 * The next event of the generation in the order it is stored: thread batch by thread
 * batch, each thread's events in their recorded order, threads not merged in time. Much
 * cheaper than ctrace_gen_next_event() for consumers that only need per-thread order.
 * Do not mix the two iterations without ctrace_gen_rewind() in between.
 * @return 1 with *ev set, 0 when done, or CTRACE_ECORRUPT.
 */
CTRACE_API int ctrace_gen_next_event_batched(ctrace_gen *g, const struct ctrace_event **ev);

/** Restart the event iteration from the first event. */
CTRACE_API void ctrace_gen_rewind(ctrace_gen *g);

/** @return the string with id @id (NUL-terminated), or NULL when there is none. */
CTRACE_API const char *ctrace_gen_string(const ctrace_gen *g, uint64_t id);

/** @return the frame with id @id, or NULL. */
CTRACE_API const struct ctrace_frame *ctrace_gen_frame(const ctrace_gen *g, uint64_t id);

/**
 * The frames of stack @id, innermost first, as frame ids for ctrace_gen_frame().
 * @return the depth (0 for stack 0), or CTRACE_EINVAL for an id the generation does not
 *         define.
 */
CTRACE_API int ctrace_gen_stack(const ctrace_gen *g, uint64_t id, const uint32_t **frames);

/** @return the call with id @id, or NULL. */
CTRACE_API const struct ctrace_call *ctrace_gen_call(const ctrace_gen *g, uint64_t id);

/** @return the value of INFO key @key in the generation, or NULL. */
CTRACE_API const char *ctrace_gen_info_value(const ctrace_gen *g, const char *key);

/** INFO records by index: @return 1 with *key and *value set, 0 past the end. */
CTRACE_API int ctrace_gen_info_at(const ctrace_gen *g, size_t i, const char **key,
				  const char **value);

/** @return CLOCK_REALTIME minus CLOCK_MONOTONIC at the generation's first sync point. */
CTRACE_API int64_t ctrace_gen_realtime_offset(const ctrace_gen *g);

/** Convert raw ticks of this generation's clock to CLOCK_MONOTONIC ns. */
CTRACE_API int64_t ctrace_gen_ticks_to_ns(const ctrace_gen *g, uint64_t ticks);

/** @return the name of an event type ("thread_start"), or NULL when unknown. */
CTRACE_API const char *ctrace_event_name(uint32_t type);

/**
 * The name of argument @i (after the time) of event @type, not NUL-terminated.
 * @return a pointer to @len characters, or NULL when there is no such argument.
 */
CTRACE_API const char *ctrace_event_arg_name(uint32_t type, unsigned i, size_t *len);

/** @return the name of a reason ("sync", "io", ...), or "?" */
CTRACE_API const char *ctrace_reason_name(uint32_t reason);

/** @return the name of a fd kind ("socket", ...), or "?" */
CTRACE_API const char *ctrace_fd_kind_name(uint32_t kind);

struct ctrace_merge_stats {
	uint64_t generations;
	uint64_t events;
	uint64_t bytes;       /* written, with the file header */
	uint32_t processes;   /* distinct pids */
	uint32_t damaged_inputs; /* inputs that ended in a truncated or corrupt generation */
};

typedef void (*ctrace_warn_fn)(void *userdata, const char *message);

/**
 * Merge the generations of several traces (e.g. one stream per process) into one trace
 * written to @out_fd, ordered by first event time, copying generations unchanged. An input
 * that is truncated or corrupt contributes its whole generations; @warn (may be NULL) gets a
 * one-line message for each such input.
 * @return 0 (damaged inputs are not an error), CTRACE_EIO when writing fails, or the error
 *         of an input that is not a trace at all.
 */
CTRACE_API int ctrace_merge(const char *const *paths, size_t npaths, int out_fd,
			    ctrace_warn_fn warn, void *userdata, struct ctrace_merge_stats *stats);

/* ---- the model: per-thread states, statistics, latencies, profiles ---- */

/* What a thread is doing at a moment. */
enum ctrace_state {
	CTRACE_STATE_USER = 0,    /* on CPU, outside any traced call */
	CTRACE_STATE_SYS = 1,     /* on CPU inside a traced call */
	CTRACE_STATE_IDLE = 2,    /* runnable, waiting for a CPU */
	CTRACE_STATE_WAIT = 3,    /* off CPU, not runnable; see the reason */
	CTRACE_STATE_UNKNOWN = 4, /* no source says */
};

/* One interval of a thread's state timeline. */
struct ctrace_interval {
	uint32_t pid, tid;
	int64_t begin_ns, end_ns;   /* CLOCK_MONOTONIC */
	uint32_t state;             /* enum ctrace_state */
	uint32_t reason;            /* WAIT: sync, io, sleep, or syscall (other); else 0 */
	const char *call;           /* the traced call it is inside, or NULL */
	uint64_t object;            /* sync: the object's address */
	int64_t fd;                 /* I/O: the fd, else -1 */
	uint32_t fd_kind;
	uint64_t stack;             /* the call's stack id (per process), 0 when none */
	uint32_t waker_tid;         /* sync waits: the thread whose wake ended it, 0 unknown */
	int64_t wake_ns;            /* when it woke it */
};

/* The statistics of one thread inside the trace window; durations in ns. */
struct ctrace_thread_stats {
	uint32_t pid, tid;
	const char *name;           /* the last name it had; "" when none */
	int64_t start_ns;           /* first moment inside the trace, from the trace start */
	int64_t duration_ns;        /* = user + sys + idle + wait + unknown */
	int64_t user_ns, sys_ns, idle_ns, wait_ns, unknown_ns;
	int64_t sync_ns, io_ns, sleep_ns, other_ns; /* wait_ns split by reason */
	uint64_t blocks;            /* blocking episodes */
	uint64_t blocks_sync, blocks_io, blocks_sleep, blocks_other;
	uint64_t syscalls;          /* traced calls other than synchronization */
	int64_t err_ns;             /* time in calls that failed */
	uint64_t sched;             /* involuntary context switches (preemptions) */
	uint64_t allocs, alloc_bytes;
	int ended;                  /* the thread ended inside the trace */
	int estimated;              /* no context-switch records: split from kernel totals */
};

/* A latency distribution: episode durations in ns; quantiles within 3%. */
struct ctrace_latency {
	uint64_t count;
	int64_t total_ns, min_ns, p50_ns, p90_ns, p99_ns, max_ns;
};

typedef struct ctrace_model ctrace_model;

/* Optional callbacks while a model is built. A callback returning non-zero stops it. */
struct ctrace_model_callbacks {
	void *userdata;
	/* every state interval, per thread in time order, as soon as it is known */
	int (*interval)(void *userdata, const struct ctrace_interval *iv);
	/* every event as read, with its generation (tasks, regions, logs for exporters) */
	int (*event)(void *userdata, const ctrace_gen *g, const struct ctrace_event *ev);
	/* progress: bytes of the trace read so far and in all */
	void (*progress)(void *userdata, uint64_t done, uint64_t total);
};

/**
 * Read every generation of @r and build the model. Memory grows with threads, stacks and
 * distinct call kinds, not with events. A truncated or corrupt trace gives the model of
 * what was readable and a warning saying where it stopped.
 * @return 0 with *out set (the caller frees it), CTRACE_ENOMEM, or the error of a trace
 *         with no readable generation.
 */
CTRACE_API int ctrace_model_build(ctrace_reader *r, const struct ctrace_model_callbacks *cb,
				  ctrace_model **out);

/** Free a model. Accepts NULL. */
CTRACE_API void ctrace_model_free(ctrace_model *m);

/** @return the number of threads; they are ordered by pid, then start time. */
CTRACE_API size_t ctrace_model_thread_count(const ctrace_model *m);

/** @return thread @i's statistics (owned by the model), or NULL past the end. */
CTRACE_API const struct ctrace_thread_stats *ctrace_model_thread(const ctrace_model *m, size_t i);

/**
 * The latency distribution of thread @i's episodes for @reason (a ctrace_reason, or
 * CTRACE_REASON_NONE for run-queue delays), or of all threads when @i is SIZE_MAX.
 * @return 0, or CTRACE_EINVAL.
 */
CTRACE_API int ctrace_model_latency(const ctrace_model *m, size_t i, uint32_t reason,
				    struct ctrace_latency *out);

/** @return the number of call kinds ("read on socket", "pthread_mutex_lock", ...). */
CTRACE_API size_t ctrace_model_call_kind_count(const ctrace_model *m);

/**
 * Call kind @i: its name (owned by the model) and latency distribution over all threads.
 * @return the name, or NULL past the end.
 */
CTRACE_API const char *ctrace_model_call_kind(const ctrace_model *m, size_t i, uint32_t *reason,
					      struct ctrace_latency *out);

/**
 * The non-empty buckets of thread @i's (or all threads', with SIZE_MAX) latency histogram
 * for @reason, ascending, as (exclusive upper bound in ns, count).
 * @return how many were written to @out.
 */
CTRACE_API size_t ctrace_model_latency_buckets(const ctrace_model *m, size_t i, uint32_t reason,
					       uint64_t (*out)[2], size_t max);

/** The same for call kind @k over all threads. */
CTRACE_API size_t ctrace_model_call_kind_buckets(const ctrace_model *m, size_t k,
						 uint64_t (*out)[2], size_t max);

/** @return the number of warnings (lost events, missing sources, damage). */
CTRACE_API size_t ctrace_model_warning_count(const ctrace_model *m);

/** @return warning @i, one line, owned by the model. */
CTRACE_API const char *ctrace_model_warning(const ctrace_model *m, size_t i);

/** The trace window: its first and last moment (CLOCK_MONOTONIC ns). */
CTRACE_API void ctrace_model_window(const ctrace_model *m, int64_t *start_ns, int64_t *end_ns);

/** @return the trace start as wall-clock time (CLOCK_REALTIME ns), 0 when unknown. */
CTRACE_API int64_t ctrace_model_start_realtime(const ctrace_model *m);

/** Events read, and events the recorder reported lost. */
CTRACE_API void ctrace_model_counts(const ctrace_model *m, uint64_t *events, uint64_t *lost);

enum ctrace_profile_kind {
	CTRACE_PROFILE_SYNC = 0,    /* blocked time and count on synchronization, by stack */
	CTRACE_PROFILE_IO = 1,      /* time and count in I/O calls */
	CTRACE_PROFILE_SYSCALL = 2, /* time and count in other syscalls (sleeps included) */
	CTRACE_PROFILE_SCHED = 3,   /* run-queue delay */
	CTRACE_PROFILE_ALLOC = 4,   /* sampled allocations: objects and bytes */
	CTRACE_PROFILE_CPU = 5,     /* CPU samples */
};

/**
 * A profile of the trace as a gzipped profile.proto (what `go tool pprof` reads).
 * @return 0 with *out (malloc'd, the caller frees it) and *len set, or a negative error.
 */
CTRACE_API int ctrace_model_pprof(const ctrace_model *m, enum ctrace_profile_kind kind,
				  uint8_t **out, size_t *len);

/* A profile sample: its stack (innermost frame first; depth 0 when none was recorded, then
 * @thread names the thread), a count and a value (ns, or bytes for allocations). */
typedef int (*ctrace_sample_fn)(void *userdata, const struct ctrace_frame *frames, size_t depth,
				const char *thread, int64_t count, int64_t value);

/**
 * Every aggregated sample of profile @kind (what ctrace_model_pprof() writes), to @fn.
 * @return 0, what @fn returned when not 0, or CTRACE_ENOMEM.
 */
CTRACE_API int ctrace_model_samples(const ctrace_model *m, enum ctrace_profile_kind kind,
				    ctrace_sample_fn fn, void *userdata);


/* A sink for exporters: write @len bytes; return 0, or non-zero to stop with CTRACE_EIO. */
typedef int (*ctrace_write_fn)(void *userdata, const void *data, size_t len);

/**
 * Write the trace as Chrome trace event JSON (Perfetto UI, chrome://tracing): thread and
 * process names, every state interval, tasks and regions, logs, wake-up arrows. Streams:
 * memory does not grow with the trace. @progress (may be NULL) lends its progress
 * callback and userdata; its other callbacks are not used. When @model is not NULL, the
 * model built on the way is handed back (the caller frees it), e.g. for its warnings.
 * @return 0, CTRACE_EIO when @write failed, or the error of an unreadable trace.
 */
CTRACE_API int ctrace_export_chrome(ctrace_reader *r, ctrace_write_fn write, void *userdata,
				    const struct ctrace_model_callbacks *progress,
				    ctrace_model **model);

/* ---- the index: random access by time, for viewers ---- */

typedef struct ctrace_index ctrace_index;

/* A span of a thread's timeline, at least one pixel wide: one interval, or a summary of
 * intervals each shorter than a pixel (then mix says how much of each state it holds). */
struct ctrace_span {
	uint32_t pid, tid;
	int64_t begin_ns, end_ns;
	uint32_t state;      /* the interval's, or a summary's dominant state */
	uint32_t reason;
	const char *call;    /* valid during the callback only */
	int64_t id;          /* an interval: its begin_ns, to ask for its details */
	int64_t mix[5];      /* ns in each state */
	uint32_t count;      /* intervals merged (0: from the coarse grid, unknown) */
	int summary;
	int64_t wait_mix[4]; /* wait_ns of mix split: sync, io, sleep, other */
};

struct ctrace_timeline_callbacks {
	void *userdata;
	int (*span)(void *userdata, const struct ctrace_span *s);
	/* a wake-up: @waker woke @tid's wait, which ended at @end_ns */
	int (*wake)(void *userdata, uint32_t pid, uint32_t waker, int64_t wake_ns, uint32_t tid,
		    int64_t end_ns);
	/* tasks, regions and logs in the range */
	int (*event)(void *userdata, const struct ctrace_event *ev);
};

/**
 * Index a trace file: one pass that builds the model of the whole trace, a table of its
 * generations, checkpoints of the threads' states (64 MiB at most) and a per-thread grid
 * of state time over the trace's window. Memory does not grow with the events.
 * A damaged trace is indexed up to the damage (the model's warnings say so).
 * @return 0 with *out set (free with ctrace_index_free), or an error with @errbuf set.
 */
CTRACE_API int ctrace_index_open(const char *path, const struct ctrace_model_callbacks *progress,
				 ctrace_index **out, char *errbuf, size_t errlen);
CTRACE_API void ctrace_index_free(ctrace_index *ix);

/** @return the model of the whole trace; owned by the index. */
CTRACE_API const ctrace_model *ctrace_index_model(const ctrace_index *ix);
CTRACE_API size_t ctrace_index_generation_count(const ctrace_index *ix);
CTRACE_API void ctrace_index_window(const ctrace_index *ix, int64_t *start_ns, int64_t *end_ns);

/** The processes of the trace: @return 1 with pid, ppid and exe (owned by the index) of
 * process @i, in pid order, or 0 past the end. */
CTRACE_API int ctrace_index_process(const ctrace_index *ix, size_t i, uint32_t *pid,
				    uint32_t *ppid, const char **exe);

/**
 * The timeline of [@start_ns, @end_ns) at @width pixels: per thread, spans of at least a
 * pixel. Only the generations the range needs are decoded; a range holding more than 8
 * million events is answered from the grid (4096 cells over the whole trace).
 * @return 0, CTRACE_EINVAL for a bad range or width, or a reader error.
 */
CTRACE_API int ctrace_index_timeline(ctrace_index *ix, int64_t start_ns, int64_t end_ns,
				     uint32_t width, const struct ctrace_timeline_callbacks *cb);

/**
 * The interval of thread @tid of process @pid that holds the moment @at.
 * @return 0 with *out (its call name in *call, owned by the index), CTRACE_EINVAL when
 *         there is none.
 */
CTRACE_API int ctrace_index_interval(ctrace_index *ix, uint32_t pid, uint32_t tid, int64_t at,
				     struct ctrace_interval *out, const char **call);

/** The frames of stack @stack of process @pid: @return how many were written to @frames. */
CTRACE_API int ctrace_index_stack(const ctrace_index *ix, uint32_t pid, uint64_t stack,
				  struct ctrace_frame *frames, size_t max);

/** @return the name of a state ("user", "sys", "idle", "wait", "unknown"). */
CTRACE_API const char *ctrace_state_name(uint32_t state);

/** @return the size of the trace in bytes. */
CTRACE_API uint64_t ctrace_reader_size(const ctrace_reader *r);

#ifdef __cplusplus
}
#endif
#endif
