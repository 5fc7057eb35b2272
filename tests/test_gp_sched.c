/* SPDX-License-Identifier: MIT */
/* Scheduling: M:N spread and stealing, ping-pong affinity, fairness, stalls,
 * the context switch, idleness. */
#include "gp_test.h"

#include <dirent.h>
#include <fenv.h>

/* ---- spread ------------------------------------------------------------------ */

struct spread {
	atomic_uint seen; /* bit per scheduler a worker ran on */
	atomic_int done;
};

static void cpu_worker(void *arg)
{
	struct spread *sp = arg;
	volatile unsigned long x = 0;

	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 50000; i++)
			x += (unsigned long)i;
		atomic_fetch_or(&sp->seen, 1u << gp_scheduler_id());
		gp_yield();
	}
	atomic_fetch_add(&sp->done, 1);
}

static void spread_main(void *arg)
{
	struct spread *sp = arg;
	struct gp_stats st;

	for (int i = 0; i < 8; i++)
		gp_spawn(cpu_worker, sp);
	while (atomic_load(&sp->done) < 8)
		gp_sleep(5);
	CHECK_EQ(gp_stats(&st), 0);
	CHECK(st.steals > 0, "no process was ever stolen");
}

/* CPU-bound processes spread over all schedulers: idle schedulers steal. */
Test(sched, cpu_bound_processes_spread, .timeout = 30)
{
	struct spread sp = { 0 };

	run_gp(spread_main, &sp, 2);
	cr_assert_eq(atomic_load(&sp.seen), 3u, "schedulers used: %#x", atomic_load(&sp.seen));
}

/* ---- ping-pong stays together ---------------------------------------------------- */

struct pair {
	long rounds;
	long apart; /* round trips where the two ran on different schedulers */
};

static void pong(void *arg)
{
	struct gp_msg m;
	int sched;

	(void)arg;
	for (;;) {
		if (gp_receive(&m, -1) != 0)
			continue;
		if (m.tag == 2) {
			gp_msg_free(&m);
			return;
		}
		sched = gp_scheduler_id();
		CHECK_EQ(gp_send(m.from, 1, &sched, sizeof(sched)), 0);
		gp_msg_free(&m);
	}
}

static void ping_main(void *arg)
{
	struct pair *pr = arg;
	gp_pid p = gp_spawn(pong, NULL);
	struct gp_msg m;

	for (long i = 0; i < pr->rounds; i++) {
		CHECK_EQ(gp_send(p, 1, NULL, 0), 0);
		CHECK_EQ(gp_receive(&m, -1), 0);
		if (i >= pr->rounds / 10 && *(int *)m.data != gp_scheduler_id())
			pr->apart++;
		gp_msg_free(&m);
	}
	gp_send(p, 2, NULL, 0);
}

/* A process woken by a message runs on the waker's scheduler: a ping-pong
 * pair ends up, and stays, on one scheduler. */
Test(sched, pingpong_pair_shares_a_scheduler, .timeout = 30)
{
	struct pair pr = { .rounds = scaled(200000, 5000) };

	run_gp(ping_main, &pr, 2);
	cr_assert_leq(pr.apart, pr.rounds / 100, "%ld of %ld round trips crossed schedulers",
		      pr.apart, pr.rounds);
}

/* ---- fairness ---------------------------------------------------------------------- */

static atomic_int stop_spinners;

static void yield_spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_spinners))
		gp_yield();
}

static void send_spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_spinners))
		gp_send(gp_self(), 1, NULL, 0); /* never received: freed at exit */
}

static void ping_spinner(void *arg)
{
	gp_pid peer = (gp_pid)(uintptr_t)arg;
	struct gp_msg m;

	/* A pair waking each other through runnext, forever. */
	if (peer)
		gp_send(peer, 1, NULL, 0);
	while (!atomic_load(&stop_spinners)) {
		if (gp_receive(&m, 100) == 0) {
			gp_send(m.from, 1, NULL, 0);
			gp_msg_free(&m);
		}
	}
}

static void victim(void *arg)
{
	gp_pid main = (gp_pid)(uintptr_t)arg;

	gp_sleep(5); /* timers still fire */
	gp_send(main, 7, NULL, 0);
}

