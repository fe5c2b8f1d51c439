/* ctrace import: read a CTF trace directory with libbabeltrace2 into an importer. */
#ifndef CTR_IMP_BT_H
#define CTR_IMP_BT_H

#include <stddef.h>

struct imp;

/* Feed every event of the @n CTF traces (directories holding a metadata file) to @im, in
 * one time order. @return 0, or -1 with a one-line reason in @why. */
int imp_read_ctf(const char *const *dirs, size_t n, struct imp *im, char *why,
		 size_t why_size);

#endif
