/* ctrace view: index a trace and serve the timeline viewer on loopback. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "tools.h"
#include "viewer.h"

static const char view_usage[] = "usage: ctrace view [--http=ADDR] [--no-open] FILE";

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* "127.0.0.1:8080", "[::1]:0", ":8080", "8080": numeric, loopback unless said otherwise. */
static int parse_addr(const char *spec, struct sockaddr_storage *ss)
{
	char host[128] = "127.0.0.1";
	const char *port = spec;
	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host))
			return -1;
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = 0;
		port = close + 2;
	} else if (strchr(spec, ':')) {
		const char *colon = strrchr(spec, ':');
		if ((size_t)(colon - spec) >= sizeof(host))
			return -1;
		if (colon > spec) {
			memcpy(host, spec, (size_t)(colon - spec));
			host[colon - spec] = 0;
		}
		port = colon + 1;
	}
	char *end;
	long p = strtol(port, &end, 10);
	if (!*port || *end || p < 0 || p > 65535)
		return -1;
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		return 0;
	}
	return -1;
}

static void open_browser(const char *url)
{
	if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY"))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", 1);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("xdg-open", "xdg-open", url, (char *)NULL);
		_exit(127);
	}
}

int cmd_view(int argc, char **argv)
{
	const char *path = NULL, *http = "127.0.0.1:0";
	int no_open = 0;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--http=", 7) == 0)
			http = argv[i] + 7;
		else if (strcmp(argv[i], "--no-open") == 0)
			no_open = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\n", view_usage);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			tool_error("view", "unknown option '%s' (%s)", argv[i], view_usage);
			return 2;
		} else if (path) {
			tool_error("view", "one trace file at a time (%s)", view_usage);
			return 2;
		} else
			path = argv[i];
	}
	if (!path) {
		tool_error("view", "no trace file given (%s)", view_usage);
		return 2;
	}
	struct sockaddr_storage ss;
	if (parse_addr(http, &ss) < 0) {
		tool_error("view", "--http=%s is not ADDR:PORT (e.g. 127.0.0.1:8080)", http);
		return 2;
	}
	ctrace_index *ix;
	char err[512];
	struct ctrace_model_callbacks cb = { 0 };
	tool_progress(&cb, "view");
	int rc = ctrace_index_open(path, &cb, &ix, err, sizeof(err));
	tool_progress_done(&cb);
	if (rc) {
		tool_error("view", "%s", err);
		return 1;
	}
	const ctrace_model *m = ctrace_index_model(ix);
	for (size_t i = 0; i < ctrace_model_warning_count(m); i++)
		fprintf(stderr, "ctrace view: warning: %s\n", ctrace_model_warning(m, i));
	struct ctr_viewer *v = ctr_viewer_start(ix, path, (struct sockaddr *)&ss, err, sizeof(err));
	if (!v) {
		tool_error("view", "%s (%s)", err, http);
		ctrace_index_free(ix);
		return 1;
	}
	char host[INET6_ADDRSTRLEN + 2] = "127.0.0.1";
	if (ss.ss_family == AF_INET6) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
		snprintf(host, sizeof(host), "[%s]", a);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
	}
	char url[128];
	snprintf(url, sizeof(url), "http://%s:%u/", host, ctr_viewer_port(v));
	printf("ctrace view: serving %s at %s (Ctrl-C to stop)\n", path, url);
	fflush(stdout);
	if (!no_open)
		open_browser(url);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGCHLD, SIG_IGN);
	while (!quit)
		pause();
	ctr_viewer_stop(v);
	ctrace_index_free(ix);
	return 0;
}
