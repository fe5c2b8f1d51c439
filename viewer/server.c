/*
 * The viewer's HTTP server: the page (embedded at build time) and a JSON API over the
 * trace's index (format/index.c), as viewer/web/API.md specifies. libmicrohttpd, cJSON.
 * It serves nothing from the filesystem. The index is not thread-safe: requests that use
 * it take one lock.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctrace/trace.h>

#include "params.h"
#include "viewer.h"

struct ctr_viewer {
	ctrace_index *ix;
	const char *file;
	pthread_mutex_t lock;
	struct MHD_Daemon *daemon;
	uint16_t port;
};

/* ---- answers ---- */

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *type,
				  void *data, size_t len, enum MHD_ResponseMemoryMode mode,
				  const char *disposition)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
	if (disposition)
		MHD_add_response_header(r, "Content-Disposition", disposition);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!s)
		return send_bytes(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
				  (void *)"{\"error\":\"out of memory\"}", 25, MHD_RESPMEM_PERSISTENT,
				  NULL);
	return send_bytes(c, status, "application/json; charset=utf-8", s, strlen(s),
			  MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "error", msg);
	return send_json(c, status, j);
}

/* Names come from the traced program and are not checked as UTF-8: make them valid. */
static cJSON *utf8_string(const char *s, size_t len)
{
	char *out = malloc(len * 3 + 1);
	size_t o = 0;
	if (!out)
		return cJSON_CreateString("");
	for (size_t i = 0; i < len;) {
		unsigned char ch = (unsigned char)s[i];
		size_t n = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 0;
		int ok = n && i + n <= len;
		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)s[i + k] >> 6) == 2;
		if (ok && ch) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
		}
	}
	out[o] = 0;
	cJSON *j = cJSON_CreateString(out);
	free(out);
	return j;
}

static void add_text(cJSON *o, const char *key, const char *s)
{
	cJSON_AddItemToObject(o, key, utf8_string(s ? s : "", s ? strlen(s) : 0));
}

static void add_hex(cJSON *o, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	cJSON_AddStringToObject(o, key, buf);
}

static const char *arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static const char *const reason_names[] = { "runqueue", "sync", "io", "sleep", "other" };
static const uint32_t reason_values[] = { CTRACE_REASON_NONE, CTRACE_REASON_SYNC,
					  CTRACE_REASON_IO, CTRACE_REASON_SLEEP,
					  CTRACE_REASON_SYSCALL };

static int wire_reason(uint32_t r)
{
	return r == CTRACE_REASON_SYNC || r == CTRACE_REASON_IO || r == CTRACE_REASON_SLEEP ? (int)r
	       : r ? 4 : 0;
}

/* ---- /api/summary, /api/threads ---- */

static size_t thread_index(const ctrace_model *m, int64_t tid)
{
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++)
		if ((int64_t)ctrace_model_thread(m, i)->tid == tid)
			return i;
	return SIZE_MAX;
}

static enum MHD_Result api_summary(struct ctr_viewer *v, struct MHD_Connection *c)
{
	const ctrace_model *m = ctrace_index_model(v->ix);
	int64_t start, end;
	uint64_t events, lost;
	ctrace_model_window(m, &start, &end);
	ctrace_model_counts(m, &events, &lost);
	cJSON *j = cJSON_CreateObject(), *t = cJSON_AddObjectToObject(j, "trace");
	cJSON_AddNumberToObject(t, "start_ns", (double)start);
	cJSON_AddNumberToObject(t, "end_ns", (double)end);
	cJSON_AddNumberToObject(t, "events", (double)events);
	cJSON_AddNumberToObject(t, "lost", (double)lost);
	cJSON_AddNumberToObject(t, "generations", (double)ctrace_index_generation_count(v->ix));
	add_text(t, "file", v->file);
	cJSON *procs = cJSON_AddArrayToObject(j, "processes");
	uint32_t pid, ppid;
	const char *exe;
	for (size_t i = 0; ctrace_index_process(v->ix, i, &pid, &ppid, &exe); i++) {
		cJSON *p = cJSON_CreateObject();
		cJSON_AddNumberToObject(p, "pid", pid);
		cJSON_AddNumberToObject(p, "ppid", ppid);
		add_text(p, "exe", exe);
		cJSON_AddItemToArray(procs, p);
	}
	cJSON *threads = cJSON_AddArrayToObject(j, "threads");
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++) {
		const struct ctrace_thread_stats *s = ctrace_model_thread(m, i);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", s->pid);
		cJSON_AddNumberToObject(o, "tid", s->tid);
		add_text(o, "name", s->name);
		cJSON_AddNumberToObject(o, "start_ns", (double)(start + s->start_ns));
		cJSON_AddNumberToObject(o, "end_ns", (double)(start + s->start_ns + s->duration_ns));
		cJSON_AddItemToArray(threads, o);
	}
	cJSON *w = cJSON_AddArrayToObject(j, "warnings");
	for (size_t i = 0; i < ctrace_model_warning_count(m); i++)
		cJSON_AddItemToArray(w, utf8_string(ctrace_model_warning(m, i),
						    strlen(ctrace_model_warning(m, i))));
	return send_json(c, MHD_HTTP_OK, j);
}

