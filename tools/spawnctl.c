/* SPDX-License-Identifier: MIT */
/*
 * spawnctl: ask a running spawnd what it is doing, and tell it what to do,
 * over its control socket (spawnd-control(7)).
 *
 *   spawnctl [-s PATH] [--json] [--timeout SECONDS] VERB [ARGS]
 *
 * One connection, one request line, one response line, printed for a
 * person or (--json) as the JSON object it is; events and logs -f then
 * print what follows until interrupted.
 *
 * Exit status: 0 done, 1 failed (an error response, a timeout), 2 usage,
 * 3 cannot reach spawnd (spawnctl(1)).
 *
 * The connection's functions return 0 or -errno; the rest is main-level
 * code, which prints and returns an exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "request.h"

#define SPAWNCTL_VERSION "0.1.0"

enum {
	EXIT_DONE = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

#define WIDTH     80   /* columns of status and tree output */
#define MARGIN_MS 5000 /* waited for a response beyond --timeout */

struct ctl;

struct verb {
	const char *name;
	const char *cmd; /* the protocol's command */
	/* Check the arguments (argv[0] is the verb) and add them to req. */
	int (*parse)(struct ctl *c, int argc, char **argv, json_object *req);
	/* An ok response, for a person. */
	int (*print)(struct ctl *c, json_object *resp);
	const char *target; /* start, stop, restart: the state they wait for */
	bool stream;        /* events follow the response (logs: with -f) */
};

struct ctl {
	const struct verb *verb;
	char path[PATH_MAX];    /* the control socket */
	bool json;              /* --json */
	long long timeout_ms;   /* --timeout */
	int sig;                /* signal: the signal sent */
	bool follow;            /* logs -f */
	bool stream;            /* events, logs -f: more lines after the response */
	bool utf8;              /* the locale's charset: box drawing and "…" */
	sigset_t waitmask;      /* streams: the mask while waiting, SIGINT and SIGTERM let in */

	struct conn conn;
};

/* Set by SIGINT or SIGTERM while a stream waits; a signal handler can only
 * reach a file-scope variable. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* ---- JSON -------------------------------------------------------------------------------- */

