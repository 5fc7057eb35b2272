/* SPDX-License-Identifier: MIT */
/* In-process supervisors: strategies, restart types, intensity, ordered
 * stops, shutdown escalation, dynamic children, requests and their errors. */
#include "gp_test.h"
#include "strategy_cases.h"

#include <alloca.h>
#include <limits.h>

/* ---- children the tests supervise ------------------------------------------------- */

enum kid_mode {
	K_WORKER,   /* does not trap exits: a stop kills it */
	K_RECORDER, /* traps exits: records the stop, then exits with its reason */
	K_STUBBORN, /* traps exits and ignores GP_EXIT_SHUTDOWN (not its supervisor's death) */
	K_SLOW,     /* traps exits, and exits slow_ms after a stop with GP_EXIT_USER + 9 */
};

/* Commands, as message tags. */
enum {
	CMD_CRASH = 1, /* gp_exit(GP_EXIT_USER + 1 + index) */
	CMD_NORMAL,    /* return */
	CMD_SHUTDOWN,  /* gp_exit(GP_EXIT_SHUTDOWN) */
	CMD_OVERFLOW,  /* overflow its stack */
	CMD_KILL_SUP,  /* gp_kill(its supervisor, GP_EXIT_SHUTDOWN) */
};

#define EV_START(i) (100 + (i))
#define EV_STOP(i)  (200 + (i))
#define LOG_MAX     64

struct ctx;

/* One per child spec; every incarnation of the child shares it. */
struct kid {
	struct ctx *ctx;
	int index;
	enum kid_mode mode;
	int slow_ms;
	atomic_int starts;
	atomic_int exits_heard;      /* GP_TAG_EXIT messages received */
	atomic_int last_exit_reason; /* the last one's reason */
};

struct ctx {
	struct kid kids[8];
	atomic_int log[LOG_MAX]; /* EV_START / EV_STOP, in the order they happened */
	atomic_int nlog;
	_Atomic gp_pid sup;      /* for CMD_KILL_SUP */
};

static void log_event(struct ctx *c, int ev)
{
	int n = atomic_fetch_add(&c->nlog, 1); /* seq_cst: the slot, then its value */

	if (n < LOG_MAX)
		atomic_store(&c->log[n], ev);
}

static volatile long depth_limit = LONG_MAX; /* opaque to the compiler */

__attribute__((noinline)) static long recurse(long n, size_t frame)
{
	volatile char *pad = alloca(frame);

	pad[0] = (char)n;
	pad[frame - 1] = (char)n;
	if (n == depth_limit)
		return 0;
	return recurse(n + 1, frame) + pad[0]; /* not a tail call */
}

static void kid_main(void *arg)
{
	struct kid *k = arg;
	struct gp_exit_info info;
	struct gp_msg m;
	uint32_t cmd;

	if (k->mode != K_WORKER)
		gp_trap_exit(true);
	atomic_fetch_add(&k->starts, 1);
	log_event(k->ctx, EV_START(k->index));
	for (;;) {
		if (gp_receive(&m, -1) < 0)
			continue;
		cmd = m.tag;
		if (cmd == GP_TAG_EXIT) {
			memcpy(&info, m.data, sizeof(info));
			gp_msg_free(&m);
			atomic_store(&k->last_exit_reason, info.reason);
			atomic_fetch_add(&k->exits_heard, 1);
			log_event(k->ctx, EV_STOP(k->index));
			if (k->mode == K_STUBBORN && info.reason == GP_EXIT_SHUTDOWN)
				continue;
			if (k->mode == K_SLOW) {
				gp_sleep(k->slow_ms);
				gp_exit(GP_EXIT_USER + 9);
			}
			gp_exit(info.reason);
		}
		gp_msg_free(&m);
		switch (cmd) {
		case CMD_CRASH:
			gp_exit(GP_EXIT_USER + 1 + k->index);
		case CMD_NORMAL:
			return;
		case CMD_SHUTDOWN:
			gp_exit(GP_EXIT_SHUTDOWN);
		case CMD_OVERFLOW:
			(void)recurse(0, 600);
			break;
		case CMD_KILL_SUP:
			CHECK_EQ(gp_kill(atomic_load(&k->ctx->sup), GP_EXIT_SHUTDOWN), 0);
			break;
		}
	}
}

static void ctx_init(struct ctx *c, int n, enum kid_mode mode)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < n; i++) {
		c->kids[i].ctx = c;
		c->kids[i].index = i;
		c->kids[i].mode = mode;
	}
}

static struct gp_child_spec kid_spec(struct kid *k, enum gp_restart restart, int shutdown_ms)
{
	return (struct gp_child_spec){
		.name = "kid",
		.start = kid_main,
		.arg = k,
		.restart = restart,
		.shutdown_ms = shutdown_ms,
	};
}

/* ---- helpers, inside processes ------------------------------------------------------ */

static gp_pid which(gp_pid sup, size_t i)
{
	gp_pid pid = 0;
	int r = gp_supervisor_which_child(sup, i, &pid);

	CHECK_EQ(r, 0);
	return r == 0 ? pid : 0;
}

static uint64_t monitor(gp_pid pid)
{
	uint64_t ref = 0;

	CHECK_EQ(gp_monitor(pid, &ref), 0);
	return ref;
}

static bool is_down_of(const struct gp_msg *m, void *ctx)
{
	return m->tag == GP_TAG_DOWN &&
	       ((const struct gp_exit_info *)m->data)->ref == *(const uint64_t *)ctx;
}

/* The reason in ref's DOWN, or -1 if none comes within timeout_ms. */
static int down_reason(uint64_t ref, int timeout_ms)
{
	struct gp_msg m;
	int reason;

	if (gp_receive_match(&m, is_down_of, &ref, timeout_ms) != 0)
		return -1;
	reason = ((struct gp_exit_info *)m.data)->reason;
	gp_msg_free(&m);
	return reason;
}

static bool is_exit_from(const struct gp_msg *m, void *ctx)
{
	return m->tag == GP_TAG_EXIT && m->from == *(const gp_pid *)ctx;
}

/* For a caller that traps exits: the reason of pid's EXIT, or -1. */
static int exit_reason(gp_pid pid, int timeout_ms)
{
	struct gp_msg m;
	int reason;

	if (gp_receive_match(&m, is_exit_from, &pid, timeout_ms) != 0)
		return -1;
	reason = ((struct gp_exit_info *)m.data)->reason;
	gp_msg_free(&m);
	return reason;
}

/* Stop a supervisor we started, as one stops any process: an exit signal.
 * Unlinked first, so that its exit does not take us along. */
static int stop_sup(gp_pid sup)
{
	uint64_t ref;

	CHECK_EQ(gp_unlink(sup), 0);
	ref = monitor(sup);
	CHECK_EQ(gp_kill(sup, GP_EXIT_SHUTDOWN), 0);
	return down_reason(ref, 10000);
}

static int log_at(struct ctx *c, int n)
{
	return atomic_load(&c->log[n]);
}

static uint64_t processes(void)
{
	struct gp_stats st;

	CHECK_EQ(gp_stats(&st), 0);
	return st.processes;
}

static uint64_t spawned(void)
{
	struct gp_stats st;

	CHECK_EQ(gp_stats(&st), 0);
	return st.spawned;
}

/* ---- strategies ---------------------------------------------------------------------- */

struct restart_case {
	enum gp_strategy strategy;
	int crash;          /* the child that crashes */
	bool restarted[4];  /* who comes back as a new process */
};

