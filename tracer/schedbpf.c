/*
 * Context switches through a BPF filter (CTRACE_SWITCHES=bpf, tried first by auto): a
 * small BPF program on the sched_switch tracepoint writes a record only when the thread
 * switched out or the one switched in is this process's, into a BPF ring buffer the
 * writer reads. The kernel then pays the tracepoint and a few dozen instructions per
 * switch instead of perf writing a switch-out and a switch-in record (bench_switch: about
 * half the cost per switch on the development machine), and other processes' switches
 * cost it almost nothing and never reach us.
 *
 * Which threads are this process's: a bitmap indexed by tid, a BPF array mapped into our
 * memory. A thread sets its bit when it takes a slot (ctr_sched_thread_init), the writer
 * sets the bits of every live slot at each collect and clears a slot's when it frees it.
 *
 * The program is assembled here from the kernel's uapi instruction encoding: twenty-odd
 * instructions do not warrant a BPF compiler at build time. The tracepoint's field
 * offsets come from its tracefs format file, so it needs tracefs mounted and readable,
 * and loading it needs CAP_BPF and CAP_PERFMON (root). No descriptor stays open: the
 * tracepoint event's mapping holds the event, which holds the program, which holds the
 * maps, and the maps' own mappings hold them too. Unmapping all of them at the capture's
 * end detaches the program.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define BPF_RING_BYTES (1u << 20) /* 26,000 switches: 40 ms of a CPU switching flat out */
#define REC_OURS_OUT 1u           /* the thread switched out is ours */
#define REC_OURS_IN 2u            /* the thread switched in is ours */

/* What the program writes per switch. */
struct bpf_rec {
	uint64_t ns; /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	uint32_t prev, next, state, cpu, ours, pad;
};

static struct {
	uint8_t *cons;       /* the ring buffer's consumer page (ours to write) */
	uint8_t *prod;       /* its producer page, then the data mapped twice over */
	size_t prod_size;
	_Atomic uint64_t *bits; /* the tid bitmap; its last word counts records dropped */
	size_t bits_words, bits_size;
	/* The bitmap as threads marking themselves see it (NULL while closed), and how
	 * many are marking: close waits for them before unmapping it. */
	_Atomic uint64_t *_Atomic live;
	_Atomic int marking;
	void *event;         /* the tracepoint event's control page: holds the event */
	uint64_t lost_seen;
} B;

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* The sched_switch tracepoint's id and the offsets of its fields, from tracefs. */
struct tp_format {
	long id;
	int prev_pid, next_pid, prev_state;
};

static int field_offset(const char *fmt, const char *name, int size_min)
{
	char key[64];
	snprintf(key, sizeof(key), " %s;", name);
	const char *f = strstr(fmt, key);
	int off, size;
	if (!f || sscanf(f + strlen(key), " offset:%d; size:%d;", &off, &size) != 2 ||
	    size < size_min || off < 0 || off > 4096)
		return -1;
	return off;
}

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (ssize_t r; n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) != 0;) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)r;
	}
	syscall(SYS_close, fd);
	buf[n] = 0;
	return n ? 0 : -1;
}

static int tp_format_read(struct tp_format *tp, char *why, size_t why_len)
{
	static const char *dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	static char buf[8192];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[96];
		snprintf(path, sizeof(path), "%s/events/sched/sched_switch/format", dirs[i]);
		if (read_small(path, buf, sizeof(buf)) < 0)
			continue;
		const char *id = strstr(buf, "\nID: ");
		tp->id = id ? strtol(id + 5, NULL, 10) : -1;
		tp->prev_pid = field_offset(buf, "prev_pid", 4);
		tp->next_pid = field_offset(buf, "next_pid", 4);
		tp->prev_state = field_offset(buf, "prev_state", 4);
		if (tp->id <= 0 || tp->prev_pid < 0 || tp->next_pid < 0 || tp->prev_state < 0) {
			snprintf(why, why_len, "%s: not the sched_switch format ctrace knows", path);
			return -1;
		}
		return 0;
	}
	snprintf(why, why_len, "no sched_switch format in tracefs (%s)",
		 errno == ENOENT ? "tracefs not mounted at /sys/kernel/tracing" : strerror(errno));
	return -1;
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ (c), (d), (s), (o), (i) })
#define MOV_X(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_K(d, k) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, k)
#define ALU_K(op, d, k) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, k)
#define LDX(sz, d, s, o) INSN(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o) INSN(BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define ST(sz, d, o, k) INSN(BPF_ST | BPF_MEM | (sz), d, 0, o, k)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define JEQ_K(d, k, o) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, k)
#define LD_MAP(d, fd) INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)

