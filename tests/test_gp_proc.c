/* SPDX-License-Identifier: MIT */
/* Processes: gp_main, spawn, exit, pids, hibernation, and what a process owns. */
#include "gp_test.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static atomic_long counter;

/* ---- gp_main ------------------------------------------------------------- */

static void sleepy_child(void *arg)
{
	gp_sleep((int)(uintptr_t)arg);
	atomic_fetch_add(&counter, 1);
}

static void spawn_sleepers(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		CHECK(gp_spawn(sleepy_child, (void *)(uintptr_t)(i % 7)) != 0);
}

/* gp_main returns only once every process the program started has exited. */
Test(proc, main_waits_for_every_process, .timeout = 30)
{
	atomic_store(&counter, 0);
	run_gp(spawn_sleepers, NULL, 2);
	cr_assert_eq(atomic_load(&counter), 100);
}

static void nested_main(void *arg)
{
	(void)arg;
	CHECK_EQ(gp_main(spawn_sleepers, NULL, NULL), -EBUSY);
}

/* One runtime per OS process; it can be started again once it has ended. */
Test(proc, main_twice_is_busy_then_restartable, .timeout = 30)
{
	run_gp(nested_main, NULL, 1);
	atomic_store(&counter, 0);
	run_gp(spawn_sleepers, NULL, 2);
	cr_assert_eq(atomic_load(&counter), 100);
}

static void nothing(void *arg)
{
	(void)arg;
}

/* Every call that needs a process says -EPERM outside one. */
Test(proc, calls_outside_a_process, .timeout = 10)
{
	struct gp_msg m;
	struct gp_stats st;
	uint64_t ref;
	gp_pid pid;

	cr_assert_eq(gp_self(), 0);
	errno = 0;
	cr_assert_eq(gp_spawn(nothing, NULL), 0);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(gp_spawn_opt(&pid, nothing, NULL, NULL), -EPERM);
	cr_assert_eq(gp_send(1, 0, "x", 1), -EPERM);
	cr_assert_eq(gp_receive(&m, 0), -EPERM);
	cr_assert_eq(gp_receive_match(&m, NULL, NULL, 0), -EPERM);
	cr_assert_eq(gp_link(1), -EPERM);
	cr_assert_eq(gp_unlink(1), -EPERM);
	cr_assert_eq(gp_monitor(1, &ref), -EPERM);
	cr_assert_eq(gp_demonitor(1), -EPERM);
	cr_assert_eq(gp_trap_exit(true), -EPERM);
	cr_assert_eq(gp_kill(1, GP_EXIT_KILL), -EPERM);
	cr_assert_eq(gp_register("x", 1), -EPERM);
	cr_assert_eq(gp_unregister("x"), -EPERM);
	cr_assert_eq(gp_whereis("x"), 0);
	cr_assert_eq(gp_sleep(1), -EPERM);
	cr_assert_eq(gp_scheduler_id(), -EPERM);
	cr_assert_eq(gp_stats(&st), -EPERM);
	errno = 0;
	cr_assert_null(gp_alloc(16));
	cr_assert_eq(errno, EPERM);
	gp_yield(); /* a no-op */
	gp_free(NULL);
	gp_msg_free(NULL);
}

static void exit_outside(void)
{
	gp_exit(0);
}

static void hibernate_outside(void)
{
	gp_hibernate(nothing, NULL);
}

/* gp_exit and gp_hibernate cannot return: outside a process they say why and abort. */
Test(proc, exit_outside_a_process_aborts, .timeout = 10)
{
	char out[512];
	int st = run_forked(exit_outside, out, sizeof(out));

	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x", st);
	cr_assert(strstr(out, "gp_exit called outside a process"), "stderr: %s", out);
	st = run_forked(hibernate_outside, out, sizeof(out));
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x", st);
	cr_assert(strstr(out, "gp_hibernate called outside a process"), "stderr: %s", out);
}

