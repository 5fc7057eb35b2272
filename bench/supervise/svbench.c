// SPDX-License-Identifier: MIT
/*
 * svbench: the child programs and small probes of bench/supervise/run.sh.
 *
 *   svbench crash FILE       append "NS PID" to FILE, exit 1 at once
 *   svbench up FILE          append "NS PID" to FILE, then sleep until killed
 *   svbench grand FILE       double-fork a grandchild (setsid) that sleeps,
 *                            append "NS PID GRANDCHILD_PID" to FILE, sleep
 *   svbench loop N PROG ARG...   fork, exec PROG, wait, N times (the bare loop)
 *   svbench waitlines FILE N SECONDS [PID]
 *                            wait until FILE has N lines; exit 1 on timeout,
 *                            2 if PID is gone first
 *   svbench stopwait FILE SECONDS -- CMD ARG...
 *                            open a pidfd on every PID listed in FILE (second
 *                            field), run CMD, and print the milliseconds from
 *                            just before CMD until all those processes are
 *                            gone; "timeout K" if K are left after SECONDS
 *   svbench alive PID        exit 0 if PID exists and is not a zombie
 *   svbench children PID COMM
 *                            print the PIDs of PID's children named COMM
 *   svbench scan DIR         print the PIDs of the processes whose command
 *                            line or working directory contains DIR (the
 *                            cleanup's net: everything the benchmark started)
 *   svbench uss PID...       print the sum of Private_Clean + Private_Dirty
 *                            (smaps_rollup) of those processes, in KiB
 *   svbench ctxsw PID...     print the sum of the voluntary and involuntary
 *                            context switches of those processes' threads
 *   svbench ctxsw-main PID...
 *                            the same, of their main threads only
 *
 * NS is CLOCK_REALTIME in nanoseconds, written with one write() on an
 * O_APPEND descriptor, so that lines from concurrent children never mix.
 *
 * Run as "./run" (a runit or s6 service directory whose run file is a
 * symbolic link to this program; s6 passes the service's name as the one
 * argument), it reads its arguments from the file "bench.args" in its
 * working directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void stamp(const char *file, const char *extra)
{
	char line[128];
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	int n;

	if (fd < 0) {
		perror(file);
		exit(111);
	}
	n = snprintf(line, sizeof(line), "%" PRId64 " %ld%s%s\n", now_ns(CLOCK_REALTIME),
		     (long)getpid(), extra ? " " : "", extra ? extra : "");
	if (write(fd, line, (size_t)n) != n) {
		perror(file);
		exit(111);
	}
	close(fd);
}

static _Noreturn void sleep_forever(void)
{
	for (;;)
		pause();
}

/* The child that leaves a grandchild behind, in a session of its own. */
static int grand(const char *file)
{
	int p[2];
	pid_t mid, gpid = 0;
	char buf[32];

	if (pipe2(p, O_CLOEXEC) < 0)
		return 111;
	mid = fork();
	if (mid < 0)
		return 111;
	if (mid == 0) {
		pid_t g;

		setsid();
		g = fork();
		if (g < 0)
			_exit(111);
		if (g == 0) {
			gpid = getpid();
			if (write(p[1], &gpid, sizeof(gpid)) != sizeof(gpid))
				_exit(111);
			close(p[0]);
			close(p[1]);
			sleep_forever();
		}
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &gpid, sizeof(gpid)) != sizeof(gpid))
		return 111;
	close(p[0]);
	waitpid(mid, NULL, 0);
	snprintf(buf, sizeof(buf), "%ld", (long)gpid);
	stamp(file, buf);
	sleep_forever();
}

static int loop(long n, char **argv)
{
	for (long i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) < 0) {
			perror("waitpid");
			return 1;
		}
	}
	return 0;
}

