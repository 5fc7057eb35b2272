/* SPDX-License-Identifier: MIT */
/* Links, monitors, exit signals, gp_kill: how deaths travel. */
#include "gp_test.h"

static gp_pid spawn_monitored(gp_fn fn, void *arg, uint64_t *ret_ref)
{
	struct gp_spawn_opts o = { .flags = GP_SPAWN_MONITOR, .ret_monitor = ret_ref };
	gp_pid pid = 0;

	CHECK_EQ(gp_spawn_opt(&pid, fn, arg, &o), 0);
	return pid;
}

static bool is_down_of(const struct gp_msg *m, void *ctx)
{
	return m->tag == GP_TAG_DOWN &&
	       ((const struct gp_exit_info *)m->data)->ref == *(const uint64_t *)ctx;
}

/* Wait for the DOWN of ref (others may come first); return its reason, or
 * -1 on timeout. */
static int down_reason(uint64_t ref, gp_pid pid)
{
	struct gp_msg m;
	int reason;

	if (gp_receive_match(&m, is_down_of, &ref, 5000) != 0)
		return -1;
	CHECK_EQ(((struct gp_exit_info *)m.data)->pid, pid);
	CHECK_EQ(m.from, pid);
	reason = ((struct gp_exit_info *)m.data)->reason;
	gp_msg_free(&m);
	return reason;
}

static void wait_forever(void *arg)
{
	struct gp_msg m;

	(void)arg;
	for (;;)
		if (gp_receive(&m, -1) == 0)
			gp_msg_free(&m);
}

static void exit_with(void *arg)
{
	gp_sleep(5);
	gp_exit((int)(uintptr_t)arg);
}

struct linker {
	gp_pid to;
	bool trap;
	atomic_int linked;
	atomic_int got_exit;
	int exit_reason;
	gp_pid exit_from;
};

/* Links to l->to, then waits; records the EXIT it gets if it traps. */
static void linker(void *arg)
{
	struct linker *l = arg;
	struct gp_msg m;

	gp_trap_exit(l->trap);
	CHECK_EQ(gp_link(l->to), 0);
	atomic_store(&l->linked, 1);
	CHECK_EQ(gp_send(l->to, 1, NULL, 0), 0); /* "linked": go ahead */
	if (receive_tag(&m, GP_TAG_EXIT, 2000) == 0) {
		l->exit_reason = ((struct gp_exit_info *)m.data)->reason;
		l->exit_from = ((struct gp_exit_info *)m.data)->pid;
		CHECK_EQ(m.from, l->exit_from);
		atomic_store(&l->got_exit, 1);
		gp_msg_free(&m);
	}
}

static void exit_on_go(void *arg)
{
	struct gp_msg m;

	CHECK_EQ(receive_tag(&m, 1, -1), 0);
	gp_msg_free(&m);
	gp_exit((int)(uintptr_t)arg);
}

struct link_case {
	int reason;
	bool trap;
	int want_linker_reason; /* how the linker ends */
	int want_exit_msg;      /* -1: none */
};

static void link_case_main(void *arg)
{
	struct link_case *c = arg;
	struct linker l = { .trap = c->trap };
	uint64_t ref_a, ref_b;
	gp_pid a, b;

	b = spawn_monitored(exit_on_go, (void *)(uintptr_t)c->reason, &ref_b);
	l.to = b;
	a = spawn_monitored(linker, &l, &ref_a);
	CHECK_EQ(down_reason(ref_b, b), c->reason);
	CHECK_EQ(down_reason(ref_a, a), c->want_linker_reason);
	if (c->want_exit_msg < 0) {
		CHECK_EQ(atomic_load(&l.got_exit), 0);
	} else {
		CHECK_EQ(atomic_load(&l.got_exit), 1);
		CHECK_EQ(l.exit_reason, c->want_exit_msg);
		CHECK_EQ(l.exit_from, b);
	}
}

/* A death with a reason other than normal kills linked processes with the
 * same reason. */
