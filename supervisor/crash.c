/* SPDX-License-Identifier: MIT */
/*
 * Crash evidence and reports. The proctree program sends, for a tracked
 * process, the fatal signal delivered to it (where it was: its user stack
 * as addresses and as build-id + file offset), the signals other processes
 * sent it, and the OOM killer's choice; they wait here, per process, until
 * its death is judged (sd_crashes_take) or it is forgotten. A report says
 * what killed it, who sent it, and where it was, symbolized with
 * symbolize.c; it says so when the stack is cut short.
 *
 * Owned by the proctree loader; spawnd's one thread.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "spawnd.h"

#define SD_CRASHES_MAX 256
#define SENDERS 4       /* the last signals sent to a process */
#define MESSAGE_FRAMES 6 /* frames in the one-line message (all are in "stack") */

struct sender {
	int sig;
	pid_t pid;
	char comm[SD_BPF_COMM];
};

struct sd_crash {
	struct sd_crash *next;
	pid_t pid;
	char comm[SD_BPF_COMM];
	bool fatal; /* the first fatal signal delivered (the one that tells where) */
	int sig, code;
	uint64_t addr;
	int nframes, nbuild;
	uint64_t ips[SD_BPF_STACK_MAX];
	struct sd_bpf_build_id_frame build[SD_BPF_STACK_MAX];
	struct sender senders[SENDERS]; /* a ring; sig 0: empty */
	unsigned nsent;
	bool oom;
};

void sd_crashes_init(struct sd_crashes *c)
{
	c->list = NULL;
	c->n = 0;
	sd_symbols_init(&c->syms);
	/* The C library and loader the workers share with spawnd. */
	sd_symbols_add_maps(&c->syms, getpid());
}

void sd_crashes_fini(struct sd_crashes *c)
{
	while (c->list) {
		struct sd_crash *next = c->list->next;

		free(c->list);
		c->list = next;
	}
	c->n = 0;
	sd_symbols_fini(&c->syms);
}

static struct sd_crash **find(struct sd_crashes *c, pid_t pid)
{
	struct sd_crash **p = &c->list;

	while (*p && (*p)->pid != pid)
		p = &(*p)->next;
	return p;
}

static struct sd_crash *get(struct sd_crashes *c, pid_t pid, const char *comm)
{
	struct sd_crash **p = find(c, pid), *cr = *p;

	if (cr)
		return cr;
	if (c->n == SD_CRASHES_MAX) { /* the oldest goes */
		struct sd_crash **last = &c->list;

		while ((*last)->next)
			last = &(*last)->next;
		free(*last);
		*last = NULL;
		c->n--;
	}
	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return NULL;
	cr->pid = pid;
	memcpy(cr->comm, comm, sizeof(cr->comm));
	cr->comm[sizeof(cr->comm) - 1] = '\0';
	cr->next = c->list;
	c->list = cr;
	c->n++;
	return cr;
}

void sd_crashes_forget(struct sd_crashes *c, pid_t pid)
{
	struct sd_crash **p = find(c, pid), *cr = *p;

	if (!cr)
		return;
	*p = cr->next;
	free(cr);
	c->n--;
}

