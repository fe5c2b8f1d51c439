/*
 * The profile endpoints (pprof_http.c) and the on-request collectors behind them
 * (cpuprof.c, threads.c), for http.c. HTTP server threads only.
 */
#ifndef CTR_TRACER_PPROF_HTTP_H
#define CTR_TRACER_PPROF_HTTP_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "../format/pprof.h"

struct ctr_pprof;

/* Add a sample to @p: stack @stack, or the @npcs program counters at @pcs when @pcs is not
 * NULL, symbolized. @return 0 or a CTRACE_E* code, as ctr_pprof_add. */
int ctr_pprof_add_stack(struct ctr_pprof *p, uint64_t stack, const uintptr_t *pcs,
			unsigned npcs, const int64_t *values, const char *const *labels,
			size_t nlabels);

/* Answer with @body (malloc'd, freed here), as an attachment named @filename when not NULL;
 * an error status gets Go's X-Go-Pprof header. */
enum MHD_Result ctr_pprof_respond(struct MHD_Connection *conn, unsigned status,
				   const char *type, void *body, size_t len, const char *filename);

/* Serve /debug/pprof/@name (the part after the prefix): a profile, or 404. */
enum MHD_Result ctr_pprof_http(struct MHD_Connection *conn, const char *name);
/* The index's table rows (HTML) for the profiles, with their current counts. */
void ctr_pprof_index(char *buf, size_t size);

/* http.c: the most seconds a request may ask for (CTRACE_HTTP_MAX_SECONDS). */
double ctr_http_max_seconds(void);

/* cpuprof.c: a CPU profile of the next @seconds. */
enum MHD_Result ctr_cpuprof_http(struct MHD_Connection *conn, long seconds);

/* threads.c: every live thread's stack, as profile @name ("threads" or "goroutine", Go's
 * name, whose sample type it then uses). @seconds > 0 is refused. */
enum MHD_Result ctr_threads_http(struct MHD_Connection *conn, const char *name, long debug,
				 long seconds);
size_t ctr_threads_count(void);

/* In a fork child: forget the parent's requests and give their signals back. */
void ctr_cpuprof_fork_child(void);
void ctr_threads_fork_child(void);

#endif
