/* SPDX-License-Identifier: MIT */
/*
 * spawnd.conf(5): what a good file reads as, key by key and default by
 * default; where relative paths and bare program names lead; and a table of
 * malformed files, each of which must give exactly one message, at the
 * right line, naming the right node and key, and no tree.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../supervisor/config.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define CLEAN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A worker that needs nothing but itself, for configs about something else. */
#define W "{ name = \"w\"; exec = [\"true\"]; }"

/*
 * libconfig 1.5 leaks the text of a string token that is the lookahead at a
 * syntax error (`x "y";`, found by tests/fuzz/fuzz_config.c): upstream issue
 * 142, fixed in 1.7.3. Only the scanner's allocations of a token's text are
 * suppressed (see the fuzz target), so that the regression cases below run
 * under LeakSanitizer and everything of ours is still checked.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* The list of suppressions used would only clutter the test output. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif

#ifdef HAVE_LSAN
int __lsan_do_recoverable_leak_check(void);
#endif

/*
 * Nothing a test allocated may be unreachable once it is done.
 * LeakSanitizer's own check at exit, and a failed assertion in a .fini, come
 * after Criterion has taken the test's verdict (a leak would only be
 * printed), so each test checks within itself: CONFIG_TEST runs the body in
 * a frame of its own and checks once that frame is gone, since a stale copy
 * of a pointer in a live frame would make a leak look reachable.
 */
static void assert_no_leaks(void)
{
#ifdef HAVE_LSAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see above)");
#endif
}

#define CONFIG_TEST(name, ...)                                                                    \
	static void name##_body(void);                                                            \
	Test(config, name, __VA_ARGS__)                                                           \
	{                                                                                         \
		name##_body();                                                                    \
		assert_no_leaks();                                                                \
	}                                                                                         \
	static void __attribute__((noinline)) name##_body(void)

/* ---- helpers ------------------------------------------------------------- */

