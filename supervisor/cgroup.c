/* SPDX-License-Identifier: MIT */
/* Control groups for workers (see cgroup.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

/* Write a short string to dir/file; 0 or -errno. */
static int write_file(const char *dir, const char *file, const char *val)
{
	char path[4096];
	ssize_t n;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The mount point of a hierarchy: cgroup2 (v1 == NULL), or the v1 one that
 * carries controller v1. */
static char *mount_of(const char *v1)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		char mnt[4096], fstype[64], opts[1024];
		char *sep = strstr(line, " - ");

		/* id parent major:minor root mountpoint opts ... - fstype src superopts */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2)
			continue;
		if (!v1 && strcmp(fstype, "cgroup2") == 0)
			found = strdup(mnt);
		else if (v1 && strcmp(fstype, "cgroup") == 0) {
			char *tok, *save = NULL;

			for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				if (strcmp(tok, v1) == 0)
					found = strdup(mnt);
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* Our own group in a hierarchy: "0::/x" for v2 (v1 == NULL), "N:pids:/x". */
static char *own_group(const char *v1)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		size_t len;

		if (!c2)
			continue;
		*c2 = '\0';
		len = strcspn(c2 + 1, "\n");
		c2[1 + len] = '\0';
		if (v1 ? strstr(c1 + 1, v1) != NULL : c1[1] == '\0')
			found = strdup(c2 + 1);
	}
	free(line);
	fclose(f);
	return found;
}

