/*
 * The model on a thread's switch stream with a gap: two switches out in a row (the record of
 * the switch in between never came). The stretch is Unknown on the timeline, and the
 * kernel's totals, when the trace has them, say what it held.
 */
#include <stdlib.h>
#include <string.h>
#include <ctrace/trace.h>

#include "ctest.h"
#include "encode.h"
#include "events.h"

#define MS 1000000ull
#define T0 1000000000ull /* ticks are ns from here */

struct batch {
	uint8_t buf[512];
	size_t len;
	uint64_t n;
};

static void ev(struct batch *b, uint8_t type, uint64_t delta_ms, uint64_t a0, uint64_t a1,
	       uint64_t a2)
{
	const uint64_t args[3] = { a0, a1, a2 };
	b->len += ctr_event_encode(b->buf + b->len, type, delta_ms * MS, args,
				   ctr_events[type].nargs, NULL, 0);
	b->n++;
}

struct unknown_seen {
	int n;
	int64_t begin, end;
};

static int note_unknown(void *ud, const struct ctrace_interval *iv)
{
	struct unknown_seen *u = ud;
	if (iv->state == CTRACE_STATE_UNKNOWN && iv->tid == 11) {
		u->n++;
		u->begin = iv->begin_ns;
		u->end = iv->end_ns;
	}
	return 0;
}

/*
 * Thread 11 runs 0-10 ms, is preempted 10-12, runs 12-60, is preempted 60-65 and runs
 * 65-100; the switch in at 12 ms never came (out at 10 ms, out again at 60). With
 * @schedstat the trace has the kernel's totals: 93 ms on CPU, 7 ms queued.
 */
static void model_of(int schedstat, struct ctrace_thread_stats *st, struct unknown_seen *u)
{
	struct ctr_genenc e;
	struct batch b = { .len = 0 };
	const struct ctr_sync sync = { T0, T0, 1700000000000000000ull };

	ev(&b, CTRACE_EV_THREAD_START, 0, 10, 1, 0);
	ev(&b, CTRACE_EV_SWITCH_OUT, 10, 0, 1, 0);
	ev(&b, CTRACE_EV_SWITCH_OUT, 50, 0, 1, 0);
	ev(&b, CTRACE_EV_SWITCH_IN, 5, 0, 0, 0);
	if (schedstat)
		ev(&b, CTRACE_EV_SCHEDSTAT, 35, 93 * MS, 7 * MS, 3);
	ev(&b, CTRACE_EV_THREAD_END, schedstat ? 0 : 35, 0, 0, 0);

	ASSERT_EQ(ctr_genenc_init(&e, 1), 0);
	ctr_genenc_begin(&e, 100, 0);
	ctr_genenc_schema(&e);
	ctr_genenc_process(&e, 100, 1, "/usr/bin/prog", NULL, 0, 0);
	ctr_genenc_info(&e, "context_switches", "perf");
	ctr_genenc_batch(&e, 11, T0, b.n, b.buf, b.len, -1, -1);
	ctr_genenc_clock(&e, 1, 1, 1, &sync, 1);
	e.threads = 1;
	e.flags = CTRACE_GEN_LAST;
	const uint8_t *hdr, *frame;
	size_t frame_len;
	ASSERT_EQ(ctr_genenc_finish(&e, &hdr, &frame, &frame_len), 0);
	size_t len = CTR_FILE_HEADER_SIZE + CTR_GEN_HEADER_SIZE + frame_len;
	uint8_t *file = malloc(len);
	ASSERT_TRUE(file != NULL);
	ctr_file_header(file);
	memcpy(file + CTR_FILE_HEADER_SIZE, hdr, CTR_GEN_HEADER_SIZE);
	memcpy(file + CTR_FILE_HEADER_SIZE + CTR_GEN_HEADER_SIZE, frame, frame_len);
	ctr_genenc_fini(&e);

	ctrace_reader *r;
	ctrace_model *m;
	memset(u, 0, sizeof(*u));
	struct ctrace_model_callbacks cb = { .userdata = u, .interval = note_unknown };
	ASSERT_EQ(ctrace_reader_open_memory(file, len, &r), 0);
	ASSERT_EQ(ctrace_model_build(r, &cb, &m), 0);
	const struct ctrace_thread_stats *t = NULL;
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++)
		if (ctrace_model_thread(m, i)->tid == 11)
			t = ctrace_model_thread(m, i);
	ASSERT_TRUE(t != NULL);
	*st = *t;
	ctrace_model_free(m);
	ctrace_reader_free(r);
	free(file);
}

static void switch_gap_is_unknown(void)
{
	struct ctrace_thread_stats st;
	struct unknown_seen u;

	/* Unknown from the first switch out to the second; the rest as the switches say. */
	model_of(0, &st, &u);
	ASSERT_EQ(u.n, 1);
	ASSERT_EQ(u.begin, (int64_t)(T0 + 10 * MS));
	ASSERT_EQ(u.end, (int64_t)(T0 + 60 * MS));
	ASSERT_EQ(st.duration_ns, (int64_t)(100 * MS));
	ASSERT_EQ(st.unknown_ns, (int64_t)(50 * MS));
	ASSERT_EQ(st.idle_ns, (int64_t)(5 * MS));
	ASSERT_EQ(st.user_ns, (int64_t)(45 * MS));
	ASSERT_UEQ(st.sched, 2);
}

static void kernel_totals_fill_the_gap(void)
{
	struct ctrace_thread_stats st;
	struct unknown_seen u;

	/* What the switches leave of the kernel's totals went to the gap: 48 ms on CPU, 2 ms
	 * queued. The timeline still says Unknown there. */
	model_of(1, &st, &u);
	ASSERT_EQ(u.n, 1);
	ASSERT_EQ(st.duration_ns, (int64_t)(100 * MS));
	ASSERT_EQ(st.user_ns, (int64_t)(93 * MS));
	ASSERT_EQ(st.idle_ns, (int64_t)(7 * MS));
	ASSERT_EQ(st.unknown_ns, 0);
}

int main(void)
{
	RUN(switch_gap_is_unknown);
	RUN(kernel_totals_fill_the_gap);
	return 0;
}
