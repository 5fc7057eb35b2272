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
#include <sys/socket.h>
#include <sys/types.h>

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
	unsigned sandbox;    /* 0: none; else GP_SANDBOX_ON | what stays allowed (gp_sandbox(7)) */
	uint64_t reserved[8];
};

/* The sandbox: set once in gp_config, locked before the first process runs,
 * never widened. With GP_SANDBOX_ON alone the program keeps I/O on the
 * descriptors it has, and nothing more: no files opened, no sockets made,
 * no threads, no exec, no new io_uring. */
#define GP_SANDBOX_ON       (1u << 0)
#define GP_SANDBOX_NET      (1u << 1) /* make sockets, connect, bind, listen */
#define GP_SANDBOX_FILES_RO (1u << 2) /* open files to read */
#define GP_SANDBOX_FILES    (1u << 3) /* open, create and remove files */
#define GP_SANDBOX_KILL     (1u << 4) /* a forbidden system call kills the program (SIGSYS)
					 rather than failing with EPERM */

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

/* ---- I/O that blocks only the calling process (gp_read(3)) ------------------------
 * Done through the io_uring of the caller's scheduler. Descriptors made by
 * gp_accept, gp_socket and gp_openat are close-on-exec and owned by the
 * caller: closed at its exit, however it exits.
 */
struct iovec;

ssize_t gp_read(int fd, void *buf, size_t len);
ssize_t gp_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t gp_recv(int fd, void *buf, size_t len, int flags);
ssize_t gp_write(int fd, const void *buf, size_t len); /* all of it, or an error */
int gp_accept(int fd, struct sockaddr *addr, socklen_t *addrlen); /* the new fd */
int gp_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
int gp_socket(int domain, int type, int protocol);
int gp_openat(int dirfd, const char *path, int flags, mode_t mode);
int gp_close(int fd);
int gp_fsync(int fd);
int gp_poll(int fd, short events, int timeout_ms); /* the events, or 0 on timeout */
int gp_io_timeout(int ms); /* the caller's deadline for each blocking call; -1: none */
/* Hand a descriptor over: the giver disowns it, the taker owns it (so that
 * the right process closes it at its exit). -ENOENT: not the caller's. */
int gp_own(int fd);
int gp_disown(int fd);
/* fn(arg) when the caller exits, however it exits; the last registered first. */
int gp_atexit(void (*fn)(void *arg), void *arg);

/* ---- in-process supervisors (gp_supervisor(3)) ------------------------------------
 * OTP's supervisors inside a program, with the same restart engine as spawnd
 * (supervisor/strategy.c): one rule book for OS processes and green ones.
 */

enum gp_strategy {
	GP_ONE_FOR_ONE,
	GP_ONE_FOR_ALL,
	GP_REST_FOR_ONE,
	GP_SIMPLE_ONE_FOR_ONE, /* dynamic children of one spec: gp_supervisor_start_child */
};

enum gp_restart {
	GP_PERMANENT, /* always restarted */
	GP_TRANSIENT, /* restarted unless it exited with GP_EXIT_NORMAL or GP_EXIT_SHUTDOWN */
	GP_TEMPORARY, /* never restarted */
};

#define GP_SHUTDOWN_BRUTAL   0  /* gp_kill(GP_EXIT_KILL) at once */
#define GP_SHUTDOWN_INFINITY (-1) /* wait for it however long (the default for supervisors) */

struct gp_child_spec {
	const char *name;          /* shown by ptop and in logs; may be NULL */
	gp_fn start;               /* runs as the child; its return is a normal exit */
	void *arg;                 /* simple_one_for_one: replaced by start_child's arg */
	enum gp_restart restart;
	int shutdown_ms;           /* GP_EXIT_SHUTDOWN, then GP_EXIT_KILL after this long;
				      0 is GP_SHUTDOWN_BRUTAL: use 1 for "at once, but politely" */
	bool is_supervisor;        /* start is itself a supervisor: default shutdown infinity */
	size_t stack_size;         /* 0: the runtime's default */
	uint64_t reserved[4];
};

struct gp_sup_spec {
	const char *name;          /* the supervisor's own process name; may be NULL */
	enum gp_strategy strategy; /* default (0): one_for_one */
	unsigned intensity;        /* more than this many restarts... (0: none allowed) */
	unsigned period_ms;        /* ...within this long, and it gives up (0: 5000) */
	const struct gp_child_spec *children; /* in start order; simple_one_for_one: exactly one */
	size_t nchildren;
	size_t max_children;       /* simple_one_for_one: most at once (0: 65536) */
	uint64_t reserved[4];
};

/*
 * Start a supervisor process, linked to the caller, and return once every
 * child has started (in order; a child has started once its process is
 * spawned: there is no readiness protocol).
 * The supervisor traps exits and is linked to its children; when its
 * intensity is exceeded it stops them all (in reverse order) and exits
 * with GP_EXIT_SHUTDOWN, which its own supervisor handles like any death.
 * spec is copied. -EINVAL for a bad spec.
 */
int gp_supervisor_start(gp_pid *ret_pid, const struct gp_sup_spec *spec);
/* The same, in the calling process, which becomes the supervisor: what the
 * start function of a child with is_supervisor calls. Returns only if the
 * supervisor could not start (its children are all down again). */
int gp_supervisor_run(const struct gp_sup_spec *spec);
/* simple_one_for_one: start a child with arg; -ENOSPC past max_children,
 * -ESRCH if sup is gone, -EINVAL if sup is not simple_one_for_one. */
int gp_supervisor_start_child(gp_pid sup, void *arg, gp_pid *ret_pid);
/* Stop a child (its shutdown) and forget it (simple_one_for_one) or keep it
 * down until gp_supervisor_restart_child; -ENOENT if it is not sup's child. */
int gp_supervisor_terminate_child(gp_pid sup, gp_pid child);
/* Start again a child that was terminated (by its index in the spec). */
int gp_supervisor_restart_child(gp_pid sup, size_t index, gp_pid *ret_pid);
/* The current pid of the child at index (0 if it is not running). */
int gp_supervisor_which_child(gp_pid sup, size_t index, gp_pid *ret_pid);

#ifdef __cplusplus
}
#endif

#endif /* GP_H */
