/* SPDX-License-Identifier: MIT */
/*
 * loadgen: a closed-loop TCP echo client for bench/echo/run.sh.
 *
 *   loadgen [-c CONNS] [-s SIZE] [-d SECONDS] [-w SECONDS] [-t THREADS]
 *           [-b BATCH] [-p PID] [-S] [-a ADDR] PORT
 *
 * Opens CONNS connections to ADDR:PORT (in batches of BATCH, each checked
 * with one echo before the next batch connects, so that the server's accept
 * queue never overflows). Then each connection, at once, sends SIZE bytes,
 * waits for all SIZE bytes to come back (and checks them), and sends again:
 * a closed loop. The first -w seconds are a warm-up; the next -d seconds are
 * measured. Each thread drives its share of the connections on its own
 * io_uring: one send and one receive in flight per connection, all of a
 * thread's operations submitted in one io_uring_enter per loop.
 *
 * Latency is timed per request, from just before the io_uring_enter that
 * submits its send to the return of the one that brings the last byte of
 * its echo, into a log-linear histogram (32 sub-buckets per power of two:
 * 3% resolution).
 *
 * With -p PID (the server), it also reports the CPU the server used in the
 * measured window; with -S too, the system calls the server's threads
 * entered in that window (the raw_syscalls:sys_enter tracepoint through
 * perf_event_open: root or perf_event_paranoid -1).
 *
 * Output: "loadgen METRIC VALUE" lines on stdout:
 *   requests     requests completed in the measured window
 *   rps          requests / window seconds
 *   p50_us p99_us p999_us max_us  latency of those requests
 *   errors       failed connects, resets, short or wrong echoes, and
 *                requests stalled for more than 5 s at the end
 *   connections  connections that took part in the measured loop
 *   conn_min_req conn_max_req  the fewest and most requests one of them
 *                completed in the window (fairness: equal in a FIFO server)
 *   loadgen_cpu  CPU used by loadgen in the window, % of one CPU
 *   server_cpu   (-p) CPU used by the server in the window, % of one CPU
 *   server_kernel_pct  (-p) of that, the share spent in the kernel (stime)
 *   machine_cpu  CPU all processes used in the window, % of one CPU
 *   other_cpu    (-p) of that, what neither loadgen nor the server used
 *   syscalls     (-S) the server's system calls in the window
 *   syscalls_per_req
 * and "loadgen syscalls_error REASON" if they could not be counted.
 * The first errors are described on stderr. Exit status: 0 when the loop
 * ran (errors or not: see "errors"), 1 when it could not (no connection, no
 * io_uring), 2 on a bad command line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HIST_SUB      32 /* sub-buckets per power of two */
#define HIST_SUB_BITS 5
#define HIST_N        (HIST_SUB * 40) /* up to 2^44 ns: 4.9 hours */
#define STALL_NS      (5 * 1000000000ull)
#define SETUP_NS      (30 * 1000000000ull) /* for one batch's first echoes */
#define MAX_REPORTED  5                    /* errors described on stderr */

enum { OP_SEND = 0, OP_RECV = 1 };
#define OP_BITS 1

struct conn {
	int fd;           /* -1 once failed */
	uint32_t sent;    /* bytes of the request the kernel took */
	uint32_t got;     /* bytes of its echo received */
	bool busy;        /* a request is in progress */
	bool send_done;   /* all of it sent */
	uint64_t seq;     /* requests started, stamped into the message */
	uint64_t t_start; /* ns; 0 until stamped, just before the enter that sends it */
	uint64_t in_window; /* requests completed in the measured window */
	unsigned char *tx, *rx;
};

struct worker {
	pthread_t thread;
	unsigned id;
	struct io_uring ring;
	struct conn *conns;
	unsigned nconns;
	uint32_t *stamp; /* conns whose request goes out with the next enter (each once) */
	unsigned nstamp;
	uint64_t now; /* ns: when the completions being handled were seen */
	bool looping; /* in the closed loop (else connecting: one echo each) */
	/* results, read by main after join */
	uint64_t hist[HIST_N];
	uint64_t requests; /* completed in the window */
	uint64_t total;    /* completed in all */
	uint64_t errors;
	unsigned live; /* connections in the loop */
	int fatal;     /* -errno: the thread could not run */
};

