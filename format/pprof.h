/*
 * pprof profile builder: collects stacks with values and writes them as a gzip-compressed
 * profile.proto (perftools.profiles.Profile), the format `go tool pprof`, Pyroscope and
 * Grafana read. Internal to ctrace; the exporters in format/ use it.
 *
 * Strings, mappings, functions and locations are interned as they are added and samples with
 * the same stack and labels are merged, so memory grows with the distinct stacks and frames,
 * not with the number of samples added.
 */
#ifndef CTR_PPROF_H
#define CTR_PPROF_H

#include <stddef.h>
#include <stdint.h>

struct ctr_pprof;

/* One stack frame. The strings are copied; they need only live until ctr_pprof_add returns. */
struct ctr_pprof_frame {
	const char *function; /* NULL: the frame is named "0x<address>" */
	const char *file;     /* NULL: unknown */
	uint32_t line;        /* 0: unknown */
	uint64_t address;     /* program counter; 0 for synthetic frames */
	const char *mapping;  /* object path; NULL with no build id and map_end 0: no mapping */
	const uint8_t *build_id; /* raw bytes, written as lower-case hex; may be NULL */
	size_t build_id_len;
	uint64_t map_start, map_end, map_offset;
};

/*
 * Create a builder. @types holds @ntypes pairs (type, unit), one per value of each sample,
 * e.g. {"contentions", "count", "delay", "nanoseconds"} with @ntypes 2. @period_type and
 * @period_unit (both NULL for none) and @period fill profile.proto's period fields. The
 * strings are copied.
 * @return a builder the caller frees with ctr_pprof_free, or NULL when out of memory or
 * @types is NULL with @ntypes > 0.
 */
struct ctr_pprof *ctr_pprof_new(const char *const *types, size_t ntypes, const char *period_type,
				const char *period_unit, int64_t period);

/* Free a builder and everything it holds. Accepts NULL. */
void ctr_pprof_free(struct ctr_pprof *p);

/*
 * Add a sample: @depth frames, innermost first, and one value per sample type. @labels holds
 * @nlabels pairs (key, value), e.g. {"thread", "worker-1"}; NULL with @nlabels 0 for none.
 * A sample whose stack and labels (in the order given) equal an earlier one's is merged into
 * it by adding the values. A sample with @depth 0 gets the one synthetic frame "[no stack]".
 * @return 0, CTRACE_EINVAL for a NULL array or string where one is needed, CTRACE_ETOOBIG past
 * 2^32 - 2 distinct strings, frames or stacks, or CTRACE_ENOMEM. On error the sample is not
 * added and the builder stays usable.
 */
int ctr_pprof_add(struct ctr_pprof *p, const struct ctr_pprof_frame *frames, size_t depth,
		  const int64_t *values, const char *const *labels, size_t nlabels);

/* Set when the profile starts (nanoseconds since the Unix epoch) and how long it covers. */
void ctr_pprof_set_time(struct ctr_pprof *p, int64_t time_nanos, int64_t duration_nanos);

/* Name the sample type viewers show by default (profile.proto's default_sample_type), e.g.
 * "alloc_space"; by default they show the last. @return 0 or CTRACE_ENOMEM. */
int ctr_pprof_set_default_type(struct ctr_pprof *p, const char *type);

/* Add a line of free text; `go tool pprof -comments` shows it. Out of memory is reported by
 * ctr_pprof_write. */
void ctr_pprof_add_comment(struct ctr_pprof *p, const char *comment);

/*
 * Serialize the profile and gzip it. The builder is unchanged and may be written again.
 * @return 0 and a malloc'd buffer in *@out of *@len bytes that the caller frees;
 * CTRACE_ENOMEM (also when an earlier ctr_pprof_add_comment ran out of memory) or
 * CTRACE_EZSTD when zlib fails otherwise.
 */
int ctr_pprof_write(struct ctr_pprof *p, uint8_t **out, size_t *len);

#endif