/*
 * The program: r6 the tracepoint's record, r7 prev's tid, r8 next's, r9 which are ours.
 * Each tid's bit is looked up in the bitmap (key tid / 64 on the stack at fp - 4); the
 * record is built at fp - 32 and written with bpf_ringbuf_output; when the ring is full
 * the bitmap's last word counts it. BPF_RB_NO_WAKEUP: nobody polls the ring (the writer
 * reads it on its own schedule), so the kernel need not queue an interrupt to wake a
 * reader whenever a record lands in an empty ring.
 */
static int prog_load(const struct tp_format *tp, int bits_fd, int ring_fd, uint32_t lost_key,
		     char *why, size_t why_len)
{
	/* clang-format off */
	const struct bpf_insn p[] = {
		MOV_X(6, 1),
		LDX(BPF_W, 7, 6, (short)tp->prev_pid),
		LDX(BPF_W, 8, 6, (short)tp->next_pid),
		MOV_K(9, 0),
		/* prev: r9 = bit */
		MOV_X(1, 7), ALU_K(BPF_RSH, 1, 6), STX(BPF_W, 10, 1, -4),
		LD_MAP(1, bits_fd), MOV_X(2, 10), ALU_K(BPF_ADD, 2, -4),
		CALL(BPF_FUNC_map_lookup_elem),
		JEQ_K(0, 0, 6),
		LDX(BPF_DW, 1, 0, 0), MOV_X(2, 7), ALU_K(BPF_AND, 2, 63),
		INSN(BPF_ALU64 | BPF_RSH | BPF_X, 1, 2, 0, 0), ALU_K(BPF_AND, 1, 1),
		MOV_X(9, 1),
		/* next: r9 |= bit << 1 */
		MOV_X(1, 8), ALU_K(BPF_RSH, 1, 6), STX(BPF_W, 10, 1, -4),
		LD_MAP(1, bits_fd), MOV_X(2, 10), ALU_K(BPF_ADD, 2, -4),
		CALL(BPF_FUNC_map_lookup_elem),
		JEQ_K(0, 0, 7),
		LDX(BPF_DW, 1, 0, 0), MOV_X(2, 8), ALU_K(BPF_AND, 2, 63),
		INSN(BPF_ALU64 | BPF_RSH | BPF_X, 1, 2, 0, 0), ALU_K(BPF_AND, 1, 1),
		ALU_K(BPF_LSH, 1, 1), INSN(BPF_ALU64 | BPF_OR | BPF_X, 9, 1, 0, 0),
		/* neither ours: nothing */
		JEQ_K(9, 0, 27),
		CALL(BPF_FUNC_ktime_get_ns), STX(BPF_DW, 10, 0, -32),
		STX(BPF_W, 10, 7, -24), STX(BPF_W, 10, 8, -20),
		LDX(BPF_W, 1, 6, (short)tp->prev_state), STX(BPF_W, 10, 1, -16),
		CALL(BPF_FUNC_get_smp_processor_id), STX(BPF_W, 10, 0, -12),
		STX(BPF_W, 10, 9, -8), ST(BPF_W, 10, -4, 0),
		LD_MAP(1, ring_fd), MOV_X(2, 10), ALU_K(BPF_ADD, 2, -32),
		MOV_K(3, (int)sizeof(struct bpf_rec)), MOV_K(4, BPF_RB_NO_WAKEUP),
		CALL(BPF_FUNC_ringbuf_output),
		JEQ_K(0, 0, 9),
		/* the ring was full: count it */
		ST(BPF_W, 10, -4, (int)lost_key),
		LD_MAP(1, bits_fd), MOV_X(2, 10), ALU_K(BPF_ADD, 2, -4),
		CALL(BPF_FUNC_map_lookup_elem),
		JEQ_K(0, 0, 2),
		MOV_K(1, 1), INSN(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD),
		MOV_K(0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	/* clang-format on */
	static char log[4096];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_TRACEPOINT;
	a.insns = (uintptr_t)p;
	a.insn_cnt = sizeof(p) / sizeof(p[0]);
	a.license = (uintptr_t) "GPL"; /* bpf_ktime_get_ns and the ring buffer are GPL helpers */
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	/* Load again with the verifier's log for the reason (a kernel too old...). */
	int err = errno;
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	log[0] = 0;
	fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	/* The reason is the last line but the verifier's "processed N insns" summary. */
	const char *reason = "";
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "processed ", 10) != 0)
			reason = line;
	snprintf(why, why_len, "BPF_PROG_LOAD: %s%s%s", strerror(err), reason[0] ? ": " : "",
		 reason);
	errno = err;
	return fd;
}