/* Set by main: the times between the two barriers, the rest before the threads start. */
static struct {
	struct sockaddr_in addr;
	unsigned conns, size, threads, batch;
	double warmup, duration;
	pid_t server;
	bool count_syscalls;
	pthread_barrier_t ready; /* all connected: main takes t0 */
	pthread_barrier_t go;    /* t0 is set */
	uint64_t t0, t_measure, t_end;
	atomic_uint reported;
} cfg = { .conns = 100, .size = 64, .threads = 1, .batch = 256, .warmup = 2, .duration = 10 };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report_error(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add_explicit(&cfg.reported, 1, memory_order_relaxed) >= MAX_REPORTED)
		return;
	va_start(ap, fmt);
	fputs("loadgen: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- histogram ------------------------------------------------------------------ */

static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift, i;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	i = (shift + 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
	return i < HIST_N ? i : HIST_N - 1;
}

/* The middle of bucket i. */
static double hist_value(unsigned i)
{
	unsigned shift;
	uint64_t lo;

	if (i < HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	lo = (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
	return (double)lo + (double)((1ull << shift) - 1) / 2;
}

static double hist_quantile(const uint64_t *h, uint64_t n, double q)
{
	uint64_t rank = (uint64_t)(q * (double)n), seen = 0;

	if (rank >= n)
		rank = n - 1;
	for (unsigned i = 0; i < HIST_N; i++) {
		seen += h[i];
		if (seen > rank)
			return hist_value(i);
	}
	return hist_value(HIST_N - 1);
}

/* ---- the ring --------------------------------------------------------------------- */

/* Requests whose sends go out with the next enter start now. */
static void stamp_sends(struct worker *w, uint64_t now)
{
	for (unsigned i = 0; i < w->nstamp; i++)
		w->conns[w->stamp[i]].t_start = now;
	w->nstamp = 0;
}

static struct io_uring_sqe *get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		/* The queue is full: submit it. Its operations may complete
		 * at once, within the round that handles completions: a
		 * request is stamped before its send goes, and so is listed
		 * in stamp at most once (it cannot complete before); and what
		 * completes from now on is seen from now on. */
		w->now = now_ns();
		stamp_sends(w, w->now);
		(void)io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe; /* never NULL: the submit emptied the queue */
}

static void prep_send(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_send(sqe, c->fd, c->tx + c->sent, cfg.size - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uint64_t)(c - w->conns) << OP_BITS | OP_SEND);
}

static void prep_recv(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_recv(sqe, c->fd, c->rx + c->got, cfg.size - c->got, 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)(c - w->conns) << OP_BITS | OP_RECV);
}

static void start_request(struct worker *w, struct conn *c)
{
	c->seq++;
	memcpy(c->tx, &c->seq, cfg.size < sizeof(c->seq) ? cfg.size : sizeof(c->seq));
	c->sent = c->got = 0;
	c->send_done = false;
	c->busy = true;
	c->t_start = 0;
	w->stamp[w->nstamp++] = (uint32_t)(c - w->conns);
	prep_send(w, c);
	prep_recv(w, c);
}

/*
 * A connection that failed: counted once, closed (with SO_LINGER 0 set at
 * connect, the close resets it). Its operations still in flight complete
 * with errors that are ignored, because fd is then -1.
 */
static void conn_fail(struct worker *w, struct conn *c, const char *what, int res)
{
	if (c->fd < 0)
		return;
	w->errors++;
	/* Wakes its operations in flight, so that the socket goes now. */
	(void)shutdown(c->fd, SHUT_RDWR);
	report_error("connection %u.%u, request %" PRIu64 ": %s%s%s", w->id,
		     (unsigned)(c - w->conns), c->seq, what, res ? ": " : "",
		     res ? strerror(-res) : "");
	close(c->fd);
	c->fd = -1;
	c->busy = false;
}

static void request_done(struct worker *w, struct conn *c)
{
	uint64_t now = w->now;

	c->busy = false;
	if (memcmp(c->tx, c->rx, cfg.size)) {
		conn_fail(w, c, "the echo differs from the request", 0);
		return;
	}
	w->total++;
	if (!w->looping || now >= cfg.t_end)
		return;
	if (now >= cfg.t_measure) {
		c->in_window++;
		w->requests++;
		w->hist[hist_index(now > c->t_start ? now - c->t_start : 0)]++;
	}
	start_request(w, c);
}

