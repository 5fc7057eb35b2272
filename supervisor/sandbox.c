/* SPDX-License-Identifier: MIT */
/*
 * Sandboxes (see sandbox.h): a profile becomes a list of verdicts, one per
 * system call number, which libseccomp turns into a classic BPF program for
 * the native architecture. spawnd keeps that program and the child installs
 * it with one seccomp(2) call, so no libseccomp code (which allocates) runs
 * between clone and execve.
 *
 * Rules every profile follows:
 * - A call from a foreign ABI (i386 `int $0x80` or x32 on x86-64) kills the
 *   process, whatever the action: the filter's numbers only mean something
 *   for the native ABI (i386's 21 is x86-64's access, not mount), so letting
 *   such a call through, or failing it, would let a program walk around the
 *   filter or fail in ways nobody could diagnose. libseccomp does the check
 *   (the x32 bit included); we only choose the action.
 * - The filter is installed before execve, so execve itself and everything
 *   the dynamic loader and libc start-up need are allowed by every profile.
 * - Names in our built-in lists that this architecture lacks are skipped;
 *   names a user wrote must exist here: a denial that silently matches
 *   nothing would be a false promise.
 */
#define _GNU_SOURCE
#include <asm/termbits.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * What no service needs. Each line is a way to change the machine rather
 * than the service's own state, or a large attack surface with no use in a
 * service.
 *
 * Left out on purpose: unshare, clone and clone3 with namespace flags.
 * User namespaces are how sandboxing-aware programs (Chromium, Firefox,
 * bubblewrap, rootless containers) confine themselves, and a denial of
 * unshare(CLONE_NEWUSER) alone would be cosmetic: clone3 passes its flags
 * in memory that seccomp cannot read, so closing that door means making
 * clone3 fail with ENOSYS, which `strict` does and `default` should not.
 * setns is denied: entering another process's namespaces is container
 * tooling, needs CAP_SYS_ADMIN, and lets a root service step into other
 * containers.
 */
static const char *const default_denied[] = {
	/* kernel modules (the last three are pre-2.6 and return ENOSYS) */
	"init_module", "finit_module", "delete_module",
	"create_module", "get_kernel_syms", "query_module",
	/* replacing or stopping the kernel */
	"kexec_load", "kexec_file_load", "reboot",
	/* mounts, old and new API (open_tree_attr: open_tree + mount_setattr) */
	"mount", "umount2", "pivot_root", "move_mount", "open_tree", "open_tree_attr",
	"fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
	"swapon", "swapoff",
	/* reading, writing or stealing from other processes */
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
	/* kernel programmability and introspection */
	"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie",
	/* the kernel keyring */
	"keyctl", "add_key", "request_key",
	/* machine-wide state: clocks, accounting, kernel log, quotas, nfsd */
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"acct", "syslog", "quotactl", "quotactl_fd", "nfsservctl",
	/* file handles: open_by_handle_at walks around directory permissions */
	"open_by_handle_at", "name_to_handle_at",
	/* hardware and legacy x86 interfaces, a.out loading, terminals */
	"iopl", "ioperm", "modify_ldt", "uselib", "vhangup",
	/* namespaces of other processes (see above) */
	"setns",
	/* io_uring: its operations bypass seccomp; allowed by io_uring = true */
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	NULL
};

/*
 * Enough for a compute or network service, and for the dynamic loader and
 * glibc 2.36's start-up (which still issues legacy calls such as SYS_mkdir,
 * so each *at call comes with its legacy twin: denying one and allowing the
 * other would protect nothing).
 *
 * Allowed only with some arguments (see add_allow_args): clone without
 * namespace flags, socket for AF_UNIX, AF_INET, AF_INET6 and NETLINK_ROUTE,
 * ioctl for a few terminal and fd requests. clone3 is not here: it returns
 * ENOSYS (see plan_build).
 *
 * Left out: the mount, module, ptrace, bpf, perf, keyring and io_uring
 * families, namespace calls, chmod/chown/link/symlink/mknod, xattrs,
 * inotify and fanotify, memfd_create, mlock, sched_setaffinity and
 * setpriority, set*id: add them with `allow` where a service needs them.
 */
