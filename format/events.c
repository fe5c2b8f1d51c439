#include <string.h>

#include "events.h"
#include "varint.h"

const uint8_t ctr_file_signature[8] = { 'C', 'T', 'R', 'A', 'C', 'E', 0x1a, 0x0a };

/* Which arguments (after the time) are svarints, per type. */
#define CTR_SIGNED_(type) \
	((type) == CTRACE_EV_BLOCK_END ? 1u : \
	 (type) == CTRACE_EV_CALL_END ? 1u : \
	 (type) == CTRACE_EV_CALL_BEGIN ? 2u : 0u)

const struct ctr_event_desc ctr_events[CTRACE_EV_COUNT_] = {
#define CTR_EV_DESC_(id, name, nargs, blob, args) \
	[CTRACE_EV_##id] = { name, nargs, blob, CTR_SIGNED_(CTRACE_EV_##id), args },
	CTR_EVENT_TABLE(CTR_EV_DESC_)
#undef CTR_EV_DESC_
};

const struct ctr_call_desc ctr_calls[CTR_CALL_COUNT_] = {
#define CTR_CALL_DESC_(id, name, reason) [CTR_CALL_##id] = { name, CTRACE_REASON_##reason },
	CTR_CALL_TABLE(CTR_CALL_DESC_)
#undef CTR_CALL_DESC_
};

/*
 * The position of the argument named "stack" in @names (comma-separated, after the time),
 * counted with the time delta as 0: 0 when there is none. The event table's names are the
 * one place that says which argument is a stack id.
 */
static unsigned stack_position(const char *names)
{
	unsigned pos = 1;
	for (const char *p = names; *p; pos++) {
		size_t n = strcspn(p, ",");
		if (n == 5 && memcmp(p, "stack", 5) == 0)
			return pos;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

void ctr_schema_set(struct ctr_schema *s, unsigned type, unsigned nargs, int has_blob)
{
	uint32_t smask = type < CTRACE_EV_COUNT_ ? ctr_events[type].signed_mask : 0;
	unsigned stack = type < CTRACE_EV_COUNT_ && ctr_events[type].name ?
				 stack_position(ctr_events[type].arg_names) : 0;
	s->known[type] = 1;
	s->nargs[type] = (uint8_t)nargs;
	s->has_blob[type] = has_blob != 0;
	s->stack_arg[type] = (uint8_t)(stack <= nargs ? stack : 0);
	s->desc[type] = CTR_DESC_KNOWN | smask << 16 | (uint32_t)(has_blob != 0) << 8 | (nargs & 0xff);
}

void ctr_schema_builtin(struct ctr_schema *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned t = 1; t < CTRACE_EV_COUNT_; t++)
		if (ctr_events[t].name)
			ctr_schema_set(s, t, ctr_events[t].nargs, ctr_events[t].has_blob);
}

size_t ctr_event_scan(const struct ctr_schema *schema, const uint8_t *p, const uint8_t *end,
		      struct ctr_raw_event *ev)
{
	const uint8_t *start = p;

	if (p >= end)
		return 0;
	uint8_t type = *p++;
	if (!schema->known[type])
		return 0;
	ev->type = type;
	unsigned total = 1u + schema->nargs[type];
	unsigned kept = 0;
	for (unsigned i = 0; i < total; i++) {
		uint64_t v;
		if (ctr_get_varint(&p, end, &v) < 0)
			return 0;
		if (kept < 1 + CTRACE_EVENT_MAX_ARGS)
			ev->args[kept++] = v;
	}
	ev->nargs = (uint8_t)kept;
	ev->blob = NULL;
	ev->blob_len = 0;
	if (schema->has_blob[type]) {
		uint64_t len;
		if (ctr_get_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
			return 0;
		ev->blob = p;
		ev->blob_len = len;
		p += len;
	}
	return (size_t)(p - start);
}

size_t ctr_event_encode(uint8_t *dst, uint8_t type, uint64_t delta, const uint64_t *args,
			unsigned nargs, const void *blob, size_t blob_len)
{
	uint8_t *p = dst;

	*p++ = type;
	p = ctr_put_varint(p, delta);
	for (unsigned i = 0; i < nargs; i++)
		p = ctr_put_varint(p, args[i]);
	if (type < CTRACE_EV_COUNT_ && ctr_events[type].has_blob) {
		p = ctr_put_varint(p, blob_len);
		if (blob_len)
			memcpy(p, blob, blob_len);
		p += blob_len;
	}
	return (size_t)(p - dst);
}

/* The 8 bytes at @p as a little-endian word. */
static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/*
 * Past @n varints at [p, end), or NULL when one runs past @end or is one ctr_get_varint
 * refuses. Eight bytes at a time the terminating bytes (high bit clear) are counted: a
 * varint that ends inside the word it starts in is at most 8 bytes long, so it is one
 * ctr_get_varint takes, and only a run of 8 continuation bytes or the last bytes before
 * @end need the byte-wise check.
 */
static inline const uint8_t *varints_skip(const uint8_t *p, const uint8_t *end, unsigned n)
{
	while (n && end - p >= 8) {
		uint64_t m = ~load_le64(p) & 0x8080808080808080ull;
		if (!m)
			break;
		const uint8_t *next = p + (63 - __builtin_clzll(m)) / 8 + 1;
		do {
			if (--n == 0)
				return p + __builtin_ctzll(m) / 8 + 1;
			m &= m - 1;
		} while (m);
		p = next;
	}
	for (; n; n--) {
		uint64_t v;
		if (ctr_get_varint(&p, end, &v) < 0)
			return NULL;
	}
	return p;
}

size_t ctr_event_skip(const struct ctr_schema *schema, const uint8_t *p, const uint8_t *end,
		      uint64_t *delta, uint64_t *stack)
{
	const uint8_t *start = p;
	if (p >= end)
		return 0;
	uint8_t type = *p++;
	if (!schema->known[type])
		return 0;
	uint64_t d;
	if (p < end && p[0] < 0x80) { /* the one- and two-byte deltas of a busy ring */
		d = p[0];
		p++;
	} else if (end - p >= 2 && p[1] < 0x80) {
		d = (p[0] & 0x7fu) | (uint64_t)p[1] << 7;
		p += 2;
	} else if (ctr_get_varint(&p, end, &d) < 0) {
		return 0;
	}
	unsigned nargs = schema->nargs[type], at = schema->stack_arg[type];
	uint64_t st = 0;
	if (at) {
		if (!(p = varints_skip(p, end, at - 1)) || ctr_get_varint(&p, end, &st) < 0)
			return 0;
		nargs -= at;
	}
	if (!(p = varints_skip(p, end, nargs)))
		return 0;
	if (schema->has_blob[type]) {
		uint64_t len;
		if (ctr_get_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
			return 0;
		p += len;
	}
	*delta = d;
	*stack = st;
	return (size_t)(p - start);
}
