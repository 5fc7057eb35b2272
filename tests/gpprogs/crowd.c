/* SPDX-License-Identifier: MIT */
/*
 * A libgp program with a crowd of green processes, for ptop's tests:
 *
 *   crowd [COUNT]     (default 100000)
 *
 * COUNT processes named "idle-N" hibernate (no stack: a crowd that fits
 * in little memory), and five named "busy-N" hold messages in their
 * mailboxes (N * 10 each) and N * 64 KiB of heap, so that sorting by
 * mailbox or heap has a clear top. Prints "ready PID" on stdout once all
 * are spawned and every idle one has hibernated, and then waits until
 * killed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gp.h"

static void idle(void *arg)
{
	(void)arg;
	gp_hibernate(idle, NULL);
}

/* Keeps its heap, and leaves its mail unread: it waits for a tag that
 * never comes. */
static bool never(const struct gp_msg *msg, void *ctx)
{
	(void)msg;
	(void)ctx;
	return false;
}

static void busy(void *arg)
{
	long n = (long)arg;
	struct gp_msg msg;

	if (!gp_alloc((size_t)n * 65536))
		gp_exit(1);
	for (;;)
		(void)gp_receive_match(&msg, never, NULL, -1);
}

static void first(void *arg)
{
	long count = (long)arg;
	struct gp_msg msg;
	char name[32];

	for (long i = 0; i < count; i++) {
		struct gp_spawn_opts o = { .name = name };
		gp_pid pid;
		int r;

		snprintf(name, sizeof(name), "idle-%ld", i);
		r = gp_spawn_opt(&pid, idle, NULL, &o);
		if (r < 0) {
			fprintf(stderr, "crowd: spawn %ld: %s\n", i, strerror(-r));
			gp_exit(1);
		}
	}
	for (long n = 1; n <= 5; n++) {
		struct gp_spawn_opts o = { .name = name };
		gp_pid pid;

		snprintf(name, sizeof(name), "busy-%ld", n);
		if (gp_spawn_opt(&pid, busy, (void *)n, &o) < 0)
			gp_exit(1);
		for (long m = 0; m < n * 10; m++)
			(void)gp_send(pid, 1, "x", 1);
	}
	/* A hibernated process has no stack: ready once `count` have none
	 * (spawned is not run: under a sanitizer some would still be
	 * runnable, not yet hibernated, when ptop looks). */
	for (;;) {
		struct gp_stats st;

		if (gp_stats(&st) == 0 && st.processes - st.stacks_in_use >= (uint64_t)count)
			break;
		gp_sleep(1);
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		if (gp_receive(&msg, -1) == 0)
			gp_msg_free(&msg);
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	struct gp_config cfg = { .schedulers = 2 };

	if (count < 0 || count > 10000000) {
		fprintf(stderr, "crowd: COUNT: 0 to 10000000\n");
		return 2;
	}
	int r = gp_main(first, (void *)count, &cfg);

	if (r < 0)
		fprintf(stderr, "crowd: gp_main: %s\n", strerror(-r));
	return r < 0 ? 1 : 0;
}
