/*
 * libFuzzer target: ctrace import's event mapping (tools/import/imp.c) on whatever a CTF
 * trace could hand it. The input is read as a sequence of events: each takes its name from
 * a table (every ctrace:* kind, the lttng_ust_libc and lttng_ust_pthread events import
 * maps, and names it does not know), a time (mostly increasing, sometimes not), vpid and
 * vtid, and up to IMP_MAX_FIELDS fields whose names, kinds and values come from the input;
 * a byte may also say "discarded events". The property: whatever goes in, what the
 * importer writes is a trace the reader reads to its end without an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "../../tools/import/imp.h"

static const char *const names[] = {
	"ctrace:thread_start", "ctrace:thread_end", "ctrace:thread_create", "ctrace:thread_name",
	"ctrace:block_begin", "ctrace:block_end", "ctrace:call_begin", "ctrace:call_end",
	"ctrace:wake", "ctrace:switch_out", "ctrace:switch_in", "ctrace:schedstat",
	"ctrace:alloc", "ctrace:free", "ctrace:alloc_stats", "ctrace:task_begin",
	"ctrace:task_end", "ctrace:region_begin", "ctrace:region_end", "ctrace:log",
	"ctrace:lost", "ctrace:cpu_sample", "ctrace:state", "ctrace:exec", "ctrace:stack",
	"ctrace:nosuch", "lttng_ust_libc:malloc", "lttng_ust_libc:calloc",
	"lttng_ust_libc:realloc", "lttng_ust_libc:memalign", "lttng_ust_libc:posix_memalign",
	"lttng_ust_libc:free", "lttng_ust_pthread:pthread_mutex_lock_req",
	"lttng_ust_pthread:pthread_mutex_lock_acq", "lttng_ust_pthread:pthread_mutex_unlock",
	"lttng_ust_statedump:bin_info", "other:event",
};
static const char *const fields[] = {
	"pid", "tid", "tick", "_name_length", "id", "pcs", "size", "nmemb", "ptr", "out_ptr",
	"in_ptr", "alignment", "mutex", "status", "a0", "a1", "a2", "a3", "a4", "a5", "a6",
	"a7", "name", "text",
};

struct in {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_import: %s: %s\n", what, detail);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_import", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	struct imp *im = imp_new(fd);
	if (!im) {
		close(fd);
		return 0;
	}
	struct in in = { data, size };
	uint64_t t = 1000000;
	uint64_t arrays[IMP_MAX_FIELDS][8];
	int ok = 1;
	while (in.left && ok) {
		unsigned op = (unsigned)take(&in, 1);
		if (op == 0xff) { /* discarded events of a stream */
			uint32_t pid = (uint32_t)take(&in, 1), tid = (uint32_t)take(&in, 1);
			ok = imp_discarded(im, pid, tid, t, take(&in, 2)) == 0;
			continue;
		}
		struct imp_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.name = names[op % (sizeof(names) / sizeof(names[0]))];
		unsigned dt = (unsigned)take(&in, 2);
		t = (op & 0x80) && dt > 0x8000 ? t - (dt & 0x7fff) : t + dt; /* now and then back */
		ev.mono_ns = t;
		ev.real_ns = (int64_t)t + 1700000000000000000;
		ev.vpid = (uint32_t)take(&in, 1);
		ev.vtid = (uint32_t)take(&in, 1);
		unsigned nf = (unsigned)take(&in, 1) % (IMP_MAX_FIELDS + 1);
		for (unsigned i = 0; i < nf && in.left; i++) {
			struct imp_field *f = &ev.f[ev.nfields++];
			unsigned k = (unsigned)take(&in, 1);
			f->name = fields[k % (sizeof(fields) / sizeof(fields[0]))];
			switch ((k >> 5) & 3) {
			case 0:
				f->kind = IMP_UINT;
				f->u = take(&in, (unsigned)take(&in, 1) % 9);
				break;
			case 1:
				f->kind = IMP_SINT;
				f->u = take(&in, 8);
				break;
			case 2: { /* text straight from the input, not NUL-terminated */
				size_t len = (size_t)take(&in, 1);
				if (len > in.left)
					len = in.left;
				f->kind = IMP_TEXT;
				f->text = (const char *)in.p;
				f->len = len;
				in.p += len;
				in.left -= len;
				break;
			}
			default: {
				size_t len = (size_t)take(&in, 1) % 9;
				for (size_t j = 0; j < len; j++)
					arrays[i][j] = take(&in, 8);
				f->kind = IMP_ARRAY;
				f->array = arrays[i];
				f->len = len;
				break;
			}
			}
		}
		ok = imp_event(im, &ev) == 0;
	}
	struct imp_stats st;
	if (ok && imp_finish(im, &st) != 0)
		ok = 0;
	imp_free(im);
	if (!ok) { /* writing to memory failed: nothing to check */
		close(fd);
		return 0;
	}

	off_t len = lseek(fd, 0, SEEK_END);
	void *map = len > 0 ? mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (map == MAP_FAILED)
		fail("the importer wrote nothing", "no file header");
	ctrace_reader *r;
	int err = ctrace_reader_open_memory(map, (size_t)len, &r);
	if (err)
		fail("the import does not open", r ? ctrace_reader_errmsg(r) : ctrace_strerror(err));
	ctrace_gen *g;
	const struct ctrace_event *e;
	while ((err = ctrace_reader_next(r, &g)) == 1) {
		while ((err = ctrace_gen_next_event(g, &e)) == 1)
			;
		if (err < 0)
			break;
	}
	if (err < 0)
		fail("the import does not read back", ctrace_reader_errmsg(r));
	ctrace_reader_free(r);
	munmap(map, (size_t)len);
	return 0;
}