Test(link, abnormal_death_kills_links, .timeout = 10)
{
	struct link_case c = { GP_EXIT_USER + 5, false, GP_EXIT_USER + 5, -1 };

	run_gp(link_case_main, &c, 2);
}

/* A normal exit kills no one (the linker times out waiting and exits normally). */
Test(link, normal_exit_kills_no_one, .timeout = 10)
{
	struct link_case c = { GP_EXIT_NORMAL, false, GP_EXIT_NORMAL, -1 };

	run_gp(link_case_main, &c, 2);
}

/* A process that traps exits gets a GP_TAG_EXIT message instead. */
Test(link, trapped_exit_is_a_message, .timeout = 10)
{
	struct link_case c = { GP_EXIT_USER + 5, true, GP_EXIT_NORMAL, GP_EXIT_USER + 5 };

	run_gp(link_case_main, &c, 2);
}

/* Even a normal exit is a message to one that traps. */
Test(link, trapped_normal_exit_is_a_message, .timeout = 10)
{
	struct link_case c = { GP_EXIT_NORMAL, true, GP_EXIT_NORMAL, GP_EXIT_NORMAL };

	run_gp(link_case_main, &c, 2);
}

/* ---- gp_kill --------------------------------------------------------------------- */

static void trapper(void *arg)
{
	struct gp_msg m;
	atomic_int *seen = arg;

	gp_trap_exit(true);
	atomic_store(seen, 0); /* trapping now */
	for (;;) {
		if (receive_tag(&m, GP_TAG_EXIT, -1) == 0) {
			atomic_store(seen, ((struct gp_exit_info *)m.data)->reason);
			gp_msg_free(&m);
		}
	}
}

static void kill_main(void *arg)
{
	atomic_int seen = -1;
	uint64_t ref, sup_ref;
	gp_pid victim, sup;

	(void)arg;
	/* KILL cannot be trapped: the trapper dies, and what its monitor sees
	 * is GP_EXIT_KILLED. */
	victim = spawn_monitored(trapper, &seen, &ref);
	WAIT_FOR(atomic_load(&seen) == 0);
	CHECK_EQ(gp_kill(victim, GP_EXIT_USER + 1), 0); /* trappable: a message */
	WAIT_FOR(atomic_load(&seen) == GP_EXIT_USER + 1);
	CHECK_EQ(gp_kill(victim, GP_EXIT_KILL), 0);
	CHECK_EQ(down_reason(ref, victim), GP_EXIT_KILLED);
	CHECK_EQ(gp_kill(victim, GP_EXIT_KILL), -ESRCH);

	/* GP_EXIT_KILLED is trappable: a supervisor linked to the victim does
	 * not die of it. */
	atomic_store(&seen, -1);
	sup = spawn_monitored(trapper, &seen, &sup_ref);
	victim = spawn_monitored(wait_forever, NULL, &ref);
	WAIT_FOR(atomic_load(&seen) == 0);
	{
		struct linker l = { .to = victim, .trap = true };
		gp_pid lk = gp_spawn(linker, &l);

		WAIT_FOR(atomic_load(&l.linked));
		CHECK_EQ(gp_kill(victim, GP_EXIT_KILL), 0);
		CHECK_EQ(down_reason(ref, victim), GP_EXIT_KILLED);
		WAIT_FOR(atomic_load(&l.got_exit));
		CHECK_EQ(l.exit_reason, GP_EXIT_KILLED);
		(void)lk;
	}
	CHECK_EQ(gp_kill(sup, GP_EXIT_KILL), 0);
	CHECK_EQ(down_reason(sup_ref, sup), GP_EXIT_KILLED);

	/* A non-trapping process dies of any reason but normal. */
	victim = spawn_monitored(wait_forever, NULL, &ref);
	CHECK_EQ(gp_kill(victim, GP_EXIT_NORMAL), 0); /* ignored */
	CHECK_EQ(gp_kill(victim, GP_EXIT_USER + 9), 0);
	CHECK_EQ(down_reason(ref, victim), GP_EXIT_USER + 9);

	CHECK_EQ(gp_kill(0, GP_EXIT_KILL), -EINVAL);
	CHECK_EQ(gp_kill(gp_self(), -1), -EINVAL);
}

