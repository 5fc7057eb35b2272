/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's messages (spawnd-control(7), version 1): a request
 * line parsed and validated into a struct, and the response and event
 * objects built around results. Pure: no I/O, no daemon state; spawnd's
 * control socket and spawnctl both use it, and it is fuzzed on its own.
 */
#ifndef SD_REQUEST_H
#define SD_REQUEST_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SD_PROTO_VERSION   1
#define SD_REQUEST_MAX     65536 /* bytes in a request line, newline included */
#define SD_NAMES_MAX       1024  /* names in one start/stop/restart/signal */
#define SD_TIMEOUT_MAX_MS  3600000
#define SD_TIMEOUT_DEF_MS  10000
#define SD_LINES_DEF       10
#define SD_LINES_MAX       100000 /* lines a logs request may ask for */
#define SD_NAME_MAX        4095   /* bytes in one name */

enum sd_cmd {
	SD_CMD_STATUS,
	SD_CMD_LOGS,
	SD_CMD_EVENTS,
	SD_CMD_START,
	SD_CMD_STOP,
	SD_CMD_RESTART,
	SD_CMD_SIGNAL,
	SD_CMD_RELOAD,
	SD_CMD_SHUTDOWN,
};

struct sd_request {
	enum sd_cmd cmd;
	json_object *id;    /* the request's "id" (a reference, echoed), or NULL */
	bool has_id;        /* "id" was given: id is NULL for "id":null, echoed too */
	char *name;         /* status (NULL: the whole tree), logs */
	char **names;       /* start, stop, restart, signal */
	size_t nnames;
	int signal;         /* signal */
	uint64_t lines;     /* logs */
	bool follow;        /* logs */
	bool wait;          /* start, stop, restart */
	uint64_t timeout_ms;
};

/* Error codes (the "code" of an error response). */
#define SD_ERR_BAD_JSON       "bad_json"
#define SD_ERR_TOO_LARGE      "too_large"
#define SD_ERR_BAD_VERSION    "bad_version"
#define SD_ERR_BAD_REQUEST    "bad_request"
#define SD_ERR_UNKNOWN_CMD    "unknown_command"
#define SD_ERR_PERMISSION     "permission_denied"
#define SD_ERR_NOT_FOUND      "not_found"
#define SD_ERR_NOT_A_WORKER   "not_a_worker"
#define SD_ERR_TIMEOUT        "timeout"
#define SD_ERR_FAILED         "failed"
#define SD_ERR_BUSY           "busy"
#define SD_ERR_CONFIG         "config"
#define SD_ERR_INTERNAL       "internal"

struct sd_request_error {
	const char *code;  /* one of SD_ERR_* */
	char message[256]; /* for a person: names the key or value at fault */
};

/*
 * Parse one request line (len bytes, without its newline; need not be
 * NUL-terminated). 0 and *req filled, or -EINVAL with err filled; then
 * req->id may still be set (so the error response can echo it) and
 * sd_request_free must be called either way. -ENOMEM.
 */
int sd_request_parse(const char *line, size_t len, struct sd_request *req,
		     struct sd_request_error *err);
void sd_request_free(struct sd_request *req);

const char *sd_cmd_name(enum sd_cmd cmd);
/* status, logs and events only read; the rest change something. */
bool sd_cmd_reads_only(enum sd_cmd cmd);

/* "TERM", "SIGTERM", "sigterm" or "15" (1..64): the number, or -EINVAL. */
int sd_signal_parse(const char *s);
/* "SIGTERM"; "SIG42" for a number without a name. */
const char *sd_signal_str(int sig, char buf[16]);

/* {"v":1,"id":ID,"ok":true} (id only if req has one); add the results. */
json_object *sd_response_ok(const struct sd_request *req);
/* {"v":1,"id":ID,"ok":false,"error":{"code":CODE,"message":MESSAGE}};
 * req may be NULL. */
json_object *sd_response_error(const struct sd_request *req, const char *code,
			       const char *message);
/* {"v":1,"event":TYPE,"time_ms":UNIX_MS,"name":NAME} (a NULL name is "",
 * the root); add the rest. */
json_object *sd_event_new(const char *type, const char *name);

/* One line: the object in compact JSON, "\n"-terminated, in a buffer the
 * caller frees; *len set. NULL on allocation failure. */
char *sd_json_line(json_object *obj, size_t *len);

#endif /* SD_REQUEST_H */