#define STAT_FIELDS(X)                                                                       \
	X(duration_ns) X(user_ns) X(sys_ns) X(idle_ns) X(wait_ns) X(sync_ns) X(io_ns)       \
	X(sleep_ns) X(other_ns) X(unknown_ns) X(blocks) X(syscalls) X(err_ns) X(sched)      \
	X(allocs) X(alloc_bytes)

static enum MHD_Result api_threads(struct ctr_viewer *v, struct MHD_Connection *c)
{
	const ctrace_model *m = ctrace_index_model(v->ix);
	cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "threads");
	struct ctrace_thread_stats tot = { 0 };
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++) {
		const struct ctrace_thread_stats *s = ctrace_model_thread(m, i);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", s->pid);
		cJSON_AddNumberToObject(o, "tid", s->tid);
		add_text(o, "name", s->name);
		cJSON_AddNumberToObject(o, "start_ns", (double)s->start_ns);
#define ADD_(f) cJSON_AddNumberToObject(o, #f, (double)s->f); tot.f += s->f;
		STAT_FIELDS(ADD_)
#undef ADD_
		cJSON_AddBoolToObject(o, "ended", s->ended);
		cJSON_AddBoolToObject(o, "estimated", s->estimated);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON *t = cJSON_AddObjectToObject(j, "total");
#define ADDT_(f) cJSON_AddNumberToObject(t, #f, (double)tot.f);
	STAT_FIELDS(ADDT_)
#undef ADDT_
	return send_json(c, MHD_HTTP_OK, j);
}

/* ---- /api/timeline ---- */

struct tl {
	cJSON *root, *threads, *calls, *wakes;
	cJSON *cur_spans, *cur_sums;
	uint32_t cur_pid, cur_tid;
	cJSON *by_thread; /* object "pid/tid" -> thread object */
	int ncalls;
	int64_t start, end;
	double px;
	const ctrace_model *model;
	/* tasks, regions, logs: paired here */
	cJSON *tasks, *regions, *logs;
	struct open_item {
		int task; /* 1 task, 0 region */
		uint64_t id;
		uint32_t tid;
		uint64_t parent;
		int64_t begin;
		char name[128];
	} open[512];
	int nopen;
	int omitted_tasks, omitted_regions, omitted_logs;
	struct {
		uint32_t tid;
		int64_t col;
	} last_log[256];
	int nlast;
};

/* The thread of /api/summary's list that had @tid in @pid at @ns (tids can be reused). */
static int thread_at(const ctrace_model *m, uint32_t pid, uint32_t tid, int64_t ns)
{
	int64_t ws, we;
	int any = -1;
	ctrace_model_window(m, &ws, &we);
	for (size_t i = 0; i < ctrace_model_thread_count(m); i++) {
		const struct ctrace_thread_stats *s = ctrace_model_thread(m, i);
		if (s->pid != pid || s->tid != tid)
			continue;
		any = (int)i;
		if (ws + s->start_ns <= ns && ns <= ws + s->start_ns + s->duration_ns)
			return (int)i;
	}
	return any;
}

