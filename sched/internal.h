/* SPDX-License-Identifier: MIT */
/*
 * libgp's private types, shared by the files of sched/. Nothing here is part
 * of the ABI. Internal functions shared across files are gpi_*; everything
 * else is static.
 *
 * Ownership in one paragraph: a process (struct gp_proc) is owned by whoever
 * holds the right to run it. While RUNNING, the scheduler thread running it;
 * while RUNNABLE, the run queue it sits in; while WAITING, nobody: the first
 * waker to win the CAS on its state word takes it and must queue it. Its
 * links and monitors are the exception: other processes change them, under
 * its spinlock.
 */
#ifndef GP_INTERNAL_H
#define GP_INTERNAL_H

#include <liburing.h>
#include <pthread.h>
#include <stdalign.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <time.h>

#include "gp.h"
#include "lock.h"
#include "sanitizer.h"

#define GP_CACHELINE 64
#define likely(x)    __builtin_expect(!!(x), 1)
#define unlikely(x)  __builtin_expect(!!(x), 0)
#define __cold       __attribute__((cold))
#define GP_HIDDEN    __attribute__((visibility("hidden")))

#define gp_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- pids ---------------------------------------------------------------
 * bits  0..23  slot in the process table
 * bits 24..55  generation of that slot (never 0, so no pid is 0)
 * bits 56..63  node (0: this OS process; reserved for distribution)
 */
#define GP_PID_SLOT_BITS 24
#define GP_PID_GEN_BITS  32
#define GP_MAX_SLOTS     (1u << GP_PID_SLOT_BITS)

static inline uint32_t gp_pid_slot(gp_pid pid)
{
	return (uint32_t)(pid & (GP_MAX_SLOTS - 1));
}

static inline uint32_t gp_pid_node(gp_pid pid)
{
	return (uint32_t)(pid >> (GP_PID_SLOT_BITS + GP_PID_GEN_BITS));
}

static inline gp_pid gp_pid_make(uint32_t slot, uint32_t gen)
{
	return (gp_pid)slot | ((gp_pid)gen << GP_PID_SLOT_BITS);
}

/* ---- contexts ------------------------------------------------------------ */

struct gp_ctx {
	void *sp; /* saved stack pointer of a suspended context */
#ifdef GP_SANITIZE
	const void *stack_lo; /* bounds, for ASan's fiber API */
	size_t stack_size;
	void *tsan_fiber;
#endif
};

void *gp_ctx_switch(struct gp_ctx *from, struct gp_ctx *to, void *val) GP_HIDDEN;
void gp_ctx_trampoline(void) GP_HIDDEN;

/* Build a first frame at the top of [lo, lo+size) that enters entry(val). */
void gpi_ctx_init(struct gp_ctx *ctx, void *lo, size_t size, void (*entry)(void *)) GP_HIDDEN;

/* ---- process state --------------------------------------------------------
 * The state word (64 bits, atomic): [63:32] wait sequence, [15:8] what may
 * end the current wait, [7:0] the state. The sequence grows with each wait so
 * that a stale timer cannot end a later wait (its CAS fails).
 */
enum {
	GP_S_FREE = 0,
	GP_S_RUNNABLE = 1, /* in a run queue; the queue owns it */
	GP_S_RUNNING = 2,  /* executing, or being switched out */
	GP_S_WAITING = 3,  /* parked: the first waker to CAS it owns it */
	GP_S_DEAD = 4,
	GP_S_MASK = 0xff,
};

enum {
	GP_W_MSG = 1u << 8,   /* a message (or an exit signal as message) */
	GP_W_TIMER = 1u << 9, /* its deadline */
	GP_W_IO = 1u << 10,   /* the completion of its I/O operation */
	GP_W_KILL = 1u << 11, /* a kill, in a wait that nothing else ends */
	/* kill: ends any wait but one for a cancelled operation's completion
	 * (the kernel still owns its buffers: see io.c) */
	GP_W_ANY = GP_W_MSG | GP_W_TIMER | GP_W_KILL,
};

