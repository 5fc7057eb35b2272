/* SPDX-License-Identifier: MIT */
/* spawnd's log and the per-child rings (see log.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void submit(struct sd_log *log);

static bool op_busy(const struct sd_log *log)
{
	return log->op.inflight != 0;
}

static void written(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_log *log = (struct sd_log *)((char *)op - offsetof(struct sd_log, op));

	(void)loop;
	(void)flags;
	if (res > 0)
		log->woff += (size_t)res;
	if (res <= 0 || log->woff >= log->wlen)
		log->wlen = log->woff = 0; /* done, or an error: drop the rest */
	submit(log);
}

/* Write what is queued: the queue becomes the buffer in flight (swapped,
 * never reallocated under the kernel), and a new queue fills meanwhile. */
static void submit(struct sd_log *log)
{
	struct io_uring_sqe *sqe;

	if (!log->loop || op_busy(log))
		return;
	if (!log->wlen) {
		char *b;
		size_t cap;

		if (!log->len)
			return;
		b = log->wbuf;
		cap = log->wcap;
		log->wbuf = log->buf;
		log->wcap = log->cap;
		log->wlen = log->len;
		log->woff = 0;
		log->buf = b;
		log->cap = cap;
		log->len = 0;
	}
	sqe = sd_loop_sqe(log->loop, &log->op);
	io_uring_prep_write(sqe, log->fd, log->wbuf + log->woff, (unsigned)(log->wlen - log->woff),
			    (uint64_t)-1);
}

void sd_log_init(struct sd_log *log, int fd)
{
	struct stat st;

	*log = (struct sd_log){ .fd = fd, .op = { .fn = written } };
	/* A regular file never waits for a reader, and io_uring hands buffered
	 * file writes to a kernel worker thread that wakes up and lingers:
	 * write those directly. Pipes, sockets and terminals go through the
	 * loop, so that a stalled reader never blocks spawnd. */
	log->direct = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	log->jsock.fd = -1;
	/* No socket (journald without its native one?): the stream is still
	 * journald's, without the fields. */
	log->journal = sd_log_is_journal(fd) && sd_jsock_open(&log->jsock, SD_JOURNAL_SOCKET) == 0;
}

