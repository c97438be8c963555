/* A classic libevent program: a TCP echo server on the loopback and clients on the same loop.
 * Connections come and go: events are created and freed in callbacks, on fds that get reused. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <unistd.h>

#include "check.h"

#define CLIENTS 20
#define ROUNDS 5

static struct event_base *base;
static int done_clients, served;

struct client {
	evutil_socket_t fd;
	struct event ev; /* embedded */
	int round;
	char expect;
};

static void on_echo(evutil_socket_t fd, short what, void *arg)
{
	struct event *ev = arg;
	char buf[256];
	CHECK(what == EV_READ);
	ssize_t n = read(fd, buf, sizeof buf);
	if (n > 0) {
		CHECK(write(fd, buf, n) == n);
		return;
	}
	/* EOF: the connection is done, the event goes with it */
	served++;
	event_free(ev);
	evutil_closesocket(fd);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	for (;;) {
		evutil_socket_t fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return;
		CHECK(evutil_make_socket_nonblocking(fd) == 0);
		struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, on_echo, event_self_cbarg());
		CHECK(ev && event_add(ev, NULL) == 0);
	}
}

static void on_reply(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	CHECK(what & EV_READ);
	char b;
	ssize_t n = read(fd, &b, 1);
	if (n < 0)
		return;
	CHECK(n == 1 && b == c->expect);
	if (++c->round == ROUNDS) {
		CHECK(event_del(&c->ev) == 0);
		evutil_closesocket(fd);
		done_clients++; /* the server sees the EOF and frees its event */
		return;
	}
	c->expect++;
	CHECK(write(fd, &c->expect, 1) == 1);
}

int main(void)
{
	base = event_base_new();
	CHECK(base);
	evutil_socket_t lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(lfd >= 0);
	CHECK(evutil_make_listen_socket_reuseable(lfd) == 0);
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(lfd, (struct sockaddr *)&sin, sizeof sin) == 0);
	socklen_t len = sizeof sin;
	CHECK(getsockname(lfd, (struct sockaddr *)&sin, &len) == 0);
	CHECK(listen(lfd, 64) == 0);
	CHECK(evutil_make_socket_nonblocking(lfd) == 0);
	struct event acc;
	CHECK(event_assign(&acc, base, lfd, EV_READ | EV_PERSIST, on_accept, NULL) == 0);
	CHECK(event_add(&acc, NULL) == 0);

	static struct client clients[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		struct client *c = &clients[i];
		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(c->fd >= 0);
		CHECK(connect(c->fd, (struct sockaddr *)&sin, sizeof sin) == 0);
		CHECK(evutil_make_socket_nonblocking(c->fd) == 0);
		c->expect = (char)('a' + i);
		CHECK(event_assign(&c->ev, base, c->fd, EV_READ | EV_PERSIST, on_reply, c) == 0);
		CHECK(event_add(&c->ev, NULL) == 0);
		CHECK(write(c->fd, &c->expect, 1) == 1);
	}
	/* runs until every client finished and the server freed every connection's event */
	struct timeval limit = {10, 0};
	CHECK(event_base_loopexit(base, &limit) == 0);
	while (served < CLIENTS)
		CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
	CHECK(done_clients == CLIENTS);
	CHECK(event_base_got_exit(base) == 0);
	CHECK(event_del(&acc) == 0);
	evutil_closesocket(lfd);
	event_base_free(base);
	puts("ok");
	return 0;
}
