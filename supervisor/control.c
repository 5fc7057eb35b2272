/* SPDX-License-Identifier: MIT */
/* spawnd's control socket: connections, lines in and out (see control.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "spawnd.h"
#include "util.h"

#define IN_CAP SD_REQUEST_MAX

int sd_control_default_path(char *buf, size_t size)
{
	const char *rt;
	int n;

	if (geteuid() == 0) {
		n = snprintf(buf, size, "/run/spawnd/control");
	} else {
		rt = getenv("XDG_RUNTIME_DIR");
		if (!rt || rt[0] != '/')
			return -ENOENT;
		n = snprintf(buf, size, "%s/spawnd/control", rt);
	}
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- clients ------------------------------------------------------------------------ */

static void client_free(struct sd_client *c)
{
	struct sd_control *ctl = c->ctl;

	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->nclients--;
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c->wbuf);
	free(c->follow);
	free(c);
}

static void drop_waits_of(struct sd_control *ctl, struct sd_client *c);
static void send_more(struct sd_client *c);

/* End a connection: the socket is shut down, so that what is in flight on
 * it completes at once. The client itself is freed after the step in which
 * its last completion came (sd_control_after_step): nothing frees it while
 * a caller up the stack may still hold it. */
static void client_kill(struct sd_client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->events)
		c->ctl->nsubscribers--;
	c->events = false;
	c->ctl->ndead++;
	drop_waits_of(c->ctl, c);
	shutdown(c->fd, SHUT_RDWR);
}

static void sent(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_client *c = (struct sd_client *)((char *)op - offsetof(struct sd_client, send_op));

	(void)loop;
	(void)flags;
	if (res <= 0 || c->dead) {
		c->wlen = c->woff = 0;
		client_kill(c);
		return;
	}
	c->woff += (size_t)res;
	if (c->woff >= c->wlen)
		c->wlen = c->woff = 0;
	send_more(c);
}

/* One send in flight at a time; the queue becomes the buffer in flight
 * (swapped, never reallocated under the kernel). */
static void send_more(struct sd_client *c)
{
	struct io_uring_sqe *sqe;

	if (c->dead || c->send_op.inflight)
		return;
	if (!c->wlen) {
		char *b = c->wbuf;
		size_t cap = c->wcap;

		if (!c->outlen) {
			if (c->closing && !c->waits)
				client_kill(c);
			return;
		}
		c->wbuf = c->out;
		c->wcap = c->outcap;
		c->wlen = c->outlen;
		c->woff = 0;
		c->out = b;
		c->outcap = cap;
		c->outlen = 0;
	}
	sqe = sd_loop_sqe(&c->ctl->d->loop, &c->send_op);
	io_uring_prep_send(sqe, c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
}

void sd_client_send(struct sd_client *c, const char *line, size_t len)
{
	struct sd_daemon *d = c->ctl->d;

	if (c->dead)
		return;
	if (c->outlen + (c->wlen - c->woff) + len > SD_CLIENT_OUT_MAX) {
		sd_log(&d->log, "control: client pid %d (uid %u) reads too slowly: disconnected",
		       (int)c->pid, (unsigned)c->uid);
		client_kill(c);
		return;
	}
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *b;

		while (cap < c->outlen + len)
			cap *= 2;
		b = realloc(c->out, cap);
		if (!b) {
			sd_log(&d->log, "control: out of memory: client pid %d disconnected", (int)c->pid);
			client_kill(c);
			return;
		}
		c->out = b;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, line, len);
	c->outlen += len;
	send_more(c);
}

void sd_client_send_json(struct sd_client *c, json_object *obj)
{
	size_t len;
	char *line = obj ? sd_json_line(obj, &len) : NULL;

	json_object_put(obj);
	if (!line) {
		sd_log(&c->ctl->d->log, "control: out of memory: client pid %d disconnected",
		       (int)c->pid);
		client_kill(c);
		return;
	}
	sd_client_send(c, line, len);
	free(line);
}

static void reply_error(struct sd_client *c, const struct sd_request *req, const char *code,
			const char *message)
{
	sd_client_send_json(c, sd_response_error(req, code, message));
}

