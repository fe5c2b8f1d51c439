/*
 * The symbolizer (tracer/symbolize.c, linked in directly) resolves return addresses in this
 * program, in libc, in a library dlopen'd after the first lookup and in the vDSO; stray pcs
 * come back unknown; results are cached until a reset, after which (in a fork child too) it
 * starts afresh.
 *
 * Usage: test_symbolize PATH_OF_LIBSYMBOLIZE_TARGET_SO
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>

#include "../../tracer/debugcache.h"
#include "../../tracer/internal.h"
#include "ctest.h"

/* Not inlined, and not cloned under another name (known_caller.constprop.0) either. */
#if __has_attribute(noclone)
#define NOINLINE __attribute__((noinline, noclone))
#else
#define NOINLINE __attribute__((noinline))
#endif

uintptr_t known_caller(int *line);

static const char *target_path;
static uintptr_t (*target_call)(void);
static const struct ctr_map *target_map;
static char exe_path[PATH_MAX];

static int ends_with(const char *s, const char *suffix)
{
	const size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static NOINLINE uintptr_t return_address(void)
{
	return (uintptr_t)__builtin_return_address(0);
}

static volatile int after_call;

/* @return the return address of a call made on the line stored in *@line. */
NOINLINE uintptr_t known_caller(int *line)
{
	const uintptr_t pc = return_address(); *line = __LINE__;
	after_call++; /* keeps the call above from becoming a tail call */
	return pc;
}

static void check_known_caller(uintptr_t pc, int line)
{
	struct ctr_sym s;
	ctr_symbolize(pc, &s);
	ASSERT_STREQ(s.function, "known_caller");
	ASSERT_TRUE(s.file != NULL);
	ASSERT_TRUE(ends_with(s.file, "test_symbolize.c"));
	ASSERT_EQ(s.line, line);
	ASSERT_TRUE(s.map != NULL);
	ASSERT_STREQ(s.map->path, exe_path);
	ASSERT_TRUE(ends_with(s.map->path, "test_symbolize"));
	ASSERT_GT(s.map->build_id_len, 0);
	ASSERT_TRUE(s.map->build_id != NULL);
	ASSERT_TRUE(s.map->start < pc && pc <= s.map->end);
	ASSERT_EQ(s.map->offset, 0);
}

static void own_function_file_and_line(void)
{
	int line;
	const uintptr_t pc = known_caller(&line);

	uint64_t t0 = now_ns();
	struct ctr_sym s;
	ctr_symbolize(pc, &s);
	const uint64_t first = now_ns() - t0;

	enum { N = 100000 };
	t0 = now_ns();
	for (int i = 0; i < N; i++)
		ctr_symbolize(pc, &s);
	const uint64_t cached = (now_ns() - t0) / N;
	fprintf(stderr, "   first call %.3f ms, cached call %" PRIu64 " ns\n", first / 1e6, cached);

	check_known_caller(pc, line);
}

static void cached_pcs_return_the_same_pointers(void)
{
	int line;
	const uintptr_t pc = known_caller(&line);
	struct ctr_sym a, b, c;
	ctr_symbolize(pc, &a);
	ctr_symbolize(pc, &b);
	ASSERT_TRUE(a.function == b.function);
	ASSERT_TRUE(a.file == b.file);
	ASSERT_TRUE(a.map == b.map);
	ASSERT_EQ(a.line, b.line);
	/* Another pc in the same function: names are interned, the module has one mapping. */
	ctr_symbolize((uintptr_t)&known_caller + 1, &c);
	ASSERT_TRUE(c.function == a.function);
	ASSERT_TRUE(c.file == a.file);
	ASSERT_TRUE(c.map == a.map);
}

/*
 * The first lookup of libc's function @name (asked of libc itself: &write in this program
 * may be a sanitizer's interceptor), timed and printed with @what. Its map must be libc's.
 */
static void first_libc_lookup(const char *name, const char *what, struct ctr_sym *s)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	ASSERT_TRUE(libc != NULL);
	void *fn = dlsym(libc, name);
	ASSERT_TRUE(fn != NULL);
	const uint64_t t0 = now_ns();
	ctr_symbolize((uintptr_t)fn + 1, s);
	fprintf(stderr, "   first libc lookup%s %.3f ms: %s %s:%u\n", what, (now_ns() - t0) / 1e6,
		s->function ? s->function : "(null)", s->file ? s->file : "(null)", s->line);
	ASSERT_TRUE(s->function != NULL && strstr(s->function, name) != NULL);
	ASSERT_TRUE(s->map != NULL && strstr(s->map->path, "libc") != NULL);
	dlclose(libc);
}

