/* SPDX-License-Identifier: MIT */
/*
 * Launching a worker: clone3 with CLONE_PIDFD (and CLONE_INTO_CGROUP where
 * cgroup v2 is usable), then, in the child, only async-signal-safe work that
 * the parent prepared: death signal, new session, signal mask, cgroups (v1),
 * file descriptors, rlimits, working directory, user and group,
 * no_new_privs, seccomp, execve.
 *
 * A failure before execve travels back through a close-on-exec pipe as
 * (stage, errno): end of file on that pipe means execve succeeded. So "could
 * not start" and "crashed" are different events.
 */
#ifndef SD_LAUNCH_H
#define SD_LAUNCH_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox.h"

enum sd_stage {
	SD_STAGE_DEATHSIG,
	SD_STAGE_SETSID,
	SD_STAGE_SIGNALS,
	SD_STAGE_CGROUP,
	SD_STAGE_FDS,
	SD_STAGE_RLIMIT,
	SD_STAGE_CHDIR,
	SD_STAGE_SETGROUPS,
	SD_STAGE_SETGID,
	SD_STAGE_SETUID,
	SD_STAGE_NO_NEW_PRIVS,
	SD_STAGE_SECCOMP,
	SD_STAGE_EXECVE,
};

/* What the child reports when it fails before execve. */
struct sd_exec_error {
	int32_t stage; /* enum sd_stage */
	int32_t err;   /* errno */
};

#define SD_LAUNCH_MAX_V1   4
#define SD_LAUNCH_MAX_RLIM 4

struct sd_launch {
	const char *path;    /* absolute */
	char *const *argv;
	char *const *envp;
	int stdio[3];        /* fds to become 0, 1, 2 (the same number: inherit) */
	int ready_src;       /* becomes ready_fd in the child; -1: none */
	int ready_fd;
	int cgroup2_fd;      /* directory fd for CLONE_INTO_CGROUP; -1: none */
	int v1_procs[SD_LAUNCH_MAX_V1]; /* cgroup.procs of v1 controllers to join */
	int nv1;
	struct {
		int resource;
		struct rlimit value;
	} rlim[SD_LAUNCH_MAX_RLIM];
	int nrlim;
	const char *cwd;     /* NULL: stay */
	bool set_ids;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	const struct sd_filter *filter; /* NULL or empty: none */
};

struct sd_launched {
	pid_t pid;
	int pidfd;   /* CLONE_PIDFD: for signalling without pid reuse races */
	int errfd;   /* read end of the exec-error pipe; EOF: execve succeeded */
	bool in_cgroup2; /* CLONE_INTO_CGROUP took */
};

/* 0 or -errno (clone3 or pipe2 failed: nothing was started). */
int sd_launch(const struct sd_launch *l, struct sd_launched *ret);

const char *sd_stage_name(int stage);

#endif /* SD_LAUNCH_H */
