/*
 * Scheduling: context switches from perf_event_open software events with context_switch
 * records (timestamps on CLOCK_MONOTONIC through use_clockid), and the kernel's
 * per-thread totals from /proc/self/task/TID/schedstat.
 *
 * Two ways to get the switches, chosen when a capture starts (CTRACE_SWITCHES):
 *  - cpu-wide: one ring per CPU for the capture, opened by the thread that starts it;
 *    the writer keeps this process's records and sorts them by thread. The kernel
 *    writes a record per switch and no more; it needs CAP_PERFMON (or root, or
 *    kernel.perf_event_paranoid <= 0).
 *  - per thread: each thread opens its own ring on its first event. Allowed wherever
 *    perf_event_open is, but the kernel then swaps a perf context in and out at every
 *    switch of a traced thread, which costs the thread microseconds per switch.
 * A ring needs no descriptor once it is mapped: the mapping holds the event, so the
 * descriptor is closed at once and no program that closes every fd can touch it.
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

#define PERF_THREAD_PAGES 4
/* Per-CPU rings: 8 MiB across all CPUs, each between 128 KiB (3,000 switch records, 10
 * ms of a very busy CPU) and 512 KiB, the larger for a writer thread kept off the CPU for
 * a while; 128 KiB where the locked-memory limit refuses more. */
#define PERF_CPU_PAGES_MIN 32
#define PERF_CPU_PAGES_MAX 128
#define PERF_CPU_BYTES_ALL (8u << 20)
#define SAMPLE_ID_SIZE 24 /* pid, tid (u32 each), time (u64), cpu, res (u32 each) */

/* Why context switches are missing, once for the whole process; "" while they work. */
char ctr_perf_status[320];

struct perf_ring {
	uint8_t *base; /* the control page, then the data pages; NULL when not mapped */
	size_t size;
};

/* The capture's per-CPU rings (writer_start opens, the writer thread closes). */
static struct perf_ring *cpu_rings;
static unsigned n_cpu_rings;
static _Atomic int cpu_wide;
static _Atomic int cpu_bpf; /* with cpu_wide: the switches come through the BPF filter */

/* This process's switches read from the per-CPU rings, sorted by thread then time. */
static struct ctr_switch *sw;
static size_t sw_len, sw_cap;
/* Ordering them: scratch kept from one collect to the next. */
static struct ctr_swsort sw_sorter;

