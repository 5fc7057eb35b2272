/* SPDX-License-Identifier: MIT */
/*
 * spawnd's configuration: the supervision tree as declared in spawnd.conf(5)
 * (libconfig syntax), validated and resolved.
 *
 * A node with `children` is a supervisor, a node with `exec` a worker. Every
 * error names file, line and key; unknown keys are errors; nothing is
 * returned from a file that has one. See spawnd.conf(5) for every key and
 * its default.
 */
#ifndef SD_CONFIG_H
#define SD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strategy.h"

enum sd_node_kind {
	SD_SUPERVISOR,
	SD_WORKER,
};

enum sd_ready {
	SD_READY_EXEC,   /* ready once execve succeeded */
	SD_READY_NOTIFY, /* READY=1 on its NOTIFY_SOCKET (sd_notify protocol) */
	SD_READY_FD,     /* a newline on file descriptor ready_fd (s6 style) */
};

enum sd_output {
	SD_OUT_LOG,     /* read line by line into spawnd's log and the child's ring */
	SD_OUT_INHERIT, /* spawnd's own stdout/stderr */
	SD_OUT_NULL,    /* /dev/null */
	SD_OUT_FILE,    /* appended to a file (path) */
};

enum sd_on_stall {
	SD_STALL_RESTART, /* stop it (SIGABRT, then SIGKILL) and restart per strategy */
	SD_STALL_REPORT,  /* only report */
};

enum sd_sandbox_base {
	SD_SANDBOX_NONE,    /* no filter */
	SD_SANDBOX_DEFAULT, /* deny what no service needs */
	SD_SANDBOX_STRICT,  /* allow a minimal set for compute and network services */
};

struct sd_sandbox {
	enum sd_sandbox_base base;
	char **allow;   /* syscall names added to what base allows (NULL-terminated) */
	char **deny;    /* syscall names added to what base denies (NULL-terminated) */
	bool io_uring;  /* allow io_uring: its operations bypass seccomp (check says so) */
	bool kill;      /* action = "kill": SCMP_ACT_KILL_PROCESS rather than EPERM */
	bool custom;    /* written as a group, not a profile name */
};

/* Limits; a flag says each was set. Sizes in bytes. */
struct sd_limits {
	bool has_nofile, has_core, has_pids, has_memory;
	uint64_t nofile; /* RLIMIT_NOFILE */
	uint64_t core;   /* RLIMIT_CORE, bytes; UINT64_MAX: unlimited */
	uint64_t pids;   /* cgroup pids.max */
	uint64_t memory; /* cgroup memory limit, bytes */
};

struct sd_backoff {
	bool enabled;
	uint64_t initial_ns; /* first delay; doubles at each restart... */
	uint64_t max_ns;     /* ...up to this */
	uint64_t reset_after_ns; /* running this long resets the delay */
};

struct sd_node {
	char *name;  /* as written; the root's is its `name` key */
	char *path;  /* the full name: "pipeline/consumer" ("" for the root) */
	int line;    /* where its group starts in the file, for messages */
	enum sd_node_kind kind;
	struct sd_node *parent;

	/* Supervisors. */
	enum sv_strategy strategy; /* default one_for_one */
	unsigned intensity;        /* default 1 */
	uint64_t period_ns;        /* default 5 s */
	struct sd_node **children; /* in start order */
	size_t nchildren;

	/* Workers; and the restart type and shutdown of a supervisor within its
	 * parent (default permanent; shutdown infinity for supervisors). */
	enum sv_restart restart; /* default permanent */
	uint64_t shutdown_ns;    /* SIGTERM, then SIGKILL after this; default 5 s */
	bool shutdown_brutal;    /* "brutal_kill": SIGKILL at once */
	bool shutdown_infinity;  /* "infinity": never SIGKILL */

	char **argv;      /* NULL-terminated; argv[0] as written */
	char *exec_path;  /* the program: absolute, resolved (relative paths
			     against the file's folder, bare names in PATH) */
	enum sd_ready ready;        /* default exec */
	int ready_fd;               /* with SD_READY_FD */
	uint64_t ready_timeout_ns;  /* default 10 s */
	struct sd_backoff backoff;  /* default off */
	struct sd_sandbox sandbox;  /* default "default" */
	struct sd_limits limits;
	uint64_t stall_timeout_ns;  /* 0: off */
	enum sd_on_stall on_stall;  /* default restart */
	uint64_t watchdog_ns;       /* with ready = notify; 0: off */
	char **env;                 /* "KEY=value", NULL-terminated (may be empty) */
	char *cwd;                  /* NULL: the file's folder */
	char *user, *group;         /* NULL: spawnd's own */
	enum sd_output out, err;    /* default log */
	char *out_path, *err_path;  /* with SD_OUT_FILE */
};

struct sd_config {
	char *file;    /* as given */
	char *dir;     /* the file's folder, absolute */
	char *control; /* `control`: the control socket's path, or NULL */
	char *control_group;    /* `control_group`: may read status, logs, events; or NULL */
	int control_group_line; /* where it was set */
	struct sd_node *root;
};

/* The PATH children get, and bare program names are looked up in. */
#define SD_CLEAN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Errors, each one line: "FILE:LINE: KEY: what is wrong". */
struct sd_errors {
	char **msgs;
	size_t n;
};

/*
 * Load and validate file. On success *ret is the tree (free it with
 * sd_config_free); on failure returns -EINVAL with every problem found in
 * errs (at least one), or another -errno (file unreadable: also in errs).
 */
int sd_config_load(const char *file, struct sd_config **ret, struct sd_errors *errs);

/* The same from a string, as if read from `name` (for tests and fuzzing). */
int sd_config_parse(const char *text, const char *name, const char *dir,
		    struct sd_config **ret, struct sd_errors *errs);

void sd_config_free(struct sd_config *cfg);
void sd_errors_free(struct sd_errors *errs);

/* Durations ("500ms", "10s", "2m", "1h", or seconds as a number) and sizes
 * ("512M", "1G", "4096"): 0 or -EINVAL. */
int sd_parse_duration(const char *s, uint64_t *ret_ns);
int sd_parse_size(const char *s, uint64_t *ret_bytes);

/* Find a node by full name ("" or "/" is the root). */
struct sd_node *sd_config_find(struct sd_config *cfg, const char *path);

#endif /* SD_CONFIG_H */
