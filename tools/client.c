/* SPDX-License-Identifier: MIT */
/*
 * The client side of spawnd's control socket, shared by spawnctl and ptop:
 * the socket's path, a connection and its lines, JSON accessors, formats
 * and text cut to a width (client.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "client.h"

long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the socket -------------------------------------------------------------------------- */

int control_path(const char *given, char *buf, size_t size)
{
	const char *rt;
	int n;

	if (!given || !*given) {
		given = getenv("SPAWND_CONTROL");
		if (given && !*given)
			given = NULL;
	}
	/* spawnd's own default (sd_control_default_path). */
	if (given) {
		n = snprintf(buf, size, "%s", given);
	} else if (geteuid() == 0) {
		n = snprintf(buf, size, "/run/spawnd/control");
	} else {
		rt = getenv("XDG_RUNTIME_DIR");
		if (!rt || rt[0] != '/')
			return -ENOENT;
		n = snprintf(buf, size, "%s/spawnd/control", rt);
	}
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int unix_address(const char *path, struct sockaddr_un *sa)
{
	size_t len = strlen(path);

	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

static int conn_connect(struct conn *c, const char *path, int flags, const struct timeval *tv)
{
	struct sockaddr_un sa;
	int fd, r;

	r = unix_address(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	/* A Unix socket's blocking connect waits for room in the backlog as
	 * long as SO_SNDTIMEO allows; a non-blocking one fails with EAGAIN. */
	if ((tv && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, sizeof(*tv)) < 0) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == EINPROGRESS ? -EAGAIN : -errno;
		close(fd);
		return r;
	}
	c->fd = fd;
	c->inoff = c->inlen = c->inscan = 0;
	return 0;
}

int conn_open(struct conn *c, const char *path, long long timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	return conn_connect(c, path, 0, &tv);
}

int conn_open_nonblock(struct conn *c, const char *path)
{
	return conn_connect(c, path, SOCK_NONBLOCK, NULL);
}

int conn_send(struct conn *c, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int conn_next_line(struct conn *c, char **ret_line, size_t *ret_len)
{
	char *nl = c->inscan < c->inlen ? memchr(c->in + c->inscan, '\n', c->inlen - c->inscan) :
					  NULL;

	if (!nl) {
		c->inscan = c->inlen;
		return 0;
	}
	*nl = '\0';
	*ret_line = c->in + c->inoff;
	*ret_len = (size_t)(nl - *ret_line);
	c->inoff = c->inscan = (size_t)(nl + 1 - c->in);
	return 1;
}

int conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->inoff) {
		memmove(c->in, c->in + c->inoff, c->inlen - c->inoff);
		c->inlen -= c->inoff;
		c->inscan -= c->inoff;
		c->inoff = 0;
	}
	if (c->inlen == c->incap) {
		size_t cap = c->incap ? c->incap * 2 : 65536;
		char *in;

		if (c->incap >= CLIENT_RESPONSE_MAX)
			return -EMSGSIZE;
		in = realloc(c->in, cap);
		if (!in)
			return -ENOMEM;
		c->in = in;
		c->incap = cap;
	}
	do
		n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	c->inlen += (size_t)n;
	return (int)n;
}

int conn_read_line(struct conn *c, long long deadline, const sigset_t *waitmask,
		   volatile sig_atomic_t *stop, char **ret_line, size_t *ret_len)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		struct timespec ts, *tsp = NULL;
		int n;

		if (conn_next_line(c, ret_line, ret_len))
			return 1;
		if (stop && *stop)
			return -EINTR;
		if (deadline >= 0) {
			long long left = deadline - mono_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000;
			tsp = &ts;
		}
		/* The signals that set *stop are blocked except here, so that
		 * one cannot come between the check above and the wait. */
		if (ppoll(&pfd, 1, tsp, waitmask) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!pfd.revents)
			continue;
		n = conn_fill(c);
		if (n == -EAGAIN)
			continue;
		if (n <= 0)
			return n;
	}
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	c->in = NULL;
	c->inoff = c->inlen = c->incap = c->inscan = 0;
}

/* ---- JSON -------------------------------------------------------------------------------- */

