/*
 * A tiny test harness: asserts that print both values and where they fired, and helpers the
 * integration tests share (running `ctrace record`, reading a trace back).
 */
#ifndef CTEST_H
#define CTEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_FAIL(...)                                                         \
	do {                                                                 \
		fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, __func__); \
		fprintf(stderr, __VA_ARGS__);                                \
		fputc('\n', stderr);                                         \
		exit(1);                                                     \
	} while (0)

#define ASSERT_TRUE(c) \
	do { if (!(c)) CT_FAIL("assertion failed: %s", #c); } while (0)

#define ASSERT_OP_(a, op, b, fmt, type)                                                 \
	do {                                                                            \
		type a_ = (type)(a), b_ = (type)(b);                                    \
		if (!(a_ op b_))                                                        \
			CT_FAIL("%s %s %s: " fmt " vs " fmt, #a, #op, #b, a_, b_);      \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_OP_(a, ==, b, "%" PRId64, int64_t)
#define ASSERT_NE(a, b) ASSERT_OP_(a, !=, b, "%" PRId64, int64_t)
#define ASSERT_LT(a, b) ASSERT_OP_(a, <, b, "%" PRId64, int64_t)
#define ASSERT_LE(a, b) ASSERT_OP_(a, <=, b, "%" PRId64, int64_t)
#define ASSERT_GT(a, b) ASSERT_OP_(a, >, b, "%" PRId64, int64_t)
#define ASSERT_GE(a, b) ASSERT_OP_(a, >=, b, "%" PRId64, int64_t)
#define ASSERT_UEQ(a, b) ASSERT_OP_(a, ==, b, "%" PRIu64, uint64_t)
#define ASSERT_STREQ(a, b)                                                             \
	do {                                                                           \
		const char *a_ = (a), *b_ = (b);                                       \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                 \
			CT_FAIL("%s == %s: \"%s\" vs \"%s\"", #a, #b, a_ ? a_ : "(null)", \
				b_ ? b_ : "(null)");                                   \
	} while (0)

/* Run each test function, printing its name. */
#define RUN(fn)                                      \
	do {                                         \
		fprintf(stderr, "-- %s\n", #fn);     \
		fn();                                \
	} while (0)

/* Skip the whole test program with a reason (meson counts exit 77 as skipped). */
#define SKIP(...)                                        \
	do {                                             \
		fprintf(stderr, "SKIP: ");               \
		fprintf(stderr, __VA_ARGS__);            \
		fputc('\n', stderr);                     \
		exit(77);                                \
	} while (0)

#endif
