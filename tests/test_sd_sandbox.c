/* SPDX-License-Identifier: MIT */
/*
 * Sandbox profiles block what they claim, and no more: a child sets
 * no_new_privs, installs the compiled filter and execs sandbox_probe (or a
 * real program), which tries system calls and reports what it got.
 *
 * An unfiltered run of the probe is the baseline: an allowed call must give
 * what the kernel gives without a filter (EFAULT, EINVAL...), a denied one
 * EPERM. Where the kernel itself could say EPERM, the EPERM test alone
 * would prove nothing, so every denial is also checked with action = "kill",
 * where the filter's verdict (SIGSYS) cannot be mistaken for the kernel's.
 *
 * The probe is built separately (see the build command of this test); its
 * path is $SANDBOX_PROBE, by default build/tests/progs/sandbox_probe.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../supervisor/sandbox.h"

#define MAXLINES 192

struct probe_out {
	int status; /* waitpid's */
	char raw[16384];
	size_t n;
	struct {
		char name[48];
		char res[32];
	} line[MAXLINES];
};

static const struct sd_filter no_filter;

/* Calls every profile allows: what a dynamically linked network service
 * does. (clone3 is separate: strict turns it into ENOSYS.) */
static const char *const service_calls[] = {
	"read", "write", "open", "openat", "close", "getpid", "uname", "mkdir", "kill",
	"prctl", "ioctl", "socket", "socketpair", "bind", "listen", "accept4", "connect",
	"sendto", "recvfrom", "execve", "clone", "fork", "thread", "tcp_echo", NULL
};

/* What strict denies beyond the default profile's list. */
static const char *const strict_extra_denied[] = {
	"chmod", "unshare", "clone_newuser", "socket_packet", "ioctl_tiocsti", NULL
};

static const char *probe_path(void)
{
	const char *p = getenv("SANDBOX_PROBE");

	return p && *p ? p : "build/tests/progs/sandbox_probe";
}

/*
 * Run argv under f as spawnd's child would: its own session (so no
 * controlling terminal, which keeps vhangup harmless), no core files,
 * no_new_privs, the filter, execve. Exit codes 120-123 mean the set-up
 * failed before exec.
 */
static void run_filtered(const struct sd_filter *f, const char *const *argv, struct probe_out *ret)
{
	int fds[2], devnull;
	pid_t pid;

	ret->n = 0;
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(devnull, 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };

		if (dup2(fds[1], STDOUT_FILENO) < 0 || dup2(devnull, STDIN_FILENO) < 0)
			_exit(120);
		(void)setsid();
		(void)setrlimit(RLIMIT_CORE, &nocore);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(121);
		if (sd_filter_install(f) < 0)
			_exit(122);
		execv(argv[0], (char *const *)argv);
		_exit(123);
	}
	close(fds[1]);
	close(devnull);
	for (;;) {
		ssize_t k = read(fds[0], ret->raw + ret->n, sizeof(ret->raw) - 1 - ret->n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		ret->n += (size_t)k;
	}
	ret->raw[ret->n] = '\0';
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &ret->status, 0), pid);
	cr_assert(!WIFEXITED(ret->status) || WEXITSTATUS(ret->status) < 120,
		  "%s: set-up before exec failed (exit %d)", argv[0], WEXITSTATUS(ret->status));
}

/* Run the probe with names under f and parse its lines. */
static void run_probe(const struct sd_filter *f, const char *const *names, struct probe_out *ret)
{
	const char *argv[MAXLINES + 2];
	char text[sizeof(ret->raw)];
	size_t n = 0;
	char *save = NULL;

	argv[n++] = probe_path();
	for (size_t i = 0; names[i]; i++) {
		cr_assert_lt(n, MAXLINES + 1);
		argv[n++] = names[i];
	}
	argv[n] = NULL;
	cr_assert_eq(access(argv[0], X_OK), 0, "no probe at %s: build it or set SANDBOX_PROBE",
		     argv[0]);
	memset(ret->line, 0, sizeof(ret->line));
	run_filtered(f, argv, ret);

	memcpy(text, ret->raw, ret->n + 1);
	n = 0;
	for (char *l = strtok_r(text, "\n", &save); l && n < MAXLINES;
	     l = strtok_r(NULL, "\n", &save), n++)
		cr_assert_eq(sscanf(l, "%47s %31s", ret->line[n].name, ret->line[n].res), 2,
			     "bad probe line '%s'", l);
}

