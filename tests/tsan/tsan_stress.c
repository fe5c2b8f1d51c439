/*
 * The recorder's threading under ThreadSanitizer (suite "tsan", run by tests/run in a
 * -Db_sanitize=thread build): worker threads make events of every kind through the
 * interposers and the annotation API while the main thread starts and stops captures to
 * files, an HTTP client captures over the endpoint at the same time, and short-lived
 * threads start and exit in the middle of captures. Each capture must read back whole.
 * TSan fails the run on any data race (TSAN_OPTIONS=halt_on_error=1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctrace/ctrace.h>
#include <ctrace/trace.h>

#include "ctest.h"
#include "tracetest.h"

static _Atomic int stop;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long shared;

static void *worker(void *arg)
{
	int fd = open("/dev/null", O_WRONLY);
	unsigned long long task = ctrace_task_begin(0, "work");
	while (!stop) {
		ctrace_region_begin(task, "step");
		pthread_mutex_lock(&lock);
		long v = ++shared;
		pthread_cond_signal(&cond);
		pthread_mutex_unlock(&lock);
		void *p = malloc(64 + (size_t)(v & 1023));
		free(p);
		if (write(fd, "x", 1) != 1)
			break;
		ctrace_log(task, "stress", "a log line");
		ctrace_region_end(task, "step");
	}
	ctrace_task_end(task);
	close(fd);
	return arg;
}

static void *short_life(void *arg)
{
	ctrace_log(0, "stress", "a short life");
	pthread_mutex_lock(&lock);
	shared++;
	pthread_mutex_unlock(&lock);
	return arg;
}

static void *spawner(void *arg)
{
	while (!stop) {
		pthread_t t;
		if (pthread_create(&t, NULL, short_life, NULL) == 0)
			pthread_join(t, NULL);
		usleep(500);
	}
	return arg;
}

static int port;
static _Atomic int http_captures;

/* GET a 50 ms capture over a plain socket; count the responses that were 200. */
static void *http_client(void *arg)
{
	while (!stop) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			if (s >= 0)
				close(s);
			usleep(1000);
			continue;
		}
		const char req[] = "GET /debug/pprof/trace?seconds=0.05 HTTP/1.0\r\n\r\n";
		if (write(s, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
			char buf[4096];
			ssize_t n, total = 0;
			int ok = 0;
			while ((n = read(s, buf, sizeof(buf))) > 0) {
				if (total == 0 && n > 12 && memcmp(buf + 9, "200", 3) == 0)
					ok = 1;
				total += n;
			}
			if (ok)
				http_captures++;
		}
		close(s);
	}
	return arg;
}

/* Read every event of @path: @return how many, failing on any error. */
static long read_back(const char *path)
{
	ctrace_reader *r;
	ctrace_gen *g;
	const struct ctrace_event *ev;
	long n = 0;
	int err = ctrace_reader_open(path, &r);
	if (err)
		CT_FAIL("%s: %s", path, r ? ctrace_reader_errmsg(r) : ctrace_strerror(err));
	while ((err = ctrace_reader_next(r, &g)) == 1)
		while ((err = ctrace_gen_next_event(g, &ev)) == 1)
			n++;
	if (err < 0)
		CT_FAIL("%s: %s", path, ctrace_reader_errmsg(r));
	ctrace_reader_free(r);
	return n;
}

int main(void)
{
	char dir[] = "/tmp/ctrace-tsan-XXXXXX";
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	port = tt_free_port();
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	ASSERT_EQ(ctrace_http_start(addr), 0);

	pthread_t w[4], sp, hc;
	for (int i = 0; i < 4; i++)
		pthread_create(&w[i], NULL, worker, NULL);
	pthread_create(&sp, NULL, spawner, NULL);
	pthread_create(&hc, NULL, http_client, NULL);

	long events = 0;
	for (int i = 0; i < 20; i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%d.trace", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ASSERT_TRUE(fd >= 0);
		int err = ctrace_start(fd);
		if (err != 0 && err != CTRACE_EBUSY)
			CT_FAIL("ctrace_start: %s", ctrace_strerror(err));
		usleep(30 * 1000);
		if (err == 0)
			ASSERT_EQ(ctrace_stop(), 0);
		close(fd);
		if (err == 0) {
			long n = read_back(path);
			ASSERT_GT(n, 0);
			events += n;
		}
		unlink(path);
	}
	stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(w[i], NULL);
	pthread_join(sp, NULL);
	pthread_join(hc, NULL);
	ASSERT_EQ(ctrace_http_stop(), 0);
	rmdir(dir);
	fprintf(stderr, "tsan_stress: 20 file captures, %ld events read back, %d HTTP captures\n",
		events, (int)http_captures);
	ASSERT_GT(http_captures, 0);
	return 0;
}