static void fair_main(void *arg)
{
	struct gp_msg m;
	gp_pid a;

	(void)arg;
	atomic_store(&stop_spinners, 0);
	gp_spawn(yield_spinner, NULL);
	gp_spawn(send_spinner, NULL);
	a = gp_spawn(ping_spinner, NULL);
	gp_spawn(ping_spinner, (void *)(uintptr_t)a);
	gp_yield();
	for (int i = 0; i < 10; i++) {
		uint64_t t0 = now_ns();

		gp_spawn(victim, (void *)(uintptr_t)gp_self());
		CHECK_EQ(receive_tag(&m, 7, 5000), 0);
		gp_msg_free(&m);
		CHECK(now_ns() - t0 < 2000000000u, "a victim waited %llu ms",
		      (unsigned long long)((now_ns() - t0) / 1000000));
	}
	atomic_store(&stop_spinners, 1);
}

/* Processes that yield, send, or ping-pong in tight loops cannot starve the
 * others on their scheduler (the reduction budget). */
Test(sched, fairness, .timeout = 30)
{
	run_gp(fair_main, NULL, 1);
}

static int rr_log[30], rr_len;

static void rr_worker(void *arg)
{
	for (int i = 0; i < 10; i++) {
		rr_log[rr_len++] = (int)(uintptr_t)arg;
		gp_yield();
	}
}

static void rr_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++)
		gp_spawn(rr_worker, (void *)(uintptr_t)i);
}

/* gp_yield goes to the back of the queue: yielders take turns. */
Test(sched, yield_takes_turns, .timeout = 10)
{
	rr_len = 0;
	run_gp(rr_main, NULL, 1);
	cr_assert_eq(rr_len, 30);
	for (int i = 3; i < 30; i++)
		cr_assert_eq(rr_log[i], rr_log[i - 3], "at %d: %d after %d", i, rr_log[i],
			     rr_log[i - 3]);
}

/* ---- stalls ------------------------------------------------------------------------- */

static atomic_long neighbours_done_ns, staller_done_ns;
static atomic_int neighbours_done;

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void neighbour(void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&neighbours_done, 1) == 9)
		atomic_store(&neighbours_done_ns, (long)now_ns());
}

/* Computes for 600 ms of its thread's CPU time, as the stall monitor
 * counts (wall time would end sooner on a busy machine than the monitor's
 * 100 ms of CPU time take there). */
static void staller(void *arg)
{
	uint64_t until, deadline = now_ns() + 20000000000ull;

	(void)arg;
	for (int i = 0; i < 10; i++)
		gp_spawn(neighbour, NULL); /* queued behind us, on our scheduler */
	until = thread_cpu_ns() + 600000000u;
	while (thread_cpu_ns() < until && now_ns() < deadline)
		; /* computes without calling libgp */
	atomic_store(&staller_done_ns, (long)now_ns());
}

static void stall_main(void *arg)
{
	struct gp_spawn_opts o = { .name = "busy-loop" };
	uint64_t t0 = now_ns();
	gp_pid pid;

	(void)arg;
	CHECK_EQ(gp_spawn_opt(&pid, staller, NULL, &o), 0);
	while (atomic_load(&neighbours_done) < 10 || !atomic_load(&staller_done_ns))
		gp_sleep(5);
	/* They did not wait for the staller to finish. */
	CHECK(atomic_load(&neighbours_done_ns) < atomic_load(&staller_done_ns),
	      "neighbours done after %ld ms, the staller after %ld ms",
	      (atomic_load(&neighbours_done_ns) - (long)t0) / 1000000,
	      (atomic_load(&staller_done_ns) - (long)t0) / 1000000);
}

static void stall_child(void)
{
	struct gp_config cfg = { .schedulers = 2, .stall_ms = 100 };

	checks_reset();
	if (gp_main(stall_main, NULL, &cfg) != 0 || atomic_load(&check_failures)) {
		fprintf(stderr, "CHECK FAILED: %s\n", check_first);
		_exit(1);
	}
}

/* A process that computes longer than stall_ms without calling libgp is
 * reported on stderr, once, and the other schedulers take its neighbours. */
Test(sched, stall_reported_once_and_neighbours_stolen, .timeout = 30)
{
	char out[4096], *line;
	int st = run_forked(stall_child, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x, stderr: %s", st, out);
	line = strstr(out, "libgp: stall: process <0.");
	cr_assert(line, "no stall report: %s", out);
	cr_assert(strstr(line, "\"busy-loop\" on scheduler "), "report: %s", out);
	cr_assert(strstr(line, "stall_ms 100"), "report: %s", out);
	cr_assert_null(strstr(line + 1, "libgp: stall:"), "reported twice: %s", out);
}

/* ---- the context switch --------------------------------------------------------------- */

static atomic_int fp_ok;

static void rounding_up(void *arg)
{
	(void)arg;
	fesetround(FE_UPWARD);
	for (int i = 0; i < 100; i++) {
		gp_yield();
		if (fegetround() != FE_UPWARD)
			return;
	}
	atomic_fetch_add(&fp_ok, 1);
}

static void rounding_default(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		gp_yield();
		if (fegetround() != FE_TONEAREST)
			return;
	}
	atomic_fetch_add(&fp_ok, 1);
}

