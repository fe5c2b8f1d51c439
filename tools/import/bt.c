/*
 * ctrace import, the babeltrace2 side: a graph of source.ctf.fs (the LTTng trace), a
 * filter.utils.muxer (every stream in one time order) and a simple sink of ours that
 * turns each event message into a struct imp_event for imp.c, and each discarded-events
 * message into lost records.
 */
#include <babeltrace2/babeltrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt.h"
#include "imp.h"

struct sink_state {
	struct imp *im;
	bt_message_iterator *it;
	int failed;
	uint64_t arrays[IMP_MAX_FIELDS][1024]; /* integer arrays of the current event */
};

static uint64_t int_value(const bt_field *f, enum imp_kind *kind)
{
	bt_field_class_type t = bt_field_get_class_type(f);
	if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER)) {
		*kind = IMP_SINT;
		return (uint64_t)bt_field_integer_signed_get_value(f);
	}
	*kind = IMP_UINT;
	return bt_field_integer_unsigned_get_value(f);
}

static uint32_t ctx_u32(const bt_field *ctx, const char *name)
{
	if (!ctx || bt_field_get_class_type(ctx) != BT_FIELD_CLASS_TYPE_STRUCTURE)
		return 0;
	const bt_field *f = bt_field_structure_borrow_member_field_by_name_const(ctx, name);
	if (!f || !bt_field_class_type_is(bt_field_get_class_type(f), BT_FIELD_CLASS_TYPE_INTEGER))
		return 0;
	enum imp_kind k;
	return (uint32_t)int_value(f, &k);
}

static int on_event(struct sink_state *S, const bt_message *msg)
{
	const bt_event *e = bt_message_event_borrow_event_const(msg);
	const bt_event_class *ec = bt_event_borrow_class_const(e);
	struct imp_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.name = bt_event_class_get_name(ec);
	if (!ev.name)
		return 0;
	const bt_clock_snapshot *cs = bt_message_event_borrow_default_clock_snapshot_const(msg);
	ev.mono_ns = bt_clock_snapshot_get_value(cs);
	int64_t from_origin = 0;
	if (bt_clock_snapshot_get_ns_from_origin(cs, &from_origin) ==
	    BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK)
		ev.real_ns = from_origin;
	const bt_field *ctx = bt_event_borrow_common_context_field_const(e);
	ev.vpid = ctx_u32(ctx, "vpid");
	ev.vtid = ctx_u32(ctx, "vtid");
	const bt_field *payload = bt_event_borrow_payload_field_const(e);
	if (payload && bt_field_get_class_type(payload) == BT_FIELD_CLASS_TYPE_STRUCTURE) {
		const bt_field_class *pc = bt_field_borrow_class_const(payload);
		uint64_t n = bt_field_class_structure_get_member_count(pc);
		for (uint64_t i = 0; i < n && ev.nfields < IMP_MAX_FIELDS; i++) {
			const bt_field_class_structure_member *m =
				bt_field_class_structure_borrow_member_by_index_const(pc, i);
			const bt_field *f =
				bt_field_structure_borrow_member_field_by_index_const(payload, i);
			struct imp_field *o = &ev.f[ev.nfields];
			bt_field_class_type t = bt_field_get_class_type(f);
			o->name = bt_field_class_structure_member_get_name(m);
			if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_INTEGER)) {
				o->u = int_value(f, &o->kind);
			} else if (t == BT_FIELD_CLASS_TYPE_STRING) {
				o->kind = IMP_TEXT;
				o->text = bt_field_string_get_value(f);
				o->len = bt_field_string_get_length(f);
			} else if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_ARRAY)) {
				uint64_t len = bt_field_array_get_length(f);
				uint64_t *dst = S->arrays[ev.nfields];
				size_t k = 0;
				for (uint64_t j = 0; j < len && j < 1024; j++) {
					const bt_field *el =
						bt_field_array_borrow_element_field_by_index_const(f, j);
					if (!bt_field_class_type_is(bt_field_get_class_type(el),
								    BT_FIELD_CLASS_TYPE_INTEGER))
						break;
					enum imp_kind k2;
					dst[k++] = int_value(el, &k2);
				}
				o->kind = IMP_ARRAY;
				o->array = dst;
				o->len = k;
			} else {
				continue; /* a type none of the mapped events has */
			}
			ev.nfields++;
		}
	}
	return imp_event(S->im, &ev);
}

static int on_discarded(struct sink_state *S, const bt_message *msg)
{
	uint64_t count = 0;
	if (bt_message_discarded_events_get_count(msg, &count) != BT_PROPERTY_AVAILABILITY_AVAILABLE)
		count = 1; /* some were, the trace does not say how many */
	uint64_t ns = 0;
	const bt_stream *st = bt_message_discarded_events_borrow_stream_const(msg);
	const bt_stream_class *sc = bt_stream_borrow_class_const(st);
	if (bt_stream_class_discarded_events_have_default_clock_snapshots(sc))
		ns = bt_clock_snapshot_get_value(
			bt_message_discarded_events_borrow_end_default_clock_snapshot_const(msg));
	return imp_discarded(S->im, 0, 0, ns, count);
}

static bt_graph_simple_sink_component_initialize_func_status sink_init(bt_message_iterator *it,
								      void *ud)
{
	((struct sink_state *)ud)->it = it;
	return BT_GRAPH_SIMPLE_SINK_COMPONENT_INITIALIZE_FUNC_STATUS_OK;
}

