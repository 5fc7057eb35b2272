/* SPDX-License-Identifier: MIT */
/*
 * gpbench: the benchmark workloads written against libgp, the same ones as
 * bench/peers/erlang/gpbench.erl and bench/peers/go/gpbench.go, so that
 * bench/run.sh compares the three in one run. Schedulers: $GP_SCHEDULERS.
 *
 *   gpbench WORKLOAD [ARGS]
 *
 * Each workload prints "WORKLOAD METRIC VALUE" lines on stdout, diagnostics
 * on stderr; exit status 0 on success, 1 on a wrong result, 2 on a bad
 * command line.
 *
 *   pingpong [N=1000000]        2 processes, N round trips: ns per round trip
 *   ring [P=10000] [H=10000000] P processes in a ring pass one token H hops:
 *                               ns per hop (building the ring is not timed)
 *   churn [N=1000000]           N times in sequence: spawn a process that
 *                               replies to its parent and exits: processes/s
 *   skynet [N=1000000]          10-ary tree, N leaves, sums sent up: ms
 *   spawn_idle [N=1000000]      N processes parked in gp_receive: ms until
 *                               all are parked, RSS growth per process, ms
 *                               to message them all and see them exit; then
 *                               the spawn again on the warm pool
 *   spawn_hibernate [N=1000000] the same with processes in gp_hibernate
 *   yield [N=10000000]          2 processes each yielding N times: ns per
 *                               switch
 */
#include <errno.h>
#include <gp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long args[2];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void)
{
	long pages, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * sysconf(_SC_PAGESIZE);
}

/* Live processes, the runtime's own (introspection...) included: what the
 * workloads wait to come back down to. */
static uint64_t live_processes(void)
{
	struct gp_stats st;

	return gp_stats(&st) == 0 ? st.processes : 0;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "gpbench: %s: %s\n", what, strerror(-r));
	exit(1);
}

static gp_pid spawn(gp_fn fn, void *arg)
{
	gp_pid pid = gp_spawn(fn, arg);

	if (!pid)
		die("gp_spawn", -errno);
	return pid;
}

static void receive(struct gp_msg *m)
{
	int r = gp_receive(m, -1);

	if (r < 0)
		die("gp_receive", r);
}

/* ---- pingpong -------------------------------------------------------------- */

static void pong(void *arg)
{
	struct gp_msg m;

	(void)arg;
	for (;;) {
		receive(&m);
		if (m.tag == 2)
			return;
		gp_send(m.from, 1, m.data, m.len);
		gp_msg_free(&m);
	}
}

static void pingpong(void *arg)
{
	long n = args[0];
	gp_pid p = spawn(pong, NULL);
	struct gp_msg m;
	double t;
	long v = 0;

	(void)arg;
	t = now();
	for (long i = 0; i < n; i++) {
		gp_send(p, 1, &i, sizeof(i));
		receive(&m);
		v += *(long *)m.data;
		gp_msg_free(&m);
	}
	t = now() - t;
	gp_send(p, 2, NULL, 0);
	if (v != n * (n - 1) / 2) {
		fprintf(stderr, "gpbench: pingpong: wrong sum %ld\n", v);
		exit(1);
	}
	printf("pingpong ns_per_rt %.1f\n", t / (double)n * 1e9);
}

/* ---- ring ------------------------------------------------------------------------ */

/* As the Erlang and Go peers: the token is the number of hops still to go;
 * the node that receives 1 makes the last hop and tells main, which is not
 * in the ring. Then main stops every node with a message of its own tag. */
enum { RING_NEXT, RING_TOKEN, RING_STOP };

static void ring_node(void *arg)
{
	gp_pid main_pid = (gp_pid)(uintptr_t)arg, next;
	struct gp_msg m;

	receive(&m); /* RING_NEXT: the next node's pid */
	next = *(gp_pid *)m.data;
	gp_msg_free(&m);
	for (;;) {
		long hops;

		receive(&m);
		if (m.tag == RING_STOP) {
			gp_msg_free(&m);
			return;
		}
		hops = *(long *)m.data;
		gp_msg_free(&m);
		if (hops == 1)
			gp_send(main_pid, RING_TOKEN, NULL, 0);
		else
			gp_send(next, RING_TOKEN, &(long){ hops - 1 }, sizeof(long));
	}
}

