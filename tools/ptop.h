/* SPDX-License-Identifier: MIT */
/*
 * ptop: the supervision trees of a running spawnd, down to the OS
 * processes under each worker and the green processes of its libgp
 * programs (ptop(1)).
 *
 * Three kinds of sources, none waited on: spawnd's control socket
 * (ptop_source.c: struct link), each libgp program's introspection socket
 * (struct gp_source), and /proc (struct proc_table). Each refresh asks
 * all of them; what answers in time is shown, what does not is said.
 * ptop_rows.c turns what they hold into rows (the tree, folded and
 * filtered), printed by ptop.c in batch mode or drawn by ptop_screen.c.
 *
 * Everything runs on the one thread of main's poll loop.
 */
#ifndef PTOP_H
#define PTOP_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "client.h"

#define STATUS_WAIT_MS 3000  /* a status answer later than this: spawnd is stuck */
#define ACTION_WAIT_MS 10000 /* start, stop, restart: how long spawnd waits */
#define GP_WAIT_MS     2000  /* an introspection answer later than this: no answer */
#define RETRY_MS       1000  /* between attempts to reach spawnd */
#define GP_SOURCES_MAX 64    /* libgp programs watched at once */
#define PENDING_MAX    16    /* requests in flight to spawnd */
#define SCHED_MAX      256   /* schedulers whose utilisation is computed */

/* ---- spawnd's control socket ---- */

enum req_kind { REQ_STATUS, REQ_LOGS, REQ_ACTION };

struct pending {
	unsigned id;
	enum req_kind kind;
	long long deadline; /* mono_ms */
	char what[PATH_MAX + 32]; /* an action, said for a person: "restart web" */
};

struct link {
	char path[PATH_MAX];
	struct conn conn;      /* fd -1 while down */
	long long retry_at;    /* while down: the next attempt */
	char down_why[256];    /* while down: why, for a person */
	bool was_up;           /* once connected: a loss is news */
	unsigned next_id;
	struct pending pend[PENDING_MAX];
	size_t npend;
	json_object *status;   /* the last status response (owned), NULL before one */
	long long status_at;   /* when it came (mono_ms) */
	json_object *logs;     /* the last logs response (owned) */
	char logs_for[PATH_MAX]; /* the worker those logs are of */
	char news[512];        /* the last action's outcome, or a loss, for a person */
};

void link_init(struct link *l, const char *path);
void link_free(struct link *l);
bool link_up(const struct link *l);
/* Connect if down and due, and give up on requests past their deadline. */
void link_tick(struct link *l, long long now);
/* Ask for the status (unless one is on its way). */
void link_ask_status(struct link *l, long long now);
/* Ask for a worker's last lines. */
void link_ask_logs(struct link *l, const char *name, int lines, long long now);
/* start, stop, restart (wait for the target state) or signal: 0 or -errno. */
int link_act(struct link *l, const char *cmd, const char *name, int sig, long long now);
/* The socket is readable: read and handle what came. */
void link_readable(struct link *l, long long now);
/* An answer still expected (batch mode waits for them). */
bool link_waiting(const struct link *l, enum req_kind kind);

/* ---- a libgp program's introspection socket ---- */

struct gp_source {
	char path[PATH_MAX];  /* dir/PID.sock */
	int os_pid;
	int fd;               /* -1 but while fetching */
	char *buf;            /* the answer so far */
	size_t len, cap;
	long long deadline;   /* of the fetch in progress */
	json_object *answer;  /* the last answer (owned), NULL before one */
	char err[160];        /* why the last fetch failed, "" if it did not */
	bool wanted;          /* still shown: not dropped at the next sweep */
	/* Utilisation from two answers' cpu_ms. */
	long long prev_cpu[SCHED_MAX];
	long long prev_at;
	double util[SCHED_MAX]; /* percent; < 0: not known yet */
	unsigned nutil;
};

struct gp_query {
	const char *sort;   /* reductions, mailbox, heap, pid, name */
	const char *filter; /* "" for none */
	int limit;
};

void gp_source_init(struct gp_source *g, const char *path, int os_pid);
void gp_source_free(struct gp_source *g);
/* Start a fetch unless one is in progress: 0 or -errno (in g->err too). */
int gp_fetch(struct gp_source *g, const struct gp_query *q, long long now);
/* The socket is readable, or the deadline passed: 1 when the fetch ended. */
int gp_readable(struct gp_source *g, long long now);
void gp_tick(struct gp_source *g, long long now);
/* libgp's rule for the socket of a program started without spawnd. */
int gp_default_path(int os_pid, char *buf, size_t size);

