/*
 * The model's internals, shared by its parts (model.c builds it, profile.c turns its
 * aggregated samples into pprof). The public interface is in include/ctrace/trace.h.
 */
#ifndef CTR_MODEL_H
#define CTR_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <ctrace/trace.h>

#include "hist.h"
#include "u64map.h"

/* Latency histograms per thread: index 0 is the run queue, then a ctrace_reason. */
#define CTR_LAT_KINDS 5

struct ctr_frame {
	const char *function, *file, *mapping; /* interned in the model; may be NULL */
	uint32_t line;
	uint64_t pc;
	const uint8_t *build_id; /* interned */
	size_t build_id_len;
	uint64_t map_start, map_end, map_offset;
};

/* One aggregated profile sample. */
struct ctr_sample {
	uint32_t kind;   /* enum ctrace_profile_kind */
	uint32_t pid;
	uint64_t stack;  /* the process's stack id, 0 for none */
	const char *thread; /* for samples without a stack: the thread's name (interned) */
	int64_t count, value;
};

struct ctr_stack {
	size_t first; /* into frames */
	uint32_t depth;
};

struct ctr_proc {
	uint32_t pid;
	int64_t end_ns;
	int switches;            /* the recorder said context switches were recorded */
	int64_t cpu_period_ns;   /* what one cpu_sample stands for, 0 when not said */
	struct ctr_u64map stacks; /* recorder stack id -> index in stack_list + 1 */
	struct ctr_u64map wakes;  /* object -> index in the model's wake list */
};

struct ctr_model_frames {
	struct ctr_frame *frames;
	size_t nframes, cap;
	struct ctr_stack *stacks;
	size_t nstacks, stacks_cap;
};

/* Intern @s (len bytes) in the model's string pool: equal strings share one pointer. */
struct ctrace_model;
const char *ctr_model_intern(struct ctrace_model *m, const char *s, size_t len);

/* Building a model a generation at a time (index.c), and checkpoints of where every
 * thread is, to build a timeline from the middle of a trace. */
struct ctrace_model *ctr_model_new(const struct ctrace_model_callbacks *cb, int64_t start_ns);
int ctr_model_feed(struct ctrace_model *m, ctrace_gen *g);
void ctr_model_flush(struct ctrace_model *m, int64_t t);
void ctr_model_finish(struct ctrace_model *m);
void ctr_model_warn(struct ctrace_model *m, const char *msg);
struct ctr_checkpoint;
struct ctr_checkpoint *ctr_model_checkpoint(const struct ctrace_model *m);
size_t ctr_checkpoint_size(const struct ctr_checkpoint *c);
void ctr_checkpoint_free(struct ctr_checkpoint *c);
struct ctrace_model *ctr_model_resume(const struct ctr_checkpoint *c,
				      const struct ctrace_model_callbacks *cb);

/* The model's samples and stacks, for profile.c. */
void ctr_model_samples(const struct ctrace_model *m, const struct ctr_sample **samples,
		       size_t *n);
/* The frames of stack @stack of process @pid, innermost first. @return depth. */
uint32_t ctr_model_stack(const struct ctrace_model *m, uint32_t pid, uint64_t stack,
			 const struct ctr_frame **frames);

#endif
