/* SPDX-License-Identifier: MIT */
/* Small helpers shared by spawnd's files. */
#ifndef SD_UTIL_H
#define SD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

/* Read a small file (/proc, /sys) into buf, NUL-terminated: its length, or
 * -errno. One read: these files are produced whole. */
static inline int sd_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

#endif /* SD_UTIL_H */
