/* SPDX-License-Identifier: MIT */
/*
 * Process stacks: a pool per size class, carved from large reserved regions.
 *
 * Layout of a region: [guard][stack][guard][stack]... Each stack's guard
 * lies below it, where an overflow goes. Guards are installed with
 * MADV_GUARD_INSTALL: they live in the page tables, so a million stacks stay
 * one mapping (vm.max_map_count is 65530 here; an mprotect guard costs two
 * VMAs each) and cost no memory, which is why they can be several pages
 * deep. Where the kernel lacks it (before 6.13), mprotect guards are the
 * fallback, and the number of stacks is bounded by max_map_count.
 *
 * Regions are reserved MAP_NORESERVE, so only touched pages count: a parked
 * process costs the page its first frame touched. Freed stacks stay warm in
 * a per-scheduler cache, then in the class's free list, and are reused LIFO.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define CARVE_BATCH      (GP_STACK_CACHE / 2)
#define REGION_MIN_BYTES (64ul << 20)
#define REGION_MAX_STACK (1ul << 20)

size_t gpi_stack_size(struct gp_runtime *rt, unsigned cls)
{
	return rt->stacks[cls].usable;
}

int gpi_stack_class_for(struct gp_runtime *rt, size_t size)
{
	(void)rt;
	if (size > (SIZE_MAX / GP_SAN_STACK_FACTOR))
		return -EINVAL;
	size *= GP_SAN_STACK_FACTOR;
	for (unsigned i = 0; i < GP_STACK_CLASSES; i++)
		if (size <= (size_t)GP_STACK_MIN << i)
			return (int)i;
	return -EINVAL;
}

static bool guard_install_works(struct gp_runtime *rt)
{
	size_t len = 4 * rt->page;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = madvise(p, rt->page, MADV_GUARD_INSTALL) == 0;
	munmap(p, len);
	return ok;
}

int gpi_stacks_init(struct gp_runtime *rt)
{
	size_t def = rt->config.stack_size ? rt->config.stack_size : 64u << 10;
	const char *guards;
	int cls;

	for (unsigned i = 0; i < GP_STACK_CLASSES; i++) {
		struct gp_stack_class *c = &rt->stacks[i];

		pthread_mutex_init(&c->lock, NULL);
		c->usable = (size_t)GP_STACK_MIN << i;
		c->stride = c->usable + GP_GUARD_SIZE;
	}
	cls = gpi_stack_class_for(rt, def);
	if (cls < 0)
		return cls;
	rt->default_class = (unsigned)cls;
	/* GP_GUARDS=mprotect forces the fallback of kernels before 6.13, so
	 * that it can be tested on newer ones. */
	guards = getenv("GP_GUARDS");
	if (guards && *guards && strcmp(guards, "mprotect") != 0)
		return -EINVAL;
	rt->guard_madvise = !(guards && *guards) && guard_install_works(rt);
	rt->self_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0); /* always close-on-exec */
	return 0;
}

void gpi_stacks_destroy(struct gp_runtime *rt)
{
	for (unsigned i = 0; i < GP_STACK_CLASSES; i++) {
		struct gp_stack_class *c = &rt->stacks[i];

		for (size_t j = 0; j < c->nregions; j++)
			munmap(c->regions[j].addr, c->regions[j].len);
		free(c->regions);
		free(c->free);
		c->regions = NULL;
		c->free = NULL;
		c->nregions = c->nfree = c->cap = 0;
		pthread_mutex_destroy(&c->lock);
	}
	if (rt->self_pidfd >= 0)
		close(rt->self_pidfd);
	rt->self_pidfd = -1;
}

/* Guards for n stacks starting at base: one process_madvise call for all. */
static int install_guards(struct gp_runtime *rt, struct gp_stack_class *c, char *base, unsigned n)
{
	struct iovec iov[CARVE_BATCH];

	if (!rt->guard_madvise) {
		for (unsigned i = 0; i < n; i++)
			if (mprotect(base + i * c->stride, GP_GUARD_SIZE, PROT_NONE) < 0)
				return -errno;
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = base + i * c->stride;
		iov[i].iov_len = GP_GUARD_SIZE;
	}
	if (rt->self_pidfd >= 0 &&
	    syscall(SYS_process_madvise, rt->self_pidfd, iov, n, MADV_GUARD_INSTALL, 0) ==
		    (long)(n * GP_GUARD_SIZE))
		return 0;
	/* Older kernels take guards from madvise only. */
	for (unsigned i = 0; i < n; i++)
		if (madvise(iov[i].iov_base, GP_GUARD_SIZE, MADV_GUARD_INSTALL) < 0)
			return -errno;
	return 0;
}

/*
 * Fault in the top page of n new stacks (where the first frames go) with one
 * process_madvise call: cheaper than n page faults, each a trap into the
 * kernel. Best effort: a stack not populated here faults on first use.
 */
