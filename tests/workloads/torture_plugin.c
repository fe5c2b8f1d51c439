/* A library torture's dlopen mode loads and unloads: its function makes threads. */
#include <pthread.h>

static void *work(void *arg)
{
	volatile int x = 0;
	for (int i = 0; i < 1000; i++)
		x += i;
	return arg;
}

__attribute__((visibility("default"))) int plugin_run(int n);

int plugin_run(int n)
{
	pthread_t t[16];
	int made = 0;
	if (n > 16)
		n = 16;
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[made], NULL, work, NULL) == 0)
			made++;
	for (int i = 0; i < made; i++)
		pthread_join(t[i], NULL);
	return made;
}
