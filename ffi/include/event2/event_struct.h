/* eventop: libevent 2.1's core API. The layout of struct event (<event2/event_struct.h>), for
 * programs that embed events in their own structs or on the stack. Fields other than those the
 * accessors in <event2/event.h> return are the library's: do not touch them. */
#ifndef EVENT2_EVENT_STRUCT_H_INCLUDED_
#define EVENT2_EVENT_STRUCT_H_INCLUDED_

#include <event2/util.h>
#include <sys/time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVLIST_TIMEOUT      0x01
#define EVLIST_INSERTED     0x02
#define EVLIST_SIGNAL       0x04
#define EVLIST_ACTIVE       0x08
#define EVLIST_INTERNAL     0x10
#define EVLIST_ACTIVE_LATER 0x20
#define EVLIST_FINALIZING   0x40
#define EVLIST_INIT         0x80
#define EVLIST_ALL          0xff

struct event_base;
struct event;

struct event_callback {
	struct {
		struct event_callback *tqe_next;
		struct event_callback **tqe_prev;
	} evcb_active_next;
	short evcb_flags;
	ev_uint8_t evcb_pri;
	ev_uint8_t evcb_closure;
	union {
		void (*evcb_callback)(evutil_socket_t, short, void *);
		void (*evcb_selfcb)(struct event_callback *, void *);
		void (*evcb_evfinalize)(struct event *, void *);
		void (*evcb_cbfinalize)(struct event_callback *, void *);
	} evcb_cb_union;
	void *evcb_arg;
};

struct event {
	struct event_callback ev_evcallback;
	union {
		struct {
			struct event *tqe_next;
			struct event **tqe_prev;
		} ev_next_with_common_timeout;
		int min_heap_idx;
	} ev_timeout_pos;
	evutil_socket_t ev_fd;
	struct event_base *ev_base;
	union {
		struct {
			struct {
				struct event *le_next;
				struct event **le_prev;
			} ev_io_next;
			struct timeval ev_timeout;
		} ev_io;
		struct {
			struct {
				struct event *le_next;
				struct event **le_prev;
			} ev_signal_next;
			short ev_ncalls;
			short *ev_pncalls;
		} ev_signal;
	} ev_;
	short ev_events;
	short ev_res;
	struct timeval ev_timeout;
};

#ifdef __cplusplus
}
#endif

#endif
