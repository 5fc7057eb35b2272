/* SPDX-License-Identifier: MIT */
/*
 * Introspection: every libgp program answers snapshot requests (its
 * schedulers, its processes) on a Unix socket, <dir>/<os-pid>.sock, that
 * only its own uid or root may use. ptop and spawnd read it. The protocol
 * is one JSON line in, one JSON line out: see libgp(7), INTROSPECTION.
 *
 * The server is a system process of the runtime (GP_PF_SYSTEM: it does not
 * keep gp_main from returning, and gets GP_EXIT_KILL when the program's last
 * process exits). It serves one connection at a time, one request each:
 *  - a second process per connection could be spawned after the program's
 *    end has already killed the system processes (system_kill_all takes the
 *    list once), and would then keep gp_main waiting for its client; with a
 *    single server, that kill reaches whoever holds a client;
 *  - a snapshot costs a few milliseconds of one scheduler, and the answer's
 *    memory is bounded by one request at a time, whatever the number of
 *    clients (who wait in the listen backlog);
 *  - a client that stalls is cut off by an I/O deadline (GPI_IO_MS).
 *
 * Everything the server allocates per request comes from its process heap
 * (gp_alloc): a kill at any of its cancellation points frees it all, and the
 * accepted descriptor is the server's own, closed at its exit. The listening
 * socket belongs to the runtime (struct gp_introspect), closed and unlinked
 * by gpi_introspect_stop after the last process has gone.
 *
 * Reading other processes: no lock is held across the table. The table is
 * read as the stall monitor reads the schedulers: each slot's pid and state
 * word are atomics; the counters their owners write without atomics (mailbox
 * length, reductions, heap, links, monitors, flags) are read as they are, a
 * stale value being all a snapshot promises (see PEEK). Strings are copied
 * under the locks that keep them alive, one process at a time: a process's
 * name under the runtime's name_lock (as the stall monitor does), a
 * registered name under the registry's lock. The scan spends reductions like
 * any process and yields its scheduler when its time slice is spent, so a
 * table of a million processes costs each scheduler a few milliseconds at a
 * time, never the world.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

#define GPI_REQ_MAX       4096   /* bytes of a request line, newline excluded */
#define GPI_LIMIT_DEFAULT 100
#define GPI_LIMIT_MAX     100000
#define GPI_IO_MS         2000   /* a client's deadline for each read and write */
#define GPI_BACKLOG       64
#define GPI_SCAN_SLOTS    16     /* slots scanned per reduction spent */
#define GPI_SERVER_NAME   "libgp.introspect"
#define GPI_SWEEP_MAX     256    /* stale sockets removed per start, at most */
#define GPI_SWEEP_AGE     10     /* seconds: younger sockets are left alone */

/* The runtime's side: the listening socket and its path. */
struct gp_introspect {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* ---- where the socket lives ------------------------------------------------------ */

/*
 * A private directory: made 0700 if missing; if it exists, it must be a
 * real directory (not a symlink) owned by the caller's uid, and writable by
 * nobody else (strict: also unreadable by others, as under /tmp).
 */
static int private_dir(const char *dir, uid_t uid, bool strict)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid)
		return -EPERM;
	if (st.st_mode & (strict ? 077 : 022))
		return -EPERM;
	return 0;
}

/*
 * $GP_INTROSPECT_DIR (spawnd sets it for each worker; made if missing, else
 * taken as it is: whoever set it chose its owner), else $XDG_RUNTIME_DIR/gp,
 * else /run/gp for root, else /tmp/gp-<uid>.
 */
static int socket_dir(char *buf, size_t size)
{
	const char *env = getenv("GP_INTROSPECT_DIR");
	uid_t uid = geteuid();
	struct stat st;
	int n;

	if (env && *env) {
		if (mkdir(env, 0700) < 0 && errno != EEXIST)
			return -errno;
		if (stat(env, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		n = snprintf(buf, size, "%s", env);
		return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
	}
	env = getenv("XDG_RUNTIME_DIR");
	if (env && *env)
		n = snprintf(buf, size, "%s/gp", env);
	else if (uid == 0)
		n = snprintf(buf, size, "/run/gp");
	else
		n = snprintf(buf, size, "/tmp/gp-%u", (unsigned)uid);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return private_dir(buf, uid, !(env && *env) && uid != 0);
}

/*
 * Sockets left behind by programs that ended without returning from gp_main
 * (a crash, a kill, a sandbox that forbids unlink): remove them, so that the
 * folder lists live programs. A socket is stale if its pid is not alive
 * here, connecting to it is refused (a program in another pid namespace
 * that shares the folder still accepts), and it is not brand new (an
 * older libgp published its socket between bind and listen). Live programs
 * are not connected to.
 */
static void sweep_stale(const char *dir)
{
	time_t now = time(NULL);
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned removed = 0;

	if (!d)
		return;
	while ((e = readdir(d)) && removed < GPI_SWEEP_MAX) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		char *end;
		struct stat st;
		long pid;
		int fd, n;

		errno = 0;
		pid = strtol(e->d_name, &end, 10);
		if (errno || pid <= 0 || end == e->d_name || strcmp(end, ".sock") != 0 ||
		    pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", dir, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(addr.sun_path) || lstat(addr.sun_path, &st) < 0 ||
		    !S_ISSOCK(st.st_mode) || st.st_mtime > now - GPI_SWEEP_AGE)
			continue;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno == ECONNREFUSED &&
		    unlink(addr.sun_path) == 0)
			removed++;
		close(fd);
	}
	closedir(d);
}

