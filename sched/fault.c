/* SPDX-License-Identifier: MIT */
/*
 * Faults: contain what is provably local, escalate the rest.
 *
 * A SIGSEGV in the guard below the running process's stack is an overflow
 * confined to that process: the handler (on the thread's sigaltstack)
 * rewrites the interrupted context to continue on the thread's rescue
 * stack, in gpi_overflow_rescue(), and returns. The kernel's sigreturn then
 * restores the signal mask, and the process exits with
 * GP_EXIT_STACK_OVERFLOW there, telling its links and monitors.
 *
 * Any other fatal signal (a wild SIGSEGV, SIGBUS, SIGILL, SIGFPE, abort) may
 * have corrupted memory that every process shares: the handler writes a
 * crash report naming the green process that was running, restores the
 * previous disposition and lets the signal kill the OS process, so that an
 * OS supervisor sees the real signal and restarts the program.
 *
 * Everything in the handler is async-signal-safe: write(2), sigaction,
 * raise, and formatting by hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS };

/* Written by gp_main's thread before any scheduler thread starts, read by
 * the handler: the dispositions to restore. */
static struct sigaction previous[NSIG];

#define ALTSTACK_SIZE ((64u << 10) * GP_SAN_STACK_FACTOR)
#define RESCUE_SIZE   ((64u << 10) * GP_SAN_STACK_FACTOR)

/* ---- async-signal-safe formatting -------------------------------------- */

char *gpi_fmt_u64(char *end, uint64_t v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

static char *fmt_hex(char *end, uint64_t v)
{
	do
		*--end = "0123456789abcdef"[v & 15];
	while (v >>= 4);
	*--end = 'x';
	*--end = '0';
	return end;
}

/* <node.slot.generation>, as Erlang prints pids. */
size_t gpi_fmt_pid(char *buf, size_t size, gp_pid pid)
{
	char tmp[64], *end = tmp + sizeof(tmp), *p = end;
	size_t n;

	*--p = '>';
	p = gpi_fmt_u64(p, (uint32_t)(pid >> GP_PID_SLOT_BITS));
	*--p = '.';
	p = gpi_fmt_u64(p, gp_pid_slot(pid));
	*--p = '.';
	p = gpi_fmt_u64(p, gp_pid_node(pid));
	*--p = '<';
	n = (size_t)(end - p);
	if (n >= size)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return n;
}

void gpi_report(const char *const *parts, size_t n)
{
	char buf[1024];
	size_t len = 0;

	for (size_t i = 0; i < n && parts[i]; i++) {
		size_t l = strlen(parts[i]);

		if (l > sizeof(buf) - 1 - len)
			l = sizeof(buf) - 1 - len;
		memcpy(buf + len, parts[i], l);
		len += l;
	}
	buf[len++] = '\n';
	(void)!write(STDERR_FILENO, buf, len);
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGILL:
		return "SIGILL";
	case SIGFPE:
		return "SIGFPE";
	case SIGABRT:
		return "SIGABRT";
	case SIGSYS:
		return "SIGSYS";
	default:
		return "signal";
	}
}

static void crash_report(int sig, const siginfo_t *si, struct gp_sched *s, struct gp_proc *p)
{
	char pid[64], addr[32], sched[16], *a = addr + sizeof(addr), *sc = sched + sizeof(sched);
	const char *parts[12];
	size_t n = 0;

	*--a = '\0';
	*--sc = '\0';
	parts[n++] = "libgp: fatal: ";
	parts[n++] = signal_name(sig);
	if (si->si_code > 0 && sig != SIGABRT) {
		parts[n++] = " at address ";
		parts[n++] = fmt_hex(a, (uint64_t)(uintptr_t)si->si_addr);
	}
	if (p) {
		gpi_fmt_pid(pid, sizeof(pid), atomic_load_explicit(&p->pid, memory_order_relaxed));
		parts[n++] = " in process ";
		parts[n++] = pid;
		if (atomic_load_explicit(&p->name, memory_order_relaxed)) {
			parts[n++] = " \"";
			parts[n++] = atomic_load_explicit(&p->name, memory_order_relaxed);
			parts[n++] = "\"";
		}
		parts[n++] = " on scheduler ";
		parts[n++] = gpi_fmt_u64(sc, s->id);
	} else if (s) {
		parts[n++] = " in scheduler ";
		parts[n++] = gpi_fmt_u64(sc, s->id);
		parts[n++] = " (runtime code)";
	} else {
		parts[n++] = " in a thread that runs no green process";
	}
	gpi_report(parts, n);
}

