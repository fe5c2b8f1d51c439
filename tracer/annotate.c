/* User annotations: tasks, regions and logs (ctrace.h). */
#include <string.h>

#include <ctrace/ctrace.h>

#include "internal.h"

static _Atomic unsigned long long next_task = 1;

static inline int user_on(void)
{
	return unlikely(atomic_load_explicit(&ctr_on, memory_order_relaxed)) &&
	       (ctr_g.cfg.classes & CTR_CLASS_USER);
}

static size_t name_len(const char *s)
{
	return s ? strnlen(s, 4096) : 0;
}

CTRACE_API unsigned long long ctrace_task_begin(unsigned long long parent, const char *name)
{
	unsigned long long id = atomic_fetch_add_explicit(&next_task, 1, memory_order_relaxed);
	if (user_on()) {
		uint64_t args[2] = { id, parent };
		ctr_event_blob(CTRACE_EV_TASK_BEGIN, 2, args, name, name_len(name));
	}
	return id;
}

CTRACE_API void ctrace_task_end(unsigned long long task)
{
	if (user_on()) {
		uint64_t args[1] = { task };
		ctr_event(CTRACE_EV_TASK_END, 1, args);
	}
}

CTRACE_API void ctrace_region_begin(unsigned long long task, const char *name)
{
	if (user_on()) {
		uint64_t args[1] = { task };
		ctr_event_blob(CTRACE_EV_REGION_BEGIN, 1, args, name, name_len(name));
	}
}

CTRACE_API void ctrace_region_end(unsigned long long task, const char *name)
{
	if (user_on()) {
		uint64_t args[1] = { task };
		ctr_event_blob(CTRACE_EV_REGION_END, 1, args, name, name_len(name));
	}
}

CTRACE_API void ctrace_log(unsigned long long task, const char *category, const char *message)
{
	if (!user_on())
		return;
	/* category and message travel as one blob; the category's length says where it ends */
	char buf[4096];
	size_t cl = name_len(category), ml = name_len(message);
	if (cl > 256)
		cl = 256;
	if (cl + ml > sizeof(buf))
		ml = sizeof(buf) - cl;
	if (cl)
		memcpy(buf, category, cl);
	if (ml)
		memcpy(buf + cl, message, ml);
	uint64_t args[2] = { task, cl };
	ctr_event_blob(CTRACE_EV_LOG, 2, args, buf, cl + ml);
}
