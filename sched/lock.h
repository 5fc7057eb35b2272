/* SPDX-License-Identifier: MIT */
/*
 * A small spinlock for critical sections of a few dozen instructions (a
 * process's links and monitors, a scheduler's timer heap). It yields the CPU
 * after a while, because on a 2-vCPU VM the holder may itself be preempted.
 */
#ifndef GP_LOCK_H
#define GP_LOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

struct gp_spinlock {
	_Atomic uint32_t held;
};

static inline void gp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static inline void gp_spin_lock(struct gp_spinlock *l)
{
	unsigned spins = 0;

	/* acquire: pairs with the release in gp_spin_unlock */
	while (atomic_exchange_explicit(&l->held, 1, memory_order_acquire)) {
		while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
			if (++spins < 256)
				gp_cpu_relax();
			else
				sched_yield();
		}
	}
}

static inline void gp_spin_unlock(struct gp_spinlock *l)
{
	atomic_store_explicit(&l->held, 0, memory_order_release);
}

#endif /* GP_LOCK_H */