/* One line from the client: a request. */
static void handle_line(struct sd_client *c, const char *line, size_t len)
{
	struct sd_request req;
	struct sd_request_error err;
	int r = sd_request_parse(line, len, &req, &err);

	if (!c->may_read) { /* a stranger: refused, whatever it asked */
		char msg[128];

		snprintf(msg, sizeof(msg), "uid %u may not use this socket", (unsigned)c->uid);
		reply_error(c, &req, SD_ERR_PERMISSION, msg);
		sd_request_free(&req);
		return;
	}
	if (r < 0) {
		if (r == -ENOMEM)
			reply_error(c, &req, SD_ERR_INTERNAL, "out of memory");
		else
			reply_error(c, &req, err.code, err.message);
		sd_request_free(&req);
		return;
	}
	if (!(sd_cmd_reads_only(req.cmd) ? c->may_read : c->may_write)) {
		char msg[128];

		snprintf(msg, sizeof(msg), "uid %u may not %s", (unsigned)c->uid,
			 sd_cmd_name(req.cmd));
		reply_error(c, &req, SD_ERR_PERMISSION, msg);
		sd_request_free(&req);
		return;
	}
	sd_command(c, &req); /* takes req */
}

static void recv_more(struct sd_client *c);

static void received(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_client *c = (struct sd_client *)((char *)op - offsetof(struct sd_client, recv_op));
	char *start, *nl;

	(void)loop;
	(void)flags;
	if (c->dead)
		return;
	if (res <= 0) {
		/* The client is done sending (or gone): answer what is
		 * pending, then close. */
		c->closing = true;
		if (res < 0)
			client_kill(c);
		else
			send_more(c);
		return;
	}
	c->inlen += (size_t)res;
	start = c->in;
	while (!c->dead && (nl = memchr(start, '\n', c->inlen - (size_t)(start - c->in)))) {
		if (c->discarding)
			c->discarding = false; /* the end of the line too long */
		else
			handle_line(c, start, (size_t)(nl - start));
		start = nl + 1;
	}
	c->inlen -= (size_t)(start - c->in);
	memmove(c->in, start, c->inlen);
	if (c->inlen == IN_CAP) {
		/* A line longer than any request: say so once, skip to its end. */
		if (!c->discarding) {
			char msg[80];

			snprintf(msg, sizeof(msg), "request longer than %d bytes", SD_REQUEST_MAX);
			reply_error(c, NULL, SD_ERR_TOO_LARGE, msg);
		}
		c->discarding = true;
		c->inlen = 0;
	}
	recv_more(c);
}

static void recv_more(struct sd_client *c)
{
	struct io_uring_sqe *sqe;

	if (c->dead || c->closing)
		return;
	sqe = sd_loop_sqe(&c->ctl->d->loop, &c->recv_op);
	io_uring_prep_recv(sqe, c->fd, c->in + c->inlen, IN_CAP - c->inlen, 0);
}

/* The groups of the peer include gid: its primary group, or one of its
 * supplementary groups (SO_PEERGROUPS). */
