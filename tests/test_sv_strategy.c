/* SPDX-License-Identifier: MIT */
/*
 * The restart-policy engine, exhaustively: every strategy x restart type x
 * way of exiting x position, intensity at its boundaries, nested
 * escalation, ordered starts and stops, operators, simple_one_for_one.
 *
 * A simulated caller drives the engine as spawnd and libgp do: it performs
 * the stops and starts the engine asks for, in the order it asks, and logs
 * them; each test compares that log with what OTP's rules say.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../supervisor/strategy.h"
#include "strategy_cases.h"

#define SEC 1000000000ull
#define MAXC 8

struct sim {
	struct sv_sup sup;
	uint32_t stop_buf[MAXC], start_buf[MAXC];
	struct sv_plan plan;
	char log[512]; /* "s2 s1 +1 +2": stops and starts, in order */
	unsigned starts[MAXC];
};

static void sim_init(struct sim *sm, enum sv_strategy st, unsigned intensity, uint64_t period,
		     const enum sv_restart *kinds, int n)
{
	memset(sm, 0, sizeof(*sm));
	cr_assert_eq(sv_init(&sm->sup, st, intensity, period, MAXC), 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(sv_add(&sm->sup, kinds[i]), i);
	sm->plan = (struct sv_plan){ .stop = sm->stop_buf, .start = sm->start_buf };
}

static void sim_log(struct sim *sm, const char *fmt, int i)
{
	size_t len = strlen(sm->log);

	snprintf(sm->log + len, sizeof(sm->log) - len, len ? " " : "");
	len = strlen(sm->log);
	snprintf(sm->log + len, sizeof(sm->log) - len, fmt, i);
}

/* Do what the engine asks until it is quiet: stops (each child exits
 * normally, as stopped children do), then starts (each becomes ready). */
static void sim_run(struct sim *sm)
{
	for (int guard = 0; guard < 100; guard++) {
		int i = sv_next_stop(&sm->sup);

		if (i >= 0) {
			sv_stopping(&sm->sup, (uint32_t)i);
			sim_log(sm, "s%d", i);
			cr_assert_eq(sv_exited(&sm->sup, (uint32_t)i, true, 0, &sm->plan), SV_NOTHING);
			continue;
		}
		i = sv_next_start(&sm->sup);
		if (i < 0)
			break;
		sv_starting(&sm->sup, (uint32_t)i);
		sv_started(&sm->sup, (uint32_t)i);
		sm->starts[i]++;
		sim_log(sm, "+%d", i);
	}
	cr_assert(sv_quiet(&sm->sup), "the engine never settles");
}

static void sim_boot(struct sim *sm)
{
	sv_start_all(&sm->sup);
	sim_run(sm);
	sm->log[0] = '\0';
	memset(sm->starts, 0, sizeof(sm->starts));
}

static enum sv_verdict sim_crash(struct sim *sm, int i, bool normal, uint64_t t)
{
	enum sv_verdict v = sv_exited(&sm->sup, (uint32_t)i, normal, t, &sm->plan);

	sim_run(sm);
	return v;
}

static const enum sv_strategy strategies[] = { SV_ONE_FOR_ONE, SV_ONE_FOR_ALL, SV_REST_FOR_ONE };

_Static_assert(SV_ONE_FOR_ONE == (int)CASE_ONE_FOR_ONE && SV_ONE_FOR_ALL == (int)CASE_ONE_FOR_ALL &&
		       SV_REST_FOR_ONE == (int)CASE_REST_FOR_ONE,
	       "tests/strategy_cases.h numbers strategies as the engine does");
_Static_assert(SV_PERMANENT == (int)CASE_PERMANENT && SV_TRANSIENT == (int)CASE_TRANSIENT &&
		       SV_TEMPORARY == (int)CASE_TEMPORARY,
	       "tests/strategy_cases.h numbers restart types as the engine does");

/* Every strategy x restart type x normal/abnormal exit x position: the
 * cases libgp's supervisors are held to as well. */
Test(strategy, matrix, .timeout = 10)
{
	for (int i = 0; i < CASE_MATRIX; i++) {
		struct strategy_case c = strategy_case(i);
		enum sv_restart ks[CASE_CHILDREN] = { SV_PERMANENT, SV_PERMANENT, SV_PERMANENT,
						      SV_PERMANENT };
		char want[256], what[128];
		struct sim sm;
		enum sv_verdict v;

		ks[c.at] = (enum sv_restart)c.kind;
		sim_init(&sm, (enum sv_strategy)c.strategy, 10, 10 * SEC, ks, CASE_CHILDREN);
		sim_boot(&sm);
		v = sim_crash(&sm, c.at, c.normal, 1 * SEC);
		strategy_case_expect(&c, want, sizeof(want));
		strategy_case_describe(&c, what, sizeof(what));
		cr_assert_str_eq(sm.log, want, "%s", what);
		cr_assert_eq(v, want[0] ? SV_RESTART : SV_NOTHING, "%s", what);
		/* Afterwards: it runs again, or stays down (temporary: gone). */
		cr_assert_eq(sm.sup.children[c.at].state,
			     want[0] ? SV_RUNNING
			     : c.kind == CASE_TEMPORARY ? SV_REMOVED
							: SV_DOWN, "%s", what);
		sv_destroy(&sm.sup);
	}
}

/* Temporary siblings taken down by a group restart are not restarted;
 * transient ones are, and so are those that had stopped normally; held
 * ones are not. */
Test(strategy, group_restart_sibling_kinds, .timeout = 10)
{
	const enum sv_restart ks[5] = { SV_PERMANENT, SV_TEMPORARY, SV_TRANSIENT, SV_TRANSIENT,
					SV_PERMANENT };
	struct sim sm;

	for (int s = 1; s <= 2; s++) {
		sim_init(&sm, strategies[s], 10, 10 * SEC, ks, 5);
		sim_boot(&sm);
		/* 3 ends normally: transient, it stays down. */
		cr_assert_eq(sim_crash(&sm, 3, true, 1 * SEC), SV_NOTHING);
		cr_assert_str_eq(sm.log, "");
		cr_assert_eq(sv_hold(&sm.sup, 4), 0); /* an operator stops 4 */
		sim_run(&sm);
		cr_assert_str_eq(sm.log, "s4");
		sm.log[0] = '\0';
		/* 0 crashes. */
		cr_assert_eq(sim_crash(&sm, 0, false, 2 * SEC), SV_RESTART);
		/* The same for both: the group is every child from 0. */
		cr_assert_str_eq(sm.log, "s2 s1 +0 +2 +3", "%s: %s", sv_strategy_name(strategies[s]),
				 sm.log);
		cr_assert_eq(sm.sup.children[1].state, SV_REMOVED);
		cr_assert_eq(sm.sup.children[4].state, SV_DOWN);
		sv_destroy(&sm.sup);
	}
}

/* rest_for_one leaves the children before the failed one alone. */
Test(strategy, rest_for_one_spares_earlier, .timeout = 10)
{
	const enum sv_restart ks[4] = { SV_PERMANENT, SV_PERMANENT, SV_PERMANENT, SV_PERMANENT };
	struct sim sm;

	sim_init(&sm, SV_REST_FOR_ONE, 10, 10 * SEC, ks, 4);
	sim_boot(&sm);
	cr_assert_eq(sim_crash(&sm, 2, false, 1 * SEC), SV_RESTART);
	cr_assert_str_eq(sm.log, "s3 +2 +3");
	cr_assert_eq(sm.starts[0] + sm.starts[1], 0);
	sv_destroy(&sm.sup);
}

/* ---- intensity ---------------------------------------------------------------- */

/* Exactly `intensity` restarts within `period` are allowed; one more gives
 * up. Restarts further apart than the period never add up. */
Test(strategy, intensity_boundary, .timeout = 10)
{
	const enum sv_restart ks[2] = { SV_PERMANENT, SV_PERMANENT };

	for (unsigned intensity = 0; intensity <= CASE_INTENSITY_MAX; intensity++) {
		struct sim sm;

		sim_init(&sm, SV_ONE_FOR_ONE, intensity, 10 * SEC, ks, 2);
		sim_boot(&sm);
		for (unsigned r = 0; r < intensity; r++)
			cr_assert_eq(sim_crash(&sm, 0, false, (1 + r) * SEC), SV_RESTART,
				     "intensity %u, restart %u", intensity, r + 1);
		sm.log[0] = '\0';
		cr_assert_eq(sim_crash(&sm, 0, false, (1 + intensity) * SEC), SV_GIVE_UP,
			     "intensity %u", intensity);
		/* It stops everything still running, in reverse order. */
		cr_assert_str_eq(sm.log, CASE_INTENSITY_GIVE_UP);
		cr_assert(sm.sup.gave_up);
		cr_assert(sv_all_down(&sm.sup));
		cr_assert_eq(sv_next_start(&sm.sup), -1);
		sv_destroy(&sm.sup);
	}
}

/* The period is a sliding window, inclusive at its start. */
Test(strategy, intensity_window, .timeout = 10)
{
	const enum sv_restart ks[1] = { SV_PERMANENT };
	uint64_t hist[8];
	struct sim sm;

	sim_init(&sm, SV_ONE_FOR_ONE, 3, 10 * SEC, ks, 1);
	sim_boot(&sm);
	cr_assert_eq(sim_crash(&sm, 0, false, 100 * SEC), SV_RESTART);
	cr_assert_eq(sim_crash(&sm, 0, false, 105 * SEC), SV_RESTART);
	cr_assert_eq(sim_crash(&sm, 0, false, 109 * SEC), SV_RESTART);
	/* At 111 s, the one at 100 s is out of the window: 3 within. */
	cr_assert_eq(sim_crash(&sm, 0, false, 111 * SEC), SV_RESTART);
	cr_assert_eq(sv_history(&sm.sup, 111 * SEC, hist, 8), 3);
	cr_assert_eq(hist[0], 105 * SEC);
	cr_assert_eq(hist[2], 111 * SEC);
	/* At 115 s, 105 s is exactly period ago: inclusive, so 4 > 3. */
	cr_assert_eq(sim_crash(&sm, 0, false, 115 * SEC), SV_GIVE_UP);
	sv_destroy(&sm.sup);

	/* Spaced out: never. */
	sim_init(&sm, SV_ONE_FOR_ONE, 1, 10 * SEC, ks, 1);
	sim_boot(&sm);
	for (int r = 0; r < 100; r++)
		cr_assert_eq(sim_crash(&sm, 0, false, (uint64_t)r * 11 * SEC), SV_RESTART);
	sv_destroy(&sm.sup);
}

/* A group restart counts once, however many children it restarts; exits
 * that restart nothing do not count. */
Test(strategy, what_counts, .timeout = 10)
{
	const enum sv_restart ks[3] = { SV_PERMANENT, SV_TRANSIENT, SV_TEMPORARY };
	struct sim sm;

	sim_init(&sm, SV_ONE_FOR_ALL, 1, 10 * SEC, ks, 3);
	sim_boot(&sm);
	cr_assert_eq(sim_crash(&sm, 2, false, 1 * SEC), SV_NOTHING); /* temporary */
	cr_assert_eq(sim_crash(&sm, 1, true, 2 * SEC), SV_NOTHING);  /* transient, normal */
	cr_assert_eq(sim_crash(&sm, 0, false, 3 * SEC), SV_RESTART); /* 1 of 1 */
	cr_assert_eq(sm.sup.children[0].restarts, 1);
	cr_assert_eq(sim_crash(&sm, 0, false, 4 * SEC), SV_GIVE_UP);
	sv_destroy(&sm.sup);
}

/* A supervisor that gives up is a child that died, to its own supervisor:
 * escalation through two levels, until the root gives up. */
Test(strategy, nested_escalation, .timeout = 10)
{
	const enum sv_restart ks[2] = { SV_PERMANENT, SV_PERMANENT };
	struct sim root, mid;
	int mid_restarts = 0;
	uint64_t t = 0;
	enum sv_verdict v = SV_RESTART;

	/* root: [worker, mid]; mid: [worker, worker], intensity 1 each. */
	sim_init(&root, SV_ONE_FOR_ONE, 1, 100 * SEC, ks, 2);
	sim_boot(&root);
	sim_init(&mid, SV_ONE_FOR_ONE, 1, 100 * SEC, ks, 2);
	sim_boot(&mid);
	while (v != SV_GIVE_UP) {
		/* mid's first worker crashes until mid gives up... */
		enum sv_verdict mv = sim_crash(&mid, 0, false, ++t * SEC);

		if (mv != SV_GIVE_UP)
			continue;
		cr_assert(sv_all_down(&mid.sup));
		/* ...which root sees as its child 1 dying abnormally. */
		v = sim_crash(&root, 1, false, t * SEC);
		if (v == SV_RESTART) {
			mid_restarts++;
			sv_destroy(&mid.sup);
			sim_init(&mid, SV_ONE_FOR_ONE, 1, 100 * SEC, ks, 2);
			sim_boot(&mid);
		}
	}
	cr_assert_eq(mid_restarts, 1); /* root's intensity is 1 */
	cr_assert(root.sup.gave_up);
	cr_assert(sv_all_down(&root.sup)); /* its worker was stopped too */
	sv_destroy(&mid.sup);
	sv_destroy(&root.sup);
}

/* ---- order ------------------------------------------------------------------ */

/* Children start in order, each after the previous one is ready, and stop
 * in reverse order, each after the previous one has exited. */
Test(strategy, ordered_start_and_stop, .timeout = 10)
{
	const enum sv_restart ks[3] = { SV_PERMANENT, SV_TRANSIENT, SV_PERMANENT };
	struct sim sm;

	sim_init(&sm, SV_ONE_FOR_ONE, 1, SEC, ks, 3);
	sv_start_all(&sm.sup);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sv_next_start(&sm.sup), i);
		sv_starting(&sm.sup, (uint32_t)i);
		cr_assert_eq(sv_next_start(&sm.sup), -1, "started %d before %d was ready", i + 1, i);
		sv_started(&sm.sup, (uint32_t)i);
	}
	cr_assert_eq(sv_next_start(&sm.sup), -1);
	sv_shutdown(&sm.sup);
	for (int i = 2; i >= 0; i--) {
		cr_assert_eq(sv_next_stop(&sm.sup), i);
		sv_stopping(&sm.sup, (uint32_t)i);
		cr_assert_eq(sv_next_stop(&sm.sup), -1, "stopped %d before %d had exited", i - 1, i);
		/* During shutdown, even an abnormal exit restarts nothing. */
		cr_assert_eq(sv_exited(&sm.sup, (uint32_t)i, false, 0, NULL), SV_NOTHING);
	}
	cr_assert(sv_all_down(&sm.sup));
	cr_assert_eq(sv_hold(&sm.sup, 0), -EBUSY);
	sv_destroy(&sm.sup);
}

