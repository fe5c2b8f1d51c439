/*
 * The HTTP endpoint's parsing (httpparse.h): pure functions of the strings a request
 * brings. They run on the server's threads, never on the traced program's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "httpparse.h"

enum ctr_http_route ctr_http_route(const char *method, const char *url, const char **name)
{
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return CTR_ROUTE_BAD_METHOD;
	if (strcmp(url, "/debug/pprof/") == 0 || strcmp(url, "/debug/pprof") == 0)
		return CTR_ROUTE_INDEX;
	if (strcmp(url, "/debug/pprof/trace") == 0)
		return CTR_ROUTE_TRACE;
	if (strcmp(url, "/debug/pprof/cmdline") == 0)
		return CTR_ROUTE_CMDLINE;
	if (strncmp(url, "/debug/pprof/", 13) == 0 && !strchr(url + 13, '/')) {
		*name = url + 13;
		return CTR_ROUTE_PROFILE;
	}
	return CTR_ROUTE_NOT_FOUND;
}

int ctr_http_token_ok(const char *header, const char *token)
{
	static const char bearer[] = "Bearer ";
	if (!header || strncmp(header, bearer, sizeof(bearer) - 1) != 0)
		return 0;
	const char *got = header + sizeof(bearer) - 1;
	size_t a = strlen(got), b = strlen(token);
	unsigned diff = (unsigned)(a ^ b);
	for (size_t i = 0; i < b; i++)
		diff |= (unsigned)(unsigned char)(i < a ? got[i] : 0) ^ (unsigned char)token[i];
	return diff == 0;
}

int ctr_parse_seconds(const char *s, double max, double *out, const char **why)
{
	char *end;
	if (strlen(s) > 32) {
		*why = "seconds: not a number of seconds (too long)";
		return -1;
	}
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
		      *p == '+' || *p == '-')) {
			*why = "seconds: not a number of seconds";
			return -1;
		}
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE || !isfinite(v)) {
		*why = "seconds: not a number of seconds";
		return -1;
	}
	if (!(v > 0)) {
		*why = "seconds: must be more than 0";
		return -1;
	}
	if (v > max) {
		*why = "seconds: more than the maximum (CTRACE_HTTP_MAX_SECONDS)";
		return -1;
	}
	*out = v;
	return 0;
}

int ctr_trace_query(const char *flight, const char *seconds, double max, int *use_flight,
		    double *out, const char **why)
{
	*use_flight = flight && strcmp(flight, "0") != 0;
	*out = 1;
	if (*use_flight)
		return 0;
	return seconds ? ctr_parse_seconds(seconds, max, out, why) : 0;
}

long ctr_atoi_go(const char *s)
{
	if (!s || !*s)
		return 0;
	char *end;
	long v = strtol(s, &end, 10);
	return *end ? 0 : v;
}

int ctr_parse_positive(const char *s, long *out)
{
	char *end;
	if (!*s)
		return -1;
	for (const char *q = *s == '+' || *s == '-' ? s + 1 : s; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || errno || v <= 0)
		return -1;
	*out = v;
	return 0;
}

int ctr_pprof_query(const char *name, const char *sec, const char *debug, double max,
		    int table, int deltas, struct ctr_pprof_query *q, unsigned *status,
		    const char **why)
{
	q->debug = ctr_atoi_go(debug);
	*status = 400;
	if (strcmp(name, "profile") == 0) {
		q->what = CTR_PPROF_CPU;
		q->seconds = 30;
		if (sec && ctr_parse_positive(sec, &q->seconds) < 0)
			q->seconds = 30; /* as Go */
		if ((double)q->seconds > max) {
			*why = "profile duration exceeds server's WriteTimeout";
			return -1;
		}
		return 0;
	}
	int threads = strcmp(name, "threads") == 0 || strcmp(name, "goroutine") == 0;
	if (!table && !threads) {
		*status = 404;
		*why = "Unknown profile";
		return -1;
	}
	q->what = table ? CTR_PPROF_TABLE : CTR_PPROF_THREADS;
	q->seconds = 0;
	if (sec) {
		if (ctr_parse_positive(sec, &q->seconds) < 0) {
			*why = "invalid value for \"seconds\" - must be a positive integer";
			return -1;
		}
		if ((double)q->seconds > max) {
			*why = "profile duration exceeds server's WriteTimeout";
			return -1;
		}
		if (q->debug != 0) {
			*why = "seconds and debug params are incompatible";
			return -1;
		}
		if (table && deltas) {
			*why = "\"seconds\" parameter is not supported for this profile type";
			return -1;
		}
	}
	return 0;
}

int ctr_http_parse_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
			int *loopback, const char **why)
{
	char host[128];
	const char *colon;
	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host)) {
			*why = "expected [IPv6]:PORT";
			return -1;
		}
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = 0;
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
			*why = "expected HOST:PORT or :PORT";
			return -1;
		}
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = 0;
		/* "::1:6060" could be the address ::1:6060 without a port: as Go, brackets. */
		if (strchr(host, ':')) {
			*why = "expected [IPv6]:PORT";
			return -1;
		}
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535) {
		*why = "the port is not a number from 0 to 65535";
		return -1;
	}
	if (!host[0] || strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		*loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		return 0;
	}
	*why = "the host is not a numeric IPv4 or IPv6 address (or localhost)";
	return -1;
}
