/*
 * drain.c, for writer.c: the generation the writer is filling, and what fills it.
 */
#ifndef CTR_DRAIN_H
#define CTR_DRAIN_H

#include "../format/encode.h"
#include "internal.h"

/* The open generation. */
struct ctr_open_gen {
	struct ctr_genenc enc;
	struct ctr_schema schema;   /* the built-in one: how the drain skips events */
	uint32_t seq;               /* its number in the stream */
	uint64_t events;            /* in it so far */
	uint64_t min_ticks, max_ticks; /* the times they span */
	uint32_t threads;           /* threads with events in it */
	uint64_t capture_start;     /* events and switches before it are dropped */
};
extern struct ctr_open_gen ctr_gen;

/* Every slot's ring into the open generation (@keep 0: dropped, a capture's start). */
void ctr_drain_all(int keep);
/* Per thread, allocation counters that changed; at the capture's end (@last) also the
 * events a thread lost and could not say so yet. */
void ctr_drain_alloc_stats(uint64_t ticks, int last);
/* The kernel's totals of every live thread, at the capture's end. */
void ctr_drain_schedstat_all(uint64_t ticks);
/* The threads @tids, as existing threads at @ticks; or those alive now. */
void ctr_drain_snapshot(const uint32_t *tids, const char (*names)[16], size_t n,
			uint64_t ticks);
void ctr_drain_snapshot_now(void);
/* A batch the writer encoded itself spans [@first, @last]. */
void ctr_drain_note_ticks(uint64_t first, uint64_t last);
/* Events no thread could record, and switches dropped, since the process began. */
uint64_t ctr_drain_lost(void);

#endif
