/*
 * ctrace import DIR [-o FILE]: an LTTng trace (CTF, as an LTTng session writes it) to a
 * ctrace trace. The reading is import/bt.c (libbabeltrace2), the mapping import/imp.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/bt.h"
#include "import/imp.h"
#include "tools.h"

static const char import_usage[] = "usage: ctrace import DIR [-o FILE]";

/* Every directory under @dir (itself included, a few levels down) holding a CTF metadata
 * file: one CTF trace each (an LTTng session has one per buffer scheme and ABI). */
static int find_traces(const char *dir, int depth, char ***list, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(path, &st) < 0)
			continue;
		if (S_ISREG(st.st_mode) && strcmp(de->d_name, "metadata") == 0) {
			char **nl = realloc(*list, (*n + 1) * sizeof(*nl));
			if (!nl || !(nl[*n] = strdup(dir))) {
				if (nl)
					*list = nl;
				rc = -1;
				break;
			}
			*list = nl;
			(*n)++;
		} else if (S_ISDIR(st.st_mode) && depth < 8) {
			rc = find_traces(path, depth + 1, list, n);
		}
	}
	closedir(d);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	const char *out = "trace.out", *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				tool_error("import", "%s needs a file name (%s)", argv[i], import_usage);
				return 2;
			}
			out = argv[++i];
		} else if (strncmp(argv[i], "--output=", 9) == 0 && argv[i][9]) {
			out = argv[i] + 9;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\n", import_usage);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			tool_error("import", "unknown option '%s' (%s)", argv[i], import_usage);
			return 2;
		} else if (!dir) {
			dir = argv[i];
		} else {
			tool_error("import", "one trace directory only (%s)", import_usage);
			return 2;
		}
	}
	if (!dir) {
		tool_error("import", "no trace directory given (%s)", import_usage);
		return 2;
	}
	struct stat st;
	if (stat(dir, &st) < 0) {
		tool_error("import", "cannot open %s: %s", dir, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		tool_error("import", "%s is not a directory (an LTTng trace is a directory)", dir);
		return 1;
	}
	char **traces = NULL;
	size_t ntraces = 0;
	if (find_traces(dir, 0, &traces, &ntraces) < 0) {
		tool_error("import", "out of memory");
		return 1;
	}
	if (!ntraces) {
		tool_error("import", "%s holds no CTF trace (no metadata file under it)", dir);
		return 1;
	}
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	struct imp *im = NULL;
	int rc = 1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		tool_error("import", "cannot create %s: %s", tmp, strerror(errno));
		rc = 1;
		goto out;
	}
	im = imp_new(fd);
	char why[512] = "";
	struct imp_stats s;
	if (!im) {
		tool_error("import", "cannot write %s", tmp);
		goto fail;
	}
	if (imp_read_ctf((const char *const *)traces, ntraces, im, why, sizeof(why)) < 0) {
		tool_error("import", "%s: %s", dir, why);
		goto fail;
	}
	if (imp_finish(im, &s) < 0) {
		tool_error("import", "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		tool_error("import", "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, out) < 0) {
		tool_error("import", "cannot rename %s to %s: %s", tmp, out, strerror(errno));
		goto fail;
	}
	fprintf(stderr,
		"ctrace import: %s: %llu events from %llu LTTng events, %llu process%s, %llu "
		"thread%s, %llu generation%s\n",
		out, (unsigned long long)s.events_out, (unsigned long long)s.events_in,
		(unsigned long long)s.processes, s.processes == 1 ? "" : "es",
		(unsigned long long)s.threads, s.threads == 1 ? "" : "s",
		(unsigned long long)s.generations, s.generations == 1 ? "" : "s");
	if (s.lost)
		fprintf(stderr, "ctrace import: warning: %llu events were lost (LTTng discarded "
				"them or the recorder's buffers were full)\n",
			(unsigned long long)s.lost);
	for (unsigned i = 0; i < s.nunknown; i++)
		fprintf(stderr, "ctrace import: not mapped: %llu %s\n",
			(unsigned long long)s.unknown[i].count, s.unknown[i].name);
	if (s.unknown_other)
		fprintf(stderr, "ctrace import: not mapped: %llu events of other types\n",
			(unsigned long long)s.unknown_other);
	if (s.unattributed)
		fprintf(stderr, "ctrace import: %llu events without a thread (add the vtid and vpid "
				"contexts: lttng add-context -u -t vpid -t vtid)\n",
			(unsigned long long)s.unattributed);
	if (s.events_out == 0)
		fprintf(stderr, "ctrace import: warning: no ctrace event in %s (was 'ctrace:*' "
				"enabled and CTRACE_SINK=lttng set?)\n", dir);
	rc = 0;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	imp_free(im);
	for (size_t i = 0; i < ntraces; i++)
		free(traces[i]);
	free(traces);
	return rc;
}
