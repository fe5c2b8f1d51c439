/*
 * The viewer API's parsing (params.h): pure functions of the strings a request brings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

enum ctr_api ctr_api_route(const char *method, const char *url, const char **asset)
{
	static const char *const names[] = { "summary", "threads", "timeline", "interval",
					     "latency", "profile", "pprof" };
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return CTR_API_BAD_METHOD;
	if (strncmp(url, "/api/", 5) == 0) {
		for (int i = 0; i < 7; i++)
			if (!strcmp(url + 5, names[i]))
				return (enum ctr_api)(CTR_API_SUMMARY + i);
		return CTR_API_UNKNOWN;
	}
	*asset = strcmp(url, "/") == 0 ? "/index.html" : url;
	return CTR_API_ASSET;
}

int ctr_arg_int(const char *s, int64_t *out)
{
	char *end;
	if (!s || !*s || strlen(s) > 20)
		return -1;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (p == s && *p == '-')))
			return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int ctr_timeline_args(const char *start, const char *end, const char *width, int64_t *start_ns,
		      int64_t *end_ns, int64_t *w, const char **why)
{
	if (ctr_arg_int(start, start_ns) < 0 || ctr_arg_int(end, end_ns) < 0 ||
	    ctr_arg_int(width, w) < 0) {
		*why = "start, end and width must be decimal integers";
		return -1;
	}
	if (*end_ns <= *start_ns || *w < 1 || *w > 16384) {
		*why = "need start < end and 1 <= width <= 16384";
		return -1;
	}
	/* The window's length is an int64_t (the pixel size is computed from it). */
	int64_t len;
	if (__builtin_sub_overflow(*end_ns, *start_ns, &len)) {
		*why = "end - start is more than 2^63-1 ns";
		return -1;
	}
	return 0;
}

int ctr_interval_args(const char *tid, const char *at, int64_t *t, int64_t *at_ns,
		      const char **why)
{
	if (ctr_arg_int(tid, t) < 0 || ctr_arg_int(at, at_ns) < 0) {
		*why = "tid and at must be decimal integers";
		return -1;
	}
	return 0;
}

int ctr_latency_args(const char *tid, int64_t *t, const char **why)
{
	*t = -1;
	if (tid && ctr_arg_int(tid, t) < 0) {
		*why = "tid must be a decimal integer";
		return -1;
	}
	return 0;
}

int ctr_profile_type(const char *type, enum ctrace_profile_kind *kind, const char **name,
		     const char **why)
{
	static const char *const names[] = { "sync", "io", "syscall", "sched", "alloc" };
	for (int i = 0; type && i < 5; i++)
		if (strcmp(type, names[i]) == 0) {
			*kind = (enum ctrace_profile_kind)i;
			*name = names[i];
			return 0;
		}
	*why = "type must be sync, io, syscall, sched or alloc";
	return -1;
}
