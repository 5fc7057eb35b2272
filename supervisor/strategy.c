/* SPDX-License-Identifier: MIT */
/*
 * The restart-policy engine (see strategy.h): OTP's supervisor rules.
 *
 * The rules, as OTP states them and as this file implements them:
 * - permanent children are always restarted; transient ones unless they
 *   exited normally; temporary ones never, and a temporary child taken
 *   down by a sibling's restart is gone, not restarted;
 * - one_for_one restarts the failed child; one_for_all stops all the others
 *   (in reverse order) and restarts them all (in order); rest_for_one does
 *   that for the failed child and those started after it;
 *   simple_one_for_one is one_for_one over a dynamic set of children;
 * - a group restart also starts the children that had stopped normally,
 *   but never one an operator stopped (held);
 * - more than `intensity` restarts within `period` (inclusive) and the
 *   supervisor gives up: everything stops and it exits;
 * - children start in order, one at a time, and stop in reverse order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strategy.h"

static bool active(enum sv_state st)
{
	return st == SV_STARTING || st == SV_RUNNING;
}

static bool stopping(enum sv_state st)
{
	return st == SV_STOP || st == SV_STOPPING;
}

static bool valid_restart(enum sv_restart restart)
{
	return restart == SV_PERMANENT || restart == SV_TRANSIENT || restart == SV_TEMPORARY;
}

int sv_init(struct sv_sup *sup, enum sv_strategy strategy, unsigned intensity,
	    uint64_t period_ns, uint32_t capacity)
{
	if (strategy > SV_SIMPLE_ONE_FOR_ONE || !period_ns || !capacity ||
	    capacity > UINT32_MAX / 2 || intensity > (1u << 20))
		return -EINVAL;
	*sup = (struct sv_sup){
		.strategy = strategy,
		.intensity = intensity,
		.period_ns = period_ns,
		.capacity = capacity,
	};
	sup->children = calloc(capacity, sizeof(*sup->children));
	sup->history = calloc(intensity ? intensity : 1, sizeof(*sup->history));
	if (!sup->children || !sup->history) {
		sv_destroy(sup);
		return -ENOMEM;
	}
	return 0;
}

void sv_destroy(struct sv_sup *sup)
{
	free(sup->children);
	free(sup->history);
	sup->children = NULL;
	sup->history = NULL;
}

int sv_add(struct sv_sup *sup, enum sv_restart restart)
{
	if (sup->strategy == SV_SIMPLE_ONE_FOR_ONE || !valid_restart(restart))
		return -EINVAL;
	if (sup->nchildren == sup->capacity)
		return -ENOSPC;
	sup->children[sup->nchildren] = (struct sv_child){ .restart = restart, .state = SV_DOWN };
	return (int)sup->nchildren++;
}

int sv_set_dynamic(struct sv_sup *sup, enum sv_restart restart)
{
	if (sup->strategy != SV_SIMPLE_ONE_FOR_ONE || !valid_restart(restart) || sup->nchildren)
		return -EINVAL;
	sup->dynamic_restart = restart;
	return 0;
}

int sv_add_dynamic(struct sv_sup *sup)
{
	uint32_t i;

	if (sup->strategy != SV_SIMPLE_ONE_FOR_ONE)
		return -EINVAL;
	if (sup->stopping_all)
		return -EBUSY;
	for (i = 0; i < sup->nchildren; i++)
		if (sup->children[i].state == SV_REMOVED)
			break;
	if (i == sup->nchildren) {
		if (i == sup->capacity)
			return -ENOSPC;
		sup->nchildren++;
	}
	sup->children[i] = (struct sv_child){ .restart = sup->dynamic_restart, .state = SV_PENDING };
	return (int)i;
}

int sv_remove(struct sv_sup *sup, uint32_t i)
{
	if (sup->strategy != SV_SIMPLE_ONE_FOR_ONE || i >= sup->nchildren)
		return -EINVAL;
	if (active(sup->children[i].state) || stopping(sup->children[i].state))
		return -EBUSY;
	sup->children[i].state = SV_REMOVED;
	while (sup->nchildren && sup->children[sup->nchildren - 1].state == SV_REMOVED)
		sup->nchildren--;
	return 0;
}

void sv_start_all(struct sv_sup *sup)
{
	for (uint32_t i = 0; i < sup->nchildren; i++) {
		struct sv_child *c = &sup->children[i];

		if (c->state == SV_DOWN && !c->held)
			c->state = SV_PENDING;
	}
}

int sv_next_stop(const struct sv_sup *sup)
{
	bool parallel = sup->strategy == SV_SIMPLE_ONE_FOR_ONE;

	/* One at a time, highest index first (dynamic children: all at once). */
	for (uint32_t i = 0; !parallel && i < sup->nchildren; i++)
		if (sup->children[i].state == SV_STOPPING)
			return -1;
	for (uint32_t i = sup->nchildren; i-- > 0;)
		if (sup->children[i].state == SV_STOP)
			return (int)i;
	return -1;
}

