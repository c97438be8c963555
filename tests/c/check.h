/* Shared by the C tests: CHECK, and what the harness tells a test about its run.
 * Each test is built three ways (eventop's headers and library; Debian's headers run on
 * eventop's library; real libevent, the oracle) and run on every backend. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
			    #c);                                                   \
			exit(1);                                                   \
		}                                                                  \
	} while (0)

/* Running on real libevent (way (c)): checks of eventop's documented improvements are skipped. */
static inline int oracle(void)
{
	const char *e = getenv("EVENTOP_ORACLE");
	return e && e[0] == '1';
}

/* The backend the harness selected through EVENT_NO* (its libevent name). libevent has no
 * io_uring: where eventop takes io_uring, libevent takes epoll. */
static inline const char *expected_method(void)
{
	const char *e = getenv("EVENTOP_METHOD");
	if (!e || (oracle() && strcmp(e, "io_uring") == 0))
		return "epoll";
	return e;
}

/* The backend a base gets with the environment ignored: io_uring where the kernel allows it
 * (the harness says), else epoll. */
static inline const char *default_method(void)
{
	const char *e = getenv("EVENTOP_DEFAULT_METHOD");
	return e && !oracle() ? e : "epoll";
}

/* Whether `name` is one of Linux's own O(1) backends (epoll, with or without the changelist,
 * or io_uring). */
static inline int linux_o1(const char *name)
{
	return strncmp(name, "epoll", 5) == 0 || strcmp(name, "io_uring") == 0;
}

#endif
