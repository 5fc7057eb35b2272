/* SPDX-License-Identifier: MIT */
/*
 * pagefault: the cost of the first touch of anonymous memory on this
 * machine, the floor under any runtime that maps fresh stacks and heaps.
 *
 *	pagefault ns_per_page <float>
 *		mmap 200 MiB (MAP_NORESERVE) and write one byte to each 4 KiB
 *		page: one page fault per page.
 *	pagefault populate_ns_per_page <float>
 *		MADV_POPULATE_WRITE of another 200 MiB region: the same pages
 *		faulted in by the kernel in one call ("unsupported" if the
 *		kernel predates Linux 5.14).
 *
 * Transparent huge pages are turned off on both regions (MADV_NOHUGEPAGE)
 * so that every 4 KiB page is a fault of its own.
 *
 * Build: gcc -std=gnu17 -O2 -Wall -Wextra -Werror -o pagefault pagefault.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define REGION_SIZE	(200UL << 20)
#define PAGE_SIZE	4096UL
#define NR_PAGES	(REGION_SIZE / PAGE_SIZE)

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *map_region(void)
{
	void *p;

	p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("pagefault: mmap");
		exit(1);
	}
	/* Not fatal: a kernel without THP has nothing to turn off. */
	if (madvise(p, REGION_SIZE, MADV_NOHUGEPAGE))
		perror("pagefault: madvise(MADV_NOHUGEPAGE)");
	return p;
}

int main(void)
{
	volatile char *p;
	char *q;
	double t0, t1;
	size_t i;

	p = map_region();
	t0 = now_ns();
	for (i = 0; i < NR_PAGES; i++)
		p[i * PAGE_SIZE] = 1;
	t1 = now_ns();
	printf("pagefault ns_per_page %.3f\n", (t1 - t0) / NR_PAGES);
	munmap((void *)p, REGION_SIZE);

	q = map_region();
	t0 = now_ns();
	if (madvise(q, REGION_SIZE, MADV_POPULATE_WRITE)) {
		if (errno != EINVAL) {
			perror("pagefault: madvise(MADV_POPULATE_WRITE)");
			return 1;
		}
		fprintf(stderr, "pagefault: MADV_POPULATE_WRITE: %s\n",
			strerror(errno));
		printf("pagefault populate_ns_per_page unsupported\n");
		return 0;
	}
	t1 = now_ns();
	printf("pagefault populate_ns_per_page %.3f\n", (t1 - t0) / NR_PAGES);
	munmap(q, REGION_SIZE);
	return 0;
}