static void strategy_main(void *arg)
{
	struct restart_case *c = arg;
	struct gp_child_spec kids[4];
	struct gp_sup_spec spec = {
		.strategy = c->strategy,
		.intensity = 10,
		.children = kids,
		.nchildren = 4,
	};
	gp_pid sup, before[4];
	uint64_t refs[4];
	struct ctx x;

	ctx_init(&x, 4, K_WORKER);
	for (int i = 0; i < 4; i++)
		kids[i] = kid_spec(&x.kids[i], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	for (int i = 0; i < 4; i++) {
		before[i] = which(sup, (size_t)i);
		CHECK(before[i] != 0);
		refs[i] = monitor(before[i]);
	}
	WAIT_FOR(atomic_load(&x.kids[3].starts) == 1);
	CHECK_EQ(gp_send(before[c->crash], CMD_CRASH, NULL, 0), 0);
	CHECK_EQ(down_reason(refs[c->crash], 5000), GP_EXIT_USER + 1 + c->crash);
	for (int i = 0; i < 4; i++) {
		if (!c->restarted[i])
			continue;
		WAIT_FOR(atomic_load(&x.kids[i].starts) == 2);
		/* The others the strategy takes down are stopped, not crashed. */
		if (i != c->crash)
			CHECK_EQ(down_reason(refs[i], 5000), GP_EXIT_SHUTDOWN);
	}
	for (int i = 0; i < 4; i++) {
		gp_pid now = which(sup, (size_t)i);

		CHECK(now != 0, "child %d is not running", i);
		if (c->restarted[i]) {
			CHECK(now != before[i], "child %d was not restarted", i);
		} else {
			CHECK(now == before[i], "child %d was restarted", i);
			CHECK_EQ(atomic_load(&x.kids[i].starts), 1);
			CHECK_EQ(down_reason(refs[i], 0), -1);
			(void)gp_demonitor(refs[i]);
		}
	}
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
}

/* one_for_one: only the child that crashed is restarted. */
Test(supervisor, one_for_one, .timeout = 30)
{
	struct restart_case c = { GP_ONE_FOR_ONE, 1, { false, true, false, false } };

	run_gp(strategy_main, &c, 2);
}

/* one_for_all: a crash restarts every child. */
Test(supervisor, one_for_all, .timeout = 30)
{
	struct restart_case c = { GP_ONE_FOR_ALL, 1, { true, true, true, true } };

	run_gp(strategy_main, &c, 2);
}

/* rest_for_one: the crashed child and those started after it. */
Test(supervisor, rest_for_one, .timeout = 30)
{
	struct restart_case c = { GP_REST_FOR_ONE, 1, { false, true, true, true } };

	run_gp(strategy_main, &c, 2);
}

/* rest_for_one: the last child takes only itself down. */
Test(supervisor, rest_for_one_last, .timeout = 30)
{
	struct restart_case c = { GP_REST_FOR_ONE, 3, { false, false, false, true } };

	run_gp(strategy_main, &c, 2);
}

static void overflow_main(void *arg)
{
	struct gp_child_spec kids[2];
	struct gp_sup_spec spec = { .intensity = 3, .children = kids, .nchildren = 2 };
	gp_pid sup, before, after;
	struct ctx x;

	(void)arg;
	ctx_init(&x, 2, K_WORKER);
	kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, 1000);
	kids[1] = kid_spec(&x.kids[1], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	before = which(sup, 1);
	uint64_t ref = monitor(before);

	CHECK_EQ(gp_send(before, CMD_OVERFLOW, NULL, 0), 0);
	CHECK_EQ(down_reason(ref, 5000), GP_EXIT_STACK_OVERFLOW);
	WAIT_FOR(atomic_load(&x.kids[1].starts) == 2);
	after = which(sup, 1);
	CHECK(after != 0 && after != before);
	CHECK_EQ(atomic_load(&x.kids[0].starts), 1);
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
}

/* A real crash, contained: a child whose stack overflows is restarted. */
Test(supervisor, stack_overflow_restarts, .timeout = 30)
{
	run_gp(overflow_main, NULL, 2);
}

/* ---- restart types -------------------------------------------------------------------- */

/* Tell child i to do cmd, and wait until it has died. */
static void make_exit(gp_pid sup, size_t i, uint32_t cmd)
{
	gp_pid pid = which(sup, i);
	uint64_t ref = monitor(pid);

	CHECK_EQ(gp_send(pid, cmd, NULL, 0), 0);
	CHECK(down_reason(ref, 5000) >= 0);
}

/* Child i stays down: the supervisor has seen its death and not restarted
 * it (a restart would happen as it handles the EXIT, so pid 0 is final). */
static void check_stays_down(gp_pid sup, struct ctx *x, size_t i, int starts)
{
	WAIT_FOR(which(sup, i) == 0);
	gp_sleep(20);
	CHECK_EQ(which(sup, i), 0);
	CHECK_EQ(atomic_load(&x->kids[i].starts), starts);
}

static void check_restarted(gp_pid sup, struct ctx *x, size_t i, int starts)
{
	WAIT_FOR(atomic_load(&x->kids[i].starts) == starts);
	CHECK(which(sup, i) != 0);
}

static void restart_types_main(void *arg)
{
	struct gp_child_spec kids[4];
	struct gp_sup_spec spec = { .intensity = 20, .children = kids, .nchildren = 4 };
	gp_pid sup, pid;
	struct ctx x;

	(void)arg;
	ctx_init(&x, 4, K_WORKER);
	kids[0] = kid_spec(&x.kids[0], GP_TRANSIENT, 1000);
	kids[1] = kid_spec(&x.kids[1], GP_TRANSIENT, 1000);
	kids[2] = kid_spec(&x.kids[2], GP_TEMPORARY, 1000);
	kids[3] = kid_spec(&x.kids[3], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	WAIT_FOR(atomic_load(&x.kids[3].starts) == 1);

	/* transient: a normal exit, or GP_EXIT_SHUTDOWN, is final ... */
	make_exit(sup, 0, CMD_NORMAL);
	check_stays_down(sup, &x, 0, 1);
	/* ... a crash is not */
	make_exit(sup, 1, CMD_CRASH);
	check_restarted(sup, &x, 1, 2);
	make_exit(sup, 1, CMD_SHUTDOWN);
	check_stays_down(sup, &x, 1, 2);
	/* temporary: never restarted, and then forgotten */
	make_exit(sup, 2, CMD_CRASH);
	check_stays_down(sup, &x, 2, 1);
	CHECK_EQ(gp_supervisor_restart_child(sup, 2, &pid), -ENOENT);
	/* permanent: even a normal exit is restarted */
	make_exit(sup, 3, CMD_NORMAL);
	check_restarted(sup, &x, 3, 2);
	/* A transient child that ended can be started again by hand. */
	CHECK_EQ(gp_supervisor_restart_child(sup, 0, &pid), 0);
	CHECK(pid != 0 && pid == which(sup, 0));
	WAIT_FOR(atomic_load(&x.kids[0].starts) == 2);
	CHECK_EQ(gp_supervisor_restart_child(sup, 0, &pid), -EBUSY); /* running */
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
}

/* permanent, transient and temporary, with normal and abnormal exits. */
Test(supervisor, restart_types, .timeout = 30)
{
	run_gp(restart_types_main, NULL, 2);
}

/* ---- the engine's cases, end to end ------------------------------------------------- */

_Static_assert(GP_ONE_FOR_ONE == (int)CASE_ONE_FOR_ONE && GP_ONE_FOR_ALL == (int)CASE_ONE_FOR_ALL &&
		       GP_REST_FOR_ONE == (int)CASE_REST_FOR_ONE,
	       "tests/strategy_cases.h numbers strategies as gp.h does");
_Static_assert(GP_PERMANENT == (int)CASE_PERMANENT && GP_TRANSIENT == (int)CASE_TRANSIENT &&
		       GP_TEMPORARY == (int)CASE_TEMPORARY,
	       "tests/strategy_cases.h numbers restart types as gp.h does");

static int compare_ints(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The log from entry `from` as the cases write it: "sN" for each stop,
 * then "+N" for each start. Stops are logged by the stopped child before it
 * exits, and the supervisor stops one at a time, so their order is the
 * supervisor's. Starts are logged by each new child when it first runs,
 * which on 2 schedulers need not be the order it was spawned in, and
 * nothing starts before every stop is done: the starts are compared as a
 * set, sorted. */
static void case_log(struct ctx *x, int from, int to, char *out, size_t size)
{
	int starts[LOG_MAX], nstarts = 0;
	size_t len = 0;

	out[0] = '\0';
	for (int k = from; k < to; k++) {
		int ev = log_at(x, k);

		if (ev >= EV_START(0) && ev < EV_STOP(0))
			starts[nstarts++] = ev - EV_START(0);
		else
			len += (size_t)snprintf(out + len, size - len, "%s%s%d", len ? " " : "",
						nstarts ? "(stop after a start) s" : "s",
						ev - EV_STOP(0));
	}
	qsort(starts, (size_t)nstarts, sizeof(starts[0]), compare_ints);
	for (int k = 0; k < nstarts; k++)
		len += (size_t)snprintf(out + len, size - len, "%s+%d", len ? " " : "", starts[k]);
}

static void matrix_main(void *arg)
{
	struct gp_child_spec kids[CASE_CHILDREN];
	struct gp_sup_spec spec = { .intensity = 10, .children = kids, .nchildren = CASE_CHILDREN };
	char want[256], got[256], what[128];
	gp_pid sup, pid;
	struct ctx x;
	int entries;

	(void)arg;
	for (int i = 0; i < CASE_MATRIX; i++) {
		struct strategy_case c = strategy_case(i);

		strategy_case_describe(&c, what, sizeof(what));
		entries = strategy_case_expect(&c, want, sizeof(want));
		spec.strategy = (enum gp_strategy)c.strategy;
		ctx_init(&x, CASE_CHILDREN, K_RECORDER);
		for (int k = 0; k < CASE_CHILDREN; k++)
			kids[k] = kid_spec(&x.kids[k],
					   k == c.at ? (enum gp_restart)c.kind : GP_PERMANENT, 1000);
		CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
		WAIT_FOR(atomic_load(&x.nlog) == CASE_CHILDREN);
		make_exit(sup, (size_t)c.at, c.normal ? CMD_NORMAL : CMD_CRASH);
		if (entries == 0) {
			/* Nothing restarts: the supervisor has handled the exit
			 * once the child's slot is empty; a temporary child is
			 * then forgotten. */
			WAIT_FOR(which(sup, (size_t)c.at) == 0);
			if (c.kind == CASE_TEMPORARY)
				CHECK(gp_supervisor_restart_child(sup, (size_t)c.at, &pid) == -ENOENT,
				      "%s: not forgotten", what);
		} else {
			WAIT_FOR(atomic_load(&x.nlog) == CASE_CHILDREN + entries);
			CHECK(which(sup, (size_t)c.at) != 0, "%s: not running again", what);
		}
		gp_sleep(5); /* room for anything more it would (wrongly) do */
		case_log(&x, CASE_CHILDREN, atomic_load(&x.nlog), got, sizeof(got));
		CHECK(strcmp(got, want) == 0, "%s: \"%s\", expected \"%s\"", what, got, want);
		CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
		if (atomic_load(&check_failures) > 0)
			return; /* the first failing case says it all */
	}
}

/* The engine's matrix (tests/strategy_cases.h), with real green processes:
 * every strategy x restart type x normal/abnormal exit x position. */
Test(supervisor, strategy_matrix, .timeout = 60)
{
	run_gp(matrix_main, NULL, 2);
}

/* Intensity at its boundary, as the engine's tests state it: `intensity`
 * crashes are restarted, one more gives up and stops the rest. */
static void intensity_boundary_main(void *arg)
{
	struct gp_child_spec kids[2];
	struct gp_sup_spec spec = { .period_ms = 10000, .children = kids, .nchildren = 2 };
	char got[64];
	gp_pid sup;
	struct ctx x;
	int n;

	(void)arg;
	gp_trap_exit(true); /* the supervisor's exit comes to us as a message */
	for (unsigned intensity = 0; intensity <= CASE_INTENSITY_MAX; intensity++) {
		spec.intensity = intensity;
		ctx_init(&x, 2, K_RECORDER);
		kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, 1000);
		kids[1] = kid_spec(&x.kids[1], GP_PERMANENT, 1000);
		CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
		for (unsigned r = 1; r <= intensity; r++) {
			make_exit(sup, 0, CMD_CRASH);
			check_restarted(sup, &x, 0, (int)r + 1);
		}
		WAIT_FOR(atomic_load(&x.nlog) == 2 + (int)intensity);
		n = atomic_load(&x.nlog);
		make_exit(sup, 0, CMD_CRASH);
		CHECK(exit_reason(sup, 10000) == GP_EXIT_SHUTDOWN, "intensity %u: no give-up", intensity);
		case_log(&x, n, atomic_load(&x.nlog), got, sizeof(got));
		CHECK(strcmp(got, CASE_INTENSITY_GIVE_UP) == 0, "intensity %u: \"%s\"", intensity,
		      got);
		CHECK_EQ(atomic_load(&x.kids[0].starts), (int)intensity + 1);
	}
}

Test(supervisor, intensity_boundary, .timeout = 60)
{
	run_gp(intensity_boundary_main, NULL, 2);
}

/* ---- intensity ----------------------------------------------------------------------- */

static void intensity_main(void *arg)
{
	struct gp_child_spec kids[3];
	struct gp_sup_spec spec = {
		.strategy = GP_ONE_FOR_ONE,
		.intensity = 2,
		.period_ms = 10000,
		.children = kids,
		.nchildren = 3,
	};
	gp_pid sup, pid;
	struct ctx x;
	int n;

	(void)arg;
	gp_trap_exit(true); /* the supervisor's exit comes to us as a message */
	ctx_init(&x, 3, K_RECORDER);
	for (int i = 0; i < 3; i++)
		kids[i] = kid_spec(&x.kids[i], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	/* Two restarts are allowed... */
	for (int k = 1; k <= 2; k++) {
		make_exit(sup, 0, CMD_CRASH);
		check_restarted(sup, &x, 0, k + 1);
	}
	/* ... a third within the period is more than the intensity: the
	 * supervisor stops the others, in reverse order, and exits. */
	WAIT_FOR(atomic_load(&x.nlog) == 5); /* 0, 1, 2 started; 0 twice more */
	n = atomic_load(&x.nlog);
	make_exit(sup, 0, CMD_CRASH);
	CHECK_EQ(exit_reason(sup, 10000), GP_EXIT_SHUTDOWN);
	CHECK_EQ(atomic_load(&x.kids[0].starts), 3); /* not a fourth time */
	CHECK_EQ(atomic_load(&x.nlog), n + 2);
	CHECK_EQ(log_at(&x, n), EV_STOP(2));
	CHECK_EQ(log_at(&x, n + 1), EV_STOP(1));
	CHECK_EQ(atomic_load(&x.kids[1].last_exit_reason), GP_EXIT_SHUTDOWN);
	/* It is gone: requests say so. */
	CHECK_EQ(gp_supervisor_which_child(sup, 0, &pid), -ESRCH);
}

/* More than intensity restarts within the period: the supervisor gives up
 * and exits with GP_EXIT_SHUTDOWN, its children stopped in reverse order. */
Test(supervisor, intensity_exceeded, .timeout = 30)
{
	run_gp(intensity_main, NULL, 2);
}

static void period_main(void *arg)
{
	struct gp_child_spec kids[1];
	struct gp_sup_spec spec = {
		.intensity = 1,
		.period_ms = 1000,
		.children = kids,
		.nchildren = 1,
	};
	gp_pid sup;
	struct ctx x;

	(void)arg;
	gp_trap_exit(true);
	ctx_init(&x, 1, K_WORKER);
	kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	/* One restart per period is within the intensity, however many. */
	for (int k = 1; k <= 3; k++) {
		make_exit(sup, 0, CMD_CRASH);
		check_restarted(sup, &x, 0, k + 1);
		gp_sleep(1100);
	}
	/* Two within the period are not. */
	make_exit(sup, 0, CMD_CRASH);
	check_restarted(sup, &x, 0, 5);
	make_exit(sup, 0, CMD_CRASH);
	CHECK_EQ(exit_reason(sup, 10000), GP_EXIT_SHUTDOWN);
	CHECK_EQ(atomic_load(&x.kids[0].starts), 5);
}

/* Restarts older than the period do not count. */
Test(supervisor, intensity_period, .timeout = 30)
{
	run_gp(period_main, NULL, 2);
}

static void zero_intensity_main(void *arg)
{
	struct gp_child_spec kids[1];
	struct gp_sup_spec spec = { .intensity = 0, .children = kids, .nchildren = 1 };
	gp_pid sup;
	struct ctx x;

	(void)arg;
	gp_trap_exit(true);
	ctx_init(&x, 1, K_WORKER);
	kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	make_exit(sup, 0, CMD_CRASH);
	CHECK_EQ(exit_reason(sup, 10000), GP_EXIT_SHUTDOWN);
	CHECK_EQ(atomic_load(&x.kids[0].starts), 1);
}

/* Intensity 0: no restart at all; the first crash ends the supervisor. */
Test(supervisor, intensity_zero, .timeout = 30)
{
	run_gp(zero_intensity_main, NULL, 2);
}

/* ---- nested supervisors --------------------------------------------------------------- */

struct nested {
	struct gp_sup_spec spec; /* first: the start function's arg is both */
	struct gp_child_spec kids[1];
	atomic_int starts;
};

static void sub_start(void *arg)
{
	struct nested *n = arg;
	int r;

	atomic_fetch_add(&n->starts, 1);
	r = gp_supervisor_run(&n->spec); /* returns only if it could not start */
	CHECK(0, "gp_supervisor_run returned %d", r);
}

static void nested_main(void *arg)
{
	struct nested n = { .spec = { .intensity = 1, .period_ms = 10000, .nchildren = 1 } };
	struct gp_child_spec top_kids[2];
	struct gp_sup_spec top = { .intensity = 5, .children = top_kids, .nchildren = 2 };
	gp_pid sup, sub1, sub2, a1, a2, a3, sibling;
	uint64_t ref;
	struct ctx x;

	(void)arg;
	ctx_init(&x, 2, K_WORKER);
	n.spec.children = n.kids;
	n.kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, 1000);
	top_kids[0] = (struct gp_child_spec){
		.name = "sub",
		.start = sub_start,
		.arg = &n,
		.restart = GP_PERMANENT,
		.is_supervisor = true,
	};
	top_kids[1] = kid_spec(&x.kids[1], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &top), 0);
	sub1 = which(sup, 0);
	sibling = which(sup, 1);
	WAIT_FOR(atomic_load(&x.kids[1].starts) == 1);
	ref = monitor(sub1);
	WAIT_FOR((a1 = which(sub1, 0)) != 0);
	/* The child supervisor restarts its child once... */
	make_exit(sub1, 0, CMD_CRASH);
	WAIT_FOR((a2 = which(sub1, 0)) != 0 && a2 != a1);
	/* ... and gives up at the second crash: it exits with
	 * GP_EXIT_SHUTDOWN, and its supervisor restarts it. */
	make_exit(sub1, 0, CMD_CRASH);
	CHECK_EQ(down_reason(ref, 10000), GP_EXIT_SHUTDOWN);
	WAIT_FOR((sub2 = which(sup, 0)) != 0 && sub2 != sub1);
	WAIT_FOR(atomic_load(&n.starts) == 2);
	WAIT_FOR((a3 = which(sub2, 0)) != 0);
	CHECK(a3 != a1 && a3 != a2);
	WAIT_FOR(atomic_load(&x.kids[0].starts) == 3);
	/* one_for_one: the sibling was not touched. */
	CHECK_EQ(which(sup, 1), sibling);
	CHECK_EQ(atomic_load(&x.kids[1].starts), 1);
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
}

/* A supervisor under a supervisor: its give-up is a death its own
 * supervisor handles by restarting it. */
Test(supervisor, nested_give_up_restarts, .timeout = 30)
{
	run_gp(nested_main, NULL, 2);
}

static void nested_stop_main(void *arg)
{
	struct nested n = { .spec = { .intensity = 1, .nchildren = 1 } };
	struct gp_child_spec top_kids[1];
	struct gp_sup_spec top = { .intensity = 1, .children = top_kids, .nchildren = 1 };
	uint64_t sub_ref, grand_ref, t0, ms;
	gp_pid sup, sub, grand;
	struct ctx x;

	(void)arg;
	ctx_init(&x, 1, K_STUBBORN);
	n.spec.children = n.kids;
	n.kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, 100);
	/* shutdown_ms 0 for a supervisor: infinity, not brutal. */
	top_kids[0] = (struct gp_child_spec){ .start = sub_start, .arg = &n, .is_supervisor = true };
	CHECK_EQ(gp_supervisor_start(&sup, &top), 0);
	sub = which(sup, 0);
	WAIT_FOR((grand = which(sub, 0)) != 0);
	WAIT_FOR(atomic_load(&x.kids[0].starts) == 1);
	sub_ref = monitor(sub);
	grand_ref = monitor(grand);
	t0 = now_ns();
	CHECK_EQ(gp_supervisor_terminate_child(sup, sub), 0);
	ms = (now_ns() - t0) / 1000000;
	/* The child supervisor stopped its stubborn child (killed after its
	 * 100 ms) before it exited itself, and was waited for that long. */
	CHECK(ms >= 100, "terminated in %llu ms", (unsigned long long)ms);
	CHECK_EQ(down_reason(grand_ref, 5000), GP_EXIT_KILLED);
	CHECK_EQ(atomic_load(&x.kids[0].exits_heard), 1);
	CHECK_EQ(down_reason(sub_ref, 5000), GP_EXIT_SHUTDOWN);
	CHECK_EQ(which(sup, 0), 0);
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
}

