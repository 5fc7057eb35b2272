/* SPDX-License-Identifier: MIT */
/*
 * Events (spawnd-control(7)): what happens in the tree, as JSON objects to
 * the control socket's subscribers. Each one also tells the control socket
 * that states changed, so that requests waiting for a state look again.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "spawnd.h"

/* Is anyone to hear it? Either way, waits look again after this step. */
static bool wanted(struct sd_daemon *d)
{
	d->ctl.check_waits = true;
	return d->ctl.nsubscribers > 0;
}

static json_object *unit_event(const char *type, const struct sd_unit *u, pid_t pid)
{
	json_object *ev = sd_event_new(type, sd_unit_path(u));

	if (ev && pid > 0)
		json_object_object_add(ev, "pid", json_object_new_int(pid));
	return ev;
}

void sd_event_unit(struct sd_daemon *d, const char *type, const struct sd_unit *u, pid_t pid)
{
	if (wanted(d))
		sd_control_broadcast(&d->ctl, unit_event(type, u, pid));
}

void sd_event_exit(struct sd_daemon *d, const struct sd_unit *u, pid_t pid)
{
	const struct sd_exit *e = &u->last;
	json_object *ev, *detail;

	if (!wanted(d))
		return;
	ev = unit_event(e->normal ? "exited" : "crashed", u, pid);
	detail = sd_exit_json(e);
	if (!ev || !detail) {
		json_object_put(ev);
		json_object_put(detail);
		return;
	}
	/* The exit's fields, flat in the event. */
	json_object_object_foreach(detail, key, val)
	{
		if (strcmp(key, "at_ms") != 0)
			json_object_object_add(ev, key, json_object_get(val));
	}
	json_object_put(detail);
	if (u->exit_crash && u->last_crash)
		json_object_object_add(ev, "crash", json_object_get(u->last_crash));
	sd_control_broadcast(&d->ctl, ev);
}

void sd_event_restarted(struct sd_daemon *d, const struct sd_unit *sup, const struct sv_plan *plan)
{
	json_object *ev, *kids;

	if (!wanted(d))
		return;
	ev = unit_event("restarted", sup, 0);
	if (!ev)
		return;
	kids = json_object_new_array();
	for (uint32_t i = 0; i < plan->nstart; i++)
		json_object_array_add(kids, json_object_new_string(sd_unit_path(sup->children[plan->start[i]])));
	json_object_object_add(ev, "strategy", json_object_new_string(sv_strategy_name(sup->sv.strategy)));
	json_object_object_add(ev, "children", kids);
	sd_control_broadcast(&d->ctl, ev);
}

/* Which stall, where, how long (spawnd-control(7), "stall"). */
json_object *sd_stall_json(const struct sd_stall *st)
{
	json_object *o = json_object_new_object();
	char msg[512];
	int len;

	json_object_object_add(o, "kind", json_object_new_string(st->kind));
	json_object_object_add(o, "source", json_object_new_string(st->source));
	json_object_object_add(o, "pid", json_object_new_int(st->pid));
	json_object_object_add(o, "tid", json_object_new_int(st->tid));
	json_object_object_add(o, "comm", json_object_new_string(st->comm));
	json_object_object_add(o, "for_ms", json_object_new_int64((int64_t)(st->for_ns / 1000000u)));
	if (st->kernel_stack[0])
		json_object_object_add(o, "kernel_stack", json_object_new_string(st->kernel_stack));
	len = snprintf(msg, sizeof(msg), "%s for %.1fs: thread %d (%s)",
		       !strcmp(st->kind, "uninterruptible") ? "in uninterruptible sleep (D)"
		       : !strcmp(st->kind, "spinning")      ? "computing without system calls"
		       : !strcmp(st->kind, "runnable")      ? "runnable but not running"
							    : "no WATCHDOG=1",
		       (double)st->for_ns / 1e9, (int)st->tid, st->comm);
	if (st->green_pid) {
		json_object *g = json_object_new_object();

		json_object_object_add(g, "pid", json_object_new_int64((int64_t)st->green_pid));
		json_object_object_add(g, "name", json_object_new_string(st->green_name));
		json_object_object_add(o, "green", g);
		snprintf(msg + len, sizeof(msg) - (size_t)len, ", running green process %llu (%s)",
			 (unsigned long long)st->green_pid,
			 st->green_name[0] ? st->green_name : "unnamed");
	}
	json_object_object_add(o, "message", json_object_new_string(msg));
	return o;
}

void sd_event_stalled(struct sd_daemon *d, const struct sd_unit *u, pid_t pid, json_object *stall)
{
	json_object *ev;

	if (!wanted(d))
		return;
	ev = unit_event("stalled", u, pid);
	if (!ev)
		return;
	json_object_object_add(ev, "message",
			       json_object_get(json_object_object_get(stall, "message")));
	json_object_object_add(ev, "stall", json_object_get(stall));
	sd_control_broadcast(&d->ctl, ev);
}

void sd_event_descendant_crashed(struct sd_daemon *d, const struct sd_unit *u, json_object *crash)
{
	json_object *ev;

	if (!wanted(d))
		return;
	ev = unit_event("descendant_crashed", u,
			json_object_get_int(json_object_object_get(crash, "pid")));
	if (!ev)
		return;
	json_object_object_add(ev, "message",
			       json_object_get(json_object_object_get(crash, "message")));
	json_object_object_add(ev, "crash", json_object_get(crash));
	sd_control_broadcast(&d->ctl, ev);
}

void sd_event_gave_up(struct sd_daemon *d, const struct sd_unit *sup)
{
	json_object *ev;

	if (!wanted(d))
		return;
	ev = unit_event("gave_up", sup, 0);
	if (!ev)
		return;
	json_object_object_add(ev, "intensity", json_object_new_int((int)sup->sv.intensity));
	json_object_object_add(ev, "period_ms", json_object_new_int64((int64_t)(sup->sv.period_ns / 1000000u)));
	sd_control_broadcast(&d->ctl, ev);
}
