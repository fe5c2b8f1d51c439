/*
 * What the kernel charges a context switch for each way of seeing it, on this machine:
 * two threads on one CPU hand a futex back and forth (every handoff is a switch out and a
 * switch in), untraced and with each kind of perf event ctrace can read switches from
 * open, their rings emptied every 256 round trips as the writer would. Interleaved runs,
 * medians, the cost per switch over the untraced run.
 *
 * Rows: ctrace's BPF filter on the sched_switch tracepoint (tracer/schedbpf.c, compiled
 * in: CTRACE_SWITCHES=bpf, the default where permitted), perf's switch records per CPU
 * (CTRACE_SWITCHES=cpu) and per thread (CTRACE_SWITCHES=thread); the sched_switch
 * tracepoint per CPU, counted only and with a perf sample per switch. The tracepoint rows
 * need tracefs. A row that cannot be opened here says why.
 *
 * Usage: bench_switch [ROUND_TRIPS] [REPS]   (defaults: 50000, 7)
 */
#include <errno.h>
#include <linux/futex.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../tracer/internal.h" /* the BPF filter's functions (tracer/schedbpf.c) */
#include "benchlib.h"

#define RING_PAGES 32
#define MAX_RINGS 64

enum way { NONE, BPF_FILTER, CPU_RECORDS, THREAD_RECORDS, TP_COUNT, TP_SAMPLE, N_WAYS };

static const char *way_name[N_WAYS] = {
	"untraced",
	"BPF filter, BPF ring buffer",
	"switch records, per CPU",
	"switch records, per thread",
	"sched_switch tracepoint, counted",
	"sched_switch tracepoint, sampled",
};

struct rings {
	struct perf_event_mmap_page *page[MAX_RINGS];
	size_t size;
	int n;
	int bpf; /* the BPF filter is open */
	uint64_t bytes;
};

static _Atomic int turn;
static long round_trips = 50000;
static int pin_cpu;
static long tp_id = -1;
static char tp_why[320] = "tracefs shows no sched/sched_switch";
static char bpf_why[256];

