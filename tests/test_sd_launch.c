/* SPDX-License-Identifier: MIT */
/*
 * sd_launch (supervisor/launch.c) on its own: the child shares our
 * descriptor table until it trims it to the slots, so what it gets, and
 * what we keep, are checked here against real children (sdtest).
 */
#include "sd_test.h"

#include <dirent.h>
#include <poll.h>
#include <sys/resource.h>

#include "../supervisor/launch.h"

static char sdtest[PATH_MAX];
static char *const no_env[] = { NULL };

static void setup(void)
{
	abs_path("SDTEST", "build/tests/progs/sdtest", sdtest);
}

TestSuite(launch, .init = setup, .timeout = 30);

/* A launch of sdtest with these arguments, stdin /dev/null, stdout `out`,
 * stderr ours. */
static struct sd_launch launch_of(char **argv, int devnull, int out)
{
	return (struct sd_launch){
		.path = sdtest,
		.argv = argv,
		.envp = no_env,
		.stdio = { devnull, out, STDERR_FILENO },
		.ready_src = -1,
		.v2_procs = -1,
	};
}

/* Everything written to fd until every write end is closed; fails rather
 * than hangs if one stays open. */
static char *read_to_eof(int fd)
{
	static char buf[4096];
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		cr_assert_eq(poll(&p, 1, 10000), 1, "no end of file after 10 s: a write end "
						      "is still open (%.*s)", (int)len, buf);
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		cr_assert_geq(n, 0, "read: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static int reap(struct sd_launched *got)
{
	int st;

	cr_assert_eq(waitpid(got->pid, &st, 0), got->pid);
	close(got->pidfd);
	return st;
}

/* How many descriptors we have open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = -1; /* the directory's own */

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* What `sdtest fds` printed, from "FDS:" on. */
static const char *fds_line(const char *out)
{
	const char *p = strstr(out, "FDS:");

	cr_assert_not_null(p, "no FDS line in: %s", out);
	return p;
}

/* The child gets 0, 1 and 2 and nothing else, however many descriptors
 * we hold and whether they are close-on-exec or not; and we keep no
 * reference to what we lent it (its stdout reaches end of file once it has
 * exited and we have closed our write end). */
Test(launch, child_gets_only_its_descriptors)
{
	char *argv[] = { sdtest, "fds", NULL };
	struct rlimit nofile;
	struct sd_launched got;
	struct sd_launch l;
	int pipefd[2], devnull, st;

	getrlimit(RLIMIT_NOFILE, &nofile);
	nofile.rlim_cur = nofile.rlim_max;
	setrlimit(RLIMIT_NOFILE, &nofile);
	cr_assert_geq(nofile.rlim_cur, 2100, "RLIMIT_NOFILE %llu", (unsigned long long)nofile.rlim_cur);
	for (int i = 0; i < 2000; i++)
		cr_assert_geq(open("/dev/null", O_RDONLY | (i % 2 ? O_CLOEXEC : 0)), 0);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);

	l = launch_of(argv, devnull, pipefd[1]);
	cr_assert_eq(sd_launch(&l, &got), 0);
	cr_assert_eq(got.exec.stage, -1, "stage %d: %s", got.exec.stage, strerror(got.exec.err));
	close(pipefd[1]);
	cr_assert_str_eq(fds_line(read_to_eof(pipefd[0])), "FDS: 0 1 2\n");
	st = reap(&got);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	close(pipefd[0]);
}

/* The ready fd lands at the number asked, the write end we lent, whatever
 * that number: one of the slots themselves (the lowest free descriptors
 * when they were reserved), one below them, one far above. */
Test(launch, ready_fd_lands_where_asked)
{
	int lowest[5], want[8], nwant = 0, devnull;

	for (int i = 0; i < 5; i++)
		cr_assert_geq(lowest[i] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	for (int i = 0; i < 5; i++)
		close(lowest[i]);
	cr_assert_eq(sd_launch_init(), 0); /* so the slots are these */
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < 5; i++)
		want[nwant++] = lowest[i];
	if (lowest[0] > 3)
		want[nwant++] = 3;
	want[nwant++] = 300;

	for (int i = 0; i < nwant; i++) {
		char num[16], expect[64];
		char *list[] = { sdtest, "fds", NULL }, *ready[] = { sdtest, "readyfd", num, NULL };
		int out[2], rdy[2], st;
		struct sd_launched got;
		struct sd_launch l;

		snprintf(num, sizeof(num), "%d", want[i]);
		cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
		cr_assert_eq(pipe2(rdy, O_CLOEXEC), 0);

		/* It has it open, and nothing else but 0-2. */
		l = launch_of(list, devnull, out[1]);
		l.ready_src = rdy[1];
		l.ready_fd = want[i];
		cr_assert_eq(sd_launch(&l, &got), 0);
		close(out[1]);
		snprintf(expect, sizeof(expect), "FDS: 0 1 2 %d\n", want[i]);
		cr_assert_str_eq(fds_line(read_to_eof(out[0])), expect, "ready fd %d", want[i]);
		st = reap(&got);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
		close(out[0]);

		/* It is our pipe: what it writes there comes out here. */
		l = launch_of(ready, devnull, devnull);
		l.ready_src = rdy[1];
		l.ready_fd = want[i];
		cr_assert_eq(sd_launch(&l, &got), 0);
		cr_assert_eq(got.exec.stage, -1);
		close(rdy[1]);
		{
			struct pollfd p = { .fd = rdy[0], .events = POLLIN };
			char c = 0;

			cr_assert_eq(poll(&p, 1, 10000), 1, "nothing on the ready fd %d", want[i]);
			cr_assert_eq(read(rdy[0], &c, 1), 1);
			cr_assert_eq(c, '\n');
		}
		cr_assert_eq(kill(got.pid, SIGKILL), 0);
		st = reap(&got);
		cr_assert(WIFSIGNALED(st), "status %#x", st);
		/* Once it is gone, nothing of ours holds the write end. */
		cr_assert_str_eq(read_to_eof(rdy[0]), "");
		close(rdy[0]);
	}
}

/* A child that fails before execve says at which step; the launch leaves
 * nothing open in us but the pidfd, and the next launch works. */
Test(launch, failures_leave_nothing_open)
{
	char *argv[] = { sdtest, "exit", "7", NULL };
	struct sd_launched got;
	struct sd_launch l;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), before, st;

	cr_assert_eq(sd_launch_init(), 0);
	before = open_fds();

	l = launch_of(argv, devnull, devnull);
	l.path = "/nonexistent/sdtest";
	cr_assert_eq(sd_launch(&l, &got), 0);
	cr_assert_eq(got.exec.stage, SD_STAGE_EXECVE);
	cr_assert_eq(got.exec.err, ENOENT);
	st = reap(&got);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 127, "status %#x", st);

	l = launch_of(argv, devnull, devnull);
	l.cwd = "/nonexistent";
	cr_assert_eq(sd_launch(&l, &got), 0);
	cr_assert_eq(got.exec.stage, SD_STAGE_CHDIR);
	cr_assert_eq(got.exec.err, ENOENT);
	reap(&got);
	cr_assert_eq(open_fds(), before);

	l = launch_of(argv, devnull, devnull);
	cr_assert_eq(sd_launch(&l, &got), 0);
	cr_assert_eq(got.exec.stage, -1);
	st = reap(&got);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7, "status %#x", st);
	cr_assert_eq(open_fds(), before);
}
