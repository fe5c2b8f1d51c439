/*
 * Syscalls and I/O: each wrapped call records call_begin (call, fd, fd kind) and call_end
 * (result, errno, and the stack when it was slow). The fd kind is cached per fd and
 * forgotten when the fd is closed, duplicated over, or handed out again by open/accept.
 * Descriptors closed inside libc (fclose) are not seen: their cached kind can go stale
 * until the number is reused through a wrapped call.
 */
/* Both pread and pread64 are interposed: their prototypes must not be renamed. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wrap.h"

#define FD_CACHE 65536
#define FD_KNOWN 0x80

static _Atomic uint8_t fd_kinds[FD_CACHE];

static uint32_t classify(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return CTRACE_FD_UNKNOWN;
	if (S_ISREG(st.st_mode))
		return CTRACE_FD_FILE;
	if (S_ISFIFO(st.st_mode))
		return CTRACE_FD_PIPE;
	if (S_ISSOCK(st.st_mode))
		return CTRACE_FD_SOCKET;
	if (S_ISCHR(st.st_mode))
		return CTRACE_FD_TTY;
	/* Anonymous inodes (eventfd, epoll, timerfd) say what they are only by name. */
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		if (strcmp(link, "anon_inode:[eventfd]") == 0)
			return CTRACE_FD_EVENTFD;
	}
	return CTRACE_FD_OTHER;
}

static uint32_t fd_kind(int fd)
{
	if (fd < 0 || fd >= FD_CACHE)
		return fd < 0 ? CTRACE_FD_UNKNOWN : classify(fd);
	uint8_t k = atomic_load_explicit(&fd_kinds[fd], memory_order_relaxed);
	if (likely(k & FD_KNOWN))
		return k & ~FD_KNOWN;
	int saved = errno;
	uint32_t kind = classify(fd);
	errno = saved;
	atomic_store_explicit(&fd_kinds[fd], (uint8_t)(kind | FD_KNOWN), memory_order_relaxed);
	return kind;
}

static void fd_forget(int fd)
{
	if (fd >= 0 && fd < FD_CACHE)
		atomic_store_explicit(&fd_kinds[fd], 0, memory_order_relaxed);
}

/*
 * The tracer's descriptors: the trace output, and every descriptor made by the tracer's
 * own code through the wrappers below (libunwind's pipe, the HTTP endpoint's sockets and
 * eventfd, the context-switch rings' perf events). Daemons close every descriptor they did
 * not open (a loop of close, closefrom, close_range) and redirect numbers with dup2; were
 * the tracer's closed, the trace or the endpoint would stop, and the program's next open
 * would get the number and the tracer's bytes in its file. So each moves above the
 * program's numbers (the program's own descriptors keep the numbers they have without
 * ctrace) and is guarded: to the program the number is what it is without ctrace, a number
 * nothing is open on (close gives EBADF, closefrom and close_range step over it, dup2 onto
 * it succeeds after the tracer has moved out of its way).
 */
static _Atomic uint64_t guarded[FD_CACHE / 64];
/* Numbers a guarded descriptor lost to the program's dup2: the tracer's code may still
 * hold the old number (libunwind, libmicrohttpd), and its close of it must not close the
 * program's descriptor. */
static _Atomic uint64_t lost[FD_CACHE / 64];

static int bit_get(_Atomic uint64_t *set, int fd)
{
	return fd >= 0 && fd < FD_CACHE &&
	       (atomic_load_explicit(&set[fd / 64], memory_order_relaxed) >> (fd % 64) & 1);
}

static void bit_put(_Atomic uint64_t *set, int fd, int on)
{
	if (fd < 0 || fd >= FD_CACHE)
		return;
	if (on)
		atomic_fetch_or(&set[fd / 64], 1ull << (fd % 64));
	else
		atomic_fetch_and(&set[fd / 64], ~(1ull << (fd % 64)));
}

static int is_guarded(int fd)
{
	return bit_get(guarded, fd);
}

/*
 * A copy of @fd at a number above the program's: the top of the range below the
 * RLIMIT_NOFILE soft limit (the last 32 numbers, then the last 256 and 1024 when there
 * are that many, never the lower half); when the limit leaves no room there, above the
 * soft limit itself, which is raised for the moment of the copy when the hard limit
 * allows (the program cannot make a number there; it is restored at once).
 * @return the copy (close-on-exec), or -1 when there is no room: the caller keeps @fd.
 */
