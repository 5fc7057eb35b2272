/* SPDX-License-Identifier: MIT */
/*
 * spawnd.conf(5): libconfig reads the syntax, this file checks the tree.
 *
 * A table lists the keys of nodes, each with the kinds of node that take it
 * and its parser (group values such as limits have tables of their own). A
 * parser reads one setting, reports what is wrong with it and goes on, so
 * that a file with three mistakes gets three messages. Messages are
 *
 *   FILE:LINE: NODE: KEY: what is wrong
 *
 * NODE is the node's full name ("pipeline/consumer"), "/" for the top level,
 * or PARENT/children[I] (0-based) for a child whose name is missing or bad.
 * KEY is the key as written, with the member of a group after a dot
 * ("limits.memory") and an element's index in brackets ("env[2]"). Syntax
 * errors, which stop libconfig at the first, read "FILE:LINE: syntax error:
 * TEXT". Messages are sorted by line.
 *
 * The tree is built even while errors pile up (so that later checks have
 * something to look at) and freed whole if there was any.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"

#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC 1000000000ull

/* The PATH children get, and where bare program names are looked up. */
#define CLEAN_PATH SD_CLEAN_PATH

#define NAME_MAX_LEN 64
#define INTENSITY_MAX (1u << 20) /* sv_init's bound: it keeps that many restart times */
#define FILE_MAX (4u << 20)      /* a config is small; this stops /dev/zero */
#define QUOTE_MAX 48             /* characters of a value echoed in a message */

/* Where a key may appear. */
enum {
	K_TOP = 1 << 0,    /* the top level, the root supervisor */
	K_SUP = 1 << 1,    /* a supervisor below it */
	K_WORKER = 1 << 2, /* a worker */
};

struct error {
	int line;
	size_t seq; /* keeps messages of one line in the order found */
	char *msg;
};

struct parser {
	const char *file; /* for messages */
	const char *dir;  /* the file's folder, absolute */
	struct sd_config *cfg;
	struct error *errv;
	size_t nerr, caperr;
};

/* One node while its keys are read. */
struct nctx {
	struct parser *p;
	struct sd_node *node;
	const char *label; /* the node in messages: its full name, or "/" */
	unsigned kind;     /* one K_*; 0 when it is neither or both, and only
			      unknown keys are checked */
	const config_setting_t *watchdog; /* checked against ready at the end */
};

struct key {
	const char *name;
	unsigned where; /* K_* mask; unused for the members of a group key */
	int (*parse)(struct nctx *n, const config_setting_t *s, const char *key);
};

static int parse_node(struct parser *p, struct sd_node *node, const config_setting_t *g,
		      unsigned kind);

/* ---- messages ---------------------------------------------------------- */

static int push_error(struct parser *p, int line, char *msg)
{
	if (p->nerr == p->caperr) {
		size_t cap = p->caperr ? 2 * p->caperr : 8;
		struct error *v = reallocarray(p->errv, cap, sizeof(*v));

		if (!v) {
			free(msg);
			return -ENOMEM;
		}
		p->errv = v;
		p->caperr = cap;
	}
	p->errv[p->nerr] = (struct error){ .line = line, .seq = p->nerr, .msg = msg };
	p->nerr++;
	return 0;
}

/*
 * Record "FILE:LINE: NODE: KEY: what", without NODE if it is NULL and
 * without LINE if it is 0 (the file as a whole). Returns -EINVAL, so that
 * parsers can `return fail(...)`, or -ENOMEM.
 */
static int __attribute__((format(printf, 5, 6)))
fail(struct parser *p, int line, const char *node, const char *key, const char *fmt, ...)
{
	char *what = NULL, *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (node)
		r = asprintf(&msg, "%s:%d: %s: %s: %s", p->file, line, node, key, what);
	else if (line > 0)
		r = asprintf(&msg, "%s:%d: %s: %s", p->file, line, key, what);
	else
		r = asprintf(&msg, "%s: %s: %s", p->file, key, what);
	free(what);
	if (r < 0)
		return -ENOMEM;
	r = push_error(p, line, msg);
	return r < 0 ? r : -EINVAL;
}

/* libconfig numbers lines from 1 and gives the root group line 0. */
static int line_of(const config_setting_t *s)
{
	int line = (int)config_setting_source_line(s);

	return line > 0 ? line : 1;
}

#define nfail(n, s, key, ...) fail((n)->p, line_of(s), (n)->label, (key), __VA_ARGS__)

/*
 * s in double quotes for a message, which must stay one line whatever the
 * file holds: control and non-ASCII bytes escaped, long values cut.
 */
static const char *quote(char *buf, size_t size, const char *s)
{
	size_t o = 0, i;

	buf[o++] = '"';
	for (i = 0; s[i] && i < QUOTE_MAX && o + 6 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (s[i] && o + 5 < size)
		o += (size_t)snprintf(buf + o, size - o, "...");
	snprintf(buf + o, size - o, "\"");
	return buf;
}

#define Q(s) quote((char[QUOTE_MAX * 4 + 8]){ 0 }, QUOTE_MAX * 4 + 8, (s))

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a floating-point number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	default:
		return "nothing";
	}
}

/* ---- values ------------------------------------------------------------ */

/* *v = *v * 10 + digit, or -ERANGE. */
static int mul_add(uint64_t *v, uint64_t digit)
{
	if (__builtin_mul_overflow(*v, 10, v) || __builtin_add_overflow(*v, digit, v))
		return -ERANGE;
	return 0;
}

static bool is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

static int get_string(struct nctx *n, const config_setting_t *s, const char *key,
		      const char **ret)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return nfail(n, s, key, "expected a string, got %s", type_name(s));
	*ret = config_setting_get_string(s);
	return 0;
}

static int get_int(struct nctx *n, const config_setting_t *s, const char *key, long long min,
		   long long max, long long *ret)
{
	long long v = 0;

	if (!is_int(s))
		return nfail(n, s, key, "expected an integer, got %s", type_name(s));
	v = config_setting_get_int64(s);
	if (v < min)
		return nfail(n, s, key, "must be at least %lld, got %lld", min, v);
	if (v > max)
		return nfail(n, s, key, "must be at most %lld, got %lld", max, v);
	*ret = v;
	return 0;
}

/* Seconds as a double to nanoseconds, rounded; -ERANGE if it does not fit. */
static int seconds_to_ns(double sec, uint64_t *ret)
{
	double x = sec * 1e9;
	uint64_t ns;

	/* 2^64 is exact as a double; anything below it converts. */
	if (!(x >= 0 && x < 18446744073709551616.0))
		return -ERANGE;
	ns = (uint64_t)x;
	if (x - (double)ns >= 0.5 && ns != UINT64_MAX)
		ns++;
	*ret = ns;
	return 0;
}

#define DURATION_HELP "a number of seconds, or a string such as \"500ms\", \"10s\", \"2m\", \"1h\""