static cJSON *thread_obj(struct tl *t, uint32_t pid, uint32_t tid, int64_t ns)
{
	char key[32];
	snprintf(key, sizeof(key), "%u/%u", pid, tid);
	cJSON *o = cJSON_GetObjectItemCaseSensitive(t->by_thread, key);
	if (o)
		return o;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "thread", thread_at(t->model, pid, tid, ns));
	cJSON_AddNumberToObject(o, "pid", pid);
	cJSON_AddNumberToObject(o, "tid", tid);
	cJSON_AddArrayToObject(o, "spans");
	cJSON_AddArrayToObject(o, "summaries");
	cJSON_AddItemToArray(t->threads, o);
	cJSON_AddItemReferenceToObject(t->by_thread, key, o);
	return o;
}

static cJSON *numbers(const int64_t *v, int n)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
	return a;
}

static int on_span(void *ud, const struct ctrace_span *s)
{
	struct tl *t = ud;
	cJSON *o = thread_obj(t, s->pid, s->tid, s->begin_ns);
	if (!s->summary) {
		/* the call's name is valid now only: keep our own copy in the answer */
		int ci = -1;
		if (s->call) {
			cJSON *it;
			int k = 0;
			ci = -1;
			cJSON_ArrayForEach(it, t->calls)
			{
				if (strcmp(it->valuestring, s->call) == 0) {
					ci = k;
					break;
				}
				k++;
			}
			if (ci < 0 && t->ncalls < 256) {
				cJSON_AddItemToArray(t->calls, utf8_string(s->call, strlen(s->call)));
				ci = t->ncalls++;
			}
		}
		int64_t v[6] = { s->begin_ns, s->end_ns, s->state, wire_reason(s->reason), ci,
				 s->id ? s->id : 1 };
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(o, "spans"), numbers(v, 6));
	} else {
		int64_t v[12] = { s->begin_ns, s->end_ns, s->mix[0], s->mix[1], s->mix[2],
				  s->mix[3], s->mix[4], s->count, s->wait_mix[0], s->wait_mix[1],
				  s->wait_mix[2], s->wait_mix[3] };
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(o, "summaries"),
				     numbers(v, 12));
	}
	return 0;
}

static int on_wake(void *ud, uint32_t pid, uint32_t waker, int64_t wake_ns, uint32_t tid,
		   int64_t end_ns)
{
	struct tl *t = ud;
	(void)pid;
	if (cJSON_GetArraySize(t->wakes) >= 5000)
		return 0;
	int64_t v[4] = { waker, wake_ns, tid, end_ns };
	cJSON_AddItemToArray(t->wakes, numbers(v, 4));
	return 0;
}

static void emit_item(struct tl *t, const struct open_item *it, int64_t end)
{
	if ((double)(end - it->begin) < t->px || end < t->start || it->begin > t->end) {
		if (it->task)
			t->omitted_tasks++;
		else
			t->omitted_regions++;
		return;
	}
	cJSON *o = cJSON_CreateObject();
	if (it->task) {
		cJSON_AddNumberToObject(o, "id", (double)it->id);
		cJSON_AddNumberToObject(o, "parent", (double)it->parent);
	} else {
		cJSON_AddNumberToObject(o, "task", (double)it->id);
		cJSON_AddNumberToObject(o, "tid", it->tid);
	}
	add_text(o, "name", it->name);
	cJSON_AddNumberToObject(o, "begin_ns", (double)it->begin);
	cJSON_AddNumberToObject(o, "end_ns", (double)end);
	cJSON_AddItemToArray(it->task ? t->tasks : t->regions, o);
}

