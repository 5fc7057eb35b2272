/* SPDX-License-Identifier: MIT */
/*
 * The sandbox, for real: a program locked in by its gp_config tries to get
 * out (open a file, make a socket, start a thread, exec, make a new
 * io_uring, and the same through the scheduler's own ring) and fails, while
 * what its policy allows still works. A seccomp filter cannot be removed:
 * each test runs its gp_main in a child process of its own.
 */
#include "gp_test.h"
#include "internal.h"

#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run fn as the first process of a runtime locked with policy, in a child;
 * its exit status (0: every CHECK held), its stderr into buf. */
static int sandboxed(unsigned policy, gp_fn fn, char *buf, size_t size)
{
	int pipefd[2], status;
	size_t len = 0;
	pid_t pid;

	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct gp_config cfg = { .schedulers = 2, .sandbox = policy };
		int r;

		dup2(pipefd[1], STDERR_FILENO);
		/* (no introspection socket: a sandbox may not remove it at exit) */
		setenv("GP_INTROSPECT", "0", 1);
		checks_reset();
		r = gp_main(fn, NULL, &cfg);
		if (r < 0)
			fprintf(stderr, "gp_main: %s\n", strerror(-r));
		else if (atomic_load(&check_failures))
			fprintf(stderr, "%s\n", check_first);
		_exit(r < 0 || atomic_load(&check_failures) ? 1 : 0);
	}
	close(pipefd[1]);
	for (ssize_t n; (n = read(pipefd[0], buf + len, size - 1 - len)) > 0;)
		len += (size_t)n;
	buf[len] = '\0';
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ASan's runtime reads /proc (thread stacks, maps) from its interceptors,
 * which a sandbox rightly forbids, and aborts: the sandbox is tested in the
 * normal and TSan builds. */
#ifdef __SANITIZE_ADDRESS__
static void skip_under_asan(void)
{
	cr_skip_test("ASan's runtime needs /proc, which the sandbox forbids (tested without ASan)");
}

TestSuite(sandbox, .init = skip_under_asan);
#endif

#define ASSERT_SANDBOXED(policy, fn)                                                    \
	do {                                                                            \
		char out_[4096];                                                        \
		int st_ = sandboxed(policy, fn, out_, sizeof(out_));                    \
		cr_assert_eq(st_, 0, "exit %d: %s", st_, out_);                         \
	} while (0)

/* An OPENAT submitted to the scheduler's own ring, as code that found the
 * ring would: the ring's restrictions answer, not seccomp. */
static int ring_open(const char *path, int flags)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	io_uring_prep_openat(sqe, AT_FDCWD, path, flags, 0);
	return gpi_io_wait(s, p, sqe);
}

__attribute__((unused)) static void *thread_fn(void *arg)
{
	return arg;
}

static void escape_attempts(void)
{
	struct io_uring ring;
	pthread_t t;
	int fds[2];
	char c;

	CHECK_EQ(open("/etc/hostname", O_RDONLY | O_CLOEXEC), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(gp_openat(AT_FDCWD, "/etc/hostname", O_RDONLY, 0), -EPERM);
	CHECK_EQ(ring_open("/etc/hostname", O_RDONLY), -EACCES);
	CHECK_EQ(socket(AF_INET, SOCK_STREAM, 0), -1);
	CHECK_EQ(gp_socket(AF_INET, SOCK_STREAM, 0), -EACCES);
#ifndef __SANITIZE_ADDRESS__
	/* (ASan's interceptors for these read /proc, which the sandbox
	 * forbids, and abort: the normal and TSan builds test them.) */
	CHECK_EQ(pthread_create(&t, NULL, thread_fn, NULL), EPERM);
	CHECK_EQ(fork(), -1);
	CHECK_EQ(execl("/bin/true", "true", (char *)NULL), -1);
	CHECK_EQ(errno, EPERM);
#else
	(void)t;
#endif
	CHECK_EQ(io_uring_queue_init(8, &ring, 0), -EPERM);
	/* What it already had still works: a pipe made before? No: pipe2 is
	 * not allowed either; stdout is. */
	CHECK_EQ(pipe2(fds, O_CLOEXEC), -1);
	CHECK(gp_write(STDERR_FILENO, "", 0) == 0);
	(void)c;
}

static void locked_in(void *arg)
{
	(void)arg;
	escape_attempts();
	/* Messages, processes and timers: the runtime itself still runs. */
	CHECK(gp_sleep(5) == 0);
	CHECK(gp_spawn((gp_fn)gp_yield, NULL) != 0);
}

Test(sandbox, nothing_gets_out)
{
	ASSERT_SANDBOXED(GP_SANDBOX_ON, locked_in);
}

/* ---- network only: sockets work, files do not ------------------------------------------ */

static void net_only(void *arg)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l, c, s;
	char buf[8];

	(void)arg;
	l = gp_socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(l, 8) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
	c = gp_socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	CHECK(gp_connect(c, (struct sockaddr *)&a, sizeof(a)) == 0);
	s = gp_accept(l, NULL, NULL);
	CHECK(s >= 0);
	CHECK(gp_write(c, "ping", 4) == 4);
	CHECK(gp_read(s, buf, sizeof(buf)) == 4);
	CHECK(memcmp(buf, "ping", 4) == 0);
	CHECK_EQ(gp_openat(AT_FDCWD, "/etc/hostname", O_RDONLY, 0), -EPERM);
	CHECK_EQ(ring_open("/etc/hostname", O_RDONLY), -EACCES);
#ifndef __SANITIZE_ADDRESS__
	CHECK_EQ(fork(), -1);
#endif
}

