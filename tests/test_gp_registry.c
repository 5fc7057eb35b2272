/* SPDX-License-Identifier: MIT */
/* Registered names. */
#include "gp_test.h"

static void idle_proc(void *arg)
{
	struct gp_msg m;

	(void)arg;
	gp_receive(&m, -1);
	gp_msg_free(&m);
}

static void registry_main(void *arg)
{
	char long_name[GP_NAME_MAX + 2];
	struct gp_msg m;
	uint64_t ref;
	gp_pid a = gp_spawn(idle_proc, NULL), b = gp_spawn(idle_proc, NULL);

	(void)arg;
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK_EQ(gp_whereis("server"), 0);
	CHECK_EQ(gp_register("server", a), 0);
	CHECK_EQ(gp_whereis("server"), a);
	CHECK_EQ(gp_register("server", b), -EEXIST); /* the name is taken */
	CHECK_EQ(gp_register("other", a), -EBUSY);   /* a has a name already */
	CHECK_EQ(gp_register("", a), -EINVAL);
	CHECK_EQ(gp_register(NULL, a), -EINVAL);
	CHECK_EQ(gp_register(long_name, a), -EINVAL);
	CHECK_EQ(gp_register("x", 0), -EINVAL);
	CHECK_EQ(gp_unregister("nobody"), -ENOENT);
	CHECK_EQ(gp_unregister("server"), 0);
	CHECK_EQ(gp_whereis("server"), 0);
	CHECK_EQ(gp_register("server", b), 0); /* free again */
	CHECK_EQ(gp_register("first", a), 0);  /* and a may take another */

	/* A name dies with its process. */
	CHECK_EQ(gp_monitor(b, &ref), 0);
	CHECK_EQ(gp_send(gp_whereis("server"), 1, NULL, 0), 0);
	CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 5000), 0);
	gp_msg_free(&m);
	CHECK_EQ(gp_whereis("server"), 0);
	CHECK_EQ(gp_register("server", b), -ESRCH); /* b is dead */
	CHECK_EQ(gp_register("server", gp_self()), 0);
	CHECK_EQ(gp_whereis("server"), gp_self());
	gp_kill(a, GP_EXIT_KILL);
}

/* register, whereis, unregister, and names released at exit. */
Test(registry, names, .timeout = 10)
{
	run_gp(registry_main, NULL, 2);
}

static void named(void *arg)
{
	char name[32];

	snprintf(name, sizeof(name), "p%ld", (long)(uintptr_t)arg);
	CHECK_EQ(gp_register(name, gp_self()), 0);
	gp_sleep(1);
}

static void many_names_main(void *arg)
{
	long n = *(long *)arg;

	for (long i = 0; i < n; i++)
		gp_spawn(named, (void *)(uintptr_t)i);
}

/* Many names registered and released concurrently, on two schedulers. */
Test(registry, many_names, .timeout = 30)
{
	long n = scaled(100000, 2000);

	run_gp(many_names_main, &n, 2);
}
