/* SPDX-License-Identifier: MIT */
/*
 * Helpers for libgp's Criterion tests.
 *
 * Criterion's assertions unwind with longjmp on the test's own stack, so they
 * must not run inside a green process (another stack, maybe another thread).
 * Inside processes, CHECK() records the first failure; the test asserts, on
 * its main thread after gp_main() returns, that nothing failed.
 *
 * GP_TEST_SCALE (default 1) scales the big workloads down under sanitizers.
 */
#ifndef GP_TEST_H
#define GP_TEST_H

#define _GNU_SOURCE
#ifdef GP_MINIRUNNER
#include "minirunner.h" /* the TSan build: see there why */
#else
#include <criterion/criterion.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp.h"

static pthread_mutex_t check_lock __attribute__((unused)) = PTHREAD_MUTEX_INITIALIZER;
static atomic_int check_failures;
static char check_first[512];

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			pthread_mutex_lock(&check_lock);                                   \
			if (atomic_fetch_add(&check_failures, 1) == 0) {                    \
				int n_ = snprintf(check_first, sizeof(check_first),         \
						  "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
				if (n_ > 0 && (size_t)n_ < sizeof(check_first))             \
					snprintf(check_first + n_,                          \
						 sizeof(check_first) - (size_t)n_,          \
						 " " __VA_ARGS__);                           \
			}                                                                  \
			pthread_mutex_unlock(&check_lock);                                 \
		}                                                                          \
	} while (0)

/* Compare two integers and print both on failure. */
#define CHECK_EQ(a, b)                                                                     \
	CHECK((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a), (long long)(b))

static inline void checks_reset(void)
{
	atomic_store(&check_failures, 0);
	check_first[0] = '\0';
}

#define ASSERT_CHECKS() \
	cr_assert_eq(atomic_load(&check_failures), 0, "%d failed check(s); first: %s", \
		     atomic_load(&check_failures), check_first)

static inline double test_scale(void)
{
	const char *s = getenv("GP_TEST_SCALE");
	double v = s ? atof(s) : 1.0;

	return v > 0 ? v : 1.0;
}

/* n scaled by GP_TEST_SCALE, at least min. */
static inline long scaled(long n, long min)
{
	long v = (long)((double)n * test_scale());

	return v < min ? min : v;
}

/*
 * Under ASan, RSS says little about leaks (its quarantine holds freed memory
 * back on purpose); LeakSanitizer checks for leaks at exit instead.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL 0
#else
#define RSS_MEANINGFUL 1
#endif

static inline bool scaled_down(void)
{
	return test_scale() < 1.0;
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* Criterion reports a test before LeakSanitizer's report at exit would
 * come: check for leaks now, so that one fails the test. */
#define ASSERT_NO_LEAKS() \
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (report above)")
#else
#define ASSERT_NO_LEAKS() ((void)0)
#endif

/* Run fn(arg) as the first process with `schedulers` schedulers (0: default). */
static inline void run_gp(gp_fn fn, void *arg, unsigned schedulers)
{
	struct gp_config cfg = { .schedulers = schedulers };
	int r;

	checks_reset();
	/* The introspection server is a process too (gp_stats counts it):
	 * off, unless a test asked for it (test_gp_introspect). */
	setenv("GP_INTROSPECT", "0", 0);
	r = gp_main(fn, arg, &cfg);
	cr_assert_eq(r, 0, "gp_main: %s", strerror(-r));
	ASSERT_CHECKS();
	ASSERT_NO_LEAKS();
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Resident set size of this OS process, in bytes. */
static inline long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

/* Number of mappings of this OS process. */
static inline long map_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Inside a process: wait (sleeping 1 ms at a time, up to 10 s) until cond
 * holds, then check it. For what another process does "soon": the machine
 * may be loaded, so no fixed sleep is long enough. */
#define WAIT_FOR(cond)                                                  \
	do {                                                            \
		for (int w_ = 0; !(cond) && w_ < 10000; w_++)           \
			gp_sleep(1);                                    \
		CHECK(cond, "still false after 10 s");                  \
	} while (0)

/* Receive one message with the given tag (others stay queued). */
static inline bool match_tag(const struct gp_msg *m, void *ctx)
{
	return m->tag == *(uint32_t *)ctx;
}

static inline int receive_tag(struct gp_msg *m, uint32_t tag, int timeout_ms)
{
	return gp_receive_match(m, match_tag, &tag, timeout_ms);
}

/*
 * Run fn in a forked child with stderr captured; returns the wait status and
 * fills buf with what the child wrote to stderr.
 */
static inline int run_forked(void (*fn)(void), char *buf, size_t size)
{
	int pipefd[2], status = 0;
	size_t len = 0;
	pid_t pid;

	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		dup2(pipefd[1], STDERR_FILENO);
		fn();
		_exit(0);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t n = read(pipefd[0], buf + len, size - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == size - 1)
			break;
	}
	buf[len] = '\0';
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

#endif /* GP_TEST_H */
