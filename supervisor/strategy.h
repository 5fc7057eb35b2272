/* SPDX-License-Identifier: MIT */
/*
 * The restart-policy engine: OTP's supervisor semantics as pure logic.
 *
 * No I/O and no clock: the caller (spawnd for OS processes, libgp's
 * in-process supervisors for green ones) tells it what happened and when,
 * and it decides what must stop and what must (re)start. One implementation
 * of the rules for both.
 *
 * The decision lives in each child's state. The caller drives it:
 *
 *   for (;;) {
 *       i = sv_next_stop(sup)   -> signal child i to stop, sv_stopping(sup, i)
 *       i = sv_next_start(sup)  -> start child i, sv_starting(sup, i), and once
 *                                  it is ready, sv_started(sup, i)
 *       on a child's exit       -> sv_exited(sup, i, normal, now, &plan)
 *   }
 *
 * Stops come first, one at a time, highest index first (reverse start
 * order); then starts, one at a time, lowest index first, each after the
 * previous one is ready (OTP's ordered start). When the restart intensity is
 * exceeded the supervisor gives up: everything stops, and once sv_quiet()
 * the caller exits; its own supervisor sees a child die.
 *
 * Times are nanoseconds on a monotonic clock of the caller's choosing.
 */
#ifndef SV_STRATEGY_H
#define SV_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sv_strategy {
	SV_ONE_FOR_ONE,
	SV_ONE_FOR_ALL,
	SV_REST_FOR_ONE,
	SV_SIMPLE_ONE_FOR_ONE, /* dynamic children of one kind, restarted alone */
};

enum sv_restart {
	SV_PERMANENT, /* always restarted */
	SV_TRANSIENT, /* restarted unless it exited normally */
	SV_TEMPORARY, /* never restarted, not even when a sibling takes it down */
};

enum sv_state {
	SV_DOWN,     /* not running; started again only by a group restart */
	SV_PENDING,  /* to be started (sv_next_start) */
	SV_STARTING, /* started by the caller, not yet ready */
	SV_RUNNING,  /* ready */
	SV_STOP,     /* to be stopped (sv_next_stop) */
	SV_STOPPING, /* asked to stop by the caller, exit awaited */
	SV_REMOVED,  /* gone for good: a temporary child that ended, a freed slot */
};

enum sv_verdict {
	SV_NOTHING, /* the exit changes nothing else (or was an expected stop) */
	SV_RESTART, /* children are to stop and (re)start: see the plan */
	SV_GIVE_UP, /* intensity exceeded: everything stops, then the supervisor exits */
};

struct sv_child {
	enum sv_restart restart;
	enum sv_state state;
	bool held;          /* stopped by an operator: no group restart starts it */
	bool restart_after; /* SV_STOP/STOPPING: PENDING once it has stopped */
	uint64_t restarts;  /* times restarted because of a failure, for status */
};

/* What a decision changed, for logs: child indices. The arrays are the
 * caller's, each of capacity sv_capacity(). */
struct sv_plan {
	uint32_t *stop;  /* asked to stop, in stop order */
	uint32_t nstop;
	uint32_t *start; /* to be started, in start order */
	uint32_t nstart;
};

struct sv_sup {
	enum sv_strategy strategy;
	unsigned intensity; /* more than this many restarts... */
	uint64_t period_ns; /* ...within this long, and the supervisor gives up */
	enum sv_restart dynamic_restart; /* simple_one_for_one: the one kind */
	struct sv_child *children;
	uint32_t nchildren; /* slots used so far (simple_one_for_one: some freed) */
	uint32_t capacity;
	uint64_t *history;  /* a ring of the last `intensity` restart times */
	uint32_t history_len, history_next;
	bool stopping_all;  /* shutdown or give-up: no more restarts */
	bool gave_up;
};

/*
 * capacity: the most children it will have (for simple_one_for_one, the most
 * at once); period_ns > 0. -EINVAL, -ENOMEM.
 */
int sv_init(struct sv_sup *sup, enum sv_strategy strategy, unsigned intensity,
	    uint64_t period_ns, uint32_t capacity);
void sv_destroy(struct sv_sup *sup);

/* A static child, in start order, initially DOWN (see sv_start_all).
 * Returns its index; -ENOSPC beyond capacity; -EINVAL for a bad restart
 * type or a simple_one_for_one supervisor. */
int sv_add(struct sv_sup *sup, enum sv_restart restart);

/* simple_one_for_one: the restart type of its children (before any);
 * sv_add_dynamic makes a PENDING child (reusing a freed slot) and returns
 * its index, or -ENOSPC; sv_remove frees the slot of a child that is down. */
int sv_set_dynamic(struct sv_sup *sup, enum sv_restart restart);
int sv_add_dynamic(struct sv_sup *sup);
int sv_remove(struct sv_sup *sup, uint32_t i);

/* Start every child that is down and not held (the first start). */
void sv_start_all(struct sv_sup *sup);

/* The next child to stop or start, or -1 if none may be now. */
int sv_next_stop(const struct sv_sup *sup);
int sv_next_start(const struct sv_sup *sup);
void sv_stopping(struct sv_sup *sup, uint32_t i);
void sv_starting(struct sv_sup *sup, uint32_t i);
void sv_started(struct sv_sup *sup, uint32_t i);

/*
 * Child i exited (or, from STARTING, failed to start or to become ready:
 * pass normal = false). normal: it exited cleanly (status 0, or the signal
 * sent to stop it). An expected stop completes; a failure is decided by the
 * strategy, and counts against the intensity if it leads to a restart.
 * plan may be NULL.
 */
enum sv_verdict sv_exited(struct sv_sup *sup, uint32_t i, bool normal, uint64_t now_ns,
			  struct sv_plan *plan);

/* Operators: stop a child and keep it down (held), start a held or down
 * child again, restart one (stop, then start). None counts as a restart.
 * -EINVAL for a bad index or a removed child; -EBUSY during a shutdown. */
int sv_hold(struct sv_sup *sup, uint32_t i);
int sv_release(struct sv_sup *sup, uint32_t i);
int sv_restart(struct sv_sup *sup, uint32_t i);

/* Shutdown: every child stops, in reverse order; nothing restarts. */
void sv_shutdown(struct sv_sup *sup);

/* Nothing is stopping, starting or pending. */
bool sv_quiet(const struct sv_sup *sup);
/* No child is running, starting or stopping. */
bool sv_all_down(const struct sv_sup *sup);

/* The restart times within the period ending at now_ns, oldest first, into
 * out (up to max); returns how many there are. */
uint32_t sv_history(const struct sv_sup *sup, uint64_t now_ns, uint64_t *out, uint32_t max);

/* Reconfiguration (spawnd's reload): child i of `from` becomes child j of
 * `to`, with its state (and the restart type `to` declares); sv_carry
 * brings over the restart history (the most recent that fit the new
 * intensity) and a stop of everything in progress. */
void sv_adopt(struct sv_sup *to, uint32_t j, const struct sv_sup *from, uint32_t i);
void sv_carry(struct sv_sup *to, const struct sv_sup *from);

static inline uint32_t sv_capacity(const struct sv_sup *sup)
{
	return sup->capacity;
}

const char *sv_strategy_name(enum sv_strategy strategy);
const char *sv_restart_name(enum sv_restart restart);
const char *sv_state_name(enum sv_state state);
int sv_strategy_parse(const char *name, enum sv_strategy *ret);
int sv_restart_parse(const char *name, enum sv_restart *ret);

#endif /* SV_STRATEGY_H */
