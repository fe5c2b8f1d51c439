/* Write the decompressed content of each generation of a trace as seeds for fuzz_content. */
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>

#include <ctrace/trace.h>

#include "events.h"

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	ctrace_reader *r;
	const struct ctrace_gen_info *gi;
	int n = 0;
	if (ctrace_reader_open(argv[1], &r) != 0)
		return 1;
	while (ctrace_reader_next_info(r, &gi) == 1) {
		const void *raw;
		size_t len;
		if (ctrace_reader_raw(r, &raw, &len) != 0)
			break;
		const char *frame = (const char *)raw + CTR_GEN_HEADER_SIZE;
		size_t usize = (size_t)gi->content_size;
		void *out = malloc(usize + 1);
		size_t got = ZSTD_decompress(out, usize, frame, len - CTR_GEN_HEADER_SIZE);
		if (!ZSTD_isError(got)) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/seed-%d", argv[2], n++);
			FILE *f = fopen(path, "wb");
			if (f) {
				fwrite(out, 1, got, f);
				fclose(f);
			}
		}
		free(out);
	}
	ctrace_reader_free(r);
	return 0;
}
