/* SPDX-License-Identifier: MIT */
/*
 * spawnd's side of the systemd protocols, without systemd: the test plays
 * the service manager. It listens on a NOTIFY_SOCKET of its own and
 * checks what spawnd says and when (READY=1 only once the tree is ready,
 * STATUS=, WATCHDOG=1 at WATCHDOG_USEC/2, RELOADING=1 + MONOTONIC_USEC and
 * READY=1 around a reload, STOPPING=1 and EXTEND_TIMEOUT_USEC at shutdown),
 * and passes a listening socket as systemd does (LISTEN_FDS, LISTEN_PID)
 * for socket activation. tests/systemd/run.sh does the same under a real
 * systemd.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>

#include "sd_test.h"

static struct sd_env env;
static char CTL[PATH_MAX];

static void setup(void)
{
	env_setup(&env);
	abs_path("SPAWNCTL", "build/spawnctl", CTL);
}

static void teardown(void)
{
	env_cleanup(&env);
}

TestSuite(service, .init = setup, .fini = teardown, .timeout = 30);

/* The manager's end: a datagram socket at dir/notify, named in the
 * environment spawnd will inherit. */
static int notify_listen(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/notify", env.dir);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	setenv("NOTIFY_SOCKET", a.sun_path, 1);
	return fd;
}

/* The next message, within timeout_ms, or "" if none came. */
static const char *notify_next(int fd, long timeout_ms)
{
	static char buf[4096];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, (int)timeout_ms) <= 0)
		return "";
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Wait for a message containing needle, counting the WATCHDOG=1 pings on
 * the way; the message, or NULL after timeout_ms. */
static const char *notify_wait(int fd, const char *needle, long timeout_ms, int *pings)
{
	long long until = ms_now() + timeout_ms;

	while (ms_now() < until) {
		const char *m = notify_next(fd, until - ms_now());

		if (pings && strcmp(m, "WATCHDOG=1") == 0)
			(*pings)++;
		if (strstr(m, needle))
			return m;
	}
	return NULL;
}

#define TREE                                                                              \
	"name = \"svc\";\n"                                                               \
	"children = (\n"                                                                  \
	"  { name = \"fast\"; exec = [ \"@T\", \"sleep\" ]; env = [ \"SDTEST_LOG=@R\" ]; },\n" \
	"  { name = \"late\"; exec = [ \"@T\", \"notify\", \"700\" ]; ready = \"notify\";\n"    \
	"    env = [ \"SDTEST_LOG=@R\" ]; }%s\n"                                          \
	");\n"

Test(service, notify_lifecycle)
{
	int fd = notify_listen(), pings = 0;
	const char *m;
	long long t0;
	char cmd[PATH_MAX * 3];

	setenv("WATCHDOG_USEC", "400000", 1); /* pings every 200 ms */
	write_conf(&env, TREE, "");
	t0 = ms_now();
	spawnd_start(&env, NULL);

	/* READY=1 only once "late" has said READY=1 itself, 700 ms after its
	 * start: never before. */
	m = notify_wait(fd, "READY=1", 5000, &pings);
	cr_assert_not_null(m, "no READY=1 in 5 s; spawnd's log:\n%s", slurp(env.log));
	cr_assert_geq(ms_now() - t0, 700, "READY=1 after %lld ms, before the tree was ready",
		      ms_now() - t0);
	cr_assert(strstr(m, "STATUS=2/2 children running, 0 restarts"), "READY=1 came as: %s", m);

	/* The watchdog: pings every WATCHDOG_USEC/2 from the loop. */
	pings = 0;
	(void)notify_wait(fd, "(nothing)", 1000, &pings);
	cr_assert(pings >= 3 && pings <= 7, "%d WATCHDOG=1 in 1 s at WATCHDOG_USEC=400000", pings);

	/* A reload, through spawnctl: RELOADING=1 with MONOTONIC_USEC, then READY=1. */
	write_conf(&env, TREE, ",\n  { name = \"more\"; exec = [ \"@T\", \"sleep\" ]; }");
	snprintf(cmd, sizeof(cmd), "%s -s %s reload >/dev/null", CTL, env.sock);
	cr_assert_eq(system(cmd), 0, "spawnctl reload failed");
	m = notify_wait(fd, "RELOADING=1", 2000, NULL);
	cr_assert_not_null(m, "no RELOADING=1");
	cr_assert(strstr(m, "MONOTONIC_USEC="), "RELOADING=1 without MONOTONIC_USEC: %s", m);
	m = notify_wait(fd, "READY=1", 2000, NULL);
	cr_assert_not_null(m, "no READY=1 after the reload");
	cr_assert(strstr(m, "STATUS=") && strstr(m, "/3 children running"), "after reload: %s", m);

	/* Shutdown: STOPPING=1, and more time asked for (the longest
	 * shutdown, 5 s by default, + 5 s). */
	kill(env.pid, SIGTERM);
	m = notify_wait(fd, "STOPPING=1", 2000, NULL);
	cr_assert_not_null(m, "no STOPPING=1");
	m = notify_wait(fd, "EXTEND_TIMEOUT_USEC=", 2000, NULL);
	cr_assert_not_null(m, "no EXTEND_TIMEOUT_USEC");
	cr_assert(strstr(m, "EXTEND_TIMEOUT_USEC=10000000"), "%s", m);
	cr_assert_eq(spawnd_wait(&env, 10000), 0);
	close(fd);
}

