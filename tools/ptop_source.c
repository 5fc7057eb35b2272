/* SPDX-License-Identifier: MIT */
/*
 * ptop's sources, none of which it waits on: spawnd's control socket (one
 * connection, non-blocking, requests matched to answers by id, reconnected
 * when lost), libgp programs' introspection sockets (one connection per
 * snapshot, as the server wants), and /proc.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ptop.h"

/* ---- spawnd ------------------------------------------------------------------------------ */

void link_init(struct link *l, const char *path)
{
	memset(l, 0, sizeof(*l));
	textf(l->path, sizeof(l->path), "%s", path);
	l->conn = (struct conn)CONN_INIT;
	l->next_id = 1;
	textf(l->down_why, sizeof(l->down_why), "connecting");
}

void link_free(struct link *l)
{
	conn_close(&l->conn);
	json_object_put(l->status);
	json_object_put(l->logs);
	l->status = l->logs = NULL;
}

bool link_up(const struct link *l)
{
	return l->conn.fd >= 0;
}

/* Lost: say why, forget what was asked, try again in RETRY_MS. What was
 * last seen stays, for the screen to show as stale. */
static void link_down(struct link *l, long long now, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void link_down(struct link *l, long long now, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->down_why, sizeof(l->down_why), fmt, ap);
	va_end(ap);
	if (l->was_up)
		textf(l->news, sizeof(l->news), "lost spawnd at %s: %s", l->path, l->down_why);
	conn_close(&l->conn);
	l->npend = 0;
	l->retry_at = now + RETRY_MS;
}

void link_tick(struct link *l, long long now)
{
	int r;

	if (!link_up(l) && now >= l->retry_at) {
		r = conn_open_nonblock(&l->conn, l->path);
		if (r < 0) {
			textf(l->down_why, sizeof(l->down_why), "cannot connect: %s",
			      r == -EAGAIN ? "it does not accept connections" : strerror(-r));
			l->retry_at = now + RETRY_MS;
			return;
		}
		if (l->was_up)
			textf(l->news, sizeof(l->news), "reconnected to spawnd at %s", l->path);
		l->was_up = true;
		l->down_why[0] = '\0';
	}
	for (size_t i = 0; i < l->npend; i++) {
		if (now < l->pend[i].deadline)
			continue;
		/* A late answer: the loop is stuck. Start afresh, since the
		 * answer may still come and would be out of order. */
		link_down(l, now, "no answer from spawnd within %d s",
			  (int)((l->pend[i].kind == REQ_ACTION ? ACTION_WAIT_MS + STATUS_WAIT_MS :
								STATUS_WAIT_MS) /
				1000));
		return;
	}
}

bool link_waiting(const struct link *l, enum req_kind kind)
{
	for (size_t i = 0; i < l->npend; i++)
		if (l->pend[i].kind == kind)
			return true;
	return false;
}

/* Send req (with an id added) and remember it: 0 or -errno. */
static int link_send(struct link *l, json_object *req, enum req_kind kind, const char *what,
		     long long deadline, long long now)
{
	struct pending *p;
	char *line = NULL;
	size_t len;
	int r;

	if (!link_up(l))
		return -ENOTCONN;
	if (l->npend == PENDING_MAX)
		return -EBUSY;
	p = &l->pend[l->npend];
	p->id = l->next_id++;
	p->kind = kind;
	p->deadline = deadline;
	textf(p->what, sizeof(p->what), "%s", what);
	if (json_object_object_add(req, "id", json_object_new_int64(p->id)) < 0)
		return -ENOMEM;
	line = strdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	line[len] = '\n'; /* over the NUL: the length is kept */
	r = conn_send(&l->conn, line, len + 1);
	free(line);
	if (r < 0) {
		/* A full socket: spawnd does not read. */
		link_down(l, now, "cannot write to spawnd: %s",
			  r == -EAGAIN ? "it does not read" : strerror(-r));
		return r;
	}
	l->npend++;
	return 0;
}

static json_object *request(const char *cmd)
{
	json_object *req = json_object_new_object();

	if (!req)
		return NULL;
	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	return req;
}

void link_ask_status(struct link *l, long long now)
{
	json_object *req;

	if (!link_up(l) || link_waiting(l, REQ_STATUS))
		return;
	req = request("status");
	if (req)
		(void)link_send(l, req, REQ_STATUS, "status", now + STATUS_WAIT_MS, now);
	json_object_put(req);
}

