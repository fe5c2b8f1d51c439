/*
 * ctrace error codes, shared by the tracer (ctrace.h) and the trace reader (trace.h).
 *
 * Every function that can fail returns a negative CTRACE_E* code; ctrace_strerror() gives
 * its text.
 */
#ifndef CTRACE_ERROR_H
#define CTRACE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CTRACE_API __attribute__((visibility("default")))
#else
#define CTRACE_API
#endif

/* X(name, value, text): the one table of errors; tests check that each has a text. */
#define CTRACE_ERRNO_MAP(X)                                                  \
	X(INVAL, -1, "invalid argument")                                     \
	X(NOMEM, -2, "out of memory")                                        \
	X(IO, -3, "input/output error")                                      \
	X(NOTTRACE, -4, "not a ctrace trace (bad magic)")                    \
	X(VERSION, -5, "unsupported trace format version")                   \
	X(TRUNCATED, -6, "trace is truncated")                               \
	X(CORRUPT, -7, "trace is corrupt")                                   \
	X(BUSY, -8, "tracing is already running")                            \
	X(NOTRUNNING, -9, "tracing is not running")                          \
	X(TOOBIG, -10, "size limit exceeded")                                \
	X(ZSTD, -11, "compression error")

enum ctrace_error {
	CTRACE_OK = 0,
#define CTRACE_ERR_ENUM_(name, val, text) CTRACE_E##name = (val),
	CTRACE_ERRNO_MAP(CTRACE_ERR_ENUM_)
#undef CTRACE_ERR_ENUM_
	CTRACE_E_LAST_ = -12
};

/**
 * Describe an error code.
 * @return a static string (never NULL); "unknown error" for a value not in the table.
 */
CTRACE_API const char *ctrace_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
