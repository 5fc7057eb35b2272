/* SPDX-License-Identifier: MIT */
/*
 * Launching a worker (see launch.h), the way posix_spawn does it:
 * clone(CLONE_VM | CLONE_VFORK). A fork would copy spawnd's page tables,
 * which grow with every worker, only for execve to throw them away: a
 * thousand workers started one after another took 2.7 s, 0.75 s this way
 * (without the probes; bench/supervise has the figures with them). The child borrows spawnd's memory until execve, and
 * spawnd's thread sleeps until then. So:
 *
 *  - the child runs on a stack of its own (child_stack), writes nothing of
 *    spawnd's but the report in struct sd_launched, and calls only
 *    async-signal-safe functions;
 *  - spawnd installs no signal handlers (one would run in the child, on
 *    spawnd's memory): its signals come from a signalfd, and the child
 *    starts with them unblocked and at their defaults;
 *  - errno is spawnd's thread's: the child's failed system calls change it,
 *    so the parent reads errno right after clone fails, never after it
 *    succeeds;
 *  - glibc's clone() has no CLONE_INTO_CGROUP: the child writes itself into
 *    its cgroup v2 before execve, so it is there before it can fork.
 *
 * The price: spawnd waits while the child prepares and execs (a fraction of
 * a millisecond; a binary on a hung network file system would hold spawnd
 * until systemd's watchdog restarts it, as it would hold posix_spawn).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch.h"

/* The child's stack: deep enough for glibc's wrappers and the sanitizers'
 * interceptors; only the pages it touches become resident. Below it, a
 * guard page. One is enough: spawnd sleeps while a child uses it. */
#define CHILD_STACK (256 * 1024)

/* The child's code runs on a stack ASan does not know of, and never
 * returns: its instrumentation would only cry wolf there. */
#define CHILD_CODE __attribute__((no_sanitize_address))

static const char *const stage_names[] = {
	[SD_STAGE_DEATHSIG] = "prctl(PR_SET_PDEATHSIG)",
	[SD_STAGE_SETSID] = "setsid",
	[SD_STAGE_SIGNALS] = "sigprocmask",
	[SD_STAGE_CGROUP] = "joining its cgroups",
	[SD_STAGE_FDS] = "setting up file descriptors",
	[SD_STAGE_RLIMIT] = "setrlimit",
	[SD_STAGE_CHDIR] = "chdir",
	[SD_STAGE_SETGROUPS] = "setgroups",
	[SD_STAGE_SETGID] = "setgid",
	[SD_STAGE_SETUID] = "setuid",
	[SD_STAGE_NO_NEW_PRIVS] = "prctl(PR_SET_NO_NEW_PRIVS)",
	[SD_STAGE_SECCOMP] = "installing its seccomp filter",
	[SD_STAGE_EXECVE] = "execve",
};

const char *sd_stage_name(int stage)
{
	if (stage < 0 || (size_t)stage >= sizeof(stage_names) / sizeof(stage_names[0]))
		return "starting";
	return stage_names[stage];
}

/* In the child: report the error of the step it is at (out->exec.stage,
 * in spawnd's memory, read once the child has gone), then die. */
CHILD_CODE static _Noreturn void child_fail(struct sd_launched *out, int err)
{
	out->exec.err = err;
	_exit(127);
}

/* Give fd `src` the number `dst`, without close-on-exec. */
CHILD_CODE static int move_fd(int src, int dst)
{
	if (src == dst)
		return fcntl(dst, F_SETFD, 0);
	return dup2(src, dst) < 0 ? -1 : 0;
}

/* Mark every fd from `from` on close-on-exec, but `keep`. */
CHILD_CODE static int cloexec_from(int from, int keep)
{
	if (keep >= from) {
		if (keep > from &&
		    syscall(SYS_close_range, from, keep - 1, CLOSE_RANGE_CLOEXEC) < 0)
			return -1;
		from = keep + 1;
	}
	return (int)syscall(SYS_close_range, from, ~0u, CLOSE_RANGE_CLOEXEC);
}

struct child_args {
	const struct sd_launch *l;
	struct sd_launched *out;
	pid_t parent;
};

/* Everything between clone and execve: async-signal-safe calls only. The
 * stage is recorded before each step, so that a child killed half-way (the
 * OOM killer, say) is still "could not start", at the step it was in. */
