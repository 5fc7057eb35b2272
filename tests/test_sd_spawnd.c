/* SPDX-License-Identifier: MIT */
/*
 * spawnd end to end: the real binary, real children (tests/progs/sdtest),
 * real signals, cgroups and seccomp. Each test states the behaviour it
 * checks; timing checks only say "not before" and "not grossly late".
 */
#include "sd_test.h"

#include <sys/resource.h>

#define HEADER "name = \"t\"; strategy = \"%s\"; intensity = %d; period = 60;\n"
#define ENV    "env = [ \"SDTEST_LOG=@R\" ];"

static struct sd_env E;

static void setup(void)
{
	env_setup(&E);
}

static void teardown(void)
{
	env_cleanup(&E);
}

TestSuite(spawnd, .init = setup, .fini = teardown, .timeout = 60);

/* ---- strategies ---------------------------------------------------------------- */

/* one_for_one: a crashed worker is restarted; its death is logged with its
 * status and what the strategy decided. */
Test(spawnd, one_for_one_restarts)
{
	write_conf(&E, HEADER "children = ( { name = \"c\"; exec = [ \"@T\", \"exit\", \"3\", \"100\" ]; " ENV " } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "c[", 1, 5000);
	ASSERT_LOG(&E, "exited with status 3", 2, 5000);
	ASSERT_LOG(&E, "c: restarting (one_for_one, restart 1 of 10 in 60s)", 1, 5000);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* transient: not restarted after a normal exit; temporary: never. */
Test(spawnd, transient_and_temporary)
{
	int pids[8];

	write_conf(&E, HEADER "children = ( "
		   "{ name = \"tr\"; restart = \"transient\"; exec = [ \"@T\", \"exit\", \"0\", \"50\" ]; " ENV " },"
		   "{ name = \"tm\"; restart = \"temporary\"; exec = [ \"@T\", \"exit\", \"7\", \"50\" ]; " ENV " } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "tr: not restarted (transient, ended normally)", 1, 5000);
	ASSERT_LOG(&E, "tm: not restarted (temporary)", 1, 5000);
	msleep(300);
	cr_assert_eq(started(&E, pids, 8), 2);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* one_for_all: a sibling's crash restarts the others too. */
Test(spawnd, one_for_all)
{
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"a\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },"
		   "{ name = \"b\"; exec = [ \"@T\", \"exit\", \"1\", \"200\" ]; } );",
		   "one_for_all", 10);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "t: restarting a, b (one_for_all", 1, 5000);
	cr_assert(wait_for(E.rec, "START", 2, 5000), "a was not restarted: %s", slurp(E.log));
	cr_assert(wait_for(E.rec, "TERM", 1, 5000), "a was not stopped first");
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* rest_for_one: those started after the crashed one restart, not those
 * before it. */
Test(spawnd, rest_for_one)
{
	char rec2[PATH_MAX + 8];

	snprintf(rec2, sizeof(rec2), "%s.c", E.rec);
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"a\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },"
		   "{ name = \"b\"; exec = [ \"@T\", \"exit\", \"1\", \"200\" ]; },"
		   "{ name = \"c\"; exec = [ \"@T\", \"sleep\" ]; env = [ \"SDTEST_LOG=@R.c\" ]; } );",
		   "rest_for_one", 10);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "t: restarting b, c (rest_for_one", 1, 5000);
	cr_assert(wait_for(rec2, "START", 2, 5000), "c was not restarted");
	cr_assert_eq(count_in(slurp(E.rec), "START"), 1, "a was restarted");
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* ---- intensity --------------------------------------------------------------------- */

/* More than `intensity` restarts in `period`: the root gives up, stops
 * everything, and spawnd exits 1. */
Test(spawnd, root_gives_up)
{
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"ok\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },"
		   "{ name = \"bad\"; exec = [ \"@T\", \"exit\", \"2\" ]; } );",
		   "one_for_one", 3);
	spawnd_start(&E, NULL);
	cr_assert_eq(spawnd_wait(&E, 10000), 1, "%s", slurp(E.log));
	cr_assert(strstr(slurp(E.log), "t: giving up: more than 3 restarts in 60s"));
	cr_assert_eq(count_in(slurp(E.log), "exited with status 2"), 4);
	cr_assert(strstr(slurp(E.rec), "TERM"), "ok was not stopped before exit");
}

/* A supervisor that gives up is a crashed child to its parent: escalation
 * through two levels, then the root gives up. */
Test(spawnd, escalation)
{
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"ok\"; exec = [ \"@T\", \"sleep\" ]; },"
		   "{ name = \"mid\"; intensity = 1; period = 60; children = ("
		   "   { name = \"bad\"; exec = [ \"@T\", \"exit\", \"2\" ]; } ); } );",
		   "one_for_one", 1);
	spawnd_start(&E, NULL);
	cr_assert_eq(spawnd_wait(&E, 10000), 1, "%s", slurp(E.log));
	cr_assert_eq(count_in(slurp(E.log), "mid: giving up"), 2, "%s", slurp(E.log));
	cr_assert_eq(count_in(slurp(E.log), "t: giving up"), 1);
	/* 2 runs of mid, 2 runs of bad each */
	cr_assert_eq(count_in(slurp(E.log), "exited with status 2"), 4, "%s", slurp(E.log));
}

/* ---- start order and readiness ------------------------------------------------------------ */

static long long start_ms(const char *rec, int nth)
{
	const char *p = slurp(rec);
	long long ms = -1;
	int pid;

	for (int i = 0; i <= nth && p; i++) {
		p = strstr(p, "START ");
		if (p && i < nth)
			p += 6;
	}
	if (p && sscanf(p, "START %d %lld", &pid, &ms) != 2)
		ms = -1;
	return ms;
}

/* A child starts only once its predecessor is ready: notify (READY=1 on
 * NOTIFY_SOCKET) and fd (a newline on fd N). */
Test(spawnd, ordered_start_waits_for_readiness)
{
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"n\"; ready = \"notify\"; exec = [ \"@T\", \"notify\", \"400\" ]; " ENV " },"
		   "{ name = \"f\"; ready = \"fd:5\"; exec = [ \"@T\", \"readyfd\", \"5\", \"400\" ]; " ENV " },"
		   "{ name = \"last\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	cr_assert(wait_for(E.rec, "START", 3, 5000), "%s", slurp(E.log));
	cr_assert_geq(start_ms(E.rec, 1) - start_ms(E.rec, 0), 400, "f started before n was ready");
	cr_assert_geq(start_ms(E.rec, 2) - start_ms(E.rec, 1), 400, "last started before f was ready");
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* A child that is not ready within ready_timeout is killed and restarted. */
Test(spawnd, ready_timeout)
{
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"slow\"; ready = \"notify\"; ready_timeout = \"300ms\"; exec = [ \"@T\", \"sleep\" ]; } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "slow[", 1, 5000);
	ASSERT_LOG(&E, "not ready after 0.3s: killing it", 1, 5000);
	ASSERT_LOG(&E, "killed by SIGKILL", 1, 5000);
	ASSERT_LOG(&E, "slow: restarting", 1, 5000);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* ---- stopping ------------------------------------------------------------------------------- */

/* The pid spawnd's log (-v) gives child `name`: "spawnd: NAME[PID]: started". */
static int pid_in_log(const char *name)
{
	char needle[64];
	const char *p;
	int pid = 0;

	snprintf(needle, sizeof(needle), "spawnd: %s[", name);
	p = strstr(slurp(E.log), needle);
	cr_assert(p && sscanf(p + strlen(needle), "%d]", &pid) == 1, "no pid of %s in:\n%s", name,
		  slurp(E.log));
	return pid;
}

/* SIGTERM: children stop in reverse order, each after the previous has
 * exited; spawnd exits 0. (Each is known by its pid from the log: the
 * order of their own START records is not the start order, as a child is
 * ready once it has execve'd, before it runs a line of its own.) */
Test(spawnd, shutdown_in_reverse_order)
{
	const char *p;
	int a, b, c;

	write_conf(&E, HEADER "children = ( "
		   "{ name = \"a\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },"
		   "{ name = \"b\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },"
		   "{ name = \"c\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } );",
		   "one_for_one", 10);
	spawnd_start(&E, "-v");
	cr_assert(wait_for(E.rec, "START", 3, 5000));
	a = pid_in_log("a");
	b = pid_in_log("b");
	c = pid_in_log("c");
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
	p = slurp(E.rec);
	{
		char tc[32], tb[32], ta[32];

		snprintf(tc, sizeof(tc), "TERM %d", c);
		snprintf(tb, sizeof(tb), "TERM %d", b);
		snprintf(ta, sizeof(ta), "TERM %d", a);
		cr_assert(strstr(p, tc) && strstr(p, tb) && strstr(p, ta), "%s", p);
		cr_assert(strstr(p, tc) < strstr(p, tb) && strstr(p, tb) < strstr(p, ta),
			  "not in reverse order: %s", p);
	}
}

/* A child that ignores SIGTERM gets SIGKILL after `shutdown`; brutal_kill
 * sends SIGKILL at once. */
Test(spawnd, shutdown_timeout_and_brutal_kill)
{
	long long t0;

	write_conf(&E, HEADER "children = ( "
		   "{ name = \"stubborn\"; shutdown = \"300ms\"; exec = [ \"@T\", \"ignore-term\" ]; " ENV " },"
		   "{ name = \"brutal\"; shutdown = \"brutal_kill\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	cr_assert(wait_for(E.rec, "START", 2, 5000));
	t0 = ms_now();
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
	cr_assert_geq(ms_now() - t0, 300, "SIGKILL came before shutdown elapsed");
	cr_assert(strstr(slurp(E.log), "stubborn["));
	cr_assert(strstr(slurp(E.log), "still running 0.3s after SIGTERM: SIGKILL"), "%s", slurp(E.log));
	cr_assert(strstr(slurp(E.log), "brutal["));
	cr_assert_eq(count_in(slurp(E.rec), "TERM"), 0, "brutal_kill sent SIGTERM");
}

/* ---- whole process trees --------------------------------------------------------------------- */

static pid_t read_pid(const char *path, long timeout_ms)
{
	long long until = ms_now() + timeout_ms;

	do {
		FILE *f = fopen(path, "r");
		int pid = 0;

		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
			if (pid > 0)
				return pid;
		}
		msleep(10);
	} while (ms_now() < until);
	return -1;
}

/* A grandchild that double-forked away does not outlive its worker's stop. */
Test(spawnd, no_grandchild_survives_stop)
{
	char pidfile[128];
	pid_t g;

	NEED_ROOT("a cgroup contains the escaped grandchild");
	snprintf(pidfile, sizeof(pidfile), "%s/grandchild", E.dir);
	write_conf(&E, HEADER "children = ( { name = \"o\"; exec = [ \"@T\", \"orphan\", \"%s\" ]; } );",
		   "one_for_one", 10, pidfile);
	spawnd_start(&E, NULL);
	g = read_pid(pidfile, 5000);
	cr_assert_gt(g, 0);
	cr_assert(alive(g));
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
	msleep(100);
	cr_assert(!alive(g), "grandchild %d survived", (int)g);
}

/* ... nor a crash of its worker (the worker is restarted without it). */
Test(spawnd, no_grandchild_survives_crash)
{
	char pidfile[128];
	pid_t g, worker;
	int pids[4];

	NEED_ROOT("a cgroup contains the escaped grandchild");
	snprintf(pidfile, sizeof(pidfile), "%s/grandchild", E.dir);
	write_conf(&E, HEADER "children = ( { name = \"o\"; exec = [ \"@T\", \"orphan\", \"%s\" ]; " ENV " } );",
		   "one_for_one", 10, pidfile);
	spawnd_start(&E, NULL);
	g = read_pid(pidfile, 5000);
	cr_assert_gt(g, 0);
	cr_assert_eq(started(&E, pids, 4), 1);
	worker = pids[0];
	unlink(pidfile);
	kill(worker, SIGKILL);
	ASSERT_LOG(&E, "killed by SIGKILL", 1, 5000);
	cr_assert(read_pid(pidfile, 5000) > 0, "not restarted");
	cr_assert(!alive(g), "the old grandchild %d survived the crash", (int)g);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* If spawnd is SIGKILLed, its workers die with it (PR_SET_PDEATHSIG), and
 * what escaped them dies at once too (spawnd's guard ends its cgroups). */
Test(spawnd, no_orphan_outlives_spawnd)
{
	char pidfile[128];
	pid_t g, worker;
	int pids[4];
	long long until;

	NEED_ROOT("a cgroup contains the escaped grandchild");
	snprintf(pidfile, sizeof(pidfile), "%s/grandchild", E.dir);
	write_conf(&E, HEADER "children = ( { name = \"o\"; exec = [ \"@T\", \"orphan\", \"%s\" ]; " ENV " } );",
		   "one_for_one", 10, pidfile);
	spawnd_start(&E, NULL);
	g = read_pid(pidfile, 5000);
	cr_assert_gt(g, 0);
	cr_assert_eq(started(&E, pids, 4), 1);
	worker = pids[0];
	kill(E.pid, SIGKILL);
	cr_assert_eq(spawnd_wait(&E, 5000), 128 + SIGKILL);
	until = ms_now() + 2000;
	while ((alive(worker) || alive(g)) && ms_now() < until)
		msleep(10);
	cr_assert(!alive(worker), "worker %d outlived spawnd", (int)worker);
	cr_assert(!alive(g), "grandchild %d outlived spawnd", (int)g);
}

/* ---- launch ------------------------------------------------------------------------------------- */

/* A program that cannot be executed is "could not start", not a crash. */
Test(spawnd, exec_failure_is_not_a_crash)
{
	char script[PATH_MAX + 16];
	FILE *f;

	snprintf(script, sizeof(script), "%s/broken", E.dir);
	f = fopen(script, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/nonexistent/interpreter\n");
	fclose(f);
	chmod(script, 0755);
	write_conf(&E, HEADER "children = ( { name = \"b\"; exec = [ \"%s\" ]; } );", "one_for_one", 1,
		   script);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "b[", 1, 5000);
	ASSERT_LOG(&E, "could not start: execve: No such file or directory", 1, 5000);
	cr_assert_eq(spawnd_wait(&E, 10000), 1);
	cr_assert_null(strstr(slurp(E.log), "exited with status 127"));
}

/* A failure between clone and execve names its step and its error. */
Test(spawnd, chdir_failure_names_its_stage)
{
	write_conf(&E, HEADER "children = ( { name = \"d\"; cwd = \"%s/missing\"; "
			      "exec = [ \"@T\", \"sleep\" ]; } );",
		   "one_for_one", 1, E.dir);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "could not start: chdir: No such file or directory", 1, 5000);
	cr_assert_eq(spawnd_wait(&E, 10000), 1);
}

/* The cgroup v2 line of /proc/PID/cgroup ("0::/path"), or "". */
static void cgroup2_of(pid_t pid, char *buf, size_t size)
{
	char path[64], *line = NULL, *p;
	size_t cap = 0;
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0)
		if (!strncmp(line, "0::", 3)) {
			p = strchr(line, '\n');
			if (p)
				*p = '\0';
			snprintf(buf, size, "%s", line + 3);
		}
	free(line);
	fclose(f);
}

/* Each worker is in a cgroup v2 of its own below spawnd's from before its
 * program runs: it joins it between clone and execve. */
Test(spawnd, worker_joins_its_cgroup_before_exec)
{
	char mine[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	int pids[4];

	NEED_ROOT("spawnd creates cgroups as root");
	cgroup2_of(getpid(), mine, sizeof(mine));
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) < 0 &&
	    access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) < 0)
		cr_skip_test("no cgroup v2 hierarchy mounted");
	write_conf(&E, HEADER "children = ( { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },"
			      "{ name = \"b\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } );",
		   "one_for_one", 1);
	spawnd_start(&E, NULL);
	for (int i = 0; i < 100 && started(&E, pids, 4) < 2; i++)
		msleep(20);
	cr_assert_eq(started(&E, pids, 4), 2);
	cgroup2_of(pids[0], a, sizeof(a));
	cgroup2_of(pids[1], b, sizeof(b));
	cr_assert(strstr(a, "/spawnd.") && strrchr(a, '/')[1] == 'w', "a is in '%s'", a);
	cr_assert(strstr(b, "/spawnd.") && strrchr(b, '/')[1] == 'w', "b is in '%s'", b);
	cr_assert_str_neq(a, b, "two workers share a cgroup");
	cr_assert_str_neq(a, mine);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* Children get a clean environment: PATH, HOME, LANG and their env, never
 * spawnd's NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*, JOURNAL_STREAM or
 * INVOCATION_ID; a NOTIFY_SOCKET of their own only with ready = notify. */
Test(spawnd, clean_environment)
{
	const char *log;

	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("INVOCATION_ID", "0123", 1);
	setenv("JOURNAL_STREAM", "8:9", 1);
	setenv("SECRET", "leaked", 1);
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"plain\"; env = [ \"MINE=yes\" ]; exec = [ \"@T\", \"env\" ]; },"
		   "{ name = \"notif\"; ready = \"notify\"; exec = [ \"@T\", \"env\" ]; ready_timeout = \"30s\"; } );",
		   "one_for_one", 1);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "notif[", 2, 5000);
	msleep(200);
	log = slurp(E.log);
	cr_assert(strstr(log, "plain[") && strstr(log, ": ENV MINE=yes"));
	cr_assert(strstr(log, ": ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	cr_assert_null(strstr(log, "ENV SECRET"));
	cr_assert_null(strstr(log, "ENV LISTEN_FDS"));
	cr_assert_null(strstr(log, "ENV INVOCATION_ID"));
	cr_assert_null(strstr(log, "ENV JOURNAL_STREAM"));
	cr_assert_null(strstr(log, "ENV NOTIFY_SOCKET=/run/systemd/notify"));
	cr_assert_eq(count_in(log, "ENV NOTIFY_SOCKET=@spawnd."), 1, "%s", log);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("INVOCATION_ID");
	unsetenv("JOURNAL_STREAM");
	unsetenv("SECRET");
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* A worker runs in its own session, as its user and group, with only
 * stdin, stdout, stderr (and its readiness fd) open, and spawnd's original
 * open-files limit (spawnd raises its own). */
Test(spawnd, launch_environment)
{
	struct rlimit nofile;
	char want[128];
	const char *log, *line;
	int pid = 0, sid = 0, pgid = 0;

	NEED_ROOT("a child runs as nobody");
	getrlimit(RLIMIT_NOFILE, &nofile);
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"me\"; exec = [ \"@T\", \"ids\" ]; },"
		   "{ name = \"nobody\"; user = \"nobody\"; group = \"nogroup\"; ready = \"fd:7\"; "
		   "  exec = [ \"@T\", \"ids\" ]; ready_timeout = \"30s\"; } );",
		   "one_for_one", 1);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, ": IDS ", 2, 5000);
	log = slurp(E.log);
	line = strstr(log, "me[");
	cr_assert_not_null(line);
	line = strstr(line, "IDS ");
	cr_assert_eq(sscanf(line, "IDS uid %*d gid %*d sid %d pgid %d pid %d", &sid, &pgid, &pid), 3);
	cr_assert(sid == pid && pgid == pid, "not its own session: %s", line);
	snprintf(want, sizeof(want), "nofile %llu fds: 0 1 2\n", (unsigned long long)nofile.rlim_cur);
	cr_assert(strstr(line, want), "want \"%s\" in %s", want, line);
	line = strstr(strstr(log, "nobody["), "IDS ");
	cr_assert(strstr(line, "IDS uid 65534 gid 65534 "), "%s", line);
	cr_assert(strstr(line, "fds: 0 1 2 7\n"), "%s", line);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* Limits: nofile and core as rlimits; pids through a cgroup controller. */
Test(spawnd, limits)
{
	const char *log;
	int forked = -1;

	NEED_ROOT("cgroup pids controller");
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"l\"; limits = { nofile = 64; core = \"0\"; }; exec = [ \"@T\", \"limits\" ]; },"
		   "{ name = \"p\"; limits = { pids = 16; }; exec = [ \"@T\", \"fork-bomb\" ]; } );",
		   "one_for_one", 1);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, ": NOFILE 64 CORE 0", 1, 5000);
	ASSERT_LOG(&E, ": FORKED ", 1, 10000);
	log = slurp(E.log);
	cr_assert_eq(sscanf(strstr(log, ": FORKED ") + 9, "%d", &forked), 1);
	cr_assert_lt(forked, 16, "pids = 16 let it fork %d times", forked);
	cr_assert_eq(spawnd_stop(&E, 10000), 0);
}

/* memory: a worker that goes over its limit is killed by the kernel (the
 * memory controller, v2 or v1), and spawnd reports it. */
Test(spawnd, memory_limit)
{
	NEED_ROOT("cgroup memory controller");
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"hog\"; limits = { memory = \"32M\"; }; exec = [ \"@T\", \"alloc\", \"200\" ]; } );",
		   "one_for_one", 1);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "hog[", 1, 5000);
	ASSERT_LOG(&E, "killed by SIGKILL", 1, 10000);
	cr_assert_null(strstr(slurp(E.log), "ALLOCATED 200"), "%s", slurp(E.log));
	spawnd_stop(&E, 5000);
}