Test(sandbox, network_only)
{
	ASSERT_SANDBOXED(GP_SANDBOX_ON | GP_SANDBOX_NET, net_only);
}

/* ---- read-only files ----------------------------------------------------------------------- */

static void read_only(void *arg)
{
	char buf[64];
	int fd;

	(void)arg;
	fd = gp_openat(AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	CHECK(fd >= 0, "%s", strerror(-fd));
	CHECK(gp_read(fd, buf, sizeof(buf)) > 0);
	CHECK_EQ(gp_openat(AT_FDCWD, "/tmp/gp-sandbox-must-not-exist", O_WRONLY | O_CREAT, 0600),
		 -EPERM);
	CHECK_EQ(gp_openat(AT_FDCWD, "/etc/hostname", O_RDWR, 0), -EPERM);
	CHECK_EQ(gp_openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_TRUNC, 0), -EPERM);
	/* The ring cannot tell reading from writing: it opens nothing. */
	CHECK_EQ(ring_open("/etc/hostname", O_RDONLY), -EACCES);
	CHECK_EQ(gp_socket(AF_INET, SOCK_STREAM, 0), -EACCES);
}

Test(sandbox, read_only_files)
{
	ASSERT_SANDBOXED(GP_SANDBOX_ON | GP_SANDBOX_FILES_RO, read_only);
	cr_assert_eq(access("/tmp/gp-sandbox-must-not-exist", F_OK), -1);
}

/* ---- files allowed: open and create, through the ring -------------------------------------- */

static void files(void *arg)
{
	char path[64];
	int fd;

	(void)arg;
	snprintf(path, sizeof(path), "/tmp/gp-sandbox-%d", (int)getpid());
	fd = gp_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0, "%s", strerror(-fd));
	CHECK(gp_write(fd, "ok", 2) == 2);
	CHECK(gp_close(fd) == 0);
	CHECK(unlink(path) == 0);
	CHECK_EQ(gp_socket(AF_INET, SOCK_STREAM, 0), -EACCES);
#ifndef __SANITIZE_ADDRESS__
	CHECK_EQ(execl("/bin/true", "true", (char *)NULL), -1);
#endif
}

Test(sandbox, files)
{
	ASSERT_SANDBOXED(GP_SANDBOX_ON | GP_SANDBOX_FILES, files);
}

/* ---- kill: a forbidden call ends the program ------------------------------------------------ */

static void forbidden(void *arg)
{
	(void)arg;
	(void)!open("/etc/hostname", O_RDONLY);
	CHECK(!"still alive after a forbidden call");
}

Test(sandbox, kill_on_a_forbidden_call)
{
	char out[4096];
	int st = sandboxed(GP_SANDBOX_ON | GP_SANDBOX_KILL, forbidden, out, sizeof(out));

	cr_assert_eq(st, 128 + SIGSYS, "exit %d: %s", st, out);
}

/* With KILL, what the runtime itself does from start to exit is allowed:
 * a program that does nothing forbidden ends normally. */
static void well_behaved(void *arg)
{
	(void)arg;
	CHECK(gp_sleep(5) == 0);
	CHECK(gp_write(STDERR_FILENO, "", 0) == 0);
}

Test(sandbox, kill_spares_the_well_behaved)
{
	ASSERT_SANDBOXED(GP_SANDBOX_ON | GP_SANDBOX_KILL, well_behaved);
	ASSERT_SANDBOXED(GP_SANDBOX_ON | GP_SANDBOX_NET | GP_SANDBOX_FILES | GP_SANDBOX_KILL,
			 well_behaved);
}

/* ---- bad policies -------------------------------------------------------------------------- */

static void nothing(void *arg)
{
	(void)arg;
}

Test(sandbox, bad_policy)
{
	struct gp_config cfg = { .sandbox = GP_SANDBOX_NET }; /* without ON */

	cr_assert_eq(gp_main(nothing, NULL, &cfg), -EINVAL);
	cfg.sandbox = GP_SANDBOX_ON | (1u << 20);
	cr_assert_eq(gp_main(nothing, NULL, &cfg), -EINVAL);
}
