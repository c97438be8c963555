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

/* The backend the harness selected through EVENT_NO* (its libevent name). */
static inline const char *expected_method(void)
{
	const char *e = getenv("EVENTOP_METHOD");
	return e ? e : "epoll";
}

#endif
