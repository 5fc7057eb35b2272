/* SPDX-License-Identifier: MIT */
/*
 * The green process a libgp scheduler thread runs, read from outside the
 * worker while it stalls: libgp's gp_probe_table (sched/gp_probe.h), found
 * by its symbol in the files the worker maps, read with process_vm_readv.
 * Used on a stall report: the thread is stuck, so what it runs stays put.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../sched/gp_probe.h"
#include "spawnd.h"

static int peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* The run-time address of gp_probe_table in the file mapped from `start`
 * (its mapping at offset 0), or 0. */
static uint64_t table_in(const char *path, uint64_t start)
{
	int fd = sd_symbols_open(path);
	uint64_t addr = 0, lowest = UINT64_MAX;
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	size_t nph;
	Elf *elf;

	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || !gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &nph) < 0)
		goto out;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lowest)
			lowest = ph.p_vaddr & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
	}
	while (!addr && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    !(name = elf_strptr(elf, sh.sh_link, sym.st_name)) ||
			    strcmp(name, "gp_probe_table") != 0)
				continue;
			addr = eh.e_type == ET_DYN ? start - lowest + sym.st_value : sym.st_value;
			break;
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return addr;
}

int sd_gp_current(pid_t pid, pid_t tid, uint64_t *green_pid, char *name, size_t size)
{
	static struct gp_probe_table t; /* 6 KiB: not on the stack */
	char maps[64], line[4096 + 128];
	uint64_t addr = 0, running, proc, namep;
	FILE *f;
	int r;

	(void)elf_version(EV_CURRENT);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (!addr && fgets(line, sizeof(line), f)) {
		unsigned long long start, off;
		int pos = 0;

		if (sscanf(line, "%llx-%*x %*s %llx %*s %*s %n", &start, &off, &pos) < 2 || !pos ||
		    off != 0 || line[pos] != '/')
			continue;
		line[strcspn(line, "\n")] = '\0';
		addr = table_in(line + pos, start);
	}
	fclose(f);
	if (!addr)
		return -ENOENT; /* not a libgp program */
	r = peek(pid, addr, &t, sizeof(t));
	if (r < 0)
		return r;
	if (memcmp(t.magic, GP_PROBE_MAGIC, sizeof(t.magic)) != 0 || t.version < 1 ||
	    t.pid_size > sizeof(*green_pid))
		return -EPROTO;
	for (unsigned i = 0; i < GP_PROBE_MAX_SCHED && i < t.max_sched; i++) {
		if (t.sched[i].tid != tid)
			continue;
		if ((r = peek(pid, t.sched[i].running, &running, sizeof(running))) < 0)
			return r;
		if (!running)
			return -ESRCH; /* in the scheduler's own loop */
		proc = running;
		*green_pid = 0;
		if ((r = peek(pid, proc + t.pid_off, green_pid, t.pid_size)) < 0 ||
		    (r = peek(pid, proc + t.name_off, &namep, sizeof(namep))) < 0)
			return r;
		name[0] = '\0';
		if (namep) {
			/* A C string of unknown length: byte by byte would be
			 * slow, a page boundary may end it; read what reads. */
			for (size_t len = size - 1; len > 0; len /= 2)
				if (peek(pid, namep, name, len) == 0) {
					name[len] = '\0';
					break;
				}
		}
		return 0;
	}
	return -ESRCH; /* not a scheduler thread */
}
