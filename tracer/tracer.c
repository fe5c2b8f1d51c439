/*
 * Tracer life cycle: configuration from the environment, starting and stopping a capture,
 * the output file, and the public control API of ctrace.h.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#include "internal.h"

_Atomic int ctr_on;
struct ctr_global ctr_g = {
	.ctl = PTHREAD_MUTEX_INITIALIZER,
};
struct ctr_real ctr_real;

/* glibc's gettid(), not syscall(): the syscall() wrapper would record it. */
pid_t ctr_gettid(void)
{
	return gettid();
}

/* One line on stderr, without stdio: the program's own stdio state is not ours to touch. */
void ctr_warn(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "ctrace: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	int saved = errno;
	ssize_t w = write(2, buf, (size_t)n);
	(void)w;
	errno = saved;
}

void ctr_resolve(void)
{
#define R(name) ctr_real.name = (__typeof__(ctr_real.name))dlsym(RTLD_NEXT, #name)
	R(pthread_create);
	R(pthread_exit);
	R(pthread_setname_np);
	R(prctl);
	R(fork);
	R(execve);
	R(execvpe);
	R(_exit);
	R(unshare);
	R(setns);
#undef R
}

/* ---- configuration ---- */

/* "64M", "512K", "1G" or a plain number of bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	uint64_t mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* "1s", "250ms", "100us", "1.5" (seconds). */
static int parse_duration(const char *s, uint64_t *out_ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v > 0) || v > 3600.0 * 24)
		return -1;
	double mul = 1e9;
	if (strcmp(end, "ms") == 0)
		mul = 1e6;
	else if (strcmp(end, "us") == 0)
		mul = 1e3;
	else if (strcmp(end, "s") != 0 && *end)
		return -1;
	*out_ns = (uint64_t)(v * mul);
	return *out_ns ? 0 : -1;
}

static void env_size(const char *name, uint64_t *val, uint64_t min, uint64_t max)
{
	const char *s = getenv(name);
	uint64_t v;
	if (!s || !*s)
		return;
	if (parse_size(s, &v) < 0 || v < min || v > max) {
		ctr_warn("%s=%s is not a size between %llu and %llu bytes (e.g. 64M); using %llu",
			 name, s, (unsigned long long)min, (unsigned long long)max,
			 (unsigned long long)*val);
		return;
	}
	*val = v;
}

/* "sync,io,sched,alloc,user", "all", or "none". */
static void parse_classes(const char *s, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = { { "sync", CTR_CLASS_SYNC },   { "io", CTR_CLASS_IO },
		      { "sched", CTR_CLASS_SCHED }, { "alloc", CTR_CLASS_ALLOC },
		      { "user", CTR_CLASS_USER },   { "all", CTR_CLASS_ALL },
		      { "none", 0 } };
	unsigned v = 0;
	const char *p = s;

	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && strncmp(p, names[i].name, len) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0])) {
			ctr_warn("CTRACE_EVENTS=%s: unknown class '%.*s' (known: sync, io, sched, "
				 "alloc, user, all, none); recording all", s, (int)len, p);
			return;
		}
		v |= names[i].bit;
		p += len;
		if (*p == ',')
			p++;
	}
	*out = v;
}

/*
 * CTRACE_DEBUG_CACHE: where decompressed copies of compressed debug files go (an absolute
 * directory), or off. By default $XDG_CACHE_HOME/ctrace/debug, or ~/.cache/ctrace/debug;
 * none when neither variable holds an absolute path (a daemon without a home).
 */
