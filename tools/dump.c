/* ctrace dump: every event of a trace as one line, like babeltrace2 does for CTF. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ctrace/trace.h>

#include "tools.h"

static void print_blob(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_arg(const ctrace_gen *g, const struct ctrace_event *ev, unsigned i,
		      const char *name, size_t nlen)
{
	uint64_t v = ev->args[i];
	printf(" %.*s=", (int)nlen, name);
	if (nlen == 4 && memcmp(name, "call", 4) == 0) {
		const struct ctrace_call *c = ctrace_gen_call(g, v);
		if (c && c->name)
			printf("%s", c->name);
		else
			printf("#%" PRIu64, v);
	} else if (nlen == 6 && memcmp(name, "reason", 6) == 0) {
		printf("%s", ctrace_reason_name((uint32_t)v));
	} else if (nlen == 7 && memcmp(name, "fd_kind", 7) == 0) {
		printf("%s", ctrace_fd_kind_name((uint32_t)v));
	} else if ((nlen == 6 && memcmp(name, "object", 6) == 0) ||
		   (nlen == 7 && memcmp(name, "address", 7) == 0)) {
		printf("0x%" PRIx64, v);
	} else if ((nlen == 6 && memcmp(name, "result", 6) == 0) ||
		   (nlen == 2 && memcmp(name, "fd", 2) == 0)) {
		printf("%" PRId64, (int64_t)v);
	} else {
		printf("%" PRIu64, v);
	}
}

/* The argument position of an event's stack id, or -1. */
static int stack_arg(uint32_t type)
{
	for (unsigned i = 0;; i++) {
		size_t len;
		const char *n = ctrace_event_arg_name(type, i, &len);
		if (!n)
			return -1;
		if (len == 5 && memcmp(n, "stack", 5) == 0)
			return (int)i;
	}
}

static void print_stack(const ctrace_gen *g, uint64_t id)
{
	const uint32_t *frames;
	int depth = ctrace_gen_stack(g, id, &frames);
	for (int i = 0; i < depth; i++) {
		const struct ctrace_frame *f = ctrace_gen_frame(g, frames[i]);
		if (!f)
			continue;
		printf("        at 0x%" PRIx64 " %s", f->pc, f->function ? f->function : "?");
		if (f->file)
			printf(" (%s:%u)", f->file, f->line);
		else if (f->mapping)
			printf(" (%s)", f->mapping);
		putchar('\n');
	}
}

static void print_event(const ctrace_gen *g, const struct ctrace_event *ev, int64_t start,
			int stacks)
{
	const char *name = ctrace_event_name(ev->type);
	printf("%12" PRId64 " %u %u ", ev->time_ns - start, ev->pid, ev->tid);
	if (name)
		printf("%s", name);
	else
		printf("event#%u", ev->type);
	for (unsigned i = 0; i < ev->nargs && i < CTRACE_EVENT_MAX_ARGS; i++) {
		size_t nlen;
		const char *an = ctrace_event_arg_name(ev->type, i, &nlen);
		if (an) {
			print_arg(g, ev, i, an, nlen);
		} else {
			char tmp[16];
			int n = snprintf(tmp, sizeof(tmp), "arg%u", i);
			print_arg(g, ev, i, tmp, (size_t)n);
		}
	}
	if (ev->blob) {
		if (ev->type == CTRACE_EV_LOG && ev->args[1] <= ev->blob_len) {
			size_t cl = (size_t)ev->args[1];
			printf(" category=");
			print_blob(ev->blob, cl);
			printf(" message=");
			print_blob(ev->blob + cl, ev->blob_len - cl);
		} else {
			printf(" %s=", ev->type == CTRACE_EV_EXEC ? "path" : "name");
			print_blob(ev->blob, ev->blob_len);
		}
	}
	putchar('\n');
	int sa = stacks ? stack_arg(ev->type) : -1;
	if (sa >= 0 && (unsigned)sa < ev->nargs && ev->args[sa])
		print_stack(g, ev->args[sa]);
}

int cmd_dump(int argc, char **argv)
{
	const char *path = NULL;
	int gens = 0, stacks = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--generations") == 0 || strcmp(argv[i], "-g") == 0)
			gens = 1;
		else if (strcmp(argv[i], "--stacks") == 0 || strcmp(argv[i], "-s") == 0)
			stacks = 1;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: ctrace dump [--generations] [--stacks] FILE\n");
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			tool_error("dump", "unknown option '%s' (usage: ctrace dump [--generations] [--stacks] FILE)",
				   argv[i]);
			return 2;
		} else if (path) {
			tool_error("dump", "one trace file at a time (usage: ctrace dump [--generations] [--stacks] FILE)");
			return 2;
		} else
			path = argv[i];
	}
	if (!path) {
		tool_error("dump", "no trace file given (usage: ctrace dump [--generations] [--stacks] FILE)");
		return 2;
	}

	ctrace_reader *r;
	int err = ctrace_reader_open(path, &r);
	if (err) {
		tool_error("dump", "%s", r ? ctrace_reader_errmsg(r) : ctrace_strerror(err));
		ctrace_reader_free(r);
		return 1;
	}
	int64_t start = ctrace_reader_start_ns(r);
	ctrace_gen *g;
	int n;
	while ((n = ctrace_reader_next(r, &g)) == 1) {
		if (gens) {
			const struct ctrace_gen_info *gi = ctrace_gen_header(g);
			const struct ctrace_process *p = ctrace_gen_process(g);
			printf("# generation %u of pid %u (%s) at byte %" PRIu64 ": %" PRIu64
			       " events, %u threads, %" PRIu64 " -> %" PRIu64 " bytes%s\n",
			       gi->seq, gi->pid, p->exe, gi->offset, gi->events, gi->threads,
			       gi->content_size, gi->compressed_size,
			       gi->flags & CTRACE_GEN_LAST ? ", last" : "");
		}
		const struct ctrace_event *ev;
		while ((n = ctrace_gen_next_event(g, &ev)) == 1)
			print_event(g, ev, start, stacks);
		if (n < 0)
			break;
	}
	fflush(stdout);
	if (n < 0) {
		tool_error("dump", "%s", ctrace_reader_errmsg(r));
		ctrace_reader_free(r);
		return 1;
	}
	ctrace_reader_free(r);
	return 0;
}
