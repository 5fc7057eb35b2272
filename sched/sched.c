/* SPDX-License-Identifier: MIT */
/*
 * Scheduler threads: run queues, the switch between processes, the scheduler
 * loop, work stealing, and sleeping in io_uring_enter.
 *
 * Each scheduler thread runs processes one after another, switching directly
 * from one process's stack to the next (one gp_ctx_switch per hand-off). It
 * returns to its own loop context only to poll its ring and timers, to
 * steal, or to sleep. A process that blocks hands itself to the next one via
 * s->prev/s->prev_action; the side that resumes calls gpi_finish_switch() to
 * commit it (queue it, publish its wait, or free it), because only then is
 * its context saved and safe for another thread to resume.
 *
 * Waking: a process woken by a message runs next on the waker's scheduler
 * (runnext), so a ping-pong pair never crosses threads. Idle schedulers spin
 * briefly, then sleep in io_uring_enter; a scheduler that queues work others
 * could take wakes one sleeper with IORING_OP_MSG_RING. A missed wake-up
 * costs parallelism, never progress: the work sits on the pusher's own
 * queue, and the pusher runs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define GP_BUDGET      2000      /* reductions per time slice */
#define GP_POLL_EVERY  64        /* picks between visits to the loop */
#define GP_SPIN_NS     50000     /* how long an idle scheduler looks for work */
/* A runnext this old on a busy scheduler may be stolen: a hundred context
 * switches' time, so that only a scheduler that is computing loses it. */
#define GP_NEXT_AFTER  (20000 * GP_SAN_TIME_FACTOR)
#define GP_UD_WAKE     1         /* user_data of a MSG_RING wake-up */
#define GP_UD_MSGRING  2         /* user_data of our own MSG_RING SQEs */
#define GP_IO_BATCH    16        /* picks a prepared I/O operation may wait for submission */

__thread struct gp_sched *gpi_tls __attribute__((tls_model("initial-exec")));

/*
 * Never inlined: a process may resume on another thread, so the address of a
 * TLS variable must not be computed once and kept across a switch.
 */
__attribute__((noinline)) struct gp_sched *gpi_tls_sched(void)
{
	return gpi_tls;
}

/* ---- contexts ------------------------------------------------------------ */

void gpi_ctx_init(struct gp_ctx *ctx, void *lo, size_t size, void (*entry)(void *))
{
	uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)top;
	uint32_t mxcsr = 0x1f80; /* the SysV initial values */
	uint16_t x87cw = 0x037f;

	*--sp = (uint64_t)(uintptr_t)gp_ctx_trampoline; /* after ret: rsp == top, aligned */
	*--sp = 0;                                      /* rbp: ends frame-pointer chains */
	*--sp = 0;                                      /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry;             /* r12: called by the trampoline */
	*--sp = 0;                                      /* r13 */
	*--sp = 0;                                      /* r14 */
	*--sp = 0;                                      /* r15 */
	--sp;
	memcpy(sp, &mxcsr, sizeof(mxcsr));
	memcpy((char *)sp + 4, &x87cw, sizeof(x87cw));
	ctx->sp = sp;
#ifdef GP_SANITIZE
	ctx->stack_lo = lo;
	ctx->stack_size = size;
#endif
}

static inline struct gp_sched *switch_ctx(struct gp_sched *s, struct gp_ctx *from,
					  struct gp_ctx *to, bool from_dies)
{
#ifdef GP_ASAN
	void *fake_stack = NULL;

	__sanitizer_start_switch_fiber(from_dies ? NULL : &fake_stack, to->stack_lo,
				       to->stack_size);
#else
	(void)from_dies;
#endif
#ifdef GP_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	s = gp_ctx_switch(from, to, s);
#ifdef GP_ASAN
	__sanitizer_finish_switch_fiber(fake_stack, NULL, NULL);
#endif
	return s;
}

/* ---- run queues ------------------------------------------------------------- */

static void gq_push_list(struct gp_runtime *rt, struct gp_proc *head, struct gp_proc *tail,
			 uint32_t n)
{
	tail->rq_next = NULL;
	pthread_mutex_lock(&rt->gq_lock);
	if (rt->gq_tail)
		rt->gq_tail->rq_next = head;
	else
		rt->gq_head = head;
	rt->gq_tail = tail;
	atomic_fetch_add_explicit(&rt->gq_len, n, memory_order_relaxed);
	pthread_mutex_unlock(&rt->gq_lock);
}

