/* SPDX-License-Identifier: MIT */
/*
 * Registered names: a hash table of name -> pid under one mutex. A process
 * has at most one name, remembered in its control block so that its exit
 * removes it. Lock order: the registry, then a process's spinlock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct gp_regent {
	struct gp_regent *next;
	gp_pid pid;
	uint64_t hash;
	char name[];
};

static uint64_t hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return h;
}

int gpi_registry_init(struct gp_runtime *rt)
{
	rt->reg_cap = 64;
	rt->reg_table = calloc(rt->reg_cap, sizeof(*rt->reg_table));
	if (!rt->reg_table)
		return -ENOMEM;
	pthread_mutex_init(&rt->reg_lock, NULL);
	return 0;
}

void gpi_registry_destroy(struct gp_runtime *rt)
{
	if (!rt->reg_table)
		return;
	for (size_t i = 0; i < rt->reg_cap; i++) {
		struct gp_regent *e = rt->reg_table[i];

		while (e) {
			struct gp_regent *next = e->next;

			free(e);
			e = next;
		}
	}
	free(rt->reg_table);
	rt->reg_table = NULL;
	pthread_mutex_destroy(&rt->reg_lock);
}

static struct gp_regent **find(struct gp_runtime *rt, const char *name, uint64_t h)
{
	struct gp_regent **e = &rt->reg_table[h & (rt->reg_cap - 1)];

	for (; *e; e = &(*e)->next)
		if ((*e)->hash == h && strcmp((*e)->name, name) == 0)
			return e;
	return e;
}

static void grow(struct gp_runtime *rt)
{
	size_t cap = rt->reg_cap * 2;
	struct gp_regent **t = calloc(cap, sizeof(*t));

	if (!t)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < rt->reg_cap; i++) {
		struct gp_regent *e = rt->reg_table[i];

		while (e) {
			struct gp_regent *next = e->next;

			e->next = t[e->hash & (cap - 1)];
			t[e->hash & (cap - 1)] = e;
			e = next;
		}
	}
	free(rt->reg_table);
	rt->reg_table = t;
	rt->reg_cap = cap;
}

static bool name_valid(const char *name)
{
	size_t len = name ? strnlen(name, GP_NAME_MAX + 1) : 0;

	return len > 0 && len <= GP_NAME_MAX;
}

int gp_register(const char *name, gp_pid pid)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s), *q;
	struct gp_runtime *rt;
	struct gp_regent **slot, *e;
	uint64_t h;
	int r = 0;

	if (!p)
		return -EPERM;
	if (!name_valid(name) || !pid)
		return -EINVAL;
	rt = s->rt;
	h = hash_name(name);
	pthread_mutex_lock(&rt->reg_lock);
	slot = find(rt, name, h);
	if (*slot) {
		r = -EEXIST;
		goto out;
	}
	q = gpi_proc_lookup(rt, pid);
	if (!q) {
		r = -ESRCH;
		goto out;
	}
	e = malloc(sizeof(*e) + strlen(name) + 1);
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	e->next = NULL;
	e->pid = pid;
	e->hash = h;
	strcpy(e->name, name);
	gp_spin_lock(&q->lock);
	if (atomic_load_explicit(&q->pid, memory_order_relaxed) != pid ||
	    atomic_load_explicit(&q->exiting, memory_order_relaxed))
		r = -ESRCH;
	else if (q->reg_name)
		r = -EBUSY;
	else
		q->reg_name = e->name;
	gp_spin_unlock(&q->lock);
	if (r < 0) {
		free(e);
		goto out;
	}
	*slot = e;
	if (++rt->reg_len > rt->reg_cap)
		grow(rt);
out:
	pthread_mutex_unlock(&rt->reg_lock);
	return r;
}

/* Unlink and free the entry at *slot; the registry lock is held. */
static void drop(struct gp_runtime *rt, struct gp_regent **slot)
{
	struct gp_regent *e = *slot;
	/* Not gpi_proc_lookup: an exiting owner still points at the name. */
	struct gp_proc *q = &rt->procs[gp_pid_slot(e->pid)];

	gp_spin_lock(&q->lock);
	if (q->reg_name == e->name)
		q->reg_name = NULL;
	gp_spin_unlock(&q->lock);
	*slot = e->next;
	rt->reg_len--;
	free(e);
}

int gp_unregister(const char *name)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct gp_regent **slot;
	int r = 0;

	if (!p)
		return -EPERM;
	if (!name_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&s->rt->reg_lock);
	slot = find(s->rt, name, hash_name(name));
	if (*slot)
		drop(s->rt, slot);
	else
		r = -ENOENT;
	pthread_mutex_unlock(&s->rt->reg_lock);
	return r;
}

gp_pid gp_whereis(const char *name)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct gp_regent **slot;
	gp_pid pid;

	if (!p || !name_valid(name))
		return 0;
	pthread_mutex_lock(&s->rt->reg_lock);
	slot = find(s->rt, name, hash_name(name));
	pid = *slot ? (*slot)->pid : 0;
	pthread_mutex_unlock(&s->rt->reg_lock);
	return pid;
}

/* At exit. The name may already be gone (gp_unregister raced us). */
void gpi_registry_remove_proc(struct gp_runtime *rt, struct gp_proc *p)
{
	pthread_mutex_lock(&rt->reg_lock);
	gp_spin_lock(&p->lock);
	if (p->reg_name) {
		const char *name = p->reg_name;
		struct gp_regent **slot;

		gp_spin_unlock(&p->lock);
		slot = find(rt, name, hash_name(name));
		if (*slot) {
			*slot = (*slot)->next;
			rt->reg_len--;
			free(gp_container_of(name, struct gp_regent, name));
		}
		p->reg_name = NULL;
	} else {
		gp_spin_unlock(&p->lock);
	}
	pthread_mutex_unlock(&rt->reg_lock);
}
