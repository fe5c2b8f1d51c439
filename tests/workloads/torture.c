/*
 * Workload: programs that are hard on a tracer living inside them, one per mode. Each
 * prints one line whose content does not depend on timing, and exits with a known status,
 * so a run under ctrace can be compared with a bare run.
 *
 * Usage: torture MODE   (TORTURE_START_DELAY_MS=N: wait that long first)
 *   threads    2,000 short-lived threads, 50 alive at a time, created and exiting at once
 *   lockexit   a thread exits holding a mutex; others then try it (busy, timed out)
 *   forkexec   fork while 4 threads churn a lock and a condvar, the child execs "echo"
 *   spawn      vfork + exec of "true", and posix_spawn of "echo"
 *   (the children are this program again in its modes "true" and "echo": they do what
 *   /bin/true and /bin/echo do)
 *   signals    1 kHz SIGALRM whose handler calls write and malloc while threads block
 *              in read, nanosleep, condvar waits and contended locks
 *   longjmp    a SIGUSR1 handler siglongjmps out of a blocked read, 200 times, then
 *              the thread goes on making traced calls
 *   exitthread a non-main thread calls exit(3) while the others block
 *   dlopen     dlopen a library whose function makes threads, call it, dlclose; 20 times
 *   flood      8 threads make events as fast as they can for 1 s (run it with a small
 *              CTRACE_BUFFER: events are dropped and counted, the program is not slowed)
 *   closeall   close every descriptor from 3 up (a close loop, closefrom, close_range),
 *              then open a file and make two threads contend on a lock for 1.2 s
 *   dup2       dup2 stdout onto 3, then /dev/null onto 4..63, write through 3; then the
 *              same contention
 *   dup2all    dup2 /dev/null onto every descriptor it did not open (as listed in
 *              /proc/self/fd), then the same contention
 *   nofile8, nofile4   set RLIMIT_NOFILE (soft and hard) to 8 or 4, start the contention
 *              and open /dev/null until EMFILE
 *   nofilesoft set the soft RLIMIT_NOFILE to 8 and exec itself in mode nofile-child,
 *              which opens /dev/null until EMFILE and then contends
 *   seccomp    a seccomp filter makes perf_event_open and timer_create fail with EPERM;
 *              then the same contention
 *   earlykey   a library's constructor, run before the tracer's, made a thread-specific
 *              key and stored a value (torture_early.c): is it still there?
 *   unshare    the lock contention (threads that end), then, single-threaded again,
 *              unshare(CLONE_NEWUSER), which the kernel refuses a multi-threaded process;
 *              then the contention again
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* This program's own path: the children it execs are itself in a child mode, so that in a
 * sanitizer build they carry the sanitizer runtime the preloaded tracer needs. */
static const char *self;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- threads ---- */

static _Atomic int finished;

static void *short_life(void *arg)
{
	finished++;
	return arg;
}

static int mode_threads(void)
{
	pthread_t t[50];
	for (int wave = 0; wave < 40; wave++) {
		for (int i = 0; i < 50; i++)
			if (pthread_create(&t[i], NULL, short_life, NULL) != 0)
				return 1;
		for (int i = 0; i < 50; i++)
			pthread_join(t[i], NULL);
	}
	printf("threads: %d finished\n", (int)finished);
	return 0;
}

/* ---- lockexit ---- */

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void *take_and_exit(void *arg)
{
	pthread_mutex_lock(&held);
	pthread_exit(arg); /* never unlocks */
}

static int mode_lockexit(void)
{
	pthread_t t;
	pthread_create(&t, NULL, take_and_exit, NULL);
	pthread_join(t, NULL);
	int busy = pthread_mutex_trylock(&held);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 50 * 1000 * 1000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	int timed = pthread_mutex_timedlock(&held, &until);
	printf("lockexit: trylock %s, timedlock %s\n", busy == EBUSY ? "EBUSY" : "other",
	       timed == ETIMEDOUT ? "ETIMEDOUT" : "other");
	return 0;
}