#define GP_STATE_SEQ(st) ((st) >> 32)

/* flags: written only by the process's owner (see top of file) */
enum {
	GP_PF_SYSTEM = 1u << 0,     /* a runtime process: not counted for gp_main's return */
	GP_PF_NOSTACK = 1u << 1,    /* new or hibernated: gets a fresh stack when it runs */
	GP_PF_TIMED_OUT = 1u << 2,  /* its last wait ended by its deadline */
	GP_PF_OVERFLOWED = 1u << 3, /* died of stack overflow: its stack is all dirty */
	GP_PF_HIBERNATED = 1u << 4, /* its next run restarts gp_hibernate's fn */
};

/* ---- messages ---------------------------------------------------------------
 * One allocation per message: this header, then the payload. While queued,
 * next links it in the mailbox; once received, next/prev link it in the
 * receiver's list of held memory (see struct gp_held) so that it is freed at
 * the receiver's exit if the receiver never frees it.
 */
struct gp_held {
	struct gp_held *next, *prev;
};

struct gp_mnode {
	union {
		struct gp_held held;   /* once received */
		struct gp_mnode *next; /* while queued */
	};
	gp_pid to; /* the pid it was sent to: a reused slot drops stale mail */
	gp_pid from;
	uint32_t tag;
	uint32_t len;
	_Alignas(16) unsigned char data[];
};

/* ---- I/O (io.c) --------------------------------------------------------------
 * An operation in flight: on the stack of the process that waits for it,
 * the kernel's (with the buffer) until its completion sets done.
 */
struct gp_io {
	struct gp_proc *proc;
	struct gp_sched *sched;   /* whose ring has it */
	_Atomic int done;         /* set by sched once the completion came */
	int res;
	struct gp_io *cancel_next; /* in sched->io_cancels */
};

#define GP_UD_IGNORE 3 /* user_data of SQEs whose completions need nothing */

struct gp_atexit {
	void (*fn)(void *arg);
	void *arg;
};

/* ---- links and monitors ---------------------------------------------------- */

struct gp_pidvec {
	gp_pid *v;
	uint32_t len, cap;
};

struct gp_mon {
	uint64_t ref;
	gp_pid pid; /* the watcher (in monitored_by) or the target (in monitors) */
};

struct gp_monvec {
	struct gp_mon *v;
	uint32_t len, cap;
};

/* ---- the process control block ------------------------------------------- */

struct gp_sched;

struct gp_proc {
	/* Scheduling. Written by the owner (see the top of this file). */
	struct gp_ctx ctx;
	_Atomic uint64_t state; /* GP_S_* | GP_W_* | seq << 32 */
	_Atomic gp_pid pid;     /* the slot's current pid; changes only at reuse */
	uint32_t flags;         /* GP_PF_* */
	uint32_t stack_class;   /* index into the stack pool's classes */
	void *stack_lo;         /* usable stack [stack_lo, stack_lo + size); NULL: none */
	struct gp_proc *rq_next; /* link in the global run queue */
	gp_fn fn;               /* entry point, or where a hibernated process restarts */
	void *arg;
	uint64_t reductions;    /* total, for introspection */
	unsigned last_sched;    /* the scheduler it last ran on */

	/* Mailbox. inbox: senders push (LIFO, lock-free); the owner takes it all
	 * at once and appends it, reversed, to mq (arrival order). */
	_Atomic(struct gp_mnode *) inbox;
	struct gp_mnode *mq_head, *mq_tail;
	uint32_t mq_len;

	/* Exit. kill_reason: -1, or the reason a killer set (under lock). */
	_Atomic int kill_reason;
	int exit_reason;

	/* Owned memory: received messages not yet freed, and gp_alloc blocks. */
	struct gp_held held;
	size_t heap_bytes;

	/* Timer (see timer.c): protected by the lock of timer_sched's heap. */
	uint64_t deadline;
	struct gp_sched *timer_sched;
	int32_t timer_idx;