/* A number of seconds, or a string with a unit; positive: more than 0. */
static int get_duration(struct nctx *n, const config_setting_t *s, const char *key,
			bool positive, uint64_t *ret)
{
	uint64_t ns = 0;

	if (is_int(s)) {
		long long v = config_setting_get_int64(s);

		if (v < 0)
			return nfail(n, s, key, "must not be negative, got %lld", v);
		if ((unsigned long long)v > UINT64_MAX / NSEC_PER_SEC)
			return nfail(n, s, key, "too long: %lld seconds", v);
		ns = (uint64_t)v * NSEC_PER_SEC;
	} else if (config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		double v = config_setting_get_float(s);

		if (v < 0)
			return nfail(n, s, key, "must not be negative, got %g", v);
		if (seconds_to_ns(v, &ns) < 0)
			return nfail(n, s, key, "too long: %g seconds", v);
	} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);

		if (sd_parse_duration(str, &ns) < 0)
			return nfail(n, s, key, "%s is not a duration: expected " DURATION_HELP,
				     Q(str));
	} else {
		return nfail(n, s, key, "expected a duration (" DURATION_HELP "), got %s",
			     type_name(s));
	}
	if (positive && ns == 0)
		return nfail(n, s, key, "must be more than 0");
	*ret = ns;
	return 0;
}

/* Bytes as an integer, or a string with K, M, G or T. */
static int get_size(struct nctx *n, const config_setting_t *s, const char *key, bool unlimited,
		    uint64_t *ret)
{
	if (is_int(s)) {
		long long v = config_setting_get_int64(s);

		if (v < 0)
			return nfail(n, s, key, "must not be negative, got %lld", v);
		*ret = (uint64_t)v;
		return 0;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);

		if (unlimited && strcmp(str, "unlimited") == 0) {
			*ret = UINT64_MAX;
			return 0;
		}
		if (sd_parse_size(str, ret) == 0)
			return 0;
		return nfail(n, s, key,
			     "%s is not a size: expected bytes, or a number with K, M, G or T%s",
			     Q(str), unlimited ? ", or \"unlimited\"" : "");
	}
	return nfail(n, s, key, "expected a size (bytes, or a string such as \"512M\"), got %s",
		     type_name(s));
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/*
 * Finding duplicates by sorting, so that a file with 100000 siblings or
 * variables is checked in a blink rather than in n^2 comparisons.
 */
struct keyed {
	const char *key;
	size_t len;   /* of key, which need not end there */
	size_t index; /* where it was; equal keys sort by it */
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static bool same_key(const struct keyed *x, const struct keyed *y)
{
	return x->len == y->len && memcmp(x->key, y->key, x->len) == 0;
}

/*
 * v: n keys with distinct indices below total (v is sorted on the way).
 * *ret_first: for each index, that of the first key equal to its own if it
 * repeats one, else SIZE_MAX; so that callers report in the file's order.
 */
static int find_repeats(struct keyed *v, size_t n, size_t total, size_t **ret_first)
{
	size_t *first = malloc((total ? total : 1) * sizeof(*first));

	if (!first)
		return -ENOMEM;
	for (size_t i = 0; i < total; i++)
		first[i] = SIZE_MAX;
	qsort(v, n, sizeof(*v), cmp_keyed);
	for (size_t i = 1, run = 0; i < n; i++) {
		if (same_key(&v[run], &v[i]))
			first[v[i].index] = v[run].index;
		else
			run = i;
	}
	*ret_first = first;
	return 0;
}

/*
 * An array or list of strings, copied into a NULL-terminated vector. Every
 * element that is not a string is reported, as KEY[I].
 */
static int get_strv(struct nctx *n, const config_setting_t *s, const char *key, char ***ret)
{
	int len, bad = 0, r;
	char **v;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return nfail(n, s, key, "expected an array of strings [ \"...\", ... ], got %s",
			     type_name(s));
	len = config_setting_length(s);
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char k[64];

		if (config_setting_type(e) == CONFIG_TYPE_STRING)
			continue;
		snprintf(k, sizeof(k), "%s[%d]", key, i);
		r = nfail(n, e, k, "expected a string, got %s", type_name(e));
		if (r == -ENOMEM)
			return r;
		bad++;
	}
	if (bad)
		return -EINVAL;
	v = calloc((size_t)len + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int i = 0; i < len; i++) {
		v[i] = strdup(config_setting_get_string_elem(s, (unsigned)i));
		if (!v[i]) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	*ret = v;
	return 0;
}

/* path, made absolute against the file's folder; a leading "./" dropped. */
static char *resolve(const struct parser *p, const char *path)
{
	char *ret;

	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/')
		for (path += 2; *path == '/'; path++)
			;
	if (!*path || strcmp(path, ".") == 0)
		return strdup(p->dir);
	if (asprintf(&ret, "%s%s%s", p->dir, strcmp(p->dir, "/") ? "/" : "", path) < 0)
		return NULL;
	return ret;
}

/* A program spawnd can execve: a regular file with an execute permission. */
static int check_program(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK) < 0)
		return -errno;
	return 0;
}

/* A bare program name looked up in CLEAN_PATH; NULL and errno if none. */
static char *find_in_path(const char *name)
{
	const char *dir = CLEAN_PATH;

	while (*dir) {
		size_t len = strcspn(dir, ":");
		char *path;

		if (asprintf(&path, "%.*s/%s", (int)len, dir, name) < 0)
			return NULL;
		if (check_program(path) == 0)
			return path;
		free(path);
		dir += len;
		if (*dir == ':')
			dir++;
	}
	errno = ENOENT;
	return NULL;
}

/*
 * A user or group: a number (-ERANGE beyond the ids there are), or a name
 * the system knows (-ENOENT if not). A number needs no entry: containers
 * run services under ids that have none.
 */
static int lookup_id(const char *name, bool group)
{
	size_t size = 4096;
	char *buf = NULL;
	int r;

	if (name[strspn(name, "0123456789")] == '\0') {
		uint64_t id = 0;

		for (const char *c = name; *c; c++)
			if (mul_add(&id, (uint64_t)(*c - '0')) < 0)
				return -ERANGE;
		/* (uid_t)-1 means "unchanged" to setresuid: not an id. */
		return id < UINT32_MAX ? 0 : -ERANGE;
	}
	for (;;) {
		struct passwd pw, *pwr = NULL;
		struct group gr, *grr = NULL;
		char *nbuf = realloc(buf, size);

		if (!nbuf) {
			r = -ENOMEM;
			break;
		}
		buf = nbuf;
		if (group)
			r = getgrnam_r(name, &gr, buf, size, &grr);
		else
			r = getpwnam_r(name, &pw, buf, size, &pwr);
		if (r == ERANGE && size < (1u << 20)) {
			size *= 2;
			continue;
		}
		/* Not found is 0 with no entry, or one of several errnos. */
		r = (grr || pwr) ? 0 : -ENOENT;
		break;
	}
	free(buf);
	return r;
}

/* ---- durations and sizes ------------------------------------------------ */

int sd_parse_duration(const char *s, uint64_t *ret_ns)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ms", NSEC_PER_MSEC },
		{ "s", NSEC_PER_SEC },
		{ "m", 60 * NSEC_PER_SEC },
		{ "h", 3600 * NSEC_PER_SEC },
	};
	uint64_t whole = 0, frac = 0, scale = NSEC_PER_SEC, unit = 0;
	unsigned __int128 ns;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++)
		if (mul_add(&whole, (uint64_t)(*p - '0')) < 0)
			return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		/* frac/1e9 of the unit; digits past the ninth are below a nanosecond. */
		for (; isdigit((unsigned char)*p); p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(p, units[i].name) == 0)
			unit = units[i].ns;
	if (!unit)
		return -EINVAL;
	ns = (unsigned __int128)whole * unit + (unsigned __int128)frac * unit / NSEC_PER_SEC;
	if (ns > UINT64_MAX)
		return -EINVAL;
	*ret_ns = (uint64_t)ns;
	return 0;
}

