/* SPDX-License-Identifier: MIT */
/*
 * What spawnd's crash and stall probes are tested on (tests/test_sd_bpf.c),
 * built with frame pointers so that its stacks walk:
 *
 *   bpftest segv            at SIGUSR1, a segfault in crash_in_named_function()
 *   bpftest grandchild-abort  a grandchild aborts; the worker lives on
 *   bpftest sleep           sleeps in pause() (to be killed by someone)
 *   bpftest vfork           a vfork child that never execs: the parent in D
 *   bpftest spin            computes for ever without a system call
 *   bpftest child-spin      its child does (says "SPINNER <pid>")
 *   bpftest busy            computes, with a system call every few us
 *   bpftest read            waits for ever in read() on a pipe
 *   bpftest poll            waits for ever in poll()
 *   bpftest forks N         N children that exit at once, one after the other
 *
 * Each says "READY <pid>" on stdout when it is where it should be.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void ready(void)
{
	printf("READY %d\n", (int)getpid());
	fflush(stdout);
}

static volatile sig_atomic_t go;

static void on_go(int sig)
{
	(void)sig;
	go = 1;
}

/* The function a crash report must name. */
__attribute__((noinline)) static void crash_in_named_function(volatile int *p)
{
	*p = 42;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void crash_caller(void)
{
	crash_in_named_function(NULL);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "segv")) {
		signal(SIGUSR1, on_go);
		ready();
		while (!go)
			pause();
		crash_caller();
		return 1;
	}
	if (!strcmp(cmd, "grandchild-abort")) {
		pid_t child = fork();

		if (child == 0) {
			if (fork() == 0) {
				usleep(100000);
				abort();
			}
			for (;;)
				pause();
		}
		ready();
		for (;;)
			pause();
	}
	if (!strcmp(cmd, "sleep")) {
		ready();
		for (;;)
			pause();
	}
	if (!strcmp(cmd, "vfork")) {
		ready();
		if (vfork() == 0) {
			for (;;)
				pause(); /* never execs: the parent waits in D */
		}
		return 0;
	}
	if (!strcmp(cmd, "spin")) {
		volatile unsigned long x = 0;

		ready();
		for (;;)
			x++;
	}
	if (!strcmp(cmd, "child-spin")) {
		pid_t child = fork();

		if (child == 0) {
			volatile unsigned long x = 0;

			printf("SPINNER %d\n", (int)getpid());
			fflush(stdout);
			for (;;)
				x++;
		}
		ready();
		for (;;)
			pause();
	}
	if (!strcmp(cmd, "busy")) {
		volatile unsigned long x = 0;

		ready();
		for (;;) {
			for (int i = 0; i < 1000; i++)
				x++;
			(void)getppid();
		}
	}
	if (!strcmp(cmd, "read")) {
		int fds[2];
		char c;

		if (pipe(fds) < 0)
			return 1;
		ready();
		return (int)read(fds[0], &c, 1);
	}
	if (!strcmp(cmd, "poll")) {
		ready();
		return poll(NULL, 0, -1);
	}
	if (!strcmp(cmd, "forks") && argc > 2) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) < 0)
				return 1;
		}
		printf("FORKED %ld\n", n);
		ready();
		for (;;)
			pause();
	}
	fprintf(stderr, "bpftest: unknown command '%s'\n", cmd);
	return 2;
}
