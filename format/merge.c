/*
 * Merging streams: generations are copied byte for byte, ordered by their first event
 * time. Only the uncompressed headers are read; nothing is decompressed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "encode.h"

struct gen_ref {
	size_t input;
	uint64_t offset;
	int64_t first_ns;
	uint32_t seq;
};

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return CTRACE_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct gen_ref *x = a, *y = b;
	if (x->first_ns != y->first_ns)
		return x->first_ns < y->first_ns ? -1 : 1;
	if (x->input != y->input)
		return x->input < y->input ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void warnf(ctrace_warn_fn warn, void *ud, const char *msg)
{
	if (warn)
		warn(ud, msg);
}

CTRACE_API int ctrace_merge(const char *const *paths, size_t npaths, int out_fd,
			    ctrace_warn_fn warn, void *userdata, struct ctrace_merge_stats *stats)
{
	ctrace_reader **readers = calloc(npaths ? npaths : 1, sizeof(*readers));
	struct gen_ref *refs = NULL;
	size_t nrefs = 0, cap = 0;
	uint32_t *pids = NULL;
	size_t npids = 0;
	int err = 0;
	struct ctrace_merge_stats st = { 0 };

	if (!readers)
		return CTRACE_ENOMEM;
	for (size_t i = 0; i < npaths; i++) {
		err = ctrace_reader_open(paths[i], &readers[i]);
		if (err) {
			if (err == CTRACE_ETRUNCATED) {
				/* Died before its first generation: nothing to take. */
				warnf(warn, userdata, ctrace_reader_errmsg(readers[i]));
				st.damaged_inputs++;
				ctrace_reader_free(readers[i]);
				readers[i] = NULL;
				err = 0;
				continue;
			}
			warnf(warn, userdata, ctrace_reader_errmsg(readers[i]));
			goto out;
		}
		const struct ctrace_gen_info *gi;
		int n;
		while ((n = ctrace_reader_next_info(readers[i], &gi)) == 1) {
			if (nrefs == cap) {
				cap = cap ? cap * 2 : 64;
				struct gen_ref *nr = realloc(refs, cap * sizeof(*nr));
				if (!nr) {
					err = CTRACE_ENOMEM;
					goto out;
				}
				refs = nr;
			}
			refs[nrefs++] = (struct gen_ref){ i, gi->offset, gi->first_ns, gi->seq };
			st.events += gi->events;
			size_t k;
			for (k = 0; k < npids && pids[k] != gi->pid; k++)
				;
			if (k == npids) {
				uint32_t *np = realloc(pids, (npids + 1) * sizeof(*np));
				if (!np) {
					err = CTRACE_ENOMEM;
					goto out;
				}
				pids = np;
				pids[npids++] = gi->pid;
			}
		}
		if (n < 0) {
			warnf(warn, userdata, ctrace_reader_errmsg(readers[i]));
			st.damaged_inputs++;
		}
	}
	if (nrefs > 1)
		qsort(refs, nrefs, sizeof(*refs), cmp_ref);

	uint8_t hdr[CTR_FILE_HEADER_SIZE];
	ctr_file_header(hdr);
	err = write_all(out_fd, hdr, sizeof(hdr));
	if (err)
		goto out;
	st.bytes = sizeof(hdr);
	for (size_t k = 0; k < nrefs; k++) {
		ctrace_reader *r = readers[refs[k].input];
		const struct ctrace_gen_info *gi;
		const void *data;
		size_t len;
		if ((err = ctrace_reader_seek(r, refs[k].offset)) < 0 ||
		    ctrace_reader_next_info(r, &gi) != 1 ||
		    (err = ctrace_reader_raw(r, &data, &len)) < 0) {
			warnf(warn, userdata, ctrace_reader_errmsg(r));
			err = err ? err : CTRACE_EIO;
			goto out;
		}
		err = write_all(out_fd, data, len);
		if (err)
			goto out;
		st.bytes += len;
		st.generations++;
	}
	st.processes = (uint32_t)npids;
out:
	for (size_t i = 0; i < npaths; i++)
		ctrace_reader_free(readers[i]);
	free(readers);
	free(refs);
	free(pids);
	if (stats)
		*stats = st;
	return err;
}
