/* SPDX-License-Identifier: MIT */
/*
 * spawnd: run a supervision tree of OS processes.
 *
 *   spawnd [-c FILE] [-s SOCKET] [-v] [--no-bpf]
 *   spawnd check FILE
 *   spawnd exec [--name N] [--restart TYPE] [--intensity N] [--period S]
 *               [--sandbox P] [--ready MODE] [--control SOCKET] -- CMD ARGS...
 *
 * Exit status: 0 clean shutdown, 1 the root supervisor gave up, 2 usage or
 * configuration error, 111 a system failure at start (spawnd(8)).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawnd.h"

#define SD_EXIT_SYSTEM 111
#define DEFAULT_CONFIG "/etc/spawnd/spawnd.conf"

static void usage(FILE *f)
{
	fprintf(f, "usage: spawnd [-c FILE] [-s SOCKET] [-v] [--no-bpf]\n"
		   "       spawnd check FILE\n"
		   "       spawnd exec [--name N] [--restart TYPE] [--intensity N] [--period S]\n"
		   "                   [--sandbox P] [--ready MODE] [--control SOCKET] [-v] [--no-bpf]\n"
		   "                   -- CMD [ARGS...]\n");
}

static void print_errors(const struct sd_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "spawnd: %s\n", errs->msgs[i]);
}

/* Warnings `check` owes its reader: sandboxes that let io_uring through. */
static void check_warnings(const struct sd_node *n)
{
	if (n->kind == SD_SUPERVISOR) {
		for (size_t i = 0; i < n->nchildren; i++)
			check_warnings(n->children[i]);
		return;
	}
	if (n->sandbox.base == SD_SANDBOX_NONE)
		printf("%s: no sandbox\n", n->path);
	else if (n->sandbox.io_uring)
		printf("%s: sandbox allows io_uring, whose operations seccomp does not see: "
		       "the program can open files and sockets through it whatever the filter says\n",
		       n->path);
}

static int cmd_check(const char *file)
{
	struct sd_errors errs = { 0 };
	struct sd_config *cfg;
	int r = sd_config_load(file, &cfg, &errs);

	if (r < 0) {
		print_errors(&errs);
		sd_errors_free(&errs);
		return SD_EXIT_USAGE;
	}
	check_warnings(cfg->root);
	printf("%s: ok\n", file);
	sd_config_free(cfg);
	return SD_EXIT_OK;
}

/* ---- running ---------------------------------------------------------------------- */

/* How to run, from the command line. */
struct run_opts {
	bool verbose;
	bool no_bpf;        /* --no-bpf: run degraded */
	bool from_file;     /* reload re-reads cfg->file */
	const char *socket; /* -s: the control socket, over the file's `control` */
};

/* SIGHUP: as `spawnctl reload`, the outcome in the log. */
static void reload_on_hup(struct sd_daemon *d)
{
	struct sd_request req = { .cmd = SD_CMD_RELOAD };
	json_object *resp;

	sd_log(&d->log, "SIGHUP: reloading %s", d->cfg_file ? d->cfg_file : "(no file)");
	resp = sd_reload(d, &req);
	if (!json_object_get_boolean(json_object_object_get(resp, "ok"))) {
		json_object *e = json_object_object_get(resp, "error");

		sd_log(&d->log, "reload failed: %s",
		       json_object_get_string(json_object_object_get(e, "message")));
	}
	json_object_put(resp);
}

static void on_signal(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags);

static void read_signal(struct sd_daemon *d)
{
	struct io_uring_sqe *sqe = sd_loop_sqe(&d->loop, &d->sig_op);

	io_uring_prep_read(sqe, d->sigfd, &d->sigbuf, sizeof(d->sigbuf), (uint64_t)-1);
}

static void on_signal(struct sd_loop *loop, struct sd_op *op, int res, uint32_t flags)
{
	struct sd_daemon *d = (struct sd_daemon *)((char *)op - offsetof(struct sd_daemon, sig_op));

	(void)loop;
	(void)flags;
	if (res == (int)sizeof(d->sigbuf)) {
		switch (d->sigbuf.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			sd_tree_shutdown(d);
			break;
		case SIGHUP:
			reload_on_hup(d);
			break;
		}
	}
	if (res > 0 || res == -EINTR || res == -EAGAIN)
		read_signal(d);
}

/* The control socket: the one systemd passed (spawnd.socket), else where
 * -s, the file or the default says. One that was asked for must work;
 * without one, only the default's absence is tolerated (a user with no
 * XDG_RUNTIME_DIR), with a warning. */
/* The folder beside the control socket's own, as an absolute path (the
 * workers may run elsewhere): /run/spawnd/control -> /run/spawnd.gp. NULL
 * if it cannot be named. */
