/* SPDX-License-Identifier: MIT */
/*
 * Where a tool outside the process finds the green process each scheduler
 * thread runs, without stopping it: spawnd reads this table (by its symbol,
 * gp_probe_table) from a worker whose scheduler thread it found spinning,
 * and reports the green process by pid and name. libgp writes a scheduler's
 * entry once, when its thread starts; the switch path writes nothing more
 * than it already did (the scheduler's `running` pointer, which the stall
 * monitor reads too).
 *
 * Layout version GP_PROBE_VERSION; fields only ever added at the end.
 */
#ifndef GP_PROBE_H
#define GP_PROBE_H

#include <stdint.h>

#define GP_PROBE_MAGIC     "gpprobe" /* with its NUL: 8 bytes */
#define GP_PROBE_VERSION   1
#define GP_PROBE_MAX_SCHED 256

struct gp_probe_sched {
	int32_t tid;      /* the scheduler's thread (gettid); 0: none yet */
	uint32_t id;      /* the scheduler's number: its thread is "gp-sched-<id>" */
	uint64_t running; /* address of its current process pointer (a control
			     block, or NULL in the scheduler's loop) */
};

struct gp_probe_table {
	char magic[8];
	uint32_t version;
	uint32_t max_sched;
	uint32_t pid_off, pid_size; /* the pid in a control block */
	uint32_t name_off, pad;     /* its name: a char * to a C string, or NULL */
	struct gp_probe_sched sched[GP_PROBE_MAX_SCHED];
};

#endif /* GP_PROBE_H */
