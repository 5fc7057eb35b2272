/* SPDX-License-Identifier: MIT */
/*
 * libgp: green processes for C.
 *
 * Erlang's process model on Linux: many cheap processes (own stack, private
 * heap, mailbox) on N scheduler threads, each driven by its own io_uring.
 * Processes share nothing and talk by copying messages; links and monitors
 * carry their deaths to those who care. See libgp(7).
 *
 * Conventions: every call that can fail returns 0 (or a count) on success and
 * a negative errno on failure, unless stated. Calls that need a current green
 * process return -EPERM outside one. Structs end with reserved space: zero it.
 */
#ifndef GP_H
#define GP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t gp_pid; /* 0 is never a pid; holds slot, generation, node */
typedef void (*gp_fn)(void *arg);

/* Runtime configuration; all-zero means defaults. */
struct gp_config {
	unsigned schedulers; /* 0: $GP_SCHEDULERS, else the CPUs this thread may run on */
	size_t stack_size;   /* 0: 64 KiB; usable bytes per process stack */
	unsigned stall_ms;   /* 0: 100; a process computing longer than this is reported */
	uint64_t reserved[8];
};

/*
 * Start the runtime, run first(arg) as a process, and return 0 once every
 * process the program started has exited (the runtime's own system processes
 * do not count). config may be NULL. -EBUSY if a runtime is already running in
 * this OS process; -EINVAL for a bad config; -ENOMEM, or the error of
 * io_uring_setup (-EPERM, -ENOSYS; -ENOSYS also without IORING_OP_MSG_RING)
 * if the runtime cannot be built.
 */
int gp_main(gp_fn first, void *arg, const struct gp_config *config);

#define GP_SPAWN_LINK    (1u << 0) /* link the new process to the caller, atomically */
#define GP_SPAWN_MONITOR (1u << 1) /* monitor it; the ref goes to *ret_monitor */

struct gp_spawn_opts {
	const char *name;      /* copied; shown by ptop and in crash reports */
	size_t stack_size;     /* 0: the runtime's default */
	unsigned flags;        /* GP_SPAWN_LINK, GP_SPAWN_MONITOR */
	uint64_t *ret_monitor; /* set with GP_SPAWN_MONITOR */
	uint64_t reserved[4];
};

gp_pid gp_spawn(gp_fn fn, void *arg); /* the new pid, or 0 with errno set */
int gp_spawn_opt(gp_pid *ret_pid, gp_fn fn, void *arg, const struct gp_spawn_opts *opts);
gp_pid gp_self(void); /* 0 outside a process */
void gp_yield(void);
_Noreturn void gp_exit(int reason);
int gp_kill(gp_pid pid, int reason); /* Erlang's exit/2 */

/*
 * Erlang's hibernate: drop the stack; when a message arrives the process
 * starts again at fn(arg) on a fresh stack, its mailbox, heap, links,
 * monitors and name intact.
 */
_Noreturn void gp_hibernate(gp_fn fn, void *arg);

/* Exit reasons. User reasons start at 256. */
#define GP_EXIT_NORMAL         0
#define GP_EXIT_KILL           1 /* cannot be trapped */
#define GP_EXIT_SHUTDOWN       2
#define GP_EXIT_NOPROC         3
#define GP_EXIT_STACK_OVERFLOW 4
#define GP_EXIT_KILLED         5 /* what links and monitors see when GP_EXIT_KILL ended a
				    process; trappable */
#define GP_EXIT_USER           256

struct gp_msg {
	gp_pid from;
	uint32_t tag; /* the sender's, below GP_TAG_SYSTEM */
	uint32_t len;
	void *data; /* the receiver's until gp_msg_free or its exit */
};

#define GP_MSG_MAX    (64u << 20) /* larger: -EMSGSIZE */
#define GP_TAG_SYSTEM 0xffff0000u
#define GP_TAG_EXIT   (GP_TAG_SYSTEM + 1) /* data: struct gp_exit_info */
#define GP_TAG_DOWN   (GP_TAG_SYSTEM + 2) /* data: struct gp_exit_info */

struct gp_exit_info {
	gp_pid pid;
	int reason;
	uint64_t ref; /* the monitor's ref for DOWN; 0 for EXIT */
};

int gp_send(gp_pid to, uint32_t tag, const void *data, size_t len);
int gp_receive(struct gp_msg *ret_msg, int timeout_ms); /* -1 forever, 0 poll; -ETIMEDOUT */
int gp_receive_match(struct gp_msg *ret_msg, bool (*match)(const struct gp_msg *msg, void *ctx),
		     void *ctx, int timeout_ms); /* selective receive */
void gp_msg_free(struct gp_msg *msg);

int gp_link(gp_pid pid);
int gp_unlink(gp_pid pid);
int gp_monitor(gp_pid pid, uint64_t *ret_ref); /* refs are never 0 */
int gp_demonitor(uint64_t ref);
int gp_trap_exit(bool on); /* the previous setting (0 or 1), or -EPERM */

#define GP_NAME_MAX 255
int gp_register(const char *name, gp_pid pid);
int gp_unregister(const char *name);
gp_pid gp_whereis(const char *name); /* 0 if none */

void *gp_alloc(size_t size); /* the process's own heap, freed at its exit; NULL + errno */
void gp_free(void *ptr);
int gp_sleep(int ms);

/* Additions beyond the core contract. */

/* The index (0..schedulers-1) of the scheduler running the caller; -EPERM outside. */
int gp_scheduler_id(void);

/* A consistent-enough view of the runtime, for tests, tools and tuning. */
struct gp_stats {
	unsigned schedulers;
	uint64_t processes;        /* live, system processes included */
	uint64_t spawned;          /* since gp_main started */
	uint64_t stacks_in_use;    /* one per process that has a stack */
	uint64_t stacks_cached;    /* free stacks kept warm for reuse */
	uint64_t stacks_mapped;    /* stacks carved from reserved memory so far */
	uint64_t context_switches; /* summed over schedulers */
	uint64_t steals;           /* processes taken from another scheduler */
	uint64_t stalls;           /* stall reports so far */
	uint64_t reserved[7];
};
int gp_stats(struct gp_stats *ret_stats); /* -EPERM outside a process, -EINVAL for NULL */

#ifdef __cplusplus
}
#endif

#endif /* GP_H */
