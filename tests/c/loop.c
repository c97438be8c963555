/* The loop: timers in deadline order, persistent timers, loopexit and loopbreak with got_exit
 * and got_break, loopcontinue, ONCE and NONBLOCK runs, return values, event_base_once. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>

#include "check.h"

static struct event_base *base;
static int order[16], norder;

static void record(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	CHECK(what == EV_TIMEOUT);
	order[norder++] = (int)(long)arg;
}

static int ticks;
static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct event *self = arg;
	CHECK(event_pending(self, EV_TIMEOUT, NULL) == EV_TIMEOUT); /* persistent: re-armed */
	if (++ticks == 3)
		event_del(self);
}

static void breaker(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ticks++;
	CHECK(event_base_loopbreak(base) == 0);
}

static int once_res = -1;
static void once_cb(evutil_socket_t fd, short what, void *arg)
{
	CHECK(fd == -1);
	CHECK(arg == &once_res);
	once_res = what;
}

int main(void)
{
	base = event_base_new();
	CHECK(base);

	/* nothing pending: 1 */
	CHECK(event_base_dispatch(base) == 1);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) == 1);

	/* timers run in deadline order, whatever the order they were added in (100 ms apart: a
	 * timeout counts from its own add, and under valgrind on a busy machine adds are slow) */
	struct event t[4];
	int ms[4] = {300, 100, 400, 200};
	for (long i = 0; i < 4; i++) {
		struct timeval tv = {0, ms[i] * 1000};
		CHECK(evtimer_assign(&t[i], base, record, (void *)i) == 0);
		CHECK(evtimer_add(&t[i], &tv) == 0);
	}
	CHECK(event_base_dispatch(base) == 1);
	CHECK(norder == 4);
	CHECK(order[0] == 1 && order[1] == 3 && order[2] == 0 && order[3] == 2);
	for (int i = 0; i < 4; i++)
		CHECK(t[i].ev_evcallback.evcb_flags == EVLIST_INIT);

	/* a persistent timer fires until deleted */
	struct event *p = event_new(base, -1, EV_PERSIST, tick, event_self_cbarg());
	struct timeval ms1 = {0, 1000};
	CHECK(event_add(p, &ms1) == 0);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(ticks == 3);
	event_free(p);

	/* loopbreak from a callback ends the run: 0, got_break */
	ticks = 0;
	p = event_new(base, -1, EV_PERSIST, breaker, NULL);
	CHECK(event_add(p, &ms1) == 0);
	CHECK(event_base_dispatch(base) == 0);
	CHECK(ticks == 1);
	CHECK(event_base_got_break(base) == 1);
	CHECK(event_base_got_exit(base) == 0);
	event_free(p);

	/* a break asked for while no loop runs is forgotten */
	CHECK(event_base_loopbreak(base) == 0);
	struct event t1;
	evtimer_assign(&t1, base, record, (void *)9);
	norder = 0;
	CHECK(evtimer_add(&t1, &ms1) == 0);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(norder == 1 && order[0] == 9);
	CHECK(event_base_got_break(base) == 0);

	/* loopexit with a timeout ends a run that would go on forever; got_exit */
	struct timeval exit_after = {0, 20000};
	CHECK(event_base_loopexit(base, &exit_after) == 0);
	CHECK(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) == 0);
	CHECK(event_base_got_exit(base) == 1);
	CHECK(event_base_got_break(base) == 0);

	/* loopexit asked for before the loop is kept: the next run exits after one iteration */
	CHECK(event_base_loopexit(base, NULL) == 0);
	CHECK(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) == 0);
	CHECK(event_base_got_exit(base) == 1);

	/* EVLOOP_ONCE waits for one batch; NONBLOCK never waits */
	norder = 0;
	struct timeval ms5 = {0, 5000};
	evtimer_add(&t1, &ms5);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) == 0);
	CHECK(norder == 0);
	CHECK(evtimer_pending(&t1, NULL));
	CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
	CHECK(norder == 1);
	CHECK(!evtimer_pending(&t1, NULL));

	/* event_base_once with fd -1: a timeout, and EV_TIMEOUT with no time (next iteration) */
	CHECK(event_base_once(base, -1, EV_TIMEOUT, once_cb, &once_res, NULL) == 0);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 1);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) == 1); /* ran it, then found nothing pending */
	CHECK(once_res == EV_TIMEOUT);
	once_res = -1;
	CHECK(event_base_once(base, -1, EV_TIMEOUT, once_cb, &once_res, &ms1) == 0);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(once_res == EV_TIMEOUT);
	/* a once-event never run is freed with its base */
	CHECK(event_base_once(base, -1, EV_TIMEOUT, once_cb, &once_res, &exit_after) == 0);

	/* a timeout re-added with a new time replaces the old one; NULL keeps it */
	struct timeval long_tv = {100, 0}, got;
	CHECK(evtimer_add(&t1, &long_tv) == 0);
	CHECK(evtimer_add(&t1, &ms1) == 0);
	CHECK(evtimer_pending(&t1, &got));
	struct timeval now;
	evutil_gettimeofday(&now, NULL);
	CHECK(got.tv_sec <= now.tv_sec + 1);
	CHECK(evtimer_del(&t1) == 0);

	event_base_free(base);
	puts("ok");
	return 0;
}
