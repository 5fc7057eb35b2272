/* SPDX-License-Identifier: MIT */
/*
 * Blocking I/O for green processes, on the scheduler's io_uring: a call
 * prepares an SQE on the ring of the scheduler it runs on and parks; the
 * scheduler submits its SQEs in batches (see gpi_io_poll) and, when the
 * completion comes, makes the process runnable. Only the caller blocks.
 *
 * Ownership: an operation in flight (struct gp_io, on the waiting
 * process's stack, and the caller's buffer) belongs to the kernel until its
 * completion arrives. A process woken by a kill while its operation is in
 * flight asks the ring's scheduler to cancel it and waits, unkillable, for
 * the completion before it goes on dying: the kernel never writes into a
 * stack or buffer that is no longer the process's.
 *
 * Descriptors a process opens, accepts or creates through libgp are its
 * own: closed when it exits, however it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* ---- submission and completion --------------------------------------------------- */

/* Room for n SQEs in a row (an operation and its linked timeout). */
static struct io_uring_sqe *io_sqes(struct gp_sched *s, unsigned n)
{
	if (io_uring_sq_space_left(&s->ring) < n)
		(void)io_uring_submit(&s->ring);
	return io_uring_get_sqe(&s->ring);
}

/*
 * The scheduler's side, from its loop: completions wake their processes;
 * cancels asked by processes that migrated away are submitted here, on the
 * ring that holds their operations; and pending SQEs go to the kernel in
 * one io_uring_enter when there is nothing else to run, or every
 * GP_IO_BATCH picks.
 */
void gpi_io_complete(struct gp_sched *s, struct io_uring_cqe *cqe)
{
	struct gp_io *io = io_uring_cqe_get_data(cqe);
	struct gp_proc *p = io->proc; /* read before done: then io may be gone */

	atomic_store_explicit(&s->io_completed,
			      atomic_load_explicit(&s->io_completed, memory_order_relaxed) + 1,
			      memory_order_relaxed); /* owner only: for introspection */
	io->res = cqe->res;
	/* seq_cst: Dekker with park_commit's publish-then-check of io */
	atomic_store_explicit(&io->done, 1, memory_order_seq_cst);
	/* Behind every process already waiting to run, not in runnext: a
	 * batch of completions would otherwise keep overtaking them, and with
	 * thousands of connections some starve for seconds. */
	if (gpi_try_wake(p, GP_W_IO))
		gpi_make_runnable_fifo(s, p);
}

void gpi_io_cancels(struct gp_sched *s)
{
	struct gp_io *io = atomic_exchange_explicit(&s->io_cancels, NULL, memory_order_acquire);

	while (io) {
		struct gp_io *next = io->cancel_next;
		struct io_uring_sqe *sqe = io_sqes(s, 1);

		io_uring_prep_cancel(sqe, io, 0);
		io_uring_sqe_set_data64(sqe, GP_UD_IGNORE);
		io = next;
	}
}

/* Cancel io, which is in flight on the ring of io->sched. */
static void io_cancel(struct gp_sched *s, struct gp_io *io)
{
	struct gp_sched *owner = io->sched;

	if (owner == s) {
		struct io_uring_sqe *sqe = io_sqes(s, 1);

		io_uring_prep_cancel(sqe, io, 0);
		io_uring_sqe_set_data64(sqe, GP_UD_IGNORE);
		return;
	}
	/* Only the owner may submit to its ring (SINGLE_ISSUER): hand it over. */
	io->cancel_next = atomic_load_explicit(&owner->io_cancels, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&owner->io_cancels, &io->cancel_next, io,
						      memory_order_release, memory_order_relaxed))
		;
	if (gpi_claim_sleeper(owner))
		gpi_wake_sched(&s->ring, owner);
}

/*
 * Submit the operation prepared in sqe (and, with the process's I/O
 * deadline, a linked timeout), park until it completes, and return its
 * result: -ETIMEDOUT if the deadline cut it short. A kill meanwhile: the
 * operation is cancelled and waited for, then the process dies.
 */
