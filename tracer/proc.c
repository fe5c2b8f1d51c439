/*
 * Processes: a forked child gets its own stream; before exec the stream is flushed (the new
 * image starts a fresh one); _exit writes what was recorded, as exit() does.
 *
 * A vfork child (or one made by posix_spawn) shares the parent's memory: it must not touch
 * the tracer's state, so every path here first checks that this is still the process that
 * owns the state.
 */
#include <alloca.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

static int owner_process(void)
{
	return getpid() == ctr_g.pid;
}

/* pthread_atfork child handler: only the forking thread exists here. */
void ctr_fork_child(void)
{
	int was_running = ctr_g.file != NULL;
	struct ctr_sink *file = ctr_g.file;

	ctr_writer_fork_child();
	ctr_tls.busy++;
	ctr_set_on(0);
	pthread_mutex_init(&ctr_g.ctl, NULL);
	ctr_fd_fork_child();
	ctr_writer_forget();
	ctr_http_forget();
	ctr_prof_fork_child();
	ctr_slot_reset_after_fork();
	ctr_sched_cpu_forget();
	ctr_symbolize_reset(); /* the parent's writer may have been in the middle of it */
	ctr_symwarm_fork_child();
	ctr_g.pid = getpid();
	/* The parent's sinks: its file (closed here if the tracer opened it), its HTTP
	 * client and flight recorder belong to the parent. */
	ctr_g.file = NULL;
	ctr_g.flight = NULL;
	if (file)
		file->release(file);
	ctr_lttng_fork_child();
	/* A program that controls tracing itself (ctrace_start) decides for its children too. */
	if (was_running && ctr_lttng_mode == CTR_SINK_LTTNG) {
		ctr_start_lttng_locked();
	} else if (was_running && ctr_g.out_spec[0]) {
		int fd = ctr_open_output(1);
		if (fd >= 0 && ctr_start_locked(fd, 1) != 0)
			ctr_fd_close_guarded(fd);
	}
	ctr_tls.busy--;
}

static void before_exec(const char *path)
{
	if (!atomic_load_explicit(&ctr_on, memory_order_relaxed) || !owner_process())
		return;
	ctr_event_blob(CTRACE_EV_EXEC, 0, NULL, path ? path : "", path ? strlen(path) : 0);
	ctr_tls.busy++;
	ctr_writer_flush_exec(3000);
	ctr_tls.busy--;
}

/*
 * With CTRACE_OUT=PATH the exec'd program would write PATH again, over this process's
 * stream: give it FILE.PID instead, FILE being what this process writes. Directory outputs
 * need no change.
 * Returns @envp or a copy on the stack of the caller's caller (alloca in the macro).
 */
static size_t env_count(char *const envp[])
{
	size_t n = 0;
	while (envp && envp[n])
		n++;
	return n;
}

static int needs_env_rewrite(void)
{
	size_t len = strlen(ctr_g.out_spec);
	return ctr_g.file && len && ctr_g.out_spec[len - 1] != '/' && owner_process();
}

static void fill_env(char **out, char *const envp[], size_t n, char *entry)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], "CTRACE_OUT=", 11) != 0)
			out[k++] = envp[i];
	out[k++] = entry;
	out[k] = NULL;
}

#define WITH_ENV(envp, newenv)                                                          \
	char *const *newenv = (envp);                                                   \
	if (needs_env_rewrite()) {                                                      \
		size_t n_ = env_count(envp);                                            \
		char **e_ = alloca((n_ + 2) * sizeof(char *));                          \
		char *entry_ = alloca(strlen(ctr_g.out_path) + 32);                     \
		sprintf(entry_, "CTRACE_OUT=%s.%d", ctr_g.out_path, (int)ctr_g.pid);    \
		fill_env(e_, envp, n_, entry_);                                         \
		newenv = e_;                                                            \
	}

CTR_WRAP int execve(const char *path, char *const argv[], char *const envp[])
{
	before_exec(path);
	WITH_ENV(envp, env);
	return CTR_REAL(execve)(path, argv, env);
}

