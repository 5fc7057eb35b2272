/* SPDX-License-Identifier: MIT */
/*
 * Sandboxes: a worker's seccomp profile (spawnd.conf(5) `sandbox`),
 * compiled with libseccomp before the clone into a classic BPF program, so
 * that the child only has to install it: one system call, async-signal-safe.
 *
 * Profiles:
 *   none     no filter;
 *   default  denies what no service needs: loading modules, kexec, reboot,
 *            mount and friends, ptrace of others, bpf, perf_event_open,
 *            keyctl, and io_uring unless allowed;
 *   strict   allows a minimal set for a compute or network service, denies
 *            the rest;
 *   custom   one of those as `base`, plus `allow` and `deny` lists.
 * Denied calls fail with EPERM, or kill the process with action = "kill".
 *
 * io_uring operations are not seen by seccomp: a profile that allows
 * io_uring_setup lets the program open files and sockets through its rings
 * whatever else the filter denies. sd_filter.allows_io_uring says so, and
 * `spawnd check` warns.
 */
#ifndef SD_SANDBOX_H
#define SD_SANDBOX_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct sd_filter_entry;

struct sd_filter {
	struct sock_fprog prog; /* shared, read-only; len 0: no filter */
	bool allows_io_uring;
	struct sd_filter_entry *entry; /* what sd_filter_free releases */
};

/*
 * Compile sb for this architecture, or share the program of an earlier
 * sandbox equal to it (until each sharer has called sd_filter_free).
 * -EINVAL with a message in err (naming the offending syscall, e.g. "deny:
 * unknown system call 'opne'") for a bad profile; -ENOMEM.
 */
int sd_sandbox_compile(const struct sd_sandbox *sb, struct sd_filter *ret, char *err,
		       size_t errlen);
void sd_filter_free(struct sd_filter *f);

/*
 * In the child, between clone and execve: install the filter (after
 * PR_SET_NO_NEW_PRIVS, which the caller sets). Async-signal-safe: one
 * seccomp(2) call. 0 or -errno.
 */
int sd_filter_install(const struct sd_filter *f);

/* The system calls a profile denies (default) or allows (strict), for
 * documentation and `spawnd check -v`. NULL-terminated, static. */
const char *const *sd_sandbox_default_denied(void);
const char *const *sd_sandbox_strict_allowed(void);

#endif /* SD_SANDBOX_H */
