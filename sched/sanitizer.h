/* SPDX-License-Identifier: MIT */
/*
 * Sanitizer annotations for stack switching. ASan must be told when we leave
 * one stack for another (fake stacks, stack bounds); TSan must be told that a
 * fiber, not a new thread, runs next. Everything here compiles away in normal
 * builds.
 */
#ifndef GP_SANITIZER_H
#define GP_SANITIZER_H

#include <stddef.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif

#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define GP_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define GP_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

#if defined(GP_ASAN) || defined(GP_TSAN)
#define GP_SANITIZE 1
#endif

#ifdef GP_ASAN
/* ASan frames are two to three times larger: give processes room. */
#define GP_SAN_STACK_FACTOR 4
#define gp_asan_unpoison(addr, size) ASAN_UNPOISON_MEMORY_REGION(addr, size)
#else
#define GP_SAN_STACK_FACTOR 1
#define gp_asan_unpoison(addr, size) ((void)(addr), (void)(size))
#endif

/*
 * How many times slower instrumented code runs (a ping-pong round trip:
 * 0.3 us plain, 1.4 us under ASan, 12 us under TSan, measured on a 2-core
 * VM). Time constants that stand for "longer than a context switch takes"
 * scale with it, or they would mistake a slow switch for a busy scheduler.
 */
#if defined(GP_TSAN)
#define GP_SAN_TIME_FACTOR 40
#elif defined(GP_ASAN)
#define GP_SAN_TIME_FACTOR 4
#else
#define GP_SAN_TIME_FACTOR 1
#endif

#ifdef GP_TSAN
/* A hand-off TSan cannot see (through the kernel) made visible to it. */
#define gp_tsan_release(addr) __tsan_release(addr)
#define gp_tsan_acquire(addr) __tsan_acquire(addr)
#else
#define gp_tsan_release(addr) ((void)(addr))
#define gp_tsan_acquire(addr) ((void)(addr))
#endif

#endif /* GP_SANITIZER_H */
