/* SPDX-License-Identifier: MIT */
/*
 * Mailboxes: copying send, receive, selective receive.
 *
 * Senders push onto the receiver's inbox, a lock-free LIFO stack (one CAS).
 * The receiver takes the whole stack at once (one exchange), reverses it and
 * appends it to its private queue, so messages are in push order: those of
 * one sender in the order sent, whatever threads the two run on. Selective
 * receive scans the private queue and leaves what does not match in place.
 *
 * Each message carries the pid it was sent to. A sender that raced with the
 * receiver's exit may push onto a slot that a later process took: that
 * process drops such mail on sight, so a pid never reaches a newer process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * Small messages (most of them) come from a per-scheduler cache of equal-size
 * nodes, which the thread that frees one refills: malloc and free cost more
 * than the rest of a send. Every node is a malloc block either way, so any
 * of them may also go back with free().
 */
#define GP_MSG_SMALL      64
#define GP_MSG_CACHE_MAX  1024
#define GP_MSG_SMALL_SIZE (sizeof(struct gp_mnode) + GP_MSG_SMALL)

struct gp_mnode *gpi_msg_new(struct gp_sched *s, gp_pid to, gp_pid from, uint32_t tag,
			     const void *data, size_t len)
{
	struct gp_mnode *m;

	if (len <= GP_MSG_SMALL) {
		m = s->msg_cache;
		if (likely(m)) {
			s->msg_cache = m->next;
			s->nmsg_cache--;
		} else {
			m = malloc(GP_MSG_SMALL_SIZE);
		}
	} else {
		m = malloc(sizeof(*m) + len);
	}
	if (unlikely(!m))
		return NULL;
	m->to = to;
	m->from = from;
	m->tag = tag;
	m->len = (uint32_t)len;
	if (len)
		memcpy(m->data, data, len);
	return m;
}

void gpi_mailbox_push(struct gp_proc *p, struct gp_mnode *m)
{
	struct gp_mnode *top = atomic_load_explicit(&p->inbox, memory_order_relaxed);

	/* seq_cst: Dekker with park_commit, which publishes WAITING and then
	 * looks at the inbox; we push and then look at the state. */
	do
		m->next = top;
	while (!atomic_compare_exchange_weak_explicit(&p->inbox, &top, m, memory_order_seq_cst,
						      memory_order_relaxed));
}

/*
 * Deliver m to q, woken if it waits. A sender that wins the wake owns q until
 * it queues it, and appends to q's private queue directly: no push, no
 * exchange. This keeps per-sender order: had an earlier message of ours been
 * left in q's inbox, q could not be waiting (it rechecks its inbox after
 * publishing the wait, and we recheck its state after pushing).
 */
void gpi_deliver(struct gp_sched *s, struct gp_proc *q, struct gp_mnode *m)
{
	if (q != s->current && gpi_try_wake(q, GP_W_MSG)) {
		/* We own q now, so its pid is stable: if the slot changed hands
		 * since our lookup, this mail is for nobody (and q had a
		 * spurious wake-up, which it survives). */
		if (unlikely(atomic_load_explicit(&q->pid, memory_order_relaxed) != m->to)) {
			gpi_msg_free(s, m);
			gpi_make_runnable(s, q, true);
			return;
		}
		m->next = NULL;
		if (q->mq_tail)
			q->mq_tail->next = m;
		else
			q->mq_head = m;
		q->mq_tail = m;
		q->mq_len++;
		gpi_make_runnable(s, q, true);
		return;
	}
	gpi_mailbox_push(q, m);
	if (q != s->current)
		gpi_wake_proc(s, q, GP_W_MSG);
}

/* s: the caller's scheduler, or NULL outside one. */
void gpi_msg_free(struct gp_sched *s, struct gp_mnode *m)
{
	if (s && m->len <= GP_MSG_SMALL && s->nmsg_cache < GP_MSG_CACHE_MAX) {
		m->next = s->msg_cache;
		s->msg_cache = m;
		s->nmsg_cache++;
		return;
	}
	free(m);
}

void gpi_msg_cache_destroy(struct gp_sched *s)
{
	while (s->msg_cache) {
		struct gp_mnode *m = s->msg_cache;

		s->msg_cache = m->next;
		free(m);
	}
	s->nmsg_cache = 0;
}

static void free_list(struct gp_mnode *m)
{
	while (m) {
		struct gp_mnode *next = m->next;

		free(m);
		m = next;
	}
}

void gpi_mailbox_take(struct gp_proc *p)
{
	struct gp_mnode *m, *first = NULL, *last = NULL;
	gp_pid self;
	uint32_t n = 0;

	if (!atomic_load_explicit(&p->inbox, memory_order_relaxed))
		return;
	/* acquire: the payloads written before each push */
	m = atomic_exchange_explicit(&p->inbox, NULL, memory_order_acquire);
	self = atomic_load_explicit(&p->pid, memory_order_relaxed);
	while (m) {
		struct gp_mnode *next = m->next;

		if (unlikely(m->to != self)) {
			free(m); /* mail for this slot's previous process */
		} else {
			m->next = first;
			first = m;
			if (!last)
				last = m;
			n++;
		}
		m = next;
	}
	if (!first)
		return;
	if (p->mq_tail)
		p->mq_tail->next = first;
	else
		p->mq_head = first;
	p->mq_tail = last;
	p->mq_len += n;
}

void gpi_mailbox_drop_stale(struct gp_proc *p)
{
	if (atomic_load_explicit(&p->inbox, memory_order_relaxed))
		free_list(atomic_exchange_explicit(&p->inbox, NULL, memory_order_acquire));
}

void gpi_mailbox_free_all(struct gp_proc *p)
{
	free_list(p->mq_head);
	p->mq_head = p->mq_tail = NULL;
	p->mq_len = 0;
	gpi_mailbox_drop_stale(p);
}

