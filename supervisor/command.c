/* SPDX-License-Identifier: MIT */
/*
 * What the control socket's requests do to the running tree: status as
 * JSON, the operators' start, stop and restart (through the restart
 * engine, so that a stopped child stays down and a restarted supervisor
 * restarts its subtree in order), signals, logs, subscriptions, reload and
 * shutdown. Requests that wait for a state become an sd_wait, answered by
 * sd_wait_response once the state is reached or the time is up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "spawnd.h"

/* ---- finding units, their states -------------------------------------------------- */

struct sd_unit *sd_unit_find(struct sd_daemon *d, const char *path)
{
	struct sd_unit *u = d->root;

	while (*path == '/')
		path++;
	while (*path) {
		const char *end = strchrnul(path, '/');
		size_t len = (size_t)(end - path);
		struct sd_unit *next = NULL;

		if (u->node->kind != SD_SUPERVISOR)
			return NULL;
		for (size_t i = 0; i < u->node->nchildren; i++) {
			const char *name = u->children[i]->node->name;

			if (strlen(name) == len && memcmp(name, path, len) == 0) {
				next = u->children[i];
				break;
			}
		}
		if (!next)
			return NULL;
		u = next;
		path = end;
		while (*path == '/')
			path++;
	}
	return u;
}

const char *sd_unit_path(const struct sd_unit *u)
{
	return u->node->path[0] ? u->node->path : "/";
}

/* The engine's state for u within its parent (the root: as if running). */
static enum sv_state engine_state(const struct sd_unit *u)
{
	if (!u->parent)
		return u->d->shutting_down ? SV_STOPPING : SV_RUNNING;
	return u->parent->sv.children[u->index].state;
}

const char *sd_unit_state(const struct sd_unit *u)
{
	enum sv_state st = engine_state(u);

	if (u->node->kind == SD_WORKER) {
		const struct sd_run *run = u->run;

		if (run && !run->exited) {
			if (run->stop_sent || st == SV_STOP || st == SV_STOPPING)
				return "stopping";
			if (run->ready)
				return "ready";
			return run->exec_ok ? "running" : "starting";
		}
		switch (st) {
		case SV_PENDING:
			return u->not_before > sd_now_ns() ? "backoff" : "starting";
		case SV_STARTING:
			return "starting";
		case SV_STOP:
		case SV_STOPPING:
			return "stopping";
		default:
			break;
		}
		if (u->held)
			return "stopped";
		return u->last.valid && !u->last.normal ? "failed" : "stopped";
	}
	/* A supervisor. */
	switch (st) {
	case SV_DOWN:
	case SV_REMOVED:
		return u->held || !u->failed ? "stopped" : "failed";
	case SV_PENDING:
		return "starting";
	default:
		break;
	}
	if (u->sv.stopping_all || st == SV_STOP || st == SV_STOPPING)
		return sv_all_down(&u->sv) && u->sv.stopping_all ? (u->sv.gave_up ? "failed" : "stopped")
								 : "stopping";
	return sv_quiet(&u->sv) ? "ready" : "starting";
}

/* Milliseconds since the epoch of a CLOCK_MONOTONIC time. */
static int64_t wall_ms(uint64_t mono_ns)
{
	struct timespec rt;
	int64_t now_ms, ago_ms;

	clock_gettime(CLOCK_REALTIME, &rt);
	now_ms = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
	ago_ms = (int64_t)((sd_now_ns() - mono_ns) / 1000000u);
	return now_ms - ago_ms;
}

void sd_exit_message(const struct sd_exit *e, char *buf, size_t size)
{
	char sig[16];

	if (!e->valid)
		snprintf(buf, size, "%s", "");
	else if (e->start_failed && e->stage >= 0)
		snprintf(buf, size, "could not start: %s: %s", sd_stage_name(e->stage), strerror(e->err));
	else if (e->start_failed)
		snprintf(buf, size, "could not start: %s", strerror(e->err));
	else if (e->signal)
		snprintf(buf, size, "killed by %s%s", sd_signal_str(e->signal, sig),
			 e->core ? " (core dumped)" : "");
	else
		snprintf(buf, size, "exit status %d", e->code);
}

