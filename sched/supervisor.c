/* SPDX-License-Identifier: MIT */
/*
 * In-process supervisors: OTP's supervisor as a green process.
 *
 * A supervisor is a process that traps exits, is linked to each of its
 * children, and drives the restart engine (supervisor/strategy.c, which
 * spawnd's tree.c drives too) the same way: it asks the engine what to stop
 * and what to start, does it, and tells the engine what happened. All it
 * learns arrives in its mailbox: its children's deaths (GP_TAG_EXIT),
 * requests (start_child, terminate_child, ...) and exit signals from other
 * processes. It blocks nowhere but in gp_receive, whose timeout is the
 * moment the first child that ignores its shutdown is to be killed; so it
 * answers requests and handles deaths while it waits for a child to stop.
 *
 * Only gp.h's public API is used. The supervisor's memory is its own heap
 * (gp_alloc) and the messages it holds, which the runtime frees however the
 * process ends, even killed with GP_EXIT_KILL: a supervisor leaks nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gp.h"
#include "../supervisor/strategy.h"

/* Message tags, in the users' range (below GP_TAG_SYSTEM), chosen to be
 * unlikely there. A reply is matched by its ref as well, never by tag alone. */
#define SUP_TAG_BOOT    0xfffe5300u /* starter -> supervisor: the packed spec */
#define SUP_TAG_REQUEST 0xfffe5301u /* caller -> supervisor: struct sup_request */
#define SUP_TAG_REPLY   0xfffe5302u /* supervisor -> caller: struct sup_reply */

#define DEFAULT_PERIOD_MS    5000u
#define DEFAULT_MAX_CHILDREN 65536u
/* Static children: the most a spec may list (the packed spec then stays well
 * below GP_MSG_MAX). Dynamic ones: the process table holds no more. */
#define MAX_STATIC_CHILDREN  65536u
#define MAX_DYNAMIC_CHILDREN 16777215u
/* simple_one_for_one: the engine's first capacity; it doubles up to
 * max_children as needed, so that memory follows use. */
#define FIRST_CAPACITY 64u

enum sup_op {
	OP_START_CHILD = 1,
	OP_TERMINATE_CHILD,
	OP_RESTART_CHILD,
	OP_WHICH_CHILD,
};

struct sup_request {
	uint64_t ref;   /* the caller's monitor of the supervisor: unique, never 0 */
	uint32_t op;    /* enum sup_op */
	uint32_t unused;
	uint64_t index; /* OP_RESTART_CHILD, OP_WHICH_CHILD */
	gp_pid child;   /* OP_TERMINATE_CHILD */
	void *arg;      /* OP_START_CHILD */
};

struct sup_reply {
	uint64_t ref;   /* the request's; 0 answers gp_supervisor_start */
	int32_t result; /* 0 or -errno */
	uint32_t unused;
	gp_pid pid;     /* the child's, for a start or which_child */
};

/* ---- the spec, copied ------------------------------------------------------------- */

/*
 * A spec in one block: the struct, its children, then every name. Packed,
 * its pointers hold offsets from the block's start (0 for NULL), so that it
 * can be sent as a message; unpack() turns them into pointers in place.
 */
struct packed {
	struct gp_sup_spec spec;
	struct gp_child_spec children[];
};

static bool reserved_zero(const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i])
			return false;
	return true;
}

static bool name_ok(const char *name)
{
	return !name || strnlen(name, GP_NAME_MAX + 1) <= GP_NAME_MAX;
}

static int child_spec_check(const struct gp_child_spec *c)
{
	if (!c->start || (unsigned)c->restart > GP_TEMPORARY ||
	    c->shutdown_ms < GP_SHUTDOWN_INFINITY || !name_ok(c->name) ||
	    !reserved_zero(c->reserved, sizeof(c->reserved) / sizeof(c->reserved[0])))
		return -EINVAL;
	return 0;
}

/* What can be checked without the engine; the engine checks the rest
 * (intensity) when the supervisor builds it. */
static int spec_check(const struct gp_sup_spec *spec)
{
	bool simple;

	if (!spec || (unsigned)spec->strategy > GP_SIMPLE_ONE_FOR_ONE || !name_ok(spec->name) ||
	    (spec->nchildren && !spec->children) ||
	    !reserved_zero(spec->reserved, sizeof(spec->reserved) / sizeof(spec->reserved[0])))
		return -EINVAL;
	simple = spec->strategy == GP_SIMPLE_ONE_FOR_ONE;
	if (simple ? spec->nchildren != 1 || spec->max_children > MAX_DYNAMIC_CHILDREN
		   : spec->nchildren > MAX_STATIC_CHILDREN)
		return -EINVAL;
	for (size_t i = 0; i < spec->nchildren; i++)
		if (child_spec_check(&spec->children[i]) < 0)
			return -EINVAL;
	return 0;
}

