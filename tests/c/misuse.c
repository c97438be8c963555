/* eventop's boundary: NULL, freed bases, freed-base events and garbage memory get libevent's
 * error values and a message, never a crash. This is an eventop improvement (libevent crashes on
 * most of these), so the checks are skipped on the oracle. */
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/event_struct.h>
#include <event2/util.h>

#include "check.h"

static int nlogs;
static void on_log(int severity, const char *msg)
{
	(void)severity;
	CHECK(msg && msg[0]);
	nlogs++;
}

static void cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void fin(struct event *ev, void *arg)
{
	(void)ev;
	(void)arg;
}

static int each(const struct event_base *b, const struct event *ev, void *arg)
{
	(void)b;
	(void)ev;
	(void)arg;
	return 0;
}

int main(void)
{
	if (oracle()) {
		puts("ok (eventop only)");
		return 0;
	}
	event_set_log_callback(on_log);
	struct timeval tv = {1, 0};
	FILE *null_out = fopen("/dev/null", "w");

	/* NULL everywhere */
	event_base_free(NULL);
	CHECK(event_base_dispatch(NULL) == -1);
	CHECK(event_base_loop(NULL, 0) == -1);
	CHECK(event_base_loopexit(NULL, &tv) == -1);
	CHECK(event_base_loopbreak(NULL) == -1);
	CHECK(event_base_loopcontinue(NULL) == -1);
	CHECK(event_base_got_exit(NULL) == -1);
	CHECK(event_base_got_break(NULL) == -1);
	CHECK(event_base_get_method(NULL) == NULL);
	CHECK(event_base_get_features(NULL) == -1);
	CHECK(event_base_priority_init(NULL, 2) == -1);
	CHECK(event_base_get_npriorities(NULL) == -1);
	CHECK(event_base_get_num_events(NULL, EVENT_BASE_COUNT_ADDED) == -1);
	CHECK(event_base_get_max_events(NULL, EVENT_BASE_COUNT_ADDED, 0) == -1);
	CHECK(event_base_foreach_event(NULL, each, NULL) == -1);
	event_base_dump_events(NULL, null_out);
	CHECK(event_base_get_running_event(NULL) == NULL);
	event_base_active_by_fd(NULL, 0, EV_READ);
	event_base_active_by_signal(NULL, 1);
	CHECK(event_base_init_common_timeout(NULL, &tv) == NULL);
	CHECK(event_reinit(NULL) == -1);
	CHECK(event_base_once(NULL, -1, EV_TIMEOUT, cb, NULL, &tv) == -1);
	CHECK(event_base_update_cache_time(NULL) == -1);
	CHECK(event_add(NULL, &tv) == -1);
	CHECK(event_del(NULL) == -1);
	CHECK(event_remove_timer(NULL) == -1);
	event_active(NULL, EV_READ, 1);
	CHECK(event_pending(NULL, EV_READ, NULL) == 0);
	CHECK(!event_initialized(NULL));
	CHECK(event_get_fd(NULL) == -1);
	CHECK(event_get_base(NULL) == NULL);
	CHECK(event_priority_set(NULL, 0) == -1);
	CHECK(event_assign(NULL, NULL, -1, 0, cb, NULL) == -1);
	CHECK(event_finalize(0, NULL, fin) == -1);
	event_free(NULL);
	CHECK(event_config_avoid_method(NULL, "epoll") == -1);
	CHECK(event_config_set_flag(NULL, 0) == -1);
	event_config_free(NULL);
	CHECK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, NULL) == -1);
	CHECK(event_dispatch() == -1); /* no event_init */
	CHECK(nlogs > 20);

	/* a freed base: refused, not touched */
	struct event_base *base = event_base_new();
	struct event ev, pending;
	CHECK(event_assign(&ev, base, -1, 0, cb, NULL) == 0);
	CHECK(event_assign(&pending, base, -1, 0, cb, NULL) == 0);
	CHECK(event_add(&pending, &tv) == 0);
	event_base_free(base);
	event_base_free(base); /* twice: a warning */
	CHECK(event_base_dispatch(base) == -1);
	CHECK(event_base_get_method(base) == NULL);
	CHECK(event_add(&ev, &tv) == -1);
	CHECK(event_del(&pending) == 0); /* inert */
	CHECK(event_pending(&pending, EV_TIMEOUT, NULL) == 0);
	CHECK(event_assign(&ev, base, -1, 0, cb, NULL) == -1);

	/* garbage memory: not initialized, or pointing at no base */
	struct event junk;
	memset(&junk, 0xa5, sizeof junk);
	CHECK(event_add(&junk, &tv) == -1);
	CHECK(event_pending(&junk, EV_TIMEOUT, NULL) == 0);
	event_active(&junk, EV_TIMEOUT, 1);
	/* garbage with a live base: its handle is not trusted; the event is simply added anew */
	base = event_base_new();
	memset(&junk, 0xa5, sizeof junk);
	junk.ev_base = base;
	junk.ev_fd = -1;
	junk.ev_events = 0;
	junk.ev_evcallback.evcb_pri = 0;
	junk.ev_evcallback.evcb_flags = EVLIST_INIT;
	CHECK(event_del(&junk) == 0);
	CHECK(event_add(&junk, &tv) == 0);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 1);
	CHECK(event_del(&junk) == 0);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 0);
	/* an out-of-range priority read from memory is refused */
	junk.ev_evcallback.evcb_pri = 200;
	CHECK(event_add(&junk, &tv) == -1);

	/* debug mode: an event used after event_free is refused before its memory is read */
	event_enable_debug_mode();
	struct event *gone = event_new(base, -1, 0, cb, NULL);
	CHECK(gone);
	event_free(gone);
	int before = nlogs;
	CHECK(event_add(gone, &tv) == -1);
	CHECK(event_del(gone) == -1);
	CHECK(event_pending(gone, EV_TIMEOUT, NULL) == 0);
	CHECK(nlogs >= before + 2);
	/* assigning a pending event again: deleted first, with a warning */
	struct event twice;
	CHECK(event_assign(&twice, base, -1, 0, cb, NULL) == 0);
	CHECK(event_add(&twice, &tv) == 0);
	before = nlogs;
	CHECK(event_assign(&twice, base, -1, 0, cb, NULL) == 0);
	CHECK(nlogs == before + 1);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 0);

	event_base_free(base);
	fclose(null_out);
	puts("ok");
	return 0;
}
