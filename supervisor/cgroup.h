/* SPDX-License-Identifier: MIT */
/*
 * Control groups: where a worker's whole process tree lives, so that
 * stopping it leaves no grandchild behind, and where its pids and memory
 * limits are enforced.
 *
 * Each incarnation of a worker gets a fresh cgroup v2 group under spawnd's
 * own (a group that has seen cgroup.kill kills every process that joins it
 * later: never reuse one). The child joins it itself, before execve. Limits use v2 controllers where they are
 * available to us, else the v1 hierarchies (hybrid machines such as
 * Debian's older ones); where neither is, spawnd says so and does not
 * pretend. Without cgroup v2 at all, containment falls back to the worker's
 * process group.
 */
#ifndef SD_CGROUP_H
#define SD_CGROUP_H

#include <stdbool.h>

#include "config.h"

struct sd_cgroups {
	char *v2_base;  /* our own groups live here; NULL: no cgroup v2 for us */
	int v2_base_fd;
	bool v2_kill;   /* cgroup.kill (5.14) */
	bool v2_pids, v2_memory; /* controllers enabled for our groups */
	char *v1_pids;  /* v1 hierarchy bases; NULL: none */
	char *v1_memory;
	char why[256];  /* what is missing, for the degraded notice */
	pid_t guard;    /* see sd_cgroups_guard; 0: none */
};

struct sd_cgroup {
	char *v2_path;  /* NULL: none */
	int v2_procs;   /* its cgroup.procs, for the child to join; -1: none */
	int v1_procs[2]; /* the same in v1 controllers; -1: none */
	char *v1_paths[2];
	int nv1;
};

/* Find our place in the hierarchies and create our base; end what a
 * previous spawnd left behind. Never fails: what is missing is in why. */
void sd_cgroups_init(struct sd_cgroups *cg);
void sd_cgroups_fini(struct sd_cgroups *cg);

/* Fork the guard that ends our groups' processes if spawnd dies without
 * cleaning up (SIGKILL). */
void sd_cgroups_guard(struct sd_cgroups *cg);

/* A fresh group named `name` with the limits applied. -errno; *ret is
 * usable (possibly without v2) when 0. *unenforced gets the limits that
 * have no controller here ("pids", "memory"). */
int sd_cgroup_create(struct sd_cgroups *cg, const char *name, const struct sd_limits *lim,
		     struct sd_cgroup *ret, char *unenforced, size_t size);

/* SIGKILL everything in it. 0 or -errno (-ENOENT: no group). */
int sd_cgroup_kill(struct sd_cgroups *cg, struct sd_cgroup *c);

/* Nothing left in it (or no group). */
bool sd_cgroup_empty(const struct sd_cgroup *c);

/* The child has joined (or could not): close what it joined through. */
void sd_cgroup_launched(struct sd_cgroup *c);

/* Remove it, if empty; close what is open. Safe to call twice. */
void sd_cgroup_destroy(struct sd_cgroup *c);

#endif /* SD_CGROUP_H */