static char *gp_dir_beside(const char *socket_path)
{
	const char *slash = strrchr(socket_path, '/');
	char *dir = slash ? strndup(socket_path, (size_t)(slash - socket_path)) : strdup(".");
	char *abs = NULL, *out = NULL;

	if (!dir)
		return NULL;
	abs = realpath(dir[0] ? dir : "/", NULL);
	if (abs && asprintf(&out, "%s.gp", strcmp(abs, "/") ? abs : "/spawnd") < 0)
		out = NULL;
	free(abs);
	free(dir);
	return out;
}

static int open_control(struct sd_daemon *d, const struct run_opts *o)
{
	const struct sd_config *cfg = d->cfg;
	const char *path = o->socket ? o->socket : cfg->control;
	char def[256], err[512];
	gid_t gid, *group = NULL;
	int r;

	if (cfg->control_group) {
		struct group *gr = getgrnam(cfg->control_group);

		if (!gr) {
			fprintf(stderr, "spawnd: %s:%d: control_group: no group '%s'\n", cfg->file,
				cfg->control_group_line, cfg->control_group);
			return SD_EXIT_USAGE;
		}
		gid = gr->gr_gid;
		group = &gid;
	}
	r = sd_service_listen_fd(err, sizeof(err));
	if (r >= 0) {
		r = sd_control_adopt(&d->ctl, d, r, group, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "spawnd: fatal: control socket from systemd: %s\n", err);
			return SD_EXIT_SYSTEM;
		}
		sd_log(&d->log, "control socket %s (from systemd)",
		       d->ctl.path[0] ? d->ctl.path : "(unnamed)");
		if (!strchr(d->ctl.path, '/'))
			return 0; /* unnamed: no folder beside it for libgp's */
		path = d->ctl.path;
		goto gp_dir;
	}
	if (r != -ENOENT) {
		fprintf(stderr, "spawnd: fatal: %s\n", err);
		return SD_EXIT_SYSTEM;
	}
	if (!path) {
		r = sd_control_default_path(def, sizeof(def));
		if (r < 0) {
			sd_log(&d->log, "warning: no control socket: XDG_RUNTIME_DIR is not set "
					"(use -s PATH or `control` in the file)");
			return 0;
		}
		path = def;
	}
	r = sd_control_open(&d->ctl, d, path, group, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "spawnd: fatal: control socket: %s\n", err);
		return SD_EXIT_SYSTEM;
	}
	sd_debug(&d->log, "control socket %s", path);
gp_dir:
	/* Beside its folder (which may be closed to the workers' users), the
	 * folders where libgp workers serve introspection: /run/spawnd.gp/UID. */
	d->gp_dir_base = gp_dir_beside(path);
	if (d->gp_dir_base && mkdir(d->gp_dir_base, 0755) < 0 && errno != EEXIST) {
		sd_log(&d->log, "warning: %s: %s: libgp workers will serve introspection "
				"in their default folders", d->gp_dir_base, strerror(errno));
		free(d->gp_dir_base);
		d->gp_dir_base = NULL;
	}
	return 0;
}

static void flush_over(struct sd_loop *loop, struct sd_timer *t)
{
	(void)loop;
	(void)t; /* disarmed: the flush at exit stops waiting */
}

