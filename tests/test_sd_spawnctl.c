/* SPDX-License-Identifier: MIT */
/*
 * spawnctl: usage errors and an unreachable spawnd checked alone; the rest
 * end to end, against a real spawnd (its control socket at E.sock) running
 * real children (tests/progs/sdtest).
 *
 * status and tree are compared with tests/golden/spawnctl_*.txt once the
 * parts that change from run to run (pids, uptimes, clock times) are
 * normalized. GOLDEN_UPDATE=1 rewrites those files from this run's output.
 */
#include "sd_test.h"

#include <json-c/json.h>
#include <sys/socket.h>
#include <sys/un.h>

#define HEADER "name = \"t\"; strategy = \"one_for_one\"; intensity = 10; period = 60;\n"
#define ENV    "env = [ \"SDTEST_LOG=@R\" ];"

static struct sd_env E;
static char CTL[PATH_MAX];     /* the spawnctl binary */
static char OUT_PATH[PATH_MAX], ERR_PATH[PATH_MAX];
static char OUT[1 << 20], ERR[1 << 16]; /* the last run's stdout and stderr */

static void setup(void)
{
	env_setup(&E);
	abs_path("SPAWNCTL", "build/spawnctl", CTL);
	snprintf(OUT_PATH, sizeof(OUT_PATH), "%s/ctl.out", E.dir);
	snprintf(ERR_PATH, sizeof(ERR_PATH), "%s/ctl.err", E.dir);
	/* The same output whoever runs the tests: UTF-8 box drawing, and no
	 * socket from the caller's environment. */
	setenv("LC_ALL", "C.UTF-8", 1);
	unsetenv("SPAWND_CONTROL");
}

static void teardown(void)
{
	env_cleanup(&E);
}

TestSuite(spawnctl, .init = setup, .fini = teardown, .timeout = 60);

/* ---- running spawnctl -------------------------------------------------------------------- */

/* Start spawnctl ARGS, its stdout into out and stderr into err. */
static pid_t spawn_ctl(const char *const *args, const char *out, const char *err)
{
	return spawn_tool(CTL, args, out, err);
}

/* Run spawnctl ARGS to its end: its exit status; OUT and ERR hold what it
 * printed. */
static int run(const char *const *args)
{
	int r = exit_status(spawn_ctl(args, OUT_PATH, ERR_PATH));

	read_into(OUT_PATH, OUT, sizeof(OUT));
	read_into(ERR_PATH, ERR, sizeof(ERR));
	return r;
}

#define RUN(...) run((const char *const[]){ __VA_ARGS__, NULL })
/* spawnctl on the test's spawnd */
#define CTL(...) RUN("-s", E.sock, __VA_ARGS__)

/* The last run's stdout as a JSON object (owned by the caller). */
static json_object *out_json(void)
{
	json_object *o = json_tokener_parse(OUT);

	cr_assert(json_object_is_type(o, json_type_object), "not a JSON object: %s", OUT);
	return o;
}

static json_object *find_unit(json_object *node, const char *path)
{
	json_object *v, *kids;

	if (json_object_object_get_ex(node, "path", &v) && !strcmp(json_object_get_string(v), path))
		return node;
	if (!json_object_object_get_ex(node, "children", &kids))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(kids); i++) {
		json_object *u = find_unit(json_object_array_get_idx(kids, i), path);

		if (u)
			return u;
	}
	return NULL;
}

/* A worker's pid from spawnctl --json status (0: none). */
static int unit_pid(const char *path)
{
	json_object *st, *u, *pid;
	int r;

	cr_assert_eq(CTL("--json", "status"), 0, "%s", ERR);
	st = out_json();
	json_object_object_get_ex(st, "status", &u);
	u = find_unit(u, path);
	cr_assert_not_null(u, "no unit %s in %s", path, OUT);
	r = json_object_object_get_ex(u, "pid", &pid) ? json_object_get_int(pid) : 0;
	json_object_put(st);
	return r;
}

/* Every unit settled: nothing starting, running-but-not-ready, stopping or
 * waiting to restart (so that status is the same on every run). */