/* A supervisor child's default shutdown is infinity: its supervisor waits
 * while it stops its own children. */
Test(supervisor, nested_stop_waits_for_subtree, .timeout = 30)
{
	run_gp(nested_stop_main, NULL, 2);
}

/* ---- order ----------------------------------------------------------------------------- */

static void order_main(void *arg)
{
	enum gp_strategy strategy = *(enum gp_strategy *)arg;
	struct gp_child_spec kids[4];
	struct gp_sup_spec spec = {
		.strategy = strategy,
		.intensity = 5,
		.children = kids,
		.nchildren = 4,
	};
	int first = strategy == GP_ONE_FOR_ALL ? 0 : 1; /* the first one restarted */
	int n, seen = 0;
	gp_pid sup;
	struct ctx x;

	ctx_init(&x, 4, K_RECORDER);
	for (int i = 0; i < 4; i++)
		kids[i] = kid_spec(&x.kids[i], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	WAIT_FOR(atomic_load(&x.nlog) == 4);
	make_exit(sup, 1, CMD_CRASH);
	/* The others affected stop one at a time, in reverse start order;
	 * only then do they all start again. */
	n = 4 + (4 - first - 1) + (4 - first);
	WAIT_FOR(atomic_load(&x.nlog) == n);
	CHECK_EQ(log_at(&x, 4), EV_STOP(3));
	CHECK_EQ(log_at(&x, 5), EV_STOP(2));
	if (strategy == GP_ONE_FOR_ALL)
		CHECK_EQ(log_at(&x, 6), EV_STOP(0));
	for (int k = n - (4 - first); k < n; k++) {
		int ev = log_at(&x, k);

		CHECK(ev >= EV_START(first) && ev <= EV_START(3), "event %d", ev);
		seen |= 1 << (ev - EV_START(0));
	}
	CHECK_EQ(seen, 0xf & ~((1 << first) - 1));
	/* A shutdown stops them all, in reverse start order. */
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
	CHECK_EQ(atomic_load(&x.nlog), n + 4);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(log_at(&x, n + i), EV_STOP(3 - i));
}

/* one_for_all: stops in reverse order, then every start. */
Test(supervisor, one_for_all_order, .timeout = 30)
{
	enum gp_strategy s = GP_ONE_FOR_ALL;

	run_gp(order_main, &s, 2);
}

/* rest_for_one: the same, for the crashed child and those after it. */
Test(supervisor, rest_for_one_order, .timeout = 30)
{
	enum gp_strategy s = GP_REST_FOR_ONE;

	run_gp(order_main, &s, 2);
}

static void start_failure_main(void *arg)
{
	struct gp_child_spec kids[4];
	struct gp_sup_spec spec = { .strategy = GP_ONE_FOR_ALL, .children = kids, .nchildren = 4 };
	uint64_t base, before;
	struct gp_msg m;
	gp_pid sup = 0;
	struct ctx x;

	(void)arg;
	gp_trap_exit(true);
	base = processes();
	for (int bad = 0; bad < 4; bad++) {
		ctx_init(&x, 4, K_WORKER);
		for (int i = 0; i < 4; i++)
			kids[i] = kid_spec(&x.kids[i], GP_PERMANENT, 1000);
		kids[bad].stack_size = (size_t)1 << 40; /* no such stack: spawning it fails */
		before = spawned();
		CHECK_EQ(gp_supervisor_start(&sup, &spec), -EINVAL);
		/* In order: the supervisor, then the children before the bad
		 * one; none after it. Those started are stopped again. */
		CHECK_EQ(spawned() - before, 1 + (uint64_t)bad);
		for (int i = bad + 1; i < 4; i++)
			CHECK_EQ(atomic_load(&x.kids[i].starts), 0);
		WAIT_FOR(processes() == base);
	}
	/* The failed supervisor left nothing in our mailbox. */
	CHECK_EQ(gp_receive(&m, 50), -ETIMEDOUT);
	CHECK_EQ(sup, 0); /* written only on success */
}

/* A child that cannot be started fails the supervisor's start: the
 * children before it are stopped, those after it never start. */
Test(supervisor, start_failure_is_ordered, .timeout = 30)
{
	run_gp(start_failure_main, NULL, 2);
}

/* ---- the parent's exit ---------------------------------------------------------------- */

struct parent_case {
	int reason; /* how the parent exits */
	struct ctx x;
};

static void parent_proc(void *arg)
{
	struct parent_case *c = arg;
	struct gp_child_spec kids[3];
	struct gp_sup_spec spec = { .intensity = 1, .children = kids, .nchildren = 3 };
	gp_pid sup;
	struct gp_msg m;

	for (int i = 0; i < 3; i++)
		kids[i] = kid_spec(&c->x.kids[i], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	atomic_store(&c->x.sup, sup);
	CHECK_EQ(gp_receive(&m, -1), 0); /* "go" */
	gp_msg_free(&m);
	gp_exit(c->reason);
}

static void parent_main(void *arg)
{
	struct parent_case *c = arg;
	uint64_t parent_ref, sup_ref;
	gp_pid parent, sup;

	ctx_init(&c->x, 3, K_RECORDER);
	parent = gp_spawn(parent_proc, c);
	parent_ref = monitor(parent);
	WAIT_FOR(atomic_load(&c->x.sup) != 0);
	WAIT_FOR(atomic_load(&c->x.nlog) == 3);
	sup = atomic_load(&c->x.sup);
	sup_ref = monitor(sup);
	CHECK_EQ(gp_send(parent, 1, NULL, 0), 0);
	CHECK_EQ(down_reason(parent_ref, 5000), c->reason);
	if (c->reason == GP_EXIT_NORMAL) {
		/* A parent that ended normally leaves its supervisor running. */
		gp_sleep(20);
		CHECK(which(sup, 2) != 0);
		CHECK_EQ(atomic_load(&c->x.nlog), 3);
		CHECK_EQ(gp_kill(sup, GP_EXIT_SHUTDOWN), 0);
		CHECK_EQ(down_reason(sup_ref, 10000), GP_EXIT_SHUTDOWN);
	} else {
		/* Otherwise the supervisor stops its children, in reverse
		 * order, and exits with its parent's reason. */
		CHECK_EQ(down_reason(sup_ref, 10000), c->reason);
	}
	CHECK_EQ(atomic_load(&c->x.nlog), 6);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(log_at(&c->x, 3 + i), EV_STOP(2 - i));
		CHECK_EQ(atomic_load(&c->x.kids[i].last_exit_reason), GP_EXIT_SHUTDOWN);
	}
}

/* The parent's abnormal exit: an ordered shutdown with its reason. */
Test(supervisor, parent_exit_abnormal, .timeout = 30)
{
	static struct parent_case c = { .reason = GP_EXIT_USER + 7 };

	run_gp(parent_main, &c, 2);
}

/* The parent's normal exit: nothing happens; gp_kill stops it in order. */
Test(supervisor, parent_exit_normal, .timeout = 30)
{
	static struct parent_case c = { .reason = GP_EXIT_NORMAL };

	run_gp(parent_main, &c, 2);
}

static void child_kills_sup_main(void *arg)
{
	struct gp_child_spec kids[2];
	struct gp_sup_spec spec = { .intensity = 5, .children = kids, .nchildren = 2 };
	uint64_t ref;
	gp_pid sup;
	struct ctx x;

	(void)arg;
	ctx_init(&x, 2, K_WORKER);
	kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, 1000);
	kids[1] = kid_spec(&x.kids[1], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	CHECK_EQ(gp_unlink(sup), 0);
	atomic_store(&x.sup, sup);
	ref = monitor(sup);
	WAIT_FOR(atomic_load(&x.kids[1].starts) == 1);
	CHECK_EQ(gp_send(which(sup, 0), CMD_KILL_SUP, NULL, 0), 0);
	/* An exit signal from a live child is a request to stop, not its
	 * death: the supervisor stops, and starts no second copy of it. */
	CHECK_EQ(down_reason(ref, 10000), GP_EXIT_SHUTDOWN);
	CHECK_EQ(atomic_load(&x.kids[0].starts), 1);
	CHECK_EQ(atomic_load(&x.kids[1].starts), 1);
}

Test(supervisor, exit_signal_from_live_child, .timeout = 30)
{
	run_gp(child_kills_sup_main, NULL, 2);
}

/* ---- shutdown -------------------------------------------------------------------------- */

struct shutdown_case {
	enum kid_mode mode;
	int shutdown_ms;
	int slow_ms;
	int want_reason;   /* the child's exit */
	int min_ms;        /* terminate_child takes at least this long */
	int max_ms;        /* and less than this (0: no bound) */
	bool hears_stop;   /* it received GP_EXIT_SHUTDOWN first */
};

static void shutdown_main(void *arg)
{
	struct shutdown_case *c = arg;
	struct gp_child_spec kids[1];
	struct gp_sup_spec spec = { .children = kids, .nchildren = 1 };
	uint64_t ref, t0, ms;
	gp_pid sup, pid;
	struct ctx x;

	ctx_init(&x, 1, c->mode);
	x.kids[0].slow_ms = c->slow_ms;
	kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, c->shutdown_ms);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	pid = which(sup, 0);
	ref = monitor(pid);
	WAIT_FOR(atomic_load(&x.kids[0].starts) == 1); /* trapping, if it does */
	t0 = now_ns();
	CHECK_EQ(gp_supervisor_terminate_child(sup, pid), 0);
	ms = (now_ns() - t0) / 1000000;
	/* The child tells its links (the supervisor, which then answers us)
	 * before its monitors: its DOWN may trail the answer. */
	CHECK_EQ(down_reason(ref, 5000), c->want_reason);
	CHECK(ms >= (uint64_t)c->min_ms, "%llu ms", (unsigned long long)ms);
	if (c->max_ms)
		CHECK(ms < (uint64_t)c->max_ms, "%llu ms", (unsigned long long)ms);
	if (c->hears_stop) {
		CHECK_EQ(atomic_load(&x.kids[0].exits_heard), 1);
		CHECK_EQ(atomic_load(&x.kids[0].last_exit_reason), GP_EXIT_SHUTDOWN);
	} else {
		CHECK_EQ(atomic_load(&x.kids[0].exits_heard), 0);
	}
	/* Terminated is kept down, and is not a crash: nothing restarts it. */
	CHECK_EQ(which(sup, 0), 0);
	CHECK_EQ(atomic_load(&x.kids[0].starts), 1);
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
}

