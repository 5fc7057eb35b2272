/* SPDX-License-Identifier: MIT */
/*
 * spawnd-control(7) messages: one request line checked and turned into a
 * struct sd_request, and the response and event objects around results.
 *
 * Checking goes outside in, so that the first thing wrong is the one
 * reported: the line's size, its JSON, the object, "id" (read first, so that
 * every later error can echo it), keys given twice, "v" (before "cmd": a
 * later version may have commands this one does not know), "cmd", then each
 * argument in the order written, then the required ones that are missing.
 *
 * json-c builds the tree, but its JSON_TOKENER_STRICT is not strict: it
 * takes NaN, Infinity, single-quoted keys, numbers such as -01 and 1., raw
 * control characters in strings, UTF-8 encoded surrogates and overlong
 * forms, and cuts a key at a \u0000. lex_check() refuses all of that before
 * json-c sees the line, so that whatever is echoed back ("id") is JSON and
 * UTF-8 as the protocol promises, and a key means what it spells.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "request.h"

/* Nesting of arrays and objects, the request object counting 1. json-c's
 * parser bounds it too, but its serialiser and json_object_put recurse, and
 * an "id" is echoed. */
#define JSON_DEPTH 32

/* Keys of the request object that lex_check() remembers, to name one that
 * appears twice. A valid request has at most 6 (v, id, cmd, 3 arguments). */
#define TOP_KEYS 16

/* Bytes of a value quoted in an error message (cut on a character). */
#define QUOTE_MAX 48

