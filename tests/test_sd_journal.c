/* SPDX-License-Identifier: MIT */
/*
 * spawnd's journald client (supervisor/journal.c) against a datagram socket
 * of our own standing in for journald's: the native protocol's bytes, and
 * that a journald which stops reading is never waited for.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../supervisor/journal.h"

static char dir[32], path[64];
static int journald = -1; /* our stand-in's socket */

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(dir, sizeof(dir), "/tmp/sdjournal.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/socket", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	journald = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(journald, 0);
	cr_assert_eq(bind(journald, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
}

static void teardown(void)
{
	if (journald >= 0)
		close(journald);
	unlink(path);
	rmdir(dir);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 20);

#define FIELD(s) ((struct iovec){ (char *)(s), sizeof(s) - 1 })

/* Plain fields as "NAME=value\n"; a value with a newline in its binary
 * form: "NAME\n", its length as 64 bits little-endian, the value, "\n". */
Test(journal, native_protocol_bytes)
{
	struct iovec fields[] = { FIELD("MESSAGE=two\nlines"), FIELD("PRIORITY=3"),
				  FIELD("SPAWND_CHILD=web/api") };
	char got[256], want[256];
	uint64_t len = htole64(9);
	struct sd_jsock j;
	size_t n = 0;
	ssize_t r;

	cr_assert_eq(sd_jsock_open(&j, path), 0);
	cr_assert_eq(sd_jsock_send(&j, fields, 3), 0);
	r = recv(journald, got, sizeof(got), 0);
	memcpy(want, "MESSAGE\n", 8), n = 8;
	memcpy(want + n, &len, 8), n += 8;
	memcpy(want + n, "two\nlines\nPRIORITY=3\nSPAWND_CHILD=web/api\n", 42), n += 42;
	cr_assert_eq(r, (ssize_t)n, "datagram of %zd bytes, expected %zu", r, n);
	cr_assert_eq(memcmp(got, want, n), 0, "the datagram differs");
	sd_jsock_close(&j);
}

/* A field without "NAME=" is refused, and nothing is sent. */
Test(journal, bad_field_refused)
{
	struct iovec fields[] = { FIELD("MESSAGE=ok"), FIELD("no equals sign") };
	struct sd_jsock j;
	char buf[64];

	cr_assert_eq(sd_jsock_open(&j, path), 0);
	cr_assert_eq(sd_jsock_send(&j, fields, 2), -EINVAL);
	cr_assert_eq(recv(journald, buf, sizeof(buf), MSG_DONTWAIT), -1);
	cr_assert_eq(errno, EAGAIN);
	sd_jsock_close(&j);
}

/* A journald that stops reading: once its queue is full, a send fails
 * with -EAGAIN at once, never waits; once it reads again, sends succeed. */
Test(journal, full_queue_is_never_waited_for)
{
	struct iovec fields[] = { FIELD("MESSAGE=a line"), FIELD("PRIORITY=6") };
	struct timespec t0, t1;
	struct sd_jsock j;
	char buf[64];
	int sent = 0, r = 0;
	double ms;

	cr_assert_eq(sd_jsock_open(&j, path), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < 100000 && (r = sd_jsock_send(&j, fields, 2)) == 0)
		sent++;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert_eq(r, -EAGAIN, "after %d entries: %d (%s)", sent, r, strerror(-r));
	cr_assert_gt(sent, 0);
	/* Not an assertion of speed: a blocking send would never return. */
	cr_log_info("queue full after %d entries, %.1f ms", sent, ms);
	cr_assert_gt(recv(journald, buf, sizeof(buf), 0), 0);
	cr_assert_eq(sd_jsock_send(&j, fields, 2), 0, "journald reads again, the send still fails");
	sd_jsock_close(&j);
}

/* No journald: open says so, and a closed client refuses to send. */
Test(journal, no_journald)
{
	char missing[96];
	struct sd_jsock j;
	struct iovec f = FIELD("MESSAGE=x");

	snprintf(missing, sizeof(missing), "%s/none", dir);
	cr_assert_eq(sd_jsock_open(&j, missing), -ENOENT);
	cr_assert_eq(j.fd, -1);
	cr_assert_eq(sd_jsock_send(&j, &f, 1), -ENOTCONN);
}

/* journald restarts (a new socket at the same path): the entry sent while
 * it was gone is refused, the next one reaches the new journald. */
Test(journal, journald_restarted)
{
	struct iovec f = FIELD("MESSAGE=after");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sd_jsock j;
	char buf[64];
	ssize_t r;

	cr_assert_eq(sd_jsock_open(&j, path), 0);
	close(journald);
	unlink(path);
	cr_assert_lt(sd_jsock_send(&j, &f, 1), 0, "sent to a journald that is gone");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	journald = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(journald, 0);
	cr_assert_eq(bind(journald, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(sd_jsock_send(&j, &f, 1), 0);
	r = recv(journald, buf, sizeof(buf), MSG_DONTWAIT);
	cr_assert_eq(r, 14, "got %zd bytes", r);
	cr_assert_eq(memcmp(buf, "MESSAGE=after\n", 14), 0);
	sd_jsock_close(&j);
}
