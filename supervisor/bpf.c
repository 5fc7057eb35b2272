/* SPDX-License-Identifier: MIT */
/* spawnd's BPF programs as a whole: which run, why not, and polling their
 * ring buffers from the event loop (see bpf.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bpf.h"
#include "spawnd.h"

/* libbpf's messages go to spawnd's log at debug level. libbpf's print
 * callback has no context: the log of the one daemon, set while loading. */
static struct sd_log *libbpf_log;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static char buf[1 << 16]; /* a verifier log comes whole */
	char *line, *save = NULL;

	(void)level;
	if (!libbpf_log || !libbpf_log->verbose)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		sd_debug(libbpf_log, "libbpf: %s", line);
	return 0;
}

/* ---- ring buffers on the loop -------------------------------------------------- */

static void ring_poll(struct sd_bpf_ring *r);

static void ring_ready(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_bpf_ring *r = (struct sd_bpf_ring *)((char *)op - offsetof(struct sd_bpf_ring, op));

	(void)loop;
	if (r->closing)
		return;
	if (res >= 0)
		ring_buffer__consume(r->rb);
	/* A multishot poll that ended re-arms; one that failed would fail
	 * again: its records are still taken in at each worker's reaping. */
	if (!(flags & IORING_CQE_F_MORE) && res >= 0)
		ring_poll(r);
}

static void ring_poll(struct sd_bpf_ring *r)
{
	struct io_uring_sqe *sqe = sd_loop_sqe(r->loop, &r->op);

	io_uring_prep_poll_multishot(sqe, ring_buffer__epoll_fd(r->rb), POLLIN);
}

int sd_bpf_ring_open(struct sd_bpf_ring *r, struct sd_loop *loop, int map_fd,
		     ring_buffer_sample_fn fn, void *ctx)
{
	r->loop = loop;
	r->op.fn = ring_ready;
	r->closing = false;
	r->rb = ring_buffer__new(map_fd, fn, ctx, NULL);
	if (!r->rb)
		return -errno;
	ring_poll(r);
	return 0;
}

void sd_bpf_ring_consume(struct sd_bpf_ring *r)
{
	if (r->rb && !r->closing)
		ring_buffer__consume(r->rb);
}

void sd_bpf_ring_free(struct sd_bpf_ring *r)
{
	r->closing = true;
	ring_buffer__free(r->rb);
	r->rb = NULL;
}

/* ---- the programs ------------------------------------------------------------------ */

int sd_bpf_check_tracepoints(struct bpf_object *obj, const char *const *essential, char *off,
			     size_t size)
{
	struct bpf_program *prog;
	size_t len = 0;

	off[0] = '\0';
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog), *tp;
		bool needed = false;

		if (strncmp(sec, "tp_btf/", 7) != 0)
			continue;
		tp = sec + 7;
		if (libbpf_find_vmlinux_btf_id(tp, BPF_TRACE_RAW_TP) >= 0)
			continue;
		for (size_t i = 0; essential[i]; i++)
			needed |= strcmp(essential[i], tp) == 0;
		if (needed) {
			snprintf(off, size, "the kernel has no tracepoint %s", tp);
			return -ENOENT;
		}
		bpf_program__set_autoload(prog, false);
		if (len < size)
			len += (size_t)snprintf(off + len, size - len, "%sno %s (the kernel lacks it)",
						len ? ", " : "", tp);
	}
	return 0;
}

/* Why nothing can load here, or NULL. */
static const char *cannot_load(bool no_bpf)
{
	if (no_bpf)
		return "--no-bpf";
	if (geteuid() != 0)
		return "not root (the probes need CAP_BPF and CAP_PERFMON)";
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		return "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
	return NULL;
}

void sd_bpf_start(struct sd_daemon *d, bool no_bpf)
{
	struct sd_bpf *b = &d->bpf;
	const char *why = cannot_load(no_bpf);
	char tree_why[200] = "", stall_why[200] = "";

	if (why) {
		snprintf(b->mode, sizeof(b->mode), "degraded: %s", why);
	} else {
		libbpf_log = &d->log;
		libbpf_set_print(libbpf_print);
		if (sd_proctree_open(d, &b->tree, tree_why, sizeof(tree_why)) < 0)
			b->tree = NULL;
		if (sd_stall_probe_open(d, &b->stall, stall_why, sizeof(stall_why)) < 0)
			b->stall = NULL;
		if (b->tree && b->stall && !tree_why[0] && !stall_why[0])
			snprintf(b->mode, sizeof(b->mode), "full");
		else
			snprintf(b->mode, sizeof(b->mode), "degraded: %s%s%s%s%s",
				 !tree_why[0] ? "" : b->tree ? "crash probe: " : "crash probe off: ",
				 tree_why, tree_why[0] && stall_why[0] ? "; " : "",
				 !stall_why[0] ? "" : b->stall ? "stall probe: " : "stall probe off: ",
				 stall_why);
	}
	if (strcmp(b->mode, "full") == 0)
		sd_log(&d->log, "bpf: full (process trees, crashes, stalls)");
	else
		sd_log(&d->log, "bpf: %s: crashes are reported from exit statuses alone, stalls "
				"from /proc sampling", b->mode);
}

