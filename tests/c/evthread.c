/* A base shared between threads (evthread_use_pthreads): other threads add, delete and activate
 * its events and break its loop while it waits in the backend, and the loop wakes for each.
 * Pinned: event_del from another thread returns only after the event's running callback
 * returned, and the event does not run afterwards (libevent#225; 2.1.12 passes this too).
 * eventop's improvement, skipped on the oracle where it fails (EVENTOP_SHOW_BUGS=1 runs it there
 * too): deleting the only (earliest) timer from another thread re-arms the wait, so the loop
 * ends at once instead of at the deleted timer's deadline (libevent#1727). */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static struct event_base *base;

/* ---- a timer added from another thread while the loop waits for a later one ---- */

static double fired_at;
static void early(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fired_at = now();
	event_base_loopbreak(base);
}
static void late(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

static void *add_early(void *ev)
{
	sleep_ms(50);
	struct timeval t = {0, 20000};
	CHECK(event_add(ev, &t) == 0);
	return NULL;
}

/* EVENTOP_SHOW_BUGS=1: check the improvements on the oracle too (they fail there). */
static int improvements(void)
{
	const char *e = getenv("EVENTOP_SHOW_BUGS");
	return !oracle() || (e && e[0] == '1');
}

static void *del_it(void *ev)
{
	sleep_ms(50);
	CHECK(evtimer_del(ev) == 0);
	return NULL;
}

/* libevent#1727: the loop waits for a 3 s timer, its only event; another thread deletes it. */
static void deleting_the_earliest_timer_from_another_thread(void)
{
	struct event l;
	CHECK(evtimer_assign(&l, base, late, NULL) == 0);
	struct timeval three = {3, 0};
	CHECK(evtimer_add(&l, &three) == 0);
	pthread_t t;
	double start = now();
	CHECK(pthread_create(&t, NULL, del_it, &l) == 0);
	CHECK(event_base_dispatch(base) == 1); /* nothing left */
	CHECK(pthread_join(t, NULL) == 0);
	if (improvements())
		CHECK(now() - start < 1.5);
}

static void earliest_timer_from_another_thread(void)
{
	struct event e, l;
	CHECK(evtimer_assign(&e, base, early, NULL) == 0);
	CHECK(evtimer_assign(&l, base, late, NULL) == 0);
	struct timeval ten = {10, 0};
	CHECK(evtimer_add(&l, &ten) == 0);
	pthread_t t;
	double start = now();
	CHECK(pthread_create(&t, NULL, add_early, &e) == 0);
	CHECK(event_base_dispatch(base) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	double took = now() - start;
	CHECK(fired_at > 0);
	CHECK(took < 5); /* not the 10 s timer */
	evtimer_del(&e);
	evtimer_del(&l);
}

/* ---- activation, and loopbreak, from another thread wake a waiting loop ---- */

static atomic_int activated;
static void on_active(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)arg;
	CHECK(what & EV_READ);
	atomic_fetch_add(&activated, 1);
}

static void *activate_then_break(void *ev)
{
	sleep_ms(30);
	event_active(ev, EV_READ, 1);
	while (atomic_load(&activated) == 0)
		sleep_ms(1);
	sleep_ms(30);
	CHECK(event_base_loopbreak(base) == 0);
	return NULL;
}

static void activation_and_break_from_another_thread(void)
{
	struct event ev;
	CHECK(event_assign(&ev, base, -1, EV_READ, on_active, NULL) == 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, activate_then_break, &ev) == 0);
	CHECK(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(atomic_load(&activated) == 1);
	CHECK(event_base_got_break(base));
}

/* ---- event_del from another thread while the callback runs (libevent#225) ---- */

static atomic_int in_cb, runs;
static void slow(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	atomic_store(&in_cb, 1);
	atomic_fetch_add(&runs, 1);
	event_active(arg, EV_READ, 1); /* runs again next: libevent lets event_del return then */
	sleep_ms(20);
	atomic_store(&in_cb, 0);
}

static atomic_int del_ok;
static void *delete_while_running(void *ev)
{
	while (atomic_load(&runs) < 3)
		sleep_ms(1);
	CHECK(event_del(ev) == 0);
	/* Returned: the callback is not running, and never runs again. */
	int was_running = atomic_load(&in_cb);
	int after = atomic_load(&runs);
	sleep_ms(100);
	atomic_store(&del_ok, !was_running && atomic_load(&runs) == after);
	CHECK(event_base_loopbreak(base) == 0);
	return NULL;
}

static void del_waits_for_the_running_callback(void)
{
	struct event ev;
	CHECK(event_assign(&ev, base, -1, EV_READ, slow, &ev) == 0);
	event_active(&ev, EV_READ, 1);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, delete_while_running, &ev) == 0);
	CHECK(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(atomic_load(&del_ok)); /* 2.1.12 passes this too (its fix of libevent#225) */
}