/* ---- forkexec ---- */

static pthread_mutex_t churn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t churn_cond = PTHREAD_COND_INITIALIZER;
static _Atomic int churn_stop;
static long churn_count;

static void *churn(void *arg)
{
	while (!churn_stop) {
		pthread_mutex_lock(&churn_lock);
		churn_count++;
		pthread_cond_broadcast(&churn_cond);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&churn_cond, &churn_lock, &ts);
		pthread_mutex_unlock(&churn_lock);
	}
	return arg;
}

static int mode_forkexec(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	int ok = 0;
	for (int i = 0; i < 10; i++) {
		usleep(20 * 1000);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			/* The child has one thread; the lock may have been held at the fork. */
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0) {
				dup2(fd, 1);
				close(fd);
			}
			execl(self, self, "echo", "child", (char *)NULL);
			_exit(127);
		}
		int st;
		if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	}
	churn_stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("forkexec: %d of 10 children exec'd and exited 0\n", ok);
	return 0;
}

/* ---- spawn ---- */

/* vfork + exec of "true": 1 when it exited 0. Alone in its function (vfork returns twice). */
static __attribute__((noinline)) int vfork_true(void)
{
	char *const true_argv[] = { (char *)self, "true", NULL };
	pid_t pid = vfork();
	if (pid == 0) {
		execv(self, true_argv);
		_exit(127);
	}
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int mode_spawn(void)
{
	int vok = 0, sok = 0;
	char *const echo_argv[] = { (char *)self, "echo", "spawned", NULL };
	for (int i = 0; i < 10; i++) {
		vok += vfork_true();
		pid_t pid;
		int st;
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		if (posix_spawn(&pid, self, &fa, NULL, echo_argv, environ) == 0 &&
		    waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			sok++;
		posix_spawn_file_actions_destroy(&fa);
	}
	printf("spawn: vfork %d of 10, posix_spawn %d of 10\n", vok, sok);
	return 0;
}

/* ---- signals ---- */

static int sig_fd;
static _Atomic long handled;
static int sig_pipe[2];

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	char *p = malloc(64);
	if (p) {
		memset(p, 'x', 64);
		if (write(sig_fd, p, 1) == 1)
			handled++;
		free(p);
	}
	errno = saved;
}

static void *blocked_reader(void *arg)
{
	char c;
	ssize_t n;
	do
		n = read(sig_pipe[0], &c, 1);
	while (n < 0 && errno == EINTR);
	return arg;
}

static void *sleeper(void *arg)
{
	for (int i = 0; i < 100; i++) {
		struct timespec ts = { 0, 3 * 1000 * 1000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return arg;
}

static long locked;

static void *locker(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&churn_lock);
		locked++;
		pthread_mutex_unlock(&churn_lock);
	}
	return arg;
}

static int mode_signals(void)
{
	sig_fd = open("/dev/null", O_WRONLY);
	if (sig_fd < 0 || pipe(sig_pipe) < 0)
		return 1;
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_t r, s, l[2];
	pthread_create(&r, NULL, blocked_reader, NULL);
	pthread_create(&s, NULL, sleeper, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&l[i], NULL, locker, NULL);
	churn_stop = 0;
	pthread_t c;
	pthread_create(&c, NULL, churn, NULL);
	pthread_join(s, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(l[i], NULL);
	churn_stop = 1;
	pthread_join(c, NULL);
	if (write(sig_pipe[1], "x", 1) != 1)
		return 1;
	pthread_join(r, NULL);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("signals: handlers ran %s, locks %ld\n", handled > 10 ? "many times" : "too few",
	       locked);
	return 0;
}

/* ---- longjmp ---- */

static sigjmp_buf jump;

static void on_usr1(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

static pthread_t jumper_thread;
static _Atomic int jumper_ready;

static void *jumper(void *arg)
{
	int fds[2];
	if (pipe(fds) < 0)
		return NULL;
	volatile int jumps = 0; /* kept across siglongjmp */
	while (jumps < 200) {
		if (sigsetjmp(jump, 1)) {
			jumps++;
			continue;
		}
		jumper_ready = 1;
		char c;
		if (read(fds[0], &c, 1) < 0) /* blocks until the signal jumps out */
			break;
	}
	jumper_ready = 0;
	/* After all that the thread still makes ordinary traced calls. */
	int ok = 0;
	for (int i = 0; i < 100; i++) {
		if (write(fds[1], "y", 1) == 1) {
			char c;
			if (read(fds[0], &c, 1) == 1 && c == 'y')
				ok++;
		}
	}
	close(fds[0]);
	close(fds[1]);
	*(int *)arg = jumps * 1000 + ok;
	return arg;
}

static int mode_longjmp(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	int result = 0;
	pthread_create(&jumper_thread, NULL, jumper, &result);
	for (int sent = 0; sent < 200;) {
		if (!jumper_ready) {
			usleep(100);
			continue;
		}
		jumper_ready = 0;
		usleep(200); /* let it block in read */
		pthread_kill(jumper_thread, SIGUSR1);
		sent++;
	}
	pthread_join(jumper_thread, NULL);
	printf("longjmp: %d jumps out of read, then %d of 100 echoes\n", result / 1000,
	       result % 1000);
	return 0;
}

/* ---- exitthread ---- */

static int exit_pipe[2];
static pthread_mutex_t never = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cond = PTHREAD_COND_INITIALIZER;

static void *block_read(void *arg)
{
	char c;
	if (read(exit_pipe[0], &c, 1) < 0)
		return NULL;
	return arg;
}

static void *block_cond(void *arg)
{
	pthread_mutex_lock(&never);
	for (;;)
		pthread_cond_wait(&never_cond, &never);
	return arg;
}

static void *exiter(void *arg)
{
	usleep(100 * 1000);
	printf("exitthread: exiting from a thread\n");
	fflush(stdout);
	exit(3);
	return arg;
}

static int mode_exitthread(void)
{
	if (pipe(exit_pipe) < 0)
		return 1;
	pthread_t t;
	pthread_create(&t, NULL, block_read, NULL);
	pthread_create(&t, NULL, block_cond, NULL);
	pthread_create(&t, NULL, exiter, NULL);
	char c;
	if (read(exit_pipe[0], &c, 1) < 0) /* the main thread blocks too */
		return 1;
	return 1;
}

/* ---- dlopen ---- */

static int mode_dlopen(void)
{
	char path[4200];
	const char *slash = strrchr(self, '/');
	snprintf(path, sizeof(path), "%.*slibtorture_plugin.so", slash ? (int)(slash - self + 1) : 0,
		 self);
	int total = 0;
	for (int i = 0; i < 20; i++) {
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			printf("dlopen: %s\n", dlerror());
			return 1;
		}
		int (*run)(int) = (int (*)(int))dlsym(h, "plugin_run");
		if (!run)
			return 1;
		total += run(4);
		dlclose(h);
	}
	printf("dlopen: 20 loads, %d threads ran\n", total);
	return 0;
}

/* ---- flood ---- */

static pthread_cond_t nobody = PTHREAD_COND_INITIALIZER;
static _Atomic int flood_go;

static void *flood(void *arg)
{
	long *n = arg;
	while (!flood_go)
		;
	double end = now_s() + 1.0;
	while (now_s() < end)
		for (int i = 0; i < 1000; i++) {
			pthread_cond_signal(&nobody); /* one event each, no waiter */
			(*n)++;
		}
	return arg;
}

static int mode_flood(void)
{
	pthread_t t[8];
	long n[8] = { 0 };
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, flood, &n[i]);
	flood_go = 1;
	long total = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		total += n[i];
	}
	/* The rate depends on the machine; stderr has it, stdout what does not change. */
	fprintf(stderr, "flood: %.1f M signals/s\n", (double)total / 1e6);
	printf("flood: 8 threads signalled for 1 s\n");
	return 0;
}