static void fp_main(void *arg)
{
	(void)arg;
	gp_spawn(rounding_up, NULL);
	gp_spawn(rounding_default, NULL);
}

/* The switch keeps each process's floating-point control state its own. */
Test(sched, fp_control_is_per_process, .timeout = 10)
{
	atomic_store(&fp_ok, 0);
	run_gp(fp_main, NULL, 1);
	cr_assert_eq(atomic_load(&fp_ok), 2);
}

/* ---- idle -------------------------------------------------------------------------------- */

/* Context switches of all this process's threads so far. */
static long ctx_switches(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long total = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], line[256];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			long v;

			if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
				total += v;
		}
		fclose(f);
	}
	closedir(d);
	return total;
}

static void idle_main(void *arg)
{
	long *delta = arg;
	long before;

	gp_sleep(50); /* settle: the monitor parks after two idle ticks */
	before = ctx_switches();
	gp_sleep(500);
	*delta = ctx_switches() - before;
}

/* An idle runtime sleeps in io_uring_enter: it does not spin or tick. */
Test(sched, idle_makes_no_wakeups, .timeout = 10)
{
	long delta = -1;

	run_gp(idle_main, &delta, 2);
	cr_log_info("context switches of all threads while idle 500 ms: %ld", delta);
	cr_assert_geq(delta, 0);
	cr_assert_leq(delta, 20, "%ld context switches in 500 ms of idleness", delta);
}

/* ---- timers of busy and stalled schedulers ----------------------------------------- */

static atomic_int sleeper_done;
static atomic_long sleeper_ns;
static uint64_t busy_until; /* the busy process gives up then */

static void short_sleeper(void *arg)
{
	uint64_t t0 = now_ns();

	(void)arg;
	gp_sleep(10);
	atomic_store(&sleeper_ns, (long)(now_ns() - t0));
	atomic_store(&sleeper_done, 1);
}

static void lone_yielder(void *arg)
{
	(void)arg;
	gp_spawn(short_sleeper, NULL);
	gp_yield(); /* the sleeper parks with its timer on our scheduler */
	while (!atomic_load(&sleeper_done) && now_ns() < busy_until)
		gp_yield(); /* alone on the scheduler: yields return at once */
}

static void lone_sender(void *arg)
{
	(void)arg;
	gp_spawn(short_sleeper, NULL);
	gp_yield();
	while (!atomic_load(&sleeper_done) && now_ns() < busy_until)
		gp_send(gp_self(), 1, NULL, 0);
}

static void timers_while_busy(gp_fn busy)
{
	atomic_store(&sleeper_done, 0);
	busy_until = now_ns() + 3000000000u;
	run_gp(busy, NULL, 1);
	cr_assert(atomic_load(&sleeper_done), "the sleeper never woke");
	cr_assert_lt(atomic_load(&sleeper_ns), 500000000, "a 10 ms sleep took %ld ms",
		     atomic_load(&sleeper_ns) / 1000000);
}

/* Timers fire on a scheduler whose only runnable process yields in a loop. */
Test(sched, timers_fire_beside_a_yield_loop, .timeout = 10)
{
	timers_while_busy(lone_yielder);
}

/* ... or sends in a loop. */
Test(sched, timers_fire_beside_a_send_loop, .timeout = 10)
{
	timers_while_busy(lone_sender);
}

static void stalling_host(void *arg)
{
	uint64_t until;

	(void)arg;
	gp_spawn(short_sleeper, NULL);
	gp_yield(); /* the sleeper's timer is now in our scheduler's heap */
	until = now_ns() + 1000000000u;
	while (now_ns() < until && !atomic_load(&sleeper_done))
		; /* computes without calling libgp */
}

static void stalled_timer_child(void)
{
	atomic_store(&sleeper_done, 0);
	if (gp_main(stalling_host, NULL, &(struct gp_config){ .schedulers = 2 }) != 0)
		_exit(2);
	if (!atomic_load(&sleeper_done))
		_exit(3);
	fprintf(stderr, "slept %ld ms\n", atomic_load(&sleeper_ns) / 1000000);
	_exit(atomic_load(&sleeper_ns) < 600000000 ? 0 : 1);
}

/* The timers of a stalled scheduler are fired by another one. */
Test(sched, stalled_schedulers_timers_fire_elsewhere, .timeout = 20)
{
	char out[4096];
	int st = run_forked(stalled_timer_child, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, out);
}