static void populate_tops(struct gp_runtime *rt, struct gp_stack_class *c, char *base, unsigned n)
{
	struct iovec iov[CARVE_BATCH];

	if (rt->self_pidfd < 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = base + i * c->stride + c->stride - rt->page;
		iov[i].iov_len = rt->page;
	}
	(void)syscall(SYS_process_madvise, rt->self_pidfd, iov, n, MADV_POPULATE_WRITE, 0);
}

static int new_region(struct gp_stack_class *c)
{
	size_t prev = c->nregions ? c->regions[c->nregions - 1].len / c->stride : 0;
	size_t count = prev ? prev * 2 : REGION_MIN_BYTES / c->stride;
	void *mem, *regions;

	if (count < CARVE_BATCH)
		count = CARVE_BATCH;
	if (count > REGION_MAX_STACK)
		count = REGION_MAX_STACK;
	regions = realloc(c->regions, (c->nregions + 1) * sizeof(*c->regions));
	if (!regions)
		return -ENOMEM;
	c->regions = regions;
	mem = mmap(NULL, count * c->stride, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	c->regions[c->nregions].addr = mem;
	c->regions[c->nregions].len = count * c->stride;
	c->nregions++;
	c->region = mem;
	c->region_len = count * c->stride;
	c->carved = 0;
	return 0;
}

/* Fill an empty cache from the class: warm stacks first, new ones otherwise. */
static int refill(struct gp_sched *s, unsigned cls)
{
	struct gp_runtime *rt = s->rt;
	struct gp_stack_class *c = &rt->stacks[cls];
	struct gp_stack_cache *cache = &s->stacks[cls];
	unsigned n;
	char *base;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	while (c->nfree && cache->n < CARVE_BATCH)
		cache->v[cache->n++] = c->free[--c->nfree];
	if (cache->n)
		goto out;
	if (c->carved + c->stride > c->region_len && (r = new_region(c)) < 0)
		goto out;
	n = (unsigned)((c->region_len - c->carved) / c->stride);
	if (n > CARVE_BATCH)
		n = CARVE_BATCH;
	base = c->region + c->carved;
	r = install_guards(rt, c, base, n);
	if (r < 0)
		goto out;
	populate_tops(rt, c, base, n);
	c->carved += n * c->stride;
	atomic_fetch_add_explicit(&c->mapped, n, memory_order_relaxed);
	/* Lowest address on top: fresh stacks are used in address order. */
	for (unsigned i = n; i-- > 0;)
		cache->v[cache->n++] = base + i * c->stride + GP_GUARD_SIZE;
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

void *gpi_stack_alloc(struct gp_sched *s, unsigned cls)
{
	struct gp_stack_cache *cache = &s->stacks[cls];
	void *lo;

	if (unlikely(!cache->n) && refill(s, cls) < 0)
		return NULL;
	lo = cache->v[--cache->n];
	atomic_store_explicit(&s->stacks_taken,
			      atomic_load_explicit(&s->stacks_taken, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	/* A process that died mid-frame left ASan's poison behind. */
	gp_asan_unpoison(lo, s->rt->stacks[cls].usable);
	return lo;
}

static void give_back(struct gp_stack_class *c, struct gp_stack_cache *cache, unsigned n)
{
	pthread_mutex_lock(&c->lock);
	if (c->nfree + n > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		void **v;

		while (cap < c->nfree + n)
			cap *= 2;
		v = realloc(c->free, cap * sizeof(*v));
		if (!v) {
			/* Keep them cached rather than lose track of them. */
			pthread_mutex_unlock(&c->lock);
			return;
		}
		c->free = v;
		c->cap = cap;
	}
	while (n--)
		c->free[c->nfree++] = cache->v[--cache->n];
	pthread_mutex_unlock(&c->lock);
}

void gpi_stack_free(struct gp_sched *s, unsigned cls, void *lo, bool dirty)
{
	struct gp_stack_class *c = &s->rt->stacks[cls];
	struct gp_stack_cache *cache = &s->stacks[cls];

	if (!lo)
		return;
	/* An overflow touched every page: give them back to the kernel (the
	 * guard survives MADV_DONTNEED). */
	if (unlikely(dirty))
		(void)madvise(lo, c->usable, MADV_DONTNEED);
	atomic_store_explicit(&s->stacks_taken,
			      atomic_load_explicit(&s->stacks_taken, memory_order_relaxed) - 1,
			      memory_order_relaxed);
	if (unlikely(cache->n == GP_STACK_CACHE))
		give_back(c, cache, GP_STACK_CACHE / 2);
	if (likely(cache->n < GP_STACK_CACHE)) {
		cache->v[cache->n++] = lo;
		return;
	}
	/* Out of memory for the free list: hand this one back to the kernel's
	 * zero pages at least; it stays reserved and guarded. */
	(void)madvise(lo, c->usable, MADV_DONTNEED);
}

void gpi_stack_cache_flush(struct gp_sched *s)
{
	for (unsigned i = 0; i < GP_STACK_CLASSES; i++)
		if (s->stacks[i].n)
			give_back(&s->rt->stacks[i], &s->stacks[i], s->stacks[i].n);
}
