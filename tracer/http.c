/*
 * The HTTP endpoint inside the traced process (libmicrohttpd), like Go's net/http/pprof:
 *
 *   GET /debug/pprof/                  an index of the endpoints
 *   GET /debug/pprof/trace?seconds=N   a trace of the next N seconds, streamed
 *   GET /debug/pprof/trace?flight=1    the flight recorder's last generations
 *   GET /debug/pprof/cmdline           the command line, NUL-separated
 *   GET /debug/pprof/heap, profile, ...  the profiles (pprof_http.c)
 *
 * One thread per connection; every thread of the server is tracer-internal (created while
 * the tracer is busy, so thread.c marks it), so nothing it does is traced. A capture's
 * generations reach its connection through a bounded queue: a client too slow to take them
 * loses its capture, never the program its speed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#include "httpparse.h"
#include "internal.h"
#include "pprof_http.h"

#define QUEUE_LIMIT (64u << 20)
#define MAX_CONNECTIONS 32

static struct {
	pthread_mutex_t lock; /* the fields below */
	struct MHD_Daemon *daemon;
	char token[256];
	double max_seconds;
	int capturing; /* an HTTP capture is running */
	struct http_sink *active; /* its sink */
} H = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- the sink of one capture: a queue of byte blocks for its connection ---- */

struct block {
	struct block *next;
	size_t len, off;
	uint8_t data[];
};

struct http_sink {
	struct ctr_sink base;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct block *head, *tail;
	uint64_t queued;
	int overflow;
	int ended; /* the process is exiting: what is queued is all there will be */
};

