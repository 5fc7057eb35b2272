/* SPDX-License-Identifier: MIT */
/* journald's native protocol, without waiting (see journal.h). */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal.h"

/* Entries are a few KiB (a message is cut at 4 KiB): 8 fields at most. */
#define MAX_FIELDS 16

int sd_jsock_open(struct sd_jsock *j, const char *path)
{
	struct stat st;

	*j = (struct sd_jsock){ .fd = -1, .addr = { .sun_family = AF_UNIX } };
	if (strlen(path) >= sizeof(j->addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(j->addr.sun_path, path);
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	j->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return j->fd < 0 ? -errno : 0;
}

void sd_jsock_close(struct sd_jsock *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

int sd_jsock_send(struct sd_jsock *j, const struct iovec *fields, int n)
{
	/* Per field: "NAME=value\n", or, for a value with a newline in it,
	 * "NAME\n" + its length (64 bits, little-endian) + value + "\n". */
	struct iovec iov[MAX_FIELDS * 4];
	uint64_t lens[MAX_FIELDS];
	/* Not connected: addressed each time, so that a journald restarted
	 * since (a new socket at the same path) gets the next entry. */
	struct msghdr mh = { .msg_name = &j->addr, .msg_namelen = sizeof(j->addr), .msg_iov = iov };
	static char nl[] = "\n";
	size_t k = 0;

	if (j->fd < 0)
		return -ENOTCONN;
	if (n > MAX_FIELDS)
		return -E2BIG;
	for (int i = 0; i < n; i++) {
		const char *f = fields[i].iov_base, *eq = memchr(f, '=', fields[i].iov_len);
		size_t name = eq ? (size_t)(eq - f) : 0;

		if (!eq || !name)
			return -EINVAL;
		if (!memchr(eq + 1, '\n', fields[i].iov_len - name - 1)) {
			iov[k++] = fields[i];
		} else {
			lens[i] = htole64(fields[i].iov_len - name - 1);
			iov[k++] = (struct iovec){ (void *)f, name };
			iov[k++] = (struct iovec){ nl, 1 };
			iov[k++] = (struct iovec){ &lens[i], sizeof(lens[i]) };
			iov[k++] = (struct iovec){ (void *)(eq + 1), fields[i].iov_len - name - 1 };
		}
		iov[k++] = (struct iovec){ nl, 1 };
	}
	mh.msg_iovlen = k;
	if (sendmsg(j->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}
