/* SPDX-License-Identifier: MIT */
/* Symbolizing captured stacks with libdwfl (see symbolize.h). */
#define _GNU_SOURCE
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize.h"

#define SD_SYM_FILES 512

void sd_symbols_init(struct sd_symbols *s)
{
	*s = (struct sd_symbols){ 0 };
	(void)elf_version(EV_CURRENT);
}

void sd_symbols_fini(struct sd_symbols *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->files[i].path);
	free(s->files);
	*s = (struct sd_symbols){ 0 };
}

int sd_symbols_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static int read_build_id(const char *path, unsigned char *out)
{
	int fd = sd_symbols_open(path), len = -ENOENT;
	const void *id;
	Elf *elf;

	if (fd < 0)
		return fd;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf) {
		ssize_t n = dwelf_elf_gnu_build_id(elf, &id);

		if (n > 0) {
			len = n > SD_BUILD_ID_LEN ? SD_BUILD_ID_LEN : (int)n;
			memcpy(out, id, (size_t)len);
		}
		elf_end(elf);
	}
	close(fd);
	return len;
}

static struct sd_sym_file *by_path(struct sd_symbols *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return &s->files[i];
	return NULL;
}

void sd_symbols_add_file(struct sd_symbols *s, const char *path)
{
	struct sd_sym_file f = { 0 };

	if (path[0] != '/' || by_path(s, path))
		return;
	f.build_id_len = read_build_id(path, f.build_id);
	if (f.build_id_len <= 0 || !(f.path = strdup(path)))
		return;
	if (s->n == SD_SYM_FILES) { /* the oldest goes */
		free(s->files[0].path);
		memmove(s->files, s->files + 1, (s->n - 1) * sizeof(*s->files));
		s->n--;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct sd_sym_file *n = realloc(s->files, cap * sizeof(*n));

		if (!n) {
			free(f.path);
			return;
		}
		s->files = n;
		s->cap = cap;
	}
	s->files[s->n++] = f;
}

/* Each executable file mapping of pid: calls fn(path, start, end, offset).
 * Stops when fn returns non-zero; returns that, or 0, or -errno. */
static int each_mapping(pid_t pid, int (*fn)(void *ctx, const char *path, uint64_t start,
					       uint64_t end, uint64_t off),
			void *ctx)
{
	char name[64], line[4096 + 128];
	FILE *f;
	int r = 0;

	snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
	f = fopen(name, "re");
	if (!f)
		return -errno;
	while (!r && fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		char perms[8];
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &pos) < 4 ||
		    !pos || perms[2] != 'x' || line[pos] != '/')
			continue;
		line[strcspn(line, "\n")] = '\0';
		r = fn(ctx, line + pos, start, end, off);
	}
	fclose(f);
	return r;
}

static int add_mapping(void *ctx, const char *path, uint64_t start, uint64_t end, uint64_t off)
{
	(void)start;
	(void)end;
	(void)off;
	sd_symbols_add_file(ctx, path);
	return 0;
}

void sd_symbols_add_maps(struct sd_symbols *s, pid_t pid)
{
	(void)each_mapping(pid, add_mapping, s);
}

