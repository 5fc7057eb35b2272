/* SPDX-License-Identifier: MIT */
/* Messages: copying send, order, selective receive, timeouts. */
#include "gp_test.h"

/* ---- order ----------------------------------------------------------------- */

struct order {
	int senders;
	long per_sender;
	gp_pid receiver;
	atomic_int burners_stop;
};

struct seqmsg {
	int sender;
	long seq;
};

static void burner(void *arg)
{
	struct order *o = arg;
	volatile unsigned long x = 0;

	while (!atomic_load(&o->burners_stop)) {
		for (int i = 0; i < 10000; i++)
			x += (unsigned long)i;
		gp_yield();
	}
}

static void sender(void *arg)
{
	struct order *o = arg;
	struct gp_msg m;
	struct seqmsg sm;

	CHECK_EQ(receive_tag(&m, 2, -1), 0); /* its number */
	sm.sender = *(int *)m.data;
	gp_msg_free(&m);
	for (sm.seq = 0; sm.seq < o->per_sender; sm.seq++) {
		CHECK_EQ(gp_send(o->receiver, 1, &sm, sizeof(sm)), 0);
		if (sm.seq % 1000 == 999)
			gp_yield(); /* move around */
	}
}

static void order_main(void *arg)
{
	struct order *o = arg;
	long next[16] = { 0 }, total = (long)o->senders * o->per_sender;
	struct gp_msg m;

	o->receiver = gp_self();
	for (int i = 0; i < 3; i++)
		gp_spawn(burner, o); /* "under load" */
	for (int i = 0; i < o->senders; i++) {
		gp_pid pid = gp_spawn(sender, o);

		CHECK_EQ(gp_send(pid, 2, &i, sizeof(i)), 0);
	}
	for (long n = 0; n < total; n++) {
		struct seqmsg *sm;

		CHECK_EQ(gp_receive(&m, 10000), 0);
		if (m.tag != 1) {
			gp_msg_free(&m);
			continue;
		}
		sm = m.data;
		CHECK(sm->seq == next[sm->sender], "sender %d: got %ld, expected %ld", sm->sender,
		      sm->seq, next[sm->sender]);
		next[sm->sender] = sm->seq + 1;
		gp_msg_free(&m);
	}
	atomic_store(&o->burners_stop, 1);
}

/* Messages from one sender to one receiver arrive in the order sent, across
 * schedulers, under load: millions of them, with 1, 2 and 4 schedulers. */
static void order_run(unsigned schedulers)
{
	struct order o = { .senders = 4, .per_sender = scaled(750000, 5000) };

	run_gp(order_main, &o, schedulers);
}

Test(msg, order_1_scheduler, .timeout = 120)
{
	order_run(1);
}

Test(msg, order_2_schedulers, .timeout = 120)
{
	order_run(2);
}

Test(msg, order_4_schedulers, .timeout = 120)
{
	order_run(4);
}

/* ---- selective receive ---------------------------------------------------------- */

static bool is_tag(const struct gp_msg *m, void *ctx)
{
	return m->tag == (uint32_t)(uintptr_t)ctx;
}

static void selective_main(void *arg)
{
	const uint32_t tags[] = { 1, 2, 3, 1, 2, 3 };
	const uint32_t rest[] = { 1, 2, 1, 2, 3 };
	struct gp_msg m;

	(void)arg;
	for (size_t i = 0; i < 6; i++)
		CHECK_EQ(gp_send(gp_self(), tags[i], &i, sizeof(i)), 0);
	/* Nothing matches: the timeout passes and nothing is lost. */
	CHECK_EQ(gp_receive_match(&m, is_tag, (void *)9, 30), -ETIMEDOUT);
	CHECK_EQ(gp_receive_match(&m, is_tag, (void *)9, 0), -ETIMEDOUT);
	/* The first match, skipping two that stay where they were. */
	CHECK_EQ(gp_receive_match(&m, is_tag, (void *)3, 0), 0);
	CHECK_EQ(m.tag, 3);
	CHECK_EQ(*(size_t *)m.data, 2);
	gp_msg_free(&m);
	for (size_t i = 0; i < 5; i++) {
		CHECK_EQ(gp_receive(&m, 0), 0);
		CHECK_EQ(m.tag, rest[i]);
		gp_msg_free(&m);
	}
	CHECK_EQ(gp_receive(&m, 0), -ETIMEDOUT);
}

/* Selective receive skips non-matching messages and leaves them in order. */
Test(msg, selective_receive, .timeout = 10)
{
	run_gp(selective_main, NULL, 1);
}

