/*
 * How fuzz_http_query and fuzz_viewer_params read their input: lines of text.
 *
 *   METHOD URL?key=value&key=value...     a request line (the query as the server sees it
 *                                         after decoding: no percent escapes)
 *   more lines                            the target's own (see each target)
 *
 * Every line becomes a NUL-terminated string (a NUL byte inside a line ends it, as it would
 * in the server's C strings); missing lines are NULL.
 */
#ifndef CTR_FUZZ_QUERY_H
#define CTR_FUZZ_QUERY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_LINES 8
#define Q_PAIRS 16

/* An assert that stays in every build and says what failed. */
#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                           \
		}                                                                          \
	} while (0)

struct query {
	char *buf;
	const char *line[Q_LINES];
	const char *method, *url; /* the request line's parts; url without the query */
	const char *key[Q_PAIRS], *value[Q_PAIRS]; /* value NULL: "key" without '=' */
	int npairs;
};

static void query_parse(struct query *q, const uint8_t *data, size_t size)
{
	memset(q, 0, sizeof(*q));
	q->buf = malloc(size + 1);
	CHECK(q->buf);
	memcpy(q->buf, data, size);
	q->buf[size] = 0;
	char *p = q->buf;
	for (int i = 0; i < Q_LINES && p; i++) {
		q->line[i] = p;
		char *nl = memchr(p, '\n', (size_t)(q->buf + size - p));
		if (nl)
			*nl = 0;
		p = nl ? nl + 1 : NULL;
	}
	char *req = (char *)(q->line[0] ? q->line[0] : "");
	char *sp = strchr(req, ' ');
	q->method = req;
	q->url = "";
	if (!sp)
		return;
	*sp = 0;
	q->url = sp + 1;
	char *qm = strchr(sp + 1, '?');
	if (!qm)
		return;
	*qm = 0;
	for (char *pair = qm + 1; pair && q->npairs < Q_PAIRS;) {
		char *amp = strchr(pair, '&');
		if (amp)
			*amp = 0;
		char *eq = strchr(pair, '=');
		if (eq)
			*eq = 0;
		q->key[q->npairs] = pair;
		q->value[q->npairs++] = eq ? eq + 1 : NULL;
		pair = amp ? amp + 1 : NULL;
	}
}

/* The first value of @key, as MHD_lookup_connection_value answers (NULL: absent, or no '='). */
static const char *query_get(const struct query *q, const char *key)
{
	for (int i = 0; i < q->npairs; i++)
		if (strcmp(q->key[i], key) == 0)
			return q->value[i];
	return NULL;
}

static void query_free(struct query *q)
{
	free(q->buf);
}

/* A parser's reason for refusing: present, not empty, one line, printable for a client. */
static void check_reason(const char *why)
{
	CHECK(why);
	CHECK(*why);
	CHECK(!strchr(why, '\n') && !strchr(why, '\r'));
	CHECK(strlen(why) < 200);
}

#endif