static const char *const strict_allowed[] = {
	/* memory */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "membarrier",
	/* I/O on open files */
	"read", "write", "readv", "writev", "pread64", "pwrite64",
	"preadv", "pwritev", "preadv2", "pwritev2", "lseek", "sendfile",
	"fadvise64", "fsync", "fdatasync", "ftruncate", "flock",
	"close", "close_range",
	/* files and directories: a service reads its files and may keep a few */
	"open", "openat", "openat2", "fstat", "stat", "lstat", "newfstatat", "statx",
	"fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"getcwd", "chdir", "fchdir", "getdents", "getdents64", "umask",
	"mkdir", "mkdirat", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	/* descriptors and event loops */
	"fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "eventfd", "eventfd2",
	"poll", "ppoll", "select", "pselect6",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	"ioctl",
	/* signals; kill is not limited to the service's own processes: the
	 * filter is compiled before their pids exist, and the kernel's own
	 * permission check already confines it to the service's uid */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigpending", "sigaltstack", "signalfd", "signalfd4",
	"kill", "tgkill", "tkill", "pause", "alarm", "getitimer", "setitimer",
	/* identity, read only */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups", "getpgrp", "getpgid", "getsid",
	/* time */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time", "times",
	/* threads, processes, synchronisation */
	"clone", "fork", "vfork", "execve", "wait4", "waitid", "exit", "exit_group",
	"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq",
	"set_tid_address", "restart_syscall", "sched_yield", "sched_getaffinity",
	"getcpu",
	/* process housekeeping. prctl is allowed whole: the operations that
	 * matter (PR_SET_MM, PR_SET_SECUREBITS, ambient capabilities) are gated
	 * by capabilities, the rest (names, death signals, no_new_privs, timer
	 * slack) are what every runtime calls. seccomp only ever tightens, and
	 * sandboxing-aware services (sshd's privsep child) install their own. */
	"prlimit64", "getrlimit", "getrusage", "sysinfo", "uname", "arch_prctl",
	"prctl", "seccomp", "getrandom",
	/* sockets */
	"socket", "socketpair", "bind", "listen", "accept", "accept4", "connect",
	"getsockname", "getpeername", "setsockopt", "getsockopt",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	NULL
};

static const char *const io_uring_calls[] = {
	"io_uring_setup", "io_uring_enter", "io_uring_register", NULL
};

/*
 * Calls newer than libseccomp 2.5.4's table, which ends at futex_requeue
 * (456), so that profiles and users can name them. Since 424 new system
 * calls get the same number everywhere, except on alpha, mips and ia64,
 * which add an offset.
 */
static const struct {
	const char *name;
	int nr;
} newer_calls[] = {
#if !defined(__alpha__) && !defined(__mips__) && !defined(__ia64__)
	{ "statmount", 457 },
	{ "listmount", 458 },
	{ "lsm_get_self_attr", 459 },
	{ "lsm_set_self_attr", 460 },
	{ "lsm_list_modules", 461 },
	{ "mseal", 462 },
	{ "setxattrat", 463 },
	{ "getxattrat", 464 },
	{ "listxattrat", 465 },
	{ "removexattrat", 466 },
	{ "open_tree_attr", 467 },
	{ "file_getattr", 468 },
	{ "file_setattr", 469 },
#endif
	{ NULL, 0 },
};

/*
 * In strict, numbers above the last one we can name (libseccomp's table or
 * newer_calls) and below this one fail with ENOSYS rather than EPERM: libcs
 * probe new calls and fall back only on ENOSYS, so a call newer than the
 * filter must look like an older kernel, not a denial (systemd's filters
 * do the same), also with action = "kill". A call the filter does know and
 * does not allow is a denial. 512 leaves room for years of new calls while keeping the filter
 * small.
 */
#define NEW_CALLS_END 512

