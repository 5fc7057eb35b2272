/* SPDX-License-Identifier: MIT */
/*
 * The sandbox (struct gp_config's sandbox): a program that locks itself in.
 *
 * Two locks, since io_uring operations bypass seccomp (KERNEL-NOTES §2):
 *  - each ring is created disabled and restricted, before it is enabled, to
 *    the opcodes the policy needs (IORING_REGISTER_RESTRICTIONS: final, and
 *    the only register operations left are the two the start needs);
 *  - once every thread of the runtime exists and has enabled its ring, a
 *    seccomp filter on all of them (TSYNC) allows only the system calls the
 *    runtime needs plus those of the policy: no io_uring_setup, no clone,
 *    no execve, no open or socket unless the policy says so.
 * Only then does the first process run. Neither can be widened afterwards:
 * the restrictions are final and a seccomp filter can only be added to.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Opcodes every sandboxed ring allows: the runtime's own (wake-ups, timeouts,
 * cancels) and I/O on descriptors the program already has. */
static const uint8_t base_ops[] = {
	IORING_OP_NOP,	      IORING_OP_MSG_RING,    IORING_OP_READ,	   IORING_OP_WRITE,
	IORING_OP_READV,      IORING_OP_WRITEV,	     IORING_OP_RECV,	   IORING_OP_SEND,
	IORING_OP_RECVMSG,    IORING_OP_SENDMSG,     IORING_OP_POLL_ADD,   IORING_OP_POLL_REMOVE,
	IORING_OP_TIMEOUT,    IORING_OP_LINK_TIMEOUT, IORING_OP_ASYNC_CANCEL, IORING_OP_CLOSE,
	IORING_OP_FSYNC,      IORING_OP_ACCEPT,
};
static const uint8_t net_ops[] = { IORING_OP_SOCKET, IORING_OP_CONNECT };
static const uint8_t file_ops[] = { IORING_OP_OPENAT };

static int add_ops(struct io_uring_restriction *r, int n, const uint8_t *ops, size_t nops)
{
	for (size_t i = 0; i < nops; i++)
		r[n++] = (struct io_uring_restriction){ .opcode = IORING_RESTRICTION_SQE_OP,
							 .sqe_op = ops[i] };
	return n;
}

int gpi_sandbox_ring(const struct gp_runtime *rt, int ring_fd)
{
	struct io_uring_restriction r[32];
	unsigned policy = rt->config.sandbox;
	int n = 0;

	if (!(policy & GP_SANDBOX_ON))
		return 0;
	n = add_ops(r, n, base_ops, sizeof(base_ops));
	if (policy & GP_SANDBOX_NET)
		n = add_ops(r, n, net_ops, sizeof(net_ops));
	/* Read-only files go through openat(2), whose flags seccomp can check;
	 * the ring's OPENAT cannot be limited to reading. */
	if (policy & GP_SANDBOX_FILES)
		n = add_ops(r, n, file_ops, sizeof(file_ops));
	/* With restrictions, an SQE flag not allowed fails the SQE: the runtime
	 * uses these two (wake-ups skip their CQE; deadlines are linked). */
	r[n++] = (struct io_uring_restriction){ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED,
						 .sqe_flags = IOSQE_CQE_SKIP_SUCCESS | IOSQE_IO_LINK };
	r[n++] = (struct io_uring_restriction){ .opcode = IORING_RESTRICTION_REGISTER_OP,
						 .register_op = IORING_REGISTER_ENABLE_RINGS };
	r[n++] = (struct io_uring_restriction){ .opcode = IORING_RESTRICTION_REGISTER_OP,
						 .register_op = IORING_REGISTER_RING_FDS };
	/* liburing 2.3's shared library lacks the helper (KERNEL-NOTES #6) */
	if (syscall(SYS_io_uring_register, ring_fd, IORING_REGISTER_RESTRICTIONS, r, n) < 0)
		return -errno;
	return 0;
}

/* What the runtime itself calls once running: memory for stacks and
 * messages, futexes, clocks, signals for crash reports, its rings. */