/* Run the tree cfg declares (taken: freed here). */
static int run(struct sd_config *cfg, const struct run_opts *o)
{
	struct sd_daemon d = { .cfg = cfg, .sigfd = -1, .ctl = { .fd = -1 } };
	struct sd_timer flush_deadline;
	char err[512];
	sigset_t mask;
	int r;

	/* First: the slots a launch lends its child are to be our lowest
	 * descriptors (launch.c). */
	r = sd_launch_init();
	if (r < 0) {
		fprintf(stderr, "spawnd: fatal: unable to open /dev/null: %s\n", strerror(-r));
		sd_config_free(cfg);
		return SD_EXIT_SYSTEM;
	}
	sd_log_init(&d.log, STDERR_FILENO);
	d.log.verbose = o->verbose;
	d.cfg_file = o->from_file ? cfg->file : NULL;
	d.self = getpid();
	d.started_ns = sd_now_ns();
	/* Orphans of our workers' trees come to us, to be reaped and killed. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		sd_log(&d.log, "warning: cannot become a subreaper: %s", strerror(errno));
	/* As many files as we may; children get what we were given. */
	if (getrlimit(RLIMIT_NOFILE, &d.nofile) == 0 && d.nofile.rlim_cur < d.nofile.rlim_max) {
		struct rlimit raised = { d.nofile.rlim_max, d.nofile.rlim_max };

		(void)setrlimit(RLIMIT_NOFILE, &raised);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d.sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (d.sigfd < 0) {
		fprintf(stderr, "spawnd: fatal: unable to create a signalfd: %s\n", strerror(errno));
		sd_config_free(cfg);
		return SD_EXIT_SYSTEM;
	}
	r = sd_loop_init(&d.loop, 256);
	if (r < 0) {
		fprintf(stderr, "spawnd: fatal: unable to set up io_uring: %s\n", strerror(-r));
		close(d.sigfd);
		sd_config_free(cfg);
		return SD_EXIT_SYSTEM;
	}
	sd_cgroups_init(&d.cg);
	if (d.cg.why[0])
		sd_log(&d.log, "degraded: %s", d.cg.why);
	sd_cgroups_guard(&d.cg);
	sd_bpf_start(&d, o->no_bpf);
	r = sd_tree_build(&d, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "spawnd: %s\n", err);
		sd_tree_free(&d);
		sd_cgroups_fini(&d.cg);
		sd_loop_fini(&d.loop);
		sd_bpf_stop(&d);
		close(d.sigfd);
		sd_config_free(d.cfg);
		return SD_EXIT_USAGE;
	}
	r = open_control(&d, o);
	if (r) {
		sd_tree_free(&d);
		sd_cgroups_fini(&d.cg);
		sd_loop_fini(&d.loop);
		sd_bpf_stop(&d);
		close(d.sigfd);
		sd_config_free(d.cfg);
		return r;
	}
	d.sig_op.fn = on_signal;
	sd_log_attach(&d.log, &d.loop);
	read_signal(&d);
	sd_service_init(&d);
	sd_log(&d.log, "starting %s (%s)", cfg->root->name, cfg->file);
	sd_tree_start(&d);
	sd_service_after_step(&d, true); /* an empty tree is ready at once */
	while (!d.done) {
		r = sd_loop_step(&d.loop);
		if (r < 0) {
			sd_log(&d.log, "fatal: the event loop failed: %s", strerror(-r));
			d.exit_status = SD_EXIT_SYSTEM;
			break;
		}
		/* check_waits: a state changed in this step (the control
		 * socket clears it next). */
		sd_service_after_step(&d, d.ctl.check_waits);
		sd_control_after_step(&d.ctl);
		if (d.retired)
			sd_retired_sweep(&d);
	}
	sd_log(&d.log, "%s", d.exit_status == SD_EXIT_GAVEUP ? "the root supervisor gave up: exiting 1"
							     : "stopped");
	/* The log's last lines may still be queued, or in an SQE not yet
	 * submitted, and so may the control clients' last answers and events
	 * (the answer to `shutdown` among them): let them out, for at most a
	 * second, since a client may not be reading. */
	sd_timer_init(&flush_deadline, flush_over);
	sd_timer_arm(&d.loop, &flush_deadline, sd_now_ns() + 1000000000u);
	while ((d.log.op.inflight || d.log.len || sd_control_flushing(&d.ctl)) &&
	       sd_timer_armed(&flush_deadline) && sd_loop_step(&d.loop) == 0)
		sd_control_after_step(&d.ctl);
	sd_timer_cancel(&d.loop, &flush_deadline);
	sd_service_fini(&d);
	sd_worker_drain(&d);
	sd_log_fini(&d.log);
	sd_control_close(&d.ctl);
	free(d.gp_dir_base);
	sd_loop_fini(&d.loop);
	sd_bpf_stop(&d);
	sd_worker_free_detached(&d);
	sd_tree_free(&d);
	sd_config_free(d.cfg); /* the last one loaded */
	sd_cgroups_fini(&d.cg);
	close(d.sigfd);
	return d.exit_status;
}

/* Run what sd_config_load or sd_config_parse returned (r), or say why not. */
static int run_loaded(int r, struct sd_config *cfg, struct sd_errors *errs,
		      const struct run_opts *o)
{
	if (r < 0) {
		print_errors(errs);
		sd_errors_free(errs);
		return SD_EXIT_USAGE;
	}
	return run(cfg, o);
}

/* ---- spawnd exec: a one-child tree from the command line --------------------------- */

/* A libconfig string literal. */
static int quote(char **out, size_t *len, size_t *cap, const char *s)
{
	for (size_t need = *len + 2 * strlen(s) + 4; need > *cap;) {
		char *n = realloc(*out, *cap = need * 2);

		if (!n)
			return -ENOMEM;
		*out = n;
	}
	(*out)[(*len)++] = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			(*out)[(*len)++] = '\\';
		(*out)[(*len)++] = *s;
	}
	(*out)[(*len)++] = '"';
	(*out)[*len] = '\0';
	return 0;
}

static int append(char **out, size_t *len, size_t *cap, const char *s)
{
	size_t l = strlen(s);

	if (*len + l + 1 > *cap) {
		char *n = realloc(*out, *cap = (*len + l + 1) * 2);

		if (!n)
			return -ENOMEM;
		*out = n;
	}
	memcpy(*out + *len, s, l + 1);
	*len += l;
	return 0;
}

