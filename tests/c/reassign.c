/* One struct event assigned, added and deleted a million times holds at most one event in the
 * base and no memory per round; events embedded in the caller's structs need no allocation. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <sys/resource.h>

#include "check.h"

static void cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(*(int *)arg)++;
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

struct conn {
	int id;
	struct event ev; /* embedded, as programs do */
	int runs;
};

int main(void)
{
	struct event_base *base = event_base_new();
	CHECK(base);
	struct event ev;
	int runs = 0;
	struct timeval tv = {5, 0};
	for (int i = 0; i < 1000; i++) { /* warm up: tables reach their size */
		CHECK(event_assign(&ev, base, -1, 0, cb, &runs) == 0);
		CHECK(event_add(&ev, &tv) == 0);
		CHECK(event_del(&ev) == 0);
	}
	long before = maxrss_kb();
	for (int i = 0; i < 1000000; i++) {
		CHECK(event_assign(&ev, base, -1, 0, cb, &runs) == 0);
		CHECK(event_add(&ev, &tv) == 0);
		CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 1);
		CHECK(event_del(&ev) == 0);
	}
	long grown = maxrss_kb() - before;
	printf("maxrss grew %ld KiB over a million rounds\n", grown);
	CHECK(grown < 1024);
	CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 0);

	if (!oracle()) {
		/* eventop: assigning a pending event again deletes it first (libevent would corrupt
		 * its lists), so a million re-assigns of a pending event still hold one */
		for (int i = 0; i < 1000000; i++) {
			CHECK(event_assign(&ev, base, -1, 0, cb, &runs) == 0);
			CHECK(event_add(&ev, &tv) == 0);
		}
		CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) == 1);
		CHECK(event_del(&ev) == 0);
	}

	/* events inside the caller's structs */
	struct conn conns[64];
	struct timeval ms1 = {0, 1000};
	for (int i = 0; i < 64; i++) {
		conns[i].id = i;
		conns[i].runs = 0;
		CHECK(event_assign(&conns[i].ev, base, -1, 0, cb, &conns[i].runs) == 0);
		CHECK(event_add(&conns[i].ev, &ms1) == 0);
	}
	CHECK(event_base_dispatch(base) == 1);
	for (int i = 0; i < 64; i++)
		CHECK(conns[i].runs == 1);
	CHECK(runs == 0);
	event_base_free(base);
	puts("ok");
	return 0;
}
