/* SPDX-License-Identifier: MIT */
/* Launching a worker (see launch.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch.h"

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

/* In the child: report, then die. write(2) and _exit(2) only. */
static _Noreturn void child_fail(int errfd, int stage, int err)
{
	struct sd_exec_error e = { .stage = stage, .err = err };

	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

/* Give fd `src` the number `dst`, without close-on-exec. */
static int move_fd(int src, int dst)
{
	if (src == dst)
		return fcntl(dst, F_SETFD, 0);
	return dup2(src, dst) < 0 ? -1 : 0;
}

/* Mark every fd from `from` on close-on-exec, but `keep`. */
static int cloexec_from(int from, int keep)
{
	if (keep >= from) {
		if (keep > from &&
		    syscall(SYS_close_range, from, keep - 1, CLOSE_RANGE_CLOEXEC) < 0)
			return -1;
		from = keep + 1;
	}
	return (int)syscall(SYS_close_range, from, ~0u, CLOSE_RANGE_CLOEXEC);
}

/* Everything between clone3 and execve: async-signal-safe calls only. */
static _Noreturn void child(const struct sd_launch *l, pid_t parent, int errfd)
{
	sigset_t none;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(errfd, SD_STAGE_DEATHSIG, errno);
	if (getppid() != parent) /* spawnd died before the prctl */
		_exit(127);
	if (setsid() < 0)
		child_fail(errfd, SD_STAGE_SETSID, errno);
	/* spawnd blocks the signals it reads from a signalfd, and ignores
	 * SIGPIPE: the child starts with neither. */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0 || signal(SIGPIPE, SIG_DFL) == SIG_ERR)
		child_fail(errfd, SD_STAGE_SIGNALS, errno);
	for (int i = 0; i < l->nv1; i++)
		if (write(l->v1_procs[i], "0", 1) != 1)
			child_fail(errfd, SD_STAGE_CGROUP, errno);

	/* File descriptors: the error pipe must not land where the ready fd
	 * goes; then 0-2 and the ready fd; everything else closes at execve. */
	if (l->ready_src >= 0 && errfd == l->ready_fd) {
		errfd = fcntl(errfd, F_DUPFD_CLOEXEC, l->ready_fd + 1);
		if (errfd < 0)
			_exit(127);
	}
	for (int i = 0; i < 3; i++)
		if (move_fd(l->stdio[i], i) < 0)
			child_fail(errfd, SD_STAGE_FDS, errno);
	if (l->ready_src >= 0 && move_fd(l->ready_src, l->ready_fd) < 0)
		child_fail(errfd, SD_STAGE_FDS, errno);
	if (cloexec_from(3, l->ready_src >= 0 ? l->ready_fd : -1) < 0)
		child_fail(errfd, SD_STAGE_FDS, errno);

	for (int i = 0; i < l->nrlim; i++)
		if (setrlimit(l->rlim[i].resource, &l->rlim[i].value) < 0)
			child_fail(errfd, SD_STAGE_RLIMIT, errno);
	if (l->cwd && chdir(l->cwd) < 0)
		child_fail(errfd, SD_STAGE_CHDIR, errno);
	if (l->set_ids) {
		/* Raw system calls: the child is single-threaded, and glibc's
		 * wrappers would broadcast to threads that do not exist. */
		if (syscall(SYS_setgroups, (size_t)l->ngroups, l->groups) < 0)
			child_fail(errfd, SD_STAGE_SETGROUPS, errno);
		if (syscall(SYS_setresgid, l->gid, l->gid, l->gid) < 0)
			child_fail(errfd, SD_STAGE_SETGID, errno);
		if (syscall(SYS_setresuid, l->uid, l->uid, l->uid) < 0)
			child_fail(errfd, SD_STAGE_SETUID, errno);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(errfd, SD_STAGE_NO_NEW_PRIVS, errno);
	if (l->filter) {
		int r = sd_filter_install(l->filter);

		if (r < 0)
			child_fail(errfd, SD_STAGE_SECCOMP, -r);
	}
	execve(l->path, l->argv, l->envp);
	child_fail(errfd, SD_STAGE_EXECVE, errno);
}

static pid_t clone3_pidfd(int cgroup2_fd, int *ret_pidfd)
{
	struct clone_args args = {
		.flags = CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};

	if (cgroup2_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup2_fd;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

int sd_launch(const struct sd_launch *l, struct sd_launched *ret)
{
	pid_t parent = getpid(), pid;
	int errpipe[2], pidfd = -1;
	bool in_cg = l->cgroup2_fd >= 0;

	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return -errno;
	pid = clone3_pidfd(l->cgroup2_fd, &pidfd);
	if (pid < 0 && in_cg && errno != ENOMEM && errno != EAGAIN) {
		/* The cgroup refused us (a v2 tree with domain controllers,
		 * say): start outside it rather than not at all. */
		in_cg = false;
		pid = clone3_pidfd(-1, &pidfd);
	}
	if (pid < 0) {
		int r = -errno;

		close(errpipe[0]);
		close(errpipe[1]);
		return r;
	}
	if (pid == 0) {
		close(errpipe[0]);
		child(l, parent, errpipe[1]);
	}
	close(errpipe[1]);
	*ret = (struct sd_launched){
		.pid = pid, .pidfd = pidfd, .errfd = errpipe[0], .in_cgroup2 = in_cg
	};
	return 0;
}