static void ring(void *arg)
{
	long n = args[0], hops = args[1];
	gp_pid *pids = malloc((size_t)n * sizeof(*pids));
	struct gp_msg m;
	double t;

	(void)arg;
	if (n < 2 || hops < 1) {
		fprintf(stderr, "gpbench: ring needs at least 2 processes and 1 hop\n");
		exit(2);
	}
	for (long i = 0; i < n; i++)
		pids[i] = spawn(ring_node, (void *)(uintptr_t)gp_self());
	for (long i = 0; i < n; i++)
		gp_send(pids[i], RING_NEXT, &pids[(i + 1) % n], sizeof(gp_pid));
	t = now();
	gp_send(pids[0], RING_TOKEN, &hops, sizeof(long));
	receive(&m);
	t = now() - t;
	gp_msg_free(&m);
	for (long i = 0; i < n; i++)
		gp_send(pids[i], RING_STOP, NULL, 0);
	free(pids);
	printf("ring ns_per_hop %.1f\n", t / (double)hops * 1e9);
}

/* ---- churn ----------------------------------------------------------------------- */

static void replier(void *arg)
{
	gp_send((gp_pid)(uintptr_t)arg, 1, NULL, 0);
}

static void churn(void *arg)
{
	long n = args[0];
	struct gp_msg m;
	double t;

	(void)arg;
	t = now();
	for (long i = 0; i < n; i++) {
		spawn(replier, (void *)(uintptr_t)gp_self());
		receive(&m);
		gp_msg_free(&m);
	}
	t = now() - t;
	printf("churn procs_per_sec %.0f\n", (double)n / t);
}

/* ---- skynet ---------------------------------------------------------------------- */

struct sky {
	gp_pid parent;
	long num, size;
};

static void skynet_node(void *arg)
{
	struct sky s = *(struct sky *)arg;
	struct gp_msg m;
	long sum = 0;

	free(arg);
	if (s.size == 1) {
		gp_send(s.parent, 1, &s.num, sizeof(long));
		return;
	}
	for (long i = 0; i < 10; i++) {
		/* malloc, not gp_alloc: the child frees it, and a process
		 * heap is its owner's alone. */
		struct sky *c = malloc(sizeof(*c));

		*c = (struct sky){ gp_self(), s.num + i * (s.size / 10), s.size / 10 };
		spawn(skynet_node, c);
	}
	for (long i = 0; i < 10; i++) {
		receive(&m);
		sum += *(long *)m.data;
		gp_msg_free(&m);
	}
	gp_send(s.parent, 1, &sum, sizeof(long));
}

static void skynet(void *arg)
{
	long n = args[0];
	struct sky *root = malloc(sizeof(*root));
	struct gp_msg m;
	double t;

	(void)arg;
	*root = (struct sky){ gp_self(), 0, n };
	t = now();
	spawn(skynet_node, root);
	receive(&m);
	t = now() - t;
	if (*(long *)m.data != n * (n - 1) / 2) {
		fprintf(stderr, "gpbench: skynet: wrong sum %ld\n", *(long *)m.data);
		exit(1);
	}
	gp_msg_free(&m);
	printf("skynet ms %.1f\n", t * 1e3);
}

/* ---- spawn_idle, spawn_hibernate --------------------------------------------------- */

static atomic_long parked;
static bool hibernate;

static void released(void *arg)
{
	struct gp_msg m;

	(void)arg;
	receive(&m);
	gp_msg_free(&m);
}

static void idler(void *arg)
{
	struct gp_msg m;

	(void)arg;
	atomic_fetch_add_explicit(&parked, 1, memory_order_relaxed);
	if (hibernate)
		gp_hibernate(released, NULL);
	receive(&m);
	gp_msg_free(&m);
}

