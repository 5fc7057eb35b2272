/* SPDX-License-Identifier: MIT */
/* The process heap: gp_alloc'd memory is the process's own, freed at its exit. */
#include "gp_test.h"

static void allocator(void *arg)
{
	long kib = (long)(uintptr_t)arg;
	char *keep = NULL;

	for (long i = 0; i < kib; i++) {
		char *p = gp_alloc(1024);

		CHECK(p != NULL);
		if (!p)
			return;
		memset(p, (int)i, 1024);
		if (i % 2)
			gp_free(p); /* half freed by hand, half left for the exit */
		else
			keep = p;
	}
	CHECK(keep == NULL || keep[0] == (char)(kib - 2 + (kib % 2)));
	CHECK(gp_alloc(SIZE_MAX) == NULL);
	gp_free(NULL);
	if ((long)(uintptr_t)arg % 3 == 0)
		gp_exit(GP_EXIT_USER); /* however it exits */
}

static void heap_main(void *arg)
{
	long rounds = scaled(20000, 1000), *rss = arg;
	struct gp_msg m;
	uint64_t ref;

	for (long i = 0; i < rounds; i++) {
		struct gp_spawn_opts o = { .flags = GP_SPAWN_MONITOR, .ret_monitor = &ref };
		gp_pid pid;

		CHECK_EQ(gp_spawn_opt(&pid, allocator, (void *)(uintptr_t)(64 + i % 5), &o), 0);
		CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 5000), 0);
		gp_msg_free(&m);
		if (i == rounds / 10)
			rss[0] = rss_bytes();
	}
	rss[1] = rss_bytes();
}

/* What a process allocates and does not free is freed when it exits:
 * thousands of processes leaving 32 KiB each behind leave RSS flat. */
Test(heap, freed_at_exit, .timeout = 60)
{
	long rss[2] = { 0 };

	run_gp(heap_main, rss, 2);
	cr_log_info("RSS %ld -> %ld KiB", rss[0] >> 10, rss[1] >> 10);
	if (RSS_MEANINGFUL)
		cr_assert_leq(rss[1] - rss[0], 2l << 20);
}
