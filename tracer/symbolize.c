/*
 * The symbolizer: return addresses to function, source file, line and mapping, with elfutils'
 * libdwfl looking at this very process.
 *
 * The writer thread and the HTTP server's (serving profiles) call it: one lock serializes
 * them; results stay valid after it is released, until ctr_symbolize_reset. Each pc is resolved once and cached; strings,
 * build ids and mappings live in an arena that only ctr_symbolize_reset() frees, and strings
 * are interned, so equal names are one pointer. Memory grows with unique pcs, names and modules.
 *
 * Modules are reported from the dynamic loader's list (dl_iterate_phdr), not /proc/self/maps:
 * libelf mmaps every ELF file it reads, and the maps file shows that copy as part of the
 * library when it lands right below the library's own mapping (as it does for the newest
 * one), so a second report from the maps would move the module's start and skew every symbol.
 */
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <limits.h>
#include <link.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "debugcache.h"
#include "internal.h"

#define CHUNK_SIZE (64u << 10)

struct chunk {
	struct chunk *next;
	size_t used, size;
	alignas(max_align_t) char data[];
};

struct entry {
	uintptr_t pc;  /* 0: free slot */
	uint32_t gen;  /* the report an unknown pc was looked up in */
	struct ctr_sym sym;
};

struct str {
	const char *s;
	size_t len;
	uint64_t hash;
};

/* A loaded object as the loader lists it. */
struct object {
	uint64_t start, end;
	const char *name; /* interned */
};

struct objects {
	struct object *v;
	size_t n, cap;
	unsigned long long adds, subs;
	uint64_t page_mask;
	uintptr_t vdso;
};

typedef char *demangle_fn(const char *, char *, size_t *, int *);

static struct {
	Dwfl *dwfl;
	struct chunk *chunks;
	struct entry *tab;     /* pc -> result, open addressing */
	size_t tab_cap, tab_len;
	struct str *strs;      /* interned strings, open addressing */
	size_t str_cap, str_len;
	uint32_t gen;          /* bumped by every report */
	unsigned long long dl_adds, dl_subs;
	demangle_fn *demangle;
	_Atomic int busy;      /* changing any of the above (see ctr_symbolize_reset) */
} st;

/*
 * Debug files are looked up by build id only. dwfl_standard_find_debuginfo would also search
 * by .gnu_debuglink, but for a module it finds nothing for it asks debuginfod: that dlopens
 * libdebuginfod with libcurl, gnutls, krb5 and some thirty more libraries into the traced
 * process, and with DEBUGINFOD_URLS set it downloads, stalling the writer for up to
 * DEBUGINFOD_TIMEOUT (90 s) per module.
 */
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = ctr_debugcache_find, /* the debug cache, then dwfl_build_id_find_debuginfo */
};

