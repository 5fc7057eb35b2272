/* SPDX-License-Identifier: MIT */
/*
 * The runtime's life: gp_main builds it, runs the first process on the
 * calling thread's scheduler (scheduler 0) and on N-1 more threads, and tears
 * it all down once the last process has exited, leaving the OS process as it
 * found it, so that gp_main may be called again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define GP_MAX_SCHEDULERS 1024

struct gp_runtime *_Atomic gpi_rt;

static int parse_env_uint(const char *name, unsigned max, unsigned *ret)
{
	const char *v = getenv(name);
	unsigned long n;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n == 0 || n > max)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

static unsigned cpus_available(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	return 1;
}

static int config_resolve(struct gp_config *cfg, const struct gp_config *user)
{
	int r;

	if (user) {
		for (size_t i = 0; i < sizeof(user->reserved) / sizeof(user->reserved[0]); i++)
			if (user->reserved[i])
				return -EINVAL;
		*cfg = *user;
	}
	if (cfg->schedulers > GP_MAX_SCHEDULERS)
		return -EINVAL;
	if (!cfg->schedulers) {
		r = parse_env_uint("GP_SCHEDULERS", GP_MAX_SCHEDULERS, &cfg->schedulers);
		if (r < 0)
			return r;
		if (!cfg->schedulers)
			cfg->schedulers = cpus_available();
	}
	if (!cfg->stall_ms)
		cfg->stall_ms = 100;
	if (cfg->sandbox & ~(GP_SANDBOX_ON | GP_SANDBOX_NET | GP_SANDBOX_FILES_RO | GP_SANDBOX_FILES |
			     GP_SANDBOX_KILL) ||
	    (cfg->sandbox && !(cfg->sandbox & GP_SANDBOX_ON)))
		return -EINVAL;
	return 0;
}

static void runtime_destroy(struct gp_runtime *rt)
{
	if (rt->sched) {
		for (unsigned i = 0; i < rt->nsched; i++) {
			if (!rt->sched[i])
				continue;
			gpi_sched_destroy(rt->sched[i]);
			free(rt->sched[i]);
		}
		free(rt->sched);
	}
	gpi_registry_destroy(rt);
	gpi_proctab_destroy(rt);
	gpi_stacks_destroy(rt);
	pthread_mutex_destroy(&rt->gq_lock);
	pthread_mutex_destroy(&rt->system_lock);
	free(rt->system.v);
	free(rt);
}

static int runtime_build(struct gp_runtime *rt)
{
	int r;

	rt->page = (size_t)sysconf(_SC_PAGESIZE);
	rt->self_pidfd = -1;
	pthread_mutex_init(&rt->gq_lock, NULL);
	pthread_mutex_init(&rt->system_lock, NULL);
	r = gpi_stacks_init(rt);
	if (r < 0)
		return r;
	r = gpi_proctab_init(rt);
	if (r < 0)
		return r;
	r = gpi_registry_init(rt);
	if (r < 0)
		return r;
	rt->nsched = rt->config.schedulers;
	rt->sched = calloc(rt->nsched, sizeof(*rt->sched));
	if (!rt->sched)
		return -ENOMEM;
	for (unsigned i = 0; i < rt->nsched; i++) {
		/* aligned_alloc: the struct's cache-line groups must be aligned */
		rt->sched[i] = aligned_alloc(GP_CACHELINE, (sizeof(struct gp_sched) + GP_CACHELINE - 1) &
							   ~(size_t)(GP_CACHELINE - 1));
		if (!rt->sched[i])
			return -ENOMEM;
		memset(rt->sched[i], 0, sizeof(struct gp_sched));
		r = gpi_sched_init(rt, rt->sched[i], i);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t stacks_in_use(struct gp_runtime *rt)
{
	int64_t n = 0;

	for (unsigned i = 0; i < rt->nsched; i++)
		n += atomic_load_explicit(&rt->sched[i]->stacks_taken, memory_order_relaxed);
	return n > 0 ? (uint64_t)n : 0;
}

