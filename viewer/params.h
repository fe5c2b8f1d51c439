/*
 * The viewer API's parsing of paths and query values (server.c): pure functions over the
 * raw strings, no libmicrohttpd, so that tests/fuzz/fuzz_viewer_params.c can call them.
 * A failure comes with a reason: one line of text, static, for the JSON error.
 */
#ifndef CTR_VIEWER_PARAMS_H
#define CTR_VIEWER_PARAMS_H

#include <stdint.h>

#include <ctrace/trace.h>

/* Where a request goes. */
enum ctr_api {
	CTR_API_BAD_METHOD, /* not GET or HEAD: 405 */
	CTR_API_SUMMARY,
	CTR_API_THREADS,
	CTR_API_TIMELINE,
	CTR_API_INTERVAL,
	CTR_API_LATENCY,
	CTR_API_PROFILE,
	CTR_API_PPROF,
	CTR_API_UNKNOWN, /* /api/ and nothing this serves: 404 */
	CTR_API_ASSET,   /* not /api/: an embedded file, maybe */
};

/* Route @method @url. @return the route; for CTR_API_ASSET, *@asset is the file's path
 * ("/" is "/index.html"), @url or a static string. */
enum ctr_api ctr_api_route(const char *method, const char *url, const char **asset);

/* A decimal integer query value (NULL when absent). @return 0 with *@out, or -1 (missing
 * or malformed). */
int ctr_arg_int(const char *s, int64_t *out);

/* /api/timeline: start, end, width. @return 0, or -1 with a reason. */
int ctr_timeline_args(const char *start, const char *end, const char *width, int64_t *start_ns,
		      int64_t *end_ns, int64_t *w, const char **why);

/* /api/interval: tid, at. @return 0, or -1 with a reason. */
int ctr_interval_args(const char *tid, const char *at, int64_t *t, int64_t *at_ns,
		      const char **why);

/* /api/latency: tid, optional. @return 0 with *@t (-1 when absent), or -1 with a reason. */
int ctr_latency_args(const char *tid, int64_t *t, const char **why);

/* /api/profile and /api/pprof: type. @return 0 with the kind and its name (static), or -1
 * with a reason. */
int ctr_profile_type(const char *type, enum ctrace_profile_kind *kind, const char **name,
		     const char **why);

#endif