/* gp_kill is Erlang's exit/2: KILL is untrappable and shows as KILLED. */
Test(link, kill, .timeout = 10)
{
	run_gp(kill_main, NULL, 2);
}

static void self_kill(void *arg)
{
	int how = (int)(uintptr_t)arg;

	if (how == 1) {
		gp_trap_exit(true);
		CHECK_EQ(gp_kill(gp_self(), GP_EXIT_USER), 0); /* a message to itself */
		struct gp_msg m;

		CHECK_EQ(receive_tag(&m, GP_TAG_EXIT, 0), 0);
		gp_msg_free(&m);
		gp_kill(gp_self(), GP_EXIT_KILL); /* untrappable */
	}
	gp_kill(gp_self(), GP_EXIT_NORMAL); /* exits, normally */
	CHECK(false, "survived gp_kill(self)");
}

static void self_kill_main(void *arg)
{
	uint64_t ref;
	gp_pid pid;

	(void)arg;
	pid = spawn_monitored(self_kill, (void *)0, &ref);
	CHECK_EQ(down_reason(ref, pid), GP_EXIT_NORMAL);
	pid = spawn_monitored(self_kill, (void *)1, &ref);
	CHECK_EQ(down_reason(ref, pid), GP_EXIT_KILLED);
}

Test(link, kill_self, .timeout = 10)
{
	run_gp(self_kill_main, NULL, 1);
}

/* ---- blocked processes die promptly --------------------------------------------- */

static void block_in(void *arg)
{
	struct gp_msg m;

	switch ((int)(uintptr_t)arg) {
	case 0:
		gp_receive(&m, -1);
		break;
	case 1:
		gp_receive(&m, 60000);
		break;
	case 2:
		gp_sleep(60000);
		break;
	case 3:
		gp_hibernate(wait_forever, NULL);
	}
	CHECK(false, "woke up instead of dying");
}

static void blocked_main(void *arg)
{
	(void)arg;
	for (int how = 0; how < 4; how++) {
		uint64_t ref, t0;
		gp_pid pid = spawn_monitored(block_in, (void *)(uintptr_t)how, &ref);

		gp_sleep(5);
		t0 = now_ns();
		CHECK_EQ(gp_kill(pid, GP_EXIT_SHUTDOWN), 0);
		CHECK_EQ(down_reason(ref, pid), GP_EXIT_SHUTDOWN);
		CHECK(now_ns() - t0 < 1000000000u, "case %d took %llu ns", how,
		      (unsigned long long)(now_ns() - t0));
	}
}

/* A process blocked in receive, sleep or hibernation dies promptly when killed. */
Test(link, kill_blocked, .timeout = 10)
{
	run_gp(blocked_main, NULL, 2);
}

/* ---- linking to the dead, unlink, cascades ---------------------------------------- */

static void link_dead(void *arg)
{
	gp_pid dead = *(gp_pid *)arg;

	CHECK_EQ(gp_link(dead), 0); /* not trapping: does not return */
	CHECK(false, "survived linking to a dead pid");
}

static void link_dead_trapping(void *arg)
{
	gp_pid dead = *(gp_pid *)arg;
	struct gp_msg m;

	gp_trap_exit(true);
	CHECK_EQ(gp_link(dead), 0);
	CHECK_EQ(receive_tag(&m, GP_TAG_EXIT, 0), 0);
	CHECK_EQ(((struct gp_exit_info *)m.data)->pid, dead);
	CHECK_EQ(((struct gp_exit_info *)m.data)->reason, GP_EXIT_NOPROC);
	gp_msg_free(&m);
}