	/* Links, monitors and the trap flag: under lock, changed by others. */
	struct gp_spinlock lock;
	_Atomic bool exiting; /* set under lock: no new links or monitors; read freely */
	bool trap_exit; /* under lock */
	struct gp_pidvec links;
	struct gp_monvec monitored_by; /* who watches me: (ref, watcher) */
	struct gp_monvec monitors;     /* owner only: what I watch: (ref, target) */

	/* From gp_spawn_opts, owned; freed after the exit switch under the
	 * runtime's name_lock, which the stall monitor holds to copy it. */
	_Atomic(char *) name;
	char *reg_name; /* registered name: under the registry lock */

	/* I/O: owner only (the process itself), but io, which the parker
	 * reads to re-check a completion that raced with its park. */
	struct gp_io *_Atomic io; /* the operation it waits for, or NULL */
	int io_timeout_ms;        /* -1: none */
	int *fds;                 /* descriptors it owns: closed at its exit */
	uint32_t nfds, capfds;
	struct gp_atexit *atexit; /* gp_atexit handlers, run last first */
	uint32_t natexit, capatexit;
};

/* ---- run queues ------------------------------------------------------------ */

#define GP_RUNQ_SIZE 256

/*
 * A scheduler's local run queue (Go's design): a fixed ring. Only the owner
 * pushes (tail, store-release); the owner and stealers take from the head
 * with a CAS. On overflow, half moves to the global queue.
 */
struct gp_runq {
	_Atomic uint32_t head;
	_Atomic uint32_t tail;
	_Atomic(struct gp_proc *) buf[GP_RUNQ_SIZE];
};

/* ---- timers ------------------------------------------------------------------ */

struct gp_timer {
	uint64_t deadline;
	uint64_t expect; /* the process's state word when the wait began */
	struct gp_proc *proc;
};

struct gp_timer_heap {
	struct gp_spinlock lock; /* the owner pops; a migrated process removes its own */
	struct gp_timer *v;
	uint32_t len, cap;
	_Atomic uint32_t pending; /* len, readable without the lock */
};

/* ---- stacks ------------------------------------------------------------------ */

#define GP_STACK_CLASSES 10 /* 16 KiB .. 8 MiB usable */
#define GP_STACK_MIN     (16u << 10)
#define GP_STACK_CACHE   64 /* per scheduler and class */
#define GP_GUARD_SIZE    (16u << 10)

struct gp_stack_cache {
	void *v[GP_STACK_CACHE];
	uint32_t n;
};

/* ---- schedulers -------------------------------------------------------------- */

enum gp_action {
	GP_ACT_NONE,
	GP_ACT_PARK,      /* publish the wait, then re-check its wake conditions */
	GP_ACT_YIELD,     /* queue it at the tail */
	GP_ACT_EXIT,      /* free its stack and slot */
	GP_ACT_HIBERNATE, /* free its stack, then park */
};

struct gp_runtime;

struct gp_sched {
	/* Read-only after start. */
	struct gp_runtime *rt;
	unsigned id;
	struct io_uring ring;
	int ring_fd;
	pthread_t thread;
	clockid_t cpu_clock; /* the thread's CPU time, for the stall monitor */
	void *altstack;    /* sigaltstack for fault handling */
	stack_t old_altstack;
	void *rescue;      /* where a process that overflowed its stack dies */
	size_t rescue_size;