static void late_sender(void *arg)
{
	gp_pid to = (gp_pid)(uintptr_t)arg;

	gp_sleep(20);
	for (uint32_t t = 1; t <= 5; t++)
		gp_send(to, t, NULL, 0);
}

static void selective_wait_main(void *arg)
{
	struct gp_msg m;

	(void)arg;
	gp_spawn(late_sender, (void *)(uintptr_t)gp_self());
	/* Woken by 1..4 that do not match, it keeps waiting for 5. */
	CHECK_EQ(gp_receive_match(&m, is_tag, (void *)5, 5000), 0);
	CHECK_EQ(m.tag, 5);
	gp_msg_free(&m);
	for (uint32_t t = 1; t <= 4; t++) {
		CHECK_EQ(gp_receive(&m, 0), 0);
		CHECK_EQ(m.tag, t);
		gp_msg_free(&m);
	}
}

/* A waiting selective receive wakes for each message and sleeps on past the
 * ones that do not match. */
Test(msg, selective_receive_waits_past_non_matching, .timeout = 10)
{
	run_gp(selective_wait_main, NULL, 2);
}

/* ---- timeouts -------------------------------------------------------------------- */

static void timeout_main(void *arg)
{
	static const int timeouts[] = { 1, 2, 5, 10, 30, 100 };
	struct gp_msg m;

	(void)arg;
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		uint64_t t0 = now_ns(), dt;

		CHECK_EQ(gp_receive(&m, timeouts[i]), -ETIMEDOUT);
		dt = now_ns() - t0;
		CHECK(dt >= (uint64_t)timeouts[i] * 1000000u, "receive %d ms returned after %llu ns",
		      timeouts[i], (unsigned long long)dt);
		CHECK(dt < (uint64_t)(timeouts[i] + 500) * 1000000u, "receive %d ms: %llu ns",
		      timeouts[i], (unsigned long long)dt);
		t0 = now_ns();
		CHECK_EQ(gp_sleep(timeouts[i]), 0);
		dt = now_ns() - t0;
		CHECK(dt >= (uint64_t)timeouts[i] * 1000000u, "sleep %d ms returned after %llu ns",
		      timeouts[i], (unsigned long long)dt);
		CHECK(dt < (uint64_t)(timeouts[i] + 500) * 1000000u, "sleep %d ms: %llu ns",
		      timeouts[i], (unsigned long long)dt);
	}
	CHECK_EQ(gp_receive(&m, 0), -ETIMEDOUT); /* a poll */
}

/* Timeouts never fire early, and are not grossly late (this machine is noisy). */
Test(msg, timeouts_never_early, .timeout = 20)
{
	run_gp(timeout_main, NULL, 2);
}

struct timed {
	atomic_long done, early, late, got;
	uint64_t worst_late_ns;
};

static struct timed timed;

static void timed_receiver(void *arg)
{
	int ms = 10 + (int)((uintptr_t)arg % 190);
	uint64_t t0 = now_ns(), dt;
	struct gp_msg m;
	int r;

	if ((uintptr_t)arg % 2)
		r = gp_receive(&m, ms);
	else
		r = gp_sleep(ms) == 0 ? -ETIMEDOUT : -1;
	dt = now_ns() - t0;
	if (r == 0) {
		atomic_fetch_add(&timed.got, 1); /* woken by mail before the deadline */
		gp_msg_free(&m);
	} else {
		CHECK_EQ(r, -ETIMEDOUT);
		if (dt < (uint64_t)ms * 1000000u)
			atomic_fetch_add(&timed.early, 1);
		if (dt > (uint64_t)(ms + 2000) * 1000000u)
			atomic_fetch_add(&timed.late, 1);
	}
	atomic_fetch_add(&timed.done, 1);
}

static void many_timers_main(void *arg)
{
	long n = *(long *)arg;
	gp_pid *pids = malloc((size_t)n * sizeof(*pids));

	for (long i = 0; i < n; i++)
		pids[i] = gp_spawn(timed_receiver, (void *)(uintptr_t)i);
	/* Some of the receivers get mail instead. */
	for (long i = 1; i < n; i += 10)
		gp_send(pids[i], 1, NULL, 0);
	free(pids);
}