/* ---- the handler ------------------------------------------------------------ */

void gpi_overflow_rescue(void)
{
	struct gp_sched *s = gpi_tls_sched();
	struct gp_proc *p = s->current;

	p->flags |= GP_PF_OVERFLOWED;
	gpi_proc_exit(s, p, GP_EXIT_STACK_OVERFLOW);
}

static bool in_guard(const struct gp_proc *p, uintptr_t addr)
{
	uintptr_t lo = (uintptr_t)p->stack_lo;

	return p->stack_lo && addr < lo && addr >= lo - GP_GUARD_SIZE;
}

static void on_fatal_signal(int sig, siginfo_t *si, void *ucv)
{
	struct gp_sched *s = gpi_tls_sched();
	struct gp_proc *p = s ? s->current : NULL;
	int saved_errno = errno;

	if (sig == SIGSEGV && p && si->si_code > 0 && in_guard(p, (uintptr_t)si->si_addr)) {
		ucontext_t *uc = ucv;
		uintptr_t top = ((uintptr_t)s->rescue + s->rescue_size) & ~(uintptr_t)15;

		/* Enter gpi_overflow_rescue as if called: rsp = 8 mod 16. */
		gp_asan_unpoison(s->rescue, s->rescue_size);
		uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(top - 8);
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)gpi_overflow_rescue;
		errno = saved_errno;
		return;
	}
	crash_report(sig, si, s, p);
	/* Let the signal do what it would have done without us. */
	sigaction(sig, &previous[sig], NULL);
	if (si->si_code <= 0 || sig == SIGABRT)
		raise(sig); /* sent, not a fault: it will not recur by itself */
	errno = saved_errno;
}

/* SIGPIPE: a write to a closed pipe or socket returns -EPIPE rather than
 * killing the program (Go does the same). A handler, not SIG_IGN: handlers
 * are reset by execve, an ignored signal would be inherited by what the
 * program runs. Only if the program left SIGPIPE at its default. */
static void on_sigpipe(int sig)
{
	(void)sig;
}

static bool sigpipe_ours;

int gpi_fault_install(struct gp_runtime *rt)
{
	struct sigaction sa;

	(void)rt;
	if (sigaction(SIGPIPE, NULL, &previous[SIGPIPE]) == 0 &&
	    previous[SIGPIPE].sa_handler == SIG_DFL) {
		struct sigaction pipe_sa = { .sa_handler = on_sigpipe, .sa_flags = SA_RESTART };

		sigemptyset(&pipe_sa.sa_mask);
		sigpipe_ours = sigaction(SIGPIPE, &pipe_sa, NULL) == 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		if (sigaction(fatal_signals[i], &sa, &previous[fatal_signals[i]]) < 0)
			return -errno;
	return 0;
}

void gpi_fault_restore(void)
{
	if (sigpipe_ours) {
		sigaction(SIGPIPE, &previous[SIGPIPE], NULL);
		sigpipe_ours = false;
	}
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &previous[fatal_signals[i]], NULL);
}

/* Per thread: the alternate signal stack and the rescue stack. */
int gpi_fault_thread_init(struct gp_sched *s)
{
	stack_t ss = { .ss_size = ALTSTACK_SIZE };
	void *mem;

	mem = mmap(NULL, ALTSTACK_SIZE + RESCUE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	s->altstack = mem;
	s->rescue = (char *)mem + ALTSTACK_SIZE;
	s->rescue_size = RESCUE_SIZE;
	ss.ss_sp = mem;
	if (sigaltstack(&ss, &s->old_altstack) < 0) {
		int r = -errno;

		munmap(mem, ALTSTACK_SIZE + RESCUE_SIZE);
		s->altstack = s->rescue = NULL;
		return r;
	}
	return 0;
}

void gpi_fault_thread_fini(struct gp_sched *s)
{
	if (!s->altstack)
		return;
	/* The main thread had its own (or none): give it back. */
	if (s->old_altstack.ss_flags & SS_DISABLE || !s->old_altstack.ss_sp) {
		stack_t off = { .ss_flags = SS_DISABLE };

		sigaltstack(&off, NULL);
	} else {
		sigaltstack(&s->old_altstack, NULL);
	}
	munmap(s->altstack, ALTSTACK_SIZE + RESCUE_SIZE);
	s->altstack = s->rescue = NULL;
}