int sd_parse_size(const char *s, uint64_t *ret_bytes)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++)
		if (mul_add(&v, (uint64_t)(*p - '0')) < 0)
			return -EINVAL;
	switch (*p) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (shift && (*++p || v > UINT64_MAX >> shift))
		return -EINVAL;
	*ret_bytes = v << shift;
	return 0;
}

/* ---- keys of a group value: backoff, limits, sandbox -------------------- */

static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[32 + 1];

	if (la > 32 || lb > 32)
		return INT_MAX;
	for (size_t j = 0; j <= lb; j++)
		d[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = d[0];

		d[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = d[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (d[j - 1] + 1 < best)
				best = d[j - 1] + 1;
			diag = up;
			d[j] = best;
		}
	}
	return d[lb];
}

/* "unknown key", with the closest known one if a typo is likely. */
static int unknown_key(struct nctx *n, const config_setting_t *s, const char *key,
		       const struct key *keys, size_t nkeys)
{
	const char *name = config_setting_name(s), *best = NULL;
	int bestd = 3;

	for (size_t i = 0; i < nkeys; i++) {
		int d = edit_distance(name, keys[i].name);

		if (d < bestd && d < (int)strlen(name)) {
			bestd = d;
			best = keys[i].name;
		}
	}
	if (best)
		return nfail(n, s, key, "unknown key (did you mean %s?)", best);
	return nfail(n, s, key, "unknown key");
}

/*
 * Each member of the group s (the value of key, e.g. "limits") through its
 * parser, as "key.member". Errors are reported; only -ENOMEM stops.
 */
static int parse_members(struct nctx *n, const config_setting_t *s, const char *key,
			 const struct key *keys, size_t nkeys)
{
	int len = config_setting_length(s), r;

	for (int i = 0; i < len; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(m);
		const struct key *k = NULL;
		char mkey[96];

		for (size_t j = 0; j < nkeys && !k; j++)
			if (strcmp(keys[j].name, name) == 0)
				k = &keys[j];
		snprintf(mkey, sizeof(mkey), "%s.%s", key, name);
		r = k ? k->parse(n, m, mkey) : unknown_key(n, m, mkey, keys, nkeys);
		if (r == -ENOMEM)
			return r;
	}
	return 0;
}

static int expect_group(struct nctx *n, const config_setting_t *s, const char *key,
			const char *example)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return nfail(n, s, key, "expected a group { %s }, got %s", example, type_name(s));
	return 0;
}

static int backoff_initial(struct nctx *n, const config_setting_t *s, const char *key)
{
	return get_duration(n, s, key, true, &n->node->backoff.initial_ns);
}

static int backoff_max(struct nctx *n, const config_setting_t *s, const char *key)
{
	return get_duration(n, s, key, true, &n->node->backoff.max_ns);
}

static int backoff_reset_after(struct nctx *n, const config_setting_t *s, const char *key)
{
	return get_duration(n, s, key, true, &n->node->backoff.reset_after_ns);
}

static const struct key backoff_keys[] = {
	{ "initial", 0, backoff_initial },
	{ "max", 0, backoff_max },
	{ "reset_after", 0, backoff_reset_after },
};

static int parse_backoff(struct nctx *n, const config_setting_t *s, const char *key)
{
	struct sd_backoff *b = &n->node->backoff;
	size_t before = n->p->nerr;
	const config_setting_t *max;
	int r;

	r = expect_group(n, s, key, "initial = \"100ms\"; max = \"30s\"; reset_after = \"60s\";");
	if (r < 0)
		return r;
	b->max_ns = 30 * NSEC_PER_SEC;
	b->reset_after_ns = 60 * NSEC_PER_SEC;
	r = parse_members(n, s, key, backoff_keys, sizeof(backoff_keys) / sizeof(backoff_keys[0]));
	if (r < 0)
		return r;
	if (!config_setting_get_member(s, "initial"))
		return nfail(n, s, "backoff.initial", "required in a backoff group");
	max = config_setting_get_member(s, "max");
	/* Compare only values that were read right. */
	if (n->p->nerr == before && b->max_ns < b->initial_ns && max)
		return nfail(n, max, "backoff.max", "must be at least backoff.initial");
	if (n->p->nerr == before && b->max_ns < b->initial_ns)
		return nfail(n, s, "backoff.max",
			     "its default, 30s, is less than backoff.initial: set it");
	b->enabled = true;
	return 0;
}

static int limit_nofile(struct nctx *n, const config_setting_t *s, const char *key)
{
	long long v = 0;
	int r = get_int(n, s, key, 1, LLONG_MAX, &v);

	if (r < 0)
		return r;
	n->node->limits.nofile = (uint64_t)v;
	n->node->limits.has_nofile = true;
	return 0;
}

static int limit_core(struct nctx *n, const config_setting_t *s, const char *key)
{
	int r = get_size(n, s, key, true, &n->node->limits.core);

	if (r < 0)
		return r;
	n->node->limits.has_core = true;
	return 0;
}

static int limit_pids(struct nctx *n, const config_setting_t *s, const char *key)
{
	long long v = 0;
	int r = get_int(n, s, key, 1, LLONG_MAX, &v);

	if (r < 0)
		return r;
	n->node->limits.pids = (uint64_t)v;
	n->node->limits.has_pids = true;
	return 0;
}

static int limit_memory(struct nctx *n, const config_setting_t *s, const char *key)
{
	int r = get_size(n, s, key, false, &n->node->limits.memory);

	if (r < 0)
		return r;
	if (!n->node->limits.memory)
		return nfail(n, s, key, "must be more than 0");
	n->node->limits.has_memory = true;
	return 0;
}

static const struct key limits_keys[] = {
	{ "nofile", 0, limit_nofile },
	{ "core", 0, limit_core },
	{ "pids", 0, limit_pids },
	{ "memory", 0, limit_memory },
};

static int parse_limits(struct nctx *n, const config_setting_t *s, const char *key)
{
	int r = expect_group(n, s, key,
			     "nofile = 4096; core = \"0\"; pids = 256; memory = \"512M\";");

	if (r < 0)
		return r;
	return parse_members(n, s, key, limits_keys, sizeof(limits_keys) / sizeof(limits_keys[0]));
}

static int parse_profile(struct nctx *n, const config_setting_t *s, const char *key,
			 enum sd_sandbox_base *ret)
{
	static const char *const names[] = {
		[SD_SANDBOX_NONE] = "none",
		[SD_SANDBOX_DEFAULT] = "default",
		[SD_SANDBOX_STRICT] = "strict",
	};
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(str, names[i]) == 0) {
			*ret = (enum sd_sandbox_base)i;
			return 0;
		}
	}
	return nfail(n, s, key, "expected none, default or strict, got %s", Q(str));
}

static int sandbox_base(struct nctx *n, const config_setting_t *s, const char *key)
{
	return parse_profile(n, s, key, &n->node->sandbox.base);
}