/* ---- descriptors, limits, seccomp ---- */

static pthread_mutex_t contended = PTHREAD_MUTEX_INITIALIZER;
static int ran; /* what a contending thread returns when it ran */

static void *contend(void *arg)
{
	double end = now_s() + 1.2; /* past a generation boundary (1 s) */
	long n = 0;
	while (now_s() < end) {
		pthread_mutex_lock(&contended);
		usleep(100);
		pthread_mutex_unlock(&contended);
		usleep(50); /* the other thread takes it; this one then waits for it */
		n++;
	}
	return n > 10 ? arg : NULL;
}

/* Two threads contending on a lock for 1.2 s: 1 when both ran. */
static int contention(void)
{
	pthread_t t[2];
	void *r[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, contend, &ran) != 0)
			return 0;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], &r[i]);
	return r[0] && r[1];
}

/* A file of its own: its number and what it reads back. */
static int own_file(int *fd_out)
{
	int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	char back[16] = { 0 };
	*fd_out = fd;
	return fd >= 0 && write(fd, "program data", 12) == 12 && pread(fd, back, 12, 0) == 12 &&
	       strcmp(back, "program data") == 0;
}

static int mode_closeall(void)
{
	int ok = 0;
	for (int fd = 3; fd < 1024; fd++)
		ok += close(fd) == 0;
	closefrom(3);
	int range = close_range(3, ~0u, 0);
	int fd, data = own_file(&fd);
	int both = contention();
	printf("closeall: %d closes succeeded, close_range %d, first fd %d, data %s, threads %s\n",
	       ok, range, fd, data ? "kept" : "lost", both ? "ran" : "failed");
	return 0;
}

