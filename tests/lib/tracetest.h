/* Helpers for tests that run programs under the tracer and read their traces back. */
#ifndef TRACETEST_H
#define TRACETEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ctrace/trace.h>

struct tt_thread {
	uint32_t pid, tid;
	int starts, ends, existing;
	uint64_t end_how;
	char name[64];      /* the last name */
	char names[256];    /* every name it had, as |a|b| */
	uint64_t last_ticks;
	int nonmonotonic;
	uint64_t events;
};

struct tt_trace {
	struct tt_thread *threads;
	size_t nthreads;
	uint64_t events, generations;
	uint32_t pids[64];
	size_t npids;
	uint64_t counts[CTRACE_EV_COUNT_];
	int status;      /* last reader status: 0 clean end, or a negative error */
	char msg[512];   /* the reader's message when status < 0 */
};

/* Read a whole trace. @return its status (0 when it read to a clean end). */
int tt_load(const char *path, struct tt_trace *t);
void tt_free(struct tt_trace *t);
struct tt_thread *tt_find_name(struct tt_trace *t, const char *name);
int tt_has_pid(const struct tt_trace *t, uint32_t pid);

/*
 * Run @argv with extra environment entries @env (NULL-terminated, may be NULL), capturing
 * stdout into @out (malloc'd, NUL-terminated; may be NULL). @return the wait status.
 */
int tt_run(char *const argv[], char *const env[], char **out);

/* A loopback TCP port nothing listens on (bound and released). */
int tt_free_port(void);
/* A socket connected to 127.0.0.1:@port, or -1. */
int tt_connect(int port);
/* A /proc/PID/status field (Threads, VmRSS in kB...), or -1. */
long tt_status_field(pid_t pid, const char *key);
/* How many descriptors @pid has open, or -1. */
int tt_count_fds(pid_t pid);

/* A fresh temporary directory; the caller removes it with tt_rmrf. */
char *tt_tmpdir(void);
void tt_rmrf(const char *dir);

#endif