/* Move half of a full local queue, plus p, to the global queue. */
static bool runq_push_slow(struct gp_sched *s, struct gp_proc *p, uint32_t head, uint32_t tail)
{
	struct gp_runq *q = &s->runq;
	struct gp_proc *batch[GP_RUNQ_SIZE / 2 + 1];
	uint32_t n = (tail - head) / 2;

	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&q->buf[(head + i) % GP_RUNQ_SIZE],
						memory_order_relaxed);
	/* release: the entries we read stay valid for whoever reads them next */
	if (!atomic_compare_exchange_strong_explicit(&q->head, &head, head + n,
						     memory_order_release, memory_order_relaxed))
		return false;
	batch[n] = p;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->rq_next = batch[i + 1];
	gq_push_list(s->rt, batch[0], batch[n], n + 1);
	return true;
}

static void runq_push(struct gp_sched *s, struct gp_proc *p)
{
	struct gp_runq *q = &s->runq;

	for (;;) {
		/* acquire: pairs with consumers' CAS-release on head */
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);

		if (t - h < GP_RUNQ_SIZE) {
			atomic_store_explicit(&q->buf[t % GP_RUNQ_SIZE], p, memory_order_relaxed);
			/* release: publishes the entry and the process it points to */
			atomic_store_explicit(&q->tail, t + 1, memory_order_release);
			return;
		}
		if (runq_push_slow(s, p, h, t))
			return;
	}
}

static struct gp_proc *runq_pop(struct gp_runq *q)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
		struct gp_proc *p;

		if (t == h)
			return NULL;
		p = atomic_load_explicit(&q->buf[h % GP_RUNQ_SIZE], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_release,
							  memory_order_relaxed))
			return p;
	}
}

static bool runq_empty(struct gp_runq *q)
{
	return atomic_load_explicit(&q->head, memory_order_acquire) ==
	       atomic_load_explicit(&q->tail, memory_order_acquire);
}

/* Take a share of the global queue: one to run, some more into our own queue. */
static struct gp_proc *gq_grab(struct gp_sched *s)
{
	struct gp_runtime *rt = s->rt;
	struct gp_proc *first, *last;
	uint32_t len, n;

	if (!atomic_load_explicit(&rt->gq_len, memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&rt->gq_lock);
	len = atomic_load_explicit(&rt->gq_len, memory_order_relaxed);
	if (!len) {
		pthread_mutex_unlock(&rt->gq_lock);
		return NULL;
	}
	n = len / rt->nsched + 1;
	if (n > len)
		n = len;
	if (n > GP_RUNQ_SIZE / 2)
		n = GP_RUNQ_SIZE / 2;
	first = rt->gq_head;
	last = first;
	for (uint32_t i = 1; i < n; i++)
		last = last->rq_next;
	rt->gq_head = last->rq_next;
	if (!rt->gq_head)
		rt->gq_tail = NULL;
	atomic_fetch_sub_explicit(&rt->gq_len, n, memory_order_relaxed);
	pthread_mutex_unlock(&rt->gq_lock);
	/* Outside the lock: a full local queue spills back to the global one. */
	last->rq_next = NULL;
	for (struct gp_proc *p = first->rq_next; p;) {
		struct gp_proc *next = p->rq_next;

		runq_push(s, p);
		p = next;
	}
	return first;
}

/*
 * Steal half of victim's queue into ours (which is empty: we only steal when
 * idle) and return one to run. A stalled victim, or one whose runnext has sat
 * through two of our looks without the victim switching, gives up runnext too.
 */
static struct gp_proc *runq_steal(struct gp_sched *s, struct gp_sched *v, bool take_next)
{
	struct gp_runq *dst = &s->runq, *src = &v->runq;
	uint32_t t = atomic_load_explicit(&dst->tail, memory_order_relaxed);
	struct gp_proc *p;
	uint32_t n;

