/* SPDX-License-Identifier: MIT */
/*
 * Helpers for spawnd's end-to-end tests: a scratch directory, a
 * configuration written there, the real spawnd binary started on it with
 * its log captured, and waits on what its children record.
 *
 * $SPAWND and $SDTEST name the binaries (defaults: build/spawnd and
 * build/tests/progs/sdtest). Children record "START pid ms" and
 * "TERM pid ms" lines in a file (SDTEST_LOG, passed through the config's
 * env), which tell the tests what ran, when, and in what order.
 */
#ifndef SD_TEST_H
#define SD_TEST_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sd_env {
	char dir[64];        /* /tmp/sdtest.XXXXXX */
	char conf[PATH_MAX];
	char log[PATH_MAX];  /* spawnd's stderr */
	char rec[PATH_MAX];  /* what the children record (SDTEST_LOG) */
	char sock[PATH_MAX]; /* spawnd's control socket */
	char spawnd[PATH_MAX];
	char sdtest[PATH_MAX];
	pid_t pid;
};

static inline long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static inline void abs_path(const char *env, const char *def, char *out)
{
	const char *p = getenv(env);

	cr_assert_not_null(realpath(p ? p : def, out), "%s: %s", p ? p : def, strerror(errno));
}

static inline void env_setup(struct sd_env *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/sdtest.XXXXXX");
	cr_assert_not_null(mkdtemp(e->dir));
	snprintf(e->conf, sizeof(e->conf), "%s/spawnd.conf", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/spawnd.log", e->dir);
	snprintf(e->rec, sizeof(e->rec), "%s/record", e->dir);
	snprintf(e->sock, sizeof(e->sock), "%s/control", e->dir);
	abs_path("SPAWND", "build/spawnd", e->spawnd);
	abs_path("SDTEST", "build/tests/progs/sdtest", e->sdtest);
	e->pid = -1;
}

/* Tests of what only root can set up (other users, cgroups) skip without it. */
#define NEED_ROOT(why)                                                   \
	do {                                                             \
		if (geteuid() != 0)                                      \
			cr_skip_test("needs root: %s", why);             \
	} while (0)

static inline char *slurp(const char *path);

/* Stop a spawnd still running the way an operator would (SIGTERM, so that
 * a sanitizer build checks its exit for leaks too; SIGKILL if it hangs),
 * and fail the test if a sanitizer reported anything in its log. */
static inline void env_cleanup(struct sd_env *e)
{
	char cmd[PATH_MAX + 16];

	if (e->pid > 0) {
		long long until;
		int st;

		kill(e->pid, SIGTERM);
		for (until = ms_now() + 15000; ms_now() < until;) {
			if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
				e->pid = -1;
				break;
			}
			msleep(10);
		}
		if (e->pid > 0) {
			kill(e->pid, SIGKILL);
			waitpid(e->pid, NULL, 0);
		}
	}
	if (e->log[0]) {
		const char *text = slurp(e->log);

		/* (not cr_assert: Criterion leaks an assertion made in .fini) */
		if (strstr(text, "Sanitizer") || strstr(text, "runtime error:")) {
			fprintf(stderr, "a sanitizer reported in spawnd's log:\n%s", text);
			abort(); /* the test crashes: a failure */
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.gp", e->dir, e->dir);
	(void)!system(cmd);
}

/* Write the configuration: "@T" stands for the sdtest binary and "@R" for
 * the record file (so that configs read naturally). */
static inline void write_conf(struct sd_env *e, const char *fmt, ...)
{
	char text[16384], out[32768];
	size_t o = 0;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (const char *p = text; *p && o < sizeof(out) - PATH_MAX; p++) {
		if (p[0] == '@' && (p[1] == 'T' || p[1] == 'R')) {
			const char *s = p[1] == 'T' ? e->sdtest : e->rec;

			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", s);
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	f = fopen(e->conf, "w");
	cr_assert_not_null(f);
	fputs(out, f);
	fclose(f);
}

/* Start spawnd on the configuration, its stdout and stderr into e->log,
 * its control socket at e->sock. */
static inline void spawnd_start(struct sd_env *e, const char *extra)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		/* A test that dies (a Criterion timeout) takes its spawnd along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		if (extra)
			execl(e->spawnd, "spawnd", "-c", e->conf, "-s", e->sock, extra, (char *)NULL);
		else
			execl(e->spawnd, "spawnd", "-c", e->conf, "-s", e->sock, (char *)NULL);
		_exit(127);
	}
	e->pid = pid;
}

static inline char *slurp(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static inline int count_in(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Wait until path contains needle at least `times` times. */
static inline bool wait_for(const char *path, const char *needle, int times, long timeout_ms)
{
	long long until = ms_now() + timeout_ms;

	do {
		if (count_in(slurp(path), needle) >= times)
			return true;
		msleep(10);
	} while (ms_now() < until);
	return false;
}

#define ASSERT_LOG(e, needle, times, timeout_ms)                                          \
	cr_assert(wait_for((e)->log, needle, times, timeout_ms),                          \
		  "spawnd's log lacks %d x \"%s\" after %ld ms:\n%s", times, needle,      \
		  (long)(timeout_ms), slurp((e)->log))

/* Wait for spawnd to exit; its exit status, or -1 on timeout. */
static inline int spawnd_wait(struct sd_env *e, long timeout_ms)
{
	long long until = ms_now() + timeout_ms;
	int st;

	do {
		pid_t r = waitpid(e->pid, &st, WNOHANG);

		if (r == e->pid) {
			e->pid = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		msleep(10);
	} while (ms_now() < until);
	return -1;
}

static inline int spawnd_stop(struct sd_env *e, long timeout_ms)
{
	kill(e->pid, SIGTERM);
	return spawnd_wait(e, timeout_ms);
}

/* The pids of the children's STARTs, in order; returns how many. */
static inline int started(struct sd_env *e, int *pids, int max)
{
	char *p = slurp(e->rec);
	int n = 0, pid;
	long long ms;

	while ((p = strstr(p, "START "))) {
		if (sscanf(p, "START %d %lld", &pid, &ms) == 2 && n < max)
			pids[n] = pid;
		n++;
		p += 6;
	}
	return n;
}

static inline bool alive(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	if (kill(pid, 0) < 0)
		return false;
	/* A zombie is not alive. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%*d %*s %c", &state) != 1)
		state = 0;
	fclose(f);
	return state && state != 'Z' && state != 'X';
}

/* ---- running a tool (spawnctl, ptop) --------------------------------------------------- */

/* The whole of a small file into buf (cut to size - 1), NUL-terminated. */
static inline void read_into(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd >= 0) {
		for (ssize_t n; len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0;)
			len += (size_t)n;
		close(fd);
	}
	buf[len] = '\0';
}

/* Start BIN ARGS (NULL-terminated), its stdout into out and stderr into err. */
static inline pid_t spawn_tool(const char *bin, const char *const *args, const char *out,
			       const char *err)
{
	const char *argv[64];
	int n = 0;
	pid_t pid;

	argv[n++] = bin;
	while (*args && n < 63)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		dup2(o, 1);
		dup2(e, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Its exit status, or 128 + the signal that killed it. */
static inline int exit_status(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif /* SD_TEST_H */
