/* SPDX-License-Identifier: MIT */
/*
 * spawnd's crash and stall evidence end to end: a real spawnd with its
 * real BPF programs loaded in the running kernel, real workers that crash,
 * abort, get killed, block in D state or spin (tests/progs/bpftest.c),
 * and what spawnd says of them in its log, in `spawnctl status` and in its
 * events. Then the same supervision with --no-bpf (degraded mode).
 *
 * Loading BPF needs root and a kernel with BTF: without them each test
 * skips, saying which.
 */
#include "sd_test.h"

#include <dirent.h>
#include <grp.h>
#include <json-c/json.h>

#define HEADER "name = \"t\"; strategy = \"one_for_one\"; intensity = 10; period = 60;\n"

static struct sd_env E;
static char CTL[PATH_MAX], BPFTEST[PATH_MAX];

static void setup(void)
{
	env_setup(&E);
	abs_path("SPAWNCTL", "build/spawnctl", CTL);
	abs_path("BPFTEST", "build/tests/progs/bpftest", BPFTEST);
}

static void teardown(void)
{
	env_cleanup(&E);
}

TestSuite(bpf, .init = setup, .fini = teardown, .timeout = 120);

/* What the BPF tests need, or skip. */
static void need_bpf(void)
{
	NEED_ROOT("loading BPF programs");
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		cr_skip_test("the kernel has no BTF (/sys/kernel/btf/vmlinux)");
}

/* `spawnctl ARGS` with our socket: its stdout (static). */
static char *ctl(const char *args)
{
	static char out[1 << 18];
	char cmd[4 * PATH_MAX];
	size_t len = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s -s %s %s 2>&1", CTL, E.sock, args);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	len = fread(out, 1, sizeof(out) - 1, p);
	out[len] = '\0';
	pclose(p);
	return out;
}

/* `spawnctl --json status NAME`, parsed (the caller puts it). */
static json_object *status_of(const char *name)
{
	char args[256];
	json_object *o;

	snprintf(args, sizeof(args), "--json status %s", name);
	o = json_tokener_parse(ctl(args));
	cr_assert_not_null(o, "not JSON from spawnctl status %s", name);
	return o;
}

static json_object *get(json_object *o, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(k));
		else if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
	}
	return o;
}

static const char *str(json_object *o, const char *path)
{
	json_object *v = get(o, path);

	return v ? json_object_get_string(v) : "";
}

/* Whether any frame of the stack at path names fn. */
static bool stack_names(json_object *o, const char *path, const char *fn)
{
	json_object *frames = get(o, path);

	for (size_t i = 0; frames && i < json_object_array_length(frames); i++)
		if (strstr(str(json_object_array_get_idx(frames, i), "function"), fn))
			return true;
	return false;
}

/* The pid the nth "NAME[pid]: READY pid" line of the log says, once there
 * is one; the time it was seen in *at_ms. */
static int ready_pid(const char *name, int nth, long long *at_ms)
{
	char needle[128];
	const char *p;
	int pid = 0;

	snprintf(needle, sizeof(needle), "%s[", name);
	for (long long until = ms_now() + 15000; ms_now() < until; msleep(10)) {
		int seen = 0;

		for (p = slurp(E.log); (p = strstr(p, needle)); p++) {
			const char *r = strstr(p, "]: READY ");

			if (r && r - p < 40 && !memchr(p, '\n', (size_t)(r - p)) && ++seen == nth) {
				pid = atoi(r + 9);
				break;
			}
		}
		if (pid) {
			if (at_ms)
				*at_ms = ms_now();
			return pid;
		}
	}
	cr_assert_fail("%s never got ready (%d)\n%s", name, nth, slurp(E.log));
	return 0;
}

static void start(const char *children, const char *extra)
{
	write_conf(&E, HEADER "children = ( %s );", children);
	spawnd_start(&E, extra);
}

/* A worker spawnd started from bpftest. */
#define WORKER(name, cmd, more)                                                            \
	"{ name = \"" name "\"; sandbox = \"none\"; exec = [ \"%s\", \"" cmd "\" ]; " more " }"

/* ---- crashes -------------------------------------------------------------------------- */

