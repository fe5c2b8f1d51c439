/*
 * ctrace import's mapping (tools/import/imp.c), without babeltrace2: LTTng events given as
 * names and field values become a ctrace trace that the reader reads back exactly.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "ctest.h"
#include "imp.h"

static char path[] = "/tmp/ctrace-test-import-XXXXXX";

static void add_u(struct imp_event *e, const char *name, uint64_t v)
{
	e->f[e->nfields++] = (struct imp_field){ .name = name, .kind = IMP_UINT, .u = v };
}

static void add_s(struct imp_event *e, const char *name, int64_t v)
{
	e->f[e->nfields++] = (struct imp_field){ .name = name, .kind = IMP_SINT, .u = (uint64_t)v };
}

static void add_text(struct imp_event *e, const char *name, const char *t)
{
	char *len = malloc(64);
	snprintf(len, 64, "_%s_length", name);
	add_u(e, len, strlen(t)); /* as babeltrace2 shows a sequence's length: skipped */
	e->f[e->nfields++] =
		(struct imp_field){ .name = name, .kind = IMP_TEXT, .text = t, .len = strlen(t) };
}

/* A ctrace:* event as the provider writes it: pid, tid, tick, then the arguments. */
static struct imp_event ct(const char *name, uint64_t ns, uint32_t pid, uint32_t tid)
{
	struct imp_event e;
	memset(&e, 0, sizeof(e));
	e.name = name;
	e.mono_ns = ns;
	e.real_ns = (int64_t)ns + 1700000000000000000;
	e.vpid = pid;
	e.vtid = tid;
	add_u(&e, "pid", pid);
	add_u(&e, "tid", tid);
	add_u(&e, "tick", ns * 3);
	return e;
}

static void maps_every_kind_back(void)
{
	int fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	struct imp *im = imp_new(fd);
	ASSERT_TRUE(im != NULL);

	struct imp_event e = ct("ctrace:thread_name", 1000, 10, 10);
	add_u(&e, "named_tid", 0);
	add_text(&e, "name", "mainthread");
	ASSERT_EQ(imp_event(im, &e), 0);

	uint64_t pcs[3] = { 0x401000, 0x402000, 0x403000 };
	e = (struct imp_event){ .name = "ctrace:stack", .mono_ns = 1500, .vpid = 10, .vtid = 11 };
	add_u(&e, "pid", 10);
	add_u(&e, "id", 7);
	e.f[e.nfields++] = (struct imp_field){ .name = "pcs", .kind = IMP_ARRAY, .array = pcs,
					       .len = 3 };
	ASSERT_EQ(imp_event(im, &e), 0);

	e = ct("ctrace:block_begin", 2000, 10, 11);
	add_u(&e, "reason", CTRACE_REASON_SYNC);
	add_u(&e, "call", 1);
	add_u(&e, "object", 0xabc0);
	add_u(&e, "stack", 7);
	ASSERT_EQ(imp_event(im, &e), 0);

	e = ct("ctrace:block_end", 5000, 10, 11);
	add_s(&e, "result", -4);
	ASSERT_EQ(imp_event(im, &e), 0);

	e = ct("ctrace:call_begin", 6000, 10, 10);
	add_u(&e, "call", 18);
	add_s(&e, "fd", -1);
	add_u(&e, "fd_kind", 2);
	add_u(&e, "stack", 0);
	ASSERT_EQ(imp_event(im, &e), 0);

	/* LTTng's own libc wrapper: an allocation, with the vtid context. */
	e = (struct imp_event){ .name = "lttng_ust_libc:malloc", .mono_ns = 6500, .vpid = 10,
				.vtid = 11 };
	add_u(&e, "size", 100);
	add_u(&e, "ptr", 0x5000);
	ASSERT_EQ(imp_event(im, &e), 0);

	/* Unknown providers are counted, not written. */
	e = (struct imp_event){ .name = "myapp:thing", .mono_ns = 6600, .vpid = 10, .vtid = 11 };
	ASSERT_EQ(imp_event(im, &e), 0);
	ASSERT_EQ(imp_event(im, &e), 0);

	ASSERT_EQ(imp_discarded(im, 0, 0, 7000, 42), 0);

	e = ct("ctrace:log", 8000, 10, 10);
	add_u(&e, "task", 0);
	add_u(&e, "category_len", 3);
	add_text(&e, "text", "catmessage");
	ASSERT_EQ(imp_event(im, &e), 0);

	/* A second process. */
	e = ct("ctrace:thread_start", 9000, 20, 21);
	add_u(&e, "parent_tid", 20);
	add_u(&e, "create_id", 1);
	add_u(&e, "flags", 0);
	ASSERT_EQ(imp_event(im, &e), 0);

	struct imp_stats st;
	ASSERT_EQ(imp_finish(im, &st), 0);
	imp_free(im);
	close(fd);
	ASSERT_UEQ(st.events_in, 10);
	ASSERT_UEQ(st.events_out, 8); /* 7 events + the lost record */
	ASSERT_UEQ(st.lost, 42);
	ASSERT_UEQ(st.processes, 2);
	ASSERT_UEQ(st.threads, 3);
	ASSERT_EQ(st.nunknown, 1);
	ASSERT_STREQ(st.unknown[0].name, "myapp:thing");
	ASSERT_UEQ(st.unknown[0].count, 2);

	ctrace_reader *r;
	ASSERT_EQ(ctrace_reader_open(path, &r), 0);
	ctrace_gen *g;
	int n = 0, rc, saw_stack = 0;
	uint64_t seen[CTRACE_EV_COUNT_] = { 0 };
	while ((rc = ctrace_reader_next(r, &g)) == 1) {
		const struct ctrace_event *ev;
		while (ctrace_gen_next_event(g, &ev) == 1) {
			n++;
			seen[ev->type]++;
			switch (ev->type) {
			case CTRACE_EV_THREAD_NAME:
				ASSERT_EQ(ev->tid, 10);
				ASSERT_EQ(ev->time_ns, 1000);
				ASSERT_EQ(ev->blob_len, 10);
				ASSERT_TRUE(memcmp(ev->blob, "mainthread", 10) == 0);
				break;
			case CTRACE_EV_BLOCK_BEGIN: {
				ASSERT_EQ(ev->tid, 11);
				ASSERT_UEQ(ev->args[2], 0xabc0);
				ASSERT_UEQ(ev->args[3], 7);
				const uint32_t *frames;
				ASSERT_EQ(ctrace_gen_stack(g, 7, &frames), 3);
				saw_stack = 1;
				ASSERT_STREQ(ctrace_gen_call(g, ev->args[1])->name, "pthread_mutex_lock");
				break;
			}
			case CTRACE_EV_BLOCK_END:
				ASSERT_EQ((int64_t)ev->args[0], -4);
				ASSERT_EQ(ev->time_ns, 5000);
				break;
			case CTRACE_EV_CALL_BEGIN:
				ASSERT_EQ((int64_t)ev->args[1], -1);
				ASSERT_STREQ(ctrace_gen_call(g, ev->args[0])->name, "read");
				break;
			case CTRACE_EV_ALLOC:
				ASSERT_UEQ(ev->args[1], 0x5000);
				ASSERT_UEQ(ev->args[2], 100);
				ASSERT_STREQ(ctrace_gen_call(g, ev->args[0])->name, "malloc");
				break;
			case CTRACE_EV_LOST:
				ASSERT_UEQ(ev->args[0], 42);
				break;
			case CTRACE_EV_LOG:
				ASSERT_UEQ(ev->args[1], 3);
				ASSERT_EQ(ev->blob_len, 10);
				break;
			case CTRACE_EV_THREAD_START:
				ASSERT_EQ(ev->pid, 20);
				break;
			default:
				CT_FAIL("unexpected event type %u", ev->type);
			}
		}
	}
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(n, 8);
	ASSERT_TRUE(saw_stack);
	ASSERT_UEQ(seen[CTRACE_EV_LOST], 1);
	ctrace_reader_free(r);
	unlink(path);
}

