/* SPDX-License-Identifier: MIT */
/* The table of scheduler threads for outside tools (see gp_probe.h). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "gp_probe.h"
#include "internal.h"

/* Exported (the gp_ prefix) so that it stays in libgp.so's symbol table. */
struct gp_probe_table gp_probe_table = {
	.magic = GP_PROBE_MAGIC,
	.version = GP_PROBE_VERSION,
	.max_sched = GP_PROBE_MAX_SCHED,
	.pid_off = offsetof(struct gp_proc, pid),
	.pid_size = sizeof(gp_pid),
	.name_off = offsetof(struct gp_proc, name),
};

void gpi_probe_register(struct gp_sched *s, bool name_thread)
{
	struct gp_probe_sched *e;

	if (name_thread) { /* not the main thread: that would rename the program */
		char name[16];

		snprintf(name, sizeof(name), "gp-sched-%u", s->id);
		(void)pthread_setname_np(pthread_self(), name);
	}
	if (s->id >= GP_PROBE_MAX_SCHED)
		return;
	e = &gp_probe_table.sched[s->id];
	e->id = s->id;
	e->running = (uint64_t)(uintptr_t)&s->running;
	__atomic_store_n(&e->tid, (int32_t)gettid(), __ATOMIC_RELEASE); /* last: the entry is whole */
}