/* 100,000 concurrent timed receivers and sleepers: every one returns, none early. */
Test(msg, many_concurrent_timeouts, .timeout = 60)
{
	long n = scaled(100000, 2000);

	memset(&timed, 0, sizeof(timed));
	run_gp(many_timers_main, &n, 2);
	cr_assert_eq(atomic_load(&timed.done), n);
	cr_assert_eq(atomic_load(&timed.early), 0);
	cr_assert_eq(atomic_load(&timed.late), 0);
	cr_assert_gt(atomic_load(&timed.got), 0);
}

/* ---- copying, limits, errors -------------------------------------------------------- */

static void copy_receiver(void *arg)
{
	struct gp_msg m;
	size_t big = 1 << 20;

	(void)arg;
	CHECK_EQ(gp_receive(&m, -1), 0);
	CHECK_EQ(m.len, 5);
	CHECK(memcmp(m.data, "first", 5) == 0, "the sender's later change leaked in");
	gp_msg_free(&m);
	CHECK(m.data == NULL);
	CHECK_EQ(gp_receive(&m, -1), 0);
	CHECK_EQ(m.len, 0);
	CHECK_EQ(m.tag, 7);
	gp_msg_free(&m);
	CHECK_EQ(gp_receive(&m, -1), 0);
	CHECK_EQ(m.len, big);
	for (size_t i = 0; i < big; i += 4096)
		CHECK_EQ(((unsigned char *)m.data)[i], (unsigned char)(i / 4096));
	gp_msg_free(&m);
	/* Mail never freed is freed at exit. */
	CHECK_EQ(gp_receive(&m, -1), 0);
}

static void copy_main(void *arg)
{
	char buf[8] = "first";
	size_t big = 1 << 20;
	unsigned char *data = malloc(big);
	gp_pid pid = gp_spawn(copy_receiver, NULL);

	(void)arg;
	CHECK_EQ(gp_send(pid, 1, buf, 5), 0);
	memcpy(buf, "later", 5);
	CHECK_EQ(gp_send(pid, 7, NULL, 0), 0);
	for (size_t i = 0; i < big; i += 4096)
		data[i] = (unsigned char)(i / 4096);
	CHECK_EQ(gp_send(pid, 1, data, big), 0);
	CHECK_EQ(gp_send(pid, 1, data, 100), 0);
	free(data);
}

/* Messages are copied; the receiver owns its copy until it frees it or exits. */
Test(msg, copied_and_owned, .timeout = 10)
{
	run_gp(copy_main, NULL, 2);
}

static void errors_main(void *arg)
{
	struct gp_msg m;
	char byte = 0;

	(void)arg;
	CHECK_EQ(gp_send(gp_self(), 1, &byte, (size_t)GP_MSG_MAX + 1), -EMSGSIZE);
	CHECK_EQ(gp_send(gp_self(), GP_TAG_SYSTEM, &byte, 1), -EINVAL);
	CHECK_EQ(gp_send(gp_self(), GP_TAG_DOWN, &byte, 1), -EINVAL);
	CHECK_EQ(gp_send(0, 1, &byte, 1), -EINVAL);
	CHECK_EQ(gp_send(gp_self(), 1, NULL, 1), -EINVAL);
	CHECK_EQ(gp_receive(NULL, 0), -EINVAL);
	CHECK_EQ(gp_receive(&m, -2), -EINVAL);
	/* None of those was delivered. */
	CHECK_EQ(gp_receive(&m, 0), -ETIMEDOUT);
}

/* Bad calls get errors, not crashes. */
Test(msg, bad_calls, .timeout = 10)
{
	run_gp(errors_main, NULL, 1);
}

static void dead_main(void *arg)
{
	gp_pid pid = gp_spawn(copy_receiver, NULL);
	struct gp_msg m;
	uint64_t ref;

	(void)arg;
	gp_monitor(pid, &ref);
	gp_kill(pid, GP_EXIT_KILL);
	CHECK_EQ(receive_tag(&m, GP_TAG_DOWN, 5000), 0);
	gp_msg_free(&m);
	/* Sending to a dead pid is not an error; the message is dropped. */
	CHECK_EQ(gp_send(pid, 1, "x", 1), 0);
	/* Nor to pids that never were: an unused slot, another node. */
	CHECK_EQ(gp_send(((gp_pid)1 << 24) | 0xfffff0, 1, "x", 1), 0);
	CHECK_EQ(gp_send(((gp_pid)3 << 56) | ((gp_pid)1 << 24) | 1, 1, "x", 1), 0);
}

/* Sending to a dead pid returns 0 and drops the message. */
Test(msg, send_to_dead_pid, .timeout = 10)
{
	run_gp(dead_main, NULL, 2);
}