static size_t packed_size(const struct gp_sup_spec *spec)
{
	size_t size = sizeof(struct packed) + spec->nchildren * sizeof(struct gp_child_spec);

	if (spec->name)
		size += strlen(spec->name) + 1;
	for (size_t i = 0; i < spec->nchildren; i++)
		if (spec->children[i].name)
			size += strlen(spec->children[i].name) + 1;
	return size;
}

static const char *put_name(struct packed *p, char **at, const char *name)
{
	size_t len, off;

	if (!name)
		return NULL;
	len = strlen(name) + 1;
	memcpy(*at, name, len);
	off = (size_t)(*at - (char *)p);
	*at += len;
	return (const char *)(uintptr_t)off;
}

static void pack(struct packed *p, const struct gp_sup_spec *spec)
{
	char *names = (char *)&p->children[spec->nchildren];

	p->spec = *spec;
	p->spec.name = put_name(p, &names, spec->name);
	p->spec.children = NULL; /* unpack: p->children */
	for (size_t i = 0; i < spec->nchildren; i++) {
		p->children[i] = spec->children[i];
		p->children[i].name = put_name(p, &names, spec->children[i].name);
	}
}

static const char *name_at(struct packed *p, const char *off)
{
	return off ? (const char *)p + (uintptr_t)off : NULL;
}

/* size: the block's, received from another process: checked before use. */
static int unpack(struct packed *p, size_t size)
{
	if (size < sizeof(*p) || p->spec.nchildren > MAX_STATIC_CHILDREN ||
	    size < sizeof(*p) + p->spec.nchildren * sizeof(p->children[0]))
		return -EINVAL;
	p->spec.name = name_at(p, p->spec.name);
	p->spec.children = p->children;
	for (size_t i = 0; i < p->spec.nchildren; i++)
		p->children[i].name = name_at(p, p->children[i].name);
	return 0;
}

/* ---- the supervisor's state -------------------------------------------------------- */

/* What the engine's child i is to us. */
struct slot {
	gp_pid pid;       /* its process while it has one (running or stopping), else 0 */
	void *arg;        /* what its start function gets: the spec's, or start_child's */
	uint64_t kill_at; /* asked to stop, with a time limit: when GP_EXIT_KILL follows (else 0) */
};

/* A request answered once something happens. */
struct waiter {
	struct waiter *next;
	gp_pid from;    /* the caller */
	uint64_t ref;   /* its ref, for the reply */
	bool start;     /* true: answered once child `index` has started; false: once
			   process `pid` has exited */
	uint32_t index;
	gp_pid pid;
};

/*
 * Owned by the supervisor process alone (it lives on its stack): no locks.
 * Invariants between two messages: slots[i].pid != 0 exactly when the
 * engine's child i is RUNNING, STOP or STOPPING (STARTING never lasts: a
 * green child has started once it is spawned); ntimed counts the slots with
 * kill_at != 0, all of them STOPPING; none of those is due before
 * next_kill (which may be early, after a timed child exits, never late).
 */
