/*
 * The interface between libctrace and its LTTng-UST provider library (libctrace-lttng.so),
 * which libctrace loads with dlopen only when CTRACE_SINK asks for LTTng. The provider
 * exports one object, CTR_LTTNG_OPS_SYMBOL; libctrace calls through it on the traced thread
 * at every event, so LTTng stamps the event with that thread's time, vtid and CPU, and on
 * its writer thread for what that thread synthesizes (context switches, allocation
 * counters, the clock).
 */
#ifndef CTR_LTTNG_OPS_H
#define CTR_LTTNG_OPS_H

#include <stddef.h>
#include <stdint.h>

#define CTR_LTTNG_OPS_SYMBOL "ctrace_lttng_ops_v1"
#define CTR_LTTNG_LIBRARY "libctrace-lttng.so"

struct ctr_lttng_ops {
	size_t size; /* sizeof(struct ctr_lttng_ops) of the provider: fields only grow at the end */
	/* One ctrace event of @type: its @n arguments (signed ones as int64, not zigzagged as
	 * in the format) and the blob when the type has one. */
	void (*event)(uint32_t pid, uint32_t tid, uint64_t tick, uint8_t type, const uint64_t *args,
		      unsigned n, const void *blob, size_t len);
	/* Stack @id of this process, @depth program counters, innermost first. */
	void (*stack)(uint32_t pid, uint64_t id, const uintptr_t *pcs, unsigned depth);
	/* The native recorder's clock at a generation's end (ctrace:generation): sync point
	 * @tick = @mono_ns = @real_ns, @tick_span ticks per @ns_span ns, and the
	 * context_switches text. */
	void (*generation)(uint32_t pid, uint64_t tick, uint64_t mono_ns, uint64_t real_ns,
			   uint64_t tick_span, uint64_t ns_span, const char *switches);
};

#endif
