/*
 * The LTTng-UST tracepoint provider `ctrace`: one tracepoint per ctrace event type.
 *
 * Every event carries the recording process and thread (pid, tid: import works without
 * LTTng's vpid/vtid contexts) and `tick`, the ctrace clock reading the native recorder
 * gives the same event (TSC ticks or CLOCK_MONOTONIC ns), followed by the event's own
 * arguments as FORMAT.md names them, signed where the format zigzags them. Names, task
 * names and logs are text sequences.
 *
 * Stacks are not repeated in every event: events carry the stack id the native recorder
 * interns, and `ctrace:stack` (the program counters, innermost first) is emitted once per
 * process for each id, before the first event that refers to it. Stacks are unsymbolized:
 * the program counters are the process's addresses; LTTng's own `lttng_ust_statedump:*`
 * or `lttng_ust_dl:*` events carry the mappings for whoever needs them.
 *
 * Context switches (switch_out, switch_in) and allocation counters (alloc_stats) are not
 * recorded by the thread they describe: the native recorder's writer thread reads them
 * (perf rings, per-thread counters) and emits them, so their `tid` field, not LTTng's vtid
 * context (the writer's), says whose they are, and their LTTng timestamp is when the
 * writer read them; `tick` is when they happened. `ctrace:generation`, also from the writer,
 * carries the native recorder's clock (a sync point and the tick/ns ratio) each time it
 * closes a generation, so that import converts every `tick` as the native trace would.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER ctrace

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./ctrace_tp.h"

#if !defined(CTR_LTTNG_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define CTR_LTTNG_TP_H

#include <stdint.h>
#include <lttng/tracepoint.h>

#define CTR_TP_HEAD                                \
	lttng_ust_field_integer(uint32_t, pid, pid) \
	lttng_ust_field_integer(uint32_t, tid, tid) \
	lttng_ust_field_integer(uint64_t, tick, tick)
#define CTR_TP_U(name, i) lttng_ust_field_integer(uint64_t, name, a[i])
#define CTR_TP_X(name, i) lttng_ust_field_integer_hex(uint64_t, name, a[i])
#define CTR_TP_S(name, i) lttng_ust_field_integer(int64_t, name, (int64_t)a[i])
#define CTR_TP_TEXT(name) lttng_ust_field_sequence_text(char, name, blob, uint32_t, len)

/* An event with arguments only. */
#define CTR_TP(ev, fields)                                                               \
	LTTNG_UST_TRACEPOINT_EVENT(ctrace, ev,                                           \
		LTTNG_UST_TP_ARGS(uint32_t, pid, uint32_t, tid, uint64_t, tick,          \
				  const uint64_t *, a),                                  \
		LTTNG_UST_TP_FIELDS(CTR_TP_HEAD fields))
/* An event with arguments and a text. */
#define CTR_TPB(ev, fields, text)                                                        \
	LTTNG_UST_TRACEPOINT_EVENT(ctrace, ev,                                           \
		LTTNG_UST_TP_ARGS(uint32_t, pid, uint32_t, tid, uint64_t, tick,          \
				  const uint64_t *, a, const char *, blob, uint32_t, len), \
		LTTNG_UST_TP_FIELDS(CTR_TP_HEAD fields CTR_TP_TEXT(text)))

CTR_TP(thread_start, CTR_TP_U(parent_tid, 0) CTR_TP_U(create_id, 1) CTR_TP_U(flags, 2))
CTR_TP(thread_end, CTR_TP_U(how, 0))
CTR_TP(thread_create, CTR_TP_U(create_id, 0) CTR_TP_U(stack, 1))
CTR_TPB(thread_name, CTR_TP_U(named_tid, 0), name)
CTR_TP(block_begin, CTR_TP_U(reason, 0) CTR_TP_U(call, 1) CTR_TP_X(object, 2)
	CTR_TP_U(stack, 3))
CTR_TP(block_end, CTR_TP_S(result, 0))
CTR_TP(call_begin, CTR_TP_U(call, 0) CTR_TP_S(fd, 1) CTR_TP_U(fd_kind, 2) CTR_TP_U(stack, 3))
CTR_TP(call_end, CTR_TP_S(result, 0) CTR_TP_U(err, 1) CTR_TP_U(stack, 2))
CTR_TP(wake, CTR_TP_U(call, 0) CTR_TP_X(object, 1))
CTR_TP(switch_out, CTR_TP_U(cpu, 0) CTR_TP_U(flags, 1))
CTR_TP(switch_in, CTR_TP_U(cpu, 0))
CTR_TP(schedstat, CTR_TP_U(oncpu_ns, 0) CTR_TP_U(runq_ns, 1) CTR_TP_U(switches, 2))
CTR_TP(alloc, CTR_TP_U(call, 0) CTR_TP_X(address, 1) CTR_TP_U(size, 2) CTR_TP_U(stack, 3)
	CTR_TP_U(weight, 4))
CTR_TP(free, CTR_TP_U(call, 0) CTR_TP_X(address, 1))
CTR_TP(alloc_stats, CTR_TP_U(allocs, 0) CTR_TP_U(alloc_bytes, 1) CTR_TP_U(frees, 2))
CTR_TPB(task_begin, CTR_TP_U(task, 0) CTR_TP_U(parent, 1), name)
CTR_TP(task_end, CTR_TP_U(task, 0))
CTR_TPB(region_begin, CTR_TP_U(task, 0), name)
CTR_TPB(region_end, CTR_TP_U(task, 0), name)
CTR_TPB(log, CTR_TP_U(task, 0) CTR_TP_U(category_len, 1), text)
CTR_TP(lost, CTR_TP_U(count, 0))
CTR_TP(cpu_sample, CTR_TP_U(stack, 0))
CTR_TP(state, CTR_TP_U(state, 0) CTR_TP_U(reason, 1) CTR_TP_U(call, 2) CTR_TP_X(object, 3)
	CTR_TP_U(since, 4))
CTR_TPB(exec, , path)

/* The native recorder closed a generation: its clock sync point (ticks, CLOCK_MONOTONIC
 * and CLOCK_REALTIME ns), the ratio it measured (tick_span ticks are ns_span ns; 1 and 1
 * when ticks are ns) and how context switches are recorded (the `context_switches` value
 * of FORMAT.md's INFO record). */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, generation,
	LTTNG_UST_TP_ARGS(uint32_t, pid, uint64_t, tick, uint64_t, mono_ns, uint64_t, real_ns,
			  uint64_t, tick_span, uint64_t, ns_span, const char *, switches,
			  uint32_t, len),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint32_t, pid, pid)
		lttng_ust_field_integer(uint64_t, tick, tick)
		lttng_ust_field_integer(uint64_t, mono_ns, mono_ns)
		lttng_ust_field_integer(uint64_t, real_ns, real_ns)
		lttng_ust_field_integer(uint64_t, tick_span, tick_span)
		lttng_ust_field_integer(uint64_t, ns_span, ns_span)
		lttng_ust_field_sequence_text(char, context_switches, switches, uint32_t, len)))

/* A stack the events of this process refer to by id: its program counters, innermost
 * first. */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, stack,
	LTTNG_UST_TP_ARGS(uint32_t, pid, uint64_t, id, const uint64_t *, pcs, uint32_t, depth),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint32_t, pid, pid)
		lttng_ust_field_integer(uint64_t, id, id)
		lttng_ust_field_sequence_hex(uint64_t, pcs, pcs, uint32_t, depth)))

#endif

#include <lttng/tracepoint-event.h>
