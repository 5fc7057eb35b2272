/* SPDX-License-Identifier: MIT */
/*
 * Launching a worker (see launch.h), the way posix_spawn does it:
 * clone(CLONE_VM | CLONE_VFORK). A fork would copy spawnd's page tables,
 * which grow with every worker, only for execve to throw them away: a
 * thousand workers started one after another took 2.7 s, 0.75 s this way
 * (without the probes; bench/supervise has the figures with them). The
 * child borrows spawnd's memory until execve, and spawnd's thread sleeps
 * until then. So:
 *
 *  - the child runs on a stack of its own (child_stack), writes nothing of
 *    spawnd's but the report in struct sd_launched, and calls only
 *    async-signal-safe functions;
 *  - spawnd installs no signal handlers (one would run in the child, on
 *    spawnd's memory): its signals come from a signalfd, and the child
 *    starts with them unblocked and at their defaults;
 *  - errno is spawnd's thread's: the child's failed system calls change it,
 *    so the parent reads errno right after clone fails, never after it
 *    succeeds;
 *  - glibc's clone() has no CLONE_INTO_CGROUP: the child writes itself into
 *    its cgroup v2 before execve, so it is there before it can fork;
 *  - the child shares spawnd's descriptor table (CLONE_FILES) until it
 *    trims it to the slots below (the descriptor slots).
 *
 * The price: spawnd waits while the child prepares and execs (a fraction of
 * a millisecond; a binary on a hung network file system would hold spawnd
 * until systemd's watchdog restarts it, as it would hold posix_spawn).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch.h"

/* The child's stack: deep enough for glibc's wrappers and the sanitizers'
 * interceptors; only the pages it touches become resident. Below it, a
 * guard page. One is enough: spawnd sleeps while a child uses it. */
#define CHILD_STACK (256 * 1024)

/* The child's code runs on a stack ASan does not know of, and never
 * returns: its instrumentation would only cry wolf there. */
#define CHILD_CODE __attribute__((no_sanitize_address))

/*
 * The descriptor slots. A child that copied spawnd's descriptor table
 * (three descriptors per worker) would have execve close the copies one by
 * one: per launch, 0.33 ms of CPU more with 3000 descriptors open than with
 * 10, 1 ms more with 10000, so that starting or restarting a worker slowed
 * with every worker there was. Instead the child shares the table and
 * trims it with close_range(slots_end, ~0U, CLOSE_RANGE_UNSHARE): a table
 * of its own holding only the descriptors below slots_end, the others left
 * untouched (the same per launch at any number of workers).
 *
 * So what the child keeps must be below slots_end: spawnd reserves the slots
 * as its lowest free descriptors when it starts (sd_launch_init, before the
 * rest), lends them to a launch (dup3 of the child's descriptors) and parks
 * them on /dev/null after, so that no pipe end of a child stays open in
 * spawnd. Owned by spawnd's one thread; the child only reads them.
 */
enum { SLOT_STDIN, SLOT_STDOUT, SLOT_STDERR, SLOT_READY, SLOT_IDLE, NSLOTS };
static int slots[NSLOTS] = { -1, -1, -1, -1, -1 };
static int slots_end; /* 0: not reserved yet */

static const char *const stage_names[] = {
	[SD_STAGE_DEATHSIG] = "prctl(PR_SET_PDEATHSIG)",
	[SD_STAGE_SETSID] = "setsid",
	[SD_STAGE_SIGNALS] = "sigprocmask",
	[SD_STAGE_CGROUP] = "joining its cgroups",
	[SD_STAGE_FDS] = "setting up file descriptors",
	[SD_STAGE_RLIMIT] = "setrlimit",
	[SD_STAGE_CHDIR] = "chdir",
	[SD_STAGE_SETGROUPS] = "setgroups",
	[SD_STAGE_SETGID] = "setgid",
	[SD_STAGE_SETUID] = "setuid",
	[SD_STAGE_NO_NEW_PRIVS] = "prctl(PR_SET_NO_NEW_PRIVS)",
	[SD_STAGE_SECCOMP] = "installing its seccomp filter",
	[SD_STAGE_EXECVE] = "execve",
};

