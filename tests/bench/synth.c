/*
 * Write a synthetic trace through the format encoder: THREADS threads of one process doing
 * calls, contended locks and context switches, EVENTS events in all, in generations of
 * about 250 000 events. Used to test and measure analysis on traces far larger than the
 * test programs produce.
 * Usage: synth OUT EVENTS [THREADS]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"
#include "varint.h"

#define PER_GEN 250000

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

struct thr {
	uint64_t ticks;
	int phase;
	uint8_t *buf;
	size_t len, n;
	uint64_t base;
};

/* The next event of a thread: a cycle of call, switch, lock, run. */
static void next_event(struct thr *t, uint64_t *rng)
{
	uint8_t ev[64];
	uint64_t a[4];
	size_t len = 0;
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	uint64_t delta = 200 + (*rng & 4095);
	switch (t->phase) {
	case 0: /* read on a socket */
		a[0] = CTR_CALL_READ, a[1] = ctr_zigzag(5), a[2] = CTRACE_FD_SOCKET, a[3] = 0;
		len = ctr_event_encode(ev, CTRACE_EV_CALL_BEGIN, delta, a, 4, NULL, 0);
		break;
	case 1:
		a[0] = 0, a[1] = 0;
		len = ctr_event_encode(ev, CTRACE_EV_SWITCH_OUT, delta, a, 2, NULL, 0);
		break;
	case 2:
		a[0] = 1;
		delta *= 4;
		len = ctr_event_encode(ev, CTRACE_EV_SWITCH_IN, delta, a, 1, NULL, 0);
		break;
	case 3:
		a[0] = ctr_zigzag(100), a[1] = 0, a[2] = 0;
		len = ctr_event_encode(ev, CTRACE_EV_CALL_END, delta, a, 3, NULL, 0);
		break;
	case 4: /* a contended lock */
		a[0] = CTRACE_REASON_SYNC, a[1] = CTR_CALL_PTHREAD_MUTEX_LOCK, a[2] = 0x1000, a[3] = 0;
		len = ctr_event_encode(ev, CTRACE_EV_BLOCK_BEGIN, delta, a, 4, NULL, 0);
		break;
	case 5:
		a[0] = 0;
		delta *= 3;
		len = ctr_event_encode(ev, CTRACE_EV_BLOCK_END, delta, a, 1, NULL, 0);
		break;
	}
	t->phase = (t->phase + 1) % 6;
	t->ticks += delta; /* the next generation's batch of the thread starts here */
	memcpy(t->buf + t->len, ev, len);
	t->len += len;
	t->n++;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: synth OUT EVENTS [THREADS]\n");
		return 2;
	}
	uint64_t total = strtoull(argv[2], NULL, 10);
	int nthreads = argc > 3 ? atoi(argv[3]) : 16;
	if (nthreads < 1 || nthreads > 4096)
		return 2;
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	uint8_t hdr[CTR_FILE_HEADER_SIZE];
	ctr_file_header(hdr);
	if (write_all(fd, hdr, sizeof(hdr)) < 0)
		return 1;

	struct ctr_genenc e;
	if (ctr_genenc_init(&e, 1) < 0)
		return 1;
	struct thr *t = calloc((size_t)nthreads, sizeof(*t));
	size_t cap = (size_t)(PER_GEN / nthreads + 64) * 64;
	for (int i = 0; i < nthreads; i++) {
		t[i].buf = malloc(cap);
		t[i].ticks = 1000000 + (uint64_t)i;
		t[i].phase = i % 6;
	}
	uint64_t rng = 88172645463325252ull, done = 0;
	const uint64_t mono0 = 1000000000ull;
	for (uint32_t seq = 0; done < total; seq++) {
		ctr_genenc_begin(&e, 4242, seq);
		ctr_genenc_schema(&e);
		ctr_genenc_calls(&e);
		ctr_genenc_process(&e, 4242, 1, "/usr/bin/synthetic", "synthetic", 9, 0);
		uint64_t first = UINT64_MAX, last = 0;
		for (int i = 0; i < nthreads; i++) {
			t[i].len = t[i].n = 0;
			t[i].base = t[i].ticks;
			if (seq == 0) { /* thread start, then name */
				uint64_t a[3] = { 0, (uint64_t)i + 1, 0 };
				t[i].len += ctr_event_encode(t[i].buf, CTRACE_EV_THREAD_START, 0, a, 3,
							     NULL, 0);
				char name[16];
				int nl = snprintf(name, sizeof(name), "synth-%d", i);
				uint64_t z = 0;
				t[i].len += ctr_event_encode(t[i].buf + t[i].len, CTRACE_EV_THREAD_NAME,
							     0, &z, 1, name, (size_t)nl);
				t[i].n = 2;
			}
		}
		uint64_t in_gen = total - done < PER_GEN ? total - done : PER_GEN;
		for (uint64_t k = 0; k < in_gen; k++)
			next_event(&t[k % (uint64_t)nthreads], &rng);
		for (int i = 0; i < nthreads; i++) {
			if (!t[i].n)
				continue;
			ctr_genenc_batch(&e, (uint32_t)(5000 + i), t[i].base, t[i].n, t[i].buf,
					 t[i].len, -1, -1);
			if (t[i].base < first)
				first = t[i].base;
			if (t[i].ticks > last)
				last = t[i].ticks;
			done += t[i].n;
		}
		/* A TSC at 2.9 GHz, so the reader converts as it does for real recordings. */
		struct ctr_sync s[2] = { { first, mono0 + first * 10 / 29, 0 },
					 { last, mono0 + last * 10 / 29, 0 } };
		ctr_genenc_clock(&e, 0, 29, 10, s, 2);
		ctr_genenc_info(&e, "context_switches", "perf");
		e.first_ns = (int64_t)(mono0 + first * 10 / 29);
		e.last_ns = (int64_t)(mono0 + last * 10 / 29);
		e.threads = (uint32_t)nthreads;
		const uint8_t *gh, *frame;
		size_t flen;
		if (ctr_genenc_finish(&e, &gh, &frame, &flen) < 0 ||
		    write_all(fd, gh, CTR_GEN_HEADER_SIZE) < 0 || write_all(fd, frame, flen) < 0) {
			fprintf(stderr, "synth: cannot write\n");
			return 1;
		}
	}
	close(fd);
	printf("synth: %llu events, %d threads\n", (unsigned long long)done, nthreads);
	return 0;
}