static bool peer_in_group(int fd, const struct ucred *cred, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (cred->gid == gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false; /* more than 256 groups: only the primary counts */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static void accepted(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_control *ctl = (struct sd_control *)((char *)op - offsetof(struct sd_control, accept_op));
	struct sd_daemon *d = ctl->d;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct sd_client *c;

	(void)loop;
	if (!(flags & IORING_CQE_F_MORE) && ctl->fd >= 0) {
		/* Multishot ended (an error, or the kernel's choice): re-arm. */
		struct io_uring_sqe *sqe = sd_loop_sqe(&d->loop, &ctl->accept_op);

		io_uring_prep_multishot_accept(sqe, ctl->fd, NULL, NULL, SOCK_CLOEXEC);
	}
	if (res < 0) {
		if (res != -ECANCELED && res != -EINTR && res != -EAGAIN)
			sd_log(&d->log, "control: accept: %s", strerror(-res));
		return;
	}
	if (ctl->nclients >= SD_CLIENTS_MAX) {
		sd_log(&d->log, "control: %u clients already: connection refused", ctl->nclients);
		close(res);
		return;
	}
	if (getsockopt(res, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		sd_log(&d->log, "control: SO_PEERCRED: %s: connection refused", strerror(errno));
		close(res);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->in = malloc(IN_CAP))) {
		free(c);
		sd_log(&d->log, "control: out of memory: connection refused");
		close(res);
		return;
	}
	c->ctl = ctl;
	c->fd = res;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->may_write = cred.uid == 0 || cred.uid == geteuid();
	c->may_read = c->may_write || (ctl->has_group && peer_in_group(res, &cred, ctl->group));
	c->recv_op.fn = received;
	c->send_op.fn = sent;
	c->next = ctl->clients;
	if (c->next)
		c->next->prev = c;
	ctl->clients = c;
	ctl->nclients++;
	recv_more(c);
}

/* ---- events, output, waits ------------------------------------------------------------ */

void sd_control_broadcast(struct sd_control *ctl, json_object *ev)
{
	char *line = NULL;
	size_t len = 0;

	ctl->check_waits = true;
	if (!ev)
		return;
	for (struct sd_client *c = ctl->clients, *next; c; c = next) {
		next = c->next;
		if (!c->events || c->dead)
			continue;
		if (!line && !(line = sd_json_line(ev, &len)))
			break;
		sd_client_send(c, line, len);
	}
	free(line);
	json_object_put(ev);
}

void sd_control_output(struct sd_control *ctl, const char *path, pid_t pid, bool is_err,
		       const char *line, size_t len)
{
	json_object *ev = NULL;
	char *text = NULL;
	size_t tlen = 0;

	for (struct sd_client *c = ctl->clients, *next; c; c = next) {
		next = c->next;
		if (!c->follow || c->dead || strcmp(c->follow, path) != 0)
			continue;
		if (!text) {
			ev = sd_event_new("log", path);
			if (!ev)
				return;
			json_object_object_add(ev, "pid", json_object_new_int(pid));
			json_object_object_add(ev, "stream",
					       json_object_new_string(is_err ? "stderr" : "stdout"));
			json_object_object_add(ev, "line", json_object_new_string_len(line, (int)len));
			text = sd_json_line(ev, &tlen);
			json_object_put(ev);
			if (!text)
				return;
		}
		sd_client_send(c, text, tlen);
	}
	free(text);
}

/* A wait leaves the list (and its timer) first, then answers, then is
 * freed: answering may drop its client, which drops the client's waits
 * still listed. */
static void wait_unlink(struct sd_control *ctl, struct sd_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		ctl->waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	sd_timer_cancel(&ctl->d->loop, &w->timer);
}

static void wait_free(struct sd_wait *w)
{
	struct sd_client *c = w->client;

	sd_request_free(&w->req);
	free(w->starts);
	free(w);
	c->waits--;
	send_more(c); /* a client that has closed its end is closed once answered */
}

static void wait_answer(struct sd_control *ctl, struct sd_wait *w, json_object *resp)
{
	wait_unlink(ctl, w);
	sd_client_send_json(w->client, resp);
	wait_free(w);
}

static void drop_waits_of(struct sd_control *ctl, struct sd_client *c)
{
	for (struct sd_wait *w = ctl->waits, *next; w; w = next) {
		next = w->next;
		if (w->client == c) {
			wait_unlink(ctl, w);
			wait_free(w);
		}
	}
}

static void wait_timeout(struct sd_loop *loop, struct sd_timer *t)
{
	struct sd_wait *w = (struct sd_wait *)((char *)t - offsetof(struct sd_wait, timer));
	struct sd_control *ctl = w->client->ctl;

	(void)loop;
	wait_answer(ctl, w, sd_wait_response(ctl->d, w, true));
}

void sd_control_wait(struct sd_control *ctl, struct sd_client *c, struct sd_wait *w)
{
	w->client = c;
	c->waits++;
	w->prev = NULL;
	w->next = ctl->waits;
	if (w->next)
		w->next->prev = w;
	ctl->waits = w;
	sd_timer_init(&w->timer, wait_timeout);
	sd_timer_arm(&ctl->d->loop, &w->timer, sd_now_ns() + w->req.timeout_ms * 1000000u);
	ctl->check_waits = true;
}

void sd_control_after_step(struct sd_control *ctl)
{
	struct sd_wait *done = NULL;

	if (ctl->ndead) {
		for (struct sd_client *c = ctl->clients, *next; c; c = next) {
			next = c->next;
			if (c->dead && !c->recv_op.inflight && !c->send_op.inflight && !c->waits) {
				ctl->ndead--;
				client_free(c);
			}
		}
	}
	if (!ctl->check_waits)
		return;
	ctl->check_waits = false;
	/* First take out every wait that is over, then answer them. */
	for (struct sd_wait *w = ctl->waits, *next; w; w = next) {
		next = w->next;
		w->resp = sd_wait_response(ctl->d, w, false);
		if (!w->resp)
			continue;
		wait_unlink(ctl, w);
		w->next = done;
		done = w;
	}
	while (done) {
		struct sd_wait *w = done;

		done = w->next;
		sd_client_send_json(w->client, w->resp);
		wait_free(w);
	}
}

/* At exit: the waits that can no longer be met are answered, and what is
 * queued is still to be sent. */
bool sd_control_flushing(struct sd_control *ctl)
{
	while (ctl->waits) {
		struct sd_wait *w = ctl->waits;

		wait_answer(ctl, w, sd_response_error(&w->req, SD_ERR_BUSY, "spawnd has stopped"));
	}
	for (struct sd_client *c = ctl->clients; c; c = c->next)
		if (!c->dead && (c->outlen || c->send_op.inflight))
			return true;
	return false;
}

/* ---- the socket ------------------------------------------------------------------------ */

/* Does process pid run (exists, and is not a zombie)? */
static bool process_runs(pid_t pid)
{
	char path[64], buf[512], *close_paren;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sd_read_file(path, buf, sizeof(buf)) < 0)
		return false;
	close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z' && close_paren[2] != 'X';
}

/* Is a spawnd listening at path? A socket file left by one that is gone
 * refuses connections; one that is dying may still accept for a moment
 * (its io_uring holds the socket until the kernel tears the ring down):
 * the listener's pid (SO_PEERCRED of the connection) tells. */
static bool live_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	bool live = false;

	if (fd < 0)
		return false;
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		live = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		       process_runs(cred.pid);
	else
		live = errno == EAGAIN; /* its backlog is full: very much alive */
	close(fd);
	return live;
}