/* Many events: the importer cuts generations, and every event still reads back. */
static void cuts_generations(void)
{
	char p2[] = "/tmp/ctrace-test-import-XXXXXX";
	int fd = mkstemp(p2);
	ASSERT_TRUE(fd >= 0);
	struct imp *im = imp_new(fd);
	/* 10 µs apart: 4 s of trace, cut every second (a cut keeps back its last 250 ms). */
	const uint64_t total = IMP_GEN_EVENTS * 2 + 17;
	for (uint64_t i = 0; i < total; i++) {
		struct imp_event e = ct("ctrace:wake", 1000 + i * 10000, 5, 5 + (uint32_t)(i % 3));
		add_u(&e, "call", 9);
		add_u(&e, "object", i);
		ASSERT_EQ(imp_event(im, &e), 0);
	}
	struct imp_stats st;
	ASSERT_EQ(imp_finish(im, &st), 0);
	imp_free(im);
	close(fd);
	ASSERT_UEQ(st.generations, 5);
	ctrace_reader *r;
	ASSERT_EQ(ctrace_reader_open(p2, &r), 0);
	ctrace_gen *g;
	uint64_t n = 0, next = 0;
	while (ctrace_reader_next(r, &g) == 1) {
		const struct ctrace_event *ev;
		while (ctrace_gen_next_event(g, &ev) == 1) {
			ASSERT_UEQ(ev->args[1], next);
			next++;
			n++;
		}
	}
	ASSERT_UEQ(n, total);
	ctrace_reader_free(r);
	unlink(p2);
}

/*
 * Times are the recorder's ticks, converted with the clock ctrace:generation carries, not
 * LTTng's timestamps; a context switch the writer thread emitted late (with the thread's
 * tid, from the writer's vtid) goes back to its place in the thread.
 */