static long count_lines(const char *file)
{
	char buf[65536];
	long lines = 0;
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

static int alive(long pid);

static int waitlines(const char *file, long n, double seconds, long pid)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + (int64_t)(seconds * 1e9);

	while (count_lines(file) < n) {
		if (now_ns(CLOCK_MONOTONIC) > end)
			return 1;
		if (pid > 0 && alive(pid) != 0)
			return count_lines(file) < n ? 2 : 0;
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
	return 0;
}

static int stopwait(const char *file, double seconds, char **cmd)
{
	FILE *f = fopen(file, "re");
	int ep = epoll_create1(EPOLL_CLOEXEC), left = 0, st;
	long long ns;
	long pid;
	int64_t t0, end;
	pid_t c;

	if (!f || ep < 0) {
		perror(file);
		return 111;
	}
	while (fscanf(f, "%lld %ld%*[^\n]", &ns, &pid) == 2) {
		int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);

		if (fd < 0) {
			if (errno == ESRCH)
				continue; /* already gone */
			perror("pidfd_open");
			return 111;
		}
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){ .events = EPOLLIN, .data.fd = fd }) < 0) {
			perror("epoll_ctl");
			return 111;
		}
		left++;
	}
	fclose(f);
	t0 = now_ns(CLOCK_MONOTONIC);
	end = t0 + (int64_t)(seconds * 1e9);
	c = fork();
	if (c < 0)
		return 111;
	if (c == 0) {
		execvp(cmd[0], cmd);
		perror(cmd[0]);
		_exit(127);
	}
	while (left > 0) {
		struct epoll_event ev[256];
		int64_t rem = end - now_ns(CLOCK_MONOTONIC);
		int n;

		if (rem <= 0)
			break;
		n = epoll_wait(ep, ev, 256, (int)(rem / 1000000) + 1);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			return 111;
		}
		for (int i = 0; i < n; i++) {
			epoll_ctl(ep, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
			close(ev[i].data.fd);
			left--;
		}
	}
	if (left > 0)
		printf("timeout %d\n", left);
	else
		printf("%.1f\n", (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	if (waitpid(c, &st, 0) == c && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fprintf(stderr, "svbench stopwait: %s: status %#x\n", cmd[0], st);
	return 0;
}

static int alive(long pid)
{
	char path[64], buf[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X' ? 0 : 1;
}

/* The contents of /proc/PID/NAME, NUL-terminated; 0 if unreadable. */
static size_t proc_read(long pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	size_t len = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return len;
}

/* Every process: fn(pid, arg). */
static void each_process(void (*fn)(long, void *), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (pid > 0 && !*end)
			fn(pid, arg);
	}
	closedir(d);
}

struct children_arg {
	long ppid;
	const char *comm;
};

static void children_fn(long pid, void *arg)
{
	const struct children_arg *a = arg;
	char buf[512], *p;
	long ppid;

	if (!proc_read(pid, "stat", buf, sizeof(buf)) || !(p = strrchr(buf, ')')))
		return;
	if (sscanf(p + 2, "%*c %ld", &ppid) != 1 || ppid != a->ppid)
		return;
	*p = '\0';
	p = strchr(buf, '(');
	if (p && strcmp(p + 1, a->comm) == 0)
		printf("%ld\n", pid);
}

static void scan_fn(long pid, void *arg)
{
	const char *dir = arg;
	char buf[8192], path[64];
	size_t len;
	ssize_t n;

	if (pid == (long)getpid() || pid == (long)getppid())
		return;
	len = proc_read(pid, "cmdline", buf, sizeof(buf));
	for (size_t i = 0; i + 1 < len; i++)
		if (!buf[i])
			buf[i] = ' ';
	if (len && strstr(buf, dir)) {
		printf("%ld\n", pid);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/cwd", pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		if (strstr(buf, dir))
			printf("%ld\n", pid);
	}
}

static long sum_fields(const char *text, const char *const *keys)
{
	long sum = 0;

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');

		for (const char *const *k = keys; *k; k++)
			if (strncmp(line, *k, strlen(*k)) == 0)
				sum += atol(line + strlen(*k));
		line = nl ? nl + 1 : NULL;
	}
	return sum;
}

static int uss(int n, char **pids)
{
	static const char *const keys[] = { "Private_Clean:", "Private_Dirty:", NULL };
	char buf[4096];
	long kib = 0;

	for (int i = 0; i < n; i++)
		if (proc_read(atol(pids[i]), "smaps_rollup", buf, sizeof(buf)))
			kib += sum_fields(buf, keys);
	printf("%ld\n", kib);
	return 0;
}

static int ctxsw(int n, char **pids, bool main_only)
{
	static const char *const keys[] = { "voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:", NULL };
	char buf[8192], path[64];
	long sum = 0;

	for (int i = 0; i < n; i++) {
		long pid = atol(pids[i]);
		struct dirent *e;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%ld/task", pid);
		if (!(d = opendir(path)))
			continue;
		while ((e = readdir(d))) {
			char name[300];

			if (e->d_name[0] == '.' || (main_only && atol(e->d_name) != pid))
				continue;
			snprintf(name, sizeof(name), "task/%s/status", e->d_name);
			if (proc_read(pid, name, buf, sizeof(buf)))
				sum += sum_fields(buf, keys);
		}
		closedir(d);
	}
	printf("%ld\n", sum);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: svbench crash|up|grand FILE | loop N PROG ARG... | "
			"waitlines FILE N SECONDS [PID] | stopwait FILE SECONDS -- CMD ARG... | alive PID | "
			"children PID COMM | scan DIR | uss PID... | ctxsw[-main] PID...\n");
	return 2;
}