static int copy_high(int fd)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	rlim_t top = rl.rlim_cur < FD_CACHE ? rl.rlim_cur : FD_CACHE;
	for (rlim_t w = 32; w <= 1024 && w <= top / 2; w *= 8) {
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)(top - w));
		if (hi >= 0)
			return hi;
	}
	if (rl.rlim_cur >= rl.rlim_max || rl.rlim_cur >= FD_CACHE - 64)
		return -1;
	struct rlimit up = { rl.rlim_cur + 64 < rl.rlim_max ? rl.rlim_cur + 64 : rl.rlim_max,
			     rl.rlim_max };
	if (setrlimit(RLIMIT_NOFILE, &up) != 0)
		return -1;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)rl.rlim_cur);
	setrlimit(RLIMIT_NOFILE, &rl);
	return hi;
}

static void guard_at(int fd)
{
	bit_put(lost, fd, 0);
	bit_put(guarded, fd, 1);
}

/*
 * A file the tracer's code just opened (the symbolizer's debug files, /proc files): moved
 * up and guarded when there is room, so that the program's next descriptor keeps its
 * number however the tracer's threads interleave with it; left where it is when there is
 * no room (it is closed again soon).
 */
static int tracer_open(int r)
{
	if (r < 0)
		return r;
	int saved = errno;
	int hi = copy_high(r);
	if (hi >= 0) {
		syscall(SYS_close, r);
		guard_at(hi);
		r = hi;
	}
	errno = saved;
	return r;
}

int ctr_fd_guard(int fd)
{
	int hi = tracer_open(fd);
	if (hi >= 0 && hi == fd) {
		int saved = errno;
		ctr_warn("the descriptor limit (RLIMIT_NOFILE) leaves no room above the program's "
			 "descriptors: the trace output takes descriptor %d", fd);
		errno = saved;
		guard_at(fd);
	}
	return hi;
}

/*
 * A descriptor the tracer's code just made (@r, or -1 with errno): moved up and guarded.
 * One that finds no room above the program's numbers is given up, as if the limit had
 * been reached (EMFILE): what needs it goes without (context switches, a connection to
 * the endpoint, libunwind's address check), and the program keeps its numbers.
 */
static int tracer_fd(int r)
{
	if (r < 0)
		return r;
	int hi = copy_high(r);
	syscall(SYS_close, r);
	if (hi < 0) {
		errno = EMFILE;
		return -1;
	}
	guard_at(hi);
	return hi;
}

void ctr_fd_close_guarded(int fd)
{
	bit_put(guarded, fd, 0);
	syscall(SYS_close, fd);
}

/*
 * Guarded descriptors whose number the tracer can change under its users: the trace
 * output (sink.c). A dup2 onto one moves it; its user reads the number each time
 * (ctr_fd_enter) and the move waits for a write in progress to end.
 */
#define FOLLOW_MAX 8
static _Atomic(_Atomic int *) follow[FOLLOW_MAX];
static _Atomic(_Atomic int *) in_use;
static pthread_mutex_t move_lock = PTHREAD_MUTEX_INITIALIZER;

void ctr_fd_follow(_Atomic int *where, int on)
{
	for (int i = 0; i < FOLLOW_MAX; i++) {
		_Atomic int *expect = on ? NULL : where;
		if (atomic_compare_exchange_strong(&follow[i], &expect, on ? where : NULL))
			return;
	}
}

int ctr_fd_enter(_Atomic int *where)
{
	atomic_store(&in_use, where);
	return atomic_load(where);
}

void ctr_fd_leave(void)
{
	atomic_store(&in_use, NULL);
}

/* In a fork child: the writer that was writing and a thread that was moving are gone. */
void ctr_fd_fork_child(void)
{
	atomic_store(&in_use, NULL);
	pthread_mutex_init(&move_lock, NULL);
}

