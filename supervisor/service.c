/* SPDX-License-Identifier: MIT */
/* spawnd under systemd: sd_notify, the watchdog, socket activation (see service.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "spawnd.h"

/* Slack on top of one worker's stop bound, for the supervisors between. */
#define STOP_SLACK_NS 5000000000u
/* How stale STATUS= may be. */
#define STATUS_EVERY_NS 100000000u

struct tally {
	uint32_t workers, up; /* up: a process runs */
	uint64_t restarts;
	uint64_t longest_stop_ns; /* the longest shutdown timeout of a worker */
};

static void count(const struct sd_unit *u, struct tally *t)
{
	if (u->node->kind == SD_SUPERVISOR) {
		for (uint32_t i = 0; i < u->node->nchildren && u->children; i++)
			if (u->children[i])
				count(u->children[i], t);
		return;
	}
	t->workers++;
	t->restarts += u->restarts;
	if (u->run && !u->run->exited)
		t->up++;
	if (!u->node->shutdown_infinity && u->node->shutdown_ns > t->longest_stop_ns)
		t->longest_stop_ns = u->node->shutdown_ns;
}

static struct tally tally_of(const struct sd_daemon *d)
{
	struct tally t = { 0 };

	if (d->root)
		count(d->root, &t);
	for (const struct sd_unit *r = d->retired; r; r = r->next_retired)
		count(r, &t); /* removed by a reload, still stopping: still ours */
	return t;
}

int sd_service_status(const struct sd_daemon *d, char *buf, size_t size)
{
	struct tally t = tally_of(d);
	const char *state = d->shutting_down	     ? "stopping: "
			    : !d->svc.ready_sent     ? "starting: "
						     : "";

	const char *bpf = sd_bpf_mode(d);

	/* "full" goes without saying; "degraded: why" is worth a glance. */
	return snprintf(buf, size,
			"%s%" PRIu32 "/%" PRIu32 " children running, %" PRIu64 " restart%s%s%s",
			state, t.up, t.workers, t.restarts, t.restarts == 1 ? "" : "s",
			strcmp(bpf, "full") ? "; bpf " : "", strcmp(bpf, "full") ? bpf : "");
}

static void status_due(struct sd_loop *loop, struct sd_timer *t);

static void watchdog_ping(struct sd_loop *loop, struct sd_timer *t)
{
	struct sd_service *svc = (struct sd_service *)((char *)t - offsetof(struct sd_service,
									   watchdog_timer));

	/* From the loop itself: a loop that does not turn does not ping. */
	(void)sd_notify(0, "WATCHDOG=1");
	sd_timer_arm(loop, t, sd_now_ns() + svc->watchdog_ns / 2);
}

void sd_service_init(struct sd_daemon *d)
{
	struct sd_service *svc = &d->svc;
	uint64_t usec = 0;

	*svc = (struct sd_service){ .notify = getenv("NOTIFY_SOCKET") != NULL };
	sd_timer_init(&svc->watchdog_timer, watchdog_ping);
	sd_timer_init(&svc->status_timer, status_due);
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is us.
	 * Left in the environment: a worker's environment is built clean. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		svc->watchdog_ns = usec * 1000u;
		(void)sd_notify(0, "WATCHDOG=1");
		sd_timer_arm(&d->loop, &svc->watchdog_timer, sd_now_ns() + svc->watchdog_ns / 2);
	}
}

void sd_service_fini(struct sd_daemon *d)
{
	sd_timer_cancel(&d->loop, &d->svc.watchdog_timer);
	sd_timer_cancel(&d->loop, &d->svc.status_timer);
}