static size_t page_size(void)
{
	static size_t page;
	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

/* Open a switch event for (@pid, @cpu) and map it with @pages data pages: 0; -1 with
 * errno when the event cannot be opened, -2 when it cannot be mapped. The descriptor is
 * closed before returning. */
static int ring_open(struct perf_ring *r, int pid, int cpu, unsigned pages)
{
	struct perf_event_attr a;

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
	int fd = (int)syscall(SYS_perf_event_open, &a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t size = page_size() * (1 + pages);
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int err = errno;
	syscall(SYS_close, fd);
	if (base == MAP_FAILED) {
		errno = err;
		return -2;
	}
	r->base = base;
	r->size = size;
	return 0;
}

static void ring_close(struct perf_ring *r)
{
	if (r->base)
		munmap(r->base, r->size);
	r->base = NULL;
}

/* @n bytes at ring position @pos into @dst, across the ring's end when they wrap. */
static void ring_copy(uint8_t *dst, const uint8_t *data, uint64_t mask, uint64_t pos, size_t n)
{
	uint64_t off = pos & mask;
	size_t first = n < mask + 1 - off ? n : (size_t)(mask + 1 - off);
	memcpy(dst, data + off, first);
	memcpy(dst + first, data, n - first);
}

/*
 * Call @fn for every whole record the ring holds (header and body; a record that wraps
 * round the ring's end is copied out first) and give the room back. @lost counts what the
 * kernel dropped. The data area is a power of two pages: positions are masked, where a
 * division for every byte read had cost about 200 ns a record.
 */
static unsigned ring_read(struct perf_ring *r,
			  void (*fn)(void *ud, const struct perf_event_header *h, const uint8_t *rec),
			  void *ud, uint64_t *lost)
{
	struct perf_event_mmap_page *meta = (void *)r->base;
	const uint8_t *data = r->base + page_size();
	const uint64_t mask = r->size - page_size() - 1;
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail;
	unsigned fill = head - tail > mask ? 1000 : (unsigned)((head - tail) * 1000 / (mask + 1));

	while (tail < head) {
		struct perf_event_header h;
		uint8_t copy[256];
		ring_copy((uint8_t *)&h, data, mask, tail, sizeof(h));
		if (h.size < sizeof(h) || h.size > head - tail)
			break;
		if (h.size <= sizeof(copy)) {
			const uint8_t *rec = data + (tail & mask);
			if ((tail & mask) + h.size > mask + 1) {
				ring_copy(copy, data, mask, tail, h.size);
				rec = copy;
			}
			if (h.type == PERF_RECORD_LOST && h.size >= sizeof(h) + 16) {
				uint64_t n;
				memcpy(&n, rec + sizeof(h) + 8, 8);
				*lost += n;
			} else {
				fn(ud, &h, rec);
			}
		}
		tail += h.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
	return fill;
}

/* A switch record's sample_id at @id: the thread's pid and tid, the time, the CPU. */
static void sample_id(const uint8_t *id, struct ctr_switch *out, uint32_t *pid)
{
	memcpy(pid, id, 4);
	memcpy(&out->tid, id + 4, 4);
	memcpy(&out->ns, id + 8, 8);
	memcpy(&out->cpu, id + 16, 4);
}

static void switch_flags(const struct perf_event_header *h, struct ctr_switch *out)
{
	out->out = (h->misc & PERF_RECORD_MISC_SWITCH_OUT) != 0;
	out->preempted = (h->misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) != 0;
}

/* ---- per thread ---- */

void ctr_sched_thread_init(struct ctr_slot *s)
{
	if (atomic_load_explicit(&cpu_wide, memory_order_acquire)) {
		/* The capture's CPU rings see this thread; ask again after it. The BPF filter
		 * must be told that it is ours, before its next switch. */
		if (cpu_bpf)
			ctr_sched_bpf_mark(s->tid, 1);
		return;
	}
	s->perf_fd = -2; /* tried: do not try again for this thread */
	if (!(ctr_g.cfg.classes & CTR_CLASS_SCHED) || ctr_perf_status[0] ||
	    ctr_g.cfg.switches == CTR_SWITCHES_CPU || ctr_g.cfg.switches == CTR_SWITCHES_BPF)
		return;
	struct perf_ring r;
	int saved = errno;
	int rc = ring_open(&r, 0, -1, PERF_THREAD_PAGES);
	if (rc == -1)
		snprintf(ctr_perf_status, sizeof(ctr_perf_status),
			 "unavailable: perf_event_open: %s%s", strerror(errno),
			 errno == EMFILE || errno == ENFILE
				 ? " (no descriptor free)"
				 : " (kernel.perf_event_paranoid or seccomp)");
	/* -2: over the locked-memory limit for perf buffers, this thread goes without. */
	if (rc < 0) {
		errno = saved;
		return;
	}
	s->perf_ring = r.base;
	s->perf_size = r.size;
	errno = saved;
	atomic_store_explicit(&s->perf_fd, 0, memory_order_release);
}

void ctr_sched_thread_fini(struct ctr_slot *s)
{
	int st = atomic_load_explicit(&s->perf_fd, memory_order_acquire);
	if (st >= 0) {
		struct perf_ring r = { s->perf_ring, s->perf_size };
		ring_close(&r);
	}
	s->perf_ring = NULL;
	atomic_store_explicit(&s->perf_fd, -1, memory_order_release);
}

struct thread_read {
	void (*fn)(void *ud, uint64_t ns, int out, int preempted, uint32_t cpu);
	void *ud;
};

static void thread_record(void *ud, const struct perf_event_header *h, const uint8_t *rec)
{
	struct thread_read *t = ud;
	struct ctr_switch one;
	uint32_t pid;
	if (h->type != PERF_RECORD_SWITCH || h->size < sizeof(*h) + SAMPLE_ID_SIZE)
		return;
	sample_id(rec + sizeof(*h), &one, &pid);
	switch_flags(h, &one);
	t->fn(t->ud, one.ns, one.out, one.preempted, one.cpu);
}

void ctr_sched_drain(struct ctr_slot *s,
		     void (*fn)(void *ud, uint64_t ns, int out, int preempted, uint32_t cpu),
		     void *ud, uint64_t *lost)
{
	if (atomic_load_explicit(&s->perf_fd, memory_order_acquire) < 0)
		return;
	struct perf_ring r = { s->perf_ring, s->perf_size };
	struct thread_read t = { fn, ud };
	ring_read(&r, thread_record, &t, lost);
}

/* ---- per CPU ---- */

/* Every live thread's switches wanted by the BPF filter: those that took a slot before
 * it was there, or while the writer was between two collects. */
static void bpf_mark_live(void)
{
	for (struct ctr_slot *s = atomic_load_explicit(&ctr_g.slots, memory_order_acquire); s;
	     s = s->next)
		if (atomic_load_explicit(&s->state, memory_order_acquire) == CTR_SLOT_LIVE)
			ctr_sched_bpf_mark(s->tid, 1);
}

static int bpf_open(void)
{
	char why[256];
	int saved = errno;
	if (ctr_sched_bpf_open(why, sizeof(why)) < 0) {
		if (ctr_g.cfg.switches == CTR_SWITCHES_BPF)
			snprintf(ctr_perf_status, sizeof(ctr_perf_status),
				 "unavailable: CTRACE_SWITCHES=bpf: %s", why);
		errno = saved;
		return -1;
	}
	errno = saved;
	cpu_bpf = 1;
	sw_len = 0;
	atomic_store_explicit(&cpu_wide, 1, memory_order_release);
	bpf_mark_live();
	return 0;
}

int ctr_sched_cpu_open(void)
{
	if (!(ctr_g.cfg.classes & CTR_CLASS_SCHED) || ctr_g.cfg.switches == CTR_SWITCHES_THREAD ||
	    atomic_load(&cpu_wide))
		return -1;
	if (ctr_g.cfg.switches == CTR_SWITCHES_BPF || ctr_g.cfg.switches == CTR_SWITCHES_AUTO) {
		if (bpf_open() == 0)
			return 0;
		if (ctr_g.cfg.switches == CTR_SWITCHES_BPF)
			return -1;
	}
	long n = sysconf(_SC_NPROCESSORS_CONF);
	if (n < 1 || n > 4096)
		return -1;
	int saved = errno;
	struct perf_ring *r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return -1;
	unsigned opened = 0, pages = PERF_CPU_PAGES_MAX;
	while (pages > PERF_CPU_PAGES_MIN && (size_t)n * pages * page_size() > PERF_CPU_BYTES_ALL)
		pages /= 2;
	for (long cpu = 0; cpu < n; cpu++) {
		int rc = ring_open(&r[cpu], -1, (int)cpu, pages);
		if (rc == -2 && pages > PERF_CPU_PAGES_MIN) {
			pages = PERF_CPU_PAGES_MIN; /* the locked-memory limit: this and the rest */
			rc = ring_open(&r[cpu], -1, (int)cpu, pages);
		}
		if (rc == 0) {
			opened++;
			continue;
		}
		if (rc == -1 && (errno == ENODEV || errno == ENXIO))
			continue; /* offline: its switches go unseen while it stays so */
		const char *why = strerror(errno);
		for (long i = 0; i < cpu; i++)
			ring_close(&r[i]);
		free(r);
		if (ctr_g.cfg.switches == CTR_SWITCHES_CPU)
			snprintf(ctr_perf_status, sizeof(ctr_perf_status),
				 "unavailable: CTRACE_SWITCHES=cpu: perf_event_open per CPU: %s "
				 "(needs CAP_PERFMON or kernel.perf_event_paranoid <= 0)",
				 why);
		errno = saved;
		return -1;
	}
	errno = saved;
	if (!opened) {
		free(r);
		return -1;
	}
	cpu_rings = r;
	n_cpu_rings = (unsigned)n;
	sw_len = 0;
	atomic_store_explicit(&cpu_wide, 1, memory_order_release);
	return 0;
}

void ctr_sched_cpu_close(void)
{
	if (!atomic_load(&cpu_wide))
		return;
	if (cpu_bpf)
		ctr_sched_bpf_close();
	cpu_bpf = 0;
	for (unsigned i = 0; i < n_cpu_rings; i++)
		ring_close(&cpu_rings[i]);
	free(cpu_rings);
	cpu_rings = NULL;
	n_cpu_rings = 0;
	free(sw);
	sw = NULL;
	sw_len = sw_cap = 0;
	ctr_swsort_free(&sw_sorter);
	atomic_store_explicit(&cpu_wide, 0, memory_order_release);
}

void ctr_sched_cpu_forget(void)
{
	/* In a fork child: the rings are the parent's (mapped into both); unmap our view. */
	ctr_sched_bpf_fork_child();
	ctr_sched_cpu_close();
}

int ctr_sched_cpu_wide(void)
{
	return atomic_load_explicit(&cpu_wide, memory_order_acquire);
}

/* Switches read but not kept (no memory to keep them in), for the next collect's @lost. */
static uint64_t sw_dropped;
/* How full the fullest ring was at the last collect, in thousandths. */
static unsigned sw_fill;

static void sw_push(void *ud, const struct ctr_switch *one)
{
	(void)ud;
	if (sw_len == sw_cap) {
		size_t cap = sw_cap ? 2 * sw_cap : 1024;
		struct ctr_switch *p = realloc(sw, cap * sizeof(*p));
		if (!p) {
			sw_dropped++;
			return;
		}
		sw = p;
		sw_cap = cap;
	}
	sw[sw_len++] = *one;
}

static void cpu_record(void *ud, const struct perf_event_header *h, const uint8_t *rec)
{
	uint32_t self = *(const uint32_t *)ud, pid;
	struct ctr_switch one;
	/* next_prev_pid and next_prev_tid, then the sample_id of the switching thread */
	if (h->type != PERF_RECORD_SWITCH_CPU_WIDE ||
	    h->size < sizeof(*h) + 8 + SAMPLE_ID_SIZE)
		return;
	sample_id(rec + sizeof(*h) + 8, &one, &pid);
	if (pid != self)
		return;
	switch_flags(h, &one);
	sw_push(NULL, &one);
}

void ctr_sched_cpu_collect(uint64_t *lost)
{
	uint32_t self = (uint32_t)ctr_g.pid;
	sw_len = 0;
	if (!atomic_load_explicit(&cpu_wide, memory_order_acquire))
		return;
	*lost += sw_dropped;
	sw_dropped = 0;
	unsigned fill = 0;
	if (cpu_bpf) {
		bpf_mark_live();
		fill = ctr_sched_bpf_read(sw_push, NULL, lost);
	}
	for (unsigned i = 0; i < n_cpu_rings; i++) {
		if (!cpu_rings[i].base)
			continue;
		unsigned f = ring_read(&cpu_rings[i], cpu_record, &self, lost);
		fill = f > fill ? f : fill;
	}
	sw_fill = fill;
	/* Each CPU's records are in time order, a thread's across CPUs are not. */
	ctr_swsort_order(&sw_sorter, sw, sw_len);
}

unsigned ctr_sched_cpu_fill(void)
{
	return sw_fill;
}

void ctr_sched_thread_gone(uint32_t tid)
{
	if (cpu_bpf)
		ctr_sched_bpf_mark(tid, 0);
}

const char *ctr_sched_rings_name(void)
{
	if (!atomic_load_explicit(&cpu_wide, memory_order_acquire))
		return "thread";
	return cpu_bpf ? "bpf" : "cpu";
}

const struct ctr_switch *ctr_sched_cpu_find(uint32_t tid, size_t *n)
{
	size_t lo = 0, hi = sw_len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sw[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < sw_len && sw[end].tid == tid)
		end++;
	*n = end - lo;
	return sw + lo;
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
