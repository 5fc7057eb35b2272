/* SPDX-License-Identifier: MIT */
/*
 * Workers: starting an incarnation (cgroup, pipes, readiness, launch),
 * reading its output and readiness, stopping it (SIGTERM, then SIGKILL
 * after `shutdown`), and its end: reaped by the one WAITID(P_ALL) that
 * spawnd keeps armed, its whole process tree killed, its death logged and
 * handed to its supervisor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <search.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawnd.h"
#include "util.h"

#define RING_BYTES (64u << 10)

#ifndef IORING_OP_WAITID
#define IORING_OP_WAITID 50 /* 6.7; liburing 2.3 predates it */
#endif

static const char *unit_name(const struct sd_unit *u)
{
	return u->node->path;
}

/* ---- the runs by pid (d->runs_by_pid) ----------------------------------------------- */

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static void run_index(struct sd_daemon *d, struct sd_run *run)
{
	if (!tsearch(&run->pid, &d->runs_by_pid, pid_cmp))
		d->runs_by_pid_incomplete = true; /* found by the walk instead */
}

const char *sd_signal_name(int sig)
{
	static char buf[16];
	const char *abbrev = sigabbrev_np(sig);

	if (!abbrev) {
		snprintf(buf, sizeof(buf), "signal %d", sig);
		return buf;
	}
	snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	return buf;
}

/* ---- preparation, once per worker ------------------------------------------- */

/* Whether env sets the variable that `assignment` ("NAME=...") sets. */
static bool env_sets(char *const *env, const char *assignment)
{
	size_t len = strcspn(assignment, "=") + 1;

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], assignment, len) == 0)
			return true;
	return false;
}

/* The clean environment: PATH, HOME, LANG, then the node's env, which may
 * replace them (each name once: getenv takes the first). */
static char **env_base(const struct sd_node *n, const char *home)
{
	const char *lang = getenv("LANG");
	char *base[3] = { NULL, NULL, NULL };
	size_t extra = 0, k = 0;
	char **envp = NULL;

	while (n->env && n->env[extra])
		extra++;
	if (asprintf(&base[0], "PATH=%s", SD_CLEAN_PATH) < 0 ||
	    asprintf(&base[1], "HOME=%s", home) < 0 ||
	    asprintf(&base[2], "LANG=%s", lang && *lang ? lang : "C.UTF-8") < 0)
		goto fail;
	envp = calloc(extra + 5, sizeof(*envp)); /* base, env, NOTIFY_SOCKET, NULL */
	if (!envp)
		goto fail;
	for (int i = 0; i < 3; i++) {
		if (env_sets(n->env, base[i]))
			free(base[i]);
		else
			envp[k++] = base[i];
		base[i] = NULL;
	}
	for (size_t i = 0; i < extra; i++)
		if (!(envp[k++] = strdup(n->env[i])))
			goto fail;
	return envp;
fail:
	for (int i = 0; i < 3; i++)
		free(base[i]);
	for (size_t i = 0; envp && i < k; i++)
		free(envp[i]);
	free(envp);
	return NULL;
}

static void stall_due(struct sd_loop *loop, struct sd_timer *t);

