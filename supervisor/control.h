/* SPDX-License-Identifier: MIT */
/*
 * spawnd's control socket (spawnd-control(7)): a Unix stream socket on the
 * event loop, JSON lines in both directions. Connections are accepted,
 * read and written by io_uring operations; nothing blocks the loop: each
 * client has a bounded output queue, and a client that lets it fill up is
 * dropped.
 *
 * Who may do what is decided once per connection from SO_PEERCRED: root
 * and spawnd's own uid may do everything; members of control_group may
 * read (status, logs, events); anyone else gets permission_denied.
 *
 * Everything here runs on spawnd's one thread.
 */
#ifndef SD_CONTROL_H
#define SD_CONTROL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "request.h"

#define SD_CLIENTS_MAX     1024
#define SD_CLIENT_OUT_MAX  (4u << 20) /* queued output; past it the client is dropped */

struct sd_daemon;
struct sd_unit;
struct sd_control;

struct sd_client {
	struct sd_control *ctl;
	struct sd_client *prev, *next;
	int fd;
	pid_t pid;
	uid_t uid;
	bool may_read, may_write;

	struct sd_op recv_op;
	char *in;            /* bytes received, not yet a whole line */
	size_t inlen;
	bool discarding;     /* inside a line past SD_REQUEST_MAX: dropped until its end */

	struct sd_op send_op;
	char *out, *wbuf;    /* queued bytes; the bytes being sent (the kernel's) */
	size_t outlen, outcap, wlen, woff, wcap;

	bool events;         /* subscribed to every event */
	char *follow;        /* logs --follow: the worker's path, or NULL */
	unsigned waits;      /* requests waiting for a state */
	bool closing;        /* no more input: close once the output is out */
	bool dead;           /* shut down: freed once no operation is in flight */
};

/* A start, stop or restart waiting for its units to reach a state. */
struct sd_wait {
	struct sd_wait *prev, *next;
	struct sd_client *client;
	struct sd_request req;  /* owned */
	uint64_t *starts;       /* restart: each unit's start count when asked */
	struct sd_timer timer;  /* timeout_ms */
	json_object *resp;      /* the answer, once over */
};

struct sd_control {
	struct sd_daemon *d;
	char *path;           /* the socket; NULL: no control socket */
	int fd;
	dev_t dev;            /* the socket file we made, to remove only it */
	ino_t ino;
	bool adopted;         /* systemd's (socket activation): its to remove, not ours */
	gid_t group;          /* control_group */
	bool has_group;
	struct sd_op accept_op;
	struct sd_client *clients;
	unsigned nclients;
	unsigned ndead;       /* clients killed, to be freed after this step */
	unsigned nsubscribers; /* clients with events on */
	struct sd_wait *waits;
	bool check_waits;     /* a state changed: look at the waits after this step */
};

/* The default path: /run/spawnd/control for root, else
 * $XDG_RUNTIME_DIR/spawnd/control; -ENOENT if that is unset. */
int sd_control_default_path(char *buf, size_t size);

/*
 * Create the socket at path (its folder made 0750 if missing; the socket
 * 0660, owned by group if has_group) and start accepting. A socket left by a
 * spawnd that is gone is replaced; a live one is -EADDRINUSE. err says what
 * failed, for a person.
 */
int sd_control_open(struct sd_control *ctl, struct sd_daemon *d, const char *path,
		    const gid_t *group, char *err, size_t errlen);
/* Serve on a listening socket systemd passed (spawnd.socket): fd is taken,
 * and its file is left to systemd. */
int sd_control_adopt(struct sd_control *ctl, struct sd_daemon *d, int fd, const gid_t *group,
		     char *err, size_t errlen);
/* At exit, before sd_control_close: answer the waits; is output still
 * queued or in flight (step the loop while it is, for a bounded time)? */
bool sd_control_flushing(struct sd_control *ctl);
/* Stop accepting, drop every client, remove the socket (after the loop's
 * last step: operations still in flight are abandoned with the ring). */
void sd_control_close(struct sd_control *ctl);

/* Queue a line (or a JSON object as a line) to a client; a client whose
 * queue would pass SD_CLIENT_OUT_MAX is dropped. */
void sd_client_send(struct sd_client *c, const char *line, size_t len);
void sd_client_send_json(struct sd_client *c, json_object *obj); /* takes obj */

/* An event to every subscriber (takes ev). */
void sd_control_broadcast(struct sd_control *ctl, json_object *ev);
/* A line of a worker's output to its followers. */
void sd_control_output(struct sd_control *ctl, const char *path, pid_t pid, bool is_err,
		       const char *line, size_t len);
/* A request waiting for states (takes w; w->req filled). */
void sd_control_wait(struct sd_control *ctl, struct sd_client *c, struct sd_wait *w);
/* After each loop step: free the clients that are gone, finish the waits
 * whose states were reached. */
void sd_control_after_step(struct sd_control *ctl);

#endif /* SD_CONTROL_H */
