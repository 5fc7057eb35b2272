/* SPDX-License-Identifier: MIT */
/*
 * chat: a chat room on libgp. A room process keeps the members and
 * broadcasts each line; each client has a process that reads its socket
 * and one, linked to it, that writes to it what the room sends. Client
 * processes are temporary children of a simple_one_for_one supervisor: a
 * client that sends a malformed line (a control character) makes its
 * handler give up, and that client alone goes; the room and everyone else
 * carry on, and nothing is restarted.
 *
 *   chat [PORT]      (default 7008; 127.0.0.1)
 *
 * Try two terminals: nc 127.0.0.1 7008; then send printf 'bad\001\n'.
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

enum { TAG_JOIN = 1, TAG_LINE, TAG_SAY };
#define LINE_MAX_LEN 512

static int listen_fd;

/* ---- the room ------------------------------------------------------------------- */

static void room(void *arg)
{
	gp_pid *members = NULL;
	size_t n = 0, cap = 0;

	(void)arg;
	gp_register("chat.room", gp_self());
	for (;;) {
		struct gp_msg m;

		if (gp_receive(&m, -1) < 0)
			continue;
		if (m.tag == TAG_JOIN) { /* a client's writer: watch it, to forget it */
			gp_pid w = *(gp_pid *)m.data;
			uint64_t ref;

			if (n == cap) {
				size_t c2 = cap ? cap * 2 : 16;
				gp_pid *v = realloc(members, c2 * sizeof(*v));

				if (!v) { /* no room for it: it hears nothing */
					gp_msg_free(&m);
					continue;
				}
				members = v;
				cap = c2;
			}
			if (gp_monitor(w, &ref) == 0)
				members[n++] = w;
		} else if (m.tag == GP_TAG_DOWN) {
			gp_pid gone = ((struct gp_exit_info *)m.data)->pid;

			for (size_t i = 0; i < n; i++)
				if (members[i] == gone)
					members[i] = members[--n];
		} else if (m.tag == TAG_LINE) {
			for (size_t i = 0; i < n; i++)
				gp_send(members[i], TAG_SAY, m.data, m.len);
		}
		gp_msg_free(&m);
	}
}

/* ---- a client ------------------------------------------------------------------- */

/* Writes to the client what the room says; dies with its reader (linked). */
static void writer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	gp_pid self = gp_self();

	gp_send(gp_whereis("chat.room"), TAG_JOIN, &self, sizeof(self));
	for (;;) {
		struct gp_msg m;

		if (gp_receive(&m, -1) < 0)
			continue;
		if (m.tag == TAG_SAY && gp_write(fd, m.data, m.len) < 0)
			gp_exit(GP_EXIT_NORMAL); /* the client went away */
		gp_msg_free(&m);
	}
}

static void client(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct gp_spawn_opts link = { .name = "chat.writer", .flags = GP_SPAWN_LINK };
	char buf[LINE_MAX_LEN + 64], line[LINE_MAX_LEN + 64];
	size_t len = 0;
	gp_pid w;
	ssize_t n;

	gp_own(fd);
	if (gp_spawn_opt(&w, writer, arg, &link) < 0)
		return;
	gp_write(fd, "welcome to the room\n", 20);
	while ((n = gp_read(fd, buf + len, sizeof(buf) - len)) > 0) {
		char *nl;

		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			size_t l = (size_t)(nl - buf);

			for (size_t i = 0; i < l; i++) {
				if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t' && buf[i] != '\r') {
					/* Malformed: this handler gives up; its
					 * writer dies with it (linked), nobody else. */
					fprintf(stderr, "chat: client %d sent a control character: dropped\n", fd);
					gp_exit(GP_EXIT_USER + 1);
				}
			}
			int m = snprintf(line, sizeof(line), "%d: %.*s\n", fd, (int)l, buf);

			gp_send(gp_whereis("chat.room"), TAG_LINE, line, (size_t)m);
			len -= l + 1;
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf))
			gp_exit(GP_EXIT_USER + 2); /* a line too long: malformed too */
	}
	gp_kill(w, GP_EXIT_SHUTDOWN); /* a normal end does not reach a link */
}

/* ---- the tree ------------------------------------------------------------------- */

static void clients(void *arg)
{
	static const struct gp_child_spec handler = {
		.name = "chat.client", .start = client, .restart = GP_TEMPORARY, .shutdown_ms = 1000,
	};
	struct gp_sup_spec spec = {
		.name = "chat.clients", .strategy = GP_SIMPLE_ONE_FOR_ONE, .intensity = 0,
		.children = &handler, .nchildren = 1, .max_children = 10000,
	};

	(void)arg;
	gp_register("chat.clients", gp_self());
	(void)gp_supervisor_run(&spec);
}

static void acceptor(void *arg)
{
	gp_pid sup;

	(void)arg;
	while (!(sup = gp_whereis("chat.clients")) || !gp_whereis("chat.room"))
		gp_sleep(1);
	for (;;) {
		gp_pid pid;
		int fd = gp_accept(listen_fd, NULL, NULL);

		if (fd < 0)
			gp_exit(GP_EXIT_USER);
		if (gp_supervisor_start_child(sup, (void *)(intptr_t)fd, &pid) < 0) {
			gp_close(fd);
			continue;
		}
		gp_disown(fd);
	}
}

static void top(void *arg)
{
	static const struct gp_child_spec children[] = {
		{ .name = "chat.room", .start = room, .restart = GP_PERMANENT, .shutdown_ms = 1000 },
		{ .name = "chat.clients", .start = clients, .restart = GP_PERMANENT,
		  .is_supervisor = true },
		{ .name = "chat.acceptor", .start = acceptor, .restart = GP_PERMANENT,
		  .shutdown_ms = 1000 },
	};
	struct gp_sup_spec spec = {
		.name = "chat", .strategy = GP_REST_FOR_ONE, .intensity = 5, .period_ms = 10000,
		.children = children, .nchildren = 3,
	};

	(void)arg;
	if (gp_supervisor_run(&spec) < 0)
		fprintf(stderr, "chat: the supervisor could not start\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct gp_config cfg = { .sandbox = GP_SANDBOX_ON | GP_SANDBOX_NET };
	long port = argc > 1 ? strtol(argv[1], NULL, 10) : 7008;
	int one = 1, r;

	if (argc > 2 || port <= 0 || port > 65535) {
		fprintf(stderr, "usage: chat [PORT]\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)port);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(listen_fd, 1024) < 0) {
		fprintf(stderr, "chat: 127.0.0.1:%ld: %s\n", port, strerror(errno));
		return 1;
	}
	printf("chat: listening on 127.0.0.1:%ld\n", port);
	fflush(stdout);
	r = gp_main(top, NULL, &cfg);
	if (r < 0) {
		fprintf(stderr, "chat: gp_main: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