/* CTRACE_SYMBOLS=names: the name from the symbol table, no line, and no DWARF loaded.
 * Runs before libc_function, so that libc's debug information is not loaded yet. */
static void names_only(void)
{
	struct ctr_sym s;
	ctr_symbolize_lines(0);
	first_libc_lookup("read", ", names only", &s);
	ctr_symbolize_lines(1);
	ASSERT_TRUE(s.file == NULL);
	ASSERT_EQ(s.line, 0);
}

static void libc_function(void)
{
	struct ctr_sym s;
	first_libc_lookup("write", "", &s);
	ASSERT_GT(s.map->build_id_len, 0);
}

/* 1 when the ELF file at @path has a compressed .debug_info, 0 when it has one that is not,
 * -1 when it cannot be read or has none. */
static int debug_info_compressed(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = -1;
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t shstrndx;
	if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
		for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn)) != NULL;) {
			GElf_Shdr sh;
			const char *name = gelf_getshdr(scn, &sh) ? elf_strptr(elf, shstrndx, sh.sh_name)
								 : NULL;
			if (name && strcmp(name, ".debug_info") == 0)
				r = (sh.sh_flags & SHF_COMPRESSED) != 0;
		}
	}
	elf_end(elf);
	close(fd);
	return r;
}

/* @s's map's build id in hex, as debug files are named. */
static void build_id_hex(const struct ctr_sym *s, char *hex)
{
	for (size_t i = 0; i < s->map->build_id_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", s->map->build_id[i]);
}

/*
 * The first lookup in libc after a reset, with the debug cache in @dir: libc's write(), and
 * then more of libc's functions, whose files and lines go to @out ("file:line;" each).
 */
static void lookup_with_cache(const char *dir, const char *what, struct ctr_sym *s,
			      char *out, size_t size)
{
	static const char *const more[] = { "read", "qsort", "pthread_mutex_lock", "getenv",
					    "fopen", "strtol" };
	ctr_symbolize_reset();
	ctr_symbolize_cache(dir);
	first_libc_lookup("write", what, s);
	size_t used = (size_t)snprintf(out, size, "%s:%u;", s->file ? s->file : "", s->line);
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	ASSERT_TRUE(libc != NULL);
	for (size_t i = 0; i < sizeof more / sizeof more[0] && used < size; i++) {
		void *fn = dlsym(libc, more[i]);
		ASSERT_TRUE(fn != NULL);
		struct ctr_sym m;
		ctr_symbolize((uintptr_t)fn + 1, &m);
		used += (size_t)snprintf(out + used, size - used, "%s:%u;", m.file ? m.file : "",
					 m.line);
	}
	dlclose(libc);
}

/*
 * The debug cache. libc's debug file from libc6-dbg is zlib-compressed: the first load writes
 * a decompressed copy named by libc's build id; after a reset (to the symbolizer, a new
 * process) the copy is read instead, with the same answer; a damaged copy is passed over,
 * removed and written anew.
 */
static void debug_cache(void)
{
	char dir[] = "/tmp/ctrace-debugcache-XXXXXX";
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	struct ctr_sym s;
	char first[PATH_MAX], again[PATH_MAX], copy[PATH_MAX + 200], hex[2 * 64 + 1] = "";
	const unsigned long hits = ctr_debugcache_hits(), writes = ctr_debugcache_writes();
	lookup_with_cache(dir, ", compressed debug file", &s, first, sizeof first);
	ASSERT_TRUE(s.map->build_id_len > 0 && s.map->build_id_len <= 64);
	build_id_hex(&s, hex);
	char orig[PATH_MAX];
	snprintf(orig, sizeof orig, "/usr/lib/debug/.build-id/%.2s/%s.debug", hex, hex + 2);
	if (debug_info_compressed(orig) != 1) {
		fprintf(stderr, "   skipped: %s is missing or not compressed (libc6-dbg not "
				"installed?): nothing to cache\n", orig);
		ASSERT_EQ(ctr_debugcache_writes(), writes);
		goto out;
	}
	const unsigned line = s.line;
	ASSERT_TRUE(s.file != NULL && line > 0);
	fprintf(stderr, "   libc's lines: %s\n", first);
	snprintf(copy, sizeof copy, "%s/%s.debug", dir, hex);
	ASSERT_EQ(ctr_debugcache_writes(), writes + 1);
	ASSERT_EQ(debug_info_compressed(copy), 0);
	struct stat st1, st2;
	ASSERT_EQ(stat(copy, &st1), 0);

	/* Read from the cache: one hit, nothing written, the same file and line. */
	lookup_with_cache(dir, ", from the cache", &s, again, sizeof again);
	ASSERT_EQ(ctr_debugcache_hits(), hits + 1);
	ASSERT_EQ(ctr_debugcache_writes(), writes + 1);
	ASSERT_STREQ(again, first);
	ASSERT_EQ(s.line, line);

	/* A damaged copy (cut short): not used, and replaced by a whole one. */
	ASSERT_EQ(truncate(copy, 4096), 0);
	lookup_with_cache(dir, ", damaged copy", &s, again, sizeof again);
	ASSERT_EQ(ctr_debugcache_hits(), hits + 1);
	ASSERT_EQ(ctr_debugcache_writes(), writes + 2);
	ASSERT_STREQ(again, first);
	ASSERT_EQ(s.line, line);
	ASSERT_EQ(stat(copy, &st2), 0);
	ASSERT_EQ(st2.st_size, st1.st_size);
	ASSERT_EQ(debug_info_compressed(copy), 0);
	unlink(copy);
out:
	ASSERT_EQ(rmdir(dir), 0);
	ctr_symbolize_reset();
	ctr_symbolize_cache(NULL);
}

/* libz is mapped already (libdw -> libelf -> libz), so this does not exercise a re-report. */
static void libz_function(void)
{
	void *z = dlopen("libz.so.1", RTLD_NOW);
	ASSERT_TRUE(z != NULL);
	void *fn = dlsym(z, "zlibVersion");
	ASSERT_TRUE(fn != NULL);
	struct ctr_sym s;
	ctr_symbolize((uintptr_t)fn + 1, &s);
	ASSERT_STREQ(s.function, "zlibVersion");
	ASSERT_TRUE(s.map != NULL && strstr(s.map->path, "libz") != NULL);
}

/* A library new to the process since the maps were read, and stripped: symbols only. */
static void stripped_library_loaded_later(void)
{
	char real[PATH_MAX];
	ASSERT_TRUE(realpath(target_path, real) != NULL);
	ASSERT_TRUE(dlopen(target_path, RTLD_NOLOAD | RTLD_LAZY) == NULL);
	void *lib = dlopen(target_path, RTLD_NOW);
	if (lib == NULL)
		CT_FAIL("dlopen %s: %s", target_path, dlerror());
	uintptr_t (*call)(void) = (uintptr_t(*)(void))dlsym(lib, "symbolize_target_call");
	ASSERT_TRUE(call != NULL);
	const uintptr_t pc = call();
	struct ctr_sym s;
	ctr_symbolize(pc, &s);
	ASSERT_STREQ(s.function, "symbolize_target_call");
	ASSERT_TRUE(s.file == NULL);
	ASSERT_EQ(s.line, 0);
	ASSERT_TRUE(s.map != NULL);
	ASSERT_STREQ(s.map->path, real);
	ASSERT_GT(s.map->build_id_len, 0);
	/* Kept loaded: the cache holds its pcs until a reset. */
	target_call = call;
	target_map = s.map;
}

static void copy_file(const char *from, int to)
{
	FILE *in = fopen(from, "rb");
	ASSERT_TRUE(in != NULL);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		ASSERT_EQ(write(to, buf, n), (ssize_t)n);
	fclose(in);
}

/*
 * libelf mmaps each file it reads, and the newest library's copy lands right below the library
 * itself: a report read from /proc/self/maps would then stretch that library's module and skew
 * its symbols. Load a second new library (a copy of the target) and look in the first again.
 */
static void earlier_library_stays_right_after_another_load(void)
{
	char copy[] = "/tmp/ctrace-test-symbolize-XXXXXX.so";
	const int fd = mkstemps(copy, 3);
	ASSERT_TRUE(fd >= 0);
	copy_file(target_path, fd);
	close(fd);
	void *lib = dlopen(copy, RTLD_NOW);
	if (lib == NULL)
		CT_FAIL("dlopen %s: %s", copy, dlerror());
	uintptr_t (*call)(void) = (uintptr_t(*)(void))dlsym(lib, "symbolize_target_call");
	ASSERT_TRUE(call != NULL && call != target_call);
	struct ctr_sym s;
	ctr_symbolize(call(), &s);
	ASSERT_STREQ(s.function, "symbolize_target_call");
	ASSERT_TRUE(s.map != NULL && s.map != target_map);
	ASSERT_STREQ(s.map->path, copy);

	ctr_symbolize((uintptr_t)target_call + 1, &s); /* a pc not looked up before */
	ASSERT_STREQ(s.function, "symbolize_target_call");
	ASSERT_TRUE(s.map == target_map);
	unlink(copy); /* nothing looks in it after this */
}

static void expect_unknown(uintptr_t pc)
{
	struct ctr_sym s;
	ctr_symbolize(pc, &s);
	if (s.function != NULL || s.file != NULL || s.line != 0 || s.map != NULL)
		CT_FAIL("pc %#jx: expected unknown, got %s in %s", (uintmax_t)pc,
			s.function ? s.function : "(null)", s.map ? s.map->path : "(no map)");
}

static void stray_pcs_are_unknown(void)
{
	expect_unknown(0);
	expect_unknown(1);
	expect_unknown(2);
	expect_unknown(UINTPTR_MAX);
	expect_unknown(UINTPTR_MAX - 4096);
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, 2 * page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			  0);
	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_EQ(munmap(p + page, page), 0);
	expect_unknown((uintptr_t)p + 16);        /* anonymous code, as a JIT makes */
	expect_unknown((uintptr_t)p + page + 16); /* no longer mapped at all */
	expect_unknown((uintptr_t)p + 16);        /* cached */
	ASSERT_EQ(munmap(p, page), 0);
}