static void link_dead_main(void *arg)
{
	uint64_t ref;
	gp_pid dead, pid;

	(void)arg;
	dead = spawn_monitored(exit_with, (void *)GP_EXIT_NORMAL, &ref);
	CHECK_EQ(down_reason(ref, dead), GP_EXIT_NORMAL);
	pid = spawn_monitored(link_dead, &dead, &ref);
	CHECK_EQ(down_reason(ref, pid), GP_EXIT_NOPROC);
	pid = spawn_monitored(link_dead_trapping, &dead, &ref);
	CHECK_EQ(down_reason(ref, pid), GP_EXIT_NORMAL);
	CHECK_EQ(gp_link(0), -EINVAL);
	CHECK_EQ(gp_link(gp_self()), 0); /* a no-op */
}

/* Linking to a dead pid behaves as if it had just died with GP_EXIT_NOPROC. */
Test(link, link_to_dead_pid, .timeout = 10)
{
	run_gp(link_dead_main, NULL, 2);
}

static void unlinker(void *arg)
{
	gp_pid to = *(gp_pid *)arg;
	struct gp_msg m;
	uint64_t ref;

	gp_trap_exit(true);
	CHECK_EQ(gp_link(to), 0);
	CHECK_EQ(gp_monitor(to, &ref), 0);
	CHECK_EQ(gp_send(to, 1, NULL, 0), 0); /* it dies now */
	/* A dying process signals its links before its monitors: once the
	 * DOWN is here, so is the EXIT. */
	CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 5000), 0);
	gp_msg_free(&m);
	CHECK_EQ(gp_unlink(to), 0);
	CHECK_EQ(receive_tag(&m, GP_TAG_EXIT, 50), -ETIMEDOUT);
	gp_trap_exit(false);
}

static void unlink_main(void *arg)
{
	uint64_t ref;
	gp_pid b, a;

	(void)arg;
	b = gp_spawn(exit_on_go, (void *)(GP_EXIT_USER + 3));
	a = spawn_monitored(unlinker, &b, &ref);
	CHECK_EQ(down_reason(ref, a), GP_EXIT_NORMAL);
}

/* After gp_unlink returns, the link has no effect, even if its EXIT was queued. */
Test(link, unlink, .timeout = 10)
{
	run_gp(unlink_main, NULL, 2);
}

static void chain_link(void *arg)
{
	long left = (long)(uintptr_t)arg;

	if (left > 0) {
		struct gp_spawn_opts o = { .flags = GP_SPAWN_LINK };
		gp_pid pid;

		CHECK_EQ(gp_spawn_opt(&pid, chain_link, (void *)(uintptr_t)(left - 1), &o), 0);
	}
	wait_forever(NULL);
}

static void chain_main(void *arg)
{
	long n = scaled(10000, 100);
	struct gp_stats st;
	uint64_t ref;
	gp_pid head;

	(void)arg;
	head = spawn_monitored(chain_link, (void *)(uintptr_t)n, &ref);
	do {
		gp_sleep(5);
		CHECK_EQ(gp_stats(&st), 0);
	} while (st.processes < (uint64_t)n + 2);
	CHECK_EQ(gp_kill(head, GP_EXIT_USER + 4), 0);
	CHECK_EQ(down_reason(ref, head), GP_EXIT_USER + 4);
	do {
		gp_sleep(5);
		CHECK_EQ(gp_stats(&st), 0);
	} while (st.processes > 1);
}

/* Deaths cascade through a chain of 10,000 links. */
Test(link, cascade, .timeout = 30)
{
	run_gp(chain_main, NULL, 2);
}

static void crash_at_once(void *arg)
{
	(void)arg;
	gp_exit(GP_EXIT_USER + 2);
}

static void spawn_link_child(void *arg)
{
	struct gp_spawn_opts o = { .flags = GP_SPAWN_LINK };
	gp_pid pid;

	(void)arg;
	CHECK_EQ(gp_spawn_opt(&pid, crash_at_once, NULL, &o), 0);
	wait_forever(NULL);
}