/* Namespace flags of clone(2); CLONE_NEWTIME (0x80) is clone3/unshare only
 * (in clone's flags that bit belongs to the exit signal). */
#define CLONE_NS_FLAGS                                                                  \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |  \
	 CLONE_NEWPID | CLONE_NEWNET)

/* s390 swaps clone's first two arguments. */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

/* int arguments arrive in 64-bit registers whose upper half the kernel
 * ignores and the ABI leaves undefined: compare the low 32 bits only. */
#define LOW32 0xffffffffull

/*
 * ioctl requests strict allows: isatty and window size (stdio and every
 * logging library), and the fd-level requests of event loops. Not TIOCSTI
 * (typing into a terminal), not any driver's request.
 */
static const unsigned long strict_ioctls[] = {
	TCGETS, TCGETS2, TIOCGWINSZ, TIOCGPGRP, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX,
};

enum verdict {
	V_DEFAULT,    /* the default action: allow, or for strict the denial */
	V_ALLOW,      /* allowed whatever the arguments */
	V_ALLOW_ARGS, /* allowed with the arguments add_allow_args names */
	V_DENY,       /* the denial action (EPERM, or KILL_PROCESS) */
	V_ENOSYS,     /* fails as on a kernel without the call */
};

struct plan {
	struct {
		int nr;
		enum verdict v;
	} *e;
	size_t n, cap;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * The native number of name, -ENOENT for a name nobody knows (a typo), or
 * -EDOM for a call of another architecture (libseccomp returns a negative
 * pseudo number, e.g. for "umount" on x86-64).
 */
static int resolve(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR) {
		for (size_t i = 0; newer_calls[i].name; i++)
			if (!strcmp(newer_calls[i].name, name))
				return newer_calls[i].nr;
		return -ENOENT;
	}
	return nr < 0 ? -EDOM : nr;
}

static size_t count(const char *const *names)
{
	size_t n = 0;

	while (names && names[n])
		n++;
	return n;
}

static ssize_t plan_find(const struct plan *p, int nr)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->e[i].nr == nr)
			return (ssize_t)i;
	return -1;
}

/* p->cap is sized up front by plan_build: this never reallocates. */
static void plan_set(struct plan *p, int nr, enum verdict v)
{
	ssize_t i = plan_find(p, nr);

	if (i < 0) {
		i = (ssize_t)p->n++;
		p->e[i].nr = nr;
	}
	p->e[i].v = v;
}

static enum verdict plan_get(const struct plan *p, int nr)
{
	ssize_t i = plan_find(p, nr);

	return i < 0 ? V_DEFAULT : p->e[i].v;
}

static bool has_args_rule(int nr)
{
	return nr == SCMP_SYS(clone) || nr == SCMP_SYS(socket) || nr == SCMP_SYS(ioctl);
}

/* Every name a user wrote must be a system call of this architecture: a
 * typo, or a denial that matches nothing here, is an error whatever the
 * base. */
