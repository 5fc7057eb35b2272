/* SPDX-License-Identifier: MIT */
/*
 * Turning the addresses of a captured stack into functions and, with debug
 * information, file:line (elfutils' libdwfl), after the process is gone:
 * a frame is (build-id, file offset), and the index maps build-ids to the
 * files that carry them, learnt from each exec (the program, and the files
 * mapped in /proc/PID/maps while the process lives) and from spawnd's own
 * mappings (the C library the workers share with it).
 *
 * Kernel addresses (a D-state task's stack) resolve through /proc/kallsyms.
 */
#ifndef SD_SYMBOLIZE_H
#define SD_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SD_BUILD_ID_LEN 20

struct sd_sym_file {
	char *path;
	unsigned char build_id[SD_BUILD_ID_LEN];
	int build_id_len;
};

struct sd_symbols {
	struct sd_sym_file *files;
	size_t n, cap; /* at most SD_SYM_FILES: the oldest go first */
};

struct sd_sym {
	char function[128]; /* "" if unknown */
	uint64_t offset;    /* into function */
	char file[256];     /* source file, "" without debug info */
	int line;
	char module[256];   /* the ELF file, "" if unknown */
};

void sd_symbols_init(struct sd_symbols *s);
void sd_symbols_fini(struct sd_symbols *s);
/* Open a file named by a process's mappings to read it: regular files
 * only (a device it mapped is never opened twice, nor a FIFO waited on).
 * The fd, or -errno. */
int sd_symbols_open(const char *path);
/* Learn a file's build-id (no error: a file without one is skipped). */
void sd_symbols_add_file(struct sd_symbols *s, const char *path);
/* Learn every file mapped executable by a live process. */
void sd_symbols_add_maps(struct sd_symbols *s, pid_t pid);

/* A frame by build-id and offset in the file. `call` is true for return
 * addresses (every frame but the first): the call is just before. 0 or
 * -ENOENT (unknown build-id or address). */
int sd_symbols_resolve(struct sd_symbols *s, const unsigned char *build_id, uint64_t file_offset,
		       bool call, struct sd_sym *out);
/* A frame by address in a live process. */
int sd_symbols_resolve_live(struct sd_symbols *s, pid_t pid, uint64_t ip, bool call,
			    struct sd_sym *out);
/* Kernel addresses, one line each ("function+0xoff", or the address in
 * hex), into buf: one pass over /proc/kallsyms. */
void sd_symbols_kernel(const uint64_t *addrs, int n, char *buf, size_t size);

#endif /* SD_SYMBOLIZE_H */
