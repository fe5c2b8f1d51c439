#include <stddef.h>
#include <string.h>

#include "events.h"

CTRACE_API const char *ctrace_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CTR_ERR_TEXT_(name, val, text) \
	case (val):                    \
		return text;
		CTRACE_ERRNO_MAP(CTR_ERR_TEXT_)
#undef CTR_ERR_TEXT_
	default:
		return "unknown error";
	}
}

CTRACE_API const char *ctrace_event_name(uint32_t type)
{
	return type < CTRACE_EV_COUNT_ ? ctr_events[type].name : NULL;
}

CTRACE_API const char *ctrace_reason_name(uint32_t reason)
{
	static const char *const names[] = { "none", "sync", "io", "sleep", "syscall", "memory" };
	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

CTRACE_API const char *ctrace_fd_kind_name(uint32_t kind)
{
	static const char *const names[] = { "unknown", "file", "pipe", "socket",
					     "tty",     "eventfd", "other" };
	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

CTRACE_API const char *ctrace_event_arg_name(uint32_t type, unsigned i, size_t *len)
{
	if (type >= CTRACE_EV_COUNT_ || !ctr_events[type].name || i >= ctr_events[type].nargs)
		return NULL;
	const char *p = ctr_events[type].arg_names;
	for (unsigned k = 0; k < i; k++) {
		p = strchr(p, ',');
		if (!p)
			return NULL;
		p++;
	}
	const char *e = strchr(p, ',');
	*len = e ? (size_t)(e - p) : strlen(p);
	return p;
}
