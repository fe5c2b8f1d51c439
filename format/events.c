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

void ctr_schema_set(struct ctr_schema *s, unsigned type, unsigned nargs, int has_blob)
{
	uint32_t smask = type < CTRACE_EV_COUNT_ ? ctr_events[type].signed_mask : 0;
	s->known[type] = 1;
	s->nargs[type] = (uint8_t)nargs;
	s->has_blob[type] = has_blob != 0;
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

size_t ctr_event_skip(const struct ctr_schema *schema, const uint8_t *p, const uint8_t *end,
		      uint64_t *ticks)
{
	const uint8_t *start = p;
	if (p >= end)
		return 0;
	uint8_t type = *p++;
	if (!schema->known[type])
		return 0;
	/* The time delta is needed (the clock runs on); the other arguments only counted. */
	uint64_t delta;
	if (ctr_get_varint(&p, end, &delta) < 0)
		return 0;
	*ticks += delta;
	unsigned left = schema->nargs[type];
	while (left) {
		if (p >= end)
			return 0;
		const uint8_t *q = p;
		while (q < end && (*q & 0x80) && q - p < CTR_VARINT_MAX)
			q++;
		if (q >= end || (*q & 0x80))
			return 0;
		p = q + 1;
		left--;
	}
	if (schema->has_blob[type]) {
		uint64_t len;
		if (ctr_get_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
			return 0;
		p += len;
	}
	return (size_t)(p - start);
}
