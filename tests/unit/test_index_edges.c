/*
 * ctrace_index_timeline and ctrace_index_interval through the public API with extreme
 * times: INT64_MIN and INT64_MAX, empty and reversed ranges, widths at and past the
 * limits. Each call must answer 0 or CTRACE_EINVAL, and what it answers must be spans
 * inside the range; never a crash, and (in the UBSan build) never a signed overflow.
 *
 * Both once overflowed (caught by UBSan here): a range whose length does not fit in int64
 * (end - start) and an interval at INT64_MAX (at + 1); the index now bounds query times to
 * the model's +-(2^62 - 1) ns first.
 * Runs in tests/ (it reads data/good/multi_process.ctrace).
 */
#include <ctrace/trace.h>
#include <stdint.h>
#include <stdio.h>

#include "ctest.h"

static ctrace_index *ix;

struct seen {
	int64_t start, end;
	long spans;
	int64_t min_begin, max_end;
};

static int on_span(void *ud, const struct ctrace_span *s)
{
	struct seen *v = ud;
	v->spans++;
	if (s->begin_ns < v->min_begin)
		v->min_begin = s->begin_ns;
	if (s->end_ns > v->max_end)
		v->max_end = s->end_ns;
	ASSERT_LE(s->begin_ns, s->end_ns);
	return 0;
}

/* A timeline of [start, end) at @width: @return its result; spans are checked. */
static int timeline(int64_t start, int64_t end, uint32_t width, long *spans)
{
	struct seen v = { start, end, 0, INT64_MAX, INT64_MIN };
	struct ctrace_timeline_callbacks cb = { .userdata = &v, .span = on_span };
	int err = ctrace_index_timeline(ix, start, end, width, &cb);
	if (err != 0 && err != CTRACE_EINVAL)
		CT_FAIL("timeline [%lld, %lld) at %u: %s", (long long)start, (long long)end,
			width, ctrace_strerror(err));
	if (err == 0 && v.spans) {
		/* A span may begin before the range (an interval running into it), never end
		 * before it begins nor begin after it ends. */
		ASSERT_GE(v.max_end, start);
		ASSERT_LE(v.min_begin, end);
	}
	if (spans)
		*spans = v.spans;
	return err;
}

static void reversed_and_empty_ranges_are_refused(void)
{
	ASSERT_EQ(timeline(10, 5, 100, NULL), CTRACE_EINVAL);
	ASSERT_EQ(timeline(5, 5, 100, NULL), CTRACE_EINVAL);
	ASSERT_EQ(timeline(INT64_MAX, INT64_MIN, 100, NULL), CTRACE_EINVAL);
	ASSERT_EQ(timeline(INT64_MAX, INT64_MAX, 100, NULL), CTRACE_EINVAL);
	ASSERT_EQ(timeline(INT64_MIN, INT64_MIN, 100, NULL), CTRACE_EINVAL);
}

static void bad_widths_are_refused(void)
{
	int64_t s, e;
	ctrace_index_window(ix, &s, &e);
	ASSERT_EQ(timeline(s, e, 0, NULL), CTRACE_EINVAL);
	ASSERT_EQ(timeline(s, e, UINT32_MAX, NULL), CTRACE_EINVAL);
}

static void the_window_itself_has_spans(void)
{
	int64_t s, e;
	long spans;
	ctrace_index_window(ix, &s, &e);
	ASSERT_LT(s, e);
	ASSERT_EQ(timeline(s, e, 1000, &spans), 0);
	ASSERT_GT(spans, 0);
}

/* The whole int64 line, and ranges that touch either end of it. */
static void extreme_ranges_answer_or_refuse(void)
{
	const int64_t ends[][2] = {
		{ INT64_MIN, INT64_MAX },     { INT64_MIN, 0 },
		{ 0, INT64_MAX },             { INT64_MIN, INT64_MIN + 1 },
		{ INT64_MAX - 1, INT64_MAX }, { -1, INT64_MAX },
		{ INT64_MIN, -1 },            { INT64_MIN + 1, INT64_MAX - 1 },
	};
	const uint32_t widths[] = { 1, 1000, 16384 };
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
			long spans;
			int err = timeline(ends[i][0], ends[i][1], widths[w], &spans);
			fprintf(stderr, "  [%lld, %lld) at %u: %s, %ld spans\n",
				(long long)ends[i][0], (long long)ends[i][1], widths[w],
				err ? "EINVAL" : "0", spans);
		}
}

static void intervals_at_the_ends_of_time(void)
{
	const int64_t at[] = { INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX };
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		struct ctrace_interval iv;
		const char *call;
		int err = ctrace_index_interval(ix, 1, 1, at[i], &iv, &call);
		if (err != 0 && err != CTRACE_EINVAL)
			CT_FAIL("interval at %lld: %s", (long long)at[i], ctrace_strerror(err));
	}
}

int main(void)
{
	char err[256];
	const char *path = "data/good/multi_process.ctrace";
	if (ctrace_index_open(path, NULL, &ix, err, sizeof(err)) != 0)
		CT_FAIL("cannot index %s: %s", path, err);
	RUN(reversed_and_empty_ranges_are_refused);
	RUN(bad_widths_are_refused);
	RUN(the_window_itself_has_spans);
	RUN(extreme_ranges_answer_or_refuse);
	RUN(intervals_at_the_ends_of_time);
	ctrace_index_free(ix);
	return 0;
}
