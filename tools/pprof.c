/* ctrace pprof: a profile of a trace in pprof's format (go tool pprof, Pyroscope). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "tools.h"

static const char pprof_usage[] =
	"usage: ctrace pprof --type=sync|io|syscall|sched|alloc|cpu [-o FILE] [--jobs=N] FILE\n"
	"       ctrace pprof --type=heap|allocs|block|mutex|threadcreate|threads|cpu [-s SECONDS]\n"
	"                    [-o FILE] [--token TOKEN] URL   (from a program's HTTP endpoint)";

/* The endpoint's profiles: the --type names, and cpu for Go's /debug/pprof/profile. */
static const char *const url_types[] = { "heap", "allocs", "block", "mutex", "threadcreate",
					 "threads", "goroutine", "cpu", "delta_heap",
					 "delta_block", "delta_mutex" };

static const struct {
	const char *name;
	enum ctrace_profile_kind kind;
} types[] = {
	{ "sync", CTRACE_PROFILE_SYNC },   { "io", CTRACE_PROFILE_IO },
	{ "syscall", CTRACE_PROFILE_SYSCALL }, { "sched", CTRACE_PROFILE_SCHED },
	{ "alloc", CTRACE_PROFILE_ALLOC }, { "cpu", CTRACE_PROFILE_CPU },
};

int cmd_pprof(int argc, char **argv)
{
	const char *path = NULL, *out = NULL, *type = NULL, *token = getenv("CTRACE_HTTP_TOKEN");
	double seconds = 0;
	int token_given = 0;
	unsigned jobs = tool_default_jobs();
	int rc;
	for (int i = 1; i < argc; i++) {
		if ((rc = tool_jobs_arg("pprof", argv[i], &jobs)) != 0) {
			if (rc < 0)
				return 2;
		} else if (strncmp(argv[i], "--type=", 7) == 0) {
			type = argv[i] + 7;
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--seconds") == 0) &&
			   i + 1 < argc) {
			char *end;
			seconds = strtod(argv[++i], &end);
			if (*end || !(seconds > 0) || seconds > 86400) {
				tool_error("pprof", "-s needs a number of seconds, not '%s'", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
			token = argv[++i];
			token_given = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\n", pprof_usage);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			tool_error("pprof", "unknown option '%s' (%s)", argv[i], pprof_usage);
			return 2;
		} else if (path) {
			tool_error("pprof", "one trace file at a time (%s)", pprof_usage);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path || !type) {
		tool_error("pprof", "%s (%s)", !path ? "no trace file given" : "no --type given",
			   pprof_usage);
		return 2;
	}
	if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0) {
		size_t u;
		for (u = 0; u < sizeof(url_types) / sizeof(url_types[0]); u++)
			if (strcmp(url_types[u], type) == 0)
				break;
		if (u == sizeof(url_types) / sizeof(url_types[0])) {
			tool_error("pprof", "the endpoint has no '%s' profile (%s)", type, pprof_usage);
			return 2;
		}
		const char *name = strcmp(type, "cpu") == 0 ? "profile" : type;
		char def[64];
		snprintf(def, sizeof(def), "%s.pb.gz", name);
		return tool_fetch_profile("pprof", path, name,
					  seconds > 0 ? seconds : strcmp(name, "profile") == 0 ? 30 : 0,
					  out ? out : def, token);
	}
	if (seconds > 0 || token_given) {
		tool_error("pprof", "-s and --token are for a URL, not a trace file (%s)", pprof_usage);
		return 2;
	}
	size_t t;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		if (strcmp(types[t].name, type) == 0)
			break;
	if (t == sizeof(types) / sizeof(types[0])) {
		tool_error("pprof", "unknown profile type '%s' (%s)", type, pprof_usage);
		return 2;
	}
	if (!out && isatty(1)) {
		tool_error("pprof", "the profile is binary: redirect it or use -o FILE");
		return 2;
	}

	ctrace_reader *r;
	ctrace_model *m = NULL;
	struct ctrace_model_callbacks cb = { 0 };
	tool_progress(&cb, "pprof");
	int err = ctrace_reader_open(path, &r);
	if (!err) {
		ctrace_reader_set_jobs(r, jobs);
		err = ctrace_model_build(r, &cb, &m);
	}
	tool_progress_done(&cb);
	if (err) {
		tool_error("pprof", "%s", r ? ctrace_reader_errmsg(r) : ctrace_strerror(err));
		ctrace_reader_free(r);
		return 1;
	}
	for (size_t i = 0; i < ctrace_model_warning_count(m); i++)
		fprintf(stderr, "ctrace pprof: warning: %s\n", ctrace_model_warning(m, i));
	uint8_t *buf = NULL;
	size_t len = 0;
	err = ctrace_model_pprof(m, types[t].kind, &buf, &len);
	ctrace_model_free(m);
	ctrace_reader_free(r);
	if (err) {
		tool_error("pprof", "cannot build the profile: %s", ctrace_strerror(err));
		return 1;
	}
	FILE *f = out ? fopen(out, "wb") : stdout;
	if (!f) {
		tool_error("pprof", "cannot create %s: %s", out, strerror(errno));
		free(buf);
		return 1;
	}
	int ok = fwrite(buf, 1, len, f) == len;
	ok &= (out ? fclose(f) : fflush(f)) == 0;
	free(buf);
	if (!ok) {
		tool_error("pprof", "cannot write the profile");
		return 1;
	}
	return 0;
}
