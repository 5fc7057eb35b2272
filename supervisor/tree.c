/* SPDX-License-Identifier: MIT */
/*
 * The supervision tree at run time: a unit per configured node; each
 * supervisor unit drives the restart engine (strategy.c) for its children,
 * stopping and starting what it asks for, in the order it asks, and reports
 * upward: ready once all its children are, down once it has stopped them
 * all, given up when its intensity is exceeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <syslog.h>

#include "spawnd.h"

void sd_unit_free(struct sd_unit *u)
{
	if (!u)
		return;
	if (u->node->kind == SD_SUPERVISOR) {
		for (uint32_t i = 0; i < u->node->nchildren && u->children; i++)
			sd_unit_free(u->children[i]);
		free(u->children);
		free(u->plan_buf);
		sv_destroy(&u->sv);
	} else {
		sd_worker_release(u);
	}
	free(u);
}

/* A supervisor's engine, fresh: OTP restarts a supervisor as a new process,
 * with no history and every child down. */
static int sup_engine(struct sd_unit *u)
{
	struct sd_node *n = u->node;
	int r;

	if (u->sv.children)
		sv_destroy(&u->sv);
	r = sv_init(&u->sv, n->strategy, n->intensity, n->period_ns, (uint32_t)n->nchildren);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n->nchildren; i++) {
		r = sv_add(&u->sv, n->children[i]->restart);
		if (r < 0)
			return r;
		/* What an operator stopped stays down across restarts. */
		if (u->children && u->children[i])
			u->sv.children[i].held = u->children[i]->held;
	}
	u->reported = false;
	u->failed = false;
	return 0;
}

static void backoff_due(struct sd_loop *loop, struct sd_timer *t)
{
	struct sd_unit *u = (struct sd_unit *)((char *)t - offsetof(struct sd_unit, backoff_timer));

	(void)loop;
	u->d->ctl.check_waits = true; /* backoff is over: its state changed */
	if (u->parent)
		sd_drive(u->parent);
}

struct sd_unit *sd_unit_new(struct sd_daemon *d, struct sd_node *n, struct sd_unit *parent,
			    uint32_t index, char *err, size_t errlen)
{
	struct sd_unit *u = calloc(1, sizeof(*u));

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->d = d;
	u->node = n;
	u->parent = parent;
	u->index = index;
	if (n->kind == SD_WORKER) {
		sd_timer_init(&u->backoff_timer, backoff_due);
		if (sd_worker_prepare(u, err, errlen) < 0)
			goto fail;
		return u;
	}
	u->children = calloc(n->nchildren, sizeof(*u->children));
	u->plan_buf = calloc(2 * n->nchildren, sizeof(*u->plan_buf));
	if (!u->children || !u->plan_buf || sup_engine(u) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n->nchildren; i++) {
		u->children[i] = sd_unit_new(d, n->children[i], u, (uint32_t)i, err, errlen);
		if (!u->children[i])
			goto fail;
	}
	return u;
fail:
	sd_unit_free(u);
	return NULL;
}

int sd_tree_build(struct sd_daemon *d, char *err, size_t errlen)
{
	d->root = sd_unit_new(d, d->cfg->root, NULL, 0, err, errlen);
	return d->root ? 0 : -EINVAL;
}

void sd_tree_free(struct sd_daemon *d)
{
	while (d->retired) {
		struct sd_unit *u = d->retired;

		d->retired = u->next_retired;
		sd_unit_free(u);
	}
	sd_unit_free(d->root);
	d->root = NULL;
	sd_run_index_free(d);
	for (size_t i = 0; i < d->nold_cfgs; i++)
		sd_config_free(d->old_cfgs[i]);
	free(d->old_cfgs);
	d->old_cfgs = NULL;
	d->nold_cfgs = 0;
}

/* ---- reload's removals -------------------------------------------------------------- */

/* The running tree now follows cfg; the old configuration is kept while
 * units removed by the reload, which still point into it, are stopping. */
void sd_config_keep_old(struct sd_daemon *d, struct sd_config *cfg)
{
	struct sd_config **old = realloc(d->old_cfgs, (d->nold_cfgs + 1) * sizeof(*old));

	if (old) {
		d->old_cfgs = old;
		d->old_cfgs[d->nold_cfgs++] = d->cfg;
	} else {
		/* Out of memory: leak it rather than free what units use. */
	}
	d->cfg = cfg;
	d->cfg_file = cfg->file;
	if (!d->retired)
		sd_retired_sweep(d);
}

