/*
 * Workload for the profile endpoints: each thread does one thing with a known profile.
 *   - "burner": burn_heavy and burn_light in turn, 3 units of work to 1, always on CPU:
 *     burn_heavy is 75% of its CPU profile;
 *   - "leaker": leak_site allocates 32 KiB every 5 ms and keeps it (up to 64 MiB);
 *     churn_site allocates as much and frees it at once: leak_site dominates inuse_space;
 *   - "locker1", "locker2": contend_site holds one mutex 2 ms at a time and waits for it:
 *     it dominates the mutex profile;
 *   - "waiter": cond_waiter waits on a condition variable a "signaller" signals every 5 ms:
 *     it dominates the block profile;
 *   - "reader": pipe_reader blocks in read() on a pipe nobody writes (and ends the program
 *     with status 3 should the read ever fail).
 * At start, early_site allocates 8 MiB and keeps it. The main thread reads commands on
 * stdin: "late" makes late_site allocate 16 MiB (kept) and answer "late done"; EOF ends the
 * program; "mutexrate N" calls ctrace_set_mutex_rate(N) (found at run time: the program is
 * not linked with ctrace) and answers "rate RESULT". It prints "ready" once every thread runs. With the argument "sigprof" it first
 * installs its own SIGPROF handler (as a program using another profiler would).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void burn(unsigned long units)
{
	for (unsigned long i = 0; i < units * 100000ul; i++)
		sink = sink * 31 + i;
}

void burn_heavy(void);
__attribute__((noinline)) void burn_heavy(void)
{
	burn(3);
	__asm__ __volatile__("");
}

void burn_light(void);
__attribute__((noinline)) void burn_light(void)
{
	burn(1);
	__asm__ __volatile__("");
}

static void *burner(void *arg)
{
	pthread_setname_np(pthread_self(), "burner");
	for (;;) {
		burn_heavy();
		burn_light();
	}
	return arg;
}

void *kept[8192];
static int nkept;

void *leak_site(void);
__attribute__((noinline)) void *leak_site(void)
{
	void *p = malloc(32 << 10);
	if (p)
		memset(p, 1, 32 << 10);
	return p;
}

void churn_site(void);
__attribute__((noinline)) void churn_site(void)
{
	void *p = malloc(32 << 10);
	if (p)
		((volatile char *)p)[0] = 1;
	free(p);
}

static void *leaker(void *arg)
{
	pthread_setname_np(pthread_self(), "leaker");
	for (;;) {
		if (nkept < 2048)
			kept[nkept++] = leak_site();
		churn_site();
		sleep_ms(5);
	}
	return arg;
}

/* Not static, so that the allocations cannot be optimized away. */
void *early[128], *late[256];

void early_site(void);
__attribute__((noinline)) void early_site(void)
{
	for (int i = 0; i < 128; i++)
		early[i] = calloc(1, 64 << 10);
}

void late_site(void);
__attribute__((noinline)) void late_site(void)
{
	for (int i = 0; i < 256; i++)
		late[i] = calloc(1, 64 << 10);
}

static pthread_mutex_t contended = PTHREAD_MUTEX_INITIALIZER;

void contend_site(void);
__attribute__((noinline)) void contend_site(void)
{
	pthread_mutex_lock(&contended);
	sleep_ms(2);
	pthread_mutex_unlock(&contended);
}

static void *locker(void *arg)
{
	pthread_setname_np(pthread_self(), arg ? "locker2" : "locker1");
	for (;;)
		contend_site();
	return NULL;
}

static pthread_mutex_t cv_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long ticks;

void cond_waiter(void);
__attribute__((noinline)) void cond_waiter(void)
{
	pthread_mutex_lock(&cv_mutex);
	unsigned long seen = ticks;
	while (ticks == seen)
		pthread_cond_wait(&cv, &cv_mutex);
	pthread_mutex_unlock(&cv_mutex);
}

static void *waiter(void *arg)
{
	pthread_setname_np(pthread_self(), "waiter");
	for (;;)
		cond_waiter();
	return arg;
}

static void *signaller(void *arg)
{
	pthread_setname_np(pthread_self(), "signaller");
	for (;;) {
		sleep_ms(5);
		pthread_mutex_lock(&cv_mutex);
		ticks++;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&cv_mutex);
	}
	return arg;
}

static int quiet_pipe[2];

void pipe_reader(void);
__attribute__((noinline)) void pipe_reader(void)
{
	char c;
	/* The threads profile signals this thread: the read must go on (SA_RESTART), never
	 * fail with EINTR; the exit status tells the test. */
	if (read(quiet_pipe[0], &c, 1) < 0) {
		perror("pipe_reader: read");
		_exit(3);
	}
}

static void *reader(void *arg)
{
	pthread_setname_np(pthread_self(), "reader");
	pipe_reader();
	return arg;
}

static void on_sigprof(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc > 1 && strcmp(argv[1], "sigprof") == 0)
		signal(SIGPROF, on_sigprof);
	if (pipe(quiet_pipe) < 0)
		return 1;
	early_site();
	pthread_create(&t, NULL, burner, NULL);
	pthread_create(&t, NULL, leaker, NULL);
	pthread_create(&t, NULL, locker, NULL);
	pthread_create(&t, NULL, locker, (void *)1);
	pthread_create(&t, NULL, waiter, NULL);
	pthread_create(&t, NULL, signaller, NULL);
	pthread_create(&t, NULL, reader, NULL);
	sleep_ms(100);
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "mutexrate ", 10) == 0) {
			int (*set)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "ctrace_set_mutex_rate");
			printf("rate %d\n", set ? set(atoi(line + 10)) : -1000);
			fflush(stdout);
		}
		if (strncmp(line, "late", 4) == 0) {
			late_site();
			printf("late done\n");
			fflush(stdout);
		}
	}
	printf("bye\n");
	fflush(stdout);
	_exit(0);
}
