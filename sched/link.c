/* SPDX-License-Identifier: MIT */
/*
 * Links, monitors and exit signals: how deaths travel.
 *
 * A link is kept on both sides, each side under its own process's lock
 * (taken in slot order when both are needed). A dying process takes its
 * link set under its lock, marks itself exiting (so no new link or monitor
 * can attach), and then signals each partner under the partner's lock: the
 * partner either no longer has the link (it unlinked: nothing happens), or
 * gets the signal while still holding it, so that gp_unlink's promise (no
 * effect after it returns) holds.
 *
 * A monitor lives in the target's monitored_by (under the target's lock) and
 * in the watcher's own monitors (touched by the watcher only). A DOWN that
 * arrives for a ref the watcher no longer holds is dropped at receive: this
 * is what makes gp_demonitor's "no DOWN afterwards" race-free.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

static bool pidvec_remove(struct gp_pidvec *vec, gp_pid pid)
{
	for (uint32_t i = 0; i < vec->len; i++) {
		if (vec->v[i] == pid) {
			vec->v[i] = vec->v[--vec->len];
			return true;
		}
	}
	return false;
}

static bool pidvec_has(const struct gp_pidvec *vec, gp_pid pid)
{
	for (uint32_t i = 0; i < vec->len; i++)
		if (vec->v[i] == pid)
			return true;
	return false;
}

static bool monvec_remove(struct gp_monvec *vec, uint64_t ref, gp_pid *ret_pid)
{
	for (uint32_t i = 0; i < vec->len; i++) {
		if (vec->v[i].ref == ref) {
			if (ret_pid)
				*ret_pid = vec->v[i].pid;
			vec->v[i] = vec->v[--vec->len];
			return true;
		}
	}
	return false;
}

bool gpi_monitor_held(struct gp_proc *p, uint64_t ref, bool consume)
{
	for (uint32_t i = 0; i < p->monitors.len; i++) {
		if (p->monitors.v[i].ref == ref) {
			if (consume)
				p->monitors.v[i] = p->monitors.v[--p->monitors.len];
			return true;
		}
	}
	return false;
}

static void lock_pair(struct gp_proc *a, struct gp_proc *b)
{
	if (a < b) {
		gp_spin_lock(&a->lock);
		gp_spin_lock(&b->lock);
	} else {
		gp_spin_lock(&b->lock);
		gp_spin_lock(&a->lock);
	}
}

static void unlock_pair(struct gp_proc *a, struct gp_proc *b)
{
	gp_spin_unlock(&a->lock);
	gp_spin_unlock(&b->lock);
}

static void set_kill(struct gp_proc *p, int reason)
{
	int none = -1;

	/* seq_cst: Dekker with park_commit's recheck of kill_reason */
	(void)atomic_compare_exchange_strong_explicit(&p->kill_reason, &none, reason,
						      memory_order_seq_cst, memory_order_relaxed);
}

/*
 * Deliver an exit signal from `from` to `to`. via_link: it comes from a
 * dying link partner, and only counts if the link still exists. Returns
 * -ESRCH if `to` is not alive.
 */
static int exit_signal(struct gp_sched *s, gp_pid to, gp_pid from, int reason, bool via_link)
{
	struct gp_runtime *rt = s->rt;
	struct gp_proc *p = gpi_proc_lookup(rt, to);
	struct gp_mnode *m = NULL;
	uint32_t wake = 0;

	if (!p)
		return -ESRCH;
	gp_spin_lock(&p->lock);
	if (atomic_load_explicit(&p->pid, memory_order_relaxed) != to ||
	    atomic_load_explicit(&p->exiting, memory_order_relaxed)) {
		gp_spin_unlock(&p->lock);
		return -ESRCH;
	}
	if (via_link && !pidvec_remove(&p->links, from)) {
		gp_spin_unlock(&p->lock);
		return 0;
	}
	if (reason == GP_EXIT_KILL && !via_link) {
		set_kill(p, GP_EXIT_KILLED);
		wake = GP_W_ANY;
	} else if (p->trap_exit) {
		struct gp_exit_info info = { .pid = from, .reason = reason };

		m = gpi_msg_new(s, to, from, GP_TAG_EXIT, &info, sizeof(info));
		if (m) {
			gpi_mailbox_push(p, m);
			wake = GP_W_MSG;
		} else {
			/* No memory to tell it: dying is the honest outcome. */
			set_kill(p, reason == GP_EXIT_NORMAL ? GP_EXIT_KILLED : reason);
			wake = GP_W_ANY;
		}
	} else if (reason != GP_EXIT_NORMAL) {
		set_kill(p, reason);
		wake = GP_W_ANY;
	}
	gp_spin_unlock(&p->lock);
	if (wake)
		gpi_wake_proc(s, p, wake);
	return 0;
}