/* ---- many threads adding, deleting and activating while the loop runs ---- */

#define WORKERS 4
#define ROUNDS 2000
static struct event work[WORKERS];
static atomic_int work_runs[WORKERS], workers_done;
static void on_work(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	atomic_fetch_add(&work_runs[(int)(intptr_t)arg], 1);
}

static void *worker(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct timeval soon = {0, 100};
	for (int r = 0; r < ROUNDS; r++) {
		CHECK(event_add(&work[i], &soon) == 0);
		if (r % 3 == 0)
			CHECK(event_del(&work[i]) == 0);
		else if (r % 3 == 1)
			event_active(&work[i], EV_TIMEOUT, 1);
	}
	CHECK(event_del(&work[i]) == 0);
	event_active(&work[i], EV_TIMEOUT, 1); /* one run at least, after the last delete */
	if (atomic_fetch_add(&workers_done, 1) == WORKERS - 1) {
		/* Each worker's last activation runs before the exit (loopexit's end of iteration). */
		while (1) {
			int all = 1;
			for (int w = 0; w < WORKERS; w++)
				all &= atomic_load(&work_runs[w]) > 0;
			if (all)
				break;
			sleep_ms(1);
		}
		CHECK(event_base_loopexit(base, NULL) == 0);
	}
	return NULL;
}

static void many_threads_at_once(void)
{
	for (int i = 0; i < WORKERS; i++)
		CHECK(evtimer_assign(&work[i], base, on_work, (void *)(intptr_t)i) == 0);
	pthread_t t[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
	CHECK(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) == 0);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	for (int i = 0; i < WORKERS; i++) {
		CHECK(atomic_load(&work_runs[i]) > 0);
		event_del(&work[i]);
	}
}

/* ---- a base made before threading, made notifiable ---- */

static void *break_it(void *b)
{
	sleep_ms(30);
	CHECK(event_base_loopbreak(b) == 0);
	return NULL;
}

/* ---- fork: parent and child each wake their own loop ---- */

static void *break_soon(void *b)
{
	sleep_ms(50);
	CHECK(event_base_loopbreak(b) == 0);
	return NULL;
}

/* A child forked from a shared base, without event_reinit, loops and is woken by a thread of
 * its own, while the parent is woken by its own thread: no wake-up is taken by the other.
 * eventop's improvement: libevent's child and parent share its notification pipe, and one
 * takes the other's wake-up (its child hangs), so this is skipped on the oracle. */
static void fork_a_shared_base(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	pthread_t t;
	if (pid == 0) {
		for (int i = 0; i < 5; i++) {
			if (pthread_create(&t, NULL, break_soon, base) != 0)
				_exit(2);
			if (event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) != 0)
				_exit(3);
			pthread_join(t, NULL);
		}
		_exit(0);
	}
	for (int i = 0; i < 5; i++) {
		double start = now();
		CHECK(pthread_create(&t, NULL, break_soon, base) == 0);
		CHECK(event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) == 0);
		CHECK(pthread_join(t, NULL) == 0);
		CHECK(now() - start < 4);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	struct event_base *before = event_base_new();
	CHECK(before);
	CHECK(evthread_use_pthreads() == 0);
	evthread_enable_lock_debugging();
	base = event_base_new();
	CHECK(base);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 0);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) == 1); /* the wake-up event is internal */

	earliest_timer_from_another_thread();
	deleting_the_earliest_timer_from_another_thread();
	activation_and_break_from_another_thread();
	del_waits_for_the_running_callback();
	many_threads_at_once();
	if (improvements())
		fork_a_shared_base();

	CHECK(evthread_make_base_notifiable(before) == 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, break_it, before) == 0);
	CHECK(event_base_loop(before, EVLOOP_NO_EXIT_ON_EMPTY) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	event_base_free(before);

	CHECK(event_base_dispatch(base) == 1);
	event_base_free(base);
	puts("ok");
	return 0;
}