static void vdso(void)
{
	const uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	if (base == 0) {
		fprintf(stderr, "   no vDSO\n");
		return;
	}
	struct ctr_sym s;
	ctr_symbolize(base + 16, &s);
	ASSERT_TRUE(s.map != NULL);
	ASSERT_STREQ(s.map->path, "[vdso]");
	ASSERT_UEQ(s.map->start, base);
	const struct ctr_map *map = s.map;
	unsigned named = 0;
	for (uintptr_t pc = base + 16; pc <= map->end; pc += 64) {
		ctr_symbolize(pc, &s);
		ASSERT_TRUE(s.map == map);
		named += s.function != NULL;
	}
	fprintf(stderr, "   %u of %ju pcs named\n", named, (uintmax_t)(map->end - base) / 64);
}

/* libstdc++ may not be loaded (a C program): then names stay mangled, which is fine too. */
static void demangles_with_libstdcxx(void)
{
	void *cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
	if (cxx == NULL) {
		fprintf(stderr, "   no libstdc++.so.6: %s\n", dlerror());
		return;
	}
	void *fn = dlsym(cxx, "_ZSt9terminatev");
	ASSERT_TRUE(fn != NULL);
	struct ctr_sym s;
	ctr_symbolize((uintptr_t)fn + 1, &s);
	ASSERT_STREQ(s.function, "std::terminate()");
}