/* A bad configuration is refused before anything starts. */
Test(proc, bad_config, .timeout = 10)
{
	struct gp_config cfg = { .reserved[3] = 1 };

	cr_assert_eq(gp_main(NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(gp_main(nothing, NULL, &cfg), -EINVAL);
	cfg = (struct gp_config){ .stack_size = (size_t)1 << 40 };
	cr_assert_eq(gp_main(nothing, NULL, &cfg), -EINVAL);
	cfg = (struct gp_config){ .schedulers = 100000 };
	cr_assert_eq(gp_main(nothing, NULL, &cfg), -EINVAL);
	setenv("GP_SCHEDULERS", "two", 1);
	cr_assert_eq(gp_main(nothing, NULL, NULL), -EINVAL);
	setenv("GP_SCHEDULERS", "3", 1);
	cfg = (struct gp_config){ 0 };
	cr_assert_eq(gp_main(nothing, NULL, &cfg), 0);
	unsetenv("GP_SCHEDULERS");
}

static void report_schedulers(void *arg)
{
	struct gp_stats st;

	CHECK_EQ(gp_stats(&st), 0);
	*(unsigned *)arg = st.schedulers;
	CHECK(gp_scheduler_id() >= 0 && (unsigned)gp_scheduler_id() < st.schedulers);
}

/* schedulers: the config, else $GP_SCHEDULERS, else the CPUs we may use. */
Test(proc, scheduler_count, .timeout = 10)
{
	unsigned n = 0;
	struct gp_config cfg = { .schedulers = 3 };

	cr_assert_eq(gp_main(report_schedulers, &n, &cfg), 0);
	cr_assert_eq(n, 3);
	setenv("GP_SCHEDULERS", "4", 1);
	cr_assert_eq(gp_main(report_schedulers, &n, NULL), 0);
	cr_assert_eq(n, 4);
	unsetenv("GP_SCHEDULERS");
	cr_assert_eq(gp_main(report_schedulers, &n, NULL), 0);
	cr_assert_eq(n, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
}

/* ---- spawn ------------------------------------------------------------------ */

static void bad_spawns(void *arg)
{
	char long_name[GP_NAME_MAX + 2];
	struct gp_spawn_opts o;
	gp_pid pid = 0;

	(void)arg;
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK_EQ(gp_spawn_opt(&pid, NULL, NULL, NULL), -EINVAL);
	CHECK_EQ(gp_spawn_opt(NULL, nothing, NULL, NULL), -EINVAL);
	o = (struct gp_spawn_opts){ .reserved[0] = 1 };
	CHECK_EQ(gp_spawn_opt(&pid, nothing, NULL, &o), -EINVAL);
	o = (struct gp_spawn_opts){ .flags = 1u << 7 };
	CHECK_EQ(gp_spawn_opt(&pid, nothing, NULL, &o), -EINVAL);
	o = (struct gp_spawn_opts){ .flags = GP_SPAWN_MONITOR };
	CHECK_EQ(gp_spawn_opt(&pid, nothing, NULL, &o), -EINVAL);
	o = (struct gp_spawn_opts){ .name = long_name };
	CHECK_EQ(gp_spawn_opt(&pid, nothing, NULL, &o), -EINVAL);
	o = (struct gp_spawn_opts){ .stack_size = (size_t)1 << 36 };
	CHECK_EQ(gp_spawn_opt(&pid, nothing, NULL, &o), -EINVAL);
	CHECK_EQ(pid, 0); /* ret_pid is written only on success */
	errno = 0;
	CHECK_EQ(gp_spawn(NULL, NULL), 0);
	CHECK_EQ(errno, EINVAL);
}

/* Bad spawn options are refused, and nothing is started. */
Test(proc, spawn_bad_options, .timeout = 10)
{
	run_gp(bad_spawns, NULL, 1);
}

static void deep_stack(void *arg)
{
	volatile char big[512 << 10];

	big[0] = 1;
	big[sizeof(big) - 1] = 1;
	*(int *)arg = big[0] + big[sizeof(big) - 1];
}

static void spawn_big_stack(void *arg)
{
	struct gp_spawn_opts o = { .name = "deep", .stack_size = 1 << 20,
				   .flags = GP_SPAWN_MONITOR };
	uint64_t ref = 0;
	struct gp_msg m;
	gp_pid pid;

	CHECK_EQ(gp_spawn_opt(&pid, deep_stack, arg, &o), -EINVAL); /* where would the ref go? */
	o.ret_monitor = &ref;
	CHECK_EQ(gp_spawn_opt(&pid, deep_stack, arg, &o), 0);
	CHECK(ref != 0);
	CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 5000), 0);
	CHECK_EQ(((struct gp_exit_info *)m.data)->reason, GP_EXIT_NORMAL);
	CHECK_EQ(((struct gp_exit_info *)m.data)->ref, ref);
	gp_msg_free(&m);
}

/* stack_size gives a process the stack it asks for. */
Test(proc, spawn_with_stack_size, .timeout = 10)
{
	int out = 0;

	run_gp(spawn_big_stack, &out, 2);
	cr_assert_eq(out, 2);
}

static gp_pid old_pid;

static void remember_self(void *arg)
{
	(void)arg;
	old_pid = gp_self();
}

static void newcomer(void *arg)
{
	struct gp_msg m;

	(void)arg;
	CHECK((gp_self() & 0xffffff) == (old_pid & 0xffffff), "the slot was not reused");
	CHECK(gp_self() != old_pid);
	/* Mail for the dead pid must never arrive here. */
	CHECK_EQ(gp_receive(&m, 100), -ETIMEDOUT);
}

static void reuse_slot(void *arg)
{
	struct gp_spawn_opts o = { .flags = GP_SPAWN_MONITOR };
	struct gp_msg m;
	uint64_t ref;
	gp_pid pid;

	(void)arg;
	o.ret_monitor = &ref;
	CHECK_EQ(gp_spawn_opt(&pid, remember_self, NULL, &o), 0);
	CHECK_EQ(gp_receive(&m, -1), 0);
	gp_msg_free(&m);
	CHECK_EQ(pid, old_pid);
	CHECK_EQ(gp_spawn_opt(&pid, newcomer, NULL, &o), 0);
	CHECK_EQ(gp_send(old_pid, 1, "stale", 5), 0); /* dead pid: 0, dropped */
	CHECK_EQ(gp_receive(&m, -1), 0);
	gp_msg_free(&m);
}

/* A pid of an exited process never reaches a newer process in the same slot. */
Test(proc, dead_pid_never_reaches_slot_successor, .timeout = 10)
{
	run_gp(reuse_slot, NULL, 1);
}

/* ---- many processes ----------------------------------------------------------- */

struct crowd {
	long n;
	atomic_long parked;
	long rss_before, rss_parked;
	bool hibernate;
};

static void woken(void *arg)
{
	struct gp_msg m;

	(void)arg;
	CHECK_EQ(gp_receive(&m, 0), 0); /* the message that woke us is there */
	gp_msg_free(&m);
}

static void parked(void *arg)
{
	struct crowd *c = arg;
	struct gp_msg m;

	atomic_fetch_add_explicit(&c->parked, 1, memory_order_relaxed);
	if (c->hibernate)
		gp_hibernate(woken, NULL);
	CHECK_EQ(gp_receive(&m, -1), 0);
	gp_msg_free(&m);
}

static void crowd_main(void *arg)
{
	struct crowd *c = arg;
	gp_pid *pids = malloc((size_t)c->n * sizeof(*pids));
	struct gp_stats st;

	c->rss_before = rss_bytes();
	for (long i = 0; i < c->n; i++) {
		pids[i] = gp_spawn(parked, c);
		CHECK(pids[i] != 0, "spawn %ld: %s", i, strerror(errno));
		if (!pids[i])
			return;
	}
	while (atomic_load(&c->parked) < c->n)
		gp_sleep(1);
	gp_sleep(20); /* let the last ones reach their receive */
	c->rss_parked = rss_bytes();
	CHECK_EQ(gp_stats(&st), 0);
	CHECK_EQ(st.processes, (uint64_t)c->n + 1);
	for (long i = 0; i < c->n; i++)
		CHECK_EQ(gp_send(pids[i], 1, "go", 2), 0);
	free(pids);
}

static void crowd_run(bool hibernate, long bytes_max)
{
	struct crowd c = { .n = scaled(1000000, 1000), .hibernate = hibernate };
	double per;

	run_gp(crowd_main, &c, 2);
	per = (double)(c.rss_parked - c.rss_before) / (double)c.n;
	cr_log_info("%ld %s processes: %.0f bytes each", c.n, hibernate ? "hibernated" : "parked",
		    per);
	if (!scaled_down())
		cr_assert_leq(per, (double)bytes_max, "%.0f bytes per process", per);
}

/* 1,000,000 live processes parked in gp_receive, on stock settings
 * (vm.max_map_count 65530): about a stack page and a control block each. */
Test(proc, million_parked, .timeout = 120)
{
	crowd_run(false, 4608); /* the target: one stack page and a small control block */
}

/* 1,000,000 hibernated processes, without stacks: far less memory. */
Test(proc, million_hibernated, .timeout = 120)
{
	crowd_run(true, 512);
}

struct sleeper {
	gp_pid main;
	char *heap;
	atomic_int hibernating;
	atomic_int restarts;
};

static void restarted(void *arg)
{
	struct sleeper *sl = arg;
	struct gp_msg m;

	atomic_fetch_add(&sl->restarts, 1);
	/* Its heap, name and mailbox survived hibernation. */
	CHECK(strcmp(sl->heap, "kept") == 0);
	CHECK_EQ(gp_whereis("sleeper"), gp_self());
	CHECK_EQ(gp_receive(&m, 0), 0);
	CHECK_EQ(m.tag, atomic_load(&sl->restarts));
	gp_msg_free(&m);
	if (atomic_load(&sl->restarts) == 1)
		gp_hibernate(restarted, sl); /* mail is waiting: restarts at once */
	gp_receive(&m, -1);              /* until the partner's death takes us */
}

static void sleeper(void *arg)
{
	struct sleeper *sl = arg;

	sl->heap = gp_alloc(16);
	strcpy(sl->heap, "kept");
	CHECK_EQ(gp_register("sleeper", gp_self()), 0);
	CHECK_EQ(gp_link(sl->main), 0);
	atomic_store(&sl->hibernating, 1);
	gp_hibernate(restarted, sl);
}

/* The sleeper links to this one, which dies on request. */
static void partner(void *arg)
{
	struct gp_msg m;

	(void)arg;
	receive_tag(&m, 1, -1);
	gp_exit(GP_EXIT_USER + 7);
}

static void hibernation_main(void *arg)
{
	struct sleeper *sl = arg;
	struct gp_exit_info *info;
	struct gp_msg m;
	uint64_t ref;
	gp_pid part = gp_spawn(partner, NULL), pid;

	sl->main = part;
	pid = gp_spawn(sleeper, sl);
	CHECK_EQ(gp_monitor(pid, &ref), 0);
	WAIT_FOR(atomic_load(&sl->hibernating)); /* (mail sent before it is gone
						       wakes it at once: the same) */
	CHECK_EQ(gp_send(pid, 1, NULL, 0), 0);
	CHECK_EQ(gp_send(pid, 2, NULL, 0), 0);
	WAIT_FOR(atomic_load(&sl->restarts) == 2);
	/* The link survived too: the partner's death takes the sleeper down. */
	CHECK_EQ(gp_send(part, 1, NULL, 0), 0);
	CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 5000), 0);
	info = m.data;
	CHECK_EQ(info->pid, pid);
	CHECK_EQ(info->reason, GP_EXIT_USER + 7);
	gp_msg_free(&m);
	CHECK_EQ(gp_whereis("sleeper"), 0); /* its name died with it */
}

