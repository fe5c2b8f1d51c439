/*
 * ctrace import, the part that knows no babeltrace2: events of an LTTng trace, already
 * decoded into names and field values, become a ctrace trace. bt.c feeds it from the CTF
 * reader; tests feed it directly.
 *
 * Events arrive in time order (the muxer's). Each process gets its own stream of
 * generations, cut every IMP_GEN_EVENTS events or IMP_GEN_NS of trace time, so memory
 * stays bounded whatever the size of the trace.
 */
#ifndef CTR_IMP_H
#define CTR_IMP_H

#include <stddef.h>
#include <stdint.h>

#define IMP_GEN_EVENTS 200000
#define IMP_GEN_NS 1000000000ull
#define IMP_MAX_FIELDS 16

enum imp_kind { IMP_UINT, IMP_SINT, IMP_TEXT, IMP_ARRAY };

struct imp_field {
	const char *name;
	enum imp_kind kind;
	uint64_t u;            /* IMP_UINT, IMP_SINT (two's complement) */
	const char *text;      /* IMP_TEXT: not NUL-terminated */
	size_t len;            /* IMP_TEXT bytes, IMP_ARRAY elements */
	const uint64_t *array; /* IMP_ARRAY of integers */
};

/* One event record: its name, its time, the process and thread from LTTng's vpid/vtid
 * contexts (0 when the session did not add them) and its payload fields in order. */
struct imp_event {
	const char *name;
	uint64_t mono_ns;  /* the clock's value: CLOCK_MONOTONIC ns for LTTng-UST */
	int64_t real_ns;   /* ns from the clock's origin (the Unix epoch for LTTng) */
	uint32_t vpid, vtid;
	unsigned nfields;
	struct imp_field f[IMP_MAX_FIELDS];
};

struct imp;

/* An importer writing to @fd (the file header is written at once).
 * @return NULL on allocation or write failure. */
struct imp *imp_new(int fd);

/* Map one event. @return 0, or -1 when writing the trace failed. */
int imp_event(struct imp *im, const struct imp_event *ev);

/* LTTng discarded @count events of the stream whose last event was at @mono_ns (CTF packet
 * counters): a lost record on the thread that recorded last into that stream, or on the
 * trace's first thread when unknown (@vpid, @vtid 0). @return 0 or -1. */
int imp_discarded(struct imp *im, uint32_t vpid, uint32_t vtid, uint64_t mono_ns,
		  uint64_t count);

struct imp_stats {
	uint64_t events_in, events_out, lost, generations, processes, threads;
	uint64_t unattributed; /* events of other providers without a vtid context */
	/* Events of other providers not mapped, by name (up to 16 names). */
	unsigned nunknown;
	struct {
		char name[64];
		uint64_t count;
	} unknown[16];
	uint64_t unknown_other; /* unmapped events past those 16 names */
};

/* Write every pending generation, as the last of each process's stream.
 * @return 0 or -1 when writing failed. */
int imp_finish(struct imp *im, struct imp_stats *st);
void imp_free(struct imp *im);

#endif
