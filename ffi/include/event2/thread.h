/* eventop: libevent 2.1's threading API (<event2/thread.h>), core subset.
 * Declared here from libevent's documented interface; implemented by eventop.
 * After evthread_use_pthreads() (or lock callbacks set), each new base may be used from any
 * thread: event_add, event_del, event_active, event_base_loopbreak and the rest wake a loop
 * waiting in the backend. eventop uses its own locks: the callbacks given are accepted, not
 * called. */
#ifndef EVENT2_THREAD_H_INCLUDED_
#define EVENT2_THREAD_H_INCLUDED_

#include <event2/visibility.h>
#include <event2/util.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVTHREAD_WRITE 0x04
#define EVTHREAD_READ 0x08
#define EVTHREAD_TRY 0x10

#define EVTHREAD_LOCK_API_VERSION 1
#define EVTHREAD_LOCKTYPE_RECURSIVE 1
#define EVTHREAD_LOCKTYPE_READWRITE 2

struct evthread_lock_callbacks {
	int lock_api_version;
	unsigned supported_locktypes;
	void *(*alloc)(unsigned locktype);
	void (*free)(void *lock, unsigned locktype);
	int (*lock)(unsigned mode, void *lock);
	int (*unlock)(unsigned mode, void *lock);
};

EVENT2_EXPORT_SYMBOL int evthread_set_lock_callbacks(const struct evthread_lock_callbacks *);

#define EVTHREAD_CONDITION_API_VERSION 1

struct timeval;

struct evthread_condition_callbacks {
	int condition_api_version;
	void *(*alloc_condition)(unsigned condtype);
	void (*free_condition)(void *cond);
	int (*signal_condition)(void *cond, int broadcast);
	int (*wait_condition)(void *cond, void *lock, const struct timeval *timeout);
};

EVENT2_EXPORT_SYMBOL int evthread_set_condition_callbacks(
    const struct evthread_condition_callbacks *);

EVENT2_EXPORT_SYMBOL void evthread_set_id_callback(unsigned long (*id_fn)(void));

#define EVTHREAD_USE_PTHREADS_IMPLEMENTED 1
EVENT2_EXPORT_SYMBOL int evthread_use_pthreads(void);

EVENT2_EXPORT_SYMBOL void evthread_enable_lock_debugging(void);
EVENT2_EXPORT_SYMBOL void evthread_enable_lock_debuging(void);

struct event_base;
EVENT2_EXPORT_SYMBOL int evthread_make_base_notifiable(struct event_base *base);

#ifdef __cplusplus
}
#endif

#endif
