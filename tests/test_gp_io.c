/* SPDX-License-Identifier: MIT */
/*
 * libgp's I/O: real pipes, sockets and files through the schedulers'
 * io_uring. A blocking call blocks only its process; deadlines are never
 * early; a kill ends a process blocked in I/O and the kernel never writes
 * into its stack afterwards; descriptors die with their process.
 */
#include "gp_test.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- a pipe: read blocks only the reader ---------------------------------------- */

static int pipe_fds[2];
static _Atomic int others_ran;

static void busy_other(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		atomic_fetch_add(&others_ran, 1);
		gp_yield();
	}
}

static void writer_later(void *arg)
{
	(void)arg;
	CHECK(gp_sleep(50) == 0);
	CHECK(gp_write(pipe_fds[1], "hello", 5) == 5);
}

static void reader(void *arg)
{
	char buf[16] = { 0 };
	ssize_t n;

	(void)arg;
	CHECK(gp_spawn(busy_other, NULL));
	CHECK(gp_spawn(writer_later, NULL));
	n = gp_read(pipe_fds[0], buf, sizeof(buf));
	CHECK(n == 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	/* While it waited, the other process ran to its end. */
	CHECK(atomic_load(&others_ran) == 100);
}

Test(io, read_blocks_only_the_reader)
{
	cr_assert_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
	atomic_store(&others_ran, 0);
	run_gp(reader, NULL, 1);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

/* ---- outside a process ------------------------------------------------------------ */

Test(io, outside_a_process)
{
	char c;

	cr_assert_eq(gp_read(0, &c, 1), -EPERM);
	cr_assert_eq(gp_write(1, &c, 1), -EPERM);
	cr_assert_eq(gp_io_timeout(10), -EPERM);
	cr_assert_eq(gp_socket(AF_UNIX, SOCK_STREAM, 0), -EPERM);
	cr_assert_eq(gp_atexit(NULL, NULL), -EPERM);
}

/* ---- deadlines --------------------------------------------------------------------- */

static void timeout_then_usable(void *arg)
{
	char buf[8];
	long long t0;
	ssize_t n;

	(void)arg;
	CHECK(gp_io_timeout(100) == 0);
	t0 = (long long)(now_ns() / 1000000u);
	n = gp_read(pipe_fds[0], buf, sizeof(buf));
	CHECK(n == -ETIMEDOUT);
	CHECK((long long)(now_ns() / 1000000u) - t0 >= 100); /* never early */
	CHECK((long long)(now_ns() / 1000000u) - t0 < 5000); /* not grossly late */
	/* The pipe is still usable. */
	CHECK(write(pipe_fds[1], "x", 1) == 1);
	CHECK(gp_read(pipe_fds[0], buf, sizeof(buf)) == 1);
	CHECK(buf[0] == 'x');
	/* poll: 0 when nothing came in time, POLLIN when something did */
	CHECK(gp_poll(pipe_fds[0], POLLIN, 50) == 0);
	CHECK(write(pipe_fds[1], "y", 1) == 1);
	CHECK(gp_poll(pipe_fds[0], POLLIN, 1000) & POLLIN);
	CHECK(gp_io_timeout(-2) == -EINVAL);
}

Test(io, timeout_is_never_early_and_the_fd_stays_usable)
{
	cr_assert_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
	run_gp(timeout_then_usable, NULL, 0);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

/* ---- kill while blocked: prompt, and no write into a dead stack --------------------- */

static _Atomic gp_pid blocked_pid;

static void blocked_reader(void *arg)
{
	char buf[4096]; /* on this stack: the kernel must not write here after the kill */

	(void)arg;
	atomic_store(&blocked_pid, gp_self());
	(void)gp_read(pipe_fds[0], buf, sizeof(buf));
	CHECK(!"the read returned");
}

static void reuse_stacks(void *arg)
{
	volatile char junk[4096];

	(void)arg;
	memset((char *)junk, 0x5a, sizeof(junk));
	gp_sleep(20);
	for (size_t i = 0; i < sizeof(junk); i++)
		CHECK(junk[i] == 0x5a);
}

static void killer(void *arg)
{
	struct gp_msg m;
	uint64_t ref;
	gp_pid pid;
	long long t0;

	(void)arg;
	CHECK(gp_spawn(blocked_reader, NULL));
	while (!(pid = atomic_load(&blocked_pid)))
		gp_sleep(1);
	gp_sleep(20); /* in its read by now */
	CHECK(gp_monitor(pid, &ref) == 0);
	t0 = (long long)(now_ns() / 1000000u);
	CHECK(gp_kill(pid, GP_EXIT_USER + 1) == 0);
	CHECK(gp_receive(&m, 5000) == 0);
	CHECK(m.tag == GP_TAG_DOWN);
	CHECK(((struct gp_exit_info *)m.data)->reason == GP_EXIT_USER + 1);
	CHECK((long long)(now_ns() / 1000000u) - t0 < 2000);
	gp_msg_free(&m);
	/* Its stack goes to others; data written now into the pipe must not
	 * land in them. */
	for (int i = 0; i < 8; i++)
		CHECK(gp_spawn(reuse_stacks, NULL));
	CHECK(write(pipe_fds[1], "ZZZZZZZZZZZZZZZZ", 16) == 16);
}

Test(io, kill_ends_a_blocked_read)
{
	cr_assert_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
	atomic_store(&blocked_pid, 0);
	run_gp(killer, NULL, 0);
	/* The cancelled read took nothing: the bytes are still in the pipe. */
	char buf[32];

	cr_assert_eq(read(pipe_fds[0], buf, sizeof(buf)), 16);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

/* ---- sockets: an echo server, a process per connection ------------------------------- */

static struct sockaddr_in srv_addr;
static int listen_fd;
static _Atomic int echoed;

static void echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[256];
	ssize_t n;

	CHECK(gp_own(fd) == 0); /* the server disowned it: now this process closes it */
	while ((n = gp_read(fd, buf, sizeof(buf))) > 0)
		CHECK(gp_write(fd, buf, (size_t)n) == n);
	CHECK(gp_close(fd) == 0);
}

static void echo_server(void *arg)
{
	int n = (int)(intptr_t)arg;

	for (int i = 0; i < n; i++) {
		int fd = gp_accept(listen_fd, NULL, NULL);

		CHECK(fd >= 0);
		CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		CHECK(gp_spawn(echo_conn, (void *)(intptr_t)fd));
		CHECK(gp_disown(fd) == 0);
	}
	CHECK(gp_disown(12345) == -ENOENT);
}

static void echo_client(void *arg)
{
	int fd = gp_socket(AF_INET, SOCK_STREAM, 0);
	char msg[64], back[64];
	int len;

	CHECK(fd >= 0);
	CHECK(gp_connect(fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr)) == 0);
	len = snprintf(msg, sizeof(msg), "client %d says hello", (int)(intptr_t)arg);
	for (int round = 0; round < 10; round++) {
		size_t got = 0;

		CHECK(gp_write(fd, msg, (size_t)len) == len);
		while (got < (size_t)len) {
			ssize_t n = gp_read(fd, back + got, sizeof(back) - got);

			CHECK(n > 0);
			got += (size_t)n;
		}
		CHECK(memcmp(msg, back, (size_t)len) == 0);
	}
	atomic_fetch_add(&echoed, 1);
	CHECK(gp_close(fd) == 0);
}

static void echo_main(void *arg)
{
	int n = (int)(intptr_t)arg;

	CHECK(gp_spawn(echo_server, arg));
	for (int i = 0; i < n; i++)
		CHECK(gp_spawn(echo_client, (void *)(intptr_t)i));
}

Test(io, echo_server_many_connections)
{
	socklen_t len = sizeof(srv_addr);
	int n = (int)scaled(200, 4);

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(listen_fd, 0);
	srv_addr = (struct sockaddr_in){ .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(bind(listen_fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr)), 0);
	cr_assert_eq(listen(listen_fd, 1024), 0);
	cr_assert_eq(getsockname(listen_fd, (struct sockaddr *)&srv_addr, &len), 0);
	atomic_store(&echoed, 0);
	run_gp(echo_main, (void *)(intptr_t)n, 0);
	cr_assert_eq(atomic_load(&echoed), n);
	close(listen_fd);
}

/* ---- files; descriptors die with their process --------------------------------------- */

static char tmpdir[64];
static _Atomic int leaked_fd = -1;
static _Atomic int atexit_ran;

static void note_exit(void *arg)
{
	atomic_fetch_add(&atexit_ran, (int)(intptr_t)arg);
}

static void file_owner(void *arg)
{
	char path[128];
	int fd;

	(void)arg;
	snprintf(path, sizeof(path), "%s/f", tmpdir);
	fd = gp_openat(AT_FDCWD, path, O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(gp_write(fd, "data", 4) == 4);
	CHECK(gp_fsync(fd) == 0);
	atomic_store(&leaked_fd, fd);
	CHECK(gp_atexit(note_exit, (void *)(intptr_t)1) == 0);
	CHECK(gp_atexit(note_exit, (void *)(intptr_t)10) == 0);
	gp_exit(GP_EXIT_USER); /* a crash of sorts: no gp_close */
}

static void file_main(void *arg)
{
	struct gp_msg m;
	uint64_t ref;
	gp_pid pid;

	(void)arg;
	CHECK(gp_spawn_opt(&pid, file_owner, NULL,
			   &(struct gp_spawn_opts){ .flags = GP_SPAWN_MONITOR, .ret_monitor = &ref }) == 0);
	CHECK(gp_receive(&m, 5000) == 0);
	gp_msg_free(&m);
}

Test(io, descriptors_close_when_their_process_exits)
{
	char path[128];
	struct stat st;
	int fd;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gpio.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	atomic_store(&atexit_ran, 0);
	run_gp(file_main, NULL, 0);
	fd = atomic_load(&leaked_fd);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "fd %d is still open", fd);
	cr_assert_eq(errno, EBADF);
	cr_assert_eq(atomic_load(&atexit_ran), 11, "both handlers, once each");
	snprintf(path, sizeof(path), "%s/f", tmpdir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 4);
	unlink(path);
	rmdir(tmpdir);
}

/* ---- 10,000 connections at once, a process each ---------------------------------------- */

static _Atomic int peak_handlers, live_handlers;

static void held_conn(void *arg)
{
	int fd = (int)(intptr_t)arg, now;
	char buf[64];
	ssize_t n;

	CHECK(gp_own(fd) == 0);
	now = atomic_fetch_add(&live_handlers, 1) + 1;
	for (int peak = atomic_load(&peak_handlers); now > peak &&
	     !atomic_compare_exchange_weak(&peak_handlers, &peak, now);)
		;
	while ((n = gp_read(fd, buf, sizeof(buf))) > 0)
		CHECK(gp_write(fd, buf, (size_t)n) == n);
	atomic_fetch_sub(&live_handlers, 1);
}

static void many_server(void *arg)
{
	int n = (int)(intptr_t)arg;

	for (int i = 0; i < n; i++) {
		int fd = gp_accept(listen_fd, NULL, NULL);

		CHECK(fd >= 0, "accept %d: %s", i, strerror(-fd));
		if (fd < 0)
			return;
		CHECK(gp_spawn(held_conn, (void *)(intptr_t)fd));
		CHECK(gp_disown(fd) == 0);
	}
}

/* The clients, in a child process (its own descriptor table): open them
 * all, then each sends a byte and reads it back, then all close. */
static int clients_child(int n)
{
	int *fds = calloc((size_t)n, sizeof(int));
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&srv_addr, sizeof(srv_addr)) < 0)
			return 10;
	}
	for (int i = 0; i < n; i++) {
		char c = (char)i, back;

		if (write(fds[i], &c, 1) != 1 || read(fds[i], &back, 1) != 1 || back != c)
			return 11;
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

Test(io, ten_thousand_connections, .timeout = 120)
{
	socklen_t len = sizeof(srv_addr);
	int n = (int)scaled(10000, 100), status;
	pid_t child;

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(listen_fd, 0);
	srv_addr = (struct sockaddr_in){ .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(bind(listen_fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr)), 0);
	cr_assert_eq(listen(listen_fd, 4096), 0);
	cr_assert_eq(getsockname(listen_fd, (struct sockaddr *)&srv_addr, &len), 0);
	atomic_store(&peak_handlers, 0);
	atomic_store(&live_handlers, 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0)
		_exit(clients_child(n));
	run_gp(many_server, (void *)(intptr_t)n, 0);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "clients: status %d", status);
	/* Every connection had its own process, all at the same time. */
	cr_assert_eq(atomic_load(&peak_handlers), n);
	cr_assert_eq(atomic_load(&live_handlers), 0);
	close(listen_fd);
}