static void start_accepting(struct sd_control *ctl)
{
	struct io_uring_sqe *sqe;

	ctl->accept_op.fn = accepted;
	sqe = sd_loop_sqe(&ctl->d->loop, &ctl->accept_op);
	io_uring_prep_multishot_accept(sqe, ctl->fd, NULL, NULL, SOCK_CLOEXEC);
}

int sd_control_adopt(struct sd_control *ctl, struct sd_daemon *d, int fd, const gid_t *group,
		     char *err, size_t errlen)
{
	struct sockaddr_un a = { 0 };
	socklen_t len = sizeof(a);

	*ctl = (struct sd_control){ .d = d, .fd = fd, .adopted = true };
	if (group) {
		ctl->group = *group;
		ctl->has_group = true;
	}
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		int r = -errno;

		snprintf(err, errlen, "getsockname: %s", strerror(-r));
		close(fd);
		ctl->fd = -1;
		return r;
	}
	/* A path, or "" for an abstract or unnamed socket. */
	if (len > offsetof(struct sockaddr_un, sun_path) && a.sun_path[0])
		ctl->path = strndup(a.sun_path, sizeof(a.sun_path));
	else
		ctl->path = strdup("");
	if (!ctl->path) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		ctl->fd = -1;
		return -ENOMEM;
	}
	start_accepting(ctl);
	return 0;
}

int sd_control_open(struct sd_control *ctl, struct sd_daemon *d, const char *path,
		    const gid_t *group, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	char *dir = NULL, *slash;
	mode_t old;
	int r;

	*ctl = (struct sd_control){ .d = d, .fd = -1 };
	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -ENAMETOOLONG;
	}
	if (group) {
		ctl->group = *group;
		ctl->has_group = true;
	}
	/* Its folder: made 0750 if missing (and its parents, as mkdir -p). */
	dir = strdup(path);
	if (!dir) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1;; p++) {
			if (*p && *p != '/')
				continue;
			char c = *p;

			*p = '\0';
			if (mkdir(dir, c ? 0755 : 0750) == 0) {
				if (!c && group && chown(dir, (uid_t)-1, *group) < 0) {
					r = -errno;
					snprintf(err, errlen, "%s: chown: %s", dir, strerror(errno));
					goto fail;
				}
			} else if (errno != EEXIST) {
				r = -errno;
				snprintf(err, errlen, "%s: %s", dir, strerror(errno));
				goto fail;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			r = -EEXIST;
			goto fail;
		}
		if (live_socket(path)) {
			snprintf(err, errlen, "%s: another spawnd is running (its control socket answers)",
				 path);
			r = -EADDRINUSE;
			goto fail;
		}
		unlink(path); /* left by a spawnd that is gone */
	}
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	old = umask(0117); /* created 0660, never more open for an instant */
	r = bind(ctl->fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (r < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: bind: %s", path, strerror(errno));
		goto fail;
	}
	if ((group && chown(path, (uid_t)-1, *group) < 0) || stat(path, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	if (listen(ctl->fd, SOMAXCONN) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: listen: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	ctl->path = strdup(path);
	if (!ctl->path) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		unlink(path);
		goto fail;
	}
	free(dir);
	start_accepting(ctl);
	return 0;

fail:
	free(dir);
	if (ctl->fd >= 0)
		close(ctl->fd);
	ctl->fd = -1;
	return r;
}

void sd_control_close(struct sd_control *ctl)
{
	struct stat st;

	while (ctl->waits) {
		struct sd_wait *w = ctl->waits;

		wait_unlink(ctl, w);
		wait_free(w);
	}
	while (ctl->clients)
		client_free(ctl->clients);
	if (ctl->fd >= 0)
		close(ctl->fd);
	ctl->fd = -1;
	/* Remove the socket, unless another spawnd has replaced it since. */
	if (ctl->path && !ctl->adopted && stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	ctl->path = NULL;
}