/* An exit signal from the runtime itself (from: 0), as gp_kill sends. */
int gpi_exit_signal(struct gp_sched *s, gp_pid to, gp_pid from, int reason)
{
	return exit_signal(s, to, from, reason, false);
}

void gpi_exit_signal_links(struct gp_sched *s, struct gp_proc *p, struct gp_pidvec *links,
			   int reason)
{
	gp_pid self = atomic_load_explicit(&p->pid, memory_order_relaxed);

	for (uint32_t i = 0; i < links->len; i++)
		(void)exit_signal(s, links->v[i], self, reason, true);
}

/* At exit: withdraw the monitors this process holds from their targets. */
void gpi_monitors_release(struct gp_sched *s, struct gp_proc *p)
{
	for (uint32_t i = 0; i < p->monitors.len; i++) {
		struct gp_proc *t = gpi_proc_lookup(s->rt, p->monitors.v[i].pid);

		if (!t)
			continue;
		gp_spin_lock(&t->lock);
		if (atomic_load_explicit(&t->pid, memory_order_relaxed) == p->monitors.v[i].pid)
			(void)monvec_remove(&t->monitored_by, p->monitors.v[i].ref, NULL);
		gp_spin_unlock(&t->lock);
	}
	free(p->monitors.v);
	p->monitors = (struct gp_monvec){ 0 };
}

/* Linking to, or monitoring, a process that is gone. */
static int noproc(struct gp_sched *s, struct gp_proc *p, gp_pid pid)
{
	struct gp_exit_info info = { .pid = pid, .reason = GP_EXIT_NOPROC };
	bool trapping;
	int r;

	gp_spin_lock(&p->lock);
	trapping = p->trap_exit;
	gp_spin_unlock(&p->lock);
	if (!trapping)
		gpi_proc_exit(s, p, GP_EXIT_NOPROC);
	r = gpi_send_system(s, atomic_load_explicit(&p->pid, memory_order_relaxed), pid,
			    GP_TAG_EXIT, &info);
	return r < 0 ? r : 0;
}

int gp_link(gp_pid pid)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s), *q;
	gp_pid self;
	int r = 0;

	if (!p)
		return -EPERM;
	if (!pid)
		return -EINVAL;
	gpi_check_kill(s, p);
	self = atomic_load_explicit(&p->pid, memory_order_relaxed);
	if (pid == self)
		return 0;
	q = gpi_proc_lookup(s->rt, pid);
	if (!q)
		return noproc(s, p, pid);
	lock_pair(p, q);
	if (atomic_load_explicit(&q->pid, memory_order_relaxed) != pid ||
	    atomic_load_explicit(&q->exiting, memory_order_relaxed)) {
		unlock_pair(p, q);
		return noproc(s, p, pid);
	}
	if (!pidvec_has(&p->links, pid)) {
		r = gpi_pidvec_add(&p->links, pid);
		if (r == 0 && (r = gpi_pidvec_add(&q->links, self)) < 0)
			p->links.len--;
	}
	unlock_pair(p, q);
	return r;
}

static bool is_exit_from(const struct gp_mnode *m, const void *ctx)
{
	return m->tag == GP_TAG_EXIT && m->from == *(const gp_pid *)ctx;
}

int gp_unlink(gp_pid pid)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s), *q;
	gp_pid self;

	if (!p)
		return -EPERM;
	if (!pid)
		return -EINVAL;
	gpi_check_kill(s, p);
	self = atomic_load_explicit(&p->pid, memory_order_relaxed);
	if (pid == self)
		return 0;
	q = gpi_proc_lookup(s->rt, pid);
	if (q) {
		lock_pair(p, q);
		(void)pidvec_remove(&p->links, pid);
		if (atomic_load_explicit(&q->pid, memory_order_relaxed) == pid)
			(void)pidvec_remove(&q->links, self);
		unlock_pair(p, q);
	} else {
		gp_spin_lock(&p->lock);
		(void)pidvec_remove(&p->links, pid);
		gp_spin_unlock(&p->lock);
	}
	/* An EXIT the link already delivered has no effect either. */
	gpi_mailbox_flush(p, is_exit_from, &pid);
	return 0;
}

