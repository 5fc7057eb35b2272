/* SPDX-License-Identifier: MIT */
/*
 * spawnd's control socket end to end: a real spawnd, real children, real
 * Unix sockets, real other uids. Each test sends JSON lines as any client
 * would and checks the answers and what happened to the processes.
 */
#include "sd_test.h"

#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>

#define HEADER "name = \"t\"; strategy = \"%s\"; intensity = %d; period = 60;\n"
#define ENV    "env = [ \"SDTEST_LOG=@R\" ];"

static struct sd_env E;

static void setup(void)
{
	env_setup(&E);
}

static void teardown(void)
{
	env_cleanup(&E);
}

TestSuite(control, .init = setup, .fini = teardown, .timeout = 90);

/* ---- a client ------------------------------------------------------------------- */

struct client {
	int fd;
	char buf[1 << 20];
	size_t len;
};

static int try_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(a.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Connect once spawnd's socket answers. */
static void client_open(struct client *c)
{
	long long until = ms_now() + 10000;

	c->len = 0;
	while ((c->fd = try_connect(E.sock)) < 0 && ms_now() < until)
		msleep(10);
	cr_assert_geq(c->fd, 0, "cannot connect to %s: %s\n%s", E.sock, strerror(-c->fd),
		      slurp(E.log));
}

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

static void send_line(struct client *c, const char *line)
{
	size_t len = strlen(line);

	cr_assert_eq(write(c->fd, line, len), (ssize_t)len);
}

/* The next line from spawnd, parsed; NULL at end of file or after
 * timeout_ms. */
static json_object *recv_json(struct client *c, long timeout_ms)
{
	long long until = ms_now() + timeout_ms;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			json_object *o;

			*nl = '\0';
			o = json_tokener_parse(c->buf);
			cr_assert_not_null(o, "not JSON: %s", c->buf);
			c->len -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->len);
			return o;
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		long left = (long)(until - ms_now());

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return NULL;
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
}

static json_object *request(struct client *c, const char *line)
{
	json_object *o;

	send_line(c, line);
	o = recv_json(c, 30000);
	cr_assert_not_null(o, "no answer to %s\n%s", line, slurp(E.log));
	return o;
}

static json_object *get(json_object *o, const char *path)
{
	char key[128];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else
			o = json_object_object_get(o, key);
		path += n + (path[n] == '.');
	}
	return o;
}

static const char *str(json_object *o, const char *path)
{
	json_object *v = get(o, path);

	return v ? json_object_get_string(v) : "(none)";
}

static int num(json_object *o, const char *path)
{
	return json_object_get_int(get(o, path));
}

static bool ok(json_object *o)
{
	return json_object_get_boolean(get(o, "ok"));
}

#define ASSERT_OK(o) cr_assert(ok(o), "not ok: %s", json_object_to_json_string(o))
#define ASSERT_ERR(o, code)                                                            \
	cr_assert_str_eq(str(o, "error.code"), code, "%s", json_object_to_json_string(o))

/* The state and pid of a unit, from status. */
static const char *state_of(struct client *c, const char *name, int *pid)
{
	static char state[32];
	char line[256];
	json_object *o;

	snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"status\",\"name\":\"%s\"}\n", name);
	o = request(c, line);
	ASSERT_OK(o);
	snprintf(state, sizeof(state), "%s", str(o, "status.state"));
	if (pid)
		*pid = num(o, "status.pid");
	json_object_put(o);
	return state;
}

static bool wait_state(struct client *c, const char *name, const char *want, long timeout_ms)
{
	long long until = ms_now() + timeout_ms;

	do {
		if (strcmp(state_of(c, name, NULL), want) == 0)
			return true;
		msleep(20);
	} while (ms_now() < until);
	return false;
}

#define TWO_SLEEPERS                                                                   \
	HEADER "children = (\n"                                                        \
	       "  { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },\n"          \
	       "  { name = \"g\"; strategy = \"one_for_all\"; intensity = 5; children = (\n" \
	       "      { name = \"x\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },\n"      \
	       "      { name = \"y\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } ); }\n"  \
	       ");"

/* spawnd on TWO_SLEEPERS, a client connected, the tree ready. */
static void start_two_sleepers(struct client *c, const char *strategy)
{
	write_conf(&E, TWO_SLEEPERS, strategy, 3);
	spawnd_start(&E, "-v"); /* "NAME[PID]: started" in the log, in start order */
	client_open(c);
	cr_assert(wait_state(c, "g/y", "ready", 10000), "%s", slurp(E.log));
}

