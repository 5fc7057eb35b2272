/* SPDX-License-Identifier: MIT */
/*
 * A minimal stand-in for Criterion's runner, used only by the TSan build:
 * Criterion cannot start under ThreadSanitizer (its inheritable arena fails
 * to map: Snaipe/Criterion#274). It runs the very same test files: each test
 * in a forked child with its timeout, the subset of Criterion's macros our
 * tests use, and Criterion's exit status (0 only if every test passed).
 */
#ifndef GP_MINIRUNNER_H
#define GP_MINIRUNNER_H

#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct mr_test {
	const char *suite, *name;
	void (*fn)(void);
	unsigned timeout;
	struct mr_test *next;
};

static struct mr_test *mr_tests;

#define Test(suite, name, ...)                                                          \
	static void suite##_##name##_fn(void);                                           \
	static struct mr_test suite##_##name##_desc = { #suite, #name,                   \
							suite##_##name##_fn, __VA_ARGS__ }; \
	__attribute__((constructor)) static void suite##_##name##_reg(void)              \
	{                                                                                \
		suite##_##name##_desc.next = mr_tests;                                   \
		mr_tests = &suite##_##name##_desc;                                       \
	}                                                                                \
	static void suite##_##name##_fn(void)

__attribute__((format(printf, 4, 5), noreturn)) static void mr_fail(const char *file, int line,
								    const char *expr,
								    const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[----] %s:%d: Assertion Failed: %s\n[----]  ", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

#define cr_assert(cond, ...)                                                  \
	do {                                                                  \
		if (!(cond))                                                  \
			mr_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__);   \
	} while (0)
#define cr_assert_eq(a, b, ...)   cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...)  cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...)   cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...)  cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...)   cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...)  cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(a, ...)    cr_assert((a) == NULL, __VA_ARGS__)
#define cr_assert_not_null(a, ...) cr_assert((a) != NULL, __VA_ARGS__)
#define cr_log_info(...)          (fprintf(stderr, "[----] " __VA_ARGS__), fputc('\n', stderr))

static int mr_run(struct mr_test *t)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		alarm(t->timeout ? t->timeout : 60);
		t->fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "[----] %s::%s: %s\n", t->suite, t->name,
			WTERMSIG(status) == SIGALRM ? "Timed out" : strsignal(WTERMSIG(status)));
	return -1;
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	int tested = 0, failed = 0;

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--filter=", 9) == 0)
			filter = argv[i] + 9;
	for (struct mr_test *t = mr_tests; t; t = t->next) {
		char id[256];

		snprintf(id, sizeof(id), "%s/%s", t->suite, t->name);
		if (filter && strncmp(id, filter, strlen(filter)) != 0)
			continue;
		tested++;
		if (mr_run(t) == 0) {
			printf("[PASS] %s::%s\n", t->suite, t->name);
		} else {
			printf("[FAIL] %s::%s\n", t->suite, t->name);
			failed++;
		}
		fflush(stdout);
	}
	printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0\n", tested,
	       tested - failed, failed);
	return failed != 0;
}

#endif /* GP_MINIRUNNER_H */