/* A worker that segfaults in a named function: the log, the status and
 * the crashed event name it, with the faulting address. */
Test(bpf, segv_names_the_function)
{
	char conf[3 * PATH_MAX];
	json_object *st;
	FILE *events;
	char evpath[PATH_MAX + 16], cmd[5 * PATH_MAX];
	int pid;

	need_bpf();
	snprintf(conf, sizeof(conf), WORKER("segv", "segv", "restart = \"temporary\";"), BPFTEST);
	start(conf, NULL);
	pid = ready_pid("segv", 1, NULL);
	ASSERT_LOG(&E, "bpf: full", 1, 5000);
	snprintf(evpath, sizeof(evpath), "%s/events", E.dir);
	snprintf(cmd, sizeof(cmd), "exec %s -s %s --json events >%s 2>&1", CTL, E.sock, evpath);
	events = popen(cmd, "w");
	cr_assert_not_null(events);
	cr_assert(wait_for(evpath, "\"ok\"", 1, 5000), "%s", slurp(evpath));
	kill(pid, SIGUSR1);
	ASSERT_LOG(&E, "killed by SIGSEGV", 1, 10000);
	ASSERT_LOG(&E, "at address 0x0 in crash_in_named_function", 1, 1000);

	st = status_of("segv");
	cr_assert_str_eq(str(st, "status.last_crash.signal"), "SIGSEGV", "%s",
			 json_object_to_json_string(st));
	cr_assert_str_eq(str(st, "status.last_crash.addr"), "0x0");
	cr_assert_eq(json_object_get_int(get(st, "status.last_crash.pid")), pid);
	cr_assert(stack_names(st, "status.last_crash.stack", "crash_in_named_function"), "%s",
		  json_object_to_json_string(st));
	cr_assert(strstr(str(st, "status.last_crash.stack.0.file"), "bpftest.c"), "%s",
		  json_object_to_json_string(st));
	cr_assert_str_eq(str(st, "bpf"), "full");
	/* Frame pointers all the way to the C library's start: whole. */
	cr_assert(json_object_get_boolean(get(st, "status.last_crash.stack_complete")), "%s",
		  json_object_to_json_string(st));
	json_object_put(st);
	cr_assert(strstr(ctl("status segv"), "last crash: process"), "%s", ctl("status segv"));

	cr_assert(wait_for(evpath, "\"crashed\"", 1, 5000), "%s", slurp(evpath));
	cr_assert(wait_for(evpath, "crash_in_named_function", 1, 1000), "%s", slurp(evpath));
	kill(E.pid, SIGTERM);
	pclose(events);
}

/* A grandchild that aborts is reported with its worker's name; the
 * worker lives on. */
Test(bpf, grandchild_abort_names_its_worker)
{
	char conf[3 * PATH_MAX], needle[128];
	json_object *st;
	int pid;

	need_bpf();
	snprintf(conf, sizeof(conf), WORKER("gc", "grandchild-abort", ""), BPFTEST);
	start(conf, NULL);
	pid = ready_pid("gc", 1, NULL);
	ASSERT_LOG(&E, "gc: worker process ", 1, 10000);
	ASSERT_LOG(&E, "(bpftest) killed by SIGABRT", 1, 1000);
	st = status_of("gc");
	cr_assert_str_eq(str(st, "status.last_crash.signal"), "SIGABRT");
	cr_assert(json_object_get_boolean(get(st, "status.last_crash.descendant")));
	cr_assert_neq(json_object_get_int(get(st, "status.last_crash.pid")), pid);
	cr_assert_eq(json_object_get_int(get(st, "status.pid")), pid, "the worker lives on");
	/* abort() is in the C library, built without frame pointers: the
	 * report says the stack is cut short, and why. */
	cr_assert(!json_object_get_boolean(get(st, "status.last_crash.stack_complete")), "%s",
		  json_object_to_json_string(st));
	cr_assert(strstr(str(st, "status.last_crash.stack_note"), "frame pointers"), "%s",
		  json_object_to_json_string(st));
	json_object_put(st);
	snprintf(needle, sizeof(needle), "gc[%d]: killed", pid);
	cr_assert_null(strstr(slurp(E.log), needle));
}