static void *arena_alloc(size_t n)
{
	const size_t align = alignof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	struct chunk *c = st.chunks;
	if (c == NULL || c->size - c->used < n) {
		const size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		c = malloc(sizeof *c + size);
		if (c == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = st.chunks;
		st.chunks = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

static int strs_grow(void)
{
	const size_t cap = st.str_cap ? st.str_cap * 2 : 1024;
	struct str *t = calloc(cap, sizeof *t);
	if (t == NULL)
		return -1;
	for (size_t i = 0; i < st.str_cap; i++) {
		if (st.strs[i].s == NULL)
			continue;
		size_t j = st.strs[i].hash & (cap - 1);
		while (t[j].s != NULL)
			j = (j + 1) & (cap - 1);
		t[j] = st.strs[i];
	}
	free(st.strs);
	st.strs = t;
	st.str_cap = cap;
	return 0;
}

/* The arena's copy of @s (@len bytes), or NULL when out of memory. */
static const char *intern(const char *s, size_t len)
{
	if ((st.str_len + 1) * 4 > st.str_cap * 3 && strs_grow() != 0)
		return NULL;
	const uint64_t h = hash_bytes(s, len);
	size_t i = h & (st.str_cap - 1);
	for (; st.strs[i].s != NULL; i = (i + 1) & (st.str_cap - 1)) {
		const struct str *e = &st.strs[i];
		if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
			return e->s;
	}
	char *copy = arena_alloc(len + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	st.strs[i] = (struct str){copy, len, h};
	st.str_len++;
	return copy;
}

static const char *intern_cstr(const char *s)
{
	return s ? intern(s, strlen(s)) : NULL;
}

/* @s, made absolute and free of symlinks when it can be (the path /proc/self/maps shows). */
static const char *intern_realpath(const char *s)
{
	char *real = realpath(s, NULL);
	const char *r = intern_cstr(real ? real : s);
	free(real);
	return r;
}

static void read_loader_counts(struct dl_phdr_info *info, size_t size, struct objects *o)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		o->adds = info->dlpi_adds;
		o->subs = info->dlpi_subs;
	}
}

static int loader_counts_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	read_loader_counts(info, size, arg);
	return 1; /* the counters are the same in every entry */
}

/* The name dwfl_linux_proc_find_elf knows to read the vDSO from memory by. */
static const char *vdso_name(void)
{
	char buf[32] = "[vdso: ";
	char digits[16];
	size_t n = 0, len = strlen(buf);
	for (unsigned long pid = (unsigned long)getpid(); n == 0 || pid != 0; pid /= 10)
		digits[n++] = (char)('0' + pid % 10);
	while (n > 0)
		buf[len++] = digits[--n];
	buf[len++] = ']';
	return intern(buf, len);
}

static int collect_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct objects *o = arg;
	read_loader_counts(info, size, o);
	uint64_t start = UINT64_MAX, end = 0;
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		const uint64_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < start)
			start = a;
		if (a + ph->p_memsz > end)
			end = a + ph->p_memsz;
	}
	if (start >= end)
		return 0;
	start &= o->page_mask;
	end = (end + ~o->page_mask) & o->page_mask;

	const char *name;
	if (start == o->vdso) {
		name = vdso_name();
	} else if (info->dlpi_name[0] == '\0') {
		/* The main program; its path is not in the loader's list. */
		char exe[PATH_MAX];
		const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		name = n > 0 ? intern(exe, (size_t)n) : NULL;
	} else if (info->dlpi_name[0] != '/') {
		/* dwfl_linux_proc_find_elf opens absolute paths only. */
		name = intern_realpath(info->dlpi_name);
	} else {
		name = intern_cstr(info->dlpi_name);
	}
	if (name == NULL || (name[0] != '/' && start != o->vdso))
		return 0;
	if (o->n == o->cap) {
		const size_t cap = o->cap ? o->cap * 2 : 64;
		struct object *v = realloc(o->v, cap * sizeof *v);
		if (v == NULL)
			return 0;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = (struct object){start, end, name};
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct object *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* (Re)report the loaded objects. Modules still loaded keep their loaded ELF and DWARF. */
static int report(void)
{
	if (st.dwfl == NULL) {
		st.dwfl = dwfl_begin(&callbacks);
		if (st.dwfl == NULL)
			return -1;
	} else {
		dwfl_report_begin(st.dwfl);
	}
	struct objects o = {
		.page_mask = ~((uint64_t)sysconf(_SC_PAGESIZE) - 1),
		.vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR),
	};
	dl_iterate_phdr(collect_object, &o);
	/* Address order, overlaps dropped: libdwfl's lookup table wants both. */
	qsort(o.v, o.n, sizeof *o.v, by_start);
	uint64_t last_end = 0;
	for (size_t i = 0; i < o.n; i++) {
		if (o.v[i].start < last_end)
			continue;
		dwfl_report_module(st.dwfl, o.v[i].name, o.v[i].start, o.v[i].end);
		last_end = o.v[i].end;
	}
	free(o.v);
	dwfl_report_end(st.dwfl, NULL, NULL);
	st.dl_adds = o.adds;
	st.dl_subs = o.subs;
	st.gen++;
	/* Present only in a C++ program (or one that loaded libstdc++ globally): we add no C++
	 * dependency of our own. Looked up with each report since dlopen may have brought it. */
	st.demangle = (demangle_fn *)dlsym(RTLD_DEFAULT, "__cxa_demangle");
	return 0;
}

/*
 * Report again when the loader has added or removed an object since the last report, which
 * one step of dl_iterate_phdr tells: stray pcs (JIT code, a broken unwind) cost no report.
 */
static int maybe_report(void)
{
	struct objects o = {.adds = st.dl_adds, .subs = st.dl_subs};
	dl_iterate_phdr(loader_counts_cb, &o);
	if (o.adds == st.dl_adds && o.subs == st.dl_subs)
		return -1;
	return report();
}

/*
 * dwfl_addrmodule (0.188) also answers for addresses in the gap after a module, up to the next
 * one: a pc in a library loaded there since the last report would be named from its neighbour.
 */
static Dwfl_Module *module_at(Dwarf_Addr addr)
{
	Dwfl_Module *mod = dwfl_addrmodule(st.dwfl, addr);
	Dwarf_Addr start, end;
	if (mod == NULL || dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL) == NULL)
		return NULL;
	return start <= addr && addr < end ? mod : NULL;
}

