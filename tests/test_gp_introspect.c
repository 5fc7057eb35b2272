/* SPDX-License-Identifier: MIT */
/*
 * Introspection: the snapshot socket every libgp program serves (libgp(7),
 * INTROSPECTION). The program runs in a thread of the test (gp_main there);
 * the test's own thread is the client, and parses answers with json-c.
 * White-box in one place: the stall test asks which scheduler holds the
 * server's accept (internal.h).
 */
#include "gp_test.h"
#include "internal.h"

#include <dirent.h>
#include <grp.h>
#include <json-c/json.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#ifdef GP_MINIRUNNER
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define skip_test(...)                      \
	do {                                \
		cr_log_info(__VA_ARGS__);   \
		return;                     \
	} while (0)
#else
#define skip_test(...) cr_skip_test(__VA_ARGS__)
#endif

#define NOBODY 65534

/* ---- the program, in a thread of its own ----------------------------------------- */

struct prog {
	void (*setup)(struct prog *pg); /* in the first process, before ready */
	void *ctx;
	unsigned schedulers;            /* 0: 2 */
	unsigned stall_ms;
	bool keep_env;                  /* the test set GP_INTROSPECT_DIR & co itself */
	bool disabled;                  /* GP_INTROSPECT=0 */
	char dir[64];                   /* made by prog_start (unless keep_env) */
	char path[160];                 /* where the socket should be */
	pthread_t thread;
	int ret;
	atomic_int ready, done;
	int stop[2]; /* the first process reads stop[0] until the test closes stop[1] */
	/* The first process's: what it kills and closes at the end. */
	gp_pid *pids;
	size_t npids, cap;
	int wfds[64];
	int nwfds;
};

static void prog_track(struct prog *pg, gp_pid pid)
{
	if (pg->npids == pg->cap) {
		pg->cap = pg->cap ? pg->cap * 2 : 64;
		pg->pids = realloc(pg->pids, pg->cap * sizeof(*pg->pids));
	}
	pg->pids[pg->npids++] = pid;
}

/* Spawn fn(arg) named name, to be killed at the end. */
static gp_pid prog_spawn(struct prog *pg, gp_fn fn, void *arg, const char *name)
{
	struct gp_spawn_opts o = { .name = name };
	gp_pid pid = 0;

	CHECK_EQ(gp_spawn_opt(&pid, fn, arg, &o), 0);
	prog_track(pg, pid);
	return pid;
}

static void prog_first(void *arg)
{
	struct prog *pg = arg;
	char c;

	if (pg->setup)
		pg->setup(pg);
	atomic_store(&pg->ready, 1);
	(void)gp_read(pg->stop[0], &c, 1); /* waiting_io, until the test closes stop[1] */
	for (size_t i = 0; i < pg->npids; i++)
		(void)gp_kill(pg->pids[i], GP_EXIT_KILL);
	for (int i = 0; i < pg->nwfds; i++)
		close(pg->wfds[i]);
	free(pg->pids);
}

static void *prog_thread(void *arg)
{
	struct prog *pg = arg;
	struct gp_config cfg = { .schedulers = pg->schedulers ? pg->schedulers : 2,
				 .stall_ms = pg->stall_ms };

	pg->ret = gp_main(prog_first, pg, &cfg);
	atomic_store(&pg->done, 1);
	return NULL;
}

static void prog_start(struct prog *pg)
{
	checks_reset();
	atomic_store(&pg->ready, 0);
	atomic_store(&pg->done, 0);
	pg->pids = NULL;
	pg->npids = pg->cap = 0;
	pg->nwfds = 0;
	if (pg->disabled)
		cr_assert_eq(setenv("GP_INTROSPECT", "0", 1), 0);
	else
		unsetenv("GP_INTROSPECT"); /* on by default (gp_test.h's run_gp turns it off) */
	if (!pg->keep_env) {
		strcpy(pg->dir, "/tmp/gp-introspect-test-XXXXXX");
		cr_assert_not_null(mkdtemp(pg->dir));
		cr_assert_eq(setenv("GP_INTROSPECT_DIR", pg->dir, 1), 0);
		snprintf(pg->path, sizeof(pg->path), "%s/%ld.sock", pg->dir, (long)getpid());
	}
	cr_assert_eq(pipe2(pg->stop, O_CLOEXEC), 0);
	cr_assert_eq(pthread_create(&pg->thread, NULL, prog_thread, pg), 0);
	for (int i = 0; i < 30000 && !atomic_load(&pg->ready) && !atomic_load(&pg->done); i++)
		usleep(1000);
	cr_assert(atomic_load(&pg->ready), "the program did not start (gp_main: %d)", pg->ret);
}

/* End the program; its socket must be gone, and its directory empty. */
static void prog_stop(struct prog *pg)
{
	close(pg->stop[1]);
	cr_assert_eq(pthread_join(pg->thread, NULL), 0);
	close(pg->stop[0]);
	cr_assert_eq(pg->ret, 0, "gp_main: %s", strerror(-pg->ret));
	ASSERT_CHECKS();
	ASSERT_NO_LEAKS();
	cr_assert_eq(access(pg->path, F_OK), -1, "%s is still there", pg->path);
	if (!pg->keep_env) {
		cr_assert_eq(rmdir(pg->dir), 0, "rmdir %s: %s", pg->dir, strerror(errno));
		unsetenv("GP_INTROSPECT_DIR");
	}
}

/* ---- the client ------------------------------------------------------------------------ */

static int client_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 30 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	strcpy(addr.sun_path, path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Everything the server sends until it closes; malloc'd, NUL-terminated. */
static char *read_all(int fd, size_t *ret_len)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);

	cr_assert_not_null(buf);
	for (;;) {
		ssize_t n;

		if (cap - len < 65536) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		n = read(fd, buf + len, cap - len - 1);
		cr_assert_geq(n, 0, "read: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

/* Send raw bytes as the request; the raw answer. */
static char *query_raw(const char *path, const char *req, size_t reqlen, size_t *ret_len)
{
	int fd = client_connect(path);
	char *ans;

	cr_assert_geq(fd, 0, "connect %s: %s", path, strerror(-fd));
	cr_assert(write_all(fd, req, reqlen));
	ans = read_all(fd, ret_len);
	close(fd);
	return ans;
}

/* One JSON line: strict JSON, valid UTF-8, one newline, at the end. */
static json_object *parse_line(const char *ans, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *obj;

	cr_assert(len > 0 && ans[len - 1] == '\n', "no newline at the end: %.200s", ans);
	cr_assert_eq(memchr(ans, '\n', len), ans + len - 1, "more than one line");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, ans, (int)len - 1);
	cr_assert_not_null(obj, "not JSON (%s): %.300s",
			   json_tokener_error_desc(json_tokener_get_error(tok)), ans);
	json_tokener_free(tok);
	return obj;
}

static json_object *query_len(const char *path, const char *req, size_t *ret_len)
{
	char line[8192];
	size_t len;
	char *ans;
	json_object *obj;

	snprintf(line, sizeof(line), "%s\n", req);
	ans = query_raw(path, line, strlen(line), &len);
	obj = parse_line(ans, len);
	free(ans);
	if (ret_len)
		*ret_len = len;
	return obj;
}

static json_object *get(json_object *obj, const char *key)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(obj, key, &v), "no \"%s\" in %s", key,
		  json_object_to_json_string(obj));
	return v;
}

