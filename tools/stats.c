/*
 * ctrace stats: the per-thread table of the model (format/model.c), as a table, CSV or
 * JSON, or the latency distributions with --latency. No analysis of its own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "tools.h"

static const char stats_usage[] =
	"usage: ctrace stats [--sort=COL] [--top=N] [--pid=P] [--tid=T] "
	"[--format=table|csv|json] [--latency] [--jobs=N] FILE";

enum col_kind { C_NAME, C_INT, C_NS, C_TIME };

struct column {
	const char *title; /* table and CSV header */
	const char *key;   /* JSON key */
	enum col_kind kind;
	size_t off;        /* in struct ctrace_thread_stats */
	int width;
};

#define F(field) offsetof(struct ctrace_thread_stats, field)
/* The design card's columns first: Start, Duration, Idle, Sys, Blocks, Wait, IO. */
static const struct column cols[] = {
	{ "PID", "pid", C_INT, F(pid), 7 },
	{ "TID", "tid", C_INT, F(tid), 7 },
	{ "Name", "name", C_NAME, F(name), 16 },
	{ "Start", "start_ns", C_TIME, F(start_ns), 9 },
	{ "Duration", "duration_ns", C_NS, F(duration_ns), 9 },
	{ "Idle", "idle_ns", C_NS, F(idle_ns), 9 },
	{ "Sys", "sys_ns", C_NS, F(sys_ns), 9 },
	{ "Blocks", "blocks", C_INT, F(blocks), 7 },
	{ "Wait", "wait_ns", C_NS, F(wait_ns), 9 },
	{ "IO", "io_ns", C_NS, F(io_ns), 9 },
	{ "User", "user_ns", C_NS, F(user_ns), 9 },
	{ "Sync", "sync_ns", C_NS, F(sync_ns), 9 },
	{ "Sleep", "sleep_ns", C_NS, F(sleep_ns), 9 },
	{ "Other", "other_ns", C_NS, F(other_ns), 9 },
	{ "Unknown", "unknown_ns", C_NS, F(unknown_ns), 9 },
	{ "Syscalls", "syscalls", C_INT, F(syscalls), 8 },
	{ "Err", "err_ns", C_NS, F(err_ns), 9 },
	{ "Sched", "sched", C_INT, F(sched), 6 },
	{ "Allocs", "allocs", C_INT, F(allocs), 8 },
	{ "AllocBytes", "alloc_bytes", C_INT, F(alloc_bytes), 10 },
};
#undef F
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static int64_t num(const struct ctrace_thread_stats *st, const struct column *c)
{
	const char *p = (const char *)st + c->off;
	switch (c->off) {
	case offsetof(struct ctrace_thread_stats, pid):
	case offsetof(struct ctrace_thread_stats, tid):
		return *(const uint32_t *)p;
	default:
		return *(const int64_t *)p; /* int64_t and uint64_t fields alike */
	}
}

/* "1.23s", "456µs", "12.3ms", "789ns" */
static void human_ns(char *buf, size_t size, int64_t ns)
{
	double v = (double)ns;
	if (ns < 1000 && ns > -1000)
		snprintf(buf, size, "%" PRId64 "ns", ns);
	else if (ns < 1000000 && ns > -1000000)
		snprintf(buf, size, "%.3gµs", v / 1e3);
	else if (ns < 1000000000 && ns > -1000000000)
		snprintf(buf, size, "%.3gms", v / 1e6);
	else
		snprintf(buf, size, "%.3gs", v / 1e9);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void csv_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

struct options {
	const char *path;
	const struct column *sort;
	long top;
	long pid, tid;
	enum { OUT_TABLE, OUT_CSV, OUT_JSON } format;
	int latency;
	unsigned jobs;
};

static const struct ctrace_thread_stats **sorted;
static const struct column *sort_col;

static int cmp_rows(const void *a, const void *b)
{
	const struct ctrace_thread_stats *x = *(const struct ctrace_thread_stats *const *)a;
	const struct ctrace_thread_stats *y = *(const struct ctrace_thread_stats *const *)b;
	if (sort_col->kind == C_NAME)
		return strcmp(x->name, y->name);
	int64_t u = num(x, sort_col), v = num(y, sort_col);
	/* Names of things and their order ascend; amounts descend, biggest first. */
	int asc = sort_col->kind == C_TIME || sort_col->off == offsetof(struct ctrace_thread_stats, pid) ||
		  sort_col->off == offsetof(struct ctrace_thread_stats, tid);
	if (u == v)
		return 0;
	return (u < v) == asc ? -1 : 1;
}

static void add_totals(struct ctrace_thread_stats *t, const struct ctrace_thread_stats *s)
{
	for (size_t c = 0; c < NCOLS; c++) {
		if (cols[c].kind == C_NAME || cols[c].kind == C_TIME || c < 2)
			continue;
		*(int64_t *)((char *)t + cols[c].off) += num(s, &cols[c]);
	}
}

static void print_table(const struct ctrace_thread_stats *const *rows, size_t n,
			const struct ctrace_thread_stats *total)
{
	for (size_t c = 0; c < NCOLS; c++)
		printf(c == 2 ? "%-*s " : "%*s ", cols[c].width, cols[c].title);
	putchar('\n');
	for (size_t i = 0; i <= n; i++) {
		const struct ctrace_thread_stats *st = i < n ? rows[i] : total;
		for (size_t c = 0; c < NCOLS; c++) {
			char buf[64];
			const struct column *col = &cols[c];
			if (i == n && (c < 2 || col->kind == C_TIME)) {
				printf("%*s ", col->width, "");
				continue;
			}
			switch (col->kind) {
			case C_NAME:
				printf("%-*.*s ", col->width, col->width, i < n ? st->name : "TOTAL");
				continue;
			case C_INT:
				snprintf(buf, sizeof(buf), "%" PRId64, num(st, col));
				break;
			case C_NS:
			case C_TIME:
				human_ns(buf, sizeof(buf), num(st, col));
				break;
			}
			/* "µ" is two bytes but one column */
			int extra = strstr(buf, "µ") ? 1 : 0;
			printf("%*s ", col->width + extra, buf);
		}
		putchar('\n');
	}
}

static void print_csv(const struct ctrace_thread_stats *const *rows, size_t n)
{
	for (size_t c = 0; c < NCOLS; c++)
		printf("%s%s", c ? "," : "", cols[c].key);
	putchar('\n');
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < NCOLS; c++) {
			if (c)
				putchar(',');
			if (cols[c].kind == C_NAME)
				csv_string(stdout, rows[i]->name);
			else
				printf("%" PRId64, num(rows[i], &cols[c]));
		}
		putchar('\n');
	}
}