json_object *sd_exit_json(const struct sd_exit *e)
{
	json_object *o;
	char buf[256], sig[16];

	if (!e->valid)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "code", e->code >= 0 ? json_object_new_int(e->code) : NULL);
	json_object_object_add(o, "signal",
			       e->signal ? json_object_new_string(sd_signal_str(e->signal, sig)) : NULL);
	json_object_object_add(o, "core", json_object_new_boolean(e->core));
	json_object_object_add(o, "at_ms", json_object_new_int64(wall_ms(e->at_ns)));
	json_object_object_add(o, "uptime_ms", json_object_new_int64((int64_t)(e->uptime_ns / 1000000u)));
	json_object_object_add(o, "start_failed", json_object_new_boolean(e->start_failed));
	sd_exit_message(e, buf, sizeof(buf));
	json_object_object_add(o, "message", json_object_new_string(buf));
	return o;
}

/* Where a running worker, if it is a libgp program, serves introspection
 * (libgp(7)): DIR/PID.sock, in the folder spawnd gave it or the one its
 * env sets; null if it runs without one. */
static json_object *introspect_json(const struct sd_unit *u, const struct sd_run *run)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int r;

	if (!run)
		return NULL;
	r = sd_worker_gp_dir(u, dir, sizeof(dir));
	if ((r < 0 && r != -EEXIST) || !dir[0])
		return NULL;
	snprintf(path, sizeof(path), "%s/%d.sock", dir, (int)run->pid);
	return json_object_new_string(path);
}

/* spawnd itself, beside the tree's status. */
static json_object *daemon_json(const struct sd_daemon *d)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int(d->self));
	json_object_object_add(o, "uptime_ms",
			       json_object_new_int64((int64_t)((sd_now_ns() - d->started_ns) / 1000000u)));
	json_object_object_add(o, "config", d->cfg_file ? json_object_new_string(d->cfg_file) : NULL);
	json_object_object_add(o, "restarts_last_minute",
			       json_object_new_int64((int64_t)sd_restarts_last_minute(d)));
	return o;
}

static json_object *unit_json(const struct sd_unit *u)
{
	const struct sd_node *n = u->node;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(n->name));
	json_object_object_add(o, "path", json_object_new_string(sd_unit_path(u)));
	json_object_object_add(o, "type",
			       json_object_new_string(n->kind == SD_WORKER ? "worker" : "supervisor"));
	json_object_object_add(o, "state", json_object_new_string(sd_unit_state(u)));
	json_object_object_add(o, "restart", json_object_new_string(sv_restart_name(n->restart)));
	json_object_object_add(o, "held", json_object_new_boolean(u->held));
	if (n->kind == SD_WORKER) {
		const struct sd_run *run = u->run && !u->run->exited ? u->run : NULL;

		json_object_object_add(o, "pid", json_object_new_int(run ? run->pid : 0));
		json_object_object_add(o, "uptime_ms",
				       json_object_new_int64(run ? (int64_t)((sd_now_ns() - run->started_ns) / 1000000u) : 0));
		json_object_object_add(o, "restarts", json_object_new_int64((int64_t)u->restarts));
		json_object_object_add(o, "last_exit", sd_exit_json(&u->last));
		json_object_object_add(o, "stalled", json_object_new_boolean(u->stalled));
		json_object_object_add(o, "last_crash", json_object_get(u->last_crash));
		json_object_object_add(o, "last_stall", json_object_get(u->last_stall));
		json_object_object_add(o, "status_text", json_object_new_string(run ? run->status : ""));
		json_object_object_add(o, "introspect", introspect_json(u, run));
		return o;
	}
	uint64_t times[256];
	uint32_t nt = sv_history(&u->sv, sd_now_ns(), times, 256);
	json_object *hist = json_object_new_array(), *kids = json_object_new_array();

	json_object_object_add(o, "strategy", json_object_new_string(sv_strategy_name(n->strategy)));
	json_object_object_add(o, "intensity", json_object_new_int((int)n->intensity));
	json_object_object_add(o, "period_ms", json_object_new_int64((int64_t)(n->period_ns / 1000000u)));
	for (uint32_t i = 0; i < nt && i < 256; i++)
		json_object_array_add(hist, json_object_new_int64(wall_ms(times[i])));
	json_object_object_add(o, "restarts_in_period", hist);
	for (size_t i = 0; i < n->nchildren; i++)
		json_object_array_add(kids, unit_json(u->children[i]));
	json_object_object_add(o, "children", kids);
	return o;
}

