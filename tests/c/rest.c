/* The remaining functions: free_nofinalize, loopcontinue, del_block/noblock, max events, the
 * dispatch-interval and cpu hints, debug logging, the fatal callback, global shutdown. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>

#include "check.h"

static int finalized, runs;
static void fin(struct event *ev, void *arg)
{
	(void)ev;
	(void)arg;
	finalized++;
}

static struct event_base *base;
static void cont_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (arg)
		CHECK(event_base_loopcontinue(base) == 0);
	runs++;
}

static void fatal(int err)
{
	(void)err;
}

int main(void)
{
	event_set_fatal_callback(fatal);
	event_enable_debug_logging(EVENT_DBG_NONE);
	struct timeval long_tv = {100, 0}, max_interval = {0, 1000};

	struct event_config *cfg = event_config_new();
	CHECK(event_config_set_max_dispatch_interval(cfg, &max_interval, 10, 1) == 0);
	CHECK(event_config_set_num_cpus_hint(cfg, 2) == 0);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	CHECK(base);

	/* loopcontinue from a callback: the rest runs in the next iteration */
	struct event a, b;
	CHECK(event_assign(&a, base, -1, 0, cont_cb, &a) == 0);
	CHECK(event_assign(&b, base, -1, 0, cont_cb, NULL) == 0);
	event_active(&a, EV_TIMEOUT, 1);
	event_active(&b, EV_TIMEOUT, 1);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(runs == 2);

	/* del_block and del_noblock delete */
	CHECK(evtimer_add(&a, &long_tv) == 0);
	CHECK(evtimer_add(&b, &long_tv) == 0);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 2);
	CHECK(event_del_block(&a) == 0);
	CHECK(event_del_noblock(&b) == 0);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 0);

	/* the most events seen at once, and clearing it */
	CHECK(event_base_get_max_events(base, EVENT_BASE_COUNT_ADDED, 1) == 2);
	CHECK(event_base_get_max_events(base, EVENT_BASE_COUNT_ADDED, 0) == 0);

	/* event_base_free_nofinalize does not run pending finalizers; event_base_free does */
	struct event f;
	CHECK(event_assign(&f, base, -1, 0, cont_cb, NULL) == 0);
	CHECK(event_finalize(0, &f, fin) == 0);
	event_base_free_nofinalize(base);
	CHECK(finalized == 0);
	base = event_base_new();
	CHECK(event_assign(&f, base, -1, 0, cont_cb, NULL) == 0);
	CHECK(event_finalize(0, &f, fin) == 0);
	event_base_free(base);
	CHECK(finalized == 1);

	libevent_global_shutdown();
	puts("ok");
	return 0;
}
