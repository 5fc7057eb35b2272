/* SPDX-License-Identifier: MIT */
/*
 * What spawnctl and ptop share as clients of spawnd's control socket
 * (spawnd-control(7)): finding the socket, one connection and the lines
 * read from it, the JSON accessors for its answers, and the few formats
 * both print (uptimes, durations, a last exit, text cut to a width).
 *
 * Functions return 0 (or a count) or a negative errno; none prints, except
 * the put_* functions, whose job it is.
 */
#ifndef SD_CLIENT_H
#define SD_CLIENT_H

#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLIENT_RESPONSE_MAX (256u << 20) /* bytes in one line from spawnd */
#define CLIENT_JSON_DEPTH   1024         /* a status nests 2 levels per tree level */

/* One connection. fd -1: closed. The input buffer is owned by the
 * connection; a line returned by conn_next_line lives until the next call. */
struct conn {
	int fd;
	char *in; /* bytes received: [inoff, inlen) not yet returned */
	size_t inoff, inlen, incap;
	size_t inscan; /* [inoff, inscan) has no newline */
};

#define CONN_INIT { .fd = -1 }

long long mono_ms(void);

/* The control socket: -s PATH if given, else $SPAWND_CONTROL, else spawnd's
 * default (/run/spawnd/control for root, $XDG_RUNTIME_DIR/spawnd/control).
 * -ENOENT: no default (XDG_RUNTIME_DIR unset); -ENAMETOOLONG. */
int control_path(const char *given, char *buf, size_t size);

/* Connect, waiting at most timeout_ms for room in spawnd's backlog
 * (-EAGAIN past it: its loop is stuck). Blocking reads and writes after. */
int conn_open(struct conn *c, const char *path, long long timeout_ms);
/* Connect without waiting: the socket is non-blocking; -EAGAIN when the
 * backlog is full. */
int conn_open_nonblock(struct conn *c, const char *path);
/* Send all of buf: -EAGAIN if a non-blocking socket is full. */
int conn_send(struct conn *c, const char *buf, size_t len);
/* Read what is there (one recv): bytes read, 0 at the end of the stream,
 * -EAGAIN if nothing, -EMSGSIZE past CLIENT_RESPONSE_MAX, -ENOMEM. */
int conn_fill(struct conn *c);
/* The next whole line, its newline replaced by a NUL: 1, or 0 if none yet. */
int conn_next_line(struct conn *c, char **ret_line, size_t *ret_len);
/*
 * Wait for the next line: 1; 0 at the end of the stream (a last line
 * without its newline is dropped: spawnd died writing it); -ETIMEDOUT past
 * deadline (mono_ms; -1: none); -EINTR once *stop is set (by a signal let
 * in by waitmask while waiting, if waitmask is not NULL).
 */
int conn_read_line(struct conn *c, long long deadline, const sigset_t *waitmask,
		   volatile sig_atomic_t *stop, char **ret_line, size_t *ret_len);
void conn_close(struct conn *c);

/* ---- JSON ---- */

json_object *jget(json_object *o, const char *key); /* NULL if absent or null */
const char *jstr(json_object *o, const char *key);
const char *jstr_or(json_object *o, const char *key, const char *def);
long long jint(json_object *o, const char *key);
bool jbool(json_object *o, const char *key);
json_object *jarr(json_object *o, const char *key);
size_t jlen(json_object *arr);
json_object *jidx(json_object *arr, size_t i); /* NULL if not an array or past its end */
/* A line as a JSON object (owned by the caller), or NULL. */
json_object *parse_object(const char *line, size_t len);

/* ---- formats ---- */

const char *shown(const char *path); /* the root as "/" */
void fmt_uptime(char *buf, size_t size, long long ms); /* 5s, 3m12s, 2h05m, 3d04h */
void fmt_secs(char *buf, size_t size, long long ms);   /* 60s, 0.5s */
void fmt_last_exit(char *buf, size_t size, json_object *last_exit); /* exit 1, SIGSEGV (core) */
const char *plural(long long n);
/* snprintf for text shown to a person, where cutting a long value short is
 * intended: what vsnprintf returns. */
int textf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- text that fits ---- */

enum cut { CUT_END, CUT_MIDDLE };

size_t text_width(const char *s);
/* Print s in at most cols columns, cut at its end (or middle) for an
 * ellipsis ("…" if utf8, else "..."); with pad, filled with spaces to cols.
 * Control characters and bytes that are no character come out as '?'. */
void put_fit(FILE *f, bool utf8, const char *s, size_t cols, enum cut cut, bool pad);
void put_right(FILE *f, const char *s, size_t cols);

#endif /* SD_CLIENT_H */