	/* Owner thread only. */
	struct gp_proc *current; /* the running process, NULL in the loop */
	struct gp_proc *prev;    /* handed from the switcher to gpi_finish_switch */
	enum gp_action prev_action;
	uint32_t park_wake;      /* GP_W_* for GP_ACT_PARK */
	struct gp_ctx loop_ctx;  /* the scheduler loop on the thread's own stack */
	uint32_t budget;         /* reductions left in this time slice */
	uint32_t tick;           /* picks, for the periodic global-queue and poll visits */
	bool spinning;
	uint32_t rand;
	uint32_t slot_cache[64];
	uint32_t nslots;
	struct gp_stack_cache stacks[GP_STACK_CLASSES];
	/* Stacks this scheduler took minus those it gave back (it may go below
	 * zero: a process can exit elsewhere); the sum over schedulers is the
	 * number in use. Owner writes, gp_stats reads. */
	_Atomic int64_t stacks_taken;
	struct gp_mnode *msg_cache; /* free small message nodes */
	uint32_t nmsg_cache;
	_Atomic uint64_t spawned; /* owner writes, gp_stats reads */
	uint32_t io_ticks;        /* picks since the last submission of I/O */
	_Atomic uint64_t steals;
	/* Operations processes prepared on this ring, and their completions
	 * reaped: owner writes (load + store, no RMW), introspection reads. */
	_Atomic uint64_t io_submitted;
	_Atomic uint64_t io_completed;

	/* Shared with stealers. */
	alignas(GP_CACHELINE) struct gp_runq runq;
	_Atomic(struct gp_proc *) runnext; /* runs next, inherits the time slice */

	/* Shared with wakers and the stall monitor. */
	alignas(GP_CACHELINE) _Atomic uint32_t sleeping; /* 1: in io_uring_enter, wake me */
	_Atomic uint32_t stalled;                        /* set by the monitor */
	_Atomic uint64_t stall_start_ns; /* the monitor: when the stalled process last made
					    progress (CLOCK_MONOTONIC), with stalled; 0: unknown */
	_Atomic uint64_t switches;                       /* written by the owner only */
	_Atomic uint64_t slices;                         /* time slices renewed in place */
	_Atomic(struct gp_proc *) running;               /* for the monitor; owner writes */

	alignas(GP_CACHELINE) struct gp_timer_heap timers;

	/* Cancels for operations on this ring, pushed by processes that run
	 * elsewhere now (only the owner may submit). */
	alignas(GP_CACHELINE) _Atomic(struct gp_io *) io_cancels;
};

/* ---- the runtime -------------------------------------------------------------- */

struct gp_stack_class {
	pthread_mutex_t lock;
	size_t usable, stride; /* stride = guard + usable */
	void **free;           /* warm stacks returned by schedulers */
	size_t nfree, cap;
	char *region;          /* the region stacks are carved from */
	size_t region_len, carved;
	struct {
		void *addr;
		size_t len;
	} *regions;
	size_t nregions;
	_Atomic uint64_t mapped;
};

struct gp_runtime {
	struct gp_config config;
	size_t page;
	unsigned nsched;
	struct gp_sched **sched;

	/* Processes. */
	struct gp_proc *procs; /* GP_MAX_SLOTS entries, reserved, faulted on use */
	uint32_t max_procs;
	_Atomic uint32_t next_slot; /* never-used slots start here */
	pthread_mutex_t slot_lock;
	uint32_t *free_slots;
	size_t nfree_slots, cap_free_slots;
	_Atomic int64_t live;       /* the program's processes alive */
	_Atomic int64_t procs_live; /* all processes alive, system ones included */
	pthread_mutex_t system_lock;
	struct gp_pidvec system;    /* the runtime's own processes (GP_PF_SYSTEM) */
	_Atomic uint64_t next_ref;

	/* The global run queue. */
	pthread_mutex_t gq_lock;
	struct gp_proc *gq_head, *gq_tail;
	_Atomic uint32_t gq_len;

	_Atomic uint32_t threads_ready; /* scheduler threads done with their start */
	_Atomic uint32_t monitor_ready; /* the stall monitor's thread runs */

	/* Idle schedulers. */
	_Atomic uint32_t nsleeping;
	_Atomic uint32_t nspinning;
	_Atomic uint32_t shutdown;

	/* Stacks. */
	struct gp_stack_class stacks[GP_STACK_CLASSES];
	unsigned default_class;
	int self_pidfd;      /* for process_madvise batches; -1: one madvise per stack */
	bool guard_madvise;  /* MADV_GUARD_INSTALL works; else mprotect guards */

