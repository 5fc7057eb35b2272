/* SPDX-License-Identifier: MIT */
/*
 * The listening socket of bench/echo's servers (echo_gp, echo_uring): the
 * same socket options for both, so that only the servers differ.
 */
#ifndef ECHO_LISTEN_H
#define ECHO_LISTEN_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 65535 /* the kernel caps it at net.core.somaxconn */

/* Listen on 127.0.0.1:port (0: any free port): 0 with the socket and the
 * port it got, or -errno. */
static inline int listen_on(unsigned port, int *ret_fd, unsigned *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int one = 1, fd, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* TCP_NODELAY is inherited by the accepted sockets. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	*ret_port = ntohs(sa.sin_port);
	return 0;
}

#endif /* ECHO_LISTEN_H */
