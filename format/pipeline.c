/*
 * Loading generations ahead of their consumer. Each of N loader threads reads the trace
 * with a reader of its own and decompresses and parses every N-th generation (loader i
 * takes generations i, i + N, ...); the consumer takes them back in trace order, so what
 * it computes does not change. A loader holds one generation at a time: it loads the next
 * only once the consumer has moved past the one it handed over, which bounds the memory
 * to N decoded generations.
 *
 * An error ends the sequence where a single reader would have stopped: the consumer gets
 * it, with its message, when it asks for the generation it concerns.
 */
#include <pthread.h>
#include <stdlib.h>

#include "pipeline.h"
#include "reader_impl.h"

enum { SLOT_EMPTY, SLOT_READY };

struct loader {
	struct ctr_pipeline *pl;
	unsigned index;
	struct ctrace_reader *r;
	pthread_t thread;
	int started;
	/* under pl->lock */
	int state;  /* SLOT_* */
	int result; /* 1 a generation, 0 the end, < 0 an error (message in r) */
	struct ctrace_gen *gen;
};

struct ctr_pipeline {
	struct ctrace_reader *main;
	unsigned n;
	uint64_t next;       /* the generation the consumer takes next */
	struct loader *held; /* the loader whose generation the consumer has */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	struct loader l[];
};

/* Hand @result over once the consumer has taken the previous one. @return 0, or -1 to stop. */
static int publish(struct loader *l, int result, struct ctrace_gen *g)
{
	struct ctr_pipeline *pl = l->pl;
	pthread_mutex_lock(&pl->lock);
	while (l->state == SLOT_READY && !pl->stop)
		pthread_cond_wait(&pl->cond, &pl->lock);
	int stop = pl->stop;
	if (!stop) {
		l->state = SLOT_READY;
		l->result = result;
		l->gen = g;
		pthread_cond_broadcast(&pl->cond);
	}
	pthread_mutex_unlock(&pl->lock);
	return stop ? -1 : 0;
}

/* Wait until the consumer no longer needs what this loader handed over. */
static int wait_empty(struct loader *l)
{
	struct ctr_pipeline *pl = l->pl;
	pthread_mutex_lock(&pl->lock);
	while (l->state == SLOT_READY && !pl->stop)
		pthread_cond_wait(&pl->cond, &pl->lock);
	int stop = pl->stop;
	pthread_mutex_unlock(&pl->lock);
	return stop ? -1 : 0;
}

static void *loader_main(void *arg)
{
	struct loader *l = arg;
	uint64_t k = 0;
	for (;;) {
		const struct ctrace_gen_info *info;
		int n = ctrace_reader_next_info(l->r, &info);
		if (n <= 0) {
			publish(l, n, NULL);
			return NULL;
		}
		if (k++ % l->pl->n != l->index)
			continue; /* another loader's: the next call steps over its frame */
		if (wait_empty(l) < 0)
			return NULL;
		struct ctrace_gen *g;
		int err = ctrace_reader_load(l->r, &g);
		if (publish(l, err < 0 ? err : 1, g) < 0 || err < 0)
			return NULL;
	}
}

int ctr_pipeline_start(struct ctrace_reader *r, unsigned loaders, struct ctr_pipeline **out)
{
	*out = NULL;
	if (loaders == 0)
		return CTRACE_EINVAL;
	struct ctr_pipeline *pl = calloc(1, sizeof(*pl) + loaders * sizeof(pl->l[0]));
	if (!pl)
		return CTRACE_ENOMEM;
	pl->main = r;
	pl->n = loaders;
	pthread_mutex_init(&pl->lock, NULL);
	pthread_cond_init(&pl->cond, NULL);
	int err = 0;
	for (unsigned i = 0; i < loaders && !err; i++) {
		struct loader *l = &pl->l[i];
		l->pl = pl;
		l->index = i;
		err = ctr_reader_clone(r, &l->r);
		if (!err && pthread_create(&l->thread, NULL, loader_main, l) != 0)
			err = CTRACE_ENOMEM;
		l->started = !err;
	}
	if (err) {
		ctr_pipeline_free(pl);
		return err;
	}
	*out = pl;
	return 0;
}

int ctr_pipeline_next(struct ctr_pipeline *pl, struct ctrace_gen **g)
{
	pthread_mutex_lock(&pl->lock);
	if (pl->held) { /* done with the previous generation: its loader may go on */
		pl->held->state = SLOT_EMPTY;
		pl->held = NULL;
		pthread_cond_broadcast(&pl->cond);
	}
	struct loader *l = &pl->l[pl->next % pl->n];
	while (l->state != SLOT_READY)
		pthread_cond_wait(&pl->cond, &pl->lock);
	int result = l->result;
	if (result == 1) {
		*g = l->gen;
		pl->held = l;
		pl->next++;
	}
	pthread_mutex_unlock(&pl->lock);
	if (result < 0)
		return ctr_reader_take_error(pl->main, l->r, result);
	return result;
}

void ctr_pipeline_free(struct ctr_pipeline *pl)
{
	if (!pl)
		return;
	pthread_mutex_lock(&pl->lock);
	pl->stop = 1;
	pthread_cond_broadcast(&pl->cond);
	pthread_mutex_unlock(&pl->lock);
	for (unsigned i = 0; i < pl->n; i++) {
		if (pl->l[i].started)
			pthread_join(pl->l[i].thread, NULL);
		ctrace_reader_free(pl->l[i].r);
	}
	pthread_cond_destroy(&pl->cond);
	pthread_mutex_destroy(&pl->lock);
	free(pl);
}
