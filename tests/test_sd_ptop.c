/* SPDX-License-Identifier: MIT */
/*
 * ptop end to end: a real spawnd (its control socket at E.sock) running a
 * real tree (tests/progs/sdtest, and tests/gpprogs/crowd, a libgp program
 * serving introspection), watched by the real ptop.
 *
 * Batch and JSON output are compared with tests/golden/ptop_*.txt once
 * what changes from run to run (pids, uptimes, CPU%, RSS, counters of the
 * schedulers) is masked; GOLDEN_UPDATE=1 rewrites those files. The screen
 * is driven in tmux (send-keys, capture-pane), skipped without tmux.
 */
#include "sd_test.h"

#include <json-c/json.h>
#include <sys/socket.h>
#include <sys/un.h>

#define CROWD_TREE 20     /* green processes of the crowd in the tree */
#define CROWD_BIG  100000 /* and of the one opened with -p */

static struct sd_env E;
static char PTOP[PATH_MAX], CROWD[PATH_MAX];
static char OUT_PATH[PATH_MAX], ERR_PATH[PATH_MAX], SCREEN_PATH[PATH_MAX];
static char OUT[1 << 20], ERR[1 << 16]; /* the last run's stdout and stderr */
static char TMUX_SOCK[PATH_MAX];        /* set once a tmux server runs */
static pid_t crowd_pid = -1;            /* a crowd started by the test itself */

static void setup(void)
{
	env_setup(&E);
	abs_path("PTOP", "build/ptop", PTOP);
	abs_path("CROWD", "build/tests/gpprogs/crowd", CROWD);
	snprintf(OUT_PATH, sizeof(OUT_PATH), "%s/ptop.out", E.dir);
	snprintf(ERR_PATH, sizeof(ERR_PATH), "%s/ptop.err", E.dir);
	snprintf(SCREEN_PATH, sizeof(SCREEN_PATH), "%s/screen.txt", E.dir);
	/* The same output whoever runs the tests. */
	setenv("LC_ALL", "C", 1);
	unsetenv("SPAWND_CONTROL");
	unsetenv("COLUMNS");
	unsetenv("NO_COLOR");
}

static void teardown(void)
{
	char cmd[PATH_MAX + 64];

	if (TMUX_SOCK[0]) {
		snprintf(cmd, sizeof(cmd), "tmux -S %s kill-server 2>/dev/null", TMUX_SOCK);
		(void)!system(cmd);
	}
	if (crowd_pid > 0) {
		kill(crowd_pid, SIGKILL);
		waitpid(crowd_pid, NULL, 0);
	}
	env_cleanup(&E);
}

TestSuite(ptop, .init = setup, .fini = teardown, .timeout = 90);

/* ---- running ptop ------------------------------------------------------------------------- */

/* Run ptop ARGS to its end: its exit status; OUT and ERR hold what it
 * printed. */
static int run(const char *const *args)
{
	int r = exit_status(spawn_tool(PTOP, args, OUT_PATH, ERR_PATH));

	read_into(OUT_PATH, OUT, sizeof(OUT));
	read_into(ERR_PATH, ERR, sizeof(ERR));
	return r;
}

#define RUN(...) run((const char *const[]){ __VA_ARGS__, NULL })
/* ptop on the test's spawnd */
#define PTOP(...) RUN("-s", E.sock, __VA_ARGS__)

/* ---- the tree ----------------------------------------------------------------------------- */

