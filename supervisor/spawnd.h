/* SPDX-License-Identifier: MIT */
/*
 * spawnd's running state: the tree of units built from the configuration
 * (supervisors driving the restart engine, workers with their current
 * incarnation), the event loop, the cgroups, the log.
 *
 * Everything runs on spawnd's one thread; nothing here is shared.
 * Ownership: the daemon owns the units; a unit owns its current run; a run
 * whose process has exited is detached from its unit and freed once its
 * last operation in flight has completed (the kernel may still write into
 * its buffers until then).
 */
#ifndef SD_SPAWND_H
#define SD_SPAWND_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/types.h>

#include "bpf.h"
#include "cgroup.h"
#include "config.h"
#include "control.h"
#include "launch.h"
#include "log.h"
#include "loop.h"
#include "sandbox.h"
#include "service.h"
#include "strategy.h"
#include "symbolize.h"

#define SD_EXIT_OK     0 /* clean shutdown */
#define SD_EXIT_GAVEUP 1 /* the root supervisor gave up */
#define SD_EXIT_USAGE  2 /* usage or configuration error */

struct sd_daemon;
struct sd_unit;

/* One end of a pipe that spawnd reads: a child's stdout or stderr, or its
 * readiness fd. */
#define SD_READER_BUF 4096 /* the longest line kept whole */
#define SD_NOTIFY_BUF 4096 /* the longest sd_notify datagram read */

struct sd_reader {
	struct sd_op op;
	int fd;
	size_t len;      /* bytes of an unfinished line in buf */
	char *buf;       /* SD_READER_BUF bytes, only while fd is in use */
	bool is_err;     /* stderr (for output) */
};

/* One incarnation of a worker. */
struct sd_run {
	struct sd_unit *unit; /* NULL once detached (its process is gone) */
	struct sd_daemon *d;
	struct sd_run *prev, *next; /* in d->detached, once detached */
	pid_t pid;
	int pidfd;
	uint64_t gen;
	uint64_t started_ns;
	struct sd_cgroup cg;
	bool in_cgroup;   /* its tree is in cg (else in its process group) */
	bool exec_ok;     /* execve succeeded */
	bool ready;
	bool stop_sent;   /* spawnd sent the stop signal: its death is "normal" */
	bool exited;
	int exec_stage, exec_err; /* a failure before execve, or -1 */

	struct sd_op exec_op; /* execve's outcome, acted on from the loop */
	struct sd_reader out, err, rdy;
	struct sd_op notify_op; /* READY=1 and friends, for ready = notify */
	int notify_fd;
	char *notify_buf; /* SD_NOTIFY_BUF bytes, for ready = notify only */
	struct iovec notify_iov;
	struct msghdr notify_msg;

	struct sd_timer ready_timer; /* ready_timeout */
	struct sd_timer kill_timer;  /* SIGKILL after shutdown */
	uint64_t last_watchdog_ns;
	char status[128];            /* its last STATUS= */
};

/* How a worker last ended. */
struct sd_exit {
	bool valid;
	int code;      /* exit status, or -1 */
	int signal;    /* the signal that killed it, or 0 */
	bool core;
	bool normal;   /* a clean exit, or the stop spawnd asked for */
	uint64_t at_ns;
	uint64_t uptime_ns;
	bool start_failed;
	int stage, err; /* with start_failed */
};

struct sd_unit {
	struct sd_daemon *d;
	struct sd_node *node;
	struct sd_unit *parent; /* NULL: the root, or retired */
	uint32_t index; /* in parent */
	bool held;      /* stopped by an operator: stays down until started */
	bool failed;    /* a supervisor that gave up */
	bool retired;   /* removed by a reload: stopping, then freed */
	struct sd_unit *next_retired;
	uint64_t starts; /* times started (for waits on a restart) */

	/* Supervisors. */
	struct sv_sup sv;
	struct sd_unit **children;
	uint32_t *plan_buf; /* two arrays of sv_capacity() for plans */
	bool reported;      /* its end was told to its parent */

