/* SPDX-License-Identifier: MIT */
/*
 * spawnd's eBPF evidence (spawnd(8), CRASH AND STALL EVIDENCE): the
 * process-tree and crash program (bpf_proctree.c) and the stall program
 * (bpf_stall.c), each loaded on its own by its loader with libbpf's
 * life cycle (open, read-only config, load, attach, poll, one cleanup), so
 * that one that cannot load is switched off with its reason while the
 * other works. Without them (not root, no BTF, --no-bpf, a kernel without
 * the attach points) spawnd runs degraded: exits from wait statuses, stalls
 * from /proc sampling, and says so once at start and in `status`.
 *
 * Everything here runs on spawnd's one thread. Ring buffers are polled
 * from spawnd's io_uring (a POLL_ADD on each ring's epoll fd), never from a
 * thread of their own.
 */
#ifndef SD_BPF_H
#define SD_BPF_H

#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

struct sd_daemon;
struct sd_proctree;
struct sd_stall_probe;

/* A BPF ring buffer polled from spawnd's loop. */
struct sd_bpf_ring {
	struct sd_op op;
	struct ring_buffer *rb;
	struct sd_loop *loop;
	bool closing; /* no more re-arming */
};

int sd_bpf_ring_open(struct sd_bpf_ring *r, struct sd_loop *loop, int map_fd,
		     ring_buffer_sample_fn fn, void *ctx);
/* Hand every record waiting in it to its callback, now. */
void sd_bpf_ring_consume(struct sd_bpf_ring *r);
/* Once the loop is gone (its poll may be in flight until then). */
void sd_bpf_ring_free(struct sd_bpf_ring *r);

struct sd_bpf {
	struct sd_proctree *tree;     /* NULL: off */
	struct sd_stall_probe *stall; /* NULL: off */
	uint32_t stall_watched;       /* running workers it watches */
	char mode[512];               /* "full", or "degraded: <why>" */
};

/* Before load: switch off each program of obj whose tracepoint this kernel
 * lacks, saying which in off ("" if none); -ENOENT (off says which) if one
 * of `essential` (NULL-terminated tracepoint names) is missing. */
int sd_bpf_check_tracepoints(struct bpf_object *obj, const char *const *essential, char *off,
			     size_t size);

/* Load what can be loaded (nothing with no_bpf); says once in the log how
 * spawnd runs. Never fails: what is missing is in d->bpf.mode. */
void sd_bpf_start(struct sd_daemon *d, bool no_bpf);
/* Detach and free; after sd_loop_fini. */
void sd_bpf_stop(struct sd_daemon *d);
/* Take in every record the programs have sent so far (before judging an
 * exit: its evidence was sent before the exit could be reaped). */
void sd_bpf_consume(struct sd_daemon *d);
/* "full" or "degraded: ..." */
const char *sd_bpf_mode(const struct sd_daemon *d);

/* Stalls of worker `pid` seen by the probe: true if it watches it (else
 * spawnd samples /proc). */
bool sd_bpf_watch(struct sd_daemon *d, pid_t pid, uint64_t timeout_ns);
/* Around a launch: the child spawnd forks next is watched from its birth
 * with this timeout (0: none), so that it cannot fork or stall before the
 * probe knows it; sd_bpf_watch then confirms it. */
void sd_bpf_expect(struct sd_daemon *d, uint64_t timeout_ns);
/* Worker `pid` is gone; `watched`: sd_bpf_watch had said true of it. */
void sd_bpf_unwatch(struct sd_daemon *d, pid_t pid, bool watched);
/* After a reload: the stall probe's hooks come off if no worker of the
 * new configuration, and none still running, has a stall_timeout. */
void sd_bpf_reloaded(struct sd_daemon *d);

/* bpf_proctree.c */
/* 0 (why: what is off, or ""), or -errno (why: the reason it is off). */
int sd_proctree_open(struct sd_daemon *d, struct sd_proctree **ret, char *why, size_t size);
void sd_proctree_consume(struct sd_proctree *t);
/* The crash report of worker pid, reaped after signal sig (0: it exited):
 * see sd_crashes_take. */
struct json_object *sd_proctree_take(struct sd_proctree *t, pid_t pid, int sig);
void sd_proctree_free(struct sd_proctree *t);
/* Processes the program tracks now (for tests of leaks), or -errno. */
long sd_proctree_count(struct sd_proctree *t);

/* bpf_stall.c */
int sd_stall_probe_open(struct sd_daemon *d, struct sd_stall_probe **ret, char *why, size_t size);
void sd_stall_probe_consume(struct sd_stall_probe *s);
/* Attach (once): 0, or -errno with why. Until then nothing is watched and
 * no system call on the machine pays for the probe. */
int sd_stall_probe_attach(struct sd_stall_probe *s, char *why, size_t size);
bool sd_stall_probe_attached(const struct sd_stall_probe *s);
void sd_stall_probe_detach(struct sd_stall_probe *s);
int sd_stall_probe_watch(struct sd_stall_probe *s, pid_t pid, uint64_t timeout_ns);
void sd_stall_probe_expect(struct sd_stall_probe *s, uint64_t timeout_ns);
void sd_stall_probe_unwatch(struct sd_stall_probe *s, pid_t pid);
void sd_stall_probe_free(struct sd_stall_probe *s);

#endif /* SD_BPF_H */