/* What a correct runtime leaves behind: nothing. Anything else is a bug. */
static void check_drained(struct gp_runtime *rt)
{
	uint64_t in_use = stacks_in_use(rt);

	for (unsigned i = 0; i < rt->nsched; i++)
		if (rt->sched[i]->timers.len || atomic_load(&rt->sched[i]->runnext) ||
		    !(atomic_load(&rt->sched[i]->runq.head) == atomic_load(&rt->sched[i]->runq.tail)))
			in_use |= 1ull << 63;
	if (atomic_load(&rt->procs_live) || in_use || atomic_load(&rt->gq_len)) {
		fprintf(stderr,
			"libgp: internal error: runtime not drained at exit (%lld processes, "
			"%llu stacks in use, %u queued)\n",
			(long long)atomic_load(&rt->procs_live),
			(unsigned long long)(in_use & ~(1ull << 63)), atomic_load(&rt->gq_len));
		abort();
	}
}

int gp_main(gp_fn first, void *arg, const struct gp_config *config)
{
	struct gp_runtime *rt, *none = NULL;
	gp_pid pid;
	int r;

	if (!first)
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	r = config_resolve(&rt->config, config);
	if (r < 0) {
		free(rt);
		return r;
	}
	if (!atomic_compare_exchange_strong(&gpi_rt, &none, rt)) {
		free(rt);
		return -EBUSY;
	}
	r = runtime_build(rt);
	if (r < 0)
		goto out;
	r = gpi_fault_install(rt);
	if (r < 0)
		goto out;
	r = gpi_sched_start(rt); /* this thread becomes scheduler 0 */
	if (r < 0)
		goto out_faults;
	gpi_sched_start_threads(rt);
	(void)gpi_monitor_start(rt); /* without it, stalls go unreported: not fatal */
	/* Every thread is there and has enabled its ring: lock the sandbox,
	 * then, and only then, run the program. */
	gpi_sched_wait_threads(rt);
	gpi_introspect_start(rt); /* before the sandbox and the first process: see there */
	r = gpi_sandbox_lock(rt);
	if (r < 0) {
		static const char msg[] = "libgp: fatal: cannot lock the sandbox (seccomp)\n";

		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		abort(); /* threads run: no way back, and no running unconfined */
	}
	r = gpi_spawn(rt->sched[0], NULL, &pid, first, arg, NULL, 0);
	if (r < 0) {
		static const char msg[] = "libgp: fatal: cannot spawn the first process\n";

		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		abort(); /* the other schedulers are already running */
	}
	gpi_sched_run_main(rt);
	gpi_introspect_stop(rt);
	gpi_monitor_stop(rt);
	for (unsigned i = 0; i < rt->nsched; i++)
		gpi_stack_cache_flush(rt->sched[i]);
	check_drained(rt);
	r = 0;
out_faults:
	gpi_fault_restore();
out:
	runtime_destroy(rt);
	atomic_store(&gpi_rt, NULL);
	return r;
}

int gp_stats(struct gp_stats *ret)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct gp_runtime *rt;

	if (!p)
		return -EPERM;
	if (!ret)
		return -EINVAL;
	rt = s->rt;
	*ret = (struct gp_stats){
		.schedulers = rt->nsched,
		.processes = (uint64_t)atomic_load_explicit(&rt->procs_live, memory_order_relaxed),
		.stalls = atomic_load_explicit(&rt->stalls, memory_order_relaxed),
	};
	for (unsigned i = 0; i < GP_STACK_CLASSES; i++)
		ret->stacks_mapped += atomic_load_explicit(&rt->stacks[i].mapped, memory_order_relaxed);
	ret->stacks_in_use = stacks_in_use(rt);
	ret->stacks_cached = ret->stacks_mapped - ret->stacks_in_use;
	for (unsigned i = 0; i < rt->nsched; i++) {
		struct gp_sched *t = rt->sched[i];

		ret->spawned += atomic_load_explicit(&t->spawned, memory_order_relaxed);
		ret->context_switches += atomic_load_explicit(&t->switches, memory_order_relaxed);
		ret->steals += atomic_load_explicit(&t->steals, memory_order_relaxed);
	}
	return 0;
}