/* Where spawnd's log says that NAME started as PID (NULL: nowhere). */
static const char *started_at(const char *log, const char *name, int pid)
{
	char needle[96];

	snprintf(needle, sizeof(needle), "spawnd: %s[%d]: started", name, pid);
	return strstr(log, needle);
}

/* ---- the socket ------------------------------------------------------------------- */

/* The socket is 0660 in a 0750 folder spawnd made, and gone after exit. */
Test(control, socket_mode_and_removal)
{
	struct stat st;
	struct client c;

	snprintf(E.sock, sizeof(E.sock), "%s/run/spawnd/control", E.dir);
	write_conf(&E, TWO_SLEEPERS, "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&c);
	cr_assert_eq(stat(E.sock, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0660, "socket mode %o", st.st_mode & 0777);
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/run/spawnd", E.dir);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0750, "folder mode %o", st.st_mode & 0777);
	client_close(&c);
	cr_assert_eq(spawnd_stop(&E, 10000), 0);
	cr_assert_eq(access(E.sock, F_OK), -1, "the socket is left after exit");
}

/* A second spawnd on a live socket is refused; a socket left by a spawnd
 * killed with SIGKILL is replaced. */
Test(control, live_refused_stale_replaced)
{
	struct sd_env second = E;
	struct client c;

	write_conf(&E, TWO_SLEEPERS, "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&c);
	client_close(&c);
	snprintf(second.log, sizeof(second.log), "%s/second.log", E.dir);
	spawnd_start(&second, NULL);
	cr_assert_eq(spawnd_wait(&second, 10000), 111);
	cr_assert(strstr(slurp(second.log), "another spawnd is running"), "%s", slurp(second.log));
	kill(E.pid, SIGKILL);
	waitpid(E.pid, NULL, 0);
	E.pid = -1;
	cr_assert_eq(access(E.sock, F_OK), 0, "SIGKILL cannot remove the socket");
	spawnd_start(&E, NULL);
	/* (until it has replaced the socket, the old one may still accept) */
	ASSERT_LOG(&E, "spawnd: starting", 2, 10000);
	client_open(&c);
	json_object *o = request(&c, "{\"v\":1,\"cmd\":\"status\"}\n");

	ASSERT_OK(o);
	json_object_put(o);
	client_close(&c);
}

/* ---- status ----------------------------------------------------------------------- */

Test(control, status_tree)
{
	struct client c;
	json_object *o;

	start_two_sleepers(&c, "rest_for_one");
	o = request(&c, "{\"v\":1,\"id\":\"q1\",\"cmd\":\"status\"}\n");
	ASSERT_OK(o);
	cr_assert_str_eq(str(o, "id"), "q1");
	cr_assert_str_eq(str(o, "status.type"), "supervisor");
	cr_assert_str_eq(str(o, "status.strategy"), "rest_for_one");
	cr_assert_eq(num(o, "status.intensity"), 3);
	cr_assert_eq(num(o, "status.period_ms"), 60000);
	cr_assert_str_eq(str(o, "status.state"), "ready");
	cr_assert_str_eq(str(o, "status.children.0.path"), "a");
	cr_assert_str_eq(str(o, "status.children.0.type"), "worker");
	cr_assert_str_eq(str(o, "status.children.0.state"), "ready");
	cr_assert_gt(num(o, "status.children.0.pid"), 0);
	cr_assert(alive(num(o, "status.children.0.pid")));
	cr_assert_str_eq(str(o, "status.children.1.strategy"), "one_for_all");
	cr_assert_str_eq(str(o, "status.children.1.children.1.path"), "g/y");
	json_object_put(o);
	o = request(&c, "{\"v\":1,\"cmd\":\"status\",\"name\":\"g/nope\"}\n");
	ASSERT_ERR(o, "not_found");
	json_object_put(o);
	client_close(&c);
}

/* The last exit and the restart history, after a crash. */
Test(control, status_after_crash)
{
	struct client c;
	json_object *o;
	int pid, pid2;

	write_conf(&E, TWO_SLEEPERS, "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&c);
	cr_assert(wait_state(&c, "a", "ready", 10000));
	state_of(&c, "a", &pid);
	kill(pid, SIGSEGV);
	long long until = ms_now() + 10000;

	do {
		msleep(20);
		state_of(&c, "a", &pid2);
	} while ((pid2 == pid || pid2 == 0) && ms_now() < until);
	cr_assert_neq(pid2, pid);
	o = request(&c, "{\"v\":1,\"cmd\":\"status\"}\n");
	cr_assert_str_eq(str(o, "status.children.0.last_exit.signal"), "SIGSEGV");
	cr_assert(strstr(str(o, "status.children.0.last_exit.message"), "SIGSEGV"));
	cr_assert_eq(num(o, "status.children.0.restarts"), 1);
	cr_assert_eq(json_object_array_length(get(o, "status.restarts_in_period")), 1);
	json_object_put(o);
	client_close(&c);
}

/* ---- start, stop, restart ------------------------------------------------------------ */

/* stop holds a permanent child down: not restarted, not even by a group
 * restart of its supervisor; start brings it back. */
Test(control, stop_holds_until_start)
{
	struct client c;
	json_object *o;
	int x, y, y2, x2;

	start_two_sleepers(&c, "one_for_one");
	state_of(&c, "g/x", &x);
	state_of(&c, "g/y", &y);
	o = request(&c, "{\"v\":1,\"cmd\":\"stop\",\"names\":[\"g/x\"]}\n");
	ASSERT_OK(o);
	cr_assert_str_eq(str(o, "results.0.state"), "stopped");
	json_object_put(o);
	cr_assert_not(alive(x));
	msleep(300);
	cr_assert_str_eq(state_of(&c, "g/x", NULL), "stopped");
	/* A crash of its sibling restarts the group, without it. */
	kill(y, SIGKILL);
	long long until = ms_now() + 10000;

	do {
		msleep(20);
		state_of(&c, "g/y", &y2);
	} while ((y2 == y || y2 == 0 || strcmp(state_of(&c, "g/y", NULL), "ready")) && ms_now() < until);
	cr_assert_neq(y2, y);
	cr_assert_str_eq(state_of(&c, "g/x", &x2), "stopped");
	cr_assert_eq(x2, 0);
	o = request(&c, "{\"v\":1,\"cmd\":\"start\",\"names\":[\"g/x\"]}\n");
	ASSERT_OK(o);
	cr_assert_str_eq(str(o, "results.0.state"), "ready");
	cr_assert_gt(num(o, "results.0.pid"), 0);
	cr_assert(alive(num(o, "results.0.pid")));
	json_object_put(o);
	client_close(&c);
}

/* restart of a supervisor: its children stop in reverse order and start in
 * order, with new pids; the answer comes once all are ready again. */
Test(control, restart_supervisor_in_order)
{
	struct client c;
	json_object *o;
	int pids[16], n0, n1, a, a2, x, y, x2, y2;

	start_two_sleepers(&c, "one_for_one");
	state_of(&c, "a", &a);
	state_of(&c, "g/x", &x);
	state_of(&c, "g/y", &y);
	/* (a child records its start just after its execve: wait for it) */
	for (int i = 0; i < 500 && (n0 = started(&E, pids, 16)) < 3; i++)
		msleep(10);
	cr_assert_eq(n0, 3);
	o = request(&c, "{\"v\":1,\"cmd\":\"restart\",\"names\":[\"g\"]}\n");
	ASSERT_OK(o);
	cr_assert_str_eq(str(o, "results.0.state"), "ready");
	json_object_put(o);
	/* (a child records its start just after its execve: wait for it) */
	for (int i = 0; i < 500 && (n1 = started(&E, pids, 16)) < 5; i++)
		msleep(10);
	cr_assert_eq(n1, 5, "%s", slurp(E.rec));
	/* new incarnations of x and y, x started before y, again (spawnd's
	 * log is in start order; the children's own records need not be) */
	state_of(&c, "g/x", &x2);
	state_of(&c, "g/y", &y2);
	cr_assert(x2 != x && y2 != y, "not restarted: x %d -> %d, y %d -> %d", x, x2, y, y2);
	const char *log = slurp(E.log); /* (slurp's buffer is shared: one at a time) */
	const char *tx = started_at(log, "g/x", x2), *ty = started_at(log, "g/y", y2);

	cr_assert(tx && ty && tx < ty, "x (%d) did not start before y (%d):\n%s", x2, y2, log);
	const char *rec = slurp(E.rec);

	cr_assert_eq(count_in(rec, "TERM "), 2, "%s", rec);
	state_of(&c, "a", &a2);
	cr_assert_eq(a, a2, "a sibling outside the subtree was touched");
	client_close(&c);
}

/* A wait that cannot be met ends at its timeout, never before, with the
 * states reached. */
Test(control, wait_times_out)
{
	struct client c;
	json_object *o;
	long long t0, dt;

	write_conf(&E, HEADER "children = (\n"
			      "  { name = \"slow\"; ready = \"fd:3\"; ready_timeout = \"60s\"; exec = [ \"@T\", \"sleep\" ]; }\n"
			      ");",
		   "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&c);
	cr_assert(wait_state(&c, "slow", "running", 10000));
	t0 = ms_now();
	o = request(&c, "{\"v\":1,\"cmd\":\"restart\",\"names\":[\"slow\"],\"timeout_ms\":400}\n");
	dt = ms_now() - t0;
	ASSERT_ERR(o, "timeout");
	cr_assert_geq(dt, 400, "answered after %lld ms", dt);
	cr_assert_lt(dt, 10000, "answered after %lld ms", dt);
	cr_assert_str_eq(str(o, "error.results.0.state"), "running");
	cr_assert(strstr(str(o, "error.message"), "slow: running"), "%s", str(o, "error.message"));
	json_object_put(o);
	/* Without wait: at once. */
	o = request(&c, "{\"v\":1,\"cmd\":\"stop\",\"names\":[\"slow\"],\"wait\":false}\n");
	ASSERT_OK(o);
	json_object_put(o);
	client_close(&c);
}

/* A bad name anywhere in the list: nothing is done. */
Test(control, bad_name_changes_nothing)
{
	struct client c;
	json_object *o;

	start_two_sleepers(&c, "one_for_one");
	o = request(&c, "{\"v\":1,\"cmd\":\"stop\",\"names\":[\"a\",\"zz\"]}\n");
	ASSERT_ERR(o, "not_found");
	cr_assert(strstr(str(o, "error.message"), "zz"));
	json_object_put(o);
	msleep(200);
	cr_assert_str_eq(state_of(&c, "a", NULL), "ready");
	o = request(&c, "{\"v\":1,\"cmd\":\"stop\",\"names\":[\"/\"]}\n");
	ASSERT_ERR(o, "bad_request");
	json_object_put(o);
	client_close(&c);
}

/* ---- signal, logs, events --------------------------------------------------------------- */

Test(control, signal_worker_and_subtree)
{
	struct client c;
	json_object *o;
	int x, y;

	start_two_sleepers(&c, "one_for_one");
	state_of(&c, "g/x", &x);
	state_of(&c, "g/y", &y);
	o = request(&c, "{\"v\":1,\"cmd\":\"signal\",\"names\":[\"g\"],\"signal\":\"STOP\"}\n");
	ASSERT_OK(o);
	cr_assert_eq(json_object_array_length(get(o, "results.0.pids")), 2);
	json_object_put(o);
	char path[64], buf[512];

	for (int i = 0; i < 2; i++) {
		long long until = ms_now() + 5000;
		bool stopped = false;

		snprintf(path, sizeof(path), "/proc/%d/stat", i ? y : x);
		while (!stopped && ms_now() < until) {
			FILE *f = fopen(path, "r");

			cr_assert_not_null(f);
			cr_assert_not_null(fgets(buf, sizeof(buf), f));
			fclose(f);
			stopped = strstr(buf, ") T ") != NULL;
			msleep(10);
		}
		cr_assert(stopped, "%s", buf);
	}
	o = request(&c, "{\"v\":1,\"cmd\":\"signal\",\"names\":[\"g\"],\"signal\":18}\n");
	ASSERT_OK(o);
	json_object_put(o);
	o = request(&c, "{\"v\":1,\"cmd\":\"signal\",\"names\":[\"a\"],\"signal\":\"NOPE\"}\n");
	ASSERT_ERR(o, "bad_request");
	json_object_put(o);
	client_close(&c);
}

Test(control, logs_tail_and_follow)
{
	struct client c, f;
	json_object *o;

	write_conf(&E, HEADER "children = (\n"
			      "  { name = \"talk\"; exec = [ \"/bin/sh\", \"-c\", \"for i in 1 2 3 4; do echo line$i; done; sleep 0.2; echo err >&2; sleep 0.2; echo line5; exec sleep 1000\" ]; }\n"
			      ");",
		   "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&c);
	ASSERT_LOG(&E, "talk[", 6, 10000);
	o = request(&c, "{\"v\":1,\"cmd\":\"logs\",\"name\":\"talk\",\"lines\":3}\n");
	ASSERT_OK(o);
	cr_assert_eq(json_object_array_length(get(o, "lines")), 3);
	cr_assert_str_eq(str(o, "lines.0"), "line4");
	cr_assert_str_eq(str(o, "lines.1"), "err");
	cr_assert_str_eq(str(o, "lines.2"), "line5");
	json_object_put(o);
	o = request(&c, "{\"v\":1,\"cmd\":\"logs\",\"name\":\"/\"}\n");
	ASSERT_ERR(o, "not_a_worker");
	json_object_put(o);
	/* Follow: a restart's new output comes as log events. */
	client_open(&f);
	o = request(&f, "{\"v\":1,\"cmd\":\"logs\",\"name\":\"talk\",\"lines\":0,\"follow\":true}\n");
	ASSERT_OK(o);
	cr_assert_eq(json_object_array_length(get(o, "lines")), 0);
	json_object_put(o);
	o = request(&c, "{\"v\":1,\"cmd\":\"restart\",\"names\":[\"talk\"]}\n");
	ASSERT_OK(o);
	json_object_put(o);
	o = recv_json(&f, 10000);
	cr_assert_not_null(o);
	cr_assert_str_eq(str(o, "event"), "log");
	cr_assert_str_eq(str(o, "name"), "talk");
	cr_assert_str_eq(str(o, "stream"), "stdout");
	cr_assert_str_eq(str(o, "line"), "line1");
	json_object_put(o);
	client_close(&f);
	client_close(&c);
}

/* events: a crash, then the restart, as they happen. */
Test(control, events_stream)
{
	struct client c, ev;
	json_object *o;
	int pid;
	bool crashed = false, restarted = false, started = false;

	start_two_sleepers(&c, "one_for_one");
	client_open(&ev);
	o = request(&ev, "{\"v\":1,\"cmd\":\"events\"}\n");
	ASSERT_OK(o);
	json_object_put(o);
	state_of(&c, "a", &pid);
	kill(pid, SIGKILL);
	for (int i = 0; i < 10 && !(crashed && restarted && started); i++) {
		o = recv_json(&ev, 10000);
		cr_assert_not_null(o, "events ended");
		if (!strcmp(str(o, "event"), "crashed")) {
			cr_assert_str_eq(str(o, "name"), "a");
			cr_assert_eq(num(o, "pid"), pid);
			cr_assert_str_eq(str(o, "signal"), "SIGKILL");
			crashed = true;
		} else if (!strcmp(str(o, "event"), "restarted")) {
			cr_assert(crashed);
			cr_assert_str_eq(str(o, "children.0"), "a");
			restarted = true;
		} else if (!strcmp(str(o, "event"), "started")) {
			cr_assert(crashed);
			cr_assert_neq(num(o, "pid"), pid);
			started = true;
		}
		cr_assert_gt(json_object_get_int64(get(o, "time_ms")), 0);
		json_object_put(o);
	}
	cr_assert(crashed && restarted && started);
	client_close(&ev);
	client_close(&c);
}

/* ---- reload ---------------------------------------------------------------------------- */

/* Every kind of difference at once: added, removed, changed, unchanged
 * (same pid), a supervisor's new intensity; then a file with an error
 * changes nothing. */
Test(control, reload_applies_the_difference)
{
	struct client c, ev;
	json_object *o;
	int a, x, y, a2, x2, y2, z, old_gone;

	start_two_sleepers(&c, "one_for_one");
	state_of(&c, "a", &a);
	state_of(&c, "g/x", &x);
	state_of(&c, "g/y", &y);
	client_open(&ev);
	o = request(&ev, "{\"v\":1,\"cmd\":\"events\"}\n");
	json_object_put(o);
	/* a: unchanged; g: intensity 5 -> 7; g/x: changed (an argument);
	 * g/y: removed; g/z: added; b: added. */
	write_conf(&E, HEADER "children = (\n"
			      "  { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; " ENV " },\n"
			      "  { name = \"g\"; strategy = \"one_for_all\"; intensity = 7; children = (\n"
			      "      { name = \"x\"; exec = [ \"@T\", \"sleep\", \"v2\" ]; " ENV " },\n"
			      "      { name = \"z\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } ); },\n"
			      "  { name = \"b\"; exec = [ \"@T\", \"sleep\" ]; " ENV " }\n"
			      ");",
		   "one_for_one", 3);
	o = request(&c, "{\"v\":1,\"cmd\":\"reload\"}\n");
	ASSERT_OK(o);
	cr_assert_str_eq(json_object_to_json_string(get(o, "added")), "[ \"g\\/z\", \"b\" ]");
	cr_assert_str_eq(json_object_to_json_string(get(o, "removed")), "[ \"g\\/y\" ]");
	cr_assert_str_eq(json_object_to_json_string(get(o, "changed")), "[ \"g\", \"g\\/x\" ]");
	json_object_put(o);
	cr_assert(wait_state(&c, "b", "ready", 10000));
	cr_assert(wait_state(&c, "g/z", "ready", 10000));
	cr_assert(wait_state(&c, "g/x", "ready", 10000));
	state_of(&c, "a", &a2);
	state_of(&c, "g/x", &x2);
	state_of(&c, "g/z", &z);
	cr_assert_eq(a2, a, "an unchanged worker was restarted");
	cr_assert_neq(x2, x, "a changed worker was not restarted");
	cr_assert_gt(z, 0);
	old_gone = 0;
	for (int i = 0; i < 500 && !old_gone; i++) {
		old_gone = !alive(y) && !alive(x);
		msleep(10);
	}
	cr_assert(old_gone, "the removed and the replaced ones still run");
	o = request(&c, "{\"v\":1,\"cmd\":\"status\",\"name\":\"g\"}\n");
	cr_assert_eq(num(o, "status.intensity"), 7);
	json_object_put(o);
	o = request(&c, "{\"v\":1,\"cmd\":\"status\",\"name\":\"g/y\"}\n");
	ASSERT_ERR(o, "not_found");
	json_object_put(o);
	bool seen = false;

	for (int i = 0; i < 30 && !seen; i++) {
		o = recv_json(&ev, 5000);
		cr_assert_not_null(o);
		seen = !strcmp(str(o, "event"), "reloaded");
		json_object_put(o);
	}
	cr_assert(seen, "no reloaded event");

	/* An error: nothing changes, the error names file and line. */
	write_conf(&E, HEADER "children = (\n"
			      "  { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; bogus = 1; }\n"
			      ");",
		   "one_for_one", 3);
	o = request(&c, "{\"v\":1,\"cmd\":\"reload\"}\n");
	ASSERT_ERR(o, "config");
	cr_assert(strstr(str(o, "error.errors.0"), "spawnd.conf:3:"), "%s", str(o, "error.errors.0"));
	json_object_put(o);
	state_of(&c, "b", &y2);
	cr_assert_gt(y2, 0);
	cr_assert(alive(y2));
	client_close(&ev);
	client_close(&c);
}

/* SIGHUP reloads as the command does. */
Test(control, sighup_reloads)
{
	struct client c;

	start_two_sleepers(&c, "one_for_one");
	write_conf(&E, HEADER "children = ( { name = \"solo\"; exec = [ \"@T\", \"sleep\" ]; } );",
		   "one_for_one", 3);
	kill(E.pid, SIGHUP);
	cr_assert(wait_state(&c, "solo", "ready", 10000), "%s", slurp(E.log));
	ASSERT_LOG(&E, "reloaded", 1, 5000);
	client_close(&c);
}

/* ---- shutdown, restart of the root ------------------------------------------------------- */

Test(control, shutdown_exits_0)
{
	struct client c;
	json_object *o;

	write_conf(&E, TWO_SLEEPERS, "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&c);
	o = request(&c, "{\"v\":1,\"cmd\":\"shutdown\",\"id\":1}\n");
	ASSERT_OK(o);
	cr_assert_eq(num(o, "id"), 1);
	json_object_put(o);
	cr_assert_eq(spawnd_wait(&E, 15000), 0);
	cr_assert_null(recv_json(&c, 2000), "the connection outlived spawnd");
	client_close(&c);
}

Test(control, restart_root)
{
	struct client c;
	json_object *o;
	int a, a2;

	start_two_sleepers(&c, "one_for_one");
	state_of(&c, "a", &a);
	o = request(&c, "{\"v\":1,\"cmd\":\"restart\",\"names\":[\"/\"]}\n");
	ASSERT_OK(o);
	json_object_put(o);
	cr_assert_str_eq(state_of(&c, "g/y", NULL), "ready");
	state_of(&c, "a", &a2);
	cr_assert_neq(a, a2);
	cr_assert(alive(a2));
	cr_assert_not(alive(a));
	client_close(&c);
}

/* ---- bad input ------------------------------------------------------------------------- */

/* Malformed and oversized requests get errors, and the connection goes on. */
Test(control, bad_requests_keep_the_connection)
{
	struct client c;
	json_object *o;
	static char big[70000];

	write_conf(&E, TWO_SLEEPERS, "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&c);
	o = request(&c, "this is not json\n");
	ASSERT_ERR(o, "bad_json");
	json_object_put(o);
	o = request(&c, "[1,2]\n");
	ASSERT_ERR(o, "bad_json");
	json_object_put(o);
	o = request(&c, "{\"v\":2,\"cmd\":\"status\"}\n");
	ASSERT_ERR(o, "bad_version");
	json_object_put(o);
	o = request(&c, "{\"v\":1,\"cmd\":\"launch\"}\n");
	ASSERT_ERR(o, "unknown_command");
	json_object_put(o);
	o = request(&c, "{\"v\":1,\"cmd\":\"status\",\"color\":true}\n");
	ASSERT_ERR(o, "bad_request");
	cr_assert(strstr(str(o, "error.message"), "color"));
	json_object_put(o);
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	o = request(&c, big);
	ASSERT_ERR(o, "too_large");
	json_object_put(o);
	o = request(&c, "{\"v\":1,\"cmd\":\"status\",\"name\":\"a\"}\n");
	ASSERT_OK(o);
	json_object_put(o);
	client_close(&c);
}

/* ---- who may do what ----------------------------------------------------------------------- */

/* Run fn as uid:gid in a child; its exit status. */
static int as_user(uid_t uid, gid_t gid, int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
			_exit(100);
		_exit(fn());
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* 0: read allowed and write refused; 1: read refused; 2: write allowed;
 * 3: cannot connect (EACCES); 4: other. */
static int probe(void)
{
	struct client *c = malloc(sizeof(*c));
	json_object *o;
	int r;

	c->len = 0;
	c->fd = try_connect(E.sock);
	if (c->fd == -EACCES)
		return 3;
	if (c->fd < 0)
		return 4;
	send_line(c, "{\"v\":1,\"cmd\":\"status\"}\n");
	o = recv_json(c, 10000);
	if (!o)
		return 4;
	if (!ok(o))
		return strcmp(str(o, "error.code"), "permission_denied") ? 4 : 1;
	json_object_put(o);
	send_line(c, "{\"v\":1,\"cmd\":\"signal\",\"names\":[\"a\"],\"signal\":\"CONT\"}\n");
	o = recv_json(c, 10000);
	if (!o)
		return 4;
	r = ok(o) ? 2 : strcmp(str(o, "error.code"), "permission_denied") ? 4 : 0;
	json_object_put(o);
	return r;
}

/* Root may do anything; a member of control_group may read only; anyone
 * else cannot even connect. */
Test(control, permissions_with_real_uids)
{
	struct group *gr = getgrnam("nogroup");
	struct client c;

	NEED_ROOT("setresuid to other users");
	cr_assert_not_null(gr, "no group nogroup");
	snprintf(E.sock, sizeof(E.sock), "%s/ctl/control", E.dir);
	chmod(E.dir, 0711);
	write_conf(&E, "control_group = \"nogroup\";\n" TWO_SLEEPERS, "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&c);
	client_close(&c);
	cr_assert_eq(as_user(0, 0, probe), 2);
	cr_assert_eq(as_user(65534, gr->gr_gid, probe), 0, "a control_group member");
	cr_assert_eq(as_user(65533, 65533, probe), 3, "a stranger");
}

/* The uid spawnd runs as may do anything, as root may; nobody else. */
Test(control, permissions_owner)
{
	pid_t pid;
	struct client c;

	NEED_ROOT("run spawnd as another user");
	chmod(E.dir, 0777);
	write_conf(&E, TWO_SLEEPERS, "one_for_one", 3);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(E.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(126);
		execl(E.spawnd, "spawnd", "-c", E.conf, "-s", E.sock, (char *)NULL);
		_exit(127);
	}
	E.pid = pid;
	client_open(&c);
	client_close(&c);
	cr_assert_eq(as_user(65534, 65534, probe), 2, "the owner\n%s", slurp(E.log));
	cr_assert_eq(as_user(0, 0, probe), 2, "root");
	cr_assert_eq(as_user(65533, 65533, probe), 3, "a stranger");
}

/* ---- load ------------------------------------------------------------------------------------ */

/* 256 clients at once, while children crash and restart: every request is
 * answered. */
Test(control, many_clients_while_crashing)
{
	enum { N = 256 };
	static struct client cs[N];
	int answered = 0, rounds = 0;
	long long until;

	write_conf(&E, HEADER "children = (\n"
			      "  { name = \"crash\"; exec = [ \"@T\", \"exit\", \"1\", \"20\" ]; },\n"
			      "  { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; }\n"
			      ");",
		   "one_for_one", 1000000);
	spawnd_start(&E, NULL);
	for (int i = 0; i < N; i++)
		client_open(&cs[i]);
	/* At least 3 rounds, and on until the child has crashed 5 times. */
	until = ms_now() + 20000;
	for (int round = 0; round < 3 || (count_in(slurp(E.log), "exited with status 1") < 5 &&
					   ms_now() < until); round++) {
		rounds++;
		for (int i = 0; i < N; i++)
			send_line(&cs[i], i % 2 ? "{\"v\":1,\"cmd\":\"status\"}\n"
						: "{\"v\":1,\"cmd\":\"logs\",\"name\":\"crash\"}\n");
		for (int i = 0; i < N; i++) {
			json_object *o = recv_json(&cs[i], 30000);

			cr_assert_not_null(o, "client %d got no answer in round %d", i, round);
			ASSERT_OK(o);
			json_object_put(o);
			answered++;
		}
	}
	cr_assert_eq(answered, rounds * N);
	cr_assert_geq(count_in(slurp(E.log), "exited with status 1"), 5, "too few crashes meanwhile");
	for (int i = 0; i < N; i++)
		client_close(&cs[i]);
}

/* A client that follows a flood and never reads: spawnd keeps answering
 * others at once, and drops that client once its queue is full (the
 * client then reads what was queued, and the end of the connection). */
Test(control, a_client_that_never_reads)
{
	struct client stuck, c;
	json_object *o;
	int rcv = 4096;
	size_t total = 0;
	ssize_t n;

	write_conf(&E, HEADER "children = (\n"
			      "  { name = \"flood\"; exec = [ \"/bin/sh\", \"-c\", \"sleep 0.5; yes 0123456789012345678901234567890123456789 | head -n 300000; exec sleep 1000\" ]; },\n"
			      "  { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; }\n"
			      ");",
		   "one_for_one", 3);
	spawnd_start(&E, NULL);
	client_open(&stuck);
	setsockopt(stuck.fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	send_line(&stuck, "{\"v\":1,\"cmd\":\"logs\",\"name\":\"flood\",\"lines\":0,\"follow\":true}\n");
	client_open(&c);
	for (int i = 0; i < 30; i++) {
		long long t0 = ms_now();

		o = request(&c, "{\"v\":1,\"cmd\":\"status\",\"name\":\"a\"}\n");
		ASSERT_OK(o);
		json_object_put(o);
		cr_assert_lt(ms_now() - t0, 5000, "a status took %lld ms", ms_now() - t0);
		msleep(50);
	}
	/* Dropped (said in the log, which the flood makes too big to slurp),
	 * without having read anything yet... */
	char cmd[PATH_MAX + 64];
	long long until = ms_now() + 60000;

	snprintf(cmd, sizeof(cmd), "grep -q 'reads too slowly: disconnected' %s", E.log);
	while (system(cmd) != 0 && ms_now() < until)
		msleep(100);
	cr_assert_eq(system(cmd), 0, "the client that never reads was not dropped");
	/* ...then it finds what was queued, then the end, well before the
	 * 300000 lines (40 MB as events) could all have come. */
	while ((n = read(stuck.fd, stuck.buf, sizeof(stuck.buf))) > 0)
		total += (size_t)n;
	cr_assert_eq(n, 0, "read: %s", strerror(errno));
	cr_assert_lt(total, 16u << 20, "%zu bytes came: the client was not dropped", total);
	o = request(&c, "{\"v\":1,\"cmd\":\"status\",\"name\":\"flood\"}\n");
	ASSERT_OK(o);
	json_object_put(o);
	client_close(&c);
	client_close(&stuck);
}

/* libgp workers learn where to serve introspection: a folder of their own
 * user's beside the control socket's. */
Test(control, introspection_folder_for_workers)
{
	char want[PATH_MAX + 64], dir[PATH_MAX + 16];
	struct stat st;

	write_conf(&E, HEADER "children = ( { name = \"e\"; exec = [ \"@T\", \"env\" ]; } );",
		   "one_for_one", 3);
	spawnd_start(&E, NULL);
	snprintf(dir, sizeof(dir), "%s.gp/%u", E.dir, (unsigned)geteuid());
	snprintf(want, sizeof(want), "GP_INTROSPECT_DIR=%s", dir);
	ASSERT_LOG(&E, want, 1, 10000);
	cr_assert_eq(lstat(dir, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(st.st_uid, geteuid());
}