/* A child that fails to start (or to become ready) counts as a crash. */
Test(strategy, failed_start_is_a_crash, .timeout = 10)
{
	const enum sv_restart ks[2] = { SV_PERMANENT, SV_PERMANENT };
	struct sim sm;

	sim_init(&sm, SV_ONE_FOR_ONE, 2, 10 * SEC, ks, 2);
	sv_start_all(&sm.sup);
	for (uint64_t t = 1; t <= 2; t++) {
		cr_assert_eq(sv_next_start(&sm.sup), 0);
		sv_starting(&sm.sup, 0);
		cr_assert_eq(sv_exited(&sm.sup, 0, false, t * SEC, NULL), SV_RESTART);
	}
	sv_starting(&sm.sup, 0);
	cr_assert_eq(sv_exited(&sm.sup, 0, false, 3 * SEC, NULL), SV_GIVE_UP);
	cr_assert_eq(sm.sup.children[1].state, SV_DOWN); /* never started */
	sv_destroy(&sm.sup);
}

/* A second failure while a group restart is under way: the plans merge;
 * each child ends up running once, started in order. */
Test(strategy, failure_during_a_restart, .timeout = 10)
{
	const enum sv_restart ks[4] = { SV_PERMANENT, SV_PERMANENT, SV_PERMANENT, SV_PERMANENT };
	struct sim sm;
	int i;

	sim_init(&sm, SV_REST_FOR_ONE, 10, 10 * SEC, ks, 4);
	sim_boot(&sm);
	cr_assert_eq(sv_exited(&sm.sup, 2, false, 1 * SEC, &sm.plan), SV_RESTART);
	cr_assert_eq(sm.plan.nstop, 1);
	cr_assert_eq(sm.plan.stop[0], 3);
	i = sv_next_stop(&sm.sup);
	cr_assert_eq(i, 3);
	sv_stopping(&sm.sup, 3);
	/* Before 3 has stopped, 1 crashes: now 1.. restart. */
	cr_assert_eq(sv_exited(&sm.sup, 1, false, 2 * SEC, &sm.plan), SV_RESTART);
	cr_assert_eq(sv_exited(&sm.sup, 3, true, 0, NULL), SV_NOTHING);
	sim_run(&sm);
	cr_assert_str_eq(sm.log, "+1 +2 +3");
	for (int c = 0; c < 4; c++)
		cr_assert_eq(sm.sup.children[c].state, SV_RUNNING);
	sv_destroy(&sm.sup);
}

