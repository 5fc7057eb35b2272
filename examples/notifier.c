/* SPDX-License-Identifier: MIT */
/*
 * notifier: a service written for systemd's Type=notify, unchanged under
 * spawnd (ready = "notify"): it warms up, says READY=1 on $NOTIFY_SOCKET,
 * then keeps its STATUS= current and pings WATCHDOG=1.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract socket */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

int main(void)
{
	char status[64];

	printf("notifier %d: warming up\n", (int)getpid());
	fflush(stdout);
	sleep(1);
	notify("READY=1\nSTATUS=serving");
	printf("notifier %d: ready\n", (int)getpid());
	fflush(stdout);
	for (unsigned long n = 1;; n++) {
		sleep(1);
		snprintf(status, sizeof(status), "STATUS=served %lu requests\nWATCHDOG=1", n * 42);
		notify(status);
	}
}
