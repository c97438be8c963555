/* The libevent 1.x API: event_init, event_set, timeout_*, signal_*, event_once, event_loopexit,
 * event_dispatch, event_get_method, event_priority_init. */
#include <event.h>
#include <evutil.h>
#include <signal.h>

#include "check.h"

static int timeouts, onces, sigs;

static void on_timeout(int fd, short what, void *arg)
{
	(void)fd;
	(void)arg;
	CHECK(what == EV_TIMEOUT);
	timeouts++;
}

static void on_once(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	onces++;
}

static void on_sig(int sig, short what, void *arg)
{
	(void)what;
	CHECK(sig == SIGUSR2);
	sigs++;
	signal_del((struct event *)arg);
}

int main(void)
{
	struct event_base *base = event_init();
	CHECK(base);
	CHECK(strcmp(event_get_method(), event_base_get_method(base)) == 0);
	CHECK(event_priority_init(2) == 0);

	struct event t, s;
	struct timeval ms1 = {0, 1000};
	timeout_set(&t, on_timeout, NULL);
	CHECK(timeout_initialized(&t));
	CHECK(event_get_base(&t) == base);
	CHECK(event_get_priority(&t) == 1);
	CHECK(timeout_add(&t, &ms1) == 0);
	CHECK(timeout_pending(&t, NULL));
	signal_set(&s, SIGUSR2, on_sig, &s);
	CHECK(signal_add(&s, NULL) == 0);
	CHECK(event_once(-1, EV_TIMEOUT, on_once, NULL, &ms1) == 0);
	raise(SIGUSR2);
	CHECK(event_dispatch() == 1);
	CHECK(timeouts == 1 && onces == 1 && sigs == 1);

	evtimer_set(&t, on_timeout, NULL);
	CHECK(evtimer_add(&t, &ms1) == 0);
	CHECK(event_loop(EVLOOP_ONCE) == 0);
	CHECK(timeouts == 2);

	struct timeval ms10 = {0, 10000};
	CHECK(event_loopexit(&ms10) == 0);
	CHECK(event_loop(EVLOOP_NO_EXIT_ON_EMPTY) == 0);
	CHECK(event_base_got_exit(base));
	CHECK(event_loopbreak() == 0);

	/* event_base_set moves an assigned event to another base */
	struct event_base *b2 = event_base_new();
	struct event m;
	event_set(&m, -1, 0, on_timeout, NULL);
	CHECK(event_base_set(b2, &m) == 0);
	CHECK(event_get_base(&m) == b2);
	CHECK(evtimer_add(&m, &ms1) == 0);
	CHECK(event_base_dispatch(b2) == 1);
	CHECK(timeouts == 3);
	event_base_free(b2);
	event_base_free(base);
	puts("ok");
	return 0;
}