static int64_t get_int(json_object *obj, const char *key)
{
	json_object *v = get(obj, key);

	cr_assert(json_object_is_type(v, json_type_int), "\"%s\" is not an integer", key);
	return json_object_get_int64(v);
}

/* A successful answer. */
static json_object *query(const char *path, const char *req)
{
	json_object *obj = query_len(path, req, NULL);
	json_object *err = NULL;

	cr_assert(!json_object_object_get_ex(obj, "error", &err), "%s: error %s", req,
		  json_object_to_json_string(err));
	return obj;
}

/* An error answer: exactly {"v":1,"error":"..."}; the message. */
static const char *query_error(const char *path, const char *req, size_t reqlen,
			       json_object **ret_obj)
{
	size_t len;
	char *ans = query_raw(path, req, reqlen, &len);
	json_object *obj = parse_line(ans, len);
	json_object *err = get(obj, "error");

	free(ans);
	cr_assert_eq(json_object_object_length(obj), 2, "%s", json_object_to_json_string(obj));
	cr_assert_eq(get_int(obj, "v"), 1);
	cr_assert(json_object_is_type(err, json_type_string));
	*ret_obj = obj;
	return json_object_get_string(err);
}

static json_object *procs(json_object *ans)
{
	json_object *v = get(ans, "processes");

	cr_assert(json_object_is_type(v, json_type_array));
	return v;
}

static const char *proc_name(json_object *p)
{
	json_object *n = get(p, "name");

	return json_object_is_type(n, json_type_string) ? json_object_get_string(n) : NULL;
}

/* The first process named name in the answer, or NULL. */
static json_object *find_proc(json_object *ans, const char *name)
{
	json_object *ps = procs(ans);

	for (size_t i = 0; i < json_object_array_length(ps); i++) {
		json_object *p = json_object_array_get_idx(ps, i);
		const char *n = proc_name(p);

		if (n && strcmp(n, name) == 0)
			return p;
	}
	return NULL;
}

/* Ask until pred holds (the program's processes get to their waits in
 * their own time), at most 10 s; the answer that satisfied it. */
static json_object *query_until(const char *path, const char *req,
				bool (*pred)(json_object *ans, void *ctx), void *ctx)
{
	uint64_t until = now_ns() + 10000000000ull;

	for (;;) {
		json_object *ans = query(path, req);

		if (pred(ans, ctx))
			return ans;
		cr_assert_lt(now_ns(), until, "still not there after 10 s: %.2000s",
			     json_object_to_json_string(ans));
		json_object_put(ans);
		usleep(10000);
	}
}

/* obj has exactly these keys. */
static void check_keys(json_object *obj, const char *const *keys, int n)
{
	cr_assert(json_object_is_type(obj, json_type_object));
	cr_assert_eq(json_object_object_length(obj), n, "keys: %s", json_object_to_json_string(obj));
	for (int i = 0; i < n; i++)
		(void)get(obj, keys[i]);
}

#define CHECK_KEYS(obj, ...)                                                                \
	do {                                                                                \
		static const char *const keys_[] = { __VA_ARGS__ };                         \
		check_keys(obj, keys_, sizeof(keys_) / sizeof(keys_[0]));                   \
	} while (0)

/* "<0.slot.gen>": the slot. */
static long pid_slot(json_object *p)
{
	const char *s = json_object_get_string(get(p, "pid"));
	unsigned node, slot, gen;
	char end;

	cr_assert_eq(sscanf(s, "<%u.%u.%u%c", &node, &slot, &gen, &end), 4, "pid %s", s);
	cr_assert_eq(end, '>');
	cr_assert_eq(node, 0);
	cr_assert_geq(gen, 1);
	return (long)slot;
}

/* ---- processes in every state ------------------------------------------------------------ */

static bool never(const struct gp_msg *m, void *ctx)
{
	(void)m;
	(void)ctx;
	return false;
}

/* Keeps what it is sent in its mailbox, for ever. */
static void hoarder(void *arg)
{
	struct gp_msg m;
	size_t heap = (size_t)(uintptr_t)arg;

	if (heap)
		CHECK(gp_alloc(heap) != NULL);
	(void)gp_receive_match(&m, never, NULL, -1);
}

static void spinner(void *arg)
{
	(void)arg;
	for (;;)
		gp_yield();
}

static void io_waiter(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;

	CHECK_EQ(gp_own(fd), 0);
	(void)gp_read(fd, &c, 1);
}

static void sleeper(void *arg)
{
	(void)arg;
	(void)gp_sleep(1000000000);
}

static void after_hibernation(void *arg)
{
	(void)arg;
}

static void hibernator(void *arg)
{
	(void)arg;
	gp_hibernate(after_hibernation, NULL);
}

/* ---- the schema --------------------------------------------------------------------- */

static gp_pid zoo_targets[3];

static void registrar(void *arg)
{
	(void)arg;
	CHECK_EQ(gp_register("zoo_registered", gp_self()), 0);
	hoarder(NULL);
}

static void linker(void *arg)
{
	(void)arg;
	CHECK_EQ(gp_link(zoo_targets[0]), 0);
	CHECK_EQ(gp_link(zoo_targets[1]), 0);
	hoarder(NULL);
}

static void watcher(void *arg)
{
	uint64_t ref;

	(void)arg;
	for (int i = 0; i < 3; i++)
		CHECK_EQ(gp_monitor(zoo_targets[i], &ref), 0);
	hoarder(NULL);
}

static void zoo_setup(struct prog *pg)
{
	gp_pid mail;

	zoo_targets[0] = prog_spawn(pg, hoarder, (void *)(uintptr_t)12345, "zoo-heap");
	zoo_targets[1] = prog_spawn(pg, registrar, NULL, "zoo-reg");
	zoo_targets[2] = prog_spawn(pg, hoarder, NULL, "zoo \"quoted\"\n\x01\xff\xc3\xa9");
	prog_spawn(pg, linker, NULL, "zoo-links");
	prog_spawn(pg, watcher, NULL, "zoo-mon");
	mail = prog_spawn(pg, hoarder, NULL, "zoo-mail");
	for (int i = 0; i < 4; i++)
		CHECK_EQ(gp_send(mail, 1, "x", 1), 0);
	prog_spawn(pg, hoarder, NULL, NULL); /* no name */
}

