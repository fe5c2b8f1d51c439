/*
 * Profiles from the model's aggregated samples, as pprof's profile.proto: blocked time by
 * stack for synchronization, I/O and other syscalls, run-queue delay, sampled allocations,
 * CPU samples. Frames come from the trace's own tables (symbolized when recorded), so the
 * profile reads without the binaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pprof.h"

struct kind_desc {
	const char *types[4];
	const char *period_type, *period_unit;
	const char *comment;
};

static const struct kind_desc kinds[] = {
	[CTRACE_PROFILE_SYNC] = { { "contentions", "count", "delay", "nanoseconds" },
				  "contentions", "count",
				  "ctrace: time threads spent blocked on synchronization" },
	[CTRACE_PROFILE_IO] = { { "calls", "count", "time", "nanoseconds" }, "calls", "count",
				"ctrace: time threads spent in I/O calls" },
	[CTRACE_PROFILE_SYSCALL] = { { "calls", "count", "time", "nanoseconds" }, "calls", "count",
				     "ctrace: time threads spent in other syscalls and sleeps" },
	[CTRACE_PROFILE_SCHED] = { { "delays", "count", "delay", "nanoseconds" }, "delays",
				   "count", "ctrace: time runnable threads waited for a CPU" },
	[CTRACE_PROFILE_ALLOC] = { { "alloc_objects", "count", "alloc_space", "bytes" }, "space",
				   "bytes", "ctrace: sampled allocations (estimated totals)" },
	[CTRACE_PROFILE_CPU] = { { "samples", "count", "cpu", "nanoseconds" }, "cpu",
				 "nanoseconds", "ctrace: CPU samples" },
};

CTRACE_API int ctrace_model_pprof(const ctrace_model *m, enum ctrace_profile_kind kind,
				  uint8_t **out, size_t *len)
{
	if ((unsigned)kind >= sizeof(kinds) / sizeof(kinds[0]))
		return CTRACE_EINVAL;
	const struct kind_desc *k = &kinds[kind];
	struct ctr_pprof *p = ctr_pprof_new(k->types, 2, k->period_type, k->period_unit, 1);
	if (!p)
		return CTRACE_ENOMEM;
	int64_t start, end;
	ctrace_model_window(m, &start, &end);
	ctr_pprof_set_time(p, ctrace_model_start_realtime(m), end - start);
	ctr_pprof_add_comment(p, k->comment);

	const struct ctr_sample *samples;
	size_t n;
	ctr_model_samples(m, &samples, &n);
	struct ctr_pprof_frame *frames = NULL;
	size_t cap = 0;
	int err = 0;
	for (size_t i = 0; i < n && !err; i++) {
		const struct ctr_sample *s = &samples[i];
		if (s->kind != (uint32_t)kind)
			continue;
		const struct ctr_frame *f;
		uint32_t depth = s->stack ? ctr_model_stack(m, s->pid, s->stack, &f) : 0;
		if (depth + 1 > cap) {
			cap = depth + 1;
			struct ctr_pprof_frame *nf = realloc(frames, cap * sizeof(*nf));
			if (!nf) {
				err = CTRACE_ENOMEM;
				break;
			}
			frames = nf;
		}
		char label[128];
		if (!depth) {
			/* No stack was recorded: the thread's name says where the time went. */
			snprintf(label, sizeof(label), "[thread %s]",
				 s->thread && *s->thread ? s->thread : "?");
			memset(&frames[0], 0, sizeof(frames[0]));
			frames[0].function = label;
			depth = 1;
		} else {
			for (uint32_t d = 0; d < depth; d++) {
				struct ctr_pprof_frame *o = &frames[d];
				memset(o, 0, sizeof(*o));
				o->function = f[d].function;
				o->file = f[d].file;
				o->line = f[d].line;
				o->address = f[d].pc;
				o->mapping = f[d].mapping;
				o->build_id = f[d].build_id;
				o->build_id_len = f[d].build_id_len;
				o->map_start = f[d].map_start;
				o->map_end = f[d].map_end;
				o->map_offset = f[d].map_offset;
			}
		}
		int64_t values[2] = { s->count, s->value };
		err = ctr_pprof_add(p, frames, depth, values, NULL, 0);
	}
	free(frames);
	if (!err)
		err = ctr_pprof_write(p, out, len);
	ctr_pprof_free(p);
	return err;
}