int main(int argc, char **argv)
{
	char *args[8], buf[4096];
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	if (argc <= 2 && strcmp(base, "run") == 0) {
		/* ./run in a service directory (s6 passes the service's name as
		 * argv[1], runit nothing): arguments from ./bench.args */
		int fd = open("bench.args", O_RDONLY | O_CLOEXEC), n = 0;
		ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		char *save = NULL;

		if (len <= 0)
			return usage();
		close(fd);
		buf[len] = '\0';
		args[n++] = argv[0];
		for (char *t = strtok_r(buf, " \t\n", &save); t && n < 7; t = strtok_r(NULL, " \t\n", &save))
			args[n++] = t;
		args[n] = NULL;
		argc = n;
		argv = args;
	}
	signal(SIGPIPE, SIG_DFL);
	if (argc == 3 && strcmp(argv[1], "crash") == 0) {
		stamp(argv[2], NULL);
		return 1;
	}
	if (argc == 3 && strcmp(argv[1], "up") == 0) {
		stamp(argv[2], NULL);
		sleep_forever();
	}
	if (argc == 3 && strcmp(argv[1], "grand") == 0)
		return grand(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "loop") == 0)
		return loop(atol(argv[2]), argv + 3);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "waitlines") == 0)
		return waitlines(argv[2], atol(argv[3]), atof(argv[4]), argc == 6 ? atol(argv[5]) : 0);
	if (argc >= 6 && strcmp(argv[1], "stopwait") == 0 && strcmp(argv[4], "--") == 0)
		return stopwait(argv[2], atof(argv[3]), argv + 5);
	if (argc == 3 && strcmp(argv[1], "alive") == 0)
		return alive(atol(argv[2]));
	if (argc == 4 && strcmp(argv[1], "children") == 0) {
		struct children_arg a = { atol(argv[2]), argv[3] };

		each_process(children_fn, &a);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "scan") == 0 && argv[2][0] == '/' && strlen(argv[2]) > 4) {
		each_process(scan_fn, argv[2]);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "uss") == 0)
		return uss(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "ctxsw") == 0)
		return ctxsw(argc - 2, argv + 2, false);
	if (argc >= 2 && strcmp(argv[1], "ctxsw-main") == 0)
		return ctxsw(argc - 2, argv + 2, true);
	return usage();
}
