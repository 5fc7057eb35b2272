/* SPDX-License-Identifier: MIT */
/*
 * ptop: like top, shaped by supervision (ptop(1)).
 *
 *   ptop [-s PATH] [-p OSPID] [-d SECONDS] [--sort KEY] [--top N] [--filter TEXT]
 *        [-b [-n COUNT] | --json]
 *
 * Interactive on a terminal (ptop_screen.c); -b prints frames as text,
 * --json one snapshot. The sources are polled, never waited on beyond
 * their deadlines (ptop.h).
 *
 * Exit status: 0 done, 1 failed, 2 usage, 3 cannot reach spawnd (or, with
 * -p, the program's introspection socket).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptop.h"

#define PTOP_VERSION "0.1.0"

enum {
	EXIT_DONE = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

#define POLL_MAX (GP_SOURCES_MAX + 2)

/* ---- sources ------------------------------------------------------------------------------- */

/* Forget the programs no longer shown: their sockets are gone, or their
 * workers were restarted with new pids. */
static void gp_sweep(struct view *v)
{
	size_t k = 0;

	for (size_t i = 0; i < v->ngp; i++) {
		if (!v->gp[i].wanted) {
			gp_source_free(&v->gp[i]);
			continue;
		}
		if (k != i)
			v->gp[k] = v->gp[i];
		k++;
	}
	v->ngp = k;
}

void refresh_start(struct view *v, long long now)
{
	struct proc_table t;

	if (v->link) {
		link_tick(v->link, now);
		link_ask_status(v->link, now);
	}
	if (proc_sample(&t, &v->procs) == 0) {
		proc_table_free(&v->procs);
		v->procs = t;
	} else {
		proc_table_free(&t);
	}
	gp_sweep(v);
	for (size_t i = 0; i < v->ngp; i++)
		(void)gp_fetch(&v->gp[i], &v->query, now);
}

size_t sources_pollfds(struct view *v, struct pollfd *pfd, size_t max)
{
	size_t n = 0;

	if (v->link && link_up(v->link) && n < max)
		pfd[n++] = (struct pollfd){ .fd = v->link->conn.fd, .events = POLLIN };
	for (size_t i = 0; i < v->ngp && n < max; i++)
		if (v->gp[i].fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = v->gp[i].fd, .events = POLLIN };
	return n;
}

void sources_ready(struct view *v, struct pollfd *pfd, size_t n, long long now)
{
	for (size_t i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		if (v->link && link_up(v->link) && pfd[i].fd == v->link->conn.fd) {
			link_readable(v->link, now);
			continue;
		}
		for (size_t k = 0; k < v->ngp; k++)
			if (v->gp[k].fd == pfd[i].fd)
				(void)gp_readable(&v->gp[k], now);
	}
	if (v->link)
		link_tick(v->link, now);
	for (size_t k = 0; k < v->ngp; k++)
		gp_tick(&v->gp[k], now);
}

static bool gp_busy(const struct view *v)
{
	for (size_t i = 0; i < v->ngp; i++)
		if (v->gp[i].fd >= 0)
			return true;
	return false;
}

/* Batch: serve the sources until what is waited for came, or its
 * deadline passed (each source has its own, shorter or equal). */
static void wait_for(struct view *v, bool status, long long until)
{
	struct pollfd pfd[POLL_MAX];

	for (long long now = mono_ms(); now < until; now = mono_ms()) {
		size_t n;

		if (status ? !v->link || !link_waiting(v->link, REQ_STATUS) : !gp_busy(v))
			return;
		n = sources_pollfds(v, pfd, POLL_MAX);
		if (poll(pfd, n, (int)(until - now < 100 ? until - now : 100)) < 0 && errno != EINTR)
			return;
		sources_ready(v, pfd, n, mono_ms());
	}
}

/* One round of every source, as batch mode and --json need it whole:
 * spawnd first (it names the libgp programs), then the programs. */
static void round_whole(struct view *v, struct rows *rows)
{
	refresh_start(v, mono_ms());
	wait_for(v, true, mono_ms() + STATUS_WAIT_MS);
	(void)rows_build(v, rows); /* finds the programs */
	for (size_t i = 0; i < v->ngp; i++)
		(void)gp_fetch(&v->gp[i], &v->query, mono_ms());
	wait_for(v, false, mono_ms() + GP_WAIT_MS);
	(void)rows_build(v, rows);
}

/* ---- batch ---------------------------------------------------------------------------------- */

static int batch_cols(void)
{
	const char *c = getenv("COLUMNS");
	char *end;
	long n = c ? strtol(c, &end, 10) : 0;

	return c && *c && !*end && n >= 40 && n <= 1000 ? (int)n : 80;
}