static int on_event(void *ud, const struct ctrace_event *ev)
{
	struct tl *t = ud;
	char name[128];
	size_t nl = ev->blob_len < sizeof(name) - 1 ? ev->blob_len : sizeof(name) - 1;
	if (ev->blob)
		memcpy(name, ev->blob, nl);
	name[ev->blob ? nl : 0] = 0;
	switch (ev->type) {
	case CTRACE_EV_TASK_BEGIN:
	case CTRACE_EV_REGION_BEGIN:
		if (t->nopen < 512) {
			struct open_item *it = &t->open[t->nopen++];
			it->task = ev->type == CTRACE_EV_TASK_BEGIN;
			it->id = ev->args[0];
			it->parent = it->task ? ev->args[1] : 0;
			it->tid = ev->tid;
			it->begin = ev->time_ns;
			snprintf(it->name, sizeof(it->name), "%s", name);
		}
		break;
	case CTRACE_EV_TASK_END:
	case CTRACE_EV_REGION_END: {
		int task = ev->type == CTRACE_EV_TASK_END;
		for (int i = t->nopen - 1; i >= 0; i--) {
			struct open_item *it = &t->open[i];
			if (it->task != task || it->id != ev->args[0] ||
			    (!task && (it->tid != ev->tid || strcmp(it->name, name) != 0)))
				continue;
			emit_item(t, it, ev->time_ns);
			t->open[i] = t->open[--t->nopen];
			break;
		}
		break;
	}
	case CTRACE_EV_LOG: {
		int64_t col = (int64_t)((double)(ev->time_ns - t->start) / t->px);
		int k;
		for (k = 0; k < t->nlast && t->last_log[k].tid != ev->tid; k++)
			;
		if (k < t->nlast && t->last_log[k].col == col) {
			t->omitted_logs++;
			break;
		}
		if (k == t->nlast && t->nlast < 256)
			t->nlast++;
		if (k < 256) {
			t->last_log[k].tid = ev->tid;
			t->last_log[k].col = col;
		}
		size_t cl = ev->args[1] <= ev->blob_len ? (size_t)ev->args[1] : 0;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "tid", ev->tid);
		cJSON_AddNumberToObject(o, "task", (double)ev->args[0]);
		cJSON_AddNumberToObject(o, "ns", (double)ev->time_ns);
		cJSON_AddItemToObject(o, "category", utf8_string(ev->blob ? ev->blob : "", cl));
		cJSON_AddItemToObject(o, "message", utf8_string(ev->blob ? ev->blob + cl : "",
								 ev->blob ? ev->blob_len - cl : 0));
		cJSON_AddItemToArray(t->logs, o);
		break;
	}
	default:
		break;
	}
	return 0;
}

static enum MHD_Result api_timeline(struct ctr_viewer *v, struct MHD_Connection *c)
{
	int64_t start, end, width;
	const char *why;
	if (ctr_timeline_args(arg(c, "start"), arg(c, "end"), arg(c, "width"), &start, &end,
			      &width, &why) < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, why);
	struct tl *t = calloc(1, sizeof(*t));
	if (!t)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	t->root = cJSON_CreateObject();
	cJSON_AddNumberToObject(t->root, "start", (double)start);
	cJSON_AddNumberToObject(t->root, "end", (double)end);
	cJSON_AddNumberToObject(t->root, "width", (double)width);
	t->threads = cJSON_AddArrayToObject(t->root, "threads");
	t->calls = cJSON_AddArrayToObject(t->root, "calls");
	t->wakes = cJSON_AddArrayToObject(t->root, "wakes");
	t->tasks = cJSON_AddArrayToObject(t->root, "tasks");
	t->regions = cJSON_AddArrayToObject(t->root, "regions");
	t->logs = cJSON_AddArrayToObject(t->root, "logs");
	t->by_thread = cJSON_CreateObject();
	t->start = start;
	t->end = end;
	t->px = (double)(end - start) / (double)width;
	t->model = ctrace_index_model(v->ix);
	struct ctrace_timeline_callbacks cb = { t, on_span, on_wake, on_event };
	pthread_mutex_lock(&v->lock);
	int err = ctrace_index_timeline(v->ix, start, end, (uint32_t)width, &cb);
	int64_t trace_end, trace_start;
	ctrace_index_window(v->ix, &trace_start, &trace_end);
	pthread_mutex_unlock(&v->lock);
	/* Tasks and regions still open end at the trace's end. */
	for (int i = 0; i < t->nopen; i++)
		emit_item(t, &t->open[i], trace_end);
	cJSON *om = cJSON_AddObjectToObject(t->root, "omitted");
	cJSON_AddNumberToObject(om, "tasks", t->omitted_tasks);
	cJSON_AddNumberToObject(om, "regions", t->omitted_regions);
	cJSON_AddNumberToObject(om, "logs", t->omitted_logs);
	cJSON_Delete(t->by_thread);
	cJSON *root = t->root;
	free(t);
	if (err) {
		cJSON_Delete(root);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, ctrace_strerror(err));
	}
	return send_json(c, MHD_HTTP_OK, root);
}

