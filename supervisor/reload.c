/* SPDX-License-Identifier: MIT */
/*
 * Reload: re-read the configuration and apply only the difference.
 *
 * Units are matched by their full path. A worker whose declaration is the
 * same keeps running, pid and all; a changed one is restarted with the new
 * declaration (stopped, then started, as an operator's restart); a new
 * one starts in place; a removed one is stopped and forgotten. A supervisor
 * keeps its children's states and its restart history, and takes its new
 * settings (strategy, intensity, period) at once.
 *
 * Two phases, so that a reload either happens whole or not at all: first
 * everything that can fail (the file, users and groups, sandboxes, memory)
 * is prepared beside the running tree; then the tree is changed, which
 * cannot fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spawnd.h"

/* ---- is a declaration the same? ---------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, char *const *b)
{
	if (!a || !b)
		return a == b || (!a && !b[0]) || (!b && !a[0]);
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return !*a && !*b;
}

/* Every field of struct sd_node that describes a worker or a supervisor's
 * own settings (not its children, not where it was written). A new field
 * must be compared here: the size check below fails until it is. */
_Static_assert(sizeof(struct sd_node) == 304, "struct sd_node changed: update same_settings()");

static bool same_settings(const struct sd_node *a, const struct sd_node *b)
{
	if (a->kind != b->kind || a->restart != b->restart || a->shutdown_ns != b->shutdown_ns ||
	    a->shutdown_brutal != b->shutdown_brutal || a->shutdown_infinity != b->shutdown_infinity)
		return false;
	if (a->kind == SD_SUPERVISOR)
		return a->strategy == b->strategy && a->intensity == b->intensity &&
		       a->period_ns == b->period_ns;
	return strv_eq(a->argv, b->argv) && str_eq(a->exec_path, b->exec_path) &&
	       a->ready == b->ready && a->ready_fd == b->ready_fd &&
	       a->ready_timeout_ns == b->ready_timeout_ns &&
	       a->backoff.enabled == b->backoff.enabled && a->backoff.initial_ns == b->backoff.initial_ns &&
	       a->backoff.max_ns == b->backoff.max_ns &&
	       a->backoff.reset_after_ns == b->backoff.reset_after_ns &&
	       a->sandbox.base == b->sandbox.base && strv_eq(a->sandbox.allow, b->sandbox.allow) &&
	       strv_eq(a->sandbox.deny, b->sandbox.deny) && a->sandbox.io_uring == b->sandbox.io_uring &&
	       a->sandbox.kill == b->sandbox.kill && a->sandbox.custom == b->sandbox.custom &&
	       a->limits.has_nofile == b->limits.has_nofile && a->limits.has_core == b->limits.has_core &&
	       a->limits.has_pids == b->limits.has_pids && a->limits.has_memory == b->limits.has_memory &&
	       a->limits.nofile == b->limits.nofile && a->limits.core == b->limits.core &&
	       a->limits.pids == b->limits.pids && a->limits.memory == b->limits.memory &&
	       a->stall_timeout_ns == b->stall_timeout_ns && a->on_stall == b->on_stall &&
	       a->watchdog_ns == b->watchdog_ns && strv_eq(a->env, b->env) && str_eq(a->cwd, b->cwd) &&
	       str_eq(a->user, b->user) && str_eq(a->group, b->group) && a->out == b->out &&
	       a->err == b->err && str_eq(a->out_path, b->out_path) && str_eq(a->err_path, b->err_path);
}

/* ---- phase 1: prepare ----------------------------------------------------------------- */

/* What becomes of one node of the new configuration. */
struct plan {
	struct sd_node *node;     /* in the new configuration */
	struct sd_unit *old;      /* the running unit it matches, or NULL */
	struct sd_unit *fresh;    /* a new unit (and subtree): an addition */
	struct sd_unit *settings; /* a changed worker: its new settings, prepared */
	bool changed;
	/* A matched supervisor: its new engine and arrays, and its children's plans. */
	struct sv_sup sv;
	struct sd_unit **children;
	uint32_t *plan_buf;
	struct plan *kids;
	int32_t *from;            /* new child j was old child from[j], or -1 */
};

static void plan_free(struct plan *p, bool committed)
{
	if (!p)
		return;
	if (!committed) {
		if (p->fresh)
			sd_unit_free(p->fresh);
		if (p->settings) {
			sd_worker_release(p->settings);
			free(p->settings);
		}
		if (p->sv.children)
			sv_destroy(&p->sv);
		free(p->children);
		free(p->plan_buf);
	}
	for (size_t i = 0; p->kids && i < p->node->nchildren; i++)
		plan_free(&p->kids[i], committed);
	free(p->kids);
	free(p->from);
}

static int prepare(struct sd_daemon *d, struct plan *p, struct sd_node *n, struct sd_unit *old,
		   struct sd_unit *parent, uint32_t index, char *err, size_t errlen)
{
	int r;

