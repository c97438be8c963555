/* evcb_flags (libevent's ev_flags) as programs read it: EVLIST_INIT after assign, INSERTED and
 * TIMEOUT while pending, ACTIVE after event_active or once the backend or a timeout activated
 * it, and inside a callback what libevent leaves:
 * a one-shot event is no longer pending, a persistent one still is. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <unistd.h>

#include "check.h"

#define FLAGS(ev) ((ev)->ev_evcallback.evcb_flags)

static int runs;

static void one_shot(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct event *self = arg;
	CHECK(FLAGS(self) == EVLIST_INIT);
	CHECK(self->ev_res == what);
	runs++;
}

static void persistent(evutil_socket_t fd, short what, void *arg)
{
	struct event *self = arg;
	CHECK(what == EV_READ);
	CHECK(self->ev_res == EV_READ);
	CHECK(FLAGS(self) == (EVLIST_INIT | EVLIST_INSERTED | EVLIST_TIMEOUT));
	char c;
	CHECK(read(fd, &c, 1) == 1);
	runs++;
	CHECK(event_del(self) == 0);
	CHECK(FLAGS(self) == EVLIST_INIT);
}

/* The first of two events activated together sees the other one queued: ACTIVE, with its
 * res; a one-shot I/O event still INSERTED (libevent deletes it only when it runs), a timer no
 * longer TIMEOUT. The second sees the first done. */
static int peers;
static void queued_peer(evutil_socket_t fd, short what, void *arg)
{
	struct event *other = arg;
	if (fd >= 0) {
		char c;
		CHECK(read(fd, &c, 1) == 1);
	}
	if (peers++ == 0) {
		short want = what == EV_READ ? EVLIST_INIT | EVLIST_ACTIVE | EVLIST_INSERTED
					     : EVLIST_INIT | EVLIST_ACTIVE;
		CHECK(FLAGS(other) == want);
		CHECK(other->ev_res == what);
		CHECK(event_pending(other, EV_READ | EV_TIMEOUT, NULL) == what);
	} else {
		CHECK(FLAGS(other) == EVLIST_INIT);
	}
}

int main(void)
{
	struct event_base *base = event_base_new();
	CHECK(base);
	int sv[2];
	CHECK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct timeval ms1 = {0, 1000}, long_tv = {100, 0};

	struct event t;
	CHECK(evtimer_assign(&t, base, one_shot, &t) == 0);
	CHECK(FLAGS(&t) == EVLIST_INIT);
	CHECK(evtimer_add(&t, &ms1) == 0);
	CHECK(FLAGS(&t) == (EVLIST_INIT | EVLIST_TIMEOUT));
	CHECK(event_base_dispatch(base) == 1);
	CHECK(runs == 1 && FLAGS(&t) == EVLIST_INIT);

	/* activated by hand: ACTIVE, and not inserted */
	event_active(&t, EV_WRITE, 1);
	CHECK(FLAGS(&t) == (EVLIST_INIT | EVLIST_ACTIVE));
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	CHECK(runs == 2 && FLAGS(&t) == EVLIST_INIT);

	/* a persistent I/O event with a timeout keeps INSERTED and TIMEOUT in its callback */
	struct event rd;
	CHECK(event_assign(&rd, base, sv[0], EV_READ | EV_PERSIST, persistent, &rd) == 0);
	CHECK(event_add(&rd, &long_tv) == 0);
	CHECK(FLAGS(&rd) == (EVLIST_INIT | EVLIST_INSERTED | EVLIST_TIMEOUT));
	CHECK(write(sv[1], "x", 1) == 1);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(runs == 3);

	/* a one-shot I/O event whose timeout fires first: not pending in its callback */
	struct event io;
	CHECK(event_assign(&io, base, sv[0], EV_READ, one_shot, &io) == 0);
	CHECK(event_add(&io, &ms1) == 0);
	CHECK(FLAGS(&io) == (EVLIST_INIT | EVLIST_INSERTED | EVLIST_TIMEOUT));
	CHECK(event_base_dispatch(base) == 1);
	CHECK(runs == 4 && io.ev_res == EV_TIMEOUT && FLAGS(&io) == EVLIST_INIT);

	/* event_remove_timer keeps INSERTED only */
	CHECK(event_add(&io, &long_tv) == 0);
	CHECK(event_remove_timer(&io) == 0);
	CHECK(FLAGS(&io) == (EVLIST_INIT | EVLIST_INSERTED));
	CHECK(event_del(&io) == 0);
	CHECK(FLAGS(&io) == EVLIST_INIT);

	/* activated by the backend or a timeout and waiting behind another callback: ACTIVE (and
	 * ev_res) until its own callback runs, as libevent sets them when it activates */
	int sv2[2];
	CHECK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0);
	struct event a, b;
	CHECK(event_assign(&a, base, sv[0], EV_READ, queued_peer, &b) == 0);
	CHECK(event_assign(&b, base, sv2[0], EV_READ, queued_peer, &a) == 0);
	CHECK(event_add(&a, NULL) == 0 && event_add(&b, NULL) == 0);
	CHECK(write(sv[1], "x", 1) == 1 && write(sv2[1], "x", 1) == 1);
	peers = 0;
	CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
	CHECK(peers == 2);
	struct timeval zero = {0, 0};
	CHECK(evtimer_assign(&a, base, queued_peer, &b) == 0);
	CHECK(evtimer_assign(&b, base, queued_peer, &a) == 0);
	CHECK(evtimer_add(&a, &zero) == 0 && evtimer_add(&b, &zero) == 0);
	peers = 0;
	CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
	CHECK(peers == 2);
	evutil_closesocket(sv2[0]);
	evutil_closesocket(sv2[1]);

	/* a READ event on fd -1: inserted and counted, keeps the loop running, never fires; with a
	 * timeout it counts twice */
	struct event none;
	CHECK(event_assign(&none, base, -1, EV_READ, one_shot, &none) == 0);
	CHECK(event_add(&none, NULL) == 0);
	CHECK(FLAGS(&none) == (EVLIST_INIT | EVLIST_INSERTED));
	CHECK(event_pending(&none, EV_READ | EV_WRITE, NULL) == EV_READ);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 1);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) == 0); /* not "nothing pending" */
	CHECK(event_add(&none, &long_tv) == 0);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 2);
	CHECK(event_del(&none) == 0);
	CHECK(FLAGS(&none) == EVLIST_INIT);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 0);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) == 1);

	event_base_free(base);
	evutil_closesocket(sv[0]);
	evutil_closesocket(sv[1]);
	puts("ok");
	return 0;
}