int sv_next_start(const struct sv_sup *sup)
{
	bool parallel = sup->strategy == SV_SIMPLE_ONE_FOR_ONE;

	if (sup->stopping_all)
		return -1;
	/* Stops first; then in order, each after the previous one is ready
	 * (dynamic children need not wait for each other). */
	for (uint32_t i = 0; i < sup->nchildren; i++) {
		enum sv_state st = sup->children[i].state;

		if (stopping(st) || (!parallel && st == SV_STARTING))
			return -1;
	}
	for (uint32_t i = 0; i < sup->nchildren; i++)
		if (sup->children[i].state == SV_PENDING)
			return (int)i;
	return -1;
}

void sv_stopping(struct sv_sup *sup, uint32_t i)
{
	if (i < sup->nchildren && sup->children[i].state == SV_STOP)
		sup->children[i].state = SV_STOPPING;
}

void sv_starting(struct sv_sup *sup, uint32_t i)
{
	if (i < sup->nchildren && sup->children[i].state == SV_PENDING)
		sup->children[i].state = SV_STARTING;
}

void sv_started(struct sv_sup *sup, uint32_t i)
{
	if (i < sup->nchildren && active(sup->children[i].state))
		sup->children[i].state = SV_RUNNING;
}

/* Where a child that ended and will not be restarted goes. */
static enum sv_state down_state(const struct sv_sup *sup, const struct sv_child *c)
{
	if (c->restart == SV_TEMPORARY || sup->strategy == SV_SIMPLE_ONE_FOR_ONE)
		return SV_REMOVED;
	return SV_DOWN;
}

/* Record a restart at now; false if that makes more than intensity within
 * the period (the restart must not happen). */
static bool record_restart(struct sv_sup *sup, uint64_t now)
{
	uint64_t since = now > sup->period_ns ? now - sup->period_ns : 0;
	uint32_t within = 0;

	for (uint32_t k = 0; k < sup->history_len; k++)
		if (sup->history[k] >= since && sup->history[k] <= now)
			within++;
	if (within + 1 > sup->intensity)
		return false;
	sup->history[sup->history_next] = now;
	sup->history_next = (sup->history_next + 1) % sup->intensity;
	if (sup->history_len < sup->intensity)
		sup->history_len++;
	return true;
}

static void plan_stop(struct sv_plan *plan, uint32_t i)
{
	if (plan)
		plan->stop[plan->nstop++] = i;
}

/* Ask child i to stop; restart: to start again once it has. */
static void stop_child(struct sv_sup *sup, uint32_t i, bool restart, struct sv_plan *plan)
{
	struct sv_child *c = &sup->children[i];

	if (active(c->state)) {
		c->state = SV_STOP;
		plan_stop(plan, i);
	} else if (c->state == SV_PENDING && !restart) {
		c->state = down_state(sup, c);
	}
	if (stopping(c->state))
		c->restart_after = restart;
}

/* Every child stops, in reverse order, and nothing restarts. */
static void stop_all(struct sv_sup *sup, struct sv_plan *plan)
{
	sup->stopping_all = true;
	for (uint32_t i = sup->nchildren; i-- > 0;)
		stop_child(sup, i, false, plan);
}

