/* Bases on several threads at once, each used by one thread (libevent's rule without
 * evthread): nothing global is shared between them unsafely. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"

#define THREADS 4
#define ROUNDS 200

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(*(int *)arg)++;
}

static void *worker(void *unused)
{
	(void)unused;
	for (int round = 0; round < 20; round++) {
		struct event_base *base = event_base_new();
		CHECK(base);
		struct event evs[ROUNDS];
		int runs = 0;
		struct timeval zero = {0, 0};
		for (int i = 0; i < ROUNDS; i++) {
			CHECK(evtimer_assign(&evs[i], base, tick, &runs) == 0);
			CHECK(evtimer_add(&evs[i], &zero) == 0);
		}
		for (int i = 0; i < ROUNDS; i += 2)
			CHECK(evtimer_del(&evs[i]) == 0);
		CHECK(event_base_dispatch(base) == 1);
		CHECK(runs == ROUNDS / 2);
		event_base_free(base);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, NULL) == 0);
	worker(NULL);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	puts("ok");
	return 0;
}