static int check_list(const char *key, char *const *names, char *err, size_t errlen)
{
	for (size_t i = 0; names && names[i]; i++) {
		int nr = resolve(names[i]);

		if (nr == -ENOENT) {
			set_err(err, errlen, "%s: unknown system call '%s'", key, names[i]);
			return -EINVAL;
		}
		if (nr < 0) {
			set_err(err, errlen,
				"%s: system call '%s' does not exist on this architecture", key,
				names[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* A call both allowed and denied is a contradiction, not a precedence
 * question: refuse it rather than guess. */
static int check_user_names(const struct sd_sandbox *sb, char *err, size_t errlen)
{
	int r;

	r = check_list("allow", sb->allow, err, errlen);
	if (r < 0)
		return r;
	r = check_list("deny", sb->deny, err, errlen);
	if (r < 0)
		return r;

	for (size_t i = 0; sb->deny && sb->deny[i]; i++) {
		int nr = resolve(sb->deny[i]);

		for (size_t j = 0; sb->allow && sb->allow[j]; j++) {
			if (resolve(sb->allow[j]) == nr) {
				set_err(err, errlen, "deny: '%s' is also in allow", sb->deny[i]);
				return -EINVAL;
			}
		}
		for (size_t j = 0; sb->io_uring && io_uring_calls[j]; j++) {
			if (resolve(io_uring_calls[j]) == nr) {
				set_err(err, errlen, "deny: '%s' contradicts io_uring = true",
					sb->deny[i]);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* The highest number we can name on this architecture, or -1. */
static int last_known_nr(void)
{
	uint32_t arch = seccomp_arch_native();
	int last = -1;

	for (int nr = NEW_CALLS_END - 1; nr >= 0 && last < 0; nr--) {
		char *name = seccomp_syscall_resolve_num_arch(arch, nr);

		if (name)
			last = nr;
		free(name);
	}
	for (size_t i = 0; last >= 0 && newer_calls[i].name; i++)
		if (newer_calls[i].nr > last)
			last = newer_calls[i].nr;
	return last;
}

/*
 * The verdicts, in the order that makes later steps win: the base's list,
 * then io_uring = true, then the user's allow, then the user's deny
 * (check_user_names has ruled out any overlap between the last three).
 */
static int plan_build(struct plan *p, const struct sd_sandbox *sb)
{
	bool strict = sb->base == SD_SANDBOX_STRICT;
	const char *const *builtin = strict ? strict_allowed :
				     sb->base == SD_SANDBOX_DEFAULT ? default_denied : NULL;
	/* In an allow-by-default filter V_DEFAULT allows; in strict it denies. */
	enum verdict allowed = strict ? V_ALLOW : V_DEFAULT;
	enum verdict denied = strict ? V_DEFAULT : V_DENY;
	int first_new = strict ? last_known_nr() + 1 : NEW_CALLS_END;

	/* With no known number below NEW_CALLS_END, this architecture numbers
	 * its calls elsewhere (mips): no ENOSYS range. */
	if (first_new <= 0)
		first_new = NEW_CALLS_END;
	p->cap = count(builtin) + count(io_uring_calls) + count((const char *const *)sb->allow) +
		 count((const char *const *)sb->deny) + 1 + (size_t)(NEW_CALLS_END - first_new);
	p->e = calloc(p->cap, sizeof(*p->e));
	if (!p->e)
		return -ENOMEM;

	for (size_t i = 0; builtin && builtin[i]; i++) {
		int nr = resolve(builtin[i]);

		if (nr < 0) /* not on this architecture */
			continue;
		if (!strict)
			plan_set(p, nr, V_DENY);
		else
			plan_set(p, nr, has_args_rule(nr) ? V_ALLOW_ARGS : V_ALLOW);
	}
	if (strict) {
		/* clone3 passes its flags in memory seccomp cannot read, so it
		 * cannot be allowed without namespaces the way clone is. glibc
		 * (2.34+) and others fall back to clone on ENOSYS, and only on
		 * ENOSYS: so threads and posix_spawn keep working, also with
		 * action = "kill". */
		plan_set(p, SCMP_SYS(clone3), V_ENOSYS);
		for (int nr = first_new; nr < NEW_CALLS_END; nr++)
			plan_set(p, nr, V_ENOSYS);
	}
	for (size_t i = 0; sb->io_uring && io_uring_calls[i]; i++)
		plan_set(p, resolve(io_uring_calls[i]), allowed);
	for (size_t i = 0; sb->allow && sb->allow[i]; i++)
		plan_set(p, resolve(sb->allow[i]), allowed);
	for (size_t i = 0; sb->deny && sb->deny[i]; i++)
		plan_set(p, resolve(sb->deny[i]), denied);
	return 0;
}

static int add_allow_args(scmp_filter_ctx ctx, int nr)
{
	int r = -EINVAL;

	if (nr == SCMP_SYS(clone)) {
		/* Threads and fork, not new namespaces. */
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ,
						 CLONE_NS_FLAGS, 0));
	}
	if (nr == SCMP_SYS(socket)) {
		/* Exotic families (packet, alg, vsock, tipc, rds...) are where
		 * socket bugs have lived; netlink only for routing, which
		 * getaddrinfo and getifaddrs use. */
		static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };

		for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					     SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, families[i]));
			if (r < 0)
				return r;
		}
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2,
					SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, AF_NETLINK),
					SCMP_A2(SCMP_CMP_MASKED_EQ, LOW32, NETLINK_ROUTE));
	}
	if (nr == SCMP_SYS(ioctl)) {
		for (size_t i = 0; i < ARRAY_SIZE(strict_ioctls); i++) {
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					     SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, strict_ioctls[i]));
			if (r < 0)
				return r;
		}
	}
	return r;
}

