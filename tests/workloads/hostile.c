/*
 * Workload: things that trip tracers. A fork without exec whose child makes a thread; a
 * signal handler that calls write() while its thread is blocked inside a traced read(); a
 * detached thread that exits without being joined. Prints a known line.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int devnull, fds[2];
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	if (write(devnull, "x", 1) == 1)
		alarms++;
}

static void *noop(void *arg)
{
	return arg;
}

static void *late_writer(void *arg)
{
	usleep(150 * 1000);
	if (write(fds[1], "done", 4) != 4)
		return NULL;
	return arg;
}

int main(void)
{
	devnull = open("/dev/null", O_WRONLY);
	if (devnull < 0 || pipe(fds) < 0)
		return 1;

	/* fork without exec */
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t;
		pthread_create(&t, NULL, noop, NULL);
		pthread_join(t, NULL);
		_exit(7);
	}
	int status;
	waitpid(pid, &status, 0);

	/* a detached thread that is never joined */
	pthread_t d;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_create(&d, &attr, noop, NULL);

	/* signals into a blocked read, whose handler writes */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_t w;
	pthread_create(&w, NULL, late_writer, NULL);
	char buf[8];
	ssize_t n = read(fds[0], buf, sizeof(buf));
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	pthread_join(w, NULL);
	printf("hostile: child %d, read %zd, alarms %s\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, n, alarms > 3 ? "many" : "few");
	return 0;
}