	/* Registered names. */
	pthread_mutex_t reg_lock;
	struct gp_regent **reg_table;
	size_t reg_cap, reg_len;

	/* The stall monitor. */
	pthread_t monitor;
	bool monitor_started;
	_Atomic uint32_t monitor_gate; /* futex: the monitor parks here when all is idle */
	_Atomic uint32_t monitor_parked;
	struct io_uring monitor_ring;
	bool monitor_ring_ok;
	_Atomic uint64_t stalls;
	struct gp_spinlock name_lock; /* see gp_proc.name */

	/* Introspection (introspect.c): the socket; NULL if off. Set before
	 * the first process, cleared after the last. */
	struct gp_introspect *introspect;
};

extern struct gp_runtime *_Atomic gpi_rt GP_HIDDEN;

/* ---- shared internals ---------------------------------------------------------- */

/* sched.c */
/* probe.c: the scheduler's entry in gp_probe_table (gp_probe.h), and its
 * thread's name, gp-sched-<id> (name_thread: not the program's main thread). */
void gpi_probe_register(struct gp_sched *s, bool name_thread) GP_HIDDEN;

extern __thread struct gp_sched *gpi_tls __attribute__((tls_model("initial-exec"))) GP_HIDDEN;
struct gp_sched *gpi_tls_sched(void) GP_HIDDEN;

/*
 * The caller's process and scheduler. Call it on entry to an API function
 * only: a process may resume on another thread after anything that can
 * switch, and from there on the scheduler to use is the one the switch
 * returned (or gpi_tls_sched(), which is never inlined).
 */