/* The file offset mapped at @start: that of the PT_LOAD segment whose page starts there. */
static uint64_t file_offset(Elf *elf, Dwarf_Addr bias, uint64_t start)
{
	const uint64_t page_mask = ~((uint64_t)sysconf(_SC_PAGESIZE) - 1);
	size_t n;
	if (elf_getphdrnum(elf, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD)
			continue;
		if (((ph.p_vaddr + bias) & page_mask) == start)
			return ph.p_offset & page_mask;
	}
	return 0;
}

/* The module's mapping, made once and kept in the module's user data slot. */
static const struct ctr_map *module_map(Dwfl_Module *mod)
{
	void **userdata;
	Dwarf_Addr start, end, bias;
	const char *name = dwfl_module_info(mod, &userdata, &start, &end, NULL, NULL, NULL, NULL);
	if (*userdata != NULL)
		return *userdata;
	struct ctr_map *m = arena_alloc(sizeof *m);
	if (m == NULL)
		return NULL;
	*m = (struct ctr_map){.start = start, .end = end};
	/* Loads the ELF file, which the build id and the offset are read from. */
	Elf *elf = dwfl_module_getelf(mod, &bias);
	m->offset = elf ? file_offset(elf, bias, start) : 0;
	/* The vDSO's module name carries the pid, which is no part of its identity. */
	m->path = name[0] == '/' ? intern_realpath(name) : intern_cstr("[vdso]");
	const unsigned char *bits;
	GElf_Addr vaddr;
	const int len = dwfl_module_build_id(mod, &bits, &vaddr);
	uint8_t *copy = len > 0 ? arena_alloc((size_t)len) : NULL;
	if (copy != NULL) {
		memcpy(copy, bits, (size_t)len);
		m->build_id = copy;
		m->build_id_len = (size_t)len;
	}
	*userdata = m;
	return m;
}

static const char *function_name(const char *raw)
{
	if (raw == NULL)
		return NULL;
	if (st.demangle != NULL && raw[0] == '_' && raw[1] == 'Z') {
		int status = -1;
		char *d = st.demangle(raw, NULL, NULL, &status);
		const char *s = d != NULL && status == 0 ? intern_cstr(d) : NULL;
		free(d);
		if (s != NULL)
			return s;
	}
	return intern_cstr(raw);
}

/*
 * libdw 0.188 finds the compile unit of an address through .debug_aranges only, which clang
 * leaves out unless given -gdwarf-aranges. For a module without it, look through the units'
 * own ranges instead (once per pc, as everything here).
 */
static Dwarf_Line *line_in_units(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die **cup)
{
	Dwarf_Addr bias;
	Dwarf *dw = dwfl_module_getdwarf(mod, &bias);
	Dwarf_Aranges *aranges;
	size_t n;
	if (dw == NULL || (dwarf_getaranges(dw, &aranges, &n) == 0 && n > 0))
		return NULL;
	for (Dwarf_Die *cu = NULL; (cu = dwfl_module_nextcu(mod, cu, &bias)) != NULL;) {
		Dwarf_Addr base, start, end;
		ptrdiff_t off = 0;
		while ((off = dwarf_ranges(cu, off, &base, &start, &end)) > 0) {
			if (start <= addr - bias && addr - bias < end) {
				*cup = cu;
				return dwarf_getsrc_die(cu, addr - bias);
			}
		}
	}
	return NULL;
}

static const char *source_file(Dwarf_Die *cu, Dwarf_Line *line, int *lineno)
{
	const char *file = dwarf_linesrc(line, NULL, NULL);
	if (file == NULL || dwarf_lineno(line, lineno) != 0)
		return NULL;
	Dwarf_Attribute attr;
	const char *dir = file[0] != '/' && cu != NULL
		? dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)) : NULL;
	if (dir == NULL || dir[0] == '\0')
		return intern_cstr(file);
	const size_t dlen = strlen(dir), flen = strlen(file);
	char *path = malloc(dlen + 1 + flen);
	if (path == NULL)
		return NULL;
	memcpy(path, dir, dlen);
	path[dlen] = '/';
	memcpy(path + dlen + 1, file, flen);
	const char *s = intern(path, dlen + 1 + flen);
	free(path);
	return s;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int want_lines = 1;

void ctr_symbolize_lines(int on)
{
	atomic_store(&want_lines, on);
}

void ctr_symbolize_cache(const char *dir)
{
	pthread_mutex_lock(&lock);
	ctr_debugcache_dir(dir);
	pthread_mutex_unlock(&lock);
}