/* ---- errors: each call says what the kernel said ------------------------------------------ */

static void error_paths(void *arg)
{
	struct sockaddr_in nowhere = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int sv[2], fd, l;
	char buf[16];
	struct iovec iov[2] = { { buf, 4 }, { buf + 4, 4 } };
	socklen_t len = sizeof(nowhere);

	(void)arg;
	CHECK_EQ(gp_read(987654, buf, 1), -EBADF);
	CHECK_EQ(gp_write(987654, "x", 1), -EBADF);
	CHECK_EQ(gp_openat(AT_FDCWD, "/nonexistent/gp", O_RDONLY, 0), -ENOENT);
	CHECK_EQ(gp_accept(STDIN_FILENO, NULL, NULL), -ENOTSOCK);
	/* A port nobody listens on: bind one, close it, connect to it. */
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(l, (struct sockaddr *)&nowhere, sizeof(nowhere)) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&nowhere, &len) == 0);
	close(l);
	fd = gp_socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK_EQ(gp_connect(fd, (struct sockaddr *)&nowhere, sizeof(nowhere)), -ECONNREFUSED);
	CHECK_EQ(gp_close(fd), 0);
	CHECK_EQ(gp_close(fd), -EBADF);
	/* A peer that went away: the write fails (EPIPE), the program lives. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(gp_write(sv[0], "abcdefgh", 8) == 8);
	CHECK_EQ(gp_recv(sv[1], buf, 2, MSG_PEEK), 2);
	CHECK_EQ(gp_readv(sv[1], iov, 2), 8);
	CHECK(memcmp(buf, "abcdefgh", 8) == 0);
	close(sv[1]);
	CHECK_EQ(gp_write(sv[0], "x", 1), -EPIPE);
	CHECK_EQ(gp_read(sv[0], buf, sizeof(buf)), 0); /* end of file */
	close(sv[0]);
}

Test(io, errors)
{
	run_gp(error_paths, NULL, 0);
}