static const int runtime_calls[] = {
	SCMP_SYS(read),		   SCMP_SYS(write),	     SCMP_SYS(readv),
	SCMP_SYS(writev),	   SCMP_SYS(pread64),	     SCMP_SYS(pwrite64),
	SCMP_SYS(close),	   SCMP_SYS(lseek),	     SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),	   SCMP_SYS(mmap),	     SCMP_SYS(munmap),
	SCMP_SYS(mprotect),	   SCMP_SYS(madvise),	     SCMP_SYS(process_madvise),
	SCMP_SYS(mremap),	   SCMP_SYS(brk),	     SCMP_SYS(futex),
	SCMP_SYS(rt_sigreturn),	   SCMP_SYS(rt_sigaction),   SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(sigaltstack),	   SCMP_SYS(tgkill),	     SCMP_SYS(getpid),
	SCMP_SYS(gettid),	   SCMP_SYS(clock_gettime),  SCMP_SYS(clock_getres),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),	     SCMP_SYS(gettimeofday),
	SCMP_SYS(sched_yield),	   SCMP_SYS(getrandom),	     SCMP_SYS(exit),
	SCMP_SYS(exit_group),	   SCMP_SYS(restart_syscall), SCMP_SYS(io_uring_enter),
	SCMP_SYS(rseq),		   SCMP_SYS(getsockopt),     SCMP_SYS(shutdown),
	SCMP_SYS(fsync),	   SCMP_SYS(fdatasync),	     SCMP_SYS(getuid),
	SCMP_SYS(geteuid),	   SCMP_SYS(getgid),	     SCMP_SYS(getegid),
	SCMP_SYS(set_robust_list),
	/* the rings' restrictions decide which register operations pass;
	 * teardown unregisters the ring fds (refused: harmless) */
	SCMP_SYS(io_uring_register),
};

static const int net_calls[] = {
	SCMP_SYS(socket),     SCMP_SYS(connect),     SCMP_SYS(accept),	  SCMP_SYS(accept4),
	SCMP_SYS(bind),	      SCMP_SYS(listen),	     SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(setsockopt), SCMP_SYS(sendto),	     SCMP_SYS(recvfrom),    SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg),    SCMP_SYS(socketpair),  SCMP_SYS(poll),	  SCMP_SYS(ppoll),
};

static const int file_calls[] = {
	SCMP_SYS(openat),    SCMP_SYS(open),	  SCMP_SYS(statx),    SCMP_SYS(unlinkat),
	SCMP_SYS(unlink),    SCMP_SYS(mkdirat),	  SCMP_SYS(mkdir),    SCMP_SYS(renameat2),
	SCMP_SYS(rename),    SCMP_SYS(ftruncate), SCMP_SYS(getdents64), SCMP_SYS(fchmod),
};

static int allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);

		if (r < 0 && r != -EDOM) /* -EDOM: not on this architecture */
			return r;
	}
	return 0;
}

int gpi_sandbox_lock(const struct gp_runtime *rt)
{
	unsigned policy = rt->config.sandbox;
	uint32_t deny = policy & GP_SANDBOX_KILL ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
	/* Read-only opens: no access mode but O_RDONLY, nothing that writes. */
	const scmp_datum_t writes = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE;
	scmp_filter_ctx ctx;
	int r;

	if (!(policy & GP_SANDBOX_ON))
		return 0;
	ctx = seccomp_init(deny);
	if (!ctx)
		return -ENOMEM;
	r = allow(ctx, runtime_calls, sizeof(runtime_calls) / sizeof(runtime_calls[0]));
	if (r == 0 && (policy & GP_SANDBOX_NET))
		r = allow(ctx, net_calls, sizeof(net_calls) / sizeof(net_calls[0]));
	if (r == 0 && (policy & GP_SANDBOX_FILES))
		r = allow(ctx, file_calls, sizeof(file_calls) / sizeof(file_calls[0]));
	else if (r == 0 && (policy & GP_SANDBOX_FILES_RO)) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, writes, 0));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
					     SCMP_A1(SCMP_CMP_MASKED_EQ, writes, 0));
		if (r == 0)
			r = allow(ctx, (const int[]){ SCMP_SYS(statx), SCMP_SYS(getdents64) }, 2);
	}
	/* Every thread of the runtime, at once. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

bool gpi_sandbox_ring_opens(const struct gp_runtime *rt)
{
	unsigned policy = rt->config.sandbox;

	return !(policy & GP_SANDBOX_ON) || (policy & GP_SANDBOX_FILES);
}