json_object *jget(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const char *jstr_or(json_object *o, const char *key, const char *def)
{
	const char *s = jstr(o, key);

	return s ? s : def;
}

long long jint(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return json_object_is_type(v, json_type_int) ? (long long)json_object_get_int64(v) : 0;
}

bool jbool(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

json_object *jarr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return json_object_is_type(v, json_type_array) ? v : NULL;
}

size_t jlen(json_object *arr)
{
	return arr ? json_object_array_length(arr) : 0;
}

json_object *jidx(json_object *arr, size_t i)
{
	return i < jlen(arr) && json_object_is_type(arr, json_type_array) ?
		       json_object_array_get_idx(arr, i) :
		       NULL;
}

json_object *parse_object(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(CLIENT_JSON_DEPTH);
	json_object *o = NULL;

	if (!tok || len > INT_MAX)
		goto cleanup;
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
cleanup:
	if (tok)
		json_tokener_free(tok);
	return o;
}

/* ---- formats ----------------------------------------------------------------------------- */

const char *shown(const char *path)
{
	return !path ? "?" : !path[0] ? "/" : path;
}

void fmt_uptime(char *buf, size_t size, long long ms)
{
	long long s = ms / 1000;

	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

void fmt_secs(char *buf, size_t size, long long ms)
{
	snprintf(buf, size, "%gs", (double)ms / 1000);
}

void fmt_last_exit(char *buf, size_t size, json_object *le)
{
	const char *sig = jstr(le, "signal");

	if (!le)
		snprintf(buf, size, "-");
	else if (jbool(le, "start_failed"))
		snprintf(buf, size, "could not start");
	else if (sig)
		snprintf(buf, size, "%s%s", sig, jbool(le, "core") ? " (core)" : "");
	else
		snprintf(buf, size, "exit %lld", jint(le, "code"));
}

int textf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

const char *plural(long long n)
{
	return n == 1 ? "" : "s";
}

/* ---- text that fits ---------------------------------------------------------------------- */

/*
 * The next character of s (len bytes left): its length in bytes, and in
 * *ret_width the columns it takes. A control character, or bytes that are
 * no character in the locale, come out as '?' (*ret_bad), so that what
 * spawnd relays from its children cannot move the cursor.
 */
static size_t next_char(const char *s, size_t len, mbstate_t *st, int *ret_width, bool *ret_bad)
{
	wchar_t wc;
	size_t n = mbrtowc(&wc, s, len, st);
	int w;

	if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
		memset(st, 0, sizeof(*st));
		*ret_width = 1;
		*ret_bad = true;
		return 1;
	}
	w = wcwidth(wc);
	*ret_bad = w < 0 || iswcntrl((wint_t)wc);
	*ret_width = *ret_bad ? 1 : w;
	return n;
}

size_t text_width(const char *s)
{
	size_t len = strlen(s), w = 0;
	mbstate_t st = { 0 };
	bool bad;
	int cw;

	for (size_t i = 0; i < len; w += (size_t)cw)
		i += next_char(s + i, len - i, &st, &cw, &bad);
	return w;
}

/* Print the characters of s whose columns fall in [from, to); the columns
 * printed (fewer where a wide character straddles an end). */
static size_t put_span(FILE *f, const char *s, size_t from, size_t to)
{
	size_t len = strlen(s), col = 0, w = 0;
	mbstate_t st = { 0 };
	bool bad;
	int cw;

	for (size_t i = 0, n; i < len; i += n, col += (size_t)cw) {
		n = next_char(s + i, len - i, &st, &cw, &bad);
		if (col < from || col + (size_t)cw > to)
			continue;
		if (bad)
			fputc('?', f);
		else
			fwrite(s + i, 1, n, f);
		w += (size_t)cw;
	}
	return w;
}

/* A path keeps both ends when cut in the middle: where it is, and what it is. */
void put_fit(FILE *f, bool utf8, const char *s, size_t cols, enum cut cut, bool pad)
{
	const char *ell = utf8 ? "\u2026" : "...";
	size_t w = text_width(s), ew = utf8 ? 1 : 3;

	if (w <= cols) {
		w = put_span(f, s, 0, w);
	} else if (cols <= ew) {
		w = put_span(f, s, 0, cols);
	} else if (cut == CUT_END) {
		w = put_span(f, s, 0, cols - ew) + ew;
		fputs(ell, f);
	} else {
		size_t head = (cols - ew) / 3, tail = cols - ew - head, all = w;

		w = put_span(f, s, 0, head) + ew;
		fputs(ell, f);
		w += put_span(f, s, all - tail, all);
	}
	for (; pad && w < cols; w++)
		fputc(' ', f);
}

void put_right(FILE *f, const char *s, size_t cols)
{
	for (size_t w = strlen(s); w < cols; w++)
		fputc(' ', f);
	fputs(s, f);
}
