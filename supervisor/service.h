/* SPDX-License-Identifier: MIT */
/*
 * spawnd as a service of systemd (Type=notify): it says READY=1 once the
 * whole tree is up and ready, keeps STATUS= current, brackets a reload with
 * RELOADING=1 ... READY=1, says STOPPING=1 at shutdown and asks for more
 * time (EXTEND_TIMEOUT_USEC) while an ordered stop makes progress, and
 * pings the watchdog (WATCHDOG=1) from its event loop, so that a spawnd
 * whose loop is wedged or stopped misses the pings and is restarted.
 *
 * Without systemd ($NOTIFY_SOCKET unset) every call is a no-op: libsystemd's
 * sd_notify returns 0 and sends nothing.
 */
#ifndef SD_SERVICE_H
#define SD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct sd_daemon;

struct sd_service {
	bool notify;            /* NOTIFY_SOCKET is set: systemd listens */
	bool ready_sent;        /* READY=1 for the start (not again until a reload) */
	bool stopping_sent;     /* STOPPING=1 */
	uint64_t watchdog_ns;   /* WatchdogSec; 0: no watchdog */
	struct sd_timer watchdog_timer; /* every watchdog_ns / 2 */
	uint64_t stop_bound_ns; /* how long one worker's stop may take (extension) */
	uint32_t stop_left;     /* workers still up at the last extension */
	char status[256];       /* the last STATUS= sent */
	struct sd_timer status_timer; /* the next STATUS=, while one is due */
};

/* Read the watchdog interval and arm its timer (d->loop is ready). */
void sd_service_init(struct sd_daemon *d);
void sd_service_fini(struct sd_daemon *d);

/* The control socket systemd passed (spawnd.socket: LISTEN_FDS), or
 * -ENOENT without one, or -EINVAL (err says why) if what came is not one
 * listening AF_UNIX stream socket. Takes it out of the environment. */
int sd_service_listen_fd(char *err, size_t errlen);

/* After each loop step, while states may have changed: READY=1 once the
 * tree is quiet, STATUS= when the summary changed, EXTEND_TIMEOUT_USEC
 * when a stop made progress. */
void sd_service_after_step(struct sd_daemon *d, bool changed);

void sd_service_reloading(struct sd_daemon *d); /* RELOADING=1, MONOTONIC_USEC */
void sd_service_reloaded(struct sd_daemon *d);  /* READY=1 */
void sd_service_stopping(struct sd_daemon *d);  /* STOPPING=1 */

/*
 * The STATUS= line: "3/3 children running, 0 restarts", with a state in
 * front when not plainly running ("starting: ", "stopping: "). One place
 * for the summary: what else deserves a word (BPF mode) goes here. Returns
 * the length (as snprintf).
 */
int sd_service_status(const struct sd_daemon *d, char *buf, size_t size);

#endif /* SD_SERVICE_H */
