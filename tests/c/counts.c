/* event_base_get_num_events and _get_max_events as libevent keeps them: an event counts as added
 * once for each list it is on (its fd's, the timers, the active queues), and an event activated
 * by its timeout is on the active queue alone. */
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static struct event_base *base;
static int want_active, want_added, seen;

static int added(void)
{
	return event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
}

/* The first callback of an iteration checks what is still queued behind it. */
static void look(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (seen++)
		return;
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == want_active);
	CHECK(added() == want_added);
}

int main(void)
{
	base = event_base_new();
	CHECK(base);
	struct timeval sec = {1, 0}, ms = {0, 1000};
	int a[2], b[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);

	/* activated without an add: active, and added once for it */
	struct event *u = event_new(base, -1, 0, look, NULL);
	event_active(u, EV_WRITE, 1);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 1);
	CHECK(added() == 1);
	/* a timer: once more; an fd with a timeout: twice more */
	struct event *t = evtimer_new(base, look, NULL);
	CHECK(evtimer_add(t, &sec) == 0);
	CHECK(added() == 2);
	struct event *io = event_new(base, a[0], EV_READ, look, NULL);
	CHECK(event_add(io, &sec) == 0);
	CHECK(added() == 4);
	CHECK(event_base_get_num_events(base,
	          EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_VIRTUAL) == 5);
	CHECK(event_base_get_max_events(base, EVENT_BASE_COUNT_ADDED, 0) == 4);
	want_active = 0;
	want_added = 3;
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) == 0);
	CHECK(seen == 1);
	CHECK(added() == 3);
	CHECK(event_del(t) == 0 && event_del(io) == 0);
	CHECK(added() == 0);
	CHECK(event_base_get_max_events(base, EVENT_BASE_COUNT_ADDED, 1) == 4);
	CHECK(event_base_get_max_events(base, EVENT_BASE_COUNT_ADDED, 0) == 0);

	/* two one-shot READ events ready at once: while the first runs, the second is on its fd's
	 * list and the active queue */
	struct event *r2 = event_new(base, b[0], EV_READ, look, NULL);
	CHECK(event_add(io, NULL) == 0 && event_add(r2, NULL) == 0);
	CHECK(write(a[1], "a", 1) == 1 && write(b[1], "b", 1) == 1);
	seen = 0;
	want_active = 1;
	want_added = 2;
	CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
	CHECK(seen == 2);
	CHECK(added() == 0);

	/* a persistent event timed out, seen from the callback queued before it: only its
	 * activation counts */
	char c;
	CHECK(read(a[0], &c, 1) == 1 && read(b[0], &c, 1) == 1);
	struct event *p = event_new(base, a[0], EV_READ | EV_PERSIST, look, NULL);
	CHECK(event_add(p, &ms) == 0);
	/* well past its deadline on libevent's coarse clock too (a tick of up to 4 ms) */
	usleep(20000);
	event_active(u, EV_WRITE, 1);
	seen = 0;
	want_active = 1;
	want_added = 1;
	CHECK(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK) == 0);
	CHECK(seen == 2);
	/* and once its callback ran it is pending again: its fd and its timeout */
	CHECK(added() == 2);

	event_free(p);
	event_free(r2);
	event_free(io);
	event_free(t);
	event_free(u);
	CHECK(added() == 0);
	event_base_free(base);
	puts("ok");
	return 0;
}