static inline struct gp_proc *gpi_current(struct gp_sched **ret_sched)
{
	struct gp_sched *s = gpi_tls;

	*ret_sched = s;
	return s ? s->current : NULL;
}
struct gp_sched *gpi_switch_out(struct gp_sched *s, struct gp_proc *p, enum gp_action action) GP_HIDDEN;
struct gp_sched *gpi_park(struct gp_sched *s, struct gp_proc *p, uint32_t wake, uint64_t deadline) GP_HIDDEN;
void gpi_finish_switch(struct gp_sched *s) GP_HIDDEN;
void gpi_make_runnable(struct gp_sched *s, struct gp_proc *p, bool next) GP_HIDDEN;
void gpi_make_runnable_fifo(struct gp_sched *s, struct gp_proc *p) GP_HIDDEN;
void gpi_wake_proc(struct gp_sched *s, struct gp_proc *p, uint32_t why) GP_HIDDEN;
void gpi_sched_loop(struct gp_sched *s) GP_HIDDEN;
void gpi_wake_idle(struct gp_sched *s) GP_HIDDEN;
bool gpi_claim_sleeper(struct gp_sched *t) GP_HIDDEN;
void gpi_wake_sched(struct io_uring *from, struct gp_sched *to) GP_HIDDEN;
int gpi_sched_init(struct gp_runtime *rt, struct gp_sched *s, unsigned id) __cold GP_HIDDEN;
int gpi_sched_start(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_sched_stop_main(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_sched_start_threads(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_sched_wait_threads(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_sched_run_main(struct gp_runtime *rt) GP_HIDDEN;
void gpi_wake_all(struct gp_sched *s) GP_HIDDEN;
void gpi_sched_destroy(struct gp_sched *s) __cold GP_HIDDEN;
void gpi_preempt(struct gp_sched *s, struct gp_proc *p) GP_HIDDEN;

static inline uint64_t gpi_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* proc.c */
int gpi_spawn(struct gp_sched *s, struct gp_proc *parent, gp_pid *ret_pid, gp_fn fn, void *arg,
	      const struct gp_spawn_opts *opts, uint32_t pflags) GP_HIDDEN;
noreturn void gpi_proc_exit(struct gp_sched *s, struct gp_proc *p, int reason) GP_HIDDEN;
void gpi_proc_entry(void *transfer) GP_HIDDEN;
void gpi_proc_release(struct gp_sched *s, struct gp_proc *p) GP_HIDDEN;
int gpi_proctab_init(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_proctab_destroy(struct gp_runtime *rt) __cold GP_HIDDEN;
int gpi_pidvec_add(struct gp_pidvec *vec, gp_pid pid) GP_HIDDEN;
int gpi_monvec_add(struct gp_monvec *vec, uint64_t ref, gp_pid pid) GP_HIDDEN;

/* link.c */
int gpi_exit_signal(struct gp_sched *s, gp_pid to, gp_pid from, int reason) GP_HIDDEN;
void gpi_exit_signal_links(struct gp_sched *s, struct gp_proc *p, struct gp_pidvec *links,
			   int reason) GP_HIDDEN;
void gpi_monitors_release(struct gp_sched *s, struct gp_proc *p) GP_HIDDEN;
bool gpi_monitor_held(struct gp_proc *p, uint64_t ref, bool consume) GP_HIDDEN;

/* mailbox.c */
struct gp_mnode *gpi_msg_new(struct gp_sched *s, gp_pid to, gp_pid from, uint32_t tag,
			     const void *data, size_t len) GP_HIDDEN;
void gpi_msg_free(struct gp_sched *s, struct gp_mnode *m) GP_HIDDEN;
void gpi_msg_cache_destroy(struct gp_sched *s) __cold GP_HIDDEN;
void gpi_mailbox_push(struct gp_proc *p, struct gp_mnode *m) GP_HIDDEN;
void gpi_deliver(struct gp_sched *s, struct gp_proc *q, struct gp_mnode *m) GP_HIDDEN;
void gpi_mailbox_take(struct gp_proc *p) GP_HIDDEN;
void gpi_mailbox_free_all(struct gp_proc *p) GP_HIDDEN;
void gpi_mailbox_drop_stale(struct gp_proc *p) GP_HIDDEN;
void gpi_mailbox_flush(struct gp_proc *p, bool (*match)(const struct gp_mnode *m, const void *ctx),
		       const void *ctx) GP_HIDDEN;
int gpi_send_system(struct gp_sched *s, gp_pid to, gp_pid from, uint32_t tag,
		    const struct gp_exit_info *info) GP_HIDDEN;

/* io.c */
void gpi_io_complete(struct gp_sched *s, struct io_uring_cqe *cqe) GP_HIDDEN;
void gpi_io_cancels(struct gp_sched *s) GP_HIDDEN;
void gpi_io_exit(struct gp_proc *p) GP_HIDDEN;
/* Submit the operation in sqe (from s's ring, user_data unset) and wait. */
int gpi_io_wait(struct gp_sched *s, struct gp_proc *p, struct io_uring_sqe *sqe) GP_HIDDEN;

/* sandbox.c */
int gpi_sandbox_ring(const struct gp_runtime *rt, int ring_fd) __cold GP_HIDDEN;
int gpi_sandbox_lock(const struct gp_runtime *rt) __cold GP_HIDDEN;
bool gpi_sandbox_ring_opens(const struct gp_runtime *rt) GP_HIDDEN;

/* heap.c */
void gpi_held_free_all(struct gp_proc *p) GP_HIDDEN;

/* stack.c */
int gpi_stacks_init(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_stacks_destroy(struct gp_runtime *rt) __cold GP_HIDDEN;
int gpi_stack_class_for(struct gp_runtime *rt, size_t size) GP_HIDDEN;
void *gpi_stack_alloc(struct gp_sched *s, unsigned cls) GP_HIDDEN;
void gpi_stack_free(struct gp_sched *s, unsigned cls, void *lo, bool dirty) GP_HIDDEN;
void gpi_stack_cache_flush(struct gp_sched *s) __cold GP_HIDDEN;
size_t gpi_stack_size(struct gp_runtime *rt, unsigned cls) GP_HIDDEN;

/* timer.c */
int gpi_timer_add(struct gp_sched *s, struct gp_proc *p, uint64_t deadline, uint64_t expect) GP_HIDDEN;
void gpi_timer_cancel(struct gp_proc *p) GP_HIDDEN;
uint64_t gpi_timer_fire(struct gp_sched *s, struct gp_sched *runner, uint64_t now) GP_HIDDEN;
uint64_t gpi_timer_next(struct gp_sched *s) GP_HIDDEN;
void gpi_timers_destroy(struct gp_sched *s) __cold GP_HIDDEN;
uint64_t gpi_deadline_after_ms(int ms) GP_HIDDEN;

/* fault.c */
int gpi_fault_install(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_fault_restore(void) __cold GP_HIDDEN;
int gpi_fault_thread_init(struct gp_sched *s) __cold GP_HIDDEN;
void gpi_fault_thread_fini(struct gp_sched *s) __cold GP_HIDDEN;
void gpi_overflow_rescue(void) GP_HIDDEN;

/* registry.c */
int gpi_registry_init(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_registry_destroy(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_registry_remove_proc(struct gp_runtime *rt, struct gp_proc *p) GP_HIDDEN;

/* stall.c */
int gpi_monitor_start(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_monitor_stop(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_monitor_poke(struct gp_runtime *rt) GP_HIDDEN;

/* introspect.c */
void gpi_introspect_start(struct gp_runtime *rt) __cold GP_HIDDEN;
void gpi_introspect_stop(struct gp_runtime *rt) __cold GP_HIDDEN;

/* fault.c: async-signal-safe formatting, for reports written with write(2) */
size_t gpi_fmt_pid(char *buf, size_t size, gp_pid pid) GP_HIDDEN;
void gpi_report(const char *const *parts, size_t n) GP_HIDDEN;
char *gpi_fmt_u64(char *end, uint64_t v) GP_HIDDEN;

/* ---- hot paths, inlined everywhere ---------------------------------------------- */

static inline void gpi_held_add(struct gp_proc *p, struct gp_held *h)
{
	h->next = p->held.next;
	h->prev = &p->held;
	p->held.next->prev = h;
	p->held.next = h;
}

static inline struct gp_proc *gpi_proc_lookup(struct gp_runtime *rt, gp_pid pid)
{
	uint32_t slot = gp_pid_slot(pid);
	struct gp_proc *p;

	if (gp_pid_node(pid) || slot >= rt->max_procs ||
	    slot >= atomic_load_explicit(&rt->next_slot, memory_order_relaxed))
		return NULL;
	p = &rt->procs[slot];
	/* acquire: pairs with the release that published the pid at spawn */
	if (atomic_load_explicit(&p->pid, memory_order_acquire) != pid ||
	    atomic_load_explicit(&p->exiting, memory_order_relaxed))
		return NULL;
	return p;
}

static inline void gpi_check_kill(struct gp_sched *s, struct gp_proc *p)
{
	int reason = atomic_load_explicit(&p->kill_reason, memory_order_relaxed);

	if (unlikely(reason >= 0))
		gpi_proc_exit(s, p, reason);
}

static inline bool gpi_try_wake(struct gp_proc *p, uint32_t why)
{
	/* seq_cst: pairs with the parker's seq_cst publish-then-recheck (Dekker) */
	uint64_t st = atomic_load_explicit(&p->state, memory_order_seq_cst);

	while ((st & GP_S_MASK) == GP_S_WAITING && (st & why)) {
		uint64_t next = (st & ~(uint64_t)0xffffffff) | GP_S_RUNNABLE;

		/* acquire: the parked context was saved before it was published */
		if (atomic_compare_exchange_weak_explicit(&p->state, &st, next,
							  memory_order_seq_cst,
							  memory_order_seq_cst))
			return true;
	}
	return false;
}

static inline bool gpi_reductions(struct gp_sched *s, uint32_t n)
{
	if (likely(s->budget > n)) {
		s->budget -= n;
		return false;
	}
	s->budget = 0;
	return true;
}

#endif /* GP_INTERNAL_H */
