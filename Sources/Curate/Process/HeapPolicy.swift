import CBridgeError

/// How the C allocator keeps memory between images, set once at start by the program.
///
/// glibc hands out blocks over 128 KB (a decoded photo, its grey copy, each pyramid level and filter plane of the
/// face detector) as mappings of their own, and gives freed memory at the heap's top back to the kernel, so every
/// image faults its buffers in and zeroes them again: on 3,000 px photos about a third of `process`'s page faults.
/// Blocks up to 32 MB (a 10-megapixel photo's pixels; a worker thread's heap holds at most 64 MB) now come from the
/// heap, and freed memory up to 512 MB stays there for the next image. The peak is what it was (the same buffers);
/// memory is given back later. Where the user set the allocator's own variables (`GLIBC_TUNABLES`, `MALLOC_*`),
/// theirs win.
public enum HeapPolicy {
    public static func prepare() { _ = curate_heap_keep_buffers() }
}
