/* Contender: libevent 2.1 through its public core API only (event2/event.h and
 * event2/event_struct.h), so the same source builds against eventop's C headers.
 * Events come from event_new (as eventop's std API allocates a record per event); timers live
 * in one array with event_assign, as libevent's own benchmarks keep them. Timeouts are re-armed
 * with event_add from each callback. */
#include <event2/event.h>
#include <event2/event_struct.h>

#include "common.h"

static struct params p;
static int *fds;
static struct event_base *base;
static struct event **evs;

static struct timeval chain_tv(void)
{
	struct timeval tv = { 1, 0 };
	if (p.timeout == T_RANDOM) {
		uint64_t us = long_timeout_us();
		tv.tv_sec = us / 1000000;
		tv.tv_usec = us % 1000000;
	}
	return tv;
}

static void readd(struct event *ev)
{
	if (p.timeout == T_NONE) {
		event_add(ev, NULL);
	} else {
		struct timeval tv = chain_tv();
		event_add(ev, &tv);
	}
}

static void link_cb(evutil_socket_t fd, short what, void *arg)
{
	long i = (long)(intptr_t)arg;
	if (!(what & EV_READ)) {
		timeouts++;
		readd(evs[i]);
		return;
	}
	pass_byte(fd, fds[2 * (i + 1 == p.n ? 0 : i + 1) + 1]);
	if (p.workload == CASCADE || p.timeout != T_NONE) readd(evs[i]);
	if (tick()) event_base_loopbreak(base);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	tick();
}

static struct event precision_ev;

static void precision_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	fired();
	if (!done()) {
		struct timeval tv = { 0, 1000 };
		armed_ns = now_ns();
		event_add(&precision_ev, &tv);
	}
}

static void run(void)
{
	if (p.form == BLOCK)
		event_base_dispatch(base);
	else
		while (!done()) event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* A base on `b`, selected through the public API; exits with 3 if that is not what it got. */
static struct event_base *new_base(enum backend b)
{
	static const char *const names[] = { "epoll", "epoll (with changelist)", "poll", "select" };
	struct event_config *cfg = event_config_new();
	if (b == B_CHANGELIST) event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	if (b == B_POLL || b == B_SELECT) event_config_avoid_method(cfg, "epoll");
	if (b == B_SELECT) event_config_avoid_method(cfg, "poll");
	struct event_base *base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!base) { fprintf(stderr, "event_base_new_with_config failed\n"); exit(1); }
	if (strcmp(event_base_get_method(base), names[b])) {
		fprintf(stderr, "asked for %s, got %s\n", names[b], event_base_get_method(base));
		exit(3);
	}
	return base;
}

int main(int argc, char **argv)
{
	p = parse(argc, argv);
	base = new_base(p.backend);
	if (p.workload == PRECISION) {
		target = p.timers;
		lates = calloc(p.timers, sizeof *lates);
		struct timeval tv = { 0, 1000 };
		uint64_t t0 = now_ns();
		event_assign(&precision_ev, base, -1, 0, precision_cb, NULL);
		armed_ns = now_ns();
		event_add(&precision_ev, &tv);
		event_base_dispatch(base);
		report_precision(now_ns() - t0);
		return 0;
	}
	if (p.workload == TIMERS) {
		target = p.timers - (p.timers + 3) / 4;
		uint64_t t0 = now_ns();
		struct event *tev = calloc(p.timers, sizeof(struct event));
		for (long i = 0; i < p.timers; i++) {
			uint64_t us = long_timeout_us();
			struct timeval tv = { us / 1000000, us % 1000000 };
			event_assign(&tev[i], base, -1, 0, timer_cb, NULL);
			event_add(&tev[i], &tv);
		}
		for (long i = 0; i < p.timers; i++) {
			uint64_t us = short_timeout_us();
			struct timeval tv = { us / 1000000, us % 1000000 };
			event_add(&tev[i], &tv);
		}
		for (long i = 0; i < p.timers; i += 4) event_del(&tev[i]);
		event_base_dispatch(base);
		report(now_ns() - t0, 0);
		return 0;
	}
	fds = socketpairs(p.n);
	short what = p.workload == CASCADE ? EV_READ : EV_READ | EV_PERSIST;
	size_t before = heap_bytes();
	evs = calloc(p.n, sizeof(*evs));
	for (long i = 0; i < p.n; i++) {
		evs[i] = event_new(base, fds[2 * i], what, link_cb, (void *)(intptr_t)i);
		if (p.workload == SETUP || p.timeout == T_NONE) {
			event_add(evs[i], NULL);
		} else {
			struct timeval tv = chain_tv();
			event_add(evs[i], &tv);
		}
	}
	if (p.workload == SETUP) {
		double bytes = (double)(heap_bytes() - before) / p.n;
		uint64_t t0 = now_ns();
		for (long r = 0; r < p.rounds; r++) {
			for (long i = 0; i < p.n; i++) event_del(evs[i]);
			event_base_loop(base, EVLOOP_NONBLOCK);
			for (long i = 0; i < p.n; i++) event_add(evs[i], NULL);
			event_base_loop(base, EVLOOP_NONBLOCK);
		}
		count = p.rounds * p.n;
		report(now_ns() - t0, bytes);
		return 0;
	}
	target = p.events;
	long space = p.n / p.active;
	for (long i = 0; i < p.active; i++) kick(fds[2 * (i * space) + 1]);
	uint64_t t0 = now_ns();
	run();
	report(now_ns() - t0, 0);
	return 0;
}