/* Killed by another process: the sender is named. */
Test(bpf, sigkill_names_the_sender)
{
	char conf[3 * PATH_MAX], needle[128];
	json_object *st;
	int pid;

	need_bpf();
	snprintf(conf, sizeof(conf), WORKER("victim", "sleep", "restart = \"temporary\";"), BPFTEST);
	start(conf, NULL);
	pid = ready_pid("victim", 1, NULL);
	kill(pid, SIGKILL);
	snprintf(needle, sizeof(needle), "killed by SIGKILL after");
	ASSERT_LOG(&E, needle, 1, 10000);
	snprintf(needle, sizeof(needle), "from %d (", (int)getpid());
	ASSERT_LOG(&E, needle, 1, 1000);
	st = status_of("victim");
	cr_assert_eq(json_object_get_int(get(st, "status.last_crash.sender.pid")), getpid(), "%s",
		     json_object_to_json_string(st));
	json_object_put(st);
}

/* Over its memory limit: the OOM killer's choice is reported as such. */
Test(bpf, oom_kill_said_so)
{
	char conf[3 * PATH_MAX];
	json_object *st;

	need_bpf();
	snprintf(conf, sizeof(conf),
		 "{ name = \"hog\"; sandbox = \"none\"; restart = \"temporary\"; "
		 "limits = { memory = \"32M\"; }; exec = [ \"%s\", \"alloc\", \"200\" ]; }",
		 E.sdtest);
	start(conf, NULL);
	ASSERT_LOG(&E, "hog: not restarted", 1, 15000);
	if (strstr(slurp(E.log), "limit not enforced"))
		cr_skip_test("no memory controller here: %s", slurp(E.log));
	ASSERT_LOG(&E, "killed by SIGKILL after", 1, 1000);
	ASSERT_LOG(&E, "out of memory (the OOM killer chose it)", 1, 1000);
	st = status_of("hog");
	cr_assert(json_object_get_boolean(get(st, "status.last_crash.oom")), "%s",
		  json_object_to_json_string(st));
	json_object_put(st);
}

/* 10,000 short-lived descendants leave nothing in the process map. */
Test(bpf, no_leak_after_10000_descendants)
{
	char conf[3 * PATH_MAX];
	json_object *st;
	long tracked = -1;

	need_bpf();
	snprintf(conf, sizeof(conf), "{ name = \"forker\"; sandbox = \"none\"; "
				     "exec = [ \"%s\", \"forks\", \"10000\" ]; }",
		 BPFTEST);
	start(conf, NULL);
	ASSERT_LOG(&E, "FORKED 10000", 1, 90000);
	/* Their exits may still be in the ring buffer: a moment. */
	for (long long until = ms_now() + 5000; ms_now() < until; msleep(50)) {
		st = status_of("forker");
		tracked = json_object_get_int64(get(st, "bpf_tracked"));
		json_object_put(st);
		if (tracked <= 1)
			break;
	}
	cr_assert_eq(tracked, 1, "the worker only, not %ld", tracked);
}

/* ---- stalls ---------------------------------------------------------------------------- */

/* A worker stalls of `kind`: reported never before its stall_timeout (1s),
 * soon after on a quiet machine, then restarted (on_stall = restart).
 * extra: spawnd's option (--no-bpf), or NULL. */
static void stall_restarts(const char *cmd, const char *kind, const char *extra)
{
	char conf[3 * PATH_MAX], needle[128];
	json_object *st;
	long long ready_at, stalled_at;
	int pid;

	snprintf(conf, sizeof(conf),
		 "{ name = \"w\"; sandbox = \"none\"; exec = [ \"%s\", \"%s\" ]; "
		 "stall_timeout = \"1s\"; on_stall = \"restart\"; shutdown = \"1s\"; }",
		 BPFTEST, cmd);
	start(conf, extra);
	pid = ready_pid("w", 1, &ready_at);
	snprintf(needle, sizeof(needle), "w[%d]: stalled: ", pid);
	ASSERT_LOG(&E, needle, 1, 15000);
	stalled_at = ms_now();
	cr_assert_lt(stalled_at - ready_at, 1000 + 8000, "not soon after its timeout");
	st = status_of("w");
	cr_assert_str_eq(str(st, "status.last_stall.kind"), kind, "%s", json_object_to_json_string(st));
	cr_assert_geq(json_object_get_int64(get(st, "status.last_stall.for_ms")), 1000,
		      "never before its timeout: %s", json_object_to_json_string(st));
	cr_assert_str_eq(str(st, "status.last_stall.source"), extra ? "proc" : "bpf");
	cr_assert_eq(json_object_get_int(get(st, "status.last_stall.tid")), pid);
	json_object_put(st);
	/* Restarted: a new incarnation gets ready. */
	cr_assert_neq(ready_pid("w", 2, NULL), pid);
	ASSERT_LOG(&E, "w: restarting", 1, 1000);
}