int sd_worker_prepare(struct sd_unit *u, char *err, size_t errlen)
{
	const struct sd_node *n = u->node;
	const char *home = getenv("HOME");
	int r;

	sd_timer_init(&u->stall_timer, stall_due);
	r = sd_sandbox_compile(&n->sandbox, &u->filter, err, errlen);
	if (r < 0)
		return r;
	if (n->user || n->group) {
		struct passwd *pw = NULL;

		u->set_ids = true;
		u->uid = getuid();
		u->gid = getgid();
		if (n->user) {
			pw = getpwnam(n->user);
			if (!pw && strspn(n->user, "0123456789") == strlen(n->user))
				pw = getpwuid((uid_t)strtoul(n->user, NULL, 10));
			if (!pw) {
				snprintf(err, errlen, "%s: user: no user '%s'", unit_name(u), n->user);
				return -EINVAL;
			}
			u->uid = pw->pw_uid;
			u->gid = pw->pw_gid;
			home = pw->pw_dir;
		}
		if (n->group) {
			struct group *gr = getgrnam(n->group);

			if (!gr && strspn(n->group, "0123456789") == strlen(n->group))
				gr = getgrgid((gid_t)strtoul(n->group, NULL, 10));
			if (!gr) {
				snprintf(err, errlen, "%s: group: no group '%s'", unit_name(u), n->group);
				return -EINVAL;
			}
			u->gid = gr->gr_gid;
		}
		if (pw) {
			int ng = 64;

			u->groups = malloc((size_t)ng * sizeof(gid_t));
			if (u->groups && getgrouplist(pw->pw_name, u->gid, u->groups, &ng) < 0) {
				free(u->groups);
				u->groups = malloc((size_t)ng * sizeof(gid_t));
				if (u->groups)
					(void)getgrouplist(pw->pw_name, u->gid, u->groups, &ng);
			}
			if (!u->groups) {
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			u->ngroups = ng;
		} else {
			u->groups = malloc(sizeof(gid_t));
			if (!u->groups)
				return -ENOMEM;
			u->groups[0] = u->gid;
			u->ngroups = 1;
		}
	}
	u->envp = env_base(n, home ? home : "/");
	if (!u->envp || sd_ring_init(&u->ring, RING_BYTES) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void sd_worker_release(struct sd_unit *u)
{
	sd_filter_free(&u->filter);
	for (size_t i = 0; u->envp && u->envp[i]; i++)
		free(u->envp[i]);
	free(u->envp);
	free(u->groups);
	sd_ring_fini(&u->ring);
	json_object_put(u->last_crash);
	json_object_put(u->last_stall);
	u->last_crash = u->last_stall = NULL;
	u->envp = NULL;
	u->groups = NULL;
}

/* ---- a run's life ----------------------------------------------------------------- */

static bool run_busy(const struct sd_run *run)
{
	return run->exec_op.inflight || run->out.op.inflight || run->err.op.inflight ||
	       run->rdy.op.inflight || run->notify_op.inflight;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void run_free(struct sd_run *run)
{
	if (run->prev)
		run->prev->next = run->next;
	else if (run->d->detached == run)
		run->d->detached = run->next;
	if (run->next)
		run->next->prev = run->prev;
	close_fd(&run->pidfd);
	close_fd(&run->out.fd);
	close_fd(&run->err.fd);
	close_fd(&run->rdy.fd);
	close_fd(&run->notify_fd);
	sd_cgroup_destroy(&run->cg);
	free(run->out.buf);
	free(run->err.buf);
	free(run->rdy.buf);
	free(run->notify_buf);
	free(run);
}

/* Free a detached run once the kernel is done with its buffers. */
static void run_maybe_free(struct sd_run *run)
{
	if (run->unit || run_busy(run))
		return;
	run_free(run);
}

static void cancel_op(struct sd_daemon *d, struct sd_op *op)
{
	sd_loop_cancel(&d->loop, op);
}

static void mark_ready(struct sd_run *run)
{
	struct sd_unit *u = run->unit;

	if (run->ready || !u || run->exited)
		return;
	run->ready = true;
	sd_timer_cancel(&run->d->loop, &run->ready_timer);
	sd_event_unit(run->d, "ready", u, run->pid);
	sd_child_ready(u);
}

/* Signal the worker (its main process), or its whole tree. */
static void signal_run(struct sd_run *run, int sig, bool tree)
{
	struct sd_daemon *d = run->d;

	if (tree && sig == SIGKILL && run->in_cgroup && sd_cgroup_kill(&d->cg, &run->cg) == 0)
		return;
	if (tree && !run->in_cgroup) {
		kill(-run->pid, sig); /* its process group: it called setsid */
		return;
	}
	if (syscall(SYS_pidfd_send_signal, run->pidfd, sig, NULL, 0) < 0 && errno == ENOSYS)
		kill(run->pid, sig);
}

/* ---- reading: output, readiness, execve's outcome, notify --------------------------- */

/* rd's buffer, if it has a pipe to read. */
static int reader_buffer(struct sd_reader *rd)
{
	if (rd->fd < 0 || rd->buf)
		return 0;
	rd->buf = malloc(SD_READER_BUF);
	return rd->buf ? 0 : -ENOMEM;
}

static void read_more(struct sd_run *run, struct sd_reader *rd)
{
	struct io_uring_sqe *sqe = sd_loop_sqe(&run->d->loop, &rd->op);

	io_uring_prep_read(sqe, rd->fd, rd->buf + rd->len, (unsigned)(SD_READER_BUF - rd->len),
			   (uint64_t)-1);
}

static void output_line(struct sd_run *run, const char *line, size_t len, bool is_err)
{
	struct sd_daemon *d = run->d;
	const char *name = run->unit ? unit_name(run->unit) : "(exited)";

	sd_log_output(&d->log, name, run->pid, is_err, line, len);
	if (run->unit) {
		sd_ring_add(&run->unit->ring, line, len);
		sd_control_output(&d->ctl, sd_unit_path(run->unit), run->pid, is_err, line, len);
	}
}

static void reader_done(struct sd_run *run, struct sd_reader *rd, int res, bool is_ready)
{
	char *nl;

	if (res <= 0) {
		/* End of file (everything that held the pipe is gone), or an
		 * error: a last unfinished line is still a line. */
		if (!is_ready && rd->len)
			output_line(run, rd->buf, rd->len, rd->is_err);
		rd->len = 0;
		close_fd(&rd->fd);
		run_maybe_free(run);
		return;
	}
	rd->len += (size_t)res;
	if (is_ready) {
		if (memchr(rd->buf, '\n', rd->len))
			mark_ready(run);
		rd->len = 0;
	} else {
		char *start = rd->buf;

		while ((nl = memchr(start, '\n', rd->len - (size_t)(start - rd->buf)))) {
			output_line(run, start, (size_t)(nl - start), rd->is_err);
			start = nl + 1;
		}
		rd->len -= (size_t)(start - rd->buf);
		memmove(rd->buf, start, rd->len);
		if (rd->len == SD_READER_BUF) { /* a line longer than the buffer */
			output_line(run, rd->buf, rd->len, rd->is_err);
			rd->len = 0;
		}
	}
	read_more(run, rd);
}

#define RUN_OF(ptr, member) ((struct sd_run *)((char *)(ptr)-offsetof(struct sd_run, member)))

static void out_read(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	(void)loop;
	(void)flags;
	reader_done(RUN_OF(op, out.op), &RUN_OF(op, out.op)->out, res, false);
}

static void err_read(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	(void)loop;
	(void)flags;
	reader_done(RUN_OF(op, err.op), &RUN_OF(op, err.op)->err, res, false);
}

static void rdy_read(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	(void)loop;
	(void)flags;
	reader_done(RUN_OF(op, rdy.op), &RUN_OF(op, rdy.op)->rdy, res, true);
}

/* From the loop, once sd_worker_start has returned: execve's outcome. */
static void exec_result(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_run *run = RUN_OF(op, exec_op);

	(void)loop;
	(void)res;
	(void)flags;
	if (run->exec_stage < 0) {
		run->exec_ok = true;
		run->d->ctl.check_waits = true; /* starting -> running */
		if (run->unit && run->unit->node->ready == SD_READY_EXEC)
			mark_ready(run);
	}
	run_maybe_free(run);
}

static void notify_recv(struct sd_run *run);

static void notify_msg(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_run *run = RUN_OF(op, notify_op);
	char *line, *save = NULL;

	(void)loop;
	(void)flags;
	if (res < 0 || !run->unit) {
		run_maybe_free(run);
		return;
	}
	run->notify_buf[res < SD_NOTIFY_BUF ? res : SD_NOTIFY_BUF - 1] = '\0';
	for (line = strtok_r(run->notify_buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "READY=1") == 0)
			mark_ready(run);
		else if (strcmp(line, "WATCHDOG=1") == 0)
			run->last_watchdog_ns = sd_now_ns();
		else if (strncmp(line, "STATUS=", 7) == 0)
			snprintf(run->status, sizeof(run->status), "%s", line + 7);
		else if (strcmp(line, "STOPPING=1") == 0)
			sd_debug(&run->d->log, "%s[%d]: stopping", unit_name(run->unit), (int)run->pid);
	}
	notify_recv(run);
}

static void notify_recv(struct sd_run *run)
{
	struct io_uring_sqe *sqe = sd_loop_sqe(&run->d->loop, &run->notify_op);

	run->notify_iov = (struct iovec){ run->notify_buf, SD_NOTIFY_BUF - 1 };
	run->notify_msg = (struct msghdr){ .msg_iov = &run->notify_iov, .msg_iovlen = 1 };
	io_uring_prep_recvmsg(sqe, run->notify_fd, &run->notify_msg, 0);
}

/* ---- timers ---------------------------------------------------------------------- */

static void ready_late(struct sd_loop *loop, struct sd_timer *t)
{
	struct sd_run *run = RUN_OF(t, ready_timer);

	(void)loop;
	if (!run->unit || run->ready)
		return;
	sd_log_about(&run->d->log,
		     &(struct sd_log_fields){ LOG_WARNING, unit_name(run->unit), run->pid,
					      "ready_timeout", SIGKILL },
		     "%s[%d]: not ready after %.1fs: killing it", unit_name(run->unit),
		     (int)run->pid, (double)run->unit->node->ready_timeout_ns / 1e9);
	signal_run(run, SIGKILL, true);
}

static void kill_late(struct sd_loop *loop, struct sd_timer *t)
{
	struct sd_run *run = RUN_OF(t, kill_timer);

	(void)loop;
	if (!run->unit || run->exited)
		return;
	sd_log_about(&run->d->log,
		     &(struct sd_log_fields){ LOG_WARNING, unit_name(run->unit), run->pid,
					      "stop_timeout", SIGKILL },
		     "%s[%d]: still running %.1fs after %s: SIGKILL", unit_name(run->unit),
		     (int)run->pid, (double)run->unit->node->shutdown_ns / 1e9,
		     run->stop_sent ? "SIGTERM" : "SIGABRT");
	signal_run(run, SIGKILL, true);
}

/*
 * Stalls without the eBPF probes (which see them exactly, bpf_stall.c):
 * sampled from /proc. A worker is stalled when, for stall_timeout:
 *  - it stays in uninterruptible sleep (D), or
 *  - it keeps using CPU while every sample finds it in user space
 *    (/proc/PID/syscall says "running"), and neither its read/write system
 *    call counts nor its time in the kernel move;
 * or, with watchdog and ready = notify, when WATCHDOG=1 stops coming.
 * Waiting in a read or poll (interruptible sleep) is not a stall.
 */
/* Its state; utime+stime (ticks); in *sys, what moves when it makes system
 * calls: syscr+syscw and stime (a loop of getppid() reads and writes
 * nothing, but spends time in the kernel; a spinner spends none); and
 * whether it is in user space now. */
static bool sample(pid_t pid, char *state, uint64_t *cpu, uint64_t *sys, bool *user)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st, r = 0, w = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sd_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return false;
	/* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (sscanf(p + 2, "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", state, &ut, &st) !=
	    3)
		return false;
	*cpu = ut + st;
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	if (sd_read_file(path, buf, sizeof(buf)) > 0) {
		if ((p = strstr(buf, "syscr:")))
			r = strtoull(p + 6, NULL, 10);
		if ((p = strstr(buf, "syscw:")))
			w = strtoull(p + 6, NULL, 10);
	}
	*sys = r + w + st;
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	*user = sd_read_file(path, buf, sizeof(buf)) > 0 && strncmp(buf, "running", 7) == 0;
	return true;
}

static uint64_t stall_interval(const struct sd_unit *u)
{
	const struct sd_node *n = u->node;
	uint64_t i = UINT64_MAX;

	if (n->stall_timeout_ns && !u->stall_bpf)
		i = n->stall_timeout_ns / 4;
	if (n->watchdog_ns && n->watchdog_ns / 2 < i)
		i = n->watchdog_ns / 2;
	return i < 50000000u ? 50000000u : i;
}

/* A thread's kernel stack from /proc, when the probe could not read it. */
static void proc_kernel_stack(struct sd_stall *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", (int)st->pid, (int)st->tid);
	int len = sd_read_file(path, st->kernel_stack, sizeof(st->kernel_stack));

	while (len > 0 && st->kernel_stack[len - 1] == '\n')
		len--;
	st->kernel_stack[len > 0 ? len : 0] = '\0';
}

static void stalled(struct sd_unit *u, struct sd_run *run, struct sd_stall *st)
{
	struct sd_daemon *d = u->d;
	/* A thread starved of CPU is the machine's stall, not the worker's:
	 * a restart would not give it a CPU. Reported only. */
	bool restart = u->node->on_stall == SD_STALL_RESTART && strcmp(st->kind, "runnable") != 0;
	bool dstate = strcmp(st->kind, "uninterruptible") == 0;
	json_object *o;

	if (u->stalled)
		return; /* once per stall */
	u->stalled = true;
	if (dstate && !st->kernel_stack[0])
		proc_kernel_stack(st);
	o = sd_stall_json(st);
	sd_log_about(&d->log, &(struct sd_log_fields){ LOG_WARNING, unit_name(u), run->pid, "stalled", 0 },
		     "%s[%d]: stalled: %s%s", unit_name(u), (int)run->pid,
		     json_object_get_string(json_object_object_get(o, "message")),
		     restart ? "; stopping it (on_stall = restart)" : "");
	if (st->kernel_stack[0])
		sd_log_about(&d->log,
			     &(struct sd_log_fields){ LOG_WARNING, unit_name(u), run->pid, "stalled", 0 },
			     "%s[%d]: kernel stack of thread %d:\n%s", unit_name(u), (int)run->pid,
			     (int)st->tid, st->kernel_stack);
	json_object_put(u->last_stall);
	u->last_stall = o;
	sd_event_stalled(d, u, run->pid, o);
	if (!restart)
		return;
	if (dstate) {
		/* SIGABRT would wait for it to leave D: its kernel stack is
		 * recorded above; SIGKILL. */
		signal_run(run, SIGKILL, true);
		return;
	}
	/* SIGABRT to the stuck process (the worker, or a descendant), so that
	 * the crash probe (or a core) records where it was stuck; SIGKILL to
	 * the tree after shutdown. */
	if (st->pid != run->pid)
		kill(st->pid, SIGABRT);
	else
		signal_run(run, SIGABRT, false);
	sd_timer_arm(&d->loop, &run->kill_timer, sd_now_ns() + u->node->shutdown_ns);
}

/* The stall probe's report (bpf_stall.c): once per episode. */
void sd_worker_stalled(struct sd_daemon *d, pid_t worker, struct sd_stall *st)
{
	struct sd_run *run = sd_run_find(d, worker);

	if (!run || !run->unit || run->exited || run->stop_sent)
		return;
	run->unit->stalled = false; /* the probe reports each episode once */
	/* A libgp scheduler thread: which green process it is stuck in. */
	if (sd_gp_current(st->pid, st->tid, &st->green_pid, st->green_name,
			  sizeof(st->green_name)) < 0)
		st->green_pid = 0;
	stalled(run->unit, run, st);
}

/* A stall seen by sampling /proc (degraded mode), or the watchdog. */
static void sample_stalled(struct sd_unit *u, struct sd_run *run, const char *kind, uint64_t ns)
{
	struct sd_stall st = { .kind = kind, .source = "proc", .pid = run->pid, .tid = run->pid,
			       .for_ns = ns };
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)run->pid);
	if (sd_read_file(path, st.comm, sizeof(st.comm)) > 0)
		st.comm[strcspn(st.comm, "\n")] = '\0';
	stalled(u, run, &st);
}

static void stall_due(struct sd_loop *loop, struct sd_timer *t)
{
	struct sd_unit *u = (struct sd_unit *)((char *)t - offsetof(struct sd_unit, stall_timer));
	struct sd_run *run = u->run;
	const struct sd_node *n = u->node;
	uint64_t now = sd_now_ns(), cpu, sys;
	bool user, progress;
	char state;

	if (!run || run->exited || run->stop_sent)
		return;
	sd_timer_arm(loop, t, now + stall_interval(u));
	if (n->watchdog_ns && run->ready) {
		uint64_t last = run->last_watchdog_ns ? run->last_watchdog_ns : run->started_ns;

		if (now - last >= n->watchdog_ns) {
			u->stall_state = 'W';
			sample_stalled(u, run, "watchdog", now - last);
			return;
		}
	}
	if (!n->stall_timeout_ns || u->stall_bpf || !sample(run->pid, &state, &cpu, &sys, &user))
		return;
	if (state == 'D')
		progress = u->stall_state != 'D';
	else
		progress = !(state == 'R' && user && cpu > u->stall_cpu && sys == u->stall_sys);
	u->stall_cpu = cpu;
	u->stall_sys = sys;
	if (progress) {
		u->stall_since = now;
		u->stall_state = state;
		u->stalled = false;
		return;
	}
	u->stall_state = state;
	if (now - u->stall_since >= n->stall_timeout_ns)
		sample_stalled(u, run, state == 'D' ? "uninterruptible" : "spinning",
			       now - u->stall_since);
}

/* ---- start ------------------------------------------------------------------------ */

static int open_output(const struct sd_node *n, enum sd_output mode, const char *path, int std,
		       struct sd_reader *rd, int *ret_child)
{
	int fds[2];

	switch (mode) {
	case SD_OUT_INHERIT:
		*ret_child = std;
		return 0;
	case SD_OUT_NULL:
		*ret_child = open("/dev/null", O_WRONLY | O_CLOEXEC);
		return *ret_child < 0 ? -errno : 0;
	case SD_OUT_FILE:
		*ret_child = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		return *ret_child < 0 ? -errno : 0;
	case SD_OUT_LOG:
		if (pipe2(fds, O_CLOEXEC) < 0)
			return -errno;
		rd->fd = fds[0];
		*ret_child = fds[1];
		return 0;
	}
	(void)n;
	return -EINVAL;
}

/* The folder of a worker's introspection socket, which gp_dir below makes:
 * 0; -EEXIST with the folder its env sets instead; -ENOENT without a
 * control socket; -ENAMETOOLONG. Status reports it, so that ptop finds the
 * socket of the worker's pid there. */
int sd_worker_gp_dir(const struct sd_unit *u, char *out, size_t size)
{
	const struct sd_daemon *d = u->d;
	uid_t uid = u->set_ids ? u->uid : geteuid();

	if (!d->gp_dir_base)
		return -ENOENT;
	for (char **e = u->envp; *e; e++)
		if (strncmp(*e, "GP_INTROSPECT_DIR=", 18) == 0)
			return snprintf(out, size, "%s", *e + 18) >= (int)size ? -ENAMETOOLONG : -EEXIST;
	if (snprintf(out, size, "%s/%u", d->gp_dir_base, (unsigned)uid) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Where a libgp program among the workers serves its introspection socket
 * (libgp(7)): GP_INTROSPECT_DIR=<folder of the control socket>.gp/<uid>, a
 * folder of the worker's own user (0700), so that ptop finds every
 * program's socket beside spawnd's, and only that user and root may
 * connect. Not if the worker's env sets it, or without a control socket.
 */
static int gp_dir(const struct sd_unit *u, char *out, size_t size)
{
	uid_t uid = u->set_ids ? u->uid : geteuid();
	gid_t gid = u->set_ids ? u->gid : getegid();
	char dir[PATH_MAX];
	struct stat st;
	int r = sd_worker_gp_dir(u, dir, sizeof(dir));

	if (r < 0)
		return r;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* Ours to hand over, never followed through a link. */
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_uid != uid || st.st_gid != gid) && lchown(dir, uid, gid) < 0)
		return -errno;
	if (snprintf(out, size, "GP_INTROSPECT_DIR=%s", dir) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

int sd_worker_start(struct sd_unit *u)
{
	struct sd_daemon *d = u->d;
	const struct sd_node *n = u->node;
	struct sd_launch l = { .path = n->exec_path, .argv = n->argv, .ready_src = -1,
			       .v2_procs = -1 };
	struct sd_launched got;
	struct sd_run *run = calloc(1, sizeof(*run));
	char unenforced[64], cgname[32], notify_env[128], gp_env[PATH_MAX + 32], **envp = NULL;
	int child_out = -1, child_err = -1, child_rdy = -1, devnull = -1, r;
	size_t nenv = 0;

	if (!run)
		return -ENOMEM;
	run->d = d;
	run->gen = ++d->next_gen;
	run->pidfd = run->notify_fd = -1;
	run->out.fd = run->err.fd = run->rdy.fd = -1;
	run->exec_stage = -1;
	run->out.op.fn = out_read;
	run->err.op.fn = err_read;
	run->rdy.op.fn = rdy_read;
	run->exec_op.fn = exec_result;
	run->notify_op.fn = notify_msg;
	run->cg = (struct sd_cgroup){ .v2_procs = -1, .v1_procs = { -1, -1 } };
	sd_timer_init(&run->ready_timer, ready_late);
	sd_timer_init(&run->kill_timer, kill_late);

	snprintf(cgname, sizeof(cgname), "w%llu", (unsigned long long)run->gen);
	r = sd_cgroup_create(&d->cg, cgname, &n->limits, &run->cg, unenforced, sizeof(unenforced));
	if (r < 0) {
		sd_log_about(&d->log, &(struct sd_log_fields){ LOG_ERR, unit_name(u), 0, "start_failed", 0 },
			     "%s: could not start: cgroup: %s", unit_name(u), strerror(-r));
		goto fail;
	}
	if (unenforced[0] && !u->restarts)
		sd_log(&d->log, "%s: warning: limit not enforced (no %s controller here)",
		       unit_name(u), unenforced);

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 ||
	    (r = open_output(n, n->out, n->out_path, STDOUT_FILENO, &run->out, &child_out)) < 0 ||
	    (r = open_output(n, n->err, n->err_path, STDERR_FILENO, &run->err, &child_err)) < 0) {
		r = devnull < 0 ? -errno : r;
		sd_log_about(&d->log, &(struct sd_log_fields){ LOG_ERR, unit_name(u), 0, "start_failed", 0 },
			     "%s: could not start: output: %s", unit_name(u), strerror(-r));
		goto fail;
	}
	if (n->ready == SD_READY_FD) {
		int fds[2];

		if (pipe2(fds, O_CLOEXEC) < 0) {
			r = -errno;
			goto fail;
		}
		run->rdy.fd = fds[0];
		child_rdy = fds[1];
		l.ready_src = child_rdy;
		l.ready_fd = n->ready_fd;
	}

	/* Buffers only for the pipes this worker has: most read stdout and
	 * stderr, few a readiness fd (a thousand workers, 4 KiB each). */
	r = reader_buffer(&run->out);
	if (r == 0)
		r = reader_buffer(&run->err);
	if (r == 0)
		r = reader_buffer(&run->rdy);
	if (r < 0)
		goto fail;

	while (u->envp[nenv])
		nenv++;
	envp = calloc(nenv + 3, sizeof(*envp)); /* + NOTIFY_SOCKET, GP_INTROSPECT_DIR, NULL */
	if (!envp) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(envp, u->envp, nenv * sizeof(*envp));
	if (n->ready == SD_READY_NOTIFY) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int len = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "spawnd.%d.%llu",
				   (int)d->self, (unsigned long long)run->gen);

		run->notify_buf = malloc(SD_NOTIFY_BUF);
		if (!run->notify_buf) {
			r = -ENOMEM;
			goto fail;
		}
		run->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (run->notify_fd < 0 ||
		    bind(run->notify_fd, (struct sockaddr *)&sa,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len)) < 0) {
			r = -errno;
			sd_log_about(&d->log, &(struct sd_log_fields){ LOG_ERR, unit_name(u), 0, "start_failed", 0 },
			     "%s: could not start: notify socket: %s", unit_name(u), strerror(-r));
			goto fail;
		}
		snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=@%s", sa.sun_path + 1);
		envp[nenv++] = notify_env;
	}
	if (gp_dir(u, gp_env, sizeof(gp_env)) == 0)
		envp[nenv++] = gp_env;
	envp[nenv] = NULL;

	l.envp = envp;
	l.stdio[0] = devnull;
	l.stdio[1] = child_out;
	l.stdio[2] = child_err;
	l.v2_procs = run->cg.v2_procs;
	for (int i = 0; i < run->cg.nv1; i++)
		l.v1_procs[l.nv1++] = run->cg.v1_procs[i];
	if (n->limits.has_nofile)
		l.rlim[l.nrlim++] = (typeof(l.rlim[0])){
			RLIMIT_NOFILE, { n->limits.nofile, n->limits.nofile } };
	else if (d->nofile.rlim_max) /* what spawnd was given, not what it raised */
		l.rlim[l.nrlim++] = (typeof(l.rlim[0])){ RLIMIT_NOFILE, d->nofile };
	if (n->limits.has_core)
		l.rlim[l.nrlim++] = (typeof(l.rlim[0])){
			RLIMIT_CORE,
			{ n->limits.core == UINT64_MAX ? RLIM_INFINITY : n->limits.core,
			  n->limits.core == UINT64_MAX ? RLIM_INFINITY : n->limits.core } };
	l.cwd = n->cwd;
	l.set_ids = u->set_ids;
	l.uid = u->uid;
	l.gid = u->gid;
	l.groups = u->groups;
	l.ngroups = u->ngroups;
	l.filter = &u->filter;

	sd_bpf_expect(d, n->stall_timeout_ns);
	r = sd_launch(&l, &got);
	sd_bpf_expect(d, 0);
	sd_cgroup_launched(&run->cg);
	if (r < 0) {
		sd_log_about(&d->log, &(struct sd_log_fields){ LOG_ERR, unit_name(u), 0, "start_failed", 0 },
			     "%s: could not start: clone: %s", unit_name(u), strerror(-r));
		goto fail;
	}
	free(envp);
	close(devnull);
	if (child_out != STDOUT_FILENO)
		close(child_out);
	if (child_err != STDERR_FILENO)
		close(child_err);
	if (child_rdy >= 0)
		close(child_rdy);

	run->unit = u;
	run->pid = got.pid;
	run->pidfd = got.pidfd;
	run->exec_stage = got.exec.stage;
	run->exec_err = got.exec.err;
	run->in_cgroup = got.in_cgroup2;
	run->started_ns = sd_now_ns();
	u->run = run;
	run_index(d, run);
	u->stalled = false;

	/* The outcome is known; the loop acts on it, as readiness may start
	 * the next worker. */
	io_uring_prep_nop(sd_loop_sqe(&d->loop, &run->exec_op));
	if (run->out.fd >= 0)
		read_more(run, &run->out);
	if (run->err.fd >= 0)
		read_more(run, &run->err);
	if (run->rdy.fd >= 0)
		read_more(run, &run->rdy);
	if (run->notify_fd >= 0)
		notify_recv(run);
	sd_timer_arm(&d->loop, &run->ready_timer, run->started_ns + n->ready_timeout_ns);
	/* Stalls: the probe watches it from now, or /proc is sampled. */
	u->stall_bpf = n->stall_timeout_ns && sd_bpf_watch(d, run->pid, n->stall_timeout_ns);
	if ((n->stall_timeout_ns && !u->stall_bpf) || n->watchdog_ns) {
		u->stall_since = run->started_ns;
		u->stall_state = 0;
		u->stall_cpu = u->stall_sys = 0;
		sd_timer_arm(&d->loop, &u->stall_timer, run->started_ns + stall_interval(u));
	}
	sd_arm_wait(d);
	if (d->log.verbose)
		sd_log_about(&d->log,
			     &(struct sd_log_fields){ LOG_DEBUG, unit_name(u), run->pid, "started", 0 },
			     "%s[%d]: started", unit_name(u), (int)run->pid);
	sd_event_unit(d, "started", u, run->pid);
	return 0;

