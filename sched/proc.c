/* SPDX-License-Identifier: MIT */
/*
 * Processes: the process table, spawn, the first run, exit and its release,
 * kill, hibernation.
 *
 * A slot of the table is reused by later processes; its generation (in the
 * pid) grows with each reuse, so a stale pid names nobody. A slot whose
 * generation would wrap is retired, never reused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define SLOT_BATCH 32

/* ---- the table ----------------------------------------------------------- */

int gpi_proctab_init(struct gp_runtime *rt)
{
	const char *env = getenv("GP_MAX_PROCESSES");
	unsigned long max = GP_MAX_SLOTS - 1;
	void *mem;

	if (env && *env) {
		char *end;

		errno = 0;
		max = strtoul(env, &end, 10);
		if (errno || *end || max < 16 || max > GP_MAX_SLOTS - 1)
			return -EINVAL;
	}
	/* Reserved, not committed: pages fault in as slots are first used. */
	mem = mmap(NULL, max * sizeof(struct gp_proc), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	rt->procs = mem;
	rt->max_procs = (uint32_t)max;
	atomic_init(&rt->next_slot, 0);
	atomic_init(&rt->next_ref, 1);
	pthread_mutex_init(&rt->slot_lock, NULL);
	return 0;
}

void gpi_proctab_destroy(struct gp_runtime *rt)
{
	if (!rt->procs)
		return;
	/* Mail sent to processes that were already gone when it arrived. */
	for (uint32_t i = 0, n = atomic_load(&rt->next_slot); i < n && i < rt->max_procs; i++)
		gpi_mailbox_drop_stale(&rt->procs[i]);
	munmap(rt->procs, (size_t)rt->max_procs * sizeof(struct gp_proc));
	rt->procs = NULL;
	free(rt->free_slots);
	rt->free_slots = NULL;
	pthread_mutex_destroy(&rt->slot_lock);
}

static int slot_refill(struct gp_sched *s)
{
	struct gp_runtime *rt = s->rt;
	uint32_t first, n;

	pthread_mutex_lock(&rt->slot_lock);
	while (rt->nfree_slots && s->nslots < SLOT_BATCH)
		s->slot_cache[s->nslots++] = rt->free_slots[--rt->nfree_slots];
	pthread_mutex_unlock(&rt->slot_lock);
	if (s->nslots)
		return 0;
	first = atomic_fetch_add_explicit(&rt->next_slot, SLOT_BATCH, memory_order_relaxed);
	if (first >= rt->max_procs) {
		atomic_store_explicit(&rt->next_slot, rt->max_procs, memory_order_relaxed);
		return -EAGAIN;
	}
	n = rt->max_procs - first < SLOT_BATCH ? rt->max_procs - first : SLOT_BATCH;
	/* Lowest slot on top of the cache: the table fills from its start. */
	for (uint32_t i = n; i-- > 0;)
		s->slot_cache[s->nslots++] = first + i;
	return 0;
}

static void slot_free(struct gp_sched *s, uint32_t slot)
{
	struct gp_runtime *rt = s->rt;
	gp_pid pid = atomic_load_explicit(&rt->procs[slot].pid, memory_order_relaxed);

	if ((uint32_t)(pid >> GP_PID_SLOT_BITS) == UINT32_MAX)
		return; /* its generation is spent: retire the slot */
	if (s->nslots == sizeof(s->slot_cache) / sizeof(s->slot_cache[0])) {
		pthread_mutex_lock(&rt->slot_lock);
		if (rt->nfree_slots + SLOT_BATCH > rt->cap_free_slots) {
			size_t cap = rt->cap_free_slots ? rt->cap_free_slots * 2 : 1024;
			uint32_t *v = realloc(rt->free_slots, cap * sizeof(*v));

			if (!v) {
				/* Keep the slot in our cache's place: drop the oldest
				 * cached one instead (it is leaked, not corrupted). */
				pthread_mutex_unlock(&rt->slot_lock);
				s->slot_cache[0] = slot;
				return;
			}
			rt->free_slots = v;
			rt->cap_free_slots = cap;
		}
		for (unsigned i = 0; i < SLOT_BATCH; i++)
			rt->free_slots[rt->nfree_slots++] = s->slot_cache[--s->nslots];
		pthread_mutex_unlock(&rt->slot_lock);
	}
	s->slot_cache[s->nslots++] = slot;
}

/* ---- vectors ------------------------------------------------------------------ */

static int grow(void **v, uint32_t *cap, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : 4;
	void *nv = realloc(*v, ncap * elem);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

int gpi_pidvec_add(struct gp_pidvec *vec, gp_pid pid)
{
	if (vec->len == vec->cap && grow((void **)&vec->v, &vec->cap, sizeof(*vec->v)) < 0)
		return -ENOMEM;
	vec->v[vec->len++] = pid;
	return 0;
}

int gpi_monvec_add(struct gp_monvec *vec, uint64_t ref, gp_pid pid)
{
	if (vec->len == vec->cap && grow((void **)&vec->v, &vec->cap, sizeof(*vec->v)) < 0)
		return -ENOMEM;
	vec->v[vec->len].ref = ref;
	vec->v[vec->len].pid = pid;
	vec->len++;
	return 0;
}

/* ---- the runtime's own processes -------------------------------------------------- */

/*
 * System processes (GP_PF_SYSTEM: the runtime's servers) do not keep
 * gp_main from returning: when the program's last process exits, each gets
 * GP_EXIT_KILL. They are listed here for that.
 */
static int system_add(struct gp_runtime *rt, gp_pid pid)
{
	int r;

	pthread_mutex_lock(&rt->system_lock);
	r = gpi_pidvec_add(&rt->system, pid);
	pthread_mutex_unlock(&rt->system_lock);
	return r;
}

static void system_forget(struct gp_runtime *rt, gp_pid pid)
{
	pthread_mutex_lock(&rt->system_lock);
	for (uint32_t i = 0; i < rt->system.len; i++) {
		if (rt->system.v[i] == pid) {
			rt->system.v[i] = rt->system.v[--rt->system.len];
			break;
		}
	}
	pthread_mutex_unlock(&rt->system_lock);
}

static void system_kill_all(struct gp_sched *s)
{
	struct gp_runtime *rt = s->rt;
	struct gp_pidvec all;

	pthread_mutex_lock(&rt->system_lock);
	all = rt->system;
	rt->system = (struct gp_pidvec){ 0 };
	pthread_mutex_unlock(&rt->system_lock);
	for (uint32_t i = 0; i < all.len; i++)
		(void)gpi_exit_signal(s, all.v[i], 0, GP_EXIT_KILL);
	free(all.v);
}

/* ---- spawn ---------------------------------------------------------------------- */

static bool opts_valid(const struct gp_spawn_opts *opts)
{
	for (size_t i = 0; i < sizeof(opts->reserved) / sizeof(opts->reserved[0]); i++)
		if (opts->reserved[i])
			return false;
	if (opts->flags & ~(GP_SPAWN_LINK | GP_SPAWN_MONITOR))
		return false;
	if ((opts->flags & GP_SPAWN_MONITOR) && !opts->ret_monitor)
		return false;
	if (opts->name && strnlen(opts->name, GP_NAME_MAX + 1) > GP_NAME_MAX)
		return false;
	return true;
}

int gpi_spawn(struct gp_sched *s, struct gp_proc *parent, gp_pid *ret_pid, gp_fn fn, void *arg,
	      const struct gp_spawn_opts *opts, uint32_t pflags)
{
	static const struct gp_spawn_opts no_opts;
	struct gp_runtime *rt = s->rt;
	uint64_t ref = 0;
	char *name = NULL;
	struct gp_proc *p;
	uint32_t slot, gen;
	gp_pid old, pid;
	int cls, r;

	if (!opts)
		opts = &no_opts;
	if (!fn || !opts_valid(opts) || (opts->flags && !parent))
		return -EINVAL;
	cls = opts->stack_size ? gpi_stack_class_for(rt, opts->stack_size) : (int)rt->default_class;
	if (cls < 0)
		return cls;
	if (opts->name && !(name = strdup(opts->name)))
		return -ENOMEM;
	if (!s->nslots && (r = slot_refill(s)) < 0)
		goto err_name;
	slot = s->slot_cache[--s->nslots];
	p = &rt->procs[slot];

	/* Until the pid is published nobody else can reach this slot, except
	 * stale senders and wakers, which the pid and state checks turn away. */
	p->stack_class = (uint32_t)cls;
	p->stack_lo = NULL;
	old = atomic_load_explicit(&p->pid, memory_order_relaxed);
	gen = old ? (uint32_t)(old >> GP_PID_SLOT_BITS) + 1 : 1;
	pid = gp_pid_make(slot, gen);
	gpi_mailbox_drop_stale(p);
	p->flags = pflags | GP_PF_NOSTACK;
	p->rq_next = NULL;
	p->fn = fn;
	p->arg = arg;
	p->reductions = 0;
	p->last_sched = s->id;
	p->mq_head = p->mq_tail = NULL;
	p->mq_len = 0;
	atomic_store_explicit(&p->kill_reason, -1, memory_order_relaxed);
	p->exit_reason = 0;
	p->io_timeout_ms = -1;
	p->held.next = p->held.prev = &p->held;
	p->heap_bytes = 0;
	p->deadline = 0;
	p->timer_sched = NULL;
	p->timer_idx = -1;
	p->trap_exit = false;
	p->links = (struct gp_pidvec){ 0 };
	p->monitored_by = (struct gp_monvec){ 0 };
	p->monitors = (struct gp_monvec){ 0 };
	/* release: the stall monitor may read the name as soon as it sees it */
	atomic_store_explicit(&p->name, name, memory_order_release);
	p->reg_name = NULL;
#ifdef GP_TSAN
	p->ctx.tsan_fiber = __tsan_create_fiber(0);
#endif

	if (opts->flags & GP_SPAWN_LINK) {
		if (gpi_pidvec_add(&p->links, parent->pid) < 0)
			goto err_nomem;
		gp_spin_lock(&parent->lock);
		r = gpi_pidvec_add(&parent->links, pid);
		gp_spin_unlock(&parent->lock);
		if (r < 0)
			goto err_nomem;
	}
	if ((pflags & GP_PF_SYSTEM) && system_add(rt, pid) < 0)
		goto err_nomem;
	if (opts->flags & GP_SPAWN_MONITOR) {
		ref = atomic_fetch_add_explicit(&rt->next_ref, 1, memory_order_relaxed);
		if (gpi_monvec_add(&p->monitored_by, ref, parent->pid) < 0 ||
		    gpi_monvec_add(&parent->monitors, ref, pid) < 0)
			goto err_unlink;
	}

	atomic_store_explicit(&p->exiting, false, memory_order_relaxed);
	atomic_store_explicit(&p->state,
			      (atomic_load_explicit(&p->state, memory_order_relaxed) &
			       ~(uint64_t)0xffffffff) | GP_S_RUNNABLE,
			      memory_order_relaxed);
	/* release: everything above is visible to whoever finds the pid */
	atomic_store_explicit(&p->pid, pid, memory_order_release);
	if (!(pflags & GP_PF_SYSTEM))
		atomic_fetch_add_explicit(&rt->live, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rt->procs_live, 1, memory_order_relaxed);
	atomic_store_explicit(&s->spawned,
			      atomic_load_explicit(&s->spawned, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	if (opts->flags & GP_SPAWN_MONITOR)
		*opts->ret_monitor = ref;
	*ret_pid = pid;
	gpi_make_runnable(s, p, true);
	return 0;

err_unlink:
	if (opts->flags & GP_SPAWN_LINK) {
		gp_spin_lock(&parent->lock);
		if (parent->links.len && parent->links.v[parent->links.len - 1] == pid)
			parent->links.len--;
		gp_spin_unlock(&parent->lock);
	}
err_nomem:
	r = -ENOMEM;
	if (pflags & GP_PF_SYSTEM)
		system_forget(rt, pid);
	free(p->links.v);
	free(p->monitored_by.v);
	p->links = (struct gp_pidvec){ 0 };
	p->monitored_by = (struct gp_monvec){ 0 };
	gp_spin_lock(&rt->name_lock); /* readers copy it under the lock */
	atomic_store_explicit(&p->name, NULL, memory_order_relaxed);
	gp_spin_unlock(&rt->name_lock);
#ifdef GP_TSAN
	__tsan_destroy_fiber(p->ctx.tsan_fiber);
#endif
	s->slot_cache[s->nslots++] = slot;
err_name:
	free(name);
	return r;
}

int gp_spawn_opt(gp_pid *ret_pid, gp_fn fn, void *arg, const struct gp_spawn_opts *opts)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	int r;

	if (!p)
		return -EPERM;
	if (!ret_pid)
		return -EINVAL;
	r = gpi_spawn(s, p, ret_pid, fn, arg, opts, 0);
	if (r == 0 && gpi_reductions(s, 1))
		gpi_preempt(s, p);
	else
		gpi_check_kill(s, p);
	return r;
}

gp_pid gp_spawn(gp_fn fn, void *arg)
{
	gp_pid pid;
	int r = gp_spawn_opt(&pid, fn, arg, NULL);

	if (r < 0) {
		errno = -r;
		return 0;
	}
	return pid;
}

/* ---- running and exiting ------------------------------------------------------------ */

/* Where every process stack starts (see gp_ctx_trampoline). */
void gpi_proc_entry(void *transfer)
{
	struct gp_sched *s = transfer;
	struct gp_proc *p;

#ifdef GP_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	gpi_finish_switch(s);
	p = s->current;
	if (p->flags & GP_PF_HIBERNATED) {
		p->flags &= ~GP_PF_HIBERNATED;
		gpi_mailbox_take(p);
		/* Woken for mail that was not its own (a reused slot's): sleep on. */
		if (!p->mq_head && atomic_load_explicit(&p->kill_reason, memory_order_relaxed) < 0)
			gp_hibernate(p->fn, p->arg);
	}
	gpi_check_kill(s, p);
	p->fn(p->arg);
	/* fn may have migrated us: ask again where we run */
	gpi_proc_exit(gpi_tls_sched(), p, GP_EXIT_NORMAL);
}


noreturn void gpi_proc_exit(struct gp_sched *s, struct gp_proc *p, int reason)
{
	struct gp_runtime *rt = s->rt;
	struct gp_pidvec links;
	struct gp_monvec watchers;
	gp_pid self = atomic_load_explicit(&p->pid, memory_order_relaxed);
	bool registered;

	/* Its handlers and descriptors first, while it is still itself. */
	if (p->atexit || p->fds)
		gpi_io_exit(p);
	p->exit_reason = reason;
	gp_spin_lock(&p->lock);
	atomic_store_explicit(&p->exiting, true, memory_order_relaxed);
	registered = p->reg_name != NULL; /* final: registering checks exiting */
	links = p->links;
	watchers = p->monitored_by;
	p->links = (struct gp_pidvec){ 0 };
	p->monitored_by = (struct gp_monvec){ 0 };
	gp_spin_unlock(&p->lock);

	/* Its name goes first: whoever hears of its death (a link, a DOWN)
	 * must not find the name still pointing at it, as in Erlang. */
	if (registered)
		gpi_registry_remove_proc(rt, p);
	/* Most processes own none of these: test before calling. */
	if (links.v) {
		gpi_exit_signal_links(s, p, &links, reason);
		free(links.v);
	}
	if (watchers.v) {
		for (uint32_t i = 0; i < watchers.len; i++) {
			struct gp_exit_info info = { .pid = self,
						     .reason = reason,
						     .ref = watchers.v[i].ref };

			(void)gpi_send_system(s, watchers.v[i].pid, self, GP_TAG_DOWN, &info);
		}
		free(watchers.v);
	}
	if (p->monitors.v)
		gpi_monitors_release(s, p);
	if (p->held.next != &p->held)
		gpi_held_free_all(p);
	if (p->mq_head || atomic_load_explicit(&p->inbox, memory_order_relaxed))
		gpi_mailbox_free_all(p);

	/* The last of the program's processes tells the runtime's own ones to
	 * go; the last process of all turns off the lights (seq_cst: sleepers
	 * check shutdown after announcing themselves). */
	if (p->flags & GP_PF_SYSTEM)
		system_forget(rt, self);
	else if (atomic_fetch_sub_explicit(&rt->live, 1, memory_order_acq_rel) == 1)
		system_kill_all(s);
	if (atomic_fetch_sub_explicit(&rt->procs_live, 1, memory_order_acq_rel) == 1) {
		atomic_store_explicit(&rt->shutdown, 1, memory_order_seq_cst);
		gpi_wake_all(s);
	}
	gpi_switch_out(s, p, GP_ACT_EXIT);
	__builtin_unreachable();
}

/* After the exit switch, on the next context: free what the exit ran on. */
void gpi_proc_release(struct gp_sched *s, struct gp_proc *p)
{
	uint32_t slot = (uint32_t)(p - s->rt->procs);
	uint64_t st;

	gpi_stack_free(s, p->stack_class, p->stack_lo, p->flags & GP_PF_OVERFLOWED);
	p->stack_lo = NULL;
#ifdef GP_TSAN
	__tsan_destroy_fiber(p->ctx.tsan_fiber);
	p->ctx.tsan_fiber = NULL;
#endif
	if (atomic_load_explicit(&p->name, memory_order_relaxed)) {
		char *name;

		/* The stall monitor may be copying it. */
		gp_spin_lock(&s->rt->name_lock);
		name = atomic_exchange_explicit(&p->name, NULL, memory_order_relaxed);
		gp_spin_unlock(&s->rt->name_lock);
		free(name);
	}
	gpi_mailbox_drop_stale(p);
	st = atomic_load_explicit(&p->state, memory_order_relaxed);
	atomic_store_explicit(&p->state, (st & ~(uint64_t)0xffffffff) | GP_S_DEAD,
			      memory_order_release);
	slot_free(s, slot);
}

noreturn void gp_exit(int reason)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	if (!p) {
		static const char msg[] = "libgp: fatal: gp_exit called outside a process\n";

		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		abort();
	}
	if (reason < 0 || reason == GP_EXIT_KILL)
		reason = reason < 0 ? GP_EXIT_USER : GP_EXIT_KILLED;
	gpi_proc_exit(s, p, reason);
}

noreturn void gp_hibernate(gp_fn fn, void *arg)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	if (!p || !fn) {
		static const char msg[] = "libgp: fatal: gp_hibernate called outside a process "
					  "or without a function\n";

		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		abort();
	}
	gpi_check_kill(s, p);
	p->fn = fn;
	p->arg = arg;
	gpi_mailbox_take(p);
	gpi_switch_out(s, p, GP_ACT_HIBERNATE);
	__builtin_unreachable();
}

gp_pid gp_self(void)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	return p ? atomic_load_explicit(&p->pid, memory_order_relaxed) : 0;
}
