/* eventop: libevent 2.1's core API. The libevent 1.x name of <event2/util.h>. */
#ifndef EVENT1_EVUTIL_H_INCLUDED_
#define EVENT1_EVUTIL_H_INCLUDED_

#include <event2/util.h>

#endif
