/* The chain benchmark in C (DESIGN.md, "Performance budget"), written only against libevent's
 * core API, so it builds on eventop's headers and on libevent's alike.
 *
 * chain [N] [M] [timeout]: N socketpairs (default 1000), each with a persistent READ event; one
 * byte goes into pair 0, and each callback reads its byte and writes one to the next pair, so
 * every loop iteration runs one event. Stops after M events (default 100000) and prints M. With
 * "timeout", every callback re-adds its event with a 1 s timeout. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int n = 1000;
static long m = 100000, count;
static int (*pairs)[2];
static struct event *evs;
static struct event_base *base;
static int use_timeout;
static const struct timeval one_sec = {1, 0};

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	long i = (long)arg;
	char c;
	if (what & EV_READ) {
		if (read(fd, &c, 1) != 1 || write(pairs[(i + 1) % n][1], &c, 1) != 1)
			abort();
	}
	if (use_timeout)
		event_add(&evs[i], &one_sec);
	if (++count == m)
		event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		n = atoi(argv[1]);
	if (argc > 2)
		m = atol(argv[2]);
	use_timeout = argc > 3 && strcmp(argv[3], "timeout") == 0;
	pairs = calloc(n, sizeof *pairs);
	evs = calloc(n, sizeof *evs);
	base = event_base_new();
	if (!pairs || !evs || !base)
		return 1;
	for (long i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]) != 0)
			return 1;
		event_assign(&evs[i], base, pairs[i][0], EV_READ | EV_PERSIST, on_read, (void *)i);
		event_add(&evs[i], use_timeout ? &one_sec : NULL);
	}
	if (write(pairs[0][1], "e", 1) != 1)
		return 1;
	event_base_dispatch(base);
	printf("%ld\n", count);
	event_base_free(base);
	return 0;
}
