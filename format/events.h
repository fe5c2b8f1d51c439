/*
 * The event table and the calls table: the one definition the tracer (which writes events)
 * and the reader (which decodes them) share. FORMAT.md documents the same tables.
 */
#ifndef CTR_EVENTS_H
#define CTR_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <ctrace/trace.h>

#define CTR_FILE_MAGIC 0x184D2A5Cu
#define CTR_GEN_MAGIC 0x184D2A5Du
#define CTR_SKIP_MAGIC_MIN 0x184D2A50u
#define CTR_SKIP_MAGIC_MAX 0x184D2A5Fu
#define CTR_ZSTD_MAGIC 0xFD2FB528u
#define CTR_FILE_HEADER_SIZE 24
#define CTR_GEN_HEADER_SIZE 64 /* 8 bytes of frame header + 56 of payload */
#define CTR_GEN_MAX_SIZE (1ull << 30)
#define CTR_STACK_MAX_DEPTH 1024

extern const uint8_t ctr_file_signature[8];

enum ctr_record {
	CTR_REC_SCHEMA = 1,
	CTR_REC_CLOCK = 2,
	CTR_REC_PROCESS = 3,
	CTR_REC_STRINGS = 4,
	CTR_REC_MAPPINGS = 5,
	CTR_REC_FRAMES = 6,
	CTR_REC_STACKS = 7,
	CTR_REC_BATCH = 8,
	CTR_REC_INFO = 9,
	CTR_REC_CALLS = 10,
};

/* X(enum suffix, name, number of arguments after the time, has a blob, argument names) */
#define CTR_EVENT_TABLE(X)                        \
	X(THREAD_START, "thread_start", 3, 0, "parent_tid,create_id,flags")     \
	X(THREAD_END, "thread_end", 1, 0, "how")         \
	X(THREAD_CREATE, "thread_create", 2, 0, "create_id,stack")   \
	X(THREAD_NAME, "thread_name", 1, 1, "tid")       \
	X(BLOCK_BEGIN, "block_begin", 4, 0, "reason,call,object,stack")       \
	X(BLOCK_END, "block_end", 1, 0, "result")           \
	X(CALL_BEGIN, "call_begin", 4, 0, "call,fd,fd_kind,stack")         \
	X(CALL_END, "call_end", 3, 0, "result,errno,stack")             \
	X(WAKE, "wake", 2, 0, "call,object")                     \
	X(SWITCH_OUT, "switch_out", 2, 0, "cpu,flags")         \
	X(SWITCH_IN, "switch_in", 1, 0, "cpu")           \
	X(SCHEDSTAT, "schedstat", 3, 0, "oncpu_ns,runq_ns,switches")           \
	X(ALLOC, "alloc", 5, 0, "call,address,size,stack,weight")                   \
	X(FREE, "free", 2, 0, "call,address")                     \
	X(ALLOC_STATS, "alloc_stats", 3, 0, "allocs,alloc_bytes,frees")       \
	X(TASK_BEGIN, "task_begin", 2, 1, "task,parent")         \
	X(TASK_END, "task_end", 1, 0, "task")             \
	X(REGION_BEGIN, "region_begin", 1, 1, "task")     \
	X(REGION_END, "region_end", 1, 1, "task")         \
	X(LOG, "log", 2, 1, "task,category_len")                       \
	X(LOST, "lost", 1, 0, "count")                     \
	X(CPU_SAMPLE, "cpu_sample", 1, 0, "stack")         \
	X(STATE, "state", 5, 0, "state,reason,call,object,since")                   \
	X(EXEC, "exec", 0, 1, "")

struct ctr_event_desc {
	const char *name; /* NULL for a type number not in the table */
	uint8_t nargs;    /* after the time delta */
	uint8_t has_blob;
	uint8_t signed_mask; /* bit i: argument i (after the time) is an svarint */
	const char *arg_names; /* comma-separated */
};

/* Indexed by type; entries past CTRACE_EV_COUNT_ are not defined. */
extern const struct ctr_event_desc ctr_events[CTRACE_EV_COUNT_];

