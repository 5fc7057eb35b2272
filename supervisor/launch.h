/* SPDX-License-Identifier: MIT */
/*
 * Launching a worker: clone with CLONE_VM, CLONE_VFORK, CLONE_FILES and
 * CLONE_PIDFD, then, in the child, only async-signal-safe work that the
 * parent prepared: death signal, new session, signal mask, cgroups, file
 * descriptors, rlimits, working directory, user and group, no_new_privs,
 * seccomp, execve.
 *
 * sd_launch returns once the child has execve'd or died, with the outcome:
 * a failure before execve comes back as (stage, errno). So "could not start"
 * and "crashed" are different events, known before spawnd does anything
 * else.
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
	int32_t stage; /* enum sd_stage; -1: execve succeeded */
	int32_t err;   /* errno; 0: killed at that stage */
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
	int v2_procs;        /* cgroup.procs of the cgroup v2 to join; -1: none */
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
	bool in_cgroup2; /* it joined v2_procs' cgroup */
	struct sd_exec_error exec; /* .stage -1: it runs its program */
};

/* Reserve the descriptors a launch lends to the child (the lowest free
 * ones: call it before opening anything else; sd_launch calls it if not).
 * 0 or -errno. */
int sd_launch_init(void);
/* 0 (a child was started: it runs its program, or failed as ret->exec
 * says and is to be reaped) or -errno (clone failed: nothing was started). */
int sd_launch(const struct sd_launch *l, struct sd_launched *ret);

const char *sd_stage_name(int stage);

#endif /* SD_LAUNCH_H */
