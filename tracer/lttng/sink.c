/*
 * The LTTng sink inside libctrace: CTRACE_SINK=native|lttng|both, loading the provider
 * library and handing it every event the traced threads record.
 *
 * Every event is written into the thread's ring and committed with ctr_commit(); when the
 * LTTng sink is on, ctr_commit() hands the bytes just written to ctr_lttng_commit(), which
 * decodes them and calls the provider on the same thread. With `lttng` alone the bytes are
 * then dropped (the ring is only a scratch area), so no native trace is produced; with
 * `both` they are committed as usual.
 *
 * What the writer thread synthesizes rather than a traced thread records (context switches
 * from perf, allocation counters, the clock of each generation) reaches LTTng through
 * ctr_lttng_synth() and ctr_lttng_generation(), called by the writer where it makes them.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../internal.h"
#include "ops.h"

int ctr_lttng_mode;
static const struct ctr_lttng_ops *ops;

/* Stacks already emitted in this process, one bit per id (ids are dense from 1). */
#define STACK_BITS (1u << 21)
static _Atomic uint64_t *stack_seen;
static struct ctr_schema schema;

int ctr_sink_parse(const char *s)
{
	if (!s || !*s || strcmp(s, "native") == 0)
		return CTR_SINK_NATIVE;
	if (strcmp(s, "lttng") == 0)
		return CTR_SINK_LTTNG;
	if (strcmp(s, "both") == 0)
		return CTR_SINK_BOTH;
	return -1;
}

/* The directory libctrace.so was loaded from, with a trailing slash. */
static int own_dir(char *out, size_t size)
{
	Dl_info info;
	if (!dladdr((void *)&ctr_lttng_load, &info) || !info.dli_fname)
		return -1;
	const char *slash = strrchr(info.dli_fname, '/');
	size_t len = slash ? (size_t)(slash - info.dli_fname) + 1 : 0;
	if (len + 1 > size)
		return -1;
	memcpy(out, info.dli_fname, len);
	out[len] = 0;
	return 0;
}

int ctr_lttng_load(int mode)
{
	char path[PATH_MAX];
	const char *env = getenv("CTRACE_LTTNG_LIB");
	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else if (own_dir(path, sizeof(path) - sizeof(CTR_LTTNG_LIBRARY)) == 0) {
		strcat(path, CTR_LTTNG_LIBRARY);
	} else {
		snprintf(path, sizeof(path), "%s", CTR_LTTNG_LIBRARY);
	}
	/* LTTng-UST's constructor waits up to LTTNG_UST_REGISTER_TIMEOUT (3 s by default) for
	 * a session daemon to register with; with none running it returns at once, and with
	 * one running the wait is what makes the session see events from the start. */
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		ctr_warn("CTRACE_SINK asks for LTTng but %s cannot be loaded (%s); recording "
			 "natively", path, dlerror());
		return -1;
	}
	const struct ctr_lttng_ops *o = dlsym(h, CTR_LTTNG_OPS_SYMBOL);
	if (!o || o->size < sizeof(*o)) {
		ctr_warn("%s is not a ctrace LTTng provider of this version; recording natively",
			 path);
		return -1; /* never dlclosed: LTTng-UST may have registered threads already */
	}
	void *m = mmap(NULL, STACK_BITS / 8, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		ctr_warn("no memory for the LTTng sink; recording natively");
		return -1;
	}
	stack_seen = m;
	ctr_schema_builtin(&schema);
	ops = o;
	ctr_lttng_mode = mode;
	return 0;
}

/* After fork: the child's stacks are announced again under its own pid. */
void ctr_lttng_fork_child(void)
{
	if (stack_seen)
		memset((void *)stack_seen, 0, STACK_BITS / 8);
}

static void announce_stack(uint64_t id)
{
	if (!id || id >= STACK_BITS)
		return;
	uint64_t bit = 1ull << (id & 63);
	if (atomic_fetch_or_explicit(&stack_seen[id >> 6], bit, memory_order_relaxed) & bit)
		return;
	const uintptr_t *pcs;
	unsigned depth = ctr_stack_lookup(id, &pcs);
	if (depth)
		ops->stack((uint32_t)ctr_g.pid, id, pcs, depth);
}

int ctr_lttng_commit(struct ctr_slot *s, const uint8_t *start, const uint8_t *end)
{
	struct ctr_raw_event ev;
	if (ctr_event_scan(&schema, start, end, &ev) == 0 || ev.type >= CTRACE_EV_COUNT_)
		return ctr_lttng_mode == CTR_SINK_LTTNG;
	unsigned n = ev.nargs ? ev.nargs - 1u : 0;
	uint64_t *a = ev.args + 1;
	uint8_t sm = ctr_events[ev.type].signed_mask;
	for (unsigned i = 0; i < n; i++)
		if (sm & (1u << i))
			a[i] = (uint64_t)ctr_unzigzag(a[i]);
	/* The schema counts the stack's position with the time delta as 0. */
	unsigned sa = schema.stack_arg[ev.type];
	if (sa && sa - 1 < n)
		announce_stack(a[sa - 1]);
	/* s->last is this event's time: ctr_put_head and every direct writer set it. */
	ops->event((uint32_t)ctr_g.pid, s->tid, s->last, ev.type, a, n, ev.blob,
		   (size_t)ev.blob_len);
	return ctr_lttng_mode == CTR_SINK_LTTNG;
}

void ctr_lttng_synth(uint32_t tid, uint8_t type, uint64_t ticks, const uint64_t *args,
		     unsigned nargs)
{
	if (likely(!ctr_lttng_mode))
		return;
	ops->event((uint32_t)ctr_g.pid, tid, ticks, type, args, nargs, NULL, 0);
}

void ctr_lttng_generation(const struct ctr_sync *end, uint64_t tick_span, uint64_t ns_span)
{
	if (likely(!ctr_lttng_mode))
		return;
	/* The value the native generation's INFO record gets (writer.c, gen_begin). */
	const char *sw = !(ctr_g.cfg.classes & CTR_CLASS_SCHED) ? "off"
			 : ctr_perf_status[0]                   ? ctr_perf_status
								: "perf";
	ops->generation((uint32_t)ctr_g.pid, end->ticks, end->mono_ns, end->real_ns, tick_span,
			ns_span, sw);
}