static bool zoo_settled(json_object *ans, void *ctx)
{
	json_object *p;

	(void)ctx;
	return (p = find_proc(ans, "zoo-mail")) && get_int(p, "mailbox") == 4 &&
	       (p = find_proc(ans, "zoo-links")) && get_int(p, "links") == 2 &&
	       (p = find_proc(ans, "zoo-mon")) && get_int(p, "monitors") == 3 &&
	       (p = find_proc(ans, "zoo-reg")) &&
	       json_object_is_type(get(p, "registered"), json_type_string) &&
	       (p = find_proc(ans, "zoo-heap")) && get_int(p, "heap") >= 12345;
}

static void check_process_schema(json_object *p)
{
	static const char *const states[] = { "running",    "runnable", "waiting_msg",
					      "waiting_io", "sleeping", "hibernated" };
	json_object *v;
	bool known = false;

	CHECK_KEYS(p, "pid", "name", "state", "mailbox", "reductions", "heap", "links", "monitors",
		   "registered", "stall_ms");
	(void)pid_slot(p);
	v = get(p, "name");
	cr_assert(json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_null));
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		known |= strcmp(json_object_get_string(get(p, "state")), states[i]) == 0;
	cr_assert(known, "state %s", json_object_get_string(get(p, "state")));
	cr_assert_geq(get_int(p, "mailbox"), 0);
	cr_assert_geq(get_int(p, "reductions"), 0);
	cr_assert_geq(get_int(p, "heap"), 0);
	cr_assert_geq(get_int(p, "links"), 0);
	cr_assert_geq(get_int(p, "monitors"), 0);
	v = get(p, "registered");
	cr_assert(json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_null));
	v = get(p, "stall_ms");
	cr_assert(json_object_is_type(v, json_type_null), "nothing stalls here");
}

/* The answer has exactly the documented keys, with the documented types,
 * and what the processes did shows: heap, mailbox, links, monitors, names
 * (escaped: quotes, newline, control and non-UTF-8 bytes), registration. */
Test(introspect, schema, .timeout = 60)
{
	struct prog pg = { .setup = zoo_setup };
	json_object *ans, *rt, *per, *tot, *ps, *p;
	int64_t sum = 0;

	prog_start(&pg);
	ans = query_until(pg.path, "{\"v\":1,\"limit\":1000}", zoo_settled, NULL);
	CHECK_KEYS(ans, "v", "os_pid", "runtime", "totals", "processes");
	cr_assert_eq(get_int(ans, "v"), 1);
	cr_assert_eq(get_int(ans, "os_pid"), getpid());

	rt = get(ans, "runtime");
	CHECK_KEYS(rt, "schedulers", "per_scheduler", "processes", "spawned", "stalls");
	cr_assert_eq(get_int(rt, "schedulers"), 2);
	per = get(rt, "per_scheduler");
	cr_assert(json_object_is_type(per, json_type_array));
	cr_assert_eq(json_object_array_length(per), 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *s = json_object_array_get_idx(per, i);

		CHECK_KEYS(s, "id", "runq", "switches", "steals", "stalled", "io_submitted",
			   "io_completed", "cpu_ms");
		cr_assert_eq(get_int(s, "id"), (int64_t)i);
		cr_assert_geq(get_int(s, "runq"), 0);
		cr_assert_geq(get_int(s, "switches"), 0);
		cr_assert_geq(get_int(s, "steals"), 0);
		cr_assert(json_object_is_type(get(s, "stalled"), json_type_boolean));
		cr_assert(!json_object_get_boolean(get(s, "stalled")));
		cr_assert_geq(get_int(s, "io_submitted"), get_int(s, "io_completed"));
		cr_assert(json_object_is_type(get(s, "cpu_ms"), json_type_int));
		cr_assert_geq(get_int(s, "cpu_ms"), 0);
	}
	/* the first process, 8 of the zoo, the server */
	cr_assert_eq(get_int(rt, "processes"), 9);
	cr_assert_geq(get_int(rt, "spawned"), 9);
	cr_assert_eq(get_int(rt, "stalls"), 0);

	tot = get(ans, "totals");
	CHECK_KEYS(tot, "running", "runnable", "waiting_msg", "waiting_io", "sleeping", "hibernated");
	json_object_object_foreach(tot, key, val)
	{
		(void)key;
		sum += json_object_get_int64(val);
	}
	cr_assert_eq(sum, 9);
	cr_assert_geq(get_int(tot, "running"), 1); /* the server, answering */

	ps = procs(ans);
	cr_assert_eq(json_object_array_length(ps), 9);
	for (size_t i = 0; i < json_object_array_length(ps); i++)
		check_process_schema(json_object_array_get_idx(ps, i));

	p = find_proc(ans, "libgp.introspect");
	cr_assert_not_null(p, "the server shows itself");
	cr_assert_str_eq(json_object_get_string(get(p, "state")), "running");
	p = find_proc(ans, "zoo-reg");
	cr_assert_str_eq(json_object_get_string(get(p, "registered")), "zoo_registered");
	cr_assert_str_eq(json_object_get_string(get(p, "state")), "waiting_msg");
	p = find_proc(ans, "zoo \"quoted\"\n\x01\xef\xbf\xbd\xc3\xa9"); /* \xff: U+FFFD */
	cr_assert_not_null(p, "escaped name: %s", json_object_to_json_string(ps));
	cr_assert_eq(get_int(find_proc(ans, "zoo-mail"), "mailbox"), 4);
	json_object_put(ans);
	prog_stop(&pg);
}

/* ---- sort, limit, filter -------------------------------------------------------------- */

#define SL_N   20
#define MANY_N 120

static void sl_proc(void *arg)
{
	long k = (long)(uintptr_t)arg;

	for (long i = 0; i < (k + 1) * 10; i++) /* reductions grow with k */
		gp_yield();
	hoarder((void *)(uintptr_t)((k + 1) * 100)); /* heap too */
}

static void sl_setup(struct prog *pg)
{
	char name[32];

	for (long k = 0; k < SL_N; k++) {
		gp_pid pid;

		snprintf(name, sizeof(name), "sl-%02ld", k);
		pid = prog_spawn(pg, sl_proc, (void *)(uintptr_t)k, name);
		for (long i = 0; i < k; i++) /* and the mailbox */
			CHECK_EQ(gp_send(pid, 1, NULL, 0), 0);
	}
	for (long k = 0; k < MANY_N; k++) {
		snprintf(name, sizeof(name), "many-%ld", k);
		prog_spawn(pg, hoarder, NULL, name);
	}
}

static bool sl_settled(json_object *ans, void *ctx)
{
	json_object *ps = procs(ans);
	size_t n = json_object_array_length(ps);

	(void)ctx;
	if (n != SL_N)
		return false;
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(ps, i);
		long k = atol(proc_name(p) + 3);

		if (get_int(p, "mailbox") != k || get_int(p, "heap") != (k + 1) * 100)
			return false;
	}
	return true;
}