CHILD_CODE static int child(void *arg)
{
	const struct child_args *a = arg;
	const struct sd_launch *l = a->l;
	struct sd_launched *out = a->out;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int fd_left = l->ready_src >= 0 ? l->ready_fd : -1;
	sigset_t none;

	out->exec.stage = SD_STAGE_DEATHSIG;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(out, errno);
	if (getppid() != a->parent) /* spawnd died before the prctl */
		_exit(127);
	out->exec.stage = SD_STAGE_SETSID;
	if (setsid() < 0)
		child_fail(out, errno);
	/* spawnd blocks the signals it reads from a signalfd, and ignores
	 * SIGPIPE: the child starts with neither. */
	out->exec.stage = SD_STAGE_SIGNALS;
	sigemptyset(&none);
	if (sigaction(SIGPIPE, &dfl, NULL) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(out, errno);
	out->exec.stage = SD_STAGE_CGROUP;
	if (l->v2_procs >= 0)
		out->in_cgroup2 = write(l->v2_procs, "0", 1) == 1; /* else: outside, as before */
	for (int i = 0; i < l->nv1; i++)
		if (write(l->v1_procs[i], "0", 1) != 1)
			child_fail(out, errno);

	/* File descriptors: 0-2 and the ready fd; everything else closes at
	 * execve. */
	out->exec.stage = SD_STAGE_FDS;
	for (int i = 0; i < 3; i++)
		if (move_fd(l->stdio[i], i) < 0)
			child_fail(out, errno);
	if (l->ready_src >= 0 && move_fd(l->ready_src, l->ready_fd) < 0)
		child_fail(out, errno);
	if (cloexec_from(3, fd_left) < 0)
		child_fail(out, errno);

	out->exec.stage = SD_STAGE_RLIMIT;
	for (int i = 0; i < l->nrlim; i++)
		if (setrlimit(l->rlim[i].resource, &l->rlim[i].value) < 0)
			child_fail(out, errno);
	out->exec.stage = SD_STAGE_CHDIR;
	if (l->cwd && chdir(l->cwd) < 0)
		child_fail(out, errno);
	if (l->set_ids) {
		/* Raw system calls: glibc's wrappers would broadcast to
		 * spawnd's threads (we share its memory, not its threads). */
		out->exec.stage = SD_STAGE_SETGROUPS;
		if (syscall(SYS_setgroups, (size_t)l->ngroups, l->groups) < 0)
			child_fail(out, errno);
		out->exec.stage = SD_STAGE_SETGID;
		if (syscall(SYS_setresgid, l->gid, l->gid, l->gid) < 0)
			child_fail(out, errno);
		out->exec.stage = SD_STAGE_SETUID;
		if (syscall(SYS_setresuid, l->uid, l->uid, l->uid) < 0)
			child_fail(out, errno);
	}
	out->exec.stage = SD_STAGE_NO_NEW_PRIVS;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(out, errno);
	out->exec.stage = SD_STAGE_SECCOMP;
	if (l->filter) {
		int r = sd_filter_install(l->filter);

		if (r < 0)
			child_fail(out, -r);
	}
	out->exec.stage = SD_STAGE_EXECVE;
	execve(l->path, l->argv, l->envp);
	child_fail(out, errno);
}

/* The child's stack, mapped once: its top, or NULL. */
static char *child_stack(void)
{
	static char *top;
	char *base;

	if (top)
		return top;
	base = mmap(NULL, CHILD_STACK + 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base, 4096, PROT_NONE) < 0) {
		munmap(base, CHILD_STACK + 4096);
		return NULL;
	}
	top = base + 4096 + CHILD_STACK;
	return top;
}

int sd_launch(const struct sd_launch *l, struct sd_launched *ret)
{
	struct child_args a = { .l = l, .out = ret, .parent = getpid() };
	char *stack = child_stack();
	int pidfd = -1;
	pid_t pid;

	if (!stack)
		return -ENOMEM;
	*ret = (struct sd_launched){ .pidfd = -1, .exec = { .stage = -1 } };
	/* Returns once the child has execve'd or died. */
	pid = clone(child, stack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
	if (pid < 0)
		return -errno;
	ret->pid = pid;
	ret->pidfd = pidfd;
	if (ret->exec.stage == SD_STAGE_EXECVE && ret->exec.err == 0)
		ret->exec.stage = -1; /* it runs its program */
	return 0;
}