/* Syscall names, checked for their form here; libseccomp knows which exist. */
static int syscall_list(struct nctx *n, const config_setting_t *s, const char *key, char ***ret)
{
	char **v = NULL;
	int r = get_strv(n, s, key, &v), bad = 0;

	if (r < 0)
		return r;
	for (size_t i = 0; v[i]; i++) {
		const char *c = v[i];
		char k[64];

		while (*c && ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			c++;
		if (v[i][0] && !*c)
			continue;
		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		r = nfail(n, config_setting_get_elem(s, (unsigned)i), k,
			  "%s is not a system call name (a-z, 0-9 and _)", Q(v[i]));
		if (r == -ENOMEM)
			break;
		bad++;
	}
	if (bad || r == -ENOMEM) {
		strv_free(v);
		return r == -ENOMEM ? r : -EINVAL;
	}
	strv_free(*ret);
	*ret = v;
	return 0;
}

static int sandbox_allow(struct nctx *n, const config_setting_t *s, const char *key)
{
	return syscall_list(n, s, key, &n->node->sandbox.allow);
}

static int sandbox_deny(struct nctx *n, const config_setting_t *s, const char *key)
{
	return syscall_list(n, s, key, &n->node->sandbox.deny);
}

static int sandbox_io_uring(struct nctx *n, const config_setting_t *s, const char *key)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return nfail(n, s, key, "expected true or false, got %s", type_name(s));
	n->node->sandbox.io_uring = config_setting_get_bool(s);
	return 0;
}

static int sandbox_action(struct nctx *n, const config_setting_t *s, const char *key)
{
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (strcmp(str, "eperm") && strcmp(str, "kill"))
		return nfail(n, s, key, "expected eperm or kill, got %s", Q(str));
	n->node->sandbox.kill = strcmp(str, "kill") == 0;
	return 0;
}

static const struct key sandbox_keys[] = {
	{ "base", 0, sandbox_base },
	{ "allow", 0, sandbox_allow },
	{ "deny", 0, sandbox_deny },
	{ "io_uring", 0, sandbox_io_uring },
	{ "action", 0, sandbox_action },
};

/*
 * A call both allowed and denied says two things: which was meant? Each
 * such deny[I] is reported once. Allow sorts before deny at equal names.
 */
static int check_overlap(struct nctx *n, const config_setting_t *s, const char *key)
{
	const struct sd_sandbox *sb = &n->node->sandbox;
	const config_setting_t *d = config_setting_get_member(s, "deny");
	size_t na = 0, nd = 0, total, *first = NULL;
	struct keyed *v;
	int r;

	while (sb->allow[na])
		na++;
	while (sb->deny[nd])
		nd++;
	if (!na || !nd)
		return 0;
	total = na + nd;
	v = calloc(total, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < total; i++) {
		const char *name = i < na ? sb->allow[i] : sb->deny[i - na];

		v[i] = (struct keyed){ .key = name, .len = strlen(name), .index = i };
	}
	r = find_repeats(v, total, total, &first);
	/* Allow sorts first: a deny entry repeats an allow one if any. */
	for (size_t di = 0; !r && di < nd; di++) {
		char k[64];

		if (first[na + di] >= na)
			continue;
		snprintf(k, sizeof(k), "%s.deny[%zu]", key, di);
		r = nfail(n, config_setting_get_elem(d, (unsigned)di), k, "%s is also in %s.allow",
			  Q(sb->deny[di]), key);
		if (r == -EINVAL)
			r = 0;
	}
	free(first);
	free(v);
	return r;
}

static int parse_sandbox(struct nctx *n, const config_setting_t *s, const char *key)
{
	struct sd_sandbox *sb = &n->node->sandbox;
	int r;

	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return parse_profile(n, s, key, &sb->base);
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return nfail(n, s, key,
			     "expected none, default, strict or a group "
			     "{ base = ...; allow = [...]; deny = [...]; }, got %s",
			     type_name(s));
	sb->custom = true;
	r = parse_members(n, s, key, sandbox_keys, sizeof(sandbox_keys) / sizeof(sandbox_keys[0]));
	if (r < 0)
		return r;
	return check_overlap(n, s, key);
}

/* ---- keys of nodes ------------------------------------------------------ */

static int parse_strategy(struct nctx *n, const config_setting_t *s, const char *key)
{
	enum sv_strategy st;
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (sv_strategy_parse(str, &st) < 0)
		return nfail(n, s, key, "expected one_for_one, one_for_all or rest_for_one, got %s",
			     Q(str));
	if (st == SV_SIMPLE_ONE_FOR_ONE)
		return nfail(n, s, key,
			     "simple_one_for_one is for libgp's in-process supervisors (dynamic "
			     "children); spawnd's children are declared: use one_for_one");
	n->node->strategy = st;
	return 0;
}

static int parse_intensity(struct nctx *n, const config_setting_t *s, const char *key)
{
	long long v = 0;
	int r = get_int(n, s, key, 0, INTENSITY_MAX, &v);

	if (r < 0)
		return r;
	n->node->intensity = (unsigned)v;
	return 0;
}

static int parse_period(struct nctx *n, const config_setting_t *s, const char *key)
{
	return get_duration(n, s, key, true, &n->node->period_ns);
}

static int parse_restart(struct nctx *n, const config_setting_t *s, const char *key)
{
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (sv_restart_parse(str, &n->node->restart) < 0)
		return nfail(n, s, key, "expected permanent, transient or temporary, got %s",
			     Q(str));
	return 0;
}

static int parse_control(struct nctx *n, const config_setting_t *s, const char *key)
{
	struct sd_config *cfg = n->p->cfg;
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (!*str)
		return nfail(n, s, key, "must not be empty");
	free(cfg->control);
	cfg->control = resolve(n->p, str);
	if (!cfg->control)
		return -ENOMEM;
	if (strlen(cfg->control) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return nfail(n, s, key,
			     "%s is longer than the %zu bytes a Unix socket address holds",
			     Q(cfg->control), sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	return 0;
}

static int parse_control_group(struct nctx *n, const config_setting_t *s, const char *key)
{
	struct sd_config *cfg = n->p->cfg;
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (!*str)
		return nfail(n, s, key, "must not be empty");
	free(cfg->control_group);
	cfg->control_group = strdup(str);
	if (!cfg->control_group)
		return -ENOMEM;
	/* The group is looked up when the socket is made (the group database
	 * is the system's, not the file's); the line is kept for that message. */
	cfg->control_group_line = (int)config_setting_source_line(s);
	return 0;
}

/* Siblings' names: each repeat reported, with the line of the first. */
static int check_sibling_names(struct parser *p, struct sd_node *node,
			       const config_setting_t **groups)
{
	struct keyed *v = calloc(node->nchildren ? node->nchildren : 1, sizeof(*v));
	size_t nv = 0, *first = NULL;
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < node->nchildren; i++)
		if (node->children[i]->name)
			v[nv++] = (struct keyed){ .key = node->children[i]->name,
						  .len = strlen(node->children[i]->name),
						  .index = i };
	r = find_repeats(v, nv, node->nchildren, &first);
	for (size_t i = 0; !r && i < node->nchildren; i++) {
		struct sd_node *b = node->children[i];

		if (first[i] == SIZE_MAX)
			continue;
		r = fail(p, line_of(config_setting_get_member(groups[i], "name")), b->path, "name",
			 "%s is also the name of the sibling at line %d", Q(b->name),
			 line_of(config_setting_get_member(groups[first[i]], "name")));
		if (r == -EINVAL)
			r = 0;
	}
	free(first);
	free(v);
	return r;
}

static int parse_children(struct nctx *n, const config_setting_t *s, const char *key)
{
	struct sd_node *node = n->node;
	const config_setting_t **groups; /* each child's group, for its name's line */
	int len, r = 0;

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return nfail(n, s, key, "expected a list of groups ( { ... }, { ... } ), got %s",
			     type_name(s));
	len = config_setting_length(s);
	if (len == 0)
		return nfail(n, s, key, "empty: a supervisor needs at least one child");
	node->children = calloc((size_t)len, sizeof(*node->children));
	groups = calloc((size_t)len, sizeof(*groups));
	if (!node->children || !groups) {
		r = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < len; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		struct sd_node *child;
		char k[64];

		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			snprintf(k, sizeof(k), "%s[%d]", key, i);
			r = nfail(n, g, k, "expected a group { name = ...; ... }, got %s",
				  type_name(g));
			if (r == -ENOMEM)
				goto out;
			continue;
		}
		child = calloc(1, sizeof(*child));
		if (!child) {
			r = -ENOMEM;
			goto out;
		}
		child->parent = node;
		groups[node->nchildren] = g;
		node->children[node->nchildren++] = child;
		/* The index names a child whose own name cannot. */
		if (asprintf(&child->path, "%s%schildren[%d]", node->path, *node->path ? "/" : "",
			     i) < 0) {
			child->path = NULL;
			r = -ENOMEM;
			goto out;
		}
		r = parse_node(n->p, child, g, 0);
		if (r == -ENOMEM)
			goto out;
	}

	r = check_sibling_names(n->p, node, groups);
out:
	free(groups);
	return r;
}

