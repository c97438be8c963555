/* Bases, configs, events and their accessors, and misuse refused with libevent's error values. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <string.h>
#include <sys/time.h>

#include "check.h"

static int nlogs;
static void on_log(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
	nlogs++;
}

static void cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int main(void)
{
	event_set_log_callback(on_log);

	/* versions and methods */
	CHECK(strcmp(event_get_version(), "2.1.12-stable") == 0);
	CHECK(event_get_version_number() == 0x02010c00);
	const char **m = event_get_supported_methods();
	/* epoll, poll and select in that order; kqueue too where it is built in (eventop over
	 * libkqueue on Linux lists it last); eventop lists io_uring first on Linux (libevent has
	 * none). */
	CHECK(m);
	if (!oracle())
		CHECK(m[0] && strcmp((m++)[0], "io_uring") == 0);
	const char *want[] = {"epoll", "poll", "select"};
	size_t seen = 0;
	for (; *m; m++) {
		if (strcmp(*m, "kqueue") == 0)
			continue;
		CHECK(seen < 3 && strcmp(*m, want[seen]) == 0);
		seen++;
	}
	CHECK(seen == 3);

	struct event_base *base = event_base_new();
	CHECK(base);
	CHECK(strcmp(event_base_get_method(base), expected_method()) == 0);
	int feat = event_base_get_features(base);
	if (linux_o1(expected_method()))
		CHECK(feat == (EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE));
	else if (strcmp(expected_method(), "poll") == 0)
		CHECK(feat == (EV_FEATURE_FDS | EV_FEATURE_EARLY_CLOSE));
	else if (strcmp(expected_method(), "kqueue") == 0)
		CHECK(feat == (EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_FDS));
	else
		CHECK(feat == EV_FEATURE_FDS);

	/* configs: avoid, require, ignore the environment */
	struct event_config *cfg = event_config_new();
	CHECK(cfg);
	CHECK(event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV) == 0);
	struct event_base *b2 = event_base_new_with_config(cfg);
	CHECK(b2 && strcmp(event_base_get_method(b2), default_method()) == 0);
	event_base_free(b2);
	CHECK(event_config_avoid_method(cfg, "io_uring") == 0);
	CHECK(event_config_avoid_method(cfg, "epoll") == 0);
	b2 = event_base_new_with_config(cfg);
	CHECK(b2 && strcmp(event_base_get_method(b2), "poll") == 0);
	event_base_free(b2);
	CHECK(event_config_avoid_method(cfg, "poll") == 0);
	CHECK(event_config_avoid_method(cfg, "kqueue") == 0); /* built in over libkqueue */
	CHECK(event_config_require_features(cfg, EV_FEATURE_O1) == 0);
	b2 = event_base_new_with_config(cfg);
	CHECK(b2 == NULL); /* select lacks O1: no backend */
	event_config_free(cfg);
	cfg = event_config_new();
	CHECK(event_config_require_features(cfg, EV_FEATURE_O1) == 0);
	b2 = event_base_new_with_config(cfg);
	if (linux_o1(expected_method()) || strcmp(expected_method(), "kqueue") == 0)
		CHECK(b2 && strcmp(event_base_get_method(b2), expected_method()) == 0);
	else
		CHECK(b2 == NULL); /* EVENT_NOEPOLL (and EVENT_NOKQUEUE) leave nothing with O1 */
	if (b2)
		event_base_free(b2);
	CHECK(event_config_set_num_cpus_hint(cfg, 4) == 0);
	event_config_free(cfg);

	/* priorities */
	CHECK(event_base_get_npriorities(base) == 1);
	CHECK(event_base_priority_init(base, 0) == -1);
	CHECK(event_base_priority_init(base, 256) == -1);
	CHECK(event_base_priority_init(base, 5) == 0);
	CHECK(event_base_get_npriorities(base) == 5);

	/* events and accessors */
	int arg = 7;
	struct event *ev = event_new(base, 3, EV_READ | EV_PERSIST, cb, &arg);
	CHECK(ev);
	CHECK(event_initialized(ev));
	CHECK(event_get_fd(ev) == 3);
	CHECK(event_get_base(ev) == base);
	CHECK(event_get_events(ev) == (EV_READ | EV_PERSIST));
	CHECK(event_get_callback(ev) == cb);
	CHECK(event_get_callback_arg(ev) == &arg);
	CHECK(event_get_priority(ev) == 2); /* npriorities / 2 */
	CHECK(ev->ev_fd == 3 && ev->ev_events == (EV_READ | EV_PERSIST) && ev->ev_base == base);
	CHECK(ev->ev_evcallback.evcb_flags == EVLIST_INIT);
	CHECK(ev->ev_evcallback.evcb_pri == 2);
	CHECK(ev->ev_evcallback.evcb_arg == &arg);
	CHECK(ev->ev_evcallback.evcb_cb_union.evcb_callback == cb);
	struct event_base *ob;
	evutil_socket_t ofd;
	short oev;
	event_callback_fn ocb;
	void *oarg;
	event_get_assignment(ev, &ob, &ofd, &oev, &ocb, &oarg);
	CHECK(ob == base && ofd == 3 && oev == (EV_READ | EV_PERSIST) && ocb == cb && oarg == &arg);
	CHECK(event_priority_set(ev, 4) == 0);
	CHECK(event_get_priority(ev) == 4);
	CHECK(event_priority_set(ev, 5) == -1);
	CHECK(event_priority_set(ev, -1) == -1);
	CHECK(event_pending(ev, EV_READ | EV_TIMEOUT, NULL) == 0);
	event_free(ev);

	/* event_self_cbarg: the event is its own argument */
	ev = event_new(base, -1, 0, cb, event_self_cbarg());
	CHECK(ev && event_get_callback_arg(ev) == ev);

	/* a timer's pending state, flags and deadline */
	struct timeval tv = {10, 0}, out, now;
	CHECK(event_add(ev, &tv) == 0);
	CHECK(event_pending(ev, EV_TIMEOUT, NULL) == EV_TIMEOUT);
	CHECK(event_pending(ev, EV_READ, NULL) == 0);
	CHECK(ev->ev_evcallback.evcb_flags == (EVLIST_INIT | EVLIST_TIMEOUT));
	evutil_gettimeofday(&now, NULL);
	CHECK(event_pending(ev, EV_TIMEOUT, &out) == EV_TIMEOUT);
	CHECK(out.tv_sec >= now.tv_sec + 8 && out.tv_sec <= now.tv_sec + 11);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 1);
	CHECK(event_del(ev) == 0);
	CHECK(ev->ev_evcallback.evcb_flags == EVLIST_INIT);
	CHECK(event_pending(ev, EV_TIMEOUT, NULL) == 0);
	CHECK(event_del(ev) == 0); /* not pending: not an error */
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 0);
	event_free(ev);

	/* an I/O event with a timeout counts twice */
	int sv[2];
	CHECK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct event io;
	CHECK(event_assign(&io, base, sv[0], EV_READ, cb, NULL) == 0);
	CHECK(event_add(&io, &tv) == 0);
	CHECK(io.ev_evcallback.evcb_flags == (EVLIST_INIT | EVLIST_INSERTED | EVLIST_TIMEOUT));
	CHECK(event_pending(&io, EV_READ | EV_WRITE | EV_TIMEOUT, NULL) == (EV_READ | EV_TIMEOUT));
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 2);
	CHECK(event_remove_timer(&io) == 0);
	CHECK(event_pending(&io, EV_READ | EV_TIMEOUT, NULL) == EV_READ);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 1);
	event_active(&io, EV_WRITE, 0);
	CHECK(event_pending(&io, EV_WRITE, NULL) == EV_WRITE);
	CHECK(io.ev_evcallback.evcb_flags & EVLIST_ACTIVE);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 1);
	CHECK(event_priority_set(&io, 1) == -1); /* active */
	CHECK(event_base_priority_init(base, 3) == -1); /* events are active */
	event_active(&io, EV_READ, 0); /* ORed into the pending activation */
	CHECK(event_pending(&io, EV_READ | EV_WRITE, NULL) == (EV_READ | EV_WRITE));
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 1);
	CHECK(event_del(&io) == 0);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_ADDED) == 0);

	/* misuse: libevent's error values, each with a message */
	struct event zero;
	memset(&zero, 0, sizeof zero);
	CHECK(!event_initialized(&zero));
	int before = nlogs;
	CHECK(event_add(&zero, NULL) == -1);
	CHECK(nlogs > before);
	CHECK(event_del(&zero) == -1);
	CHECK(event_new(base, 1, EV_SIGNAL | EV_READ, cb, NULL) == NULL);
	CHECK(event_assign(&zero, base, 1, EV_SIGNAL | EV_WRITE, cb, NULL) == -1);
	CHECK(event_base_once(base, -1, EV_TIMEOUT | EV_PERSIST, cb, NULL, NULL) == -1);
	CHECK(event_base_once(base, -1, EV_SIGNAL, cb, NULL, NULL) == -1);
	CHECK(event_base_once(base, -1, 0, cb, NULL, NULL) == -1);

	/* time */
	struct timeval mono, cached;
	CHECK(event_gettime_monotonic(base, &mono) == 0);
	CHECK(mono.tv_sec > 0 || mono.tv_usec > 0);
	CHECK(event_base_gettimeofday_cached(base, &cached) == 0);
	evutil_gettimeofday(&now, NULL);
	CHECK(cached.tv_sec >= now.tv_sec - 1 && cached.tv_sec <= now.tv_sec + 1);
	CHECK(event_base_update_cache_time(base) == 0);

	evutil_closesocket(sv[0]);
	evutil_closesocket(sv[1]);
	event_base_free(base);
	event_set_log_callback(NULL);
	puts("ok");
	return 0;
}
