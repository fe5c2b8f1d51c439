/*
 * Linked into torture (mode earlykey): a library whose constructor runs before the
 * preloaded tracer's, as a deep dependency's does (glib's, under perf). It makes the
 * process's first thread-specific key, stores a value in it, and makes a traced call
 * while the tracer has not initialized yet. The value must still be there in main.
 */
#include <pthread.h>
#include <unistd.h>

pthread_key_t torture_early_key;
int torture_early_marker;
int torture_early_ready;

__attribute__((constructor)) static void early(void)
{
	if (pthread_key_create(&torture_early_key, NULL) != 0)
		return;
	pthread_setspecific(torture_early_key, &torture_early_marker);
	close(-1); /* a traced call, before the tracer's constructor */
	torture_early_ready = 1;
}