void sd_bpf_stop(struct sd_daemon *d)
{
	struct sd_bpf *b = &d->bpf;

	if (b->tree)
		sd_proctree_free(b->tree);
	if (b->stall)
		sd_stall_probe_free(b->stall);
	b->tree = NULL;
	b->stall = NULL;
	if (libbpf_log == &d->log)
		libbpf_log = NULL;
}

void sd_bpf_consume(struct sd_daemon *d)
{
	if (d->bpf.tree)
		sd_proctree_consume(d->bpf.tree);
	if (d->bpf.stall)
		sd_stall_probe_consume(d->bpf.stall);
}

const char *sd_bpf_mode(const struct sd_daemon *d)
{
	return d->bpf.mode[0] ? d->bpf.mode : "degraded: not started";
}

/* The stall probe, attached: the first worker with a stall_timeout attaches
 * it. false if it cannot watch (off, or its attach failed: then it is off,
 * and spawnd says so). */
static bool stall_probe_ready(struct sd_daemon *d)
{
	struct sd_bpf *b = &d->bpf;
	char why[200];

	if (!b->stall)
		return false;
	if (sd_stall_probe_attached(b->stall))
		return true;
	if (sd_stall_probe_attach(b->stall, why, sizeof(why)) < 0) {
		sd_stall_probe_free(b->stall);
		b->stall = NULL;
		if (strcmp(b->mode, "full") == 0)
			snprintf(b->mode, sizeof(b->mode), "degraded: stall probe off: %s", why);
		else
			snprintf(b->mode + strlen(b->mode), sizeof(b->mode) - strlen(b->mode),
				 "; stall probe off: %s", why);
		sd_log(&d->log, "bpf: %s: stalls from /proc sampling", b->mode);
		return false;
	}
	sd_debug(&d->log, "bpf: stall probe attached (a worker has a stall_timeout)");
	return true;
}

bool sd_bpf_watch(struct sd_daemon *d, pid_t pid, uint64_t timeout_ns)
{
	int r;

	if (!stall_probe_ready(d))
		return false;
	r = sd_stall_probe_watch(d->bpf.stall, pid, timeout_ns);
	if (r < 0) {
		sd_log(&d->log, "bpf: cannot watch %d for stalls: %s; sampling /proc", (int)pid,
		       strerror(-r));
		return false;
	}
	d->bpf.stall_watched++;
	return true;
}

void sd_bpf_expect(struct sd_daemon *d, uint64_t timeout_ns)
{
	if (timeout_ns ? stall_probe_ready(d) : d->bpf.stall != NULL)
		sd_stall_probe_expect(d->bpf.stall, timeout_ns);
}

static bool wants_stall_probe(const struct sd_node *n)
{
	if (n->kind == SD_WORKER)
		return n->stall_timeout_ns != 0;
	for (size_t i = 0; i < n->nchildren; i++)
		if (wants_stall_probe(n->children[i]))
			return true;
	return false;
}

/* The hooks come off once nothing needs them: they cost every system call
 * on the machine. Not while the configuration has a stall_timeout, so that
 * a worker restarting does not detach and attach them each time. */
static void stall_probe_maybe_detach(struct sd_daemon *d)
{
	struct sd_bpf *b = &d->bpf;

	if (!b->stall || !sd_stall_probe_attached(b->stall) || b->stall_watched ||
	    wants_stall_probe(d->cfg->root))
		return;
	sd_stall_probe_detach(b->stall);
	sd_debug(&d->log, "bpf: stall probe detached (no worker has a stall_timeout)");
}

void sd_bpf_unwatch(struct sd_daemon *d, pid_t pid, bool watched)
{
	if (!d->bpf.stall)
		return;
	/* Unwatched even if not confirmed: on_fork may have entered it. */
	sd_stall_probe_unwatch(d->bpf.stall, pid);
	if (watched && d->bpf.stall_watched) {
		d->bpf.stall_watched--;
		stall_probe_maybe_detach(d);
	}
}

void sd_bpf_reloaded(struct sd_daemon *d)
{
	stall_probe_maybe_detach(d);
}