static int parse_exec(struct nctx *n, const config_setting_t *s, const char *key)
{
	struct sd_node *node = n->node;
	char **argv = NULL, *path = NULL;
	bool bad = false;
	int r = get_strv(n, s, key, &argv);

	if (r < 0)
		return r;
	if (!argv[0]) {
		r = nfail(n, s, key, "empty: it needs at least the program to run");
		goto out;
	}
	for (size_t i = 0; argv[i]; i++) {
		char k[64];

		if (argv[i][0])
			continue;
		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		r = nfail(n, config_setting_get_elem(s, (unsigned)i), k, "empty string");
		if (r == -ENOMEM)
			goto out;
		bad = true;
	}
	if (bad) {
		r = -EINVAL;
		goto out;
	}

	if (strchr(argv[0], '/')) {
		path = resolve(n->p, argv[0]);
		if (!path) {
			r = -ENOMEM;
			goto out;
		}
		r = check_program(path);
		if (r == -ENOENT)
			r = nfail(n, s, key, "%s not found (looked for %s)", Q(argv[0]), Q(path));
		else if (r == -EISDIR)
			r = nfail(n, s, key, "%s is a directory", Q(path));
		else if (r < 0)
			r = nfail(n, s, key, "%s is not an executable file: %s", Q(path),
				  strerror(-r));
	} else {
		path = find_in_path(argv[0]);
		if (!path && errno == ENOMEM)
			r = -ENOMEM;
		else if (!path)
			r = nfail(n, s, key, "%s not found in PATH (" CLEAN_PATH ")", Q(argv[0]));
	}
	if (r < 0)
		goto out;
	strv_free(node->argv);
	free(node->exec_path);
	node->argv = argv;
	node->exec_path = path;
	return 0;
out:
	strv_free(argv);
	free(path);
	return r;
}

static int parse_shutdown(struct nctx *n, const config_setting_t *s, const char *key)
{
	struct sd_node *node = n->node;
	const char *str = config_setting_get_string(s); /* NULL if not a string */

	if (str && strcmp(str, "brutal_kill") == 0) {
		node->shutdown_brutal = true;
		node->shutdown_infinity = false;
		node->shutdown_ns = 0;
		return 0;
	}
	if (str && strcmp(str, "infinity") == 0) {
		node->shutdown_brutal = false;
		node->shutdown_infinity = true;
		node->shutdown_ns = 0;
		return 0;
	}
	if (str && sd_parse_duration(str, &node->shutdown_ns) < 0)
		return nfail(n, s, key, "%s is not brutal_kill, infinity or a duration (%s)",
			     Q(str), DURATION_HELP);
	return get_duration(n, s, key, false, &node->shutdown_ns);
}

static int parse_ready(struct nctx *n, const config_setting_t *s, const char *key)
{
	struct sd_node *node = n->node;
	const char *str = NULL, *num;
	unsigned long fd;
	char *end;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (strcmp(str, "exec") == 0) {
		node->ready = SD_READY_EXEC;
		return 0;
	}
	if (strcmp(str, "notify") == 0) {
		node->ready = SD_READY_NOTIFY;
		return 0;
	}
	if (strncmp(str, "fd:", 3))
		return nfail(n, s, key, "expected exec, notify or fd:N, got %s", Q(str));
	num = str + 3;
	errno = 0;
	fd = isdigit((unsigned char)*num) ? strtoul(num, &end, 10) : 0;
	if (!isdigit((unsigned char)*num) || *end || errno || fd > INT_MAX)
		return nfail(n, s, key, "%s: N in fd:N must be a file descriptor number", Q(str));
	if (fd < 3)
		return nfail(n, s, key,
			     "%s: N in fd:N must be at least 3 (0, 1 and 2 are stdin, stdout "
			     "and stderr)",
			     Q(str));
	node->ready = SD_READY_FD;
	node->ready_fd = (int)fd;
	return 0;
}

static int parse_ready_timeout(struct nctx *n, const config_setting_t *s, const char *key)
{
	return get_duration(n, s, key, true, &n->node->ready_timeout_ns);
}

static int parse_stall_timeout(struct nctx *n, const config_setting_t *s, const char *key)
{
	return get_duration(n, s, key, false, &n->node->stall_timeout_ns);
}

static int parse_on_stall(struct nctx *n, const config_setting_t *s, const char *key)
{
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (strcmp(str, "restart") == 0)
		n->node->on_stall = SD_STALL_RESTART;
	else if (strcmp(str, "report") == 0)
		n->node->on_stall = SD_STALL_REPORT;
	else
		return nfail(n, s, key, "expected restart or report, got %s", Q(str));
	return 0;
}

static int parse_watchdog(struct nctx *n, const config_setting_t *s, const char *key)
{
	/* Whether ready is notify is known once every key has been read. */
	n->watchdog = s;
	return get_duration(n, s, key, false, &n->node->watchdog_ns);
}

/* spawnd sets these itself for the children that need them. */
static const char *const reserved_env[] = {
	"NOTIFY_SOCKET",  "LISTEN_FDS",	  "LISTEN_PID",	    "LISTEN_FDNAMES",
	"WATCHDOG_USEC",  "WATCHDOG_PID", "JOURNAL_STREAM", "INVOCATION_ID",
};

