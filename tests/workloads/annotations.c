/*
 * Workload linked with -lctrace: a task "request" with a child task "db" ended on another
 * thread, nested regions "outer" > "inner" (one through CTRACE_REGION), and two logs.
 */
#include <pthread.h>
#include <stdio.h>

#include <ctrace/ctrace.h>

static unsigned long long child;

static void *finish_child(void *arg)
{
	ctrace_region_begin(child, "db-work");
	ctrace_log(child, "db", "query done");
	ctrace_region_end(child, "db-work");
	ctrace_task_end(child);
	return arg;
}

int main(void)
{
	unsigned long long req = ctrace_task_begin(0, "request");
	child = ctrace_task_begin(req, "db");
	ctrace_region_begin(req, "outer");
	{
		CTRACE_REGION(req, "inner");
		ctrace_log(req, "http", "GET /index.html");
	}
	ctrace_region_end(req, "outer");
	pthread_t t;
	pthread_create(&t, NULL, finish_child, NULL);
	pthread_join(t, NULL);
	ctrace_task_end(req);
	printf("annotations: tasks %llu %llu\n", req, child);
	return 0;
}