/* The children from `from` on restart together: those running stop (in
 * reverse order) and all that may start again do (in order). The failed
 * one is already down. */
static void restart_group(struct sv_sup *sup, uint32_t from, struct sv_plan *plan)
{
	for (uint32_t j = sup->nchildren; j-- > from;) {
		struct sv_child *c = &sup->children[j];
		bool again = c->restart != SV_TEMPORARY && !c->held;

		if (active(c->state) || stopping(c->state))
			stop_child(sup, j, again, plan);
		else if (c->state == SV_DOWN && again)
			c->state = SV_PENDING;
	}
}

static void plan_starts(const struct sv_sup *sup, struct sv_plan *plan)
{
	if (!plan)
		return;
	for (uint32_t j = 0; j < sup->nchildren; j++)
		if (sup->children[j].state == SV_PENDING ||
		    (stopping(sup->children[j].state) && sup->children[j].restart_after))
			plan->start[plan->nstart++] = j;
}

enum sv_verdict sv_exited(struct sv_sup *sup, uint32_t i, bool normal, uint64_t now_ns,
			  struct sv_plan *plan)
{
	struct sv_child *c;
	bool restart;

	if (plan)
		plan->nstop = plan->nstart = 0;
	if (i >= sup->nchildren)
		return SV_NOTHING;
	c = &sup->children[i];
	if (stopping(c->state)) {
		/* A stop we asked for completes (or it died first: same). */
		c->state = c->restart_after ? SV_PENDING : down_state(sup, c);
		c->restart_after = false;
		return SV_NOTHING;
	}
	if (!active(c->state))
		return SV_NOTHING;

	switch (c->restart) {
	case SV_PERMANENT:
		restart = true;
		break;
	case SV_TRANSIENT:
		restart = !normal;
		break;
	default:
		restart = false;
	}
	c->state = down_state(sup, c);
	if (!restart || sup->stopping_all)
		return SV_NOTHING;
	if (!record_restart(sup, now_ns)) {
		sup->gave_up = true;
		stop_all(sup, plan);
		return SV_GIVE_UP;
	}
	c->restarts++;
	c->state = SV_PENDING;
	switch (sup->strategy) {
	case SV_ONE_FOR_ALL:
		restart_group(sup, 0, plan);
		break;
	case SV_REST_FOR_ONE:
		restart_group(sup, i, plan);
		break;
	default:
		break;
	}
	plan_starts(sup, plan);
	return SV_RESTART;
}

static int check_op(struct sv_sup *sup, uint32_t i)
{
	if (i >= sup->nchildren)
		return -EINVAL;
	if (sup->stopping_all)
		return -EBUSY;
	if (sup->children[i].state == SV_REMOVED && sup->strategy == SV_SIMPLE_ONE_FOR_ONE)
		return -EINVAL;
	return 0;
}

int sv_hold(struct sv_sup *sup, uint32_t i)
{
	int r = check_op(sup, i);

	if (r < 0)
		return r;
	sup->children[i].held = true;
	stop_child(sup, i, false, NULL);
	return 0;
}

int sv_release(struct sv_sup *sup, uint32_t i)
{
	struct sv_child *c;
	int r = check_op(sup, i);

	if (r < 0)
		return r;
	c = &sup->children[i];
	c->held = false;
	if (c->state == SV_DOWN || c->state == SV_REMOVED)
		c->state = SV_PENDING;
	else if (stopping(c->state))
		c->restart_after = true;
	return 0;
}

int sv_restart(struct sv_sup *sup, uint32_t i)
{
	struct sv_child *c;
	int r = check_op(sup, i);

	if (r < 0)
		return r;
	c = &sup->children[i];
	c->held = false;
	if (active(c->state) || stopping(c->state))
		stop_child(sup, i, true, NULL);
	else if (c->state != SV_PENDING)
		c->state = SV_PENDING;
	return 0;
}