bool sd_log_is_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets it for the service's stdout/stderr; a stderr redirected
	 * since (spawnd started by a shell of the service) no longer matches. */
	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(fd, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Send one entry; count it if journald does not take it now. Before it,
 * the count of those it did not take, once it takes entries again. */
static void journal_send(struct sd_log *log, const struct iovec *iov, int n)
{
	if (log->jdropped) {
		char note[128], prio[] = "PRIORITY=4";
		struct iovec niov[2] = {
			{ note, (size_t)snprintf(note, sizeof(note),
						 "MESSAGE=warning: %llu log lines dropped (journald was not "
						 "taking them)",
						 (unsigned long long)log->jdropped) },
			{ prio, sizeof(prio) - 1 },
		};

		if (sd_jsock_send(&log->jsock, niov, 2) < 0) {
			log->jdropped++;
			return;
		}
		log->jdropped = 0;
	}
	if (sd_jsock_send(&log->jsock, iov, n) < 0)
		log->jdropped++;
}

/* One journal entry: MESSAGE (len bytes, no newline) and the fields. */
static void journal_entry(struct sd_log *log, const struct sd_log_fields *f, const char *ident,
			  const char *msg, size_t len)
{
	char message[4096 + 600], prio[16], child[600], pid[32], event[64], sig[32], id[600], spid[32];
	struct iovec iov[8];
	int n = 0, m;

	/* Each field is one iovec; a longer message is cut, as on stderr. */
	m = snprintf(message, sizeof(message), "MESSAGE=%.*s", (int)len, msg);
	iov[n++] = (struct iovec){ message, (size_t)m < sizeof(message) ? (size_t)m : sizeof(message) - 1 };
	snprintf(prio, sizeof(prio), "PRIORITY=%d", f->priority);
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	if (ident) {
		/* The child's line as its own. */
		snprintf(id, sizeof(id), "SYSLOG_IDENTIFIER=%s", ident);
		iov[n++] = (struct iovec){ id, strlen(id) };
		snprintf(spid, sizeof(spid), "SYSLOG_PID=%d", (int)f->pid);
		iov[n++] = (struct iovec){ spid, strlen(spid) };
	}
	if (f->child) {
		snprintf(child, sizeof(child), "SPAWND_CHILD=%s", f->child);
		iov[n++] = (struct iovec){ child, strlen(child) };
	}
	if (f->pid > 0) {
		snprintf(pid, sizeof(pid), "SPAWND_PID=%d", (int)f->pid);
		iov[n++] = (struct iovec){ pid, strlen(pid) };
	}
	if (f->event) {
		snprintf(event, sizeof(event), "SPAWND_EVENT=%s", f->event);
		iov[n++] = (struct iovec){ event, strlen(event) };
	}
	if (f->signal > 0) {
		snprintf(sig, sizeof(sig), "SPAWND_SIGNAL=%d", f->signal);
		iov[n++] = (struct iovec){ sig, strlen(sig) };
	}
	journal_send(log, iov, n);
}

void sd_log_attach(struct sd_log *log, struct sd_loop *loop)
{
	log->loop = loop;
	submit(log);
}

void sd_log_fini(struct sd_log *log)
{
	/* Called once the loop is done: what is in flight has been written
	 * (or failed); the rest now. */
	if (log->wlen > log->woff && !log->op.inflight)
		write_all(log->fd, log->wbuf + log->woff, log->wlen - log->woff);
	write_all(log->fd, log->buf, log->len);
	free(log->buf);
	free(log->wbuf);
	sd_jsock_close(&log->jsock);
	*log = (struct sd_log){ .fd = log->fd, .direct = log->direct, .jsock = { -1 } };
}

/* Queue one whole line (or write it now, without a loop). */
static void emit(struct sd_log *log, const char *line, size_t len)
{
	if (!log->loop || log->direct) {
		write_all(log->fd, line, len);
		return;
	}
	if (log->dropped && log->len + 80 <= SD_LOG_QUEUE_MAX) {
		char note[80];
		int n = snprintf(note, sizeof(note),
				 "spawnd: warning: %llu log lines dropped (stderr too slow)\n",
				 (unsigned long long)log->dropped);

		log->dropped = 0;
		emit(log, note, (size_t)n);
	}
	if (log->len + len > SD_LOG_QUEUE_MAX / 2) {
		log->dropped++;
		return;
	}
	if (log->len + len > log->cap) {
		size_t cap = log->cap ? log->cap : 4096;
		char *buf;

		while (cap < log->len + len)
			cap *= 2;
		buf = realloc(log->buf, cap);
		if (!buf) {
			log->dropped++;
			return;
		}
		log->buf = buf;
		log->cap = cap;
	}
	memcpy(log->buf + log->len, line, len);
	log->len += len;
	submit(log);
}

/* The priority a line of spawnd's own says it has. */
static int priority_of(const char *msg)
{
	if (strncmp(msg, "fatal:", 6) == 0)
		return LOG_CRIT;
	if (strncmp(msg, "warning:", 8) == 0 || strncmp(msg, "degraded:", 9) == 0 ||
	    strstr(msg, ": warning:"))
		return LOG_WARNING;
	return LOG_INFO;
}

static void vlog(struct sd_log *log, const struct sd_log_fields *f, const char *fmt, va_list ap)
{
	static const char prefix[] = "spawnd: ";
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s", prefix);

	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (log->journal) {
		/* journald adds "spawnd[pid]: " itself. */
		struct sd_log_fields jf = f ? *f : (struct sd_log_fields){ 0 };
		const char *msg = line + sizeof(prefix) - 1;

		if (!jf.priority)
			jf.priority = priority_of(msg);
		journal_entry(log, &jf, NULL, msg, (size_t)n - (sizeof(prefix) - 1));
		return;
	}
	line[n++] = '\n';
	emit(log, line, (size_t)n);
}

void sd_log(struct sd_log *log, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(log, NULL, fmt, ap);
	va_end(ap);
}

void sd_log_about(struct sd_log *log, const struct sd_log_fields *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(log, f, fmt, ap);
	va_end(ap);
}

void sd_debug(struct sd_log *log, const char *fmt, ...)
{
	va_list ap;

	if (!log->verbose)
		return;
	va_start(ap, fmt);
	vlog(log, &(struct sd_log_fields){ .priority = LOG_DEBUG }, fmt, ap);
	va_end(ap);
}

void sd_log_output(struct sd_log *log, const char *path, pid_t pid, bool is_err, const char *line,
		   size_t len)
{
	char buf[4096 + 512];
	int n;

	if (log->journal) {
		/* Its name as the line's identifier ("api[spawnd's pid]: line"
		 * in journalctl, which shows the sender's _PID), its pid in
		 * SYSLOG_PID; the unit stays spawnd's (from the sender's cgroup). */
		struct sd_log_fields f = { .priority = is_err ? LOG_NOTICE : LOG_INFO,
					   .child = path, .pid = pid };
		const char *base = strrchr(path, '/');

		journal_entry(log, &f, base ? base + 1 : path, line, len);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%s[%d]: ", path, (int)pid);

	if (len > sizeof(buf) - (size_t)n - 1)
		len = sizeof(buf) - (size_t)n - 1;
	memcpy(buf + n, line, len);
	buf[(size_t)n + len] = '\n';
	emit(log, buf, (size_t)n + len + 1);
}

/* ---- rings ----------------------------------------------------------------- */

int sd_ring_init(struct sd_ring *ring, size_t cap)
{
	*ring = (struct sd_ring){ .cap = cap };
	ring->buf = malloc(cap);
	return ring->buf ? 0 : -ENOMEM;
}

void sd_ring_fini(struct sd_ring *ring)
{
	free(ring->buf);
	ring->buf = NULL;
	ring->len = 0;
}

static char ring_at(const struct sd_ring *ring, size_t i)
{
	return ring->buf[(ring->start + i) % ring->cap];
}

void sd_ring_add(struct sd_ring *ring, const char *line, size_t len)
{
	if (!ring->buf)
		return;
	if (len + 1 > ring->cap)
		len = ring->cap - 1;
	/* Drop the oldest whole lines until this one fits. */
	while (ring->len + len + 1 > ring->cap) {
		size_t i = 0;

		while (i < ring->len && ring_at(ring, i) != '\n')
			i++;
		i = i < ring->len ? i + 1 : ring->len;
		ring->start = (ring->start + i) % ring->cap;
		ring->len -= i;
	}
	for (size_t i = 0; i < len; i++)
		ring->buf[(ring->start + ring->len + i) % ring->cap] = line[i];
	ring->buf[(ring->start + ring->len + len) % ring->cap] = '\n';
	ring->len += len + 1;
}

size_t sd_ring_tail(const struct sd_ring *ring, size_t n, char *out, size_t size)
{
	size_t from = 0, seen = 0, copy;

	if (!ring->len || !n)
		return 0;
	/* A line starts at i when the byte before it ends the previous one. */
	for (size_t i = ring->len - 1; i > 0; i--) {
		if (ring_at(ring, i - 1) == '\n' && ++seen == n) {
			from = i;
			break;
		}
	}
	copy = ring->len - from;
	if (copy > size) {
		from = ring->len - size;
		copy = size;
	}
	for (size_t i = 0; i < copy; i++)
		out[i] = ring_at(ring, from + i);
	return copy;
}
