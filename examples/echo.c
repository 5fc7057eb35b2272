/* SPDX-License-Identifier: MIT */
/*
 * echo: a TCP echo server on libgp. One green process per connection,
 * started by a simple_one_for_one supervisor; an acceptor beside it, under
 * a rest_for_one supervisor (if the connections' supervisor goes, the
 * acceptor is restarted after it). The program locks itself into a
 * network-only sandbox before it serves anything.
 *
 *   echo [PORT]      (default 7007; 127.0.0.1)
 *
 * Try: printf 'hello\n' | nc -q1 127.0.0.1 7007
 */
#define _GNU_SOURCE
#include <errno.h>
#include <gp.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_fd; /* made before the sandbox locks; shared by the acceptors */

/* One connection: echo until the peer closes or stays silent 60 s. */
static void connection(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;

	gp_own(fd); /* closed when this process ends, however it ends */
	gp_io_timeout(60000);
	while ((n = gp_read(fd, buf, sizeof(buf))) > 0)
		if (gp_write(fd, buf, (size_t)n) < 0)
			break;
}

static void connections(void *arg)
{
	static const struct gp_child_spec handler = {
		.name = "echo.connection", .start = connection, .restart = GP_TEMPORARY,
		.shutdown_ms = 1000,
	};
	struct gp_sup_spec spec = {
		.name = "echo.connections", .strategy = GP_SIMPLE_ONE_FOR_ONE,
		.intensity = 0, .period_ms = 1000, .children = &handler, .nchildren = 1,
		.max_children = 100000,
	};

	(void)arg;
	gp_register("echo.connections", gp_self());
	(void)gp_supervisor_run(&spec);
}

static void acceptor(void *arg)
{
	gp_pid sup;

	(void)arg;
	/* Started after it, but green children have no readiness: wait for
	 * the connections' supervisor to have registered. */
	while (!(sup = gp_whereis("echo.connections")))
		gp_sleep(1);
	for (;;) {
		gp_pid pid;
		int fd = gp_accept(listen_fd, NULL, NULL);

		if (fd < 0) {
			fprintf(stderr, "echo: accept: %s\n", strerror(-fd));
			gp_exit(GP_EXIT_USER); /* the supervisor decides */
		}
		if (gp_supervisor_start_child(sup, (void *)(intptr_t)fd, &pid) < 0) {
			gp_close(fd); /* too many: this one is refused */
			continue;
		}
		gp_disown(fd); /* the connection's process has it now */
	}
}

static void top(void *arg)
{
	static const struct gp_child_spec children[] = {
		{ .name = "echo.connections", .start = connections, .restart = GP_PERMANENT,
		  .is_supervisor = true },
		{ .name = "echo.acceptor", .start = acceptor, .restart = GP_PERMANENT,
		  .shutdown_ms = 1000 },
	};
	struct gp_sup_spec spec = {
		.name = "echo", .strategy = GP_REST_FOR_ONE, .intensity = 5, .period_ms = 10000,
		.children = children, .nchildren = 2,
	};

	(void)arg;
	if (gp_supervisor_run(&spec) < 0)
		fprintf(stderr, "echo: the supervisor could not start\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct gp_config cfg = { .sandbox = GP_SANDBOX_ON | GP_SANDBOX_NET };
	long port = argc > 1 ? strtol(argv[1], NULL, 10) : 7007;
	int one = 1, r;

	if (argc > 2 || port <= 0 || port > 65535) {
		fprintf(stderr, "usage: echo [PORT]\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)port);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(listen_fd, 4096) < 0) {
		fprintf(stderr, "echo: 127.0.0.1:%ld: %s\n", port, strerror(errno));
		return 1;
	}
	printf("echo: listening on 127.0.0.1:%ld, sandboxed to the network\n", port);
	fflush(stdout);
	r = gp_main(top, NULL, &cfg);
	if (r < 0) {
		fprintf(stderr, "echo: gp_main: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