	p->node = n;
	if (!old || old->node->kind != n->kind) {
		/* New (or now of the other kind: the old one is removed). */
		p->fresh = sd_unit_new(d, n, parent, index, err, errlen);
		return p->fresh ? 0 : -EINVAL;
	}
	p->old = old;
	p->changed = !same_settings(old->node, n);
	if (n->kind == SD_WORKER) {
		if (!p->changed)
			return 0;
		p->settings = calloc(1, sizeof(*p->settings));
		if (!p->settings) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		p->settings->d = d;
		p->settings->node = n;
		return sd_worker_prepare(p->settings, err, errlen);
	}
	r = sv_init(&p->sv, n->strategy, n->intensity, n->period_ns, (uint32_t)n->nchildren);
	p->children = calloc(n->nchildren, sizeof(*p->children));
	p->plan_buf = calloc(2 * n->nchildren, sizeof(*p->plan_buf));
	p->kids = calloc(n->nchildren, sizeof(*p->kids));
	p->from = calloc(n->nchildren, sizeof(*p->from));
	if (r < 0 || !p->children || !p->plan_buf || !p->kids || !p->from) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t j = 0; j < n->nchildren; j++) {
		struct sd_unit *match = NULL;

		p->from[j] = -1;
		for (size_t i = 0; i < old->node->nchildren; i++) {
			if (strcmp(old->children[i]->node->name, n->children[j]->name) == 0) {
				match = old->children[i];
				p->from[j] = (int32_t)i;
				break;
			}
		}
		r = sv_add(&p->sv, n->children[j]->restart);
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", n->children[j]->path, strerror(-r));
			return r;
		}
		r = prepare(d, &p->kids[j], n->children[j], match, old, (uint32_t)j, err, errlen);
		if (r < 0)
			return r;
		if (match && match->node->kind != n->children[j]->kind)
			p->from[j] = -1;
	}
	return 0;
}

/* ---- phase 2: commit ------------------------------------------------------------------ */

struct lists {
	json_object *added, *removed, *changed;
	unsigned unchanged;
};

static void list_subtree(json_object *arr, const struct sd_unit *u)
{
	json_object_array_add(arr, json_object_new_string(sd_unit_path(u)));
	if (u->node->kind == SD_SUPERVISOR)
		for (size_t i = 0; i < u->node->nchildren; i++)
			list_subtree(arr, u->children[i]);
}

/* Swap a changed worker's settings for the prepared ones; its ring of
 * output and its history stay. */
static void take_settings(struct sd_unit *u, struct sd_unit *s)
{
	struct sd_ring ring = u->ring;

	u->ring = (struct sd_ring){ 0 };
	sd_worker_release(u);
	u->filter = s->filter;
	u->envp = s->envp;
	u->uid = s->uid;
	u->gid = s->gid;
	u->groups = s->groups;
	u->ngroups = s->ngroups;
	u->set_ids = s->set_ids;
	u->ring = ring;
	sd_ring_fini(&s->ring);
	free(s);
}

/* Is the supervisor u running its children (not stopped, not stopping)? */
static bool sup_active(const struct sd_unit *u)
{
	enum sv_state st = u->parent ? u->parent->sv.children[u->index].state : SV_RUNNING;

	return (st == SV_STARTING || st == SV_RUNNING) && !u->sv.stopping_all;
}

static void commit(struct sd_daemon *d, struct plan *p, struct lists *l, struct sd_unit **drive,
		   size_t *ndrive)
{
	struct sd_unit *u = p->old;
	struct sd_node *n = p->node;

	if (n->kind == SD_WORKER) {
		u->node = n;
		if (p->changed) {
			take_settings(u, p->settings);
			p->settings = NULL;
			json_object_array_add(l->changed, json_object_new_string(sd_unit_path(u)));
		} else {
			l->unchanged++;
		}
		return;
	}
	/* A supervisor: the children that are gone are retired first (they
	 * still point into the old configuration, kept until they are down). */
	for (size_t i = 0; i < u->node->nchildren; i++) {
		bool kept = false;

		for (size_t j = 0; j < n->nchildren && !kept; j++)
			kept = p->from[j] == (int32_t)i;
		if (!kept) {
			list_subtree(l->removed, u->children[i]);
			sd_unit_retire(u->children[i], u->sv.children[i].state);
		}
	}
	for (size_t j = 0; j < n->nchildren; j++) {
		struct plan *k = &p->kids[j];

		if (p->from[j] >= 0) {
			sv_adopt(&p->sv, (uint32_t)j, &u->sv, (uint32_t)p->from[j]);
			p->children[j] = k->old;
		} else {
			p->children[j] = k->fresh;
			k->fresh = NULL;
		}
		p->children[j]->parent = u;
		p->children[j]->index = (uint32_t)j;
	}
	sv_carry(&p->sv, &u->sv);
	sv_destroy(&u->sv);
	free(u->children);
	free(u->plan_buf);
	u->sv = p->sv;
	u->children = p->children;
	u->plan_buf = p->plan_buf;
	p->sv = (struct sv_sup){ 0 };
	p->children = NULL;
	p->plan_buf = NULL;
	if (p->changed && u->parent)
		json_object_array_add(l->changed, json_object_new_string(n->path));
	else if (!p->changed)
		l->unchanged++;
	u->node = n;
	for (size_t j = 0; j < n->nchildren; j++) {
		struct sd_unit *c = u->children[j];

		if (p->from[j] >= 0) {
			commit(d, &p->kids[j], l, drive, ndrive);
			/* A changed worker that runs: restarted, as an operator would. */
			if (c->node->kind == SD_WORKER && p->kids[j].changed && !c->held &&
			    (u->sv.children[j].state == SV_RUNNING || u->sv.children[j].state == SV_STARTING))
				(void)sv_restart(&u->sv, (uint32_t)j);
		} else {
			list_subtree(l->added, c);
			if (sup_active(u) && !c->held)
				u->sv.children[j].state = SV_PENDING; /* an addition starts in place */
		}
	}
	drive[(*ndrive)++] = u;
}

