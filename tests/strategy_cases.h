/* SPDX-License-Identifier: MIT */
/*
 * The restart rules as test cases, shared by the engine's unit tests
 * (test_sv_strategy.c, a simulated caller) and libgp's in-process
 * supervisors (test_gp_supervisor.c, real green processes), so that both
 * are held to the same cases and the same expected outcomes.
 *
 * An outcome is a log of what the supervisor does after one exit: "sN"
 * for each sibling it stops (in the order it stops them), then "+N" for
 * each child it starts (in the order it starts them). The expectations are
 * OTP's rules written out here, independently of the engine's code.
 *
 * Header-only (static functions): each test binary takes its own copy.
 */
#ifndef SPAWND_TESTS_STRATEGY_CASES_H
#define SPAWND_TESTS_STRATEGY_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The same order as enum sv_strategy / enum gp_strategy and enum
 * sv_restart / enum gp_restart (each test checks that with a static
 * assertion). */
enum case_strategy { CASE_ONE_FOR_ONE, CASE_ONE_FOR_ALL, CASE_REST_FOR_ONE };
enum case_restart { CASE_PERMANENT, CASE_TRANSIENT, CASE_TEMPORARY };

#define CASE_CHILDREN 4 /* every matrix case supervises this many */
#define CASE_MATRIX   (3 * 3 * 2 * CASE_CHILDREN)

/* One child of CASE_CHILDREN exits; the others are permanent and running. */
struct strategy_case {
	enum case_strategy strategy;
	enum case_restart kind; /* of the child that exits */
	bool normal;            /* it exits normally (else it crashes) */
	int at;                 /* its position */
};

static const char *const case_strategy_names[] = { "one_for_one", "one_for_all",
						   "rest_for_one" };
static const char *const case_restart_names[] = { "permanent", "transient", "temporary" };

/* Case i of the matrix: every strategy x restart type x normal/abnormal
 * exit x position. */
static inline struct strategy_case strategy_case(int i)
{
	return (struct strategy_case){
		.strategy = (enum case_strategy)(i / (3 * 2 * CASE_CHILDREN)),
		.kind = (enum case_restart)(i / (2 * CASE_CHILDREN) % 3),
		.normal = i / CASE_CHILDREN % 2,
		.at = i % CASE_CHILDREN,
	};
}

static inline bool strategy_case_restarts(const struct strategy_case *c)
{
	return c->kind == CASE_PERMANENT || (c->kind == CASE_TRANSIENT && !c->normal);
}

/* What OTP does: the log of stops and starts, and how many entries it has. */
static inline int strategy_case_expect(const struct strategy_case *c, char *out, size_t size)
{
	int from = c->strategy == CASE_ONE_FOR_ALL ? 0 : c->at;
	size_t len = 0;

	out[0] = '\0';
	if (!strategy_case_restarts(c))
		return 0;
	if (c->strategy == CASE_ONE_FOR_ONE) {
		snprintf(out, size, "+%d", c->at);
		return 1;
	}
	/* Running siblings in the group stop, last first; then the group
	 * starts in order. */
	for (int j = CASE_CHILDREN - 1; j >= from; j--)
		if (j != c->at)
			len += (size_t)snprintf(out + len, size - len, "%ss%d", len ? " " : "", j);
	for (int j = from; j < CASE_CHILDREN; j++)
		len += (size_t)snprintf(out + len, size - len, "%s+%d", len ? " " : "", j);
	return 2 * (CASE_CHILDREN - from) - 1; /* every stop but the exited one's, every start */
}

static inline void strategy_case_describe(const struct strategy_case *c, char *out, size_t size)
{
	snprintf(out, size, "%s, %s child %d exits %s", case_strategy_names[c->strategy],
		 case_restart_names[c->kind], c->at, c->normal ? "normally" : "abnormally");
}

/* Intensity at its boundary: with `intensity` (0 to CASE_INTENSITY_MAX),
 * child 0 of 2 permanent one_for_one children may crash `intensity` times
 * within the period and is restarted each time; one more crash and the
 * supervisor gives up, stopping what still runs: its log is then this. */
#define CASE_INTENSITY_MAX      5
#define CASE_INTENSITY_GIVE_UP  "s1"

#endif