void link_ask_logs(struct link *l, const char *name, int lines, long long now)
{
	json_object *req;

	if (!link_up(l) || link_waiting(l, REQ_LOGS))
		return;
	req = request("logs");
	if (!req)
		return;
	json_object_object_add(req, "name", json_object_new_string(name));
	json_object_object_add(req, "lines", json_object_new_int(lines));
	if (link_send(l, req, REQ_LOGS, name, now + STATUS_WAIT_MS, now) == 0)
		textf(l->logs_for, sizeof(l->logs_for), "%s", name);
	json_object_put(req);
}

int link_act(struct link *l, const char *cmd, const char *name, int sig, long long now)
{
	json_object *req = request(cmd), *names = json_object_new_array();
	char what[PATH_MAX + 32];
	int r = -ENOMEM;

	if (!req || !names)
		goto cleanup;
	json_object_array_add(names, json_object_new_string(name));
	json_object_object_add(req, "names", names);
	names = NULL;
	if (!strcmp(cmd, "signal"))
		json_object_object_add(req, "signal", json_object_new_int(sig));
	else
		json_object_object_add(req, "timeout_ms", json_object_new_int(ACTION_WAIT_MS));
	textf(what, sizeof(what), "%s %s", cmd, shown(name));
	r = link_send(l, req, REQ_ACTION, what, now + ACTION_WAIT_MS + STATUS_WAIT_MS, now);
	if (r == 0)
		textf(l->news, sizeof(l->news), "%s: asked", what);
cleanup:
	json_object_put(names);
	json_object_put(req);
	return r;
}

/* An action's answer, for the status line. */
static void action_done(struct link *l, const struct pending *p, json_object *resp)
{
	json_object *err = jget(resp, "error"), *res = jarr(resp, "results");
	json_object *first = jidx(res ? res : jarr(err, "results"), 0);
	long long pid = jint(first, "pid");

	if (!jbool(resp, "ok")) {
		textf(l->news, sizeof(l->news), "%s: failed: %s", p->what,
			 jstr_or(err, "message", jstr_or(err, "code", "?")));
		return;
	}
	if (jarr(first, "pids"))
		textf(l->news, sizeof(l->news), "%s: signalled %zu process%s", p->what,
			 jlen(jarr(first, "pids")), jlen(jarr(first, "pids")) == 1 ? "" : "es");
	else if (pid > 0)
		textf(l->news, sizeof(l->news), "%s: %s (pid %lld)", p->what,
			 jstr_or(first, "state", "done"), pid);
	else
		textf(l->news, sizeof(l->news), "%s: %s", p->what, jstr_or(first, "state", "done"));
}

static void link_answer(struct link *l, json_object *resp, long long now)
{
	long long id = jint(resp, "id");
	struct pending p;
	size_t i;

	for (i = 0; i < l->npend && l->pend[i].id != id; i++)
		;
	if (i == l->npend)
		return; /* an event, or an answer to what was given up on */
	p = l->pend[i];
	memmove(&l->pend[i], &l->pend[i + 1], (l->npend - i - 1) * sizeof(l->pend[0]));
	l->npend--;
	switch (p.kind) {
	case REQ_STATUS:
		if (!jbool(resp, "ok") || !jget(resp, "status")) {
			textf(l->news, sizeof(l->news), "status: %s",
				 jstr_or(jget(resp, "error"), "message", "no status in the answer"));
			break;
		}
		json_object_put(l->status);
		l->status = json_object_get(resp);
		l->status_at = now;
		break;
	case REQ_LOGS:
		json_object_put(l->logs);
		l->logs = json_object_get(resp);
		break;
	case REQ_ACTION:
		action_done(l, &p, resp);
		break;
	}
}

void link_readable(struct link *l, long long now)
{
	char *line;
	size_t len;
	int n;

	do {
		n = conn_fill(&l->conn);
		if (n == 0) {
			link_down(l, now, "spawnd closed the connection");
			return;
		}
		if (n < 0 && n != -EAGAIN) {
			link_down(l, now, "reading from spawnd: %s", strerror(-n));
			return;
		}
		while (conn_next_line(&l->conn, &line, &len) == 1) {
			json_object *o = parse_object(line, len);

			if (!o) {
				link_down(l, now, "spawnd sent what is not a JSON object");
				return;
			}
			link_answer(l, o, now);
			json_object_put(o);
		}
	} while (n > 0);
}

