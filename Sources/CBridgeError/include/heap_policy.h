// How glibc's allocator keeps memory between images: see Sources/Curate/Process/HeapPolicy.swift.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// Blocks up to 32 MB from the heap, freed memory up to 512 MB kept there; nothing where the user set the
// allocator's own variables (GLIBC_TUNABLES, MALLOC_*). Returns 1 where glibc took both.
int curate_heap_keep_buffers(void);

#ifdef __cplusplus
}
#endif