/* A child that ignores GP_EXIT_SHUTDOWN is killed, after shutdown_ms and
 * never before. */
Test(supervisor, shutdown_escalates_to_kill, .timeout = 30)
{
	struct shutdown_case c = { K_STUBBORN, 200, 0, GP_EXIT_KILLED, 200, 0, true };

	run_gp(shutdown_main, &c, 2);
}

/* A child that obeys is not made to wait for the timer. */
Test(supervisor, shutdown_polite, .timeout = 30)
{
	struct shutdown_case c = { K_WORKER, 5000, 0, GP_EXIT_SHUTDOWN, 0, 4000, false };

	run_gp(shutdown_main, &c, 2);
}

/* Brutal: killed at once, even though it would have listened. */
Test(supervisor, shutdown_brutal, .timeout = 30)
{
	struct shutdown_case c = { K_RECORDER, GP_SHUTDOWN_BRUTAL, 0, GP_EXIT_KILLED, 0, 0, false };

	run_gp(shutdown_main, &c, 2);
}

/* Infinity: waited for, however long it takes, and it ends as it likes. */
Test(supervisor, shutdown_infinity, .timeout = 30)
{
	struct shutdown_case c = { K_SLOW, GP_SHUTDOWN_INFINITY, 300, GP_EXIT_USER + 9, 300, 0, true };

	run_gp(shutdown_main, &c, 2);
}

