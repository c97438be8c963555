/* Signals: a persistent signal event runs once per delivery; deleting it restores the old
 * disposition; a base freed with a signal event pending restores it too. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <signal.h>

#include "check.h"

static struct event_base *base;
static int hits;

static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct event *self = arg;
	CHECK(sig == SIGUSR1);
	CHECK(what == EV_SIGNAL);
	CHECK(event_get_signal(self) == SIGUSR1);
	if (++hits == 2)
		event_del(self);
	else
		raise(SIGUSR1);
}

static void count_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(*(int *)arg)++;
}

static volatile sig_atomic_t old_handler_hits;
static void old_handler(int sig)
{
	(void)sig;
	old_handler_hits++;
}

int main(void)
{
	signal(SIGUSR1, old_handler);
	base = event_base_new();
	CHECK(base);
	struct event *ev = evsignal_new(base, SIGUSR1, on_usr1, event_self_cbarg());
	CHECK(ev);
	CHECK(event_get_events(ev) == (EV_SIGNAL | EV_PERSIST));
	CHECK(evsignal_add(ev, NULL) == 0);
	CHECK(evsignal_pending(ev, NULL) == EV_SIGNAL);
	raise(SIGUSR1);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(hits == 2);
	CHECK(old_handler_hits == 0);

	/* deleted: the program's own handler is back */
	raise(SIGUSR1);
	CHECK(old_handler_hits == 1);

	/* freed with the event pending: the handler is back too */
	CHECK(evsignal_add(ev, NULL) == 0);
	event_base_free(base);
	raise(SIGUSR1);
	CHECK(old_handler_hits == 2);
	/* the event's memory stays valid, inert */
	CHECK(event_initialized(ev));

	if (!oracle()) {
		/* eventop: every base with an event for a signal receives each delivery (libevent:
		 * only the base that added a signal event last) */
		struct event_base *b1 = event_base_new(), *b2 = event_base_new();
		struct event s1, s2;
		int n1 = 0, n2 = 0;
		CHECK(evsignal_assign(&s1, b1, SIGUSR2, count_cb, &n1) == 0);
		CHECK(evsignal_assign(&s2, b2, SIGUSR2, count_cb, &n2) == 0);
		CHECK(evsignal_add(&s1, NULL) == 0);
		CHECK(evsignal_add(&s2, NULL) == 0);
		raise(SIGUSR2);
		CHECK(event_base_loop(b1, EVLOOP_NONBLOCK) == 0);
		CHECK(event_base_loop(b2, EVLOOP_NONBLOCK) == 0);
		CHECK(n1 == 1 && n2 == 1);
		event_base_free(b1);
		event_base_free(b2);
	}
	puts("ok");
	return 0;
}