	for (;;) {
		uint32_t h = atomic_load_explicit(&src->head, memory_order_acquire);
		uint32_t vt = atomic_load_explicit(&src->tail, memory_order_acquire);

		n = vt - h;
		n -= n / 2;
		if (n == 0) {
			if (!take_next || !atomic_load_explicit(&v->runnext, memory_order_relaxed))
				return NULL;
			return atomic_exchange_explicit(&v->runnext, NULL, memory_order_acq_rel);
		}
		if (n > GP_RUNQ_SIZE / 2)
			continue; /* head and tail read at different times */
		for (uint32_t i = 0; i < n; i++) {
			p = atomic_load_explicit(&src->buf[(h + i) % GP_RUNQ_SIZE],
						 memory_order_relaxed);
			atomic_store_explicit(&dst->buf[(t + i) % GP_RUNQ_SIZE], p,
					      memory_order_relaxed);
		}
		/* release: the victim may overwrite these slots once head moves */
		if (atomic_compare_exchange_strong_explicit(&src->head, &h, h + n,
							    memory_order_acq_rel,
							    memory_order_relaxed))
			break;
	}
	n--;
	p = atomic_load_explicit(&dst->buf[(t + n) % GP_RUNQ_SIZE], memory_order_relaxed);
	if (n)
		atomic_store_explicit(&dst->tail, t + n, memory_order_release);
	return p;
}

/* ---- waking --------------------------------------------------------------------- */

void gpi_wake_sched(struct io_uring *from, struct gp_sched *to)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(from);

	if (!sqe) {
		(void)io_uring_submit(from);
		sqe = io_uring_get_sqe(from);
		if (!sqe)
			return; /* cannot happen with an empty SQ; the sleeper polls anyway */
	}
	io_uring_prep_msg_ring(sqe, to->ring_fd, 0, GP_UD_WAKE, 0);
	io_uring_sqe_set_data64(sqe, GP_UD_MSGRING);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	gp_tsan_release(&to->sleeping);
	(void)io_uring_submit(from);
}

/*
 * Take t out of its sleep, if it sleeps: whoever wins this CAS (a waker, or
 * t itself on waking) accounts for it, and a waker must then send it the
 * MSG_RING that ends its io_uring_enter.
 */
