/* SPDX-License-Identifier: MIT */
/*
 * The stall monitor: a thread that notices a process computing for longer
 * than stall_ms without calling libgp, reports it once per stall, and lets
 * the other schedulers take its neighbours' work.
 *
 * It costs the schedulers nothing on their hot path: each publishes how many
 * switches it made and time slices it renewed (a process that calls libgp
 * spends reductions, and renews its slice every few thousand calls), and the
 * process it runs; the monitor samples them every stall_ms / 4. A scheduler
 * whose counters have not moved while it runs the same process is stalled. When every scheduler sleeps, the monitor sleeps
 * too, on a futex, until a scheduler wakes up: an idle program makes no
 * wake-ups.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct watch {
	uint64_t progress;
	uint64_t since_cpu; /* the thread's CPU time when progress last moved */
	bool reported;
};

static uint64_t cpu_ns(struct gp_sched *s)
{
	struct timespec ts;

	if (clock_gettime(s->cpu_clock, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait while *addr == val, at most *timeout (NULL: no limit). */
static void futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *timeout)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, timeout, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* A scheduler left its sleep: make sure the monitor watches again. */
void gpi_monitor_poke(struct gp_runtime *rt)
{
	if (!atomic_load_explicit(&rt->monitor_parked, memory_order_relaxed))
		return;
	if (atomic_exchange_explicit(&rt->monitor_parked, 0, memory_order_acq_rel)) {
		atomic_fetch_add_explicit(&rt->monitor_gate, 1, memory_order_release);
		futex_wake(&rt->monitor_gate);
	}
}

static bool all_asleep(struct gp_runtime *rt)
{
	for (unsigned i = 0; i < rt->nsched; i++)
		if (!atomic_load_explicit(&rt->sched[i]->sleeping, memory_order_seq_cst))
			return false;
	return true;
}

/* Copy the name of the process p (which may be exiting as we look). */
static void copy_name(struct gp_runtime *rt, struct gp_proc *p, char *buf, size_t size)
{
	const char *name;

	buf[0] = '\0';
	gp_spin_lock(&rt->name_lock);
	name = atomic_load_explicit(&p->name, memory_order_acquire);
	if (name)
		snprintf(buf, size, " \"%s\"", name);
	gp_spin_unlock(&rt->name_lock);
}

static void report(struct gp_runtime *rt, struct gp_sched *s, struct gp_proc *p, uint64_t ns)
{
	char pid[64], name[GP_NAME_MAX + 4], line[512];
	int n;

	gpi_fmt_pid(pid, sizeof(pid), atomic_load_explicit(&p->pid, memory_order_relaxed));
	copy_name(rt, p, name, sizeof(name));
	n = snprintf(line, sizeof(line),
		     "libgp: stall: process %s%s on scheduler %u has computed for %llu ms "
		     "without calling libgp (stall_ms %u)\n",
		     pid, name, s->id, (unsigned long long)(ns / 1000000u), rt->config.stall_ms);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
	atomic_fetch_add_explicit(&rt->stalls, 1, memory_order_relaxed);
}

/* Wake a sleeping scheduler to take the stalled one's queue. */
static void rescue_work(struct gp_runtime *rt, struct gp_sched *stalled)
{
	if (!rt->monitor_ring_ok)
		return;
	for (unsigned i = 0; i < rt->nsched; i++) {
		struct gp_sched *t = rt->sched[i];

		if (t != stalled && gpi_claim_sleeper(t)) {
			atomic_fetch_add_explicit(&rt->nspinning, 1, memory_order_relaxed);
			gpi_wake_sched(&rt->monitor_ring, t);
			return;
		}
	}
}

static void *monitor_main(void *arg)
{
	struct gp_runtime *rt = arg;
	uint64_t stall_ns = (uint64_t)rt->config.stall_ms * 1000000u;
	uint64_t tick_ns = stall_ns / 4 ? stall_ns / 4 : 1000000u;
	struct timespec tick = { .tv_sec = (time_t)(tick_ns / 1000000000u),
				 .tv_nsec = (long)(tick_ns % 1000000000u) };
	struct watch *w = calloc(rt->nsched, sizeof(*w));
	unsigned idle_ticks = 0;

	/* Started: the sandbox may lock now (it waits for this). */
	atomic_store_explicit(&rt->monitor_ready, 1, memory_order_release);

	if (!w)
		return NULL;
	while (!atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
		uint32_t gate = atomic_load_explicit(&rt->monitor_gate, memory_order_acquire);
		bool idle = true;

		futex_wait(&rt->monitor_gate, gate, &tick); /* gp_main's end bumps the gate */
		if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
			break;
		for (unsigned i = 0; i < rt->nsched; i++) {
			struct gp_sched *s = rt->sched[i];
			struct gp_proc *p = atomic_load_explicit(&s->running, memory_order_relaxed);
			/* Progress: a switch, or a time slice used up calling libgp. */
			uint64_t sw = atomic_load_explicit(&s->switches, memory_order_relaxed) +
				      atomic_load_explicit(&s->slices, memory_order_relaxed);
			uint64_t cpu;

			if (!p || sw != w[i].progress) {
				w[i].progress = sw;
				w[i].since_cpu = cpu_ns(s);
				if (w[i].reported)
					atomic_store_explicit(&s->stalled, 0, memory_order_relaxed);
				w[i].reported = false;
				idle = idle && !p;
				continue;
			}
			idle = false;
			/* CPU time, not wall time: a scheduler thread that the OS
			 * did not run (more schedulers than CPUs) is not stalled. */
			cpu = cpu_ns(s);
			if (!w[i].reported && cpu - w[i].since_cpu >= stall_ns) {
				w[i].reported = true;
				report(rt, s, p, cpu - w[i].since_cpu);
				atomic_store_explicit(&s->stall_start_ns,
						      gpi_now_ns() - (cpu - w[i].since_cpu),
						      memory_order_relaxed);
				atomic_store_explicit(&s->stalled, 1, memory_order_release);
				rescue_work(rt, s);
			}
		}
		idle_ticks = idle ? idle_ticks + 1 : 0;
		if (idle_ticks < 2)
			continue;
		/* Everyone sleeps: so do we, until a scheduler wakes. */
		gate = atomic_load_explicit(&rt->monitor_gate, memory_order_acquire);
		atomic_store_explicit(&rt->monitor_parked, 1, memory_order_seq_cst);
		if (all_asleep(rt) && !atomic_load_explicit(&rt->shutdown, memory_order_seq_cst))
			futex_wait(&rt->monitor_gate, gate, NULL);
		atomic_store_explicit(&rt->monitor_parked, 0, memory_order_relaxed);
		idle_ticks = 0;
	}
	free(w);
	return NULL;
}

int gpi_monitor_start(struct gp_runtime *rt)
{
	pthread_attr_t attr;
	int r;

	/* Its ring wakes schedulers (MSG_RING); sandboxed, it is restricted
	 * like theirs before it is enabled. */
	if (rt->config.sandbox) {
		struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };

		rt->monitor_ring_ok =
			io_uring_queue_init_params(8, &rt->monitor_ring, &p) == 0 &&
			gpi_sandbox_ring(rt, rt->monitor_ring.ring_fd) == 0 &&
			syscall(SYS_io_uring_register, rt->monitor_ring.ring_fd,
				IORING_REGISTER_ENABLE_RINGS, NULL, 0) == 0;
	} else {
		rt->monitor_ring_ok = io_uring_queue_init(8, &rt->monitor_ring, 0) == 0;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128u << 10);
	r = -pthread_create(&rt->monitor, &attr, monitor_main, rt);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		if (rt->monitor_ring_ok)
			io_uring_queue_exit(&rt->monitor_ring);
		rt->monitor_ring_ok = false;
		return r;
	}
	rt->monitor_started = true;
	return 0;
}

/* After shutdown is set: let the monitor see it and go. */
void gpi_monitor_stop(struct gp_runtime *rt)
{
	if (!rt->monitor_started)
		return;
	atomic_store_explicit(&rt->monitor_parked, 0, memory_order_seq_cst);
	atomic_fetch_add_explicit(&rt->monitor_gate, 1, memory_order_release);
	futex_wake(&rt->monitor_gate);
	pthread_join(rt->monitor, NULL);
	rt->monitor_started = false;
	if (rt->monitor_ring_ok)
		io_uring_queue_exit(&rt->monitor_ring);
	rt->monitor_ring_ok = false;
}