static void json_thread(const struct ctrace_thread_stats *st, int total)
{
	printf("{");
	int first = 1;
	for (size_t c = 0; c < NCOLS; c++) {
		if (total && (c < 3 || cols[c].kind == C_TIME))
			continue;
		printf("%s\"%s\":", first ? "" : ",", cols[c].key);
		first = 0;
		if (cols[c].kind == C_NAME)
			json_string(stdout, st->name);
		else
			printf("%" PRId64, num(st, &cols[c]));
	}
	if (!total)
		printf(",\"ended\":%s,\"estimated\":%s", st->ended ? "true" : "false",
		       st->estimated ? "true" : "false");
	printf("}");
}

static void print_json(const ctrace_model *m, const struct ctrace_thread_stats *const *rows,
		       size_t n, const struct ctrace_thread_stats *total)
{
	int64_t start, end;
	uint64_t events, lost;
	ctrace_model_window(m, &start, &end);
	ctrace_model_counts(m, &events, &lost);
	printf("{\"trace\":{\"start_ns\":%" PRId64 ",\"duration_ns\":%" PRId64
	       ",\"events\":%" PRIu64 ",\"lost\":%" PRIu64 "},\n\"warnings\":[",
	       start, end - start, events, lost);
	for (size_t i = 0; i < ctrace_model_warning_count(m); i++) {
		printf(i ? "," : "");
		json_string(stdout, ctrace_model_warning(m, i));
	}
	printf("],\n\"threads\":[\n");
	for (size_t i = 0; i < n; i++) {
		json_thread(rows[i], 0);
		printf(i + 1 < n ? ",\n" : "\n");
	}
	printf("],\n\"total\":");
	json_thread(total, 1);
	printf("}\n");
}

static void latency_row(const char *who, const char *what, const struct ctrace_latency *l)
{
	char v[7][32];
	int64_t vals[6] = { l->total_ns, l->min_ns, l->p50_ns, l->p90_ns, l->p99_ns, l->max_ns };
	for (int i = 0; i < 6; i++)
		human_ns(v[i], sizeof(v[i]), vals[i]);
	printf("%-24.24s %-28.28s %8" PRIu64, who, what, l->count);
	for (int i = 0; i < 6; i++)
		printf(" %*s", 9 + (strstr(v[i], "µ") ? 1 : 0), v[i]);
	putchar('\n');
}

static void print_latency(const ctrace_model *m, const struct ctrace_thread_stats *const *rows,
			  size_t n)
{
	static const uint32_t reasons[] = { CTRACE_REASON_NONE, CTRACE_REASON_SYNC,
					    CTRACE_REASON_IO, CTRACE_REASON_SLEEP,
					    CTRACE_REASON_SYSCALL };
	static const char *const rname[] = { "run queue", "sync", "io", "sleep", "other" };
	printf("%-24s %-28s %8s %9s %9s %9s %9s %9s %9s\n", "thread", "episodes", "count",
	       "total", "min", "p50", "p90", "p99", "max");
	for (size_t i = 0; i < n; i++) {
		size_t idx;
		for (idx = 0; idx < ctrace_model_thread_count(m); idx++)
			if (ctrace_model_thread(m, idx) == rows[i])
				break;
		char who[64];
		snprintf(who, sizeof(who), "%u %s", rows[i]->tid, rows[i]->name);
		for (size_t r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++) {
			struct ctrace_latency l;
			if (ctrace_model_latency(m, idx, reasons[r], &l) == 0 && l.count)
				latency_row(who, rname[r], &l);
		}
	}
	printf("\n%-24s %-28s %8s %9s %9s %9s %9s %9s %9s\n", "all threads", "call", "count",
	       "total", "min", "p50", "p90", "p99", "max");
	for (size_t k = 0; k < ctrace_model_call_kind_count(m); k++) {
		struct ctrace_latency l;
		uint32_t reason;
		const char *name = ctrace_model_call_kind(m, k, &reason, &l);
		latency_row(ctrace_reason_name(reason), name, &l);
	}
}