static void complete(struct worker *w, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct conn *c = &w->conns[ud >> OP_BITS];
	int res = cqe->res;

	if (c->fd < 0)
		return;
	if ((ud & 1) == OP_SEND) {
		if (res < 0) {
			conn_fail(w, c, "send", res);
			return;
		}
		c->sent += (uint32_t)res;
		if (c->sent < cfg.size) {
			prep_send(w, c);
			return;
		}
		c->send_done = true;
	} else {
		if (res <= 0) {
			conn_fail(w, c, res ? "recv" : "the server closed the connection", res);
			return;
		}
		c->got += (uint32_t)res;
		if (c->got < cfg.size) {
			prep_recv(w, c);
			return;
		}
	}
	if (c->send_done && c->got == cfg.size)
		request_done(w, c);
}

/*
 * Submit what is prepared, wait for at least one completion (or until the
 * deadline), and handle every completion there is. Requests started by the
 * previous round are stamped just before the enter that sends them.
 */
static void ring_round(struct worker *w, uint64_t deadline)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	uint64_t now = now_ns();
	unsigned head, n = 0;

	stamp_sends(w, now);
	if (deadline > now) {
		uint64_t left = deadline - now;

		ts.tv_sec = (long long)(left / 1000000000u);
		ts.tv_nsec = (long long)(left % 1000000000u);
		(void)io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
	} else {
		(void)io_uring_submit(&w->ring);
	}
	w->now = now_ns();
	io_uring_for_each_cqe(&w->ring, head, cqe) {
		complete(w, cqe);
		n++;
	}
	io_uring_cq_advance(&w->ring, n);
}

/* ---- connecting -------------------------------------------------------------------- */

static int conn_open(struct conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 }; /* close resets: no TIME_WAIT */
	int one = 1;
	int fd, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0 ||
	    connect(fd, (struct sockaddr *)&cfg.addr, sizeof(cfg.addr)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	c->fd = fd;
	return 0;
}

/* Connect the worker's connections, a batch at a time, each batch checked by one echo. */
static void worker_connect(struct worker *w)
{
	for (unsigned first = 0; first < w->nconns; first += cfg.batch) {
		unsigned end = first + cfg.batch < w->nconns ? first + cfg.batch : w->nconns;
		uint64_t deadline;
		bool pending;

		for (unsigned i = first; i < end; i++) {
			struct conn *c = &w->conns[i];
			int r = conn_open(c);

			if (r < 0) {
				w->errors++;
				report_error("connect %u.%u: %s", w->id, i, strerror(-r));
				continue;
			}
			start_request(w, c);
		}
		deadline = now_ns() + SETUP_NS;
		do {
			ring_round(w, deadline);
			pending = false;
			for (unsigned i = first; i < end; i++)
				pending |= w->conns[i].fd >= 0 && w->conns[i].busy;
		} while (pending && now_ns() < deadline);
		for (unsigned i = first; i < end; i++)
			if (w->conns[i].fd >= 0 && w->conns[i].busy)
				conn_fail(w, &w->conns[i], "no echo within 30 s of connecting", 0);
	}
}

/* ---- the loop -------------------------------------------------------------------------- */

static int worker_init(struct worker *w, unsigned id, unsigned first, unsigned n)
{
	unsigned char *mem;

	w->id = id;
	w->nconns = n;
	w->conns = calloc(n, sizeof(*w->conns));
	w->stamp = calloc(n, sizeof(*w->stamp));
	mem = malloc((size_t)n * cfg.size * 2);
	if (!w->conns || !w->stamp || !mem)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct conn *c = &w->conns[i];

		c->fd = -1;
		c->tx = mem + (size_t)i * cfg.size * 2;
		c->rx = c->tx + cfg.size;
		/* A pattern unique to the connection; the first 8 bytes count requests. */
		for (unsigned j = 0; j < cfg.size; j++)
			c->tx[j] = (unsigned char)((first + i) * 31 + j * 7);
	}
	return 0;
}

