// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Process trees and their crashes: every process descended from one of
 * spawnd's workers is tracked from its birth to its death, tagged with its
 * worker (the worker's pid), and spawnd hears of its forks, execs, exits,
 * the fatal signals delivered to it (with the user stack where it was),
 * who sent it a signal, and the OOM killer choosing it.
 *
 * No race: a worker is spawnd's own child, and sched_process_fork runs in
 * spawnd before the child is first woken; a descendant is entered at its
 * fork, before it runs, by its tracked parent. So no process escapes being
 * tagged, with or without a cgroup.
 *
 * Only tp_btf programs: fentry and kprobes cannot load on the kernels
 * spawnd targets first (KERNEL-NOTES.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by the loader before load. */
const volatile __u32 spawnd_tgid = 0;

#define BPF_F_USER_STACK (1ULL << 8)
#define BPF_F_USER_BUILD_ID (1ULL << 11)
#define SIGKILL_ 9
#define SIGCHLD_ 17

/* tgid -> its worker's pid; an entry lives from fork to exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Records too big for the BPF stack are built here (one per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sd_bpf_fatal_event);
} scratch SEC(".maps");

/* Dropped records (ring buffer full), for spawnd to report. */
__u64 dropped = 0;

static __always_inline void head(struct sd_bpf_head *h, __u32 type, struct task_struct *t, __u32 tag)
{
	h->type = type;
	h->pid = BPF_CORE_READ(t, tgid);
	h->tid = BPF_CORE_READ(t, pid);
	h->tag = tag;
	h->ts = bpf_ktime_get_ns();
	bpf_probe_read_kernel_str(h->comm, sizeof(h->comm), &t->comm);
}

#define BPF_RB_AVAIL_DATA_ 0
#define BPF_RB_NO_WAKEUP_ (1ULL << 0)
#define BPF_RB_FORCE_WAKEUP_ (1ULL << 1)
#define LAZY_BYTES (256u << 10)

/* Waking spawnd costs a cross-CPU wake-up (tens of us on small VMs) per
 * record: births, execs and plain exits wait in the ring until evidence of
 * a crash comes, or a quarter of the ring fills. */
static __always_inline __u64 wakeup(bool urgent)
{
	if (urgent || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA_) >= LAZY_BYTES)
		return BPF_RB_FORCE_WAKEUP_;
	return BPF_RB_NO_WAKEUP_;
}

static __always_inline struct sd_bpf_tree_event *reserve(__u32 type, struct task_struct *t, __u32 tag)
{
	struct sd_bpf_tree_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	head(&e->h, type, t, tag);
	return e;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid, tag, *ptag;
	struct sd_bpf_tree_event *e;

	if (ptgid == ctgid)
		return 0; /* a thread */
	if (ptgid == spawnd_tgid) {
		tag = ctgid; /* a worker: its own tag */
	} else {
		ptag = bpf_map_lookup_elem(&tracked, &ptgid);
		if (!ptag)
			return 0;
		tag = *ptag;
	}
	bpf_map_update_elem(&tracked, &ctgid, &tag, BPF_ANY);
	e = reserve(SD_BPF_FORK, child, tag);
	if (e) {
		e->ppid = ptgid;
		bpf_ringbuf_submit(e, wakeup(false));
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid, *tag = bpf_map_lookup_elem(&tracked, &tgid);
	struct sd_bpf_tree_event *e;

	if (!tag)
		return 0;
	e = reserve(SD_BPF_EXEC, p, *tag);
	if (e) {
		bpf_probe_read_kernel_str(e->file, sizeof(e->file), BPF_CORE_READ(bprm, filename));
		bpf_ringbuf_submit(e, wakeup(false));
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = p->tgid, *tag;
	struct sd_bpf_tree_event *e;
	int code;

	if (!group_dead)
		return 0; /* the process ends with its last thread */
	tag = bpf_map_lookup_elem(&tracked, &tgid);
	if (!tag)
		return 0;
	/* A group exit (a fatal signal, exit_group) records its status in
	 * the signal struct; a lone thread's own exit in exit_code. */
	code = BPF_CORE_READ(p, signal, group_exit_code);
	if (!code)
		code = BPF_CORE_READ(p, exit_code);
	e = reserve(SD_BPF_EXIT, p, *tag);
	if (e) {
		e->code = code;
		/* Killed by a signal: its crash report is due. */
		bpf_ringbuf_submit(e, wakeup((code & 0x7f) != 0));
	}
	bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

static __always_inline bool fatal_fault(int sig)
{
	/* SIGILL SIGABRT SIGBUS SIGFPE SIGSEGV SIGSYS */
	return sig == 4 || sig == 6 || sig == 7 || sig == 8 || sig == 11 || sig == 31;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(on_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	__u32 tgid = t->tgid, zero = 0, *tag;
	struct sd_bpf_fatal_event *f;
	long n;

	if (!fatal_fault(sig))
		return 0;
	tag = bpf_map_lookup_elem(&tracked, &tgid);
	if (!tag)
		return 0;
	f = bpf_map_lookup_elem(&scratch, &zero);
	if (!f)
		return 0;
	__builtin_memset(&f->t, 0, sizeof(f->t)); /* frames past the counts are not read */
	head(&f->t.h, SD_BPF_FATAL, t, *tag);
	f->t.sig = sig;
	f->t.code = BPF_CORE_READ(info, si_code);
	f->addr = (__u64)BPF_CORE_READ(info, _sifields._sigfault._addr);
	n = bpf_get_stack(ctx, f->ips, sizeof(f->ips), BPF_F_USER_STACK);
	f->nframes = n >= 0 ? (int)(n / sizeof(f->ips[0])) : (int)n;
	n = bpf_get_stack(ctx, f->build, sizeof(f->build), BPF_F_USER_STACK | BPF_F_USER_BUILD_ID);
	f->nbuild = n >= 0 ? (int)(n / sizeof(f->build[0])) : (int)n;
	if (bpf_ringbuf_output(&events, f, sizeof(*f), wakeup(true)) < 0)
		__sync_fetch_and_add(&dropped, 1);
	return 0;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(on_generate, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task_btf();
	__u32 tgid = task->tgid, sender = cur->tgid, *tag;
	struct sd_bpf_tree_event *e;

	/* A process's own faults, its parent's SIGCHLD and a signal it
	 * ignores (result TRACE_SIGNAL_IGNORED) say nothing of its death. */
	if (sender == tgid || sig == SIGCHLD_ || sig == 0 || result == 1)
		return 0;
	tag = bpf_map_lookup_elem(&tracked, &tgid);
	if (!tag)
		return 0;
	e = reserve(SD_BPF_SENT, task, *tag);
	if (e) {
		e->sig = sig;
		e->code = result;
		e->sender = sender;
		bpf_probe_read_kernel_str(e->sender_comm, sizeof(e->sender_comm), &cur->comm);
		bpf_ringbuf_submit(e, wakeup(false)); /* its death, if it comes, wakes */
	}
	return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(on_oom_victim, struct task_struct *task, uid_t uid)
{
	__u32 tgid = task->tgid, *tag = bpf_map_lookup_elem(&tracked, &tgid);
	struct sd_bpf_tree_event *e;

	if (!tag)
		return 0;
	e = reserve(SD_BPF_OOM, task, *tag);
	if (e) {
		e->sig = SIGKILL_;
		bpf_ringbuf_submit(e, wakeup(false)); /* its death wakes */
	}
	return 0;
}
