/* SPDX-License-Identifier: MIT */
/*
 * The loader of bpf/proctree.bpf.c: every descendant of a worker from
 * fork to exit, and the evidence of how each died (crash.c). A worker's
 * own death is judged by worker.c when it is reaped (with
 * sd_crashes_take); a descendant's here, at its exit record.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "proctree.skel.h"
#include "spawnd.h"

struct sd_proctree {
	struct sd_daemon *d;
	struct sd_proctree_bpf *skel;
	struct sd_bpf_ring ring;
	struct sd_crashes crashes;
	uint64_t dropped_seen;
};

static void descendant_exit(struct sd_proctree *t, const struct sd_bpf_tree_event *e)
{
	int status = e->code, sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	json_object *crash;

	crash = sd_crashes_take(&t->crashes, (pid_t)e->h.pid, sig, t->d->self);
	if (crash)
		sd_worker_descendant_crashed(t->d, (pid_t)e->h.tag, (pid_t)e->h.pid, crash);
	else if (sig)
		sd_debug(&t->d->log, "bpf: process %u (%s) of worker %u killed by %s", e->h.pid,
			 e->h.comm, e->h.tag, sd_signal_name(sig));
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct sd_proctree *t = ctx;
	const struct sd_bpf_tree_event *e = data;

	if (size < sizeof(struct sd_bpf_head))
		return 0;
	switch (e->h.type) {
	case SD_BPF_FORK:
		sd_debug(&t->d->log, "bpf: worker %u: %u (%s) forked %u", e->h.tag, e->ppid, e->h.comm,
			 e->h.pid);
		break;
	case SD_BPF_EXEC:
		sd_debug(&t->d->log, "bpf: worker %u: %u executes %s", e->h.tag, e->h.pid, e->file);
		break;
	case SD_BPF_EXIT:
		/* The worker's own exit is judged when it is reaped. */
		if (e->h.pid != e->h.tag)
			descendant_exit(t, e);
		return 0;
	default:
		break;
	}
	sd_crashes_record(&t->crashes, data, size);
	return 0;
}

int sd_proctree_open(struct sd_daemon *d, struct sd_proctree **ret, char *why, size_t size)
{
	static const char *const essential[] = { "sched_process_fork", "sched_process_exit", NULL };
	struct sd_proctree *t = calloc(1, sizeof(*t));
	int r;

	if (!t) {
		snprintf(why, size, "out of memory");
		return -ENOMEM;
	}
	t->d = d;
	sd_crashes_init(&t->crashes);
	t->skel = sd_proctree_bpf__open();
	if (!t->skel) {
		r = -errno;
		snprintf(why, size, "open: %s", strerror(-r));
		goto fail;
	}
	t->skel->rodata->spawnd_tgid = (__u32)getpid();
	r = sd_bpf_check_tracepoints(t->skel->obj, essential, why, size);
	if (r < 0)
		goto fail;
	r = sd_proctree_bpf__load(t->skel);
	if (r < 0) {
		snprintf(why, size, "load: %s", strerror(-r));
		goto fail;
	}
	r = sd_proctree_bpf__attach(t->skel);
	if (r < 0) {
		snprintf(why, size, "attach: %s", strerror(-r));
		goto fail;
	}
	r = sd_bpf_ring_open(&t->ring, &d->loop, bpf_map__fd(t->skel->maps.events), on_record, t);
	if (r < 0) {
		snprintf(why, size, "ring buffer: %s", strerror(-r));
		goto fail;
	}
	*ret = t;
	return 0;
fail:
	sd_proctree_bpf__destroy(t->skel);
	sd_crashes_fini(&t->crashes);
	free(t);
	return r < 0 ? r : -EIO;
}

void sd_proctree_consume(struct sd_proctree *t)
{
	uint64_t dropped;

	sd_bpf_ring_consume(&t->ring);
	dropped = t->skel->bss->dropped;
	if (dropped != t->dropped_seen) {
		sd_log(&t->d->log, "bpf: %llu process records lost (ring buffer full)",
		       (unsigned long long)(dropped - t->dropped_seen));
		t->dropped_seen = dropped;
	}
}

json_object *sd_proctree_take(struct sd_proctree *t, pid_t pid, int sig)
{
	return sd_crashes_take(&t->crashes, pid, sig, t->d->self);
}

long sd_proctree_count(struct sd_proctree *t)
{
	int fd = bpf_map__fd(t->skel->maps.tracked);
	__u32 key, next;
	long n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

void sd_proctree_free(struct sd_proctree *t)
{
	sd_bpf_ring_free(&t->ring);
	sd_proctree_bpf__destroy(t->skel);
	sd_crashes_fini(&t->crashes);
	free(t);
}
