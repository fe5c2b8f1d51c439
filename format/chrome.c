/*
 * Chrome trace event JSON (what Perfetto UI and chrome://tracing open), streamed while the
 * model is built: nothing of the output is held in memory but a small write buffer.
 *
 *   thread and process names   metadata events (ph M)
 *   state intervals            complete events (ph X) per thread, category state.REASON
 *   tasks and regions          async slices (ph b/e), one track per task
 *   logs                       instant events (ph i)
 *   wake-ups                   flow events (ph s/f) from the waker to the woken thread
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

struct chrome {
	ctrace_write_fn write;
	void *ud;
	char buf[65536];
	size_t len;
	int err;
	int first;
	int64_t start_ns;
	uint64_t flow_id;
	uint32_t *pids_named;
	size_t npids_named;
	const struct ctrace_model_callbacks *progress;
};

static void flush(struct chrome *c)
{
	if (c->len && !c->err && c->write(c->ud, c->buf, c->len) != 0)
		c->err = CTRACE_EIO;
	c->len = 0;
}

static void put(struct chrome *c, const char *s, size_t n)
{
	if (c->len + n > sizeof(c->buf))
		flush(c);
	if (n > sizeof(c->buf)) {
		if (!c->err && c->write(c->ud, s, n) != 0)
			c->err = CTRACE_EIO;
		return;
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
}

static void putf(struct chrome *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct chrome *c, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(c, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string of @len bytes (any bytes: control characters and quotes escaped). */
static void put_str(struct chrome *c, const char *s, size_t len)
{
	put(c, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			char e[2] = { '\\', (char)ch };
			put(c, e, 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			putf(c, "\\u%04x", ch);
		} else {
			put(c, (const char *)&ch, 1);
		}
	}
	put(c, "\"", 1);
}

static void begin_event(struct chrome *c)
{
	put(c, c->first ? "\n" : ",\n", c->first ? 1 : 2);
	c->first = 0;
}

/* Microseconds from the trace start, with ns precision. */
static void put_ts(struct chrome *c, const char *key, int64_t ns)
{
	int64_t rel;
	if (__builtin_sub_overflow(ns, c->start_ns, &rel)) /* hostile times: saturate */
		rel = ns < 0 ? INT64_MIN : INT64_MAX;
	const char *sign = rel < 0 ? "-" : "";
	uint64_t a = rel < 0 ? -(uint64_t)rel : (uint64_t)rel;
	putf(c, ",\"%s\":%s%" PRIu64 ".%03" PRIu64, key, sign, a / 1000, a % 1000);
}

static int on_interval(void *ud, const struct ctrace_interval *iv)
{
	struct chrome *c = ud;
	begin_event(c);
	put(c, "{\"name\":", 8);
	char name[160];
	const char *st = ctrace_state_name(iv->state);
	if (iv->call)
		snprintf(name, sizeof(name), "%s: %s", st, iv->call);
	else
		snprintf(name, sizeof(name), "%s", st);
	put_str(c, name, strlen(name));
	if (iv->state == CTRACE_STATE_WAIT)
		putf(c, ",\"cat\":\"state.%s\"",
		     iv->reason == CTRACE_REASON_SYSCALL ? "other" : ctrace_reason_name(iv->reason));
	else
		putf(c, ",\"cat\":\"state.%s\"", st);
	putf(c, ",\"ph\":\"X\",\"pid\":%u,\"tid\":%u", iv->pid, iv->tid);
	put_ts(c, "ts", iv->begin_ns);
	int64_t d = iv->end_ns - iv->begin_ns;
	putf(c, ",\"dur\":%" PRId64 ".%03" PRId64, d / 1000, d % 1000);
	putf(c, ",\"args\":{\"state\":\"%s\"", st);
	if (iv->object)
		putf(c, ",\"object\":\"0x%" PRIx64 "\"", iv->object);
	if (iv->fd >= 0)
		putf(c, ",\"fd\":%" PRId64 ",\"fd_kind\":\"%s\"", iv->fd, ctrace_fd_kind_name(iv->fd_kind));
	if (iv->waker_tid)
		putf(c, ",\"woken_by\":%u", iv->waker_tid);
	put(c, "}}", 2);
	if (iv->waker_tid) {
		/* An arrow from the waker, at the wake, to the end of this wait. */
		uint64_t id = ++c->flow_id;
		begin_event(c);
		putf(c, "{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"s\",\"id\":%" PRIu64
			",\"pid\":%u,\"tid\":%u", id, iv->pid, iv->waker_tid);
		put_ts(c, "ts", iv->wake_ns);
		put(c, "}", 1);
		begin_event(c);
		putf(c, "{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"f\",\"bp\":\"e\",\"id\":%" PRIu64
			",\"pid\":%u,\"tid\":%u", id, iv->pid, iv->tid);
		put_ts(c, "ts", iv->end_ns);
		put(c, "}", 1);
	}
	if (c->len > sizeof(c->buf) / 2)
		flush(c);
	return c->err;
}

