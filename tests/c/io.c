/* I/O: readiness on a socketpair, persistent and one-shot events, priorities (set on pending
 * timers too), event_active, event_base_active_by_fd, and event_base_loopcontinue. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static struct event_base *base;
static int reads;
static char last;

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct event *self = arg;
	CHECK(what & EV_READ);
	CHECK(event_base_get_running_event(base) == self);
	char c;
	CHECK(read(fd, &c, 1) == 1);
	last = c;
	if (++reads == 3)
		event_del(self);
}

static int seq[8], nseq;
static void prio_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	CHECK(nseq < 8);
	seq[nseq++] = (int)(long)arg;
}

/* Works 20 ms (the iteration's cached time grows old), then sets its own priority, twice: its
 * timeout keeps its deadline. */
static int reprioritized;
static void reprioritize(evutil_socket_t fd, short what, void *arg)
{
	struct event *self = arg;
	(void)fd;
	(void)what;
	reprioritized++;
	struct timeval before, after;
	CHECK(event_pending(self, EV_TIMEOUT, &before) == EV_TIMEOUT);
	usleep(20000);
	CHECK(event_priority_set(self, 2) == 0);
	CHECK(event_priority_set(self, reprioritized % 3) == 0);
	CHECK(event_get_priority(self) == reprioritized % 3);
	CHECK(event_pending(self, EV_TIMEOUT, &after) == EV_TIMEOUT);
	CHECK(before.tv_sec == after.tv_sec && before.tv_usec == after.tv_usec);
}

static int one_shot_runs;
static void one_shot(evutil_socket_t fd, short what, void *arg)
{
	(void)arg;
	CHECK(what == EV_WRITE);
	CHECK(fd >= 0);
	one_shot_runs++;
}

int main(void)
{
	base = event_base_new();
	CHECK(base);
	int sv[2];
	CHECK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(evutil_make_socket_nonblocking(sv[0]) == 0);
	CHECK(evutil_make_socket_nonblocking(sv[1]) == 0);

	/* a persistent reader, on the stack: three bytes, three callbacks */
	struct event rd;
	CHECK(event_assign(&rd, base, sv[0], EV_READ | EV_PERSIST, on_read, &rd) == 0);
	CHECK(event_add(&rd, NULL) == 0);
	CHECK(write(sv[1], "abc", 3) == 3);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(reads == 3 && last == 'c');
	CHECK(rd.ev_res == EV_READ);

	/* a one-shot writer runs once and is no longer pending */
	struct event *wr = event_new(base, sv[1], EV_WRITE, one_shot, NULL);
	CHECK(event_add(wr, NULL) == 0);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(one_shot_runs == 1);
	CHECK(!event_pending(wr, EV_WRITE, NULL));

	/* priorities: the highest non-empty queue runs first */
	CHECK(event_base_priority_init(base, 3) == 0);
	struct event e[3];
	for (long i = 0; i < 3; i++) {
		CHECK(event_assign(&e[i], base, -1, 0, prio_cb, (void *)i) == 0);
		CHECK(event_priority_set(&e[i], (int)(2 - i)) == 0);
	}
	for (int i = 0; i < 3; i++)
		event_active(&e[i], EV_TIMEOUT, 1);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(nseq == 3 && seq[0] == 2 && seq[1] == 1 && seq[2] == 0);

	/* event_priority_set on a pending timer changes its priority only: a persistent timer with
	 * a negative (zero) timeout whose callback sets its priority still fires in every pass */
	struct event z;
	CHECK(event_assign(&z, base, -1, EV_PERSIST, reprioritize, &z) == 0);
	struct timeval negative = {-5, 0};
	CHECK(event_add(&z, &negative) == 0);
	for (int i = 1; i <= 3; i++) {
		CHECK(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK) == 0);
		CHECK(reprioritized == i);
	}
	/* and a 10 s timer activated by hand keeps its new deadline (the callback checks) */
	struct timeval ten = {10, 0};
	CHECK(event_add(&z, &ten) == 0);
	event_active(&z, EV_TIMEOUT, 1);
	CHECK(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK) == 0);
	CHECK(reprioritized == 4);
	CHECK(event_del(&z) == 0);

	/* event_base_active_by_fd wakes the events on that fd with their interest */
	nseq = 0;
	struct event a, b;
	CHECK(event_assign(&a, base, sv[0], EV_READ, prio_cb, (void *)5) == 0);
	CHECK(event_assign(&b, base, sv[0], EV_WRITE, prio_cb, (void *)6) == 0);
	CHECK(event_add(&a, NULL) == 0);
	CHECK(event_add(&b, NULL) == 0);
	event_base_active_by_fd(base, sv[0], EV_READ);
	CHECK(event_pending(&a, EV_READ, NULL) == EV_READ);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	CHECK(nseq == 2 && seq[0] == 5 && seq[1] == 6);
	CHECK(event_del(&b) == 0);
	CHECK(event_del(&a) == 0);

	/* EV_CLOSED: the peer shut down its end. On select (no early-close report) eventop still
	 * reports it, from the fd's readiness; libevent never runs the event there. */
	struct event closed;
	nseq = 0;
	CHECK(event_assign(&closed, base, sv[0], EV_CLOSED, prio_cb, (void *)7) == 0);
	CHECK(event_add(&closed, NULL) == 0);
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	if (oracle() && strcmp(expected_method(), "select") == 0) {
		CHECK(nseq == 0);
		CHECK(event_del(&closed) == 0);
	} else {
		CHECK(nseq == 1 && seq[0] == 7 && closed.ev_res == EV_CLOSED);
	}

	/* edge- and level-triggered events on one fd: libevent accepts the mix (its debug mode
	 * refuses it); eventop refuses it always, since one registration cannot be both */
	struct event et, lt;
	CHECK(event_assign(&et, base, sv[0], EV_READ | EV_ET, prio_cb, NULL) == 0);
	CHECK(event_assign(&lt, base, sv[0], EV_WRITE, prio_cb, NULL) == 0);
	CHECK(event_add(&et, NULL) == 0);
	CHECK(event_add(&lt, NULL) == (oracle() ? 0 : -1));
	CHECK(event_del(&lt) == 0);
	CHECK(event_del(&et) == 0);

	event_free(wr);
	event_base_free(base);
	evutil_closesocket(sv[0]);
	evutil_closesocket(sv[1]);
	puts("ok");
	return 0;
}