/* ---- /api/interval ---- */

static enum MHD_Result api_interval(struct ctr_viewer *v, struct MHD_Connection *c)
{
	int64_t tid, at;
	const char *why;
	if (ctr_interval_args(arg(c, "tid"), arg(c, "at"), &tid, &at, &why) < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, why);
	const ctrace_model *m = ctrace_index_model(v->ix);
	size_t ti = thread_index(m, tid);
	if (ti == SIZE_MAX)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "no such thread in the trace");
	const struct ctrace_thread_stats *st = ctrace_model_thread(m, ti);
	int64_t ws, we;
	ctrace_model_window(m, &ws, &we);
	/* Outside the thread's life: the nearest moment of it. */
	int64_t first = ws + st->start_ns, last = first + st->duration_ns - 1;
	if (at < first)
		at = first;
	if (at > last)
		at = last;
	struct ctrace_interval iv;
	const char *call;
	struct ctrace_frame frames[128];
	pthread_mutex_lock(&v->lock);
	int err = ctrace_index_interval(v->ix, st->pid, st->tid, at, &iv, &call);
	int depth = err ? 0 : ctrace_index_stack(v->ix, st->pid, iv.stack, frames, 128);
	pthread_mutex_unlock(&v->lock);
	if (err)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "the thread has no interval there");
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "pid", iv.pid);
	cJSON_AddNumberToObject(j, "tid", iv.tid);
	cJSON_AddNumberToObject(j, "id", (double)iv.begin_ns);
	cJSON_AddNumberToObject(j, "begin_ns", (double)iv.begin_ns);
	cJSON_AddNumberToObject(j, "end_ns", (double)iv.end_ns);
	cJSON_AddNumberToObject(j, "state", iv.state);
	cJSON_AddNumberToObject(j, "reason", wire_reason(iv.reason));
	if (call)
		add_text(j, "call", call);
	else
		cJSON_AddNullToObject(j, "call");
	if (iv.object)
		add_hex(j, "object", iv.object);
	else
		cJSON_AddNullToObject(j, "object");
	cJSON_AddNumberToObject(j, "fd", (double)iv.fd);
	if (iv.fd >= 0)
		cJSON_AddStringToObject(j, "fd_kind", ctrace_fd_kind_name(iv.fd_kind));
	else
		cJSON_AddNullToObject(j, "fd_kind");
	cJSON *stack = cJSON_AddArrayToObject(j, "stack");
	for (int i = 0; i < depth; i++) {
		cJSON *f = cJSON_CreateObject();
		add_text(f, "function", frames[i].function);
		add_text(f, "file", frames[i].file);
		cJSON_AddNumberToObject(f, "line", frames[i].line);
		add_hex(f, "pc", frames[i].pc);
		add_text(f, "mapping", frames[i].mapping);
		cJSON_AddItemToArray(stack, f);
	}
	if (iv.waker_tid) {
		cJSON *w = cJSON_AddObjectToObject(j, "waker");
		cJSON_AddNumberToObject(w, "tid", iv.waker_tid);
		cJSON_AddNumberToObject(w, "ns", (double)iv.wake_ns);
	} else {
		cJSON_AddNullToObject(j, "waker");
	}
	return send_json(c, MHD_HTTP_OK, j);
}

/* ---- /api/latency ---- */

static void add_latency(cJSON *o, const struct ctrace_latency *l, uint64_t (*b)[2], size_t nb)
{
	cJSON_AddNumberToObject(o, "count", (double)l->count);
	cJSON_AddNumberToObject(o, "total_ns", (double)l->total_ns);
	cJSON_AddNumberToObject(o, "min_ns", (double)l->min_ns);
	cJSON_AddNumberToObject(o, "p50_ns", (double)l->p50_ns);
	cJSON_AddNumberToObject(o, "p90_ns", (double)l->p90_ns);
	cJSON_AddNumberToObject(o, "p99_ns", (double)l->p99_ns);
	cJSON_AddNumberToObject(o, "max_ns", (double)l->max_ns);
	cJSON *arr = cJSON_AddArrayToObject(o, "buckets");
	for (size_t i = 0; i < nb; i++) {
		int64_t v[2] = { (int64_t)b[i][0], (int64_t)b[i][1] };
		cJSON_AddItemToArray(arr, numbers(v, 2));
	}
}

