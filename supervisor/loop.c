/* SPDX-License-Identifier: MIT */
/* spawnd's event loop: one io_uring, one timer heap (see loop.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "loop.h"

uint64_t sd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sd_loop_init(struct sd_loop *loop, unsigned entries)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN };
	int r;

	*loop = (struct sd_loop){ 0 };
	r = io_uring_queue_init_params(entries, &loop->ring, &p);
	if (r == -EINVAL) { /* kernels before 5.19 */
		p = (struct io_uring_params){ 0 };
		r = io_uring_queue_init_params(entries, &loop->ring, &p);
	}
	return r;
}

void sd_loop_fini(struct sd_loop *loop)
{
	io_uring_queue_exit(&loop->ring);
	free(loop->timers);
	loop->timers = NULL;
	loop->ntimers = loop->cap = 0;
}

struct io_uring_sqe *sd_loop_sqe(struct sd_loop *loop, struct sd_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

	while (!sqe) {
		(void)io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	io_uring_sqe_set_data(sqe, op);
	op->inflight++;
	return sqe;
}

void sd_loop_cancel(struct sd_loop *loop, struct sd_op *op)
{
	struct io_uring_sqe *sqe;

	if (!op->inflight)
		return;
	sqe = io_uring_get_sqe(&loop->ring);
	if (!sqe) {
		(void)io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	if (sqe) {
		io_uring_prep_cancel(sqe, op, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(sqe, NULL);
	}
}

/* ---- timers ------------------------------------------------------------- */

static void heap_set(struct sd_loop *loop, uint32_t i, struct sd_timer *t)
{
	loop->timers[i] = t;
	t->idx = (int32_t)i;
}

static void sift_up(struct sd_loop *loop, uint32_t i)
{
	struct sd_timer *t = loop->timers[i];

	while (i > 0 && loop->timers[(i - 1) / 2]->at > t->at) {
		heap_set(loop, i, loop->timers[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(loop, i, t);
}

static void sift_down(struct sd_loop *loop, uint32_t i)
{
	struct sd_timer *t = loop->timers[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= loop->ntimers)
			break;
		if (c + 1 < loop->ntimers && loop->timers[c + 1]->at < loop->timers[c]->at)
			c++;
		if (loop->timers[c]->at >= t->at)
			break;
		heap_set(loop, i, loop->timers[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

void sd_timer_init(struct sd_timer *t, sd_timer_fn fn)
{
	t->fn = fn;
	t->at = 0;
	t->idx = -1;
}

void sd_timer_cancel(struct sd_loop *loop, struct sd_timer *t)
{
	uint32_t i;

	if (t->idx < 0)
		return;
	i = (uint32_t)t->idx;
	t->idx = -1;
	if (i == --loop->ntimers)
		return;
	heap_set(loop, i, loop->timers[loop->ntimers]);
	if (i > 0 && loop->timers[i]->at < loop->timers[(i - 1) / 2]->at)
		sift_up(loop, i);
	else
		sift_down(loop, i);
}

void sd_timer_arm(struct sd_loop *loop, struct sd_timer *t, uint64_t at_ns)
{
	sd_timer_cancel(loop, t);
	if (loop->ntimers == loop->cap) {
		uint32_t cap = loop->cap ? loop->cap * 2 : 64;
		struct sd_timer **v = realloc(loop->timers, cap * sizeof(*v));

		if (!v)
			abort(); /* spawnd cannot keep its promises without timers */
		loop->timers = v;
		loop->cap = cap;
	}
	t->at = at_ns;
	heap_set(loop, loop->ntimers++, t);
	sift_up(loop, (uint32_t)t->idx);
}

static void fire_timers(struct sd_loop *loop)
{
	uint64_t now = sd_now_ns();

	while (loop->ntimers && loop->timers[0]->at <= now) {
		struct sd_timer *t = loop->timers[0];

		sd_timer_cancel(loop, t);
		t->fn(loop, t);
	}
}

/* ---- the step ---------------------------------------------------------------- */

int sd_loop_step(struct sd_loop *loop)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	int r;

	if (loop->ntimers) {
		uint64_t now = sd_now_ns(), at = loop->timers[0]->at;
		uint64_t wait = at > now ? at - now : 0;
		struct __kernel_timespec ts = { .tv_sec = (long long)(wait / 1000000000u),
						.tv_nsec = (long long)(wait % 1000000000u) };

		r = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
	} else {
		r = io_uring_submit_and_wait(&loop->ring, 1);
	}
	loop->wakeups++;
	if (r < 0 && r != -ETIME && r != -EINTR)
		return r;
	io_uring_for_each_cqe(&loop->ring, head, cqe) {
		struct sd_op *op = io_uring_cqe_get_data(cqe);

		n++;
		if (!op)
			continue;
		if (!(cqe->flags & IORING_CQE_F_MORE))
			op->inflight--;
		op->fn(loop, op, cqe->res, cqe->flags);
	}
	io_uring_cq_advance(&loop->ring, n);
	fire_timers(loop);
	return 0;
}
