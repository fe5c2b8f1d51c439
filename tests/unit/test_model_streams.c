/*
 * The model on the event streams a real kernel and writer give, built with the encoder:
 * a gap in a thread's switches (two switches out in a row: the record of the switch in
 * between never came), which is Unknown on the timeline and filled from the kernel's
 * totals in the statistics; and a call's end that comes in a batch after switches later
 * than it (its thread was preempted between reading the time and publishing the event).
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
	uint32_t tid;
	uint64_t base; /* ticks (ns) */
	uint8_t buf[512];
	size_t len;
	uint64_t n;
};

/* An event @delta_us after the one before in @b. */
static void ev_us(struct batch *b, uint8_t type, uint64_t delta_us, uint64_t a0, uint64_t a1,
		  uint64_t a2, uint64_t a3)
{
	const uint64_t args[4] = { a0, a1, a2, a3 };
	b->len += ctr_event_encode(b->buf + b->len, type, delta_us * 1000, args,
				   ctr_events[type].nargs, NULL, 0);
	b->n++;
}

static void ev(struct batch *b, uint8_t type, uint64_t delta_ms, uint64_t a0, uint64_t a1,
	       uint64_t a2)
{
	ev_us(b, type, delta_ms * 1000, a0, a1, a2, 0);
}

/* One generation of process 100 with batches @b (in that order), read into a model. */
static ctrace_model *model_from(struct batch *b, size_t n, struct ctrace_model_callbacks *cb,
				ctrace_reader **r, uint8_t **file)
{
	struct ctr_genenc e;
	const struct ctr_sync sync = { T0, T0, 1700000000000000000ull };

	ASSERT_EQ(ctr_genenc_init(&e, 1), 0);
	ctr_genenc_begin(&e, 100, 0);
	ctr_genenc_schema(&e);
	ctr_genenc_calls(&e);
	ctr_genenc_process(&e, 100, 1, "/usr/bin/prog", NULL, 0, 0);
	ctr_genenc_info(&e, "context_switches", "perf");
	for (size_t i = 0; i < n; i++)
		ctr_genenc_batch(&e, b[i].tid, b[i].base, b[i].n, b[i].buf, b[i].len, -1, -1);
	ctr_genenc_clock(&e, 1, 1, 1, &sync, 1);
	e.threads = 1;
	e.flags = CTRACE_GEN_LAST;
	const uint8_t *hdr, *frame;
	size_t frame_len;
	ASSERT_EQ(ctr_genenc_finish(&e, &hdr, &frame, &frame_len), 0);
	size_t len = CTR_FILE_HEADER_SIZE + CTR_GEN_HEADER_SIZE + frame_len;
	*file = malloc(len);
	ASSERT_TRUE(*file != NULL);
	ctr_file_header(*file);
	memcpy(*file + CTR_FILE_HEADER_SIZE, hdr, CTR_GEN_HEADER_SIZE);
	memcpy(*file + CTR_FILE_HEADER_SIZE + CTR_GEN_HEADER_SIZE, frame, frame_len);
	ctr_genenc_fini(&e);

	ctrace_model *m;
	ASSERT_EQ(ctrace_reader_open_memory(*file, len, r), 0);
	ASSERT_EQ(ctrace_model_build(*r, cb, &m), 0);
	return m;
}

/* Thread 11's statistics in @m. */
static struct ctrace_thread_stats thread_11(const ctrace_model *m)
{
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++)
		if (ctrace_model_thread(m, i)->tid == 11)
			return *ctrace_model_thread(m, i);
	CT_FAIL("no thread 11 in the model");
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
	struct batch b = { .tid = 11, .base = T0 };
	ev(&b, CTRACE_EV_THREAD_START, 0, 10, 1, 0);
	ev(&b, CTRACE_EV_SWITCH_OUT, 10, 0, 1, 0);
	ev(&b, CTRACE_EV_SWITCH_OUT, 50, 0, 1, 0);
	ev(&b, CTRACE_EV_SWITCH_IN, 5, 0, 0, 0);
	if (schedstat)
		ev(&b, CTRACE_EV_SCHEDSTAT, 35, 93 * MS, 7 * MS, 3);
	ev(&b, CTRACE_EV_THREAD_END, schedstat ? 0 : 35, 0, 0, 0);

	ctrace_reader *r;
	uint8_t *file;
	memset(u, 0, sizeof(*u));
	struct ctrace_model_callbacks cb = { .userdata = u, .interval = note_unknown };
	ctrace_model *m = model_from(&b, 1, &cb, &r, &file);
	*st = thread_11(m);
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

/*
 * Thread 11 reads a pipe from 1 ms, switched out (asleep) from 2 ms to 200; the read
 * returns at 200.5 ms, and the thread is preempted at 201 ms before it publishes that
 * event. The writer drained the switches at 200 and 201 first, in a batch of their own;
 * the call's end comes in the next batch, earlier than them. It is one episode that left
 * the CPU, at the latest moment known: one block on IO, one call.
 */
static void late_call_end_is_kept(void)
{
	struct batch b[3] = { { .tid = 11, .base = T0 }, { .tid = 11 }, { .tid = 11 } };
	ev(&b[0], CTRACE_EV_THREAD_START, 0, 10, 1, 0);
	ev_us(&b[0], CTRACE_EV_CALL_BEGIN, 1000, CTR_CALL_READ, 3, CTRACE_FD_PIPE, 0);
	ev(&b[0], CTRACE_EV_SWITCH_OUT, 1, 0, 0, 0);
	/* Each later batch counts from the thread's last event in its ring: the call's start. */
	b[1].base = b[2].base = T0 + 1 * MS;
	ev(&b[1], CTRACE_EV_SWITCH_IN, 199, 0, 0, 0);
	ev(&b[1], CTRACE_EV_SWITCH_OUT, 1, 0, 1, 0);
	ev_us(&b[2], CTRACE_EV_CALL_END, 199500, 1, 0, 0, 0);
	ev_us(&b[2], CTRACE_EV_SWITCH_IN, 3500, 0, 0, 0, 0);
	ev(&b[2], CTRACE_EV_THREAD_END, 6, 0, 0, 0);

	ctrace_reader *r;
	uint8_t *file;
	struct ctrace_model_callbacks cb = { .userdata = NULL };
	ctrace_model *m = model_from(b, 3, &cb, &r, &file);
	struct ctrace_thread_stats st = thread_11(m);
	ASSERT_UEQ(st.syscalls, 1);
	ASSERT_UEQ(st.blocks, 1);
	ASSERT_UEQ(st.blocks_io, 1);
	ASSERT_EQ(st.io_ns, (int64_t)(198 * MS));
	ASSERT_EQ(st.duration_ns, (int64_t)(210 * MS));
	/* The end is taken at 201 ms: the call ran on the CPU 1-2 ms and 200-201 ms (Sys),
	 * and the thread was queued from 201 ms to its switch in at 204 ms (Idle). */
	ASSERT_EQ(st.sys_ns, (int64_t)(2 * MS));
	ASSERT_EQ(st.idle_ns, (int64_t)(3 * MS));
	ctrace_model_free(m);
	ctrace_reader_free(r);
	free(file);
}

int main(void)
{
	RUN(switch_gap_is_unknown);
	RUN(kernel_totals_fill_the_gap);
	RUN(late_call_end_is_kept);
	return 0;
}