static int map_create(uint32_t type, uint32_t value_size, uint32_t entries, uint32_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = type == BPF_MAP_TYPE_RINGBUF ? 0 : 4;
	a.value_size = value_size;
	a.max_entries = entries;
	a.map_flags = flags;
	return (int)sys_bpf(BPF_MAP_CREATE, &a);
}

static long tid_limit(void)
{
	char buf[32];
	long n = 0;
	if (read_small("/proc/sys/kernel/pid_max", buf, sizeof(buf)) == 0)
		n = strtol(buf, NULL, 10);
	if (n <= 0 || n > (1l << 22))
		n = 1l << 22; /* PID_MAX_LIMIT on 64-bit */
	return n;
}

void ctr_sched_bpf_close(void)
{
	atomic_store(&B.live, NULL);
	while (atomic_load(&B.marking))
		sched_yield();
	if (B.event)
		munmap(B.event, (size_t)sysconf(_SC_PAGESIZE));
	if (B.cons)
		munmap(B.cons, (size_t)sysconf(_SC_PAGESIZE));
	if (B.prod)
		munmap(B.prod, B.prod_size);
	if (B.bits)
		munmap((void *)B.bits, B.bits_size);
	memset(&B, 0, sizeof(B));
}

int ctr_sched_bpf_open(char *why, size_t why_len)
{
	struct tp_format tp;
	int bits_fd = -1, ring_fd = -1, prog_fd = -1, ev_fd = -1;
	if (tp_format_read(&tp, why, why_len) < 0)
		return -1;
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	B.bits_words = (size_t)(tid_limit() + 63) / 64 + 1; /* the last: records dropped */
	bits_fd = map_create(BPF_MAP_TYPE_ARRAY, 8, (uint32_t)B.bits_words, BPF_F_MMAPABLE);
	if (bits_fd < 0) {
		snprintf(why, why_len, "BPF_MAP_CREATE: %s%s", strerror(errno),
			 errno == EPERM ? " (needs CAP_BPF and CAP_PERFMON)" : "");
		goto fail;
	}
	ring_fd = map_create(BPF_MAP_TYPE_RINGBUF, 0, BPF_RING_BYTES, 0);
	if (ring_fd < 0) {
		snprintf(why, why_len, "BPF ring buffer: %s", strerror(errno));
		goto fail;
	}
	B.bits_size = (B.bits_words * 8 + page - 1) / page * page;
	void *m = mmap(NULL, B.bits_size, PROT_READ | PROT_WRITE, MAP_SHARED, bits_fd, 0);
	if (m == MAP_FAILED)
		goto fail_map;
	B.bits = m;
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
	if (m == MAP_FAILED)
		goto fail_map;
	B.cons = m;
	B.prod_size = page + 2 * (size_t)BPF_RING_BYTES;
	m = mmap(NULL, B.prod_size, PROT_READ, MAP_SHARED, ring_fd, (off_t)page);
	if (m == MAP_FAILED)
		goto fail_map;
	B.prod = m;
	prog_fd = prog_load(&tp, bits_fd, ring_fd, (uint32_t)(B.bits_words - 1), why, why_len);
	if (prog_fd < 0)
		goto fail;
	/*
	 * One counting event on the first CPU that takes it carries the program: a
	 * tracepoint's programs run on every CPU once one perf event of it exists. Its
	 * control page, mapped, holds it without a descriptor.
	 */
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_TRACEPOINT;
	a.config = (uint64_t)tp.id;
	for (int cpu = 0; cpu < 4096 && ev_fd < 0; cpu++) {
		ev_fd = (int)syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (ev_fd < 0 && errno != ENODEV && errno != ENXIO)
			break;
	}
	if (ev_fd < 0) {
		snprintf(why, why_len, "perf_event_open of sched_switch: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(ev_fd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0) {
		snprintf(why, why_len, "PERF_EVENT_IOC_SET_BPF: %s", strerror(errno));
		goto fail;
	}
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, ev_fd, 0);
	if (m == MAP_FAILED)
		goto fail_map;
	B.event = m;
	if (ioctl(ev_fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
		snprintf(why, why_len, "PERF_EVENT_IOC_ENABLE: %s", strerror(errno));
		goto fail;
	}
	syscall(SYS_close, ev_fd);
	syscall(SYS_close, prog_fd);
	syscall(SYS_close, ring_fd);
	syscall(SYS_close, bits_fd);
	atomic_store(&B.live, B.bits);
	return 0;

fail_map:
	snprintf(why, why_len, "mmap of a BPF map or event: %s", strerror(errno));
fail:
	for (int *fd = (int[]){ ev_fd, prog_fd, ring_fd, bits_fd }, i = 0; i < 4; i++)
		if (fd[i] >= 0)
			syscall(SYS_close, fd[i]);
	ctr_sched_bpf_close();
	return -1;
}

/* Any thread, at its first event of a capture; the writer for the others. Sequentially
 * consistent against close: either close sees this thread marking and waits, or this
 * thread sees the bitmap gone. */
void ctr_sched_bpf_mark(uint32_t tid, int ours)
{
	atomic_fetch_add(&B.marking, 1);
	_Atomic uint64_t *bits = atomic_load(&B.live);
	if (bits && tid / 64 < B.bits_words - 1) {
		uint64_t bit = 1ull << (tid % 64);
		_Atomic uint64_t *w = &bits[tid / 64];
		if (!ours)
			atomic_fetch_and_explicit(w, ~bit, memory_order_relaxed);
		else if (!(atomic_load_explicit(w, memory_order_relaxed) & bit))
			atomic_fetch_or_explicit(w, bit, memory_order_relaxed);
	}
	atomic_fetch_sub(&B.marking, 1);
}

void ctr_sched_bpf_fork_child(void)
{
	/* Threads that were marking in the parent are gone: nobody to wait for. */
	atomic_store(&B.marking, 0);
}

unsigned ctr_sched_bpf_read(void (*fn)(void *ud, const struct ctr_switch *sw), void *ud,
			    uint64_t *lost)
{
	if (!B.cons)
		return 0;
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const uint8_t *data = B.prod + page;
	const uint64_t mask = BPF_RING_BYTES - 1;
	uint64_t cons = __atomic_load_n((uint64_t *)B.cons, __ATOMIC_RELAXED);
	const uint64_t prod = __atomic_load_n((uint64_t *)B.prod, __ATOMIC_ACQUIRE);
	unsigned fill = prod - cons >= BPF_RING_BYTES ? 1000
						       : (unsigned)((prod - cons) * 1000 / BPF_RING_BYTES);
	while (cons < prod) {
		const uint8_t *h = data + (cons & mask);
		uint32_t len = __atomic_load_n((const uint32_t *)h, __ATOMIC_ACQUIRE);
		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* not committed yet: the next read has it */
		uint32_t n = len & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (!(len & BPF_RINGBUF_DISCARD_BIT) && n >= sizeof(struct bpf_rec)) {
			struct bpf_rec r;
			memcpy(&r, h + BPF_RINGBUF_HDR_SZ, sizeof(r)); /* mapped twice: never wraps */
			struct ctr_switch sw = { .ns = r.ns, .cpu = r.cpu };
			if (r.ours & REC_OURS_OUT) {
				sw.tid = r.prev;
				sw.out = 1;
				/* Runnable when it left (R, or R+ when preempted): it was preempted. */
				sw.preempted = (r.state & 0xff) == 0;
				fn(ud, &sw);
			}
			if (r.ours & REC_OURS_IN) {
				sw.tid = r.next;
				sw.out = 0;
				sw.preempted = 0;
				fn(ud, &sw);
			}
		}
		cons += (n + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
	}
	__atomic_store_n((uint64_t *)B.cons, cons, __ATOMIC_RELEASE);
	uint64_t dropped = atomic_load_explicit(&B.bits[B.bits_words - 1], memory_order_relaxed);
	*lost += dropped - B.lost_seen;
	B.lost_seen = dropped;
	return fill;
}
