// See include/heap_policy.h.
#define _GNU_SOURCE
#include "heap_policy.h"

#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

extern char **environ;

int curate_heap_keep_buffers(void) {
#if defined(__GLIBC__)
    if (getenv("GLIBC_TUNABLES")) return 0;
    for (char **e = environ; e && *e; ++e)
        if (strncmp(*e, "MALLOC_", 7) == 0) return 0;
    return mallopt(M_MMAP_THRESHOLD, 32 << 20) && mallopt(M_TRIM_THRESHOLD, 512 << 20);
#else
    return 0;
#endif
}