static int mode_dup2(void)
{
	int failed = 0;
	if (dup2(1, 3) != 3)
		failed++;
	int null = open("/dev/null", O_WRONLY);
	for (int fd = 4; fd < 64; fd++)
		if (fd != null && dup2(null, fd) != fd)
			failed++;
	char line[] = "dup2: written through fd 3\n";
	if (write(3, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1))
		failed++;
	for (int fd = 4; fd < 64; fd++)
		if (close(fd) != 0)
			failed++;
	int fd, data = own_file(&fd);
	int both = contention();
	printf("dup2: %d failed, null was %d, then first fd %d, data %s, threads %s\n", failed,
	       null, fd, data ? "kept" : "lost", both ? "ran" : "failed");
	return 0;
}

static int mode_dup2all(void)
{
	int null = open("/dev/null", O_WRONLY);
	int fds[256], n = 0, failed = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && n < 256) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd > 2 && fd != null && fd != dirfd(d))
			fds[n++] = fd;
	}
	if (d)
		closedir(d);
	/* Whatever is open that it did not open goes to /dev/null. Without ctrace that is
	 * nothing (the test starts it with 0, 1 and 2 only). */
	for (int i = 0; i < n; i++)
		if (dup2(null, fds[i]) != fds[i])
			failed++;
	int fd, data = own_file(&fd);
	int both = contention();
	printf("dup2all: %d failed, first fd %d, data %s, threads %s\n", failed, fd,
	       data ? "kept" : "lost", both ? "ran" : "failed");
	return 0;
}

/* Opens /dev/null until the limit: how many it got. */
static int fill(void)
{
	int n = 0;
	while (open("/dev/null", O_RDONLY) >= 0)
		n++;
	return errno == EMFILE ? n : -1;
}

static int mode_nofile(rlim_t limit)
{
	struct rlimit rl = { limit, limit };
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1;
	pthread_t t;
	void *r;
	if (pthread_create(&t, NULL, contend, &ran) != 0)
		return 1;
	int got = fill();
	int both = contention();
	pthread_join(t, &r);
	printf("nofile%d: %d opens until EMFILE, threads %s\n", (int)limit, got,
	       both && r ? "ran" : "failed");
	return 0;
}

