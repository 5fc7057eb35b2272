/* SPDX-License-Identifier: MIT */
/* The runtime itself: its own (system) processes do not keep gp_main
 * waiting. White-box: it uses the internal spawn. */
#include "gp_test.h"
#include "internal.h"

static atomic_int system_started;

static void system_server(void *arg)
{
	struct gp_msg m;

	(void)arg;
	atomic_store(&system_started, 1);
	for (;;)
		if (gp_receive(&m, -1) == 0)
			gp_msg_free(&m);
}

static void program(void *arg)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	gp_pid pid;

	(void)arg;
	CHECK_EQ(gpi_spawn(s, p, &pid, system_server, NULL, NULL, GP_PF_SYSTEM), 0);
	while (!atomic_load(&system_started))
		gp_sleep(1);
	/* The program's last process exits here; the server is still there. */
}

/* gp_main returns once the program's processes have exited; the runtime's
 * own processes are then told to go (GP_EXIT_KILL). */
Test(runtime, system_processes_do_not_count, .timeout = 10)
{
	atomic_store(&system_started, 0);
	run_gp(program, NULL, 2);
	cr_assert_eq(atomic_load(&system_started), 1);
}
