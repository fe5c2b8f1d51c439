/*
 * libFuzzer target: any bytes as a trace, through everything that reads one: the reader
 * (headers, generations, events in time order and batched, every table), the model, the
 * pprof profiles and the Chrome export. Nothing may crash, hang or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <ctrace/trace.h>

static int discard(void *ud, const void *data, size_t len)
{
	(void)ud;
	(void)data;
	(void)len;
	return 0;
}

static void walk_events(ctrace_gen *g, int batched)
{
	const struct ctrace_event *ev;
	int n;
	while ((n = batched ? ctrace_gen_next_event_batched(g, &ev)
			    : ctrace_gen_next_event(g, &ev)) == 1) {
		const uint32_t *frames;
		for (unsigned i = 0; i < ev->nargs && i < CTRACE_EVENT_MAX_ARGS; i++) {
			int depth = ctrace_gen_stack(g, ev->args[i], &frames);
			for (int k = 0; k < depth; k++)
				(void)ctrace_gen_frame(g, frames[k]);
			(void)ctrace_gen_call(g, ev->args[i]);
			(void)ctrace_gen_string(g, ev->args[i]);
		}
	}
	ctrace_gen_rewind(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ctrace_reader *r;
	ctrace_gen *g;
	if (ctrace_reader_open_memory(data, size, &r) == 0) {
		while (ctrace_reader_next(r, &g) == 1) {
			const char *k, *v;
			for (size_t i = 0; ctrace_gen_info_at(g, i, &k, &v); i++)
				;
			walk_events(g, 0);
			walk_events(g, 1);
		}
	}
	ctrace_reader_free(r);

	if (ctrace_reader_open_memory(data, size, &r) == 0) {
		ctrace_model *m = NULL;
		if (ctrace_model_build(r, NULL, &m) == 0) {
			for (int kind = 0; kind <= CTRACE_PROFILE_CPU; kind++) {
				uint8_t *buf;
				size_t len;
				if (ctrace_model_pprof(m, (enum ctrace_profile_kind)kind, &buf, &len) == 0)
					free(buf);
			}
			struct ctrace_latency l;
			for (size_t i = 0; i < ctrace_model_thread_count(m); i++)
				(void)ctrace_model_latency(m, i, CTRACE_REASON_SYNC, &l);
			ctrace_model_free(m);
		}
	}
	ctrace_reader_free(r);

	if (ctrace_reader_open_memory(data, size, &r) == 0)
		(void)ctrace_export_chrome(r, discard, NULL, NULL, NULL);
	ctrace_reader_free(r);
	return 0;
}