/* Kill what is in dir (and its subgroups), then remove them, deepest first. */
static void reap_tree(const char *dir, bool v2_kill)
{
	char path[8192], buf[65536];
	struct dirent *e;
	DIR *d;

	if (v2_kill)
		(void)write_file(dir, "cgroup.kill", "1");
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (sd_read_file(path, buf, sizeof(buf)) > 0) {
		for (char *p = buf; *p;) {
			long pid = strtol(p, &p, 10);

			if (pid > 0)
				kill((pid_t)pid, SIGKILL);
			while (*p == '\n')
				p++;
			if (!pid)
				break;
		}
	}
	d = opendir(dir);
	if (d) {
		while ((e = readdir(d))) {
			if (e->d_type != DT_DIR || e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			reap_tree(path, v2_kill);
		}
		closedir(d);
	}
	for (int tries = 0; rmdir(dir) < 0 && errno == EBUSY && tries < 100; tries++)
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
}

/* Groups "spawnd.PID" in parent whose spawnd is gone: what a spawnd that was
 * SIGKILLed left running. End them. */
static void reap_leftovers(const char *parent, bool v2_kill)
{
	struct dirent *e;
	DIR *d = opendir(parent);

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[8192], comm[64] = "";
		unsigned long pid;
		char *end;

		if (strncmp(e->d_name, "spawnd.", 7) != 0)
			continue;
		pid = strtoul(e->d_name + 7, &end, 10);
		if (*end || pid == (unsigned long)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%lu/comm", pid);
		if (sd_read_file(path, comm, sizeof(comm)) > 0 && strncmp(comm, "spawnd", 6) == 0)
			continue; /* another spawnd, alive */
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		reap_tree(path, v2_kill);
	}
	closedir(d);
}

static char *make_base(const char *mnt, const char *own, bool v2_kill, char *why, size_t size,
		       const char *what)
{
	char parent[4096], *base = NULL;

	snprintf(parent, sizeof(parent), "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
	reap_leftovers(parent, v2_kill);
	if (asprintf(&base, "%s/spawnd.%d", parent, (int)getpid()) < 0)
		return NULL;
	if (mkdir(base, 0755) < 0 && errno != EEXIST) {
		snprintf(why, size, "cannot create %s (%s): %s", base, what, strerror(errno));
		free(base);
		return NULL;
	}
	return base;
}

/*
 * A cgroup v2 group spawnd has to itself (systemd's Delegate=yes: the
 * service's group, where spawnd starts alone) is ours to divide. cgroup v2
 * lets a group hand controllers down only while no process sits in it
 * ("no internal processes"): spawnd moves itself into the leaf
 * <group>/supervisor, then enables the controllers the group has for its
 * subgroups, so that spawnd.PID and the workers' groups get them. In a
 * group shared with others (a shell, a test) nothing moves, nor in a
 * systemd unit's group that was not delegated (systemd marks a unit's
 * group with the xattr invocation_id, and a delegated one with
 * delegate=1 too, since systemd 251): that structure is systemd's.
 */
static bool xattr_is(const char *path, const char *name, const char *want)
{
	char user[64], val[64];
	ssize_t n;

	/* trusted.* needs CAP_SYS_ADMIN; systemd sets user.* too (252). */
	snprintf(user, sizeof(user), "user.%s", name);
	n = getxattr(path, user, val, sizeof(val) - 1);
	if (n < 0) {
		snprintf(user, sizeof(user), "trusted.%s", name);
		n = getxattr(path, user, val, sizeof(val) - 1);
	}
	if (n < 0)
		return false;
	val[n] = '\0';
	return !want || strcmp(val, want) == 0;
}

static void claim_own_group(const char *group)
{
	char path[4200], buf[256], leaf[4200];
	long pid;
	char *end;

	if (xattr_is(group, "invocation_id", NULL) && !xattr_is(group, "delegate", "1"))
		return; /* a systemd unit without Delegate=yes */
	snprintf(path, sizeof(path), "%s/cgroup.procs", group);
	if (sd_read_file(path, buf, sizeof(buf)) <= 0)
		return;
	pid = strtol(buf, &end, 10);
	if (pid != (long)getpid() || strspn(end, "\n") != strlen(end))
		return; /* not alone */
	snprintf(leaf, sizeof(leaf), "%s/supervisor", group);
	if ((mkdir(leaf, 0755) < 0 && errno != EEXIST) ||
	    write_file(leaf, "cgroup.procs", "0") < 0)
		return;
	snprintf(path, sizeof(path), "%s/cgroup.controllers", group);
	if (sd_read_file(path, buf, sizeof(buf)) <= 0)
		return;
	/* What fails (a controller another user's), stays off: limits say so. */
	if (strstr(buf, "pids"))
		(void)write_file(group, "cgroup.subtree_control", "+pids");
	if (strstr(buf, "memory"))
		(void)write_file(group, "cgroup.subtree_control", "+memory");
}

void sd_cgroups_init(struct sd_cgroups *cg)
{
	char *mnt, *own, path[4096], buf[256];

	*cg = (struct sd_cgroups){ .v2_base_fd = -1 };
	mnt = mount_of(NULL);
	own = mnt ? own_group(NULL) : NULL;
	if (!mnt || !own) {
		snprintf(cg->why, sizeof(cg->why), "no cgroup v2: process groups contain workers");
	} else {
		snprintf(path, sizeof(path), "%s%s", mnt, own);
		if (strcmp(own, "/") != 0)
			claim_own_group(path);
		snprintf(path, sizeof(path), "%s%s/cgroup.kill", mnt, strcmp(own, "/") ? own : "");
		cg->v2_kill = access(path, F_OK) == 0 ||
			      access("/sys/kernel/cgroup/features", F_OK) == 0;
		cg->v2_base = make_base(mnt, own, cg->v2_kill, cg->why, sizeof(cg->why), "cgroup v2");
		if (cg->v2_base) {
			cg->v2_base_fd = open(cg->v2_base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			snprintf(path, sizeof(path), "%s/cgroup.kill", cg->v2_base);
			cg->v2_kill = access(path, F_OK) == 0;
			/* Controllers for limits, where our parent offers them. */
			snprintf(path, sizeof(path), "%s/cgroup.controllers", cg->v2_base);
			if (sd_read_file(path, buf, sizeof(buf)) > 0) {
				if (strstr(buf, "pids") &&
				    write_file(cg->v2_base, "cgroup.subtree_control", "+pids") == 0)
					cg->v2_pids = true;
				if (strstr(buf, "memory") &&
				    write_file(cg->v2_base, "cgroup.subtree_control", "+memory") == 0)
					cg->v2_memory = true;
			}
		}
	}
	free(mnt);
	free(own);

	/* v1 hierarchies, for the limits v2 cannot give us here. */
	for (int i = 0; i < 2; i++) {
		const char *ctl = i ? "memory" : "pids";
		char **dst = i ? &cg->v1_memory : &cg->v1_pids;

		if (i ? cg->v2_memory : cg->v2_pids)
			continue;
		mnt = mount_of(ctl);
		own = mnt ? own_group(ctl) : NULL;
		if (mnt && own)
			*dst = make_base(mnt, own, false, buf, sizeof(buf), ctl);
		free(mnt);
		free(own);
	}
}

/*
 * The guard: a small process of spawnd's own, forked at start, that waits
 * for spawnd to die. If spawnd is SIGKILLed its direct children die with it
 * (PR_SET_PDEATHSIG), but what they started lives on in spawnd's cgroups:
 * the guard ends it at once. After a clean exit spawnd has already removed
 * its groups, and the guard finds nothing to do.
 */
void sd_cgroups_guard(struct sd_cgroups *cg)
{
	pid_t spawnd = getpid();
	struct pollfd pfd;
	sigset_t all;
	pid_t pid;

	if (!cg->v2_base && !cg->v1_pids && !cg->v1_memory)
		return;
	pid = fork();
	if (pid != 0) {
		cg->guard = pid > 0 ? pid : 0;
		return;
	}
	/* Only what it needs: no ring, no pipes, no terminal, no signals. */
	close_range(0, ~0u, 0);
	setsid();
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	prctl(PR_SET_NAME, "spawnd-guard");
	pfd.fd = (int)syscall(SYS_pidfd_open, spawnd, 0);
	pfd.events = POLLIN;
	if (pfd.fd < 0)
		_exit(0);
	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
	if (cg->v2_base && access(cg->v2_base, F_OK) == 0)
		reap_tree(cg->v2_base, cg->v2_kill);
	if (cg->v1_pids && access(cg->v1_pids, F_OK) == 0)
		reap_tree(cg->v1_pids, false);
	if (cg->v1_memory && access(cg->v1_memory, F_OK) == 0)
		reap_tree(cg->v1_memory, false);
	_exit(0);
}

void sd_cgroups_fini(struct sd_cgroups *cg)
{
	if (cg->v2_base_fd >= 0)
		close(cg->v2_base_fd);
	if (cg->v2_base)
		reap_tree(cg->v2_base, cg->v2_kill);
	if (cg->v1_pids)
		reap_tree(cg->v1_pids, false);
	if (cg->v1_memory)
		reap_tree(cg->v1_memory, false);
	free(cg->v2_base);
	free(cg->v1_pids);
	free(cg->v1_memory);
	if (cg->guard > 0) {
		/* Nothing left to guard. */
		kill(cg->guard, SIGKILL);
		waitpid(cg->guard, NULL, 0);
	}
	*cg = (struct sd_cgroups){ .v2_base_fd = -1 };
}

/* A v1 group for one limit: created, limited, its cgroup.procs opened for
 * the child to join. */
static int v1_group(const char *base, const char *name, const char *file, uint64_t value,
		    struct sd_cgroup *c)
{
	char path[4096], val[32];
	int r;

	snprintf(path, sizeof(path), "%s/%s", base, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(val, sizeof(val), "%" PRIu64, value);
	r = write_file(path, file, val);
	if (r < 0) {
		rmdir(path);
		return r;
	}
	c->v1_paths[c->nv1] = strdup(path);
	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", base, name);
	c->v1_procs[c->nv1] = open(path, O_WRONLY | O_CLOEXEC);
	if (c->v1_procs[c->nv1] < 0 || !c->v1_paths[c->nv1]) {
		r = -errno ? -errno : -ENOMEM;
		if (c->v1_procs[c->nv1] >= 0)
			close(c->v1_procs[c->nv1]);
		free(c->v1_paths[c->nv1]);
		return r;
	}
	c->nv1++;
	return 0;
}

int sd_cgroup_create(struct sd_cgroups *cg, const char *name, const struct sd_limits *lim,
		     struct sd_cgroup *ret, char *unenforced, size_t size)
{
	struct sd_cgroup c = { .v2_procs = -1, .v1_procs = { -1, -1 } };
	char val[32];
	int r;

	unenforced[0] = '\0';
	if (cg->v2_base) {
		if (asprintf(&c.v2_path, "%s/%s", cg->v2_base, name) < 0)
			return -ENOMEM;
		if (mkdir(c.v2_path, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			goto err;
		}
		char procs[PATH_MAX];

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", c.v2_path);
		c.v2_procs = open(procs, O_WRONLY | O_CLOEXEC);
		if (c.v2_procs < 0) {
			r = -errno;
			goto err;
		}
	}
	if (lim->has_pids) {
		snprintf(val, sizeof(val), "%" PRIu64, lim->pids);
		if (cg->v2_pids && c.v2_path)
			r = write_file(c.v2_path, "pids.max", val);
		else if (cg->v1_pids)
			r = v1_group(cg->v1_pids, name, "pids.max", lim->pids, &c);
		else
			r = -ENOENT;
		if (r == -ENOENT)
			snprintf(unenforced, size, "pids");
		else if (r < 0)
			goto err;
	}
	if (lim->has_memory) {
		snprintf(val, sizeof(val), "%" PRIu64, lim->memory);
		if (cg->v2_memory && c.v2_path)
			r = write_file(c.v2_path, "memory.max", val);
		else if (cg->v1_memory)
			r = v1_group(cg->v1_memory, name, "memory.limit_in_bytes", lim->memory, &c);
		else
			r = -ENOENT;
		if (r == -ENOENT) {
			size_t len = strlen(unenforced);

			snprintf(unenforced + len, size - len, "%smemory", len ? ", " : "");
		} else if (r < 0) {
			goto err;
		}
	}
	*ret = c;
	return 0;
err:
	sd_cgroup_destroy(&c);
	return r;
}

int sd_cgroup_kill(struct sd_cgroups *cg, struct sd_cgroup *c)
{
	char path[4096], buf[65536];
	int r;

	if (!c->v2_path && !c->nv1)
		return -ENOENT;
	if (c->v2_path && cg->v2_kill)
		return write_file(c->v2_path, "cgroup.kill", "1");
	/* No cgroup.kill (before 5.14) or only v1: one by one. A process
	 * forking as we go is caught by the caller's next attempt. */
	snprintf(path, sizeof(path), "%s/cgroup.procs", c->v2_path ? c->v2_path : c->v1_paths[0]);
	r = sd_read_file(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	for (char *p = buf; *p;) {
		long pid = strtol(p, &p, 10);

		if (pid <= 0)
			break;
		kill((pid_t)pid, SIGKILL);
		while (*p == '\n')
			p++;
	}
	return 0;
}

bool sd_cgroup_empty(const struct sd_cgroup *c)
{
	char path[4096], buf[256];

	if (c->v2_path) {
		snprintf(path, sizeof(path), "%s/cgroup.events", c->v2_path);
		if (sd_read_file(path, buf, sizeof(buf)) > 0)
			return strstr(buf, "populated 0") != NULL;
	}
	for (int i = 0; i < c->nv1; i++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", c->v1_paths[i]);
		if (sd_read_file(path, buf, sizeof(buf)) > 0)
			return false;
	}
	return true;
}

void sd_cgroup_launched(struct sd_cgroup *c)
{
	if (c->v2_procs >= 0)
		close(c->v2_procs);
	c->v2_procs = -1;
	for (int i = 0; i < c->nv1; i++) {
		if (c->v1_procs[i] >= 0)
			close(c->v1_procs[i]);
		c->v1_procs[i] = -1;
	}
}

void sd_cgroup_destroy(struct sd_cgroup *c)
{
	sd_cgroup_launched(c);
	if (c->v2_path)
		(void)rmdir(c->v2_path);
	free(c->v2_path);
	c->v2_path = NULL;
	for (int i = 0; i < c->nv1; i++) {
		(void)rmdir(c->v1_paths[i]);
		free(c->v1_paths[i]);
	}
	c->nv1 = 0;
}
