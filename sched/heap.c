/* SPDX-License-Identifier: MIT */
/*
 * The process heap: gp_alloc'd blocks and received messages are the
 * process's own memory, kept on one list (struct gp_held) so that its exit
 * frees whatever it did not, however it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct gp_block {
	struct gp_held held;
	struct gp_proc *owner; /* gp_free by another process would corrupt its list */
	uint32_t size;
	uint32_t magic;        /* catches gp_free of foreign pointers, cheaply */
	_Alignas(16) unsigned char data[];
};

#define GP_BLOCK_MAGIC 0x67706870u /* "gphp" */

static noreturn void misuse(const char *what)
{
	const char *parts[] = { "libgp: fatal: gp_free: ", what };

	gpi_report(parts, 2);
	abort();
}

void *gp_alloc(size_t size)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct gp_block *b;

	if (!p) {
		errno = EPERM;
		return NULL;
	}
	if (size > UINT32_MAX) {
		errno = ENOMEM; /* a process heap block is at most 4 GiB */
		return NULL;
	}
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->owner = p;
	b->size = (uint32_t)size;
	b->magic = GP_BLOCK_MAGIC;
	gpi_held_add(p, &b->held);
	p->heap_bytes += size;
	return b->data;
}

void gp_free(void *ptr)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct gp_block *b;

	if (!ptr)
		return;
	b = gp_container_of(ptr, struct gp_block, data);
	if (b->magic != GP_BLOCK_MAGIC)
		misuse("not a block from gp_alloc, or freed twice");
	if (b->owner != p)
		misuse("the block belongs to another process");
	b->magic = 0;
	b->held.prev->next = b->held.next;
	b->held.next->prev = b->held.prev;
	if (p && p->heap_bytes >= b->size)
		p->heap_bytes -= b->size;
	free(b);
}

/* At exit: received messages never freed, and the heap. */
void gpi_held_free_all(struct gp_proc *p)
{
	struct gp_held *h = p->held.next;

	while (h != &p->held) {
		struct gp_held *next = h->next;

		free(h); /* both kinds start with their struct gp_held */
		h = next;
	}
	p->held.next = p->held.prev = &p->held;
	p->heap_bytes = 0;
}