	/* Workers. */
	struct sd_run *run;
	struct sd_filter filter;
	char **envp;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	bool set_ids;
	struct sd_exit last;
	uint64_t restarts;
	uint64_t backoff_ns;   /* the next delay */
	uint64_t not_before;   /* no start before this (backoff) */
	struct sd_timer backoff_timer;
	struct sd_timer stall_timer; /* /proc sampling and the watchdog */
	uint64_t stall_cpu, stall_sys; /* last sample: CPU ticks; syscr+syscw+stime */
	uint64_t stall_since;         /* when progress was last seen */
	char stall_state;
	bool stalled;
	bool stall_bpf;       /* its run is watched by the stall probe, not sampled */
	json_object *last_crash; /* the last crash report (crash.c), of it or a descendant; or NULL */
	bool exit_crash;      /* its last exit has last_crash as its evidence */
	json_object *last_stall; /* the last stall seen (sd_stall_json); or NULL */
	struct sd_ring ring;   /* recent output */
};

struct sd_daemon {
	struct sd_loop loop;
	struct sd_log log;
	struct sd_config *cfg;
	struct sd_cgroups cg;
	struct sd_unit *root;
	pid_t self;
	uint64_t next_gen;

	int sigfd;
	struct sd_op sig_op;
	struct signalfd_siginfo sigbuf;

	struct sd_op wait_op; /* WAITID(P_ALL): reaps workers and adopted orphans */
	siginfo_t wait_info;
	bool wait_armed;

	struct sd_run *detached; /* exited runs still waiting for their last completions */
	/* The runs of units (u->run), by pid: a tsearch(3) tree of &run->pid,
	 * so that a reap finds its run without walking the tree. Incomplete
	 * (a run left out) only if tsearch ran out of memory: then the walk. */
	void *runs_by_pid;
	bool runs_by_pid_incomplete;
	struct rlimit nofile;    /* what spawnd was given: children get it back */

	struct sd_control ctl;
	struct sd_service svc;   /* what systemd is told */
	struct sd_bpf bpf;
	const char *cfg_file;    /* what reload re-reads; NULL for `spawnd exec` */
	struct sd_config **old_cfgs; /* configurations retired units still point into */
	size_t nold_cfgs;
	struct sd_unit *retired; /* units a reload removed, until they are down */
	bool restart_root;       /* the root is stopping to start again */

	bool shutting_down;
	bool done;
	int exit_status;
	char *notify_dir; /* where workers' NOTIFY_SOCKETs live */
	char *gp_dir_base; /* <control socket's folder>.gp: workers' libgp introspection */
	uint64_t started_ns; /* sd_now_ns() at start, for status's uptime */
	/* Restarts per second over the last minute, for status: slot s % 60
	 * counts the restarts of second s (written by the loop thread only). */
	struct {
		uint64_t sec;
		uint64_t count;
	} restarts_by_sec[60];
};

/* A stall, as the stall probe or /proc sampling saw it. */
struct sd_stall {
	const char *kind;   /* "uninterruptible", "spinning", "runnable", "watchdog" */
	const char *source; /* "bpf" or "proc" */
	pid_t pid, tid;     /* the process, and its thread that stalls */
	char comm[16];      /* that thread's name */
	uint64_t for_ns;
	char kernel_stack[2048]; /* a D-state thread's, one frame a line; or "" */
	uint64_t green_pid; /* libgp: the green process on that scheduler thread; 0: none */
	char green_name[64];
};

/* gpprobe.c: the green process (pid, name) that libgp scheduler thread tid
 * of process pid runs; 0, -ENOENT (not libgp), -ESRCH (not running one). */
int sd_gp_current(pid_t pid, pid_t tid, uint64_t *green_pid, char *name, size_t size);

/* tree.c */
int sd_tree_build(struct sd_daemon *d, char *err, size_t errlen);
struct sd_unit *sd_unit_new(struct sd_daemon *d, struct sd_node *n, struct sd_unit *parent,
			    uint32_t index, char *err, size_t errlen);