static int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },	  { "restart", required_argument, NULL, 'r' },
		{ "intensity", required_argument, NULL, 'i' }, { "period", required_argument, NULL, 'p' },
		{ "sandbox", required_argument, NULL, 's' },	  { "ready", required_argument, NULL, 'y' },
		{ "control", required_argument, NULL, 'C' },	  { "verbose", no_argument, NULL, 'v' },
		{ "no-bpf", no_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { 0 };
	const char *name = NULL, *restart = "permanent", *intensity = "1", *period = "5",
		   *sandbox = "default", *ready = "exec";
	char *text = NULL, cwd[4096], defname[65];
	size_t len = 0, cap = 0;
	struct sd_errors errs = { 0 };
	struct sd_config *cfg;
	int c, r = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+v", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'r': restart = optarg; break;
		case 'i': intensity = optarg; break;
		case 'p': period = optarg; break;
		case 's': sandbox = optarg; break;
		case 'y': ready = optarg; break;
		case 'C': o.socket = optarg; break;
		case 'v': o.verbose = true; break;
		case 'B': o.no_bpf = true; break;
		default:
			usage(stderr);
			return SD_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "spawnd: exec: no command given\n");
		usage(stderr);
		return SD_EXIT_USAGE;
	}
	if (strspn(intensity, "0123456789") != strlen(intensity) || !*intensity) {
		fprintf(stderr, "spawnd: exec: --intensity: expected a number, got '%s'\n", intensity);
		return SD_EXIT_USAGE;
	}
	if (!name) {
		/* The command's base name, made a valid child name ("g++" ->
		 * "g__"); --name for another. */
		const char *slash = strrchr(argv[optind], '/');

		snprintf(defname, sizeof(defname), "%s", slash ? slash + 1 : argv[optind]);
		for (char *p = defname; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
				*p = '_';
		if (!defname[0] || !strcmp(defname, ".") || !strcmp(defname, ".."))
			snprintf(defname, sizeof(defname), "child");
		name = defname;
	}
	/* The one-child tree, written as a configuration so that it gets the
	 * same checks. Option values land in strings: no injection. */
	r |= append(&text, &len, &cap, "name = ");
	r |= quote(&text, &len, &cap, "exec");
	r |= append(&text, &len, &cap, ";\nstrategy = \"one_for_one\";\nintensity = ");
	r |= append(&text, &len, &cap, intensity);
	r |= append(&text, &len, &cap, ";\nperiod = ");
	if (*period && strspn(period, "0123456789") == strlen(period))
		r |= append(&text, &len, &cap, period); /* seconds */
	else
		r |= quote(&text, &len, &cap, period); /* "10s": checked by the parser */
	r |= append(&text, &len, &cap, ";\nchildren = ( { name = ");
	r |= quote(&text, &len, &cap, name);
	r |= append(&text, &len, &cap, "; restart = ");
	r |= quote(&text, &len, &cap, restart);
	r |= append(&text, &len, &cap, "; sandbox = ");
	r |= quote(&text, &len, &cap, sandbox);
	r |= append(&text, &len, &cap, "; ready = ");
	r |= quote(&text, &len, &cap, ready);
	r |= append(&text, &len, &cap, "; exec = [ ");
	for (int i = optind; i < argc; i++) {
		r |= quote(&text, &len, &cap, argv[i]);
		r |= append(&text, &len, &cap, i + 1 < argc ? ", " : " ]; } );\n");
	}
	if (r || !getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "spawnd: exec: %s\n", r ? "out of memory" : strerror(errno));
		free(text);
		return SD_EXIT_SYSTEM;
	}
	r = sd_config_parse(text, "command line", cwd, &cfg, &errs);
	free(text);
	return run_loaded(r, cfg, &errs, &o);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "no-bpf", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = DEFAULT_CONFIG;
	struct sd_errors errs = { 0 };
	struct sd_config *cfg;
	struct run_opts o = { .from_file = true };
	int c, r;

	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		if (argc != 3) {
			usage(stderr);
			return SD_EXIT_USAGE;
		}
		return cmd_check(argv[2]);
	}
	if (argc > 1 && strcmp(argv[1], "exec") == 0)
		return cmd_exec(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "c:s:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 's':
			o.socket = optarg;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'B':
			o.no_bpf = true;
			break;
		case 'h':
			usage(stdout);
			return SD_EXIT_OK;
		default:
			usage(stderr);
			return SD_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "spawnd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return SD_EXIT_USAGE;
	}
	r = sd_config_load(file, &cfg, &errs);
	return run_loaded(r, cfg, &errs, &o);
}
