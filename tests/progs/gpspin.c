/* SPDX-License-Identifier: MIT */
/*
 * A libgp program one of whose green processes ("spinner") computes for
 * ever without a system call, for spawnd's stall report to name it
 * (tests/test_sd_bpf.c). Says "GREEN <pid>" with the spinner's green pid.
 */
#include <stdio.h>

#include "gp.h"

static void spin(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	for (;;)
		x++;
}

static void first(void *arg)
{
	struct gp_spawn_opts opts = { .name = "spinner" };
	gp_pid pid;

	(void)arg;
	if (gp_spawn_opt(&pid, spin, NULL, &opts) < 0) {
		perror("gp_spawn_opt");
		return;
	}
	printf("GREEN %llu\n", (unsigned long long)pid);
	fflush(stdout);
}

int main(void)
{
	/* libgp's own stall monitor stays quiet: spawnd is the one to tell. */
	struct gp_config cfg = { .schedulers = 2, .stall_ms = 600000 };

	return gp_main(first, NULL, &cfg) < 0;
}
