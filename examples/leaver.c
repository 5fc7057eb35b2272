/* SPDX-License-Identifier: MIT */
/*
 * leaver: a worker that leaves a grandchild behind (double fork and setsid,
 * the classic daemon escape), then exits. A plain supervisor loses track of
 * the grandchild; spawnd ends it with its worker, as it ends any process
 * tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		if (fork() == 0) {
			printf("leaver: grandchild %d escaping, staying for ever\n", (int)getpid());
			fflush(stdout);
			for (;;)
				pause();
		}
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	sleep(3);
	printf("leaver %d: leaving\n", (int)getpid());
	return 1;
}
