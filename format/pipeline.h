/* Generations loaded ahead on threads of their own (pipeline.c). Format-internal. */
#ifndef CTR_PIPELINE_H
#define CTR_PIPELINE_H

#include <ctrace/trace.h>

struct ctr_pipeline;

/* Start @loaders threads reading @r's trace from where @r is. @return 0 or an error. */
int ctr_pipeline_start(ctrace_reader *r, unsigned loaders, struct ctr_pipeline **out);
/*
 * The next generation in trace order, valid until the next call: 1 with *g, 0 at the end,
 * or the error a single reader would have met there (its message then in @r's errmsg).
 */
int ctr_pipeline_next(struct ctr_pipeline *pl, ctrace_gen **g);
/* Stop the loaders and free everything. Accepts NULL. */
void ctr_pipeline_free(struct ctr_pipeline *pl);

#endif