/* Output is logged line by line, tagged with name and pid; a child that
 * floods cannot stop spawnd from doing its work. */
Test(spawnd, output_and_flood)
{
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"flood\"; exec = [ \"@T\", \"flood\" ]; },"
		   "{ name = \"crash\"; exec = [ \"@T\", \"exit\", \"4\", \"200\" ]; " ENV " } );",
		   "one_for_one", 100);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "flood line ", 1000, 10000);
	/* Meanwhile, restarts still happen on time (the record, not the
	 * flooded log, tells). */
	cr_assert(wait_for(E.rec, "START", 4, 10000), "crash was not restarted under the flood");
	cr_assert_eq(spawnd_stop(&E, 10000), 0);
}

/* A configuration with an error starts nothing and exits 2. */
Test(spawnd, bad_config_starts_nothing)
{
	write_conf(&E, HEADER "children = ( { name = \"c\"; exec = [ \"@T\", \"sleep\" ]; " ENV " restrat = \"permanent\"; } );",
		   "one_for_one", 1);
	spawnd_start(&E, NULL);
	cr_assert_eq(spawnd_wait(&E, 5000), 2);
	cr_assert(strstr(slurp(E.log), "restrat"), "%s", slurp(E.log));
	cr_assert_eq(access(E.rec, F_OK), -1, "something started");
}