int sd_service_listen_fd(char *err, size_t errlen)
{
	int n = sd_listen_fds(1), fd = SD_LISTEN_FDS_START, flags;

	if (n == 0)
		return -ENOENT;
	if (n < 0) {
		snprintf(err, errlen, "LISTEN_FDS: %s", strerror(-n));
		return -EINVAL;
	}
	if (n != 1) {
		snprintf(err, errlen, "LISTEN_FDS: %d sockets passed, expected one (the control socket)",
			 n);
		goto close_all;
	}
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		snprintf(err, errlen, "LISTEN_FDS: fd %d is not a listening AF_UNIX stream socket "
				      "(spawnd.socket needs ListenStream=/path)", fd);
		goto close_all;
	}
	/* sd_listen_fds(1) made it close-on-exec; the loop needs it non-blocking. */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "LISTEN_FDS: fd %d: %s", fd, strerror(errno));
		goto close_all;
	}
	return fd;

close_all:
	for (int i = 0; i < n; i++)
		close(SD_LISTEN_FDS_START + i);
	return -EINVAL;
}

/* STATUS= and the stop's extensions, from a tally of the whole tree: at
 * most every STATUS_EVERY_NS, not at every step (a thousand workers
 * starting make a thousand steps, each of which would count them all). */
static void status_due(struct sd_loop *loop, struct sd_timer *t)
{
	struct sd_service *svc = (struct sd_service *)((char *)t - offsetof(struct sd_service,
									   status_timer));
	struct sd_daemon *d = (struct sd_daemon *)((char *)svc - offsetof(struct sd_daemon, svc));
	char status[sizeof(svc->status)];

	(void)loop;
	sd_service_status(d, status, sizeof(status));
	if (strcmp(status, svc->status) != 0) {
		(void)sd_notifyf(0, "STATUS=%s", status);
		memcpy(svc->status, status, sizeof(status));
	}
	if (d->shutting_down) {
		struct tally now = tally_of(d);

		/* Each worker that goes down is progress: give the rest as long
		 * as one more worker's stop may take. A stop that hangs past
		 * that meets systemd's TimeoutStopSec, then SIGKILL. */
		if (now.up < svc->stop_left) {
			svc->stop_left = now.up;
			(void)sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%" PRIu64,
					 (svc->stop_bound_ns + STOP_SLACK_NS) / 1000u);
		}
	}
}

void sd_service_after_step(struct sd_daemon *d, bool changed)
{
	struct sd_service *svc = &d->svc;
	char status[sizeof(svc->status)];

	if (!changed || !svc->notify)
		return;
	if (!svc->ready_sent && !d->shutting_down && d->root && !d->restart_root &&
	    sv_quiet(&d->root->sv)) {
		/* Every child is up and ready (or, for some, not to be
		 * started): systemd's start job ends here. */
		svc->ready_sent = true;
		sd_service_status(d, status, sizeof(status));
		(void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
		memcpy(svc->status, status, sizeof(status));
		return;
	}
	if (!sd_timer_armed(&svc->status_timer))
		sd_timer_arm(&d->loop, &svc->status_timer, sd_now_ns() + STATUS_EVERY_NS);
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sd_service_reloading(struct sd_daemon *d)
{
	(void)d;
	/* MONOTONIC_USEC: systemd >= 253 (Type=notify-reload) wants it. */
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading", monotonic_usec());
}

void sd_service_reloaded(struct sd_daemon *d)
{
	char status[sizeof(d->svc.status)];

	sd_service_status(d, status, sizeof(status));
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	memcpy(d->svc.status, status, sizeof(status));
}

void sd_service_stopping(struct sd_daemon *d)
{
	struct tally t = tally_of(d);

	if (d->svc.stopping_sent)
		return;
	d->svc.stopping_sent = true;
	d->svc.stop_left = t.up;
	d->svc.stop_bound_ns = t.longest_stop_ns;
	(void)sd_notifyf(0, "STOPPING=1\nSTATUS=stopping: %" PRIu32 "/%" PRIu32 " children running",
			 t.up, t.workers);
	(void)sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%" PRIu64,
			 (t.longest_stop_ns + STOP_SLACK_NS) / 1000u);
}