/* In the worker's thread: with SINGLE_ISSUER, only the ring's creator may enter it. */
static int worker_ring(struct worker *w)
{
	struct io_uring_params p = { 0 };
	unsigned entries = 2 * w->nconns + 64;
	int r;

	if (entries > 4096)
		entries = 4096; /* more than that waits for the next enter */
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	/* two operations per connection in flight, at most */
	p.cq_entries = 2 * w->nconns + 128 > 65536 ? 65536 : 2 * w->nconns + 128;
	r = io_uring_queue_init_params(entries, &w->ring, &p);
	if (r == -EINVAL) { /* an older kernel: without the taskrun flags */
		p.flags = IORING_SETUP_CQSIZE;
		r = io_uring_queue_init_params(entries, &w->ring, &p);
	}
	return r;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t now;

	w->fatal = worker_ring(w);
	if (w->fatal < 0) {
		pthread_barrier_wait(&cfg.ready);
		pthread_barrier_wait(&cfg.go);
		return NULL;
	}
	worker_connect(w);
	pthread_barrier_wait(&cfg.ready);
	pthread_barrier_wait(&cfg.go);
	w->looping = true;
	for (unsigned i = 0; i < w->nconns; i++) {
		if (w->conns[i].fd >= 0) {
			w->live++;
			start_request(w, &w->conns[i]);
		}
	}
	for (;;) {
		now = now_ns();
		if (now >= cfg.t_end)
			break;
		ring_round(w, now >= cfg.t_measure ? cfg.t_end : cfg.t_measure);
	}
	/* Requests left hanging for long: the server lost them. */
	now = now_ns();
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		if (c->fd >= 0 && c->busy && c->t_start && now - c->t_start > STALL_NS)
			conn_fail(w, c, "no echo for over 5 s", 0);
	}
	return NULL;
}

/* ---- the server's system calls and CPU ------------------------------------------------- */

struct syscount {
	int fds[4096];
	unsigned n;
};

static int tracepoint_id(void)
{
	static const char *const paths[] = {
		"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
		"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		FILE *f = fopen(paths[i], "re");
		int id;

		if (!f)
			continue;
		if (fscanf(f, "%d", &id) != 1)
			id = -1;
		fclose(f);
		if (id >= 0)
			return id;
	}
	return -ENOENT;
}

/*
 * One counter per thread of pid, inheriting to the threads they start
 * (whose counts a read of the parent's counter includes).
 */
static int syscount_start(struct syscount *sc, pid_t pid, const char **ret_what)
{
	struct perf_event_attr a = { 0 };
	char path[64];
	struct dirent *d;
	DIR *dir;
	int id = tracepoint_id();

	if (id < 0) {
		*ret_what = "no raw_syscalls tracepoint in tracefs";
		return id;
	}
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = (uint64_t)id;
	a.inherit = 1;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir) {
		*ret_what = "cannot list the server's threads";
		return -errno;
	}
	sc->n = 0;
	while ((d = readdir(dir)) && sc->n < sizeof(sc->fds) / sizeof(sc->fds[0])) {
		int tid = atoi(d->d_name), fd;

		if (tid <= 0)
			continue;
		fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			if (errno == ESRCH) /* the thread just exited */
				continue;
			int r = -errno;

			*ret_what = "perf_event_open";
			closedir(dir);
			for (unsigned i = 0; i < sc->n; i++)
				close(sc->fds[i]);
			return r;
		}
		sc->fds[sc->n++] = fd;
	}
	closedir(dir);
	return 0;
}

static uint64_t syscount_stop(struct syscount *sc)
{
	uint64_t sum = 0, v;

	for (unsigned i = 0; i < sc->n; i++) {
		if (read(sc->fds[i], &v, sizeof(v)) == sizeof(v))
			sum += v;
		close(sc->fds[i]);
	}
	return sum;
}

/* utime + stime of pid, all threads, in clock ticks, and stime alone in
 * *sys; -1 if unknown. */
static long long proc_cpu_ticks(pid_t pid, long long *sys)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	*sys = (long long)st;
	return (long long)(ut + st);
}

/* CPU time all CPUs spent busy, in clock ticks; -1 if unknown. */
static long long machine_busy_ticks(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (!f)
		return -1;
	/* user nice system idle iowait irq softirq steal */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 7)
		return -1;
	return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000u),
			       .tv_nsec = (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: loadgen [-c CONNS] [-s SIZE] [-d SECONDS] [-w SECONDS] [-t THREADS]\n"
	      "               [-b BATCH] [-p PID] [-S] [-a ADDR] PORT\n"
	      "  -c  connections (100)          -s  message bytes (64)\n"
	      "  -d  measured seconds (10)      -w  warm-up seconds (2)\n"
	      "  -t  threads, one ring each (1) -b  connections per connect batch (256)\n"
	      "  -p  the server's pid: its CPU in the window\n"
	      "  -S  with -p: count its system calls in the window (perf_event_open)\n"
	      "  -a  server address (127.0.0.1)\n",
	      f);
}

