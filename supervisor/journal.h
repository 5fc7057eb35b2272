/* SPDX-License-Identifier: MIT */
/*
 * journald's native protocol, without ever waiting: one datagram per entry
 * on journald's socket, sent with MSG_DONTWAIT.
 *
 * sd_journal_sendv(3) sends the same datagram but blocks while journald's
 * queue is full (net.unix.max_dgram_qlen datagrams, 512 by default): a
 * journald that falls behind, or stops (frozen, restarting), would stop
 * spawnd's loop and its watchdog pings with it, and systemd would restart
 * the whole tree over a log line. Here that entry is refused at once; the
 * caller counts it.
 */
#ifndef SD_JOURNAL_H
#define SD_JOURNAL_H

#include <sys/un.h>
#include <sys/uio.h>

#define SD_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* A datagram socket for journald's, or fd -1. */
struct sd_jsock {
	int fd;
	struct sockaddr_un addr; /* journald's socket */
};

/* Open (non-blocking, close-on-exec): 0, or -errno when there is no socket
 * at path (no journald there). */
int sd_jsock_open(struct sd_jsock *j, const char *path);
void sd_jsock_close(struct sd_jsock *j);

/*
 * Send one entry: fields are "NAME=value" (a value may hold any byte,
 * newlines included). 0; -EAGAIN when journald's queue is full; another
 * -errno when journald is gone (ECONNREFUSED, ENOENT: it may come back, and
 * the next send reaches it) or the entry is too big.
 */
int sd_jsock_send(struct sd_jsock *j, const struct iovec *fields, int n);

#endif /* SD_JOURNAL_H */
