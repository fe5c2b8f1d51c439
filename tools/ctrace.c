/* ctrace: the command line. Thin front-ends over format/ (and the tracer, for record). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "tools.h"

static const char usage[] =
	"usage: ctrace COMMAND [ARGS...]\n"
	"\n"
	"commands:\n"
	"  record [-o FILE] [--sink=native|lttng|both] [--] CMD [ARGS...]\n"
	"                                       run CMD traced, write one trace (default trace.out)\n"
	"  dump [-g] [-s] FILE                  print every event of a trace, one per line\n"
	"                                       (-g generation headers, -s stacks)\n"
	"  stats [--sort=COL] [--top=N] [--pid=P] [--tid=T] [--format=table|csv|json]\n"
	"        [--latency] FILE                per-thread states, counts and latencies\n"
	"  capture URL [-s SECONDS] [--flight] [--profile=NAME] [-o FILE]\n"
	"                                       fetch a trace (or a profile) from a program's HTTP\n"
	"                                       endpoint\n"
	"  pprof --type=TYPE [-o OUT] FILE      a pprof profile: sync, io, syscall, sched, alloc, cpu\n"
	"  pprof --type=TYPE [-s N] [-o OUT] URL\n"
	"                                       a profile from a program's HTTP endpoint: heap,\n"
	"                                       allocs, block, mutex, threadcreate, threads, cpu\n"
	"  export --format=chrome [-o OUT] FILE Chrome/Perfetto trace event JSON\n"
	"  view [--http=ADDR] [--no-open] FILE  the timeline viewer in the browser\n"
	"  import DIR [-o FILE]                 an LTTng trace (CTF directory) to a ctrace trace\n"
	"  help                                 this text\n"
	"  version                              print the version\n";

void tool_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "ctrace %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void progress(void *ud, uint64_t done, uint64_t total)
{
	if (total)
		fprintf(stderr, "\rctrace %s: reading %3d%%", (const char *)ud,
			(int)(done * 100 / total));
}

void tool_progress(struct ctrace_model_callbacks *cb, const char *cmd)
{
	if (isatty(2)) {
		cb->progress = progress;
		cb->userdata = (void *)cmd;
	}
}

int tool_jobs_arg(const char *cmd, const char *arg, unsigned *jobs)
{
	if (strncmp(arg, "--jobs=", 7) != 0)
		return 0;
	char *end;
	errno = 0;
	unsigned long n = strtoul(arg + 7, &end, 10);
	if (errno || end == arg + 7 || *end || arg[7] == '-' || n > 64) {
		tool_error(cmd, "--jobs needs a thread count from 0 to 64, not '%s'", arg + 7);
		return -1;
	}
	*jobs = (unsigned)n;
	return 1;
}

unsigned tool_default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n >= 2 ? 2 : 0;
}

void tool_progress_done(const struct ctrace_model_callbacks *cb)
{
	if (cb->progress)
		fprintf(stderr, "\r%40s\r", "");
}

void human_size(char *buf, unsigned long size, unsigned long long bytes)
{
	if (bytes < 1024)
		snprintf(buf, size, "%llu B", bytes);
	else if (bytes < 1024 * 1024)
		snprintf(buf, size, "%.1f KiB", bytes / 1024.0);
	else if (bytes < 1024ull * 1024 * 1024)
		snprintf(buf, size, "%.1f MiB", bytes / (1024.0 * 1024));
	else
		snprintf(buf, size, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "record") == 0)
		return cmd_record(argc - 1, argv + 1);
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(argc - 1, argv + 1);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(argc - 1, argv + 1);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(argc - 1, argv + 1);
	if (strcmp(cmd, "pprof") == 0)
		return cmd_pprof(argc - 1, argv + 1);
	if (strcmp(cmd, "capture") == 0)
		return cmd_capture(argc - 1, argv + 1);
	if (strcmp(cmd, "view") == 0)
		return cmd_view(argc - 1, argv + 1);
	if (strcmp(cmd, "import") == 0) {
#ifdef CTRACE_HAVE_IMPORT
		return cmd_import(argc - 1, argv + 1);
#else
		fprintf(stderr, "ctrace import: this ctrace was built without libbabeltrace2\n");
		return 2;
#endif
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("ctrace %s\n", CTRACE_VERSION);
		return 0;
	}
	fprintf(stderr, "ctrace: unknown command '%s' (try 'ctrace help')\n", cmd);
	return 2;
}
