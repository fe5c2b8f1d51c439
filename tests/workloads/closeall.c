/*
 * Workload: a daemon-like program that closes every descriptor it did not open, three
 * ways (a close loop, closefrom, close_range), then opens a file, writes to it and makes
 * two threads contend on a lock. Prints the number its first open got and what it read
 * back from its file.
 * Usage: closeall FILE
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *contend(void *arg)
{
	pthread_setname_np(pthread_self(), "after-close");
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&lock);
		usleep(100);
		pthread_mutex_unlock(&lock);
		usleep(50); /* the other thread takes it; this one then waits for it */
	}
	return arg;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < max; fd++)
		close((int)fd);
	closefrom(3);
	close_range(3, ~0u, 0);

	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "program data\n", 13) != 13)
		return 1;
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, contend, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	char back[64] = { 0 };
	if (pread(fd, back, sizeof(back) - 1, 0) < 0)
		return 1;
	close(fd);
	printf("closeall: first fd %d, file holds %s", fd, back);
	return 0;
}