static bool settled_node(json_object *node)
{
	json_object *v, *kids;
	const char *state;

	if (!json_object_object_get_ex(node, "state", &v))
		return false;
	state = json_object_get_string(v);
	if (strcmp(state, "ready") && strcmp(state, "stopped") && strcmp(state, "failed"))
		return false;
	if (json_object_object_get_ex(node, "children", &kids))
		for (size_t i = 0; i < json_object_array_length(kids); i++)
			if (!settled_node(json_object_array_get_idx(kids, i)))
				return false;
	return true;
}

static void settle(long timeout_ms)
{
	long long until = ms_now() + timeout_ms;

	for (;;) {
		if (CTL("--json", "status") == 0) {
			json_object *o = out_json(), *st = NULL;
			bool done = json_object_object_get_ex(o, "status", &st) && settled_node(st);

			json_object_put(o);
			if (done)
				return;
		}
		cr_assert_lt(ms_now(), until, "spawnd did not settle: %s\n%s\n%s", OUT, ERR,
			     slurp(E.log));
		msleep(20);
	}
}

/* ---- golden files ------------------------------------------------------------------------ */

/* Byte offset of column col in a UTF-8 line (continuation bytes take none). */
static size_t byte_at(const char *line, size_t len, size_t col)
{
	size_t i = 0;

	for (size_t c = 0; i < len; i++) {
		if (((unsigned char)line[i] & 0xc0) == 0x80)
			continue;
		if (c++ == col)
			return i;
	}
	return len;
}