const char *sd_stage_name(int stage)
{
	if (stage < 0 || (size_t)stage >= sizeof(stage_names) / sizeof(stage_names[0]))
		return "starting";
	return stage_names[stage];
}

/* In the child: report the error of the step it is at (out->exec.stage,
 * in spawnd's memory, read once the child has gone), then die. */
CHILD_CODE static _Noreturn void child_fail(struct sd_launched *out, int err)
{
	out->exec.err = err;
	_exit(127);
}

/* Give fd `src` the number `dst`, without close-on-exec. */
CHILD_CODE static int move_fd(int src, int dst)
{
	if (src == dst)
		return fcntl(dst, F_SETFD, 0);
	return dup2(src, dst) < 0 ? -1 : 0;
}

/* Mark every fd from `from` on close-on-exec, but `keep`. */
CHILD_CODE static int cloexec_from(int from, int keep)
{
	if (keep >= from) {
		if (keep > from &&
		    syscall(SYS_close_range, from, keep - 1, CLOSE_RANGE_CLOEXEC) < 0)
			return -1;
		from = keep + 1;
	}
	return (int)syscall(SYS_close_range, from, ~0u, CLOSE_RANGE_CLOEXEC);
}

struct child_args {
	const struct sd_launch *l;
	struct sd_launched *out;
	pid_t parent;
};

/* In the child: a descriptor table of its own, holding 0-2 and the ready fd
 * (from their slots), and nothing that stays open across execve but them. */
CHILD_CODE static int child_fds(const struct sd_launch *l)
{
	int fd_left = l->ready_src >= 0 ? l->ready_fd : -1;

	if (syscall(SYS_close_range, slots_end, ~0u, CLOSE_RANGE_UNSHARE) < 0)
		return -1;
	/* Private from here on. The ready fd comes last: its number may be
	 * that of a slot, whose content has been moved by then. */
	for (int i = 0; i < 3; i++)
		if (move_fd(slots[SLOT_STDIN + i], i) < 0)
			return -1;
	if (l->ready_src >= 0 && move_fd(slots[SLOT_READY], l->ready_fd) < 0)
		return -1;
	return cloexec_from(3, fd_left);
}

/* Everything between clone and execve: async-signal-safe calls only. The
 * stage is recorded before each step, so that a child killed half-way (the
 * OOM killer, say) is still "could not start", at the step it was in. */