/* Unlink m, whose predecessor in the private queue is prev (NULL: head). */
static void mq_unlink(struct gp_proc *p, struct gp_mnode *prev, struct gp_mnode *m)
{
	if (prev)
		prev->next = m->next;
	else
		p->mq_head = m->next;
	if (p->mq_tail == m)
		p->mq_tail = prev;
	p->mq_len--;
}

void gpi_mailbox_flush(struct gp_proc *p, bool (*match)(const struct gp_mnode *m, const void *ctx),
		       const void *ctx)
{
	struct gp_mnode *prev = NULL, *m;

	gpi_mailbox_take(p);
	for (m = p->mq_head; m;) {
		struct gp_mnode *next = m->next;

		if (match(m, ctx)) {
			mq_unlink(p, prev, m);
			free(m);
		} else {
			prev = m;
		}
		m = next;
	}
}

int gpi_send_system(struct gp_sched *s, gp_pid to, gp_pid from, uint32_t tag,
		    const struct gp_exit_info *info)
{
	struct gp_proc *q = gpi_proc_lookup(s->rt, to);
	struct gp_mnode *m;

	if (!q)
		return 0;
	m = gpi_msg_new(s, to, from, tag, info, sizeof(*info));
	if (!m)
		return -ENOMEM;
	gpi_deliver(s, q, m);
	return 0;
}

int gp_send(gp_pid to, uint32_t tag, const void *data, size_t len)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s), *q;
	struct gp_mnode *m;

	if (unlikely(!p))
		return -EPERM;
	if (unlikely(len > GP_MSG_MAX))
		return -EMSGSIZE;
	if (unlikely(!to || tag >= GP_TAG_SYSTEM || (len && !data)))
		return -EINVAL;
	q = gpi_proc_lookup(s->rt, to);
	if (likely(q)) {
		m = gpi_msg_new(s, to, atomic_load_explicit(&p->pid, memory_order_relaxed), tag, data,
				len);
		if (unlikely(!m))
			return -ENOMEM;
		gpi_deliver(s, q, m);
	}
	/* A dead pid: dropped, as in Erlang. Either way it costs reductions. */
	if (gpi_reductions(s, 1 + (uint32_t)(len >> 12)))
		gpi_preempt(s, p);
	else
		gpi_check_kill(s, p);
	return 0;
}

enum verdict { SKIP, TAKE, DROP };

static enum verdict examine(struct gp_proc *p, struct gp_mnode *m,
			    bool (*match)(const struct gp_msg *msg, void *ctx), void *ctx)
{
	struct gp_msg view = { .from = m->from, .tag = m->tag, .len = m->len, .data = m->data };

	/* A DOWN for a monitor that was taken back is not for anyone. */
	if (m->tag == GP_TAG_DOWN &&
	    !gpi_monitor_held(p, ((const struct gp_exit_info *)(const void *)m->data)->ref, false))
		return DROP;
	if (match && !match(&view, ctx))
		return SKIP;
	if (m->tag == GP_TAG_DOWN)
		(void)gpi_monitor_held(p, ((const struct gp_exit_info *)(const void *)m->data)->ref,
				       true);
	return TAKE;
}

int gp_receive_match(struct gp_msg *ret_msg, bool (*match)(const struct gp_msg *msg, void *ctx),
		     void *ctx, int timeout_ms)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct gp_mnode *prev = NULL, *m;
	uint64_t deadline = 0;
	bool last_look = false;

	if (unlikely(!p))
		return -EPERM;
	if (unlikely(!ret_msg || timeout_ms < -1))
		return -EINVAL;
	gpi_check_kill(s, p);
	for (;;) {
		gpi_mailbox_take(p);
		/* Resume after what earlier rounds already looked at. */
		for (m = prev ? prev->next : p->mq_head; m;) {
			struct gp_mnode *next = m->next;

			switch (examine(p, m, match, ctx)) {
			case SKIP:
				prev = m;
				break;
			case DROP:
				mq_unlink(p, prev, m);
				gpi_msg_free(s, m);
				break;
			case TAKE:
				mq_unlink(p, prev, m);
				gpi_held_add(p, &m->held);
				p->heap_bytes += m->len;
				*ret_msg = (struct gp_msg){
					.from = m->from, .tag = m->tag, .len = m->len, .data = m->data
				};
				p->reductions++;
				if (gpi_reductions(s, 1))
					gpi_preempt(s, p);
				return 0;
			}
			m = next;
		}
		if (timeout_ms == 0 || last_look)
			return -ETIMEDOUT;
		if (timeout_ms > 0 && !deadline)
			deadline = gpi_deadline_after_ms(timeout_ms);
		s = gpi_park(s, p, GP_W_MSG, deadline);
		gpi_check_kill(s, p);
		if (p->flags & GP_PF_TIMED_OUT) {
			/* One last look: mail that came with the deadline counts. */
			p->flags &= ~GP_PF_TIMED_OUT;
			last_look = true;
		}
	}
}

int gp_receive(struct gp_msg *ret_msg, int timeout_ms)
{
	return gp_receive_match(ret_msg, NULL, NULL, timeout_ms);
}

void gp_msg_free(struct gp_msg *msg)
{
	struct gp_sched *s;
	struct gp_proc *p = gpi_current(&s);
	struct gp_mnode *m;

	if (!msg || !msg->data)
		return;
	m = gp_container_of(msg->data, struct gp_mnode, data);
	m->held.prev->next = m->held.next;
	m->held.next->prev = m->held.prev;
	if (p && p->heap_bytes >= m->len)
		p->heap_bytes -= m->len;
	gpi_msg_free(s, m);
	msg->data = NULL;
}
