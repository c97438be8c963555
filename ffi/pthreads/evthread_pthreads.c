/* libevent_pthreads for eventop: evthread_use_pthreads() hands libevent's core (eventop's
 * library, which this object needs) a set of pthread lock callbacks, as libevent's own
 * libevent_pthreads does. eventop accepts them and locks with its own mutex. ci/install-c
 * builds this as libevent_pthreads-2.1.so.7. */
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>

static void *lock_alloc(unsigned locktype)
{
	(void)locktype;
	pthread_mutexattr_t attr;
	pthread_mutex_t *m = malloc(sizeof *m);
	if (!m)
		return NULL;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return m;
}

static void lock_free(void *lock, unsigned locktype)
{
	(void)locktype;
	pthread_mutex_destroy(lock);
	free(lock);
}

static int lock_lock(unsigned mode, void *lock)
{
	return mode & EVTHREAD_TRY ? pthread_mutex_trylock(lock) : pthread_mutex_lock(lock);
}

static int lock_unlock(unsigned mode, void *lock)
{
	(void)mode;
	return pthread_mutex_unlock(lock);
}

EVENT2_EXPORT_SYMBOL int evthread_use_pthreads(void)
{
	static const struct evthread_lock_callbacks cbs = {
		EVTHREAD_LOCK_API_VERSION, EVTHREAD_LOCKTYPE_RECURSIVE,
		lock_alloc, lock_free, lock_lock, lock_unlock,
	};
	return evthread_set_lock_callbacks(&cbs);
}