static void ticks_with_native_clock(void)
{
	char p3[] = "/tmp/ctrace-test-import-XXXXXX";
	int fd = mkstemp(p3);
	ASSERT_TRUE(fd >= 0);
	struct imp *im = imp_new(fd);
	/* ticks = 3 × ns + 900; LTTng stamps each event 700 ns after its tick. */
	static const uint64_t at[] = { 1000, 2000, 5000 };
	static const char *const names[] = { "ctrace:thread_name", "ctrace:call_begin",
					      "ctrace:call_end" };
	for (int i = 0; i < 3; i++) {
		struct imp_event e = ct(names[i], at[i] + 700, 10, 11);
		e.f[2].u = 3 * at[i] + 900;
		if (i == 0) {
			add_u(&e, "named_tid", 0);
			add_text(&e, "name", "worker");
		} else if (i == 1) {
			add_u(&e, "call", 18);
			add_s(&e, "fd", 3);
			add_u(&e, "fd_kind", 2);
			add_u(&e, "stack", 0);
		} else {
			add_s(&e, "result", 1);
			add_u(&e, "err", 0);
			add_u(&e, "stack", 0);
		}
		ASSERT_EQ(imp_event(im, &e), 0);
	}
	/* The writer's: a switch out at 3000 ns, read at 9000 ns, then its clock. */
	struct imp_event e = ct("ctrace:switch_out", 9000, 10, 10);
	e.vtid = 12;
	e.f[1].u = 11;
	e.f[2].u = 3 * 3000 + 900;
	add_u(&e, "cpu", 1);
	add_u(&e, "flags", 0);
	ASSERT_EQ(imp_event(im, &e), 0);
	e = (struct imp_event){ .name = "ctrace:generation", .mono_ns = 9100, .vpid = 10,
				.vtid = 12 };
	add_u(&e, "pid", 10);
	add_u(&e, "tick", 3 * 9000 + 900);
	add_u(&e, "mono_ns", 9000);
	add_u(&e, "real_ns", 9000 + 1700000000000000000);
	add_u(&e, "tick_span", 3000000);
	add_u(&e, "ns_span", 1000000);
	add_text(&e, "context_switches", "perf");
	ASSERT_EQ(imp_event(im, &e), 0);
	struct imp_stats st;
	ASSERT_EQ(imp_finish(im, &st), 0);
	imp_free(im);
	close(fd);
	ASSERT_UEQ(st.events_out, 4);
	ASSERT_UEQ(st.threads, 1);

	ctrace_reader *r;
	ASSERT_EQ(ctrace_reader_open(p3, &r), 0);
	ctrace_gen *g;
	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	ASSERT_STREQ(ctrace_gen_info_value(g, "context_switches"), "perf");
	const struct ctrace_event *ev;
	static const uint8_t types[] = { CTRACE_EV_THREAD_NAME, CTRACE_EV_CALL_BEGIN,
					 CTRACE_EV_SWITCH_OUT, CTRACE_EV_CALL_END };
	static const int64_t times[] = { 1000, 2000, 3000, 5000 };
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
		ASSERT_EQ(ev->type, types[i]);
		ASSERT_EQ(ev->tid, 11);
		ASSERT_EQ(ev->time_ns, times[i]);
	}
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 0);
	ctrace_reader_free(r);
	unlink(p3);
}

/* A context switch of a new thread from just before its thread_start (its perf ring opens
 * as it records thread_start) reads back after thread_start, at its time. */
static void switch_before_start_follows_it(void)
{
	char p4[] = "/tmp/ctrace-test-import-XXXXXX";
	int fd = mkstemp(p4);
	ASSERT_TRUE(fd >= 0);
	struct imp *im = imp_new(fd);
	struct imp_event e = ct("ctrace:thread_start", 2000, 10, 11);
	add_u(&e, "parent_tid", 10);
	add_u(&e, "create_id", 1);
	add_u(&e, "flags", 0);
	ASSERT_EQ(imp_event(im, &e), 0);
	e = ct("ctrace:switch_out", 9000, 10, 11);
	e.f[2].u = 3 * 1500;
	add_u(&e, "cpu", 0);
	add_u(&e, "flags", 1);
	ASSERT_EQ(imp_event(im, &e), 0);
	ASSERT_EQ(imp_finish(im, NULL), 0);
	imp_free(im);
	close(fd);
	ctrace_reader *r;
	ASSERT_EQ(ctrace_reader_open(p4, &r), 0);
	ctrace_gen *g;
	ASSERT_EQ(ctrace_reader_next(r, &g), 1);
	const struct ctrace_event *ev;
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_EQ(ev->type, CTRACE_EV_THREAD_START);
	ASSERT_EQ(ev->time_ns, 2000);
	ASSERT_EQ(ctrace_gen_next_event(g, &ev), 1);
	ASSERT_EQ(ev->type, CTRACE_EV_SWITCH_OUT);
	ASSERT_EQ(ev->time_ns, 2000);
	ctrace_reader_free(r);
	unlink(p4);
}

int main(void)
{
	RUN(maps_every_kind_back);
	RUN(cuts_generations);
	RUN(ticks_with_native_clock);
	RUN(switch_before_start_follows_it);
	return 0;
}
