/* Callbacks that re-enter the library: add and delete other events, free their own event, free
 * another base, break the loop, start a loop on another base; a loop re-entered on its own base
 * is refused. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>

#include "check.h"

static struct event_base *base, *other;
static struct event *victim, *self_freer, *adder;
static struct event added_later;
static int victim_runs, later_runs, inner_runs, steps;

static void victim_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	victim_runs++;
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	later_runs++;
}

static void inner_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	inner_runs++;
	/* the outer loop runs: starting it again from here is refused */
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) == -1);
}

/* Deletes an active event before it runs, frees itself, adds a new event, runs another base's
 * loop, then frees that base. */
static void freer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	CHECK(arg == self_freer);
	steps++;
	CHECK(event_del(victim) == 0);
	event_free(self_freer);
	self_freer = NULL;
	struct timeval ms1 = {0, 1000};
	CHECK(evtimer_assign(&added_later, base, later_cb, NULL) == 0);
	CHECK(evtimer_add(&added_later, &ms1) == 0);
	CHECK(event_base_once(other, -1, EV_TIMEOUT, inner_cb, NULL, NULL) == 0);
	CHECK(event_base_dispatch(other) == 1);
	CHECK(inner_runs == 1);
	event_base_free(other);
	other = NULL;
}

static int persist_runs;
static void persist_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	/* a persistent event freed by its own callback mid-run */
	if (++persist_runs == 2)
		event_free(adder);
}

static int self_frees;
static void free_own_base(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	self_frees++;
	event_base_free(arg); /* its own base, from inside its loop */
	/* the base is gone for the program: refused from here on */
	CHECK(event_base_get_method(arg) == NULL);
}

static int breaks;
static void break_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	breaks++;
	event_base_loopbreak(base);
}

int main(void)
{
	base = event_base_new();
	other = event_base_new();
	CHECK(base && other);
	CHECK(event_base_priority_init(base, 2) == 0);

	self_freer = event_new(base, -1, 0, freer_cb, event_self_cbarg());
	victim = event_new(base, -1, 0, victim_cb, NULL);
	CHECK(event_priority_set(self_freer, 0) == 0);
	CHECK(event_priority_set(victim, 1) == 0);
	event_active(self_freer, EV_TIMEOUT, 1);
	event_active(victim, EV_TIMEOUT, 1);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(steps == 1);
	CHECK(victim_runs == 0);
	CHECK(later_runs == 1);
	CHECK(other == NULL);

	/* a persistent timer frees itself on its second run */
	adder = event_new(base, -1, EV_PERSIST, persist_cb, NULL);
	struct timeval ms1 = {0, 1000};
	CHECK(event_add(adder, &ms1) == 0);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(persist_runs == 2);

	/* a break from a callback stops the loop after it, and the loop runs again afterwards */
	struct event *b = event_new(base, -1, EV_PERSIST, break_cb, NULL);
	CHECK(event_add(b, &ms1) == 0);
	CHECK(event_base_dispatch(base) == 0);
	CHECK(event_base_dispatch(base) == 0);
	CHECK(breaks == 2);
	event_free(b);

	event_free(victim);

	if (!oracle()) {
		/* eventop: a callback may free its own base; the loop returns, then it is freed
		 * (libevent frees it under the running loop) */
		struct event_base *doomed = event_base_new();
		struct event t1, t2;
		CHECK(evtimer_assign(&t1, doomed, free_own_base, doomed) == 0);
		CHECK(evtimer_assign(&t2, doomed, free_own_base, doomed) == 0);
		CHECK(evtimer_add(&t1, &ms1) == 0);
		CHECK(evtimer_add(&t2, &ms1) == 0);
		CHECK(event_base_dispatch(doomed) == 0);
		CHECK(self_frees == 1);
		CHECK(!(t2.ev_evcallback.evcb_flags & EVLIST_TIMEOUT));
	}
	event_base_free(base);
	puts("ok");
	return 0;
}
