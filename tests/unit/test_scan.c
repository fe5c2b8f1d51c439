/*
 * ctr_event_skip, the writer's drain scanner, held to ctr_event_scan: for every event type
 * it gives the same length, time delta and stack argument, and it refuses exactly the bytes
 * ctr_event_scan refuses (cut short, overlong or overflowing varints, unknown types, blobs
 * past the end). Every input is a heap copy of exactly its size, so that under ASan a read
 * past the end is a reported error.
 */
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "events.h"
#include "varint.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Run both scanners on a heap copy of [p, p + n) and require that they agree. */
static void agree(const struct ctr_schema *s, const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	ASSERT_TRUE(q);
	memcpy(q, p, n);
	struct ctr_raw_event ev;
	uint64_t delta = 0, stack = 0;
	size_t want = ctr_event_scan(s, q, q + n, &ev);
	size_t got = ctr_event_skip(s, q, q + n, &delta, &stack);
	ASSERT_UEQ(got, want);
	if (want) {
		unsigned at = s->stack_arg[q[0]];
		ASSERT_UEQ(delta, ev.args[0]);
		ASSERT_UEQ(stack, at ? ev.args[at] : 0);
	}
	free(q);
}

static const uint64_t values[] = {
	0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x12345678, 0x7fffffffffffull, UINT64_MAX,
};

/* Encode @type with argument i set to values[(seed + i) % N], and a blob of @blob_len. */
static size_t encode(uint8_t *dst, uint8_t type, unsigned nargs, unsigned seed, size_t blob_len)
{
	uint64_t args[32];
	static const uint8_t blob[300];
	ASSERT_LE(nargs, NELEM(args));
	for (unsigned i = 0; i < nargs; i++)
		args[i] = values[(seed + i + 1) % NELEM(values)];
	return ctr_event_encode(dst, type, values[seed % NELEM(values)], args, nargs, blob,
				blob_len);
}

/* The stack arguments the writer has always noted, now derived from the argument names. */
static void stack_positions(void)
{
	struct ctr_schema s;
	ctr_schema_builtin(&s);
	ASSERT_EQ(s.stack_arg[CTRACE_EV_THREAD_CREATE], 2);
	ASSERT_EQ(s.stack_arg[CTRACE_EV_BLOCK_BEGIN], 4);
	ASSERT_EQ(s.stack_arg[CTRACE_EV_CALL_BEGIN], 4);
	ASSERT_EQ(s.stack_arg[CTRACE_EV_CALL_END], 3);
	ASSERT_EQ(s.stack_arg[CTRACE_EV_ALLOC], 4);
	ASSERT_EQ(s.stack_arg[CTRACE_EV_CPU_SAMPLE], 1);
	unsigned with = 0;
	for (unsigned t = 0; t < 256; t++)
		with += s.stack_arg[t] != 0;
	ASSERT_EQ(with, 6);
}

/* Every builtin type, with values of every varint length, alone and followed by more bytes
 * (the scanner reads eight bytes at a time where there are eight). */
static void every_type_round_trips(void)
{
	struct ctr_schema s;
	uint8_t buf[1024];
	ctr_schema_builtin(&s);
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++) {
		const struct ctr_event_desc *d = &ctr_events[t];
		if (!d->name)
			continue;
		for (unsigned seed = 0; seed < NELEM(values); seed++) {
			for (size_t blob = 0; blob <= (d->has_blob ? 300u : 0u); blob += 7) {
				size_t n = encode(buf, (uint8_t)t, d->nargs, seed, blob);
				struct ctr_raw_event ev;
				ASSERT_UEQ(ctr_event_scan(&s, buf, buf + n, &ev), n);
				agree(&s, buf, n);
				memset(buf + n, 0x01, 16);
				agree(&s, buf, n + 16);
			}
		}
	}
}

/* A later minor's schema: more arguments than the builtin table gives the type. */
static void longer_schema(void)
{
	struct ctr_schema s;
	uint8_t buf[512];
	ctr_schema_builtin(&s);
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++)
		if (ctr_events[t].name)
			ctr_schema_set(&s, t, ctr_events[t].nargs + 13u, ctr_events[t].has_blob);
	ASSERT_EQ(s.stack_arg[CTRACE_EV_ALLOC], 4);
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++)
		if (ctr_events[t].name)
			for (unsigned seed = 0; seed < NELEM(values); seed++)
				agree(&s, buf, encode(buf, (uint8_t)t, ctr_events[t].nargs + 13u,
						      seed, 3));
}