/* ---- /proc ---- */

struct proc_info {
	int pid, ppid;
	char comm[32];
	char state;                /* R, S, D, Z... */
	unsigned long long ticks;  /* utime + stime */
	unsigned long long start;  /* starttime, in ticks since boot */
	long long rss_kib;
	double cpu;                /* percent of one CPU since the last sample */
};

struct proc_table {
	struct proc_info *v; /* by pid */
	size_t n;
	long long at_ms;     /* mono_ms of the sample */
};

/* Read /proc; prev (may be empty) gives CPU% over the interval, or for a
 * process not in it, its average over its life. */
int proc_sample(struct proc_table *t, const struct proc_table *prev);
const struct proc_info *proc_find(const struct proc_table *t, int pid);
void proc_table_free(struct proc_table *t);
long long proc_uptime_ms(const struct proc_info *p); /* since it started */

/* ---- rows ---- */

enum row_kind { ROW_SUP, ROW_WORKER, ROW_OSPROC, ROW_RUNTIME, ROW_SCHED, ROW_GREEN, ROW_MORE,
		ROW_NOTE };

enum row_color { COL_NONE, COL_GOOD, COL_STARTING, COL_BACKOFF, COL_STALLED, COL_FAILED,
		 COL_DIM };

struct row {
	enum row_kind kind;
	int depth;
	bool foldable, folded;
	char key[PATH_MAX + 32]; /* stable across refreshes: folds and the selection */
	char name[256];
	char state[24];
	char pid[24];
	char uptime[16];
	char restarts[32];
	char cpu[12];
	char rss[12];
	char info[512];
	enum row_color color;
	bool wide;          /* info spans PID to the end: a libgp runtime's rows */
	json_object *node; /* the unit, or the green process (borrowed from the source) */
	struct gp_source *gp; /* a runtime's, its schedulers' and green processes' */
	int os_pid;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

/* What the rows are made of. */
struct view {
	struct link *link;         /* NULL with -p */
	struct gp_source *gp;      /* the sources, GP_SOURCES_MAX */
	size_t ngp;
	struct proc_table procs;
	struct gp_query query;
	const char *filter;        /* units and green processes: "" for none */
	char **folded;             /* keys of folded rows */
	size_t nfolded;
	int single_pid;            /* -p: the program watched, else 0 */
	bool utf8;
};

int rows_build(struct view *v, struct rows *out);
void rows_free(struct rows *r);
bool view_folded(const struct view *v, const char *key);
int view_toggle_fold(struct view *v, const char *key);
/* The source for a socket path: found, or added (NULL when full). */
struct gp_source *view_gp(struct view *v, const char *path, int os_pid);

/* The header's facts. */
struct header {
	char line1[512], line2[512];
};
void header_build(const struct view *v, struct header *h);
/* spawnd's BPF mode from its status, or "unknown" (an older spawnd). */
void bpf_mode(json_object *resp, char *buf, size_t size);

/* Columns: their widths for a screen of `cols`. */
enum { CELL_NAME, CELL_STATE, CELL_PID, CELL_UPTIME, CELL_RESTARTS, CELL_CPU, CELL_RSS, CELL_INFO,
       CELLS };
struct layout {
	int width[CELLS];
};
void layout_for(int cols, struct layout *lay);
/* A row's cells as text fitted to the layout (the name with the tree's
 * indentation, and a fold mark if marks); the column titles if row is
 * NULL. Each cell is owned by the caller (free). */
int row_cells(const struct view *v, const struct row *row, const struct layout *lay, bool marks,
	      char *cells[CELLS]);
/* The row as one line on f. */
int row_print(const struct view *v, const struct row *row, const struct layout *lay, FILE *f);

/* The detail of a row, one line each (for the screen's pane): lines
 * appended to out until max; how many. */
size_t row_detail(const struct view *v, const struct row *row, char (*out)[512], size_t max);

/* The snapshot as JSON (owned by the caller). */
json_object *snapshot_json(struct view *v);

/* ptop_screen.c: the interactive screen until q; an exit status. */
int screen_run(struct view *v, long long delay_ms);

/* ptop.c: one round of asking every source (shared with the screen). */
void refresh_start(struct view *v, long long now);
/* The fds to poll for the sources, and their owners: how many. */
struct pollfd;
size_t sources_pollfds(struct view *v, struct pollfd *pfd, size_t max);
void sources_ready(struct view *v, struct pollfd *pfd, size_t n, long long now);

#endif /* PTOP_H */
