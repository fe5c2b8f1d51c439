/*
 * The debug cache: decompressed copies of separate debug files, by build id.
 *
 * Debian ships debug files (libc6-dbg, the -dbgsym packages) with zlib-compressed sections,
 * and libdw 0.188 inflates every one of them when it opens the file: 41 ms for libc's
 * 10 MB, in every traced process whose first stack passes through libc, before the first
 * line can be looked up. The same file, decompressed, opens in 0.2 ms. So the first process
 * that loads a compressed debug file writes its copy, decompressed, to
 * DIR/BUILD-ID.debug, and every later one reads that instead: mapped, not inflated, and
 * shared through the page cache. A copy is written to a temporary name and renamed, so a
 * reader sees a whole one or none; one that does not match its module, or is damaged, is
 * removed and written again. (The same idea as perf's build-id cache and debuginfod's.)
 *
 * Called with the symbolizer's lock held, from libdwfl's callback and after a module's
 * DWARF is loaded.
 */
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debugcache.h"

#define MAX_ID 64 /* bytes of a build id we handle */
#define MAX_NOTED 16

static struct {
	char *dir;            /* NULL: no cache */
	/* Modules whose debug file was asked for (a second ask is for a dwz alternate file). */
	Dwfl_Module *asked[256];
	unsigned nasked;
	/* Build ids (hex) whose compressed debug file was loaded, to copy. */
	char noted[MAX_NOTED][2 * MAX_ID + 1];
	unsigned nnoted;
	_Atomic unsigned long hits, writes;
} C;

void ctr_debugcache_dir(const char *dir)
{
	free(C.dir);
	C.dir = dir && dir[0] == '/' ? strdup(dir) : NULL;
}

void ctr_debugcache_forget(void)
{
	C.nasked = 0;
	C.nnoted = 0;
}

unsigned long ctr_debugcache_hits(void)
{
	return atomic_load(&C.hits);
}

unsigned long ctr_debugcache_writes(void)
{
	return atomic_load(&C.writes);
}

/* @mod's build id in hex at @hex (2 * MAX_ID + 1 bytes); 0 when it has none we can use. */
static int module_id(Dwfl_Module *mod, char *hex, const unsigned char **bits)
{
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, bits, &vaddr);
	if (len <= 0 || len > MAX_ID)
		return 0;
	for (int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", (*bits)[i]);
	return len;
}

static int copy_path(char *path, size_t size, const char *hex)
{
	int n = snprintf(path, size, "%s/%s.debug", C.dir, hex);
	return n > 0 && (size_t)n < size;
}

static const char *section_name(Elf *elf, size_t shstrndx, const GElf_Shdr *sh)
{
	const char *name = elf_strptr(elf, shstrndx, sh->sh_name);
	return name ? name : "";
}

#define SOME_COMPRESSED 1 /* a debug section is compressed (SHF_COMPRESSED, or .zdebug_) */
#define MAIN_COMPRESSED 2 /* .debug_info or .debug_line is */

/*
 * Look over @elf's debug sections: SOME_COMPRESSED and MAIN_COMPRESSED as they are, or -1
 * when the file is damaged (a section past @size, when @size is not 0) or has no line table
 * to offer. (libdw may leave a section it does not read compressed in a copy: only the
 * two it reads most must not be.)
 */
static int debug_sections(Elf *elf, uint64_t size)
{
	size_t shstrndx;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return -1;
	int flags = 0, lines = 0;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn)) != NULL;) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) == NULL)
			return -1;
		if (size && sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > size)
			return -1;
		const char *name = section_name(elf, shstrndx, &sh);
		int old = strncmp(name, ".zdebug_", 8) == 0;
		if (!old && strncmp(name, ".debug_", 7) != 0)
			continue;
		const char *base = name + (old ? 8 : 7);
		int main = strcmp(base, "info") == 0 || strcmp(base, "line") == 0;
		if (old || (sh.sh_flags & SHF_COMPRESSED))
			flags |= SOME_COMPRESSED | (main ? MAIN_COMPRESSED : 0);
		lines |= strcmp(base, "line") == 0;
	}
	return lines ? flags : -1;
}

/* 1 when the debug file open at @fd has compressed debug sections worth a copy. */
static int compressed_file(int fd)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf == NULL)
		return 0;
	int r = debug_sections(elf, 0);
	elf_end(elf);
	return r > 0 && (r & MAIN_COMPRESSED);
}

/* 1 when the copy open at @fd is whole, decompressed and made for build id @id. */
static int good_copy(int fd, const unsigned char *id, int len)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf == NULL)
		return 0;
	const void *bits;
	int r = debug_sections(elf, (uint64_t)sb.st_size);
	int good = r >= 0 && !(r & MAIN_COMPRESSED) && dwelf_elf_gnu_build_id(elf, &bits) == len &&
		   memcmp(bits, id, (size_t)len) == 0;
	elf_end(elf);
	return good;
}

/* 1 the first time @mod asks (for its own debug file), 0 after (for a dwz alternate), and 0
 * when there is no room left to remember it (then the cache is passed over). */
