/*
 * The debug cache: decompressed copies of separate debug files, named by build id, so that
 * the next process loads a library's DWARF without inflating it (symbolize.c's only user).
 */
#ifndef CTR_DEBUGCACHE_H
#define CTR_DEBUGCACHE_H

#include <elfutils/libdwfl.h>

/* Use @dir (absolute; made when first written to) for the copies, or none when NULL. Before
 * the first lookup, or with the symbolizer's lock held. */
void ctr_debugcache_dir(const char *dir);

/* libdwfl's find_debuginfo callback: the module's copy from the cache when there is a good
 * one, else what dwfl_build_id_find_debuginfo finds (a compressed one is noted for copying). */
int ctr_debugcache_find(Dwfl_Module *mod, void **userdata, const char *modname,
			GElf_Addr base, const char *file_name, const char *debuglink_file,
			GElf_Word debuglink_crc, char **debuginfo_file_name);

/* After @mod's DWARF is loaded: write its copy when its debug file was noted as compressed
 * (once per build id; failures are silent, the cache is only an optimization). */
void ctr_debugcache_keep(Dwfl_Module *mod);

/* Forget the modules asked about (the symbolizer ends its libdwfl session); the directory
 * stays. */
void ctr_debugcache_forget(void);

/* Debug files read from the cache, and copies written, since the process began. */
unsigned long ctr_debugcache_hits(void);
unsigned long ctr_debugcache_writes(void);

#endif