static void shutdown_all_main(void *arg)
{
	struct gp_child_spec kids[3];
	struct gp_sup_spec spec = { .children = kids, .nchildren = 3 };
	uint64_t t0, ms;
	gp_pid sup;
	struct ctx x;

	(void)arg;
	ctx_init(&x, 3, K_RECORDER);
	x.kids[1].mode = K_STUBBORN;
	for (int i = 0; i < 3; i++)
		kids[i] = kid_spec(&x.kids[i], GP_PERMANENT, 150);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	WAIT_FOR(atomic_load(&x.nlog) == 3);
	t0 = now_ns();
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
	ms = (now_ns() - t0) / 1000000;
	/* 2, then the stubborn 1 (killed after 150 ms), and only then 0. */
	CHECK(ms >= 150, "%llu ms", (unsigned long long)ms);
	CHECK_EQ(atomic_load(&x.nlog), 6);
	CHECK_EQ(log_at(&x, 3), EV_STOP(2));
	CHECK_EQ(log_at(&x, 4), EV_STOP(1));
	CHECK_EQ(log_at(&x, 5), EV_STOP(0));
}

/* A shutdown waits for each child in turn, escalating as it goes. */
Test(supervisor, shutdown_one_at_a_time, .timeout = 30)
{
	run_gp(shutdown_all_main, NULL, 2);
}