static int http_write(struct ctr_sink *s, const void *a, size_t alen, const void *b, size_t blen)
{
	struct http_sink *h = (struct http_sink *)s;
	struct block *k = malloc(sizeof(*k) + alen + blen);
	if (!k)
		return -ENOMEM;
	k->next = NULL;
	k->len = alen + blen;
	k->off = 0;
	memcpy(k->data, a, alen);
	if (blen)
		memcpy(k->data + alen, b, blen);
	pthread_mutex_lock(&h->lock);
	if (h->queued + k->len > QUEUE_LIMIT) {
		h->overflow = 1;
		pthread_mutex_unlock(&h->lock);
		free(k);
		return -ENOBUFS;
	}
	if (h->tail)
		h->tail->next = k;
	else
		h->head = k;
	h->tail = k;
	h->queued += k->len;
	pthread_cond_signal(&h->more);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static void http_release(struct ctr_sink *s)
{
	struct http_sink *h = (struct http_sink *)s;
	for (struct block *k = h->head, *n; k; k = n) {
		n = k->next;
		free(k);
	}
	pthread_cond_destroy(&h->more);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static struct http_sink *http_sink_new(void)
{
	struct http_sink *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->base.write = http_write;
	h->base.release = http_release;
	h->base.name = "HTTP client";
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->more, &ca);
	pthread_condattr_destroy(&ca);
	return h;
}

/* ---- one capture's response ---- */

struct capture {
	struct http_sink *sink;
	int fd;              /* the client's socket, to notice it hang up */
	uint64_t deadline;   /* CLOCK_MONOTONIC ns */
	int stopped;         /* removed from the writer: what is queued is all */
};

static int client_gone(int fd)
{
	struct pollfd p = { fd, POLLRDHUP, 0 };
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void capture_stop(struct capture *c)
{
	if (c->stopped)
		return;
	c->stopped = 1;
	pthread_mutex_lock(&ctr_g.ctl);
	ctr_capture_remove(&c->sink->base, 5000);
	pthread_mutex_unlock(&ctr_g.ctl);
}

static ssize_t capture_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct capture *c = cls;
	struct http_sink *h = c->sink;
	(void)pos;
	for (;;) {
		if (!c->stopped && ctr_mono_ns() >= c->deadline)
			capture_stop(c); /* its last generation goes into the queue */
		pthread_mutex_lock(&h->lock);
		struct block *k = h->head;
		if (k) {
			size_t n = k->len - k->off < max ? k->len - k->off : max;
			memcpy(buf, k->data + k->off, n);
			k->off += n;
			if (k->off == k->len) {
				h->head = k->next;
				if (!h->head)
					h->tail = NULL;
				h->queued -= k->len;
				free(k);
			}
			pthread_mutex_unlock(&h->lock);
			return (ssize_t)n;
		}
		int overflow = h->overflow;
		if (c->stopped || overflow || h->ended) {
			pthread_mutex_unlock(&h->lock);
			return overflow ? MHD_CONTENT_READER_END_WITH_ERROR
					: MHD_CONTENT_READER_END_OF_STREAM;
		}
		/* Nothing queued: wait a little, then look at the clock and the client. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->more, &h->lock, &ts);
		pthread_mutex_unlock(&h->lock);
		if (client_gone(c->fd))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

/* The response is done with, whether the client read it all or went away. */
static void capture_free(void *cls)
{
	struct capture *c = cls;
	capture_stop(c);
	pthread_mutex_lock(&H.lock);
	H.capturing = 0;
	H.active = NULL;
	pthread_mutex_unlock(&H.lock);
	c->sink->base.release(&c->sink->base);
	free(c);
}

/* ---- plain answers ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *line)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);
	return reply(conn, status, "text/plain; charset=utf-8", buf,
		     n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static const char index_html[] =
	"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>/debug/pprof/</title>"
	"<style>body{font-family:sans-serif;margin:2em}td{padding:.3em 1em}"
	"code{background:#eee;padding:.1em .3em}</style></head><body>\n"
	"<h1>/debug/pprof/</h1>\n<p>ctrace " CTRACE_VERSION ", in process %d.</p>\n<table>\n"
	"<tr><td><a href=\"trace?seconds=1\">trace</a></td><td>An execution trace of the next "
	"N seconds (<code>?seconds=N</code>, default 1, at most %g), streamed as it is "
	"recorded. Read it with <code>ctrace stats</code> or <code>ctrace view</code>.</td></tr>\n"
	"<tr><td><a href=\"trace?flight=1\">trace?flight=1</a></td><td>%s</td></tr>\n"
	"<tr><td><a href=\"cmdline\">cmdline</a></td><td>The command line of this program, "
	"arguments separated by NUL bytes.</td></tr>\n</table>\n"
	"<h2>Profiles</h2>\n<table>\n<tr><th>Count</th><th>Profile</th><th></th></tr>\n%s</table>\n"
	"<p>Add <code>?debug=1</code> for text; <code>go tool pprof http://HOST/debug/pprof/heap</code> "
	"reads them.</p>\n"
	"<p>Capture with <code>curl -o trace.out 'http://HOST/debug/pprof/trace?seconds=5'</code> "
	"or <code>ctrace capture</code>.</p>\n</body></html>\n";

static enum MHD_Result serve_index(struct MHD_Connection *conn)
{
	char buf[8192], rows[4096];
	ctr_pprof_index(rows, sizeof(rows));
	int n = snprintf(buf, sizeof(buf), index_html, (int)getpid(), H.max_seconds,
			 ctr_g.flight ? "The flight recorder: the most recent generations, kept in "
					"memory, returned at once."
				      : "The flight recorder, when CTRACE_FLIGHT is set (it is not).",
			 rows);
	return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", buf,
		     n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static enum MHD_Result serve_cmdline(struct MHD_Connection *conn)
{
	char buf[65536];
	size_t len = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n;
		while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
			len += (size_t)n;
		close(fd);
	}
	return reply(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", buf, len);
}

struct flight_buf {
	uint8_t *p;
	size_t len, cap;
};

static int flight_append(void *ud, const void *p, size_t n)
{
	struct flight_buf *b = ud;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1u << 20;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q)
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static enum MHD_Result trace_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"trace\"");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	return MHD_YES;
}

static enum MHD_Result serve_flight(struct MHD_Connection *conn)
{
	if (!ctr_g.flight)
		return text(conn, MHD_HTTP_NOT_FOUND,
			    "no flight recorder: start the program with CTRACE_FLIGHT=SIZE");
	/* Close the open generation so the last moments are in the recorder. */
	ctr_writer_flush(3000);
	struct flight_buf b = { 0 };
	if (ctr_flight_copy(ctr_g.flight, flight_append, &b) != 0) {
		free(b.p);
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(b.p);
		return MHD_NO;
	}
	trace_headers(r);
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_trace(struct MHD_Connection *conn)
{
	const char *flight = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "flight");
	const char *sec = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "seconds");
	double seconds;
	int use_flight;
	const char *why;
	if (ctr_trace_query(flight, sec, H.max_seconds, &use_flight, &seconds, &why) < 0)
		return text(conn, MHD_HTTP_BAD_REQUEST, why);
	if (use_flight)
		return serve_flight(conn);

	pthread_mutex_lock(&H.lock);
	int busy = H.capturing;
	if (!busy)
		H.capturing = 1;
	pthread_mutex_unlock(&H.lock);
	if (busy)
		return text(conn, MHD_HTTP_CONFLICT,
			    "a trace capture is already running; one at a time");

	struct capture *c = calloc(1, sizeof(*c));
	struct http_sink *h = c ? http_sink_new() : NULL;
	int err = CTRACE_ENOMEM;
	if (h) {
		pthread_mutex_lock(&ctr_g.ctl);
		err = ctr_capture_add(&h->base);
		pthread_mutex_unlock(&ctr_g.ctl);
	}
	if (err) {
		if (h)
			http_release(&h->base);
		free(c);
		pthread_mutex_lock(&H.lock);
		H.capturing = 0;
		pthread_mutex_unlock(&H.lock);
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, ctrace_strerror(err));
	}
	c->sink = h;
	c->deadline = ctr_mono_ns() + (uint64_t)(seconds * 1e9);
	pthread_mutex_lock(&H.lock);
	H.active = h;
	pthread_mutex_unlock(&H.lock);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	c->fd = ci ? ci->connect_fd : -1;
	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, capture_read, c,
						  capture_free);
	if (!r) {
		capture_free(c);
		return MHD_NO;
	}
	trace_headers(r);
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	(void)cls;
	(void)version;
	(void)upload;
	/* The first call is for the headers; answer then (requests here have no body). */
	if (!*state) {
		*state = conn;
		if (*upload_size == 0)
			goto headers;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* ignore a body */
		return MHD_YES;
	}