/* The address a file offset is loaded at, per the file's program headers. */
static int offset_to_addr(Elf *elf, uint64_t off, GElf_Addr *addr)
{
	size_t n;

	if (elf_getphdrnum(elf, &n) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && off >= ph.p_offset &&
		    off < ph.p_offset + ph.p_filesz) {
			*addr = off - ph.p_offset + ph.p_vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

static int resolve_path(const char *path, uint64_t off, bool call, struct sd_sym *out)
{
	static char *debuginfo_path;
	static const Dwfl_Callbacks cb = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
		.debuginfo_path = &debuginfo_path,
	};
	Dwfl *dwfl = dwfl_begin(&cb);
	Dwfl_Module *m;
	GElf_Addr bias, addr;
	GElf_Off soff = 0;
	GElf_Sym sym;
	Dwfl_Line *ln;
	const char *name;
	Elf *elf;
	int r = -ENOENT, fd;

	memset(out, 0, sizeof(*out));
	snprintf(out->module, sizeof(out->module), "%s", path);
	if (!dwfl)
		return -ENOMEM;
	fd = sd_symbols_open(path);
	if (fd < 0)
		goto out;
	m = dwfl_report_elf(dwfl, path, path, fd, 0, false); /* on success, dwfl's fd */
	if (!m)
		close(fd);
	dwfl_report_end(dwfl, NULL, NULL);
	if (!m || !(elf = dwfl_module_getelf(m, &bias)) || offset_to_addr(elf, off, &addr) < 0)
		goto out;
	addr += bias;
	if (call)
		addr--;
	name = dwfl_module_addrinfo(m, addr, &soff, &sym, NULL, NULL, NULL);
	if (name) {
		snprintf(out->function, sizeof(out->function), "%s", name);
		out->offset = soff + (call ? 1 : 0);
	}
	ln = dwfl_module_getsrc(m, addr);
	if (ln) {
		const char *src = dwfl_lineinfo(ln, NULL, &out->line, NULL, NULL, NULL);

		if (src)
			snprintf(out->file, sizeof(out->file), "%s", src);
	}
	r = name ? 0 : -ENOENT;
out:
	dwfl_end(dwfl);
	return r;
}

int sd_symbols_resolve(struct sd_symbols *s, const unsigned char *build_id, uint64_t file_offset,
		       bool call, struct sd_sym *out)
{
	for (size_t i = s->n; i-- > 0;) {
		const struct sd_sym_file *f = &s->files[i];

		if (memcmp(f->build_id, build_id, (size_t)f->build_id_len) == 0)
			return resolve_path(f->path, file_offset, call, out);
	}
	return -ENOENT;
}

struct live {
	struct sd_symbols *s;
	uint64_t ip;
	bool call;
	struct sd_sym *out;
	int r;
};

static int live_mapping(void *ctx, const char *path, uint64_t start, uint64_t end, uint64_t off)
{
	struct live *l = ctx;

	if (l->ip < start || l->ip >= end)
		return 0;
	sd_symbols_add_file(l->s, path);
	l->r = resolve_path(path, l->ip - start + off, l->call, l->out);
	return 1;
}

int sd_symbols_resolve_live(struct sd_symbols *s, pid_t pid, uint64_t ip, bool call,
			    struct sd_sym *out)
{
	struct live l = { s, ip, call, out, -ENOENT };
	int r = each_mapping(pid, live_mapping, &l);

	return r < 0 ? r : l.r;
}

void sd_symbols_kernel(const uint64_t *addrs, int n, char *buf, size_t size)
{
	uint64_t best[64] = { 0 };
	char names[64][96];
	char line[512];
	size_t len = 0;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (n > 64)
		n = 64;
	memset(names, 0, sizeof(names));
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long a;
		char type, name[96];

		if (sscanf(line, "%llx %c %95s", &a, &type, name) != 3 || !a ||
		    (type != 't' && type != 'T'))
			continue;
		for (int i = 0; i < n; i++)
			if (a <= addrs[i] && a > best[i]) {
				best[i] = a;
				memcpy(names[i], name, sizeof(name));
			}
	}
	if (f)
		fclose(f);
	buf[0] = '\0';
	for (int i = 0; i < n && len < size; i++) {
		int w = best[i] && addrs[i] - best[i] < (1u << 20)
				? snprintf(buf + len, size - len, "%s+0x%" PRIx64 "\n", names[i],
					   addrs[i] - best[i])
				: snprintf(buf + len, size - len, "0x%" PRIx64 "\n", addrs[i]);

		if (w < 0)
			break;
		len += (size_t)w;
	}
	if (len >= size)
		len = size - 1;
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
}
