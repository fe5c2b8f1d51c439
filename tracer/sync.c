/*
 * Synchronization: mutexes, rwlocks and spinlocks record only contention (the wrapper
 * tries the lock first, so an uncontended lock or unlock records nothing); condition
 * variables, semaphores, joins and barriers record every wait; signals, broadcasts and
 * posts are wake events, so the analysis can tell who woke whom.
 */
#include <pthread.h>
#include <semaphore.h>

#include "wrap.h"

static struct {
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_trylock)(pthread_mutex_t *);
	int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
	int (*rdlock)(pthread_rwlock_t *);
	int (*wrlock)(pthread_rwlock_t *);
	int (*tryrdlock)(pthread_rwlock_t *);
	int (*trywrlock)(pthread_rwlock_t *);
	int (*timedrdlock)(pthread_rwlock_t *, const struct timespec *);
	int (*timedwrlock)(pthread_rwlock_t *, const struct timespec *);
	int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	int (*cond_signal)(pthread_cond_t *);
	int (*cond_broadcast)(pthread_cond_t *);
	int (*sem_wait)(sem_t *);
	int (*sem_trywait)(sem_t *);
	int (*sem_timedwait)(sem_t *, const struct timespec *);
	int (*sem_post)(sem_t *);
	int (*join)(pthread_t, void **);
	int (*barrier_wait)(pthread_barrier_t *);
	int (*spin_lock)(pthread_spinlock_t *);
	int (*spin_trylock)(pthread_spinlock_t *);
} real;

/*
 * glibc defines these in libc itself. Its condvar functions carry two versions: ask for
 * GLIBC_2.3.2 by name, the one programs link against, rather than trust the default.
 */
__attribute__((constructor)) static void sync_resolve(void)
{
#define R(field, name) real.field = (__typeof__(real.field))dlsym(RTLD_NEXT, name)
	R(mutex_lock, "pthread_mutex_lock");
	R(mutex_trylock, "pthread_mutex_trylock");
	R(mutex_timedlock, "pthread_mutex_timedlock");
	R(rdlock, "pthread_rwlock_rdlock");
	R(wrlock, "pthread_rwlock_wrlock");
	R(tryrdlock, "pthread_rwlock_tryrdlock");
	R(trywrlock, "pthread_rwlock_trywrlock");
	R(timedrdlock, "pthread_rwlock_timedrdlock");
	R(timedwrlock, "pthread_rwlock_timedwrlock");
#define RV(field, name) \
	real.field = (__typeof__(real.field))dlvsym(RTLD_NEXT, name, "GLIBC_2.3.2"); \
	if (!real.field)                                                            \
		R(field, name)
	RV(cond_wait, "pthread_cond_wait");
	RV(cond_timedwait, "pthread_cond_timedwait");
	RV(cond_signal, "pthread_cond_signal");
	RV(cond_broadcast, "pthread_cond_broadcast");
#undef RV
	R(sem_wait, "sem_wait");
	R(sem_trywait, "sem_trywait");
	R(sem_timedwait, "sem_timedwait");
	R(sem_post, "sem_post");
	R(join, "pthread_join");
	R(barrier_wait, "pthread_barrier_wait");
	R(spin_lock, "pthread_spin_lock");
	R(spin_trylock, "pthread_spin_trylock");
#undef R
}

#define REAL(field) (likely(real.field != NULL) ? real.field : (sync_resolve(), real.field))

static inline int sync_traced(void)
{
	return unlikely(atomic_load_explicit(&ctr_on, memory_order_relaxed)) &&
	       !ctr_tls.busy && (ctr_g.cfg.classes & CTR_CLASS_SYNC);
}

/* Contended locks matter: to the trace, or to the mutex profile. With neither on, one
 * load and a branch. */
static inline int lock_watched(void)
{
	if (likely(!(atomic_load_explicit(&ctr_watch, memory_order_relaxed) &
		     (CTR_WATCH_ON | CTR_WATCH_MUTEX))))
		return 0;
	return sync_traced() ||
	       unlikely(atomic_load_explicit(&ctr_mutex_rate, memory_order_relaxed) != 0);
}

/* Blocking waits matter: to the trace, or to the block profile. */
static inline int wait_watched(void)
{
	if (likely(!(atomic_load_explicit(&ctr_watch, memory_order_relaxed) &
		     (CTR_WATCH_ON | CTR_WATCH_BLOCK))))
		return 0;
	return sync_traced() ||
	       unlikely(atomic_load_explicit(&ctr_block_rate, memory_order_relaxed) != 0);
}

/*
 * Locks that record only contention: try first; only a busy lock becomes an episode.
 * A second variant for the timed calls, which take a deadline.
 */
#define TRYLOCK_WRAP(fn, type, field, tryfield, call)             \
	CTR_WRAP int fn(type *l)                                  \
	{                                                         \
		if (likely(!lock_watched()))                      \
			return REAL(field)(l);                    \
		int rc = REAL(tryfield)(l);                       \
		if (rc != EBUSY)                                  \
			return rc;                                \
		struct ctr_episode c;                             \
		ctr_block_begin(&c, call, (uintptr_t)l);          \
		rc = REAL(field)(l);                              \
		ctr_block_end(&c, rc);                            \
		return rc;                                        \
	}

