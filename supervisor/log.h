/* SPDX-License-Identifier: MIT */
/*
 * spawnd's log: its own lines and its children's output, written to its
 * stderr through the event loop, never blocking it. The queue is bounded: a
 * child that floods, or a reader of spawnd's stderr that stalls, costs
 * dropped lines (counted and reported), not memory and not the loop.
 *
 * Each worker also keeps its recent output in a bounded ring (for
 * `spawnctl logs`).
 *
 * Under journald (stderr is the stream $JOURNAL_STREAM names), each line
 * goes to the journal instead, as one entry with a priority and structured
 * fields (SPAWND_CHILD, SPAWND_PID, SPAWND_EVENT, SPAWND_SIGNAL), so that
 * `journalctl SPAWND_CHILD=web/api` shows one child. Entries are datagrams
 * on journald's socket, never waited for (journal.h): while journald's
 * queue is full they are dropped, counted, and reported once it takes
 * entries again.
 */
#ifndef SD_LOG_H
#define SD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"
#include "loop.h"

#define SD_LOG_QUEUE_MAX (1u << 20)

struct sd_log {
	struct sd_loop *loop; /* NULL: write synchronously (before and after the loop) */
	int fd;
	char *buf;            /* queued bytes, appended to while a write is in flight */
	size_t len, cap;
	char *wbuf;           /* the bytes being written: the kernel's until it completes */
	size_t wlen, woff, wcap;
	struct sd_op op;
	uint64_t dropped;     /* lines dropped since the last report */
	bool verbose;
	bool direct;          /* fd is a regular file: written at once (see sd_log_init) */
	bool journal;         /* fd is journald's stream: entries go to the journal */
	struct sd_jsock jsock; /* journald's socket, when journal */
	uint64_t jdropped;    /* entries journald refused since the last report */
};

/* What a line is about, for the journal's fields (the text is the same
 * either way). Zero/NULL fields are left out. */
struct sd_log_fields {
	int priority;         /* LOG_ERR...LOG_DEBUG; 0: from the text (see sd_log) */
	const char *child;    /* SPAWND_CHILD: the unit's path, "web/api" */
	pid_t pid;            /* SPAWND_PID */
	const char *event;    /* SPAWND_EVENT: "crashed", "exited", "restarting", ... */
	int signal;           /* SPAWND_SIGNAL: the signal's number (its name in the text) */
};

void sd_log_init(struct sd_log *log, int fd);
/* Is fd the stream journald gave us ($JOURNAL_STREAM is its dev:ino)? */
bool sd_log_is_journal(int fd);
void sd_log_attach(struct sd_log *log, struct sd_loop *loop);
void sd_log_fini(struct sd_log *log); /* flushes synchronously */

/* "spawnd: <message>\n". In the journal its priority comes from the text:
 * "fatal:" is LOG_CRIT, "warning:" and "degraded:" LOG_WARNING, else LOG_INFO. */
__attribute__((format(printf, 2, 3))) void sd_log(struct sd_log *log, const char *fmt, ...);
/* The same, about a child: with fields for the journal. */
__attribute__((format(printf, 3, 4))) void sd_log_about(struct sd_log *log,
							 const struct sd_log_fields *f,
							 const char *fmt, ...);
/* Only with -v (LOG_DEBUG in the journal). */
__attribute__((format(printf, 2, 3))) void sd_debug(struct sd_log *log, const char *fmt, ...);
/* "<name>[<pid>]: <line>\n"; in the journal: SYSLOG_IDENTIFIER=<name>,
 * SPAWND_CHILD=<path>, SPAWND_PID=<pid>, LOG_INFO (stdout) or LOG_NOTICE
 * (stderr); SYSLOG_PID=<pid>. */
void sd_log_output(struct sd_log *log, const char *path, pid_t pid, bool is_err, const char *line,
		   size_t len);

/* A ring of recent lines. */
struct sd_ring {
	char *buf;
	size_t cap, start, len; /* bytes [start, start+len) mod cap, whole lines */
};

int sd_ring_init(struct sd_ring *ring, size_t cap);
void sd_ring_fini(struct sd_ring *ring);
void sd_ring_add(struct sd_ring *ring, const char *line, size_t len);
/* Copy the last n lines (all: n = SIZE_MAX) into out; returns the length. */
size_t sd_ring_tail(const struct sd_ring *ring, size_t n, char *out, size_t size);

#endif /* SD_LOG_H */