int gpi_io_wait(struct gp_sched *s, struct gp_proc *p, struct io_uring_sqe *sqe)
{
	struct gp_io io = { .proc = p, .sched = s };
	struct __kernel_timespec ts;
	bool timed = p->io_timeout_ms >= 0;

	io_uring_sqe_set_data(sqe, &io);
	atomic_store_explicit(&s->io_submitted,
			      atomic_load_explicit(&s->io_submitted, memory_order_relaxed) + 1,
			      memory_order_relaxed); /* owner only: for introspection */
	if (timed) {
		struct io_uring_sqe *t = io_uring_get_sqe(&s->ring); /* room: io_sqes(s, 2) */

		ts.tv_sec = p->io_timeout_ms / 1000;
		ts.tv_nsec = (long long)(p->io_timeout_ms % 1000) * 1000000;
		sqe->flags |= IOSQE_IO_LINK;
		io_uring_prep_link_timeout(t, &ts, 0);
		io_uring_sqe_set_data64(t, GP_UD_IGNORE);
	}
	/* (Submitted with the scheduler's next batch: see io_submit in sched.c.) */
	atomic_store_explicit(&p->io, &io, memory_order_relaxed);
	while (!atomic_load_explicit(&io.done, memory_order_acquire)) {
		s = gpi_park(s, p, GP_W_IO | GP_W_KILL, 0);
		if (atomic_load_explicit(&io.done, memory_order_acquire))
			break;
		if (atomic_load_explicit(&p->kill_reason, memory_order_relaxed) >= 0) {
			io_cancel(s, &io);
			while (!atomic_load_explicit(&io.done, memory_order_acquire))
				s = gpi_park(s, p, GP_W_IO, 0); /* unkillable: the kernel has io */
			break;
		}
	}
	atomic_store_explicit(&p->io, NULL, memory_order_relaxed);
	gpi_check_kill(s, p);
	if (timed && io.res == -ECANCELED)
		return -ETIMEDOUT;
	return io.res;
}

/* The caller's process and scheduler, with room for an operation and its
 * timeout; NULL outside a process. */
static struct io_uring_sqe *io_begin(struct gp_sched **s, struct gp_proc **p)
{
	*p = gpi_current(s);
	if (!*p)
		return NULL;
	gpi_check_kill(*s, *p);
	return io_sqes(*s, 2);
}

/* ---- descriptors the process owns ------------------------------------------------------ */

static int fd_own(struct gp_proc *p, int fd)
{
	if (p->nfds == p->capfds) {
		uint32_t cap = p->capfds ? p->capfds * 2 : 4;
		int *v = realloc(p->fds, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->fds = v;
		p->capfds = cap;
	}
	p->fds[p->nfds++] = fd;
	return 0;
}

static bool fd_disown(struct gp_proc *p, int fd)
{
	for (uint32_t i = p->nfds; i-- > 0;) {
		if (p->fds[i] == fd) {
			p->fds[i] = p->fds[--p->nfds];
			return true;
		}
	}
	return false;
}

/* A new descriptor from the kernel (or an error), now the process's. */
static int fd_new(struct gp_proc *p, int fd)
{
	if (fd >= 0 && fd_own(p, fd) < 0) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

void gpi_io_exit(struct gp_proc *p)
{
	while (p->natexit) {
		struct gp_atexit a = p->atexit[--p->natexit];

		a.fn(a.arg); /* popped first: a handler that dies ends only itself */
	}
	free(p->atexit);
	p->atexit = NULL;
	p->capatexit = 0;
	for (uint32_t i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	free(p->fds);
	p->fds = NULL;
	p->nfds = p->capfds = 0;
}

/* ---- the calls ----------------------------------------------------------------------------- */

ssize_t gp_read(int fd, void *buf, size_t len)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);

	if (!sqe)
		return -EPERM;
	io_uring_prep_read(sqe, fd, buf, len > UINT32_MAX ? UINT32_MAX : (unsigned)len, (uint64_t)-1);
	return gpi_io_wait(s, p, sqe);
}

ssize_t gp_write(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	if (!gp_self())
		return -EPERM;
	/* All of it: a pipe or socket may take less than asked at a time. */
	while (done < len) {
		struct gp_sched *s;
		struct gp_proc *p;
		struct io_uring_sqe *sqe = io_begin(&s, &p);
		size_t n = len - done;
		int r;

		io_uring_prep_write(sqe, fd, (const char *)buf + done,
				    n > UINT32_MAX ? UINT32_MAX : (unsigned)n, (uint64_t)-1);
		r = gpi_io_wait(s, p, sqe);
		if (r < 0)
			return r;
		if (r == 0)
			return -EIO; /* no progress: cannot happen for a working fd */
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int gp_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);

	if (!sqe)
		return -EPERM;
	io_uring_prep_accept(sqe, fd, addr, addrlen, SOCK_CLOEXEC);
	return fd_new(p, gpi_io_wait(s, p, sqe));
}

int gp_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);

	if (!sqe)
		return -EPERM;
	io_uring_prep_connect(sqe, fd, addr, addrlen);
	return gpi_io_wait(s, p, sqe);
}