/* ---- operators -------------------------------------------------------------------------- */

/* Every worker under u (or u itself) that runs, signalled. */
static void signal_tree(struct sd_unit *u, int sig, json_object *pids)
{
	if (u->node->kind == SD_SUPERVISOR) {
		for (size_t i = 0; i < u->node->nchildren; i++)
			signal_tree(u->children[i], sig, pids);
		return;
	}
	int pid = sd_worker_signal(u, sig);

	if (pid > 0)
		json_object_array_add(pids, json_object_new_int(pid));
}

static int operate(struct sd_unit *u, enum sd_cmd cmd)
{
	struct sd_daemon *d = u->d;
	struct sd_unit *p = u->parent;
	int r;

	if (!p) { /* the root has no engine above it */
		if (cmd != SD_CMD_RESTART)
			return -EINVAL;
		d->restart_root = true;
		sv_shutdown(&u->sv);
		sd_drive(u);
		return 0;
	}
	switch (cmd) {
	case SD_CMD_STOP:
		u->held = true;
		r = sv_hold(&p->sv, u->index);
		break;
	case SD_CMD_START:
		u->held = false;
		u->failed = false;
		r = sv_release(&p->sv, u->index);
		break;
	default:
		u->held = false;
		r = sv_restart(&p->sv, u->index);
		break;
	}
	if (r == 0)
		sd_drive(p);
	return r;
}

/* Has u reached what the wait wants? *failed: it cannot any more. */
static bool reached(const struct sd_unit *u, enum sd_cmd cmd, uint64_t starts, bool *failed)
{
	const char *st = sd_unit_state(u);

	*failed = false;
	switch (cmd) {
	case SD_CMD_STOP:
		return strcmp(st, "stopped") == 0 || strcmp(st, "failed") == 0;
	case SD_CMD_RESTART:
		if (u->starts == starts)
			return false; /* not yet started again */
		/* fall through */
	default:
		if (strcmp(st, "failed") == 0 || (u->held && strcmp(st, "stopped") == 0)) {
			*failed = true;
			return true;
		}
		return strcmp(st, "ready") == 0;
	}
}

static json_object *result_of(const struct sd_unit *u)
{
	json_object *o = json_object_new_object();
	const struct sd_run *run = u->run && !u->run->exited ? u->run : NULL;

	json_object_object_add(o, "name", json_object_new_string(sd_unit_path(u)));
	json_object_object_add(o, "state", json_object_new_string(sd_unit_state(u)));
	if (u->node->kind == SD_WORKER)
		json_object_object_add(o, "pid", json_object_new_int(run ? run->pid : 0));
	return o;
}

json_object *sd_wait_response(struct sd_daemon *d, struct sd_wait *w, bool timed_out)
{
	json_object *results, *resp;
	bool all = true, any_failed = false;
	const char *verb = sd_cmd_name(w->req.cmd);
	char msg[512];
	size_t len = 0;

	msg[0] = '\0';
	for (size_t i = 0; i < w->req.nnames; i++) {
		struct sd_unit *u = sd_unit_find(d, w->req.names[i]);
		bool failed;

		if (!u) { /* removed by a reload meanwhile */
			any_failed = true;
			continue;
		}
		if (!reached(u, w->req.cmd, w->starts[i], &failed)) {
			all = false;
			if (timed_out && len < sizeof(msg))
				len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s: %s", len ? ", " : "",
							sd_unit_path(u), sd_unit_state(u));
		} else if (failed) {
			any_failed = true;
			if (len < sizeof(msg))
				len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s: %s", len ? ", " : "",
							sd_unit_path(u), sd_unit_state(u));
		}
	}
	if (!all && !timed_out)
		return NULL;
	results = json_object_new_array();
	for (size_t i = 0; i < w->req.nnames; i++) {
		struct sd_unit *u = sd_unit_find(d, w->req.names[i]);

		if (u) {
			json_object_array_add(results, result_of(u));
		} else {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(w->req.names[i]));
			json_object_object_add(o, "state", json_object_new_string("removed"));
			json_object_array_add(results, o);
		}
	}
	if (all && !any_failed) {
		resp = sd_response_ok(&w->req);
		json_object_object_add(resp, "results", results);
		return resp;
	}
	if (!all) {
		char text[700];

		snprintf(text, sizeof(text), "%s: not done after %llu ms: %s", verb,
			 (unsigned long long)w->req.timeout_ms, msg);
		resp = sd_response_error(&w->req, SD_ERR_TIMEOUT, text);
	} else {
		char text[700];

		snprintf(text, sizeof(text), "%s failed: %s", verb, msg[0] ? msg : "a unit was removed");
		resp = sd_response_error(&w->req, SD_ERR_FAILED, text);
	}
	json_object_object_add(json_object_object_get(resp, "error"), "results", results);
	return resp;
}