fail:
	free(envp);
	if (devnull >= 0)
		close(devnull);
	if (child_out > STDERR_FILENO)
		close(child_out);
	if (child_err > STDERR_FILENO)
		close(child_err);
	if (child_rdy >= 0)
		close(child_rdy);
	u->last = (struct sd_exit){ .valid = true, .code = -1, .start_failed = true, .stage = -1,
				    .at_ns = sd_now_ns(), .err = r < 0 ? -r : EIO };
	sd_event_exit(d, u, 0);
	run->unit = NULL;
	run_maybe_free(run);
	return r < 0 ? r : -EIO;
}

int sd_worker_signal(struct sd_unit *u, int sig)
{
	struct sd_run *run = u->run;

	if (!run || run->exited)
		return -ESRCH;
	signal_run(run, sig, false);
	return run->pid;
}

/* ---- stop ------------------------------------------------------------------------- */

void sd_worker_stop(struct sd_unit *u)
{
	struct sd_run *run = u->run;
	const struct sd_node *n = u->node;

	if (!run || run->exited) {
		sd_child_exited(u, true);
		return;
	}
	run->stop_sent = true;
	if (n->shutdown_brutal) {
		signal_run(run, SIGKILL, true);
		return;
	}
	signal_run(run, SIGTERM, false);
	if (!n->shutdown_infinity)
		sd_timer_arm(&u->d->loop, &run->kill_timer, sd_now_ns() + n->shutdown_ns);
}