static bt_graph_simple_sink_component_consume_func_status sink_consume(bt_message_iterator *it,
								      void *ud)
{
	struct sink_state *S = ud;
	bt_message_array_const msgs;
	uint64_t count;
	switch (bt_message_iterator_next(it, &msgs, &count)) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		break;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_MEMORY_ERROR;
	default:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
	}
	int rc = 0;
	for (uint64_t i = 0; i < count; i++) {
		const bt_message *m = msgs[i];
		if (rc == 0) {
			bt_message_type t = bt_message_get_type(m);
			if (t == BT_MESSAGE_TYPE_EVENT)
				rc = on_event(S, m);
			else if (t == BT_MESSAGE_TYPE_DISCARDED_EVENTS)
				rc = on_discarded(S, m);
		}
		bt_message_put_ref(m);
	}
	if (rc < 0) {
		S->failed = 1;
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
	}
	return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
}

/* The innermost cause of the current thread's babeltrace2 error, on one line. */
static void bt_reason(char *out, size_t size)
{
	const bt_error *err = bt_current_thread_take_error();
	snprintf(out, size, "not a readable CTF trace");
	if (!err)
		return;
	uint64_t n = bt_error_get_cause_count(err);
	if (n) {
		const char *m = bt_error_cause_get_message(bt_error_borrow_cause_by_index(err, 0));
		if (m && *m) {
			snprintf(out, size, "%s", m);
			for (char *p = out; *p; p++)
				if (*p == '\n')
					*p = ' ';
		}
	}
	bt_error_release(err);
}

int imp_read_ctf(const char *const *dirs, size_t ndirs, struct imp *im, char *why,
		 size_t why_size)
{
	int rc = -1;
	bt_graph *g = NULL;
	const bt_plugin *ctf = NULL, *utils = NULL;
	bt_value *params = NULL;
	struct sink_state *S = calloc(1, sizeof(*S));
	if (!S) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	S->im = im;
	bt_logging_set_global_level(BT_LOGGING_LEVEL_NONE);
	if (bt_plugin_find("ctf", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, &ctf) !=
		    BT_PLUGIN_FIND_STATUS_OK ||
	    bt_plugin_find("utils", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, &utils) !=
		    BT_PLUGIN_FIND_STATUS_OK) {
		snprintf(why, why_size, "babeltrace2's ctf and utils plugins are not installed");
		goto out;
	}
	g = bt_graph_create(0);
	const bt_component_filter *mux;
	const bt_component_sink *sink;
	if (!g ||
	    bt_graph_add_filter_component(
		    g, bt_plugin_borrow_filter_component_class_by_name_const(utils, "muxer"), "mux",
		    NULL, BT_LOGGING_LEVEL_NONE, &mux) != BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_add_simple_sink_component(g, "ctrace", sink_init, sink_consume, NULL, S,
					       &sink) != BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
		bt_reason(why, why_size);
		goto out;
	}
	uint64_t nin = 0;
	for (size_t k = 0; k < ndirs; k++) {
		/* One source per trace: the traces of one session have different UUIDs. */
		bt_value *inputs = NULL;
		const bt_component_source *src;
		char name[32];
		bt_value_put_ref(params);
		params = bt_value_map_create();
		if (!params ||
		    bt_value_map_insert_empty_array_entry(params, "inputs", &inputs) !=
			    BT_VALUE_MAP_INSERT_ENTRY_STATUS_OK ||
		    bt_value_array_append_string_element(inputs, dirs[k]) !=
			    BT_VALUE_ARRAY_APPEND_ELEMENT_STATUS_OK) {
			snprintf(why, why_size, "out of memory");
			goto out;
		}
		snprintf(name, sizeof(name), "src%zu", k);
		if (bt_graph_add_source_component(
			    g, bt_plugin_borrow_source_component_class_by_name_const(ctf, "fs"), name,
			    params, BT_LOGGING_LEVEL_NONE, &src) != BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
			bt_reason(why, why_size);
			goto out;
		}
		uint64_t nout = bt_component_source_get_output_port_count(src);
		for (uint64_t i = 0; i < nout; i++) {
			/* The muxer makes a new input port each time one is connected. */
			const bt_port_input *in =
				bt_component_filter_borrow_input_port_by_index_const(mux, nin++);
			if (!in ||
			    bt_graph_connect_ports(
				    g, bt_component_source_borrow_output_port_by_index_const(src, i),
				    in, NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
				bt_reason(why, why_size);
				goto out;
			}
		}
	}
	if (bt_graph_connect_ports(g, bt_component_filter_borrow_output_port_by_index_const(mux, 0),
				   bt_component_sink_borrow_input_port_by_index_const(sink, 0),
				   NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
		bt_reason(why, why_size);
		goto out;
	}
	bt_graph_run_status st;
	do
		st = bt_graph_run(g);
	while (st == BT_GRAPH_RUN_STATUS_AGAIN);
	if (st != BT_GRAPH_RUN_STATUS_OK) {
		if (S->failed)
			snprintf(why, why_size, "cannot write the trace");
		else
			bt_reason(why, why_size);
		goto out;
	}
	rc = 0;
out:
	bt_value_put_ref(params);
	bt_graph_put_ref(g);
	bt_plugin_put_ref(ctf);
	bt_plugin_put_ref(utils);
	free(S);
	return rc;
}