static void lifecycle(struct sd_client *c, struct sd_request *req)
{
	struct sd_daemon *d = c->ctl->d;
	struct sd_unit **units = calloc(req->nnames, sizeof(*units));
	struct sd_wait *w = calloc(1, sizeof(*w));
	char msg[300];

	if (!units || !w || !(w->starts = calloc(req->nnames, sizeof(*w->starts)))) {
		sd_client_send_json(c, sd_response_error(req, SD_ERR_INTERNAL, "out of memory"));
		goto done;
	}
	if (d->shutting_down) {
		sd_client_send_json(c, sd_response_error(req, SD_ERR_BUSY, "spawnd is shutting down"));
		goto done;
	}
	/* All names first: nothing is done unless every one is valid. */
	for (size_t i = 0; i < req->nnames; i++) {
		units[i] = sd_unit_find(d, req->names[i]);
		if (!units[i]) {
			snprintf(msg, sizeof(msg), "no unit named \"%.200s\"", req->names[i]);
			sd_client_send_json(c, sd_response_error(req, SD_ERR_NOT_FOUND, msg));
			goto done;
		}
		if (!units[i]->parent && req->cmd != SD_CMD_RESTART) {
			snprintf(msg, sizeof(msg), "the root supervisor cannot be %s (use shutdown)",
				 req->cmd == SD_CMD_STOP ? "stopped" : "started");
			sd_client_send_json(c, sd_response_error(req, SD_ERR_BAD_REQUEST, msg));
			goto done;
		}
	}
	for (size_t i = 0; i < req->nnames; i++) {
		int r;

		w->starts[i] = units[i]->starts;
		r = operate(units[i], req->cmd);
		if (r < 0) {
			snprintf(msg, sizeof(msg), "%s: %s", sd_unit_path(units[i]),
				 r == -EBUSY ? "its supervisor is stopping" : strerror(-r));
			sd_client_send_json(c, sd_response_error(req, SD_ERR_FAILED, msg));
			goto done;
		}
		{
			const char *what = req->cmd == SD_CMD_STOP    ? "stopped"
					   : req->cmd == SD_CMD_START ? "started"
								      : "restarted";
			char event[32];

			snprintf(event, sizeof(event), "operator_%s", what); /* operator_stopped */
			sd_log_about(&d->log,
				     &(struct sd_log_fields){ LOG_NOTICE, sd_unit_path(units[i]), 0, event, 0 },
				     "%s: %s by uid %u (pid %d)", sd_unit_path(units[i]), what,
				     (unsigned)c->uid, (int)c->pid);
		}
	}
	w->req = *req;
	*req = (struct sd_request){ 0 };
	if (!w->req.wait) {
		json_object *resp = sd_response_ok(&w->req), *results = json_object_new_array();

		for (size_t i = 0; i < w->req.nnames; i++)
			json_object_array_add(results, result_of(units[i]));
		json_object_object_add(resp, "results", results);
		sd_client_send_json(c, resp);
		sd_request_free(&w->req);
		goto done;
	}
	sd_control_wait(&d->ctl, c, w);
	w = NULL;
done:
	if (w)
		free(w->starts);
	free(w);
	free(units);
	sd_request_free(req);
}