/* A schema as read from a generation (or the built-in one): per type byte. */
struct ctr_schema {
	uint8_t known[256];   /* declared in the schema */
	uint8_t nargs[256];   /* after the time delta */
	uint8_t has_blob[256];
	/* the argument that is a stack id, counted with the time delta as 0; 0 for none */
	uint8_t stack_arg[256];
	/* the same in one word for the decoder: 0 when unknown, else CTR_DESC_KNOWN | the
	 * signed-argument mask << 16 | has_blob << 8 | nargs */
	uint32_t desc[256];
};
#define CTR_DESC_KNOWN 0x80000000u
/* Set @type's entry in @s (desc included). */
void ctr_schema_set(struct ctr_schema *s, unsigned type, unsigned nargs, int has_blob);

void ctr_schema_builtin(struct ctr_schema *s);

/* X(enum suffix, name, reason) — calls the tracer records; ids are positions from 1. */
#define CTR_CALL_TABLE(X)                                          \
	X(PTHREAD_MUTEX_LOCK, "pthread_mutex_lock", SYNC)          \
	X(PTHREAD_MUTEX_TIMEDLOCK, "pthread_mutex_timedlock", SYNC) \
	X(PTHREAD_RWLOCK_RDLOCK, "pthread_rwlock_rdlock", SYNC)    \
	X(PTHREAD_RWLOCK_WRLOCK, "pthread_rwlock_wrlock", SYNC)    \
	X(PTHREAD_RWLOCK_TIMEDRDLOCK, "pthread_rwlock_timedrdlock", SYNC) \
	X(PTHREAD_RWLOCK_TIMEDWRLOCK, "pthread_rwlock_timedwrlock", SYNC) \
	X(PTHREAD_COND_WAIT, "pthread_cond_wait", SYNC)            \
	X(PTHREAD_COND_TIMEDWAIT, "pthread_cond_timedwait", SYNC)  \
	X(PTHREAD_COND_SIGNAL, "pthread_cond_signal", SYNC)        \
	X(PTHREAD_COND_BROADCAST, "pthread_cond_broadcast", SYNC)  \
	X(SEM_WAIT, "sem_wait", SYNC)                              \
	X(SEM_TIMEDWAIT, "sem_timedwait", SYNC)                    \
	X(SEM_POST, "sem_post", SYNC)                              \
	X(PTHREAD_JOIN, "pthread_join", SYNC)                      \
	X(PTHREAD_BARRIER_WAIT, "pthread_barrier_wait", SYNC)      \
	X(PTHREAD_SPIN_LOCK, "pthread_spin_lock", SYNC)            \
	X(PTHREAD_MUTEX_UNLOCK, "pthread_mutex_unlock", SYNC)      \
	X(READ, "read", IO)                                        \
	X(WRITE, "write", IO)                                      \
	X(PREAD, "pread", IO)                                      \
	X(PWRITE, "pwrite", IO)                                    \
	X(READV, "readv", IO)                                      \
	X(WRITEV, "writev", IO)                                    \
	X(RECV, "recv", IO)                                        \
	X(RECVFROM, "recvfrom", IO)                                \
	X(RECVMSG, "recvmsg", IO)                                  \
	X(SEND, "send", IO)                                        \
	X(SENDTO, "sendto", IO)                                    \
	X(SENDMSG, "sendmsg", IO)                                  \
	X(ACCEPT, "accept", IO)                                    \
	X(ACCEPT4, "accept4", IO)                                  \
	X(CONNECT, "connect", IO)                                  \
	X(POLL, "poll", IO)                                        \
	X(PPOLL, "ppoll", IO)                                      \
	X(SELECT, "select", IO)                                    \
	X(PSELECT, "pselect", IO)                                  \
	X(EPOLL_WAIT, "epoll_wait", IO)                            \
	X(EPOLL_PWAIT, "epoll_pwait", IO)                          \
	X(OPEN, "open", IO)                                        \
	X(OPENAT, "openat", IO)                                    \
	X(CLOSE, "close", IO)                                      \
	X(FSYNC, "fsync", IO)                                      \
	X(FDATASYNC, "fdatasync", IO)                              \
	X(SENDFILE, "sendfile", IO)                                \
	X(SPLICE, "splice", IO)                                    \
	X(WAITPID, "waitpid", SYSCALL)                             \
	X(WAIT4, "wait4", SYSCALL)                                 \
	X(NANOSLEEP, "nanosleep", SLEEP)                           \
	X(CLOCK_NANOSLEEP, "clock_nanosleep", SLEEP)               \
	X(USLEEP, "usleep", SLEEP)                                 \
	X(SLEEP, "sleep", SLEEP)                                   \
	X(FUTEX, "futex", SYNC)                                    \
	X(SYSCALL, "syscall", SYSCALL)                             \
	X(MALLOC, "malloc", MEMORY)                                \
	X(CALLOC, "calloc", MEMORY)                                \
	X(REALLOC, "realloc", MEMORY)                              \
	X(FREE, "free", MEMORY)                                    \
	X(POSIX_MEMALIGN, "posix_memalign", MEMORY)                \
	X(ALIGNED_ALLOC, "aligned_alloc", MEMORY)                  \
	X(MEMALIGN, "memalign", MEMORY)                            \
	X(VALLOC, "valloc", MEMORY)                                \
	X(MMAP, "mmap", MEMORY)                                    \
	X(MUNMAP, "munmap", MEMORY)                                \
	X(PTHREAD_CREATE, "pthread_create", NONE)

