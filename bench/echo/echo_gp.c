/* SPDX-License-Identifier: MIT */
/*
 * echo_gp: the libgp TCP echo server of bench/echo: one green process per
 * connection, as a libgp program is meant to be written (gp_read(3)).
 * Schedulers: $GP_SCHEDULERS.
 *
 *   echo_gp [PORT]
 *
 * Listens on 127.0.0.1:PORT (0, the default: any free port) and prints
 * "echo listening PORT" on stdout once it does. One process accepts in a
 * loop and spawns a process per connection, which reads up to 4 KiB and
 * writes it back until the peer goes. Runs until killed. Exit status 1 if
 * it cannot start, 2 on a bad command line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <gp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

#define BUF_SIZE 4096

static void conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[BUF_SIZE];
	ssize_t n;

	if (gp_own(fd) < 0) { /* closed when this process ends, however it ends */
		close(fd);
		return;
	}
	while ((n = gp_read(fd, buf, sizeof(buf))) > 0)
		if (gp_write(fd, buf, (size_t)n) < 0)
			break;
}

static void acceptor(void *arg)
{
	int lfd = *(int *)arg, fd;

	for (;;) {
		fd = gp_accept(lfd, NULL, NULL);
		if (fd < 0) {
			/* Out of descriptors, or a connection reset before we took
			 * it: the server goes on. */
			fprintf(stderr, "echo_gp: accept: %s\n", strerror(-fd));
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)
				(void)gp_sleep(10);
			continue;
		}
		(void)gp_disown(fd); /* conn's, once it runs */
		if (!gp_spawn(conn, (void *)(intptr_t)fd)) {
			fprintf(stderr, "echo_gp: gp_spawn: %s\n", strerror(errno));
			close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	unsigned port = 0;
	char *end;
	int lfd, r;

	if (argc > 2 || (argc == 2 && (port = (unsigned)strtoul(argv[1], &end, 10), *end ||
						       port > 65535))) {
		fputs("usage: echo_gp [PORT]\n", stderr);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	r = listen_on(port, &lfd, &port);
	if (r < 0) {
		fprintf(stderr, "echo_gp: fatal: unable to listen: %s\n", strerror(-r));
		return 1;
	}
	printf("echo listening %u\n", port);
	fflush(stdout);
	r = gp_main(acceptor, &lfd, NULL);
	fprintf(stderr, "echo_gp: fatal: gp_main: %s\n", r < 0 ? strerror(-r) : "returned");
	return 1;
}