/* --json: the object as the line it came as. */
static int print_json(json_object *o)
{
	size_t len;
	char *line = sd_json_line(o, &len);

	if (!line) {
		fprintf(stderr, "spawnctl: %s\n", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	fwrite(line, 1, len, stdout);
	free(line);
	return EXIT_DONE;
}


/* ---- status ------------------------------------------------------------------------------ */

struct row {
	const char *name, *state; /* point into the response */
	char pid[24], uptime[24], restarts[24], last[48];
};

struct table {
	struct row *rows;
	size_t n, cap;
};

/* The node and those under it, in tree order: 0 or -ENOMEM. */
static int collect(struct table *t, json_object *node)
{
	json_object *kids = jarr(node, "children");
	struct row *r;
	int err;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct row *rows = reallocarray(t->rows, cap, sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		t->rows = rows;
		t->cap = cap;
	}
	r = &t->rows[t->n++];
	r->name = shown(jstr(node, "path"));
	r->state = jstr_or(node, "state", "?");
	if (strcmp(jstr_or(node, "type", ""), "worker") == 0) {
		long long pid = jint(node, "pid");

		snprintf(r->pid, sizeof(r->pid), pid > 0 ? "%lld" : "-", pid);
		if (pid > 0)
			fmt_uptime(r->uptime, sizeof(r->uptime), jint(node, "uptime_ms"));
		else
			snprintf(r->uptime, sizeof(r->uptime), "-");
		snprintf(r->restarts, sizeof(r->restarts), "%lld", jint(node, "restarts"));
		fmt_last_exit(r->last, sizeof(r->last), jget(node, "last_exit"));
	} else {
		/* A supervisor has no process of its own. */
		snprintf(r->pid, sizeof(r->pid), "-");
		snprintf(r->uptime, sizeof(r->uptime), "-");
		snprintf(r->restarts, sizeof(r->restarts), "-");
		snprintf(r->last, sizeof(r->last), "-");
	}
	for (size_t i = 0; i < jlen(kids); i++) {
		err = collect(t, json_object_array_get_idx(kids, i));
		if (err < 0)
			return err;
	}
	return 0;
}

static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

/*
 * One row per unit, in WIDTH columns. PID is 7 wide whatever the pids
 * (pid_max is at most 4194304), so that the layout does not move with
 * them; the NAME column gives up what the others need, down to NAME_MIN,
 * and then LAST EXIT is cut.
 */
#define NAME_MIN 16
#define PID_W    7

/* A worker's last crash and stall, as the probes saw them (spawnd(8)). */
static void print_evidence(json_object *node)
{
	json_object *crash = jget(node, "last_crash"), *stall = jget(node, "last_stall");
	json_object *frames = jarr(crash, "stack");

	if (crash) {
		printf("last crash: process %lld (%s) %s\n", jint(crash, "pid"),
		       jstr_or(crash, "comm", "?"), jstr_or(crash, "message", ""));
		for (size_t i = 0; i < jlen(frames); i++) {
			json_object *f = json_object_array_get_idx(frames, i);

			printf("  #%-2zu %s", i, jstr_or(f, "addr", "?"));
			if (jstr(f, "function"))
				printf(" %s+0x%llx", jstr(f, "function"), jint(f, "offset"));
			if (jstr(f, "file"))
				printf(" (%s:%lld)", jstr(f, "file"), jint(f, "line"));
			if (jstr(f, "module"))
				printf(" %s", jstr(f, "module"));
			fputc('\n', stdout);
		}
	}
	if (stall) {
		printf("last stall: %s\n", jstr_or(stall, "message", ""));
		if (jstr(stall, "kernel_stack"))
			printf("%s\n", jstr(stall, "kernel_stack"));
	}
}

static int print_status(struct ctl *c, json_object *resp)
{
	json_object *node = jget(resp, "status");
	struct table t = { 0 };
	size_t wn = 4, ws = 5, wp = PID_W, wu = 6, wr = 8, wl = 9, fixed;
	int r;

	if (!node) {
		fprintf(stderr, "spawnctl: spawnd's response has no status\n");
		return EXIT_FAILED;
	}
	r = collect(&t, node);
	if (r < 0) {
		fprintf(stderr, "spawnctl: %s\n", strerror(-r));
		free(t.rows);
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < t.n; i++) {
		wn = max_sz(wn, text_width(t.rows[i].name));
		ws = max_sz(ws, text_width(t.rows[i].state));
		wp = max_sz(wp, strlen(t.rows[i].pid));
		wu = max_sz(wu, strlen(t.rows[i].uptime));
		wr = max_sz(wr, strlen(t.rows[i].restarts));
		wl = max_sz(wl, strlen(t.rows[i].last));
	}
	fixed = ws + wp + wu + wr + 5 * 2;
	if (wn + fixed + wl > WIDTH) {
		size_t room = max_sz(WIDTH > fixed + wl ? WIDTH - fixed - wl : 0, NAME_MIN);

		wn = room < wn ? room : wn;
	}
	/* LAST EXIT is not padded: it gets what is left. */
	wl = WIDTH > wn + fixed ? WIDTH - wn - fixed : 1;

	put_fit(stdout, c->utf8, "NAME", wn, CUT_END, true);
	fputs("  ", stdout);
	put_fit(stdout, c->utf8, "STATE", ws, CUT_END, true);
	fputs("  ", stdout);
	put_right(stdout, "PID", wp);
	fputs("  ", stdout);
	put_fit(stdout, c->utf8, "UPTIME", wu, CUT_END, true);
	fputs("  ", stdout);
	put_right(stdout, "RESTARTS", wr);
	fputs("  ", stdout);
	put_fit(stdout, c->utf8, "LAST EXIT", wl, CUT_END, false);
	fputc('\n', stdout);
	for (size_t i = 0; i < t.n; i++) {
		const struct row *row = &t.rows[i];

		put_fit(stdout, c->utf8, row->name, wn, CUT_MIDDLE, true);
		fputs("  ", stdout);
		put_fit(stdout, c->utf8, row->state, ws, CUT_END, true);
		fputs("  ", stdout);
		put_right(stdout, row->pid, wp);
		fputs("  ", stdout);
		put_fit(stdout, c->utf8, row->uptime, wu, CUT_END, true);
		fputs("  ", stdout);
		put_right(stdout, row->restarts, wr);
		fputs("  ", stdout);
		put_fit(stdout, c->utf8, row->last, wl, CUT_END, false);
		fputc('\n', stdout);
	}
	free(t.rows);
	print_evidence(node);
	if (jstr(resp, "bpf") && strcmp(jstr(resp, "bpf"), "full") != 0)
		printf("bpf: %s\n", jstr(resp, "bpf"));
	return EXIT_DONE;
}

/* ---- tree -------------------------------------------------------------------------------- */

/* What the tree says of a node after its name. */
static void node_details(FILE *f, json_object *node)
{
	const char *state = jstr_or(node, "state", "?");
	const char *text;
	char buf[48];
	long long n;

	fputs(state, f);
	if (jbool(node, "held") && strcmp(state, "stopped") == 0)
		fputs(" (held)", f);
	else if (jbool(node, "held"))
		fputs(", held", f);
	if (strcmp(jstr_or(node, "type", ""), "worker") != 0) {
		fmt_secs(buf, sizeof(buf), jint(node, "period_ms"));
		fprintf(f, ", %s, intensity %lld per %s", jstr_or(node, "strategy", "?"),
			jint(node, "intensity"), buf);
		n = (long long)jlen(jarr(node, "restarts_in_period"));
		if (n)
			fprintf(f, ", %lld restart%s in period", n, plural(n));
		return;
	}
	n = jint(node, "pid");
	if (n > 0) {
		fmt_uptime(buf, sizeof(buf), jint(node, "uptime_ms"));
		fprintf(f, ", pid %lld, up %s", n, buf);
	}
	n = jint(node, "restarts");
	if (n)
		fprintf(f, ", %lld restart%s", n, plural(n));
	if (jget(node, "last_exit")) {
		fmt_last_exit(buf, sizeof(buf), jget(node, "last_exit"));
		fprintf(f, ", last: %s", buf);
	}
	if (jbool(node, "stalled"))
		fputs(", stalled", f);
	text = jstr(node, "status_text");
	if (text && *text)
		fprintf(f, ", \"%s\"", text);
}

/* prefix: what goes before the branch of node's line (the lines of its
 * ancestors' later siblings). */
static int print_tree_node(struct ctl *c, json_object *node, char **prefix, size_t *plen,
			   int depth, bool last)
{
	const char *branch = !depth ? "" : c->utf8 ? (last ? "\u2514\u2500" : "\u251c\u2500") :
					 (last ? "`-" : "|-");
	const char *below = !depth ? "" : last ? "  " : c->utf8 ? "\u2502 " : "| ";
	/* The top by its path, for a subtree; the rest by their names. */
	const char *label = depth ? jstr_or(node, "name", shown(jstr(node, "path"))) :
				    shown(jstr(node, "path"));
	json_object *kids = jarr(node, "children");
	size_t len, saved = *plen;
	char *line = NULL, *p;
	FILE *f;
	int r = 0;

	f = open_memstream(&line, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "%.*s%s%s: ", (int)*plen, *prefix, branch, label);
	node_details(f, node);
	if (fclose(f) != 0) {
		free(line);
		return -ENOMEM;
	}
	put_fit(stdout, c->utf8, line, WIDTH, CUT_END, false);
	fputc('\n', stdout);
	free(line);

	p = realloc(*prefix, *plen + strlen(below) + 1);
	if (!p)
		return -ENOMEM;
	*prefix = p;
	memcpy(p + *plen, below, strlen(below) + 1);
	*plen += strlen(below);
	for (size_t i = 0; i < jlen(kids) && r == 0; i++)
		r = print_tree_node(c, json_object_array_get_idx(kids, i), prefix, plen, depth + 1,
				    i + 1 == jlen(kids));
	*plen = saved;
	return r;
}

static int print_tree(struct ctl *c, json_object *resp)
{
	json_object *node = jget(resp, "status");
	char *prefix = NULL;
	size_t plen = 0;
	int r;

	if (!node) {
		fprintf(stderr, "spawnctl: spawnd's response has no status\n");
		return EXIT_FAILED;
	}
	r = print_tree_node(c, node, &prefix, &plen, 0, true);
	free(prefix);
	if (r < 0) {
		fprintf(stderr, "spawnctl: %s\n", strerror(-r));
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}

/* ---- the other responses ----------------------------------------------------------------- */

/* start, stop, restart: "pipeline/consumer: ready (pid 1234)". */
static int print_results(struct ctl *c, json_object *resp)
{
	json_object *results = jarr(resp, "results");

	(void)c;
	for (size_t i = 0; i < jlen(results); i++) {
		json_object *o = json_object_array_get_idx(results, i);
		long long pid = jint(o, "pid");

		printf("%s: %s", shown(jstr(o, "name")), jstr_or(o, "state", "?"));
		if (pid > 0)
			printf(" (pid %lld)", pid);
		fputc('\n', stdout);
	}
	return EXIT_DONE;
}

static int print_signal(struct ctl *c, json_object *resp)
{
	json_object *results = jarr(resp, "results");
	char sig[16];

	sd_signal_str(c->sig, sig);
	for (size_t i = 0; i < jlen(results); i++) {
		json_object *o = json_object_array_get_idx(results, i);
		json_object *pids = jarr(o, "pids");
		size_t n = jlen(pids);

		printf("%s: ", shown(jstr(o, "name")));
		if (!n) {
			printf("no process to signal\n");
			continue;
		}
		printf("%s to pid%s ", sig, n == 1 ? "" : "s");
		for (size_t k = 0; k < n; k++) {
			json_object *pid = json_object_array_get_idx(pids, k);

			printf("%s%lld", k ? ", " : "", (long long)json_object_get_int64(pid));
		}
		fputc('\n', stdout);
	}
	return EXIT_DONE;
}

static int print_logs(struct ctl *c, json_object *resp)
{
	json_object *lines = jarr(resp, "lines");

	(void)c;
	for (size_t i = 0; i < jlen(lines); i++)
		printf("%s\n", json_object_get_string(json_object_array_get_idx(lines, i)));
	return EXIT_DONE;
}

static int print_reload(struct ctl *c, json_object *resp)
{
	static const char *const keys[] = { "added", "removed", "changed" };

	(void)c;
	for (size_t k = 0; k < 3; k++) {
		json_object *paths = jarr(resp, keys[k]);

		for (size_t i = 0; i < jlen(paths); i++)
			printf("%-8s %s\n", keys[k],
			       shown(json_object_get_string(json_object_array_get_idx(paths, i))));
	}
	printf("%lld unchanged\n", jint(resp, "unchanged"));
	return EXIT_DONE;
}

static int print_shutdown(struct ctl *c, json_object *resp)
{
	(void)c;
	(void)resp;
	printf("spawnd is shutting down\n");
	return EXIT_DONE;
}

static int print_nothing(struct ctl *c, json_object *resp)
{
	(void)c;
	(void)resp;
	return EXIT_DONE;
}

/* "a, b, c" */
static void put_list(FILE *f, json_object *arr)
{
	for (size_t i = 0; i < jlen(arr); i++)
		fprintf(f, "%s%s", i ? ", " : "",
			shown(json_object_get_string(json_object_array_get_idx(arr, i))));
}

/* "12:03:04.123 crashed pipeline/consumer pid 1234: killed by SIGSEGV (core dumped)" */
static void print_event(json_object *ev)
{
	const char *type = jstr_or(ev, "event", "?");
	/* A crash the probes saw says where: its report's message. */
	const char *msg = jstr(jget(ev, "crash"), "message") ? jstr(jget(ev, "crash"), "message")
							    : jstr(ev, "message");
	long long t = jint(ev, "time_ms"), pid = jint(ev, "pid");
	time_t sec = (time_t)(t / 1000);
	struct tm tm;
	char hms[16] = "??:??:??", buf[48];

	if (localtime_r(&sec, &tm))
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	printf("%s.%03lld %s %s", hms, t % 1000, type, shown(jstr(ev, "name")));
	if (pid > 0)
		printf(" pid %lld", pid);
	if (!strcmp(type, "exited") || (!strcmp(type, "crashed") && !msg)) {
		const char *sig = jstr(ev, "signal");

		if (sig)
			printf(": killed by %s%s", sig, jbool(ev, "core") ? " (core dumped)" : "");
		else
			printf(": exit status %lld", jint(ev, "code"));
	} else if (!strcmp(type, "restarted")) {
		printf(" (%s): ", jstr_or(ev, "strategy", "?"));
		put_list(stdout, jarr(ev, "children"));
	} else if (!strcmp(type, "gave_up")) {
		fmt_secs(buf, sizeof(buf), jint(ev, "period_ms"));
		printf(": more than %lld restart%s in %s", jint(ev, "intensity"),
		       plural(jint(ev, "intensity")), buf);
	} else if (!strcmp(type, "reloaded")) {
		static const char *const keys[] = { "added", "removed", "changed" };
		const char *sep = ": ";

		for (size_t k = 0; k < 3; k++) {
			if (!jlen(jarr(ev, keys[k])))
				continue;
			printf("%s%s ", sep, keys[k]);
			put_list(stdout, jarr(ev, keys[k]));
			sep = "; ";
		}
		if (!strcmp(sep, ": "))
			printf(": no changes");
	} else if (!strcmp(type, "log")) {
		printf(" %s: %s", jstr_or(ev, "stream", "?"), jstr_or(ev, "line", ""));
	} else if (msg) {
		printf(": %s", msg);
	}
	fputc('\n', stdout);
}

/* A line that came after the response: an event, or a log line. */
static void print_followed(struct ctl *c, json_object *ev)
{
	const char *type = jstr(ev, "event");

	if (c->json)
		(void)print_json(ev);
	else if (c->follow && type && !strcmp(type, "log"))
		printf("%s\n", jstr_or(ev, "line", ""));
	else if (!c->follow)
		print_event(ev);
}

/* An error response, on stderr: a timeout names the units that did not
 * get there; a configuration error lists its errors. */
static int print_error(struct ctl *c, json_object *resp)
{
	json_object *err = jget(resp, "error");
	json_object *results = jarr(err, "results"), *errors = jarr(err, "errors");
	const char *code = jstr(err, "code"), *msg = jstr(err, "message");
	size_t late = 0;
	char secs[48];

	if (code && !strcmp(code, SD_ERR_TIMEOUT) && c->verb->target) {
		fmt_secs(secs, sizeof(secs), c->timeout_ms);
		for (size_t i = 0; i < jlen(results); i++) {
			json_object *o = json_object_array_get_idx(results, i);
			const char *state = jstr_or(o, "state", "?");

			if (!strcmp(state, c->verb->target))
				continue;
			fprintf(stderr, "spawnctl: %s: not %s after %s (%s)\n",
				shown(jstr(o, "name")), c->verb->target, secs, state);
			late++;
		}
	}
	if (!late)
		fprintf(stderr, "spawnctl: %s\n", msg && *msg ? msg : code ? code : "failed");
	for (size_t i = 0; i < jlen(errors); i++)
		fprintf(stderr, "spawnctl: %s\n",
			json_object_get_string(json_object_array_get_idx(errors, i)));
	return EXIT_FAILED;
}

/* ---- arguments --------------------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("spawnctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* An option of spawnctl's own, given after the verb. */
static bool misplaced(const char *arg)
{
	static const char *const opts[] = { "-s", "--socket", "--json", "--timeout", "-h",
					    "--help", "--version" };

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		size_t n = strlen(opts[i]);

		if (!strncmp(arg, opts[i], n) && (!arg[n] || (opts[i][1] == '-' && arg[n] == '=')))
			return true;
	}
	return false;
}

/*
 * The arguments of a verb that has no options, into args (argc slots):
 * their count, or -EINVAL once said why. "--" ends the options, for a name
 * that starts with '-'.
 */
static int plain_args(int argc, char **argv, char **args)
{
	bool opts = true;
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (opts && !strcmp(argv[i], "--")) {
			opts = false;
			continue;
		}
		if (opts && argv[i][0] == '-' && argv[i][1]) {
			if (misplaced(argv[i]))
				usage_error("%s: the option '%s' goes before the command", argv[0],
					    argv[i]);
			else
				usage_error("%s: unknown option '%s'", argv[0], argv[i]);
			return -EINVAL;
		}
		args[n++] = argv[i];
	}
	return n;
}

static int add_string(json_object *o, const char *key, const char *s)
{
	json_object *v = json_object_new_string(s);

	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_int(json_object *o, const char *key, long long n)
{
	json_object *v = json_object_new_int64(n);

	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_names(json_object *o, char **names, int n)
{
	json_object *arr = json_object_new_array_ext(n);

	if (!arr)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		json_object *s = json_object_new_string(names[i]);

		if (!s || json_object_array_add(arr, s) < 0) {
			json_object_put(s);
			json_object_put(arr);
			return -ENOMEM;
		}
	}
	if (json_object_object_add(o, "names", arr) < 0) {
		json_object_put(arr);
		return -ENOMEM;
	}
	return 0;
}

static int nomem(void)
{
	fprintf(stderr, "spawnctl: %s\n", strerror(ENOMEM));
	return EXIT_FAILED;
}

/* status [NAME], tree [NAME] */
static int parse_name_opt(struct ctl *c, int argc, char **argv, json_object *req)
{
	char **args = calloc((size_t)argc, sizeof(*args));
	int n, ex = EXIT_DONE;

	(void)c;
	if (!args)
		return nomem();
	n = plain_args(argc, argv, args);
	if (n < 0)
		ex = EXIT_USAGE;
	else if (n > 1)
		ex = usage_error("%s: unexpected argument '%s': one NAME at most", argv[0],
				 args[1]);
	else if (n == 1 && add_string(req, "name", args[0]) < 0)
		ex = nomem();
	free(args);
	return ex;
}

/* start|stop|restart NAME... */
static int parse_names(struct ctl *c, int argc, char **argv, json_object *req)
{
	char **args = calloc((size_t)argc, sizeof(*args));
	int n, ex = EXIT_DONE;

	if (!args)
		return nomem();
	n = plain_args(argc, argv, args);
	if (n < 0)
		ex = EXIT_USAGE;
	else if (n == 0)
		ex = usage_error("%s: missing NAME", argv[0]);
	else if (n > SD_NAMES_MAX)
		ex = usage_error("%s: %d names, more than %d", argv[0], n, SD_NAMES_MAX);
	else if (add_names(req, args, n) < 0 || add_int(req, "timeout_ms", c->timeout_ms) < 0)
		ex = nomem();
	free(args);
	return ex;
}

/* signal NAME... SIG */
static int parse_signal(struct ctl *c, int argc, char **argv, json_object *req)
{
	char **args = calloc((size_t)argc, sizeof(*args));
	int n, sig, ex = EXIT_DONE;

	if (!args)
		return nomem();
	n = plain_args(argc, argv, args);
	if (n < 0) {
		ex = EXIT_USAGE;
	} else if (n == 0) {
		ex = usage_error("signal: missing NAME and SIG");
	} else if ((sig = sd_signal_parse(args[n - 1])) < 0 && n == 1) {
		ex = usage_error("signal: missing SIG after the name '%s'", args[0]);
	} else if (sig < 0) {
		ex = usage_error("signal: '%s' is not a signal: a name such as TERM or SIGTERM, "
				 "or a number from 1 to 64",
				 args[n - 1]);
	} else if (n == 1) {
		ex = usage_error("signal: missing NAME before the signal '%s'", args[0]);
	} else if (n - 1 > SD_NAMES_MAX) {
		ex = usage_error("signal: %d names, more than %d", n - 1, SD_NAMES_MAX);
	} else {
		c->sig = sig;
		/* As a number: the same on both ends of a Unix socket, and not
		 * subject to how the other end spells names. */
		if (add_names(req, args, n - 1) < 0 || add_int(req, "signal", sig) < 0)
			ex = nomem();
	}
	free(args);
	return ex;
}

/* logs [-n N] [-f] NAME */
static int parse_logs(struct ctl *c, int argc, char **argv, json_object *req)
{
	static const struct option longopts[] = {
		{ "lines", required_argument, NULL, 'n' },
		{ "follow", no_argument, NULL, 'f' },
		{ 0 },
	};
	const char *lines = NULL;
	unsigned long long n = 0;
	char *end;
	int opt;

	opterr = 0;
	optind = 0; /* GNU: start afresh on this argv */
	while ((opt = getopt_long(argc, argv, ":n:f", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			lines = optarg;
			break;
		case 'f':
			c->follow = true;
			break;
		case ':':
			return usage_error("logs: -n needs a number of lines");
		default:
			if (misplaced(argv[optind - 1]))
				return usage_error("logs: the option '%s' goes before the command",
						   argv[optind - 1]);
			return usage_error("logs: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (lines) {
		errno = 0;
		n = strtoull(lines, &end, 10);
		if (lines[0] < '0' || lines[0] > '9' || *end || errno || n > INT64_MAX)
			return usage_error("logs: -n: '%s' is not a number of lines", lines);
	}
	if (optind >= argc)
		return usage_error("logs: missing NAME");
	if (optind + 1 < argc)
		return usage_error("logs: unexpected argument '%s': one NAME", argv[optind + 1]);
	if (add_string(req, "name", argv[optind]) < 0 ||
	    (lines && add_int(req, "lines", (long long)n) < 0))
		return nomem();
	if (c->follow) {
		json_object *t = json_object_new_boolean(true);

		if (!t || json_object_object_add(req, "follow", t) < 0) {
			json_object_put(t);
			return nomem();
		}
		c->stream = true;
	}
	return EXIT_DONE;
}

/* events, reload, shutdown */
static int parse_none(struct ctl *c, int argc, char **argv, json_object *req)
{
	char **args = calloc((size_t)argc, sizeof(*args));
	int n, ex = EXIT_DONE;

	(void)c;
	(void)req;
	if (!args)
		return nomem();
	n = plain_args(argc, argv, args);
	if (n < 0)
		ex = EXIT_USAGE;
	else if (n > 0)
		ex = usage_error("%s: unexpected argument '%s'", argv[0], args[0]);
	free(args);
	return ex;
}

static const struct verb verbs[] = {
	{ "status", "status", parse_name_opt, print_status, NULL, false },
	{ "tree", "status", parse_name_opt, print_tree, NULL, false },
	{ "start", "start", parse_names, print_results, "ready", false },
	{ "stop", "stop", parse_names, print_results, "stopped", false },
	{ "restart", "restart", parse_names, print_results, "ready", false },
	{ "signal", "signal", parse_signal, print_signal, NULL, false },
	{ "logs", "logs", parse_logs, print_logs, NULL, false },
	{ "events", "events", parse_none, print_nothing, NULL, true },
	{ "reload", "reload", parse_none, print_reload, NULL, false },
	{ "shutdown", "shutdown", parse_none, print_shutdown, NULL, false },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: spawnctl [-s PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  status [NAME]          each unit: state, pid, uptime, restarts, last exit\n"
		"  tree [NAME]            the supervision tree\n"
		"  start NAME...          start units, and wait until they are ready\n"
		"  stop NAME...           stop units (held down until started), and wait\n"
		"  restart NAME...        stop and start again, and wait until ready\n"
		"  signal NAME... SIG     send SIG (TERM, SIGHUP, 9...) to the workers\n"
		"  logs [-n N] [-f] NAME  a worker's last N lines (10); -f: then follow\n"
		"  events                 print events as they come, until interrupted\n"
		"  reload                 read the configuration again and apply it\n"
		"  shutdown               stop the whole tree; spawnd exits\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH      the control socket (default: $SPAWND_CONTROL, else\n"
		"                         /run/spawnd/control for root, else\n"
		"                         $XDG_RUNTIME_DIR/spawnd/control)\n"
		"      --json             print responses and events as JSON lines\n"
		"      --timeout SECONDS  how long start, stop and restart wait (10)\n"
		"  -h, --help             print this help\n"
		"      --version          print spawnctl's version\n"
		"\n"
		"exit status: 0 done, 1 failed, 2 usage, 3 cannot reach spawnd\n");
}

/*
 * The options before the verb: EXIT_DONE and *ret_verb (argv's index of
 * the verb; 0 when --help or --version was answered), or EXIT_USAGE.
 */
static int parse_options(struct ctl *c, int argc, char **argv, int *ret_verb)
{
	enum { OPT_JSON = 256, OPT_TIMEOUT, OPT_VERSION };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	const char *sock = NULL;
	double secs;
	char *end;
	int opt, r;

	opterr = 0;
	/* '+': the options end at the verb, whose own come after it. */
	while ((opt = getopt_long(argc, argv, "+:s:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			if (!*sock)
				return usage_error("-s: empty path");
			break;
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			secs = strtod(optarg, &end);
			/* The range test is also false for NaN. */
			if (end == optarg || *end || errno ||
			    !(secs >= 0 && secs <= SD_TIMEOUT_MAX_MS / 1000))
				return usage_error("--timeout: '%s' is not a number of seconds "
						   "from 0 to %d",
						   optarg, SD_TIMEOUT_MAX_MS / 1000);
			c->timeout_ms = (long long)(secs * 1000 + 0.5);
			break;
		case 'h':
			usage(stdout);
			*ret_verb = 0;
			return EXIT_DONE;
		case OPT_VERSION:
			printf("spawnctl %s (control protocol %d)\n", SPAWNCTL_VERSION,
			       SD_PROTO_VERSION);
			*ret_verb = 0;
			return EXIT_DONE;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'; see spawnctl --help",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("missing COMMAND; see spawnctl --help");

	r = control_path(sock, c->path, sizeof(c->path));
	if (r == -ENOENT)
		return usage_error("XDG_RUNTIME_DIR is not set, so there is no "
				   "default control socket: give one with -s PATH or "
				   "SPAWND_CONTROL");
	if (r == -ENAMETOOLONG)
		return usage_error("socket path too long: %s",
				   sock ? sock : getenv("SPAWND_CONTROL") ? getenv("SPAWND_CONTROL") : "");
	if (r < 0)
		return usage_error("default control socket path: %s", strerror(-r));
	*ret_verb = optind;
	return EXIT_DONE;
}

/* ---- main -------------------------------------------------------------------------------- */

/* A failed read of spawnd's response or stream, said for a person. */
static int read_failed(struct ctl *c, int r, bool answered)
{
	char secs[48];

	switch (r) {
	case 0:
	case -ECONNRESET: /* closed with our request unread */
		fprintf(stderr, "spawnctl: spawnd at %s closed the connection%s\n", c->path,
			answered ? "" : " before answering");
		return EXIT_UNREACHABLE;
	case -ETIMEDOUT:
		fmt_secs(secs, sizeof(secs), c->timeout_ms + MARGIN_MS);
		fprintf(stderr, "spawnctl: no answer from spawnd at %s within %s\n", c->path, secs);
		return EXIT_FAILED;
	case -EMSGSIZE:
		fprintf(stderr, "spawnctl: spawnd at %s sent a line longer than %u MiB\n", c->path,
			CLIENT_RESPONSE_MAX >> 20);
		return EXIT_FAILED;
	case -ENOMEM:
		return nomem();
	default:
		fprintf(stderr, "spawnctl: lost the connection to spawnd at %s: %s\n", c->path,
			strerror(-r));
		return EXIT_UNREACHABLE;
	}
}

static int bad_line(struct ctl *c, const char *line)
{
	fprintf(stderr, "spawnctl: spawnd at %s sent what is not a JSON object: %.60s\n", c->path,
		line);
	return EXIT_FAILED;
}

/* Wait for the response: events that come first are a stream's. */
static int read_response(struct ctl *c, json_object **ret_resp)
{
	long long deadline = mono_ms() + c->timeout_ms + MARGIN_MS;
	json_object *o;
	size_t len;
	char *line;
	int r;

	for (;;) {
		r = conn_read_line(&c->conn, deadline, c->stream ? &c->waitmask : NULL, &stop_signal,
				   &line, &len);
		if (r == -EINTR)
			return EXIT_DONE; /* *ret_resp NULL: the stream's end */
		if (r <= 0)
			return read_failed(c, r, false);
		o = parse_object(line, len);
		if (!o)
			return bad_line(c, line);
		if (jget(o, "ok")) {
			*ret_resp = o;
			return EXIT_DONE;
		}
		if (c->stream)
			print_followed(c, o);
		json_object_put(o);
	}
}

/* events, logs -f: what comes after the response, until SIGINT or SIGTERM. */
static int follow(struct ctl *c)
{
	json_object *o;
	size_t len;
	char *line;
	int r;

	for (;;) {
		if (fflush(stdout) != 0)
			return EXIT_FAILED;
		r = conn_read_line(&c->conn, -1, c->stream ? &c->waitmask : NULL, &stop_signal, &line,
				   &len);
		if (r == -EINTR)
			return EXIT_DONE;
		if (r <= 0)
			return read_failed(c, r, true);
		o = parse_object(line, len);
		if (!o)
			return bad_line(c, line);
		print_followed(c, o);
		json_object_put(o);
	}
}

/* SIGINT and SIGTERM end a stream quietly: blocked but while waiting. */
static int catch_stop(struct ctl *c)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &c->waitmask) < 0)
		return -errno;
	sigdelset(&c->waitmask, SIGINT);
	sigdelset(&c->waitmask, SIGTERM);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c = { .conn = CONN_INIT, .timeout_ms = SD_TIMEOUT_DEF_MS };
	json_object *req = NULL, *resp = NULL;
	char *line = NULL;
	size_t len;
	int vi = 0, ex, r;

	setlocale(LC_CTYPE, "");
	c.utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");

	ex = parse_options(&c, argc, argv, &vi);
	if (ex != EXIT_DONE || !vi)
		goto cleanup;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[vi], verbs[i].name))
			c.verb = &verbs[i];
	if (!c.verb) {
		ex = usage_error("unknown command '%s'; see spawnctl --help", argv[vi]);
		goto cleanup;
	}

	req = json_object_new_object();
	if (!req || add_int(req, "v", SD_PROTO_VERSION) < 0 ||
	    add_string(req, "cmd", c.verb->cmd) < 0) {
		ex = nomem();
		goto cleanup;
	}
	c.stream = c.verb->stream;
	ex = c.verb->parse(&c, argc - vi, argv + vi, req);
	if (ex != EXIT_DONE)
		goto cleanup;
	line = sd_json_line(req, &len);
	if (!line) {
		ex = nomem();
		goto cleanup;
	}
	if (len > SD_REQUEST_MAX) {
		ex = usage_error("%s: the request would be %zu bytes, more than spawnd reads (%d): "
				 "give fewer names",
				 c.verb->name, len, SD_REQUEST_MAX);
		goto cleanup;
	}

	if (c.stream) {
		r = catch_stop(&c);
		if (r < 0) {
			fprintf(stderr, "spawnctl: signals: %s\n", strerror(-r));
			ex = EXIT_FAILED;
			goto cleanup;
		}
	}
	r = conn_open(&c.conn, c.path, c.timeout_ms + MARGIN_MS);
	if (r < 0) {
		fprintf(stderr, "spawnctl: cannot reach spawnd at %s: %s\n", c.path,
			r == -EAGAIN ? "it does not accept connections" : strerror(-r));
		ex = EXIT_UNREACHABLE;
		goto cleanup;
	}
	r = conn_send(&c.conn, line, len);
	if (r == -EPIPE || r == -ECONNRESET) {
		ex = read_failed(&c, 0, false);
		goto cleanup;
	}
	if (r < 0) {
		fprintf(stderr, "spawnctl: lost the connection to spawnd at %s: %s\n", c.path,
			r == -EAGAIN ? "it does not read" : strerror(-r));
		ex = EXIT_UNREACHABLE;
		goto cleanup;
	}

	ex = read_response(&c, &resp);
	if (ex != EXIT_DONE || !resp)
		goto cleanup;
	if (c.json)
		ex = print_json(resp);
	if (!jbool(resp, "ok"))
		ex = print_error(&c, resp);
	else if (!c.json)
		ex = c.verb->print(&c, resp);
	if (ex == EXIT_DONE && c.stream)
		ex = follow(&c);

cleanup:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "spawnctl: writing the output: %s\n", strerror(errno));
		if (ex == EXIT_DONE)
			ex = EXIT_FAILED;
	}
	conn_close(&c.conn);
	free(line);
	json_object_put(resp);
	json_object_put(req);
	return ex;
}
