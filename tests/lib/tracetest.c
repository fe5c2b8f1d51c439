#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracetest.h"

extern char **environ;

static struct tt_thread *thread_of(struct tt_trace *t, uint32_t pid, uint32_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].pid == pid && t->threads[i].tid == tid)
			return &t->threads[i];
	struct tt_thread *n = realloc(t->threads, (t->nthreads + 1) * sizeof(*n));
	if (!n)
		abort();
	t->threads = n;
	struct tt_thread *th = &t->threads[t->nthreads++];
	memset(th, 0, sizeof(*th));
	th->pid = pid;
	th->tid = tid;
	return th;
}

int tt_load(const char *path, struct tt_trace *t)
{
	ctrace_reader *r;
	ctrace_gen *g;
	const struct ctrace_event *ev;
	int n;

	memset(t, 0, sizeof(*t));
	n = ctrace_reader_open(path, &r);
	if (n < 0) {
		snprintf(t->msg, sizeof(t->msg), "%s", ctrace_reader_errmsg(r));
		ctrace_reader_free(r);
		return t->status = n;
	}
	while ((n = ctrace_reader_next(r, &g)) == 1) {
		t->generations++;
		uint32_t pid = ctrace_gen_header(g)->pid;
		if (!tt_has_pid(t, pid) && t->npids < 64)
			t->pids[t->npids++] = pid;
		while ((n = ctrace_gen_next_event(g, &ev)) == 1) {
			t->events++;
			if (ev->type < CTRACE_EV_COUNT_)
				t->counts[ev->type]++;
			if (ev->tid == 0)
				continue;
			struct tt_thread *th = thread_of(t, ev->pid, ev->tid);
			if (ev->ticks < th->last_ticks)
				th->nonmonotonic++;
			th->last_ticks = ev->ticks;
			th->events++;
			switch (ev->type) {
			case CTRACE_EV_THREAD_START:
				th->starts++;
				th->existing |= (ev->args[2] & CTRACE_THREAD_EXISTING) != 0;
				break;
			case CTRACE_EV_THREAD_END:
				th->ends++;
				th->end_how = ev->args[0];
				break;
			case CTRACE_EV_THREAD_NAME: {
				struct tt_thread *named =
					ev->args[0] ? thread_of(t, ev->pid, (uint32_t)ev->args[0]) : th;
				size_t len = ev->blob_len < 63 ? ev->blob_len : 63;
				memcpy(named->name, ev->blob, len);
				named->name[len] = 0;
				size_t used = strlen(named->names);
				if (used + len + 2 < sizeof(named->names))
					snprintf(named->names + used, sizeof(named->names) - used,
						 "%s%s|", used ? "" : "|", named->name);
				break;
			}
			default:
				break;
			}
		}
		if (n < 0)
			break;
	}
	if (n < 0)
		snprintf(t->msg, sizeof(t->msg), "%s", ctrace_reader_errmsg(r));
	ctrace_reader_free(r);
	return t->status = n;
}

void tt_free(struct tt_trace *t)
{
	free(t->threads);
	memset(t, 0, sizeof(*t));
}

struct tt_thread *tt_find_name(struct tt_trace *t, const char *name)
{
	char key[80];
	snprintf(key, sizeof(key), "|%s|", name);
	for (size_t i = 0; i < t->nthreads; i++)
		if (strstr(t->threads[i].names, key))
			return &t->threads[i];
	return NULL;
}

int tt_has_pid(const struct tt_trace *t, uint32_t pid)
{
	for (size_t i = 0; i < t->npids; i++)
		if (t->pids[i] == pid)
			return 1;
	return 0;
}

int tt_run(char *const argv[], char *const env[], char **out)
{
	int pfd[2];
	posix_spawn_file_actions_t fa;
	size_t n = 0, extra = 0;
	while (environ[n])
		n++;
	while (env && env[extra])
		extra++;
	char **envp = calloc(n + extra + 1, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < extra; i++)
		envp[k++] = env[i];
	for (size_t i = 0; i < n; i++) {
		int overridden = 0;
		for (size_t j = 0; j < extra; j++) {
			size_t len = strcspn(env[j], "=") + 1;
			if (strncmp(environ[i], env[j], len) == 0)
				overridden = 1;
		}
		if (!overridden)
			envp[k++] = environ[i];
	}
	if (pipe(pfd) < 0)
		abort();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	pid_t pid;
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, envp) != 0) {
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		abort();
	}
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(pfd[1]);
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1024 > cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(pfd[0], buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = 0;
	close(pfd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = buf;
	else
		free(buf);
	return status;
}

char *tt_tmpdir(void)
{
	char tmpl[] = "/tmp/ctrace-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	if (!d)
		abort();
	return strdup(d);
}

void tt_rmrf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			tt_rmrf(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int tt_free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int port = -1;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	if (port < 0) {
		fprintf(stderr, "no free port: %s\n", strerror(errno));
		abort();
	}
	return port;
}

int tt_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
		return s;
	if (s >= 0)
		close(s);
	return -1;
}

long tt_status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	size_t k = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, k) == 0 && line[k] == ':')
			v = atol(line + k + 1);
	if (f)
		fclose(f);
	return v;
}

int tt_count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}
