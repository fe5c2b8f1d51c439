/*
 * The HTTP endpoint's parsing of paths, query values, the token and the listen address
 * (http.c, pprof_http.c): pure functions over the raw strings, no libmicrohttpd, so that
 * tests/fuzz/fuzz_http_query.c can call them. A failure comes with a reason: one line of
 * text, static, for the 4xx answer.
 */
#ifndef CTR_TRACER_HTTPPARSE_H
#define CTR_TRACER_HTTPPARSE_H

#include <sys/socket.h>

/* Where a request goes. */
enum ctr_http_route {
	CTR_ROUTE_BAD_METHOD, /* not GET or HEAD: 405 */
	CTR_ROUTE_INDEX,      /* /debug/pprof/ */
	CTR_ROUTE_TRACE,      /* /debug/pprof/trace */
	CTR_ROUTE_CMDLINE,    /* /debug/pprof/cmdline */
	CTR_ROUTE_PROFILE,    /* /debug/pprof/NAME, NAME without '/': pprof_http.c */
	CTR_ROUTE_NOT_FOUND,  /* 404 */
};

/* Route @method @url. @return the route; for CTR_ROUTE_PROFILE, *@name points into @url. */
enum ctr_http_route ctr_http_route(const char *method, const char *url, const char **name);

/* Whether the Authorization @header (may be NULL) is "Bearer @token"; constant time in the
 * token's bytes, so it cannot be guessed a byte at a time. */
int ctr_http_token_ok(const char *header, const char *token);

/*
 * A number of seconds as Go takes it: decimal, fractions allowed, within (0, @max].
 * @return 0 with *@out, or -1 with a reason.
 */
int ctr_parse_seconds(const char *s, double max, double *out, const char **why);

/*
 * /debug/pprof/trace's query: @flight and @seconds as sent (NULL when absent).
 * @return 0 with *@use_flight (the flight recorder is asked for) and *@out, the seconds
 * (default 1), or -1 with a reason (a 400).
 */
int ctr_trace_query(const char *flight, const char *seconds, double max, int *use_flight,
		    double *out, const char **why);

/* strconv.Atoi, leniently: what Go's handler does with debug (NULL or an error means 0). */
long ctr_atoi_go(const char *s);

/* strconv.ParseInt(s, 10, 64) that must be > 0. @return 0 with *@out, or -1. */
int ctr_parse_positive(const char *s, long *out);

/* What a profile request asks for. */
enum ctr_pprof_what { CTR_PPROF_CPU, CTR_PPROF_TABLE, CTR_PPROF_THREADS };

struct ctr_pprof_query {
	enum ctr_pprof_what what;
	long debug;   /* debug=N */
	long seconds; /* CPU: how long (default 30); others: a delta over that long, or 0 */
};

/*
 * The profile @name's query (@seconds, @debug as sent, NULL when absent). @table: @name is
 * one of pprof_http.c's tables, @deltas: one of its delta_* ones; @max: the most seconds
 * allowed. @return 0 with *@q, or -1 with *@status (400 or 404) and a reason.
 */
int ctr_pprof_query(const char *name, const char *seconds, const char *debug, double max,
		    int table, int deltas, struct ctr_pprof_query *q, unsigned *status,
		    const char **why);

/*
 * "127.0.0.1:6060", "[::1]:6060", ":6060" (loopback), "0.0.0.0:6060", "localhost:6060".
 * @return 0 with the address, or -1 with a reason.
 */
int ctr_http_parse_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
			int *loopback, const char **why);

#endif
