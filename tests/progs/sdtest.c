/* SPDX-License-Identifier: MIT */
/*
 * sdtest: a child for spawnd's tests, doing one thing on command:
 *
 *   sdtest exit CODE [AFTER_MS]     exit with CODE (after a while)
 *   sdtest signal SIG [AFTER_MS]    kill itself with signal number SIG
 *   sdtest sleep                    sleep until killed
 *   sdtest ignore-term              ignore SIGTERM, sleep until SIGKILL
 *   sdtest notify [DELAY_MS] [WATCHDOG_MS [PINGS]]
 *                                   READY=1 to $NOTIFY_SOCKET after DELAY_MS,
 *                                   then WATCHDOG=1 every WATCHDOG_MS, PINGS
 *                                   times (0: for ever), then sleep
 *   sdtest readyfd FD [DELAY_MS]    a newline on FD after DELAY_MS, then sleep
 *   sdtest orphan PIDFILE           leave a grandchild behind (double fork,
 *                                   setsid), write its pid to PIDFILE, sleep
 *   sdtest flood                    write lines to stdout as fast as it can
 *   sdtest env                      print its environment, then sleep
 *   sdtest limits                   print RLIMIT_NOFILE and RLIMIT_CORE, sleep
 *   sdtest fork-bomb                fork until it fails; print how many, sleep
 *   sdtest spin                     compute for ever, no system calls
 *   sdtest alloc MB                 touch MB mebibytes, print "ALLOCATED MB", sleep
 *   sdtest ids                      print "IDS uid gid sid pgid nofile fds: LIST", sleep
 *   sdtest fds                      print "FDS:" and every open descriptor, exit 0
 *
 * Every command first appends "START <pid> <ms since epoch>" to $SDTEST_LOG
 * if set (so tests see restarts and their order), and on SIGTERM appends
 * "TERM <pid> <ms>" before exiting 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note(const char *what)
{
	const char *path = getenv("SDTEST_LOG");
	char line[128];
	int fd, n;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %d %lld\n", what, (int)getpid(), now_ms());
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

static void on_term(int sig)
{
	(void)sig;
	note("TERM");
	_exit(0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static _Noreturn void forever(void)
{
	for (;;)
		pause();
}

static void notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path)
		return;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	long a = argc > 2 ? atol(argv[2]) : 0, b = argc > 3 ? atol(argv[3]) : 0;

	note("START");
	signal(SIGTERM, on_term);
	printf("sdtest %s pid %d\n", cmd, (int)getpid());
	fflush(stdout);

	if (!strcmp(cmd, "exit")) {
		sleep_ms(b);
		return (int)a;
	}
	if (!strcmp(cmd, "signal")) {
		sleep_ms(b);
		signal((int)a, SIG_DFL);
		raise((int)a);
		return 1;
	}
	if (!strcmp(cmd, "sleep"))
		forever();
	if (!strcmp(cmd, "ignore-term")) {
		signal(SIGTERM, SIG_IGN);
		forever();
	}
	if (!strcmp(cmd, "notify")) {
		long pings = argc > 4 ? atol(argv[4]) : 0;

		sleep_ms(a);
		notify("STATUS=warming up\nREADY=1");
		for (long i = 0; b > 0 && (pings == 0 || i < pings); i++) {
			sleep_ms(b);
			notify("WATCHDOG=1");
		}
		forever();
	}
	if (!strcmp(cmd, "readyfd")) {
		sleep_ms(b);
		(void)!write((int)a, "\n", 1);
		forever();
	}
	if (!strcmp(cmd, "orphan") && argc > 2) {
		pid_t pid = fork();

		if (pid == 0) {
			setsid();
			if (fork() == 0) {
				FILE *f = fopen(argv[2], "we");

				if (f) {
					fprintf(f, "%d\n", (int)getpid());
					fclose(f);
				}
				forever();
			}
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		forever();
	}
	if (!strcmp(cmd, "flood")) {
		for (unsigned long i = 0;; i++)
			printf("flood line %lu with some padding to make it longer than a few bytes\n", i);
	}
	if (!strcmp(cmd, "env")) {
		for (char **e = environ; *e; e++)
			printf("ENV %s\n", *e);
		fflush(stdout);
		forever();
	}
	if (!strcmp(cmd, "limits")) {
		struct rlimit nofile, core;

		getrlimit(RLIMIT_NOFILE, &nofile);
		getrlimit(RLIMIT_CORE, &core);
		printf("NOFILE %llu CORE %llu\n", (unsigned long long)nofile.rlim_cur,
		       (unsigned long long)core.rlim_cur);
		fflush(stdout);
		forever();
	}
	if (!strcmp(cmd, "fork-bomb")) {
		int n = 0;

		for (; n < 10000; n++) {
			pid_t pid = fork();

			if (pid < 0)
				break;
			if (pid == 0)
				forever();
		}
		printf("FORKED %d errno %d\n", n, errno);
		fflush(stdout);
		forever();
	}
	if (!strcmp(cmd, "fds")) {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *de;

		if (!d)
			return 2;
		printf("FDS:");
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
				printf(" %s", de->d_name);
		printf("\n");
		closedir(d);
		return 0;
	}
	if (!strcmp(cmd, "ids")) {
		struct rlimit nofile;
		char fds[512] = "";
		size_t len = 0;

		getrlimit(RLIMIT_NOFILE, &nofile);
		for (int fd = 0; fd < 64; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				len += (size_t)snprintf(fds + len, sizeof(fds) - len, " %d", fd);
		printf("IDS uid %d gid %d sid %d pgid %d pid %d nofile %llu fds:%s\n", (int)getuid(),
		       (int)getgid(), (int)getsid(0), (int)getpgid(0), (int)getpid(),
		       (unsigned long long)nofile.rlim_cur, fds);
		fflush(stdout);
		forever();
	}
	if (!strcmp(cmd, "alloc")) {
		for (long i = 0; i < a; i++) {
			char *p = malloc(1 << 20);

			if (!p)
				break;
			memset(p, 1, 1 << 20);
		}
		printf("ALLOCATED %ld\n", a);
		fflush(stdout);
		forever();
	}
	if (!strcmp(cmd, "spin")) {
		volatile unsigned long x = 0;

		for (;;)
			x++;
	}
	fprintf(stderr, "sdtest: unknown command '%s'\n", cmd);
	return 2;
}