CHILD_CODE static int child(void *arg)
{
	const struct child_args *a = arg;
	const struct sd_launch *l = a->l;
	struct sd_launched *out = a->out;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	out->exec.stage = SD_STAGE_DEATHSIG;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(out, errno);
	if (getppid() != a->parent) /* spawnd died before the prctl */
		_exit(127);
	out->exec.stage = SD_STAGE_SETSID;
	if (setsid() < 0)
		child_fail(out, errno);
	/* spawnd blocks the signals it reads from a signalfd, and ignores
	 * SIGPIPE: the child starts with neither. */
	out->exec.stage = SD_STAGE_SIGNALS;
	sigemptyset(&none);
	if (sigaction(SIGPIPE, &dfl, NULL) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(out, errno);
	out->exec.stage = SD_STAGE_CGROUP;
	if (l->v2_procs >= 0)
		out->in_cgroup2 = write(l->v2_procs, "0", 1) == 1; /* else: outside, as before */
	for (int i = 0; i < l->nv1; i++)
		if (write(l->v1_procs[i], "0", 1) != 1)
			child_fail(out, errno);

	out->exec.stage = SD_STAGE_FDS;
	if (child_fds(l) < 0)
		child_fail(out, errno);

	out->exec.stage = SD_STAGE_RLIMIT;
	for (int i = 0; i < l->nrlim; i++)
		if (setrlimit(l->rlim[i].resource, &l->rlim[i].value) < 0)
			child_fail(out, errno);
	out->exec.stage = SD_STAGE_CHDIR;
	if (l->cwd && chdir(l->cwd) < 0)
		child_fail(out, errno);
	if (l->set_ids) {
		/* Raw system calls: glibc's wrappers would broadcast to
		 * spawnd's threads (we share its memory, not its threads). */
		out->exec.stage = SD_STAGE_SETGROUPS;
		if (syscall(SYS_setgroups, (size_t)l->ngroups, l->groups) < 0)
			child_fail(out, errno);
		out->exec.stage = SD_STAGE_SETGID;
		if (syscall(SYS_setresgid, l->gid, l->gid, l->gid) < 0)
			child_fail(out, errno);
		out->exec.stage = SD_STAGE_SETUID;
		if (syscall(SYS_setresuid, l->uid, l->uid, l->uid) < 0)
			child_fail(out, errno);
	}
	out->exec.stage = SD_STAGE_NO_NEW_PRIVS;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(out, errno);
	out->exec.stage = SD_STAGE_SECCOMP;
	if (l->filter) {
		int r = sd_filter_install(l->filter);

		if (r < 0)
			child_fail(out, -r);
	}
	out->exec.stage = SD_STAGE_EXECVE;
	execve(l->path, l->argv, l->envp);
	child_fail(out, errno);
}

/* The child's stack, mapped once: its top, or NULL. */
static char *child_stack(void)
{
	static char *top;
	char *base;

	if (top)
		return top;
	base = mmap(NULL, CHILD_STACK + 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base, 4096, PROT_NONE) < 0) {
		munmap(base, CHILD_STACK + 4096);
		return NULL;
	}
	top = base + 4096 + CHILD_STACK;
	return top;
}

int sd_launch_init(void)
{
	int r = 0;

	if (slots_end)
		return 0;
	for (int i = 0; i < NSLOTS; i++) {
		slots[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (slots[i] < 0) {
			r = -errno;
			goto fail;
		}
		if (slots[i] >= slots_end)
			slots_end = slots[i] + 1;
	}
	return 0;
fail:
	for (int i = 0; i < NSLOTS; i++) {
		if (slots[i] >= 0)
			close(slots[i]);
		slots[i] = -1;
	}
	slots_end = 0;
	return r;
}

/* Slot `slot` holds a duplicate of fd (close-on-exec: spawnd's own
 * children never see it). */
static int lend(int slot, int fd)
{
	return dup3(fd, slots[slot], O_CLOEXEC) < 0 ? -errno : 0;
}

/* Back on /dev/null. dup3 onto an open descriptor of ours cannot fail
 * but for EBUSY, which needs a second thread opening files. */
static void park(int slot)
{
	(void)dup3(slots[SLOT_IDLE], slots[slot], O_CLOEXEC);
}

int sd_launch(const struct sd_launch *l, struct sd_launched *ret)
{
	struct child_args a = { .l = l, .out = ret, .parent = getpid() };
	char *stack = child_stack();
	int pidfd = -1, lent = 0, r;
	pid_t pid;

	if (!stack)
		return -ENOMEM;
	r = sd_launch_init();
	if (r < 0)
		return r;
	*ret = (struct sd_launched){ .pidfd = -1, .exec = { .stage = -1 } };
	for (; lent < 3; lent++) {
		r = lend(SLOT_STDIN + lent, l->stdio[lent]);
		if (r < 0)
			goto out;
	}
	if (l->ready_src >= 0) {
		r = lend(SLOT_READY, l->ready_src);
		if (r < 0)
			goto out;
		lent++;
	}
	/* Returns once the child has execve'd or died. */
	pid = clone(child, stack, CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD | SIGCHLD, &a,
		    &pidfd);
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	ret->pid = pid;
	ret->pidfd = pidfd;
	if (ret->exec.stage == SD_STAGE_EXECVE && ret->exec.err == 0)
		ret->exec.stage = -1; /* it runs its program */
	r = 0;
out:
	while (lent--)
		park(SLOT_STDIN + lent);
	return r;
}
