/*
 * Workload: two threads hand a token back and forth K times (argv[1], default 500) through
 * one mutex and two condition variables, arranged so that each side waits exactly K times
 * on its own condvar and signals the other exactly K times: pong announces itself on a
 * third condvar (ready) and keeps the lock until its first wait.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t to_pong = PTHREAD_COND_INITIALIZER, to_ping = PTHREAD_COND_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static int turn, ready; /* turn 0: ping's, 1: pong's */
static int rounds = 500;

static void *pong(void *arg)
{
	pthread_setname_np(pthread_self(), "pong");
	pthread_mutex_lock(&m);
	ready = 1;
	pthread_cond_signal(&ready_cv);
	for (int i = 0; i < rounds; i++) {
		while (turn != 1)
			pthread_cond_wait(&to_pong, &m);
		turn = 0;
		pthread_cond_signal(&to_ping);
	}
	pthread_mutex_unlock(&m);
	return arg;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		rounds = atoi(argv[1]);
	pthread_setname_np(pthread_self(), "ping");
	pthread_t t;
	pthread_create(&t, NULL, pong, NULL);
	pthread_mutex_lock(&m);
	while (!ready)
		pthread_cond_wait(&ready_cv, &m);
	for (int i = 0; i < rounds; i++) {
		turn = 1;
		pthread_cond_signal(&to_pong);
		while (turn != 0)
			pthread_cond_wait(&to_ping, &m);
	}
	pthread_mutex_unlock(&m);
	pthread_join(t, NULL);
	printf("condvar_pingpong: %d rounds to_pong=%p to_ping=%p\n", rounds, (void *)&to_pong,
	       (void *)&to_ping);
	return 0;
}