/* ---- the end ------------------------------------------------------------------------ */

static void no_free(void *node)
{
	(void)node; /* the runs are their units' */
}

void sd_run_index_free(struct sd_daemon *d)
{
	tdestroy(d->runs_by_pid, no_free);
	d->runs_by_pid = NULL;
}

static struct sd_run *find_run(struct sd_unit *u, pid_t pid)
{
	if (u->node->kind == SD_WORKER)
		return u->run && u->run->pid == pid ? u->run : NULL;
	for (size_t i = 0; i < u->node->nchildren; i++) {
		struct sd_run *run = find_run(u->children[i], pid);

		if (run)
			return run;
	}
	return NULL;
}

struct sd_run *sd_run_find(struct sd_daemon *d, pid_t pid)
{
	pid_t *const *found = tfind(&pid, &d->runs_by_pid, pid_cmp);
	struct sd_run *run;

	if (found)
		return (struct sd_run *)((char *)*found - offsetof(struct sd_run, pid));
	if (!d->runs_by_pid_incomplete)
		return NULL; /* not a worker's: an orphan we adopted */
	run = find_run(d->root, pid);
	for (struct sd_unit *r = d->retired; r && !run; r = r->next_retired)
		run = find_run(r, pid);
	return run;
}

void sd_worker_descendant_crashed(struct sd_daemon *d, pid_t worker, pid_t pid, json_object *crash)
{
	struct sd_run *run = sd_run_find(d, worker);
	const char *msg = json_object_get_string(json_object_object_get(crash, "message"));
	const char *comm = json_object_get_string(json_object_object_get(crash, "comm"));
	struct sd_unit *u;

	json_object_object_add(crash, "descendant", json_object_new_boolean(true));
	if (!run || !run->unit) {
		sd_log(&d->log, "process %d (%s) of a worker gone (pid %d): %s", (int)pid, comm,
		       (int)worker, msg);
		json_object_put(crash);
		return;
	}
	u = run->unit;
	sd_log_about(&d->log,
		     &(struct sd_log_fields){ LOG_ERR, unit_name(u), pid, "descendant_crashed", 0 },
		     "%s: worker process %d (%s) %s", unit_name(u), (int)pid, comm, msg);
	json_object_put(u->last_crash);
	u->last_crash = crash;
	u->exit_crash = false;
	sd_event_descendant_crashed(d, u, crash);
}