bool gpi_claim_sleeper(struct gp_sched *t)
{
	uint32_t one = 1;

	if (!atomic_load_explicit(&t->sleeping, memory_order_relaxed) ||
	    !atomic_compare_exchange_strong_explicit(&t->sleeping, &one, 0, memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	atomic_fetch_sub_explicit(&t->rt->nsleeping, 1, memory_order_relaxed);
	return true;
}

/* Wake one sleeping scheduler to take work; it starts out spinning. */
void gpi_wake_idle(struct gp_sched *s)
{
	struct gp_runtime *rt = s->rt;

	if (atomic_load_explicit(&rt->nspinning, memory_order_relaxed) ||
	    !atomic_load_explicit(&rt->nsleeping, memory_order_relaxed))
		return;
	for (unsigned i = 1; i < rt->nsched; i++) {
		struct gp_sched *t = rt->sched[(s->id + i) % rt->nsched];

		if (gpi_claim_sleeper(t)) {
			atomic_fetch_add_explicit(&rt->nspinning, 1, memory_order_relaxed);
			gpi_wake_sched(&s->ring, t);
			return;
		}
	}
}

void gpi_make_runnable(struct gp_sched *s, struct gp_proc *p, bool next)
{
	if (next) {
		struct gp_proc *old = atomic_exchange_explicit(&s->runnext, p, memory_order_acq_rel);

		if (!old)
			return;
		p = old; /* the previous runnext goes to the tail */
	}
	runq_push(s, p);
	if (atomic_load_explicit(&s->rt->nsleeping, memory_order_relaxed))
		gpi_wake_idle(s);
}

/*
 * Runnable behind everything already waiting: while the global queue holds
 * processes (the local ones overflowed there), a newcomer goes behind them
 * rather than into the local queue, which the scheduler serves first. For
 * I/O completions, which come in batches of thousands under load: without
 * this, fresh ones keep overtaking the spilled ones, which starve.
 */
void gpi_make_runnable_fifo(struct gp_sched *s, struct gp_proc *p)
{
	struct gp_runtime *rt = s->rt;

	if (!atomic_load_explicit(&rt->gq_len, memory_order_relaxed)) {
		gpi_make_runnable(s, p, false);
		return;
	}
	gq_push_list(rt, p, p, 1);
	if (atomic_load_explicit(&rt->nsleeping, memory_order_relaxed))
		gpi_wake_idle(s);
}

void gpi_wake_proc(struct gp_sched *s, struct gp_proc *p, uint32_t why)
{
	if (gpi_try_wake(p, why))
		gpi_make_runnable(s, p, true);
}

/* ---- switching ------------------------------------------------------------------ */

/* Commit a park: publish the wait, then catch what arrived meanwhile. */
static void park_commit(struct gp_sched *s, struct gp_proc *p, uint32_t wake)
{
	uint64_t st = atomic_load_explicit(&p->state, memory_order_relaxed);
	uint64_t seq = GP_STATE_SEQ(st) + 1;
	uint64_t waiting = (seq << 32) | wake | GP_S_WAITING;

	/* The timer goes in first: once published, a waker owns p. Without
	 * room for a timer, the wait ends at once (a spurious wake-up). */
	if ((wake & GP_W_TIMER) && gpi_timer_add(s, p, p->deadline, waiting) < 0) {
		atomic_store_explicit(&p->state, (seq << 32) | GP_S_RUNNABLE, memory_order_relaxed);
		gpi_make_runnable(s, p, false);
		return;
	}
	atomic_store_explicit(&p->state, waiting, memory_order_seq_cst);
	if (((wake & GP_W_MSG) && atomic_load_explicit(&p->inbox, memory_order_seq_cst)) ||
	    atomic_load_explicit(&p->kill_reason, memory_order_seq_cst) >= 0)
		gpi_wake_proc(s, p, GP_W_ANY);
	if (wake & GP_W_IO) {
		/* A completion on another scheduler's ring may have come
		 * before the wait was published (seq_cst: Dekker with
		 * gpi_io_complete's store of done, then wake). */
		struct gp_io *io = atomic_load_explicit(&p->io, memory_order_seq_cst);

		if (io && atomic_load_explicit(&io->done, memory_order_seq_cst))
			gpi_wake_proc(s, p, GP_W_IO);
	}
}

void gpi_finish_switch(struct gp_sched *s)
{
	struct gp_proc *p = s->prev;

	if (!p)
		return;
	s->prev = NULL;
	switch (s->prev_action) {
	case GP_ACT_NONE:
		break;
	case GP_ACT_YIELD: {
		uint64_t st = atomic_load_explicit(&p->state, memory_order_relaxed);

		atomic_store_explicit(&p->state, (st & ~(uint64_t)GP_S_MASK) | GP_S_RUNNABLE,
				      memory_order_relaxed);
		gpi_make_runnable(s, p, false);
		break;
	}
	case GP_ACT_PARK:
		park_commit(s, p, s->park_wake);
		break;
	case GP_ACT_HIBERNATE:
		gpi_stack_free(s, p->stack_class, p->stack_lo, false);
		p->stack_lo = NULL;
		p->flags |= GP_PF_NOSTACK | GP_PF_HIBERNATED;
		if (p->mq_head) { /* mail already waiting: start again at once */
			uint64_t st = atomic_load_explicit(&p->state, memory_order_relaxed);

			atomic_store_explicit(&p->state,
					      (st & ~(uint64_t)GP_S_MASK) | GP_S_RUNNABLE,
					      memory_order_relaxed);
			gpi_make_runnable(s, p, false);
		} else {
			park_commit(s, p, GP_W_MSG);
		}
		break;
	case GP_ACT_EXIT:
		gpi_proc_release(s, p);
		break;
	}
}

/*
 * Make p ready to be switched to on s. A process gets its stack when it
 * first runs, not when it is spawned (a million queued processes hold no
 * stack pages), and again when it wakes from hibernation. Running out of
 * stacks is out of memory: fatal, as malloc failing is in most programs.
 */
static void run_prepare(struct gp_sched *s, struct gp_proc *p)
{
	uint64_t st = atomic_load_explicit(&p->state, memory_order_relaxed);

	atomic_store_explicit(&p->state, (st & ~(uint64_t)GP_S_MASK) | GP_S_RUNNING,
			      memory_order_relaxed);
	p->last_sched = s->id;
	if (unlikely(p->flags & GP_PF_NOSTACK)) {
		size_t size = gpi_stack_size(s->rt, p->stack_class);

		p->stack_lo = gpi_stack_alloc(s, p->stack_class);
		if (!p->stack_lo) {
			static const char msg[] =
				"libgp: fatal: out of memory for a process stack\n";

			(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
			abort();
		}
		gpi_ctx_init(&p->ctx, p->stack_lo, size, gpi_proc_entry);
		p->flags &= ~GP_PF_NOSTACK;
	}
	s->current = p;
	atomic_store_explicit(&s->running, p, memory_order_relaxed);
	atomic_store_explicit(&s->switches,
			      atomic_load_explicit(&s->switches, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* The next process to run on s without visiting the loop, or NULL. */
static struct gp_proc *pick_local(struct gp_sched *s)
{
	struct gp_proc *p;

	if (unlikely(++s->tick % GP_POLL_EVERY == 0))
		return NULL; /* visit the loop: ring, timers, global queue */
	p = atomic_load_explicit(&s->runnext, memory_order_relaxed);
	if (p && atomic_compare_exchange_strong_explicit(&s->runnext, &p, NULL,
							 memory_order_acquire,
							 memory_order_relaxed))
		return p; /* inherits the time slice */
	s->budget = GP_BUDGET;
	p = runq_pop(&s->runq);
	if (p)
		return p;
	return gq_grab(s);
}

struct gp_sched *gpi_switch_out(struct gp_sched *s, struct gp_proc *p, enum gp_action action)
{
	struct gp_proc *next = pick_local(s);
	struct gp_ctx *to = &s->loop_ctx;

	s->prev = p;
	s->prev_action = action;
	if (next) {
		run_prepare(s, next);
		to = &next->ctx;
	} else {
		s->current = NULL;
		atomic_store_explicit(&s->running, NULL, memory_order_relaxed);
		atomic_store_explicit(&s->switches,
				      atomic_load_explicit(&s->switches, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	}
	s = switch_ctx(s, &p->ctx, to, action == GP_ACT_EXIT || action == GP_ACT_HIBERNATE);
	gpi_finish_switch(s);
	return s;
}

struct gp_sched *gpi_park(struct gp_sched *s, struct gp_proc *p, uint32_t wake, uint64_t deadline)
{
	p->deadline = deadline;
	if (deadline)
		wake |= GP_W_TIMER;
	s->park_wake = wake;
	s = gpi_switch_out(s, p, GP_ACT_PARK);
	if (p->timer_sched)
		gpi_timer_cancel(p);
	return s;
}

/*
 * The time slice is spent: let the others run. runnext goes to the queue
 * first, so a ping-pong pair that keeps waking each other cannot starve the
 * queue (it would otherwise inherit the slice forever).
 */
void gpi_preempt(struct gp_sched *s, struct gp_proc *p)
{
	struct gp_proc *next = atomic_exchange_explicit(&s->runnext, NULL, memory_order_acq_rel);

	if (next)
		runq_push(s, next);
	/* Even alone here, go through the loop: its timers and ring are due a
	 * look (one switch there and back per slice). */
	s = gpi_switch_out(s, p, GP_ACT_YIELD);
	gpi_check_kill(s, p);
}

/* ---- the scheduler loop ------------------------------------------------------------ */

static uint32_t fastrand(struct gp_sched *s)
{
	/* xorshift32: which victim to try first */
	uint32_t x = s->rand;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->rand = x;
	return x;
}

static void sched_poll(struct gp_sched *s)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	if (IO_URING_READ_ONCE(*s->ring.sq.kflags) & IORING_SQ_TASKRUN)
		(void)io_uring_get_events(&s->ring);
	io_uring_for_each_cqe(&s->ring, head, cqe) {
		/* GP_UD_WAKE: a wake-up, nothing to do but look for work.
		 * GP_UD_MSGRING: a failed wake we sent (the target was
		 * already awake or going away); GP_UD_IGNORE: a linked
		 * timeout or a cancel; nothing to do either. Anything else
		 * is a process's operation. */
		if (cqe->user_data > GP_UD_IGNORE)
			gpi_io_complete(s, cqe);
		else
			gp_tsan_acquire(&s->sleeping);
		n++;
	}
	io_uring_cq_advance(&s->ring, n);
	if (atomic_load_explicit(&s->io_cancels, memory_order_relaxed))
		gpi_io_cancels(s);
}

/* Submit the processes' operations: one io_uring_enter for a batch, when
 * nothing else is runnable here or every GP_IO_BATCH picks (idle() submits
 * what is left as it goes to sleep). */
static void io_submit(struct gp_sched *s)
{
	if (!io_uring_sq_ready(&s->ring))
		return;
	if (++s->io_ticks < GP_IO_BATCH && (!runq_empty(&s->runq) ||
					    atomic_load_explicit(&s->runnext, memory_order_relaxed)))
		return;
	s->io_ticks = 0;
	(void)io_uring_submit(&s->ring);
}

static struct gp_proc *steal(struct gp_sched *s, bool take_next)
{
	struct gp_runtime *rt = s->rt;
	unsigned start = fastrand(s);

	for (unsigned i = 0; i < rt->nsched; i++) {
		struct gp_sched *v = rt->sched[(start + i) % rt->nsched];
		struct gp_proc *p;

		if (v == s)
			continue;
		/* A stalled scheduler cannot fire its own timers: we do, and
		 * run what they wake (our queue is no longer empty, so no
		 * stealing into it this time). */
		if (atomic_load_explicit(&v->stalled, memory_order_relaxed) &&
		    atomic_load_explicit(&v->timers.pending, memory_order_relaxed)) {
			(void)gpi_timer_fire(v, s, gpi_now_ns());
			if ((p = runq_pop(&s->runq)))
				return p;
		}
		p = runq_steal(s, v, take_next ||
					     atomic_load_explicit(&v->stalled, memory_order_relaxed));
		if (p) {
			atomic_store_explicit(&s->steals,
					      atomic_load_explicit(&s->steals, memory_order_relaxed) + 1,
					      memory_order_relaxed);
			return p;
		}
	}
	return NULL;
}

static struct gp_proc *find_work(struct gp_sched *s, bool may_steal, bool take_next)
{
	struct gp_proc *p;

	sched_poll(s);
	io_submit(s);
	if (atomic_load_explicit(&s->timers.pending, memory_order_relaxed))
		(void)gpi_timer_fire(s, s, gpi_now_ns());
	/* Now and then the global queue goes first, so it cannot starve. */
	if (s->tick % (GP_POLL_EVERY * 4) == 0 && (p = gq_grab(s)))
		goto out_fresh;
	s->tick++;
	p = atomic_load_explicit(&s->runnext, memory_order_relaxed);
	if (p && atomic_compare_exchange_strong_explicit(&s->runnext, &p, NULL,
							 memory_order_acquire,
							 memory_order_relaxed))
		return p;
	if ((p = runq_pop(&s->runq)) || (p = gq_grab(s)))
		goto out_fresh;
	if (may_steal && (p = steal(s, take_next)))
		goto out_fresh;
	return NULL;
out_fresh:
	s->budget = GP_BUDGET;
	return p;
}

static void run(struct gp_sched *s, struct gp_proc *p)
{
	run_prepare(s, p);
	s = switch_ctx(s, &s->loop_ctx, &p->ctx, false);
	(void)s; /* the loop context never migrates */
}

static void stop_spinning(struct gp_sched *s, bool found)
{
	struct gp_runtime *rt = s->rt;

	if (!s->spinning)
		return;
	s->spinning = false;
	/* Go's rule: the last spinner to find work wakes another to keep looking. */
	if (atomic_fetch_sub_explicit(&rt->nspinning, 1, memory_order_acq_rel) == 1 && found &&
	    atomic_load_explicit(&rt->nsleeping, memory_order_relaxed))
		gpi_wake_idle(s);
}

/* Nothing to run: spin a little, then sleep until woken or a timer is due. */
static struct gp_proc *idle(struct gp_sched *s)
{
	struct gp_runtime *rt = s->rt;
	struct gp_proc *p;
	uint64_t seen[64], since[64];
	uint64_t start, next_timer;

	if (!s->spinning && atomic_load_explicit(&rt->nspinning, memory_order_relaxed) * 2 <
				    rt->nsched) {
		s->spinning = true;
		atomic_fetch_add_explicit(&rt->nspinning, 1, memory_order_relaxed);
	}
	if (s->spinning) {
		start = gpi_now_ns();
		for (unsigned round = 0;; round++) {
			uint64_t now = round ? gpi_now_ns() : start;
			bool take_next = false;

			/* A scheduler that has not switched for GP_NEXT_AFTER
			 * is computing: its runnext may wait long, so take it.
			 * (Sooner would split ping-pong pairs, which switch
			 * all the time.) */
			for (unsigned i = 0; i < rt->nsched && i < 64; i++) {
				uint64_t sw = atomic_load_explicit(&rt->sched[i]->switches,
								   memory_order_relaxed);

				if (!round || sw != seen[i]) {
					seen[i] = sw;
					since[i] = now;
				} else if (now - since[i] >= GP_NEXT_AFTER) {
					take_next = true;
				}
			}
			p = find_work(s, true, take_next);
			if (p) {
				stop_spinning(s, true);
				return p;
			}
			if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed) ||
			    now - start > GP_SPIN_NS)
				break;
			for (int i = 0; i < 64; i++)
				gp_cpu_relax();
		}
		stop_spinning(s, false);
	}

	/* Announce, then look once more: a pusher that missed our announcement
	 * left its work where this look finds it (seq_cst: Dekker with
	 * gpi_make_runnable's load of nsleeping). */
	atomic_store_explicit(&s->sleeping, 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&rt->nsleeping, 1, memory_order_seq_cst);
	p = find_work(s, true, false);
	if (p || atomic_load_explicit(&rt->shutdown, memory_order_seq_cst)) {
		if (!gpi_claim_sleeper(s)) {
			/* A waker counted us as spinning; its CQE comes later. */
			s->spinning = true;
			stop_spinning(s, p != NULL);
		}
		return p;
	}
	/* Claimed since the announcement: that look may have reaped the
	 * waker's MSG_RING (sched_poll runs our task work), and then nothing
	 * would end the wait below, nor could anyone claim us again (at
	 * shutdown, gp_main would wait for us for ever). So we are awake. A
	 * claim after this load is safe: its wake-up ends the wait. */
	if (!atomic_load_explicit(&s->sleeping, memory_order_seq_cst)) {
		s->spinning = true; /* the waker counted us in nspinning */
		gpi_monitor_poke(rt);
		return NULL;
	}

	next_timer = gpi_timer_next(s);
	if (next_timer) {
		uint64_t now = gpi_now_ns();
		uint64_t wait = next_timer > now ? next_timer - now : 0;
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(wait / 1000000000u),
			.tv_nsec = (long long)(wait % 1000000000u),
		};
		struct io_uring_cqe *cqe;

		(void)io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
	} else {
		(void)io_uring_submit_and_wait(&s->ring, 1);
	}

	if (!gpi_claim_sleeper(s))
		s->spinning = true; /* the waker counted us in nspinning */
	gpi_monitor_poke(rt);
	return NULL;
}

void gpi_sched_loop(struct gp_sched *s)
{
	struct gp_runtime *rt = s->rt;

	for (;;) {
		struct gp_proc *p;

		gpi_finish_switch(s);
		s->current = NULL;
		atomic_store_explicit(&s->running, NULL, memory_order_relaxed);
		p = find_work(s, true, false);
		if (!p)
			p = idle(s);
		if (p) {
			run(s, p);
			continue;
		}
		if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
			break;
	}
	stop_spinning(s, false);
}

/* ---- set-up and tear-down ------------------------------------------------------------ */

static void *sched_thread(void *arg)
{
	struct gp_sched *s = arg;

	gpi_tls = s;
	gpi_sched_loop(s);
	gpi_fault_thread_fini(s);
	gpi_tls = NULL;
	return NULL;
}

static int ring_enable(struct gp_sched *s)
{
	/* liburing 2.3's shared library lacks io_uring_enable_rings (#773) */
	if (syscall(SYS_io_uring_register, s->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) <
	    0)
		return -errno;
	return 0;
}

/* Per-thread part of the start: run on the scheduler's own thread. */
static int sched_thread_init(struct gp_sched *s)
{
	int r;

	gpi_tls = s;
	r = ring_enable(s); /* SINGLE_ISSUER: the enabling thread becomes the issuer */
	if (r < 0)
		return r;
	(void)io_uring_register_ring_fd(&s->ring); /* optional: saves an fd lookup per enter */
#ifdef GP_SANITIZE
	{
		pthread_attr_t attr;
		void *lo;
		size_t size;

		if (pthread_getattr_np(pthread_self(), &attr) == 0) {
			if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
				s->loop_ctx.stack_lo = lo;
				s->loop_ctx.stack_size = size;
			}
			pthread_attr_destroy(&attr);
		}
	}
#endif
#ifdef GP_TSAN
	s->loop_ctx.tsan_fiber = __tsan_get_current_fiber();
#endif
	return gpi_fault_thread_init(s);
}

static void *sched_thread_start(void *arg)
{
	struct gp_sched *s = arg;
	int r = sched_thread_init(s);

	if (r < 0) {
		static const char msg[] = "libgp: fatal: unable to start a scheduler thread\n";

		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		abort();
	}
	gpi_probe_register(s, true);
	atomic_fetch_add_explicit(&s->rt->threads_ready, 1, memory_order_release);
	return sched_thread(s);
}

int gpi_sched_init(struct gp_runtime *rt, struct gp_sched *s, unsigned id)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int r = -EINVAL;

	s->rt = rt;
	s->id = id;
	s->rand = 0x9e3779b9u * (id + 1);
	s->budget = GP_BUDGET;
	s->ring_fd = -1;
	/* Disabled at creation: the thread that enables a SINGLE_ISSUER ring
	 * becomes its issuer, and the sandbox (a later issue) restricts it
	 * before then. Older kernels reject newer flags: fall back. */
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct io_uring_params params = {
			.flags = flag_sets[i] | IORING_SETUP_R_DISABLED,
		};

		r = io_uring_queue_init_params(256, &s->ring, &params);
		if (r != -EINVAL)
			break;
	}
	if (r < 0)
		return r;
	s->ring_fd = s->ring.ring_fd;
	r = gpi_sandbox_ring(rt, s->ring_fd); /* before it is enabled: final */
	if (r < 0)
		return r;
	/* Schedulers wake each other with MSG_RING (5.18): without it they
	 * would sleep through wake-ups, so say so instead of hanging. */
	if (id == 0) {
		struct io_uring_probe *probe = io_uring_get_probe_ring(&s->ring);
		bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_MSG_RING);

		io_uring_free_probe(probe);
		if (!ok)
			return -ENOSYS;
	}
	return 0;
}