/* The BPF links spawnd holds (each attached program has one). */
static int links_of(pid_t pid)
{
	char dir[64], path[PATH_MAX], target[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += strcmp(target, "anon_inode:bpf_link") == 0;
		}
	}
	closedir(d);
	return n;
}

/* The stall probe's hooks (sys_enter: every system call on the machine)
 * are attached only while a worker has a stall_timeout: a reload that adds
 * one attaches them, and its stalls are then seen; a reload that removes
 * the last one detaches them once its worker is down; and they come back
 * as they went. */
Test(bpf, stall_probe_attached_only_when_needed)
{
	char calm[PATH_MAX + 256], both[3 * PATH_MAX], needle[128];
	int before, after, pid, n;

	need_bpf();
	snprintf(calm, sizeof(calm), WORKER("calm", "read", ""), BPFTEST);
	snprintf(both, sizeof(both),
		 "%s, " WORKER("w", "spin", "stall_timeout = \"1s\"; on_stall = \"report\";"),
		 calm, BPFTEST);
	start(calm, NULL);
	ready_pid("calm", 1, NULL);
	ASSERT_LOG(&E, "bpf: full", 1, 5000);
	before = links_of(E.pid);
	cr_assert_gt(before, 0, "the process-tree probe holds no link");

	for (int round = 1; round <= 2; round++) {
		write_conf(&E, HEADER "children = ( %s );", both);
		(void)ctl("reload");
		pid = ready_pid("w", round, NULL);
		after = links_of(E.pid);
		cr_assert_gt(after, before, "round %d: links: %d before a stall_timeout, %d after",
			     round, before, after);
		snprintf(needle, sizeof(needle), "w[%d]: stalled: computing without system calls for ",
			 pid);
		ASSERT_LOG(&E, needle, 1, 15000);

		write_conf(&E, HEADER "children = ( %s );", calm);
		(void)ctl("reload");
		for (long long until = ms_now() + 10000; (n = links_of(E.pid)) != before &&
							 ms_now() < until;)
			msleep(10);
		cr_assert_eq(n, before, "round %d: %d links once w is gone, %d before it came", round,
			     n, before);
	}
}

Test(bpf, dstate_detected_and_restarted)
{
	need_bpf();
	stall_restarts("vfork", "uninterruptible", NULL);
	ASSERT_LOG(&E, "kernel stack of thread", 1, 1000);
	ASSERT_LOG(&E, "__do_sys_vfork", 1, 1000); /* the kernel stack names where */
}

Test(bpf, spin_detected_aborted_and_restarted)
{
	need_bpf();
	stall_restarts("spin", "spinning", NULL);
	/* SIGABRT first: the crash probe says where it was stuck. */
	ASSERT_LOG(&E, "killed by SIGABRT after", 1, 5000);
	ASSERT_LOG(&E, " in main (bpftest.c:", 1, 1000);
}

/* A worker's child spins: the stall names it; it gets SIGABRT (its crash
 * report says where it was), then the tree SIGKILL, and the worker is
 * restarted. */