static enum MHD_Result api_latency(struct ctr_viewer *v, struct MHD_Connection *c)
{
	const ctrace_model *m = ctrace_index_model(v->ix);
	int64_t tid;
	size_t ti = SIZE_MAX;
	const char *why;
	if (ctr_latency_args(arg(c, "tid"), &tid, &why) < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, why);
	if (arg(c, "tid")) {
		ti = thread_index(m, tid);
		if (ti == SIZE_MAX)
			return send_error(c, MHD_HTTP_BAD_REQUEST, "no such thread in the trace");
	}
	static uint64_t buckets[2048][2];
	cJSON *j = cJSON_CreateObject();
	if (ti == SIZE_MAX)
		cJSON_AddNullToObject(j, "tid");
	else
		cJSON_AddNumberToObject(j, "tid", (double)tid);
	cJSON_AddStringToObject(j, "calls_scope", ti == SIZE_MAX ? "thread" : "all");
	cJSON *reasons = cJSON_AddArrayToObject(j, "reasons");
	pthread_mutex_lock(&v->lock);
	for (size_t r = 0; r < 5; r++) {
		struct ctrace_latency l;
		if (ctrace_model_latency(m, ti, reason_values[r], &l) < 0 || !l.count)
			continue;
		size_t nb = ctrace_model_latency_buckets(m, ti, reason_values[r], buckets, 2048);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "reason", reason_names[r]);
		add_latency(o, &l, buckets, nb);
		cJSON_AddItemToArray(reasons, o);
	}
	cJSON *calls = cJSON_AddArrayToObject(j, "calls");
	for (size_t k = 0; k < ctrace_model_call_kind_count(m); k++) {
		struct ctrace_latency l;
		uint32_t reason;
		const char *name = ctrace_model_call_kind(m, k, &reason, &l);
		size_t nb = ctrace_model_call_kind_buckets(m, k, buckets, 2048);
		cJSON *o = cJSON_CreateObject();
		add_text(o, "name", name);
		cJSON_AddStringToObject(o, "reason", reason_names[wire_reason(reason)]);
		add_latency(o, &l, buckets, nb);
		cJSON_AddItemToArray(calls, o);
	}
	pthread_mutex_unlock(&v->lock);
	return send_json(c, MHD_HTTP_OK, j);
}

/* ---- /api/profile, /api/pprof ---- */

static cJSON *child_named(cJSON *node, const char *name)
{
	cJSON *children = cJSON_GetObjectItemCaseSensitive(node, "children"), *it;
	cJSON_ArrayForEach(it, children)
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring, name) == 0)
			return it;
	}
	cJSON *n = cJSON_CreateObject();
	cJSON_AddItemToObject(n, "name", utf8_string(name, strlen(name)));
	cJSON_AddNumberToObject(n, "value", 0);
	cJSON_AddArrayToObject(n, "children");
	cJSON_AddItemToArray(children, n);
	return n;
}

static void add_value(cJSON *node, int64_t v)
{
	cJSON *val = cJSON_GetObjectItemCaseSensitive(node, "value");
	cJSON_SetNumberValue(val, val->valuedouble + (double)v);
}

static int tree_add(void *ud, const struct ctrace_frame *frames, size_t depth, const char *thread,
		    int64_t count, int64_t value)
{
	cJSON *node = ud;
	(void)count;
	add_value(node, value);
	char name[512];
	if (!depth) {
		snprintf(name, sizeof(name), "[thread %s]", thread && *thread ? thread : "?");
		add_value(child_named(node, name), value);
		return 0;
	}
	for (size_t i = depth; i-- > 0;) { /* outermost first */
		const struct ctrace_frame *f = &frames[i];
		if (f->function && f->file)
			snprintf(name, sizeof(name), "%s (%s:%u)", f->function, f->file, f->line);
		else if (f->function)
			snprintf(name, sizeof(name), "%s", f->function);
		else {
			const char *base = f->mapping ? strrchr(f->mapping, '/') : NULL;
			snprintf(name, sizeof(name), "0x%" PRIx64 " (%s)", f->pc,
				 base ? base + 1 : f->mapping ? f->mapping : "?");
		}
		node = child_named(node, name);
		add_value(node, value);
	}
	return 0;
}

