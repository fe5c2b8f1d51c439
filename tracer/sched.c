/*
 * Scheduling: per-thread context switches from a perf_event_open software event with
 * context_switch records (timestamps on CLOCK_MONOTONIC through use_clockid), and the
 * kernel's per-thread totals from /proc/self/task/TID/schedstat. The thread opens its own
 * perf ring on its first event; the writer thread reads every ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PERF_DATA_PAGES 4

/* Why context switches are missing, once for the whole process; "" while they work. */
char ctr_perf_status[160];

void ctr_sched_thread_init(struct ctr_slot *s)
{
	struct perf_event_attr a;

	s->perf_fd = -2; /* tried: do not try again for this thread */
	if (!(ctr_g.cfg.classes & CTR_CLASS_SCHED) || ctr_perf_status[0])
		return;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_DUMMY;
	a.context_switch = 1;
	a.sample_id_all = 1;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	a.watermark = 1;
	a.wakeup_watermark = 1u << 30; /* the writer polls; never wake anyone */
	int saved = errno;
	int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		snprintf(ctr_perf_status, sizeof(ctr_perf_status),
			 "unavailable: perf_event_open: %s (kernel.perf_event_paranoid or seccomp)",
			 strerror(errno));
		errno = saved;
		return;
	}
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = page * (1 + PERF_DATA_PAGES);
	void *ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		/* Over the locked-memory limit for perf buffers: this thread goes without. */
		close(fd);
		errno = saved;
		return;
	}
	s->perf_ring = ring;
	s->perf_size = size;
	errno = saved;
	atomic_store_explicit(&s->perf_fd, fd, memory_order_release);
}

void ctr_sched_thread_fini(struct ctr_slot *s)
{
	int fd = atomic_load_explicit(&s->perf_fd, memory_order_acquire);
	if (fd >= 0) {
		munmap(s->perf_ring, s->perf_size);
		close(fd);
	}
	s->perf_ring = NULL;
	atomic_store_explicit(&s->perf_fd, -1, memory_order_release);
}

int ctr_schedstat_read(uint32_t tid, uint64_t out[3])
{
	char path[64], buf[128];
	snprintf(path, sizeof(path), "/proc/self/task/%u/schedstat", tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	unsigned long long a, b, c;
	if (sscanf(buf, "%llu %llu %llu", &a, &b, &c) != 3)
		return -1;
	out[0] = a;
	out[1] = b;
	out[2] = c;
	return 0;
}

/*
 * Read the switch records a thread's perf ring holds, calling @fn for each
 * (time in monotonic ns, out or in, preempted, cpu). Writer thread only.
 */
void ctr_sched_drain(struct ctr_slot *s,
		     void (*fn)(void *ud, uint64_t ns, int out, int preempted, uint32_t cpu),
		     void *ud, uint64_t *lost)
{
	int fd = atomic_load_explicit(&s->perf_fd, memory_order_acquire);
	if (fd < 0)
		return;
	struct perf_event_mmap_page *meta = s->perf_ring;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *data = (uint8_t *)s->perf_ring + page;
	uint64_t size = s->perf_size - page;
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail;

	while (tail < head) {
		struct perf_event_header h;
		uint8_t rec[256];
		for (size_t i = 0; i < sizeof(h); i++)
			((uint8_t *)&h)[i] = data[(tail + i) % size];
		if (h.size < sizeof(h) || h.size > head - tail)
			break;
		if (h.size <= sizeof(rec)) {
			for (size_t i = 0; i < h.size; i++)
				rec[i] = data[(tail + i) % size];
			if (h.type == PERF_RECORD_SWITCH && h.size >= sizeof(h) + 24) {
				/* sample_id: pid, tid (u32 each), time (u64), cpu, res (u32 each) */
				uint64_t ns;
				uint32_t cpu;
				memcpy(&ns, rec + sizeof(h) + 8, 8);
				memcpy(&cpu, rec + sizeof(h) + 16, 4);
				fn(ud, ns, (h.misc & PERF_RECORD_MISC_SWITCH_OUT) != 0,
				   (h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) != 0, cpu);
			} else if (h.type == PERF_RECORD_LOST && h.size >= sizeof(h) + 16) {
				uint64_t n;
				memcpy(&n, rec + sizeof(h) + 8, 8);
				*lost += n;
			}
		}
		tail += h.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}
