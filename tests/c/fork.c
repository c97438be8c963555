/* Forking the way servers do, after the base exists: the child frees the base without
 * event_reinit, or calls event_reinit and runs its own loop, or forks from inside a callback
 * (a server forking per connection); the parent's events (I/O, a persistent timer, a signal)
 * keep working every time. On libevent's epoll, a child freeing the base it did not reinit
 * deletes the parent's fds from the epoll set they share (the parent goes deaf): that case's
 * parent checks are eventop's improvement, skipped on the oracle. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static struct event_base *base;
static int sv[2];
static int reads, ticks, signals;
static struct event rd, tick, sig;

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	char c;
	CHECK(read(fd, &c, 1) == 1);
	reads++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ticks++;
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	signals++;
}

/* The parent's three events each fire. */
static void parent_still_hears(void)
{
	int r = reads, t = ticks, s = signals;
	CHECK(write(sv[1], "p", 1) == 1);
	while (reads == r)
		CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
	while (ticks == t)
		CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
	CHECK(kill(getpid(), SIGUSR1) == 0);
	while (signals == s)
		CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
}

static void reap(pid_t pid)
{
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "child exited %d\n", WEXITSTATUS(status));
		exit(1);
	}
}

/* The child's own events after event_reinit: a pair of its own, and a timer. */
static int child_runs(void)
{
	int mine[2];
	if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, mine) != 0)
		return 10;
	if (event_del(&rd) != 0 || event_del(&sig) != 0)
		return 11;
	struct event my;
	reads = 0;
	if (event_assign(&my, base, mine[0], EV_READ, on_read, NULL) != 0 || event_add(&my, NULL) != 0)
		return 12;
	if (write(mine[1], "c", 1) != 1)
		return 13;
	int t = ticks;
	while (reads == 0 || ticks == t)
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			return 14;
	return 0;
}

static pid_t in_callback_child;
static void fork_here(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (event_reinit(base) != 0)
			_exit(20);
		event_base_loopbreak(base); /* the child leaves the parent's loop... */
		in_callback_child = -1;
		return;
	}
	in_callback_child = pid;
}

int main(void)
{
	base = event_base_new();
	CHECK(base);
	CHECK(strcmp(event_base_get_method(base), expected_method()) == 0);
	CHECK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(event_assign(&rd, base, sv[0], EV_READ | EV_PERSIST, on_read, NULL) == 0);
	CHECK(event_assign(&tick, base, -1, EV_PERSIST, on_tick, NULL) == 0);
	CHECK(evsignal_assign(&sig, base, SIGUSR1, on_signal, NULL) == 0);
	struct timeval ten_ms = {0, 10000};
	CHECK(event_add(&rd, NULL) == 0);
	CHECK(event_add(&tick, &ten_ms) == 0);
	CHECK(event_add(&sig, NULL) == 0);
	parent_still_hears();

	/* 1. The child frees the base it did not reinit. */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		event_base_free(base);
		_exit(0);
	}
	reap(pid);
	if (!oracle() || strcmp(expected_method(), "epoll") != 0)
		parent_still_hears();

	if (oracle() && strcmp(expected_method(), "epoll") == 0) {
		/* libevent's epoll set lost the parent's fds above: start again on a new base. */
		event_del(&rd);
		event_del(&tick);
		event_del(&sig);
		event_base_free(base);
		base = event_base_new();
		CHECK(event_assign(&rd, base, sv[0], EV_READ | EV_PERSIST, on_read, NULL) == 0);
		CHECK(event_assign(&tick, base, -1, EV_PERSIST, on_tick, NULL) == 0);
		CHECK(evsignal_assign(&sig, base, SIGUSR1, on_signal, NULL) == 0);
		CHECK(event_add(&rd, NULL) == 0);
		CHECK(event_add(&tick, &ten_ms) == 0);
		CHECK(event_add(&sig, NULL) == 0);
		parent_still_hears();
	}

	/* 2. The child calls event_reinit and runs a loop of its own, then frees the base. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (event_reinit(base) != 0)
			_exit(2);
		int r = child_runs();
		event_base_free(base);
		_exit(r);
	}
	reap(pid);
	parent_still_hears();

	/* 3. A callback forks (a server per connection); the child reinits, leaves the loop,
	 * runs its own, frees the base. */
	struct event forker;
	CHECK(event_assign(&forker, base, -1, 0, fork_here, NULL) == 0);
	event_active(&forker, EV_TIMEOUT, 1);
	CHECK(event_base_loop(base, EVLOOP_ONCE) == 0);
	if (in_callback_child == -1) {
		int r = child_runs();
		event_base_free(base);
		_exit(r == 0 ? 0 : 30 + r);
	}
	reap(in_callback_child);
	parent_still_hears();

	event_del(&rd);
	event_del(&tick);
	event_del(&sig);
	event_base_free(base);
	puts("ok");
	return 0;
}