/* The program's dup2/dup3 is about to replace guarded @fd: move the tracer out of its way. */
static void displace(int fd)
{
	ctr_tls.busy++;
	pthread_mutex_lock(&move_lock);
	int saved = errno, followed = 0;
	for (int i = 0; i < FOLLOW_MAX; i++) {
		_Atomic int *w = atomic_load(&follow[i]);
		if (!w || atomic_load(w) != fd)
			continue;
		int hi = copy_high(fd);
		if (hi >= 0)
			guard_at(hi);
		atomic_store(w, hi); /* without room, its writes fail: never into the program's */
		/* A write that read the old number may not have reached the kernel yet. */
		for (int waited = 0; atomic_load(&in_use) == w && waited < 2000; waited++) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
		followed = 1;
		break;
	}
	if (is_guarded(fd)) {
		bit_put(guarded, fd, 0);
		if (!followed)
			bit_put(lost, fd, 1); /* the tracer's users of it go without */
	}
	errno = saved;
	pthread_mutex_unlock(&move_lock);
	ctr_tls.busy--;
}

/* close_range(2) over [first, last] minus the guarded descriptors. */
static int close_range_unguarded(unsigned first, unsigned last, int flags)
{
	unsigned from = first;
	for (unsigned fd = first; fd <= last && fd < FD_CACHE; fd++) {
		if (!is_guarded((int)fd))
			continue;
		if (fd > from && syscall(SYS_close_range, from, fd - 1, flags) < 0)
			return -1;
		from = fd + 1;
	}
	if (from <= last && syscall(SYS_close_range, from, last, flags) < 0)
		return -1;
	return 0;
}

/* The kind is needed only when the event is written; the state does not use it. */
static inline uint32_t kind_if_traced(int fd)
{
	return atomic_load_explicit(&ctr_on, memory_order_relaxed) ? fd_kind(fd) : 0;
}

/*
 * The real functions, resolved when libctrace is loaded. A wrapper's first call takes its
 * function from here rather than calling dlsym: dlsym takes the dynamic loader's lock, and
 * a thread started by a library's constructor (LTTng-UST's listeners, while libctrace
 * dlopens the LTTng provider) would wait for it forever while that constructor waits for
 * the thread. It runs before the tracer's own constructor (ctr_init), which does that dlopen.
 */
static const char *const io_names[] = {
	"read",
	"write",
	"pread",
	"pread64",
	"pwrite",
	"pwrite64",
	"readv",
	"writev",
	"recv",
	"recvfrom",
	"recvmsg",
	"send",
	"sendto",
	"sendmsg",
	"connect",
	"poll",
	"ppoll",
	"select",
	"pselect",
	"epoll_wait",
	"epoll_pwait",
	"fsync",
	"fdatasync",
	"sendfile",
	"sendfile64",
	"splice",
	"waitpid",
	"wait4",
	"nanosleep",
	"usleep",
	"accept",
	"accept4",
	"open",
	"open64",
	"openat",
	"openat64",
	"sleep",
	"clock_nanosleep",
	"close",
	"pipe",
	"pipe2",
	"dup2",
	"dup3",
	"socket",
	"socketpair",
	"eventfd",
	"syscall"
};
static void *io_real[sizeof(io_names) / sizeof(io_names[0])];

__attribute__((constructor(101))) static void io_resolve(void)
{
	for (size_t i = 0; i < sizeof(io_names) / sizeof(io_names[0]); i++)
		io_real[i] = dlsym(RTLD_NEXT, io_names[i]);
}

static void *next_fn(const char *name)
{
	for (size_t i = 0; i < sizeof(io_names) / sizeof(io_names[0]); i++)
		if (io_real[i] && strcmp(io_names[i], name) == 0)
			return io_real[i];
	return dlsym(RTLD_NEXT, name);
}

/* The next definition of @name, resolved on first use into @slot: threads that race store
 * the same value, and relaxed atomics say so. */
#define NEXT(slot, name)                                                                   \
	__extension__({                                                                    \
		__typeof__(slot) f_ = __atomic_load_n(&(slot), __ATOMIC_RELAXED);          \
		if (unlikely(!f_)) {                                                       \
			f_ = (__typeof__(slot))next_fn(name);                              \
			__atomic_store_n(&(slot), f_, __ATOMIC_RELAXED);                    \
		}                                                                          \
		f_;                                                                        \
	})

/*
 * One wrapper: the real function resolved on first use, the call's state, and its
 * events. ret < 0 (or -1) means failure with errno, except where noted.
 */