/* What the probe reported for name, or "(nothing)". */
static const char *res_of(const struct probe_out *p, const char *name)
{
	for (size_t i = 0; i < MAXLINES && p->line[i].name[0]; i++)
		if (!strcmp(p->line[i].name, name))
			return p->line[i].res;
	return "(nothing)";
}

static void compile(const struct sd_sandbox *sb, struct sd_filter *f)
{
	char err[256];
	int r = sd_sandbox_compile(sb, f, err, sizeof(err));

	cr_assert_eq(r, 0, "compile: %s: %s", strerror(-r), err);
}

static void assert_exited_0(const struct probe_out *p, const char *what)
{
	cr_assert(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0,
		  "%s: status 0x%x (signal %d)", what, p->status,
		  WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0);
}

static void assert_sigsys(const struct probe_out *p, const char *what)
{
	cr_assert(WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGSYS,
		  "%s: expected death by SIGSYS, status 0x%x, output:\n%s", what, p->status,
		  p->raw);
}

/* Each name reports EPERM under f, and the probe carries on. */
static void assert_denied(const struct sd_filter *f, const char *const *names)
{
	struct probe_out *base = malloc(sizeof(*base)), *got = malloc(sizeof(*got));

	cr_assert(base && got);
	run_probe(&no_filter, names, base);
	run_probe(f, names, got);
	assert_exited_0(got, "probe");
	for (size_t i = 0; names[i]; i++) {
		cr_expect_str_eq(res_of(got, names[i]), "EPERM", "%s: %s, expected EPERM", names[i],
				 res_of(got, names[i]));
		if (!strcmp(res_of(base, names[i]), "EPERM"))
			cr_log_warn("%s gives EPERM without a filter too: only the kill test "
				    "proves it is denied", names[i]);
	}
	free(base);
	free(got);
}

/* Each name reports what it reports without a filter. */
static void assert_allowed(const struct sd_filter *f, const char *const *names)
{
	struct probe_out *base = malloc(sizeof(*base)), *got = malloc(sizeof(*got));

	cr_assert(base && got);
	run_probe(&no_filter, names, base);
	run_probe(f, names, got);
	assert_exited_0(base, "unfiltered probe");
	assert_exited_0(got, "probe");
	for (size_t i = 0; names[i]; i++) {
		cr_assert_str_neq(res_of(base, names[i]), "unknown", "probe lacks %s", names[i]);
		cr_expect_str_eq(res_of(got, names[i]), res_of(base, names[i]),
				 "%s: %s under the filter, %s without", names[i],
				 res_of(got, names[i]), res_of(base, names[i]));
	}
	free(base);
	free(got);
}

/* With action = "kill", each name alone kills the probe with SIGSYS (after
 * the getpid before it succeeded: the filter, not the exec, killed it). */
static void assert_killed(const struct sd_filter *f, const char *const *names)
{
	struct probe_out *got = malloc(sizeof(*got));

	cr_assert(got);
	for (size_t i = 0; names[i]; i++) {
		const char *one[] = { "getpid", names[i], NULL };

		run_probe(f, one, got);
		cr_expect_str_eq(res_of(got, "getpid"), "ok", "%s: probe did not start", names[i]);
		cr_expect(WIFSIGNALED(got->status) && WTERMSIG(got->status) == SIGSYS,
			  "%s: not killed by SIGSYS (status 0x%x, got %s)", names[i], got->status,
			  res_of(got, names[i]));
	}
	free(got);
}

static void expect_res(const struct probe_out *p, const char *name, const char *want)
{
	cr_expect_str_eq(res_of(p, name), want, "%s: %s, expected %s", name, res_of(p, name), want);
}

/* A file with known contents, for the tests that read one: made in
 * tmp_path, removed by rm_tmp (their .fini, which runs even when an
 * assertion fails). */
static char tmp_path[64];