int gp_monitor(gp_pid pid, uint64_t *ret_ref)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s), *q;
	struct gp_exit_info info;
	gp_pid self;
	uint64_t ref;
	int r;

	if (!p)
		return -EPERM;
	if (!pid || !ret_ref)
		return -EINVAL;
	gpi_check_kill(s, p);
	self = atomic_load_explicit(&p->pid, memory_order_relaxed);
	ref = atomic_fetch_add_explicit(&s->rt->next_ref, 1, memory_order_relaxed);
	r = gpi_monvec_add(&p->monitors, ref, pid);
	if (r < 0)
		return r;
	q = gpi_proc_lookup(s->rt, pid);
	if (q) {
		gp_spin_lock(&q->lock);
		if (atomic_load_explicit(&q->pid, memory_order_relaxed) == pid &&
		    !atomic_load_explicit(&q->exiting, memory_order_relaxed)) {
			r = gpi_monvec_add(&q->monitored_by, ref, self);
			gp_spin_unlock(&q->lock);
			if (r < 0) {
				p->monitors.len--;
				return r;
			}
			*ret_ref = ref;
			return 0;
		}
		gp_spin_unlock(&q->lock);
	}
	/* Gone already: the DOWN comes at once. */
	info = (struct gp_exit_info){ .pid = pid, .reason = GP_EXIT_NOPROC, .ref = ref };
	r = gpi_send_system(s, self, pid, GP_TAG_DOWN, &info);
	if (r < 0) {
		p->monitors.len--;
		return r;
	}
	*ret_ref = ref;
	return 0;
}

static bool is_down_for(const struct gp_mnode *m, const void *ctx)
{
	const struct gp_exit_info *info = (const void *)m->data;

	return m->tag == GP_TAG_DOWN && info->ref == *(const uint64_t *)ctx;
}

int gp_demonitor(uint64_t ref)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s), *q;
	gp_pid target;

	if (!p)
		return -EPERM;
	if (!ref)
		return -EINVAL;
	gpi_check_kill(s, p);
	if (!monvec_remove(&p->monitors, ref, &target))
		return -ENOENT;
	q = gpi_proc_lookup(s->rt, target);
	if (q) {
		gp_spin_lock(&q->lock);
		if (atomic_load_explicit(&q->pid, memory_order_relaxed) == target)
			(void)monvec_remove(&q->monitored_by, ref, NULL);
		gp_spin_unlock(&q->lock);
	}
	/* A DOWN already queued goes now; one still in flight is dropped at
	 * receive, since the ref is no longer held. */
	gpi_mailbox_flush(p, is_down_for, &ref);
	return 0;
}

int gp_trap_exit(bool on)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	bool prev;

	if (!p)
		return -EPERM;
	gp_spin_lock(&p->lock);
	prev = p->trap_exit;
	p->trap_exit = on;
	gp_spin_unlock(&p->lock);
	return prev;
}

int gp_kill(gp_pid pid, int reason)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	gp_pid self;
	bool trapping;

	if (!p)
		return -EPERM;
	if (!pid || reason < 0)
		return -EINVAL;
	gpi_check_kill(s, p);
	self = atomic_load_explicit(&p->pid, memory_order_relaxed);
	if (pid != self)
		return exit_signal(s, pid, self, reason, false);

	/* Erlang's exit(self(), Reason). */
	gp_spin_lock(&p->lock);
	trapping = p->trap_exit;
	gp_spin_unlock(&p->lock);
	if (reason == GP_EXIT_KILL)
		gpi_proc_exit(s, p, GP_EXIT_KILLED);
	if (trapping) {
		struct gp_exit_info info = { .pid = self, .reason = reason };

		return gpi_send_system(s, self, self, GP_TAG_EXIT, &info);
	}
	gpi_proc_exit(s, p, reason);
}
