/* SPDX-License-Identifier: MIT */
/* Stacks: an overflow is contained to the overflowing process. */
#include "gp_test.h"

#include <alloca.h>
#include <limits.h>

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

static void overflow(void *arg)
{
	(void)recurse(0, (size_t)(uintptr_t)arg);
}

static void partner(void *arg)
{
	struct gp_msg m;

	(void)arg;
	gp_receive(&m, -1); /* until the overflow takes it down */
}

static int down(uint64_t ref)
{
	struct gp_msg m;
	int reason = -1;

	if (receive_tag(&m, GP_TAG_DOWN, 5000) == 0) {
		CHECK_EQ(((struct gp_exit_info *)m.data)->ref, ref);
		reason = ((struct gp_exit_info *)m.data)->reason;
		gp_msg_free(&m);
	}
	return reason;
}

static void linked_overflow(void *arg)
{
	gp_pid partner_pid = *(gp_pid *)arg;

	CHECK_EQ(gp_link(partner_pid), 0);
	(void)recurse(0, 600);
}

static void link_main(void *arg)
{
	static const size_t frames[] = { 64, 600, 5000, 12000, 40000, 200000 };
	struct gp_spawn_opts o = { .flags = GP_SPAWN_MONITOR };
	uint64_t ref, pref;
	gp_pid pid, part;

	(void)arg;
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		/* Frames small and large: -fstack-clash-protection probes every
		 * page, so none can jump over the guard. */
		o.ret_monitor = &ref;
		CHECK_EQ(gp_spawn_opt(&pid, overflow, (void *)(uintptr_t)frames[i], &o), 0);
		CHECK_EQ(down(ref), GP_EXIT_STACK_OVERFLOW);
	}
	/* Links and monitors of the overflowing process are told. */
	o.ret_monitor = &pref;
	CHECK_EQ(gp_spawn_opt(&part, partner, NULL, &o), 0);
	o.ret_monitor = &ref;
	CHECK_EQ(gp_spawn_opt(&pid, linked_overflow, &part, &o), 0);
	CHECK_EQ(down(ref), GP_EXIT_STACK_OVERFLOW);
	CHECK_EQ(down(pref), GP_EXIT_STACK_OVERFLOW);
}

/* A stack overflow kills only the overflowing process, with
 * GP_EXIT_STACK_OVERFLOW, whatever its frame sizes, and tells its links and
 * monitors. */
Test(stack, overflow_is_contained, .timeout = 30)
{
	run_gp(link_main, NULL, 2);
}

struct repeat {
	long n;
	long rss[2], maps[2];
	struct gp_stats st[2];
};

static void repeat_main(void *arg)
{
	struct repeat *rp = arg;
	struct gp_spawn_opts o = { .flags = GP_SPAWN_MONITOR };
	uint64_t ref;
	gp_pid pid;

	for (long i = 0; i < rp->n; i++) {
		o.ret_monitor = &ref;
		CHECK_EQ(gp_spawn_opt(&pid, overflow, (void *)600, &o), 0);
		CHECK_EQ(down(ref), GP_EXIT_STACK_OVERFLOW);
		if (i == 100 || i == rp->n - 1) {
			int k = i == 100 ? 0 : 1;

			rp->rss[k] = rss_bytes();
			rp->maps[k] = map_count();
			CHECK_EQ(gp_stats(&rp->st[k]), 0);
		}
	}
}

/* 10,000 overflows in a row leave RSS, the mappings and the stack pool as
 * they were: guards cost no mapping, and dirty stacks are given back. */
Test(stack, overflows_leak_nothing, .timeout = 60)
{
	struct repeat rp = { .n = scaled(10000, 500) };

	run_gp(repeat_main, &rp, 2);
	cr_log_info("RSS %ld -> %ld KiB, maps %ld -> %ld", rp.rss[0] >> 10, rp.rss[1] >> 10,
		    rp.maps[0], rp.maps[1]);
	if (RSS_MEANINGFUL)
		cr_assert_leq(rp.rss[1] - rp.rss[0], 1l << 20, "RSS grew by %ld KiB",
			      (rp.rss[1] - rp.rss[0]) >> 10);
	/* Not one mapping per overflow: a few at most (glibc gives a thread
	 * its malloc arena when it first allocates). */
	cr_assert_leq(rp.maps[1] - rp.maps[0], 4, "mappings %ld -> %ld", rp.maps[0], rp.maps[1]);
	/* The pool may fill each scheduler's cache of warm stacks (64) once,
	 * as stacks freed on one scheduler are wanted on the other; beyond
	 * that (and a batch of 32 carved at once), growth would be a leak. */
	cr_assert_leq(rp.st[1].stacks_mapped - rp.st[0].stacks_mapped, 2 * 64 + 32, "stacks %lu -> %lu",
		      (unsigned long)rp.st[0].stacks_mapped, (unsigned long)rp.st[1].stacks_mapped);
	cr_assert_eq(rp.st[1].stacks_in_use, rp.st[0].stacks_in_use);
}

struct many {
	long n;
	long maps_before, maps_after;
	atomic_long parked;
};

static void parked(void *arg)
{
	struct many *mn = arg;
	struct gp_msg m;

	atomic_fetch_add(&mn->parked, 1);
	gp_receive(&m, -1);
	gp_msg_free(&m);
}

static void many_main(void *arg)
{
	struct many *mn = arg;
	gp_pid *pids = malloc((size_t)mn->n * sizeof(*pids));

	mn->maps_before = map_count();
	for (long i = 0; i < mn->n; i++)
		pids[i] = gp_spawn(parked, mn);
	while (atomic_load(&mn->parked) < mn->n)
		gp_sleep(2);
	mn->maps_after = map_count();
	for (long i = 0; i < mn->n; i++)
		gp_send(pids[i], 1, NULL, 0);
	free(pids);
}

/* 100,000 guarded stacks take a handful of mappings, not one or two each
 * (vm.max_map_count is 65530 here). */
Test(stack, guards_cost_no_mapping, .timeout = 60)
{
	struct many mn = { .n = scaled(100000, 5000) };

	run_gp(many_main, &mn, 2);
	cr_log_info("mappings: %ld before, %ld with %ld stacks", mn.maps_before, mn.maps_after,
		    mn.n);
#ifndef __SANITIZE_THREAD__
	/* (TSan maps its own state for each fiber: its count says nothing of ours.) */
	cr_assert_leq(mn.maps_after - mn.maps_before, 64);
#endif
}

static void mprotect_child(void)
{
	struct repeat rp = { .n = 200 };

	setenv("GP_GUARDS", "mprotect", 1);
	checks_reset();
	if (gp_main(repeat_main, &rp, &(struct gp_config){ .schedulers = 2 }) != 0 ||
	    atomic_load(&check_failures)) {
		fprintf(stderr, "CHECK FAILED: %s\n", check_first);
		_exit(1);
	}
	_exit(0);
}

/* Kernels before 6.13 lack MADV_GUARD_INSTALL: the mprotect fallback
 * contains overflows too (forced here with GP_GUARDS=mprotect). */
Test(stack, mprotect_guards_fallback, .timeout = 60)
{
	char out[4096];
	int st = run_forked(mprotect_child, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
}

static void bad_guards_child(void)
{
	setenv("GP_GUARDS", "paper", 1);
	_exit(gp_main(partner, NULL, NULL) == -EINVAL ? 0 : 1);
}

/* An unknown GP_GUARDS is refused, not ignored. */
Test(stack, bad_guards_setting, .timeout = 10)
{
	char out[512];
	int st = run_forked(bad_guards_child, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
}
