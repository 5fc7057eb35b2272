/* SPDX-License-Identifier: MIT */
/*
 * crasher: a worker that does a little work and then dies, after a random
 * interval, in one of several ways: an error exit, SIGSEGV, abort(). Under
 * spawnd it shows restarts and crash reports.
 *
 *   crasher [MAX_SECONDS]     dies within MAX_SECONDS (default 5)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile int *nowhere;

int main(int argc, char **argv)
{
	int max = argc > 1 ? atoi(argv[1]) : 5;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	int life;

	if (max <= 0)
		max = 5;
	life = 1 + (int)(rand_r(&seed) % (unsigned)max);
	printf("crasher %d: working for %d s\n", (int)getpid(), life);
	fflush(stdout);
	for (int i = 0; i < life; i++) {
		sleep(1);
		printf("crasher %d: tick %d\n", (int)getpid(), i + 1);
		fflush(stdout);
	}
	switch (rand_r(&seed) % 3) {
	case 0:
		fprintf(stderr, "crasher %d: giving up with status 3\n", (int)getpid());
		return 3;
	case 1:
		*nowhere = 1; /* SIGSEGV */
		break;
	default:
		abort();
	}
	return 1;
}