static void pin(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(pin_cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void futex_wait_while(int v)
{
	while (atomic_load(&turn) == v)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void hand_to(int v)
{
	atomic_store(&turn, v);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The attributes of @way's event: those of tracer/sched.c for the switch records. */
static void way_attr(enum way w, struct perf_event_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	a->watermark = 1;
	a->wakeup_watermark = 1u << 30;
	a->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	if (w == CPU_RECORDS || w == THREAD_RECORDS) {
		a->type = PERF_TYPE_SOFTWARE;
		a->config = PERF_COUNT_SW_DUMMY;
		a->context_switch = 1;
		a->sample_id_all = 1;
		a->sample_type |= PERF_SAMPLE_CPU;
		a->exclude_kernel = 1; /* a tracepoint fires in the kernel: not for those */
		a->exclude_hv = 1;
	} else {
		a->type = PERF_TYPE_TRACEPOINT;
		a->config = (uint64_t)tp_id;
		a->sample_period = w == TP_SAMPLE;
		if (w == TP_SAMPLE)
			a->sample_type |= PERF_SAMPLE_RAW;
	}
}

/* Open and map one event of @way for (@pid, @cpu) into @r: 0, or -1 with errno. */
static int ring_add(struct rings *r, enum way w, int pid, int cpu)
{
	struct perf_event_attr a;
	way_attr(w, &a);
	if (r->n == MAX_RINGS) {
		errno = ENOSPC;
		return -1;
	}
	int fd = (int)syscall(SYS_perf_event_open, &a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -1;
	r->size = (size_t)sysconf(_SC_PAGESIZE) * (1 + RING_PAGES);
	void *m = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	r->page[r->n++] = m;
	return 0;
}

static void count_switch(void *ud, const struct ctr_switch *sw)
{
	(void)sw;
	*(uint64_t *)ud += 20; /* a 40-byte record (header included) for an out and an in */
}

/* Give back all the rings hold, as a reader that only counts: ctrace's writer does more. */
static void rings_empty(struct rings *r)
{
	uint64_t lost = 0;
	if (r->bpf)
		ctr_sched_bpf_read(count_switch, &r->bytes, &lost);
	for (int i = 0; i < r->n; i++) {
		struct perf_event_mmap_page *p = r->page[i];
		uint64_t head = __atomic_load_n(&p->data_head, __ATOMIC_ACQUIRE);
		r->bytes += head - p->data_tail;
		__atomic_store_n(&p->data_tail, head, __ATOMIC_RELEASE);
	}
}

static void rings_close(struct rings *r)
{
	if (r->bpf)
		ctr_sched_bpf_close();
	r->bpf = 0;
	for (int i = 0; i < r->n; i++)
		munmap(r->page[i], r->size);
	r->n = 0;
}

struct peer {
	enum way way;
	struct rings *rings;
	int err;
	pthread_barrier_t *ready;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	pin();
	if (p->way == THREAD_RECORDS && ring_add(p->rings, THREAD_RECORDS, 0, -1) < 0)
		p->err = errno;
	if (p->way == BPF_FILTER)
		ctr_sched_bpf_mark((uint32_t)gettid(), 1);
	pthread_barrier_wait(p->ready);
	if (p->err)
		return NULL;
	for (long i = 0; i < round_trips; i++) {
		futex_wait_while(0);
		hand_to(0);
	}
	return NULL;
}

/* One run of @w: ns per switch, and the ring bytes per switch at *@bytes; -1 and errno
 * when its event cannot be opened. */
static double run(enum way w, double *bytes)
{
	struct rings r = { .n = 0 };
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	if (w == CPU_RECORDS || w == TP_COUNT || w == TP_SAMPLE) {
		for (int cpu = 0; cpu < ncpu && cpu < MAX_RINGS; cpu++)
			if (ring_add(&r, w, -1, cpu) < 0 && errno != ENODEV) {
				int err = errno;
				rings_close(&r);
				errno = err;
				return -1;
			}
	}
	if (w == BPF_FILTER) {
		if (ctr_sched_bpf_open(bpf_why, sizeof(bpf_why)) < 0)
			return -1;
		r.bpf = 1;
		ctr_sched_bpf_mark((uint32_t)gettid(), 1);
	}
	pin();
	if (w == THREAD_RECORDS && ring_add(&r, w, 0, -1) < 0)
		return -1;
	pthread_barrier_t ready;
	pthread_barrier_init(&ready, NULL, 2);
	struct peer p = { w, &r, 0, &ready };
	pthread_t t;
	atomic_store(&turn, 0);
	pthread_create(&t, NULL, peer_main, &p);
	pthread_barrier_wait(&ready);
	pthread_barrier_destroy(&ready);
	if (p.err) {
		pthread_join(t, NULL);
		rings_close(&r);
		errno = p.err;
		return -1;
	}
	rings_empty(&r);
	r.bytes = 0;
	uint64_t t0 = bench_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < round_trips; i++) {
		hand_to(1);
		futex_wait_while(1);
		if ((i & 255) == 0)
			rings_empty(&r);
	}
	uint64_t t1 = bench_ns(CLOCK_MONOTONIC);
	pthread_join(t, NULL);
	rings_empty(&r);
	rings_close(&r);
	*bytes = (double)r.bytes / (2.0 * (double)round_trips);
	return (double)(t1 - t0) / (2.0 * (double)round_trips);
}

/* The tracepoint's id from tracefs, where it is mounted and readable. */
static void find_tracepoint(void)
{
	const char *dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/events/sched/sched_switch/id", dirs[i]);
		FILE *f = fopen(path, "r");
		if (!f) {
			if (errno != ENOENT)
				snprintf(tp_why, sizeof(tp_why), "%s: %s", path, strerror(errno));
			continue;
		}
		if (fscanf(f, "%ld", &tp_id) != 1)
			tp_id = -1;
		fclose(f);
		if (tp_id >= 0)
			return;
	}
	if (strcmp(tp_why, "tracefs shows no sched/sched_switch") == 0)
		snprintf(tp_why, sizeof(tp_why),
			 "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)");
}

int main(int argc, char **argv)
{
	int reps = 7;
	if (argc > 1)
		round_trips = atol(argv[1]);
	if (argc > 2)
		reps = atoi(argv[2]);
	if (round_trips < 1000 || reps < 1 || reps > 99) {
		fprintf(stderr, "usage: bench_switch [ROUND_TRIPS >= 1000] [REPS 1..99]\n");
		return 2;
	}
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (pin_cpu = 0; pin_cpu < CPU_SETSIZE && !CPU_ISSET(pin_cpu, &set); pin_cpu++)
			;
	find_tracepoint();

	double ns[N_WAYS][99], bytes[N_WAYS];
	char why[N_WAYS][400] = { { 0 } };
	for (int w = 0; w < N_WAYS; w++)
		if ((w == TP_COUNT || w == TP_SAMPLE) && tp_id < 0)
			snprintf(why[w], sizeof(why[w]), "%s", tp_why);
	for (int i = 0; i < reps; i++)
		for (int w = 0; w < N_WAYS; w++) {
			if (why[w][0])
				continue;
			ns[w][i] = run((enum way)w, &bytes[w]);
			if (ns[w][i] < 0 && w == BPF_FILTER)
				snprintf(why[w], sizeof(why[w]), "%s", bpf_why);
			else if (ns[w][i] < 0)
				snprintf(why[w], sizeof(why[w]), "perf_event_open: %s%s",
					 strerror(errno),
					 errno == EACCES || errno == EPERM
						 ? " (needs CAP_PERFMON or a lower "
						   "kernel.perf_event_paranoid)"
						 : "");
		}

	printf("context switches on CPU %d, two threads handing a futex over, %ld round trips, "
	       "median of %d interleaved runs\n",
	       pin_cpu, round_trips, reps);
	printf("%-34s %12s %14s %14s\n", "way", "ns/switch", "over untraced", "ring B/switch");
	double base = why[NONE][0] ? 0 : bench_median(ns[NONE], reps);
	for (int w = 0; w < N_WAYS; w++) {
		if (why[w][0]) {
			printf("%-34s skipped: %s\n", way_name[w], why[w]);
			continue;
		}
		double m = bench_median(ns[w], reps);
		printf("%-34s %12.0f %14.0f %14.1f\n", way_name[w], m, m - base, bytes[w]);
	}
	return 0;
}