static void signal_cmd(struct sd_client *c, struct sd_request *req)
{
	struct sd_daemon *d = c->ctl->d;
	json_object *results = json_object_new_array(), *resp;
	char msg[300], sig[16];

	for (size_t i = 0; i < req->nnames; i++) {
		if (!sd_unit_find(d, req->names[i])) {
			snprintf(msg, sizeof(msg), "no unit named \"%.200s\"", req->names[i]);
			sd_client_send_json(c, sd_response_error(req, SD_ERR_NOT_FOUND, msg));
			json_object_put(results);
			return;
		}
	}
	for (size_t i = 0; i < req->nnames; i++) {
		struct sd_unit *u = sd_unit_find(d, req->names[i]);
		json_object *o = json_object_new_object(), *pids = json_object_new_array();

		signal_tree(u, req->signal, pids);
		json_object_object_add(o, "name", json_object_new_string(sd_unit_path(u)));
		json_object_object_add(o, "pids", pids);
		json_object_array_add(results, o);
		sd_log_about(&d->log,
			     &(struct sd_log_fields){ LOG_NOTICE, sd_unit_path(u), 0, "signal_sent",
						      req->signal },
			     "%s: %s sent by uid %u (pid %d)", sd_unit_path(u),
			     sd_signal_str(req->signal, sig), (unsigned)c->uid, (int)c->pid);
	}
	resp = sd_response_ok(req);
	json_object_object_add(resp, "results", results);
	sd_client_send_json(c, resp);
}

static void logs_cmd(struct sd_client *c, struct sd_request *req)
{
	struct sd_unit *u = sd_unit_find(c->ctl->d, req->name);
	json_object *resp, *lines;
	char msg[300], *buf;
	size_t len;

	if (!u) {
		snprintf(msg, sizeof(msg), "no unit named \"%.200s\"", req->name);
		sd_client_send_json(c, sd_response_error(req, SD_ERR_NOT_FOUND, msg));
		return;
	}
	if (u->node->kind != SD_WORKER) {
		snprintf(msg, sizeof(msg), "%s is a supervisor: logs are kept per worker",
			 sd_unit_path(u));
		sd_client_send_json(c, sd_response_error(req, SD_ERR_NOT_A_WORKER, msg));
		return;
	}
	buf = malloc(u->ring.cap + 1);
	if (!buf) {
		sd_client_send_json(c, sd_response_error(req, SD_ERR_INTERNAL, "out of memory"));
		return;
	}
	len = sd_ring_tail(&u->ring, req->lines, buf, u->ring.cap + 1);
	lines = json_object_new_array();
	for (size_t i = 0; i < len;) {
		char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len;

		json_object_array_add(lines, json_object_new_string_len(buf + i, (int)(end - i)));
		i = end + 1;
	}
	free(buf);
	resp = sd_response_ok(req);
	json_object_object_add(resp, "lines", lines);
	sd_client_send_json(c, resp);
	if (req->follow && !c->dead) {
		free(c->follow);
		c->follow = strdup(sd_unit_path(u));
	}
}

void sd_command(struct sd_client *c, struct sd_request *req)
{
	struct sd_daemon *d = c->ctl->d;
	json_object *resp;
	char msg[300];

	switch (req->cmd) {
	case SD_CMD_STATUS: {
		struct sd_unit *u = sd_unit_find(d, req->name ? req->name : "");

		if (!u) {
			snprintf(msg, sizeof(msg), "no unit named \"%.200s\"", req->name);
			resp = sd_response_error(req, SD_ERR_NOT_FOUND, msg);
		} else {
			resp = sd_response_ok(req);
			json_object_object_add(resp, "status", unit_json(u));
			json_object_object_add(resp, "spawnd", daemon_json(d));
			json_object_object_add(resp, "bpf", json_object_new_string(sd_bpf_mode(d)));
			if (d->bpf.tree)
				json_object_object_add(resp, "bpf_tracked",
						       json_object_new_int64(sd_proctree_count(d->bpf.tree)));
		}
		sd_client_send_json(c, resp);
		break;
	}
	case SD_CMD_LOGS:
		logs_cmd(c, req);
		break;
	case SD_CMD_EVENTS:
		sd_client_send_json(c, sd_response_ok(req));
		if (!c->dead && !c->events) {
			c->events = true;
			c->ctl->nsubscribers++;
		}
		break;
	case SD_CMD_START:
	case SD_CMD_STOP:
	case SD_CMD_RESTART:
		lifecycle(c, req); /* takes req */
		return;
	case SD_CMD_SIGNAL:
		signal_cmd(c, req);
		break;
	case SD_CMD_RELOAD:
		sd_client_send_json(c, sd_reload(d, req));
		break;
	case SD_CMD_SHUTDOWN:
		sd_client_send_json(c, sd_response_ok(req));
		sd_log(&d->log, "shutdown asked by uid %u (pid %d)", (unsigned)c->uid, (int)c->pid);
		sd_tree_shutdown(d);
		break;
	}
	sd_request_free(req);
}
