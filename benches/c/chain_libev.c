/* Contender: libev 4.33 through its native API, epoll backend. Each pair has an ev_io (always
 * persistent in libev) and, with a timeout, an ev_timer re-armed with ev_timer_again (libev's
 * idiom for an activity timeout). The cascade stops and restarts the ev_io from its callback
 * (libev's equivalent of a non-persistent event re-added). */
#include <ev.h>

#include "common.h"

static struct params p;
static int *fds;
static struct ev_loop *loop;
static ev_io *ios;
static ev_timer *tms;

static void rearm(long i)
{
	tms[i].repeat = p.timeout == T_RANDOM ? long_timeout_us() / 1e6 : 1.0;
	ev_timer_again(loop, &tms[i]);
}

static void io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	long i = w - ios;
	(void)revents;
	if (done()) return; /* ev_break ends the loop only after the pending queue */
	pass_byte(w->fd, fds[2 * (i + 1 == p.n ? 0 : i + 1) + 1]);
	if (p.workload == CASCADE) {
		ev_io_stop(l, w);
		ev_io_start(l, w);
	}
	if (p.timeout != T_NONE) rearm(i);
	if (tick()) ev_break(l, EVBREAK_ALL);
}

static void tm_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)revents;
	if (p.workload == TIMERS) {
		tick();
		return;
	}
	timeouts++;
	rearm(w - tms);
}

static void precision_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)revents;
	fired();
	if (!done()) {
		armed_ns = now_ns();
		ev_timer_set(w, 0.001, 0.);
		ev_timer_start(l, w);
	}
}

int main(int argc, char **argv)
{
	p = parse(argc, argv);
	static const unsigned int backends[] = { EVBACKEND_EPOLL, 0, EVBACKEND_POLL, EVBACKEND_SELECT };
	if (!backends[p.backend]) { fprintf(stderr, "libev has no changelist mode\n"); return 3; }
	loop = ev_loop_new(backends[p.backend]);
	if (!loop || ev_backend(loop) != backends[p.backend]) { fprintf(stderr, "ev_loop_new failed\n"); return 1; }
	if (p.workload == PRECISION) {
		ev_timer t;
		target = p.timers;
		lates = calloc(p.timers, sizeof *lates);
		uint64_t t0 = now_ns();
		ev_timer_init(&t, precision_cb, 0.001, 0.);
		ev_now_update(loop);
		armed_ns = now_ns();
		ev_timer_start(loop, &t);
		ev_run(loop, 0);
		report_precision(now_ns() - t0);
		return 0;
	}
	if (p.workload == TIMERS) {
		target = p.timers - (p.timers + 3) / 4;
		uint64_t t0 = now_ns();
		tms = calloc(p.timers, sizeof(ev_timer));
		for (long i = 0; i < p.timers; i++) {
			ev_timer_init(&tms[i], tm_cb, long_timeout_us() / 1e6, 0.);
			ev_timer_start(loop, &tms[i]);
		}
		for (long i = 0; i < p.timers; i++) {
			ev_timer_stop(loop, &tms[i]);
			ev_timer_set(&tms[i], short_timeout_us() / 1e6, 0.);
			ev_timer_start(loop, &tms[i]);
		}
		for (long i = 0; i < p.timers; i += 4) ev_timer_stop(loop, &tms[i]);
		ev_run(loop, 0);
		report(now_ns() - t0, 0);
		return 0;
	}
	fds = socketpairs(p.n);
	size_t before = heap_bytes();
	ios = calloc(p.n, sizeof(ev_io));
	if (p.timeout != T_NONE) tms = calloc(p.n, sizeof(ev_timer));
	for (long i = 0; i < p.n; i++) {
		ev_io_init(&ios[i], io_cb, fds[2 * i], EV_READ);
		ev_io_start(loop, &ios[i]);
		if (p.timeout != T_NONE) {
			ev_init(&tms[i], tm_cb);
			rearm(i);
		}
	}
	if (p.workload == SETUP) {
		ev_run(loop, EVRUN_NOWAIT);
		double bytes = (double)(heap_bytes() - before) / p.n;
		uint64_t t0 = now_ns();
		for (long r = 0; r < p.rounds; r++) {
			for (long i = 0; i < p.n; i++) ev_io_stop(loop, &ios[i]);
			ev_run(loop, EVRUN_NOWAIT);
			for (long i = 0; i < p.n; i++) ev_io_start(loop, &ios[i]);
			ev_run(loop, EVRUN_NOWAIT);
		}
		count = p.rounds * p.n;
		report(now_ns() - t0, bytes);
		return 0;
	}
	target = p.events;
	long space = p.n / p.active;
	for (long i = 0; i < p.active; i++) kick(fds[2 * (i * space) + 1]);
	uint64_t t0 = now_ns();
	if (p.form == BLOCK)
		ev_run(loop, 0);
	else
		while (!done()) ev_run(loop, EVRUN_NOWAIT);
	report(now_ns() - t0, 0);
	return 0;
}