void sd_unit_free(struct sd_unit *u);
void sd_unit_retire(struct sd_unit *u, enum sv_state state);
void sd_retired_sweep(struct sd_daemon *d);
void sd_config_keep_old(struct sd_daemon *d, struct sd_config *cfg);
void sd_tree_free(struct sd_daemon *d);
void sd_tree_start(struct sd_daemon *d);
void sd_tree_shutdown(struct sd_daemon *d);
void sd_drive(struct sd_unit *sup);
void sd_child_exited(struct sd_unit *u, bool normal);
void sd_child_ready(struct sd_unit *u);
void sd_count_restart(struct sd_daemon *d);
uint64_t sd_restarts_last_minute(const struct sd_daemon *d);

/* worker.c */
int sd_worker_prepare(struct sd_unit *u, char *err, size_t errlen);
void sd_worker_release(struct sd_unit *u);
int sd_worker_start(struct sd_unit *u);
void sd_worker_stop(struct sd_unit *u);
int sd_worker_gp_dir(const struct sd_unit *u, char *out, size_t size);
void sd_worker_reaped(struct sd_daemon *d, const siginfo_t *info);
void sd_arm_wait(struct sd_daemon *d);
void sd_worker_drain(struct sd_daemon *d);
void sd_worker_free_detached(struct sd_daemon *d);
const char *sd_signal_name(int sig);
/* The run of a unit whose process is pid, or NULL (an orphan, say). */
struct sd_run *sd_run_find(struct sd_daemon *d, pid_t pid);
/* At exit, after the units are freed. */
void sd_run_index_free(struct sd_daemon *d);
/* Evidence from the probes: a worker's thread stalls; a descendant of a
 * worker (not the worker itself) crashed, with crash.c's report. */
void sd_worker_stalled(struct sd_daemon *d, pid_t worker, struct sd_stall *st);
void sd_worker_descendant_crashed(struct sd_daemon *d, pid_t worker, pid_t pid, json_object *crash);
int sd_worker_signal(struct sd_unit *u, int sig); /* the pid signalled, or -ESRCH */

/* command.c */
struct sd_unit *sd_unit_find(struct sd_daemon *d, const char *path);
const char *sd_unit_path(const struct sd_unit *u);
const char *sd_unit_state(const struct sd_unit *u);
void sd_exit_message(const struct sd_exit *e, char *buf, size_t size);
json_object *sd_exit_json(const struct sd_exit *e);
void sd_command(struct sd_client *c, struct sd_request *req);
json_object *sd_wait_response(struct sd_daemon *d, struct sd_wait *w, bool timed_out);

/* event.c */
void sd_event_unit(struct sd_daemon *d, const char *type, const struct sd_unit *u, pid_t pid);
void sd_event_exit(struct sd_daemon *d, const struct sd_unit *u, pid_t pid);
void sd_event_restarted(struct sd_daemon *d, const struct sd_unit *sup, const struct sv_plan *plan);
void sd_event_stalled(struct sd_daemon *d, const struct sd_unit *u, pid_t pid, json_object *stall);
void sd_event_descendant_crashed(struct sd_daemon *d, const struct sd_unit *u, json_object *crash);
void sd_event_gave_up(struct sd_daemon *d, const struct sd_unit *sup);

/* crash.c: crash evidence per process, and the reports built from it. */
struct sd_crash;
struct sd_crashes {
	struct sd_crash *list; /* newest first, at most SD_CRASHES_MAX */
	size_t n;
	struct sd_symbols syms;
};
void sd_crashes_init(struct sd_crashes *c);
void sd_crashes_fini(struct sd_crashes *c);
/* Take in a record of the proctree program (struct sd_bpf_tree_event or
 * sd_bpf_fatal_event). */
void sd_crashes_record(struct sd_crashes *c, const void *ev, size_t size);
/* The report for process pid that died of signal sig (0: it exited), and
 * forget it: a JSON object (see spawnd-control(7), "crash") whose
 * "message" says it in a line, or NULL when there is no evidence beyond
 * the signal. spawnd_pid: who is spawnd (its own signals are no crash). */
json_object *sd_crashes_take(struct sd_crashes *c, pid_t pid, int sig, pid_t spawnd_pid);
/* Forget pid without a report. */
void sd_crashes_forget(struct sd_crashes *c, pid_t pid);
json_object *sd_stall_json(const struct sd_stall *st);

/* reload.c */
json_object *sd_reload(struct sd_daemon *d, const struct sd_request *req);

#endif /* SD_SPAWND_H */