/* Without NOTIFY_SOCKET nothing changes (every test but this file's). A
 * NOTIFY_SOCKET nobody listens on must not hinder spawnd either. */
Test(service, notify_socket_gone)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/nobody", env.dir);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "100000", 1);
	write_conf(&env, TREE, "");
	spawnd_start(&env, NULL);
	ASSERT_LOG(&env, "starting svc", 1, 5000);
	msleep(1000);
	cr_assert_eq(spawnd_stop(&env, 10000), 0, "spawnd's log:\n%s", slurp(env.log));
}

/* Start spawnd with fd as its LISTEN_FDS=1 socket, as systemd does. */
static void spawnd_start_activated(int fd, const char *extra_arg)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int log = open(env.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		char me[16];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(log, 1);
		dup2(log, 2);
		dup2(fd, 3); /* SD_LISTEN_FDS_START, without FD_CLOEXEC */
		snprintf(me, sizeof(me), "%d", (int)getpid());
		setenv("LISTEN_PID", me, 1);
		setenv("LISTEN_FDS", "1", 1);
		execl(env.spawnd, "spawnd", "-c", env.conf, extra_arg, (char *)NULL);
		_exit(127);
	}
	env.pid = pid;
}

Test(service, socket_activation)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char cmd[PATH_MAX * 3], early[PATH_MAX];
	struct stat st;

	/* systemd's socket, at a path spawnd's configuration does not name
	 * (-s names another): the one passed is served. */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/activated", env.dir);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	write_conf(&env, TREE, "");
	snprintf(early, sizeof(early), "%s/early", env.dir);
	snprintf(cmd, sizeof(cmd), "%s -s %s status >%s 2>&1", CTL, a.sun_path, early);
	spawnd_start_activated(fd, "-s/nonexistent/control");
	close(fd);
	/* Likely before spawnd accepts: the connection waits in the backlog. */
	cr_assert_eq(system(cmd), 0, "spawnctl status on the activated socket failed: %s\nlog:\n%s",
		     slurp(early), slurp(env.log));
	ASSERT_LOG(&env, "(from systemd)", 1, 2000);
	cr_assert_eq(spawnd_stop(&env, 10000), 0);
	/* The socket file is systemd's: spawnd leaves it. */
	cr_assert_eq(stat(a.sun_path, &st), 0, "spawnd removed the socket it was passed");
	cr_assert(S_ISSOCK(st.st_mode));
}

Test(service, socket_activation_not_a_socket)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	write_conf(&env, TREE, "");
	spawnd_start_activated(fd, "-v");
	close(fd);
	cr_assert_eq(spawnd_wait(&env, 10000), 111, "log:\n%s", slurp(env.log));
	ASSERT_LOG(&env, "LISTEN_FDS: fd 3 is not a listening AF_UNIX stream socket", 1, 100);
}