void sd_crashes_record(struct sd_crashes *c, const void *ev, size_t size)
{
	const struct sd_bpf_tree_event *e = ev;
	struct sd_crash *cr;

	if (size < sizeof(*e))
		return;
	switch (e->h.type) {
	case SD_BPF_EXEC:
		/* The program, and what is mapped by now, while it lives. */
		sd_symbols_add_file(&c->syms, e->file);
		sd_symbols_add_maps(&c->syms, (pid_t)e->h.pid);
		return;
	case SD_BPF_FATAL: {
		const struct sd_bpf_fatal_event *f = ev;

		if (size < sizeof(*f) || !(cr = get(c, (pid_t)e->h.pid, e->h.comm)) || cr->fatal)
			return;
		cr->fatal = true;
		cr->sig = (int)e->sig;
		cr->code = e->code;
		cr->addr = f->addr;
		cr->nframes = f->nframes > SD_BPF_STACK_MAX ? SD_BPF_STACK_MAX : f->nframes;
		cr->nbuild = f->nbuild > SD_BPF_STACK_MAX ? SD_BPF_STACK_MAX : f->nbuild;
		memcpy(cr->ips, f->ips, sizeof(cr->ips));
		memcpy(cr->build, f->build, sizeof(cr->build));
		sd_symbols_add_maps(&c->syms, cr->pid); /* if it still lives */
		return;
	}
	case SD_BPF_SENT:
		if ((cr = get(c, (pid_t)e->h.pid, e->h.comm))) {
			struct sender *s = &cr->senders[cr->nsent++ % SENDERS];

			s->sig = (int)e->sig;
			s->pid = (pid_t)e->sender;
			memcpy(s->comm, e->sender_comm, sizeof(s->comm));
			s->comm[sizeof(s->comm) - 1] = '\0';
		}
		return;
	case SD_BPF_OOM:
		if ((cr = get(c, (pid_t)e->h.pid, e->h.comm)))
			cr->oom = true;
		return;
	default:
		return;
	}
}

/* The last sender of sig, or NULL. */
static const struct sender *sender_of(const struct sd_crash *cr, int sig)
{
	for (unsigned i = 0; i < SENDERS && i < cr->nsent; i++) {
		const struct sender *s = &cr->senders[(cr->nsent - 1 - i) % SENDERS];

		if (s->sig == sig)
			return s;
	}
	return NULL;
}

/* Where a stack that does not end in a thread's first function stops. */
static bool outermost(const char *fn)
{
	static const char *const starts[] = { "_start", "__libc_start_main", "__libc_start_call_main",
					      "start_thread", "clone", "clone3", "__clone",
					      "__clone3", NULL };

	for (int i = 0; starts[i]; i++)
		if (strcmp(fn, starts[i]) == 0)
			return true;
	return false;
}

static void frame_text(const struct sd_sym *sym, uint64_t ip, char *buf, size_t size)
{
	if (!sym->function[0])
		snprintf(buf, size, "0x%" PRIx64, ip);
	else if (sym->file[0])
		snprintf(buf, size, "%s (%s:%d)", sym->function, strrchr(sym->file, '/') ? strrchr(sym->file, '/') + 1 : sym->file, sym->line);
	else
		snprintf(buf, size, "%s", sym->function);
}

/* The stack as JSON frames; appends the first frames to msg. */
static json_object *stack_json(struct sd_crashes *c, const struct sd_crash *cr, char *msg,
			       size_t size, char *note, size_t note_size)
{
	json_object *frames = json_object_new_array();
	int n = cr->nframes > cr->nbuild ? cr->nframes : cr->nbuild;
	size_t len = strlen(msg);
	struct sd_sym sym = { 0 };

	note[0] = '\0';
	/* A frame-pointer walk through code without frame pointers goes
	 * astray: it repeats a frame, from a frame pointer that was none.
	 * From the first of the repeats on, it is not the stack. */
	for (int i = 1; i < n && i < cr->nframes; i++)
		if (!cr->ips[i]) {
			n = i;
			break;
		} else if (cr->ips[i] == cr->ips[i - 1]) {
			n = i - 1 > 0 ? i - 1 : 1;
			break;
		}
	if (n <= 0) {
		snprintf(note, note_size, "no user stack (bpf_get_stack: %d)", cr->nframes);
		return frames;
	}
	for (int i = 0; i < n; i++) {
		const struct sd_bpf_build_id_frame *b = i < cr->nbuild ? &cr->build[i] : NULL;
		uint64_t ip = i < cr->nframes ? cr->ips[i] : 0;
		json_object *f = json_object_new_object();
		char text[512], hex[32];
		int r = -ENOENT;

		if (b && b->status == 1)
			r = sd_symbols_resolve(&c->syms, b->build_id, b->offset_or_ip, i > 0, &sym);
		if (r < 0 && ip)
			r = sd_symbols_resolve_live(&c->syms, cr->pid, ip, i > 0, &sym);
		if (r < 0)
			memset(&sym, 0, sizeof(sym));
		snprintf(hex, sizeof(hex), "0x%" PRIx64, ip);
		json_object_object_add(f, "addr", json_object_new_string(hex));
		if (sym.function[0]) {
			json_object_object_add(f, "function", json_object_new_string(sym.function));
			json_object_object_add(f, "offset", json_object_new_int64((int64_t)sym.offset));
		}
		if (sym.file[0]) {
			json_object_object_add(f, "file", json_object_new_string(sym.file));
			json_object_object_add(f, "line", json_object_new_int(sym.line));
		}
		if (sym.module[0])
			json_object_object_add(f, "module", json_object_new_string(sym.module));
		json_object_array_add(frames, f);
		if (i < MESSAGE_FRAMES && len < size) {
			frame_text(&sym, ip, text, sizeof(text));
			len += (size_t)snprintf(msg + len, size - len, "%s%s", i ? " < " : " in ", text);
		} else if (i == MESSAGE_FRAMES && len < size) {
			len += (size_t)snprintf(msg + len, size - len, " < ...");
		}
		if (i == n - 1 && !outermost(sym.function)) {
			if (n >= SD_BPF_STACK_MAX)
				snprintf(note, note_size, "stack truncated at %d frames", n);
			else
				snprintf(note, note_size,
					 "stack ends at %s: a caller built without frame pointers is "
					 "lost (build with -fno-omit-frame-pointer)",
					 sym.function[0] ? sym.function : hex);
		}
	}
	return frames;
}