headers:
	if (H.token[0] &&
	    !ctr_http_token_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
			       H.token))
		return text(conn, MHD_HTTP_UNAUTHORIZED,
			    "unauthorized: send Authorization: Bearer CTRACE_HTTP_TOKEN");
	const char *name = NULL;
	switch (ctr_http_route(method, url, &name)) {
	case CTR_ROUTE_BAD_METHOD:
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD");
	case CTR_ROUTE_INDEX:
		return serve_index(conn);
	case CTR_ROUTE_TRACE:
		return serve_trace(conn);
	case CTR_ROUTE_CMDLINE:
		return serve_cmdline(conn);
	case CTR_ROUTE_PROFILE:
		return ctr_pprof_http(conn, name);
	case CTR_ROUTE_NOT_FOUND:
		break;
	}
	return text(conn, MHD_HTTP_NOT_FOUND, "not found: see /debug/pprof/");
}

/* ---- starting and stopping ---- */

CTRACE_API int ctrace_http_start(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int loopback;
	const char *why;

	if (!addr)
		return CTRACE_EINVAL;
	if (ctr_http_parse_addr(addr, &ss, &len, &loopback, &why) < 0) {
		ctr_warn("CTRACE_HTTP=%s: %s; no HTTP endpoint", addr, why);
		return CTRACE_EINVAL;
	}
	const char *token = getenv("CTRACE_HTTP_TOKEN");
	if (!loopback && (!token || !*token)) {
		ctr_warn("CTRACE_HTTP=%s is not a loopback address: set CTRACE_HTTP_TOKEN to serve "
			 "it (requests must then send Authorization: Bearer TOKEN); no HTTP endpoint",
			 addr);
		return CTRACE_EINVAL;
	}
	if (token && strlen(token) >= sizeof(H.token)) {
		ctr_warn("CTRACE_HTTP_TOKEN is longer than %zu bytes; no HTTP endpoint",
			 sizeof(H.token) - 1);
		return CTRACE_EINVAL;
	}

	ctr_tls.busy++; /* the server's threads are created as the tracer's own */
	pthread_mutex_lock(&H.lock);
	if (H.daemon) {
		pthread_mutex_unlock(&H.lock);
		ctr_tls.busy--;
		return CTRACE_EBUSY;
	}
	snprintf(H.token, sizeof(H.token), "%s", token ? token : "");
	H.max_seconds = 600;
	const char *max = getenv("CTRACE_HTTP_MAX_SECONDS");
	if (max && *max) {
		double v;
		if (ctr_parse_seconds(max, 1e7, &v, &why) < 0)
			ctr_warn("CTRACE_HTTP_MAX_SECONDS=%s: %s; using 600", max, why);
		else
			H.max_seconds = v;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
#ifdef __SANITIZE_THREAD__
	/* The ThreadSanitizer build (tests only): select(), as the server's threads are not
	 * the tracer's there (thread.c) and TSan's poll interceptor hides the synchronization
	 * of the tracer code it calls (a false race on the slot list); so its descriptors are
	 * made as the program's, at ordinary numbers, below select's FD_SETSIZE. */
	int as_program = 1;
#else
	/* poll(), not select(): the server's descriptors are the tracer's, at the top of the
	 * range (io.c), past select's FD_SETSIZE when the limit is high. */
	int as_program = 0;
	flags |= MHD_USE_POLL;
#endif
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	ctr_tls.busy -= as_program;
	H.daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL,
				    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
				    MHD_OPTION_END);
	ctr_tls.busy += as_program;
	int err = H.daemon ? 0 : CTRACE_EIO;
	pthread_mutex_unlock(&H.lock);
	ctr_tls.busy--;
	if (err)
		ctr_warn("CTRACE_HTTP=%s: cannot listen (%s); no HTTP endpoint", addr,
			 errno ? strerror(errno) : "address in use?");
	(void)len;
	return err;
}

