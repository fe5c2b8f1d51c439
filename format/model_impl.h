/*
 * The model's private structures, shared by model.c (building it) and model_query.c
 * (reading it, checkpoints). Nothing outside format/ sees them.
 */
#ifndef CTR_MODEL_IMPL_H
#define CTR_MODEL_IMPL_H

#include "model.h"

#define BLOCK_MIN_NS 20000
#define TCACHE 64

struct mthread {
	struct ctrace_thread_stats st;
	/* the profile sample this thread last added to, by profile kind: stack, index + 1 */
	uint64_t sc_stack[CTRACE_PROFILE_CPU + 1];
	size_t sc_idx[CTRACE_PROFILE_CPU + 1];
	uint32_t pid, tid;
	size_t proc;            /* index in the model's procs (they move when they grow) */
	int started, ended, existing;
	int64_t switch_out_ns;
	int64_t start_ns, end_ns;
	int64_t cur_ns;         /* where the open interval begins */
	int pending;            /* existing thread, nothing seen yet: state unknown */
	int on_cpu, preempted;
	int saw_switch;
	int gap;                /* closing a switch gap (see on_switch): Unknown */
	/* the episode in progress */
	int in_call;            /* 0 none, 1 block (sync), 2 call */
	const char *call;
	uint64_t call_id;       /* in the generation of the begin, for the name cache */
	uint32_t reason;
	uint64_t object;
	int64_t fd;
	uint32_t fd_kind;
	uint64_t stack;
	int64_t ep_begin;
	int ep_off;             /* left the CPU voluntarily during the episode */
	uint32_t waker_tid;
	int64_t wake_ns;
	/* accumulated time */
	int64_t acc[5];         /* by state */
	int64_t wait_by[6];     /* by reason */
	int64_t idle_preempt;
	int64_t gap_ns[2];      /* Unknown from switch gaps: outside calls, inside one */
	uint64_t ss_first[3], ss_last[3];
	int have_ss_first, have_ss_last;
	struct ctr_hist lat[CTR_LAT_KINDS];
	const char *name;
};

struct wake {
	uint32_t tid;
	int64_t ns;
};

/* A wake of the generation being handled, sorted by object then time. */
struct gwake {
	uint64_t object;
	int64_t ns;
	uint32_t tid;
};

struct call_kind {
	const char *name;
	uint32_t reason;
	struct ctr_hist lat;
};

struct ctrace_model {
	struct mthread *threads;
	size_t nthreads, threads_cap;
	struct ctr_u64map by_id;        /* pid << 32 | tid -> thread index + 1 */
	struct ctr_proc *procs;
	size_t nprocs, procs_cap;
	struct wake *wakes;
	size_t nwakes, wakes_cap;
	struct call_kind *kinds;
	size_t nkinds, kinds_cap;
	struct ctr_u64map kind_by_name; /* interned name pointer -> kind index + 1 */
	struct gwake *gw;               /* this generation's wakes */
	size_t ngw, gw_cap;
	/* interned strings */
	char **pool;
	size_t npool, pool_cap;
	struct ctr_u64map strings;      /* hash -> pool index + 1 (chained by probing) */
	/* stacks and profile samples */
	struct ctr_model_frames fr;
	struct ctr_sample *samples;
	size_t nsamples, samples_cap;
	struct ctr_u64map sample_index; /* key hash -> sample index + 1 */
	/* warnings */
	char **warnings;
	size_t nwarnings;
	int64_t start_ns, end_ns;
	int64_t realtime_offset;
	uint64_t events, lost;
	int failed;                     /* out of memory somewhere: numbers are partial */
	/* per generation: interned call names and "call on kind" names by call id */
	const ctrace_gen *cache_gen;
	uint64_t tcache[TCACHE][2]; /* pid << 32 | tid, thread index */
	/* the same in front of the call kinds (by name) */
	const char *kcache_name[TCACHE];
	size_t kcache_idx[TCACHE];
	const char *call_name[256];
	uint32_t call_reason[256];
	const char *kind_name[256][8];
	const struct ctrace_model_callbacks *cb;
	int intervals;                  /* cb->interval is set: intervals are handed out */
};


static inline int lat_index(uint32_t reason)
{
	return reason >= 1 && reason <= 4 ? (int)reason : -1;
}

#endif
