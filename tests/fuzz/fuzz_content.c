/*
 * libFuzzer target: any bytes as a generation's decompressed content. The input is
 * wrapped in a valid file header, generation header and zstd frame, so the fuzzer works
 * on the records and events themselves (a mutated zstd frame rarely gets past its
 * checksum), then read, modelled and exported as fuzz_trace does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include <ctrace/trace.h>

#include "encode.h"
#include "varint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int discard(void *ud, const void *p, size_t n)
{
	(void)ud;
	(void)p;
	(void)n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t bound = ZSTD_compressBound(size);
	uint8_t *file = malloc(CTR_FILE_HEADER_SIZE + CTR_GEN_HEADER_SIZE + bound);
	if (!file)
		return 0;
	ctr_file_header(file);
	uint8_t *h = file + CTR_FILE_HEADER_SIZE;
	size_t c = ZSTD_compress(h + CTR_GEN_HEADER_SIZE, bound, data, size, 1);
	if (ZSTD_isError(c)) {
		free(file);
		return 0;
	}
	memset(h, 0, CTR_GEN_HEADER_SIZE);
	ctr_put_u32le(h, CTR_GEN_MAGIC);
	ctr_put_u32le(h + 4, CTR_GEN_HEADER_SIZE - 8);
	ctr_put_u64le(h + 8, c);
	ctr_put_u64le(h + 16, size);
	ctr_put_u64le(h + 24, 1000);
	ctr_put_u64le(h + 32, 2000);
	ctr_put_u32le(h + 48, 42);
	size_t total = CTR_FILE_HEADER_SIZE + CTR_GEN_HEADER_SIZE + c;

	ctrace_reader *r;
	ctrace_gen *g;
	const struct ctrace_event *ev;
	if (ctrace_reader_open_memory(file, total, &r) == 0 && ctrace_reader_next(r, &g) == 1) {
		while (ctrace_gen_next_event(g, &ev) == 1) {
			const uint32_t *frames;
			for (unsigned i = 0; i < ev->nargs && i < CTRACE_EVENT_MAX_ARGS; i++) {
				int d = ctrace_gen_stack(g, ev->args[i], &frames);
				for (int k = 0; k < d; k++)
					(void)ctrace_gen_frame(g, frames[k]);
			}
		}
		ctrace_gen_rewind(g);
		while (ctrace_gen_next_event_batched(g, &ev) == 1)
			;
	}
	ctrace_reader_free(r);
	if (ctrace_reader_open_memory(file, total, &r) == 0) {
		ctrace_model *m = NULL;
		if (ctrace_model_build(r, NULL, &m) == 0) {
			uint8_t *buf;
			size_t len;
			for (int k = 0; k <= CTRACE_PROFILE_CPU; k++)
				if (ctrace_model_pprof(m, (enum ctrace_profile_kind)k, &buf, &len) == 0)
					free(buf);
			ctrace_model_free(m);
		}
	}
	ctrace_reader_free(r);
	if (ctrace_reader_open_memory(file, total, &r) == 0)
		(void)ctrace_export_chrome(r, discard, NULL, NULL, NULL);
	ctrace_reader_free(r);
	free(file);
	return 0;
}
