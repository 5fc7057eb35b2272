/* SPDX-License-Identifier: MIT */
/*
 * Timers: a 4-ary min-heap of deadlines per scheduler, fired by its owner
 * thread from the scheduler loop, which sleeps in io_uring_enter no longer
 * than until the earliest deadline.
 *
 * A process parks with its timer on the scheduler it parks on, but may be
 * woken by a message on another: it then removes its own timer, under the
 * heap's lock. A timer that fires as a message wakes the process loses the
 * CAS on the state word (whose sequence changed) and does nothing.
 *
 * Deadlines are absolute CLOCK_MONOTONIC nanoseconds; a timer fires only when
 * the clock has reached its deadline, so a timeout is never early.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define ARITY 4

uint64_t gpi_deadline_after_ms(int ms)
{
	return gpi_now_ns() + (uint64_t)ms * 1000000u;
}

static void place(struct gp_timer_heap *h, uint32_t i, struct gp_timer t)
{
	h->v[i] = t;
	t.proc->timer_idx = (int32_t)i;
}

static void sift_up(struct gp_timer_heap *h, uint32_t i, struct gp_timer t)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / ARITY;

		if (h->v[parent].deadline <= t.deadline)
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct gp_timer_heap *h, uint32_t i, struct gp_timer t)
{
	for (;;) {
		uint32_t first = i * ARITY + 1, best = i;
		uint64_t best_deadline = t.deadline;

		for (uint32_t c = first; c < first + ARITY && c < h->len; c++) {
			if (h->v[c].deadline < best_deadline) {
				best = c;
				best_deadline = h->v[c].deadline;
			}
		}
		if (best == i)
			break;
		place(h, i, h->v[best]);
		i = best;
	}
	place(h, i, t);
}

/* Remove entry i; the caller holds the lock. */
static void remove_at(struct gp_timer_heap *h, uint32_t i)
{
	struct gp_timer last;

	h->v[i].proc->timer_idx = -1;
	last = h->v[--h->len];
	atomic_store_explicit(&h->pending, h->len, memory_order_relaxed);
	if (i == h->len)
		return;
	if (i > 0 && last.deadline < h->v[(i - 1) / ARITY].deadline)
		sift_up(h, i, last);
	else
		sift_down(h, i, last);
}

int gpi_timer_add(struct gp_sched *s, struct gp_proc *p, uint64_t deadline, uint64_t expect)
{
	struct gp_timer_heap *h = &s->timers;
	int r = 0;

	gp_spin_lock(&h->lock);
	if (h->len == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 64;
		struct gp_timer *v = realloc(h->v, cap * sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			goto out;
		}
		h->v = v;
		h->cap = cap;
	}
	p->timer_sched = s;
	sift_up(h, h->len++, (struct gp_timer){ .deadline = deadline, .expect = expect, .proc = p });
	atomic_store_explicit(&h->pending, h->len, memory_order_relaxed);
out:
	gp_spin_unlock(&h->lock);
	if (r < 0) {
		/* No room for the timer: end the wait now rather than never.
		 * The process sees a spurious early wake-up and parks again. */
		p->timer_sched = NULL;
	}
	return r;
}

void gpi_timer_cancel(struct gp_proc *p)
{
	struct gp_sched *s = p->timer_sched;

	gp_spin_lock(&s->timers.lock);
	if (p->timer_idx >= 0)
		remove_at(&s->timers, (uint32_t)p->timer_idx);
	gp_spin_unlock(&s->timers.lock);
	p->timer_sched = NULL;
}

/*
 * Fire what is due at `now` in s's heap, queueing the woken processes on
 * runner (s itself, or an idle scheduler standing in for a stalled s).
 * Returns the next deadline, or 0 if none.
 */
uint64_t gpi_timer_fire(struct gp_sched *s, struct gp_sched *runner, uint64_t now)
{
	struct gp_timer_heap *h = &s->timers;
	uint64_t next = 0;

	for (;;) {
		struct gp_timer due[32];
		unsigned n = 0;

		gp_spin_lock(&h->lock);
		while (h->len && h->v[0].deadline <= now && n < 32) {
			due[n++] = h->v[0];
			remove_at(h, 0);
		}
		next = h->len ? h->v[0].deadline : 0;
		gp_spin_unlock(&h->lock);

		for (unsigned i = 0; i < n; i++) {
			struct gp_proc *p = due[i].proc;
			uint64_t expect = due[i].expect;
			uint64_t runnable = (expect & ~(uint64_t)0xffffffff) | GP_S_RUNNABLE;

			/* Fails if the wait already ended (its sequence moved on). */
			if (atomic_compare_exchange_strong_explicit(&p->state, &expect, runnable,
								    memory_order_seq_cst,
								    memory_order_relaxed)) {
				p->flags |= GP_PF_TIMED_OUT;
				gpi_make_runnable(runner, p, false);
			}
		}
		if (n < 32)
			return next;
	}
}

/* The earliest deadline in s's heap, or 0 if none. */
uint64_t gpi_timer_next(struct gp_sched *s)
{
	uint64_t next = 0;

	if (!atomic_load_explicit(&s->timers.pending, memory_order_relaxed))
		return 0;
	gp_spin_lock(&s->timers.lock);
	if (s->timers.len)
		next = s->timers.v[0].deadline;
	gp_spin_unlock(&s->timers.lock);
	return next;
}

void gpi_timers_destroy(struct gp_sched *s)
{
	free(s->timers.v);
	s->timers.v = NULL;
	s->timers.len = s->timers.cap = 0;
}

int gp_sleep(int ms)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	uint64_t deadline;

	if (!p)
		return -EPERM;
	if (ms < 0)
		return -EINVAL;
	gpi_check_kill(s, p);
	if (ms == 0) {
		gp_yield();
		return 0;
	}
	deadline = gpi_deadline_after_ms(ms);
	do {
		s = gpi_park(s, p, 0, deadline);
		gpi_check_kill(s, p);
		p->flags &= ~GP_PF_TIMED_OUT;
	} while (gpi_now_ns() < deadline);
	return 0;
}
