/*
 * libFuzzer target: the viewer API's parsing (viewer/params.c) with what the server would
 * pass it. Input (query.h): one request line, METHOD URL?key=value&...; the URL is routed,
 * start, end, width, tid, at and type go to the endpoints' parsers, and every value also to
 * the integer parser.
 *
 * It checks properties, not only the absence of crashes: an accepted integer prints back as
 * what was sent, an accepted timeline window is non-empty, its length representable and its
 * width within bounds, a refusal always comes with a one-line reason and an acceptance never
 * does.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../viewer/params.h"
#include "query.h"

/* @s without leading zeros ("-0" as "0"): how PRId64 prints what strtoll read. */
static const char *canonical(const char *s, char *buf, size_t size)
{
	int neg = *s == '-';
	const char *d = s + neg;
	while (d[0] == '0' && d[1])
		d++;
	snprintf(buf, size, "%s%s", neg && strcmp(d, "0") != 0 ? "-" : "", d);
	return buf;
}

static void check_int(const char *s)
{
	int64_t v = 12345;
	if (ctr_arg_int(s, &v) == 0) {
		char got[32], want[32];
		snprintf(got, sizeof(got), "%" PRId64, v);
		CHECK(strcmp(got, canonical(s, want, sizeof(want))) == 0);
		int64_t back;
		CHECK(ctr_arg_int(got, &back) == 0 && back == v);
	} else {
		CHECK(v == 12345); /* untouched */
	}
}

static void check_route(const struct query *q)
{
	static const char *const names[] = { "summary",  "threads", "timeline", "interval",
					     "latency",  "profile", "pprof" };
	const char *asset = NULL;
	enum ctr_api r = ctr_api_route(q->method, q->url, &asset);
	int get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
	CHECK((r == CTR_API_BAD_METHOD) == !get);
	if (r >= CTR_API_SUMMARY && r <= CTR_API_PPROF)
		CHECK(strncmp(q->url, "/api/", 5) == 0 &&
		      strcmp(q->url + 5, names[r - CTR_API_SUMMARY]) == 0);
	if (r == CTR_API_UNKNOWN)
		CHECK(strncmp(q->url, "/api/", 5) == 0);
	if (r == CTR_API_ASSET) {
		CHECK(strncmp(q->url, "/api/", 5) != 0);
		CHECK(asset == q->url || (strcmp(q->url, "/") == 0 &&
					  strcmp(asset, "/index.html") == 0));
	} else {
		CHECK(asset == NULL);
		CHECK(r <= CTR_API_UNKNOWN);
	}
}

static void check_timeline(const struct query *q)
{
	const char *s = query_get(q, "start"), *e = query_get(q, "end");
	const char *w = query_get(q, "width"), *why = NULL;
	int64_t start = 0, end = 0, width = 0;
	if (ctr_timeline_args(s, e, w, &start, &end, &width, &why) == 0) {
		CHECK(why == NULL);
		CHECK(start < end && width >= 1 && width <= 16384);
		/* api_timeline divides end - start by width: it must be an int64_t. */
		int64_t len;
		CHECK(!__builtin_sub_overflow(end, start, &len) && len > 0);
		int64_t v;
		CHECK(ctr_arg_int(s, &v) == 0 && v == start);
		CHECK(ctr_arg_int(e, &v) == 0 && v == end);
		CHECK(ctr_arg_int(w, &v) == 0 && v == width);
	} else {
		check_reason(why);
	}
}

static void check_interval(const struct query *q)
{
	const char *t = query_get(q, "tid"), *a = query_get(q, "at"), *why = NULL;
	int64_t tid, at, v;
	if (ctr_interval_args(t, a, &tid, &at, &why) == 0) {
		CHECK(why == NULL);
		CHECK(ctr_arg_int(t, &v) == 0 && v == tid);
		CHECK(ctr_arg_int(a, &v) == 0 && v == at);
	} else {
		check_reason(why);
		CHECK(ctr_arg_int(t, &v) < 0 || ctr_arg_int(a, &v) < 0);
	}
}

static void check_latency(const struct query *q)
{
	const char *t = query_get(q, "tid"), *why = NULL;
	int64_t tid = 7, v;
	if (ctr_latency_args(t, &tid, &why) == 0) {
		CHECK(why == NULL);
		if (!t)
			CHECK(tid == -1);
		else
			CHECK(ctr_arg_int(t, &v) == 0 && v == tid);
	} else {
		check_reason(why);
		CHECK(t && ctr_arg_int(t, &v) < 0);
	}
}

static void check_type(const struct query *q)
{
	const char *t = query_get(q, "type"), *name = NULL, *why = NULL;
	enum ctrace_profile_kind kind = CTRACE_PROFILE_CPU;
	if (ctr_profile_type(t, &kind, &name, &why) == 0) {
		CHECK(why == NULL);
		CHECK(kind <= CTRACE_PROFILE_ALLOC && name && strcmp(name, t) == 0);
	} else {
		check_reason(why);
		CHECK(name == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct query q;
	query_parse(&q, data, size);
	check_route(&q);
	check_timeline(&q);
	check_interval(&q);
	check_latency(&q);
	check_type(&q);
	for (int i = 0; i < q.npairs; i++)
		check_int(q.value[i]);
	check_int(q.line[1]);
	query_free(&q);
	return 0;
}