struct sup {
	const struct gp_sup_spec *spec; /* unpacked, in memory this process owns */
	struct sv_sup sv;               /* the engine; its arrays on our heap */
	struct slot *slots;             /* sv_capacity(&sv) of them */
	uint32_t max;                   /* simple_one_for_one: the most the engine may grow to */
	uint32_t ntimed;
	uint64_t next_kill;
	struct waiter *waiters;
	gp_pid starter;                 /* told when the first start is over; 0: nobody */
	bool starting;                  /* in the first start, where a failure fails it all */
	int start_error;                /* the first start failed: the error for the starter */
	bool exiting;                   /* it has begun to stop for good... */
	int exit_reason;                /* ...and will exit with this once all are down */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool simple(const struct sup *s)
{
	return s->sv.strategy == SV_SIMPLE_ONE_FOR_ONE;
}

static const struct gp_child_spec *child_spec(const struct sup *s, uint32_t i)
{
	return &s->spec->children[simple(s) ? 0 : i];
}

/* GP_SHUTDOWN_BRUTAL would orphan a child supervisor's children that trap
 * exits: for a supervisor, 0 (the default) means infinity. */
static int shutdown_ms(const struct gp_child_spec *c)
{
	if (c->is_supervisor && c->shutdown_ms == GP_SHUTDOWN_BRUTAL)
		return GP_SHUTDOWN_INFINITY;
	return c->shutdown_ms;
}

static const enum sv_strategy strategies[] = {
	[GP_ONE_FOR_ONE] = SV_ONE_FOR_ONE,
	[GP_ONE_FOR_ALL] = SV_ONE_FOR_ALL,
	[GP_REST_FOR_ONE] = SV_REST_FOR_ONE,
	[GP_SIMPLE_ONE_FOR_ONE] = SV_SIMPLE_ONE_FOR_ONE,
};

static const enum sv_restart restarts[] = {
	[GP_PERMANENT] = SV_PERMANENT,
	[GP_TRANSIENT] = SV_TRANSIENT,
	[GP_TEMPORARY] = SV_TEMPORARY,
};

static void engine_free(struct sv_sup *sv)
{
	gp_free(sv->children);
	gp_free(sv->history);
	sv->children = NULL;
	sv->history = NULL;
}

/*
 * sv_init, with the engine's two arrays moved to the process heap: sv_init
 * takes them from calloc, and a supervisor killed with GP_EXIT_KILL never
 * runs sv_destroy. The sizes are sv_init's.
 */
static int engine_init(struct sv_sup *sv, enum sv_strategy strategy, unsigned intensity,
		       uint64_t period_ns, uint32_t capacity)
{
	size_t nchildren = capacity, nhistory = intensity ? intensity : 1;
	struct sv_child *children;
	uint64_t *history;
	int r = sv_init(sv, strategy, intensity, period_ns, capacity);

	if (r < 0)
		return r;
	children = gp_alloc(nchildren * sizeof(*children));
	history = gp_alloc(nhistory * sizeof(*history));
	if (!children || !history) {
		gp_free(children);
		gp_free(history);
		sv_destroy(sv);
		return -ENOMEM;
	}
	memcpy(children, sv->children, nchildren * sizeof(*children));
	memcpy(history, sv->history, nhistory * sizeof(*history));
	sv_destroy(sv); /* frees both arrays, nothing else */
	sv->children = children;
	sv->history = history;
	return 0;
}

static int sup_init(struct sup *s, const struct gp_sup_spec *spec, gp_pid starter)
{
	uint64_t period_ns = (uint64_t)(spec->period_ms ? spec->period_ms : DEFAULT_PERIOD_MS) *
			     1000000u;
	uint32_t capacity;
	int r;

	*s = (struct sup){ .spec = spec, .starter = starter };
	if (spec->strategy == GP_SIMPLE_ONE_FOR_ONE) {
		s->max = spec->max_children ? (uint32_t)spec->max_children : DEFAULT_MAX_CHILDREN;
		capacity = s->max < FIRST_CAPACITY ? s->max : FIRST_CAPACITY;
	} else {
		capacity = spec->nchildren ? (uint32_t)spec->nchildren : 1;
	}
	r = engine_init(&s->sv, strategies[spec->strategy], spec->intensity, period_ns, capacity);
	if (r < 0)
		return r;
	if (spec->strategy == GP_SIMPLE_ONE_FOR_ONE)
		r = sv_set_dynamic(&s->sv, restarts[spec->children[0].restart]);
	for (size_t i = 0; r >= 0 && spec->strategy != GP_SIMPLE_ONE_FOR_ONE && i < spec->nchildren;
	     i++)
		r = sv_add(&s->sv, restarts[spec->children[i].restart]);
	if (r >= 0 && !(s->slots = gp_alloc(capacity * sizeof(*s->slots))))
		r = -ENOMEM;
	if (r < 0) {
		engine_free(&s->sv);
		return r;
	}
	memset(s->slots, 0, capacity * sizeof(*s->slots));
	for (size_t i = 0; spec->strategy != GP_SIMPLE_ONE_FOR_ONE && i < spec->nchildren; i++)
		s->slots[i].arg = spec->children[i].arg;
	return 0;
}

/* For gp_supervisor_run, which returns: what sup_init and the waiters took. */
static void sup_free(struct sup *s)
{
	while (s->waiters) {
		struct waiter *w = s->waiters;

		s->waiters = w->next;
		gp_free(w);
	}
	gp_free(s->slots);
	engine_free(&s->sv);
}

/*
 * simple_one_for_one, full below max: an engine twice as big takes over the
 * children (sv_adopt, sv_carry: what spawnd's reload uses), and the slots
 * follow. Never while stopping: sv_add_dynamic refuses first.
 */
static int grow(struct sup *s)
{
	uint32_t n = s->sv.nchildren, capacity = sv_capacity(&s->sv);
	struct sv_sup bigger;
	struct slot *slots;
	int r;

	capacity = capacity > s->max / 2 ? s->max : capacity * 2;
	r = engine_init(&bigger, s->sv.strategy, s->sv.intensity, s->sv.period_ns, capacity);
	if (r < 0)
		return r;
	slots = gp_alloc(capacity * sizeof(*slots));
	if (!slots || (r = sv_set_dynamic(&bigger, s->sv.dynamic_restart)) < 0) {
		gp_free(slots);
		engine_free(&bigger);
		return slots ? r : -ENOMEM;
	}
	/* All the slots first, then their states: an adopted REMOVED one
	 * would be reused by the next sv_add_dynamic. */
	for (uint32_t i = 0; i < n; i++)
		(void)sv_add_dynamic(&bigger);
	for (uint32_t i = 0; i < n; i++)
		sv_adopt(&bigger, i, &s->sv, i);
	sv_carry(&bigger, &s->sv);
	memcpy(slots, s->slots, n * sizeof(*slots));
	memset(slots + n, 0, (capacity - n) * sizeof(*slots));
	engine_free(&s->sv);
	gp_free(s->slots);
	s->sv = bigger;
	s->slots = slots;
	return 0;
}

/* ---- answers ---------------------------------------------------------------------- */

static void reply(gp_pid to, uint64_t ref, int result, gp_pid pid)
{
	struct sup_reply r = { .ref = ref, .result = result, .pid = pid };

	/* To a caller that has died meanwhile: dropped, as it should be. */
	(void)gp_send(to, SUP_TAG_REPLY, &r, sizeof(r));
}

static int wait_for(struct sup *s, gp_pid from, uint64_t ref, bool start, uint32_t index,
		    gp_pid pid)
{
	struct waiter *w = gp_alloc(sizeof(*w));

	if (!w)
		return -ENOMEM;
	*w = (struct waiter){ .next = s->waiters, .from = from, .ref = ref, .start = start,
			      .index = index, .pid = pid };
	s->waiters = w;
	return 0;
}

/* Answer the waiters that `match` picks; returns how many. */
static unsigned answer(struct sup *s, bool (*match)(const struct sup *s, const struct waiter *w,
						    const void *ctx),
		       const void *ctx, int result, gp_pid pid)
{
	unsigned n = 0;

	for (struct waiter **pp = &s->waiters; *pp;) {
		struct waiter *w = *pp;

		if (!match(s, w, ctx)) {
			pp = &w->next;
			continue;
		}
		reply(w->from, w->ref, result, pid);
		*pp = w->next;
		gp_free(w);
		n++;
	}
	return n;
}

static bool waits_start_of(const struct sup *s, const struct waiter *w, const void *ctx)
{
	(void)s;
	return w->start && w->index == *(const uint32_t *)ctx;
}

static bool waits_exit_of(const struct sup *s, const struct waiter *w, const void *ctx)
{
	(void)s;
	return !w->start && w->pid == *(const gp_pid *)ctx;
}

/* Child i is still to start, now or once what stops has stopped. */
static bool start_coming(const struct sup *s, uint32_t i)
{
	const struct sv_child *c;

	if (i >= s->sv.nchildren)
		return false;
	c = &s->sv.children[i];
	return c->state == SV_PENDING || c->state == SV_STARTING ||
	       ((c->state == SV_STOP || c->state == SV_STOPPING) && c->restart_after);
}

static bool start_abandoned(const struct sup *s, const struct waiter *w, const void *ctx)
{
	(void)ctx;
	return w->start && !start_coming(s, w->index);
}

/* ---- stopping and starting ------------------------------------------------------ */

/* The supervisor stops for good: every child stops, nothing restarts, and
 * it exits with reason once they are down. The first reason stands. */
static void stop_all(struct sup *s, int reason)
{
	if (!s->sv.stopping_all)
		sv_shutdown(&s->sv);
	if (!s->exiting) {
		s->exiting = true;
		s->exit_reason = reason;
	}
}

static void untime(struct sup *s, uint32_t i)
{
	if (s->slots[i].kill_at) {
		s->slots[i].kill_at = 0;
		s->ntimed--;
	}
}

/* simple_one_for_one: a child that is gone for good frees its slot. */
static void forget(struct sup *s, uint32_t i)
{
	if (!simple(s) || s->sv.children[i].state != SV_REMOVED)
		return;
	s->slots[i] = (struct slot){ 0 };
	(void)sv_remove(&s->sv, i); /* trims the engine's tail, which its scans then skip */
}

/* Child i's process is gone (reason: how it ended); the engine decides. */
static void child_exited(struct sup *s, uint32_t i, int reason)
{
	/* A transient child that ended normally, or as asked to, stays down. */
	bool normal = reason == GP_EXIT_NORMAL || reason == GP_EXIT_SHUTDOWN;
	gp_pid pid = s->slots[i].pid;

	untime(s, i);
	s->slots[i].pid = 0;
	if (sv_exited(&s->sv, i, normal, mono_ns(), NULL) == SV_GIVE_UP)
		stop_all(s, GP_EXIT_SHUTDOWN);
	(void)answer(s, waits_exit_of, &pid, 0, 0);
	forget(s, i);
}

static void stop_child(struct sup *s, uint32_t i)
{
	struct slot *c = &s->slots[i];
	int ms = shutdown_ms(child_spec(s, i));

	if (!c->pid) {
		/* Not reached (only a child with a process is asked to stop), but
		 * the engine must hear that the stop is over. */
		child_exited(s, i, GP_EXIT_SHUTDOWN);
		return;
	}
	/* -ESRCH: it is exiting already, and its EXIT is on its way: the stop
	 * completes when that arrives, as it would have. */
	if (ms == GP_SHUTDOWN_BRUTAL) {
		(void)gp_kill(c->pid, GP_EXIT_KILL);
		return;
	}
	(void)gp_kill(c->pid, GP_EXIT_SHUTDOWN);
	if (ms > 0) {
		c->kill_at = mono_ns() + (uint64_t)ms * 1000000u;
		if (!s->ntimed++ || c->kill_at < s->next_kill)
			s->next_kill = c->kill_at;
	}
}

static void start_failed(struct sup *s, uint32_t i, int err)
{
	uint64_t now = mono_ns();

	if (s->starting) {
		/* OTP: a supervisor that cannot start a child does not start. The
		 * children started stop, in reverse order; the later ones never
		 * start; the starter hears the error once all are down. */
		s->start_error = err;
		stop_all(s, GP_EXIT_NORMAL);
		(void)sv_exited(&s->sv, i, false, now, NULL); /* completes its "stop" */
		return;
	}
	if (answer(s, waits_start_of, &i, err, 0)) {
		/* A start someone asked for: they hear why, and the child stays
		 * down (a dynamic one is forgotten). It is no crash. */
		(void)sv_hold(&s->sv, i);
		(void)sv_exited(&s->sv, i, false, now, NULL);
		forget(s, i);
		return;
	}
	/* A restart that failed counts as a crash: if spawning keeps failing,
	 * the intensity ends the retries. */
	if (sv_exited(&s->sv, i, false, now, NULL) == SV_GIVE_UP)
		stop_all(s, GP_EXIT_SHUTDOWN);
	forget(s, i);
}

static void start_child(struct sup *s, uint32_t i)
{
	const struct gp_child_spec *c = child_spec(s, i);
	struct gp_spawn_opts o = {
		.name = c->name,
		.stack_size = c->stack_size,
		.flags = GP_SPAWN_LINK, /* before it can run: no death goes unseen */
	};
	gp_pid pid;
	int r = gp_spawn_opt(&pid, c->start, s->slots[i].arg, &o);

	if (r < 0) {
		start_failed(s, i, r);
		return;
	}
	s->slots[i].pid = pid;
	sv_started(&s->sv, i); /* no readiness protocol: spawned is started */
	(void)answer(s, waits_start_of, &i, 0, pid);
}

/* Do what the engine says, until it says wait: stops first, one at a time
 * in reverse order (dynamic children all at once), then starts in order. */
static void drive(struct sup *s)
{
	for (;;) {
		int i = sv_next_stop(&s->sv);

		if (i >= 0) {
			sv_stopping(&s->sv, (uint32_t)i);
			stop_child(s, (uint32_t)i);
			continue;
		}
		i = sv_next_start(&s->sv);
		if (i < 0)
			break;
		sv_starting(&s->sv, (uint32_t)i);
		start_child(s, (uint32_t)i);
	}
	/* A start asked for that will not come (terminate_child took it back,
	 * or everything stops) is answered now rather than never. */
	(void)answer(s, start_abandoned, NULL, s->sv.stopping_all ? -EBUSY : -ECANCELED, 0);
}

/* Children that ignored their shutdown for shutdown_ms are killed. The
 * scan happens only once the earliest deadline has come (or seemed to). */
static void escalate(struct sup *s)
{
	uint64_t now;

	if (!s->ntimed || (now = mono_ns()) < s->next_kill)
		return;
	s->next_kill = UINT64_MAX;
	for (uint32_t i = 0; i < s->sv.nchildren; i++) {
		struct slot *c = &s->slots[i];

		if (!c->kill_at)
			continue;
		if (c->kill_at > now) {
			if (c->kill_at < s->next_kill)
				s->next_kill = c->kill_at;
			continue;
		}
		untime(s, i);
		(void)gp_kill(c->pid, GP_EXIT_KILL);
	}
}

/* gp_receive's timeout: until the first kill is due (never early). */
static int next_timeout(const struct sup *s)
{
	uint64_t now, ms;

	if (!s->ntimed)
		return -1;
	now = mono_ns();
	if (s->next_kill <= now)
		return 0;
	ms = (s->next_kill - now + 999999u) / 1000000u;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- messages --------------------------------------------------------------------- */

static int find_child(const struct sup *s, gp_pid pid)
{
	for (uint32_t i = 0; i < s->sv.nchildren; i++)
		if (s->slots[i].pid == pid)
			return (int)i;
	return -1;
}

static bool is_down_of(const struct gp_msg *m, void *ctx)
{
	struct gp_exit_info info;

	if (m->tag != GP_TAG_DOWN || m->len != sizeof(info))
		return false;
	memcpy(&info, m->data, sizeof(info));
	return info.ref == *(const uint64_t *)ctx;
}

/*
 * An EXIT from a child is its death, or an exit signal it sent with gp_kill
 * while alive; the two look the same. (OTP's supervisors take both for a
 * death, and then run a second copy beside the first.) A monitor tells them
 * apart: on a process that has exited, or is exiting, it yields a DOWN with
 * GP_EXIT_NOPROC at once. A DOWN with another reason means the child died
 * just after we looked: then this EXIT was a signal and its death's own
 * EXIT follows. (Only a child that sends us an exit signal and then dies of
 * GP_EXIT_NOPROC at that very moment could fool this.)
 */
static bool is_dead(gp_pid pid)
{
	struct gp_exit_info info;
	struct gp_msg m;
	uint64_t ref;

	if (gp_monitor(pid, &ref) < 0)
		return true; /* no memory to look: believe the EXIT */
	if (gp_receive_match(&m, is_down_of, &ref, 0) < 0) {
		(void)gp_demonitor(ref);
		return false;
	}
	memcpy(&info, m.data, sizeof(info));
	gp_msg_free(&m);
	return info.reason == GP_EXIT_NOPROC;
}

static void on_exit_signal(struct sup *s, const struct gp_msg *m)
{
	struct gp_exit_info info;
	int i;

	if (m->len != sizeof(info))
		return;
	memcpy(&info, m->data, sizeof(info));
	i = find_child(s, info.pid);
	if (i >= 0 && is_dead(info.pid)) {
		child_exited(s, (uint32_t)i, info.reason);
		return;
	}
	/* From anyone else (the parent dying, gp_kill): a supervisor traps
	 * exits to hear of its children, not to outlive the others it is
	 * linked to. So it does what a process that does not trap would do,
	 * in order: stop its children, then exit with that reason. */
	if (info.reason != GP_EXIT_NORMAL)
		stop_all(s, info.reason);
}

/* The answer to a request, or 1: later (a waiter was queued). */
#define LATER 1

static int req_start_child(struct sup *s, const struct gp_msg *m, const struct sup_request *q)
{
	int i, r;

	if (!simple(s))
		return -EINVAL;
	i = sv_add_dynamic(&s->sv);
	if (i == -ENOSPC && sv_capacity(&s->sv) < s->max) {
		r = grow(s);
		if (r < 0)
			return r;
		i = sv_add_dynamic(&s->sv);
	}
	if (i < 0)
		return i; /* -ENOSPC at max_children; -EBUSY while stopping */
	r = wait_for(s, m->from, q->ref, true, (uint32_t)i, 0);
	if (r < 0) {
		(void)sv_hold(&s->sv, (uint32_t)i); /* PENDING -> REMOVED */
		forget(s, (uint32_t)i);
		return r;
	}
	s->slots[i].arg = q->arg;
	return LATER;
}

static int req_terminate_child(struct sup *s, const struct gp_msg *m, const struct sup_request *q)
{
	int i = q->child ? find_child(s, q->child) : -1;
	int r;

	if (i < 0)
		return -ENOENT;
	if (s->sv.stopping_all)
		return -EBUSY;
	r = wait_for(s, m->from, q->ref, false, 0, q->child);
	if (r < 0)
		return r;
	/* Held: stopped and kept down, even by a group restart, until
	 * restart_child; a dynamic one is forgotten once down (forget). */
	(void)sv_hold(&s->sv, (uint32_t)i);
	return LATER;
}

static int req_restart_child(struct sup *s, const struct gp_msg *m, const struct sup_request *q)
{
	const struct sv_child *c;
	int r;

	if (simple(s))
		return -EINVAL;
	if (q->index >= s->sv.nchildren)
		return -ENOENT;
	c = &s->sv.children[q->index];
	if (c->state == SV_REMOVED)
		return -ENOENT; /* a temporary child that ended is gone (OTP) */
	if (s->sv.stopping_all)
		return -EBUSY;
	if (c->state == SV_RUNNING || c->state == SV_STARTING)
		return -EBUSY; /* running: nothing to start again */
	r = wait_for(s, m->from, q->ref, true, (uint32_t)q->index, 0);
	if (r < 0)
		return r;
	/* Down: PENDING. Stopping: started again once stopped. */
	(void)sv_release(&s->sv, (uint32_t)q->index);
	return LATER;
}

static int req_which_child(const struct sup *s, const struct sup_request *q, gp_pid *ret_pid)
{
	uint64_t limit = simple(s) ? s->max : s->sv.nchildren;

	if (q->index >= limit)
		return -ENOENT;
	*ret_pid = q->index < s->sv.nchildren ? s->slots[q->index].pid : 0;
	return 0;
}

static void on_request(struct sup *s, const struct gp_msg *m)
{
	struct sup_request q;
	gp_pid pid = 0;
	int r;

	if (m->len != sizeof(q))
		return;
	memcpy(&q, m->data, sizeof(q));
	switch (q.op) {
	case OP_START_CHILD:
		r = req_start_child(s, m, &q);
		break;
	case OP_TERMINATE_CHILD:
		r = req_terminate_child(s, m, &q);
		break;
	case OP_RESTART_CHILD:
		r = req_restart_child(s, m, &q);
		break;
	case OP_WHICH_CHILD:
		r = req_which_child(s, &q, &pid);
		break;
	default:
		r = -EINVAL;
	}
	if (r != LATER)
		reply(m->from, q.ref, r, pid);
}

/* Until it stops for good: returns its exit reason. */
static int serve(struct sup *s)
{
	struct gp_msg m;

	for (;;) {
		escalate(s);
		drive(s);
		if (s->sv.stopping_all && sv_all_down(&s->sv))
			return s->exit_reason;
		if (gp_receive(&m, next_timeout(s)) < 0)
			continue; /* -ETIMEDOUT: a kill is due */
		if (m.tag == GP_TAG_EXIT)
			on_exit_signal(s, &m);
		else if (m.tag == SUP_TAG_REQUEST)
			on_request(s, &m);
		/* Anything else is no business of a supervisor's: dropped. */
		gp_msg_free(&m);
	}
}

/*
 * Run a supervisor whose engine is built: start the children in order,
 * tell the starter, serve. Exits the process, unless the first start fails:
 * then, once the children it started are down again, it returns the error.
 */
static int supervise(struct sup *s)
{
	int reason;

	sv_start_all(&s->sv);
	s->starting = true;
	drive(s);
	s->starting = false;
	if (!s->start_error && s->starter)
		reply(s->starter, 0, 0, 0);
	reason = serve(s);
	if (s->start_error) {
		if (s->starter)
			reply(s->starter, 0, s->start_error, 0);
		return s->start_error;
	}
	gp_exit(reason);
}

/* ---- the API ---------------------------------------------------------------------- */

static bool is_boot(const struct gp_msg *m, void *ctx)
{
	return m->from == *(const gp_pid *)ctx && (m->tag == SUP_TAG_BOOT || m->tag == GP_TAG_EXIT);
}

/* The process gp_supervisor_start spawns; arg: the starter's pid. */
static void sup_main(void *arg)
{
	gp_pid starter = (gp_pid)(uintptr_t)arg;
	struct gp_msg boot;
	struct sup s;
	int r;

	(void)gp_trap_exit(true);
	/* The spec comes as a message, so that it is ours (freed at our exit,
	 * however it comes) the moment it arrives. If the starter dies first,
	 * nobody wants this supervisor. */
	if (gp_receive_match(&boot, is_boot, &starter, -1) < 0 || boot.tag == GP_TAG_EXIT)
		return;
	r = unpack(boot.data, boot.len);
	if (r == 0)
		r = sup_init(&s, &((struct packed *)boot.data)->spec, starter);
	if (r < 0) {
		reply(starter, 0, r, 0);
		return; /* exit normally: the linked starter must not die of it */
	}
	(void)supervise(&s); /* returns only when the start failed, after replying */
}

_Static_assert(sizeof(gp_pid) <= sizeof(uintptr_t), "a pid travels as a spawn argument");

struct start_wait {
	gp_pid sup;
	uint64_t ref;
};

static bool is_start_answer(const struct gp_msg *m, void *ctx)
{
	const struct start_wait *w = ctx;
	uint64_t ref;

	if (m->tag == SUP_TAG_REPLY) {
		if (m->from != w->sup || m->len != sizeof(struct sup_reply))
			return false;
		memcpy(&ref, m->data, sizeof(ref)); /* the reply's first field */
		return ref == 0;
	}
	return is_down_of(m, (void *)&w->ref);
}

int gp_supervisor_start(gp_pid *ret_pid, const struct gp_sup_spec *spec)
{
	struct start_wait w = { 0 };
	struct gp_spawn_opts o = {
		.flags = GP_SPAWN_LINK | GP_SPAWN_MONITOR,
		.ret_monitor = &w.ref,
	};
	gp_pid self = gp_self();
	struct sup_reply rep;
	struct packed *p;
	struct gp_msg m;
	size_t size;
	int r;

	if (!self)
		return -EPERM;
	if (!ret_pid)
		return -EINVAL;
	r = spec_check(spec);
	if (r < 0)
		return r;
	/* Packed on our heap: freed even if we are killed in between. */
	size = packed_size(spec);
	p = gp_alloc(size);
	if (!p)
		return -ENOMEM;
	pack(p, spec);
	o.name = spec->name;
	r = gp_spawn_opt(&w.sup, sup_main, (void *)(uintptr_t)self, &o);
	if (r == 0)
		r = gp_send(w.sup, SUP_TAG_BOOT, p, size);
	gp_free(p);
	if (r < 0 && w.sup) {
		/* It waits for a spec that will not come: end it, quietly. */
		(void)gp_unlink(w.sup);
		(void)gp_kill(w.sup, GP_EXIT_KILL);
		(void)gp_receive_match(&m, is_down_of, &w.ref, -1);
		gp_msg_free(&m);
	}
	if (r < 0)
		return r;

	r = gp_receive_match(&m, is_start_answer, &w, -1);
	if (r < 0)
		return r; /* not reached: no timeout */
	if (m.tag == GP_TAG_DOWN) {
		/* Killed before it could answer. Our link to it is gone; an
		 * EXIT it sent us (if we trap exits) is taken back. */
		gp_msg_free(&m);
		(void)gp_unlink(w.sup);
		return -ESRCH;
	}
	memcpy(&rep, m.data, sizeof(rep));
	gp_msg_free(&m);
	(void)gp_demonitor(w.ref);
	if (rep.result < 0) {
		(void)gp_unlink(w.sup); /* it exits normally; leave no EXIT behind */
		return rep.result;
	}
	*ret_pid = w.sup;
	return 0;
}

int gp_supervisor_run(const struct gp_sup_spec *spec)
{
	struct packed *p;
	struct sup s;
	int r, trapped;

	if (!gp_self())
		return -EPERM;
	r = spec_check(spec);
	if (r < 0)
		return r;
	p = gp_alloc(packed_size(spec));
	if (!p)
		return -ENOMEM;
	pack(p, spec);
	(void)unpack(p, packed_size(spec));
	trapped = gp_trap_exit(true);
	r = sup_init(&s, &p->spec, 0);
	if (r == 0) {
		r = supervise(&s); /* returns only if the start failed */
		sup_free(&s);
	}
	(void)gp_trap_exit(trapped > 0);
	gp_free(p);
	return r;
}

static bool is_answer(const struct gp_msg *m, void *ctx)
{
	uint64_t ref;

	if (m->tag == SUP_TAG_REPLY) {
		if (m->len != sizeof(struct sup_reply))
			return false;
		memcpy(&ref, m->data, sizeof(ref)); /* the reply's first field */
		return ref == *(const uint64_t *)ctx;
	}
	return is_down_of(m, ctx);
}

/*
 * A request and its answer. The caller monitors the supervisor meanwhile: a
 * dead one gives -ESRCH, not a hang. The selective receive takes only the
 * answer (by the monitor's ref, unique) or that monitor's DOWN, and leaves
 * the caller's other mail alone.
 */
static int call(gp_pid sup, struct sup_request *q, gp_pid *ret_pid)
{
	gp_pid self = gp_self();
	struct sup_reply rep;
	struct gp_msg m;
	uint64_t ref;
	int r;

	if (!self)
		return -EPERM;
	if (!sup || (q->op != OP_TERMINATE_CHILD && !ret_pid))
		return -EINVAL;
	if (sup == self)
		return -EDEADLK; /* it would wait for its own answer */
	r = gp_monitor(sup, &ref);
	if (r < 0)
		return r;
	q->ref = ref;
	r = gp_send(sup, SUP_TAG_REQUEST, q, sizeof(*q));
	if (r == 0)
		r = gp_receive_match(&m, is_answer, &ref, -1);
	if (r < 0) {
		(void)gp_demonitor(ref);
		return r;
	}
	if (m.tag == GP_TAG_DOWN) {
		gp_msg_free(&m); /* the monitor ended with its DOWN */
		return -ESRCH;
	}
	memcpy(&rep, m.data, sizeof(rep));
	gp_msg_free(&m);
	(void)gp_demonitor(ref); /* a DOWN already queued goes too */
	if (rep.result < 0)
		return rep.result;
	if (ret_pid)
		*ret_pid = rep.pid;
	return 0;
}

int gp_supervisor_start_child(gp_pid sup, void *arg, gp_pid *ret_pid)
{
	struct sup_request q = { .op = OP_START_CHILD, .arg = arg };

	return call(sup, &q, ret_pid);
}

int gp_supervisor_terminate_child(gp_pid sup, gp_pid child)
{
	struct sup_request q = { .op = OP_TERMINATE_CHILD, .child = child };

	if (!child && gp_self())
		return -EINVAL;
	return call(sup, &q, NULL);
}

int gp_supervisor_restart_child(gp_pid sup, size_t index, gp_pid *ret_pid)
{
	struct sup_request q = { .op = OP_RESTART_CHILD, .index = index };

	return call(sup, &q, ret_pid);
}

int gp_supervisor_which_child(gp_pid sup, size_t index, gp_pid *ret_pid)
{
	struct sup_request q = { .op = OP_WHICH_CHILD, .index = index };

	return call(sup, &q, ret_pid);
}