/* Every prefix of every event is cut short: both refuse it. */
static void truncated(void)
{
	struct ctr_schema s;
	uint8_t buf[1024];
	ctr_schema_builtin(&s);
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++) {
		if (!ctr_events[t].name)
			continue;
		for (unsigned seed = 0; seed < NELEM(values); seed++) {
			size_t n = encode(buf, (uint8_t)t, ctr_events[t].nargs, seed, 5);
			for (size_t cut = 0; cut < n; cut++) {
				struct ctr_raw_event ev;
				ASSERT_UEQ(ctr_event_scan(&s, buf, buf + cut, &ev), 0);
				agree(&s, buf, cut);
			}
		}
	}
}

/*
 * Each varint of an event in turn (the delta, each argument, the blob's length) replaced by
 * a 10-byte one that fits 64 bits, one that does not (10th byte 2, then 0x7f) and an 11-byte
 * one: the first is taken, the others refused, by both.
 */
static void overlong_varints(void)
{
	static const uint8_t last[] = { 0x00, 0x01, 0x02, 0x7f, 0x80 };
	struct ctr_schema s;
	ctr_schema_builtin(&s);
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++) {
		const struct ctr_event_desc *d = &ctr_events[t];
		if (!d->name)
			continue;
		unsigned nvar = 1u + d->nargs + d->has_blob;
		for (unsigned which = 0; which < nvar; which++) {
			for (size_t k = 0; k < NELEM(last); k++) {
				uint8_t buf[512];
				size_t n = 0;
				buf[n++] = (uint8_t)t;
				for (unsigned v = 0; v < nvar; v++) {
					if (v != which) {
						buf[n++] = (uint8_t)(v + 1);
						continue;
					}
					for (int i = 0; i < 9; i++)
						buf[n++] = 0x80 | (uint8_t)i;
					buf[n++] = last[k];
					if (last[k] & 0x80)
						buf[n++] = 0x00; /* an 11th byte */
				}
				if (d->has_blob && which != nvar - 1)
					for (unsigned i = 0; i < nvar; i++)
						buf[n++] = 'b'; /* the blob its length names */
				agree(&s, buf, n);
				memset(buf + n, 0x05, 24);
				agree(&s, buf, n + 24);
			}
		}
	}
}

/* Unknown types, and a blob longer than the bytes left. */
static void unknown_type_and_long_blob(void)
{
	struct ctr_schema s;
	ctr_schema_builtin(&s);
	uint8_t buf[32] = { 0 };
	for (unsigned t = 0; t < 256; t++) {
		buf[0] = (uint8_t)t;
		if (!s.known[t])
			ASSERT_UEQ(ctr_event_skip(&s, buf, buf + sizeof(buf), &(uint64_t){ 0 },
						  &(uint64_t){ 0 }), 0);
		agree(&s, buf, sizeof(buf));
	}
	const uint8_t log_ev[] = { CTRACE_EV_LOG, 1, 2, 3, 9, 'a', 'b', 'c' };
	agree(&s, log_ev, sizeof(log_ev));
}

/* Random events, most of them plausible, with bytes changed, cut and appended. */
static void random_bytes_agree(void)
{
	struct ctr_schema s;
	uint8_t buf[256];
	uint64_t x = 88172645463325252ull;
	ctr_schema_builtin(&s);
	for (int iter = 0; iter < 400000; iter++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t r = x;
		size_t n = 1 + (r & 31);
		r >>= 5;
		buf[0] = (uint8_t)(1 + (r % (CTRACE_EV_COUNT_ - 1)));
		r >>= 8;
		for (size_t i = 1; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Mostly continuation bytes or small terminators, as varints are. */
			uint8_t b = (uint8_t)x;
			buf[i] = (x >> 8) & 1 ? (b | 0x80) : (b & ((x >> 9) & 1 ? 0x03 : 0x7f));
		}
		agree(&s, buf, n);
	}
}

int main(void)
{
	RUN(stack_positions);
	RUN(every_type_round_trips);
	RUN(longer_schema);
	RUN(truncated);
	RUN(overlong_varints);
	RUN(unknown_type_and_long_blob);
	RUN(random_bytes_agree);
	return 0;
}