static void debug_cache_from_env(void)
{
	char dir[PATH_MAX];
	const char *s = getenv("CTRACE_DEBUG_CACHE"), *base;
	if (s && *s) {
		if (strcmp(s, "off") == 0) {
			ctr_symbolize_cache(NULL);
		} else if (s[0] != '/' || strlen(s) >= sizeof dir - 64) {
			ctr_warn("CTRACE_DEBUG_CACHE=%s is not an absolute directory or off; no debug "
				 "cache", s);
			ctr_symbolize_cache(NULL);
		} else {
			ctr_symbolize_cache(s);
		}
		return;
	}
	int n = -1;
	if ((base = getenv("XDG_CACHE_HOME")) && base[0] == '/')
		n = snprintf(dir, sizeof dir - 64, "%s/ctrace/debug", base);
	else if ((base = getenv("HOME")) && base[0] == '/')
		n = snprintf(dir, sizeof dir - 64, "%s/.cache/ctrace/debug", base);
	ctr_symbolize_cache(n > 0 && (size_t)n < sizeof dir - 64 ? dir : NULL);
}

void ctr_config_from_env(void)
{
	struct ctr_config *c = &ctr_g.cfg;
	const char *s;

	c->classes = CTR_CLASS_ALL;
	c->stack_depth = 32;
	c->alloc_mode = CTR_ALLOC_SAMPLED;
	c->alloc_rate = 512u << 10;
	c->stack_min_ns = 20000;
	c->gen_period_ns = 1000000000u;
	c->ring_size = 512u << 10;
	c->buffer_total = 64u << 20;
	c->gen_max_bytes = 32u << 20;
	/* Level 1 takes half the compression time of level 3 on a busy program (whose cache
	 * evicts level 3's larger tables between drains) for traces about 12 % larger. */
	c->zstd_level = 1;
	c->drain_ns = 10000000u;
	c->switches = CTR_SWITCHES_AUTO;

	if ((s = getenv("CTRACE_EVENTS")) && *s)
		parse_classes(s, &c->classes);
	if ((s = getenv("CTRACE_STACK_DEPTH")) && *s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (*end || v < 0 || v > 128)
			ctr_warn("CTRACE_STACK_DEPTH=%s is not a depth from 0 to 128; using 32", s);
		else
			c->stack_depth = (unsigned)v;
	}
	if ((s = getenv("CTRACE_ALLOC")) && *s) {
		if (strcmp(s, "off") == 0)
			c->alloc_mode = CTR_ALLOC_OFF;
		else if (strcmp(s, "all") == 0)
			c->alloc_mode = CTR_ALLOC_ALL;
		else if (strcmp(s, "sampled") == 0)
			c->alloc_mode = CTR_ALLOC_SAMPLED;
		else
			ctr_warn("CTRACE_ALLOC=%s is not off, sampled or all; using sampled", s);
	}
	env_size("CTRACE_ALLOC_RATE", &c->alloc_rate, 1, 1ull << 40);
	if ((s = getenv("CTRACE_STACK_MIN")) && *s) {
		uint64_t ns;
		if (parse_duration(s, &ns) < 0)
			ctr_warn("CTRACE_STACK_MIN=%s is not a duration (e.g. 20us); using 20us", s);
		else
			c->stack_min_ns = ns;
	}
	if ((s = getenv("CTRACE_GEN_PERIOD")) && *s) {
		uint64_t ns;
		if (parse_duration(s, &ns) < 0 || ns < 1000000u)
			ctr_warn("CTRACE_GEN_PERIOD=%s is not a duration of at least 1ms (e.g. 1s, "
				 "500ms); using 1s", s);
		else
			c->gen_period_ns = ns;
	}
	env_size("CTRACE_THREAD_BUFFER", &c->ring_size, 16u << 10, 64u << 20);
	/* A power of two, so positions map to offsets with a mask. */
	uint64_t p = 16u << 10;
	while (p < c->ring_size)
		p <<= 1;
	c->ring_size = p;
	env_size("CTRACE_BUFFER_SIZE", &c->buffer_total, 1u << 20, 1ull << 40);
	if ((s = getenv("CTRACE_ZSTD_LEVEL")) && *s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (*end || v < 1 || v > 19)
			ctr_warn("CTRACE_ZSTD_LEVEL=%s is not a level from 1 to 19; using 1", s);
		else
			c->zstd_level = (int)v;
	}
	if ((s = getenv("CTRACE_SWITCHES")) && *s) {
		if (strcmp(s, "auto") == 0)
			c->switches = CTR_SWITCHES_AUTO;
		else if (strcmp(s, "cpu") == 0)
			c->switches = CTR_SWITCHES_CPU;
		else if (strcmp(s, "thread") == 0)
			c->switches = CTR_SWITCHES_THREAD;
		else if (strcmp(s, "bpf") == 0)
			c->switches = CTR_SWITCHES_BPF;
		else
			ctr_warn("CTRACE_SWITCHES=%s is not auto, bpf, cpu or thread; using auto", s);
	}
	if ((s = getenv("CTRACE_SYMBOLS")) && *s) {
		if (strcmp(s, "lines") == 0 || strcmp(s, "names") == 0)
			ctr_symbolize_lines(strcmp(s, "lines") == 0);
		else
			ctr_warn("CTRACE_SYMBOLS=%s is not lines or names; using lines", s);
	}
	debug_cache_from_env();
	if ((s = getenv("CTRACE_CLOCK")) && *s && strcmp(s, "tsc") != 0 &&
	    strcmp(s, "monotonic") != 0)
		ctr_warn("CTRACE_CLOCK=%s is not tsc or monotonic; using the default", s);
	s = getenv("CTRACE_OUT");
	ctr_g.out_spec[0] = 0;
	if (s && *s) {
		if (strlen(s) >= sizeof(ctr_g.out_spec) - 32)
			ctr_warn("CTRACE_OUT is too long; not tracing");
		else
			strcpy(ctr_g.out_spec, s);
	}
}