/*
 * libseccomp 2.5.4 exports only to a file descriptor: export into an
 * anonymous memfd (nothing on disk, no pipe capacity to worry about) and
 * read the program back.
 */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *ret_prog)
{
	struct sock_filter *insns = NULL;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = memfd_create("spawnd-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto cleanup;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto cleanup;
	}
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(*insns)) {
		r = -EIO;
		goto cleanup;
	}
	if (st.st_size / (off_t)sizeof(*insns) > BPF_MAXINSNS) {
		r = -E2BIG;
		goto cleanup;
	}
	insns = malloc((size_t)st.st_size);
	if (!insns) {
		r = -ENOMEM;
		goto cleanup;
	}
	n = pread(fd, insns, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		r = n < 0 ? -errno : -EIO;
		goto cleanup;
	}
	ret_prog->len = (unsigned short)(st.st_size / (off_t)sizeof(*insns));
	ret_prog->filter = insns;
	insns = NULL;
	r = 0;
cleanup:
	free(insns);
	close(fd);
	return r;
}

static int compile(const struct sd_sandbox *sb, struct sd_filter *ret, char *err, size_t errlen)
{
	struct plan plan = { 0 };
	scmp_filter_ctx ctx = NULL;
	struct sock_fprog prog = { 0 };
	uint32_t deny_act = sb->kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
	bool strict = sb->base == SD_SANDBOX_STRICT;
	bool io_uring, any = false;
	enum verdict v;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (sb->base != SD_SANDBOX_NONE && sb->base != SD_SANDBOX_DEFAULT && !strict) {
		set_err(err, errlen, "sandbox: unknown base profile %d", (int)sb->base);
		return -EINVAL;
	}
	r = check_user_names(sb, err, errlen);
	if (r < 0)
		return r;
	r = plan_build(&plan, sb);
	if (r < 0)
		goto cleanup;

	v = plan_get(&plan, SCMP_SYS(io_uring_setup));
	io_uring = strict ? v == V_ALLOW : v == V_DEFAULT;
	for (size_t i = 0; i < plan.n; i++)
		any |= plan.e[i].v != V_DEFAULT;
	if (sb->base == SD_SANDBOX_NONE && !any) {
		*ret = (struct sd_filter){ .allows_io_uring = true };
		r = 0;
		goto cleanup;
	}

	ctx = seccomp_init(strict ? deny_act : SCMP_ACT_ALLOW);
	if (!ctx) {
		r = -ENOMEM;
		goto cleanup;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		goto cleanup;
	/* A binary tree of syscall numbers: strict has about 200 rules. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		goto cleanup;

	for (size_t i = 0; i < plan.n; i++) {
		int nr = plan.e[i].nr;

		switch (plan.e[i].v) {
		case V_DEFAULT:
			r = 0;
			break;
		case V_ALLOW:
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
			break;
		case V_ALLOW_ARGS:
			r = add_allow_args(ctx, nr);
			break;
		case V_DENY:
			r = seccomp_rule_add(ctx, deny_act, nr, 0);
			break;
		case V_ENOSYS:
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
			break;
		}
		if (r < 0) {
			char *name = seccomp_syscall_resolve_num_arch(seccomp_arch_native(), nr);

			set_err(err, errlen, "sandbox: cannot add a rule for '%s' (%d): %s",
				name ? name : "?", nr, strerror(-r));
			free(name);
			goto cleanup;
		}
	}

	r = export_prog(ctx, &prog);
	if (r == -E2BIG)
		set_err(err, errlen, "sandbox: filter longer than %d instructions", BPF_MAXINSNS);
	if (r < 0)
		goto cleanup;
	*ret = (struct sd_filter){ .prog = prog, .allows_io_uring = io_uring };
	r = 0;
cleanup:
	if (r < 0 && r != -ENOMEM && err && errlen && !err[0])
		set_err(err, errlen, "sandbox: %s", strerror(-r));
	seccomp_release(ctx);
	free(plan.e);
	return r;
}

/* ---- one compiled filter per distinct sandbox -------------------------------------- */

/*
 * libseccomp takes about 0.15 ms to compile a profile, and a thousand
 * workers usually share two or three: each distinct sandbox is compiled
 * once and its program shared, counted by the filters that point to it.
 * Immutable once compiled. spawnd's main thread only.
 */
struct sd_filter_entry {
	struct sd_filter_entry *next;
	unsigned refs;
	struct sd_sandbox sb; /* the key: a deep copy */
	struct sd_filter compiled;
};

static struct sd_filter_entry *filters;

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static bool strv_equal(char *const *a, char *const *b)
{
	size_t n = strv_len(a);

	if (n != strv_len(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int strv_dup(char *const *v, char ***ret)
{
	size_t n = strv_len(v);
	char **copy = calloc(n + 1, sizeof(*copy));

	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		copy[i] = strdup(v[i]);
		if (!copy[i]) {
			strv_free(copy);
			return -ENOMEM;
		}
	}
	*ret = copy;
	return 0;
}

static bool same_sandbox(const struct sd_sandbox *a, const struct sd_sandbox *b)
{
	return a->base == b->base && a->io_uring == b->io_uring && a->kill == b->kill &&
	       strv_equal(a->allow, b->allow) && strv_equal(a->deny, b->deny);
}

static void entry_free(struct sd_filter_entry *e)
{
	strv_free(e->sb.allow);
	strv_free(e->sb.deny);
	free(e->compiled.prog.filter);
	free(e);
}

int sd_sandbox_compile(const struct sd_sandbox *sb, struct sd_filter *ret, char *err,
		       size_t errlen)
{
	struct sd_filter_entry *e;
	int r;

	if (err && errlen)
		err[0] = '\0';
	for (e = filters; e; e = e->next)
		if (same_sandbox(&e->sb, sb))
			goto found;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->sb = (struct sd_sandbox){ .base = sb->base, .io_uring = sb->io_uring, .kill = sb->kill };
	r = strv_dup(sb->allow, &e->sb.allow);
	if (r == 0)
		r = strv_dup(sb->deny, &e->sb.deny);
	if (r == 0)
		r = compile(sb, &e->compiled, err, errlen);
	if (r < 0) {
		entry_free(e);
		return r;
	}
	e->next = filters;
	filters = e;
found:
	e->refs++;
	*ret = e->compiled;
	ret->entry = e;
	return 0;
}

void sd_filter_free(struct sd_filter *f)
{
	struct sd_filter_entry **p;

	if (!f || !f->entry)
		return;
	if (--f->entry->refs == 0) {
		for (p = &filters; *p != f->entry; p = &(*p)->next)
			;
		*p = f->entry->next;
		entry_free(f->entry);
	}
	*f = (struct sd_filter){ 0 };
}

/*
 * No TSYNC (the child is single-threaded) and no libseccomp (it allocates):
 * one raw system call, which is async-signal-safe. The caller has set
 * no_new_privs, without which an unprivileged caller gets EACCES.
 */
int sd_filter_install(const struct sd_filter *f)
{
	if (!f->prog.len)
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->prog) < 0)
		return -errno;
	return 0;
}

const char *const *sd_sandbox_default_denied(void)
{
	return default_denied;
}

const char *const *sd_sandbox_strict_allowed(void)
{
	return strict_allowed;
}