static bool fault_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE;
}

json_object *sd_crashes_take(struct sd_crashes *c, pid_t pid, int sig, pid_t spawnd_pid)
{
	struct sd_crash **p = find(c, pid), *cr = *p;
	const struct sender *s;
	json_object *o = NULL;
	char msg[1536], note[256], signame[16], hex[32];
	size_t len;

	if (!cr)
		return NULL;
	*p = cr->next;
	c->n--;
	s = sig ? sender_of(cr, sig) : NULL;
	if (!sig || !((cr->fatal && cr->sig == sig) || cr->oom || (s && s->pid != spawnd_pid)))
		goto out;
	o = json_object_new_object();
	snprintf(signame, sizeof(signame), "%s", sd_signal_name(sig));
	json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "comm", json_object_new_string(cr->comm));
	json_object_object_add(o, "signal", json_object_new_string(signame));
	json_object_object_add(o, "oom", json_object_new_boolean(cr->oom));
	len = (size_t)snprintf(msg, sizeof(msg), "killed by %s", signame);
	if (cr->oom)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, ": out of memory (the OOM killer chose it)");
	if (s) {
		json_object *so = json_object_new_object();

		json_object_object_add(so, "pid", json_object_new_int(s->pid));
		json_object_object_add(so, "comm", json_object_new_string(s->comm));
		json_object_object_add(o, "sender", so);
		if (!cr->oom)
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, " from %d (%s)", (int)s->pid,
						s->pid == spawnd_pid ? "spawnd" : s->comm);
	}
	if (cr->fatal && cr->sig == sig) {
		json_object_object_add(o, "si_code", json_object_new_int(cr->code));
		if (fault_signal(sig) && cr->code > 0) { /* the kernel's: a fault, si_addr */
			snprintf(hex, sizeof(hex), "0x%" PRIx64, cr->addr);
			json_object_object_add(o, "addr", json_object_new_string(hex));
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, " at address %s", hex);
		}
		json_object_object_add(o, "stack",
				       stack_json(c, cr, msg, sizeof(msg), note, sizeof(note)));
		json_object_object_add(o, "stack_complete", json_object_new_boolean(!note[0]));
		if (note[0]) {
			len = strlen(msg);
			snprintf(msg + len, sizeof(msg) - len, " (%s)", note);
			json_object_object_add(o, "stack_note", json_object_new_string(note));
		}
	}
	json_object_object_add(o, "message", json_object_new_string(msg));
out:
	free(cr);
	return o;
}
