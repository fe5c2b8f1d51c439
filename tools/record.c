/*
 * ctrace record: run a program with libctrace.so preloaded, every process writing its own
 * stream into a private directory next to the output, then merge the streams into one
 * trace. The exit status is the program's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "tools.h"

static const char record_usage[] =
	"usage: ctrace record [-o FILE] [-q] [--sink=native|lttng|both] [--] CMD [ARGS...]";

static pid_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* Where libctrace.so is: $CTRACE_LIB, next to this binary in the build tree, or installed. */
static int find_tracer(char *out, size_t size)
{
	const char *env = getenv("CTRACE_LIB");
	char exe[PATH_MAX], cand[PATH_MAX + 64];

	if (env && *env) {
		if (access(env, R_OK) != 0)
			return -1;
		return realpath(env, out) ? 0 : -1;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *dir = dirname(exe);
		const char *rel[] = { "/../tracer/libctrace.so", "/../lib/libctrace.so",
				      "/../lib/x86_64-linux-gnu/libctrace.so",
				      "/../lib64/libctrace.so" };
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(cand, sizeof(cand), "%s%s", dir, rel[i]);
			if (access(cand, R_OK) == 0 && realpath(cand, out))
				return 0;
		}
	}
	snprintf(cand, sizeof(cand), "%s/libctrace.so", CTRACE_LIBDIR);
	if (access(cand, R_OK) == 0 && strlen(cand) < size) {
		strcpy(out, cand);
		return 0;
	}
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void warn_cb(void *ud, const char *msg)
{
	(void)ud;
	fprintf(stderr, "ctrace record: warning: %s\n", msg);
}

/* Merge every stream in @dir into @out; remove the streams and the directory. */
static int merge_parts(const char *dir, const char *out, int quiet)
{
	DIR *d = opendir(dir);
	char **paths = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int rc = 1;

	if (!d) {
		tool_error("record", "cannot read %s: %s", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **np = realloc(paths, cap * sizeof(*np));
			if (!np)
				goto out;
			paths = np;
		}
		size_t len = strlen(dir) + strlen(de->d_name) + 2;
		paths[n] = malloc(len);
		if (!paths[n])
			goto out;
		snprintf(paths[n], len, "%s/%s", dir, de->d_name);
		n++;
	}
	if (n > 1)
		qsort(paths, n, sizeof(*paths), cmp_str);

	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		tool_error("record", "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	struct ctrace_merge_stats st;
	int err = ctrace_merge((const char *const *)paths, n, fd, warn_cb, NULL, &st);
	if (close(fd) < 0 && !err)
		err = CTRACE_EIO;
	if (err) {
		tool_error("record", "cannot merge the streams into %s: %s", out,
			   ctrace_strerror(err));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, out) < 0) {
		tool_error("record", "cannot rename %s to %s: %s", tmp, out, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (n == 0)
		fprintf(stderr, "ctrace record: warning: no process wrote a trace (was the tracer "
				"loaded? a static or setuid program cannot be preloaded)\n");
	if (!quiet) {
		char size[32];
		human_size(size, sizeof(size), st.bytes);
		fprintf(stderr, "ctrace: %s: %s, %llu events, %u process%s, %llu generation%s\n",
			out, size, (unsigned long long)st.events, st.processes,
			st.processes == 1 ? "" : "es", (unsigned long long)st.generations,
			st.generations == 1 ? "" : "s");
	}
	rc = 0;
	for (size_t i = 0; i < n; i++)
		unlink(paths[i]);
	rmdir(dir);
out:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

int cmd_record(int argc, char **argv)
{
	const char *out = "trace.out";
	const char *sink = NULL;
	int quiet = 0, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				tool_error("record", "%s needs a file name (%s)", argv[i], record_usage);
				return 2;
			}
			out = argv[++i];
		} else if (strncmp(argv[i], "--output=", 9) == 0 && argv[i][9]) {
			out = argv[i] + 9;
		} else if (strncmp(argv[i], "--sink=", 7) == 0 || strcmp(argv[i], "--sink") == 0) {
			sink = argv[i][6] == '=' ? argv[i] + 7 : i + 1 < argc ? argv[++i] : "";
			if (strcmp(sink, "native") != 0 && strcmp(sink, "lttng") != 0 &&
			    strcmp(sink, "both") != 0) {
				tool_error("record", "--sink must be native, lttng or both, not '%s' (%s)",
					   sink, record_usage);
				return 2;
			}
		} else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			quiet = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\n", record_usage);
			return 0;
		} else if (argv[i][0] == '-') {
			tool_error("record", "unknown option '%s' (%s)", argv[i], record_usage);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		tool_error("record", "no command given (%s)", record_usage);
		return 2;
	}
	char **cmd = argv + i;

	char lib[PATH_MAX];
	if (find_tracer(lib, sizeof(lib)) < 0) {
		tool_error("record", "cannot find libctrace.so (set CTRACE_LIB to its path)");
		return 2;
	}

	/* The streams go next to the output, so the merge is on one filesystem. */
	char outcopy[PATH_MAX], parts[PATH_MAX + 32];
	snprintf(outcopy, sizeof(outcopy), "%s", out);
	snprintf(parts, sizeof(parts), "%s/.ctrace-record-XXXXXX", dirname(outcopy));
	if (!mkdtemp(parts)) {
		tool_error("record", "cannot create a directory next to %s: %s", out,
			   strerror(errno));
		return 2;
	}

	/* Orphaned grandchildren come back to us, so we can wait for every process. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	const char *old = getenv("LD_PRELOAD");
	size_t plen = strlen(lib) + (old ? strlen(old) : 0) + 2;
	char *preload = malloc(plen);
	char *outdir = malloc(strlen(parts) + 2);
	if (!preload || !outdir)
		return 2;
	snprintf(preload, plen, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
	snprintf(outdir, strlen(parts) + 2, "%s/", parts);

	fflush(NULL);
	child_pid = fork();
	if (child_pid < 0) {
		tool_error("record", "cannot fork: %s", strerror(errno));
		rmdir(parts);
		return 2;
	}
	if (child_pid == 0) {
		setenv("LD_PRELOAD", preload, 1);
		setenv("CTRACE_OUT", outdir, 1);
		if (sink)
			setenv("CTRACE_SINK", sink, 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "ctrace record: cannot run %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);

	int status = 0, child_status = 0;
	for (;;) {
		pid_t p = waitpid(-1, &status, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: every process is gone */
		}
		if (p == child_pid)
			child_status = status;
	}
	free(preload);
	free(outdir);

	if (sink && strcmp(sink, "lttng") == 0) {
		/* The events went to the LTTng session only: no trace file here. */
		rmdir(parts);
		if (!quiet)
			fprintf(stderr, "ctrace record: events went to the LTTng session; read them "
					"with ctrace import\n");
	} else if (merge_parts(parts, out, quiet) != 0)
		return WIFEXITED(child_status) && WEXITSTATUS(child_status) ? WEXITSTATUS(child_status) : 1;
	if (WIFEXITED(child_status))
		return WEXITSTATUS(child_status);
	if (WIFSIGNALED(child_status)) {
		if (!quiet)
			fprintf(stderr, "ctrace record: %s was killed by signal %d (%s)\n", cmd[0],
				WTERMSIG(child_status), strsignal(WTERMSIG(child_status)));
		return 128 + WTERMSIG(child_status);
	}
	return 1;
}
