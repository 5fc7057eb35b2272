/* SPDX-License-Identifier: MIT */
/*
 * sandbox_probe NAME...: make each named system call and print one line per
 * call, "NAME ok" or "NAME EPERM" (the errno's name), so that a test can
 * see what a seccomp filter let through. "NAME unknown" for a name this
 * program does not know.
 *
 * Every call is made with arguments the kernel rejects (bad pointers, bad
 * flags, fd -1, reboot's wrong magic...) so that it fails harmlessly even
 * as root with no filter: nothing is ever mounted, loaded, rebooted or
 * traced. The error the kernel gives when the call is allowed (EFAULT,
 * EINVAL, EBADF, ENOSYS) is never EPERM, except where the kernel itself
 * says EPERM (lockdown): the test compares with an unfiltered run.
 *
 * Raw syscall(2) throughout, so that glibc wrappers do not substitute
 * other calls. A few composite names exercise what a real program does:
 * fork, thread, tcp_echo, io_uring; int80 and x32 make a getpid through a
 * foreign ABI.
 *
 * Each line is written with one write(2) before the next call, so that a
 * filter which kills the process still leaves the lines before it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/reboot.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Never mapped: the kernel answers EFAULT when it dereferences it. */
#define BAD ((void *)8)

#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467 /* 6.15; not in Debian 12's headers */
#endif

static long fail(int e)
{
	errno = e;
	return -1;
}

/* Composite probes: 0 or -1 with errno. */

static long p_fork(void)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(7);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : fail(ECHILD);
}

static void *thread_main(void *arg)
{
	return arg;
}

/* glibc 2.34+ tries clone3 first and falls back to clone on ENOSYS. */
static long p_thread(void)
{
	static int token;
	pthread_t t;
	void *res = NULL;
	int r = pthread_create(&t, NULL, thread_main, &token);

	if (r)
		return fail(r);
	r = pthread_join(t, &res);
	if (r)
		return fail(r);
	return res == &token ? 0 : fail(EIO);
}