/* Spawn n idlers, wait until all are parked; release them and wait until
 * all have exited. Returns the spawn time in ms. */
static double idle_round(const char *name, long n, gp_pid *pids, bool report)
{
	uint64_t base = live_processes(); /* this one and the runtime's */
	long rss0 = rss_bytes();
	double t = now(), spawn_ms;

	atomic_store(&parked, 0);
	for (long i = 0; i < n; i++)
		pids[i] = spawn(idler, NULL);
	while (atomic_load_explicit(&parked, memory_order_relaxed) < n)
		gp_yield();
	spawn_ms = (now() - t) * 1e3;
	if (report) {
		printf("%s spawn_ms %.1f\n", name, spawn_ms);
		printf("%s bytes_per_proc %.0f\n", name, (double)(rss_bytes() - rss0) / (double)n);
		fflush(stdout);
	}
	t = now();
	for (long i = 0; i < n; i++)
		gp_send(pids[i], 1, NULL, 0);
	do
		gp_yield();
	while (live_processes() > base);
	if (report)
		printf("%s release_ms %.1f\n", name, (now() - t) * 1e3);
	return spawn_ms;
}

static void spawn_idle(void *arg)
{
	const char *name = arg;
	long n = args[0];
	gp_pid *pids = malloc((size_t)n * sizeof(*pids));

	memset(pids, 0, (size_t)n * sizeof(*pids)); /* its pages count before, not during */
	(void)idle_round(name, n, pids, true);
	/* Again, on the warm pool of stacks and control blocks left by the first. */
	printf("%s warm_spawn_ms %.1f\n", name, idle_round(name, n, pids, false));
	free(pids);
}

/* ---- yield --------------------------------------------------------------------------- */

static void yielder(void *arg)
{
	long n = args[0];

	(void)arg;
	for (long i = 0; i < n; i++)
		gp_yield();
}

static void yield(void *arg)
{
	uint64_t base = live_processes();
	double t;

	(void)arg;
	t = now();
	spawn(yielder, NULL);
	yielder(NULL);
	while (gp_receive(&(struct gp_msg){ 0 }, 0) == 0)
		;
	/* The other yielder may still be finishing: wait for it. */
	while (live_processes() > base)
		gp_yield();
	t = now() - t;
	printf("yield ns_per_switch %.2f\n", t / (double)(2 * args[0]) * 1e9);
}

/* ---- main ---------------------------------------------------------------------------- */

static const struct workload {
	const char *name;
	gp_fn fn;
	long defaults[2];
} workloads[] = {
	{ "pingpong", pingpong, { 1000000 } },
	{ "ring", ring, { 10000, 10000000 } },
	{ "churn", churn, { 1000000 } },
	{ "skynet", skynet, { 1000000 } },
	{ "spawn_idle", spawn_idle, { 1000000 } },
	{ "spawn_hibernate", spawn_idle, { 1000000 } },
	{ "yield", yield, { 10000000 } },
};

int main(int argc, char **argv)
{
	const struct workload *w = NULL;
	int r;

	for (size_t i = 0; argc > 1 && i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (strcmp(argv[1], workloads[i].name) == 0)
			w = &workloads[i];
	if (!w || argc > 4) {
		fprintf(stderr, "usage: gpbench pingpong [N] | ring [P] [H] | churn [N] | skynet [N]\n"
				"               | spawn_idle [N] | spawn_hibernate [N] | yield [N]\n");
		return 2;
	}
	for (int i = 0; i < 2; i++) {
		char *end;

		args[i] = w->defaults[i];
		if (argc > 2 + i) {
			args[i] = strtol(argv[2 + i], &end, 10);
			if (*end || args[i] <= 0) {
				fprintf(stderr, "gpbench: %s: bad argument '%s'\n", w->name,
					argv[2 + i]);
				return 2;
			}
		}
	}
	hibernate = strcmp(w->name, "spawn_hibernate") == 0;
	r = gp_main(w->fn, (void *)w->name, NULL);
	if (r < 0)
		die("gp_main", r);
	return 0;
}