/* ---- libgp programs ---------------------------------------------------------------------- */

void gp_source_init(struct gp_source *g, const char *path, int os_pid)
{
	memset(g, 0, sizeof(*g));
	textf(g->path, sizeof(g->path), "%s", path);
	g->os_pid = os_pid;
	g->fd = -1;
	for (size_t i = 0; i < SCHED_MAX; i++)
		g->util[i] = -1;
}

void gp_source_free(struct gp_source *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	free(g->buf);
	g->buf = NULL;
	json_object_put(g->answer);
	g->answer = NULL;
}

int gp_default_path(int os_pid, char *buf, size_t size)
{
	const char *env = getenv("GP_INTROSPECT_DIR");
	int n;

	/* As libgp chooses (sched/introspect.c, libgp(7)), for the program
	 * run with ptop's environment and user. */
	if (env && *env)
		n = textf(buf, size, "%s/%d.sock", env, os_pid);
	else if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
		n = textf(buf, size, "%s/gp/%d.sock", env, os_pid);
	else if (geteuid() == 0)
		n = textf(buf, size, "/run/gp/%d.sock", os_pid);
	else
		n = textf(buf, size, "/tmp/gp-%u/%d.sock", (unsigned)geteuid(), os_pid);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void gp_fail(struct gp_source *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void gp_fail(struct gp_source *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

int gp_fetch(struct gp_source *g, const struct gp_query *q, long long now)
{
	struct conn c = CONN_INIT;
	json_object *req;
	const char *text;
	int r;

	if (g->fd >= 0)
		return 0;
	r = conn_open_nonblock(&c, g->path);
	if (r < 0) {
		gp_fail(g, "%s", r == -ENOENT || r == -ECONNREFUSED ? "no introspection socket" :
				 r == -EAGAIN			    ? "busy: not accepting" :
									      strerror(-r));
		return r;
	}
	g->fd = c.fd;
	req = json_object_new_object();
	if (!req) {
		gp_fail(g, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "sort", json_object_new_string(q->sort));
	json_object_object_add(req, "limit", json_object_new_int(q->limit));
	if (q->filter && *q->filter)
		json_object_object_add(req, "filter", json_object_new_string_len(
							      q->filter, (int)strnlen(q->filter, 255)));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	/* The request is small: the socket's buffer takes it whole. The
	 * server reads to the newline or to our shutdown. */
	r = send(g->fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ||
			    send(g->fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ?
		    -errno :
		    0;
	json_object_put(req);
	if (r < 0) {
		gp_fail(g, "%s", strerror(-r));
		return r;
	}
	g->len = 0;
	g->deadline = now + GP_WAIT_MS;
	return 0;
}

/* cpu_ms of each scheduler against the last answer's: utilisation. */
static void gp_utilisation(struct gp_source *g, json_object *ans, long long now)
{
	json_object *per = jarr(jget(ans, "runtime"), "per_scheduler");
	size_t n = jlen(per) < SCHED_MAX ? jlen(per) : SCHED_MAX;

	for (size_t i = 0; i < n; i++) {
		json_object *s = jidx(per, i);
		long long cpu = jint(s, "cpu_ms");

		if (!json_object_is_type(jget(s, "cpu_ms"), json_type_int))
			g->util[i] = -1;
		else if (g->prev_at && i < g->nutil && now > g->prev_at)
			g->util[i] = (double)(cpu - g->prev_cpu[i]) * 100.0 / (double)(now - g->prev_at);
		g->prev_cpu[i] = cpu;
	}
	g->nutil = (unsigned)n;
	g->prev_at = now;
}

int gp_readable(struct gp_source *g, long long now)
{
	ssize_t n;

	if (g->fd < 0)
		return 0;
	for (;;) {
		if (g->len == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 65536;
			char *b = cap > CLIENT_RESPONSE_MAX ? NULL : realloc(g->buf, cap);

			if (!b) {
				gp_fail(g, "answer too large");
				return 1;
			}
			g->buf = b;
			g->cap = cap;
		}
		n = recv(g->fd, g->buf + g->len, g->cap - g->len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (now < g->deadline)
				return 0;
			gp_fail(g, "no answer within %d s", GP_WAIT_MS / 1000);
			return 1;
		}
		if (n < 0) {
			gp_fail(g, "%s", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		g->len += (size_t)n;
	}
	/* The server closed: its one line is complete. */
	json_object *ans = parse_object(g->buf, g->len);

	if (!ans) {
		if (g->len)
			gp_fail(g, "not a JSON object: %.*s", (int)(g->len < 60 ? g->len : 60), g->buf);
		else
			gp_fail(g, "closed without answering");
		return 1;
	}
	if (jstr(ans, "error")) {
		gp_fail(g, "%s", jstr(ans, "error"));
		json_object_put(ans);
		return 1;
	}
	gp_utilisation(g, ans, now);
	json_object_put(g->answer);
	g->answer = ans;
	g->err[0] = '\0';
	close(g->fd);
	g->fd = -1;
	return 1;
}

void gp_tick(struct gp_source *g, long long now)
{
	if (g->fd >= 0 && now >= g->deadline)
		(void)gp_readable(g, now);
}

/* ---- /proc ------------------------------------------------------------------------------- */

static long clock_hz(void)
{
	static long hz;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return hz;
}

static double boot_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long proc_uptime_ms(const struct proc_info *p)
{
	double s = boot_seconds() - (double)p->start / (double)clock_hz();

	return s > 0 ? (long long)(s * 1000) : 0;
}

/* /proc/PID/stat: 0, or -errno (the process is gone). */
static int read_stat(int pid, struct proc_info *p)
{
	char path[64], buf[1024], *open_paren, *close_paren;
	unsigned long long utime, stime, start;
	long long rss;
	ssize_t n;
	int fd, ppid;
	char state;

	textf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* The name may hold spaces and parentheses: it ends at the last ')'. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EIO;
	if (sscanf(close_paren + 2,
		   "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
		   "%llu %*u %lld",
		   &state, &ppid, &utime, &stime, &start, &rss) != 6)
		return -EIO;
	p->pid = pid;
	p->ppid = ppid;
	p->state = state;
	textf(p->comm, sizeof(p->comm), "%.*s", (int)(close_paren - open_paren - 1),
		 open_paren + 1);
	p->ticks = utime + stime;
	p->start = start;
	p->rss_kib = rss * (sysconf(_SC_PAGESIZE) / 1024);
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	const struct proc_info *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

const struct proc_info *proc_find(const struct proc_table *t, int pid)
{
	struct proc_info key = { .pid = pid };

	return t->n ? bsearch(&key, t->v, t->n, sizeof(key), by_pid) : NULL;
}

int proc_sample(struct proc_table *t, const struct proc_table *prev)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	size_t cap = 0;
	int r = 0;

	memset(t, 0, sizeof(*t));
	if (!dir)
		return -errno;
	t->at_ms = mono_ms();
	while ((de = readdir(dir))) {
		struct proc_info *p;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (t->n == cap) {
			struct proc_info *v = reallocarray(t->v, cap ? cap * 2 : 512, sizeof(*v));

			if (!v) {
				r = -ENOMEM;
				break;
			}
			t->v = v;
			cap = cap ? cap * 2 : 512;
		}
		p = &t->v[t->n];
		if (read_stat(atoi(de->d_name), p) == 0)
			t->n++;
	}
	closedir(dir);
	qsort(t->v, t->n, sizeof(t->v[0]), by_pid);
	for (size_t i = 0; i < t->n; i++) {
		struct proc_info *p = &t->v[i];
		const struct proc_info *was = prev ? proc_find(prev, p->pid) : NULL;
		double secs;

		if (was && was->start == p->start && t->at_ms > prev->at_ms) {
			secs = (double)(t->at_ms - prev->at_ms) / 1000;
			p->cpu = (double)(p->ticks - was->ticks) / (double)clock_hz() / secs * 100;
		} else {
			secs = (double)proc_uptime_ms(p) / 1000;
			p->cpu = secs > 0 ? (double)p->ticks / (double)clock_hz() / secs * 100 : 0;
		}
	}
	return r;
}

void proc_table_free(struct proc_table *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}