/* A loopback echo: what a network service does, in one process. */
static long p_tcp_echo(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct epoll_event ev = { .events = EPOLLIN };
	int ls = -1, cs = -1, ss = -1, ep = -1, one = 1;
	char buf[16];
	ssize_t n;
	long r = -1;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ls < 0 || cs < 0 || ep < 0)
		goto out;
	if (setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0)
		goto out;
	if (connect(cs, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto out;
	if (epoll_wait(ep, &ev, 1, 5000) != 1) {
		errno = ETIMEDOUT;
		goto out;
	}
	ss = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (ss < 0 || send(cs, "ping", 4, 0) != 4)
		goto out;
	n = recv(ss, buf, sizeof(buf), 0);
	if (n != 4 || send(ss, buf, (size_t)n, 0) != n)
		goto out;
	n = recv(cs, buf, sizeof(buf), 0);
	if (n != 4 || memcmp(buf, "ping", 4)) {
		errno = EIO;
		goto out;
	}
	r = shutdown(cs, SHUT_RDWR);
out:
	if (r < 0 && !errno)
		errno = EIO;
	if (ss >= 0)
		close(ss);
	if (ep >= 0)
		close(ep);
	if (cs >= 0)
		close(cs);
	if (ls >= 0)
		close(ls);
	return r;
}

/* A ring that opens a directory: works wherever io_uring_setup does. */
static long p_io_uring(void)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int r = io_uring_queue_init(4, &ring, 0);

	if (r < 0)
		return fail(-r);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	r = io_uring_submit(&ring);
	if (r == 1)
		r = io_uring_wait_cqe(&ring, &cqe);
	if (r >= 0) {
		r = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	if (r >= 0)
		close(r);
	io_uring_queue_exit(&ring);
	return r < 0 ? fail(-r) : 0;
}

/* getpid through the i386 ABI: seccomp sees AUDIT_ARCH_I386. */
static long p_int80(void)
{
#ifdef __x86_64__
	long r;

	/* The compat entry returns with r8-r15 zeroed. */
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(20L) /* i386 __NR_getpid */
			 : "memory", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15");
	return r < 0 ? fail((int)-r) : 0;
#else
	return fail(ENOSYS);
#endif
}

/* getpid through the x32 ABI (the x32 bit set): ENOSYS where the kernel
 * lacks x32, as here, but seccomp runs first. */
static long p_x32(void)
{
#ifdef __x86_64__
	return syscall(0x40000000L | SYS_getpid) < 0 ? -1 : 0;
#else
	return fail(ENOSYS);
#endif
}

/* vhangup hangs up the controlling terminal: only without one. */
static long p_vhangup(void)
{
	long fd = syscall(SYS_openat, AT_FDCWD, "/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);

	if (fd >= 0) {
		close((int)fd);
		return -2; /* skipped */
	}
	if (errno != ENXIO && errno != ENOENT)
		return -2;
	return syscall(SYS_vhangup);
}

/* The process's own pid, so that calls needing one do nothing to others. */
static long self(void)
{
	return syscall(SYS_getpid);
}

static long probe(const char *name)
{
	/* the default profile's list */
	if (!strcmp(name, "init_module"))
		return syscall(SYS_init_module, NULL, 0UL, ""); /* ENOEXEC: too short */
	if (!strcmp(name, "finit_module"))
		return syscall(SYS_finit_module, -1, "", 0);
	if (!strcmp(name, "delete_module"))
		return syscall(SYS_delete_module, BAD, 0);
	if (!strcmp(name, "create_module"))
		return syscall(SYS_create_module, NULL, 0UL);
	if (!strcmp(name, "get_kernel_syms"))
		return syscall(SYS_get_kernel_syms, NULL);
	if (!strcmp(name, "query_module"))
		return syscall(SYS_query_module, NULL, 0, NULL, 0UL, NULL);
	if (!strcmp(name, "kexec_load")) /* never flags 0: that unloads */
		return syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdead0000UL);
	if (!strcmp(name, "kexec_file_load"))
		return syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, ~0UL);
	if (!strcmp(name, "reboot")) /* wrong magic: EINVAL */
		return syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL);
	if (!strcmp(name, "mount"))
		return syscall(SYS_mount, BAD, BAD, BAD, 0UL, NULL);
	if (!strcmp(name, "umount2"))
		return syscall(SYS_umount2, BAD, ~0);
	if (!strcmp(name, "pivot_root"))
		return syscall(SYS_pivot_root, BAD, BAD);
	if (!strcmp(name, "move_mount"))
		return syscall(SYS_move_mount, -1, BAD, -1, BAD, ~0U);
	if (!strcmp(name, "open_tree"))
		return syscall(SYS_open_tree, -1, BAD, ~0U);
	if (!strcmp(name, "open_tree_attr"))
		return syscall(SYS_open_tree_attr, -1, BAD, ~0U, NULL, 0UL);
	if (!strcmp(name, "fsopen"))
		return syscall(SYS_fsopen, BAD, ~0U);
	if (!strcmp(name, "fsmount"))
		return syscall(SYS_fsmount, -1, ~0U, 0U);
	if (!strcmp(name, "fsconfig"))
		return syscall(SYS_fsconfig, -1, ~0U, NULL, NULL, 0);
	if (!strcmp(name, "fspick"))
		return syscall(SYS_fspick, -1, BAD, ~0U);
	if (!strcmp(name, "mount_setattr"))
		return syscall(SYS_mount_setattr, -1, BAD, ~0U, NULL, 0UL);
	if (!strcmp(name, "swapon"))
		return syscall(SYS_swapon, BAD, ~0);
	if (!strcmp(name, "swapoff"))
		return syscall(SYS_swapoff, BAD);
	if (!strcmp(name, "ptrace")) /* an invalid request on pid 0: ESRCH */
		return syscall(SYS_ptrace, 0x7fffL, 0L, NULL, NULL);
	if (!strcmp(name, "process_vm_readv"))
		return syscall(SYS_process_vm_readv, self(), NULL, 0UL, NULL, 0UL, ~0UL);
	if (!strcmp(name, "process_vm_writev"))
		return syscall(SYS_process_vm_writev, self(), NULL, 0UL, NULL, 0UL, ~0UL);
	if (!strcmp(name, "pidfd_getfd"))
		return syscall(SYS_pidfd_getfd, -1, -1, ~0U);
	if (!strcmp(name, "bpf"))
		return syscall(SYS_bpf, 0x7fff, NULL, 0U);
	if (!strcmp(name, "perf_event_open"))
		return syscall(SYS_perf_event_open, BAD, 0, -1, -1, 0UL);
	if (!strcmp(name, "userfaultfd"))
		return syscall(SYS_userfaultfd, ~0);
	if (!strcmp(name, "lookup_dcookie"))
		return syscall(SYS_lookup_dcookie, 0ULL, NULL, 0UL);
	if (!strcmp(name, "keyctl"))
		return syscall(SYS_keyctl, -1, 0UL, 0UL, 0UL, 0UL);
	if (!strcmp(name, "add_key"))
		return syscall(SYS_add_key, BAD, BAD, NULL, 0UL, 0);
	if (!strcmp(name, "request_key"))
		return syscall(SYS_request_key, BAD, BAD, NULL, 0);
	if (!strcmp(name, "settimeofday"))
		return syscall(SYS_settimeofday, BAD, NULL);
	if (!strcmp(name, "clock_settime"))
		return syscall(SYS_clock_settime, -1, BAD);
	if (!strcmp(name, "clock_adjtime"))
		return syscall(SYS_clock_adjtime, -1, BAD);
	if (!strcmp(name, "adjtimex"))
		return syscall(SYS_adjtimex, BAD);
	if (!strcmp(name, "acct")) /* never NULL: that switches accounting off */
		return syscall(SYS_acct, BAD);
	if (!strcmp(name, "syslog"))
		return syscall(SYS_syslog, -1, NULL, 0);
	if (!strcmp(name, "quotactl"))
		return syscall(SYS_quotactl, 0, BAD, 0, NULL);
	if (!strcmp(name, "quotactl_fd"))
		return syscall(SYS_quotactl_fd, -1, 0U, 0, NULL);
	if (!strcmp(name, "nfsservctl"))
		return syscall(SYS_nfsservctl, 0, NULL, NULL);
	if (!strcmp(name, "open_by_handle_at"))
		return syscall(SYS_open_by_handle_at, -1, BAD, 0);
	if (!strcmp(name, "name_to_handle_at"))
		return syscall(SYS_name_to_handle_at, -1, BAD, BAD, BAD, ~0);
	if (!strcmp(name, "iopl"))
		return syscall(SYS_iopl, 4);
	if (!strcmp(name, "ioperm")) /* an empty range: EINVAL */
		return syscall(SYS_ioperm, 0UL, 0UL, 1);
	if (!strcmp(name, "modify_ldt")) /* read 0 bytes */
		return syscall(SYS_modify_ldt, 0, NULL, 0UL);
	if (!strcmp(name, "uselib"))
		return syscall(SYS_uselib, BAD);
	if (!strcmp(name, "vhangup"))
		return p_vhangup();
	if (!strcmp(name, "setns"))
		return syscall(SYS_setns, -1, 0);
	if (!strcmp(name, "io_uring_setup"))
		return syscall(SYS_io_uring_setup, 1U, BAD);
	if (!strcmp(name, "io_uring_enter"))
		return syscall(SYS_io_uring_enter, -1, 0U, 0U, 0U, NULL, 0UL);
	if (!strcmp(name, "io_uring_register"))
		return syscall(SYS_io_uring_register, -1, 0U, NULL, 0U);

	/* what services do */
	if (!strcmp(name, "read"))
		return syscall(SYS_read, -1, NULL, 0UL);
	if (!strcmp(name, "write"))
		return syscall(SYS_write, -1, NULL, 0UL);
	if (!strcmp(name, "open"))
		return syscall(SYS_open, BAD, O_RDONLY);
	if (!strcmp(name, "openat"))
		return syscall(SYS_openat, AT_FDCWD, BAD, O_RDONLY);
	if (!strcmp(name, "close"))
		return syscall(SYS_close, -1);
	if (!strcmp(name, "getpid"))
		return syscall(SYS_getpid);
	if (!strcmp(name, "uname"))
		return syscall(SYS_uname, BAD);
	if (!strcmp(name, "mkdir"))
		return syscall(SYS_mkdir, BAD, 0700);
	if (!strcmp(name, "chmod"))
		return syscall(SYS_chmod, BAD, 0700);
	if (!strcmp(name, "kill")) /* signal 0 to itself */
		return syscall(SYS_kill, self(), 0);
	if (!strcmp(name, "prctl"))
		return syscall(SYS_prctl, 0x7fffffff, 0UL, 0UL, 0UL, 0UL);
	if (!strcmp(name, "ioctl")) /* isatty's request */
		return syscall(SYS_ioctl, -1, TCGETS, NULL);
	if (!strcmp(name, "ioctl_tiocsti")) /* typing into a terminal */
		return syscall(SYS_ioctl, -1, TIOCSTI, BAD);
	if (!strcmp(name, "socket")) /* bad type flags: EINVAL */
		return syscall(SYS_socket, AF_INET, SOCK_STREAM | 0x100, 0);
	if (!strcmp(name, "socket_packet"))
		return syscall(SYS_socket, AF_PACKET, SOCK_RAW | 0x100, 0);
	if (!strcmp(name, "socketpair"))
		return syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM | 0x100, 0, BAD);
	if (!strcmp(name, "bind"))
		return syscall(SYS_bind, -1, NULL, 0);
	if (!strcmp(name, "listen"))
		return syscall(SYS_listen, -1, 0);
	if (!strcmp(name, "accept4"))
		return syscall(SYS_accept4, -1, NULL, NULL, 0);
	if (!strcmp(name, "connect"))
		return syscall(SYS_connect, -1, NULL, 0);
	if (!strcmp(name, "sendto"))
		return syscall(SYS_sendto, -1, NULL, 0UL, 0, NULL, 0);
	if (!strcmp(name, "recvfrom"))
		return syscall(SYS_recvfrom, -1, NULL, 0UL, 0, NULL, NULL);
	if (!strcmp(name, "execve"))
		return syscall(SYS_execve, BAD, NULL, NULL);
	/* CLONE_SIGHAND without CLONE_VM: EINVAL before anything is created */
	if (!strcmp(name, "clone"))
		return syscall(SYS_clone, (unsigned long)CLONE_SIGHAND, NULL, NULL, NULL, 0UL);
	if (!strcmp(name, "clone_newuser"))
		return syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | CLONE_SIGHAND), NULL,
			       NULL, NULL, 0UL);
	if (!strcmp(name, "clone3")) /* size 0: EINVAL */
		return syscall(SYS_clone3, NULL, 0UL);
	if (!strcmp(name, "unshare")) /* bit 0 is not an unshare flag */
		return syscall(SYS_unshare, 0x1UL);
	if (!strcmp(name, "nr500")) /* unassigned in 6.18 */
		return syscall(500, 0UL, 0UL, 0UL);

	/* composites */
	if (!strcmp(name, "fork"))
		return p_fork();
	if (!strcmp(name, "thread"))
		return p_thread();
	if (!strcmp(name, "tcp_echo"))
		return p_tcp_echo();
	if (!strcmp(name, "io_uring"))
		return p_io_uring();
	if (!strcmp(name, "int80"))
		return p_int80();
	if (!strcmp(name, "x32"))
		return p_x32();
	return -3;
}

static void report(const char *name, const char *what)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %s\n", name, what);

	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(STDOUT_FILENO, line, (size_t)n);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *ename;
		char buf[16];
		long r;

		errno = 0;
		r = probe(argv[i]);
		if (r == -2) {
			report(argv[i], "skipped");
			continue;
		}
		if (r == -3) {
			report(argv[i], "unknown");
			continue;
		}
		if (r >= 0) {
			report(argv[i], "ok");
			continue;
		}
		ename = strerrorname_np(errno);
		if (!ename) {
			snprintf(buf, sizeof(buf), "E%d", errno);
			ename = buf;
		}
		report(argv[i], ename);
	}
	return 0;
}
