/* SPDX-License-Identifier: MIT */
/*
 * What spawnd's BPF programs send it through their ring buffers, shared by
 * the programs (compiled against vmlinux.h) and spawnd's loaders (against
 * <linux/types.h>). Plain fixed-size records: the layout is the contract.
 */
#ifndef SD_BPF_EVENTS_H
#define SD_BPF_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SD_BPF_STACK_MAX 32 /* user frames kept per crash */
#define SD_BPF_KSTACK_MAX 24 /* kernel frames kept per D-state stall */
#define SD_BPF_COMM 16

/* proctree: the life of every process descended from a worker. */
enum sd_bpf_tree_type {
	SD_BPF_FORK = 1,   /* pid born of ppid (tag: its worker's pid) */
	SD_BPF_EXEC = 2,   /* pid executed file */
	SD_BPF_EXIT = 3,   /* pid ended with code (wait status) */
	SD_BPF_FATAL = 4,  /* a fatal signal delivered to pid: where it was */
	SD_BPF_SENT = 5,   /* sig sent to pid by sender (another process) */
	SD_BPF_OOM = 6,    /* the OOM killer chose pid */
};

/* Every record begins with this. Pids are the kernel's (global) ones. */
struct sd_bpf_head {
	__u32 type;
	__u32 pid;    /* the process (thread-group id) */
	__u32 tid;
	__u32 tag;    /* the worker it descends from: the worker's own pid */
	__u64 ts;     /* CLOCK_MONOTONIC ns */
	char comm[SD_BPF_COMM];
};

struct sd_bpf_tree_event {
	struct sd_bpf_head h;
	__u32 ppid;   /* FORK: the parent */
	__s32 code;   /* EXIT: wait status; FATAL: si_code */
	__u32 sig;    /* FATAL, SENT */
	__u32 sender; /* SENT: the sending process */
	char sender_comm[SD_BPF_COMM];
	char file[128]; /* EXEC: what it executed */
};

/* A fatal signal's delivery: the tree event, then the user stack both as
 * addresses and as (build-id, file offset) pairs, so that it symbolizes
 * after the process is gone. */
struct sd_bpf_build_id_frame { /* struct bpf_stack_build_id */
	__s32 status;   /* 0 empty, 1 valid (build_id, offset), 2 ip only */
	unsigned char build_id[20];
	__u64 offset_or_ip;
};

struct sd_bpf_fatal_event {
	struct sd_bpf_tree_event t;
	__u64 addr;      /* the faulting address (si_addr) */
	__s32 nframes;   /* user frames; < 0: the error of bpf_get_stack */
	__s32 nbuild;    /* frames in build */
	__u64 ips[SD_BPF_STACK_MAX];
	struct sd_bpf_build_id_frame build[SD_BPF_STACK_MAX];
};

/* stall: a watched worker's thread not making progress. */
enum sd_bpf_stall_kind {
	SD_BPF_STALL_D = 1,        /* uninterruptible sleep (D) */
	SD_BPF_STALL_SPIN = 2,     /* on CPU without a system call */
	SD_BPF_STALL_RUNNABLE = 3, /* runnable, not given a CPU */
};

struct sd_bpf_stall_event {
	struct sd_bpf_head h;
	__u32 kind;
	__u32 state;     /* the task's __state when seen */
	__u64 for_ns;    /* how long so far */
	__s32 nkframes;  /* kernel frames (D state); < 0: not readable */
	__u32 pad;
	__u64 kstack[SD_BPF_KSTACK_MAX];
};

/* stall's watch map: one per process watched, keyed by its pid: spawnd
 * enters each worker whose stall_timeout is set, the program its
 * descendants at their fork (with their worker's tag and timeout). */
struct sd_bpf_watch {
	__u64 timeout_ns;
	__u32 tag;  /* the worker's pid */
	__u32 pad;
};

#endif /* SD_BPF_EVENTS_H */