/* ---- operators ------------------------------------------------------------------ */

/* An operator's stop keeps a permanent child down (it is not restarted
 * behind their back); start and restart bring it back; none of it counts
 * as a restart. */
Test(strategy, operators, .timeout = 10)
{
	const enum sv_restart ks[3] = { SV_PERMANENT, SV_PERMANENT, SV_PERMANENT };
	struct sim sm;

	sim_init(&sm, SV_ONE_FOR_ALL, 0, 10 * SEC, ks, 3);
	sim_boot(&sm);
	cr_assert_eq(sv_hold(&sm.sup, 1), 0);
	sim_run(&sm);
	cr_assert_str_eq(sm.log, "s1");
	cr_assert_eq(sm.sup.children[1].state, SV_DOWN);
	cr_assert_eq(sv_release(&sm.sup, 1), 0);
	cr_assert_eq(sv_restart(&sm.sup, 2), 0);
	sim_run(&sm);
	cr_assert_str_eq(sm.log, "s1 s2 +1 +2");
	cr_assert_eq(sm.sup.history_len, 0);
	cr_assert_eq(sv_hold(&sm.sup, 9), -EINVAL);
	sv_destroy(&sm.sup);
}

/* ---- simple_one_for_one ------------------------------------------------------------ */

/* Dynamic children of one kind: each restarted alone; those that end for
 * good free their slot; starts and stops need not wait for each other. */
