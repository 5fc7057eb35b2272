/* SPDX-License-Identifier: MIT */
/*
 * The loader of bpf/stall.bpf.c: workers with a stall_timeout are watched
 * (their pid and timeout in the program's watch map from start to reap),
 * and each stall the program reports goes to worker.c with what it saw
 * (the kind, the thread, how long; a D-state thread's kernel stack).
 *
 * Loaded at start (so that spawnd says at once whether it can watch), but
 * attached only once a worker has a stall_timeout: its sys_enter hook runs
 * for every system call on the machine, and makes each cost about 0.2 us
 * more here (getppid: 0.31 -> 0.51 us, bench/RESULTS.md), a tax nobody
 * should pay for a feature nobody uses.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "spawnd.h"
#include "stall.skel.h"

struct sd_stall_probe {
	struct sd_daemon *d;
	struct sd_stall_bpf *skel;
	struct sd_bpf_ring ring;
	uint64_t dropped_seen;
	bool attached;
};

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case SD_BPF_STALL_D:
		return "uninterruptible";
	case SD_BPF_STALL_SPIN:
		return "spinning";
	default:
		return "runnable";
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct sd_stall_probe *s = ctx;
	const struct sd_bpf_stall_event *e = data;
	struct sd_stall st = { .source = "bpf" };

	if (size < sizeof(*e))
		return 0;
	st.kind = kind_name(e->kind);
	st.pid = (pid_t)e->h.pid;
	st.tid = (pid_t)e->h.tid;
	memcpy(st.comm, e->h.comm, sizeof(st.comm));
	st.comm[sizeof(st.comm) - 1] = '\0';
	st.for_ns = e->for_ns;
	if (e->kind == SD_BPF_STALL_D && e->nkframes > 0) {
		int n = e->nkframes > SD_BPF_KSTACK_MAX ? SD_BPF_KSTACK_MAX : e->nkframes;
		uint64_t frames[SD_BPF_KSTACK_MAX];

		for (int i = 0; i < n; i++)
			frames[i] = e->kstack[i];
		sd_symbols_kernel(frames, n, st.kernel_stack, sizeof(st.kernel_stack));
	}
	sd_worker_stalled(s->d, (pid_t)e->h.tag, &st);
	return 0;
}

int sd_stall_probe_open(struct sd_daemon *d, struct sd_stall_probe **ret, char *why, size_t size)
{
	static const char *const essential[] = { "sched_switch", "sys_enter", "sched_process_fork",
						 "sched_process_exit", NULL };
	struct sd_stall_probe *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		snprintf(why, size, "out of memory");
		return -ENOMEM;
	}
	s->d = d;
	s->skel = sd_stall_bpf__open();
	if (!s->skel) {
		r = -errno;
		snprintf(why, size, "open: %s", strerror(-r));
		goto fail;
	}
	s->skel->rodata->period_ns = 100000000ull; /* 100 ms: a report at most that late */
	s->skel->rodata->loader_tgid = (__u32)getpid();
	r = sd_bpf_check_tracepoints(s->skel->obj, essential, why, size);
	if (r < 0)
		goto fail;
	r = sd_stall_bpf__load(s->skel);
	if (r < 0) {
		snprintf(why, size, "load: %s", strerror(-r));
		goto fail;
	}
	r = sd_bpf_ring_open(&s->ring, &d->loop, bpf_map__fd(s->skel->maps.events), on_record, s);
	if (r < 0) {
		snprintf(why, size, "ring buffer: %s", strerror(-r));
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	sd_stall_bpf__destroy(s->skel);
	free(s);
	return r;
}

int sd_stall_probe_attach(struct sd_stall_probe *s, char *why, size_t size)
{
	int r;

	if (s->attached)
		return 0;
	r = sd_stall_bpf__attach(s->skel);
	if (r < 0) {
		snprintf(why, size, "attach: %s", strerror(-r));
		return r;
	}
	(void)getppid(); /* a system call of ours arms the scan (stall.bpf.c) */
	if (!s->skel->bss->armed) {
		sd_stall_bpf__detach(s->skel);
		snprintf(why, size, "its timer did not arm");
		return -EIO;
	}
	s->attached = true;
	return 0;
}

/* The hooks off; the scan timer goes on, over nothing (about a microsecond
 * every period). What was watched is forgotten, so that a pid reused by
 * then is not taken for a descendant; the scan drops the threads of
 * processes no longer watched. */
void sd_stall_probe_detach(struct sd_stall_probe *s)
{
	__u32 key;

	if (!s->attached)
		return;
	sd_stall_bpf__detach(s->skel);
	while (bpf_map__get_next_key(s->skel->maps.watch, NULL, &key, sizeof(key)) == 0)
		if (bpf_map__delete_elem(s->skel->maps.watch, &key, sizeof(key), 0) < 0)
			break;
	s->attached = false;
}

bool sd_stall_probe_attached(const struct sd_stall_probe *s)
{
	return s->attached;
}

void sd_stall_probe_consume(struct sd_stall_probe *s)
{
	uint64_t dropped;

	sd_bpf_ring_consume(&s->ring);
	dropped = s->skel->bss->dropped;
	if (dropped != s->dropped_seen) {
		sd_log(&s->d->log, "bpf: %llu stall records lost (ring buffer full)",
		       (unsigned long long)(dropped - s->dropped_seen));
		s->dropped_seen = dropped;
	}
}

int sd_stall_probe_watch(struct sd_stall_probe *s, pid_t pid, uint64_t timeout_ns)
{
	struct sd_bpf_watch w = { .timeout_ns = timeout_ns, .tag = (__u32)pid };
	__u32 key = (__u32)pid;

	if (bpf_map__update_elem(s->skel->maps.watch, &key, sizeof(key), &w, sizeof(w), BPF_ANY) < 0)
		return -errno;
	return 0;
}

void sd_stall_probe_expect(struct sd_stall_probe *s, uint64_t timeout_ns)
{
	s->skel->bss->next_timeout_ns = timeout_ns; /* read by on_fork, in our own fork */
}

void sd_stall_probe_unwatch(struct sd_stall_probe *s, pid_t pid)
{
	__u32 key = (__u32)pid;

	(void)bpf_map__delete_elem(s->skel->maps.watch, &key, sizeof(key), 0);
}

void sd_stall_probe_free(struct sd_stall_probe *s)
{
	sd_bpf_ring_free(&s->ring);
	sd_stall_bpf__destroy(s->skel);
	free(s);
}