/* Hibernation drops the stack but keeps mailbox, heap, links and name. */
Test(proc, hibernate_keeps_the_rest, .timeout = 10)
{
	struct sleeper sl = { 0 };

	run_gp(hibernation_main, &sl, 2);
	cr_assert_eq(atomic_load(&sl.restarts), 2);
}

/* ---- nothing leaks ---------------------------------------------------------------- */

static void crasher(void *arg)
{
	void *mem = gp_alloc(100);
	gp_pid parent = (gp_pid)(uintptr_t)arg;

	memset(mem, 1, 100);
	gp_link(parent); /* parent traps exits */
	gp_register("crasher", gp_self());
	gp_send(gp_self(), 5, "unread", 6);
	gp_exit(GP_EXIT_USER + 1);
}

static void churn_main(void *arg)
{
	long n = scaled(1000000, 20000), *rss = arg;
	struct gp_stats st;
	struct gp_msg m;

	gp_trap_exit(true);
	for (long i = 0; i < n; i++) {
		CHECK(gp_spawn(crasher, (void *)(uintptr_t)gp_self()) != 0);
		CHECK_EQ(gp_receive(&m, -1), 0);
		CHECK_EQ(m.tag, GP_TAG_EXIT);
		CHECK_EQ(((struct gp_exit_info *)m.data)->reason, GP_EXIT_USER + 1);
		gp_msg_free(&m);
		if (i == n / 10)
			rss[0] = rss_bytes();
	}
	rss[1] = rss_bytes();
	CHECK_EQ(gp_stats(&st), 0);
	CHECK_EQ(st.processes, 1);
	CHECK_EQ(st.stacks_in_use, 1);
}

/* 1,000,000 spawn/crash cycles, each crash leaving heap, mail, a name and a
 * link behind, leave RSS flat. */
Test(proc, churn_leaves_rss_flat, .timeout = 120)
{
	long rss[2] = { 0 };

	run_gp(churn_main, rss, 2);
	cr_log_info("RSS after 10%%: %ld KiB, at the end: %ld KiB", rss[0] >> 10, rss[1] >> 10);
	if (RSS_MEANINGFUL)
		cr_assert_leq(rss[1] - rss[0], 4l << 20, "RSS grew by %ld KiB",
			      (rss[1] - rss[0]) >> 10);
}

/* ---- no io_uring ---------------------------------------------------------------- */

static void no_uring_child(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		_exit(3);
	r = gp_main(nothing, NULL, &(struct gp_config){ .schedulers = 2 });
	_exit(r == -EPERM ? 0 : 1);
}

/* Where io_uring is denied (a container profile, io_uring_disabled),
 * gp_main fails with the reason; it does not hang. */
Test(proc, no_io_uring_fails_cleanly, .timeout = 10)
{
	char out[512];
	int st = run_forked(no_uring_child, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
}