static size_t columns(const char *s, size_t len)
{
	size_t c = 0;

	for (size_t i = 0; i < len; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * What varies from run to run made constant: "pid 1234" -> "pid PID",
 * "up 3s" -> "up UP", "12:03:04.123" -> "HH:MM:SS.mmm"; and in a status
 * table, the PID and UPTIME columns (found from the header), so that the
 * columns stay aligned in the golden file.
 */
static void normalize(const char *in, char *out, size_t size)
{
	size_t o = 0, pid_end = 0, up_start = 0, up_end = 0;
	bool table = false;

	for (const char *line = in; *line && o < size - 64;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[4096];

		cr_assert_lt(len, sizeof(buf));
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (!strncmp(buf, "NAME ", 5) && strstr(buf, " PID ") && strstr(buf, " UPTIME ") &&
		    strstr(buf, " RESTARTS ")) {
			table = true;
			pid_end = (size_t)(strstr(buf, " PID ") - buf) + 4;
			up_start = (size_t)(strstr(buf, " UPTIME ") - buf) + 1;
			up_end = (size_t)(strstr(buf, " RESTARTS ") - buf) - 1;
		} else if (table && columns(buf, len) > up_end) {
			size_t p0 = byte_at(buf, len, pid_end - 7), p1 = byte_at(buf, len, pid_end);
			size_t u0 = byte_at(buf, len, up_start), u1 = byte_at(buf, len, up_end);

			if (is_digit(buf[p1 - 1]))
				memcpy(buf + p0, "    PID", 7);
			if (is_digit(buf[u0]))
				for (size_t i = u0; i < u1; i++)
					buf[i] = i - u0 < 2 ? "UP"[i - u0] : ' ';
		}
		for (size_t i = 0; i < len && o < size - 64;) {
			if (!strncmp(buf + i, "pid ", 4) && is_digit(buf[i + 4])) {
				o += (size_t)snprintf(out + o, size - o, "pid PID");
				for (i += 4; is_digit(buf[i]); i++)
					;
			} else if (!strncmp(buf + i, "up ", 3) && is_digit(buf[i + 3])) {
				o += (size_t)snprintf(out + o, size - o, "up UP");
				for (i += 3; is_digit(buf[i]) || strchr("smhd", buf[i]); i++)
					;
			} else if (i == 0 && len >= 12 && is_digit(buf[0]) && buf[2] == ':' &&
				   buf[5] == ':' && buf[8] == '.') {
				o += (size_t)snprintf(out + o, size - o, "HH:MM:SS.mmm");
				i = 12;
			} else {
				out[o++] = buf[i++];
			}
		}
		out[o++] = '\n';
		line += len + (nl ? 1 : 0);
	}
	out[o] = '\0';
}

/* No line wider than 80 columns. */
static void assert_fits(const char *text)
{
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		cr_assert_leq(columns(line, len), 80, "wider than 80 columns: %.*s", (int)len,
			      line);
		cr_assert(len == 0 || line[len - 1] != ' ', "trailing space: '%.*s'", (int)len,
			  line);
		line += len + (nl ? 1 : 0);
	}
}

/* The normalized output against tests/golden/NAME.txt (GOLDEN_DIR). */
static void assert_golden(const char *name, const char *output)
{
	static char norm[1 << 16], want[1 << 16];
	const char *dir = getenv("GOLDEN_DIR") ? getenv("GOLDEN_DIR") : "tests/golden";
	const char *update = getenv("GOLDEN_UPDATE");
	char path[PATH_MAX];
	FILE *f;

	normalize(output, norm, sizeof(norm));
	snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
	if (update && !strcmp(update, "1")) {
		f = fopen(path, "w");
		cr_assert_not_null(f, "%s: %s", path, strerror(errno));
		fputs(norm, f);
		cr_assert_eq(fclose(f), 0);
		return;
	}
	read_into(path, want, sizeof(want));
	cr_assert(want[0], "%s is missing or empty (GOLDEN_UPDATE=1 writes it); this run:\n%s",
		  path, norm);
	cr_assert_str_eq(norm, want, "%s differs:\n--- this run (normalized)\n%s--- expected\n%s",
			 path, norm, want);
}

/* ---- usage: exit 2, the argument at fault named, spawnd never asked ---------------------- */

struct usage_case {
	const char *args[6];
	const char *says;
};

Test(spawnctl, usage_errors)
{
	static const struct usage_case cases[] = {
		{ { NULL }, "missing COMMAND" },
		{ { "frobnicate" }, "unknown command 'frobnicate'" },
		{ { "--bogus", "status" }, "unknown option '--bogus'" },
		{ { "-s" }, "'-s' needs an argument" },
		{ { "--timeout", "soon", "status" }, "--timeout: 'soon'" },
		{ { "--timeout", "-1", "start", "w" }, "--timeout: '-1'" },
		{ { "--timeout", "3601", "start", "w" }, "--timeout: '3601'" },
		{ { "status", "a", "b" }, "status: unexpected argument 'b'" },
		{ { "tree", "a", "b" }, "tree: unexpected argument 'b'" },
		{ { "status", "--json" }, "'--json' goes before the command" },
		{ { "start" }, "start: missing NAME" },
		{ { "stop", "-x" }, "stop: unknown option '-x'" },
		{ { "restart" }, "restart: missing NAME" },
		{ { "signal" }, "signal: missing NAME and SIG" },
		{ { "signal", "w" }, "signal: missing SIG after the name 'w'" },
		{ { "signal", "TERM" }, "signal: missing NAME before the signal 'TERM'" },
		{ { "signal", "w", "NOPE" }, "signal: 'NOPE' is not a signal" },
		{ { "signal", "w", "65" }, "signal: '65' is not a signal" },
		{ { "signal", "w", "0" }, "signal: '0' is not a signal" },
		{ { "logs" }, "logs: missing NAME" },
		{ { "logs", "a", "b" }, "logs: unexpected argument 'b'" },
		{ { "logs", "-n", "ten", "w" }, "logs: -n: 'ten'" },
		{ { "logs", "-n", "-1", "w" }, "logs: -n: '-1'" },
		{ { "logs", "w", "-n" }, "logs: -n needs a number" },
		{ { "logs", "-x", "w" }, "logs: unknown option '-x'" },
		{ { "events", "x" }, "events: unexpected argument 'x'" },
		{ { "reload", "x" }, "reload: unexpected argument 'x'" },
		{ { "shutdown", "now" }, "shutdown: unexpected argument 'now'" },
	};
	char nosock[PATH_MAX + 16];

	/* A socket that is not there: usage is checked first, locally. */
	snprintf(nosock, sizeof(nosock), "%s/nosock", E.dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[10] = { "-s", nosock };

		for (size_t k = 0; cases[i].args[k]; k++)
			args[2 + k] = cases[i].args[k];
		cr_assert_eq(run(args), 2, "case %zu (%s): exit status; stderr: %s", i,
			     cases[i].says, ERR);
		cr_assert(strstr(ERR, cases[i].says), "case %zu: stderr lacks \"%s\": %s", i,
			  cases[i].says, ERR);
		cr_assert(!strncmp(ERR, "spawnctl: ", 10), "case %zu: %s", i, ERR);
		cr_assert_str_eq(OUT, "", "case %zu printed on stdout: %s", i, OUT);
	}
}

Test(spawnctl, help_and_version)
{
	cr_assert_eq(RUN("--help"), 0);
	cr_assert(strstr(OUT, "usage: spawnctl"), "%s", OUT);
	cr_assert(strstr(OUT, "logs [-n N] [-f] NAME"), "%s", OUT);
	cr_assert_str_eq(ERR, "");
	cr_assert_eq(RUN("-h"), 0);
	cr_assert_eq(RUN("--version"), 0);
	cr_assert(!strncmp(OUT, "spawnctl ", 9), "%s", OUT);
}

/* ---- cannot reach spawnd: exit 3, naming the path ---------------------------------------- */

Test(spawnctl, no_socket)
{
	char path[PATH_MAX + 16], want[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/nosock", E.dir);
	cr_assert_eq(RUN("-s", path, "status"), 3, "%s", ERR);
	snprintf(want, sizeof(want), "spawnctl: cannot reach spawnd at %s: ", path);
	cr_assert(strstr(ERR, want), "%s", ERR);
	cr_assert_str_eq(OUT, "");

	/* $SPAWND_CONTROL when there is no -s */
	setenv("SPAWND_CONTROL", path, 1);
	cr_assert_eq(RUN("events"), 3, "%s", ERR);
	cr_assert(strstr(ERR, want), "%s", ERR);
	unsetenv("SPAWND_CONTROL");
}

/* Without -s or SPAWND_CONTROL: root's socket, or the user's runtime
 * folder's; without XDG_RUNTIME_DIR, a user is told what to give. */
Test(spawnctl, default_socket)
{
	char want[PATH_MAX + 64];

	if (geteuid() == 0) {
		if (access("/run/spawnd/control", F_OK) == 0)
			cr_skip_test("a spawnd runs at /run/spawnd/control");
		cr_assert_eq(RUN("status"), 3, "%s", ERR);
		cr_assert(strstr(ERR, "at /run/spawnd/control: "), "%s", ERR);
		return;
	}
	setenv("XDG_RUNTIME_DIR", E.dir, 1);
	cr_assert_eq(RUN("status"), 3, "%s", ERR);
	snprintf(want, sizeof(want), "at %s/spawnd/control: ", E.dir);
	cr_assert(strstr(ERR, want), "%s", ERR);
	unsetenv("XDG_RUNTIME_DIR");
	cr_assert_eq(RUN("status"), 2, "%s", ERR);
	cr_assert(strstr(ERR, "XDG_RUNTIME_DIR"), "%s", ERR);
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(listen(fd, 8), 0);
	return fd;
}

/* A socket nobody listens on (spawnd gone); a server that hangs up before
 * it answers; one that never answers. */
Test(spawnctl, connection_refused_lost_or_silent)
{
	char path[PATH_MAX + 16], want[PATH_MAX + 128];
	long long t0;
	pid_t pid;
	int fd, c;

	snprintf(path, sizeof(path), "%s/sock", E.dir);
	fd = listen_at(path);
	close(fd);
	cr_assert_eq(RUN("-s", path, "status"), 3, "%s", ERR);
	snprintf(want, sizeof(want), "cannot reach spawnd at %s: Connection refused", path);
	cr_assert(strstr(ERR, want), "%s", ERR);

	unlink(path);
	fd = listen_at(path);
	pid = spawn_ctl((const char *const[]){ "-s", path, "status", NULL }, OUT_PATH, ERR_PATH);
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(c, 0);
	close(c);
	cr_assert_eq(exit_status(pid), 3);
	read_into(ERR_PATH, ERR, sizeof(ERR));
	snprintf(want, sizeof(want), "spawnd at %s closed the connection before answering", path);
	cr_assert(strstr(ERR, want), "%s", ERR);

	/* --timeout bounds the wait for an answer (plus a margin of 5 s). */
	t0 = ms_now();
	pid = spawn_ctl((const char *const[]){ "-s", path, "--timeout", "0", "status", NULL },
			OUT_PATH, ERR_PATH);
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(c, 0);
	cr_assert_eq(exit_status(pid), 1);
	cr_assert_lt(ms_now() - t0, 8000);
	read_into(ERR_PATH, ERR, sizeof(ERR));
	cr_assert(strstr(ERR, "no answer from spawnd at "), "%s", ERR);
	close(c);
	close(fd);
}

/* ---- against spawnd ---------------------------------------------------------------------- */

/* A tree with one unit in each state status shows: ready (with a status
 * text), held down, failed by a signal, by an exit, and before it ran; and
 * names too long for 80 columns. */
static void start_demo(void)
{
	char script[PATH_MAX + 16];
	FILE *f;

	snprintf(script, sizeof(script), "%s/broken", E.dir);
	f = fopen(script, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/nonexistent/interpreter\n");
	fclose(f);
	chmod(script, 0755);
	write_conf(&E, HEADER "children = ( "
		   "{ name = \"api\"; ready = \"notify\"; exec = [ \"@T\", \"notify\", \"0\" ]; },"
		   "{ name = \"pipeline\"; strategy = \"one_for_all\"; intensity = 3; period = 5; children = ("
		   "  { name = \"producer\"; exec = [ \"@T\", \"sleep\" ]; },"
		   "  { name = \"consumer\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } ); },"
		   "{ name = \"held\"; exec = [ \"@T\", \"sleep\" ]; },"
		   "{ name = \"crasher\"; restart = \"temporary\"; exec = [ \"@T\", \"signal\", \"9\" ]; },"
		   "{ name = \"quitter\"; restart = \"temporary\"; exec = [ \"@T\", \"exit\", \"3\" ]; },"
		   "{ name = \"broken\"; restart = \"temporary\"; exec = [ \"%s\" ]; },"
		   "{ name = \"a_supervisor_whose_name_is_rather_long\"; children = ("
		   "  { name = \"and_a_worker_whose_name_is_even_longer_than_that_of_its_parent_x\"; "
		   "    exec = [ \"@T\", \"sleep\" ]; } ); } );",
		   script);
	/* Degraded on purpose: status says so, whoever runs the test. */
	spawnd_start(&E, "--no-bpf");
	ASSERT_LOG(&E, "broken: not restarted", 1, 5000);
	ASSERT_LOG(&E, "crasher: not restarted", 1, 5000);
	ASSERT_LOG(&E, "quitter: not restarted", 1, 5000);
	settle(5000);
	cr_assert_eq(CTL("stop", "held"), 0, "%s", ERR);
}

Test(spawnctl, status_and_tree_golden)
{
	start_demo();
	cr_assert_eq(CTL("status"), 0, "%s", ERR);
	cr_assert_str_eq(ERR, "");
	assert_fits(OUT);
	assert_golden("spawnctl_status", OUT);

	cr_assert_eq(CTL("status", "pipeline"), 0, "%s", ERR);
	assert_golden("spawnctl_status_pipeline", OUT);

	cr_assert_eq(CTL("tree"), 0, "%s", ERR);
	cr_assert_str_eq(ERR, "");
	assert_fits(OUT);
	assert_golden("spawnctl_tree", OUT);

	/* Without UTF-8: ASCII branches, the same tree. */
	setenv("LC_ALL", "C", 1);
	cr_assert_eq(CTL("tree"), 0, "%s", ERR);
	assert_fits(OUT);
	assert_golden("spawnctl_tree_ascii", OUT);
	setenv("LC_ALL", "C.UTF-8", 1);

	cr_assert_eq(CTL("tree", "pipeline"), 0, "%s", ERR);
	assert_golden("spawnctl_tree_pipeline", OUT);

	cr_assert_eq(CTL("status", "nosuch"), 1);
	cr_assert(strstr(ERR, "nosuch"), "%s", ERR);
	cr_assert_str_eq(OUT, "");
}

/* start, stop, restart: a line per name, then exit 0; a unit that is not
 * there, 1. */
Test(spawnctl, start_stop_restart)
{
	char want[64];
	int pid, pid2;

	write_conf(&E, HEADER "children = ( "
		   "{ name = \"p\"; children = ( { name = \"w\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } ); },"
		   "{ name = \"v\"; exec = [ \"@T\", \"sleep\" ]; } );");
	spawnd_start(&E, NULL);
	settle(5000);
	pid = unit_pid("p/w");
	cr_assert_gt(pid, 0);

	cr_assert_eq(CTL("stop", "p/w", "v"), 0, "%s", ERR);
	cr_assert_str_eq(OUT, "p/w: stopped\nv: stopped\n");
	cr_assert_str_eq(ERR, "");
	cr_assert(!alive(pid));
	cr_assert_eq(unit_pid("p/w"), 0);
	/* held down: not restarted */
	msleep(200);
	cr_assert_eq(unit_pid("p/w"), 0);

	cr_assert_eq(CTL("start", "p/w"), 0, "%s", ERR);
	cr_assert_eq(sscanf(OUT, "p/w: ready (pid %d)\n", &pid), 1, "%s", OUT);
	snprintf(want, sizeof(want), "p/w: ready (pid %d)\n", pid);
	cr_assert_str_eq(OUT, want);
	cr_assert_eq(unit_pid("p/w"), pid);

	cr_assert_eq(CTL("restart", "p/w"), 0, "%s", ERR);
	cr_assert_eq(sscanf(OUT, "p/w: ready (pid %d)\n", &pid2), 1, "%s", OUT);
	snprintf(want, sizeof(want), "p/w: ready (pid %d)\n", pid2);
	cr_assert_str_eq(OUT, want);
	cr_assert_neq(pid2, pid);
	cr_assert_eq(unit_pid("p/w"), pid2);

	cr_assert_eq(CTL("start", "v", "nosuch"), 1);
	cr_assert(!strncmp(ERR, "spawnctl: ", 10) && strstr(ERR, "nosuch"), "%s", ERR);
	cr_assert_str_eq(OUT, "");
	cr_assert_eq(unit_pid("v"), 0, "a failed request changed something");
}

/* A wait that times out: exit 1, naming the unit and the state it is in. */
Test(spawnctl, start_timeout)
{
	long long t0;

	write_conf(&E, HEADER "children = ( "
		   "{ name = \"w\"; exec = [ \"@T\", \"sleep\" ]; },"
		   "{ name = \"never\"; ready = \"notify\"; ready_timeout = \"60s\"; exec = [ \"@T\", \"sleep\" ]; } );");
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "never[", 1, 5000);
	t0 = ms_now();
	cr_assert_eq(CTL("--timeout", "0.3", "start", "w", "never"), 1, "%s", OUT);
	cr_assert_geq(ms_now() - t0, 300);
	cr_assert_str_eq(ERR, "spawnctl: never: not ready after 0.3s (running)\n");
	cr_assert_str_eq(OUT, "");
}

/* signal: the workers named get it, and spawnctl says which pids. */
Test(spawnctl, signal)
{
	char want[64], term[32];
	int pid;

	write_conf(&E, HEADER "children = ( { name = \"w\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } );");
	spawnd_start(&E, NULL);
	settle(5000);
	pid = unit_pid("w");
	cr_assert_eq(CTL("signal", "w", "term"), 0, "%s", ERR);
	snprintf(want, sizeof(want), "w: SIGTERM to pid %d\n", pid);
	cr_assert_str_eq(OUT, want);
	snprintf(term, sizeof(term), "TERM %d", pid);
	cr_assert(wait_for(E.rec, term, 1, 5000), "%s", slurp(E.rec));

	cr_assert_eq(CTL("signal", "nosuch", "15"), 1);
	cr_assert(strstr(ERR, "nosuch"), "%s", ERR);
}

/* logs -n N: the last N lines; of a supervisor: exit 1; -f: later lines
 * too, until SIGINT, which ends it with 0 and nothing on stderr. */
Test(spawnctl, logs)
{
	char line[64], out[PATH_MAX + 8], err[PATH_MAX + 8];
	int pid, pid2;
	pid_t ctl;

	write_conf(&E, HEADER "children = ( "
		   "{ name = \"p\"; children = ( { name = \"w\"; exec = [ \"@T\", \"sleep\" ]; } ); } );");
	spawnd_start(&E, NULL);
	settle(5000);
	pid = unit_pid("p/w");
	snprintf(line, sizeof(line), "sdtest sleep pid %d\n", pid);
	ASSERT_LOG(&E, line, 1, 5000);
	cr_assert_eq(CTL("logs", "-n", "1", "p/w"), 0, "%s", ERR);
	cr_assert_str_eq(OUT, line);
	cr_assert_eq(CTL("logs", "p/w", "-n", "0"), 0, "%s", ERR);
	cr_assert_str_eq(OUT, "");
	cr_assert_eq(CTL("logs", "p"), 1);
	cr_assert(strstr(ERR, "spawnctl: ") && strstr(ERR, "p"), "%s", ERR);

	snprintf(out, sizeof(out), "%s/follow.out", E.dir);
	snprintf(err, sizeof(err), "%s/follow.err", E.dir);
	ctl = spawn_ctl((const char *const[]){ "-s", E.sock, "logs", "-f", "p/w", NULL }, out, err);
	cr_assert(wait_for(out, line, 1, 5000), "%s", slurp(out));
	cr_assert_eq(CTL("restart", "p/w"), 0, "%s", ERR);
	pid2 = unit_pid("p/w");
	snprintf(line, sizeof(line), "sdtest sleep pid %d\n", pid2);
	cr_assert(wait_for(out, line, 1, 5000), "logs -f missed the new line: %s", slurp(out));
	kill(ctl, SIGINT);
	cr_assert_eq(exit_status(ctl), 0);
	cr_assert_str_eq(slurp(err), "");
}

/* --json: each response as one JSON object on one line, with "ok". */
Test(spawnctl, json)
{
	static const char *const verbs[][3] = {
		{ "status" }, { "tree", "w" }, { "stop", "w" }, { "start", "w" }, { "logs", "w" },
		{ "signal", "w", "CONT" }, { "reload" },
	};
	json_object *o, *v;

	write_conf(&E, HEADER "children = ( { name = \"w\"; exec = [ \"@T\", \"sleep\" ]; } );");
	spawnd_start(&E, NULL);
	settle(5000);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const char *args[8] = { "-s", E.sock, "--json" };

		for (size_t k = 0; k < 3 && verbs[i][k]; k++)
			args[3 + k] = verbs[i][k];
		cr_assert_eq(run(args), 0, "%s: %s", verbs[i][0], ERR);
		cr_assert_eq(count_in(OUT, "\n"), 1, "%s: not one line: %s", verbs[i][0], OUT);
		o = out_json();
		cr_assert(json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v),
			  "%s: %s", verbs[i][0], OUT);
		cr_assert(json_object_object_get_ex(o, "v", &v) && json_object_get_int(v) == 1);
		json_object_put(o);
	}
	/* An error: the response as it came, and exit 1. */
	cr_assert_eq(CTL("--json", "stop", "nosuch"), 1);
	o = out_json();
	cr_assert(json_object_object_get_ex(o, "ok", &v) && !json_object_get_boolean(v), "%s", OUT);
	cr_assert(json_object_object_get_ex(o, "error", &v), "%s", OUT);
	json_object_put(o);
}

