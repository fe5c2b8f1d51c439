/*
 * ctrace: the tracer's public API (libctrace.so).
 *
 * A program is traced either unmodified, with libctrace.so preloaded (`ctrace record`, or
 * LD_PRELOAD with CTRACE_OUT=path), or linked with -lctrace and controlled by these calls.
 * All calls are thread-safe. None of them ever blocks the caller for long or crashes it.
 */
#ifndef CTRACE_CTRACE_H
#define CTRACE_CTRACE_H

#include <ctrace/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Start tracing into a file descriptor (a file, pipe or socket opened for writing).
 *
 * The trace header is written at once; generations follow as they complete. The caller keeps
 * ownership of @fd and must not close it before ctrace_stop() returns.
 * @return 0, CTRACE_EBUSY when tracing already runs, CTRACE_EINVAL for a bad fd,
 *         CTRACE_EIO when the header cannot be written.
 */
CTRACE_API int ctrace_start(int fd);

/**
 * Stop tracing: record the final generation, write it and return.
 * @return 0, or CTRACE_ENOTRUNNING when tracing was not running, or CTRACE_EIO when
 *         writing failed at some point (the events before the failure were written).
 */
CTRACE_API int ctrace_stop(void);

/** @return 1 when tracing is running, 0 otherwise. */
CTRACE_API int ctrace_enabled(void);

/**
 * Serve the HTTP endpoint (/debug/pprof/trace?seconds=N and the index) on @addr:
 * "127.0.0.1:6060", "[::1]:6060", ":6060" (loopback), or a non-loopback address, which
 * needs CTRACE_HTTP_TOKEN in the environment. The server's threads are never traced.
 * @return 0, CTRACE_EINVAL for a bad address or a missing token (a line on stderr says
 *         which), CTRACE_EIO when it cannot listen, CTRACE_EBUSY when already serving.
 */
CTRACE_API int ctrace_http_start(const char *addr);

/** Stop the HTTP endpoint; a capture in progress ends first. @return 0 or CTRACE_ENOTRUNNING. */
CTRACE_API int ctrace_http_stop(void);

/**
 * Write the flight recorder's content (CTRACE_FLIGHT=SIZE: the most recent generations)
 * to @fd as a trace, after closing the open generation.
 * @return 0, CTRACE_ENOTRUNNING when there is no flight recorder, CTRACE_EIO.
 */
CTRACE_API int ctrace_flight_write(int fd);

/*
 * Profiles served at /debug/pprof/block and /debug/pprof/mutex (Go's
 * runtime.SetBlockProfileRate and SetMutexProfileFraction): contended time on condition
 * variables, semaphores, joins and barriers (block) and on mutexes, rwlocks and spinlocks
 * (mutex), by the waiter's stack. @rate 0 turns the profile off (the default, unless
 * CTRACE_BLOCK_RATE / CTRACE_MUTEX_RATE say otherwise), 1 records every event, N one event
 * in N on average (the profile scales the values back up by N).
 * @return 0, or CTRACE_EINVAL for a negative @rate.
 */
CTRACE_API int ctrace_set_block_rate(int rate);

/** The mutex profile's rate, as ctrace_set_block_rate. @return 0 or CTRACE_EINVAL. */
CTRACE_API int ctrace_set_mutex_rate(int rate);

/*
 * User annotations, like Go's runtime/trace. A task is a logical operation that may span
 * threads (a request); a region is a span of time on one thread inside a task; a log is a
 * timestamped message. All are cheap when tracing is off (one load and a branch), and
 * names and messages are copied, so the caller keeps ownership of every string.
 */

/**
 * Begin a task named @name, a child of task @parent (0 for none).
 * @return the task's id, never 0, unique in the process, also when tracing is off.
 */
CTRACE_API unsigned long long ctrace_task_begin(unsigned long long parent, const char *name);

/** End task @task. */
CTRACE_API void ctrace_task_end(unsigned long long task);

/** Begin a region named @name on the calling thread, in task @task (0 for none). */
CTRACE_API void ctrace_region_begin(unsigned long long task, const char *name);

/** End the innermost region named @name of task @task on the calling thread. */
CTRACE_API void ctrace_region_end(unsigned long long task, const char *name);

/** Log @message under @category (may be NULL) in task @task (0 for none). */
CTRACE_API void ctrace_log(unsigned long long task, const char *category, const char *message);

#if defined(__GNUC__) || defined(__clang__)
struct ctrace_region_scope_ {
	unsigned long long task;
	const char *name;
};
static inline struct ctrace_region_scope_ ctrace_region_scope_begin_(unsigned long long task,
								    const char *name)
{
	struct ctrace_region_scope_ s;
	s.task = task;
	s.name = name;
	ctrace_region_begin(task, name);
	return s;
}
static inline void ctrace_region_scope_end_(struct ctrace_region_scope_ *s)
{
	ctrace_region_end(s->task, s->name);
}
#define CTRACE_CAT2_(a, b) a##b
#define CTRACE_CAT_(a, b) CTRACE_CAT2_(a, b)
/*
 * A region from here to the end of the enclosing block (GCC and Clang):
 *     { CTRACE_REGION(task, "parse"); ... }
 */
#define CTRACE_REGION(task, name)                                                     \
	struct ctrace_region_scope_ CTRACE_CAT_(ctrace_region_, __LINE__)             \
		__attribute__((cleanup(ctrace_region_scope_end_), unused)) =          \
			ctrace_region_scope_begin_((task), (name))
#endif

#ifdef __cplusplus
}
#endif
#endif