CTRACE_API int ctrace_http_stop(void)
{
	ctr_tls.busy++;
	pthread_mutex_lock(&H.lock);
	struct MHD_Daemon *d = H.daemon;
	H.daemon = NULL;
	pthread_mutex_unlock(&H.lock);
	if (d)
		MHD_stop_daemon(d); /* joins its threads: their captures end first */
	ctr_tls.busy--;
	return d ? 0 : CTRACE_ENOTRUNNING;
}

CTRACE_API int ctrace_flight_write(int fd)
{
	if (!ctr_g.flight)
		return CTRACE_ENOTRUNNING;
	ctr_tls.busy++;
	ctr_writer_flush(3000);
	int err = ctr_flight_copy(ctr_g.flight, ctr_write_fd_cb, &fd);
	ctr_tls.busy--;
	return err;
}

double ctr_http_max_seconds(void)
{
	pthread_mutex_lock(&H.lock);
	double v = H.max_seconds;
	pthread_mutex_unlock(&H.lock);
	return v;
}

/* In a fork child: the parent's server threads do not exist here. Forget it. */
void ctr_http_forget(void)
{
	pthread_mutex_init(&H.lock, NULL);
	H.daemon = NULL;
	H.capturing = 0;
	H.active = NULL;
}

/*
 * The process exits during a capture, after its last generation was queued: end the
 * response there, so the client gets a whole trace and a finished response, and give the
 * server up to @timeout_ms to send it. A client that does not read is not waited for longer.
 */
void ctr_http_process_exit(int timeout_ms)
{
	pthread_mutex_lock(&H.lock);
	struct http_sink *h = H.active;
	if (h) {
		pthread_mutex_lock(&h->lock);
		h->ended = 1;
		pthread_cond_signal(&h->more);
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&H.lock);
	for (int waited = 0; h && waited < timeout_ms; waited += 5) {
		pthread_mutex_lock(&H.lock);
		int busy = H.capturing;
		pthread_mutex_unlock(&H.lock);
		if (!busy)
			break;
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
	}
}