Test(bpf, descendant_spin_detected)
{
	char conf[3 * PATH_MAX], needle[128];
	const char *p;
	int pid, child = 0;

	need_bpf();
	snprintf(conf, sizeof(conf),
		 "{ name = \"w\"; sandbox = \"none\"; exec = [ \"%s\", \"child-spin\" ]; "
		 "stall_timeout = \"1s\"; on_stall = \"restart\"; shutdown = \"500ms\"; }",
		 BPFTEST);
	start(conf, NULL);
	pid = ready_pid("w", 1, NULL);
	ASSERT_LOG(&E, "]: SPINNER ", 1, 5000);
	p = strstr(slurp(E.log), "]: SPINNER ");
	cr_assert(p && sscanf(p, "]: SPINNER %d", &child) == 1 && child != pid);
	snprintf(needle, sizeof(needle), "w[%d]: stalled: computing without system calls for ", pid);
	ASSERT_LOG(&E, needle, 1, 15000);
	snprintf(needle, sizeof(needle), ": thread %d (bpftest)", child);
	ASSERT_LOG(&E, needle, 1, 1000);
	snprintf(needle, sizeof(needle), "w: worker process %d (bpftest) killed by SIGABRT", child);
	ASSERT_LOG(&E, needle, 1, 5000);
	ASSERT_LOG(&E, " in main (bpftest.c:", 1, 1000);
	cr_assert_neq(ready_pid("w", 2, NULL), pid, "restarted");
}

/* Busy with system calls, or waiting in read or poll: not stalls, to the
 * probes (extra NULL) or to /proc sampling (--no-bpf). */
static void healthy_not_flagged(const char *extra)
{
	char conf[5 * PATH_MAX];
	json_object *st;

	snprintf(conf, sizeof(conf),
		 WORKER("busy", "busy", "stall_timeout = \"300ms\";") ","
		 WORKER("reader", "read", "stall_timeout = \"300ms\";") ","
		 WORKER("poller", "poll", "stall_timeout = \"300ms\";"),
		 BPFTEST, BPFTEST, BPFTEST);
	start(conf, extra);
	ready_pid("busy", 1, NULL);
	ready_pid("reader", 1, NULL);
	ready_pid("poller", 1, NULL);
	ASSERT_LOG(&E, extra ? "bpf: degraded" : "bpf: full", 1, 1000);
	msleep(3000); /* ten timeouts */
	/* Neither spinning nor in D nor restarted. (A busy thread kept off
	 * the CPUs that long by the machine's load, tests running beside this
	 * one, would be "runnable but not running": the machine's stall,
	 * reported and never restarted.) */
	cr_assert_null(strstr(slurp(E.log), "computing without system calls"), "%s", slurp(E.log));
	cr_assert_null(strstr(slurp(E.log), "uninterruptible"), "%s", slurp(E.log));
	cr_assert_null(strstr(slurp(E.log), "restarting"), "%s", slurp(E.log));
	st = status_of("busy");
	cr_assert(!json_object_get_boolean(get(st, "status.stalled")));
	json_object_put(st);
}

Test(bpf, healthy_workers_not_flagged)
{
	need_bpf();
	healthy_not_flagged(NULL);
}

/* /proc sampling sees the busy worker's system calls in its kernel time,
 * not only in its read and write counts. */
Test(bpf, no_bpf_healthy_workers_not_flagged)
{
	healthy_not_flagged("--no-bpf");
}

/* A notify worker whose WATCHDOG=1 pings stop is stalled (in both modes). */
Test(bpf, watchdog_pings_stop)
{
	char conf[3 * PATH_MAX];
	json_object *st;

	need_bpf();
	snprintf(conf, sizeof(conf),
		 "{ name = \"dog\"; sandbox = \"none\"; ready = \"notify\"; watchdog = \"500ms\"; "
		 "on_stall = \"report\"; exec = [ \"%s\", \"notify\", \"0\", \"100\", \"3\" ]; }",
		 E.sdtest);
	start(conf, NULL);
	ASSERT_LOG(&E, "dog[", 1, 5000);
	ASSERT_LOG(&E, "stalled: no WATCHDOG=1", 1, 10000);
	st = status_of("dog");
	cr_assert_str_eq(str(st, "status.last_stall.kind"), "watchdog");
	cr_assert_geq(json_object_get_int64(get(st, "status.last_stall.for_ms")), 500);
	json_object_put(st);
}

/* ---- degraded ---------------------------------------------------------------------------- */

/* --no-bpf: spawnd says so once at start and in status, and still finds
 * stalls (sampling /proc) and restarts. */
