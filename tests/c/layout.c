/* struct event's size, alignment and field offsets, and the API's constants, printed: the
 * harness compares this output built on eventop's headers with the one built on libevent's. */
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <stddef.h>
#include <stdio.h>

#define OFF(f) printf("offsetof(struct event, %s) = %zu\n", #f, offsetof(struct event, f))
#define VAL(c) printf("%s = %#lx\n", #c, (unsigned long)(c))

int main(void)
{
	printf("sizeof(struct event) = %zu\n", sizeof(struct event));
	printf("_Alignof(struct event) = %zu\n", _Alignof(struct event));
	printf("sizeof(struct event_callback) = %zu\n", sizeof(struct event_callback));
	printf("event_get_struct_event_size() = %zu\n", event_get_struct_event_size());
	printf("sizeof(evutil_socket_t) = %zu\n", sizeof(evutil_socket_t));
	OFF(ev_evcallback);
	OFF(ev_evcallback.evcb_active_next);
	OFF(ev_evcallback.evcb_flags);
	OFF(ev_evcallback.evcb_pri);
	OFF(ev_evcallback.evcb_closure);
	OFF(ev_evcallback.evcb_cb_union);
	OFF(ev_evcallback.evcb_cb_union.evcb_callback);
	OFF(ev_evcallback.evcb_arg);
	OFF(ev_timeout_pos);
	OFF(ev_timeout_pos.min_heap_idx);
	OFF(ev_fd);
	OFF(ev_base);
	OFF(ev_);
	OFF(ev_.ev_io.ev_io_next);
	OFF(ev_.ev_io.ev_timeout);
	OFF(ev_.ev_signal.ev_signal_next);
	OFF(ev_.ev_signal.ev_ncalls);
	OFF(ev_.ev_signal.ev_pncalls);
	OFF(ev_events);
	OFF(ev_res);
	OFF(ev_timeout);
	VAL(EV_TIMEOUT); VAL(EV_READ); VAL(EV_WRITE); VAL(EV_SIGNAL); VAL(EV_PERSIST);
	VAL(EV_ET); VAL(EV_FINALIZE); VAL(EV_CLOSED);
	VAL(EVLIST_TIMEOUT); VAL(EVLIST_INSERTED); VAL(EVLIST_SIGNAL); VAL(EVLIST_ACTIVE);
	VAL(EVLIST_INTERNAL); VAL(EVLIST_ACTIVE_LATER); VAL(EVLIST_FINALIZING);
	VAL(EVLIST_INIT); VAL(EVLIST_ALL);
	VAL(EVLOOP_ONCE); VAL(EVLOOP_NONBLOCK); VAL(EVLOOP_NO_EXIT_ON_EMPTY);
	VAL(EVENT_BASE_FLAG_NOLOCK); VAL(EVENT_BASE_FLAG_IGNORE_ENV);
	VAL(EVENT_BASE_FLAG_STARTUP_IOCP); VAL(EVENT_BASE_FLAG_NO_CACHE_TIME);
	VAL(EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST); VAL(EVENT_BASE_FLAG_PRECISE_TIMER);
	VAL(EV_FEATURE_ET); VAL(EV_FEATURE_O1); VAL(EV_FEATURE_FDS); VAL(EV_FEATURE_EARLY_CLOSE);
	VAL(EVENT_BASE_COUNT_ACTIVE); VAL(EVENT_BASE_COUNT_VIRTUAL); VAL(EVENT_BASE_COUNT_ADDED);
	VAL(EVENT_MAX_PRIORITIES);
	VAL(EVENT_LOG_DEBUG); VAL(EVENT_LOG_MSG); VAL(EVENT_LOG_WARN); VAL(EVENT_LOG_ERR);
	VAL(EVENT_DBG_ALL); VAL(EVENT_DBG_NONE);
	VAL(LIBEVENT_VERSION_NUMBER);
	VAL(EVUTIL_INVALID_SOCKET);
	VAL(EVUTIL_EAI_ADDRFAMILY); VAL(EVUTIL_EAI_AGAIN); VAL(EVUTIL_EAI_BADFLAGS);
	VAL(EVUTIL_EAI_FAIL); VAL(EVUTIL_EAI_FAMILY); VAL(EVUTIL_EAI_MEMORY);
	VAL(EVUTIL_EAI_NODATA); VAL(EVUTIL_EAI_NONAME); VAL(EVUTIL_EAI_SERVICE);
	VAL(EVUTIL_EAI_SOCKTYPE); VAL(EVUTIL_EAI_SYSTEM); VAL(EVUTIL_EAI_CANCEL);
	VAL(EVUTIL_AI_PASSIVE); VAL(EVUTIL_AI_CANONNAME); VAL(EVUTIL_AI_NUMERICHOST);
	VAL(EVUTIL_AI_NUMERICSERV); VAL(EVUTIL_AI_V4MAPPED); VAL(EVUTIL_AI_ALL);
	VAL(EVUTIL_AI_ADDRCONFIG);
	VAL(EV_MONOT_PRECISE); VAL(EV_MONOT_FALLBACK);
	printf("sizeof(struct evutil_addrinfo) = %zu\n", sizeof(struct evutil_addrinfo));
	printf("LIBEVENT_VERSION = %s\n", LIBEVENT_VERSION);
	printf("event_get_version() = %s\n", event_get_version());
	printf("event_get_version_number() = %#x\n", (unsigned)event_get_version_number());
	return 0;
}