/* names of the processes of an answer, joined by spaces */
static void names_of(json_object *ans, char *buf, size_t size)
{
	json_object *ps = procs(ans);
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(ps) && len < size; i++) {
		const char *n = proc_name(json_object_array_get_idx(ps, i));

		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", n ? n : "-");
	}
}

static void expect_names(const char *path, const char *req, const char *want)
{
	json_object *ans = query(path, req);
	char got[4096];

	names_of(ans, got, sizeof(got));
	cr_assert_str_eq(got, want, "%s", req);
	json_object_put(ans);
}

static size_t count_of(const char *path, const char *req)
{
	json_object *ans = query(path, req);
	size_t n = json_object_array_length(procs(ans));

	json_object_put(ans);
	return n;
}

/* The top `limit` by the sort key (descending; pid and name ascending),
 * among the processes that pass the filters; totals count them all. */
Test(introspect, sort_limit_filter, .timeout = 60)
{
	struct prog pg = { .setup = sl_setup };
	json_object *ans, *ps;
	long last;

	prog_start(&pg);
	json_object_put(query_until(pg.path, "{\"v\":1,\"filter\":\"sl-\",\"state\":\"waiting_msg\"}",
				    sl_settled, NULL));

	expect_names(pg.path, "{\"v\":1,\"sort\":\"mailbox\",\"limit\":3,\"filter\":\"sl-\"}",
		     "sl-19 sl-18 sl-17");
	expect_names(pg.path, "{\"v\":1,\"sort\":\"heap\",\"limit\":4,\"filter\":\"sl-\"}",
		     "sl-19 sl-18 sl-17 sl-16");
	expect_names(pg.path, "{\"v\":1,\"sort\":\"reductions\",\"limit\":2,\"filter\":\"sl-\"}",
		     "sl-19 sl-18");
	expect_names(pg.path, "{\"v\":1,\"sort\":\"name\",\"limit\":5,\"filter\":\"sl-\"}",
		     "sl-00 sl-01 sl-02 sl-03 sl-04");
	expect_names(pg.path, "{ \"filter\" : \"sl-1\" , \"sort\":\"name\", \"v\":1 }",
		     "sl-10 sl-11 sl-12 sl-13 sl-14 sl-15 sl-16 sl-17 sl-18 sl-19");
	/* escapes in the request: "\u0073l-0" is "sl-0" */
	expect_names(pg.path, "{\"v\":1,\"sort\":\"name\",\"limit\":2,\"filter\":\"\\u0073l-0\"}",
		     "sl-00 sl-01");
	expect_names(pg.path, "{\"v\":1,\"filter\":\"nobody-has-this\"}", "");
	expect_names(pg.path, "{\"v\":1,\"limit\":0}", "");
	cr_assert_eq(count_of(pg.path, "{\"v\":1,\"filter\":\"sl-\",\"state\":\"sleeping\"}"), 0);
	cr_assert_eq(count_of(pg.path, "{\"v\":1,\"filter\":\"many-\"}"), 100); /* the default */
	cr_assert_eq(count_of(pg.path, "{\"v\":1,\"filter\":\"many-\",\"limit\":1000}"), MANY_N);
	cr_assert_eq(count_of(pg.path, "{\"v\":1,\"limit\":100000}"), SL_N + MANY_N + 2);
	/* an empty filter is no filter */
	cr_assert_eq(count_of(pg.path, "{\"v\":1,\"filter\":\"\",\"limit\":1000}"), SL_N + MANY_N + 2);

	/* descending values, ties broken by pid */
	ans = query(pg.path, "{\"v\":1,\"sort\":\"mailbox\",\"limit\":1000}");
	ps = procs(ans);
	for (size_t i = 1; i < json_object_array_length(ps); i++) {
		json_object *a = json_object_array_get_idx(ps, i - 1);
		json_object *b = json_object_array_get_idx(ps, i);

		cr_assert_geq(get_int(a, "mailbox"), get_int(b, "mailbox"));
		if (get_int(a, "mailbox") == get_int(b, "mailbox"))
			cr_assert_lt(pid_slot(a), pid_slot(b));
	}
	/* the totals are over everything, whatever the filters */
	cr_assert_eq(get_int(get(ans, "totals"), "waiting_msg"), SL_N + MANY_N);
	json_object_put(ans);

	ans = query(pg.path, "{\"v\":1,\"sort\":\"pid\",\"limit\":1000}");
	ps = procs(ans);
	last = -1;
	for (size_t i = 0; i < json_object_array_length(ps); i++) {
		long slot = pid_slot(json_object_array_get_idx(ps, i));

		cr_assert_gt(slot, last);
		last = slot;
	}
	json_object_put(ans);

	/* by name, the unnamed come last: here the first process */
	ans = query(pg.path, "{\"v\":1,\"sort\":\"name\",\"limit\":1000}");
	ps = procs(ans);
	cr_assert_null(proc_name(json_object_array_get_idx(ps, json_object_array_length(ps) - 1)));
	cr_assert_str_eq(proc_name(json_object_array_get_idx(ps, 0)), "libgp.introspect");
	json_object_put(ans);
	prog_stop(&pg);
}

/* ---- totals by state ------------------------------------------------------------------- */

enum { N_RUN = 3, N_MSG = 4, N_IO = 5, N_SLEEP = 6, N_HIB = 7 };

static void states_setup(struct prog *pg)
{
	char name[32];
	int fds[2];

	for (int i = 0; i < N_RUN; i++) {
		snprintf(name, sizeof(name), "st-runnable-%d", i);
		prog_spawn(pg, spinner, NULL, name);
	}
	for (int i = 0; i < N_MSG; i++) {
		snprintf(name, sizeof(name), "st-waiting_msg-%d", i);
		prog_spawn(pg, hoarder, NULL, name);
	}
	for (int i = 0; i < N_IO; i++) {
		snprintf(name, sizeof(name), "st-waiting_io-%d", i);
		CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
		pg->wfds[pg->nwfds++] = fds[1];
		prog_spawn(pg, io_waiter, (void *)(intptr_t)fds[0], name);
	}
	for (int i = 0; i < N_SLEEP; i++) {
		snprintf(name, sizeof(name), "st-sleeping-%d", i);
		prog_spawn(pg, sleeper, NULL, name);
	}
	for (int i = 0; i < N_HIB; i++) {
		snprintf(name, sizeof(name), "st-hibernated-%d", i);
		prog_spawn(pg, hibernator, NULL, name);
	}
}

struct expect_totals {
	int64_t v[6];
};

static const char *const state_keys[6] = { "running",    "runnable", "waiting_msg",
					   "waiting_io", "sleeping", "hibernated" };

static bool totals_are(json_object *ans, void *ctx)
{
	struct expect_totals *e = ctx;
	json_object *tot = get(ans, "totals");

	for (int i = 0; i < 6; i++)
		if (get_int(tot, state_keys[i]) != e->v[i])
			return false;
	return true;
}