/* ---- terminate_child, restart_child ---------------------------------------------------- */

static void terminate_restart_main(void *arg)
{
	struct gp_child_spec kids[3];
	struct gp_sup_spec spec = {
		.strategy = GP_ONE_FOR_ALL,
		.intensity = 5,
		.children = kids,
		.nchildren = 3,
	};
	gp_pid sup, p1, again;
	struct gp_msg m;
	struct ctx x;

	(void)arg;
	ctx_init(&x, 3, K_WORKER);
	/* Mail of our own, which the requests must leave alone. */
	CHECK_EQ(gp_send(gp_self(), 42, "a", 1), 0);
	CHECK_EQ(gp_send(gp_self(), 43, "b", 1), 0);
	for (int i = 0; i < 3; i++)
		kids[i] = kid_spec(&x.kids[i], GP_PERMANENT, 1000);
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	for (int i = 0; i < 3; i++)
		WAIT_FOR(atomic_load(&x.kids[i].starts) == 1);
	p1 = which(sup, 1);
	CHECK_EQ(gp_supervisor_terminate_child(sup, p1), 0);
	CHECK_EQ(which(sup, 1), 0);
	CHECK_EQ(gp_supervisor_terminate_child(sup, p1), -ENOENT); /* not a child any more */
	/* A group restart leaves a terminated child down. */
	make_exit(sup, 0, CMD_CRASH);
	WAIT_FOR(atomic_load(&x.kids[0].starts) == 2 && atomic_load(&x.kids[2].starts) == 2);
	CHECK_EQ(which(sup, 1), 0);
	CHECK_EQ(atomic_load(&x.kids[1].starts), 1);
	/* Until it is started again by hand. */
	CHECK_EQ(gp_supervisor_restart_child(sup, 1, &again), 0);
	CHECK(again != 0 && again != p1);
	CHECK_EQ(which(sup, 1), again);
	WAIT_FOR(atomic_load(&x.kids[1].starts) == 2);
	CHECK_EQ(gp_supervisor_restart_child(sup, 3, &again), -ENOENT);
	CHECK_EQ(gp_supervisor_which_child(sup, 3, &again), -ENOENT);
	CHECK_EQ(gp_supervisor_terminate_child(sup, gp_self()), -ENOENT);
	CHECK_EQ(gp_supervisor_start_child(sup, NULL, &again), -EINVAL); /* not simple */
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
	/* Our mail is all there, in order, and nothing else. */
	CHECK_EQ(gp_receive(&m, 0), 0);
	CHECK_EQ(m.tag, 42);
	gp_msg_free(&m);
	CHECK_EQ(gp_receive(&m, 0), 0);
	CHECK_EQ(m.tag, 43);
	gp_msg_free(&m);
	CHECK_EQ(gp_receive(&m, 0), -ETIMEDOUT);
}

Test(supervisor, terminate_and_restart_child, .timeout = 30)
{
	run_gp(terminate_restart_main, NULL, 2);
}

/* ---- simple_one_for_one ---------------------------------------------------------------- */

#define DYN_MAX      64
#define DYN_STUBBORN ((void *)(uintptr_t)DYN_MAX) /* arg: traps exits, ignores its stop */

struct dyn {
	atomic_int starts[DYN_MAX + 1]; /* by arg */
	atomic_int running;             /* started, and not yet told to stop */
};

static struct dyn dyn;

static int dyn_starts(uintptr_t k)
{
	return atomic_load(&dyn.starts[k]);
}

/* A dynamic child: arg is its number; it waits for commands. */
static void dyn_main(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	struct gp_exit_info info;
	struct gp_msg m;
	uint32_t cmd;

	if (arg == DYN_STUBBORN)
		gp_trap_exit(true);
	if (k <= DYN_MAX)
		atomic_fetch_add(&dyn.starts[k], 1);
	atomic_fetch_add(&dyn.running, 1);
	for (;;) {
		if (gp_receive(&m, -1) < 0)
			continue;
		cmd = m.tag;
		if (cmd == GP_TAG_EXIT)
			memcpy(&info, m.data, sizeof(info));
		gp_msg_free(&m);
		if (cmd == GP_TAG_EXIT && info.reason != GP_EXIT_SHUTDOWN)
			gp_exit(info.reason); /* its supervisor died */
		if (cmd == CMD_CRASH)
			gp_exit(GP_EXIT_USER + 1);
		if (cmd == CMD_NORMAL)
			return;
	}
}

static struct gp_sup_spec dyn_spec(struct gp_child_spec *kid, enum gp_restart restart,
				   size_t max)
{
	*kid = (struct gp_child_spec){
		.name = "dyn",
		.start = dyn_main,
		.restart = restart,
		.shutdown_ms = 1000,
	};
	return (struct gp_sup_spec){
		.strategy = GP_SIMPLE_ONE_FOR_ONE,
		.intensity = 5,
		.children = kid,
		.nchildren = 1,
		.max_children = max,
	};
}