static void process_name(struct chrome *c, const ctrace_gen *g)
{
	const struct ctrace_process *p = ctrace_gen_process(g);
	for (size_t i = 0; i < c->npids_named; i++)
		if (c->pids_named[i] == p->pid)
			return;
	uint32_t *n = realloc(c->pids_named, (c->npids_named + 1) * sizeof(*n));
	if (!n)
		return;
	c->pids_named = n;
	n[c->npids_named++] = p->pid;
	begin_event(c);
	putf(c, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%u,\"args\":{\"name\":", p->pid);
	const char *exe = p->exe && *p->exe ? p->exe : "?";
	const char *base = strrchr(exe, '/');
	char label[300];
	snprintf(label, sizeof(label), "%s (%u)", base ? base + 1 : exe, p->pid);
	put_str(c, label, strlen(label));
	put(c, "}}", 2);
}

static int on_event(void *ud, const ctrace_gen *g, const struct ctrace_event *ev)
{
	struct chrome *c = ud;
	process_name(c, g);
	switch (ev->type) {
	case CTRACE_EV_THREAD_NAME: {
		uint32_t tid = ev->args[0] ? (uint32_t)ev->args[0] : ev->tid;
		begin_event(c);
		putf(c, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":",
		     ev->pid, tid);
		put_str(c, ev->blob ? ev->blob : "", ev->blob_len);
		put(c, "}}", 2);
		break;
	}
	case CTRACE_EV_TASK_BEGIN:
	case CTRACE_EV_TASK_END:
	case CTRACE_EV_REGION_BEGIN:
	case CTRACE_EV_REGION_END: {
		int task = ev->type == CTRACE_EV_TASK_BEGIN || ev->type == CTRACE_EV_TASK_END;
		int begin = ev->type == CTRACE_EV_TASK_BEGIN || ev->type == CTRACE_EV_REGION_BEGIN;
		begin_event(c);
		put(c, "{\"name\":", 8);
		if (task && !begin)
			put_str(c, "task", 4);
		else
			put_str(c, ev->blob ? ev->blob : "", ev->blob_len);
		/* Tasks nest by id; regions of a task share its track, on their thread. */
		putf(c, ",\"cat\":\"%s\",\"ph\":\"%s\",\"id2\":{\"local\":\"0x%" PRIx64 "\"}"
			",\"pid\":%u,\"tid\":%u",
		     task ? "task" : "region", begin ? "b" : "e", ev->args[0], ev->pid, ev->tid);
		put_ts(c, "ts", ev->time_ns);
		if (ev->type == CTRACE_EV_TASK_BEGIN)
			putf(c, ",\"args\":{\"parent\":%" PRIu64 "}", ev->args[1]);
		put(c, "}", 1);
		break;
	}
	case CTRACE_EV_LOG: {
		size_t cl = ev->args[1] <= ev->blob_len ? (size_t)ev->args[1] : 0;
		begin_event(c);
		put(c, "{\"name\":", 8);
		put_str(c, ev->blob ? ev->blob + cl : "", ev->blob ? ev->blob_len - cl : 0);
		putf(c, ",\"cat\":\"log\",\"ph\":\"i\",\"s\":\"t\",\"pid\":%u,\"tid\":%u", ev->pid,
		     ev->tid);
		put_ts(c, "ts", ev->time_ns);
		put(c, ",\"args\":{\"category\":", 21);
		put_str(c, ev->blob ? ev->blob : "", cl);
		putf(c, ",\"task\":%" PRIu64 "}}", ev->args[0]);
		break;
	}
	default:
		break;
	}
	return c->err;
}

static void chrome_progress(void *ud, uint64_t done, uint64_t total)
{
	const struct chrome *c = ud;
	c->progress->progress(c->progress->userdata, done, total);
}

CTRACE_API int ctrace_export_chrome(ctrace_reader *r, ctrace_write_fn write, void *userdata,
				    const struct ctrace_model_callbacks *progress,
				    ctrace_model **model)
{
	struct chrome *c = calloc(1, sizeof(*c));
	ctrace_model *m = NULL;
	if (!c)
		return CTRACE_ENOMEM;
	c->write = write;
	c->ud = userdata;
	c->first = 1;
	c->start_ns = ctrace_reader_start_ns(r);
	put(c, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 39);
	struct ctrace_model_callbacks cb = { c, on_interval, on_event, NULL };
	if (progress && progress->progress) {
		/* The model gives one userdata to all callbacks: the progress one reaches the
		 * caller's through this export's state. */
		c->progress = progress;
		cb.progress = chrome_progress;
	}
	int err = ctrace_model_build(r, &cb, &m);
	put(c, "\n]}\n", 4);
	flush(c);
	if (!err && c->err)
		err = c->err;
	if (model && !err)
		*model = m;
	else
		ctrace_model_free(m);
	free(c->pids_named);
	free(c);
	return err;
}