/* A worker's pid, asked on the control socket (0: not running). */
static int unit_pid(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[256], buf[65536];
	json_object *o, *st, *pid;
	size_t len = 0;
	int fd, r = 0;

	cr_assert_lt(strlen(E.sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, E.sock, strlen(E.sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	snprintf(req, sizeof(req), "{\"v\":1,\"cmd\":\"status\",\"name\":\"%s\"}\n", name);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		cr_assert_gt(n, 0, "spawnd closed the connection");
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	o = json_tokener_parse(buf);
	cr_assert_not_null(o, "%s", buf);
	if (json_object_object_get_ex(o, "status", &st) && json_object_object_get_ex(st, "pid", &pid))
		r = json_object_get_int(pid);
	json_object_put(o);
	return r;
}

/* Whether a libgp program serves in spawnd's introspection folder. */
static bool crowd_serving(void)
{
	char path[PATH_MAX + 64];
	int pid = unit_pid("crowd");

	snprintf(path, sizeof(path), "%s.gp/%u/%d.sock", E.dir, (unsigned)geteuid(), pid);
	return pid > 0 && access(path, F_OK) == 0;
}

/* Supervisors, sleepers, a libgp program and a worker that failed; all
 * settled. */
static void start_tree(void)
{
	write_conf(&E,
		   "name = \"t\"; strategy = \"one_for_one\"; intensity = 10; period = 60;\n"
		   "children = ( { name = \"api\"; exec = [ \"@T\", \"sleep\" ]; },"
		   "{ name = \"pipeline\"; strategy = \"one_for_all\"; intensity = 3; period = 5; "
		   "  children = ( { name = \"producer\"; exec = [ \"@T\", \"sleep\" ]; },"
		   "               { name = \"consumer\"; exec = [ \"@T\", \"sleep\" ]; } ); },"
		   "{ name = \"crowd\"; exec = [ \"%s\", \"%d\" ]; "
		   "  sandbox = { base = \"default\"; io_uring = true; }; },"
		   "{ name = \"quitter\"; restart = \"temporary\"; exec = [ \"@T\", \"exit\", \"3\" ]; } );",
		   CROWD, CROWD_TREE);
	/* Without its probes: the same header as root or not (crash_report
	 * tests them). */
	spawnd_start(&E, "--no-bpf");
	ASSERT_LOG(&E, "quitter: not restarted", 1, 10000);
	ASSERT_LOG(&E, "crowd[", 1, 10000);
	ASSERT_LOG(&E, "]: ready ", 1, 10000);
	for (long long until = ms_now() + 10000; !crowd_serving(); msleep(20))
		cr_assert_lt(ms_now(), until, "crowd serves no introspection:\n%s", slurp(E.log));
}

/* ---- golden files ------------------------------------------------------------------------ */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* s with every occurrence of from replaced by to, into out. */
static void replace_all(const char *s, const char *from, const char *to, char *out, size_t size)
{
	size_t o = 0, fl = strlen(from);

	while (*s && o + strlen(to) + 1 < size) {
		if (!strncmp(s, from, fl)) {
			o += (size_t)snprintf(out + o, size - o, "%s", to);
			s += fl;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
}

/* Digit runs of line from byte `from` on, as "N". */
static void mask_digits(char *line, size_t from)
{
	size_t o = from;

	for (size_t i = from; line[i];) {
		if (is_digit(line[i])) {
			while (is_digit(line[i]))
				i++;
			line[o++] = 'N'; /* o <= the run's first digit: read already */
		} else {
			line[o++] = line[i++];
		}
	}
	line[o] = '\0';
}

/* Green pids, "<0.52.1>" and the padding after them, as "<PID> ": their
 * slots vary with the schedulers that spawned them. */
static void mask_green_pids(char *line)
{
	char out[4096];
	size_t o = 0;

	for (const char *p = line; *p && o < sizeof(out) - 8;) {
		size_t n = *p == '<' ? strspn(p + 1, "0123456789.") : 0;

		if (n && p[1 + n] == '>') {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "<PID> ");
			for (p += n + 2; *p == ' '; p++)
				;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	strcpy(line, out);
}

/* The cell [start, end) of a row: "N" at its right end if it holds a value. */
static void mask_cell(char *line, size_t len, size_t start, size_t end)
{
	bool value = false;

	if (end > len)
		return;
	for (size_t i = start; i < end; i++)
		value |= is_digit(line[i]);
	if (!value)
		return;
	memset(line + start, ' ', end - start);
	line[end - 1] = 'N';
}

/* A row with the PID cell ([pid_end - 7, pid_end): a pid or "-", right
 * aligned), not one whose text spans from there (a libgp runtime's). */
static bool cells_row(const char *line, size_t len, size_t pid_end)
{
	size_t i = pid_end - 7;

	if (len <= pid_end || line[pid_end] != ' ')
		return false;
	while (i < pid_end && line[i] == ' ')
		i++;
	if (i < pid_end && line[i] == '-')
		return i + 1 == pid_end;
	for (; i < pid_end; i++)
		if (!is_digit(line[i]))
			return false;
	return true;
}

/*
 * What varies made constant: the test's folder as DIR; in the two header
 * lines, numbers; in the table (ASCII: LC_ALL=C), the PID, UPTIME, CPU% and
 * RSS cells, found from the titles; and the schedulers' counters.
 */
static void mask_batch(const char *in, char *out, size_t size)
{
	static char text[1 << 20];
	size_t o = 0, nline = 0, pid_end = 0, up_end = 0, cpu_end = 0, rss_end = 0, state = 0;
	bool table = false;

	(void)pid_end;
	replace_all(in, E.dir, "DIR", text, sizeof(text));
	for (const char *line = text; *line && o < size - 1; nline++) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[4096];

		cr_assert_lt(len, sizeof(buf));
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (nline < 2) {
			char *cfg = strstr(buf, ", config ");

			/* The config path, last, is cut where the width ends:
			 * how much of it shows depends on the pid's digits. */
			if (cfg)
				strcpy(cfg, ", config PATH");
			mask_digits(buf, 0);
		} else if (!strncmp(buf, "NAME ", 5)) {
			table = true;
			state = (size_t)(strstr(buf, " STATE") - buf) + 1;
			pid_end = (size_t)(strstr(buf, " PID ") - buf) + 4;
			up_end = (size_t)(strstr(buf, " UPTIME ") - buf) + 7;
			cpu_end = (size_t)(strstr(buf, " CPU% ") - buf) + 5;
			rss_end = (size_t)(strstr(buf, " RSS ") - buf) + 4;
		} else if (table && strchr(buf, '<')) {
			mask_green_pids(buf);
		} else if (table && strstr(buf, " runq ")) {
			mask_digits(buf, state);
		} else if (table && cells_row(buf, len, pid_end)) {
			mask_cell(buf, len, pid_end - 7, pid_end);
			mask_cell(buf, len, up_end - 6, up_end);
			mask_cell(buf, len, cpu_end - 5, cpu_end);
			mask_cell(buf, len, rss_end - 6, rss_end);
		}
		o += (size_t)snprintf(out + o, size - o, "%s\n", buf);
		line += len + (nl ? 1 : 0);
	}
	out[o < size ? o : size - 1] = '\0';
}

/* Values that vary, as "N" (null stays null: it says something). */
static void mask_json(json_object *o)
{
	static const char *const volatile_keys[] = {
		"pid",	      "os_pid",	      "uptime_ms",    "cpu_percent", "rss_kib",
		"at_ms",      "switches",     "steals",	      "cpu_ms",	     "io_submitted",
		"io_completed", "reductions", "utilisation_percent", "introspect",
	};

	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			mask_json(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, key, val)
	{
		bool vol = false;

		for (size_t i = 0; i < sizeof(volatile_keys) / sizeof(volatile_keys[0]); i++)
			vol |= !strcmp(key, volatile_keys[i]);
		if (vol && val)
			json_object_object_add(o, key, json_object_new_string("N"));
		else
			mask_json(val);
	}
}

static void assert_golden(const char *name, const char *norm)
{
	static char want[1 << 20];
	const char *dir = getenv("GOLDEN_DIR") ? getenv("GOLDEN_DIR") : "tests/golden";
	const char *update = getenv("GOLDEN_UPDATE");
	char path[PATH_MAX];
	FILE *f;

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
	cr_assert_str_eq(norm, want, "%s differs:\n--- this run (masked)\n%s--- expected\n%s", path,
			 norm, want);
}

/* ---- the screen, in tmux ----------------------------------------------------------------- */

static void tmux(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void tmux(const char *fmt, ...)
{
	char args[2048], cmd[PATH_MAX + 2048 + 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "tmux -S %s %s", TMUX_SOCK, args);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* ptop on a 100x30 terminal in tmux; skipped without tmux. */
static void screen_start(void)
{
	if (system("command -v tmux >/dev/null 2>&1") != 0)
		cr_skip_test("tmux is not installed (make deps installs it)");
	snprintf(TMUX_SOCK, sizeof(TMUX_SOCK), "%s/tmux.sock", E.dir);
	tmux("new-session -d -x 100 -y 30 'env LC_ALL=C.UTF-8 TERM=screen %s -s %s -d 0.5'", PTOP,
	     E.sock);
}

static const char *screen(void)
{
	tmux("capture-pane -p > %s", SCREEN_PATH);
	return slurp(SCREEN_PATH);
}

static bool screen_has(const char *needle, long timeout_ms)
{
	long long until = ms_now() + timeout_ms;

	do {
		if (strstr(screen(), needle))
			return true;
		msleep(50);
	} while (ms_now() < until);
	return false;
}

#define ASSERT_SCREEN(needle, ms) \
	cr_assert(screen_has(needle, ms), "the screen lacks \"%s\":\n%s", needle, screen())

/* Line n (from 0) of the screen. */
static void screen_line(int n, char *buf, size_t size)
{
	const char *s = screen();

	for (; n > 0 && s; n--) {
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	cr_assert_not_null(s);
	snprintf(buf, size, "%.*s", (int)strcspn(s, "\n"), s);
}

/* ---- batch and JSON ------------------------------------------------------------------------ */

Test(ptop, batch_golden)
{
	static char norm[1 << 20];

	start_tree();
	cr_assert_eq(PTOP("-b", "-n", "1", "--sort", "name", "--top", "3"), 0, "%s", ERR);
	cr_assert_str_eq(ERR, "");
	/* 80 columns, no trailing spaces. */
	for (const char *line = OUT; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		cr_assert_leq(len, 80, "wider than 80 columns: %.*s", (int)len, line);
		cr_assert(len == 0 || line[len - 1] != ' ', "trailing space: '%.*s'", (int)len, line);
		line += len + (nl ? 1 : 0);
	}
	mask_batch(OUT, norm, sizeof(norm));
	assert_golden("ptop_batch", norm);
}

Test(ptop, json_golden)
{
	static char norm[1 << 20];
	json_object *o, *sd, *v;

	start_tree();
	cr_assert_eq(PTOP("--json", "--sort", "mailbox", "--top", "2"), 0, "%s", ERR);
	cr_assert_str_eq(ERR, "");
	o = json_tokener_parse(OUT);
	cr_assert(json_object_is_type(o, json_type_object), "not a JSON object: %s", OUT);
	/* Facts that the mask hides, checked here. */
	cr_assert(json_object_object_get_ex(o, "spawnd", &sd));
	cr_assert(json_object_object_get_ex(sd, "pid", &v));
	cr_assert_eq(json_object_get_int(v), E.pid);
	mask_json(o);
	replace_all(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE), E.dir, "DIR", norm,
		    sizeof(norm) - 1);
	strcat(norm, "\n");
	json_object_put(o);
	assert_golden("ptop_json", norm);
}

/* spawnd's count of the restarts of the last minute, and a worker's. */
Test(ptop, restarts_counted)
{
	json_object *o, *sd, *n;

	write_conf(&E, "name = \"t\"; strategy = \"one_for_one\"; intensity = 10; period = 60;\n"
		       "children = ( { name = \"flaky\"; exec = [ \"@T\", \"exit\", \"1\", \"50\" ]; "
		       "backoff = { initial = \"10ms\"; max = \"10ms\"; }; } );");
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "flaky: restarting", 2, 10000);
	cr_assert_eq(PTOP("--json"), 0, "%s", ERR);
	o = json_tokener_parse(OUT);
	cr_assert_not_null(o, "%s", OUT);
	cr_assert(json_object_object_get_ex(o, "spawnd", &sd));
	cr_assert(json_object_object_get_ex(sd, "restarts_last_minute", &n));
	cr_assert_geq(json_object_get_int(n), 2, "%s", OUT);
	json_object_put(o);
	cr_assert_eq(PTOP("-b", "-n", "1"), 0, "%s", ERR);
	cr_assert(!strstr(OUT, ", 0 restarts in the last minute"), "%s", OUT);
	cr_assert(strstr(OUT, "exit 1"), "%s", OUT);
}

Test(ptop, unreachable_and_usage)
{
	char sock[PATH_MAX + 16];

	snprintf(sock, sizeof(sock), "%s/nothing", E.dir);
	cr_assert_eq(RUN("-s", sock, "-b", "-n", "1"), 3);
	cr_assert(strstr(ERR, sock) && strstr(ERR, "No such file"), "%s", ERR);
	cr_assert(strstr(OUT, "cannot connect"), "%s", OUT);
	cr_assert_eq(RUN("-s", sock, "--json"), 3);
	cr_assert_str_eq(OUT, "");

	cr_assert_eq(RUN("-n", "1"), 2);
	cr_assert(strstr(ERR, "-n goes with -b"), "%s", ERR);
	cr_assert_eq(RUN("-b", "--json"), 2);
	cr_assert_eq(RUN("--sort", "size", "-b"), 2);
	cr_assert(strstr(ERR, "'size'"), "%s", ERR);
	cr_assert_eq(RUN("-d", "0", "-b"), 2);
	cr_assert(strstr(ERR, "-d: '0'"), "%s", ERR);
	cr_assert_eq(RUN("-p", "x"), 2);
	cr_assert(strstr(ERR, "-p: 'x'"), "%s", ERR);
	cr_assert_eq(RUN("-s", sock, "-p", "1"), 2);
	cr_assert_eq(RUN("extra"), 2);
	cr_assert(strstr(ERR, "'extra'"), "%s", ERR);
	/* Without a terminal, and without -b or --json: said, not hung. */
	cr_assert_eq(RUN("-s", sock), 2);
	cr_assert(strstr(ERR, "not a terminal"), "%s", ERR);
}

/* A libgp program with 100,000 processes, opened by its pid: the top ones,
 * the rest counted, in one snapshot that does not take long. */
Test(ptop, crowd_by_pid)
{
	char pid[16], line[64] = "";
	long long t0, ms;
	int fds[2];
	FILE *f;

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	crowd_pid = fork();
	cr_assert_geq(crowd_pid, 0);
	if (crowd_pid == 0) {
		char count[16];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], 1);
		snprintf(count, sizeof(count), "%d", CROWD_BIG);
		/* Its socket in the test's folder (libgp's rule, which ptop
		 * follows with the same environment). */
		setenv("GP_INTROSPECT_DIR", E.dir, 1);
		execl(CROWD, "crowd", count, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	cr_assert(fgets(line, sizeof(line), f), "crowd said nothing");
	fclose(f);
	cr_assert(!strncmp(line, "ready ", 6), "%s", line);
	setenv("GP_INTROSPECT_DIR", E.dir, 1);
	snprintf(pid, sizeof(pid), "%d", crowd_pid);

	t0 = ms_now();
	cr_assert_eq(RUN("-p", pid, "-b", "-n", "1", "--sort", "mailbox", "--top", "5"), 0, "%s",
		     ERR);
	ms = ms_now() - t0;
	unsetenv("GP_INTROSPECT_DIR");
	cr_log_info("ptop -p on %d processes: %lld ms", CROWD_BIG, ms);
	/* Not a speed test: an answer, not the 2 s timeout of a stuck one. */
	cr_assert_lt(ms, 15000, "%lld ms", ms);
	cr_assert(strstr(OUT, "100007 processes"), "%s", OUT);
	/* The five busy ones on top, by mailbox, and the rest counted. */
	{
		const char *b5 = strstr(OUT, "busy-5"), *b1 = strstr(OUT, "busy-1");

		cr_assert(b5 && b1 && b5 < b1, "%s", OUT);
		cr_assert(strstr(b5, "mailbox 50"), "%s", OUT);
	}
	cr_assert(strstr(OUT, "100002 more; all: "), "%s", OUT);
	cr_assert(strstr(OUT, "100000 hibernated"), "%s", OUT);
	cr_assert_eq(count_in(OUT, "idle-"), 0, "%s", OUT);

	setenv("GP_INTROSPECT_DIR", E.dir, 1);
	cr_assert_eq(RUN("-p", pid, "--json", "--top", "1"), 0, "%s", ERR);
	unsetenv("GP_INTROSPECT_DIR");
	{
		json_object *o = json_tokener_parse(OUT), *rt, *procs, *os;

		cr_assert_not_null(o, "%s", OUT);
		cr_assert(json_object_object_get_ex(o, "runtime", &rt));
		cr_assert(json_object_object_get_ex(rt, "processes", &procs));
		cr_assert_eq(json_object_array_length(procs), 1);
		cr_assert(json_object_object_get_ex(o, "os", &os));
		json_object_put(o);
	}

	/* The screen on it: the runtime, the busy ones first once sorted by
	 * mailbox. */
	if (system("command -v tmux >/dev/null 2>&1") == 0) {
		snprintf(TMUX_SOCK, sizeof(TMUX_SOCK), "%s/tmux.sock", E.dir);
		tmux("new-session -d -x 100 -y 30 'env LC_ALL=C.UTF-8 GP_INTROSPECT_DIR=%s %s -p %s "
		     "-d 0.5 --sort mailbox'",
		     E.dir, PTOP, pid);
		ASSERT_SCREEN("libgp program", 5000);
		ASSERT_SCREEN("100007 processes", 5000);
		ASSERT_SCREEN("busy-5", 5000);
		tmux("send-keys q");
	}

	/* Gone: said, exit 3. */
	kill(crowd_pid, SIGKILL);
	waitpid(crowd_pid, NULL, 0);
	crowd_pid = -1;
	cr_assert_eq(RUN("-p", pid, "-b", "-n", "1"), 3);
	cr_assert(strstr(ERR, "no introspection socket"), "%s", ERR);
}

/* ---- the screen ------------------------------------------------------------------------- */

Test(ptop, screen_tree_and_fold)
{
	start_tree();
	screen_start();
	ASSERT_SCREEN("running: 2 schedulers", 10000);
	ASSERT_SCREEN("producer", 1000);
	/* s: by reductions, then by mailbox: the busy ones on top. */
	tmux("send-keys s");
	ASSERT_SCREEN("green processes by mailbox", 2000);
	ASSERT_SCREEN("busy-5", 5000);
	{
		const char *now = screen(), *b5 = strstr(now, "busy-5"), *b4 = strstr(now, "busy-4");

		cr_assert(b5 && b4 && b5 < b4, "%s", now);
	}
	/* demo, api, pipeline: fold the pipeline, and its workers go. */
	tmux("send-keys g j j");
	ASSERT_SCREEN("pipeline: ready, one_for_all", 2000);
	tmux("send-keys Enter");
	for (long long until = ms_now() + 3000; strstr(screen(), "producer"); msleep(50))
		cr_assert_lt(ms_now(), until, "still unfolded:\n%s", screen());
	ASSERT_SCREEN("\u25b8 pipeline", 1000);
	cr_assert(!strstr(screen(), "consumer"), "%s", screen());
	tmux("send-keys Enter");
	ASSERT_SCREEN("consumer", 3000);
	/* The help, and back. */
	tmux("send-keys ?");
	ASSERT_SCREEN("ptop: keys", 2000);
	tmux("send-keys x");
	ASSERT_SCREEN("consumer", 2000);
	tmux("send-keys q");
}

Test(ptop, screen_restart)
{
	int before, after;

	start_tree();
	before = unit_pid("api");
	cr_assert_gt(before, 0);
	screen_start();
	ASSERT_SCREEN("api", 10000);
	tmux("send-keys g j");
	ASSERT_SCREEN("api: ready", 2000);
	tmux("send-keys r");
	ASSERT_SCREEN("restart api? (y/n)", 2000);
	/* No: nothing done. */
	tmux("send-keys n");
	ASSERT_SCREEN("restart api: not done", 2000);
	cr_assert_eq(unit_pid("api"), before);
	tmux("send-keys r");
	ASSERT_SCREEN("restart api? (y/n)", 2000);
	tmux("send-keys y");
	ASSERT_SCREEN("restart api: ready (pid", 10000);
	after = unit_pid("api");
	cr_assert_gt(after, 0);
	cr_assert_neq(after, before, "api's pid is still %d", before);
	cr_assert(!alive(before), "the old api %d still runs", before);

	/* S stops it (held down), t starts it again. */
	tmux("send-keys S");
	ASSERT_SCREEN("stop api? (y/n)", 2000);
	tmux("send-keys y");
	ASSERT_SCREEN("stop api: stopped", 10000);
	cr_assert_eq(unit_pid("api"), 0);
	tmux("send-keys t");
	ASSERT_SCREEN("start api? (y/n)", 2000);
	tmux("send-keys y");
	ASSERT_SCREEN("start api: ready (pid", 10000);
	cr_assert_gt(unit_pid("api"), 0);
}

Test(ptop, screen_resize)
{
	char title[512];
	const char *info;
	size_t at100, at80;

	start_tree();
	screen_start();
	ASSERT_SCREEN("running: 2 schedulers", 10000);
	screen_line(3, title, sizeof(title));
	info = strstr(title, "INFO");
	cr_assert_not_null(info, "%s", title);
	at100 = (size_t)(info - title);
	tmux("resize-window -x 80 -y 24");
	/* Laid out again: INFO moves left, the key line to the new bottom. */
	for (long long until = ms_now() + 3000;; msleep(50)) {
		screen_line(3, title, sizeof(title));
		info = strstr(title, "INFO");
		at80 = info ? (size_t)(info - title) : 0;
		if (info && at80 < at100)
			break;
		cr_assert_lt(ms_now(), until, "not laid out again:\n%s", screen());
	}
	cr_assert_leq(at80 + 4, 80, "%s", title);
	screen_line(23, title, sizeof(title));
	cr_assert(strstr(title, "q quit"), "the last line: %s\n%s", title, screen());
}

Test(ptop, screen_spawnd_goes_and_comes_back)
{
	start_tree();
	screen_start();
	ASSERT_SCREEN("spawnd pid", 10000);
	cr_assert_eq(spawnd_stop(&E, 15000), 0);
	ASSERT_SCREEN("lost spawnd", 5000);
	ASSERT_SCREEN("cannot connect", 5000);
	spawnd_start(&E, NULL);
	ASSERT_SCREEN("reconnected to spawnd", 10000);
	ASSERT_SCREEN("spawnd pid", 5000);
	ASSERT_SCREEN("producer", 5000);
}

/* ---- sources that do not answer ----------------------------------------------------------- */

/* A Unix socket at path that accepts (the backlog does) and never answers. */
static int silent_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(listen(fd, 16), 0);
	return fd;
}

/* A spawnd that never answers: said within the status deadline (3 s), not
 * waited on for ever. */
Test(ptop, silent_spawnd)
{
	char sock[PATH_MAX + 16];
	long long t0, ms;
	int fd;

	snprintf(sock, sizeof(sock), "%s/silent", E.dir);
	fd = silent_socket(sock);
	t0 = ms_now();
	cr_assert_eq(RUN("-s", sock, "-b", "-n", "1"), 3, "%s", ERR);
	ms = ms_now() - t0;
	cr_assert(strstr(ERR, "no answer from spawnd within 3 s"), "%s", ERR);
	cr_assert_geq(ms, 3000, "gave up after %lld ms", ms);
	cr_assert_lt(ms, 15000, "%lld ms", ms);
	cr_assert_eq(RUN("-s", sock, "--json"), 3, "%s", ERR);
	close(fd);
}

/* A libgp program that never answers: said within its deadline (2 s). */
Test(ptop, silent_program)
{
	char sock[PATH_MAX + 32], pid[16];
	long long t0, ms;
	int fd;

	snprintf(sock, sizeof(sock), "%s/%d.sock", E.dir, (int)getpid());
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	fd = silent_socket(sock);
	setenv("GP_INTROSPECT_DIR", E.dir, 1);
	t0 = ms_now();
	cr_assert_eq(RUN("-p", pid, "-b", "-n", "1"), 3, "%s", ERR);
	ms = ms_now() - t0;
	unsetenv("GP_INTROSPECT_DIR");
	cr_assert(strstr(ERR, "no answer within 2 s"), "%s", ERR);
	cr_assert_geq(ms, 2000, "gave up after %lld ms", ms);
	cr_assert_lt(ms, 15000, "%lld ms", ms);
	close(fd);
}

/* ---- crash evidence ------------------------------------------------------------------------ */

/* A worker that segfaults in a named function, under a spawnd with its eBPF
 * probes: the tree says where it crashed, the JSON carries the report, and
 * the detail pane shows the stack frame by frame. */
Test(ptop, crash_report)
{
	char bpftest[PATH_MAX];
	int pid;

	if (geteuid() != 0)
		cr_skip_test("the crash probe needs root");
	abs_path("BPFTEST", "build/tests/progs/bpftest", bpftest);
	write_conf(&E,
		   "name = \"t\"; children = ( { name = \"segv\"; restart = \"temporary\"; "
		   "sandbox = \"none\"; exec = [ \"%s\", \"segv\" ]; } );",
		   bpftest);
	spawnd_start(&E, NULL);
	ASSERT_LOG(&E, "bpf: ", 1, 10000);
	if (!strstr(slurp(E.log), "bpf: full"))
		cr_skip_test("spawnd runs without its probes here: %s", strstr(slurp(E.log), "bpf: "));
	ASSERT_LOG(&E, "READY", 1, 10000);
	pid = unit_pid("segv");
	cr_assert_gt(pid, 0);
	kill(pid, SIGUSR1); /* bpftest segv: crash_in_named_function() */
	ASSERT_LOG(&E, "killed by SIGSEGV", 1, 10000);

	setenv("COLUMNS", "140", 1);
	cr_assert_eq(PTOP("-b", "-n", "1"), 0, "%s", ERR);
	unsetenv("COLUMNS");
	cr_assert(strstr(OUT, "bpf full"), "%s", OUT);
	cr_assert(strstr(OUT, "SIGSEGV in crash_in_named_function"), "%s", OUT);
	cr_assert_eq(PTOP("--json"), 0, "%s", ERR);
	cr_assert(strstr(OUT, "\"last_crash\":{"), "%s", OUT);
	cr_assert(strstr(OUT, "crash_in_named_function"), "%s", OUT);

	if (system("command -v tmux >/dev/null 2>&1") == 0) {
		snprintf(TMUX_SOCK, sizeof(TMUX_SOCK), "%s/tmux.sock", E.dir);
		tmux("new-session -d -x 140 -y 30 'env LC_ALL=C.UTF-8 %s -s %s -d 0.5'", PTOP, E.sock);
		ASSERT_SCREEN("segv", 10000);
		tmux("send-keys g j");
		ASSERT_SCREEN("crash report: ", 3000);
		ASSERT_SCREEN("#0 crash_in_named_function", 1000);
	}
}

/* States in colour (ready in green), and none with NO_COLOR. */
Test(ptop, screen_colours)
{
	const char *seen;

	start_tree();
	screen_start();
	ASSERT_SCREEN("consumer", 10000);
	tmux("capture-pane -p -e > %s", SCREEN_PATH);
	seen = slurp(SCREEN_PATH);
	cr_assert(strstr(seen, "\033[32mready"), "no green ready:\n%s", seen);
	tmux("kill-server");

	/* A new server (on a socket of its own: the last may still be going). */
	snprintf(TMUX_SOCK, sizeof(TMUX_SOCK), "%s/tmux2.sock", E.dir);
	tmux("new-session -d -x 100 -y 30 'env LC_ALL=C.UTF-8 TERM=screen NO_COLOR=1 %s -s %s -d 0.5'",
	     PTOP, E.sock);
	ASSERT_SCREEN("consumer", 10000);
	tmux("capture-pane -p -e > %s", SCREEN_PATH);
	seen = slurp(SCREEN_PATH);
	cr_assert(strstr(seen, "ready"), "%s", seen);
	for (char c = '0'; c <= '7'; c++) {
		char sgr[8] = { '\033', '[', '3', c, 'm', 0 };

		cr_assert(!strstr(seen, sgr), "colour %c with NO_COLOR:\n%s", c, seen);
	}
}