/* The calling thread becomes scheduler 0. */
int gpi_sched_start(struct gp_runtime *rt)
{
	struct gp_sched *s = rt->sched[0];

	s->thread = pthread_self();
	if (pthread_getcpuclockid(s->thread, &s->cpu_clock) != 0)
		s->cpu_clock = CLOCK_MONOTONIC;
	gpi_probe_register(s, false);
	return sched_thread_init(s);
}

/* Undo gpi_sched_start when nothing could be run. */
void gpi_sched_stop_main(struct gp_runtime *rt)
{
	gpi_fault_thread_fini(rt->sched[0]);
	gpi_tls = NULL;
}

/* Start scheduler threads 1..n-1. */
void gpi_sched_start_threads(struct gp_runtime *rt)
{
	int r;

	for (unsigned i = 1; i < rt->nsched; i++) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256u << 10);
		r = -pthread_create(&rt->sched[i]->thread, &attr, sched_thread_start, rt->sched[i]);
		pthread_attr_destroy(&attr);
		if (r == 0 && pthread_getcpuclockid(rt->sched[i]->thread, &rt->sched[i]->cpu_clock))
			rt->sched[i]->cpu_clock = CLOCK_MONOTONIC;
		if (r < 0) {
			/* Fatal: processes may already be queued everywhere. */
			static const char msg[] = "libgp: fatal: unable to create a scheduler thread\n";

			(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
			abort();
		}
	}
}