Test(strategy, simple_one_for_one, .timeout = 10)
{
	struct sv_sup sup;
	int a, b, c;

	cr_assert_eq(sv_init(&sup, SV_SIMPLE_ONE_FOR_ONE, 5, 10 * SEC, 2), 0);
	cr_assert_eq(sv_add(&sup, SV_PERMANENT), -EINVAL);
	cr_assert_eq(sv_set_dynamic(&sup, SV_TRANSIENT), 0);
	a = sv_add_dynamic(&sup);
	b = sv_add_dynamic(&sup);
	cr_assert_eq(a, 0);
	cr_assert_eq(b, 1);
	cr_assert_eq(sv_add_dynamic(&sup), -ENOSPC);
	cr_assert_eq(sv_next_start(&sup), 0);
	sv_starting(&sup, 0);
	cr_assert_eq(sv_next_start(&sup), 1); /* in parallel */
	sv_starting(&sup, 1);
	sv_started(&sup, 0);
	sv_started(&sup, 1);
	/* b crashes: only b restarts. */
	cr_assert_eq(sv_exited(&sup, 1, false, SEC, NULL), SV_RESTART);
	cr_assert_eq(sv_next_start(&sup), 1);
	sv_starting(&sup, 1);
	sv_started(&sup, 1);
	cr_assert_eq(sup.children[0].state, SV_RUNNING);
	/* a ends normally: transient, it is gone and its slot is free. */
	cr_assert_eq(sv_exited(&sup, 0, true, 2 * SEC, NULL), SV_NOTHING);
	cr_assert_eq(sup.children[0].state, SV_REMOVED);
	c = sv_add_dynamic(&sup);
	cr_assert_eq(c, 0);
	cr_assert_eq(sv_remove(&sup, 1), -EBUSY);
	sv_starting(&sup, 0);
	sv_started(&sup, 0);
	/* Shutdown stops them all at once. */
	sv_shutdown(&sup);
	cr_assert_eq(sv_next_stop(&sup), 1);
	sv_stopping(&sup, 1);
	cr_assert_eq(sv_next_stop(&sup), 0);
	sv_destroy(&sup);
}