static int first_ask(Dwfl_Module *mod)
{
	for (unsigned i = 0; i < C.nasked; i++)
		if (C.asked[i] == mod)
			return 0;
	if (C.nasked == sizeof C.asked / sizeof C.asked[0])
		return 0;
	C.asked[C.nasked++] = mod;
	return 1;
}

int ctr_debugcache_find(Dwfl_Module *mod, void **userdata, const char *modname,
			GElf_Addr base, const char *file_name, const char *debuglink_file,
			GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	char hex[2 * MAX_ID + 1], path[PATH_MAX];
	const unsigned char *id;
	int len = C.dir && *debuginfo_file_name == NULL && first_ask(mod) ? module_id(mod, hex, &id)
									   : 0;
	if (len && copy_path(path, sizeof path, hex)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			int good = good_copy(fd, id, len);
			char *name = good ? strdup(path) : NULL;
			if (name != NULL) {
				*debuginfo_file_name = name;
				atomic_fetch_add(&C.hits, 1);
				return fd;
			}
			close(fd);
			if (!good)
				unlink(path); /* stale or damaged: a good copy will take its place */
		}
	}
	int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
					      debuglink_file, debuglink_crc, debuginfo_file_name);
	if (fd >= 0 && len && C.nnoted < MAX_NOTED && compressed_file(fd))
		memcpy(C.noted[C.nnoted++], hex, sizeof hex);
	return fd;
}

/* mkdir -p @dir, 0700 for what it makes. */
static int make_dir(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);
	if (n >= sizeof p)
		return -1;
	memcpy(p, dir, n + 1);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return -1;
		if (c == '\0')
			return 0;
		*s = c;
	}
}

/* Write @in (its sections as libdw holds them: the debug ones inflated) to @fd. */
static int write_elf(Elf *in, int fd)
{
	Elf *out = elf_begin(fd, ELF_C_WRITE, NULL);
	if (out == NULL)
		return -1;
	int ok = 0;
	GElf_Ehdr eh;
	size_t phnum, shstrndx;
	if (gelf_getehdr(in, &eh) == NULL || gelf_newehdr(out, gelf_getclass(in)) == 0 ||
	    elf_getphdrnum(in, &phnum) != 0 || elf_getshdrstrndx(in, &shstrndx) != 0 ||
	    shstrndx >= SHN_LORESERVE)
		goto done;
	if (phnum && gelf_newphdr(out, phnum) == 0)
		goto done;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(in, (int)i, &ph) == NULL || gelf_update_phdr(out, (int)i, &ph) == 0)
			goto done;
	}
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(in, scn)) != NULL;) {
		Elf_Scn *o = elf_newscn(out);
		GElf_Shdr sh;
		if (o == NULL || gelf_getshdr(scn, &sh) == NULL)
			goto done;
		for (Elf_Data *d = NULL; (d = elf_getdata(scn, d)) != NULL;) {
			Elf_Data *od = elf_newdata(o);
			if (od == NULL)
				goto done;
			*od = *d;
		}
		if (gelf_update_shdr(o, &sh) == 0)
			goto done;
	}
	/* libelf lays the file out anew: the header's offsets and counts are its own. */
	GElf_Ehdr oh;
	if (gelf_getehdr(out, &oh) == NULL)
		goto done;
	memcpy(oh.e_ident, eh.e_ident, EI_NIDENT);
	oh.e_type = eh.e_type;
	oh.e_machine = eh.e_machine;
	oh.e_version = eh.e_version;
	oh.e_entry = eh.e_entry;
	oh.e_flags = eh.e_flags;
	oh.e_shstrndx = (uint16_t)shstrndx; /* each section keeps its index */
	if (gelf_update_ehdr(out, &oh) == 0)
		goto done;
	ok = elf_update(out, ELF_C_WRITE) >= 0;
done:
	elf_end(out);
	return ok ? 0 : -1;
}

void ctr_debugcache_keep(Dwfl_Module *mod)
{
	if (C.nnoted == 0 || C.dir == NULL)
		return;
	char hex[2 * MAX_ID + 1];
	const unsigned char *id;
	if (!module_id(mod, hex, &id))
		return;
	unsigned i = 0;
	while (i < C.nnoted && strcmp(C.noted[i], hex) != 0)
		i++;
	if (i == C.nnoted)
		return;
	memmove(C.noted[i], C.noted[i + 1], (C.nnoted - i - 1) * sizeof C.noted[0]);
	C.nnoted--;

	/* Writing past a file size limit would raise SIGXFSZ in the traced program. */
	struct rlimit fsize;
	if (getrlimit(RLIMIT_FSIZE, &fsize) != 0 || fsize.rlim_cur != RLIM_INFINITY)
		return;
	Dwarf_Addr bias;
	Dwarf *dw = dwfl_module_getdwarf(mod, &bias);
	Elf *in = dw ? dwarf_getelf(dw) : NULL;
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	if (in == NULL || !copy_path(path, sizeof path, hex) || make_dir(C.dir) != 0)
		return;
	snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return;
	int err = write_elf(in, fd);
	if (close(fd) != 0)
		err = -1;
	if (err == 0 && chmod(tmp, 0644) == 0 && rename(tmp, path) == 0)
		atomic_fetch_add(&C.writes, 1);
	else
		unlink(tmp);
}
