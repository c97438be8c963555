/* The rest of the base's API: finalizers, foreach, dump, active_by_signal, common timeouts,
 * memory functions, event_reinit in a forked child, base free with events pending, evutil. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int finalized, runs;
static void fin(struct event *ev, void *arg)
{
	CHECK(arg == &finalized);
	CHECK(!event_pending(ev, EV_TIMEOUT | EV_READ, NULL));
	finalized++;
}

static void cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	runs++;
}

static int seen;
static int count_cb(const struct event_base *b, const struct event *ev, void *arg)
{
	(void)b;
	CHECK(event_initialized(ev));
	seen++;
	return arg ? 7 : 0;
}

static size_t allocs, frees;
static void *my_malloc(size_t n)
{
	allocs++;
	return malloc(n);
}
static void *my_realloc(void *p, size_t n) { return realloc(p, n); }
static void my_free(void *p)
{
	if (p)
		frees++;
	free(p);
}

int main(void)
{
	struct event_base *base = event_base_new();
	CHECK(base);
	struct timeval ms1 = {0, 1000}, long_tv = {100, 0};

	/* finalize: the event is deleted at once and the finalizer runs from the loop */
	struct event *f = event_new(base, -1, 0, cb, &finalized);
	CHECK(event_add(f, &long_tv) == 0);
	CHECK(event_free_finalize(0, f, fin) == 0);
	CHECK(finalized == 0);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	CHECK(finalized == 1 && runs == 0);
	struct event g;
	CHECK(event_assign(&g, base, -1, 0, cb, &finalized) == 0);
	CHECK(event_add(&g, &long_tv) == 0);
	CHECK(event_finalize(0, &g, fin) == 0);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	CHECK(finalized == 2 && runs == 0);

	/* foreach: every pending event; a non-zero return stops and is returned */
	struct event a, b;
	evtimer_assign(&a, base, cb, NULL);
	evtimer_assign(&b, base, cb, NULL);
	evtimer_add(&a, &long_tv);
	evtimer_add(&b, &long_tv);
	CHECK(event_base_foreach_event(base, count_cb, NULL) == 0);
	CHECK(seen == 2);
	seen = 0;
	CHECK(event_base_foreach_event(base, count_cb, &seen) == 7);
	CHECK(seen == 1);

	/* dump: a listing that names the events */
	FILE *tmp = tmpfile();
	CHECK(tmp);
	event_base_dump_events(base, tmp);
	long len = ftell(tmp);
	CHECK(len > 0);
	char buf[4096] = {0};
	rewind(tmp);
	CHECK(fread(buf, 1, sizeof buf - 1, tmp) > 0);
	CHECK(strstr(buf, "Inserted events") != NULL);
	fclose(tmp);
	evtimer_del(&a);
	evtimer_del(&b);

	/* common timeouts: the same duration gives the same marked timeval, which event_add takes */
	struct timeval d = {0, 2000};
	const struct timeval *c1 = event_base_init_common_timeout(base, &d);
	const struct timeval *c2 = event_base_init_common_timeout(base, &d);
	CHECK(c1 && c1 == c2);
	runs = 0;
	CHECK(evtimer_add(&a, c1) == 0);
	CHECK(evtimer_add(&b, c1) == 0);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(runs == 2);

	/* active_by_signal: runs the signal's events as one delivery */
	struct event s;
	runs = 0;
	CHECK(evsignal_assign(&s, base, SIGUSR1, cb, NULL) == 0);
	CHECK(evsignal_add(&s, NULL) == 0);
	event_base_active_by_signal(base, SIGUSR1);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	CHECK(runs == 1);
	CHECK(evsignal_del(&s) == 0);

	/* event_reinit in a forked child, then the child's loop works */
	int sv[2];
	CHECK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct event rd;
	CHECK(event_assign(&rd, base, sv[0], EV_READ, cb, NULL) == 0);
	CHECK(event_add(&rd, NULL) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (event_reinit(base) != 0)
			_exit(2);
		runs = 0;
		if (write(sv[1], "x", 1) != 1)
			_exit(3);
		if (event_base_dispatch(base) != 1 || runs != 1)
			_exit(4);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(event_del(&rd) == 0);

	/* memory functions are used by event_new and event_free */
	event_set_mem_functions(my_malloc, my_realloc, my_free);
	struct event *m = event_new(base, -1, 0, cb, NULL);
	CHECK(m && allocs >= 1);
	event_free(m);
	CHECK(frees >= 1);
	event_set_mem_functions(malloc, realloc, free);

	/* evutil helpers */
	CHECK(evutil_make_socket_nonblocking(sv[0]) == 0);
	CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	CHECK(evutil_make_socket_closeonexec(sv[0]) == 0);
	CHECK(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(ls >= 0 && evutil_make_listen_socket_reuseable(ls) == 0);
	CHECK(evutil_closesocket(ls) == 0);
	struct timeval t1 = {1, 900000}, t2 = {0, 200000}, t3;
	evutil_timeradd(&t1, &t2, &t3);
	CHECK(t3.tv_sec == 2 && t3.tv_usec == 100000);
	evutil_timersub(&t3, &t2, &t3);
	CHECK(evutil_timercmp(&t3, &t1, ==));
	CHECK(evutil_timerisset(&t3));
	evutil_timerclear(&t3);
	CHECK(!evutil_timerisset(&t3));
	CHECK(evutil_closesocket(-1) == -1 && EVUTIL_SOCKET_ERROR() == EBADF);
	ls = socket(AF_INET6, SOCK_STREAM, 0);
	if (ls >= 0) {
		CHECK(evutil_make_listen_socket_ipv6only(ls) == 0);
		CHECK(evutil_make_listen_socket_reuseable_port(ls) == 0);
		CHECK(evutil_make_tcp_listen_socket_deferred(ls) == 0);
		evutil_closesocket(ls);
	}
	char *end;
	CHECK(evutil_strtoll("-1234567890123x", &end, 10) == -1234567890123LL && *end == 'x');
	unsigned char addr[16];
	char text[64];
	CHECK(evutil_inet_pton(AF_INET6, "fe80::1", addr) == 1);
	CHECK(strcmp(evutil_inet_ntop(AF_INET6, addr, text, sizeof text), "fe80::1") == 0);
	CHECK(evutil_ascii_strcasecmp("EventOp", "eventOP") == 0);
	CHECK(evutil_ascii_strcasecmp("a", "B") < 0);
	CHECK(evutil_ascii_strncasecmp("abcX", "ABCy", 3) == 0);
	CHECK(evutil_secure_rng_init() == 0);
	unsigned char rnd[32] = {0}, zero[32] = {0};
	evutil_secure_rng_get_bytes(rnd, sizeof rnd);
	CHECK(memcmp(rnd, zero, sizeof rnd) != 0);
	struct evutil_monotonic_timer *mt = evutil_monotonic_timer_new();
	CHECK(mt && evutil_configure_monotonic_time(mt, EV_MONOT_PRECISE) == 0);
	struct timeval m1, m2;
	CHECK(evutil_gettime_monotonic(mt, &m1) == 0 && evutil_gettime_monotonic(mt, &m2) == 0);
	CHECK(evutil_timercmp(&m1, &m2, <=));
	evutil_monotonic_timer_free(mt);

	/* addresses */
	struct sockaddr_storage ss1, ss2;
	int len1 = sizeof ss1, len2 = sizeof ss2;
	CHECK(evutil_parse_sockaddr_port("127.0.0.1:8080", (struct sockaddr *)&ss1, &len1) == 0);
	CHECK(len1 == sizeof(struct sockaddr_in) && ss1.ss_family == AF_INET);
	CHECK(ntohs(((struct sockaddr_in *)&ss1)->sin_port) == 8080);
	CHECK(evutil_parse_sockaddr_port("127.0.0.1", (struct sockaddr *)&ss2, &len2) == 0);
	CHECK(evutil_sockaddr_cmp((struct sockaddr *)&ss1, (struct sockaddr *)&ss2, 0) == 0);
	CHECK(evutil_sockaddr_cmp((struct sockaddr *)&ss1, (struct sockaddr *)&ss2, 1) > 0);
	len2 = sizeof ss2;
	CHECK(evutil_parse_sockaddr_port("[::1]:53", (struct sockaddr *)&ss2, &len2) == 0);
	CHECK(len2 == sizeof(struct sockaddr_in6) && ss2.ss_family == AF_INET6);
	CHECK(ntohs(((struct sockaddr_in6 *)&ss2)->sin6_port) == 53);
	CHECK(evutil_sockaddr_cmp((struct sockaddr *)&ss1, (struct sockaddr *)&ss2, 1) < 0);
	len2 = sizeof ss2;
	CHECK(evutil_parse_sockaddr_port("::1", (struct sockaddr *)&ss2, &len2) == 0);
	len2 = sizeof ss2;
	CHECK(evutil_parse_sockaddr_port("not an address", (struct sockaddr *)&ss2, &len2) == -1);
	len2 = 4;
	CHECK(evutil_parse_sockaddr_port("10.0.0.1:1", (struct sockaddr *)&ss2, &len2) == -1);
	struct evutil_addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST;
	CHECK(evutil_getaddrinfo("127.0.0.1", "80", &hints, &res) == 0);
	CHECK(res && res->ai_family == AF_INET && res->ai_addrlen == sizeof(struct sockaddr_in));
	evutil_freeaddrinfo(res);
	CHECK(evutil_getaddrinfo("not-an-ip", NULL, &hints, &res) != 0);
	CHECK(evutil_gai_strerror(EVUTIL_EAI_NONAME) != NULL);
	unsigned scope = 0;
	CHECK(evutil_inet_pton_scope(AF_INET6, "fe80::1%1", addr, &scope) == 1 && scope == 1);
	CHECK(evutil_inet_pton_scope(AF_INET6, "fe80::1%lo", addr, &scope) == 1 && scope >= 1);
	CHECK(evutil_inet_pton_scope(AF_INET, "10.1.2.3", addr, &scope) == 1);

	/* formatting */
	char small[8];
	CHECK(evutil_snprintf(small, sizeof small, "%d-%s", 12345, "abcdef") == 12);
	CHECK(strcmp(small, "12345-a") == 0);
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = 94;
	tm.tm_mon = 10;
	tm.tm_mday = 6;
	tm.tm_wday = 0;
	tm.tm_hour = 8;
	tm.tm_min = 49;
	tm.tm_sec = 37;
	char date[64];
	CHECK(evutil_date_rfc1123(date, sizeof date, &tm) == 29);
	CHECK(strcmp(date, "Sun, 06 Nov 1994 08:49:37 GMT") == 0);
	CHECK(evutil_date_rfc1123(date, sizeof date, NULL) == 29);

	/* a base freed with events pending: they stay valid memory, not pending */
	CHECK(event_add(&rd, &long_tv) == 0);
	event_base_free(base);
	CHECK(event_initialized(&rd));
	CHECK(!(rd.ev_evcallback.evcb_flags & (EVLIST_INSERTED | EVLIST_TIMEOUT)));
	evutil_closesocket(sv[0]);
	evutil_closesocket(sv[1]);
	(void)ms1;
	puts("ok");
	return 0;
}