static const struct column *find_col(const char *name)
{
	for (size_t c = 0; c < NCOLS; c++)
		if (strcasecmp(cols[c].title, name) == 0 || strcasecmp(cols[c].key, name) == 0)
			return &cols[c];
	return NULL;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 0)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->top = -1;
	o->pid = o->tid = -1;
	o->jobs = tool_default_jobs();
	int rc;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--sort=", 7) == 0) {
			if (!(o->sort = find_col(a + 7))) {
				tool_error("stats", "unknown column '%s' for --sort", a + 7);
				return -1;
			}
		} else if (strncmp(a, "--top=", 6) == 0) {
			if (parse_long(a + 6, &o->top) < 0) {
				tool_error("stats", "--top needs a count, not '%s'", a + 6);
				return -1;
			}
		} else if (strncmp(a, "--pid=", 6) == 0) {
			if (parse_long(a + 6, &o->pid) < 0) {
				tool_error("stats", "--pid needs a process id, not '%s'", a + 6);
				return -1;
			}
		} else if (strncmp(a, "--tid=", 6) == 0) {
			if (parse_long(a + 6, &o->tid) < 0) {
				tool_error("stats", "--tid needs a thread id, not '%s'", a + 6);
				return -1;
			}
		} else if (strncmp(a, "--format=", 9) == 0) {
			if (strcmp(a + 9, "table") == 0)
				o->format = OUT_TABLE;
			else if (strcmp(a + 9, "csv") == 0)
				o->format = OUT_CSV;
			else if (strcmp(a + 9, "json") == 0)
				o->format = OUT_JSON;
			else {
				tool_error("stats", "--format is table, csv or json, not '%s'", a + 9);
				return -1;
			}
		} else if ((rc = tool_jobs_arg("stats", a, &o->jobs)) != 0) {
			if (rc < 0)
				return -1;
		} else if (strcmp(a, "--latency") == 0) {
			o->latency = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			printf("%s\n", stats_usage);
			return 1;
		} else if (a[0] == '-' && a[1]) {
			tool_error("stats", "unknown option '%s' (%s)", a, stats_usage);
			return -1;
		} else if (o->path) {
			tool_error("stats", "one trace file at a time (%s)", stats_usage);
			return -1;
		} else {
			o->path = a;
		}
	}
	if (!o->path) {
		tool_error("stats", "no trace file given (%s)", stats_usage);
		return -1;
	}
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	struct options o;
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 2;

	ctrace_reader *r;
	ctrace_model *m = NULL;
	int err = ctrace_reader_open(o.path, &r);
	if (err) {
		tool_error("stats", "%s", r ? ctrace_reader_errmsg(r) : ctrace_strerror(err));
		ctrace_reader_free(r);
		return 1;
	}
	struct ctrace_model_callbacks cb = { 0 };
	tool_progress(&cb, "stats");
	ctrace_reader_set_jobs(r, o.jobs);
	err = ctrace_model_build(r, &cb, &m);
	tool_progress_done(&cb);
	if (err) {
		tool_error("stats", "%s", ctrace_reader_errmsg(r));
		ctrace_reader_free(r);
		return 1;
	}

	size_t n = ctrace_model_thread_count(m), k = 0;
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!sorted) {
		tool_error("stats", "out of memory");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ctrace_thread_stats *st = ctrace_model_thread(m, i);
		if ((o.pid >= 0 && st->pid != (uint32_t)o.pid) ||
		    (o.tid >= 0 && st->tid != (uint32_t)o.tid))
			continue;
		sorted[k++] = st;
	}
	if (o.sort) {
		sort_col = o.sort;
		qsort(sorted, k, sizeof(*sorted), cmp_rows);
	}
	if (o.top >= 0 && (size_t)o.top < k)
		k = (size_t)o.top;
	struct ctrace_thread_stats total = { 0 };
	for (size_t i = 0; i < k; i++)
		add_totals(&total, sorted[i]);
	total.name = "TOTAL";

	if (o.format != OUT_JSON)
		for (size_t i = 0; i < ctrace_model_warning_count(m); i++)
			fprintf(o.format == OUT_TABLE ? stdout : stderr, "warning: %s\n",
				ctrace_model_warning(m, i));
	if (o.latency)
		print_latency(m, sorted, k);
	else if (o.format == OUT_TABLE)
		print_table(sorted, k, &total);
	else if (o.format == OUT_CSV)
		print_csv(sorted, k);
	else
		print_json(m, sorted, k, &total);
	free(sorted);
	ctrace_model_free(m);
	ctrace_reader_free(r);
	return 0;
}
