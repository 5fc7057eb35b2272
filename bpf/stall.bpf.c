// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Stalls: for every thread of a watched worker or of one of its
 * descendants (spawnd fills `watch` with the workers that have a
 * stall_timeout, on_fork adds their descendants), how long it has been
 *  - in uninterruptible sleep (sched_switch out with a D prev_state, still D),
 *  - on a CPU without making a system call or sleeping (sys_enter, and
 *    sched_switch out to sleep, are progress; its runtime keeps rising),
 *  - runnable but not given a CPU (preempted, not switched back in).
 * A bpf_timer scans the threads every period_ns and reports a thread once
 * per episode, when one of these passes its worker's timeout. Interruptible
 * sleep (a read or poll waiting for input) is never a stall.
 *
 * Only tp_btf programs and kfuncs
 * that load on the kernels spawnd targets (KERNEL-NOTES.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile __u64 period_ns = 100000000ull;
const volatile __u32 loader_tgid = 0;

/* Written by spawnd around a launch: the stall_timeout of the worker it is
 * forking, 0 when it forks none that is to be watched. on_fork enters the
 * worker at its birth, before it runs: a worker that forks or sleeps in D
 * at once is not missed (spawnd's own sd_stall_probe_watch comes after
 * the child has run). */
__u64 next_timeout_ns = 0;

#define TASK_UNINTERRUPTIBLE_ 0x2
#define TASK_NOLOAD_ 0x400
#define CLOCK_MONOTONIC_ 1

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

/* pid -> its worker and timeout: workers entered by spawnd, their
 * descendants by on_fork. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct sd_bpf_watch);
} watch SEC(".maps");

/* What the scan knows of each thread of a watched worker. Written by the
 * tracepoints on the thread's CPU and read by the timer: plain words, a
 * torn read only delays a report by one period. */
struct thread {
	__u32 tgid;
	__u32 out_state;  /* prev_state when it last left a CPU */
	__u64 last_out;   /* when it last left a CPU */
	__u64 last_in;    /* when it last got one */
	__u64 progress;   /* its last system call or sleep */
	__u64 runtime;    /* se.sum_exec_runtime at the last scan */
	__u32 reported;   /* the kind reported in this episode, or 0 */
	__u32 pad;
	__u64 report_ts;  /* when it was reported */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct thread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} events SEC(".maps");

struct scan_timer {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scan_timer);
} timer SEC(".maps");

__u64 dropped = 0;
__u32 armed = 0;

