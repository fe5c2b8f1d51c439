/*
 * Sinks: where generations go. The writer thread hands every generation to each sink of
 * the running captures: a file descriptor (CTRACE_OUT, ctrace_start), an HTTP response
 * (http.c), the flight recorder's ring of recent generations.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#include "internal.h"

/* ---- a file descriptor ---- */

struct fd_sink {
	struct ctr_sink base;
	_Atomic int fd; /* an owned one is the tracer's: a program's dup2 onto it moves it */
	int own;
};

static int writev_all(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct iovec *v = iov;
	int cnt = 2;
	while (cnt) {
		ssize_t n = writev(fd, v, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (cnt && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int fd_write(struct ctr_sink *s, const void *a, size_t alen, const void *b, size_t blen)
{
	struct fd_sink *f = (struct fd_sink *)s;
	if (!f->own)
		return writev_all(f->fd, a, alen, b, blen);
	int err = writev_all(ctr_fd_enter(&f->fd), a, alen, b, blen);
	ctr_fd_leave();
	return err;
}

static void fd_release(struct ctr_sink *s)
{
	struct fd_sink *f = (struct fd_sink *)s;
	if (f->own) {
		ctr_fd_follow(&f->fd, 0);
		ctr_fd_close_guarded(f->fd);
	}
	free(f);
}

void ctr_fd_sink_own(struct ctr_sink *s, int own)
{
	struct fd_sink *f = (struct fd_sink *)s;
	if (own && !f->own)
		ctr_fd_follow(&f->fd, 1);
	f->own = own;
}

struct ctr_sink *ctr_fd_sink_new(int fd, int own)
{
	struct fd_sink *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base.write = fd_write;
	f->base.release = fd_release;
	f->base.name = "file";
	f->fd = fd;
	f->own = own;
	return &f->base;
}

/* ---- nowhere: the capture behind CTRACE_SINK=lttng, where events go to LTTng only ---- */

static int null_write(struct ctr_sink *s, const void *a, size_t alen, const void *b, size_t blen)
{
	(void)s, (void)a, (void)alen, (void)b, (void)blen;
	return 0;
}

static void null_release(struct ctr_sink *s)
{
	free(s);
}

struct ctr_sink *ctr_null_sink_new(void)
{
	struct ctr_sink *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->write = null_write;
	k->release = null_release;
	k->name = "LTTng";
	return k;
}

/* ---- the flight recorder: the most recent generations, in memory ---- */

struct flight_gen {
	struct flight_gen *next;
	_Atomic int refs; /* the ring's, and each reader copying it out */
	size_t len;
	uint8_t data[];
};

static void gen_unref(struct flight_gen *g)
{
	if (atomic_fetch_sub(&g->refs, 1) == 1)
		free(g);
}

struct flight_sink {
	struct ctr_sink base;
	pthread_mutex_t lock; /* the writer appends, readers copy */
	struct flight_gen *head, *tail;
	uint64_t bytes, limit;
	uint64_t dropped;
};

static int flight_write(struct ctr_sink *s, const void *a, size_t alen, const void *b,
			size_t blen)
{
	struct flight_sink *f = (struct flight_sink *)s;
	/* The file header is written by whoever reads the recorder, not kept here. */
	if (alen == CTR_FILE_HEADER_SIZE && blen == 0)
		return 0;
	if (alen + blen > f->limit) {
		f->dropped++;
		return 0; /* a generation larger than the whole recorder: skip it */
	}
	struct flight_gen *g = malloc(sizeof(*g) + alen + blen);
	if (!g)
		return 0; /* keeping the older ones is better than failing */
	g->next = NULL;
	atomic_init(&g->refs, 1);
	g->len = alen + blen;
	memcpy(g->data, a, alen);
	if (blen)
		memcpy(g->data + alen, b, blen);
	pthread_mutex_lock(&f->lock);
	if (f->tail)
		f->tail->next = g;
	else
		f->head = g;
	f->tail = g;
	f->bytes += g->len;
	while (f->bytes > f->limit && f->head != f->tail) {
		struct flight_gen *old = f->head;
		f->head = old->next;
		f->bytes -= old->len;
		gen_unref(old);
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void flight_release(struct ctr_sink *s)
{
	struct flight_sink *f = (struct flight_sink *)s;
	for (struct flight_gen *g = f->head, *n; g; g = n) {
		n = g->next;
		gen_unref(g);
	}
	pthread_mutex_destroy(&f->lock);
	free(f);
}

struct ctr_sink *ctr_flight_sink_new(uint64_t limit)
{
	struct flight_sink *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base.write = flight_write;
	f->base.release = flight_release;
	f->base.name = "flight recorder";
	f->limit = limit;
	pthread_mutex_init(&f->lock, NULL);
	return &f->base;
}

/*
 * Copy what the recorder holds, as a trace, through @out. Called after the writer closed
 * the open generation, so the last seconds are all there.
 */
int ctr_flight_copy(struct ctr_sink *s, int (*out)(void *ud, const void *p, size_t n), void *ud)
{
	struct flight_sink *f = (struct flight_sink *)s;
	uint8_t hdr[CTR_FILE_HEADER_SIZE];
	ctr_file_header(hdr);
	if (out(ud, hdr, sizeof(hdr)) != 0)
		return CTRACE_EIO;
	/* Take a reference to each generation under the lock and write them outside it, so
	 * a slow reader never holds up the writer; an evicted generation lives on until the
	 * reader lets go of it. */
	pthread_mutex_lock(&f->lock);
	size_t n = 0;
	for (struct flight_gen *g = f->head; g; g = g->next)
		n++;
	struct flight_gen **refs = malloc((n ? n : 1) * sizeof(*refs));
	if (!refs) {
		pthread_mutex_unlock(&f->lock);
		return CTRACE_ENOMEM;
	}
	n = 0;
	for (struct flight_gen *g = f->head; g; g = g->next) {
		atomic_fetch_add(&g->refs, 1);
		refs[n++] = g;
	}
	pthread_mutex_unlock(&f->lock);
	int err = 0;
	for (size_t i = 0; i < n; i++) {
		if (!err && out(ud, refs[i]->data, refs[i]->len) != 0)
			err = CTRACE_EIO;
		gen_unref(refs[i]);
	}
	free(refs);
	return err;
}

uint64_t ctr_flight_bytes(struct ctr_sink *s)
{
	struct flight_sink *f = (struct flight_sink *)s;
	pthread_mutex_lock(&f->lock);
	uint64_t b = f->bytes;
	pthread_mutex_unlock(&f->lock);
	return b;
}

/* An output callback writing to the file descriptor *ud. */
int ctr_write_fd_cb(void *ud, const void *p, size_t n)
{
	return writev_all(*(int *)ud, p, n, NULL, 0) < 0 ? -1 : 0;
}