static void resolve(uintptr_t pc, struct ctr_sym *out)
{
	/* A return address points after the call; the call itself is one byte back. */
	const Dwarf_Addr addr = pc - 1;
	/* A dlopen or dlclose since the last report changes what pcs mean. */
	maybe_report();
	Dwfl_Module *mod = module_at(addr);
	if (mod == NULL)
		return;
	out->map = module_map(mod);
	GElf_Off off;
	GElf_Sym sym;
	out->function = function_name(dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL,
							   NULL));
	/* A line needs the module's DWARF: libc's, from libc6-dbg, is 40-90 ms of CPU to load
	 * (zlib-compressed sections), a large C++ program's far more. */
	if (!atomic_load_explicit(&want_lines, memory_order_relaxed))
		return;
	Dwfl_Line *dwfl_line = dwfl_module_getsrc(mod, addr);
	Dwarf_Die *cu = NULL;
	Dwarf_Line *line;
	if (dwfl_line != NULL) {
		Dwarf_Addr bias;
		line = dwfl_dwarf_line(dwfl_line, &bias);
		cu = dwfl_linecu(dwfl_line);
	} else {
		line = line_in_units(mod, addr, &cu);
	}
	ctr_debugcache_keep(mod);
	int lineno = 0;
	if (line != NULL)
		out->file = source_file(cu, line, &lineno);
	if (out->file != NULL && lineno > 0)
		out->line = (uint32_t)lineno;
}

static size_t slot_of(uintptr_t pc, size_t cap)
{
	return (size_t)(((uint64_t)pc * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static int tab_grow(void)
{
	const size_t cap = st.tab_cap ? st.tab_cap * 2 : 4096;
	struct entry *t = calloc(cap, sizeof *t);
	if (t == NULL)
		return -1;
	for (size_t i = 0; i < st.tab_cap; i++) {
		if (st.tab[i].pc == 0)
			continue;
		size_t j = slot_of(st.tab[i].pc, cap);
		while (t[j].pc != 0)
			j = (j + 1) & (cap - 1);
		t[j] = st.tab[i];
	}
	free(st.tab);
	st.tab = t;
	st.tab_cap = cap;
	return 0;
}

/* The slot of @pc: its entry, or the free slot it would take. Needs a table. */
static struct entry *slot(uintptr_t pc)
{
	size_t i = slot_of(pc, st.tab_cap);
	while (st.tab[i].pc != 0 && st.tab[i].pc != pc)
		i = (i + 1) & (st.tab_cap - 1);
	return &st.tab[i];
}

static void symbolize_slow(uintptr_t pc, struct ctr_sym *out)
{
	if (st.dwfl == NULL && report() != 0)
		return;
	if ((st.tab_len + 1) * 4 > st.tab_cap * 3 && tab_grow() != 0)
		return;
	struct entry *e = slot(pc);
	/* An unknown pc is tried again after a report: its library may have been loaded since. */
	if (e->pc == pc) {
		maybe_report();
		if (e->gen == st.gen) {
			*out = e->sym;
			return;
		}
	}
	resolve(pc, out);
	if (e->pc == 0)
		st.tab_len++;
	e->pc = pc;
	e->gen = st.gen;
	e->sym = *out;
}

void ctr_symbolize(uintptr_t pc, struct ctr_sym *out)
{
	*out = (struct ctr_sym){0};
	/* pc 0 ends a stack, and pc - 1 would wrap. It is also the table's free-slot marker. */
	if (pc == 0)
		return;
	pthread_mutex_lock(&lock);
	const struct entry *e = st.tab ? slot(pc) : NULL;
	if (e != NULL && e->pc == pc && e->sym.map != NULL) {
		*out = e->sym;
	} else {
		atomic_store(&st.busy, 1);
		symbolize_slow(pc, out);
		atomic_store(&st.busy, 0);
	}
	pthread_mutex_unlock(&lock);
}

void ctr_symbolize_reset(void)
{
	/* In a fork child the lock may have been held by a thread that is gone. */
	pthread_mutex_init(&lock, NULL);
	ctr_debugcache_forget(); /* the modules it remembers go with the session */
	/* In a fork child whose parent's writer was changing the state right then: it cannot be
	 * trusted, not even to be freed. Dropping it only leaks copy-on-write pages. */
	if (atomic_load(&st.busy)) {
		memset(&st, 0, sizeof st);
		return;
	}
	if (st.dwfl != NULL)
		dwfl_end(st.dwfl);
	free(st.tab);
	free(st.strs);
	for (struct chunk *c = st.chunks, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	memset(&st, 0, sizeof st);
}
