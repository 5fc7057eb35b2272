/* SPDX-License-Identifier: MIT */
/*
 * demo: a small supervision tree of green processes.
 *
 * A supervisor (trapping exits) keeps three workers alive. Each worker
 * counts messages from a ticker and, now and then, dies: with an error
 * reason, by overflowing its stack, or killed. The supervisor sees every
 * death as a message, says why, and starts a fresh worker: the rest of the
 * program never notices.
 *
 *   demo [SECONDS]     run for SECONDS (default 8), then shut down cleanly
 */
#include <errno.h>
#include <gp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKERS  3
#define TAG_TICK 1
#define TAG_STOP 2

static const char *reason_name(int reason, char *buf, size_t size)
{
	switch (reason) {
	case GP_EXIT_NORMAL:
		return "normal";
	case GP_EXIT_KILLED:
		return "killed";
	case GP_EXIT_SHUTDOWN:
		return "shutdown";
	case GP_EXIT_STACK_OVERFLOW:
		return "stack overflow";
	default:
		snprintf(buf, size, "error %d", reason - GP_EXIT_USER);
		return buf;
	}
}

static volatile long depth_limit = -1;

static long recurse(long n)
{
	volatile char frame[256];

	frame[0] = (char)n;
	return n == depth_limit ? 0 : recurse(n + 1) + frame[0];
}

/* A worker: counts ticks, and fails in one of three ways after a while. */
static void worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	int lifetime = 3 + (int)(rand_r(&seed) % 12);
	struct gp_msg m;

	for (int ticks = 0;; ticks++) {
		if (gp_receive(&m, -1) < 0)
			continue;
		gp_msg_free(&m);
		if (ticks < lifetime)
			continue;
		switch (rand_r(&seed) % 3) {
		case 0:
			gp_exit(GP_EXIT_USER + 42); /* "crash" with a reason */
		case 1:
			recurse(0); /* overflows its 64 KiB stack: only this process dies */
			break;
		default:
			gp_kill(gp_self(), GP_EXIT_KILL);
		}
	}
}

struct slot {
	gp_pid pid;
	char name[16];
	unsigned restarts;
};

static gp_pid start_worker(struct slot *s, unsigned seed)
{
	struct gp_spawn_opts opts = { .name = s->name, .flags = GP_SPAWN_LINK };
	int r = gp_spawn_opt(&s->pid, worker, (void *)(uintptr_t)seed, &opts);

	if (r < 0) {
		fprintf(stderr, "demo: unable to start %s: %s\n", s->name, strerror(-r));
		exit(1);
	}
	return s->pid;
}

/* Sends a tick to every registered worker every 100 ms. */
static void ticker(void *arg)
{
	struct slot *slots = arg;
	struct gp_msg m;

	while (gp_receive(&m, 100) == -ETIMEDOUT)
		for (int i = 0; i < WORKERS; i++)
			gp_send(slots[i].pid, TAG_TICK, NULL, 0);
	gp_msg_free(&m);
}

static void supervisor(void *arg)
{
	int seconds = *(int *)arg;
	struct slot slots[WORKERS];
	struct timespec now;
	time_t deadline;
	unsigned seed = 1;
	gp_pid tick;

	gp_trap_exit(true);
	for (int i = 0; i < WORKERS; i++) {
		snprintf(slots[i].name, sizeof(slots[i].name), "worker-%d", i);
		slots[i].restarts = 0;
		start_worker(&slots[i], seed++);
	}
	tick = gp_spawn(ticker, slots);
	printf("demo: supervisor started %d workers; running for %d s\n", WORKERS, seconds);
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = now.tv_sec + seconds;
	for (; now.tv_sec < deadline; clock_gettime(CLOCK_MONOTONIC, &now)) {
		struct gp_msg m;
		char buf[32];

		if (gp_receive(&m, 200) == -ETIMEDOUT)
			continue;
		if (m.tag == GP_TAG_EXIT) {
			struct gp_exit_info *info = m.data;

			for (int i = 0; i < WORKERS; i++) {
				if (slots[i].pid != info->pid)
					continue;
				slots[i].restarts++;
				printf("demo: %s died (%s); restart #%u\n", slots[i].name,
				       reason_name(info->reason, buf, sizeof(buf)), slots[i].restarts);
				start_worker(&slots[i], seed++);
			}
		}
		gp_msg_free(&m);
	}
	printf("demo: shutting down\n");
	gp_send(tick, TAG_STOP, NULL, 0);
	for (int i = 0; i < WORKERS; i++)
		gp_kill(slots[i].pid, GP_EXIT_SHUTDOWN);
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 8;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0); /* lines reach a supervisor's log as they come */
	if (seconds <= 0) {
		fprintf(stderr, "usage: demo [SECONDS]\n");
		return 2;
	}
	r = gp_main(supervisor, &seconds, NULL);
	if (r < 0) {
		fprintf(stderr, "demo: fatal: unable to run: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
