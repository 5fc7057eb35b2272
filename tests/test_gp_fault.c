/* SPDX-License-Identifier: MIT */
/* Faults that may have corrupted shared memory escalate: a crash report
 * naming the green process, then death by the same signal. */
#include "gp_test.h"

#include <signal.h>
#include <sys/mman.h>

static volatile int zero = 0;
static volatile uintptr_t wild = 16;

static void do_segv(void)
{
	*(volatile int *)wild = 1;
}

static void do_bus(void)
{
	int fd = memfd_create("empty", MFD_CLOEXEC);
	volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);

	(void)p[0]; /* beyond the end of an empty file */
}

static void do_ill(void)
{
	__builtin_trap();
}

static void do_fpe(void)
{
	/* In assembly: the compiler may not divide at all ("1 / x" needs no
	 * division), and UBSan would catch a C division first. */
	int num = 7, den = zero;

	__asm__ volatile("cltd; idivl %1" : "+a"(num) : "r"(den) : "edx");
}

static void do_abort(void)
{
	abort();
}

static void (*const faults[])(void) = { do_segv, do_bus, do_ill, do_fpe, do_abort };
static const int fault_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
static int which;

static void faulting(void *arg)
{
	(void)arg;
	gp_sleep(2);
	faults[which]();
}

static void bystander(void *arg)
{
	struct gp_msg m;

	(void)arg;
	gp_receive(&m, -1);
}

static void fault_main(void *arg)
{
	struct gp_spawn_opts o = { .name = "doomed" };
	gp_pid pid;

	(void)arg;
	gp_spawn(bystander, NULL);
	gp_spawn_opt(&pid, faulting, NULL, &o);
	printf("pid %llu\n", (unsigned long long)pid);
	gp_receive(&(struct gp_msg){ 0 }, -1);
}

static void fault_child(void)
{
	gp_main(fault_main, NULL, &(struct gp_config){ .schedulers = 2 });
	_exit(0); /* not reached: the fault takes the OS process down */
}

static void check_fault(int i, const char *name)
{
	char out[4096];
	int st;

	which = i;
	st = run_forked(fault_child, out, sizeof(out));
	cr_assert(WIFSIGNALED(st), "%s: the OS process survived (status %#x): %s", name, st, out);
	cr_assert_eq(WTERMSIG(st), fault_signals[i], "%s: died of signal %d", name, WTERMSIG(st));
	cr_assert(strstr(out, "libgp: fatal: "), "%s: no crash report: %s", name, out);
	cr_assert(strstr(out, name), "%s: report: %s", name, out);
	cr_assert(strstr(out, " in process <0."), "%s: report: %s", name, out);
	cr_assert(strstr(out, "\"doomed\" on scheduler "), "%s: report: %s", name, out);
}

/* A wild SIGSEGV is not swallowed. */
Test(fault, segv, .timeout = 10)
{
	check_fault(0, "SIGSEGV at address 0x10");
}

Test(fault, bus, .timeout = 10)
{
	check_fault(1, "SIGBUS");
}

Test(fault, ill, .timeout = 10)
{
	check_fault(2, "SIGILL");
}

Test(fault, fpe, .timeout = 10)
{
	check_fault(3, "SIGFPE");
}

/* abort() in a process reports and dies by SIGABRT. */
Test(fault, abort, .timeout = 10)
{
	check_fault(4, "SIGABRT");
}

static void after_main(void *arg)
{
	(void)arg;
}

/* gp_main puts back the signal dispositions it found. */
Test(fault, dispositions_restored, .timeout = 10)
{
	struct sigaction before, after;

	sigaction(SIGSEGV, NULL, &before);
	run_gp(after_main, NULL, 1);
	sigaction(SIGSEGV, NULL, &after);
	cr_assert_eq((void *)after.sa_handler, (void *)before.sa_handler);
}