#define TRYLOCK_TIMED_WRAP(fn, type, field, tryfield, call)               \
	CTR_WRAP int fn(type *l, const struct timespec *ts)               \
	{                                                                 \
		if (likely(!lock_watched()))                              \
			return REAL(field)(l, ts);                        \
		int rc = REAL(tryfield)(l);                               \
		if (rc != EBUSY)                                          \
			return rc;                                        \
		struct ctr_episode c;                                     \
		ctr_block_begin(&c, call, (uintptr_t)l);                  \
		rc = REAL(field)(l, ts);                                  \
		ctr_block_end(&c, rc);                                    \
		return rc;                                                \
	}

TRYLOCK_WRAP(pthread_mutex_lock, pthread_mutex_t, mutex_lock, mutex_trylock,
	     CTR_CALL_PTHREAD_MUTEX_LOCK)
TRYLOCK_TIMED_WRAP(pthread_mutex_timedlock, pthread_mutex_t, mutex_timedlock, mutex_trylock,
		   CTR_CALL_PTHREAD_MUTEX_TIMEDLOCK)
TRYLOCK_WRAP(pthread_rwlock_rdlock, pthread_rwlock_t, rdlock, tryrdlock,
	     CTR_CALL_PTHREAD_RWLOCK_RDLOCK)
TRYLOCK_WRAP(pthread_rwlock_wrlock, pthread_rwlock_t, wrlock, trywrlock,
	     CTR_CALL_PTHREAD_RWLOCK_WRLOCK)
TRYLOCK_TIMED_WRAP(pthread_rwlock_timedrdlock, pthread_rwlock_t, timedrdlock, tryrdlock,
		   CTR_CALL_PTHREAD_RWLOCK_TIMEDRDLOCK)
TRYLOCK_TIMED_WRAP(pthread_rwlock_timedwrlock, pthread_rwlock_t, timedwrlock, trywrlock,
		   CTR_CALL_PTHREAD_RWLOCK_TIMEDWRLOCK)
TRYLOCK_WRAP(pthread_spin_lock, pthread_spinlock_t, spin_lock, spin_trylock,
	     CTR_CALL_PTHREAD_SPIN_LOCK)

/*
 * Waits that always block are recorded every time, and keep the thread's blocking state
 * even when tracing is off.
 */
CTR_WRAP int pthread_cond_wait(pthread_cond_t *cv, pthread_mutex_t *m)
{
	struct ctr_episode c;
	ctr_block_begin(&c, CTR_CALL_PTHREAD_COND_WAIT, (uintptr_t)cv);
	int rc = REAL(cond_wait)(cv, m);
	ctr_block_end(&c, rc);
	return rc;
}

CTR_WRAP int pthread_cond_timedwait(pthread_cond_t *cv, pthread_mutex_t *m,
				    const struct timespec *ts)
{
	struct ctr_episode c;
	ctr_block_begin(&c, CTR_CALL_PTHREAD_COND_TIMEDWAIT, (uintptr_t)cv);
	int rc = REAL(cond_timedwait)(cv, m, ts);
	ctr_block_end(&c, rc);
	return rc;
}

CTR_WRAP int pthread_cond_signal(pthread_cond_t *cv)
{
	ctr_wake(CTR_CALL_PTHREAD_COND_SIGNAL, (uintptr_t)cv);
	return REAL(cond_signal)(cv);
}

CTR_WRAP int pthread_cond_broadcast(pthread_cond_t *cv)
{
	ctr_wake(CTR_CALL_PTHREAD_COND_BROADCAST, (uintptr_t)cv);
	return REAL(cond_broadcast)(cv);
}

CTR_WRAP int sem_wait(sem_t *sem)
{
	if (wait_watched()) {
		int saved = errno;
		if (REAL(sem_trywait)(sem) == 0)
			return 0;
		errno = saved;
	}
	struct ctr_episode c;
	ctr_block_begin(&c, CTR_CALL_SEM_WAIT, (uintptr_t)sem);
	int rc = REAL(sem_wait)(sem);
	int err = errno;
	ctr_block_end(&c, rc < 0 ? -err : rc);
	errno = err;
	return rc;
}

CTR_WRAP int sem_timedwait(sem_t *sem, const struct timespec *ts)
{
	if (wait_watched()) {
		int saved = errno;
		if (REAL(sem_trywait)(sem) == 0)
			return 0;
		errno = saved;
	}
	struct ctr_episode c;
	ctr_block_begin(&c, CTR_CALL_SEM_TIMEDWAIT, (uintptr_t)sem);
	int rc = REAL(sem_timedwait)(sem, ts);
	int err = errno;
	ctr_block_end(&c, rc < 0 ? -err : rc);
	errno = err;
	return rc;
}

CTR_WRAP int sem_post(sem_t *sem)
{
	ctr_wake(CTR_CALL_SEM_POST, (uintptr_t)sem);
	return REAL(sem_post)(sem);
}

CTR_WRAP int pthread_join(pthread_t t, void **ret)
{
	struct ctr_episode c;
	ctr_block_begin(&c, CTR_CALL_PTHREAD_JOIN, (uintptr_t)t);
	int rc = REAL(join)(t, ret);
	ctr_block_end(&c, rc);
	return rc;
}

CTR_WRAP int pthread_barrier_wait(pthread_barrier_t *b)
{
	struct ctr_episode c;
	ctr_block_begin(&c, CTR_CALL_PTHREAD_BARRIER_WAIT, (uintptr_t)b);
	int rc = REAL(barrier_wait)(b);
	ctr_block_end(&c, rc);
	return rc;
}
