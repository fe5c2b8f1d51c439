/* ctrace export: the trace in another tool's format. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "tools.h"

static const char export_usage[] = "usage: ctrace export --format=chrome [-o FILE] FILE";

static int write_fd(void *ud, const void *data, size_t len)
{
	int fd = *(int *)ud;
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	const char *path = NULL, *out = NULL, *format = NULL;
	unsigned jobs = tool_default_jobs();
	int rc;
	for (int i = 1; i < argc; i++) {
		if ((rc = tool_jobs_arg("export", argv[i], &jobs)) != 0) {
			if (rc < 0)
				return 2;
		} else if (strncmp(argv[i], "--format=", 9) == 0) {
			format = argv[i] + 9;
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\n", export_usage);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			tool_error("export", "unknown option '%s' (%s)", argv[i], export_usage);
			return 2;
		} else if (path) {
			tool_error("export", "one trace file at a time (%s)", export_usage);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path || !format) {
		tool_error("export", "%s (%s)", !path ? "no trace file given" : "no --format given",
			   export_usage);
		return 2;
	}
	if (strcmp(format, "chrome") != 0 && strcmp(format, "perfetto") != 0) {
		tool_error("export", "unknown format '%s' (chrome is the one there is)", format);
		return 2;
	}
	ctrace_reader *r;
	int err = ctrace_reader_open(path, &r);
	if (err) {
		tool_error("export", "%s", r ? ctrace_reader_errmsg(r) : ctrace_strerror(err));
		ctrace_reader_free(r);
		return 1;
	}
	ctrace_reader_set_jobs(r, jobs);
	int fd = 1;
	FILE *f = NULL;
	if (out) {
		f = fopen(out, "w");
		if (!f) {
			tool_error("export", "cannot create %s: %s", out, strerror(errno));
			ctrace_reader_free(r);
			return 1;
		}
		fd = fileno(f);
	}
	ctrace_model *m = NULL;
	struct ctrace_model_callbacks cb = { 0 };
	tool_progress(&cb, "export");
	err = ctrace_export_chrome(r, write_fd, &fd, &cb, &m);
	tool_progress_done(&cb);
	if (err)
		tool_error("export", "%s",
			   err == CTRACE_EIO ? "cannot write the output" : ctrace_reader_errmsg(r));
	for (size_t i = 0; m && i < ctrace_model_warning_count(m); i++)
		fprintf(stderr, "ctrace export: warning: %s\n", ctrace_model_warning(m, i));
	ctrace_model_free(m);
	ctrace_reader_free(r);
	if (f && fclose(f) != 0 && !err) {
		tool_error("export", "cannot write %s", out);
		return 1;
	}
	return err ? 1 : 0;
}