static enum MHD_Result api_profile(struct ctr_viewer *v, struct MHD_Connection *c)
{
	enum ctrace_profile_kind kind;
	const char *name, *why;
	if (ctr_profile_type(arg(c, "type"), &kind, &name, &why) < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, why);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", name);
	cJSON_AddStringToObject(j, "unit", kind == CTRACE_PROFILE_ALLOC ? "bytes" : "ns");
	cJSON_AddStringToObject(j, "name", "root");
	cJSON_AddNumberToObject(j, "value", 0);
	cJSON_AddArrayToObject(j, "children");
	pthread_mutex_lock(&v->lock);
	int err = ctrace_model_samples(ctrace_index_model(v->ix), kind, tree_add, j);
	pthread_mutex_unlock(&v->lock);
	if (err) {
		cJSON_Delete(j);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, ctrace_strerror(err));
	}
	return send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result api_pprof(struct ctr_viewer *v, struct MHD_Connection *c)
{
	enum ctrace_profile_kind kind;
	const char *name, *why;
	if (ctr_profile_type(arg(c, "type"), &kind, &name, &why) < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, why);
	uint8_t *buf;
	size_t len;
	pthread_mutex_lock(&v->lock);
	int err = ctrace_model_pprof(ctrace_index_model(v->ix), kind, &buf, &len);
	pthread_mutex_unlock(&v->lock);
	if (err)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, ctrace_strerror(err));
	char disp[96];
	snprintf(disp, sizeof(disp), "attachment; filename=\"ctrace-%s.pb.gz\"", name);
	return send_bytes(c, MHD_HTTP_OK, "application/octet-stream", buf, len,
			  MHD_RESPMEM_MUST_FREE, disp);
}

/* ---- routing ---- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct ctr_viewer *v = cls;
	(void)version;
	(void)upload;
	if (!*state) {
		*state = c;
		if (*upload_size == 0)
			goto answer;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
answer:
	const char *path = NULL;
	switch (ctr_api_route(method, url, &path)) {
	case CTR_API_BAD_METHOD:
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD");
	case CTR_API_SUMMARY:
		return api_summary(v, c);
	case CTR_API_THREADS:
		return api_threads(v, c);
	case CTR_API_TIMELINE:
		return api_timeline(v, c);
	case CTR_API_INTERVAL:
		return api_interval(v, c);
	case CTR_API_LATENCY:
		return api_latency(v, c);
	case CTR_API_PROFILE:
		return api_profile(v, c);
	case CTR_API_PPROF:
		return api_pprof(v, c);
	case CTR_API_UNKNOWN:
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such API");
	case CTR_API_ASSET:
		break;
	}
	const struct ctr_asset *a = ctr_asset_find(path);
	if (!a)
		return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
	return send_bytes(c, MHD_HTTP_OK, a->type, (void *)a->data, a->len, MHD_RESPMEM_PERSISTENT,
			  NULL);
}

struct ctr_viewer *ctr_viewer_start(ctrace_index *ix, const char *file,
				    const struct sockaddr *addr, char *err, size_t errlen)
{
	struct ctr_viewer *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->ix = ix;
	v->file = file;
	pthread_mutex_init(&v->lock, NULL);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	v->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, v, MHD_OPTION_SOCK_ADDR, addr,
				     MHD_OPTION_CONNECTION_LIMIT, 64u,
				     MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
				     MHD_OPTION_END);
	if (!v->daemon) {
		snprintf(err, errlen, "cannot listen: %s", errno ? strerror(errno) : "address in use?");
		free(v);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(v->daemon, MHD_DAEMON_INFO_BIND_PORT);
	v->port = di ? di->port : 0;
	return v;
}

uint16_t ctr_viewer_port(const struct ctr_viewer *v)
{
	return v->port;
}

void ctr_viewer_stop(struct ctr_viewer *v)
{
	if (!v)
		return;
	MHD_stop_daemon(v->daemon);
	pthread_mutex_destroy(&v->lock);
	free(v);
}