static void simple_main(void *arg)
{
	struct gp_child_spec kid;
	struct gp_sup_spec spec = dyn_spec(&kid, GP_TRANSIENT, 3);
	gp_pid sup, pids[4], extra, w;
	uint64_t ref;
	int found, r;

	(void)arg;
	memset(&dyn, 0, sizeof(dyn));
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	CHECK_EQ(which(sup, 0), 0); /* no child until asked */
	for (uintptr_t k = 1; k <= 3; k++) {
		CHECK_EQ(gp_supervisor_start_child(sup, (void *)k, &pids[k]), 0);
		CHECK(pids[k] != 0);
	}
	CHECK(pids[1] != pids[2] && pids[2] != pids[3] && pids[1] != pids[3]);
	/* Each got its own arg. */
	WAIT_FOR(dyn_starts(1) == 1 && dyn_starts(2) == 1 && dyn_starts(3) == 1);
	/* max_children 3. */
	CHECK_EQ(gp_supervisor_start_child(sup, (void *)4, &extra), -ENOSPC);
	/* which_child enumerates the slots; past max_children, -ENOENT. */
	found = 0;
	for (size_t i = 0; i < 3; i++) {
		w = which(sup, i);
		for (int k = 1; k <= 3; k++)
			found += w == pids[k];
	}
	CHECK_EQ(found, 3);
	CHECK_EQ(gp_supervisor_which_child(sup, 3, &w), -ENOENT);
	/* terminate_child stops one and frees its slot. */
	ref = monitor(pids[2]);
	CHECK_EQ(gp_supervisor_terminate_child(sup, pids[2]), 0);
	CHECK_EQ(down_reason(ref, 5000), GP_EXIT_SHUTDOWN);
	CHECK_EQ(gp_supervisor_terminate_child(sup, pids[2]), -ENOENT);
	CHECK_EQ(gp_supervisor_start_child(sup, (void *)4, &extra), 0);
	WAIT_FOR(dyn_starts(4) == 1);
	CHECK_EQ(dyn_starts(2), 1); /* transient, terminated: not restarted */
	CHECK_EQ(gp_supervisor_start_child(sup, (void *)5, &w), -ENOSPC);
	/* A transient child that ends normally frees its slot too. */
	ref = monitor(pids[1]);
	CHECK_EQ(gp_send(pids[1], CMD_NORMAL, NULL, 0), 0);
	CHECK_EQ(down_reason(ref, 5000), GP_EXIT_NORMAL);
	for (int t = 0; t < 10000 && (r = gp_supervisor_start_child(sup, (void *)5, &w)) != 0; t++)
		gp_sleep(1); /* until the supervisor has seen the exit */
	CHECK_EQ(r, 0);
	/* One that crashes comes back, with the same arg. */
	ref = monitor(pids[3]);
	CHECK_EQ(gp_send(pids[3], CMD_CRASH, NULL, 0), 0);
	CHECK_EQ(down_reason(ref, 5000), GP_EXIT_USER + 1);
	WAIT_FOR(dyn_starts(3) == 2);
	CHECK_EQ(gp_supervisor_restart_child(sup, 0, &w), -EINVAL); /* simple: no */
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
}

/* simple_one_for_one: start_child with an arg, max_children, terminate_child. */
Test(supervisor, simple_one_for_one, .timeout = 30)
{
	run_gp(simple_main, NULL, 2);
}

struct many {
	gp_pid sup;
	long n;          /* per client */
	atomic_int up;   /* clients whose children are all started */
	atomic_int go;   /* set by the test: stop them now */
	atomic_int done; /* clients finished */
};

static int cmp_pid(const void *a, const void *b)
{
	gp_pid x = *(const gp_pid *)a, y = *(const gp_pid *)b;

	return (x > y) - (x < y);
}

/* Starts n children, checks they are distinct, stops them all. */
static void many_client(void *arg)
{
	struct many *c = arg;
	gp_pid *pids = gp_alloc((size_t)c->n * sizeof(*pids));
	gp_pid *sorted = gp_alloc((size_t)c->n * sizeof(*pids));

	CHECK(pids && sorted);
	if (!pids || !sorted)
		goto out;
	for (long i = 0; i < c->n; i++)
		CHECK_EQ(gp_supervisor_start_child(c->sup, NULL, &pids[i]), 0);
	memcpy(sorted, pids, (size_t)c->n * sizeof(*pids));
	qsort(sorted, (size_t)c->n, sizeof(*sorted), cmp_pid);
	for (long i = 1; i < c->n; i++)
		CHECK(sorted[i] != sorted[i - 1], "pid %llu twice", (unsigned long long)sorted[i]);
	atomic_fetch_add(&c->up, 1);
	WAIT_FOR(atomic_load(&c->go)); /* all of them up at once */
	for (long i = 0; i < c->n; i++)
		CHECK_EQ(gp_supervisor_terminate_child(c->sup, pids[i]), 0);
out:
	atomic_fetch_add(&c->done, 1);
}

static void many_main(void *arg)
{
	struct gp_child_spec kid;
	struct gp_sup_spec spec = dyn_spec(&kid, GP_PERMANENT, 0);
	struct many c = { .n = *(long *)arg / 4 };
	uint64_t base;

	memset(&dyn, 0, sizeof(dyn));
	base = processes();
	CHECK_EQ(gp_supervisor_start(&c.sup, &spec), 0);
	/* Four callers at once: requests interleave at the supervisor. */
	for (int k = 0; k < 4; k++)
		CHECK(gp_spawn(many_client, &c) != 0);
	WAIT_FOR(atomic_load(&c.up) == 4);
	CHECK_EQ(processes(), base + 1 + 4 + 4 * (uint64_t)c.n);
	WAIT_FOR(atomic_load(&dyn.running) == 4 * c.n);
	atomic_store(&c.go, 1);
	WAIT_FOR(atomic_load(&c.done) == 4);
	/* Their slots are free: the supervisor is alone again (the clients'
	 * and children's exits may still be under way). */
	WAIT_FOR(processes() == base + 1);
	CHECK_EQ(which(c.sup, 0), 0);
	CHECK_EQ(stop_sup(c.sup), GP_EXIT_SHUTDOWN);
}

/* 10,000 dynamic children started and stopped; nothing is left. */
Test(supervisor, simple_many_children, .timeout = 120)
{
	long n = scaled(10000, 100) / 4 * 4;

	run_gp(many_main, &n, 2);
}

static void shutdown_dynamic_main(void *arg)
{
	struct gp_child_spec kid;
	struct gp_sup_spec spec = dyn_spec(&kid, GP_PERMANENT, 0);
	uint64_t base = processes(), t0, ms;
	gp_pid sup, pid;

	(void)arg;
	memset(&dyn, 0, sizeof(dyn));
	kid.shutdown_ms = 200;
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	for (int i = 0; i < 20; i++)
		CHECK_EQ(gp_supervisor_start_child(sup, DYN_STUBBORN, &pid), 0);
	WAIT_FOR(atomic_load(&dyn.running) == 20);
	CHECK_EQ(processes(), base + 1 + 20);
	/* A shutdown stops dynamic children all at once: 20 that each ignore
	 * it for 200 ms take 200 ms together, not 4 s. */
	t0 = now_ns();
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
	ms = (now_ns() - t0) / 1000000;
	CHECK(ms >= 200 && ms < 2000, "%llu ms", (unsigned long long)ms);
	WAIT_FOR(processes() == base);
}