enum ctr_call {
	CTR_CALL_NONE_ = 0,
#define CTR_CALL_ENUM_(id, name, reason) CTR_CALL_##id,
	CTR_CALL_TABLE(CTR_CALL_ENUM_)
#undef CTR_CALL_ENUM_
	CTR_CALL_COUNT_
};

struct ctr_call_desc {
	const char *name;
	uint32_t reason;
};
extern const struct ctr_call_desc ctr_calls[CTR_CALL_COUNT_];

/* One event decoded from its bytes (time delta first in args[0]). */
struct ctr_raw_event {
	uint8_t type;
	uint8_t nargs;              /* all arguments read, time delta included, capped */
	uint64_t args[1 + CTRACE_EVENT_MAX_ARGS];
	const uint8_t *blob;
	uint64_t blob_len;
};

/*
 * Decode one event at [p, end) under @schema. Arguments past the storage are skipped.
 * @return the number of bytes it takes, or 0 when it is malformed (unknown type, short
 * bytes, bad varint).
 */
size_t ctr_event_scan(const struct ctr_schema *schema, const uint8_t *p, const uint8_t *end,
		      struct ctr_raw_event *ev);

/* reader.c: batched iteration over the events of one type only (the others skipped). */
int ctr_gen_next_of_type(ctrace_gen *g, uint8_t type, const struct ctrace_event **out);

/*
 * Step over one event at [p, end) under @schema: what the writer's drain and the reader's
 * pass over other types need, without decoding every argument. It is exactly as strict as
 * ctr_event_scan (the same bytes are malformed). *delta gets the event's time delta and
 * *stack its stack argument (schema->stack_arg), 0 for a type without one.
 * @return its length, or 0 when it is malformed (then *delta and *stack are not set).
 */
size_t ctr_event_skip(const struct ctr_schema *schema, const uint8_t *p, const uint8_t *end,
		      uint64_t *delta, uint64_t *stack);

/*
 * Encode one event: type, time delta, @nargs arguments (already zigzagged where needed)
 * and, when the type has one, a blob. @dst needs
 * 1 + (1 + nargs) * CTR_VARINT_MAX + CTR_VARINT_MAX + blob_len bytes.
 * @return bytes written.
 */
size_t ctr_event_encode(uint8_t *dst, uint8_t type, uint64_t delta, const uint64_t *args,
			unsigned nargs, const void *blob, size_t blob_len);

#endif