Test(bpf, no_bpf_still_supervises)
{
	json_object *st;

	stall_restarts("vfork", "uninterruptible", "--no-bpf");
	ASSERT_LOG(&E, "bpf: degraded: --no-bpf", 1, 1000);
	cr_assert_eq(count_in(slurp(E.log), "bpf: degraded"), 1, "said once");
	st = status_of("w");
	cr_assert_str_eq(str(st, "bpf"), "degraded: --no-bpf");
	cr_assert_null(get(st, "status.last_crash"));
	json_object_put(st);
	cr_assert(strstr(ctl("status"), "bpf: degraded: --no-bpf"), "%s", ctl("status"));
}

Test(bpf, no_bpf_spin_restarted)
{
	stall_restarts("spin", "spinning", "--no-bpf");
	ASSERT_LOG(&E, "killed by SIGABRT after", 1, 5000);
}

/* ---- libgp ------------------------------------------------------------------------------ */

/* A green process spinning on a libgp scheduler thread: the stall names
 * it, by green pid and name. */
Test(bpf, spinning_green_process_named)
{
	char conf[3 * PATH_MAX], gpspin[PATH_MAX], needle[128];
	const char *p;
	unsigned long long green;
	json_object *st;

	need_bpf();
	abs_path("GPSPIN", "build/tests/progs/gpspin", gpspin);
	snprintf(conf, sizeof(conf),
		 "{ name = \"gp\"; sandbox = \"none\"; exec = [ \"%s\" ]; "
		 "stall_timeout = \"1s\"; on_stall = \"report\"; }",
		 gpspin);
	start(conf, NULL);
	ASSERT_LOG(&E, "]: GREEN ", 1, 10000);
	p = strstr(slurp(E.log), "]: GREEN ");
	cr_assert(p && sscanf(p, "]: GREEN %llu", &green) == 1);
	ASSERT_LOG(&E, "gp[", 1, 1000);
	ASSERT_LOG(&E, "]: stalled: computing without system calls", 1, 15000);
	snprintf(needle, sizeof(needle), "running green process %llu (spinner)", green);
	ASSERT_LOG(&E, needle, 1, 1000);
	st = status_of("gp");
	cr_assert_str_eq(str(st, "status.last_stall.green.name"), "spinner", "%s",
			 json_object_to_json_string(st));
	cr_assert_eq((unsigned long long)json_object_get_int64(get(st, "status.last_stall.green.pid")),
		     green);
	json_object_put(st);
}

/* Not root: spawnd says why it runs degraded, once, and in status, and
 * still finds a stall (sampling /proc) and restarts. */
Test(bpf, not_root_degraded)
{
	char conf[3 * PATH_MAX], needle[128];
	json_object *st;
	pid_t pid;
	int wpid;

	NEED_ROOT("starting spawnd as another user");
	cr_assert_eq(chmod(E.dir, 0777), 0);
	snprintf(conf, sizeof(conf),
		 "{ name = \"w\"; sandbox = \"none\"; exec = [ \"%s\", \"spin\" ]; "
		 "stall_timeout = \"1s\"; on_stall = \"restart\"; shutdown = \"500ms\"; }",
		 BPFTEST);
	write_conf(&E, HEADER "children = ( %s );", conf);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(E.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(126);
		execl(E.spawnd, "spawnd", "-c", E.conf, "-s", E.sock, (char *)NULL);
		_exit(127);
	}
	E.pid = pid;
	wpid = ready_pid("w", 1, NULL);
	ASSERT_LOG(&E, "bpf: degraded: not root", 1, 1000);
	snprintf(needle, sizeof(needle), "w[%d]: stalled: computing without system calls for ", wpid);
	ASSERT_LOG(&E, needle, 1, 15000);
	cr_assert_neq(ready_pid("w", 2, NULL), wpid, "restarted");
	cr_assert_eq(count_in(slurp(E.log), "bpf: degraded"), 1, "said once");
	st = status_of("w");
	cr_assert(!strncmp(str(st, "bpf"), "degraded: not root", 18), "%s",
		  json_object_to_json_string(st));
	cr_assert_null(get(st, "bpf_tracked"));
	cr_assert_str_eq(str(st, "status.last_stall.source"), "proc");
	json_object_put(st);
}
