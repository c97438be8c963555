/* eventop: libevent 2.1's core API. The libevent 1.x header (<event.h>): the core API, the
 * struct layout and the compat functions. Buffers, HTTP, DNS and RPC are not provided. */
#ifndef EVENT1_EVENT_H_INCLUDED_
#define EVENT1_EVENT_H_INCLUDED_

#include <event2/util.h>
#include <event2/event_struct.h>
#include <event2/event.h>
#include <event2/event_compat.h>

#endif