/* Each state is told apart: running (the server, answering, on the only
 * scheduler), runnable, waiting for a message, for I/O, sleeping,
 * hibernated; totals count every process, and each process shows its own. */
Test(introspect, totals_by_state, .timeout = 60)
{
	struct prog pg = { .setup = states_setup, .schedulers = 1 };
	/* the first process waits for I/O too (the test's stop pipe) */
	struct expect_totals e = { { 1, N_RUN, N_MSG, N_IO + 1, N_SLEEP, N_HIB } };
	json_object *ans, *ps;
	int64_t n = 0;

	prog_start(&pg);
	ans = query_until(pg.path, "{\"v\":1,\"sort\":\"name\",\"limit\":1000}", totals_are, &e);
	for (int i = 0; i < 6; i++)
		n += e.v[i];
	cr_assert_eq(get_int(get(ans, "runtime"), "processes"), n);
	ps = procs(ans);
	cr_assert_eq((int64_t)json_object_array_length(ps), n);
	for (size_t i = 0; i < json_object_array_length(ps); i++) {
		json_object *p = json_object_array_get_idx(ps, i);
		const char *name = proc_name(p), *state = json_object_get_string(get(p, "state"));
		char want[32];

		if (!name || strncmp(name, "st-", 3) != 0)
			continue;
		snprintf(want, sizeof(want), "%.*s", (int)(strrchr(name, '-') - name - 3), name + 3);
		cr_assert_str_eq(state, want, "%s", name);
	}
	json_object_put(ans);
	for (int i = 0; i < 6; i++) {
		char req[128];

		snprintf(req, sizeof(req), "{\"v\":1,\"state\":\"%s\",\"limit\":1000}", state_keys[i]);
		cr_assert_eq((int64_t)count_of(pg.path, req), e.v[i], "%s", req);
	}
	prog_stop(&pg);
}

/* ---- bad requests ------------------------------------------------------------------------ */

static void expect_error(const char *path, const char *req, const char *want)
{
	char line[8192];
	json_object *obj;
	const char *msg;

	snprintf(line, sizeof(line), "%s\n", req);
	msg = query_error(path, line, strlen(line), &obj);
	cr_assert(strstr(msg, want), "%s: \"%s\", not \"%s\"", req, msg, want);
	json_object_put(obj);
}

/* Requests are parsed strictly: anything but the documented keys, types
 * and values is refused with one error line; at most 4 KiB. */
Test(introspect, bad_requests, .timeout = 60)
{
	struct prog pg = { 0 };
	char big[5000], line[600];
	json_object *obj;

	prog_start(&pg);
	expect_error(pg.path, "{\"v\":1,\"foo\":1}", "unknown key \"foo\"");
	expect_error(pg.path, "{\"v\":1,\"a-very-long-key-that-is-not-ours-at-all\":1}",
		     "unknown key");
	expect_error(pg.path, "{\"sort\":\"pid\"}", "missing \"v\"");
	expect_error(pg.path, "{}", "missing \"v\"");
	expect_error(pg.path, "{\"v\":2}", "unsupported version");
	expect_error(pg.path, "{\"v\":1,\"v\":1}", "duplicate key");
	expect_error(pg.path, "{\"v\":1,\"limit\":100001}", "out of range");
	expect_error(pg.path, "{\"v\":1,\"limit\":-1}", "non-negative integer");
	expect_error(pg.path, "{\"v\":1,\"limit\":1.5}", "non-negative integer");
	expect_error(pg.path, "{\"v\":1,\"limit\":01}", "non-negative integer");
	expect_error(pg.path, "{\"v\":1,\"limit\":\"10\"}", "non-negative integer");
	expect_error(pg.path, "{\"v\":1,\"sort\":\"size\"}", "bad value for \"sort\"");
	expect_error(pg.path, "{\"v\":1,\"sort\":1}", "expected a string");
	expect_error(pg.path, "{\"v\":1,\"state\":\"zombie\"}", "bad value for \"state\"");
	expect_error(pg.path, "{\"v\":1,\"filter\":null}", "expected a string");
	expect_error(pg.path, "{\"v\":1,\"filter\":\"\\q\"}", "bad escape");
	expect_error(pg.path, "{\"v\":1,\"filter\":\"\\ud800\"}", "surrogate");
	expect_error(pg.path, "{\"v\":1,\"filter\":\"\\u0000\"}", "NUL");
	expect_error(pg.path, "{\"v\":1,\"filter\":\"\xff\"}", "UTF-8");
	expect_error(pg.path, "{\"v\":1,\"filter\":\"a\tb\"}", "control character");
	expect_error(pg.path, "{\"v\":1", "expected ',' or '}'");
	expect_error(pg.path, "{\"v\":1}x", "trailing data");
	expect_error(pg.path, "[1]", "JSON object");
	expect_error(pg.path, "", "JSON object");
	memset(line, 'a', sizeof(line));
	memcpy(line, "{\"v\":1,\"filter\":\"", 17);
	memcpy(line + sizeof(line) - 3, "\"}", 3);
	expect_error(pg.path, line, "longer than a name");

	/* 4096 bytes of request are fine (spaces count), 4097 are not */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"v\":1}", 7);
	big[4096] = '\n';
	{
		size_t len;
		char *ans = query_raw(pg.path, big, 4097, &len);

		obj = parse_line(ans, len);
		cr_assert(!json_object_object_get_ex(obj, "error", NULL), "%s", ans);
		free(ans);
		json_object_put(obj);
	}
	big[4096] = ' ';
	big[4097] = '\n';
	cr_assert(strstr(query_error(pg.path, big, 4098, &obj), "too long"));
	json_object_put(obj);
	/* no newline at all: the end of the connection ends the request */
	{
		size_t len;
		char *ans;
		int fd = client_connect(pg.path);

		cr_assert_geq(fd, 0);
		cr_assert(write_all(fd, "{\"v\":1,\"limit\":1}", 17));
		shutdown(fd, SHUT_WR);
		ans = read_all(fd, &len);
		close(fd);
		obj = parse_line(ans, len);
		cr_assert_eq(json_object_array_length(procs(obj)), 1);
		free(ans);
		json_object_put(obj);
	}
	prog_stop(&pg);
}

/* ---- many clients, idle clients ----------------------------------------------------------- */

struct client_run {
	const char *path;
	int n, ok;
};

static void *client_thread(void *arg)
{
	struct client_run *c = arg;

	for (int i = 0; i < c->n; i++) {
		size_t len;
		char *ans = query_raw(c->path, "{\"v\":1,\"limit\":5}\n", 18, &len);

		c->ok += len > 0 && ans[len - 1] == '\n' && strstr(ans, "\"totals\"") != NULL;
		free(ans);
	}
	return NULL;
}