static void make_file(const char *text)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/sd_sandbox.XXXXXX");
	fd = mkstemp(tmp_path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void rm_tmp(void)
{
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = '\0';
}

/* Equal sandboxes share one compiled program, however their lists were
 * built; a different one gets its own; the program outlives all but its
 * last user. (ASan checks the last part.) */
Test(sandbox, equal_sandboxes_share_a_program, .timeout = 10)
{
	char deny_a[] = "mount", deny_b[] = "mount";
	struct sd_sandbox a = { .base = SD_SANDBOX_DEFAULT, .deny = (char *[]){ deny_a, NULL } };
	struct sd_sandbox b = { .base = SD_SANDBOX_DEFAULT, .deny = (char *[]){ deny_b, NULL },
				.custom = true };
	struct sd_sandbox c = { .base = SD_SANDBOX_DEFAULT, .deny = (char *[]){ deny_a, NULL },
				.kill = true };
	struct sd_filter fa, fb, fc, again;
	struct probe_out p;

	compile(&a, &fa);
	compile(&b, &fb);
	compile(&c, &fc);
	cr_assert_gt(fa.prog.len, 0);
	cr_assert_eq(fa.prog.filter, fb.prog.filter, "equal sandboxes compiled twice");
	cr_assert_neq(fa.prog.filter, fc.prog.filter, "kill and EPERM share a program");
	sd_filter_free(&fa);
	cr_assert_null(fa.prog.filter);
	/* fb still holds it: it still works. */
	run_probe(&fb, (const char *[]){ "mount", NULL }, &p);
	cr_assert_str_eq(res_of(&p, "mount"), "EPERM");
	sd_filter_free(&fb);
	sd_filter_free(&fc);
	/* All gone: the next one is compiled anew, and works. */
	compile(&a, &again);
	cr_assert_gt(again.prog.len, 0);
	sd_filter_free(&again);
}

/* none compiles to no program at all: install is a no-op, io_uring is
 * allowed, and free accepts it (twice). */
Test(sandbox, none_has_no_filter, .timeout = 10)
{
	struct sd_sandbox sb = { .base = SD_SANDBOX_NONE, .allow = (char *[]){ "mount", NULL } };
	struct sd_filter f;

	compile(&sb, &f);
	cr_assert_eq(f.prog.len, 0);
	cr_assert_null(f.prog.filter);
	cr_assert(f.allows_io_uring);
	cr_assert_eq(sd_filter_install(&f), 0);
	sd_filter_free(&f);
	sd_filter_free(&f);
	sd_filter_free(NULL);
}

/*
 * The default list is exactly this one (a change to what every service may
 * do must show up here), strict allows what a service needs and nothing of
 * the default list, and every built-in name is a system call of x86-64: a
 * typo would be skipped silently and open a hole, so each list is fed back
 * as a user list, where unknown names are errors.
 */
Test(sandbox, builtin_lists_are_sound, .timeout = 10)
{
	static const char *const want_denied[] = {
		"init_module", "finit_module", "delete_module", "create_module",
		"get_kernel_syms", "query_module", "kexec_load", "kexec_file_load", "reboot",
		"mount", "umount2", "pivot_root", "move_mount", "open_tree", "open_tree_attr",
		"fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "swapon", "swapoff",
		"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "bpf",
		"perf_event_open", "userfaultfd", "lookup_dcookie", "keyctl", "add_key",
		"request_key", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
		"acct", "syslog", "quotactl", "quotactl_fd", "nfsservctl", "open_by_handle_at",
		"name_to_handle_at", "iopl", "ioperm", "modify_ldt", "uselib", "vhangup", "setns",
		"io_uring_setup", "io_uring_enter", "io_uring_register", NULL
	};
	static const char *const must_allow[] = {
		"execve", "read", "write", "openat", "mmap", "mprotect", "brk", "arch_prctl",
		"rseq", "futex", "clone", "exit_group", "socket", "accept4", "epoll_wait", NULL
	};
	const char *const *dd = sd_sandbox_default_denied();
	const char *const *sa = sd_sandbox_strict_allowed();
	struct sd_sandbox sb = { .base = SD_SANDBOX_DEFAULT };
	struct sd_filter f;
	size_t n, m;

	for (n = 0; dd[n]; n++) {
		for (m = 0; want_denied[m] && strcmp(want_denied[m], dd[n]); m++)
			;
		cr_expect_not_null(want_denied[m], "default denies %s, unexpectedly", dd[n]);
	}
	for (m = 0; want_denied[m]; m++)
		;
	cr_expect_eq(n, m, "default denies %zu calls, not %zu", n, m);
	for (size_t i = 0; must_allow[i]; i++) {
		for (n = 0; sa[n] && strcmp(sa[n], must_allow[i]); n++)
			;
		cr_expect_not_null(sa[n], "strict does not allow %s", must_allow[i]);
	}
	for (n = 0; sa[n]; n++)
		for (m = 0; want_denied[m]; m++)
			cr_expect_str_neq(sa[n], want_denied[m], "strict allows %s", sa[n]);
#ifdef __x86_64__
	sb.allow = (char **)dd;
	compile(&sb, &f);
	sd_filter_free(&f);
	sb = (struct sd_sandbox){ .base = SD_SANDBOX_STRICT, .deny = (char **)sa };
	compile(&sb, &f);
	sd_filter_free(&f);
#endif
}

/* default: every call in its list fails with EPERM, and the process goes on. */
Test(sandbox, default_denies_its_list, .timeout = 10)
{
	struct sd_sandbox sb = { .base = SD_SANDBOX_DEFAULT };
	struct sd_filter f;

	compile(&sb, &f);
	cr_assert_gt(f.prog.len, 0);
	assert_denied(&f, sd_sandbox_default_denied());
	sd_filter_free(&f);
}

/* default: what services do, and namespaces (left open on purpose), work
 * exactly as without a filter. */
Test(sandbox, default_allows_the_rest, .timeout = 10)
{
	struct sd_sandbox sb = { .base = SD_SANDBOX_DEFAULT };
	const char *more[] = { "clone3", "unshare", "clone_newuser", "chmod", "socket_packet",
			       "ioctl_tiocsti", "nr500", NULL };
	struct sd_filter f;

	compile(&sb, &f);
	assert_allowed(&f, service_calls);
	assert_allowed(&f, more);
	sd_filter_free(&f);
}

/* default with action = "kill": every call in its list kills the process
 * with SIGSYS, which no kernel error can imitate. */
Test(sandbox, default_kill_kills_each_denied_call, .timeout = 10)
{
	struct sd_sandbox sb = { .base = SD_SANDBOX_DEFAULT, .kill = true };
	struct sd_filter f;

	compile(&sb, &f);
	assert_killed(&f, sd_sandbox_default_denied());
	assert_allowed(&f, service_calls);
	sd_filter_free(&f);
}

/* strict: the default list and more are denied with EPERM; clone3 and
 * calls newer than libseccomp's table fail with ENOSYS (so that libc falls
 * back); what services do works as without a filter. */
Test(sandbox, strict_denies_the_rest, .timeout = 10)
{
	struct sd_sandbox sb = { .base = SD_SANDBOX_STRICT };
	const char *enosys[] = { "clone3", "nr500", "thread", NULL };
	struct probe_out *p = malloc(sizeof(*p));
	struct sd_filter f;

	cr_assert(p);
	compile(&sb, &f);
	assert_denied(&f, sd_sandbox_default_denied());
	assert_denied(&f, strict_extra_denied);
	assert_allowed(&f, service_calls);
	run_probe(&f, enosys, p);
	expect_res(p, "clone3", "ENOSYS");
	expect_res(p, "nr500", "ENOSYS");
	expect_res(p, "thread", "ok");
	free(p);
	sd_filter_free(&f);
}

/* strict with action = "kill": denied calls, argument-restricted ones
 * included, kill with SIGSYS; clone3 still fails softly so threads work. */
Test(sandbox, strict_kill_kills_denied_calls, .timeout = 10)
{
	struct sd_sandbox sb = { .base = SD_SANDBOX_STRICT, .kill = true };
	const char *names[] = { "mount", "ptrace", "bpf", "io_uring_setup", "setns", NULL };
	const char *soft[] = { "clone3", "thread", "fork", NULL };
	struct probe_out *p = malloc(sizeof(*p));
	struct sd_filter f;

	cr_assert(p);
	compile(&sb, &f);
	assert_killed(&f, names);
	assert_killed(&f, strict_extra_denied);
	run_probe(&f, soft, p);
	assert_exited_0(p, "probe");
	expect_res(p, "clone3", "ENOSYS");
	expect_res(p, "thread", "ok");
	expect_res(p, "fork", "ok");
	free(p);
	sd_filter_free(&f);
}

/* strict, even with action = "kill" (so that no call along the way may be
 * denied), runs real dynamically linked programs: /bin/true, /bin/cat on a
 * file, /bin/sleep, and a TCP loopback echo, threads and fork. */
Test(sandbox, strict_runs_real_programs, .timeout = 10, .fini = rm_tmp)
{
	static const char text[] = "strict sandbox\ncat can read this\n";
	const char *net[] = { "tcp_echo", "thread", "fork", NULL };
	struct probe_out *p = malloc(sizeof(*p));
	const char *path = tmp_path;

	cr_assert(p);
	make_file(text);
	for (int kill = 0; kill <= 1; kill++) {
		struct sd_sandbox sb = { .base = SD_SANDBOX_STRICT, .kill = kill };
		const char *t[] = { "/bin/true", NULL };
		const char *c[] = { "/bin/cat", path, NULL };
		const char *s[] = { "/bin/sleep", "0.01", NULL };
		struct sd_filter f;

		compile(&sb, &f);
		run_filtered(&f, t, p);
		assert_exited_0(p, "/bin/true");
		run_filtered(&f, c, p);
		assert_exited_0(p, "/bin/cat");
		cr_expect_str_eq(p->raw, text);
		run_filtered(&f, s, p);
		assert_exited_0(p, "/bin/sleep");
		run_probe(&f, net, p);
		assert_exited_0(p, "probe");
		expect_res(p, "tcp_echo", "ok");
		expect_res(p, "thread", "ok");
		expect_res(p, "fork", "ok");
		sd_filter_free(&f);
	}
	free(p);
}

/* io_uring: blocked by default and strict, allowed with io_uring = true in
 * each base, and allows_io_uring says which. */
Test(sandbox, io_uring_follows_the_flag, .timeout = 10)
{
	static const struct {
		enum sd_sandbox_base base;
		bool io_uring;
	} cases[] = {
		{ SD_SANDBOX_DEFAULT, false },
		{ SD_SANDBOX_DEFAULT, true },
		{ SD_SANDBOX_STRICT, false },
		{ SD_SANDBOX_STRICT, true },
		{ SD_SANDBOX_NONE, false },
		{ SD_SANDBOX_NONE, true },
	};
	const char *names[] = { "io_uring", "io_uring_setup", "io_uring_enter", NULL };
	struct probe_out *p = malloc(sizeof(*p));

	cr_assert(p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sd_sandbox sb = { .base = cases[i].base, .io_uring = cases[i].io_uring };
		bool opened = cases[i].io_uring || cases[i].base == SD_SANDBOX_NONE;
		struct sd_filter f;

		compile(&sb, &f);
		cr_expect_eq(f.allows_io_uring, opened, "base %d io_uring %d: allows_io_uring %d",
			     cases[i].base, cases[i].io_uring, f.allows_io_uring);
		run_probe(&f, names, p);
		assert_exited_0(p, "probe");
		expect_res(p, "io_uring", opened ? "ok" : "EPERM");
		expect_res(p, "io_uring_setup", opened ? "EFAULT" : "EPERM");
		expect_res(p, "io_uring_enter", opened ? "EBADF" : "EPERM");
		sd_filter_free(&f);
	}
	free(p);
}

/* A custom profile on default: allow takes a call off the deny list, deny
 * adds one; the rest of the list still holds; allowing io_uring_setup by
 * name sets allows_io_uring. */
Test(sandbox, custom_default, .timeout = 10)
{
	struct sd_sandbox sb = {
		.base = SD_SANDBOX_DEFAULT,
		.custom = true,
		.allow = (char *[]){ "ptrace", "io_uring_setup", NULL },
		.deny = (char *[]){ "uname", "chmod", NULL },
	};
	const char *allowed[] = { "ptrace", "io_uring_setup", "getpid", "openat", NULL };
	const char *denied[] = { "uname", "chmod", "mount", "bpf", "io_uring_enter", NULL };
	struct sd_filter f;

	compile(&sb, &f);
	cr_expect(f.allows_io_uring);
	assert_allowed(&f, allowed);
	assert_denied(&f, denied);
	sd_filter_free(&f);
}

/* A custom profile on strict: allow adds calls (whole: "socket" lifts the
 * family restriction, "clone3" the ENOSYS), deny removes them. */
Test(sandbox, custom_strict, .timeout = 10)
{
	struct sd_sandbox sb = {
		.base = SD_SANDBOX_STRICT,
		.custom = true,
		.allow = (char *[]){ "chmod", "unshare", "socket", "clone3", NULL },
		.deny = (char *[]){ "mkdir", "connect", NULL },
	};
	const char *allowed[] = { "chmod", "unshare", "socket", "socket_packet", "clone3", "read",
				  "openat", NULL };
	const char *denied[] = { "mkdir", "connect", "mount", "clone_newuser", NULL };
	struct sd_filter f;

	compile(&sb, &f);
	cr_expect(!f.allows_io_uring);
	assert_allowed(&f, allowed);
	assert_denied(&f, denied);
	sd_filter_free(&f);
}

/* A custom profile on none: allow alone changes nothing (no filter), deny
 * makes a filter that denies only that, and io_uring stays allowed unless
 * denied. */
Test(sandbox, custom_none, .timeout = 10)
{
	struct sd_sandbox sb = {
		.base = SD_SANDBOX_NONE,
		.custom = true,
		.allow = (char *[]){ "mount", NULL },
		.deny = (char *[]){ "uname", NULL },
	};
	const char *allowed[] = { "mount", "ptrace", "bpf", "io_uring", "getpid", NULL };
	const char *denied[] = { "uname", NULL };
	struct sd_filter f;

	compile(&sb, &f);
	cr_assert_gt(f.prog.len, 0);
	cr_expect(f.allows_io_uring);
	assert_allowed(&f, allowed);
	assert_denied(&f, denied);
	sd_filter_free(&f);

	sb.deny = (char *[]){ "io_uring_setup", NULL };
	compile(&sb, &f);
	cr_expect(!f.allows_io_uring);
	sd_filter_free(&f);
}

/* Names a user wrote must be system calls of this architecture, and not
 * contradict each other: -EINVAL, the message names the list and the call,
 * and *ret is untouched. */
Test(sandbox, bad_names_are_errors, .timeout = 10)
{
	const struct {
		struct sd_sandbox sb;
		const char *msg;
	} cases[] = {
		{ { .base = SD_SANDBOX_DEFAULT, .deny = (char *[]){ "read", "opne", NULL } },
		  "deny: unknown system call 'opne'" },
		{ { .base = SD_SANDBOX_STRICT, .allow = (char *[]){ "bogus_call", NULL } },
		  "allow: unknown system call 'bogus_call'" },
		{ { .base = SD_SANDBOX_NONE, .allow = (char *[]){ "", NULL } },
		  "allow: unknown system call ''" },
		{ { .base = SD_SANDBOX_NONE, .deny = (char *[]){ "Mount", NULL } },
		  "deny: unknown system call 'Mount'" },
#ifdef __x86_64__
		/* i386's umount: x86-64 has only umount2 */
		{ { .base = SD_SANDBOX_DEFAULT, .deny = (char *[]){ "umount", NULL } },
		  "deny: system call 'umount' does not exist on this architecture" },
#endif
		{ { .base = SD_SANDBOX_DEFAULT,
		    .allow = (char *[]){ "mount", NULL },
		    .deny = (char *[]){ "mount", NULL } },
		  "deny: 'mount' is also in allow" },
		{ { .base = SD_SANDBOX_STRICT,
		    .io_uring = true,
		    .deny = (char *[]){ "io_uring_enter", NULL } },
		  "deny: 'io_uring_enter' contradicts io_uring = true" },
		{ { .base = (enum sd_sandbox_base)42 }, "sandbox: unknown base profile 42" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sd_filter f = { .prog = { .len = 77 } };
		char err[128] = "stale";
		int r = sd_sandbox_compile(&cases[i].sb, &f, err, sizeof(err));

		cr_expect_eq(r, -EINVAL, "case %zu: %d", i, r);
		cr_expect_str_eq(err, cases[i].msg);
		cr_expect_eq(f.prog.len, 77, "case %zu wrote *ret", i);
	}
}

/* A foreign ABI cannot walk around the filter: getpid through int $0x80
 * (i386) or with the x32 bit kills the process under every filter, whatever
 * the action, while it works (or is ENOSYS) without one. */
Test(sandbox, foreign_abi_is_killed, .timeout = 10)
{
#ifdef __x86_64__
	struct sd_sandbox sbs[] = {
		{ .base = SD_SANDBOX_DEFAULT },
		{ .base = SD_SANDBOX_STRICT },
		{ .base = SD_SANDBOX_STRICT, .kill = true },
		{ .base = SD_SANDBOX_NONE, .deny = (char *[]){ "uname", NULL } },
	};
	const char *i386[] = { "getpid", "int80", NULL };
	const char *x32[] = { "getpid", "x32", NULL };
	struct probe_out *p = malloc(sizeof(*p));

	cr_assert(p);
	run_probe(&no_filter, i386, p);
	if (strcmp(res_of(p, "int80"), "ok"))
		cr_log_warn("no i386 emulation here (%s): int80 only checks the kill",
			    res_of(p, "int80"));
	for (size_t i = 0; i < sizeof(sbs) / sizeof(sbs[0]); i++) {
		struct sd_filter f;

		compile(&sbs[i], &f);
		run_probe(&f, i386, p);
		expect_res(p, "getpid", "ok");
		assert_sigsys(p, "int80");
		run_probe(&f, x32, p);
		expect_res(p, "getpid", "ok");
		assert_sigsys(p, "x32");
		sd_filter_free(&f);
	}
	free(p);
#else
	cr_skip_test("x86-64 only");
#endif
}

/*
 * Why allows_io_uring matters: with io_uring allowed and open/openat
 * denied, open(2) fails with EPERM but the ring's OPENAT opens the file and
 * its READ reads it, because seccomp never sees io_uring operations. With
 * io_uring denied, the ring cannot even be made.
 */
Test(sandbox, io_uring_bypasses_the_filter, .timeout = 10, .fini = rm_tmp)
{
	static const char text[] = "bypass";
	const char *path = tmp_path;

	make_file(text);
	for (int io = 1; io >= 0; io--) {
		struct sd_sandbox sb = {
			.base = SD_SANDBOX_DEFAULT,
			.custom = true,
			.io_uring = io,
			.deny = (char *[]){ "open", "openat", "openat2", NULL },
		};
		/* open(2)'s result, ring set-up, ring OPENAT's result, READ's */
		struct {
			int open, setup, ring_open, ring_read;
			char buf[16];
		} res;
		struct sd_filter f;
		int fds[2], st;
		pid_t pid;

		compile(&sb, &f);
		cr_expect_eq(f.allows_io_uring, (bool)io);
		cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			struct io_uring ring;
			struct io_uring_sqe *sqe;
			struct io_uring_cqe *cqe;
			int fd;

			memset(&res, 0, sizeof(res));
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sd_filter_install(&f) < 0)
				_exit(120);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			res.open = fd < 0 ? -errno : fd;
			res.setup = io_uring_queue_init(4, &ring, 0);
			if (res.setup == 0) {
				sqe = io_uring_get_sqe(&ring);
				io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
				io_uring_submit(&ring);
				io_uring_wait_cqe(&ring, &cqe);
				res.ring_open = cqe->res;
				io_uring_cqe_seen(&ring, cqe);
				if (res.ring_open >= 0) {
					sqe = io_uring_get_sqe(&ring);
					io_uring_prep_read(sqe, res.ring_open, res.buf,
							   sizeof(res.buf) - 1, 0);
					io_uring_submit(&ring);
					io_uring_wait_cqe(&ring, &cqe);
					res.ring_read = cqe->res;
					io_uring_cqe_seen(&ring, cqe);
				}
			}
			/* _exit: no atexit handlers, no leak check (its ptrace is denied) */
			_exit(write(fds[1], &res, sizeof(res)) == sizeof(res) ? 0 : 121);
		}
		close(fds[1]);
		cr_assert_eq(read(fds[0], &res, sizeof(res)), (ssize_t)sizeof(res));
		close(fds[0]);
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
		cr_expect_eq(res.open, -EPERM, "open(2): %d", res.open);
		if (io) {
			cr_expect_eq(res.setup, 0, "io_uring_queue_init: %d", res.setup);
			cr_expect_geq(res.ring_open, 0, "ring OPENAT: %d", res.ring_open);
			cr_expect_eq(res.ring_read, (int)strlen(text), "ring READ: %d",
				     res.ring_read);
			cr_expect_str_eq(res.buf, text);
		} else {
			cr_expect_eq(res.setup, -EPERM, "io_uring_queue_init: %d", res.setup);
		}
		sd_filter_free(&f);
	}
}

/* install returns -errno: a program the kernel rejects gives -EINVAL (in a
 * child, so that nothing could stick to the test process). */
Test(sandbox, install_reports_errors, .timeout = 10)
{
	/* a load beyond struct seccomp_data */
	struct sock_filter bad[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4096),
				     BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sd_filter f = { .prog = { .len = 2, .filter = bad } };
	int st;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(120);
		_exit(sd_filter_install(&f) == -EINVAL ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}