static void start_unit(struct sd_unit *u);
static void stop_unit(struct sd_unit *u);

/* A unit a reload removed: out of the tree, stopped, freed once down. */
void sd_unit_retire(struct sd_unit *u, enum sv_state state)
{
	struct sd_daemon *d = u->d;

	u->parent = NULL;
	u->retired = true;
	u->next_retired = d->retired;
	d->retired = u;
	if (u->node->kind == SD_WORKER) {
		sd_timer_cancel(&d->loop, &u->backoff_timer);
		if (u->run && !u->run->exited && !u->run->stop_sent)
			sd_worker_stop(u);
		return;
	}
	(void)state;
	sv_shutdown(&u->sv);
	sd_drive(u);
}

static bool unit_down(const struct sd_unit *u)
{
	if (u->node->kind == SD_WORKER)
		return !u->run;
	return sv_all_down(&u->sv);
}

/* After each step: free the retired units that are down, and the old
 * configurations once no unit points into them. */
void sd_retired_sweep(struct sd_daemon *d)
{
	for (struct sd_unit **pp = &d->retired; *pp;) {
		struct sd_unit *u = *pp;

		if (!unit_down(u)) {
			pp = &u->next_retired;
			continue;
		}
		*pp = u->next_retired;
		if (u->node->kind == SD_WORKER)
			sd_timer_cancel(&d->loop, &u->stall_timer);
		sd_unit_free(u);
	}
	if (!d->retired && d->nold_cfgs) {
		for (size_t i = 0; i < d->nold_cfgs; i++)
			sd_config_free(d->old_cfgs[i]);
		free(d->old_cfgs);
		d->old_cfgs = NULL;
		d->nold_cfgs = 0;
	}
}


/* A restart now, counted in its second's slot (status: restarts in the
 * last minute). */
void sd_count_restart(struct sd_daemon *d)
{
	uint64_t sec = sd_now_ns() / 1000000000u;
	__typeof__(d->restarts_by_sec[0]) *slot = &d->restarts_by_sec[sec % 60];

	if (slot->sec != sec) {
		slot->sec = sec;
		slot->count = 0;
	}
	slot->count++;
}

uint64_t sd_restarts_last_minute(const struct sd_daemon *d)
{
	uint64_t sec = sd_now_ns() / 1000000000u, n = 0;

	for (size_t i = 0; i < 60; i++)
		if (d->restarts_by_sec[i].count && sec - d->restarts_by_sec[i].sec < 60)
			n += d->restarts_by_sec[i].count;
	return n;
}

/* The name to show: the full path, or the root's name. */
static const char *unit_name(const struct sd_unit *u)
{
	return u->node->path[0] ? u->node->path : u->node->name;
}

static void start_unit(struct sd_unit *u)
{
	u->starts++;
	if (u->node->kind == SD_WORKER) {
		if (sd_worker_start(u) < 0)
			sd_child_exited(u, false); /* could not even be cloned: a failed start */
		return;
	}
	if (sup_engine(u) < 0) {
		sd_log(&u->d->log, "%s: out of memory: not started", unit_name(u));
		sd_child_exited(u, false);
		return;
	}
	sv_start_all(&u->sv);
	sd_drive(u);
}

static void stop_unit(struct sd_unit *u)
{
	if (u->node->kind == SD_WORKER) {
		sd_worker_stop(u);
		return;
	}
	sv_shutdown(&u->sv);
	sd_drive(u);
}

/* Report upward what the children's states add up to. */
static void report(struct sd_unit *s)
{
	struct sd_daemon *d = s->d;

	if (s->sv.stopping_all) {
		if (!sv_all_down(&s->sv) || s->reported)
			return;
		s->reported = true;
		s->failed = s->sv.gave_up;
		if (s->parent) {
			sd_child_exited(s, !s->sv.gave_up);
		} else if (s->retired) {
			/* freed by sd_retired_sweep */
		} else if (d->restart_root && !s->sv.gave_up && !d->shutting_down) {
			d->restart_root = false;
			sd_log(&d->log, "%s: starting again", unit_name(s));
			start_unit(s);
		} else {
			d->done = true;
			d->exit_status = s->sv.gave_up ? SD_EXIT_GAVEUP : SD_EXIT_OK;
		}
		return;
	}
	if (s->parent && s->parent->sv.children[s->index].state == SV_STARTING && sv_quiet(&s->sv))
		sd_child_ready(s);
}