Test(supervisor, simple_shutdown_in_parallel, .timeout = 60)
{
	run_gp(shutdown_dynamic_main, NULL, 2);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void kill_helper(void *arg)
{
	gp_sleep(50);
	CHECK_EQ(gp_kill(*(gp_pid *)arg, GP_EXIT_KILL), 0);
}

static void dead_sup_main(void *arg)
{
	struct gp_child_spec kid, kids[1];
	struct gp_sup_spec spec = dyn_spec(&kid, GP_PERMANENT, 0);
	struct gp_sup_spec one = { .children = kids, .nchildren = 1 };
	uint64_t base = processes();
	gp_pid sup, pid = 0;
	struct ctx x;

	(void)arg;
	gp_trap_exit(true);
	memset(&dyn, 0, sizeof(dyn));
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	CHECK_EQ(gp_supervisor_start_child(sup, NULL, &pid), 0);
	CHECK_EQ(gp_kill(sup, GP_EXIT_KILL), 0);
	CHECK_EQ(exit_reason(sup, 5000), GP_EXIT_KILLED);
	CHECK_EQ(gp_supervisor_start_child(sup, NULL, &pid), -ESRCH);
	CHECK_EQ(gp_supervisor_terminate_child(sup, pid), -ESRCH);
	CHECK_EQ(gp_supervisor_restart_child(sup, 0, &pid), -ESRCH);
	CHECK_EQ(gp_supervisor_which_child(sup, 0, &pid), -ESRCH);

	/* A supervisor that dies while a request waits: -ESRCH, not a hang.
	 * Its stubborn child (shutdown infinity) would never let the request
	 * finish; the supervisor's death ends it (it does not ignore that). */
	ctx_init(&x, 1, K_STUBBORN);
	kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, GP_SHUTDOWN_INFINITY);
	CHECK_EQ(gp_supervisor_start(&sup, &one), 0);
	WAIT_FOR(atomic_load(&x.kids[0].starts) == 1);
	CHECK(gp_spawn(kill_helper, &sup) != 0);
	CHECK_EQ(gp_supervisor_terminate_child(sup, which(sup, 0)), -ESRCH);
	CHECK_EQ(exit_reason(sup, 5000), GP_EXIT_KILLED);
	/* The child traps exits: it heard the terminate request (and ignored
	 * it), then its supervisor's death, and ended on that. x lives on this
	 * stack, so wait until it has. */
	WAIT_FOR(processes() == base);
	CHECK_EQ(atomic_load(&x.kids[0].exits_heard), 2);
	CHECK_EQ(atomic_load(&x.kids[0].last_exit_reason), GP_EXIT_KILLED);
}

/* A dead supervisor: -ESRCH from every request, even one in flight; and,
 * killed, it leaks nothing (the suite's leak check). */
Test(supervisor, dead_supervisor, .timeout = 30)
{
	run_gp(dead_sup_main, NULL, 2);
}

/* Outside a process, every call says -EPERM. */
Test(supervisor, outside_a_process, .timeout = 10)
{
	struct gp_child_spec kid = { .start = kid_main };
	struct gp_sup_spec spec = { .children = &kid, .nchildren = 1 };
	gp_pid pid;

	cr_assert_eq(gp_supervisor_start(&pid, &spec), -EPERM);
	cr_assert_eq(gp_supervisor_run(&spec), -EPERM);
	cr_assert_eq(gp_supervisor_start_child(1, NULL, &pid), -EPERM);
	cr_assert_eq(gp_supervisor_terminate_child(1, 2), -EPERM);
	cr_assert_eq(gp_supervisor_restart_child(1, 0, &pid), -EPERM);
	cr_assert_eq(gp_supervisor_which_child(1, 0, &pid), -EPERM);
}

static void nothing(void *arg)
{
	(void)arg;
}

static void bad_specs_main(void *arg)
{
	struct gp_child_spec good = { .start = nothing, .restart = GP_TEMPORARY };
	struct gp_child_spec kids[2] = { good, good }, bad;
	struct gp_sup_spec spec;
	char long_name[GP_NAME_MAX + 2];
	gp_pid pid = 0, sup;
	uint64_t base = processes();

	(void)arg;
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';

/* A good spec, changed by the statements given: -EINVAL. */
#define EXPECT_EINVAL(...)                                                       \
	do {                                                                     \
		spec = (struct gp_sup_spec){ .children = kids, .nchildren = 1 }; \
		__VA_ARGS__;                                                     \
		CHECK_EQ(gp_supervisor_start(&pid, &spec), -EINVAL);             \
	} while (0)

	CHECK_EQ(gp_supervisor_start(&pid, NULL), -EINVAL);
	spec = (struct gp_sup_spec){ .children = kids, .nchildren = 1 };
	CHECK_EQ(gp_supervisor_start(NULL, &spec), -EINVAL);
	EXPECT_EINVAL(spec.strategy = (enum gp_strategy)4);
	EXPECT_EINVAL(spec.strategy = (enum gp_strategy)-1);
	EXPECT_EINVAL(spec.children = NULL);
	EXPECT_EINVAL(spec.strategy = GP_SIMPLE_ONE_FOR_ONE, spec.nchildren = 0);
	EXPECT_EINVAL(spec.strategy = GP_SIMPLE_ONE_FOR_ONE, spec.nchildren = 2);
	EXPECT_EINVAL(spec.strategy = GP_SIMPLE_ONE_FOR_ONE, spec.max_children = (size_t)1 << 32);
	EXPECT_EINVAL(spec.name = long_name);
	EXPECT_EINVAL(spec.reserved[0] = 1);
	EXPECT_EINVAL(spec.intensity = (1u << 20) + 1); /* the engine's limit, from the supervisor */
	bad = good;
	bad.start = NULL;
	kids[0] = bad;
	EXPECT_EINVAL();
	bad = good;
	bad.restart = (enum gp_restart)3;
	kids[0] = bad;
	EXPECT_EINVAL();
	bad = good;
	bad.shutdown_ms = -2;
	kids[0] = bad;
	EXPECT_EINVAL();
	bad = good;
	bad.name = long_name;
	kids[0] = bad;
	EXPECT_EINVAL();
	bad = good;
	bad.reserved[3] = 1;
	kids[0] = bad;
	EXPECT_EINVAL();
	kids[0] = good;
	kids[1] = bad; /* the second one is checked too */
	EXPECT_EINVAL(spec.nchildren = 2);
	CHECK_EQ(gp_supervisor_run(NULL), -EINVAL);
	CHECK_EQ(pid, 0); /* written only on success */

	/* Requests: bad arguments. */
	kids[0] = good;
	spec = (struct gp_sup_spec){ .children = kids, .nchildren = 1 };
	CHECK_EQ(gp_supervisor_start(&sup, &spec), 0);
	CHECK_EQ(gp_supervisor_start_child(0, NULL, &pid), -EINVAL);
	CHECK_EQ(gp_supervisor_which_child(sup, 0, NULL), -EINVAL);
	CHECK_EQ(gp_supervisor_terminate_child(sup, 0), -EINVAL);
	CHECK_EQ(gp_supervisor_which_child(gp_self(), 0, &pid), -EDEADLK);
	CHECK_EQ(stop_sup(sup), GP_EXIT_SHUTDOWN);
	/* Nothing was left running by the failed starts. */
	WAIT_FOR(processes() == base);
}

/* Bad specs and arguments: -EINVAL, and no supervisor left behind. */
Test(supervisor, bad_specs, .timeout = 30)
{
	run_gp(bad_specs_main, NULL, 2);
}

static void run_fails_main(void *arg)
{
	struct gp_child_spec kids[2];
	struct gp_sup_spec spec = { .children = kids, .nchildren = 2 };
	uint64_t base = processes();
	struct ctx x;

	(void)arg;
	ctx_init(&x, 2, K_WORKER);
	kids[0] = kid_spec(&x.kids[0], GP_PERMANENT, 1000);
	kids[1] = kid_spec(&x.kids[1], GP_PERMANENT, 1000);
	kids[1].stack_size = (size_t)1 << 40;
	/* gp_supervisor_run returns when it cannot start, its first child
	 * stopped again and the caller's exit trapping as it was. */
	CHECK_EQ(gp_supervisor_run(&spec), -EINVAL);
	WAIT_FOR(processes() == base);
	CHECK_EQ(gp_trap_exit(false), 0);
}

Test(supervisor, run_start_failure_returns, .timeout = 30)
{
	run_gp(run_fails_main, NULL, 2);
}