/* The thread's record, created if its process is watched. */
static __always_inline struct thread *thread_of(struct task_struct *t, __u64 now)
{
	__u32 tid = t->pid, tgid = t->tgid;
	struct thread *th = bpf_map_lookup_elem(&threads, &tid);

	if (th || !bpf_map_lookup_elem(&watch, &tgid))
		return th;
	struct thread fresh = { .tgid = tgid, .progress = now, .last_in = now };

	bpf_map_update_elem(&threads, &tid, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&threads, &tid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	struct thread *th = thread_of(prev, now);

	if (th) {
		th->last_out = now;
		th->out_state = prev_state;
		if (prev_state && !(prev_state & TASK_UNINTERRUPTIBLE_))
			th->progress = now; /* it sleeps of its own accord */
	}
	th = thread_of(next, now);
	if (th)
		th->last_in = now;
	return 0;
}

static int scan(void *map, __u32 *key, struct scan_timer *st);

/* The timer's callback runs with its arming program's helpers, which must
 * be a tracing program's: the loader's first system call after attach
 * arms it here. */
static __always_inline void arm(struct task_struct *t)
{
	__u32 zero = 0;
	struct scan_timer *st;

	if (armed || t->tgid != loader_tgid || !(st = bpf_map_lookup_elem(&timer, &zero)))
		return;
	armed = 1;
	bpf_timer_init(&st->t, &timer, CLOCK_MONOTONIC_);
	bpf_timer_set_callback(&st->t, scan);
	bpf_timer_start(&st->t, period_ns, 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	__u32 tid = t->pid;
	struct thread *th = bpf_map_lookup_elem(&threads, &tid);

	if (th)
		th->progress = bpf_ktime_get_ns();
	arm(t);
	return 0;
}

/* A worker is watched from its birth (next_timeout_ns), and a watched
 * process's child from its own, as its worker. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct sd_bpf_watch *w;

	if (ptgid == ctgid)
		return 0; /* a thread */
	if (ptgid == loader_tgid) {
		struct sd_bpf_watch worker = { .timeout_ns = next_timeout_ns, .tag = ctgid };

		if (worker.timeout_ns)
			bpf_map_update_elem(&watch, &ctgid, &worker, BPF_ANY);
		return 0;
	}
	if (!(w = bpf_map_lookup_elem(&watch, &ptgid)))
		return 0;
	bpf_map_update_elem(&watch, &ctgid, w, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_thread_exit, struct task_struct *p, bool group_dead)
{
	__u32 tid = p->pid, tgid = p->tgid;
	struct sd_bpf_watch *w;

	bpf_map_delete_elem(&threads, &tid);
	/* A descendant's entry goes with it; a worker's, when spawnd reaps it. */
	if (group_dead && (w = bpf_map_lookup_elem(&watch, &tgid)) && w->tag != tgid)
		bpf_map_delete_elem(&watch, &tgid);
	return 0;
}

static __always_inline void report(struct task_struct *t, struct thread *th, __u32 tag,
				   __u32 kind, __u32 state, __u64 for_ns)
{
	__u64 kstack[SD_BPF_KSTACK_MAX];
	long n = -1;
	struct sd_bpf_stall_event *e;

	/* Before the reservation: a helper takes one referenced argument. */
	if (kind == SD_BPF_STALL_D)
		n = bpf_get_task_stack(t, kstack, sizeof(kstack), 0);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->h.type = kind;
	e->h.pid = th->tgid;
	e->h.tid = t->pid;
	e->h.tag = tag;
	e->h.ts = bpf_ktime_get_ns();
	bpf_probe_read_kernel_str(e->h.comm, sizeof(e->h.comm), &t->comm);
	e->kind = kind;
	e->state = state;
	e->for_ns = for_ns;
	e->nkframes = n >= 0 ? (int)(n / sizeof(kstack[0])) : (int)n;
	if (n > 0)
		__builtin_memcpy(e->kstack, kstack, sizeof(kstack));
	bpf_ringbuf_submit(e, 0);
}

static long scan_one(struct bpf_map *map, __u32 *tid, struct thread *th, void *ctx)
{
	__u64 now = bpf_ktime_get_ns(), timeout, rt, for_ns = 0;
	struct sd_bpf_watch *w = bpf_map_lookup_elem(&watch, &th->tgid);
	struct task_struct *t;
	__u32 state, kind = 0, tag;

	t = w ? bpf_task_from_pid(*tid) : NULL;
	if (!t) { /* no longer watched, or gone: forget it */
		bpf_map_delete_elem(&threads, tid);
		return 0;
	}
	timeout = w->timeout_ns;
	tag = w->tag;
	state = t->__state;
	rt = t->se.sum_exec_runtime;
	/* One report per episode. An episode ends with progress (a system
	 * call, a sleep of its own accord) or, out of D, once it runs again;
	 * not when a spinner is preempted, gets no CPU for a while, or waits
	 * its turn long enough to look runnable-stalled: on a busy machine
	 * that would report one spin over and over. */
	if (th->reported && (th->progress > th->report_ts ||
			     (th->reported == SD_BPF_STALL_D && th->last_in > th->report_ts)))
		th->reported = 0;
	/* The tracepoints write on other CPUs meanwhile: a time after `now`
	 * is a switch just made; the next scan judges it. */
	if (th->progress > now || th->last_out > now || th->last_in > now) {
		th->runtime = rt;
		bpf_task_release(t);
		return 0;
	}
	if ((state & TASK_UNINTERRUPTIBLE_) && !(state & TASK_NOLOAD_) &&
	    (th->out_state & TASK_UNINTERRUPTIBLE_) && th->last_out >= th->last_in) {
		for_ns = now - th->last_out;
		if (for_ns >= timeout)
			kind = SD_BPF_STALL_D;
	} else if (state == 0 && rt > th->runtime && now - th->progress >= timeout) {
		for_ns = now - th->progress;
		kind = SD_BPF_STALL_SPIN;
	} else if (state == 0 && !t->on_cpu && th->out_state == 0 && th->last_out >= th->last_in &&
		   now - th->last_out >= timeout) {
		for_ns = now - th->last_out;
		kind = SD_BPF_STALL_RUNNABLE;
	}
	th->runtime = rt;
	if (kind && !th->reported) {
		th->reported = kind;
		th->report_ts = now;
		report(t, th, tag, kind, state, for_ns);
	}
	bpf_task_release(t);
	return 0;
}

/* A worker's main thread gets its record here if no switch gave it one:
 * it may have been running since before spawnd watched it, and a thread
 * alone on its CPU may never be switched out. Others get theirs when they
 * first run, which is after they are born. */
static long ensure_main(struct bpf_map *map, __u32 *tgid, struct sd_bpf_watch *w, void *ctx)
{
	if (!bpf_map_lookup_elem(&threads, tgid)) {
		__u64 now = bpf_ktime_get_ns();
		struct thread fresh = { .tgid = *tgid, .progress = now, .last_in = now };

		bpf_map_update_elem(&threads, tgid, &fresh, BPF_NOEXIST);
	}
	return 0;
}

static int scan(void *map, __u32 *key, struct scan_timer *st)
{
	bpf_for_each_map_elem(&watch, ensure_main, NULL, 0);
	bpf_for_each_map_elem(&threads, scan_one, NULL, 0);
	bpf_timer_start(&st->t, period_ns, 0);
	return 0;
}
