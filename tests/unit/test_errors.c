/* Every error code has its own text, and unknown codes say so. */
#include <ctrace/error.h>

#include "ctest.h"

static void every_code_has_a_text(void)
{
#define CHECK_(name, val, text)                                               \
	ASSERT_STREQ(ctrace_strerror(val), text);                             \
	ASSERT_TRUE(strcmp(ctrace_strerror(val), "unknown error") != 0);
	CTRACE_ERRNO_MAP(CHECK_)
#undef CHECK_
	for (int e = CTRACE_E_LAST_ + 1; e < 0; e++)
		ASSERT_TRUE(strcmp(ctrace_strerror(e), "unknown error") != 0);
}

static void unknown_codes(void)
{
	ASSERT_STREQ(ctrace_strerror(CTRACE_E_LAST_), "unknown error");
	ASSERT_STREQ(ctrace_strerror(12345), "unknown error");
	ASSERT_STREQ(ctrace_strerror(0), "success");
}

int main(void)
{
	RUN(every_code_has_a_text);
	RUN(unknown_codes);
	return 0;
}