static size_t count_supervisors(const struct sd_node *n)
{
	size_t k = n->kind == SD_SUPERVISOR;

	for (size_t i = 0; n->kind == SD_SUPERVISOR && i < n->nchildren; i++)
		k += count_supervisors(n->children[i]);
	return k;
}

static json_object *reload(struct sd_daemon *d, const struct sd_request *req)
{
	struct sd_errors errs = { 0 };
	struct sd_config *cfg = NULL;
	struct plan root = { 0 };
	struct lists l;
	struct sd_unit **drive = NULL;
	size_t ndrive = 0;
	json_object *resp, *ev;
	char err[512];
	int r;

	if (!d->cfg_file) {
		return sd_response_error(req, SD_ERR_FAILED,
					 "nothing to reload: spawnd runs a command line, not a file");
	}
	if (d->shutting_down)
		return sd_response_error(req, SD_ERR_BUSY, "spawnd is shutting down");
	r = sd_config_load(d->cfg_file, &cfg, &errs);
	if (r < 0) {
		json_object *list = json_object_new_array();

		for (size_t i = 0; i < errs.n; i++) {
			sd_log(&d->log, "reload: %s", errs.msgs[i]);
			json_object_array_add(list, json_object_new_string(errs.msgs[i]));
		}
		snprintf(err, sizeof(err), "%s: %zu error%s: nothing changed", d->cfg_file, errs.n,
			 errs.n == 1 ? "" : "s");
		sd_errors_free(&errs);
		resp = sd_response_error(req, SD_ERR_CONFIG, err);
		json_object_object_add(json_object_object_get(resp, "error"), "errors", list);
		return resp;
	}
	if (cfg->root->kind != SD_SUPERVISOR || d->root->node->kind != SD_SUPERVISOR) {
		sd_config_free(cfg);
		return sd_response_error(req, SD_ERR_FAILED, "the root must stay a supervisor");
	}
	drive = calloc(count_supervisors(cfg->root), sizeof(*drive));
	r = drive ? prepare(d, &root, cfg->root, d->root, NULL, 0, err, sizeof(err)) : -ENOMEM;
	if (!drive)
		snprintf(err, sizeof(err), "out of memory");
	if (r < 0) {
		sd_log(&d->log, "reload: %s: nothing changed", err);
		plan_free(&root, false);
		sd_config_free(cfg);
		free(drive);
		return sd_response_error(req, SD_ERR_CONFIG, err);
	}

	l = (struct lists){ json_object_new_array(), json_object_new_array(), json_object_new_array(), 0 };
	commit(d, &root, &l, drive, &ndrive);
	plan_free(&root, true);
	sd_config_keep_old(d, cfg);
	/* Drive the supervisors top-down (commit listed them bottom-up). */
	while (ndrive--)
		sd_drive(drive[ndrive]);
	free(drive);
	sd_bpf_reloaded(d);

	sd_log(&d->log, "reloaded %s: %zu added, %zu removed, %zu changed, %u unchanged",
	       d->cfg_file, json_object_array_length(l.added), json_object_array_length(l.removed),
	       json_object_array_length(l.changed), l.unchanged);
	ev = sd_event_new("reloaded", "/");
	if (ev) {
		json_object_object_add(ev, "added", json_object_get(l.added));
		json_object_object_add(ev, "removed", json_object_get(l.removed));
		json_object_object_add(ev, "changed", json_object_get(l.changed));
		d->ctl.check_waits = true;
		if (d->ctl.nsubscribers)
			sd_control_broadcast(&d->ctl, ev);
		else
			json_object_put(ev);
	}
	resp = sd_response_ok(req);
	json_object_object_add(resp, "added", l.added);
	json_object_object_add(resp, "removed", l.removed);
	json_object_object_add(resp, "changed", l.changed);
	json_object_object_add(resp, "unchanged", json_object_new_int((int)l.unchanged));
	return resp;
}

/* systemd hears of it: RELOADING=1 before, READY=1 after, whatever the
 * outcome (a failed reload leaves the tree as it was, running). */
json_object *sd_reload(struct sd_daemon *d, const struct sd_request *req)
{
	bool tell = !d->shutting_down; /* no READY=1 while stopping */
	json_object *resp;

	if (tell)
		sd_service_reloading(d);
	resp = reload(d, req);
	if (tell)
		sd_service_reloaded(d);
	return resp;
}