/* Reached the source: spawnd's status, or the program's answer. */
static bool reached(const struct view *v)
{
	if (v->single_pid)
		return v->ngp && v->gp[0].answer && !v->gp[0].err[0];
	return link_up(v->link) && v->link->status;
}

static void say_unreachable(const struct view *v)
{
	if (v->single_pid)
		fprintf(stderr, "ptop: libgp program %d: %s\n", v->single_pid,
			v->ngp && v->gp[0].err[0] ? v->gp[0].err : "no answer");
	else
		fprintf(stderr, "ptop: spawnd at %s: %s\n", v->link->path,
			v->link->down_why[0] ? v->link->down_why : "no status");
}

static int run_batch(struct view *v, long long count, long long delay_ms)
{
	struct rows rows = { 0 };
	struct layout lay;
	struct header h;
	int ex = EXIT_DONE;

	layout_for(batch_cols(), &lay);
	for (long long i = 0; count < 0 || i < count; i++) {
		long long next = mono_ms() + delay_ms;

		round_whole(v, &rows);
		header_build(v, &h);
		if (i)
			fputc('\n', stdout);
		/* The header fits the width like the rows. */
		put_fit(stdout, v->utf8, h.line1, (size_t)batch_cols(), CUT_END, false);
		fputc('\n', stdout);
		put_fit(stdout, v->utf8, h.line2, (size_t)batch_cols(), CUT_END, false);
		fputc('\n', stdout);
		if (v->link && v->link->news[0])
			printf("%s\n", v->link->news);
		fputc('\n', stdout);
		(void)row_print(v, NULL, &lay, stdout);
		for (size_t k = 0; k < rows.n; k++)
			(void)row_print(v, &rows.v[k], &lay, stdout);
		ex = reached(v) ? EXIT_DONE : EXIT_UNREACHABLE;
		if (fflush(stdout) != 0)
			break;
		if (count < 0 || i + 1 < count) {
			long long left = next - mono_ms();

			if (left > 0)
				(void)poll(NULL, 0, (int)left);
		}
	}
	if (ex == EXIT_UNREACHABLE)
		say_unreachable(v);
	rows_free(&rows);
	return ex;
}