/*
 * socket, bind, listen: plain system calls, made before the first process
 * runs. The socket is bound under a hidden name and renamed into place once
 * it listens: a client that sees <pid>.sock can connect (bound but not yet
 * listening, it would refuse, and look stale).
 */
static int socket_open(struct gp_introspect *in)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir[sizeof(addr.sun_path)];
	struct stat st;
	int fd, n, r;

	r = socket_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	sweep_stale(dir);
	n = snprintf(in->path, sizeof(in->path), "%s/%ld.sock", dir, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(in->path))
		return -ENAMETOOLONG;
	n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/.%ld.sock.new", dir, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	/* Left by an earlier OS process with our pid (one that crashed): stale. */
	if (lstat(in->path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(in->path);
	if (lstat(addr.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(addr.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		goto err_close;
	}
	/* Only the owner (and root) may connect; SO_PEERCRED checks it again. */
	if (chmod(addr.sun_path, 0600) < 0 || listen(fd, GPI_BACKLOG) < 0 ||
	    rename(addr.sun_path, in->path) < 0) {
		r = -errno;
		goto err_unlink;
	}
	in->fd = fd;
	return 0;

err_unlink:
	(void)unlink(addr.sun_path);
err_close:
	close(fd);
	return r;
}

/* ---- a growing output buffer in the server's heap ------------------------------------- */

struct jbuf {
	char *data;
	size_t len, cap;
	bool failed; /* out of memory: the answer is dropped */
};

static bool jbuf_reserve(struct jbuf *b, size_t more)
{
	size_t cap;
	char *data;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 16384;
	while (cap < b->len + more + 1)
		cap *= 2;
	data = gp_alloc(cap); /* no gp_realloc: copy */
	if (!data) {
		b->failed = true;
		return false;
	}
	if (b->len)
		memcpy(data, b->data, b->len);
	gp_free(b->data);
	b->data = data;
	b->cap = cap;
	return true;
}

static void jbuf_raw(struct jbuf *b, const char *s, size_t n)
{
	if (!jbuf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void jbuf_lit(struct jbuf *b, const char *s)
{
	jbuf_raw(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) { /* our formats are numbers and keys */
		b->failed = true;
		return;
	}
	jbuf_raw(b, tmp, (size_t)n);
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string; bytes that are not UTF-8 (names are any C strings) become U+FFFD. */
static void jbuf_str(struct jbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	jbuf_raw(b, "\"", 1);
	while (n) {
		size_t len = utf8_seq(s, n);

		if (len == 1 && *s >= 0x20 && *s != '"' && *s != '\\') {
			size_t run = 1; /* copy a run of plain bytes at once */

			while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
			       s[run] != '\\')
				run++;
			jbuf_raw(b, (const char *)s, run);
			s += run;
			n -= run;
			continue;
		}
		if (len == 1) {
			switch (*s) {
			case '"':
				jbuf_raw(b, "\\\"", 2);
				break;
			case '\\':
				jbuf_raw(b, "\\\\", 2);
				break;
			case '\n':
				jbuf_raw(b, "\\n", 2);
				break;
			case '\r':
				jbuf_raw(b, "\\r", 2);
				break;
			case '\t':
				jbuf_raw(b, "\\t", 2);
				break;
			default:
				jbuf_printf(b, "\\u%04x", *s);
				break;
			}
		} else if (len) {
			jbuf_raw(b, (const char *)s, len);
		} else {
			jbuf_raw(b, "\\ufffd", 6);
			len = 1;
		}
		s += len;
		n -= len;
	}
	jbuf_raw(b, "\"", 1);
}

/* ---- the request ------------------------------------------------------------------- */

enum sort_key { SORT_REDUCTIONS, SORT_MAILBOX, SORT_HEAP, SORT_PID, SORT_NAME, SORT_N };

static const char *const sort_names[SORT_N] = { "reductions", "mailbox", "heap", "pid", "name" };

enum pstate {
	PS_RUNNING,
	PS_RUNNABLE,
	PS_WAITING_MSG,
	PS_WAITING_IO,
	PS_SLEEPING,
	PS_HIBERNATED,
	PS_N,
};

static const char *const state_names[PS_N] = {
	"running", "runnable", "waiting_msg", "waiting_io", "sleeping", "hibernated",
};

struct request {
	enum sort_key sort;
	uint32_t limit;
	int state;                    /* -1: any */
	bool has_filter;
	char filter[GP_NAME_MAX + 1]; /* a longer one could match no name */
};

struct parser {
	const char *p, *end;
	char err[160]; /* the first error, for the answer */
};

__attribute__((format(printf, 2, 3))) static int parse_fail(struct parser *ps, const char *fmt,
							    ...)
{
	va_list ap;

	if (!ps->err[0]) {
		va_start(ap, fmt);
		vsnprintf(ps->err, sizeof(ps->err), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n'))
		ps->p++;
}

static int hex4(struct parser *ps, uint32_t *ret)
{
	uint32_t v = 0;

	if (ps->end - ps->p < 4)
		return parse_fail(ps, "bad \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return parse_fail(ps, "bad \\u escape");
	}
	*ret = v;
	return 0;
}

static size_t utf8_put(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* A JSON string into out (NUL-terminated); -E2BIG if it needs more than cap - 1 bytes. */
static int parse_string(struct parser *ps, char *out, size_t cap)
{
	size_t len = 0;

	if (ps->p >= ps->end || *ps->p != '"')
		return parse_fail(ps, "expected a string");
	ps->p++;
	for (;;) {
		char tmp[4];
		size_t n;

		if (ps->p >= ps->end)
			return parse_fail(ps, "unterminated string");
		if (*ps->p == '"') {
			ps->p++;
			break;
		}
		if ((unsigned char)*ps->p < 0x20)
			return parse_fail(ps, "control character in a string");
		if (*ps->p == '\\') {
			uint32_t c, lo;

			if (ps->end - ps->p < 2)
				return parse_fail(ps, "unterminated string");
			ps->p += 2;
			switch (ps->p[-1]) {
			case '"':
				c = '"';
				break;
			case '\\':
				c = '\\';
				break;
			case '/':
				c = '/';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				if (hex4(ps, &c) < 0)
					return -EINVAL;
				if (c >= 0xdc00 && c <= 0xdfff)
					return parse_fail(ps, "lone surrogate in a string");
				if (c >= 0xd800 && c <= 0xdbff) {
					if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
						return parse_fail(ps, "lone surrogate in a string");
					ps->p += 2;
					if (hex4(ps, &lo) < 0)
						return -EINVAL;
					if (lo < 0xdc00 || lo > 0xdfff)
						return parse_fail(ps, "lone surrogate in a string");
					c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (c == 0)
					return parse_fail(ps, "NUL in a string");
				break;
			default:
				return parse_fail(ps, "bad escape in a string");
			}
			n = utf8_put(tmp, c);
		} else {
			n = utf8_seq((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
			if (!n)
				return parse_fail(ps, "a string is not UTF-8");
			memcpy(tmp, ps->p, n);
			ps->p += n;
		}
		if (len + n >= cap)
			return -E2BIG;
		memcpy(out + len, tmp, n);
		len += n;
	}
	out[len] = '\0';
	return 0;
}

/* A non-negative JSON integer, at most max. */
static int parse_uint(struct parser *ps, const char *key, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	const char *start = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return parse_fail(ps, "\"%s\" is out of range", key);
		v = v * 10 + (uint64_t)(*ps->p++ - '0');
	}
	if (ps->p == start || (ps->p - start > 1 && *start == '0') ||
	    (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')))
		return parse_fail(ps, "\"%s\" must be a non-negative integer", key);
	if (v > max)
		return parse_fail(ps, "\"%s\" is out of range (at most %" PRIu64 ")", key, max);
	*ret = v;
	return 0;
}

static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/*
 * The request: one JSON object, strictly: the keys below, each at most once,
 * nothing else; "v" is required. Whitespace as JSON allows.
 */
static int parse_request(struct parser *ps, struct request *req)
{
	enum { K_V, K_SORT, K_LIMIT, K_FILTER, K_STATE, K_N };
	static const char *const keys[K_N] = { "v", "sort", "limit", "filter", "state" };
	unsigned seen = 0;
	char key[32], val[GP_NAME_MAX + 1];
	uint64_t n;
	int k, r;

	*req = (struct request){ .sort = SORT_REDUCTIONS, .limit = GPI_LIMIT_DEFAULT, .state = -1 };
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '{')
		return parse_fail(ps, "a request is a JSON object");
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		goto end;
	}
	for (;;) {
		skip_ws(ps);
		r = parse_string(ps, key, sizeof(key));
		k = r == 0 ? lookup(keys, K_N, key) : -1;
		if (r == -E2BIG || (r == 0 && k < 0)) {
			if (r == -E2BIG)
				return parse_fail(ps, "unknown key");
			return parse_fail(ps, "unknown key \"%s\"", key);
		}
		if (r < 0)
			return r;
		if (seen & (1u << k))
			return parse_fail(ps, "duplicate key \"%s\"", key);
		seen |= 1u << k;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return parse_fail(ps, "expected ':'");
		ps->p++;
		skip_ws(ps);
		switch (k) {
		case K_V:
			if (parse_uint(ps, "v", UINT32_MAX, &n) < 0)
				return -EINVAL;
			if (n != 1)
				return parse_fail(ps, "unsupported version %" PRIu64, n);
			break;
		case K_LIMIT:
			if (parse_uint(ps, "limit", GPI_LIMIT_MAX, &n) < 0)
				return -EINVAL;
			req->limit = (uint32_t)n;
			break;
		case K_SORT:
		case K_STATE:
			r = parse_string(ps, val, sizeof(val));
			if (r == 0 && k == K_SORT)
				r = lookup(sort_names, SORT_N, val);
			else if (r == 0)
				r = lookup(state_names, PS_N, val);
			if (r == -EINVAL && ps->err[0])
				return r;
			if (r < 0)
				return parse_fail(ps, "bad value for \"%s\"", keys[k]);
			if (k == K_SORT)
				req->sort = (enum sort_key)r;
			else
				req->state = r;
			break;
		case K_FILTER:
			r = parse_string(ps, req->filter, sizeof(req->filter));
			if (r == -E2BIG)
				return parse_fail(ps, "\"filter\" is longer than a name (%d bytes)",
						  GP_NAME_MAX);
			if (r < 0)
				return r;
			req->has_filter = req->filter[0] != '\0';
			break;
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			break;
		}
		return parse_fail(ps, "expected ',' or '}'");
	}
end:
	skip_ws(ps);
	if (ps->p != ps->end)
		return parse_fail(ps, "trailing data after the object");
	if (!(seen & (1u << K_V)))
		return parse_fail(ps, "missing \"v\"");
	return 0;
}

/* ---- reading the process table ------------------------------------------------------- */

/*
 * A field its owner writes without atomics (in a struct gp_proc we do not
 * own): read once, as it is. These are naturally aligned words, which do
 * not tear on the machines libgp runs on, and a stale value is all a
 * snapshot promises. TSan cannot know that, so the functions that PEEK are
 * not instrumented (GP_NO_TSAN); everything else they read is atomic.
 */
#define PEEK(field) (*(const volatile __typeof__(field) *)&(field))
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define GP_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define GP_NO_TSAN
#endif

struct row {
	gp_pid pid;
	uint64_t reductions;
	uint64_t heap;
	uint32_t mailbox, links, monitors;
	uint8_t state;
	bool looked;       /* its name was looked up during the scan (a filter, or by name) */
	bool has_name;     /* then: it has one, in name */
	uint16_t name_cap; /* bytes at name */
	char *name;        /* the server's heap */
};

static int classify(uint64_t st, uint32_t flags)
{
	switch (st & GP_S_MASK) {
	case GP_S_RUNNING:
		return PS_RUNNING;
	case GP_S_RUNNABLE:
		return PS_RUNNABLE;
	case GP_S_WAITING:
		if (st & GP_W_IO)
			return PS_WAITING_IO;
		if (flags & GP_PF_HIBERNATED)
			return PS_HIBERNATED;
		if (st & GP_W_MSG)
			return PS_WAITING_MSG;
		return PS_SLEEPING; /* a timer alone: gp_sleep */
	default:
		return -1; /* free or dead: no process */
	}
}

/* The process in p's slot, if there is one: false for a free or dead slot. */
GP_NO_TSAN static bool peek(struct gp_proc *p, struct row *row)
{
	/* acquire: pairs with the release that published the pid at spawn */
	gp_pid pid = atomic_load_explicit(&p->pid, memory_order_acquire);
	uint64_t st = atomic_load_explicit(&p->state, memory_order_acquire);
	int state = classify(st, PEEK(p->flags));

	if (!pid || state < 0)
		return false;
	row->pid = pid;
	row->state = (uint8_t)state;
	row->mailbox = PEEK(p->mq_len);
	row->reductions = PEEK(p->reductions);
	row->heap = PEEK(p->heap_bytes);
	row->links = PEEK(p->links.len);
	row->monitors = PEEK(p->monitors.len);
	row->looked = row->has_name = false;
	row->name_cap = 0;
	row->name = NULL;
	return true;
}

GP_NO_TSAN static bool maybe_registered(struct gp_proc *p)
{
	return PEEK(p->reg_name) != NULL;
}

static bool slot_alive(struct gp_proc *p)
{
	uint64_t kind = atomic_load_explicit(&p->state, memory_order_acquire) & GP_S_MASK;

	return kind == GP_S_RUNNABLE || kind == GP_S_RUNNING || kind == GP_S_WAITING;
}

/*
 * Copy the name of process pid (in slot p) into buf (GP_NAME_MAX + 1 bytes).
 * name_lock keeps the string alive: gpi_proc_release frees it under that
 * lock. The slot must still be alive under the lock too, which a name
 * published by a spawn that is failing (and frees it without the lock)
 * cannot be: the state of its slot is still free or dead (the acquire on the
 * name orders our read of the state after the spawn's view of it).
 */
static bool copy_name(struct gp_runtime *rt, struct gp_proc *p, gp_pid pid, char *buf)
{
	const char *name;
	bool ok = false;

	if (!atomic_load_explicit(&p->name, memory_order_relaxed))
		return false; /* most processes have none: no lock */
	gp_spin_lock(&rt->name_lock);
	name = atomic_load_explicit(&p->name, memory_order_acquire);
	if (name && slot_alive(p) && atomic_load_explicit(&p->pid, memory_order_relaxed) == pid) {
		size_t n = strnlen(name, GP_NAME_MAX);

		memcpy(buf, name, n);
		buf[n] = '\0';
		ok = true;
	}
	gp_spin_unlock(&rt->name_lock);
	return ok;
}

/* The registered name of pid, under the registry's lock (which frees the
 * string, and which every change of reg_name holds but the reset of a
 * fresh slot at spawn, from NULL to NULL: hence PEEK). */
GP_NO_TSAN static bool copy_registered(struct gp_runtime *rt, struct gp_proc *p, gp_pid pid,
				       char *buf)
{
	const char *name;
	bool ok = false;

	if (!maybe_registered(p))
		return false;
	pthread_mutex_lock(&rt->reg_lock);
	name = PEEK(p->reg_name);
	if (name && atomic_load_explicit(&p->pid, memory_order_relaxed) == pid) {
		size_t n = strnlen(name, GP_NAME_MAX);

		memcpy(buf, name, n);
		buf[n] = '\0';
		ok = true;
	}
	pthread_mutex_unlock(&rt->reg_lock);
	return ok;
}

/*
 * Spend a reduction every GPI_SCAN_SLOTS slots, and give the scheduler up
 * when the time slice is spent, as any process does (2000 reductions: about
 * 32,000 slots, a millisecond or two). A cancellation point: a kill ends the
 * server here, and its heap goes with it.
 */
static void scan_tick(unsigned *count)
{
	struct gp_sched *s;

	if (++*count % GPI_SCAN_SLOTS)
		return;
	s = gpi_tls_sched(); /* not cached: we may come back on another thread */
	if (gpi_reductions(s, 1))
		gpi_preempt(s, s->current);
}

static int name_cmp(const struct row *a, const struct row *b)
{
	if (a->has_name != b->has_name)
		return a->has_name ? -1 : 1; /* the unnamed last */
	return a->has_name ? strcmp(a->name, b->name) : 0;
}

/* By pid: as printed, <node.slot.generation>. */
static bool pid_before(gp_pid a, gp_pid b)
{
	if (gp_pid_node(a) != gp_pid_node(b))
		return gp_pid_node(a) < gp_pid_node(b);
	if (gp_pid_slot(a) != gp_pid_slot(b))
		return gp_pid_slot(a) < gp_pid_slot(b);
	return a < b;
}

/* a comes before b in the answer: the sort key, then the pid. */
static bool before(enum sort_key sort, const struct row *a, const struct row *b)
{
	int c;

	switch (sort) {
	case SORT_REDUCTIONS:
		if (a->reductions != b->reductions)
			return a->reductions > b->reductions;
		break;
	case SORT_MAILBOX:
		if (a->mailbox != b->mailbox)
			return a->mailbox > b->mailbox;
		break;
	case SORT_HEAP:
		if (a->heap != b->heap)
			return a->heap > b->heap;
		break;
	case SORT_NAME:
		c = name_cmp(a, b);
		if (c)
			return c < 0;
		break;
	case SORT_PID:
	case SORT_N:
		break;
	}
	return pid_before(a->pid, b->pid);
}

/*
 * The top `limit` rows: a heap whose root is the last of those kept, so a
 * candidate costs one comparison unless it gets in.
 */
struct top {
	enum sort_key sort;
	struct row *v;
	uint32_t len, cap;
};

static void top_sift_down(struct top *t, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		struct row tmp;

		if (l < t->len && before(t->sort, &t->v[m], &t->v[l]))
			m = l;
		if (r < t->len && before(t->sort, &t->v[m], &t->v[r]))
			m = r;
		if (m == i)
			return;
		tmp = t->v[i];
		t->v[i] = t->v[m];
		t->v[m] = tmp;
		i = m;
	}
}

static void top_sift_up(struct top *t, uint32_t i)
{
	while (i) {
		uint32_t parent = (i - 1) / 2;
		struct row tmp;

		if (!before(t->sort, &t->v[parent], &t->v[i]))
			return;
		tmp = t->v[i];
		t->v[i] = t->v[parent];
		t->v[parent] = tmp;
		i = parent;
	}
}

/* Keep the name of row in dst's own buffer (reused when it is big enough). */
static int row_set_name(struct row *dst, const char *name)
{
	size_t n = strlen(name) + 1;

	if (dst->name_cap < n) {
		char *buf = gp_alloc(n);

		if (!buf)
			return -ENOMEM;
		gp_free(dst->name);
		dst->name = buf;
		dst->name_cap = (uint16_t)n;
	}
	memcpy(dst->name, name, n);
	dst->has_name = true;
	return 0;
}

/* Offer a row (its name, if it has one, in name); -ENOMEM drops the answer. */
static int top_offer(struct top *t, const struct row *row, const char *name)
{
	struct row *dst;
	char *buf;
	uint16_t cap;

	if (!t->cap)
		return 0;
	if (t->len == t->cap) {
		struct row cand = *row;

		cand.name = (char *)name;
		if (!before(t->sort, &cand, &t->v[0]))
			return 0;
		dst = &t->v[0];
	} else {
		dst = &t->v[t->len++];
		dst->name = NULL;
		dst->name_cap = 0;
	}
	buf = dst->name;
	cap = dst->name_cap;
	*dst = *row;
	dst->name = buf;
	dst->name_cap = cap;
	dst->has_name = false;
	if (name && row->has_name && row_set_name(dst, name) < 0)
		return -ENOMEM;
	if (dst == &t->v[0] && t->len == t->cap)
		top_sift_down(t, 0);
	else
		top_sift_up(t, (uint32_t)(dst - t->v));
	return 0;
}

/* Sort what was kept, first first: pop the last to the end, len times. */
static void top_sort(struct top *t)
{
	uint32_t n = t->len;

	while (t->len > 1) {
		struct row tmp = t->v[0];

		t->v[0] = t->v[t->len - 1];
		t->v[t->len - 1] = tmp;
		t->len--;
		top_sift_down(t, 0);
	}
	t->len = n;
}

static void top_free(struct top *t)
{
	if (!t->v)
		return;
	for (uint32_t i = 0; i < t->len; i++)
		gp_free(t->v[i].name);
	gp_free(t->v);
	t->v = NULL;
}

/* A scheduler whose running process the stall monitor has reported. */
struct stalled {
	struct gp_proc *proc;
	uint64_t ms;
};

static uint32_t runq_len(struct gp_sched *s)
{
	uint32_t h = atomic_load_explicit(&s->runq.head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&s->runq.tail, memory_order_acquire);
	uint32_t n = t - h;

	if (n > GP_RUNQ_SIZE) /* head and tail read at different times */
		n = t > h ? GP_RUNQ_SIZE : 0;
	return n + (atomic_load_explicit(&s->runnext, memory_order_relaxed) != NULL);
}

static void write_runtime(struct jbuf *b, struct gp_runtime *rt, struct stalled *stalled,
			  unsigned *nstalled)
{
	uint64_t spawned = 0, now = gpi_now_ns();

	jbuf_printf(b, "\"runtime\":{\"schedulers\":%u,\"per_scheduler\":[", rt->nsched);
	for (unsigned i = 0; i < rt->nsched; i++) {
		struct gp_sched *s = rt->sched[i];
		bool is_stalled = atomic_load_explicit(&s->stalled, memory_order_acquire);
		struct gp_proc *running = atomic_load_explicit(&s->running, memory_order_relaxed);
		struct timespec cpu;

		spawned += atomic_load_explicit(&s->spawned, memory_order_relaxed);
		jbuf_printf(b, "%s{\"id\":%u,\"runq\":%" PRIu32, i ? "," : "", s->id, runq_len(s));
		jbuf_printf(b, ",\"switches\":%" PRIu64 ",\"steals\":%" PRIu64,
			    atomic_load_explicit(&s->switches, memory_order_relaxed),
			    atomic_load_explicit(&s->steals, memory_order_relaxed));
		jbuf_printf(b, ",\"stalled\":%s,\"io_submitted\":%" PRIu64, is_stalled ? "true" : "false",
			    atomic_load_explicit(&s->io_submitted, memory_order_relaxed));
		jbuf_printf(b, ",\"io_completed\":%" PRIu64,
			    atomic_load_explicit(&s->io_completed, memory_order_relaxed));
		/* The thread's CPU time, for a client's utilisation (its clock
		 * is readable from any thread); null without one. */
		if (s->cpu_clock != CLOCK_MONOTONIC && clock_gettime(s->cpu_clock, &cpu) == 0)
			jbuf_printf(b, ",\"cpu_ms\":%" PRIu64 "}",
				    (uint64_t)cpu.tv_sec * 1000u + (uint64_t)cpu.tv_nsec / 1000000u);
		else
			jbuf_lit(b, ",\"cpu_ms\":null}");
		if (is_stalled && running) {
			uint64_t since = atomic_load_explicit(&s->stall_start_ns, memory_order_relaxed);

			stalled[*nstalled].proc = running;
			/* Without the monitor's start time, what a report implies. */
			stalled[*nstalled].ms = since && since < now ? (now - since) / 1000000u
								     : rt->config.stall_ms;
			++*nstalled;
		}
	}
	jbuf_printf(b, "],\"processes\":%" PRId64 ",\"spawned\":%" PRIu64 ",\"stalls\":%" PRIu64 "}",
		    atomic_load_explicit(&rt->procs_live, memory_order_relaxed), spawned,
		    atomic_load_explicit(&rt->stalls, memory_order_relaxed));
}

static void write_row(struct jbuf *b, struct gp_runtime *rt, const struct row *row,
		      const struct stalled *stalled, unsigned nstalled, bool first)
{
	struct gp_proc *p = &rt->procs[gp_pid_slot(row->pid)];
	char pid[64], buf[GP_NAME_MAX + 1];

	gpi_fmt_pid(pid, sizeof(pid), row->pid);
	jbuf_printf(b, "%s{\"pid\":\"%s\",\"name\":", first ? "" : ",", pid);
	if (row->has_name)
		jbuf_str(b, row->name);
	else if (!row->looked && copy_name(rt, p, row->pid, buf))
		jbuf_str(b, buf);
	else
		jbuf_lit(b, "null");
	jbuf_printf(b, ",\"state\":\"%s\",\"mailbox\":%" PRIu32 ",\"reductions\":%" PRIu64,
		    state_names[row->state], row->mailbox, row->reductions);
	jbuf_printf(b, ",\"heap\":%" PRIu64 ",\"links\":%" PRIu32 ",\"monitors\":%" PRIu32
		       ",\"registered\":",
		    row->heap, row->links, row->monitors);
	if (copy_registered(rt, p, row->pid, buf))
		jbuf_str(b, buf);
	else
		jbuf_lit(b, "null");
	jbuf_lit(b, ",\"stall_ms\":");
	for (unsigned i = 0; i < nstalled; i++) {
		if (stalled[i].proc == p && row->state == PS_RUNNING) {
			jbuf_printf(b, "%" PRIu64 "}", stalled[i].ms);
			return;
		}
	}
	jbuf_lit(b, "null}");
}

/*
 * The answer to req, into b: the runtime, totals over every process, and
 * the first req->limit processes by req->sort among those that pass the
 * filters. -ENOMEM: b is unusable.
 */
static int snapshot(struct gp_runtime *rt, const struct request *req, struct jbuf *b)
{
	uint32_t nslots = atomic_load_explicit(&rt->next_slot, memory_order_acquire);
	bool need_name = req->has_filter || req->sort == SORT_NAME;
	struct top top = { .sort = req->sort };
	uint64_t totals[PS_N] = { 0 };
	struct stalled *stalled;
	unsigned nstalled = 0, count = 0;
	char name[GP_NAME_MAX + 1];
	int r = -ENOMEM;

	if (nslots > rt->max_procs)
		nslots = rt->max_procs; /* next_slot may overshoot at the end of the table */
	stalled = gp_alloc(rt->nsched * sizeof(*stalled));
	if (!stalled)
		return -ENOMEM;
	if (req->limit) {
		top.v = gp_alloc((size_t)req->limit * sizeof(*top.v));
		if (!top.v)
			goto out;
		top.cap = req->limit;
	}

	jbuf_printf(b, "{\"v\":1,\"os_pid\":%ld,", (long)getpid());
	write_runtime(b, rt, stalled, &nstalled);

	for (uint32_t slot = 0; slot < nslots; slot++) {
		struct gp_proc *p = &rt->procs[slot];
		struct row row;

		scan_tick(&count);
		if (!peek(p, &row))
			continue;
		totals[row.state]++;
		if (req->state >= 0 && row.state != req->state)
			continue;
		if (need_name) {
			row.looked = true;
			row.has_name = copy_name(rt, p, row.pid, name);
			if (req->has_filter && (!row.has_name || !strstr(name, req->filter)))
				continue;
		}
		if (top_offer(&top, &row, row.has_name ? name : NULL) < 0)
			goto out;
	}
	top_sort(&top);

	jbuf_lit(b, ",\"totals\":{");
	for (int i = 0; i < PS_N; i++)
		jbuf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", state_names[i], totals[i]);
	jbuf_lit(b, "},\"processes\":[");
	for (uint32_t i = 0; i < top.len; i++) {
		write_row(b, rt, &top.v[i], stalled, nstalled, i == 0);
		scan_tick(&count);
	}
	jbuf_lit(b, "]}\n");
	r = b->failed ? -ENOMEM : 0;
out:
	top_free(&top);
	gp_free(stalled);
	return r;
}

/* ---- the server ---------------------------------------------------------------------- */

static void send_error(int fd, const char *msg)
{
	static const char oom[] = "{\"v\":1,\"error\":\"out of memory\"}\n";
	struct jbuf b = { 0 };

	jbuf_lit(&b, "{\"v\":1,\"error\":");
	jbuf_str(&b, msg);
	jbuf_lit(&b, "}\n");
	if (!b.failed)
		(void)gp_write(fd, b.data, b.len);
	else
		(void)gp_write(fd, oom, sizeof(oom) - 1);
	gp_free(b.data);
}

/* Read one line (newline dropped) into buf; its length, or -E2BIG, or an I/O error. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	for (;;) {
		char *nl = memchr(buf, '\n', len);
		ssize_t n;

		if (nl)
			return nl - buf;
		if (len == cap)
			return -E2BIG;
		n = gp_read(fd, buf + len, cap - len);
		if (n < 0)
			return n;
		if (n == 0)
			return (ssize_t)len; /* EOF ends the line too */
		len += (size_t)n;
	}
}

static void serve(struct gp_runtime *rt, int fd)
{
	char line[GPI_REQ_MAX + 1];
	struct parser ps = { 0 };
	struct request req;
	struct jbuf b = { 0 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	ssize_t n;
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		send_error(fd, "permission denied");
		return;
	}
	n = read_line(fd, line, sizeof(line));
	if (n == -E2BIG || n > GPI_REQ_MAX) {
		send_error(fd, "request too long (at most 4096 bytes)");
		return;
	}
	if (n < 0)
		return; /* gone, or too slow */
	ps.p = line;
	ps.end = line + n;
	if (parse_request(&ps, &req) < 0) {
		send_error(fd, ps.err[0] ? ps.err : "bad request");
		return;
	}
	r = snapshot(rt, &req, &b);
	if (r < 0)
		send_error(fd, "out of memory");
	else
		(void)gp_write(fd, b.data, b.len);
	gp_free(b.data);
}

/*
 * Discard what the client sent beyond its request, without waiting and up
 * to a bound: a Unix socket closed with unread data makes the client's
 * read end in ECONNRESET (after the answer) rather than at end of file.
 */
static void drain(int fd)
{
	char buf[4096];

	for (int i = 0; i < 16; i++)
		if (gp_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			return;
}

static void server(void *arg)
{
	struct gp_runtime *rt = arg;
	int lfd = rt->introspect->fd;

	for (;;) {
		int fd;

		(void)gp_io_timeout(-1); /* an idle program waits without waking */
		fd = gp_accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (fd == -EBADF || fd == -EINVAL || fd == -ENOTSOCK || fd == -EOPNOTSUPP)
				break;
			/* A client that left, or no descriptors or memory for
			 * now: try again a little later. */
			if (fd != -ECONNABORTED && fd != -EINTR)
				(void)gp_sleep(100);
			continue;
		}
		(void)gp_io_timeout(GPI_IO_MS);
		serve(rt, fd);
		drain(fd);
		(void)gp_close(fd);
	}
	/*
	 * Nothing to serve any more. Returning would be an exit that, before
	 * the first process is spawned, ends the runtime (the last process
	 * out turns off the lights): wait for the program's end instead.
	 */
	for (;;) {
		struct gp_msg m;

		if (gp_receive(&m, -1) == 0)
			gp_msg_free(&m);
	}
}

/* ---- start and stop ---------------------------------------------------------------------- */

/*
 * From gp_main, on scheduler 0's thread, before the first process is
 * spawned (and before a sandbox forbids socket and bind): the socket, and
 * its server. Before the first process, because a server spawned after it
 * could come too late: had the program already ended, nothing would kill
 * the server. Without introspection ($GP_INTROSPECT=0, or no usable
 * directory) the program runs all the same.
 */
void gpi_introspect_start(struct gp_runtime *rt)
{
	const char *env = getenv("GP_INTROSPECT");
	struct gp_spawn_opts opts = { .name = GPI_SERVER_NAME, .stack_size = 64u << 10 };
	struct gp_introspect *in;
	gp_pid pid;

	if (env && strcmp(env, "0") == 0)
		return;
	in = calloc(1, sizeof(*in));
	if (!in)
		return;
	in->fd = -1;
	if (socket_open(in) < 0) {
		free(in);
		return;
	}
	rt->introspect = in;
	if (gpi_spawn(rt->sched[0], NULL, &pid, server, rt, &opts, GP_PF_SYSTEM) < 0)
		gpi_introspect_stop(rt);
}

/*
 * After the last process has exited (the server too): close and unlink. A
 * sandbox without GP_SANDBOX_FILES forbids unlink (with GP_SANDBOX_KILL, the
 * call would kill the program on its way out): the socket stays, refusing
 * connections, until the next program that serves in the folder sweeps it.
 */
void gpi_introspect_stop(struct gp_runtime *rt)
{
	struct gp_introspect *in = rt->introspect;
	unsigned sandbox = rt->config.sandbox;
	int saved = errno;

	if (!in)
		return;
	rt->introspect = NULL;
	if (!(sandbox & GP_SANDBOX_ON) || (sandbox & GP_SANDBOX_FILES))
		(void)unlink(in->path);
	if (in->fd >= 0)
		close(in->fd);
	free(in);
	errno = saved;
}