static void reset_starts_fresh(void)
{
	int line;
	const uintptr_t pc = known_caller(&line);
	struct ctr_sym before;
	ctr_symbolize(pc, &before);
	ctr_symbolize_reset();
	ctr_symbolize_reset(); /* twice, and before any use, is fine */
	check_known_caller(pc, line);
	expect_unknown(1);
}

/* What the tracer does in a fork child: reset, then symbolize afresh (the vDSO's name in
 * libdwfl carries the pid). */
static void works_in_a_fork_child(void)
{
	int line;
	const uintptr_t pc = known_caller(&line);
	check_known_caller(pc, line);
	fflush(stderr);
	const pid_t child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		ctr_symbolize_reset();
		check_known_caller(pc, line);
		struct ctr_sym s;
		ctr_symbolize((uintptr_t)getauxval(AT_SYSINFO_EHDR) + 16, &s);
		ASSERT_TRUE(getauxval(AT_SYSINFO_EHDR) == 0 || s.map != NULL);
		ctr_symbolize_reset();
		_exit(0);
	}
	int status;
	ASSERT_EQ(waitpid(child, &status, 0), child);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		CT_FAIL("usage: %s PATH_OF_LIBSYMBOLIZE_TARGET_SO", argv[0]);
	target_path = argv[1];
	const ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
	ASSERT_GT(n, 0);
	exe_path[n] = '\0';

	RUN(own_function_file_and_line);
	RUN(cached_pcs_return_the_same_pointers);
	RUN(names_only);
	RUN(libc_function);
	RUN(libz_function);
	RUN(stripped_library_loaded_later);
	RUN(earlier_library_stays_right_after_another_load);
	RUN(stray_pcs_are_unknown);
	RUN(vdso);
	RUN(demangles_with_libstdcxx);
	RUN(reset_starts_fresh);
	RUN(works_in_a_fork_child);
	RUN(debug_cache);
	ctr_symbolize_reset();
	return 0;
}