static void spawn_link_main(void *arg)
{
	uint64_t ref;
	gp_pid pid;

	(void)arg;
	pid = spawn_monitored(spawn_link_child, NULL, &ref);
	CHECK_EQ(down_reason(ref, pid), GP_EXIT_USER + 2);
}

/* GP_SPAWN_LINK links before the child can run, so its death cannot be missed. */
Test(link, spawn_link, .timeout = 10)
{
	run_gp(spawn_link_main, NULL, 2);
}

/* ---- monitors ------------------------------------------------------------------------- */

static void monitor_main(void *arg)
{
	uint64_t r1, r2, r3;
	struct gp_msg m;
	gp_pid pid;

	(void)arg;
	pid = gp_spawn(exit_on_go, (void *)(GP_EXIT_USER + 1));
	CHECK_EQ(gp_monitor(pid, &r1), 0);
	CHECK_EQ(gp_monitor(pid, &r2), 0);
	CHECK(r1 != 0 && r2 != 0 && r1 != r2);
	CHECK_EQ(gp_send(pid, 1, NULL, 0), 0);
	/* Exactly one DOWN per monitor, each carrying its ref. */
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 5000), 0);
		CHECK(((struct gp_exit_info *)m.data)->ref == r1 ||
		      ((struct gp_exit_info *)m.data)->ref == r2);
		CHECK_EQ(((struct gp_exit_info *)m.data)->reason, GP_EXIT_USER + 1);
		gp_msg_free(&m);
	}
	CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 50), -ETIMEDOUT);
	/* A monitor of a dead pid fires at once with NOPROC. */
	CHECK_EQ(gp_monitor(pid, &r3), 0);
	CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 0), 0);
	CHECK_EQ(((struct gp_exit_info *)m.data)->ref, r3);
	CHECK_EQ(((struct gp_exit_info *)m.data)->reason, GP_EXIT_NOPROC);
	gp_msg_free(&m);
	CHECK_EQ(gp_monitor(0, &r3), -EINVAL);
	CHECK_EQ(gp_monitor(pid, NULL), -EINVAL);
	CHECK_EQ(gp_demonitor(0), -EINVAL);
	CHECK_EQ(gp_demonitor(r1), -ENOENT); /* fired and received */
}

/* Monitors: exactly one DOWN each, with its ref; NOPROC at once for the dead. */
Test(monitor, down_once_per_monitor, .timeout = 10)
{
	run_gp(monitor_main, NULL, 2);
}

static void die_now(void *arg)
{
	(void)arg;
	gp_exit(GP_EXIT_USER);
}

static void demonitor_main(void *arg)
{
	long rounds = scaled(20000, 500);
	struct gp_msg m;

	(void)arg;
	/* Race the target's death against gp_demonitor, many times. */
	for (long i = 0; i < rounds; i++) {
		uint64_t ref;
		gp_pid pid = gp_spawn(die_now, NULL);

		CHECK_EQ(gp_monitor(pid, &ref), 0);
		if (i % 3 == 0)
			gp_yield();
		CHECK_EQ(gp_demonitor(ref), 0);
	}
	gp_sleep(50);
	CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 0), -ETIMEDOUT);
}

/* After gp_demonitor returns, no DOWN for that monitor ever arrives. */
Test(monitor, no_down_after_demonitor, .timeout = 30)
{
	run_gp(demonitor_main, NULL, 2);
}

static void trap_flag_main(void *arg)
{
	(void)arg;
	CHECK_EQ(gp_trap_exit(true), 0);
	CHECK_EQ(gp_trap_exit(true), 1);
	CHECK_EQ(gp_trap_exit(false), 1);
	CHECK_EQ(gp_trap_exit(false), 0);
}

/* gp_trap_exit returns the previous setting. */
Test(link, trap_exit_returns_previous, .timeout = 10)
{
	run_gp(trap_flag_main, NULL, 1);
}
