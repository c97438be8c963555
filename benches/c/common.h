/* What the C contenders share with the Rust ones (src/lib.rs): the same arguments, the same
 * socketpairs, the same PRNG (splitmix64, same seed), the same report line. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum workload { CHAIN, CASCADE, TIMERS, SETUP, PRECISION };
enum timeout { T_NONE, T_FIXED, T_RANDOM };
enum form { BLOCK, PASS };
/* The backend the contender selects through its own API: epoll; epoll with libevent's changelist;
 * poll; select. A contender that cannot select it exits with 3. */
enum backend { B_EPOLL, B_CHANGELIST, B_POLL, B_SELECT };

struct params {
	enum workload workload;
	long n, active, timers, rounds;
	uint64_t events;
	enum timeout timeout;
	enum form form;
	enum backend backend;
};

static void usage(const char *why)
{
	fprintf(stderr, "%s\nusage: CONTENDER chain|cascade|timers|setup|precision [n=N] [active=A] [events=M] "
		"[timeout=none|fixed|random] [form=block|pass] [timers=T] [rounds=R] "
		"[backend=epoll|changelist|poll|select]\n", why);
	exit(2);
}

static struct params parse(int argc, char **argv)
{
	struct params p = { CHAIN, 1000, 1, 100000, 10, 100000, T_NONE, BLOCK, B_EPOLL };
	if (argc < 2) usage("no workload");
	if (!strcmp(argv[1], "chain")) p.workload = CHAIN;
	else if (!strcmp(argv[1], "cascade")) p.workload = CASCADE;
	else if (!strcmp(argv[1], "timers")) p.workload = TIMERS;
	else if (!strcmp(argv[1], "setup")) p.workload = SETUP;
	else if (!strcmp(argv[1], "precision")) p.workload = PRECISION;
	else usage("unknown workload");
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq) usage("not key=value");
		*eq = 0;
		const char *k = argv[i], *v = eq + 1;
		if (!strcmp(k, "n")) p.n = atol(v);
		else if (!strcmp(k, "active")) p.active = atol(v);
		else if (!strcmp(k, "events")) p.events = strtoull(v, NULL, 10);
		else if (!strcmp(k, "timers")) p.timers = atol(v);
		else if (!strcmp(k, "rounds")) p.rounds = atol(v);
		else if (!strcmp(k, "timeout"))
			p.timeout = !strcmp(v, "fixed") ? T_FIXED : !strcmp(v, "random") ? T_RANDOM : T_NONE;
		else if (!strcmp(k, "form")) p.form = !strcmp(v, "pass") ? PASS : BLOCK;
		else if (!strcmp(k, "backend")) {
			if (!strcmp(v, "epoll")) p.backend = B_EPOLL;
			else if (!strcmp(v, "changelist")) p.backend = B_CHANGELIST;
			else if (!strcmp(v, "poll")) p.backend = B_POLL;
			else if (!strcmp(v, "select")) p.backend = B_SELECT;
			else usage("unknown backend");
		}
		else usage("unknown key");
	}
	if (p.n < 2 || p.active < 1 || p.active > p.n) usage("need n >= 2 and 1 <= active <= n");
	return p;
}

/* pairs[2i] is watched; the previous pair writes pairs[2i+1]. */
static int *socketpairs(long n)
{
	struct rlimit lim;
	rlim_t need = 2 * (rlim_t)n + 64;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < need) {
		struct rlimit want = { need, need > lim.rlim_max ? need : lim.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
			lim.rlim_cur = lim.rlim_max;
			setrlimit(RLIMIT_NOFILE, &lim);
		}
	}
	int *fds = malloc(2 * n * sizeof(int));
	for (long i = 0; i < n; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds + 2 * i)) {
			perror("socketpair");
			exit(1);
		}
	return fds;
}

static inline void pass_byte(int from, int to)
{
	char b = 0;
	if (read(from, &b, 1) < 0) { /* nothing waiting: write anyway, as the Rust side does */ }
	if (write(to, &b, 1) < 0) { }
}

static void kick(int fd)
{
	if (write(fd, "e", 1) < 0) perror("write");
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static inline uint64_t random64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Microseconds: 10 s plus 0-999,999 us; and 0-19,999 us. */
static inline uint64_t long_timeout_us(void) { return 10000000 + random64() % 1000000; }
static inline uint64_t short_timeout_us(void) { return random64() % 20000; }

static uint64_t count, target = UINT64_MAX, timeouts;

/* One callback ran; whether it was the last one wanted. */
static inline int tick(void) { return ++count >= target; }
static inline int done(void) { return count >= target; }

static size_t heap_bytes(void)
{
	struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* The driver's line; allocations are not counted in C (steady_allocs=-1). */
static void report(uint64_t ns, double bytes)
{
	printf("events=%llu ns=%llu steady_allocs=-1 steady_events=0 bytes=%.1f timeouts=%llu\n",
	       (unsigned long long)count, (unsigned long long)ns, bytes, (unsigned long long)timeouts);
}

/* The precision workload: how late each firing of a 1 ms timer was against the time of its add
 * (ns; negative: early). */
static int64_t *lates;
static long nlates;
static uint64_t armed_ns;

static void fired(void)
{
	lates[nlates++] = (int64_t)(now_ns() - armed_ns) - 1000000;
	tick();
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void report_precision(uint64_t ns)
{
	long early = 0;
	qsort(lates, nlates, sizeof *lates, cmp_i64);
	for (long i = 0; i < nlates; i++) early += lates[i] < 0;
	long last = nlates ? nlates - 1 : 0;
	printf("events=%ld ns=%llu steady_allocs=0 steady_events=0 bytes=0.0 timeouts=0 "
	       "p50=%lld p99=%lld max=%lld early=%ld\n", nlates, (unsigned long long)ns,
	       (long long)(nlates ? lates[last * 50 / 100] : 0),
	       (long long)(nlates ? lates[last * 99 / 100] : 0),
	       (long long)(nlates ? lates[last] : 0), early);
}

#endif