static void describe(const struct sd_run *run, const siginfo_t *info, char *buf, size_t size)
{
	double up = (double)(sd_now_ns() - run->started_ns) / 1e9;

	if (run->exec_stage >= 0 && run->exec_err)
		snprintf(buf, size, "could not start: %s: %s", sd_stage_name(run->exec_stage),
			 strerror(run->exec_err));
	else if (run->exec_stage >= 0 && info->si_code == CLD_EXITED) /* ended with no report */
		snprintf(buf, size, "could not start: %s: exited with status %d",
			 sd_stage_name(run->exec_stage), info->si_status);
	else if (run->exec_stage >= 0) /* killed before it could report */
		snprintf(buf, size, "could not start: %s: killed by %s", sd_stage_name(run->exec_stage),
			 sd_signal_name(info->si_status));
	else if (info->si_code == CLD_EXITED)
		snprintf(buf, size, "exited with status %d after %.1fs", info->si_status, up);
	else
		snprintf(buf, size, "%s by %s%s after %.1fs",
			 run->stop_sent ? "stopped" : "killed", sd_signal_name(info->si_status),
			 info->si_code == CLD_DUMPED ? " (core dumped)" : "", up);
}

void sd_worker_reaped(struct sd_daemon *d, const siginfo_t *info)
{
	struct sd_run *run;
	struct sd_unit *u;
	json_object *crash = NULL;
	char what[256 + 1536];
	bool normal;
	uint64_t now = sd_now_ns();

	/* The probes' evidence of this death was sent before it could be
	 * reaped: take it in first. */
	sd_bpf_consume(d);
	run = sd_run_find(d, info->si_pid);
	if (!run)
		return; /* an orphan we adopted as subreaper: reaped, nothing more */
	u = run->unit;
	run->exited = true;
	sd_timer_cancel(&d->loop, &run->ready_timer);
	sd_timer_cancel(&d->loop, &run->kill_timer);
	sd_timer_cancel(&d->loop, &u->stall_timer);
	/* No grandchild survives its worker. */
	signal_run(run, SIGKILL, true);

	describe(run, info, what, sizeof(what));
	sd_bpf_unwatch(d, run->pid, u->stall_bpf);
	u->stall_bpf = false;
	if (d->bpf.tree)
		crash = sd_proctree_take(d->bpf.tree, run->pid,
					 info->si_code == CLD_EXITED ? 0 : info->si_status);
	u->exit_crash = crash != NULL;
	if (crash) {
		/* Its message less what `what` says already ("killed by SIGX"). */
		const char *m = json_object_get_string(json_object_object_get(crash, "message"));
		size_t len = strlen(what);
		size_t skip = strlen("killed by ") + strlen(sd_signal_name(info->si_status));

		if (strlen(m) >= skip && strncmp(m, "killed by ", 10) == 0)
			m += skip;
		m += strspn(m, " :");
		if (*m)
			snprintf(what + len, sizeof(what) - len, ": %s", m);
		json_object_object_add(crash, "descendant", json_object_new_boolean(false));
		json_object_put(u->last_crash);
		u->last_crash = crash;
	}
	u->last = (struct sd_exit){
		.valid = true,
		.code = info->si_code == CLD_EXITED ? info->si_status : -1,
		.signal = info->si_code == CLD_EXITED ? 0 : info->si_status,
		.core = info->si_code == CLD_DUMPED,
		.at_ns = now,
		.uptime_ns = now - run->started_ns,
		.start_failed = run->exec_stage >= 0,
		.stage = run->exec_stage,
		.err = run->exec_err,
	};
	normal = run->exec_stage < 0 &&
		 ((info->si_code == CLD_EXITED && info->si_status == 0) ||
		  (run->stop_sent && info->si_code != CLD_EXITED && info->si_status == SIGTERM));
	u->last.normal = normal;
	sd_log_about(&d->log,
		     &(struct sd_log_fields){ normal ? LOG_INFO : LOG_ERR, unit_name(u), run->pid,
					      normal ? "exited" : "crashed", u->last.signal },
		     "%s[%d]: %s", unit_name(u), (int)run->pid, what);
	sd_event_exit(d, u, run->pid);

	/* Backoff: the next start waits, longer each time it fails fast. */
	if (u->node->backoff.enabled && !run->stop_sent) {
		const struct sd_backoff *b = &u->node->backoff;

		if (!u->backoff_ns || now - run->started_ns >= b->reset_after_ns)
			u->backoff_ns = b->initial_ns;
		else
			u->backoff_ns = u->backoff_ns * 2 > b->max_ns ? b->max_ns : u->backoff_ns * 2;
		u->not_before = now + u->backoff_ns;
	}

	u->run = NULL;
	run->unit = NULL;
	tdelete(&run->pid, &d->runs_by_pid, pid_cmp);
	cancel_op(d, &run->notify_op);
	if (!run->in_cgroup) {
		/* Without a cgroup an escaped descendant may keep the pipes
		 * open for ever: stop reading. */
		cancel_op(d, &run->out.op);
		cancel_op(d, &run->err.op);
	}
	cancel_op(d, &run->rdy.op);
	if (run_busy(run)) { /* until its last completions come */
		run->next = d->detached;
		if (d->detached)
			d->detached->prev = run;
		d->detached = run;
	}
	run_maybe_free(run);
	sd_child_exited(u, normal);
}