static int mode_nofilesoft(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < 8)
		return 1;
	rl.rlim_cur = 8;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1;
	execl(self, self, "nofile-child", (char *)NULL);
	return 127;
}

static int mode_nofile_child(void)
{
	int got = fill();
	int both = contention();
	printf("nofilesoft: %d opens until EMFILE under a soft limit of 8, threads %s\n", got,
	       both ? "ran" : "failed");
	return 0;
}

static int mode_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_perf_event_open, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_timer_create, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
		printf("seccomp: cannot install the filter: %s\n", strerror(errno));
		return 1;
	}
	timer_t id;
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	int timer = timer_create(CLOCK_MONOTONIC, &sev, &id) == 0 ? 0 : errno;
	int both = contention();
	printf("seccomp: timer_create %s, threads %s\n", timer == EPERM ? "EPERM" : "allowed",
	       both ? "ran" : "failed");
	return 0;
}

/* ---- unshare ---- */

static int mode_unshare(void)
{
	int before = contention();
	/* The kernel counts a joined thread a moment longer: as any program must, retry. */
	int rc = -1;
	for (int i = 0; i < 200; i++) {
		rc = unshare(CLONE_NEWUSER);
		if (rc == 0 || errno != EINVAL)
			break;
		usleep(1000);
	}
	const char *how = rc == 0 ? "made" : strerror(errno);
	int after = contention();
	printf("unshare: user namespace %s, threads %s and %s\n", how, before ? "ran" : "failed",
	       after ? "ran" : "failed");
	return 0;
}

/* ---- earlykey ---- */

extern pthread_key_t torture_early_key;
extern int torture_early_marker, torture_early_ready;

static int mode_earlykey(void)
{
	int kept = torture_early_ready &&
		   pthread_getspecific(torture_early_key) == &torture_early_marker;
	printf("earlykey: the constructor's value is %s\n", kept ? "kept" : "lost");
	return kept ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: torture MODE\n");
		return 2;
	}
	const char *m = argv[1];
	self = argv[0];
	if (strcmp(m, "true") == 0) /* child modes: what /bin/true and /bin/echo do */
		return 0;
	if (strcmp(m, "echo") == 0) {
		for (int i = 2; i < argc; i++)
			printf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Time for a test to start an HTTP capture before the mode runs. */
	const char *delay = getenv("TORTURE_START_DELAY_MS");
	if (delay)
		usleep((useconds_t)atoi(delay) * 1000);
	if (strcmp(m, "threads") == 0)
		return mode_threads();
	if (strcmp(m, "lockexit") == 0)
		return mode_lockexit();
	if (strcmp(m, "forkexec") == 0)
		return mode_forkexec();
	if (strcmp(m, "spawn") == 0)
		return mode_spawn();
	if (strcmp(m, "signals") == 0)
		return mode_signals();
	if (strcmp(m, "longjmp") == 0)
		return mode_longjmp();
	if (strcmp(m, "exitthread") == 0)
		return mode_exitthread();
	if (strcmp(m, "dlopen") == 0)
		return mode_dlopen();
	if (strcmp(m, "flood") == 0)
		return mode_flood();
	if (strcmp(m, "closeall") == 0)
		return mode_closeall();
	if (strcmp(m, "dup2") == 0)
		return mode_dup2();
	if (strcmp(m, "dup2all") == 0)
		return mode_dup2all();
	if (strcmp(m, "nofile8") == 0)
		return mode_nofile(8);
	if (strcmp(m, "nofile4") == 0)
		return mode_nofile(4);
	if (strcmp(m, "nofilesoft") == 0)
		return mode_nofilesoft();
	if (strcmp(m, "nofile-child") == 0)
		return mode_nofile_child();
	if (strcmp(m, "seccomp") == 0)
		return mode_seccomp();
	if (strcmp(m, "earlykey") == 0)
		return mode_earlykey();
	if (strcmp(m, "unshare") == 0)
		return mode_unshare();
	fprintf(stderr, "torture: unknown mode %s\n", m);
	return 2;
}
