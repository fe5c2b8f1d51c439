/*
 * Workload: fork; the child names a thread and execs the program given as argv[1] (with
 * the remaining arguments); the parent waits and prints the child's status.
 * Without arguments it is the exec'd side: it creates one thread and exits 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void *noop(void *arg)
{
	prctl(PR_SET_NAME, "exec-child-t");
	return arg;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		pthread_t t;
		pthread_create(&t, NULL, noop, NULL);
		pthread_join(t, NULL);
		printf("fork_exec: exec'd side ran\n");
		return 0;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		prctl(PR_SET_NAME, "forked");
		execv(argv[1], argv + 1);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("fork_exec: child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
