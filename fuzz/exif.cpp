// libFuzzer harness: libexif through the image bridge's one EXIF call, on raw bytes (nothing in Swift runs before it).
#include "image_bridge.h"

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    curate_exif exif;
    int found = 0;
    curate_exif_read(data, size, &exif, &found);
    if (found) {
        // The strings handed to Swift must be terminated inside their buffers.
        if (!std::memchr(exif.make, 0, sizeof exif.make) || !std::memchr(exif.model, 0, sizeof exif.model)
            || !std::memchr(exif.datetime, 0, sizeof exif.datetime) || exif.orientation < 0 || exif.orientation > 8)
            __builtin_trap();
    }
    return 0;
}
