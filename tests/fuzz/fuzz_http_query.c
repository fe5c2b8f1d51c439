/*
 * libFuzzer target: the HTTP endpoint's parsing (tracer/httpparse.c) with what the server
 * would pass it. Input (query.h):
 *
 *   METHOD URL?key=value&...    routed; seconds, flight and debug go to the trace and
 *                               profile parsers; every value also to each number parser
 *   Authorization header        checked against the token
 *   token                       CTRACE_HTTP_TOKEN
 *   address                     CTRACE_HTTP
 *   max seconds                 CTRACE_HTTP_MAX_SECONDS
 *
 * It checks properties, not only the absence of crashes: accepted seconds are finite and
 * within (0, max], accepted integers print back as what was sent, a refusal always comes
 * with a one-line reason and an acceptance never does.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tracer/httpparse.h"
#include "query.h"

/* pprof_http.c's tables: the names it serves, and which are delta_ ones. */
static const char *const tables[] = { "heap",         "allocs",     "block",       "mutex",
				      "threadcreate", "delta_heap", "delta_block", "delta_mutex" };

static int is_table(const char *name, int *deltas)
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcmp(name, tables[i]) == 0) {
			*deltas = strncmp(name, "delta_", 6) == 0;
			return 1;
		}
	*deltas = 0;
	return 0;
}

/* @s without a leading '+' and leading zeros: how %ld prints what strtol read. */
static const char *canonical(const char *s)
{
	if (*s == '+')
		s++;
	while (s[0] == '0' && s[1])
		s++;
	return s;
}

static double check_seconds(const char *s, double max)
{
	double v = -1;
	const char *why = NULL;
	if (ctr_parse_seconds(s, max, &v, &why) == 0) {
		CHECK(why == NULL);
		CHECK(isfinite(v) && v > 0 && v <= max);
		CHECK(strtod(s, NULL) == v);
		CHECK(strlen(s) <= 32);
		return v;
	}
	check_reason(why);
	CHECK(v == -1); /* untouched */
	return -1;
}

static void check_positive(const char *s)
{
	long v = -1;
	if (ctr_parse_positive(s, &v) == 0) {
		CHECK(v > 0);
		char buf[32];
		snprintf(buf, sizeof(buf), "%ld", v);
		CHECK(strcmp(buf, canonical(s)) == 0);
		long back = -1;
		CHECK(ctr_parse_positive(buf, &back) == 0 && back == v);
	} else {
		CHECK(v == -1);
	}
}

static void check_atoi(const char *s)
{
	long v = ctr_atoi_go(s);
	if (!s || !*s)
		CHECK(v == 0);
	char buf[32];
	snprintf(buf, sizeof(buf), "%ld", v);
	CHECK(ctr_atoi_go(buf) == v);
}

static void check_route(const struct query *q)
{
	const char *name = NULL;
	enum ctr_http_route r = ctr_http_route(q->method, q->url, &name);
	int get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
	CHECK((r == CTR_ROUTE_BAD_METHOD) == !get);
	if (r == CTR_ROUTE_INDEX)
		CHECK(strcmp(q->url, "/debug/pprof/") == 0 || strcmp(q->url, "/debug/pprof") == 0);
	if (r == CTR_ROUTE_TRACE || r == CTR_ROUTE_CMDLINE)
		CHECK(strncmp(q->url, "/debug/pprof/", 13) == 0);
	if (r != CTR_ROUTE_PROFILE) {
		CHECK(name == NULL);
		CHECK(r <= CTR_ROUTE_NOT_FOUND);
		return;
	}
	/* A profile name: inside the URL, after the prefix, one path segment. */
	CHECK(name == q->url + 13 && strncmp(q->url, "/debug/pprof/", 13) == 0);
	CHECK(!strchr(name, '/'));
	CHECK(*name); /* "/debug/pprof/" is the index */
}

static void check_trace(const struct query *q, double max)
{
	const char *flight = query_get(q, "flight"), *sec = query_get(q, "seconds"), *why = NULL;
	int use_flight = -1;
	double v = -1;
	if (ctr_trace_query(flight, sec, max, &use_flight, &v, &why) == 0) {
		CHECK(why == NULL);
		CHECK(use_flight == (flight && strcmp(flight, "0") != 0));
		CHECK(isfinite(v) && v > 0 && v <= (use_flight || !sec ? 1 : max));
		if (!use_flight && sec)
			CHECK(check_seconds(sec, max) == v);
		/* What serve_trace turns it into must not overflow. */
		CHECK(v * 1e9 < 18446744073709551616.0);
	} else {
		check_reason(why);
		CHECK(!use_flight && sec && check_seconds(sec, max) < 0);
	}
}

static void check_profile(const struct query *q, const char *name, double max)
{
	const char *sec = query_get(q, "seconds"), *debug = query_get(q, "debug"), *why = NULL;
	int deltas, table = is_table(name, &deltas);
	struct ctr_pprof_query pq = { .seconds = -1 };
	unsigned status = 0;
	if (ctr_pprof_query(name, sec, debug, max, table, deltas, &pq, &status, &why) == 0) {
		CHECK(why == NULL);
		CHECK(pq.debug == ctr_atoi_go(debug));
		if (pq.what == CTR_PPROF_CPU) {
			CHECK(strcmp(name, "profile") == 0);
			CHECK(pq.seconds > 0 && (double)pq.seconds <= max);
		} else {
			CHECK(pq.what == (table ? CTR_PPROF_TABLE : CTR_PPROF_THREADS));
			CHECK(table || strcmp(name, "threads") == 0 || strcmp(name, "goroutine") == 0);
			if (sec)
				CHECK(pq.seconds > 0 && (double)pq.seconds <= max && pq.debug == 0 &&
				      !deltas);
			else
				CHECK(pq.seconds == 0);
		}
	} else {
		check_reason(why);
		CHECK(status == 400 || status == 404);
		int known = table || strcmp(name, "profile") == 0 || strcmp(name, "threads") == 0 ||
			    strcmp(name, "goroutine") == 0;
		CHECK((status == 404) == !known);
	}
}

static void check_token(const char *header, const char *token)
{
	int ok = ctr_http_token_ok(header, token);
	int want = header && strncmp(header, "Bearer ", 7) == 0 && strcmp(header + 7, token) == 0;
	CHECK(ok == want);
}

static void check_addr(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int loopback = -1;
	const char *why = NULL;
	if (ctr_http_parse_addr(spec, &ss, &len, &loopback, &why) == 0) {
		CHECK(why == NULL);
		CHECK(loopback == 0 || loopback == 1);
		const char *colon = strrchr(spec, ':');
		CHECK(colon);
		long port = strtol(colon + 1, NULL, 10);
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
			CHECK(len == sizeof(*v4) && ntohs(v4->sin_port) == port);
			CHECK(loopback == ((ntohl(v4->sin_addr.s_addr) >> 24) == 127));
		} else {
			const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
			CHECK(ss.ss_family == AF_INET6 && spec[0] == '[');
			CHECK(len == sizeof(*v6) && ntohs(v6->sin6_port) == port);
		}
	} else {
		check_reason(why);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct query q;
	query_parse(&q, data, size);

	double max = 600; /* as ctrace_http_start */
	if (q.line[4] && *q.line[4]) {
		double v = check_seconds(q.line[4], 1e7);
		if (v > 0)
			max = v;
	}
	check_route(&q);
	const char *name = NULL;
	if (ctr_http_route("GET", q.url, &name) == CTR_ROUTE_PROFILE)
		check_profile(&q, name, max);
	check_trace(&q, max);
	for (int i = 0; i < q.npairs; i++) {
		check_atoi(q.value[i]);
		if (q.value[i]) {
			check_seconds(q.value[i], max);
			check_positive(q.value[i]);
		}
	}
	check_token(q.line[1], q.line[2] ? q.line[2] : "");
	if (q.line[3])
		check_addr(q.line[3]);
	query_free(&q);
	return 0;
}