static char tmp[PATH_MAX]; /* this test's scratch folder, removed at the end */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void tmp_setup(void)
{
	strcpy(tmp, "/tmp/test_sd_config.XXXXXX");
	cr_assert_not_null(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
}

static void tmp_teardown(void)
{
	if (tmp[0])
		(void)nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmp/rel with content and mode, folders made on the way. */
static void put_file(const char *rel, const char *content, mode_t mode)
{
	char *path;
	FILE *f;

	for (const char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
		cr_assert_geq(asprintf(&path, "%s/%.*s", tmp, (int)(s - rel), rel), 0);
		(void)mkdir(path, 0755);
		free(path);
	}
	cr_assert_geq(asprintf(&path, "%s/%s", tmp, rel), 0);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(content, f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
	free(path);
}

static void put_program(const char *rel)
{
	put_file(rel, "#!/bin/sh\nexit 0\n", 0755);
}

static char *tmp_path(const char *rel)
{
	char *p;

	cr_assert_geq(asprintf(&p, "%s/%s", tmp, rel), 0);
	return p;
}

static struct sd_config *parse_ok(const char *text, const char *dir)
{
	struct sd_config *cfg = NULL;
	struct sd_errors errs;
	int r = sd_config_parse(text, "t.conf", dir, &cfg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		cr_log_error("%s", errs.msgs[i]);
	cr_assert_eq(r, 0, "sd_config_parse: %d (%zu errors, the first logged above)", r, errs.n);
	cr_assert_eq(errs.n, 0);
	cr_assert_not_null(cfg);
	sd_errors_free(&errs);
	return cfg;
}

/* The program sd_config should find for a bare name: first in the clean PATH. */
static char *which(const char *name)
{
	const char *dir = CLEAN_PATH;

	while (*dir) {
		size_t len = strcspn(dir, ":");
		struct stat st;
		char *p;

		cr_assert_geq(asprintf(&p, "%.*s/%s", (int)len, dir, name), 0);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			return p;
		free(p);
		dir += len + (dir[len] == ':');
	}
	return NULL;
}

static void assert_strv(char **v, const char *const *want)
{
	size_t i;

	cr_assert_not_null(v);
	for (i = 0; want[i]; i++) {
		cr_assert_not_null(v[i], "element %zu missing", i);
		cr_assert_str_eq(v[i], want[i]);
	}
	cr_assert_null(v[i], "more than %zu elements", i);
}

/* ---- a good file --------------------------------------------------------- */

static const char every_key[] =
	"name = \"demo\";\n"
	"strategy = \"rest_for_one\";\n"
	"intensity = 5;\n"
	"period = 10;\n"
	"control = \"run/spawnd.sock\";\n"
	"children = (\n"
	"  { name = \"echo\";\n"
	"    exec = [ \"./bin/server\", \"--port\", \"7007\" ];\n"
	"    restart = \"transient\";\n"
	"    shutdown = \"2500ms\";\n"
	"    ready = \"notify\";\n"
	"    ready_timeout = \"1m\";\n"
	"    backoff = { initial = \"100ms\"; max = \"30s\"; reset_after = \"1h\"; };\n"
	"    sandbox = \"strict\";\n"
	"    limits = { nofile = 4096; core = \"0\"; pids = 256; memory = \"512M\"; };\n"
	"    stall_timeout = \"2s\";\n"
	"    on_stall = \"report\";\n"
	"    watchdog = 1.5;\n"
	"    env = [ \"KEY=value\", \"EMPTY=\", \"PATH=/opt/bin\" ];\n"
	"    cwd = \"data\";\n"
	"    user = \"root\"; group = \"0\";\n"
	"    stdout = \"logs/out.log\"; stderr = \"/var/log/echo.err\";\n"
	"  },\n"
	"  { name = \"pipeline\";\n"
	"    strategy = \"one_for_all\";\n"
	"    intensity = 0;\n"
	"    period = \"1.5s\";\n"
	"    restart = \"temporary\";\n"
	"    children = (\n"
	"      { name = \"producer\"; exec = [ \"sh\", \"-c\", \"exit 0\" ];\n"
	"        shutdown = \"brutal_kill\"; ready = \"fd:5\";\n"
	"        stdout = \"null\"; stderr = \"inherit\";\n"
	"        sandbox = { base = \"none\"; allow = [ \"io_uring_setup\", \"io_uring_enter\" ];\n"
	"                    deny = [ \"ptrace\" ]; io_uring = true; action = \"kill\"; };\n"
	"        limits = { core = \"unlimited\"; memory = 5368709120; }; cwd = \"/srv\"; },\n"
	"      { name = \"consumer\"; exec = [ \"/bin/sh\" ]; shutdown = \"infinity\";\n"
	"        sandbox = { deny = [ \"bpf\" ]; }; ready = \"exec\"; on_stall = \"restart\";\n"
	"        limits = { core = 1048576; }; stall_timeout = 0; }\n"
	"    );\n"
	"  }\n"
	");\n";

/* Every key of every kind of node reads as exactly the value written. */
CONFIG_TEST(every_key_read_as_written, .init = tmp_setup, .fini = tmp_teardown, .timeout = 10)
{
	struct sd_config *cfg;
	struct sd_node *root, *echo, *pipe, *prod, *cons;
	char *p;

	put_program("bin/server");
	cfg = parse_ok(every_key, tmp);
	cr_assert_str_eq(cfg->file, "t.conf");
	cr_assert_str_eq(cfg->dir, tmp);
	p = tmp_path("run/spawnd.sock");
	cr_assert_str_eq(cfg->control, p);
	free(p);

	root = cfg->root;
	cr_assert_eq(root->kind, SD_SUPERVISOR);
	cr_assert_str_eq(root->name, "demo");
	cr_assert_str_eq(root->path, "");
	cr_assert_null(root->parent);
	cr_assert_eq(root->strategy, SV_REST_FOR_ONE);
	cr_assert_eq(root->intensity, 5);
	cr_assert_eq(root->period_ns, 10 * SEC);
	cr_assert_eq(root->nchildren, 2);

	echo = root->children[0];
	cr_assert_eq(echo->kind, SD_WORKER);
	cr_assert_str_eq(echo->name, "echo");
	cr_assert_str_eq(echo->path, "echo");
	cr_assert_eq(echo->parent, root);
	cr_assert_eq(echo->line, 7);
	assert_strv(echo->argv, (const char *[]){ "./bin/server", "--port", "7007", NULL });
	p = tmp_path("bin/server");
	cr_assert_str_eq(echo->exec_path, p);
	free(p);
	cr_assert_eq(echo->restart, SV_TRANSIENT);
	cr_assert_eq(echo->shutdown_ns, 2500 * MS);
	cr_assert(!echo->shutdown_brutal && !echo->shutdown_infinity);
	cr_assert_eq(echo->ready, SD_READY_NOTIFY);
	cr_assert_eq(echo->ready_timeout_ns, 60 * SEC);
	cr_assert(echo->backoff.enabled);
	cr_assert_eq(echo->backoff.initial_ns, 100 * MS);
	cr_assert_eq(echo->backoff.max_ns, 30 * SEC);
	cr_assert_eq(echo->backoff.reset_after_ns, 3600 * SEC);
	cr_assert_eq(echo->sandbox.base, SD_SANDBOX_STRICT);
	cr_assert(!echo->sandbox.custom && !echo->sandbox.io_uring && !echo->sandbox.kill);
	cr_assert(echo->limits.has_nofile && echo->limits.has_core && echo->limits.has_pids &&
		  echo->limits.has_memory);
	cr_assert_eq(echo->limits.nofile, 4096);
	cr_assert_eq(echo->limits.core, 0);
	cr_assert_eq(echo->limits.pids, 256);
	cr_assert_eq(echo->limits.memory, 512ull << 20);
	cr_assert_eq(echo->stall_timeout_ns, 2 * SEC);
	cr_assert_eq(echo->on_stall, SD_STALL_REPORT);
	cr_assert_eq(echo->watchdog_ns, 1500 * MS);
	assert_strv(echo->env, (const char *[]){ "KEY=value", "EMPTY=", "PATH=/opt/bin", NULL });
	p = tmp_path("data");
	cr_assert_str_eq(echo->cwd, p);
	free(p);
	cr_assert_str_eq(echo->user, "root");
	cr_assert_str_eq(echo->group, "0");
	cr_assert_eq(echo->out, SD_OUT_FILE);
	p = tmp_path("logs/out.log");
	cr_assert_str_eq(echo->out_path, p);
	free(p);
	cr_assert_eq(echo->err, SD_OUT_FILE);
	cr_assert_str_eq(echo->err_path, "/var/log/echo.err");

	pipe = root->children[1];
	cr_assert_eq(pipe->kind, SD_SUPERVISOR);
	cr_assert_str_eq(pipe->path, "pipeline");
	cr_assert_eq(pipe->strategy, SV_ONE_FOR_ALL);
	cr_assert_eq(pipe->intensity, 0);
	cr_assert_eq(pipe->period_ns, 1500 * MS);
	cr_assert_eq(pipe->restart, SV_TEMPORARY);
	cr_assert_eq(pipe->nchildren, 2);

	prod = pipe->children[0];
	cr_assert_str_eq(prod->path, "pipeline/producer");
	cr_assert_eq(prod->parent, pipe);
	assert_strv(prod->argv, (const char *[]){ "sh", "-c", "exit 0", NULL });
	p = which("sh");
	cr_assert_str_eq(prod->exec_path, p);
	free(p);
	cr_assert(prod->shutdown_brutal && !prod->shutdown_infinity);
	cr_assert_eq(prod->ready, SD_READY_FD);
	cr_assert_eq(prod->ready_fd, 5);
	cr_assert_eq(prod->out, SD_OUT_NULL);
	cr_assert_eq(prod->err, SD_OUT_INHERIT);
	cr_assert_null(prod->out_path);
	cr_assert(prod->sandbox.custom && prod->sandbox.io_uring && prod->sandbox.kill);
	cr_assert_eq(prod->sandbox.base, SD_SANDBOX_NONE);
	assert_strv(prod->sandbox.allow,
		    (const char *[]){ "io_uring_setup", "io_uring_enter", NULL });
	assert_strv(prod->sandbox.deny, (const char *[]){ "ptrace", NULL });
	cr_assert(prod->limits.has_core && prod->limits.has_memory);
	cr_assert(!prod->limits.has_nofile && !prod->limits.has_pids);
	cr_assert_eq(prod->limits.core, UINT64_MAX);
	cr_assert_eq(prod->limits.memory, 5ull << 30, "beyond 32 bits, as written");
	cr_assert_str_eq(prod->cwd, "/srv");

	cons = pipe->children[1];
	cr_assert_str_eq(cons->path, "pipeline/consumer");
	cr_assert_str_eq(cons->exec_path, "/bin/sh");
	cr_assert(cons->shutdown_infinity && !cons->shutdown_brutal);
	cr_assert(cons->sandbox.custom && !cons->sandbox.io_uring && !cons->sandbox.kill);
	cr_assert_eq(cons->sandbox.base, SD_SANDBOX_DEFAULT, "base defaults to default");
	assert_strv(cons->sandbox.allow, (const char *[]){ NULL });
	assert_strv(cons->sandbox.deny, (const char *[]){ "bpf", NULL });
	cr_assert_eq(cons->ready, SD_READY_EXEC);
	cr_assert_eq(cons->on_stall, SD_STALL_RESTART);
	cr_assert_eq(cons->limits.core, 1048576);
	cr_assert_eq(cons->stall_timeout_ns, 0);
	sd_config_free(cfg);
}

/* A node that says nothing but its name and program gets the documented
 * defaults, and so does the top level. */
CONFIG_TEST(defaults, .timeout = 10)
{
	struct sd_config *cfg = parse_ok("children = ( " W " );", "/");
	struct sd_node *root = cfg->root, *w = root->children[0];
	char *true_path = which("true");

	cr_assert_str_eq(root->name, "root");
	cr_assert_str_eq(root->path, "");
	cr_assert_null(cfg->control);
	cr_assert_eq(root->strategy, SV_ONE_FOR_ONE);
	cr_assert_eq(root->intensity, 1);
	cr_assert_eq(root->period_ns, 5 * SEC);
	cr_assert(root->shutdown_infinity, "supervisors wait for their children");

	cr_assert_eq(w->kind, SD_WORKER);
	cr_assert_eq(w->restart, SV_PERMANENT);
	cr_assert_eq(w->shutdown_ns, 5 * SEC);
	cr_assert(!w->shutdown_brutal && !w->shutdown_infinity);
	cr_assert_eq(w->ready, SD_READY_EXEC);
	cr_assert_eq(w->ready_fd, -1);
	cr_assert_eq(w->ready_timeout_ns, 10 * SEC);
	cr_assert(!w->backoff.enabled);
	cr_assert_eq(w->sandbox.base, SD_SANDBOX_DEFAULT);
	cr_assert(!w->sandbox.custom && !w->sandbox.io_uring && !w->sandbox.kill);
	assert_strv(w->sandbox.allow, (const char *[]){ NULL });
	assert_strv(w->sandbox.deny, (const char *[]){ NULL });
	cr_assert(!w->limits.has_nofile && !w->limits.has_core && !w->limits.has_pids &&
		  !w->limits.has_memory);
	cr_assert_eq(w->stall_timeout_ns, 0);
	cr_assert_eq(w->on_stall, SD_STALL_RESTART);
	cr_assert_eq(w->watchdog_ns, 0);
	assert_strv(w->env, (const char *[]){ NULL });
	cr_assert_null(w->cwd);
	cr_assert_null(w->user);
	cr_assert_null(w->group);
	cr_assert_eq(w->out, SD_OUT_LOG);
	cr_assert_eq(w->err, SD_OUT_LOG);
	cr_assert_null(w->out_path);
	cr_assert_null(w->err_path);
	assert_strv(w->argv, (const char *[]){ "true", NULL });
	cr_assert_not_null(true_path);
	cr_assert_str_eq(w->exec_path, true_path);
	free(true_path);
	sd_config_free(cfg);
}

/* A backoff group with only initial gets max 30 s and reset_after 60 s. */
CONFIG_TEST(backoff_defaults, .timeout = 10)
{
	struct sd_config *cfg = parse_ok(
		"children = ( { name = \"w\"; exec = [\"true\"]; backoff = { initial = 2; }; } );",
		"/");
	struct sd_node *w = cfg->root->children[0];

	cr_assert(w->backoff.enabled);
	cr_assert_eq(w->backoff.initial_ns, 2 * SEC);
	cr_assert_eq(w->backoff.max_ns, 30 * SEC);
	cr_assert_eq(w->backoff.reset_after_ns, 60 * SEC);
	sd_config_free(cfg);
}

/* Nested supervisors: full names are paths joined by '/', parents and
 * children point at each other, and sd_config_find walks them. */
CONFIG_TEST(nested_names_and_find, .timeout = 10)
{
	struct sd_config *cfg = parse_ok(
		"children = (\n"
		"  { name = \"a\"; children = (\n"
		"      { name = \"b\"; children = ( { name = \"c\"; exec = [\"true\"]; } ); },\n"
		"      { name = \"x.y-z_1\"; exec = [\"true\"]; } ); },\n"
		"  { name = \"b\"; exec = [\"true\"]; }\n"
		");\n",
		"/");
	struct sd_node *a = cfg->root->children[0], *ab = a->children[0], *abc = ab->children[0];

	cr_assert_str_eq(a->path, "a");
	cr_assert_str_eq(ab->path, "a/b");
	cr_assert_str_eq(abc->path, "a/b/c");
	cr_assert_str_eq(abc->name, "c");
	cr_assert_str_eq(a->children[1]->path, "a/x.y-z_1");
	cr_assert_eq(abc->parent, ab);
	cr_assert_eq(ab->parent, a);
	cr_assert_eq(abc->line, 3);
	cr_assert_eq(sd_config_find(cfg, ""), cfg->root);
	cr_assert_eq(sd_config_find(cfg, "/"), cfg->root);
	cr_assert_eq(sd_config_find(cfg, "a"), a);
	cr_assert_eq(sd_config_find(cfg, "a/b/c"), abc);
	cr_assert_eq(sd_config_find(cfg, "/a/b/c"), abc);
	cr_assert_eq(sd_config_find(cfg, "a/b/"), ab);
	cr_assert_eq(sd_config_find(cfg, "b"), cfg->root->children[1]);
	cr_assert_null(sd_config_find(cfg, "c"));
	cr_assert_null(sd_config_find(cfg, "a//b"));
	cr_assert_null(sd_config_find(cfg, "a/b/c/d"));
	cr_assert_null(sd_config_find(cfg, "a/bb"));
	cr_assert_null(sd_config_find(NULL, "a"));
	sd_config_free(cfg);
}

/* Relative programs, cwd and output files are taken from the file's folder,
 * not from spawnd's working directory; "./" is dropped on the way. */
CONFIG_TEST(relative_paths_against_the_file, .init = tmp_setup, .fini = tmp_teardown,
     .timeout = 10)
{
	struct sd_config *cfg = NULL;
	struct sd_errors errs;
	struct sd_node *w;
	char *file, *p;

	put_program("sub/bin/prog");
	put_file("sub/spawnd.conf",
		 "children = ( { name = \"w\"; exec = [ \"bin/prog\", \"x\" ];\n"
		 "  cwd = \"./state/.\"; stdout = \"./logs/out\"; stderr = \"../err.log\"; },\n"
		 "  { name = \"v\"; exec = [ \"./bin/prog\" ]; cwd = \".\"; } );\n",
		 0644);
	cr_assert_eq(chdir("/"), 0);
	file = tmp_path("sub/spawnd.conf");
	cr_assert_eq(sd_config_load(file, &cfg, &errs), 0, "%s", errs.n ? errs.msgs[0] : "");
	cr_assert_str_eq(cfg->file, file);
	p = tmp_path("sub");
	cr_assert_str_eq(cfg->dir, p);
	free(p);

	w = cfg->root->children[0];
	p = tmp_path("sub/bin/prog");
	cr_assert_str_eq(w->exec_path, p);
	cr_assert_str_eq(cfg->root->children[1]->exec_path, p);
	free(p);
	cr_assert_str_eq(w->argv[0], "bin/prog", "argv[0] stays as written");
	p = tmp_path("sub/state/.");
	cr_assert_str_eq(w->cwd, p);
	free(p);
	p = tmp_path("sub/logs/out");
	cr_assert_str_eq(w->out_path, p);
	free(p);
	p = tmp_path("sub/../err.log");
	cr_assert_str_eq(w->err_path, p);
	free(p);
	p = tmp_path("sub");
	cr_assert_str_eq(cfg->root->children[1]->cwd, p);
	free(p);
	sd_config_free(cfg);
	sd_errors_free(&errs);
	free(file);
}

/* A relative program is looked for in the file's folder only: a program of
 * that name in the working directory does not count, and one that is not
 * executable or is a directory is an error. */
CONFIG_TEST(relative_program_must_be_executable, .init = tmp_setup, .fini = tmp_teardown,
     .timeout = 10)
{
	struct sd_config *cfg = NULL;
	struct sd_errors errs;
	char *dir = tmp_path("conf"), *folder = tmp_path("conf/folder");

	put_program("prog");
	put_file("conf/plain", "data\n", 0644);
	cr_assert_eq(mkdir(folder, 0755), 0);
	free(folder);
	cr_assert_eq(chdir(tmp), 0);

	cr_assert_eq(sd_config_parse("children = ( { name = \"w\"; exec = [\"./prog\"]; } );",
				     "t.conf", dir, &cfg, &errs),
		     -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert(strstr(errs.msgs[0], "not found"), "%s", errs.msgs[0]);
	sd_errors_free(&errs);

	cr_assert_eq(sd_config_parse("children = ( { name = \"w\"; exec = [\"plain\"]; } );",
				     "t.conf", dir, &cfg, &errs),
		     -EINVAL, "a bare name is looked up in PATH, not in the folder");
	cr_assert(strstr(errs.msgs[0], "not found in PATH"), "%s", errs.msgs[0]);
	sd_errors_free(&errs);

	cr_assert_eq(sd_config_parse("children = ( { name = \"w\"; exec = [\"./plain\"]; } );",
				     "t.conf", dir, &cfg, &errs),
		     -EINVAL);
	cr_assert(strstr(errs.msgs[0], "not an executable file"), "%s", errs.msgs[0]);
	sd_errors_free(&errs);

	cr_assert_eq(sd_config_parse("children = ( { name = \"w\"; exec = [\"./folder\"]; } );",
				     "t.conf", dir, &cfg, &errs),
		     -EINVAL);
	cr_assert(strstr(errs.msgs[0], "is a directory"), "%s", errs.msgs[0]);
	sd_errors_free(&errs);
	cr_assert_null(cfg);
	free(dir);
}

/* A bare program name is found in the clean PATH, in its order, whatever
 * PATH spawnd itself runs with. */
CONFIG_TEST(bare_name_in_clean_path, .timeout = 10)
{
	const char *names[] = { "sh", "true", "env", "ls" };

	setenv("PATH", "/nonexistent", 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char text[128], *want = which(names[i]);
		struct sd_config *cfg;

		cr_assert_not_null(want, "%s is not installed", names[i]);
		snprintf(text, sizeof(text), "children = ( { name = \"w\"; exec = [\"%s\"]; } );",
			 names[i]);
		cfg = parse_ok(text, "/");
		cr_assert_str_eq(cfg->root->children[0]->exec_path, want);
		cr_assert_str_eq(cfg->root->children[0]->argv[0], names[i]);
		sd_config_free(cfg);
		free(want);
	}
}

/* Durations as strings: a number (with a fraction) and a unit, exactly;
 * anything else, and anything beyond 2^64 ns, is refused. */
CONFIG_TEST(parse_duration, .timeout = 10)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
		{ "500ms", 500 * MS },
		{ "10s", 10 * SEC },
		{ "2m", 120 * SEC },
		{ "1h", 3600 * SEC },
		{ "0s", 0 },
		{ "1.5s", 1500 * MS },
		{ "0.001s", MS },
		{ "0.5ms", 500000 },
		{ "1.25m", 75 * SEC },
		{ "007s", 7 * SEC },
		{ "1.0000000009s", SEC }, /* below a nanosecond: dropped */
		{ "5124095h", 5124095ull * 3600 * SEC },
	};
	static const char *const bad[] = {
		"", "s", "5", "5 s", " 5s", "5s ", "5S", "-1s", "+1s", "1.s", ".5s", "5sec",
		"1e3s", "5us", "1,5s", "99999999999999999999s", "5124096h", "0x10s", "1.5.5s",
		"5ms5", "inf", "nan",
	};
	uint64_t ns;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ns = 12345;
		cr_assert_eq(sd_parse_duration(good[i].s, &ns), 0, "%s", good[i].s);
		cr_assert_eq(ns, good[i].ns, "%s: %lu", good[i].s, (unsigned long)ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ns = 12345;
		cr_assert_eq(sd_parse_duration(bad[i], &ns), -EINVAL, "\"%s\"", bad[i]);
		cr_assert_eq(ns, 12345, "nothing written for \"%s\"", bad[i]);
	}
	cr_assert_eq(sd_parse_duration(NULL, &ns), -EINVAL);
}

/* Sizes: bytes, or a whole number with K, M, G or T in powers of 1024. */
CONFIG_TEST(parse_size, .timeout = 10)
{
	static const struct {
		const char *s;
		uint64_t bytes;
	} good[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "1K", 1024 },
		{ "512M", 512ull << 20 },
		{ "1G", 1ull << 30 },
		{ "2T", 2ull << 40 },
		{ "18446744073709551615", UINT64_MAX },
		{ "16777215T", 16777215ull << 40 },
	};
	static const char *const bad[] = {
		"",    "K",    "1k",   "1KB",  "-1",	    "1.5G", " 1", "1 K",
		"1KK", "unlimited", "16777216T", "18446744073709551616", "0x10", "1P",
	};
	uint64_t b;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(sd_parse_size(good[i].s, &b), 0, "%s", good[i].s);
		cr_assert_eq(b, good[i].bytes, "%s", good[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = 7;
		cr_assert_eq(sd_parse_size(bad[i], &b), -EINVAL, "\"%s\"", bad[i]);
		cr_assert_eq(b, 7);
	}
}

/* Numbers in the file: integer and fractional seconds, rounded to the
 * nanosecond; integers beyond 32 bits read as written (libconfig 1.5 would
 * cut them), in decimal and hex, and digits inside strings stay as they are. */
CONFIG_TEST(numbers_as_written, .timeout = 10)
{
	struct sd_config *cfg = parse_ok(
		"period = 0.1;\n"
		"children = (\n"
		"  { name = \"a\"; exec = [\"sh\", \"99999999999\"]; shutdown = 0;\n"
		"    limits = { memory = 6442450944; core = 0x100000000; nofile = 2147483647; };\n"
		"    env = [ \"N=3000000000\" ]; ready_timeout = 4294967297; },\n"
		"  { name = \"b\"; exec = [\"sh\"];\n"
		"    limits = { memory = 0xFFFFFFFF; pids = 5L; }; }\n"
		"  /* 99999999999 */ # 99999999999\n"
		");\n",
		"/");
	struct sd_node *a = cfg->root->children[0], *b = cfg->root->children[1];

	cr_assert_eq(cfg->root->period_ns, 100 * MS);
	cr_assert_eq(a->shutdown_ns, 0);
	cr_assert_eq(a->limits.memory, 6ull << 30);
	cr_assert_eq(a->limits.core, 1ull << 32);
	cr_assert_eq(a->limits.nofile, 2147483647);
	cr_assert_str_eq(a->argv[1], "99999999999");
	cr_assert_str_eq(a->env[0], "N=3000000000");
	cr_assert_eq(a->ready_timeout_ns, 4294967297ull * SEC);
	cr_assert_eq(b->limits.memory, 0xFFFFFFFFull);
	cr_assert_eq(b->limits.pids, 5);
	sd_config_free(cfg);
}

/* sd_config_load names the file as given in its messages, and a file it
 * cannot read is one message without a line and its errno. */
CONFIG_TEST(load_errors, .init = tmp_setup, .fini = tmp_teardown, .timeout = 10)
{
	static const char nul_text[] = "children = (\n" W "\n);\0junk";
	struct sd_config *cfg = NULL;
	struct sd_errors errs;
	char *missing = tmp_path("missing.conf"), *want;
	int fd;

	cr_assert_eq(sd_config_load(missing, &cfg, &errs), -ENOENT);
	cr_assert_eq(errs.n, 1);
	cr_assert_geq(asprintf(&want, "%s: cannot read: %s", missing, strerror(ENOENT)), 0);
	cr_assert_str_eq(errs.msgs[0], want);
	free(want);
	sd_errors_free(&errs);

	cr_assert_eq(sd_config_load(tmp, &cfg, &errs), -EISDIR);
	cr_assert_eq(errs.n, 1);
	sd_errors_free(&errs);

	/* A NUL byte would hide the rest of the file from libconfig. */
	fd = open(missing, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, nul_text, sizeof(nul_text) - 1), (ssize_t)sizeof(nul_text) - 1);
	close(fd);
	cr_assert_eq(sd_config_load(missing, &cfg, &errs), -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert_geq(asprintf(&want, "%s:3: syntax error:", missing), 0);
	cr_assert(strncmp(errs.msgs[0], want, strlen(want)) == 0, "%s", errs.msgs[0]);
	cr_assert(strstr(errs.msgs[0], "NUL"));
	free(want);
	sd_errors_free(&errs);
	cr_assert_null(cfg);
	free(missing);
}

/* Every mistake of a file is reported, not only the first, in line order,
 * and no tree comes back. */
CONFIG_TEST(all_errors_reported, .timeout = 10)
{
	struct sd_config *cfg = (struct sd_config *)&cfg;
	struct sd_errors errs;
	int r = sd_config_parse("intensity = \"five\";\n"
				"children = (\n"
				"  { name = \"web\"; exec = [\"true\"];\n"
				"    restart = \"always\"; },\n"
				"  { name = \"db\"; exec = [\"true\"]; shutdwn = \"5s\"; }\n"
				");\n",
				"three.conf", "/", &cfg, &errs);

	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(cfg, (struct sd_config *)&cfg, "*ret untouched");
	cr_assert_eq(errs.n, 3);
	cr_assert_str_eq(errs.msgs[0],
			 "three.conf:1: /: intensity: expected an integer, got a string");
	cr_assert_str_eq(errs.msgs[1], "three.conf:4: web: restart: expected permanent, transient "
				       "or temporary, got \"always\"");
	cr_assert_str_eq(errs.msgs[2],
			 "three.conf:5: db: shutdwn: unknown key (did you mean shutdown?)");
	sd_errors_free(&errs);
	cr_assert_eq(errs.n, 0);
	sd_errors_free(&errs);
	sd_errors_free(NULL);
	sd_config_free(NULL);
}

/* Below a node without a usable name, messages name nodes by their index
 * in their parent's children, and still by full path. */
CONFIG_TEST(nameless_parent_paths, .timeout = 10)
{
	struct sd_config *cfg = NULL;
	struct sd_errors errs;

	cr_assert_eq(sd_config_parse("children = ( { name = \"p\"; children = (\n"
				     "  " W ",\n"
				     "  { children = ( { name = \"x\"; exec = [\"true\"];\n"
				     "      restart = 1; } ); } ); } );\n",
				     "t.conf", "/", &cfg, &errs),
		     -EINVAL);
	cr_assert_eq(errs.n, 2);
	cr_assert_str_eq(errs.msgs[0], "t.conf:3: p/children[1]: name: required");
	cr_assert_str_eq(errs.msgs[1], "t.conf:4: p/children[1]/x: restart: expected a string, "
				       "got an integer");
	sd_errors_free(&errs);
	cr_assert_null(cfg);
}

/* Each repeat of a name among siblings, in env, or of an allowed call in
 * deny is reported once, at the repeat, with the line of the first. */
CONFIG_TEST(every_repeat_reported, .timeout = 10)
{
	static const char *const want[] = {
		"t.conf:3: w: name: \"w\" is also the name of the sibling at line 2",
		"t.conf:4: v: name: \"v\" is also the name of the sibling at line 1",
		"t.conf:5: w: name: \"w\" is also the name of the sibling at line 2",
		"t.conf:7: e: env[1]: A is already set at line 6",
		"t.conf:8: e: env[3]: B is already set at line 7",
		"t.conf:8: e: env[4]: A is already set at line 6",
		"t.conf:9: e: sandbox.deny[0]: \"read\" is also in sandbox.allow",
		"t.conf:9: e: sandbox.deny[2]: \"read\" is also in sandbox.allow",
	};
	struct sd_config *cfg = NULL;
	struct sd_errors errs;

	cr_assert_eq(sd_config_parse("children = ( { name = \"v\"; exec = [\"true\"]; },\n"
				     W ",\n"
				     W ",\n"
				     "{ name = \"v\"; exec = [\"true\"]; },\n"
				     W ",\n"
				     "{ name = \"e\"; exec = [\"true\"]; env = [ \"A=1\",\n"
				     "\"A=2\", \"B=1\",\n"
				     "\"B=\", \"A=3\" ];\n"
				     "sandbox = { deny = [ \"read\", \"bpf\", \"read\" ];"
				     " allow = [ \"read\", \"read\" ]; }; } );\n",
				     "t.conf", "/", &cfg, &errs),
		     -EINVAL);
	for (size_t i = 0; i < errs.n; i++)
		cr_log_info("%s", errs.msgs[i]);
	cr_assert_eq(errs.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < errs.n; i++)
		cr_assert_str_eq(errs.msgs[i], want[i]);
	sd_errors_free(&errs);
	cr_assert_null(cfg);
}

/* Errors are collected even when the caller does not want them, and a
 * message never spans lines whatever bytes a value holds. */
CONFIG_TEST(errors_are_one_line, .timeout = 10)
{
	static const char text[] =
		"children = ( { name = \"a\\nb\\x01\\\"\"; exec = [\"true\"]; } );";
	struct sd_config *cfg = NULL;
	struct sd_errors errs;

	cr_assert_eq(sd_config_parse(text, "t.conf", "/", &cfg, NULL), -EINVAL);
	cr_assert_eq(sd_config_parse(text, "t.conf", "/", &cfg, &errs), -EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert_null(strchr(errs.msgs[0], '\n'), "%s", errs.msgs[0]);
	cr_assert(strstr(errs.msgs[0], "\"a\\x0ab\\x01\\\"\""), "%s", errs.msgs[0]);
	sd_errors_free(&errs);
	cr_assert_null(cfg);
}

/* ---- malformed files ----------------------------------------------------- */

struct bad {
	const char *what;
	const char *text;
	int line;
	const char *where; /* "NODE: KEY" or "syntax error" */
	const char *word;  /* in the message */
};

/* Three lines in front of each worker key, so that lines are checked. */
#define WK(key) "children = (\n{ name = \"w\"; exec = [\"true\"];\n" key "\n} );\n"
#define SK(key) "children = (\n{ name = \"s\"; children = ( " W " );\n" key "\n} );\n"

static const struct bad bad_cases[] = {
	/* Syntax, reported by libconfig (it stops at the first). */
	{ "missing value", "name = \"x\";\nstrategy = ;\n", 2, "syntax error", "syntax error" },
	{ "unclosed group", "children = (\n{ name = \"a\"; exec = [\"true\"];\n);\n", 3,
	  "syntax error", "syntax error" },
	{ "duplicate key", "name = \"a\";\nname = \"b\";\nchildren = (" W ");\n", 2,
	  "syntax error", "duplicate" },
	{ "groups in an array", "children = [\n" W " ];\n", 2, "syntax error", "syntax error" },
	{ "mixed array", WK("env = [ \"A=1\", 2 ];"), 3, "syntax error",
	  "mismatched element type" },
	{ "@include", "# conf.d\n  @include \"other.conf\"\n", 2, "syntax error", "@include" },
	{ "garbage", "children = (" W ");\n$\n", 2, "syntax error", "syntax error" },
	/* Found by the fuzzer: libconfig's leak of a string token at the error. */
	{ "fuzz: string after a name", "children = (" W ");\nx \"y\";\n", 2, "syntax error",
	  "syntax error" },
	{ "fuzz: empty string after a name", "children = (" W ");\nx \"\";\n", 2,
	  "syntax error", "syntax error" },

	/* The top level. */
	{ "no children", "name = \"x\";\n", 1, "/: children", "required" },
	{ "empty children", "\nchildren = ();\n", 2, "/: children", "at least one child" },
	{ "children is an array", "children = [ \"w\" ];\n", 1, "/: children",
	  "got an array" },
	{ "children is a string", "children = \"w\";\n", 1, "/: children", "got a string" },
	{ "child is not a group", "children = (\n" W ",\n\"x\" );\n", 3, "/: children[1]",
	  "expected a group" },
	{ "unknown top key", "children = (" W ");\nverbose = true;\n", 2, "/: verbose",
	  "unknown key" },
	{ "typo at the top", "stratgy = \"one_for_all\";\nchildren = (" W ");\n", 1,
	  "/: stratgy", "did you mean strategy" },
	{ "restart at the top", "restart = \"permanent\";\nchildren = (" W ");\n", 1,
	  "/: restart", "no parent" },
	{ "exec at the top", "exec = [\"true\"];\nchildren = (" W ");\n", 1, "/: exec",
	  "top level is a supervisor" },
	{ "control not a string", "control = 5;\nchildren = (" W ");\n", 1, "/: control",
	  "expected a string" },
	{ "control too long",
	  "control = \"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\";\nchildren = (" W ");\n",
	  1, "/: control", "Unix socket" },
	{ "bad top name", "name = \"my root\";\nchildren = (" W ");\n", 1, "/: name",
	  "a name is" },
	{ "intensity a string", "intensity = \"5\";\nchildren = (" W ");\n", 1, "/: intensity",
	  "expected an integer, got a string" },
	{ "intensity a float", "intensity = 5.0;\nchildren = (" W ");\n", 1, "/: intensity",
	  "got a floating-point number" },
	{ "intensity negative", "intensity = -1;\nchildren = (" W ");\n", 1, "/: intensity",
	  "at least 0" },
	{ "intensity huge", "intensity = 3000000000;\nchildren = (" W ");\n", 1,
	  "/: intensity", "at most 1048576" },
	{ "period zero", "period = 0;\nchildren = (" W ");\n", 1, "/: period", "more than 0" },
	{ "period unit", "period = \"10x\";\nchildren = (" W ");\n", 1, "/: period",
	  "not a duration" },
	{ "period a group", "period = { s = 1; };\nchildren = (" W ");\n", 1, "/: period",
	  "expected a duration" },
	{ "period negative float", "period = -0.5;\nchildren = (" W ");\n", 1, "/: period",
	  "negative" },
	{ "period infinite", "period = 1e999;\nchildren = (" W ");\n", 1, "/: period",
	  "too long" },
	{ "period overflows", "period = \"99999999999999999999h\";\nchildren = (" W ");\n", 1,
	  "/: period", "not a duration" },
	{ "simple_one_for_one", "strategy = \"simple_one_for_one\";\nchildren = (" W ");\n", 1,
	  "/: strategy", "libgp" },
	{ "unknown strategy", "strategy = \"all_for_one\";\nchildren = (" W ");\n", 1,
	  "/: strategy", "expected one_for_one" },

	/* Any node. */
	{ "exec and children", "children = (\n{ name = \"n\"; exec = [\"true\"];\nchildren = (" W
	  "); } );\n", 3, "n: children", "not both" },
	{ "neither exec nor children",
	  "children = (\n{ name = \"n\"; restart = \"permanent\"; } );\n", 2, "n: exec",
	  "missing" },
	{ "no name", "children = (\n" W ",\n{ exec = [\"true\"]; } );\n", 3, "children[1]: name",
	  "required" },
	{ "empty name", "children = (\n{ name = \"\"; exec = [\"true\"]; } );\n", 2,
	  "children[0]: name", "empty" },
	{ "name too long",
	  "children = (\n{ name = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; exec = [\"true\"]; } );\n",
	  2, "children[0]: name", "longer than 64" },
	{ "name ..", "children = (\n{ name = \"..\"; exec = [\"true\"]; } );\n", 2,
	  "children[0]: name", "a name is" },
	{ "name with a slash", "children = (\n{ name = \"a/b\"; exec = [\"true\"]; } );\n", 2,
	  "children[0]: name", "a name is" },
	{ "name an integer", "children = (\n{ name = 5; exec = [\"true\"]; } );\n", 2,
	  "children[0]: name", "expected a string, got an integer" },
	{ "duplicate names", "children = (\n" W ",\n{ exec = [\"true\"];\n name = \"w\"; } );\n",
	  4, "w: name", "also the name of the sibling at line 2" },
	{ "nested location", "children = ( { name = \"p\"; children = (\n" W ",\n"
	  "{ name = \"q\"; children = ( { name = \"r\"; exec = [\"true\"];\nrestart = 1; } ); } );"
	  " } );\n", 4, "p/q/r: restart", "expected a string" },
	{ "nested nameless", "children = ( { name = \"p\"; children = (\n" W ",\n"
	  "{ name = \"q r\"; children = ( { name = \"x\"; exec = [\"true\"]; } ); } ); } );\n", 3,
	  "p/children[1]: name", "a name is" },

	/* Supervisors. */
	{ "empty nested children", "children = (\n{ name = \"s\";\nchildren = (); } );\n", 3,
	  "s: children", "at least one child" },
	{ "shutdown on a supervisor", SK("shutdown = \"5s\";"), 3, "s: shutdown",
	  "only workers" },
	{ "sandbox on a supervisor", SK("sandbox = \"none\";"), 3, "s: sandbox", "only workers" },
	{ "control below the top", SK("control = \"/run/x\";"), 3, "s: control",
	  "only the top level" },
	{ "unknown supervisor key", SK("intensitiy = 3;"), 3, "s: intensitiy",
	  "did you mean intensity" },
	{ "supervisor restart", SK("restart = \"always\";"), 3, "s: restart",
	  "expected permanent" },

	/* Workers. */
	{ "strategy on a worker", WK("strategy = \"one_for_all\";"), 3, "w: strategy",
	  "only supervisors" },
	{ "period on a worker", WK("period = 5;"), 3, "w: period", "only supervisors" },
	{ "unknown worker key", WK("bogus = 1;"), 3, "w: bogus", "unknown key" },
	{ "bad restart", WK("restart = \"always\";"), 3, "w: restart", "expected permanent" },
	{ "empty exec", "children = (\n{ name = \"w\";\nexec = []; } );\n", 3, "w: exec",
	  "empty" },
	{ "empty argument", "children = (\n{ name = \"w\"; exec = [ \"true\",\n\"\" ]; } );\n", 3,
	  "w: exec[1]", "empty string" },
	{ "empty program", "children = (\n{ name = \"w\"; exec = [ \"\" ]; } );\n", 2,
	  "w: exec[0]", "empty string" },
	{ "exec element not a string",
	  "children = (\n{ name = \"w\"; exec = ( \"true\", 1 ); } );\n", 2, "w: exec[1]",
	  "expected a string, got an integer" },
	{ "exec a string", "children = (\n{ name = \"w\"; exec = \"true\"; } );\n", 2, "w: exec",
	  "expected an array" },
	{ "exec not in PATH",
	  "children = (\n{ name = \"w\"; exec = [\"no-such-program-xyz\"]; } );\n", 2, "w: exec",
	  "not found in PATH" },
	{ "exec relative missing", "children = (\n{ name = \"w\"; exec = [\"./missing\"]; } );\n",
	  2, "w: exec", "not found" },
	{ "exec a directory", "children = (\n{ name = \"w\"; exec = [\"/\"]; } );\n", 2, "w: exec",
	  "is a directory" },
	{ "exec not executable",
	  "children = (\n{ name = \"w\"; exec = [\"/etc/passwd\"]; } );\n", 2, "w: exec",
	  "not an executable" },
	{ "bad shutdown", WK("shutdown = \"soon\";"), 3, "w: shutdown", "brutal_kill" },
	{ "negative shutdown", WK("shutdown = -1;"), 3, "w: shutdown", "negative" },
	{ "shutdown a boolean", WK("shutdown = true;"), 3, "w: shutdown",
	  "expected a duration" },
	{ "bad ready", WK("ready = \"started\";"), 3, "w: ready", "expected exec, notify or fd:N" },
	{ "ready fd:2", WK("ready = \"fd:2\";"), 3, "w: ready", "at least 3" },
	{ "ready fd:x", WK("ready = \"fd:x\";"), 3, "w: ready", "file descriptor number" },
	{ "ready fd:-5", WK("ready = \"fd:-5\";"), 3, "w: ready", "file descriptor number" },
	{ "ready fd: huge", WK("ready = \"fd:99999999999\";"), 3, "w: ready",
	  "file descriptor number" },
	{ "ready_timeout zero", WK("ready_timeout = \"0s\";"), 3, "w: ready_timeout",
	  "more than 0" },
	{ "backoff without initial", WK("backoff = { max = \"1s\"; };"), 3,
	  "w: backoff.initial", "required" },
	{ "backoff max below initial", WK("backoff = { initial = \"2s\"; max = \"1s\"; };"), 3,
	  "w: backoff.max", "at least backoff.initial" },
	{ "backoff initial above default max", WK("backoff = { initial = \"1m\"; };"), 3,
	  "w: backoff.max", "default" },
	{ "backoff not a group", WK("backoff = \"100ms\";"), 3, "w: backoff",
	  "expected a group" },
	{ "backoff unknown member", WK("backoff = { initial = 1; maximum = 5; };"), 3,
	  "w: backoff.maximum", "unknown key" },
	{ "sandbox unknown profile", WK("sandbox = \"paranoid\";"), 3, "w: sandbox",
	  "expected none, default or strict" },
	{ "sandbox an integer", WK("sandbox = 1;"), 3, "w: sandbox", "or a group" },
	{ "sandbox typo", WK("sandbox = { alow = [ \"read\" ]; };"), 3, "w: sandbox.alow",
	  "did you mean allow" },
	{ "sandbox bad syscall", WK("sandbox = { allow = [ \"Read\" ]; };"), 3,
	  "w: sandbox.allow[0]", "not a system call name" },
	{ "sandbox empty syscall", WK("sandbox = { deny = [ \"bpf\", \"\" ]; };"), 3,
	  "w: sandbox.deny[1]", "not a system call name" },
	{ "sandbox io_uring a string", WK("sandbox = { io_uring = \"yes\"; };"), 3,
	  "w: sandbox.io_uring", "expected true or false" },
	{ "sandbox bad action", WK("sandbox = { action = \"abort\"; };"), 3,
	  "w: sandbox.action", "expected eperm or kill" },
	{ "sandbox bad base", WK("sandbox = { base = \"custom\"; };"), 3, "w: sandbox.base",
	  "expected none, default or strict" },
	{ "sandbox allow and deny",
	  WK("sandbox = { allow = [ \"ptrace\" ]; deny = [ \"ptrace\" ]; };"), 3,
	  "w: sandbox.deny[0]", "also in sandbox.allow" },
	{ "nofile zero", WK("limits = { nofile = 0; };"), 3, "w: limits.nofile", "at least 1" },
	{ "nofile a string", WK("limits = { nofile = \"4096\"; };"), 3, "w: limits.nofile",
	  "expected an integer" },
	{ "memory zero", WK("limits = { memory = \"0\"; };"), 3, "w: limits.memory",
	  "more than 0" },
	{ "memory bad unit", WK("limits = { memory = \"512X\"; };"), 3, "w: limits.memory",
	  "not a size" },
	{ "memory a float", WK("limits = { memory = 1.5; };"), 3, "w: limits.memory",
	  "expected a size" },
	{ "memory unlimited", WK("limits = { memory = \"unlimited\"; };"), 3, "w: limits.memory",
	  "not a size" },
	{ "core misspelt", WK("limits = { core = \"unlimitted\"; };"), 3, "w: limits.core",
	  "unlimited" },
	{ "core negative", WK("limits = { core = -1; };"), 3, "w: limits.core", "negative" },
	{ "pids negative", WK("limits = { pids = -1; };"), 3, "w: limits.pids", "at least 1" },
	{ "unknown limit", WK("limits = { cpu = 1; };"), 3, "w: limits.cpu", "unknown key" },
	{ "limits not a group", WK("limits = 5;"), 3, "w: limits", "expected a group" },
	{ "stall_timeout with a space", WK("stall_timeout = \"2 s\";"), 3, "w: stall_timeout",
	  "not a duration" },
	{ "bad on_stall", WK("on_stall = \"kill\";"), 3, "w: on_stall",
	  "expected restart or report" },
	{ "watchdog without notify", WK("watchdog = \"5s\";"), 3, "w: watchdog",
	  "ready = \"notify\"" },
	{ "watchdog with fd readiness", WK("ready = \"fd:3\"; watchdog = 1;"), 3, "w: watchdog",
	  "ready = \"notify\"" },
	{ "NOTIFY_SOCKET", WK("env = [ \"NOTIFY_SOCKET=/run/x\" ];"), 3, "w: env[0]",
	  "managed by spawnd" },
	{ "LISTEN_FDS", WK("env = [ \"A=1\", \"LISTEN_FDS=1\" ];"), 3, "w: env[1]",
	  "managed by spawnd" },
	{ "LISTEN_PID", WK("env = [ \"LISTEN_PID=1\" ];"), 3, "w: env[0]", "managed by spawnd" },
	{ "LISTEN_FDNAMES", WK("env = [ \"LISTEN_FDNAMES=\" ];"), 3, "w: env[0]",
	  "managed by spawnd" },
	{ "WATCHDOG_USEC", WK("env = [ \"WATCHDOG_USEC=5\" ];"), 3, "w: env[0]",
	  "managed by spawnd" },
	{ "WATCHDOG_PID", WK("env = [ \"WATCHDOG_PID=5\" ];"), 3, "w: env[0]",
	  "managed by spawnd" },
	{ "JOURNAL_STREAM", WK("env = [ \"JOURNAL_STREAM=8:9\" ];"), 3, "w: env[0]",
	  "managed by spawnd" },
	{ "INVOCATION_ID", WK("env = [ \"INVOCATION_ID=x\" ];"), 3, "w: env[0]",
	  "managed by spawnd" },
	{ "duplicate env", "children = (\n{ name = \"w\"; exec = [\"true\"]; env = [ \"A=1\",\n"
	  "\"A=2\" ]; } );\n", 3, "w: env[1]", "already set at line 2" },
	{ "env without =", WK("env = [ \"DEBUG\" ];"), 3, "w: env[0]", "not KEY=value" },
	{ "env empty name", WK("env = [ \"=1\" ];"), 3, "w: env[0]", "name is empty" },
	{ "env name with a digit first", WK("env = [ \"1A=1\" ];"), 3, "w: env[0]",
	  "variable name" },
	{ "env name with a dash", WK("env = [ \"A-B=1\" ];"), 3, "w: env[0]", "variable name" },
	{ "env a string", WK("env = \"A=1\";"), 3, "w: env", "expected an array" },
	{ "env a group", WK("env = { A = \"1\"; };"), 3, "w: env", "expected an array" },
	{ "empty cwd", WK("cwd = \"\";"), 3, "w: cwd", "empty" },
	{ "cwd an integer", WK("cwd = 1;"), 3, "w: cwd", "expected a string" },
	{ "unknown user", WK("user = \"no-such-user-xyz\";"), 3, "w: user", "no such user" },
	{ "unknown group", WK("group = \"no-such-group-xyz\";"), 3, "w: group",
	  "no such group" },
	{ "uid -1", WK("user = \"4294967295\";"), 3, "w: user", "at most 4294967294" },
	{ "gid too large", WK("group = \"99999999999999999999999\";"), 3, "w: group",
	  "at most 4294967294" },
	{ "empty user", WK("user = \"\";"), 3, "w: user", "empty" },
	{ "bad stdout", WK("stdout = \"out.log\";"), 3, "w: stdout",
	  "expected log, inherit, null or a path" },
	{ "stderr an integer", WK("stderr = 2;"), 3, "w: stderr", "expected a string" },
	{ "float fraction without digits", WK("stall_timeout = \"1.s\";"), 3,
	  "w: stall_timeout", "not a duration" },
	{ "unit alone", WK("ready_timeout = \"ms\";"), 3, "w: ready_timeout",
	  "not a duration" },
};

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

/* Indices, not the cases: Criterion runs each in a fresh process, where
 * pointers into this one's data mean nothing. */
ParameterizedTestParameters(config, malformed)
{
	static size_t idx[NBAD];

	for (size_t i = 0; i < NBAD; i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, NBAD);
}

/* One case of the table, in a frame of its own (see CONFIG_TEST). */
static void __attribute__((noinline)) check_malformed(const struct bad *b)
{
	struct sd_config *cfg = (struct sd_config *)&cfg;
	struct sd_errors errs;
	char prefix[256];
	int r = sd_config_parse(b->text, "t.conf", "/nonexistent-spawnd-test", &cfg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		cr_log_info("%s: %s", b->what, errs.msgs[i]);
	cr_assert_eq(r, -EINVAL, "%s: returned %d", b->what, r);
	cr_assert_eq(cfg, (struct sd_config *)&cfg, "%s: *ret written", b->what);
	cr_assert_eq(errs.n, 1, "%s: %zu messages (logged above)", b->what, errs.n);
	snprintf(prefix, sizeof(prefix), "t.conf:%d: %s: ", b->line, b->where);
	cr_assert(strncmp(errs.msgs[0], prefix, strlen(prefix)) == 0,
		  "%s: \"%s\" does not start with \"%s\"", b->what, errs.msgs[0], prefix);
	cr_assert(strstr(errs.msgs[0] + strlen(prefix), b->word), "%s: \"%s\" does not say \"%s\"",
		  b->what, errs.msgs[0], b->word);
	sd_errors_free(&errs);
}

/* Each malformed file gives -EINVAL, no tree, and exactly one message:
 * "t.conf:LINE: NODE: KEY: ..." (or "t.conf:LINE: syntax error: ...") with
 * the expected line, node, key and wording. */
ParameterizedTest(size_t *i, config, malformed, .timeout = 10)
{
	check_malformed(&bad_cases[*i]);
	assert_no_leaks();
}

/* The table above is the suite's promise of at least 40 malformed files. */
CONFIG_TEST(malformed_count, .timeout = 10)
{
	cr_assert_geq(NBAD, 40);
}