void sd_drive(struct sd_unit *s)
{
	struct sd_daemon *d = s->d;

	for (;;) {
		int i = sv_next_stop(&s->sv);

		if (i >= 0) {
			sv_stopping(&s->sv, (uint32_t)i);
			stop_unit(s->children[i]);
			continue;
		}
		i = sv_next_start(&s->sv);
		if (i < 0)
			break;
		if (s->children[i]->not_before > sd_now_ns()) {
			struct sd_unit *c = s->children[i];

			/* Backoff: wait; the timer drives us again. */
			if (!sd_timer_armed(&c->backoff_timer))
				sd_timer_arm(&d->loop, &c->backoff_timer, c->not_before);
			break;
		}
		sv_starting(&s->sv, (uint32_t)i);
		start_unit(s->children[i]);
		/* The engine answers -1 until that child is ready. */
	}
	report(s);
}

void sd_child_ready(struct sd_unit *u)
{
	struct sd_unit *p = u->parent;

	if (!p)
		return;
	sv_started(&p->sv, u->index);
	sd_debug(&u->d->log, "%s: ready", unit_name(u));
	sd_drive(p);
}

/* "restart 2 of 5 in 10s" */
static void budget(const struct sd_unit *p, char *buf, size_t size)
{
	uint32_t n = sv_history(&p->sv, sd_now_ns(), NULL, 0); /* how many, only */

	snprintf(buf, size, "restart %u of %u in %.0fs", n, p->sv.intensity,
		 (double)p->sv.period_ns / 1e9);
}

void sd_child_exited(struct sd_unit *u, bool normal)
{
	struct sd_unit *p = u->parent;
	struct sd_daemon *d = u->d;
	enum sv_state was;
	struct sv_plan plan;
	enum sv_verdict v;
	char why[160], list[512];
	size_t len = 0;

	if (!p)
		return;
	was = p->sv.children[u->index].state;
	plan = (struct sv_plan){ .stop = p->plan_buf, .start = p->plan_buf + sv_capacity(&p->sv) };
	v = sv_exited(&p->sv, u->index, normal, sd_now_ns(), &plan);
	switch (v) {
	case SV_NOTHING:
		if (was == SV_STOP || was == SV_STOPPING || p->sv.stopping_all)
			break; /* a stop we asked for */
		snprintf(why, sizeof(why), "%s",
			 u->node->restart == SV_TEMPORARY ? "temporary"
			 : normal			 ? "transient, ended normally"
							 : "not restarted");
		sd_log_about(&d->log,
			     &(struct sd_log_fields){ LOG_NOTICE, sd_unit_path(u), 0, "not_restarted", 0 },
			     "%s: not restarted (%s)", unit_name(u), why);
		break;
	case SV_RESTART:
		list[0] = '\0';
		for (uint32_t k = 0; k < plan.nstart && len < sizeof(list) - 1; k++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "",
						p->children[plan.start[k]]->node->name);
		budget(p, why, sizeof(why));
		if (p->sv.strategy == SV_ONE_FOR_ONE)
			sd_log_about(&d->log,
				     &(struct sd_log_fields){ LOG_NOTICE, sd_unit_path(u), 0, "restarting", 0 },
				     "%s: restarting (one_for_one, %s)", unit_name(u), why);
		else
			sd_log_about(&d->log,
				     &(struct sd_log_fields){ LOG_NOTICE, sd_unit_path(u), 0, "restarting", 0 },
				     "%s: restarting %s (%s, %s)", unit_name(p), list,
				     sv_strategy_name(p->sv.strategy), why);
		if (u->node->kind == SD_WORKER)
			u->restarts++;
		sd_count_restart(d);
		sd_event_restarted(d, p, &plan);
		break;
	case SV_GIVE_UP:
		sd_log_about(&d->log,
			     &(struct sd_log_fields){ LOG_ERR, sd_unit_path(p), 0, "gave_up", 0 },
			     "%s: giving up: more than %u restarts in %.0fs; stopping its children",
			     unit_name(p), p->sv.intensity, (double)p->sv.period_ns / 1e9);
		sd_event_gave_up(d, p);
		break;
	}
	sd_drive(p);
}

void sd_tree_start(struct sd_daemon *d)
{
	sv_start_all(&d->root->sv);
	sd_drive(d->root);
}

void sd_tree_shutdown(struct sd_daemon *d)
{
	if (d->shutting_down)
		return;
	d->shutting_down = true;
	sd_log(&d->log, "shutting down");
	sd_service_stopping(d);
	sv_shutdown(&d->root->sv);
	sd_drive(d->root);
}