static bool valid_env_name(const char *s, size_t len)
{
	if (!len || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isascii(s[i]) || !(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Each element's form, then names set twice, reported with the first's line. */
static int parse_env(struct nctx *n, const config_setting_t *s, const char *key)
{
	size_t nv = 0, count = 0, *first = NULL;
	struct keyed *v = NULL;
	char **env = NULL;
	int r = get_strv(n, s, key, &env), bad = 0;

	if (r < 0)
		return r;
	while (env[count])
		count++;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	nv = 0;
	for (size_t i = 0; env[i]; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		size_t len = strcspn(env[i], "=");
		char k[64];

		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		r = 0;
		if (!env[i][len])
			r = nfail(n, e, k, "%s is not KEY=value", Q(env[i]));
		else if (!len)
			r = nfail(n, e, k, "%s: the variable name is empty", Q(env[i]));
		else if (!valid_env_name(env[i], len))
			r = nfail(n, e, k,
				  "%s: a variable name is letters, digits and _, and does not "
				  "start with a digit",
				  Q(env[i]));
		for (size_t j = 0; !r && j < sizeof(reserved_env) / sizeof(reserved_env[0]); j++)
			if (strlen(reserved_env[j]) == len &&
			    !strncmp(env[i], reserved_env[j], len))
				r = nfail(n, e, k, "%s is managed by spawnd and may not be set",
					  reserved_env[j]);
		if (r == -ENOMEM)
			goto out;
		if (r < 0)
			bad++;
		else
			v[nv++] = (struct keyed){ .key = env[i], .len = len, .index = i };
	}
	r = find_repeats(v, nv, count, &first);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		char k[64];

		if (first[i] == SIZE_MAX)
			continue;
		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		r = nfail(n, config_setting_get_elem(s, (unsigned)i), k,
			  "%.*s is already set at line %d", (int)strcspn(env[i], "="), env[i],
			  line_of(config_setting_get_elem(s, (unsigned)first[i])));
		if (r == -ENOMEM)
			goto out;
		bad++;
	}
	r = bad ? -EINVAL : 0;
	if (!r) {
		strv_free(n->node->env);
		n->node->env = env;
		env = NULL;
	}
out:
	free(first);
	free(v);
	strv_free(env);
	return r;
}

static int parse_cwd(struct nctx *n, const config_setting_t *s, const char *key)
{
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (!*str)
		return nfail(n, s, key, "must not be empty");
	free(n->node->cwd);
	n->node->cwd = resolve(n->p, str);
	return n->node->cwd ? 0 : -ENOMEM;
}

static int parse_id(struct nctx *n, const config_setting_t *s, const char *key, bool group,
		    char **ret)
{
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	if (!*str)
		return nfail(n, s, key, "must not be empty");
	r = lookup_id(str, group);
	if (r == -ENOMEM)
		return r;
	if (r == -ERANGE)
		return nfail(n, s, key, "%s: an id is at most 4294967294", Q(str));
	if (r < 0)
		return nfail(n, s, key, "%s: no such %s", Q(str), group ? "group" : "user");
	free(*ret);
	*ret = strdup(str);
	return *ret ? 0 : -ENOMEM;
}

static int parse_user(struct nctx *n, const config_setting_t *s, const char *key)
{
	return parse_id(n, s, key, false, &n->node->user);
}

static int parse_group(struct nctx *n, const config_setting_t *s, const char *key)
{
	return parse_id(n, s, key, true, &n->node->group);
}

static int parse_output(struct nctx *n, const config_setting_t *s, const char *key,
			enum sd_output *ret, char **ret_path)
{
	const char *str = NULL;
	int r = get_string(n, s, key, &str);

	if (r < 0)
		return r;
	free(*ret_path);
	*ret_path = NULL;
	if (strcmp(str, "log") == 0)
		*ret = SD_OUT_LOG;
	else if (strcmp(str, "inherit") == 0)
		*ret = SD_OUT_INHERIT;
	else if (strcmp(str, "null") == 0)
		*ret = SD_OUT_NULL;
	else if (!strchr(str, '/'))
		/* "out.log" is more likely a typo of a keyword than a file. */
		return nfail(n, s, key,
			     "expected log, inherit, null or a path with a '/' (\"./%s\"), got %s",
			     str, Q(str));
	else if (!(*ret_path = resolve(n->p, str)))
		return -ENOMEM;
	else
		*ret = SD_OUT_FILE;
	return 0;
}

static int parse_stdout(struct nctx *n, const config_setting_t *s, const char *key)
{
	return parse_output(n, s, key, &n->node->out, &n->node->out_path);
}

static int parse_stderr(struct nctx *n, const config_setting_t *s, const char *key)
{
	return parse_output(n, s, key, &n->node->err, &n->node->err_path);
}

/* `name` is read before the others, to name the node in their messages. */
static int parse_name_again(struct nctx *n, const config_setting_t *s, const char *key)
{
	(void)n, (void)s, (void)key;
	return 0;
}

static const struct key node_keys[] = {
	{ "name", K_TOP | K_SUP | K_WORKER, parse_name_again },
	{ "control", K_TOP, parse_control },
	{ "control_group", K_TOP, parse_control_group },
	{ "strategy", K_TOP | K_SUP, parse_strategy },
	{ "intensity", K_TOP | K_SUP, parse_intensity },
	{ "period", K_TOP | K_SUP, parse_period },
	{ "children", K_TOP | K_SUP, parse_children },
	{ "restart", K_SUP | K_WORKER, parse_restart },
	{ "exec", K_WORKER, parse_exec },
	{ "shutdown", K_WORKER, parse_shutdown },
	{ "ready", K_WORKER, parse_ready },
	{ "ready_timeout", K_WORKER, parse_ready_timeout },
	{ "backoff", K_WORKER, parse_backoff },
	{ "sandbox", K_WORKER, parse_sandbox },
	{ "limits", K_WORKER, parse_limits },
	{ "stall_timeout", K_WORKER, parse_stall_timeout },
	{ "on_stall", K_WORKER, parse_on_stall },
	{ "watchdog", K_WORKER, parse_watchdog },
	{ "env", K_WORKER, parse_env },
	{ "cwd", K_WORKER, parse_cwd },
	{ "user", K_WORKER, parse_user },
	{ "group", K_WORKER, parse_group },
	{ "stdout", K_WORKER, parse_stdout },
	{ "stderr", K_WORKER, parse_stderr },
};

#define NODE_KEYS (sizeof(node_keys) / sizeof(node_keys[0]))

/* A key of another kind of node: say whose it is. */
static int misplaced_key(struct nctx *n, const config_setting_t *s, const struct key *k)
{
	const char *key = k->name;

	if (k->where == K_TOP)
		return nfail(n, s, key, "only the top level has this key");
	if (n->kind == K_TOP && (k->where & K_SUP))
		return nfail(n, s, key, "the top level has no parent to restart it");
	if (n->kind == K_TOP)
		return nfail(n, s, key,
			     "the top level is a supervisor: only workers (nodes with exec) have "
			     "this key; put workers in children");
	if (k->where & K_WORKER)
		return nfail(n, s, key, "only workers (nodes with exec) have this key");
	return nfail(n, s, key, "only supervisors (nodes with children) have this key");
}

static bool valid_name(const char *s)
{
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (!isascii(*s) || !(isalnum((unsigned char)*s) || strchr("_.-", *s)))
			return false;
	return true;
}

/*
 * The node's name, and from it its full name, which names it in every later
 * message. A node whose name is missing or bad keeps PARENT/children[I].
 */
static int parse_name(struct nctx *n, const config_setting_t *g)
{
	struct sd_node *node = n->node;
	const config_setting_t *s = config_setting_get_member(g, "name");
	const char *name = "root", *slash;
	char *path;
	int r;

	if (!s && n->kind != K_TOP)
		return nfail(n, g, "name", "required");
	if (s) {
		r = get_string(n, s, "name", &name);
		if (r < 0)
			return r;
		if (!*name)
			return nfail(n, s, "name", "must not be empty");
		if (strlen(name) > NAME_MAX_LEN)
			return nfail(n, s, "name", "%s is longer than %d characters", Q(name),
				     NAME_MAX_LEN);
		if (!valid_name(name))
			return nfail(n, s, "name",
				     "%s: a name is letters, digits, '_', '.' and '-', and not "
				     "\".\" or \"..\"",
				     Q(name));
	}
	node->name = strdup(name);
	if (!node->name)
		return -ENOMEM;
	if (n->kind == K_TOP)
		return 0;
	/* Replace the last component, children[I], of the provisional path. */
	slash = strrchr(node->path, '/');
	if (asprintf(&path, "%.*s%s", slash ? (int)(slash - node->path + 1) : 0, node->path,
		     name) < 0)
		return -ENOMEM;
	free(node->path);
	node->path = path;
	n->label = path;
	return 0;
}

static void set_defaults(struct sd_node *node)
{
	node->restart = SV_PERMANENT;
	if (node->kind == SD_SUPERVISOR) {
		node->strategy = SV_ONE_FOR_ONE;
		node->intensity = 1;
		node->period_ns = 5 * NSEC_PER_SEC;
		node->shutdown_infinity = true;
		return;
	}
	node->shutdown_ns = 5 * NSEC_PER_SEC;
	node->ready = SD_READY_EXEC;
	node->ready_fd = -1;
	node->ready_timeout_ns = 10 * NSEC_PER_SEC;
	node->sandbox.base = SD_SANDBOX_DEFAULT;
	node->on_stall = SD_STALL_RESTART;
	node->out = SD_OUT_LOG;
	node->err = SD_OUT_LOG;
}

/*
 * Read the group g into node. kind is K_TOP for the root and 0 for the
 * others, whose kind follows from exec or children. Node->path is set (the
 * provisional PARENT/children[I] below the top). 0, -EINVAL (reported) or
 * -ENOMEM.
 */
static int parse_node(struct parser *p, struct sd_node *node, const config_setting_t *g,
		      unsigned kind)
{
	const config_setting_t *exec = config_setting_get_member(g, "exec");
	const config_setting_t *children = config_setting_get_member(g, "children");
	struct nctx n = { .p = p, .node = node, .label = kind == K_TOP ? "/" : node->path };
	int len = config_setting_length(g), r = 0;

	node->line = line_of(g);
	n.kind = kind;
	r = parse_name(&n, g);
	if (r == -ENOMEM)
		return r;

	if (kind != K_TOP && exec && children) {
		const config_setting_t *later = config_setting_index(exec) >
							config_setting_index(children) ?
						exec : children;

		r = nfail(&n, later, config_setting_name(later),
			  "a node has exec (a worker) or children (a supervisor), not both");
	} else if (kind != K_TOP && !exec && !children) {
		r = nfail(&n, g, "exec",
			  "missing: a worker needs exec, a supervisor needs children");
	} else if (kind != K_TOP) {
		n.kind = exec ? K_WORKER : K_SUP;
	}
	if (r == -ENOMEM)
		return r;
	node->kind = n.kind == K_WORKER ? SD_WORKER : SD_SUPERVISOR;
	set_defaults(node);
	if (node->kind == SD_WORKER) {
		node->env = calloc(1, sizeof(*node->env));
		node->sandbox.allow = calloc(1, sizeof(char *));
		node->sandbox.deny = calloc(1, sizeof(char *));
		if (!node->env || !node->sandbox.allow || !node->sandbox.deny)
			return -ENOMEM;
	}

	for (int i = 0; i < len; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key *k = NULL;

		for (size_t j = 0; j < NODE_KEYS && !k; j++)
			if (strcmp(node_keys[j].name, name) == 0)
				k = &node_keys[j];
		if (!k)
			r = unknown_key(&n, s, name, node_keys, NODE_KEYS);
		else if (!n.kind) /* neither or both: said so already */
			r = 0;
		else if (!(k->where & n.kind))
			r = misplaced_key(&n, s, k);
		else
			r = k->parse(&n, s, name);
		if (r == -ENOMEM)
			return r;
	}

	if (kind == K_TOP && !children)
		return nfail(&n, g, "children", "required: the top level supervises children");
	if (n.watchdog && node->ready != SD_READY_NOTIFY)
		return nfail(&n, n.watchdog, "watchdog",
			     "needs ready = \"notify\": WATCHDOG=1 pings come on the notify "
			     "socket");
	return 0;
}

/* ---- the file ------------------------------------------------------------ */

/*
 * libconfig 1.5 as Debian builds it keeps only the low 32 bits of an integer
 * without an L suffix: `memory = 5368709120;` would read as 1 GiB. Copy the
 * text with an L after each integer that does not fit in an int, so that it
 * reads as written. This follows libconfig's scanner (scanner.l): strings,
 * comments and names are skipped whole, so that no digits inside them are
 * touched; lines stay where they were.
 *
 * It also finds @include, which is refused: included files would have lines
 * of their own, and reading any file the text names is no business of
 * `spawnd check` (nor of a fuzzer). Returns the copy, or NULL with errno
 * (ENOMEM), or with *include_line set.
 */
static char *prepare_text(const char *text, int *include_line)
{
	size_t len = strlen(text), o = 0, i = 0;
	bool line_start = true;
	char *out = malloc(len + len / 2 + 2); /* at most an L per two characters */
	int line = 1;

	if (!out)
		return NULL;
	*include_line = 0;
	while (i < len) {
		char c = text[i];
		size_t j, start = i;

		if (line_start) {
			for (j = i; text[j] == ' ' || text[j] == '\t'; j++)
				;
			if (strncmp(text + j, "@include", 8) == 0) {
				*include_line = line;
				free(out);
				return NULL;
			}
		}
		line_start = false;
		if (c == '\n') {
			line++;
			line_start = true;
			i++;
		} else if (c == '"') {
			/* A backslash escapes the next character, " and \ included. */
			for (i++; i < len && text[i] != '"'; i++) {
				if (text[i] == '\\' && i + 1 < len)
					i++;
				line += text[i] == '\n';
			}
			i += i < len;
		} else if (c == '#' || (c == '/' && text[i + 1] == '/')) {
			while (i < len && text[i] != '\n')
				i++;
		} else if (c == '/' && text[i + 1] == '*') {
			for (i += 2; i < len && !(text[i] == '*' && text[i + 1] == '/'); i++)
				line += text[i] == '\n';
			i = i < len ? i + 2 : len;
		} else if (isalpha((unsigned char)c) || c == '*') {
			while (i < len &&
			       (isalnum((unsigned char)text[i]) || strchr("-_*", text[i])))
				i++;
		} else if (isdigit((unsigned char)c) || c == '-' || c == '+' || c == '.') {
			bool sign = c == '-' || c == '+';
			size_t d = i + sign;

			for (j = d; isdigit((unsigned char)text[j]); j++)
				;
			if (text[j] == '.' || j == d) {
				/* A float (or a lone sign or dot): no change. */
				i = j + (text[j] == '.');
				while (isdigit((unsigned char)text[i]))
					i++;
			} else if (!sign && j == d + 1 && text[d] == '0' &&
				   (text[j] == 'x' || text[j] == 'X') &&
				   isxdigit((unsigned char)text[j + 1])) {
				size_t k = j + 1, digits;

				while (text[k] == '0')
					k++;
				digits = 0;
				while (isxdigit((unsigned char)text[k + digits]))
					digits++;
				i = k + digits;
				/* 0x80000000 and up would read as negative ints. */
				if (text[i] != 'L' &&
				    (digits > 8 || (digits == 8 && !strchr("01234567", text[k]))))
					goto copy_and_mark;
			} else {
				i = j;
				if (text[j] != 'L' && text[j] != 'e' && text[j] != 'E') {
					errno = 0;
					long long v = strtoll(text + start, NULL, 10);

					if (errno || v < INT_MIN || v > INT_MAX)
						goto copy_and_mark;
				}
			}
		} else {
			i++;
		}
		memcpy(out + o, text + start, i - start);
		o += i - start;
		continue;
copy_and_mark:
		memcpy(out + o, text + start, i - start);
		o += i - start;
		out[o++] = 'L';
	}
	out[o] = '\0';
	return out;
}

static void node_free(struct sd_node *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->nchildren; i++)
		node_free(node->children[i]);
	free(node->children);
	free(node->name);
	free(node->path);
	strv_free(node->argv);
	free(node->exec_path);
	strv_free(node->sandbox.allow);
	strv_free(node->sandbox.deny);
	strv_free(node->env);
	free(node->cwd);
	free(node->user);
	free(node->group);
	free(node->out_path);
	free(node->err_path);
	free(node);
}

void sd_config_free(struct sd_config *cfg)
{
	if (!cfg)
		return;
	node_free(cfg->root);
	free(cfg->file);
	free(cfg->dir);
	free(cfg->control);
	free(cfg->control_group);
	free(cfg);
}

void sd_errors_free(struct sd_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

static int cmp_error(const void *a, const void *b)
{
	const struct error *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The parser's errors, by line, into errs (which takes the strings). */
static int hand_errors(struct parser *p, struct sd_errors *errs)
{
	int r = 0;

	qsort(p->errv, p->nerr, sizeof(*p->errv), cmp_error);
	if (errs && p->nerr) {
		errs->msgs = calloc(p->nerr, sizeof(*errs->msgs));
		if (!errs->msgs)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < p->nerr; i++) {
		if (errs && errs->msgs)
			errs->msgs[errs->n++] = p->errv[i].msg;
		else
			free(p->errv[i].msg);
	}
	free(p->errv);
	p->errv = NULL;
	p->nerr = 0;
	return r;
}

/* The file's folder, absolute; NULL and errno if it cannot be known. */
static char *absolute_dir(const char *dir)
{
	if (!dir)
		return getcwd(NULL, 0);
	if (dir[0] == '/')
		return strdup(dir);
	return realpath(dir, NULL);
}

static int parse_text(const char *text, const char *name, char *dir, struct sd_config **ret,
		      struct sd_errors *errs)
{
	struct parser p = { .file = name, .dir = dir };
	struct sd_config *cfg = NULL;
	char *copy = NULL;
	int include_line = 0, r;
	config_t lc;

	config_init(&lc);
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->file = strdup(name)) || !(cfg->root = calloc(1, sizeof(*cfg->root))) ||
	    !(cfg->root->path = strdup(""))) {
		r = -ENOMEM;
		goto out;
	}
	cfg->dir = dir;
	dir = NULL;
	p.cfg = cfg;

	copy = prepare_text(text, &include_line);
	if (!copy && include_line) {
		r = fail(&p, include_line, NULL, "syntax error",
			 "@include is not supported: write one file");
		goto out;
	} else if (!copy) {
		r = -ENOMEM;
		goto out;
	}
	if (!config_read_string(&lc, copy)) {
		const char *what = config_error_text(&lc);

		r = fail(&p, config_error_line(&lc) > 0 ? config_error_line(&lc) : 1, NULL,
			 "syntax error", "%s", what ? what : "unknown");
		goto out;
	}
	r = parse_node(&p, cfg->root, config_root_setting(&lc), K_TOP);
	if (r != -ENOMEM && p.nerr)
		r = -EINVAL;
out:
	config_destroy(&lc);
	free(copy);
	free(dir);
	if (r < 0 || p.nerr) {
		int h = hand_errors(&p, errs);

		sd_config_free(cfg);
		return r < 0 ? r : h < 0 ? h : -EINVAL;
	}
	*ret = cfg;
	return 0;
}

int sd_config_parse(const char *text, const char *name, const char *dir,
		    struct sd_config **ret, struct sd_errors *errs)
{
	struct parser p = { .file = name ? name : "(config)" };
	char *absdir;

	if (errs)
		*errs = (struct sd_errors){ 0 };
	if (!text || !ret)
		return -EINVAL;
	absdir = absolute_dir(dir);
	if (!absdir) {
		int r = errno == ENOMEM ? -ENOMEM : -errno;

		(void)fail(&p, 1, NULL, "cannot resolve its folder", "%s: %s", dir ? dir : ".",
			   strerror(-r));
		(void)hand_errors(&p, errs);
		return r;
	}
	return parse_text(text, p.file, absdir, ret, errs);
}

/* The whole of file, NUL-terminated; -errno. */
static int read_all(const char *file, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap);
	int fd, r = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t got;

		if (len + 1 == cap) {
			char *nbuf;

			if (cap > FILE_MAX) {
				r = -EFBIG;
				goto out;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				r = -ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap *= 2;
		}
		got = read(fd, buf + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
out:
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int sd_config_load(const char *file, struct sd_config **ret, struct sd_errors *errs)
{
	struct parser p = { .file = file };
	char *text = NULL, *copy = NULL, *dir = NULL, *nul;
	size_t len;
	int r;

	if (errs)
		*errs = (struct sd_errors){ 0 };
	if (!file || !ret)
		return -EINVAL;
	r = read_all(file, &text, &len);
	if (r < 0) {
		if (r != -ENOMEM)
			(void)fail(&p, 0, NULL, "cannot read", "%s",
				   r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
		goto out;
	}
	/* libconfig would stop at a NUL and take the rest for absent. */
	nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;

		for (char *c = text; c < nul; c++)
			line += *c == '\n';
		r = fail(&p, line, NULL, "syntax error", "a NUL byte: this is not a text file");
		goto out;
	}
	copy = strdup(file);
	if (!copy) {
		r = -ENOMEM;
		goto out;
	}
	dir = realpath(dirname(copy), NULL);
	if (!dir) {
		r = -errno;
		(void)fail(&p, 0, NULL, "cannot resolve its folder", "%s", strerror(-r));
		goto out;
	}
	free(copy);
	r = parse_text(text, file, dir, ret, errs);
	free(text);
	return r;
out:
	free(text);
	free(copy);
	free(dir);
	{
		int h = hand_errors(&p, errs);

		return r < 0 ? r : h;
	}
}

struct sd_node *sd_config_find(struct sd_config *cfg, const char *path)
{
	struct sd_node *node;

	if (!cfg || !path)
		return NULL;
	node = cfg->root;
	if (*path == '/')
		path++;
	while (node && *path) {
		size_t len = strcspn(path, "/");
		struct sd_node *next = NULL;

		for (size_t i = 0; i < node->nchildren && !next; i++)
			if (strlen(node->children[i]->name) == len &&
			    !strncmp(node->children[i]->name, path, len))
				next = node->children[i];
		node = next;
		path += len;
		/* "a/" is a; "a//b" is nothing. */
		if (*path == '/' && *++path == '/')
			return NULL;
	}
	return node;
}