CTR_WRAP int execv(const char *path, char *const argv[])
{
	before_exec(path);
	WITH_ENV(environ, env);
	return CTR_REAL(execve)(path, argv, env);
}

CTR_WRAP int execvpe(const char *file, char *const argv[], char *const envp[])
{
	before_exec(file);
	WITH_ENV(envp, env);
	return CTR_REAL(execvpe)(file, argv, env);
}

CTR_WRAP int execvp(const char *file, char *const argv[])
{
	before_exec(file);
	WITH_ENV(environ, env);
	return CTR_REAL(execvpe)(file, argv, env);
}

/* The execl family: gather the variadic list into an argv on the stack. */
#define COLLECT_ARGS(arg0, ap, argv, extra)                       \
	size_t argc_ = 1;                                         \
	va_start(ap, arg0);                                       \
	while (va_arg(ap, char *))                                \
		argc_++;                                          \
	va_end(ap);                                               \
	char **argv = alloca((argc_ + 1) * sizeof(char *));       \
	va_start(ap, arg0);                                       \
	argv[0] = (char *)(arg0);                                 \
	for (size_t i_ = 1; i_ <= argc_; i_++)                    \
		argv[i_] = va_arg(ap, char *);                    \
	extra;                                                    \
	va_end(ap)

CTR_WRAP int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv, (void)0);
	return execv(path, argv);
}

CTR_WRAP int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv, (void)0);
	return execvp(file, argv);
}

CTR_WRAP int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char **envp;
	COLLECT_ARGS(arg, ap, argv, envp = va_arg(ap, char **));
	return execve(path, argv, envp);
}

CTR_WRAP void _exit(int status)
{
	if (owner_process())
		ctr_process_exit();
	CTR_REAL(_exit)(status);
}

/*
 * Calls the kernel refuses to a multi-threaded process (EINVAL): unshare with
 * CLONE_NEWUSER (which implies CLONE_THREAD), CLONE_THREAD, CLONE_SIGHAND or CLONE_VM, and
 * setns into a user or mount namespace (or of a type the descriptor names, 0). A program
 * that makes them while it has one thread of its own must get what it gets untraced, so
 * the tracer's threads stand down around the call (ctr_writer_pause). The kernel counts a
 * thread a moment after pthread_join returns for it (its memory is released later), so an
 * EINVAL right after is tried again for up to 20 ms. A program thread besides the caller,
 * or the HTTP endpoint's, still makes the call fail, as it would without the tracer.
 */
static int lone_call(int (*fn)(int, int), int a, int b)
{
	if (!owner_process() || ctr_tls.busy)
		return fn(a, b);
	ctr_tls.busy++;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	int locked = pthread_mutex_timedlock(&ctr_g.ctl, &ts) == 0;
	int paused = locked && ctr_writer_pause();
	int rc = fn(a, b), err = errno;
	for (int i = 0; paused && rc < 0 && err == EINVAL && i < 200; i++) {
		struct timespec d = { 0, 100000 };
		nanosleep(&d, NULL);
		rc = fn(a, b);
		err = errno;
	}
	if (paused)
		ctr_writer_resume();
	if (locked)
		pthread_mutex_unlock(&ctr_g.ctl);
	ctr_tls.busy--;
	errno = err;
	return rc;
}

static int call_unshare(int flags, int unused)
{
	(void)unused;
	return CTR_REAL(unshare)(flags);
}

CTR_WRAP int unshare(int flags)
{
	if (!(flags & (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)))
		return CTR_REAL(unshare)(flags);
	return lone_call(call_unshare, flags, 0);
}

CTR_WRAP int setns(int fd, int nstype)
{
	if (nstype != 0 && !(nstype & (CLONE_NEWUSER | CLONE_NEWNS)))
		return CTR_REAL(setns)(fd, nstype);
	return lone_call(CTR_REAL(setns), fd, nstype);
}