#define IO_WRAP(ret_t, name, call, reason, fdexpr, params, args)                       \
	CTR_WRAP ret_t name params                                                     \
	{                                                                              \
		static ret_t(*real_slot) params; \
		ret_t(*real_) params = NEXT(real_slot, #name); \
		struct ctr_episode c_;                                                  \
		int fd_ = (fdexpr);                                                    \
		ctr_call_begin(&c_, CTR_CLASS_IO, call, reason, fd_, kind_if_traced(fd_)); \
		ret_t r_ = real_ args;                                                   \
		int err_ = errno;                                                       \
		ctr_call_end(&c_, (int64_t)r_, err_);                                     \
		errno = err_;                                                           \
		return r_;                                                              \
	}

#define IO CTRACE_REASON_IO
#define SLEEP CTRACE_REASON_SLEEP
#define SYS CTRACE_REASON_SYSCALL

IO_WRAP(ssize_t, read, CTR_CALL_READ, IO, fd, (int fd, void *b, size_t n), (fd, b, n))
IO_WRAP(ssize_t, write, CTR_CALL_WRITE, IO, fd, (int fd, const void *b, size_t n), (fd, b, n))
IO_WRAP(ssize_t, pread, CTR_CALL_PREAD, IO, fd, (int fd, void *b, size_t n, off_t o),
	(fd, b, n, o))
IO_WRAP(ssize_t, pread64, CTR_CALL_PREAD, IO, fd, (int fd, void *b, size_t n, off_t o),
	(fd, b, n, o))
IO_WRAP(ssize_t, pwrite, CTR_CALL_PWRITE, IO, fd, (int fd, const void *b, size_t n, off_t o),
	(fd, b, n, o))
IO_WRAP(ssize_t, pwrite64, CTR_CALL_PWRITE, IO, fd,
	(int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
IO_WRAP(ssize_t, readv, CTR_CALL_READV, IO, fd, (int fd, const struct iovec *v, int n),
	(fd, v, n))
IO_WRAP(ssize_t, writev, CTR_CALL_WRITEV, IO, fd, (int fd, const struct iovec *v, int n),
	(fd, v, n))
IO_WRAP(ssize_t, recv, CTR_CALL_RECV, IO, fd, (int fd, void *b, size_t n, int f),
	(fd, b, n, f))
IO_WRAP(ssize_t, recvfrom, CTR_CALL_RECVFROM, IO, fd,
	(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l),
	(fd, b, n, f, a, l))
IO_WRAP(ssize_t, recvmsg, CTR_CALL_RECVMSG, IO, fd, (int fd, struct msghdr *m, int f),
	(fd, m, f))
IO_WRAP(ssize_t, send, CTR_CALL_SEND, IO, fd, (int fd, const void *b, size_t n, int f),
	(fd, b, n, f))
IO_WRAP(ssize_t, sendto, CTR_CALL_SENDTO, IO, fd,
	(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l),
	(fd, b, n, f, a, l))
IO_WRAP(ssize_t, sendmsg, CTR_CALL_SENDMSG, IO, fd, (int fd, const struct msghdr *m, int f),
	(fd, m, f))
IO_WRAP(int, connect, CTR_CALL_CONNECT, IO, fd,
	(int fd, const struct sockaddr *a, socklen_t l), (fd, a, l))
IO_WRAP(int, poll, CTR_CALL_POLL, IO, -1, (struct pollfd *p, nfds_t n, int t), (p, n, t))
IO_WRAP(int, ppoll, CTR_CALL_PPOLL, IO, -1,
	(struct pollfd *p, nfds_t n, const struct timespec *t, const sigset_t *m), (p, n, t, m))
IO_WRAP(int, select, CTR_CALL_SELECT, IO, -1,
	(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t), (n, r, w, e, t))
IO_WRAP(int, pselect, CTR_CALL_PSELECT, IO, -1,
	(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m),
	(n, r, w, e, t, m))
IO_WRAP(int, epoll_wait, CTR_CALL_EPOLL_WAIT, IO, fd,
	(int fd, struct epoll_event *e, int n, int t), (fd, e, n, t))
IO_WRAP(int, epoll_pwait, CTR_CALL_EPOLL_PWAIT, IO, fd,
	(int fd, struct epoll_event *e, int n, int t, const sigset_t *m), (fd, e, n, t, m))
IO_WRAP(int, fsync, CTR_CALL_FSYNC, IO, fd, (int fd), (fd))
IO_WRAP(int, fdatasync, CTR_CALL_FDATASYNC, IO, fd, (int fd), (fd))
IO_WRAP(ssize_t, sendfile, CTR_CALL_SENDFILE, IO, out, (int out, int in, off_t *o, size_t n),
	(out, in, o, n))
IO_WRAP(ssize_t, sendfile64, CTR_CALL_SENDFILE, IO, out,
	(int out, int in, off_t *o, size_t n), (out, in, o, n))
IO_WRAP(ssize_t, splice, CTR_CALL_SPLICE, IO, in,
	(int in, loff_t *oi, int out, loff_t *oo, size_t n, unsigned f), (in, oi, out, oo, n, f))
IO_WRAP(pid_t, waitpid, CTR_CALL_WAITPID, SYS, -1, (pid_t p, int *s, int o), (p, s, o))
IO_WRAP(pid_t, wait4, CTR_CALL_WAIT4, SYS, -1, (pid_t p, int *s, int o, struct rusage *r),
	(p, s, o, r))
IO_WRAP(int, nanosleep, CTR_CALL_NANOSLEEP, SLEEP, -1,
	(const struct timespec *a, struct timespec *b), (a, b))
IO_WRAP(int, usleep, CTR_CALL_USLEEP, SLEEP, -1, (useconds_t u), (u))

/* sleep returns the seconds left, never an error; clock_nanosleep returns the error. */
CTR_WRAP unsigned int sleep(unsigned int secs)
{
	static unsigned int (*real_slot)(unsigned int);
	unsigned int (*real)(unsigned int) = NEXT(real_slot, "sleep");
	struct ctr_episode c;
	ctr_call_begin(&c, CTR_CLASS_IO, CTR_CALL_SLEEP, SLEEP, -1, 0);
	unsigned int r = real(secs);
	int err = errno;
	ctr_call_end(&c, r, 0);
	errno = err;
	return r;
}

CTR_WRAP int clock_nanosleep(clockid_t clk, int flags, const struct timespec *a,
			     struct timespec *b)
{
	static int (*real_slot)(clockid_t, int, const struct timespec *, struct timespec *);
	int (*real)(clockid_t, int, const struct timespec *, struct timespec *) = NEXT(
		real_slot, "clock_nanosleep");
	struct ctr_episode c;
	ctr_call_begin(&c, CTR_CLASS_IO, CTR_CALL_CLOCK_NANOSLEEP, SLEEP, -1, 0);
	int r = real(clk, flags, a, b);
	int err = errno;
	ctr_call_end(&c, r ? -r : 0, r);
	errno = err;
	return r;
}

/* Calls that hand out a new descriptor: its number may carry a stale kind. */
#define NEWFD_WRAP(name, call, params, args)                                          \
	CTR_WRAP int name params                                                      \
	{                                                                             \
		static int(*real_slot) params; \
		int(*real) params = NEXT(real_slot, #name); \
		struct ctr_episode c;                                                 \
		ctr_call_begin(&c, CTR_CLASS_IO, call, IO, fd, kind_if_traced(fd));   \
		int r = real args;                                                    \
		if (unlikely(ctr_tls.busy))                                           \
			r = tracer_fd(r);                                             \
		int err = errno;                                                      \
		fd_forget(r);                                                         \
		ctr_call_end(&c, r, err);                                             \
		errno = err;                                                          \
		return r;                                                             \
	}

NEWFD_WRAP(accept, CTR_CALL_ACCEPT, (int fd, struct sockaddr *a, socklen_t *l), (fd, a, l))
NEWFD_WRAP(accept4, CTR_CALL_ACCEPT4, (int fd, struct sockaddr *a, socklen_t *l, int f),
	   (fd, a, l, f))

/* open and openat take a mode only with O_CREAT or O_TMPFILE. */
static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_WRAP(name, call, dirparam, dirarg)                                        \
	CTR_WRAP int name(dirparam const char *path, int flags, ...)                   \
	{                                                                              \
		static int (*real_slot)(dirparam const char *, int, ...); \
		int (*real)(dirparam const char *, int, ...) = NEXT(real_slot, #name); \
		va_list ap;                                                            \
		va_start(ap, flags);                                                   \
		mode_t mode = open_mode(flags, ap);                                    \
		va_end(ap);                                                            \
		struct ctr_episode c;                                                  \
		ctr_call_begin(&c, CTR_CLASS_IO, call, IO, -1, 0);                     \
		int r = real(dirarg path, flags, mode);                                \
		if (unlikely(ctr_tls.busy))                                            \
			r = tracer_open(r);                                            \
		int err = errno;                                                       \
		fd_forget(r);                                                          \
		ctr_call_end(&c, r, err);                                              \
		errno = err;                                                           \
		return r;                                                              \
	}

#define NO_DIR
#define COMMA_ ,
OPEN_WRAP(open, CTR_CALL_OPEN, NO_DIR, NO_DIR)
OPEN_WRAP(open64, CTR_CALL_OPEN, NO_DIR, NO_DIR)
OPEN_WRAP(openat, CTR_CALL_OPENAT, int dirfd COMMA_, dirfd COMMA_)
OPEN_WRAP(openat64, CTR_CALL_OPENAT, int dirfd COMMA_, dirfd COMMA_)

CTR_WRAP int close(int fd)
{
	static int (*real_slot)(int);
	int (*real)(int) = NEXT(real_slot, "close");
	if (unlikely(is_guarded(fd))) {
		if (!ctr_tls.busy) {
			/* The tracer's: without ctrace nothing is open there. */
			errno = EBADF;
			return -1;
		}
		ctr_fd_close_guarded(fd); /* the tracer's own code closing its own */
		return 0;
	}
	if (unlikely(ctr_tls.busy) && bit_get(lost, fd)) {
		bit_put(lost, fd, 0); /* the number is the program's now: leave it be */
		return 0;
	}
	struct ctr_episode c;
	ctr_call_begin(&c, CTR_CLASS_IO, CTR_CALL_CLOSE, IO, fd, kind_if_traced(fd));
	fd_forget(fd);
	int r = real(fd);
	int err = errno;
	ctr_call_end(&c, r, err);
	errno = err;
	return r;
}

/*
 * Descriptors made inside the tracer are the tracer's: libunwind validates addresses
 * through a pipe it makes on first use, libmicrohttpd makes its listening socket, an
 * eventfd and a socket per connection. Not recorded as calls.
 */
static int tracer_fds(int r, int fds[2])
{
	if (r != 0 || !ctr_tls.busy)
		return r;
	fds[0] = tracer_fd(fds[0]);
	int err = errno;
	fds[1] = tracer_fd(fds[1]);
	if (fds[0] >= 0 && fds[1] >= 0)
		return 0;
	if (fds[0] >= 0)
		ctr_fd_close_guarded(fds[0]);
	if (fds[1] >= 0)
		ctr_fd_close_guarded(fds[1]);
	else
		err = errno;
	errno = err;
	return -1;
}

CTR_WRAP int pipe(int fds[2])
{
	static int (*real_slot)(int *);
	int (*real)(int *) = NEXT(real_slot, "pipe");
	return tracer_fds(real(fds), fds);
}

CTR_WRAP int pipe2(int fds[2], int flags)
{
	static int (*real_slot)(int *, int);
	int (*real)(int *, int) = NEXT(real_slot, "pipe2");
	return tracer_fds(real(fds, flags), fds);
}

CTR_WRAP int socketpair(int domain, int type, int protocol, int fds[2])
{
	static int (*real_slot)(int, int, int, int *);
	int (*real)(int, int, int, int *) = NEXT(real_slot, "socketpair");
	int r = tracer_fds(real(domain, type, protocol, fds), fds);
	if (r == 0) {
		fd_forget(fds[0]);
		fd_forget(fds[1]);
	}
	return r;
}

/* The number may carry a stale kind (a descriptor closed inside libc). */
CTR_WRAP int socket(int domain, int type, int protocol)
{
	static int (*real_slot)(int, int, int);
	int (*real)(int, int, int) = NEXT(real_slot, "socket");
	int r = real(domain, type, protocol);
	if (unlikely(ctr_tls.busy))
		r = tracer_fd(r);
	fd_forget(r);
	return r;
}

CTR_WRAP int eventfd(unsigned int count, int flags)
{
	static int (*real_slot)(unsigned int, int);
	int (*real)(unsigned int, int) = NEXT(real_slot, "eventfd");
	int r = real(count, flags);
	if (unlikely(ctr_tls.busy))
		r = tracer_fd(r);
	fd_forget(r);
	return r;
}

/* Not recorded as calls; the kinds of what they close are forgotten. */
CTR_WRAP int close_range(unsigned first, unsigned last, int flags)
{
	if (first > last) {
		errno = EINVAL;
		return -1;
	}
	for (unsigned fd = first; fd <= last && fd < FD_CACHE; fd++)
		fd_forget((int)fd);
	return close_range_unguarded(first, last, flags);
}

CTR_WRAP void closefrom(int lowfd)
{
	if (lowfd < 0)
		lowfd = 0;
	for (int fd = lowfd; fd < FD_CACHE; fd++)
		fd_forget(fd);
	if (close_range_unguarded((unsigned)lowfd, ~0u, 0) < 0) {
		/* Without close_range (kernels before 5.9): one by one, as glibc does. */
		struct rlimit rl;
		int top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FD_CACHE
				  ? (int)rl.rlim_cur : FD_CACHE;
		for (int fd = lowfd; fd < top; fd++)
			if (!is_guarded(fd))
				syscall(SYS_close, fd);
	}
}

/*
 * dup2/dup3 replace the target descriptor: forget what it was. Onto one of the tracer's,
 * the tracer moves out of the way first; from one, it is EBADF, as without ctrace.
 * Not recorded as calls.
 */
static int dup_guarded(int old, int new)
{
	if (ctr_tls.busy)
		return 0;
	if (is_guarded(old)) {
		errno = EBADF;
		return -1;
	}
	if (is_guarded(new) && old != new && fcntl(old, F_GETFD) >= 0)
		displace(new);
	return 0;
}

CTR_WRAP int dup2(int old, int new)
{
	static int (*real_slot)(int, int);
	int (*real)(int, int) = NEXT(real_slot, "dup2");
	if (unlikely(is_guarded(old) || is_guarded(new)) && dup_guarded(old, new) < 0)
		return -1;
	int r = real(old, new);
	fd_forget(new);
	return r;
}

CTR_WRAP int dup3(int old, int new, int flags)
{
	static int (*real_slot)(int, int, int);
	int (*real)(int, int, int) = NEXT(real_slot, "dup3");
	if (unlikely(is_guarded(old) || is_guarded(new)) && dup_guarded(old, new) < 0)
		return -1;
	int r = real(old, new, flags);
	fd_forget(new);
	return r;
}

/*
 * The generic syscall(): futex waits are synchronization (what libraries that roll their
 * own locks block in); other syscalls made this way are recorded as "syscall".
 */
CTR_WRAP long syscall(long nr, ...)
{
	static long (*real_slot)(long, ...);
	long (*real)(long, ...) = NEXT(real_slot, "syscall");
	va_list ap;
	va_start(ap, nr);
	long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
	long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
	va_end(ap);

	/* The tracer's own syscalls (gettid, futex wakes) go straight through; a perf event
	 * it opens is its descriptor. */
	if (ctr_tls.busy) {
		long r = real(nr, a1, a2, a3, a4, a5, a6);
		if (nr == SYS_perf_event_open && r >= 0)
			r = tracer_fd((int)r);
		return r;
	}
	struct ctr_episode c;
	if (nr == SYS_futex) {
		int op = (int)a2 & FUTEX_CMD_MASK;
		if (op != FUTEX_WAIT && op != FUTEX_WAIT_BITSET && op != FUTEX_LOCK_PI)
			return real(nr, a1, a2, a3, a4, a5, a6);
		ctr_block_begin(&c, CTR_CALL_FUTEX, (uint64_t)a1);
		long r = real(nr, a1, a2, a3, a4, a5, a6);
		int err = errno;
		ctr_block_end(&c, r < 0 ? -err : r);
		errno = err;
		return r;
	}
	ctr_call_begin(&c, CTR_CLASS_IO, CTR_CALL_SYSCALL, SYS, -1, 0);
	long r = real(nr, a1, a2, a3, a4, a5, a6);
	int err = errno;
	ctr_call_end(&c, r, err);
	errno = err;
	return r;
}