/* Clients that come at once are all answered, one after another. */
Test(introspect, concurrent_clients, .timeout = 60)
{
	struct prog pg = { .setup = zoo_setup };
	struct client_run c[8];
	pthread_t t[8];

	prog_start(&pg);
	for (int i = 0; i < 8; i++) {
		c[i] = (struct client_run){ .path = pg.path, .n = 20 };
		cr_assert_eq(pthread_create(&t[i], NULL, client_thread, &c[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(c[i].ok, 20);
	}
	prog_stop(&pg);
}

/* A client that connects and says nothing neither keeps gp_main from
 * returning (the server is killed in its read, promptly) nor holds off
 * the next client for longer than the I/O deadline. */
Test(introspect, idle_client, .timeout = 60)
{
	struct prog pg = { 0 };
	uint64_t t0;
	size_t len;
	char *ans;
	int fd;

	prog_start(&pg);
	fd = client_connect(pg.path);
	cr_assert_geq(fd, 0);
	t0 = now_ns();
	json_object_put(query(pg.path, "{\"v\":1}")); /* waits its turn: at most 2 s */
	cr_assert_lt(now_ns() - t0, 5000000000ull);
	ans = read_all(fd, &len); /* dropped without an answer */
	cr_assert_eq(len, 0, "%s", ans);
	free(ans);
	close(fd);

	fd = client_connect(pg.path);
	cr_assert_geq(fd, 0);
	usleep(100000); /* let the server take it and wait in its read */
	t0 = now_ns();
	prog_stop(&pg);
	cr_assert_lt(now_ns() - t0, 1500000000ull, "gp_main waited for the idle client");
	ans = read_all(fd, &len);
	cr_assert_eq(len, 0);
	free(ans);
	close(fd);
}

/* ---- permissions ----------------------------------------------------------------------------- */

static const char denied[] = "{\"v\":1,\"error\":\"permission denied\"}\n";

/* In a forked child: become nobody, connect, ask; 0 if refused as documented. */
static int connect_as_nobody(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[256];
	size_t len = 0;
	int fd;

	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return 2;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(addr.sun_path, path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return 3;
	(void)send(fd, "{\"v\":1}\n", 8, MSG_NOSIGNAL); /* refused before it asked: fine too */
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (len != sizeof(denied) - 1 || memcmp(buf, denied, len) != 0)
		return 4;
	return 0;
}

/* SO_PEERCRED: a client of another uid is refused with an error line and
 * the connection closed, even where file permissions would let it in; root
 * (here, the program's own uid as well) is served. */
Test(introspect, other_uid_refused, .timeout = 60)
{
	struct prog pg = { .setup = zoo_setup };
	int status;
	pid_t pid;

	if (geteuid() != 0)
		skip_test("needs root: setresuid");
	prog_start(&pg);
	/* Let the kernel pass nobody through, so that SO_PEERCRED decides. */
	cr_assert_eq(chmod(pg.dir, 0711), 0);
	cr_assert_eq(chmod(pg.path, 0666), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(connect_as_nobody(pg.path));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody's client: status %#x",
		  status);
	json_object_put(query(pg.path, "{\"v\":1}"));
	prog_stop(&pg);
}

static int nobody_stop = -1;

static void wait_for_stop(void *arg)
{
	char c;

	(void)arg;
	(void)gp_read(nobody_stop, &c, 1);
}

/* A program running as another uid serves root. */
Test(introspect, root_is_allowed, .timeout = 60)
{
	char dir[64] = "/tmp/gp-introspect-test-XXXXXX", path[160];
	int stop[2], status;
	json_object *ans;
	pid_t pid;
	int i;

	if (geteuid() != 0)
		skip_test("needs root: setresuid");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chown(dir, NOBODY, NOBODY), 0);
	cr_assert_eq(setenv("GP_INTROSPECT_DIR", dir, 1), 0);
	cr_assert_eq(pipe2(stop, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct gp_config cfg = { .schedulers = 2 };
		int r;

		close(stop[1]);
		nobody_stop = stop[0];
		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(2);
		r = gp_main(wait_for_stop, NULL, &cfg);
		_exit(r == 0 ? 0 : r == -EPERM ? 77 : 1);
	}
	close(stop[0]);
	snprintf(path, sizeof(path), "%s/%ld.sock", dir, (long)pid);
	for (i = 0; i < 10000 && access(path, F_OK) < 0; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			rmdir(dir);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
				skip_test("no io_uring for an unprivileged uid here");
			cr_assert(false, "the program ended early: status %#x", status);
		}
		usleep(1000);
	}
	ans = query(path, "{\"v\":1}");
	cr_assert_eq(get_int(ans, "os_pid"), pid);
	json_object_put(ans);
	close(stop[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert_eq(rmdir(dir), 0);
	unsetenv("GP_INTROSPECT_DIR");
}

/* A sandboxed program serves as well: the server needs only what every
 * sandbox allows (accept, read, write and close on the rings, getsockopt).
 * Without GP_SANDBOX_FILES it may not unlink at its end: its socket stays,
 * refusing connections, for the next program to sweep. */
Test(introspect, sandboxed_program, .timeout = 60)
{
	char dir[64] = "/tmp/gp-introspect-test-XXXXXX", path[160];
	int stop[2], status;
	json_object *ans;
	pid_t pid;

#ifdef __SANITIZE_ADDRESS__
	skip_test("ASan's runtime needs /proc, which the sandbox forbids");
#endif
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(setenv("GP_INTROSPECT_DIR", dir, 1), 0);
	unsetenv("GP_INTROSPECT");
	cr_assert_eq(pipe2(stop, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct gp_config cfg = { .schedulers = 2, .sandbox = GP_SANDBOX_ON };

		close(stop[1]);
		nobody_stop = stop[0];
		_exit(gp_main(wait_for_stop, NULL, &cfg) == 0 ? 0 : 1);
	}
	close(stop[0]);
	snprintf(path, sizeof(path), "%s/%ld.sock", dir, (long)pid);
	for (int i = 0; i < 10000 && access(path, F_OK) < 0; i++)
		usleep(1000);
	ans = query(path, "{\"v\":1,\"sort\":\"name\"}");
	cr_assert_eq(get_int(ans, "os_pid"), pid);
	cr_assert_not_null(find_proc(ans, "libgp.introspect"));
	json_object_put(ans);
	close(stop[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	cr_assert_eq(client_connect(path), -ECONNREFUSED);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(rmdir(dir), 0);
	unsetenv("GP_INTROSPECT_DIR");
}

/* The socket appears only once it listens: a client that connects the
 * moment it sees the file is never refused (ptop scans the folder so). A
 * socket published between bind and listen was refused within 400 rounds
 * beside two CPU hogs (GP_TEST_SCALE=10), though never on an idle machine. */
Test(introspect, socket_appears_listening, .timeout = 120)
{
	char dir[64] = "/tmp/gp-introspect-test-XXXXXX", path[160];
	int rounds = (int)scaled(40, 5);

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(setenv("GP_INTROSPECT_DIR", dir, 1), 0);
	unsetenv("GP_INTROSPECT");
	for (int i = 0; i < rounds; i++) {
		struct gp_config cfg = { .schedulers = 1 };
		int stop[2], status, fd;
		struct stat st;
		pid_t pid;

		cr_assert_eq(pipe2(stop, O_CLOEXEC), 0);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(stop[1]);
			nobody_stop = stop[0];
			_exit(gp_main(wait_for_stop, NULL, &cfg) == 0 ? 0 : 1);
		}
		close(stop[0]);
		snprintf(path, sizeof(path), "%s/%ld.sock", dir, (long)pid);
		for (uint64_t until = now_ns() + 10000000000ull; lstat(path, &st) < 0;)
			cr_assert_lt(now_ns(), until, "round %d: no %s after 10 s", i, path);
		fd = client_connect(path);
		cr_assert_geq(fd, 0, "round %d: connect %s: %s", i, path, strerror(-fd));
		close(fd);
		close(stop[1]);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	}
	cr_assert_eq(rmdir(dir), 0, "rmdir %s: %s", dir, strerror(errno));
	unsetenv("GP_INTROSPECT_DIR");
}

/* ---- where the socket is, or is not ----------------------------------------------------- */

static void count_self(void *arg)
{
	struct gp_stats st;

	(void)arg;
	CHECK_EQ(gp_stats(&st), 0);
	CHECK_EQ(st.processes, 1); /* no server */
}

static void disabled_setup(struct prog *pg)
{
	(void)pg;
	count_self(NULL);
}

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* GP_INTROSPECT=0: no socket, no server. */
Test(introspect, disabled, .timeout = 30)
{
	struct prog pg = { .setup = disabled_setup, .disabled = true };

	prog_start(&pg);
	cr_assert_eq(dir_entries(pg.dir), 0);
	cr_assert_eq(client_connect(pg.path), -ENOENT);
	prog_stop(&pg);
	unsetenv("GP_INTROSPECT");
}

/* GP_INTROSPECT_DIR is made if missing; a stale socket of our pid (an
 * earlier OS process that crashed) is replaced; either way the socket goes
 * when gp_main returns. */
Test(introspect, introspect_dir, .timeout = 30)
{
	char base[64] = "/tmp/gp-introspect-test-XXXXXX";
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct prog pg = { .keep_env = true };
	struct stat st;
	int fd;

	cr_assert_not_null(mkdtemp(base));
	snprintf(pg.dir, sizeof(pg.dir), "%s/new", base);
	snprintf(pg.path, sizeof(pg.path), "%s/%ld.sock", pg.dir, (long)getpid());
	cr_assert_eq(setenv("GP_INTROSPECT_DIR", pg.dir, 1), 0);
	prog_start(&pg);
	cr_assert_eq(stat(pg.dir, &st), 0);
	cr_assert(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "mode %o", st.st_mode);
	cr_assert_eq(lstat(pg.path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode);
	json_object_put(query(pg.path, "{\"v\":1}"));
	prog_stop(&pg);

	/* a stale one */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(addr.sun_path, pg.path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
	cr_assert_eq(client_connect(pg.path), -ECONNREFUSED);
	prog_start(&pg);
	json_object_put(query(pg.path, "{\"v\":1}"));
	prog_stop(&pg);
	cr_assert_eq(rmdir(pg.dir), 0);
	cr_assert_eq(rmdir(base), 0);
	unsetenv("GP_INTROSPECT_DIR");
}

/* A pid that is not alive (a child's, reaped). */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* A socket file at dir/<pid>.sock, listening or not, made `age` seconds ago. */
static int make_socket(const char *dir, long pid, bool listening, int age)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timespec times[2];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%ld.sock", dir, pid);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	if (listening)
		cr_assert_eq(listen(fd, 1), 0);
	clock_gettime(CLOCK_REALTIME, &times[0]);
	times[0].tv_sec -= age;
	times[1] = times[0];
	cr_assert_eq(utimensat(AT_FDCWD, addr.sun_path, times, AT_SYMLINK_NOFOLLOW), 0);
	if (!listening) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool socket_exists(const char *dir, long pid)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%ld.sock", dir, pid);
	return access(path, F_OK) == 0;
}

/* Sockets of programs that ended without gp_main's end (a crash, a
 * sandbox that forbids unlink) are swept when a program starts serving in
 * the folder: only those of dead pids that refuse connections and are not
 * brand new. */
Test(introspect, sweep_stale, .timeout = 30)
{
	struct prog pg = { 0 };
	pid_t stale = dead_pid(), fresh = dead_pid(), foreign = dead_pid();
	int lfd;

	strcpy(pg.dir, "/tmp/gp-introspect-test-XXXXXX");
	cr_assert_not_null(mkdtemp(pg.dir));
	make_socket(pg.dir, stale, false, 3600);
	make_socket(pg.dir, fresh, false, 0);
	lfd = make_socket(pg.dir, foreign, true, 3600); /* another pid namespace's, alive */
	cr_assert_eq(setenv("GP_INTROSPECT_DIR", pg.dir, 1), 0);
	snprintf(pg.path, sizeof(pg.path), "%s/%ld.sock", pg.dir, (long)getpid());
	pg.keep_env = true;
	prog_start(&pg);
	cr_assert(!socket_exists(pg.dir, stale));
	cr_assert(socket_exists(pg.dir, fresh));
	cr_assert(socket_exists(pg.dir, foreign));
	json_object_put(query(pg.path, "{\"v\":1}"));
	prog_stop(&pg);
	close(lfd);
	cr_assert_eq(dir_entries(pg.dir), 2);
	for (pid_t *p = (pid_t[]){ fresh, foreign, 0 }; *p; p++) {
		char path[160];

		snprintf(path, sizeof(path), "%s/%ld.sock", pg.dir, (long)*p);
		cr_assert_eq(unlink(path), 0);
	}
	cr_assert_eq(rmdir(pg.dir), 0);
	unsetenv("GP_INTROSPECT_DIR");
}

/* Without GP_INTROSPECT_DIR: $XDG_RUNTIME_DIR/gp, made 0700; a gp there
 * that others may write to is not used (and the program runs without). */
Test(introspect, xdg_runtime_dir, .timeout = 30)
{
	char base[64] = "/tmp/gp-introspect-test-XXXXXX", gp[96];
	struct prog pg = { .keep_env = true };
	struct stat st;

	unsetenv("GP_INTROSPECT_DIR");
	cr_assert_not_null(mkdtemp(base));
	cr_assert_eq(setenv("XDG_RUNTIME_DIR", base, 1), 0);
	snprintf(gp, sizeof(gp), "%s/gp", base);
	snprintf(pg.path, sizeof(pg.path), "%s/%ld.sock", gp, (long)getpid());
	prog_start(&pg);
	cr_assert_eq(lstat(gp, &st), 0);
	cr_assert(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "mode %o", st.st_mode);
	cr_assert_eq(st.st_uid, geteuid());
	json_object_put(query(pg.path, "{\"v\":1}"));
	prog_stop(&pg);

	cr_assert_eq(chmod(gp, 0777), 0);
	prog_start(&pg);
	cr_assert_eq(dir_entries(gp), 0);
	prog_stop(&pg);
	cr_assert_eq(rmdir(gp), 0);

	/* a symlink in its place is not followed */
	cr_assert_eq(symlink(base, gp), 0);
	prog_start(&pg);
	cr_assert_eq(dir_entries(base), 1); /* the link only */
	prog_stop(&pg);
	cr_assert_eq(unlink(gp), 0);
	cr_assert_eq(rmdir(base), 0);
	unsetenv("XDG_RUNTIME_DIR");
}

/* ---- a crowd ------------------------------------------------------------------------------------ */

static long crowd_n;

static void crowd_setup(struct prog *pg)
{
	char name[32];

	for (long i = 0; i < crowd_n; i++) {
		snprintf(name, sizeof(name), "crowd-%06ld", i);
		prog_spawn(pg, hoarder, NULL, name);
	}
}

static bool crowd_parked(json_object *ans, void *ctx)
{
	(void)ctx;
	return get_int(get(ans, "totals"), "waiting_msg") == crowd_n;
}

/* 100,000 processes: the top 10 come back in kilobytes, and quickly; all of
 * them (the largest limit) come back too, in order. */
Test(introspect, hundred_thousand, .timeout = 120)
{
	struct prog pg = { .setup = crowd_setup };
	json_object *ans, *ps;
	uint64_t t0, best = UINT64_MAX;
	size_t len;

	crowd_n = scaled(100000, 1000);
	prog_start(&pg);
	json_object_put(query_until(pg.path, "{\"v\":1,\"limit\":0}", crowd_parked, NULL));
	for (int i = 0; i < 5; i++) {
		t0 = now_ns();
		ans = query_len(pg.path, "{\"v\":1,\"limit\":10}", &len);
		if (now_ns() - t0 < best)
			best = now_ns() - t0;
		cr_assert_lt(len, 64u << 10, "%zu bytes", len);
		cr_assert_eq(json_object_array_length(procs(ans)), 10);
		cr_assert_eq(get_int(get(ans, "totals"), "waiting_msg"), crowd_n);
		json_object_put(ans);
	}
	cr_log_info("%ld processes: limit 10 in %zu bytes, %.1f ms", crowd_n, len, best / 1e6);

	t0 = now_ns();
	ans = query_len(pg.path, "{\"v\":1,\"limit\":100000,\"filter\":\"crowd-\",\"sort\":\"name\"}",
			&len);
	cr_log_info("%ld processes: all of them by name in %zu bytes, %.1f ms", crowd_n, len,
		    (now_ns() - t0) / 1e6);
	ps = procs(ans);
	cr_assert_eq((long)json_object_array_length(ps), crowd_n < 100000 ? crowd_n : 100000);
	for (size_t i = 0; i < json_object_array_length(ps); i += 997) {
		char want[32];

		snprintf(want, sizeof(want), "crowd-%06zu", i);
		cr_assert_str_eq(proc_name(json_object_array_get_idx(ps, i)), want);
	}
	json_object_put(ans);
	prog_stop(&pg);
}

/* ---- a stall ------------------------------------------------------------------------------------ */

static atomic_int stalling, stall_over;

/* White-box: the scheduler whose ring holds the server's accept (read as
 * the snapshot reads it: last_sched is the scheduler's, not ours). */
#if defined(__SANITIZE_THREAD__)
__attribute__((no_sanitize("thread")))
#endif
static int server_sched(void)
{
	struct gp_runtime *rt = atomic_load(&gpi_rt);
	uint32_t n = atomic_load(&rt->next_slot);

	for (uint32_t i = 0; i < n && i < rt->max_procs; i++) {
		struct gp_proc *p = &rt->procs[i];
		const char *name = atomic_load(&p->name);

		if (name && strcmp(name, "libgp.introspect") == 0)
			return (int)*(volatile unsigned *)&p->last_sched;
	}
	return -1;
}

static void neighbour(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		gp_yield();
}

static void staller(void *arg)
{
	uint64_t until = now_ns() + 40000000000ull; /* it outlasts query_until's 10 s */
	int x = server_sched();

	(void)arg;
	CHECK(x >= 0);
	/*
	 * Not on the scheduler whose ring holds the server's accept: a stall
	 * there would hold the answer back until it ends. A process moves
	 * when the other scheduler, idle, steals it from a run queue: so
	 * yield beside short-lived neighbours (spawned next to us) until
	 * that happens.
	 */
	for (unsigned i = 0; gp_scheduler_id() == x && now_ns() < until; i++) {
		if (i % 50 == 0)
			CHECK(gp_spawn(neighbour, NULL) != 0);
		gp_yield();
	}
	CHECK(gp_scheduler_id() != x, "could not leave the server's scheduler");
	atomic_store(&stalling, 1);
	while (!atomic_load(&stall_over) && now_ns() < until)
		; /* compute, without calling libgp */
}

static void stall_setup(struct prog *pg)
{
	prog_spawn(pg, staller, NULL, "staller");
}

static bool stall_seen(json_object *ans, void *ctx)
{
	json_object *p = find_proc(ans, "staller");

	(void)ctx;
	return p && json_object_is_type(get(p, "stall_ms"), json_type_int);
}

/* A process that computes without calling libgp past stall_ms shows how
 * long it has, and its scheduler shows as stalled. */
Test(introspect, stall, .timeout = 60)
{
	struct prog pg = { .setup = stall_setup, .schedulers = 2, .stall_ms = 50 };
	json_object *ans, *p, *per;
	bool some = false;

	atomic_store(&stalling, 0);
	atomic_store(&stall_over, 0);
	prog_start(&pg);
	for (int i = 0; i < 10000 && !atomic_load(&stalling); i++)
		usleep(1000);
	cr_assert(atomic_load(&stalling));
	ans = query_until(pg.path, "{\"v\":1,\"filter\":\"staller\"}", stall_seen, NULL);
	p = find_proc(ans, "staller");
	cr_assert_str_eq(json_object_get_string(get(p, "state")), "running");
	cr_assert_geq(get_int(p, "stall_ms"), 50);
	per = get(get(ans, "runtime"), "per_scheduler");
	for (size_t i = 0; i < json_object_array_length(per); i++)
		some |= json_object_get_boolean(get(json_object_array_get_idx(per, i), "stalled"));
	cr_assert(some);
	cr_assert_geq(get_int(get(ans, "runtime"), "stalls"), 1);
	json_object_put(ans);
	atomic_store(&stall_over, 1);
	prog_stop(&pg);
}