/* Signals are 1..64 on Linux (SIGRTMAX); the protocol says so too. */
#define SIG_LAST 64

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Fill err; returns -EINVAL, so that checks can `return fail(...)`. */
static int __attribute__((format(printf, 3, 4)))
fail(struct sd_request_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fail_nomem(struct sd_request_error *err)
{
	(void)fail(err, SD_ERR_INTERNAL, "out of memory");
	return -ENOMEM;
}

/* ---- UTF-8 and JSON tokens ---------------------------------------------- */

/* Length of the well-formed UTF-8 character at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_char(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 1;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 2;
		if (p[0] == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (p[0] == 0xed)
			hi = 0x9f; /* U+D800..U+DFFF */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 3;
		if (p[0] == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (p[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n <= need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k <= need; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Could continue a number or a literal: what must not follow one. */
static bool is_word(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
	       c == '+' || c == '-' || c == '_';
}

/* End of the RFC 8259 number at s[i], or 0 if there is none. */
static size_t lex_number(const unsigned char *s, size_t len, size_t i)
{
	if (s[i] == '-')
		i++;
	if (i < len && s[i] == '0') {
		i++;
	} else if (i < len && is_digit(s[i])) {
		while (i < len && is_digit(s[i]))
			i++;
	} else {
		return 0;
	}
	if (i < len && s[i] == '.') {
		if (++i == len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	/* "01", "1.2.3", "1x" */
	if (i < len && is_word(s[i]))
		return 0;
	return i;
}

/* End of the literal true, false or null at s[i], or 0. */
static size_t lex_literal(const unsigned char *s, size_t len, size_t i)
{
	static const char *const literals[] = { "true", "false", "null" };

	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(literals[k]);

		if (len - i >= n && !memcmp(s + i, literals[k], n) &&
		    (len - i == n || !is_word(s[i + n])))
			return i + n;
	}
	return 0;
}

static int __attribute__((format(printf, 3, 4)))
lex_fail(struct sd_request_error *err, size_t at, const char *fmt, ...)
{
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail(err, SD_ERR_BAD_JSON, "invalid JSON at byte %zu: %s", at + 1, what);
}

/* The string whose opening quote is at s[*pos]; *pos moves past its end. */
static int lex_string(const unsigned char *s, size_t len, size_t *pos, bool key,
		      struct sd_request_error *err)
{
	size_t i = *pos + 1, n;

	while (i < len) {
		unsigned char c = s[i];

		if (c == '"') {
			*pos = i + 1;
			return 0;
		}
		if (c == '\0')
			return lex_fail(err, i, "NUL byte");
		if (c < 0x20)
			return lex_fail(err, i, "control character in a string (escape it)");
		if (c == '\\') {
			if (i + 1 == len)
				break;
			c = s[i + 1];
			if (c != 'u') {
				if (!strchr("\"\\/bfnrt", c) || c == '\0')
					return lex_fail(err, i, "unknown escape in a string");
				i += 2;
				continue;
			}
			if (len - i < 6)
				break;
			for (size_t k = 2; k < 6; k++)
				if (!is_hex(s[i + k]))
					return lex_fail(err, i, "\\u not followed by 4 hex digits");
			/* json-c would end the key there, silently. */
			if (key && !memcmp(s + i + 2, "0000", 4))
				return lex_fail(err, i, "\\u0000 in a key");
			i += 6;
			continue;
		}
		n = utf8_char(s + i, len - i);
		if (!n)
			return lex_fail(err, i, "invalid UTF-8");
		i += n;
	}
	return lex_fail(err, len, "unterminated string");
}

/* What lex_check() learnt about the line. */
struct lexed {
	bool blank; /* nothing but white space */
	size_t n;   /* keys of the outermost object */
	/* The first TOP_KEYS of them, as written (between the quotes). */
	size_t at[TOP_KEYS], len[TOP_KEYS];
};

/*
 * The tokens of the line, and no more: json-c checks the structure after
 * this. Tracks nesting only to know which strings are keys, to bound the
 * depth, and to count the request object's keys (json-c keeps the last of
 * keys that repeat, which sd_request_parse then refuses).
 */
static int lex_check(const char *line, size_t len, struct lexed *lx, struct sd_request_error *err)
{
	const unsigned char *s = (const unsigned char *)line;
	bool object[JSON_DEPTH]; /* object[d]: the container at depth d+1 is one */
	bool want_key = false;	 /* a string here is a key */
	size_t depth = 0, i = 0, end;
	int r;

	lx->n = 0;
	lx->blank = true;
	while (i < len) {
		unsigned char c = s[i];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			lx->blank = false;
		switch (c) {
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			i++;
			break;
		case '{':
		case '[':
			if (depth == JSON_DEPTH)
				return lex_fail(err, i, "nested more than %d deep", JSON_DEPTH);
			object[depth++] = c == '{';
			want_key = c == '{';
			i++;
			break;
		case '}':
		case ']':
			if (depth)
				depth--;
			want_key = false;
			i++;
			break;
		case ',':
			want_key = depth && object[depth - 1];
			i++;
			break;
		case ':':
			want_key = false;
			i++;
			break;
		case '"':
			end = i;
			r = lex_string(s, len, &end, want_key, err);
			if (r < 0)
				return r;
			if (want_key && depth == 1) {
				if (lx->n < TOP_KEYS) {
					lx->at[lx->n] = i + 1;
					lx->len[lx->n] = end - i - 2;
				}
				lx->n++;
			}
			want_key = false;
			i = end;
			break;
		case '-':
		case '0' ... '9':
			end = lex_number(s, len, i);
			if (!end)
				return lex_fail(err, i, "invalid number");
			i = end;
			break;
		default:
			end = lex_literal(s, len, i);
			if (end) {
				i = end;
				break;
			}
			if (c == '\0')
				return lex_fail(err, i, "NUL byte");
			if (c == '\'')
				return lex_fail(err, i, "strings take double quotes, not single");
			if (c > ' ' && c < 0x7f)
				return lex_fail(err, i, "unexpected '%c'", c);
			return lex_fail(err, i, "unexpected byte 0x%02x", c);
		}
	}
	return 0;
}

/* ---- messages ----------------------------------------------------------- */

/* s (len bytes) for a message: at most QUOTE_MAX bytes, cut between UTF-8
 * characters (the line was checked, so it is UTF-8), "..." if cut. */
static const char *quote(const char *s, size_t len, char buf[QUOTE_MAX + 4])
{
	size_t n = len;

	if (n > QUOTE_MAX) {
		n = QUOTE_MAX;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, s, n);
	strcpy(buf + n, n < len ? "..." : "");
	return buf;
}

/* A value as JSON text, quoted. */
static const char *quote_json(json_object *v, char buf[QUOTE_MAX + 4])
{
	size_t len;
	const char *s = json_object_to_json_string_length(v, JSON_FLAGS, &len);

	if (!s)
		return "(out of memory)";
	return quote(s, len, buf);
}

static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fraction";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "something else";
}

/* ---- commands and arguments ----------------------------------------------- */

enum {
	ARG_NAME = 1 << 0,
	ARG_NAMES = 1 << 1,
	ARG_LINES = 1 << 2,
	ARG_FOLLOW = 1 << 3,
	ARG_WAIT = 1 << 4,
	ARG_TIMEOUT = 1 << 5,
	ARG_SIGNAL = 1 << 6,
};

static const struct cmd_def {
	const char *name;
	bool reads_only; /* the read access level may use it */
	unsigned args;	 /* ARG_* it takes */
	unsigned needs;	 /* ARG_* it must be given */
} cmds[] = {
	[SD_CMD_STATUS] = { "status", true, ARG_NAME, 0 },
	[SD_CMD_LOGS] = { "logs", true, ARG_NAME | ARG_LINES | ARG_FOLLOW, ARG_NAME },
	[SD_CMD_EVENTS] = { "events", true, 0, 0 },
	[SD_CMD_START] = { "start", false, ARG_NAMES | ARG_WAIT | ARG_TIMEOUT, ARG_NAMES },
	[SD_CMD_STOP] = { "stop", false, ARG_NAMES | ARG_WAIT | ARG_TIMEOUT, ARG_NAMES },
	[SD_CMD_RESTART] = { "restart", false, ARG_NAMES | ARG_WAIT | ARG_TIMEOUT, ARG_NAMES },
	[SD_CMD_SIGNAL] = { "signal", false, ARG_NAMES | ARG_SIGNAL, ARG_NAMES | ARG_SIGNAL },
	[SD_CMD_RELOAD] = { "reload", false, 0, 0 },
	[SD_CMD_SHUTDOWN] = { "shutdown", false, 0, 0 },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

typedef int arg_parser(json_object *v, const char *key, struct sd_request *req,
		       struct sd_request_error *err);

/* A name: a string of at most SD_NAME_MAX bytes without NUL, into *ret. */
static int get_name(json_object *v, const char *what, bool empty_ok, char **ret,
		    struct sd_request_error *err)
{
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);

	if (!empty_ok && !len)
		return fail(err, SD_ERR_BAD_REQUEST, "%s: empty name (the root is \"/\")", what);
	if (len > SD_NAME_MAX)
		return fail(err, SD_ERR_BAD_REQUEST, "%s: name longer than %d bytes", what,
			    SD_NAME_MAX);
	if (strlen(s) != len)
		return fail(err, SD_ERR_BAD_REQUEST, "%s: name contains a NUL character", what);
	*ret = strdup(s);
	return *ret ? 0 : fail_nomem(err);
}

/* The root may be named "" here, as the spec allows; it cannot in "names",
 * where an empty shell variable would otherwise stop the whole tree. */
static int arg_name(json_object *v, const char *key, struct sd_request *req,
		    struct sd_request_error *err)
{
	if (!json_object_is_type(v, json_type_string))
		return fail(err, SD_ERR_BAD_REQUEST, "\"%s\": expected a string, got %s", key,
			    type_name(v));
	return get_name(v, "\"name\"", true, &req->name, err);
}

static int arg_names(json_object *v, const char *key, struct sd_request *req,
		     struct sd_request_error *err)
{
	size_t n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, SD_ERR_BAD_REQUEST, "\"%s\": expected an array of strings, got %s",
			    key, type_name(v));
	n = json_object_array_length(v);
	if (n < 1 || n > SD_NAMES_MAX)
		return fail(err, SD_ERR_BAD_REQUEST, "\"%s\": expected 1 to %d names, got %zu", key,
			    SD_NAMES_MAX, n);
	req->names = calloc(n, sizeof(*req->names));
	if (!req->names)
		return fail_nomem(err);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		char what[32];

		if (!json_object_is_type(e, json_type_string))
			return fail(err, SD_ERR_BAD_REQUEST,
				    "\"%s\": expected an array of strings, but [%zu] is %s", key, i,
				    type_name(e));
		snprintf(what, sizeof(what), "\"%s\"[%zu]", key, i);
		r = get_name(e, what, false, &req->names[i], err);
		if (r < 0)
			return r;
		/* Counts what is allocated, for sd_request_free. */
		req->nnames = i + 1;
	}
	return 0;
}

static int get_int(json_object *v, const char *key, int64_t min, int64_t max, int64_t *ret,
		   struct sd_request_error *err)
{
	char buf[QUOTE_MAX + 4];
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		return fail(err, SD_ERR_BAD_REQUEST, "\"%s\": expected an integer, got %s", key,
			    type_name(v));
	/* Saturates: a value above INT64_MAX (json-c keeps it as a uint64) reads
	 * as INT64_MAX, which is out of range here too. */
	x = json_object_get_int64(v);
	if (x < min || x > max)
		return fail(err, SD_ERR_BAD_REQUEST, "\"%s\": %s is out of range (%lld to %lld)",
			    key, quote_json(v, buf), (long long)min, (long long)max);
	*ret = x;
	return 0;
}

static int get_bool(json_object *v, const char *key, bool *ret, struct sd_request_error *err)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(err, SD_ERR_BAD_REQUEST, "\"%s\": expected true or false, got %s", key,
			    type_name(v));
	*ret = json_object_get_boolean(v);
	return 0;
}

static int arg_lines(json_object *v, const char *key, struct sd_request *req,
		     struct sd_request_error *err)
{
	int64_t x;
	int r = get_int(v, key, 0, SD_LINES_MAX, &x, err);

	if (r == 0)
		req->lines = (uint64_t)x;
	return r;
}

static int arg_timeout(json_object *v, const char *key, struct sd_request *req,
		       struct sd_request_error *err)
{
	int64_t x;
	int r = get_int(v, key, 0, SD_TIMEOUT_MAX_MS, &x, err);

	if (r == 0)
		req->timeout_ms = (uint64_t)x;
	return r;
}

static int arg_follow(json_object *v, const char *key, struct sd_request *req,
		      struct sd_request_error *err)
{
	return get_bool(v, key, &req->follow, err);
}

static int arg_wait(json_object *v, const char *key, struct sd_request *req,
		    struct sd_request_error *err)
{
	return get_bool(v, key, &req->wait, err);
}

/* "TERM", "SIGTERM", "15" or 15. */
static int arg_signal(json_object *v, const char *key, struct sd_request *req,
		      struct sd_request_error *err)
{
	char buf[QUOTE_MAX + 4];
	int64_t x;
	int r;

	if (json_object_is_type(v, json_type_int)) {
		r = get_int(v, key, 1, SIG_LAST, &x, err);
		if (r == 0)
			req->signal = (int)x;
		return r;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(err, SD_ERR_BAD_REQUEST,
			    "\"%s\": expected a signal name or number, got %s", key, type_name(v));
	r = sd_signal_parse(json_object_get_string(v));
	/* A NUL inside ("TERM\u0000x") would otherwise pass as "TERM". */
	if (r < 0 || strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return fail(err, SD_ERR_BAD_REQUEST,
			    "\"%s\": unknown signal %s (a name such as \"TERM\", or 1 to %d)", key,
			    quote_json(v, buf), SIG_LAST);
	req->signal = r;
	return 0;
}

static const struct arg_def {
	const char *key;
	unsigned bit;
	arg_parser *parse;
} args[] = {
	{ "name", ARG_NAME, arg_name },
	{ "names", ARG_NAMES, arg_names },
	{ "lines", ARG_LINES, arg_lines },
	{ "follow", ARG_FOLLOW, arg_follow },
	{ "wait", ARG_WAIT, arg_wait },
	{ "timeout_ms", ARG_TIMEOUT, arg_timeout },
	{ "signal", ARG_SIGNAL, arg_signal },
};

#define NARGS (sizeof(args) / sizeof(args[0]))

/* ---- requests ----------------------------------------------------------- */

/* The line as a JSON object, into *ret; what lex_check learnt, into *lx. */
static int parse_json(const char *line, size_t len, json_object **ret, struct lexed *lx,
		      struct sd_request_error *err)
{
	struct json_tokener *tok = NULL;
	enum json_tokener_error jerr;
	json_object *root = NULL;
	size_t at;
	int r;

	r = lex_check(line, len, lx, err);
	if (r < 0)
		goto out;
	if (lx->blank) {
		r = fail(err, SD_ERR_BAD_JSON, "empty request: expected a JSON object");
		goto out;
	}
	/* One more level than lex_check allows: that check is the one that
	 * speaks, this one only backs it up. */
	tok = json_tokener_new_ex(JSON_DEPTH + 1);
	if (!tok) {
		r = fail_nomem(err);
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	at = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* The end of input ends a number, and shows what is unfinished. */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		at = len;
	}
	if (jerr != json_tokener_success) {
		r = fail(err, SD_ERR_BAD_JSON, "invalid JSON at byte %zu: %s", at + 1,
			 json_tokener_error_desc(jerr));
		goto out;
	}
	/* (null is a NULL root) */
	if (!json_object_is_type(root, json_type_object)) {
		r = fail(err, SD_ERR_BAD_JSON, "expected a JSON object, got %s", type_name(root));
		goto out;
	}
	*ret = root;
	root = NULL;
	r = 0;
out:
	json_object_put(root);
	/* json-c 0.16's json_tokener_free does not take NULL. */
	if (tok)
		json_tokener_free(tok);
	return r;
}

/* json-c keeps the last of keys that repeat: refuse them instead, so that a
 * request means one thing to everyone who reads it. */
static int check_unique(json_object *root, const char *line, const struct lexed *lx,
			struct sd_request_error *err)
{
	char buf[QUOTE_MAX + 4];

	if ((size_t)json_object_object_length(root) == lx->n)
		return 0;
	/* Find a key written twice, to name it; one spelled two ways ("cmd",
	 * "\u0063md") is only counted. */
	for (size_t i = 1; i < lx->n && i < TOP_KEYS; i++)
		for (size_t j = 0; j < i; j++)
			if (lx->len[i] == lx->len[j] &&
			    !memcmp(line + lx->at[i], line + lx->at[j], lx->len[i]))
				return fail(err, SD_ERR_BAD_REQUEST, "duplicate key \"%s\"",
					    quote(line + lx->at[i], lx->len[i], buf));
	return fail(err, SD_ERR_BAD_REQUEST, "a key appears more than once");
}

static int check_version(json_object *root, struct sd_request_error *err)
{
	char buf[QUOTE_MAX + 4];
	json_object *v;

	if (!json_object_object_get_ex(root, "v", &v))
		return fail(err, SD_ERR_BAD_VERSION, "missing \"v\" (the protocol version: %d)",
			    SD_PROTO_VERSION);
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != SD_PROTO_VERSION)
		return fail(err, SD_ERR_BAD_VERSION,
			    "unsupported protocol version %s (spawnd speaks version %d)",
			    quote_json(v, buf), SD_PROTO_VERSION);
	return 0;
}

static int find_cmd(json_object *root, enum sd_cmd *ret, struct sd_request_error *err)
{
	char buf[QUOTE_MAX + 4];
	json_object *v;
	const char *s;
	size_t len;

	if (!json_object_object_get_ex(root, "cmd", &v))
		return fail(err, SD_ERR_BAD_REQUEST, "missing \"cmd\"");
	if (!json_object_is_type(v, json_type_string))
		return fail(err, SD_ERR_BAD_REQUEST, "\"cmd\": expected a string, got %s",
			    type_name(v));
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	for (size_t i = 0; i < NCMDS; i++)
		if (strlen(cmds[i].name) == len && !memcmp(cmds[i].name, s, len)) {
			*ret = (enum sd_cmd)i;
			return 0;
		}
	return fail(err, SD_ERR_UNKNOWN_CMD, "unknown command \"%s\"", quote(s, len, buf));
}

static int parse_args(json_object *root, struct sd_request *req, struct sd_request_error *err)
{
	const struct cmd_def *def = &cmds[req->cmd];
	unsigned seen = 0;
	int r;

	json_object_object_foreach(root, key, val)
	{
		const struct arg_def *a = NULL;
		char buf[QUOTE_MAX + 4];

		if (!strcmp(key, "v") || !strcmp(key, "id") || !strcmp(key, "cmd"))
			continue;
		for (size_t i = 0; i < NARGS; i++)
			if (!strcmp(key, args[i].key) && (def->args & args[i].bit))
				a = &args[i];
		if (!a)
			return fail(err, SD_ERR_BAD_REQUEST, "unknown key \"%s\" for \"%s\"",
				    quote(key, strlen(key), buf), def->name);
		r = a->parse(val, a->key, req, err);
		if (r < 0)
			return r;
		seen |= a->bit;
	}
	for (size_t i = 0; i < NARGS; i++)
		if ((def->needs & args[i].bit) && !(seen & args[i].bit))
			return fail(err, SD_ERR_BAD_REQUEST, "missing \"%s\" for \"%s\"",
				    args[i].key, def->name);
	return 0;
}

int sd_request_parse(const char *line, size_t len, struct sd_request *req,
		     struct sd_request_error *err)
{
	json_object *root = NULL, *id;
	struct lexed lx;
	int r;

	memset(req, 0, sizeof(*req));
	err->code = NULL;
	err->message[0] = '\0';
	req->wait = true;
	req->timeout_ms = SD_TIMEOUT_DEF_MS;
	req->lines = SD_LINES_DEF;

	/* The server cuts longer lines itself; this keeps the promise for any
	 * other caller, and keeps len within json-c's int. */
	if (len >= SD_REQUEST_MAX) {
		r = fail(err, SD_ERR_TOO_LARGE, "request longer than %d bytes", SD_REQUEST_MAX);
		goto out;
	}
	r = parse_json(line, len, &root, &lx, err);
	if (r < 0)
		goto out;
	if (json_object_object_get_ex(root, "id", &id)) {
		req->id = json_object_get(id);
		req->has_id = true;
	}
	r = check_unique(root, line, &lx, err);
	if (r < 0)
		goto out;
	r = check_version(root, err);
	if (r < 0)
		goto out;
	r = find_cmd(root, &req->cmd, err);
	if (r < 0)
		goto out;
	r = parse_args(root, req, err);
out:
	if (r < 0) {
		/* Only the id outlives a failure. */
		json_object *keep = req->id;
		bool has_id = req->has_id;

		req->id = NULL;
		sd_request_free(req);
		req->id = keep;
		req->has_id = has_id;
	}
	/* The id holds its own reference: it outlives the tree. */
	json_object_put(root);
	return r;
}

void sd_request_free(struct sd_request *req)
{
	if (!req)
		return;
	json_object_put(req->id);
	free(req->name);
	for (size_t i = 0; i < req->nnames; i++)
		free(req->names[i]);
	free(req->names);
	memset(req, 0, sizeof(*req));
}

const char *sd_cmd_name(enum sd_cmd cmd)
{
	return (size_t)cmd < NCMDS ? cmds[cmd].name : NULL;
}

bool sd_cmd_reads_only(enum sd_cmd cmd)
{
	/* Anything unknown needs the admin level. */
	return (size_t)cmd < NCMDS && cmds[cmd].reads_only;
}

/* ---- signals ------------------------------------------------------------- */

int sd_signal_parse(const char *s)
{
	/* Names sigabbrev_np does not give: it says POLL for 29, ABRT for 6
	 * and CHLD for 17, but kill -l and signal(7) also use these. */
	static const struct {
		const char *name;
		int sig;
	} aliases[] = { { "IO", SIGIO }, { "IOT", SIGIOT }, { "CLD", SIGCHLD } };
	int sig = 0;

	if (!s)
		return -EINVAL;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	if (is_digit((unsigned char)*s)) {
		for (; is_digit((unsigned char)*s); s++) {
			sig = sig * 10 + (*s - '0');
			if (sig > SIG_LAST)
				return -EINVAL;
		}
		return *s || sig < 1 ? -EINVAL : sig;
	}
	if (!*s)
		return -EINVAL;
	for (sig = 1; sig <= SIG_LAST; sig++) {
		const char *name = sigabbrev_np(sig);

		if (name && !strcasecmp(name, s))
			return sig;
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcasecmp(aliases[i].name, s))
			return aliases[i].sig;
	return -EINVAL;
}

const char *sd_signal_str(int sig, char buf[16])
{
	const char *name = sigabbrev_np(sig);

	/* The longest name is 6 characters; "SIG-2147483648" is 14. */
	if (name)
		snprintf(buf, 16, "SIG%s", name);
	else
		snprintf(buf, 16, "SIG%d", sig);
	return buf;
}

/* ---- responses and events ------------------------------------------------- */

/* Adds val (whose reference it takes, even on failure) under key. */
static int add(json_object *o, const char *key, json_object *val)
{
	if (!val || json_object_object_add(o, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/* {"v":1,"id":ID}: the start of every response. */
static json_object *response_new(const struct sd_request *req)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (add(o, "v", json_object_new_int(SD_PROTO_VERSION)) < 0)
		goto fail;
	/* An "id":null is echoed too: json-c's null is a NULL pointer. */
	if (req && req->has_id && json_object_object_add(o, "id", json_object_get(req->id)) < 0) {
		json_object_put(req->id);
		goto fail;
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

json_object *sd_response_ok(const struct sd_request *req)
{
	json_object *o = response_new(req);

	if (o && add(o, "ok", json_object_new_boolean(1)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *sd_response_error(const struct sd_request *req, const char *code, const char *message)
{
	json_object *o = response_new(req), *e = json_object_new_object();

	if (!o || !e)
		goto fail;
	if (add(e, "code", json_object_new_string(code ? code : SD_ERR_INTERNAL)) < 0 ||
	    add(e, "message", json_object_new_string(message ? message : "")) < 0)
		goto fail;
	if (add(o, "ok", json_object_new_boolean(0)) < 0)
		goto fail;
	if (add(o, "error", e) < 0) {
		e = NULL; /* add released it */
		goto fail;
	}
	return o;
fail:
	json_object_put(e);
	json_object_put(o);
	return NULL;
}

json_object *sd_event_new(const char *type, const char *name)
{
	json_object *o = type ? json_object_new_object() : NULL;
	struct timespec ts;
	int64_t ms;

	if (!o)
		return NULL;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (add(o, "v", json_object_new_int(SD_PROTO_VERSION)) < 0 ||
	    add(o, "event", json_object_new_string(type)) < 0 ||
	    add(o, "time_ms", json_object_new_int64(ms)) < 0 ||
	    add(o, "name", json_object_new_string(name ? name : "")) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *sd_json_line(json_object *obj, size_t *len)
{
	size_t n;
	const char *s = json_object_to_json_string_length(obj, JSON_FLAGS, &n);
	char *line;

	if (!s)
		return NULL;
	line = malloc(n + 2);
	if (!line)
		return NULL;
	memcpy(line, s, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}