/* events: a killed worker shows as crashed, then started again; SIGINT
 * ends it with 0. --json events are JSON lines. */
Test(spawnctl, events)
{
	char out[PATH_MAX + 8], err[PATH_MAX + 8], jout[PATH_MAX + 8], want[128];
	pid_t ctl, jctl;
	int pid, pid2;

	write_conf(&E, HEADER "children = ( { name = \"w\"; exec = [ \"@T\", \"sleep\" ]; } );");
	spawnd_start(&E, NULL);
	settle(5000);
	pid = unit_pid("w");
	snprintf(out, sizeof(out), "%s/events.out", E.dir);
	snprintf(err, sizeof(err), "%s/events.err", E.dir);
	snprintf(jout, sizeof(jout), "%s/events.json", E.dir);
	ctl = spawn_ctl((const char *const[]){ "-s", E.sock, "events", NULL }, out, err);
	jctl = spawn_ctl((const char *const[]){ "-s", E.sock, "--json", "events", NULL }, jout,
			 err);
	/* Subscribed once the response came. */
	cr_assert(wait_for(jout, "\"ok\":true", 1, 5000), "%s", slurp(jout));
	msleep(100);
	kill(pid, SIGKILL);
	/* With spawnd's crash probe (root, BTF), the sender is named. */
	if (geteuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		snprintf(want, sizeof(want), " crashed w pid %d: killed by SIGKILL from %d (", pid,
			 (int)getpid());
	else
		snprintf(want, sizeof(want), " crashed w pid %d: killed by SIGKILL\n", pid);
	cr_assert(wait_for(out, want, 1, 5000), "%s", slurp(out));
	cr_assert(wait_for(out, " started w pid ", 1, 5000), "%s", slurp(out));
	pid2 = unit_pid("w");
	snprintf(want, sizeof(want), " started w pid %d\n", pid2);
	cr_assert(wait_for(out, want, 1, 5000), "%s", slurp(out));
	kill(ctl, SIGINT);
	cr_assert_eq(exit_status(ctl), 0);

	cr_assert(wait_for(jout, "\"event\":\"started\"", 1, 5000), "%s", slurp(jout));
	kill(jctl, SIGTERM);
	cr_assert_eq(exit_status(jctl), 0);
	for (char *line = slurp(jout), *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		json_object *o;

		*nl = '\0';
		o = json_tokener_parse(line);
		cr_assert(json_object_is_type(o, json_type_object), "not JSON: %s", line);
		json_object_put(o);
	}
	cr_assert(strstr(slurp(jout), "\"event\":\"crashed\""), "%s", slurp(jout));
	cr_assert_str_eq(slurp(err), "");
}

/* reload: what was added, removed, changed; a bad file: exit 1 and its
 * errors. */
Test(spawnctl, reload)
{
	write_conf(&E, HEADER "children = ( { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; },"
		   "{ name = \"b\"; exec = [ \"@T\", \"sleep\" ]; } );");
	spawnd_start(&E, NULL);
	settle(5000);
	write_conf(&E, HEADER "children = ( { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; },"
		   "{ name = \"c\"; exec = [ \"@T\", \"sleep\" ]; } );");
	cr_assert_eq(CTL("reload"), 0, "%s", ERR);
	cr_assert_str_eq(OUT, "added    c\nremoved  b\n2 unchanged\n");
	write_conf(&E, HEADER "children = ( { name = \"a\"; exec = [ \"@T\", \"sleep\" ]; restart = \"sometimes\"; } );");
	cr_assert_eq(CTL("reload"), 1);
	cr_assert(strstr(ERR, "spawnd.conf:2: a: restart: "), "%s", ERR);
	cr_assert_str_eq(OUT, "");
}

/* shutdown: spawnd stops everything and exits 0; a stream of events then
 * ends with 3 (spawnd went away), and so does any later command. */
Test(spawnctl, shutdown)
{
	char out[PATH_MAX + 8], err[PATH_MAX + 8];
	pid_t ev;

	write_conf(&E, HEADER "children = ( { name = \"w\"; exec = [ \"@T\", \"sleep\" ]; " ENV " } );");
	spawnd_start(&E, NULL);
	settle(5000);
	snprintf(out, sizeof(out), "%s/events.out", E.dir);
	snprintf(err, sizeof(err), "%s/events.err", E.dir);
	ev = spawn_ctl((const char *const[]){ "-s", E.sock, "--json", "events", NULL }, out, err);
	cr_assert(wait_for(out, "\"ok\":true", 1, 5000), "%s", slurp(out));

	cr_assert_eq(CTL("shutdown"), 0, "%s", ERR);
	cr_assert_str_eq(OUT, "spawnd is shutting down\n");
	cr_assert_eq(spawnd_wait(&E, 5000), 0);
	cr_assert(strstr(slurp(E.rec), "TERM"));

	cr_assert_eq(exit_status(ev), 3);
	cr_assert(strstr(slurp(err), "closed the connection"), "%s", slurp(err));
	cr_assert_eq(CTL("status"), 3);
	cr_assert(strstr(ERR, E.sock), "%s", ERR);
}