static bool parse_num(const char *s, double min, double max, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *sc_what = NULL;
	struct syscount *sc = NULL;
	struct worker *w;
	struct rlimit rl;
	uint64_t requests = 0, errors = 0, total = 0, nsys = 0, cmin = UINT64_MAX, cmax = 0, *hist;
	unsigned live = 0;
	long long cpu0 = -1, cpu1 = -1, sys0 = 0, sys1 = 0, busy0, busy1;
	double v, self0 = 0, self1, secs;
	int opt, sc_err = 0, r;

	while ((opt = getopt(argc, argv, "c:s:d:w:t:b:p:Sa:h")) != -1) {
		switch (opt) {
		case 'c':
		case 's':
		case 't':
		case 'b':
			if (!parse_num(optarg, 1, opt == 's' ? 1 << 24 : 1 << 20, &v) ||
			    v != (unsigned)v) {
				fprintf(stderr, "loadgen: -%c: not a positive integer: %s\n", opt,
					optarg);
				return 2;
			}
			*(opt == 'c' ? &cfg.conns : opt == 's' ? &cfg.size :
			  opt == 't' ? &cfg.threads : &cfg.batch) = (unsigned)v;
			break;
		case 'd':
		case 'w':
			if (!parse_num(optarg, opt == 'd' ? 0.001 : 0, 86400, &v)) {
				fprintf(stderr, "loadgen: -%c: not a number of seconds: %s\n", opt,
					optarg);
				return 2;
			}
			*(opt == 'd' ? &cfg.duration : &cfg.warmup) = v;
			break;
		case 'p':
			if (!parse_num(optarg, 1, 1 << 30, &v) || v != (int)v) {
				fprintf(stderr, "loadgen: -p: not a pid: %s\n", optarg);
				return 2;
			}
			cfg.server = (pid_t)v;
			break;
		case 'S':
			cfg.count_syscalls = true;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !parse_num(argv[optind], 1, 65535, &v) || v != (int)v) {
		fprintf(stderr, "loadgen: %s\n", optind == argc ? "no port" : "bad port");
		usage(stderr);
		return 2;
	}
	cfg.addr.sin_family = AF_INET;
	cfg.addr.sin_port = htons((uint16_t)v);
	if (inet_pton(AF_INET, addr, &cfg.addr.sin_addr) != 1) {
		fprintf(stderr, "loadgen: -a: not an IPv4 address: %s\n", addr);
		return 2;
	}
	if (cfg.count_syscalls && !cfg.server) {
		fputs("loadgen: -S needs -p\n", stderr);
		return 2;
	}
	if (cfg.threads > cfg.conns)
		cfg.threads = cfg.conns;

	/* One descriptor per connection, and a few more. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)cfg.conns + 64)
		fprintf(stderr, "loadgen: warning: RLIMIT_NOFILE %llu is too low for %u connections\n",
			(unsigned long long)rl.rlim_cur, cfg.conns);

	w = calloc(cfg.threads, sizeof(*w));
	hist = calloc(HIST_N, sizeof(*hist));
	if (!w || !hist) {
		fputs("loadgen: fatal: out of memory\n", stderr);
		return 1;
	}
	pthread_barrier_init(&cfg.ready, NULL, cfg.threads + 1);
	pthread_barrier_init(&cfg.go, NULL, cfg.threads + 1);
	for (unsigned i = 0, first = 0; i < cfg.threads; i++) {
		unsigned n = cfg.conns / cfg.threads + (i < cfg.conns % cfg.threads);

		r = worker_init(&w[i], i, first, n);
		if (r < 0) {
			fprintf(stderr, "loadgen: fatal: unable to set up thread %u: %s\n", i,
				strerror(-r));
			return 1;
		}
		first += n;
	}
	for (unsigned i = 0; i < cfg.threads; i++) {
		r = pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
		if (r) {
			fprintf(stderr, "loadgen: fatal: unable to start a thread: %s\n",
				strerror(r));
			return 1;
		}
	}

	/* All connected: the clock starts. */
	pthread_barrier_wait(&cfg.ready);
	cfg.t0 = now_ns();
	cfg.t_measure = cfg.t0 + (uint64_t)(cfg.warmup * 1e9);
	cfg.t_end = cfg.t_measure + (uint64_t)(cfg.duration * 1e9);
	pthread_barrier_wait(&cfg.go);

	sleep_until(cfg.t_measure);
	if (cfg.count_syscalls) {
		sc = calloc(1, sizeof(*sc));
		if (!sc) {
			sc_err = -ENOMEM;
			sc_what = "calloc";
		} else {
			sc_err = syscount_start(sc, cfg.server, &sc_what);
		}
	}
	if (cfg.server)
		cpu0 = proc_cpu_ticks(cfg.server, &sys0);
	self0 = self_cpu_s();
	busy0 = machine_busy_ticks();
	sleep_until(cfg.t_end);
	busy1 = machine_busy_ticks();
	self1 = self_cpu_s();
	if (cfg.server)
		cpu1 = proc_cpu_ticks(cfg.server, &sys1);
	if (sc && !sc_err)
		nsys = syscount_stop(sc);

	for (unsigned i = 0; i < cfg.threads; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].fatal < 0) {
			fprintf(stderr, "loadgen: fatal: thread %u: unable to set up io_uring: %s\n",
				i, strerror(-w[i].fatal));
			return 1;
		}
		requests += w[i].requests;
		total += w[i].total;
		errors += w[i].errors;
		live += w[i].live;
		for (unsigned j = 0; j < HIST_N; j++)
			hist[j] += w[i].hist[j];
		for (unsigned j = 0; j < w[i].nconns; j++) {
			struct conn *c = &w[i].conns[j];

			if (c->fd < 0)
				continue;
			cmin = c->in_window < cmin ? c->in_window : cmin;
			cmax = c->in_window > cmax ? c->in_window : cmax;
		}
	}

	secs = cfg.duration;
	printf("loadgen connections %u\n", live);
	if (cmax)
		printf("loadgen conn_min_req %" PRIu64 "\nloadgen conn_max_req %" PRIu64 "\n", cmin,
		       cmax);
	printf("loadgen requests %" PRIu64 "\n", requests);
	printf("loadgen requests_total %" PRIu64 "\n", total);
	printf("loadgen rps %.1f\n", (double)requests / secs);
	if (requests) {
		printf("loadgen p50_us %.2f\n", hist_quantile(hist, requests, 0.50) / 1e3);
		printf("loadgen p99_us %.2f\n", hist_quantile(hist, requests, 0.99) / 1e3);
		printf("loadgen p999_us %.2f\n", hist_quantile(hist, requests, 0.999) / 1e3);
		printf("loadgen max_us %.2f\n", hist_quantile(hist, requests, 1.0) / 1e3);
	}
	printf("loadgen errors %" PRIu64 "\n", errors);
	printf("loadgen loadgen_cpu %.1f\n", (self1 - self0) / secs * 100);
	if (cpu0 >= 0 && cpu1 >= 0)
		printf("loadgen server_cpu %.1f\n",
		       (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) / secs * 100);
	if (cpu0 >= 0 && cpu1 > cpu0)
		printf("loadgen server_kernel_pct %.1f\n",
		       (double)(sys1 - sys0) / (double)(cpu1 - cpu0) * 100);
	if (busy0 >= 0 && busy1 >= 0) {
		double busy = (double)(busy1 - busy0) / (double)sysconf(_SC_CLK_TCK);

		printf("loadgen machine_cpu %.1f\n", busy / secs * 100);
		if (cpu0 >= 0 && cpu1 >= 0)
			printf("loadgen other_cpu %.1f\n",
			       (busy - (self1 - self0) -
				(double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK)) /
				       secs * 100);
	}
	if (cfg.count_syscalls) {
		if (sc_err)
			printf("loadgen syscalls_error %s: %s\n", sc_what, strerror(-sc_err));
		else {
			printf("loadgen syscalls %" PRIu64 "\n", nsys);
			if (requests)
				printf("loadgen syscalls_per_req %.4f\n",
				       (double)nsys / (double)requests);
		}
	}
	fflush(stdout);
	/* The rings and sockets go with the process: each socket is reset. */
	return live ? 0 : 1;
}
