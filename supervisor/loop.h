/* SPDX-License-Identifier: MIT */
/*
 * spawnd's one event loop: a single io_uring on which everything arrives as
 * a completion (child exits, signals, child output, readiness, the control
 * socket), and a heap of timers whose earliest deadline bounds the wait.
 * Idle with no timer armed, the loop sleeps in io_uring_enter: no wake-ups.
 *
 * An operation in flight owns its buffer until its completion arrives; each
 * has a struct sd_op whose callback runs for every completion (multishot
 * operations complete more than once).
 */
#ifndef SD_LOOP_H
#define SD_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct sd_loop;
struct sd_op;

typedef void (*sd_op_fn)(struct sd_loop *loop, struct sd_op *op, int res, uint32_t cqe_flags);

struct sd_op {
	sd_op_fn fn;
	unsigned inflight; /* SQEs submitted whose last completion has not come */
};

struct sd_timer;
typedef void (*sd_timer_fn)(struct sd_loop *loop, struct sd_timer *t);

struct sd_timer {
	uint64_t at;   /* CLOCK_MONOTONIC ns */
	sd_timer_fn fn;
	int32_t idx;   /* in the heap; -1: not armed */
};

struct sd_loop {
	struct io_uring ring;
	struct sd_timer **timers; /* a binary min-heap */
	uint32_t ntimers, cap;
	uint64_t wakeups;         /* returns from io_uring_enter, for tests */
};

int sd_loop_init(struct sd_loop *loop, unsigned entries);
void sd_loop_fini(struct sd_loop *loop);

/* An SQE for op (user_data set, inflight counted), submitting first if the
 * queue is full. Never NULL. */
struct io_uring_sqe *sd_loop_sqe(struct sd_loop *loop, struct sd_op *op);

/* Wait for completions (or the earliest timer), then dispatch them all and
 * the due timers. -EINTR is not an error. */
int sd_loop_step(struct sd_loop *loop);
/* Ask the kernel to cancel every operation of op in flight; their
 * completions still come (with -ECANCELED), and only then is op free. */
void sd_loop_cancel(struct sd_loop *loop, struct sd_op *op);

void sd_timer_init(struct sd_timer *t, sd_timer_fn fn);
void sd_timer_arm(struct sd_loop *loop, struct sd_timer *t, uint64_t at_ns);
void sd_timer_cancel(struct sd_loop *loop, struct sd_timer *t);
static inline bool sd_timer_armed(const struct sd_timer *t)
{
	return t->idx >= 0;
}

uint64_t sd_now_ns(void);

#endif /* SD_LOOP_H */