/* ---- names and bad arguments ---------------------------------------------------------- */

Test(strategy, names_and_errors, .timeout = 10)
{
	enum sv_strategy st;
	enum sv_restart rs;
	struct sv_sup sup;

	cr_assert_eq(sv_strategy_parse("rest_for_one", &st), 0);
	cr_assert_eq(st, SV_REST_FOR_ONE);
	cr_assert_eq(sv_strategy_parse("one_for_none", &st), -EINVAL);
	cr_assert_eq(sv_strategy_parse(NULL, &st), -EINVAL);
	cr_assert_eq(sv_restart_parse("transient", &rs), 0);
	cr_assert_eq(rs, SV_TRANSIENT);
	cr_assert_eq(sv_restart_parse("Permanent", &rs), -EINVAL);
	cr_assert_str_eq(sv_strategy_name(SV_ONE_FOR_ALL), "one_for_all");
	cr_assert_str_eq(sv_restart_name(SV_TEMPORARY), "temporary");
	cr_assert_eq(sv_init(&sup, SV_ONE_FOR_ONE, 1, 0, 4), -EINVAL);
	cr_assert_eq(sv_init(&sup, SV_ONE_FOR_ONE, 1, SEC, 0), -EINVAL);
	cr_assert_eq(sv_init(&sup, (enum sv_strategy)9, 1, SEC, 4), -EINVAL);
	cr_assert_eq(sv_init(&sup, SV_ONE_FOR_ONE, 1, SEC, 1), 0);
	cr_assert_eq(sv_add(&sup, (enum sv_restart)7), -EINVAL);
	cr_assert_eq(sv_add(&sup, SV_PERMANENT), 0);
	cr_assert_eq(sv_add(&sup, SV_PERMANENT), -ENOSPC);
	cr_assert_eq(sv_exited(&sup, 5, false, 0, NULL), SV_NOTHING);
	sv_destroy(&sup);
}
