/*
 * libctrace-lttng.so: the `ctrace` LTTng-UST tracepoint provider (ctrace_tp.h) and the one
 * entry point libctrace calls, which turns a ctrace event into its tracepoint.
 *
 * The probes and the tracepoint definitions live in this library together, so it is
 * self-contained: libctrace itself never includes an LTTng header and never links
 * liblttng-ust, which is loaded (with its threads and its session daemon registration)
 * only when this library is. libctrace never dlcloses it: LTTng-UST does not support
 * unloading a provider whose tracepoints may still be running.
 *
 * Programs that fork without exec need LTTng-UST told about the fork (what
 * liblttng-ust-fork.so does when preloaded): the handlers registered here do it.
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "ctrace_tp.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <lttng/ust-fork.h>

#include <ctrace/trace.h>
#include "ops.h"

#define VIS __attribute__((visibility("default")))

static void emit(uint32_t pid, uint32_t tid, uint64_t tick, uint8_t type, const uint64_t *args,
		 unsigned n, const void *blob, size_t len)
{
	uint64_t a[8] = { 0 };
	for (unsigned i = 0; i < n && i < 8; i++)
		a[i] = args[i];
	const char *b = blob ? blob : "";
	uint32_t bl = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;

#define E(name) lttng_ust_tracepoint(ctrace, name, pid, tid, tick, a)
#define EB(name) lttng_ust_tracepoint(ctrace, name, pid, tid, tick, a, b, bl)
	switch (type) {
	case CTRACE_EV_THREAD_START: E(thread_start); break;
	case CTRACE_EV_THREAD_END: E(thread_end); break;
	case CTRACE_EV_THREAD_CREATE: E(thread_create); break;
	case CTRACE_EV_THREAD_NAME: EB(thread_name); break;
	case CTRACE_EV_BLOCK_BEGIN: E(block_begin); break;
	case CTRACE_EV_BLOCK_END: E(block_end); break;
	case CTRACE_EV_CALL_BEGIN: E(call_begin); break;
	case CTRACE_EV_CALL_END: E(call_end); break;
	case CTRACE_EV_WAKE: E(wake); break;
	case CTRACE_EV_SWITCH_OUT: E(switch_out); break;
	case CTRACE_EV_SWITCH_IN: E(switch_in); break;
	case CTRACE_EV_SCHEDSTAT: E(schedstat); break;
	case CTRACE_EV_ALLOC: E(alloc); break;
	case CTRACE_EV_FREE: E(free); break;
	case CTRACE_EV_ALLOC_STATS: E(alloc_stats); break;
	case CTRACE_EV_TASK_BEGIN: EB(task_begin); break;
	case CTRACE_EV_TASK_END: E(task_end); break;
	case CTRACE_EV_REGION_BEGIN: EB(region_begin); break;
	case CTRACE_EV_REGION_END: EB(region_end); break;
	case CTRACE_EV_LOG: EB(log); break;
	case CTRACE_EV_LOST: E(lost); break;
	case CTRACE_EV_CPU_SAMPLE: E(cpu_sample); break;
	case CTRACE_EV_STATE: E(state); break;
	case CTRACE_EV_EXEC: EB(exec); break;
	default: break;
	}
#undef E
#undef EB
}

static void emit_stack(uint32_t pid, uint64_t id, const uintptr_t *pcs, unsigned depth)
{
	_Static_assert(sizeof(uintptr_t) == sizeof(uint64_t), "64-bit program counters");
	lttng_ust_tracepoint(ctrace, stack, pid, id, (const uint64_t *)pcs, depth);
}

static void emit_generation(uint32_t pid, uint64_t tick, uint64_t mono_ns, uint64_t real_ns,
			    uint64_t tick_span, uint64_t ns_span, const char *switches)
{
	size_t len = strlen(switches);
	lttng_ust_tracepoint(ctrace, generation, pid, tick, mono_ns, real_ns, tick_span, ns_span,
			     switches, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len);
}

VIS const struct ctr_lttng_ops ctrace_lttng_ops_v1 = {
	.size = sizeof(struct ctr_lttng_ops),
	.event = emit,
	.stack = emit_stack,
	.generation = emit_generation,
};

/* One fork at a time reaches these (the prepare handler runs in the forking thread, the
 * other two right after it in the same thread), so one saved mask is enough. */
static sigset_t fork_mask;

static void before_fork(void)
{
	lttng_ust_before_fork(&fork_mask);
}

static void after_fork_parent(void)
{
	lttng_ust_after_fork_parent(&fork_mask);
}

static void after_fork_child(void)
{
	lttng_ust_after_fork_child(&fork_mask);
}

__attribute__((constructor)) static void provider_init(void)
{
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}
