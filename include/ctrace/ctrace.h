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

#ifdef __cplusplus
}
#endif
#endif