/* Backoff: restarts of a child that keeps failing fast wait longer each
 * time (initial, then doubled). */
Test(spawnd, backoff)
{
	long long t[4];

	write_conf(&E, HEADER "children = ( { name = \"b\"; backoff = { initial = \"200ms\"; max = \"1s\"; }; "
		   "exec = [ \"@T\", \"exit\", \"1\" ]; " ENV " } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	cr_assert(wait_for(E.rec, "START", 4, 10000), "%s", slurp(E.log));
	for (int i = 0; i < 4; i++)
		t[i] = start_ms(E.rec, i);
	cr_assert_geq(t[1] - t[0], 200);
	cr_assert_geq(t[2] - t[1], 400);
	cr_assert_geq(t[3] - t[2], 800);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* ---- idleness ------------------------------------------------------------------------------------ */

static long ctx_switches(pid_t pid)
{
	char path[64], line[256];
	long total = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			total += v;
	fclose(f);
	return total;
}

/* Idle, with no timer that the configuration asks for, spawnd makes no
 * wake-ups at all. */
Test(spawnd, idle_makes_no_wakeups)
{
	long before, after;

	write_conf(&E, HEADER "children = ( "
		   "{ name = \"a\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },"
		   "{ name = \"b\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } );",
		   "one_for_one", 1);
	spawnd_start(&E, NULL);
	cr_assert(wait_for(E.rec, "START", 2, 5000));
	msleep(300); /* the ready timers have gone, the log is written */
	before = ctx_switches(E.pid);
	msleep(2000);
	after = ctx_switches(E.pid);
	cr_assert_leq(after - before, 1, "%ld wake-ups in 2 s of idleness", after - before);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* ---- stalls ------------------------------------------------------------------------------------ */

/* A worker computing without system calls for stall_timeout is a stall:
 * on_stall = restart sends SIGABRT (so it dumps where it was), and it is
 * restarted. */
Test(spawnd, stall_spinning_restarts)
{
	write_conf(&E, HEADER "children = ( { name = \"spin\"; stall_timeout = \"400ms\"; on_stall = \"restart\"; "
		   "exec = [ \"@T\", \"spin\" ]; " ENV " } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "stalled: computing without system calls for ", 1, 5000);
	ASSERT_LOG(&E, "killed by SIGABRT", 1, 5000);
	ASSERT_LOG(&E, "spin: restarting", 1, 5000);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* on_stall = report only reports, once per stall; waiting in a read or a
 * sleep is not a stall at all. */
Test(spawnd, stall_report_and_waiting_is_not_stalling)
{
	int pids[4];

	write_conf(&E, HEADER "children = ( "
		   "{ name = \"spin\"; stall_timeout = \"300ms\"; on_stall = \"report\"; exec = [ \"@T\", \"spin\" ]; " ENV " },"
		   "{ name = \"idle\"; stall_timeout = \"200ms\"; exec = [ \"@T\", \"sleep\" ]; } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "spin[", 1, 5000);
	ASSERT_LOG(&E, "stalled: computing without system calls", 1, 5000);
	msleep(1500);
	/* One report, for spin: none for idle, which only waits. */
	cr_assert_eq(count_in(slurp(E.log), "stalled:"), 1, "%s", slurp(E.log));
	cr_assert_eq(started(&E, pids, 4), 1);
	cr_assert(alive(pids[0]), "report mode stopped it");
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* With ready = notify and watchdog, missing WATCHDOG=1 pings are a stall. */
Test(spawnd, watchdog)
{
	write_conf(&E, HEADER "children = ( { name = \"w\"; ready = \"notify\"; watchdog = \"400ms\"; "
		   "exec = [ \"@T\", \"notify\", \"0\", \"100\", \"5\" ]; } );",
		   "one_for_one", 10);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "stalled: no WATCHDOG=1 for ", 1, 5000);
	ASSERT_LOG(&E, "w: restarting", 1, 5000);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* ---- sandboxes ---------------------------------------------------------------------------------- */

/* Workers run in their seccomp sandbox: the default profile denies mount,
 * bpf, ptrace and io_uring; "none" does not; a custom one adds its own. */
Test(spawnd, sandboxes_block_what_they_claim)
{
	char probe[PATH_MAX];
	const char *log;

	abs_path("SANDBOX_PROBE", "build/tests/progs/sandbox_probe", probe);
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"def\"; restart = \"temporary\"; exec = [ \"%s\", \"mount\", \"bpf\", \"ptrace\", \"io_uring_setup\", \"getpid\" ]; },"
		   "{ name = \"none\"; restart = \"temporary\"; sandbox = \"none\"; exec = [ \"%s\", \"mount\", \"io_uring_setup\" ]; },"
		   "{ name = \"cus\"; restart = \"temporary\"; sandbox = { base = \"default\"; deny = [ \"getpid\" ]; io_uring = true; };"
		   "  exec = [ \"%s\", \"getpid\", \"io_uring_setup\" ]; } );",
		   "one_for_one", 10, probe, probe, probe);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "not restarted (temporary)", 3, 5000);
	log = slurp(E.log);
	cr_assert(strstr(log, ": mount EPERM") && strstr(log, ": bpf EPERM") && strstr(log, ": ptrace EPERM") &&
		  strstr(log, ": io_uring_setup EPERM"), "%s", log);
	cr_assert_eq(count_in(log, ": mount EPERM"), 1, "the none profile blocked mount: %s", log);
	cr_assert(strstr(log, "cus[") && strstr(log, ": getpid EPERM"), "%s", log);
	cr_assert_eq(count_in(log, ": io_uring_setup EPERM"), 1, "%s", log);
	cr_assert_eq(spawnd_stop(&E, 5000), 0);
}

/* ---- chaos ------------------------------------------------------------------------------------------- */

#include <dirent.h>

/* spawnd's children (its workers, not its guard): how many live, how many
 * zombies; up to max pids. */
static int children_of(pid_t parent, pid_t *pids, int max, int *zombies)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	*zombies = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], buf[512], *p, state;
		int ppid, fd;
		ssize_t len;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 2, "%c %d", &state, &ppid) != 2 || ppid != parent)
			continue;
		if (strstr(buf, "(spawnd-guard)"))
			continue; /* spawnd's own */
		if (state == 'Z') {
			(*zombies)++;
			continue;
		}
		if (n < max)
			pids[n] = atoi(e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static long fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Settle: wait until spawnd has exactly `want` live children. */
static bool settle(pid_t spawnd, int want, long timeout_ms)
{
	long long until = ms_now() + timeout_ms;
	pid_t pids[256];
	int z;

	do {
		if (children_of(spawnd, pids, 256, &z) == want && z == 0)
			return true;
		msleep(50);
	} while (ms_now() < until);
	return false;
}

/* Chaos: 100 children killed at random (for 60 s; SD_CHAOS_SECONDS), after
 * which the tree has its declared shape, there are no zombies, and spawnd's
 * file descriptors and memory are where they started. */
Test(spawnd, chaos, .timeout = 180)
{
	const char *strategies[4] = { "one_for_one", "one_for_all", "rest_for_one", "one_for_one" };
	const char *secs = getenv("SD_CHAOS_SECONDS");
	long seconds = secs ? atol(secs) : 60, fds0, rss0, fds1, rss1, kills = 0;
	char conf[16384];
	size_t len = 0;
	unsigned seed = 42;
	long long until;
	pid_t pids[256];
	int z;

	len += (size_t)snprintf(conf + len, sizeof(conf) - len,
				"name = \"chaos\"; intensity = 1000000; period = 1; children = (");
	for (int s = 0; s < 4; s++) {
		len += (size_t)snprintf(conf + len, sizeof(conf) - len,
					"%s{ name = \"s%d\"; strategy = \"%s\"; intensity = 1000000; period = 1; children = (",
					s ? "," : "", s, strategies[s]);
		for (int c = 0; c < 25; c++)
			len += (size_t)snprintf(conf + len, sizeof(conf) - len,
						"%s{ name = \"c%d\"; shutdown = \"1s\"; exec = [ \"@T\", \"sleep\" ]; }",
						c ? "," : "", c);
		len += (size_t)snprintf(conf + len, sizeof(conf) - len, "); }");
	}
	snprintf(conf + len, sizeof(conf) - len, ");");
	write_conf(&E, "%s", conf);
	spawnd_start(&E, NULL);
	cr_assert(settle(E.pid, 100, 10000), "the tree never came up");
	msleep(500);
	fds0 = fd_count(E.pid);
	rss0 = rss_kib(E.pid);

	until = ms_now() + seconds * 1000;
	while (ms_now() < until) {
		int n = children_of(E.pid, pids, 256, &z);

		if (n > 0) {
			kill(pids[rand_r(&seed) % (unsigned)n], SIGKILL);
			kills++;
		}
		msleep(10 + rand_r(&seed) % 40);
	}
	cr_assert(settle(E.pid, 100, 20000), "after %ld kills the tree did not return to 100 children",
		  kills);
	cr_assert_eq(children_of(E.pid, pids, 256, &z), 100);
	cr_assert_eq(z, 0, "%d zombies", z);
	msleep(500);
	fds1 = fd_count(E.pid);
	rss1 = rss_kib(E.pid);
	cr_log_info("chaos: %ld kills in %ld s; fds %ld -> %ld; RSS %ld -> %ld KiB", kills, seconds,
		    fds0, fds1, rss0, rss1);
	cr_assert_eq(fds1, fds0, "fds %ld -> %ld", fds0, fds1);
#ifndef __SANITIZE_ADDRESS__
	/* (Under ASan its quarantine holds freed memory back: LeakSanitizer,
	 * at spawnd's exit below, checks for leaks instead.) */
	cr_assert_leq(rss1, rss0 + 2048, "RSS %ld -> %ld KiB", rss0, rss1);
#endif
	cr_assert_eq(spawnd_stop(&E, 30000), 0);
}

/* ---- check and exec --------------------------------------------------------------------------- */

static int run_cmd(const char *const *argv, char *out, size_t size)
{
	int pipefd[2], st;
	size_t len = 0;
	pid_t pid;

	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (ssize_t n; (n = read(pipefd[0], out + len, size - 1 - len)) > 0;)
		len += (size_t)n;
	out[len] = '\0';
	close(pipefd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* spawnd check: 0 and "ok" for a good file, saying which sandboxes let
 * io_uring through; 2 and located errors for a bad one; nothing runs. */
Test(spawnd, check)
{
	const char *argv[] = { E.spawnd, "check", E.conf, NULL };
	char out[8192];

	write_conf(&E, HEADER "children = ( { name = \"u\"; sandbox = { base = \"strict\"; io_uring = true; }; "
		   "exec = [ \"@T\", \"sleep\" ]; " ENV " } );", "one_for_one", 1);
	cr_assert_eq(run_cmd(argv, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "u: sandbox allows io_uring"), "%s", out);
	cr_assert(strstr(out, ": ok"), "%s", out);
	write_conf(&E, HEADER "children = ( { name = \"u\"; restart = \"always\"; exec = [ \"@T\", \"sleep\" ]; } );",
		   "one_for_one", 1);
	cr_assert_eq(run_cmd(argv, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "spawnd.conf:2: u: restart: "), "%s", out);
	cr_assert_eq(access(E.rec, F_OK), -1, "check started something");
}

/* spawnd exec: one command supervised with no file; --intensity 1 lets it
 * be restarted once, then spawnd gives up with 1. */
Test(spawnd, exec_command)
{
	const char *argv[] = { E.spawnd, "exec", "--intensity", "1", "--period", "60", "--control",
			       E.sock, "--", E.sdtest, "exit", "5", NULL };
	char out[8192];

	cr_assert_eq(run_cmd(argv, out, sizeof(out)), 1, "%s", out);
	cr_assert_eq(count_in(out, "exited with status 5"), 2, "%s", out);
	cr_assert(strstr(out, "sdtest: restarting (one_for_one, restart 1 of 1 in 60s)"), "%s", out);
}

/* spawnd exec takes the tree's --no-bpf (and says so at start) and -v. */
Test(spawnd, exec_without_bpf)
{
	const char *argv[] = { E.spawnd, "exec", "--no-bpf", "-v", "--intensity", "0", "--control",
			       E.sock, "--", E.sdtest, "exit", "5", NULL };
	char out[8192];

	cr_assert_eq(run_cmd(argv, out, sizeof(out)), 1, "%s", out);
	cr_assert(strstr(out, "bpf: degraded: --no-bpf"), "%s", out);
	cr_assert(strstr(out, "sdtest["), "%s", out);
	cr_assert_eq(count_in(out, "exited with status 5"), 1, "%s", out);
}