void sv_shutdown(struct sv_sup *sup)
{
	stop_all(sup, NULL);
}

bool sv_quiet(const struct sv_sup *sup)
{
	for (uint32_t i = 0; i < sup->nchildren; i++) {
		enum sv_state st = sup->children[i].state;

		if (st == SV_PENDING || st == SV_STARTING || stopping(st))
			return false;
	}
	return true;
}

bool sv_all_down(const struct sv_sup *sup)
{
	for (uint32_t i = 0; i < sup->nchildren; i++) {
		enum sv_state st = sup->children[i].state;

		if (active(st) || stopping(st))
			return false;
	}
	return true;
}

uint32_t sv_history(const struct sv_sup *sup, uint64_t now_ns, uint64_t *out, uint32_t max)
{
	uint64_t since = now_ns > sup->period_ns ? now_ns - sup->period_ns : 0;
	uint32_t n = 0;

	/* The ring's oldest entry is history_len places behind the next. */
	for (uint32_t k = 0; k < sup->history_len; k++) {
		uint32_t at = (sup->history_next + sup->intensity - sup->history_len + k) %
			      sup->intensity;
		uint64_t t = sup->history[at];

		if (t < since || t > now_ns)
			continue;
		if (n < max)
			out[n] = t;
		n++;
	}
	return n;
}

static const char *const strategy_names[] = {
	[SV_ONE_FOR_ONE] = "one_for_one",
	[SV_ONE_FOR_ALL] = "one_for_all",
	[SV_REST_FOR_ONE] = "rest_for_one",
	[SV_SIMPLE_ONE_FOR_ONE] = "simple_one_for_one",
};

static const char *const restart_names[] = {
	[SV_PERMANENT] = "permanent",
	[SV_TRANSIENT] = "transient",
	[SV_TEMPORARY] = "temporary",
};

static const char *const state_names[] = {
	[SV_DOWN] = "stopped",   [SV_PENDING] = "pending",   [SV_STARTING] = "starting",
	[SV_RUNNING] = "running", [SV_STOP] = "stopping",    [SV_STOPPING] = "stopping",
	[SV_REMOVED] = "removed",
};

const char *sv_strategy_name(enum sv_strategy strategy)
{
	return strategy <= SV_SIMPLE_ONE_FOR_ONE ? strategy_names[strategy] : "?";
}

const char *sv_restart_name(enum sv_restart restart)
{
	return valid_restart(restart) ? restart_names[restart] : "?";
}

const char *sv_state_name(enum sv_state state)
{
	return state <= SV_REMOVED ? state_names[state] : "?";
}

static int parse(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

int sv_strategy_parse(const char *name, enum sv_strategy *ret)
{
	int r = parse(name, strategy_names, sizeof(strategy_names) / sizeof(strategy_names[0]));

	if (r < 0)
		return r;
	*ret = (enum sv_strategy)r;
	return 0;
}

int sv_restart_parse(const char *name, enum sv_restart *ret)
{
	int r = parse(name, restart_names, sizeof(restart_names) / sizeof(restart_names[0]));

	if (r < 0)
		return r;
	*ret = (enum sv_restart)r;
	return 0;
}

void sv_adopt(struct sv_sup *to, uint32_t j, const struct sv_sup *from, uint32_t i)
{
	enum sv_restart restart = to->children[j].restart;

	to->children[j] = from->children[i];
	to->children[j].restart = restart; /* the new declaration's */
}

void sv_carry(struct sv_sup *to, const struct sv_sup *from)
{
	/* The most recent restarts, oldest first, as many as the new ring holds. */
	uint32_t n = from->history_len < to->intensity ? from->history_len : to->intensity;

	for (uint32_t k = from->history_len - n; k < from->history_len; k++) {
		uint32_t at = (from->history_next + from->intensity - from->history_len + k) %
			      from->intensity;

		to->history[to->history_next] = from->history[at];
		to->history_next = (to->history_next + 1) % to->intensity;
		to->history_len++;
	}
	to->stopping_all = from->stopping_all;
	to->gave_up = from->gave_up;
}