static void reaped(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_daemon *d = (struct sd_daemon *)((char *)op - offsetof(struct sd_daemon, wait_op));

	(void)loop;
	(void)flags;
	d->wait_armed = false;
	if (res == 0 && d->wait_info.si_pid)
		sd_worker_reaped(d, &d->wait_info);
	if (res != -ECHILD)
		sd_arm_wait(d);
}

/* Keep one WAITID(P_ALL) armed while spawnd may have children: it reaps
 * workers and the orphans a subreaper adopts alike. */
void sd_arm_wait(struct sd_daemon *d)
{
	struct io_uring_sqe *sqe;

	if (d->wait_armed)
		return;
	d->wait_op.fn = reaped;
	memset(&d->wait_info, 0, sizeof(d->wait_info));
	sqe = sd_loop_sqe(&d->loop, &d->wait_op);
	/* liburing 2.3 has no prep helper: fd = id, len = idtype,
	 * file_index = options, addr2 = siginfo_t * (KERNEL-NOTES §1). */
	io_uring_prep_rw(IORING_OP_WAITID, sqe, 0, NULL, P_ALL, 0);
	sqe->file_index = WEXITED;
	sqe->addr2 = (uint64_t)(uintptr_t)&d->wait_info;
	d->wait_armed = true;
}

/*
 * At exit: the runs whose pipes are still being read (a descendant that
 * held them open was killed a moment ago) get their last completions, or
 * are cancelled; whatever remains after a second is freed once the ring is
 * gone (the caller tears it down first).
 */
void sd_worker_drain(struct sd_daemon *d)
{
	uint64_t until = sd_now_ns() + 1000000000u;

	for (struct sd_run *run = d->detached; run; run = run->next) {
		cancel_op(d, &run->out.op);
		cancel_op(d, &run->err.op);
		cancel_op(d, &run->rdy.op);
		cancel_op(d, &run->notify_op);
		cancel_op(d, &run->exec_op);
	}
	while (d->detached && sd_now_ns() < until && sd_loop_step(&d->loop) == 0)
		;
}

/* After the ring is gone, nothing the kernel does touches them. */
void sd_worker_free_detached(struct sd_daemon *d)
{
	while (d->detached)
		run_free(d->detached);
}