static int run_json(struct view *v)
{
	struct rows rows = { 0 };
	json_object *o;
	int ex = EXIT_DONE;

	round_whole(v, &rows);
	rows_free(&rows);
	if (!reached(v)) {
		say_unreachable(v);
		return EXIT_UNREACHABLE;
	}
	o = snapshot_json(v);
	if (!o) {
		fprintf(stderr, "ptop: %s\n", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return ex;
}

/* ---- arguments ----------------------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ptop: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ptop [-s PATH | -p OSPID] [-d SECONDS] [--sort KEY] [--top N]\n"
		"            [--filter TEXT] [-b [-n COUNT] | --json]\n"
		"\n"
		"  -s, --socket PATH   spawnd's control socket (default: $SPAWND_CONTROL, else\n"
		"                      /run/spawnd/control for root, else\n"
		"                      $XDG_RUNTIME_DIR/spawnd/control)\n"
		"  -p, --pid OSPID     one libgp program, without spawnd\n"
		"  -d, --delay SECONDS between refreshes (2)\n"
		"  -b, --batch         print the tree as text, every delay\n"
		"  -n, --iterations N  with -b: N frames, then exit (default: until killed)\n"
		"      --json          print one snapshot as JSON, and exit\n"
		"      --sort KEY      green processes by reductions (default), mailbox, heap,\n"
		"                      pid or name\n"
		"      --top N         green processes listed per program (10; with -p: 20)\n"
		"      --filter TEXT   units whose path, green processes whose name has TEXT\n"
		"  -h, --help          this help\n"
		"      --version       ptop's version\n"
		"\n"
		"keys: arrows/j k move, Enter/Space fold, s sort, / filter, r restart, S stop,\n"
		"      t start, K signal, l logs, ? help, q quit (k moves up)\n"
		"\n"
		"exit status: 0 done, 1 failed, 2 usage, 3 cannot reach spawnd or the program\n");
}

static const char *const sort_keys[] = { "reductions", "mailbox", "heap", "pid", "name" };

struct opts {
	const char *sock;
	int pid;
	long long delay_ms, count;
	bool batch, json;
	const char *sort, *filter;
	int top;
};

static int parse_number(const char *what, const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (!*s || *end || errno || n < lo || n > hi)
		return usage_error("%s: '%s' is not a number from %lld to %lld", what, s, lo, hi);
	*out = n;
	return EXIT_DONE;
}

/* EXIT_DONE (*done set when --help or --version was answered), or
 * EXIT_USAGE. */
static int parse_options(int argc, char **argv, struct opts *o, bool *done)
{
	enum { OPT_JSON = 256, OPT_SORT, OPT_TOP, OPT_FILTER, OPT_VERSION };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "delay", required_argument, NULL, 'd' },
		{ "batch", no_argument, NULL, 'b' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	long long n;
	double secs;
	char *end;
	int opt;
	bool count_given = false;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":s:p:d:bn:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!*optarg)
				return usage_error("-s: empty path");
			o->sock = optarg;
			break;
		case 'p':
			if (parse_number("-p", optarg, 1, 4194304, &n) != EXIT_DONE)
				return EXIT_USAGE;
			o->pid = (int)n;
			break;
		case 'd':
			errno = 0;
			secs = strtod(optarg, &end);
			if (end == optarg || *end || errno || !(secs >= 0.1 && secs <= 3600))
				return usage_error("-d: '%s' is not a number of seconds from 0.1 to 3600",
						   optarg);
			o->delay_ms = (long long)(secs * 1000 + 0.5);
			break;
		case 'b':
			o->batch = true;
			break;
		case 'n':
			if (parse_number("-n", optarg, 1, 1000000000, &o->count) != EXIT_DONE)
				return EXIT_USAGE;
			count_given = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_SORT:
			o->sort = NULL;
			for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
				if (!strcmp(optarg, sort_keys[i]))
					o->sort = sort_keys[i];
			if (!o->sort)
				return usage_error("--sort: '%s' is not one of reductions, mailbox, "
						   "heap, pid, name",
						   optarg);
			break;
		case OPT_TOP:
			if (parse_number("--top", optarg, 0, 100000, &n) != EXIT_DONE)
				return EXIT_USAGE;
			o->top = (int)n;
			break;
		case OPT_FILTER:
			if (strlen(optarg) > 255)
				return usage_error("--filter: longer than 255 bytes");
			o->filter = optarg;
			break;
		case 'h':
			usage(stdout);
			*done = true;
			return EXIT_DONE;
		case OPT_VERSION:
			printf("ptop %s\n", PTOP_VERSION);
			*done = true;
			return EXIT_DONE;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'; see ptop --help", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'; see ptop --help", argv[optind]);
	if (o->batch && o->json)
		return usage_error("-b and --json: one or the other");
	if (count_given && !o->batch)
		return usage_error("-n goes with -b");
	if (o->sock && o->pid)
		return usage_error("-s and -p: spawnd's tree, or one program");
	if (o->top < 0)
		o->top = o->pid ? 20 : 10;
	return EXIT_DONE;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct opts o = { .delay_ms = 2000, .count = -1, .sort = "reductions", .filter = "",
			  .top = -1 };
	struct link link;
	struct view v = { 0 };
	char path[PATH_MAX];
	bool done = false;
	int ex, r;

	setlocale(LC_ALL, "");
	ex = parse_options(argc, argv, &o, &done);
	if (ex != EXIT_DONE || done)
		return ex;
	v.utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	v.query = (struct gp_query){ .sort = o.sort, .filter = o.filter, .limit = o.top };
	v.filter = o.filter;
	v.single_pid = o.pid;
	v.gp = calloc(GP_SOURCES_MAX, sizeof(*v.gp));
	if (!v.gp) {
		fprintf(stderr, "ptop: %s\n", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	if (!o.pid) {
		r = control_path(o.sock, path, sizeof(path));
		if (r == -ENOENT) {
			ex = usage_error("XDG_RUNTIME_DIR is not set, so there is no default control "
					 "socket: give one with -s PATH or SPAWND_CONTROL");
			goto cleanup;
		}
		if (r < 0) {
			ex = usage_error("socket path too long");
			goto cleanup;
		}
		link_init(&link, path);
		v.link = &link;
	}
	if (o.json)
		ex = run_json(&v);
	else if (o.batch)
		ex = run_batch(&v, o.count, o.delay_ms);
	else if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		ex = usage_error("not a terminal: use -b for text, --json for JSON");
	else
		ex = screen_run(&v, o.delay_ms);

cleanup:
	if (v.link)
		link_free(v.link);
	for (size_t i = 0; i < v.ngp; i++)
		gp_source_free(&v.gp[i]);
	free(v.gp);
	for (size_t i = 0; i < v.nfolded; i++)
		free(v.folded[i]);
	free(v.folded);
	proc_table_free(&v.procs);
	if (fflush(stdout) != 0 && ex == EXIT_DONE) {
		fprintf(stderr, "ptop: writing the output: %s\n", strerror(errno));
		ex = EXIT_FAILED;
	}
	return ex;
}
