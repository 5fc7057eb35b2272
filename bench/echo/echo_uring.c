/* SPDX-License-Identifier: MIT */
/*
 * echo_uring: the ceiling for bench/echo: a TCP echo server as one plain
 * io_uring loop on one thread, with no runtime at all.
 *
 *   echo_uring [PORT]
 *
 * Listens on 127.0.0.1:PORT (0, the default: any free port) and prints
 * "echo listening PORT" on stdout once it does. One multishot accept; per
 * connection one receive into a 4 KiB buffer, then one send of what came
 * (again for the rest if the socket took less), then the next receive: one
 * operation in flight per connection. Everything prepared in a round goes
 * to the kernel with the wait for the next: one io_uring_enter per round.
 * Runs until killed. Exit status 1 if it cannot start, 2 on a bad command
 * line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

#define BUF_SIZE 4096

enum { OP_ACCEPT, OP_RECV, OP_SEND };
#define OP_BITS 2

struct conn {
	int fd;
	unsigned len;  /* bytes received, to echo */
	unsigned sent; /* of them, sent */
	char buf[BUF_SIZE];
};

struct server {
	struct io_uring ring;
	int lfd;
	struct conn **conns; /* by fd */
	size_t nconns;
};

static struct io_uring_sqe *get_sqe(struct server *sv)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&sv->ring);

	if (!sqe) {
		(void)io_uring_submit(&sv->ring);
		sqe = io_uring_get_sqe(&sv->ring);
	}
	return sqe;
}

static void prep_accept(struct server *sv)
{
	struct io_uring_sqe *sqe = get_sqe(sv);

	io_uring_prep_multishot_accept(sqe, sv->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, OP_ACCEPT);
}

static void prep_recv(struct server *sv, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(sv);

	io_uring_prep_recv(sqe, c->fd, c->buf, BUF_SIZE, 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)c->fd << OP_BITS | OP_RECV);
}

static void prep_send(struct server *sv, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(sv);

	io_uring_prep_send(sqe, c->fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uint64_t)c->fd << OP_BITS | OP_SEND);
}

static void conn_close(struct server *sv, struct conn *c)
{
	sv->conns[c->fd] = NULL;
	close(c->fd);
	free(c);
}

static void on_accept(struct server *sv, struct io_uring_cqe *cqe)
{
	struct conn *c;
	int fd = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		prep_accept(sv); /* the multishot ended (an error, or overflow): again */
	if (fd < 0) {
		fprintf(stderr, "echo_uring: accept: %s\n", strerror(-fd));
		return;
	}
	if ((size_t)fd >= sv->nconns || !(c = malloc(sizeof(*c)))) {
		close(fd);
		return;
	}
	c->fd = fd;
	sv->conns[fd] = c;
	prep_recv(sv, c);
}

static void on_io(struct server *sv, struct io_uring_cqe *cqe, unsigned op, struct conn *c)
{
	if (cqe->res <= 0) { /* end of stream, or reset */
		conn_close(sv, c);
		return;
	}
	if (op == OP_RECV) {
		c->len = (unsigned)cqe->res;
		c->sent = 0;
	} else {
		c->sent += (unsigned)cqe->res;
	}
	if (c->sent < c->len)
		prep_send(sv, c);
	else
		prep_recv(sv, c);
}

int main(int argc, char **argv)
{
	struct io_uring_params p = { 0 };
	struct server sv = { 0 };
	struct rlimit rl;
	unsigned port = 0;
	char *end;
	int r;

	if (argc > 2 || (argc == 2 && (port = (unsigned)strtoul(argv[1], &end, 10), *end ||
						       port > 65535))) {
		fputs("usage: echo_uring [PORT]\n", stderr);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	sv.nconns = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
	sv.conns = calloc(sv.nconns, sizeof(*sv.conns));
	if (!sv.conns) {
		fputs("echo_uring: fatal: out of memory\n", stderr);
		return 1;
	}
	r = listen_on(port, &sv.lfd, &port);
	if (r < 0) {
		fprintf(stderr, "echo_uring: fatal: unable to listen: %s\n", strerror(-r));
		return 1;
	}
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = 65536; /* one operation per connection in flight */
	r = io_uring_queue_init_params(4096, &sv.ring, &p);
	if (r == -EINVAL) {
		p.flags = IORING_SETUP_CQSIZE;
		r = io_uring_queue_init_params(4096, &sv.ring, &p);
	}
	if (r < 0) {
		fprintf(stderr, "echo_uring: fatal: unable to set up io_uring: %s\n", strerror(-r));
		return 1;
	}
	prep_accept(&sv);
	printf("echo listening %u\n", port);
	fflush(stdout);

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		r = io_uring_submit_and_wait(&sv.ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			fprintf(stderr, "echo_uring: fatal: io_uring_enter: %s\n", strerror(-r));
			return 1;
		}
		io_uring_for_each_cqe(&sv.ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			unsigned op = ud & ((1u << OP_BITS) - 1);

			if (op == OP_ACCEPT)
				on_accept(&sv, cqe);
			else
				on_io(&sv, cqe, op, sv.conns[ud >> OP_BITS]);
			n++;
		}
		io_uring_cq_advance(&sv.ring, n);
	}
}