int gp_socket(int domain, int type, int protocol)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);

	if (!sqe)
		return -EPERM;
	io_uring_prep_socket(sqe, domain, type | SOCK_CLOEXEC, protocol, 0);
	return fd_new(p, gpi_io_wait(s, p, sqe));
}

int gp_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct io_uring_sqe *sqe;

	if (!p)
		return -EPERM;
	if (!gpi_sandbox_ring_opens(s->rt)) {
		/* A sandbox that may only read files: openat(2), whose flags its
		 * seccomp filter checks (the ring cannot), or that may open
		 * nothing (seccomp says no). */
		int fd;

		gpi_check_kill(s, p);
		fd = openat(dirfd, path, flags | O_CLOEXEC, mode);
		return fd_new(p, fd < 0 ? -errno : fd);
	}
	sqe = io_begin(&s, &p);
	io_uring_prep_openat(sqe, dirfd, path, flags | O_CLOEXEC, mode);
	return fd_new(p, gpi_io_wait(s, p, sqe));
}

int gp_close(int fd)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);

	if (!sqe)
		return -EPERM;
	(void)fd_disown(p, fd);
	io_uring_prep_close(sqe, fd);
	return gpi_io_wait(s, p, sqe);
}

int gp_poll(int fd, short events, int timeout_ms)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);
	int saved, r;

	if (!sqe)
		return -EPERM;
	io_uring_prep_poll_add(sqe, fd, (unsigned)events);
	/* The poll's own timeout, in place of the process's I/O deadline. */
	saved = p->io_timeout_ms;
	p->io_timeout_ms = timeout_ms;
	r = gpi_io_wait(s, p, sqe);
	p->io_timeout_ms = saved;
	if (r == -ETIMEDOUT)
		return 0; /* as poll(2): nothing happened in time */
	return r;
}

ssize_t gp_readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);

	if (!sqe)
		return -EPERM;
	io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt, (uint64_t)-1);
	return gpi_io_wait(s, p, sqe);
}

ssize_t gp_recv(int fd, void *buf, size_t len, int flags)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);

	if (!sqe)
		return -EPERM;
	io_uring_prep_recv(sqe, fd, buf, len, flags);
	return gpi_io_wait(s, p, sqe);
}

int gp_fsync(int fd)
{
	struct gp_sched *s;
	struct gp_proc *p;
	struct io_uring_sqe *sqe = io_begin(&s, &p);

	if (!sqe)
		return -EPERM;
	io_uring_prep_fsync(sqe, fd, 0);
	return gpi_io_wait(s, p, sqe);
}

int gp_own(int fd)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	if (!p)
		return -EPERM;
	if (fd < 0)
		return -EBADF;
	for (uint32_t i = 0; i < p->nfds; i++)
		if (p->fds[i] == fd)
			return 0;
	return fd_own(p, fd);
}

int gp_disown(int fd)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	if (!p)
		return -EPERM;
	return fd_disown(p, fd) ? 0 : -ENOENT;
}

int gp_io_timeout(int ms)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	if (!p)
		return -EPERM;
	if (ms < -1)
		return -EINVAL;
	p->io_timeout_ms = ms;
	return 0;
}

int gp_atexit(void (*fn)(void *arg), void *arg)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);

	if (!p)
		return -EPERM;
	if (!fn)
		return -EINVAL;
	if (p->natexit == p->capatexit) {
		uint32_t cap = p->capatexit ? p->capatexit * 2 : 2;
		struct gp_atexit *v = realloc(p->atexit, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->atexit = v;
		p->capatexit = cap;
	}
	p->atexit[p->natexit++] = (struct gp_atexit){ fn, arg };
	return 0;
}