/* Until every scheduler thread has enabled its ring (the sandbox locks
 * after that; nothing else needs to wait). */
void gpi_sched_wait_threads(struct gp_runtime *rt)
{
	while (atomic_load_explicit(&rt->threads_ready, memory_order_acquire) + 1 < rt->nsched ||
	       (rt->monitor_started && !atomic_load_explicit(&rt->monitor_ready, memory_order_acquire))) {
		struct timespec ts = { 0, 100000 };

		nanosleep(&ts, NULL);
	}
}

void gpi_sched_run_main(struct gp_runtime *rt)
{
	struct gp_sched *s = rt->sched[0];

	gpi_sched_loop(s);
	for (unsigned i = 1; i < rt->nsched; i++)
		pthread_join(rt->sched[i]->thread, NULL);
	gpi_fault_thread_fini(s);
	gpi_tls = NULL;
}

/* Wake every sleeping scheduler (shutdown). Called from a scheduler thread. */
void gpi_wake_all(struct gp_sched *s)
{
	struct gp_runtime *rt = s->rt;

	for (unsigned i = 0; i < rt->nsched; i++)
		if (rt->sched[i] != s && gpi_claim_sleeper(rt->sched[i]))
			gpi_wake_sched(&s->ring, rt->sched[i]);
}

void gpi_sched_destroy(struct gp_sched *s)
{
	if (s->ring_fd >= 0)
		io_uring_queue_exit(&s->ring);
	s->ring_fd = -1;
	gpi_stack_cache_flush(s);
	gpi_timers_destroy(s);
	gpi_msg_cache_destroy(s);
}

/* ---- the scheduling API ------------------------------------------------------------ */

void gp_yield(void)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	if (!p)
		return;
	gpi_check_kill(s, p);
	p->reductions++;
	if (!atomic_load_explicit(&s->runnext, memory_order_relaxed) && runq_empty(&s->runq) &&
	    !atomic_load_explicit(&s->rt->gq_len, memory_order_relaxed) &&
	    ++s->tick % GP_POLL_EVERY) {
		/* Nobody else to run here: go on (the stall monitor sees
		 * progress), except now and then, when the loop's timers and
		 * ring are due a look. */
		atomic_store_explicit(&s->slices,
				      atomic_load_explicit(&s->slices, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		return;
	}
	s = gpi_switch_out(s, p, GP_ACT_YIELD);
	gpi_check_kill(s, p);
}

int gp_scheduler_id(void)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	return p ? (int)s->id : -EPERM;
}