/* ---- output ---- */

static int open_unique(const char *base, const char *suffix)
{
	char *path = ctr_g.out_path;
	size_t size = sizeof(ctr_g.out_path);
	for (int i = 1; i < 1000; i++) {
		int n = i == 1 ? snprintf(path, size, "%s%s", base, suffix)
			       : snprintf(path, size, "%s-%d%s", base, i, suffix);
		if (n < 0 || (size_t)n >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

/*
 * The sink for this process: CTRACE_OUT=DIR/ gives DIR/PID.ctrace (a new name per process
 * image); CTRACE_OUT=PATH gives PATH for the process that reads it, PATH.PID for a forked
 * child (exec'd programs get their own CTRACE_OUT from the exec wrappers).
 */
int ctr_open_output(int forked)
{
	const char *spec = ctr_g.out_spec;
	size_t len = strlen(spec);
	char base[sizeof(ctr_g.out_path)];
	int fd;

	if (!len)
		return -1;
	if (spec[len - 1] == '/') {
		snprintf(base, sizeof(base), "%s%d", spec, (int)ctr_g.pid);
		fd = open_unique(base, ".ctrace");
	} else {
		int n;
		if (forked) {
			memcpy(base, ctr_g.out_path, sizeof(base));
			n = snprintf(ctr_g.out_path, sizeof(ctr_g.out_path), "%s.%d", base,
				     (int)getpid());
		} else {
			n = snprintf(ctr_g.out_path, sizeof(ctr_g.out_path), "%s", spec);
		}
		if (n < 0 || (size_t)n >= sizeof(ctr_g.out_path)) {
			errno = ENAMETOOLONG;
			fd = -1;
		} else {
			fd = open(ctr_g.out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		}
	}
	if (fd < 0)
		ctr_warn("cannot open the trace output %s: %s; not tracing", spec, strerror(errno));
	return fd < 0 ? fd : ctr_fd_guard(fd);
}

/* ---- start and stop ---- */

int ctr_snapshot_threads(uint32_t **tids_out, char (**names_out)[16], size_t *n_out)
{
	DIR *d = opendir("/proc/self/task");
	size_t n = 0, cap = 64;
	uint32_t *tids = malloc(cap * sizeof(*tids));
	char(*names)[16] = malloc(cap * sizeof(*names));
	struct dirent *de;

	*tids_out = NULL;
	*names_out = NULL;
	*n_out = 0;
	if (!d || !tids || !names) {
		if (d)
			closedir(d);
		free(tids);
		free(names);
		return CTRACE_ENOMEM;
	}
	while ((de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (*end || tid <= 0 || ctr_is_internal((uint32_t)tid))
			continue;
		if (n == cap) {
			cap *= 2;
			uint32_t *nt = realloc(tids, cap * sizeof(*tids));
			char(*nn)[16] = nt ? realloc(names, cap * sizeof(*names)) : NULL;
			if (nt)
				tids = nt;
			if (!nn)
				break;
			names = nn;
		}
		if (ctr_task_live(tid, names[n]))
			tids[n++] = (uint32_t)tid;
	}
	closedir(d);
	*tids_out = tids;
	*names_out = names;
	*n_out = n;
	return 0;
}

/* Start a capture into @fd. Called with ctl held and ctr_tls.busy set. */
int ctr_start_locked(int fd, int own)
{
	if (ctr_g.file)
		return CTRACE_EBUSY;
	if (fd < 0 || fcntl(fd, F_GETFL) < 0)
		return CTRACE_EINVAL;
	struct ctr_sink *k = ctr_fd_sink_new(fd, 0);
	if (!k)
		return CTRACE_ENOMEM;
	int err = ctr_capture_add(k);
	if (err) {
		k->release(k); /* the caller still owns the fd when this fails */
		return err;
	}
	/* From here on the sink closes an fd we opened ourselves. */
	ctr_fd_sink_own(k, own);
	ctr_g.file = k;
	return 0;
}

static int stop_locked(int timeout_ms)
{
	struct ctr_sink *k = ctr_g.file;
	if (!k)
		return CTRACE_ENOTRUNNING;
	ctr_g.file = NULL;
	int err = ctr_capture_remove(k, timeout_ms);
	/* A writer stuck in write() may still hold the sink: then it is left, not freed. */
	if (!(err == CTRACE_EIO && !k->failed))
		k->release(k);
	return err;
}

/* CTRACE_SINK=lttng: tracing on, every event to LTTng and none kept (lttng/sink.c). */
int ctr_start_lttng_locked(void)
{
	if (ctr_g.file)
		return CTRACE_EBUSY;
	struct ctr_sink *k = ctr_null_sink_new();
	if (!k)
		return CTRACE_ENOMEM;
	int err = ctr_capture_add(k);
	if (err) {
		k->release(k);
		return err;
	}
	ctr_g.file = k;
	return 0;
}

/* CTRACE_SINK: load the LTTng provider when asked for. @return the mode in effect. */
static int sink_from_env(void)
{
	const char *s = getenv("CTRACE_SINK");
	int mode = ctr_sink_parse(s);
	if (mode < 0) {
		ctr_warn("CTRACE_SINK=%s is not native, lttng or both; recording natively", s);
		return CTR_SINK_NATIVE;
	}
	if (mode != CTR_SINK_NATIVE && ctr_lttng_load(mode) < 0)
		return CTR_SINK_NATIVE;
	return mode;
}

/* The LTTng session sees the main thread's name, which the native recorder takes from its
 * snapshot of the threads at capture start. */
static void name_main_thread(void)
{
	char name[16] = { 0 };
	if (prctl(PR_GET_NAME, name) != 0)
		return;
	uint64_t args[1] = { 0 };
	ctr_tls.busy--;
	ctr_event_blob(CTRACE_EV_THREAD_NAME, 1, args, name, strnlen(name, sizeof(name)));
	ctr_tls.busy++;
}

CTRACE_API int ctrace_start(int fd)
{
	ctr_tls.busy++;
	pthread_mutex_lock(&ctr_g.ctl);
	int err = ctr_start_locked(fd, 0);
	pthread_mutex_unlock(&ctr_g.ctl);
	ctr_tls.busy--;
	return err;
}

CTRACE_API int ctrace_stop(void)
{
	ctr_tls.busy++;
	pthread_mutex_lock(&ctr_g.ctl);
	int err = stop_locked(5000);
	pthread_mutex_unlock(&ctr_g.ctl);
	ctr_tls.busy--;
	return err;
}

CTRACE_API int ctrace_enabled(void)
{
	return atomic_load_explicit(&ctr_on, memory_order_relaxed);
}

void ctr_fork_child(void);

/* CTRACE_FLIGHT=SIZE: tracing always on, the last SIZE bytes of generations in memory. */
static void start_flight(const char *spec)
{
	uint64_t size;
	if (parse_size(spec, &size) < 0 || size < (1u << 20) || size > (1ull << 40)) {
		ctr_warn("CTRACE_FLIGHT=%s is not a size of at least 1M (e.g. 64M); no flight "
			 "recorder", spec);
		return;
	}
	struct ctr_sink *k = ctr_flight_sink_new(size);
	if (!k)
		return;
	pthread_mutex_lock(&ctr_g.ctl);
	int err = ctr_capture_add(k);
	pthread_mutex_unlock(&ctr_g.ctl);
	if (err) {
		ctr_warn("cannot start the flight recorder: %s", ctrace_strerror(err));
		k->release(k);
		return;
	}
	ctr_g.flight = k;
}

__attribute__((constructor)) static void ctr_init(void)
{
	ctr_tls.busy++;
	ctr_resolve();
	ctr_g.pid = getpid();
	ctr_clock_init();
	ctr_config_from_env();
	/* Until the writer has measured the clock: assume 3 ticks per ns (a 3 GHz TSC). */
	atomic_store(&ctr_g.stack_min_ticks,
		     ctr_g.cfg.stack_min_ns * (ctr_clock_is_tsc ? 3 : 1));
	ctr_buffer_init();
	ctr_stack_init();
	ctr_prof_init();
	ctr_writer_atfork(); /* registered first: its prepare runs last, just before fork */
	pthread_atfork(NULL, NULL, ctr_fork_child);
	const char *flight = getenv("CTRACE_FLIGHT");
	if (flight && *flight)
		start_flight(flight);
	int sink = sink_from_env();
	if (sink == CTR_SINK_LTTNG) {
		/* Events go to LTTng only: no file, whatever CTRACE_OUT says. */
		pthread_mutex_lock(&ctr_g.ctl);
		int err = ctr_start_lttng_locked();
		pthread_mutex_unlock(&ctr_g.ctl);
		if (err)
			ctr_warn("cannot start tracing: %s", ctrace_strerror(err));
	} else if (ctr_g.out_spec[0]) {
		int fd = ctr_open_output(0);
		if (fd >= 0) {
			pthread_mutex_lock(&ctr_g.ctl);
			int err = ctr_start_locked(fd, 1);
			pthread_mutex_unlock(&ctr_g.ctl);
			if (err) {
				ctr_warn("cannot start tracing: %s", ctrace_strerror(err));
				ctr_fd_close_guarded(fd);
			}
		}
	}
	if (sink != CTR_SINK_NATIVE && atomic_load(&ctr_on))
		name_main_thread();
	const char *http = getenv("CTRACE_HTTP");
	if (http && *http)
		ctrace_http_start(http);
	ctr_tls.busy--;
}

/*
 * The process is exiting (exit() or return from main): the final generation goes to every
 * capture. Sinks are not freed: the process is going away, and an HTTP client's
 * connection thread may still be sending its last bytes.
 */
void ctr_process_exit(void)
{
	if (!ctr_capture_count() || getpid() != ctr_g.pid)
		return;
	ctr_thread_end(CTRACE_END_PROCESS_EXIT);
	ctr_tls.busy++;
	/* A thread killed while holding ctl (or exit from a signal handler) must not hang
	 * the exit: try for a while, then go without the final generation. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_mutex_timedlock(&ctr_g.ctl, &ts) == 0) {
		ctr_capture_stop_all(2000);
		pthread_mutex_unlock(&ctr_g.ctl);
		ctr_http_process_exit(2000);
	}
	ctr_tls.busy--;
}

__attribute__((destructor)) static void ctr_fini(void)
{
	ctr_process_exit();
}
