/* Small helpers the format's parts share. */
#ifndef CTR_UTIL_H
#define CTR_UTIL_H

#include <stddef.h>

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/*
 * Make the array *@arr of *@cap elements of @elem bytes hold at least @need, doubling.
 * @return 0, or -1 when out of memory (the array is then unchanged).
 */
int ctr_grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif
