// C API over OpenCV (decode, encode, resize, pHash, drawing), giflib (first frame of a GIF) and libexif.
#ifndef CURATE_IMAGE_BRIDGE_H
#define CURATE_IMAGE_BRIDGE_H
#include <stddef.h>
#include <stdint.h>

#include "bridge_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A decoded 8-bit BGR image (an OpenCV Mat inside).
typedef struct curate_image curate_image;

/// The formats, as curate sniffs them from their first bytes.
enum { CURATE_FORMAT_JPEG = 1, CURATE_FORMAT_PNG, CURATE_FORMAT_GIF, CURATE_FORMAT_WEBP, CURATE_FORMAT_BMP, CURATE_FORMAT_TIFF };

/// The width and height the format's own decoder reads from the header, nothing decoded: libjpeg's header read,
/// libpng's IHDR, libwebp's WebPGetFeatures, libtiff's first directory, giflib's screen and first frame (the canvas
/// it needs), OpenCV's BMP header rules. Nonzero, with the reason, when the decoder cannot say.
int curate_image_size(const unsigned char *bytes, size_t length, int format, int *width, int *height, curate_error *err);

/// Decodes a JPEG with libjpeg, a PNG with libpng, WebP, BMP or TIFF with OpenCV, or the first frame of a GIF with giflib
/// (composed with its palette and transparency onto white), as `format`; never another format. The size the
/// decoder reads is checked against `max_pixels` before the image is allocated: over it, error code 3. Nothing is
/// printed (libjpeg's warnings are judged: a bad arithmetic code is damage). EXIF orientation is NOT applied (see
/// curate_image_orient). NULL when the bytes do not decode.
curate_image *curate_image_decode(const unsigned char *bytes, size_t length, int format, long long max_pixels, curate_error *err);
/// A JPEG decoded with libjpeg as curate_image_decode does it, but at 1/`denominator` of its size (1, 2, 4 or 8:
/// libjpeg's DCT scaling, which computes only what the smaller size needs; the image is ceil(w/d) x ceil(h/d)), or,
/// when `width` > 0, only the rows y..<y+height and the columns x..<x+width at full size (libjpeg's crop and skip; the
/// columns widened on the left to a whole block column, whose left edge is put in *out_x). The whole image's size is
/// checked against `max_pixels` as curate_image_decode checks it. EXIF orientation is not applied.
curate_image *curate_image_decode_jpeg(const unsigned char *bytes, size_t length, long long max_pixels, int denominator,
                                        int x, int y, int width, int height, int *out_x, curate_error *err);
/// Wraps a copy of packed BGR pixels (`stride` bytes a row).
curate_image *curate_image_from_bgr(const unsigned char *bgr, int width, int height, size_t stride, curate_error *err);
void curate_image_free(curate_image *image);

int curate_image_width(const curate_image *image);
int curate_image_height(const curate_image *image);
/// The pixels, packed BGR, `*stride` bytes a row; valid while the image lives.
const unsigned char *curate_image_pixels(const curate_image *image, size_t *stride);

/// Applies an EXIF orientation (1-8) in place.
int curate_image_orient(curate_image *image, int orientation, curate_error *err);
/// A resized copy (area interpolation when shrinking).
curate_image *curate_image_resized(const curate_image *image, int width, int height, curate_error *err);
/// JPEG bytes of the image (no metadata). Free with curate_buffer_free.
int curate_image_encode_jpeg(const curate_image *image, int quality, unsigned char **out, size_t *length, curate_error *err);
/// PNG bytes of the image: its pixels exactly. Free with curate_buffer_free.
int curate_image_encode_png(const curate_image *image, unsigned char **out, size_t *length, curate_error *err);
void curate_buffer_free(unsigned char *buffer);
/// OpenCV img_hash pHash: 64 bits.
int curate_image_phash(const curate_image *image, uint64_t *hash, curate_error *err);
/// What a region of an image looks like to a person judging a face: its sharpness (variance of the 3x3 Laplacian
/// of the grey levels) and its exposure (mean grey level 0-255, the fractions of pixels at or under 10 and at or
/// over 245).
typedef struct {
    double sharpness;
    double brightness;
    double dark;
    double bright;
} curate_region_quality;

/// Measures the region (left, top, width, height), clipped to the image; an empty region is an error.
int curate_image_quality(const curate_image *image, int left, int top, int width, int height, curate_region_quality *out,
                         curate_error *err);
/// Draws a rectangle outline and, when `label` is not NULL, a label at its top-left corner.
int curate_image_draw_box(curate_image *image, int left, int top, int right, int bottom, int thickness,
                          unsigned char b, unsigned char g, unsigned char r, const char *label, curate_error *err);

/// What libexif finds in a JPEG's EXIF block. Strings are empty when absent.
typedef struct {
    int orientation;   /// 1-8, 0 when absent
    char make[64];
    char model[64];
    char datetime[32];
} curate_exif;

/// Reads EXIF from JPEG bytes. Returns 0 with found = 0 when there is none.
int curate_exif_read(const unsigned char *bytes, size_t length, curate_exif *out, int *found);

#ifdef __cplusplus
}
#endif
#endif
