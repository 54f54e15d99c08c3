// OpenCV, libjpeg, libpng, giflib and libexif behind a C API (libwebp and libtiff asked for sizes): every C++
// exception is caught here and returned as an error.
#include "image_bridge.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>   // its flags; the library itself is loaded on first use (codecs below)
#include <opencv2/imgproc.hpp>
#include <opencv2/img_hash.hpp>
#include <gif_lib.h>
#include <libexif/exif-data.h>

#include <csetjmp>
#include <cstdio>
#include <dlfcn.h>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <tiffio.h>
#include <webp/decode.h>

struct curate_image {
    cv::Mat mat;   // CV_8UC3, BGR
};

using curate::fail;

// Every call runs under curate::guarded: an exception becomes error 2 with its own words.
template <typename Body> static int guarded(curate_error *err, Body &&body) { return curate::guarded(err, 2, nullptr, body); }

// `guarded` for calls that make a new image: NULL on failure.
template <typename Body> static curate_image *guarded_image(curate_error *err, Body &&body) {
    curate_image *out = nullptr;
    int rc = guarded(err, [&] { out = body(); return out ? 0 : (err && err->code ? err->code : 1); });
    return rc == 0 ? out : nullptr;
}

// MARK: codecs

// OpenCV's codecs library (libopencv_imgcodecs) needs some hundred libraries of its own (GDAL, Poppler, HDF5, ...):
// linked, they cost every curate process about 0.1 CPU second of dynamic linking at start (docs/benchmarks.md).
// curate reads JPEG, PNG and GIF and writes JPEG with their own libraries, so the codecs library is loaded only when
// a WebP, BMP or TIFF is decoded or a PNG encoded, and its two functions looked up by their (C++) names.
namespace codecs {
typedef cv::Mat (*imdecode_fn)(const cv::_InputArray &, int);
typedef bool (*imencode_fn)(const std::string &, const cv::_InputArray &, std::vector<unsigned char> &, const std::vector<int> &);
struct library {
    imdecode_fn imdecode = nullptr;
    imencode_fn imencode = nullptr;
    std::string why;   // why it could not be loaded
};

static const library &get() {
    static const library lib = [] {
        library l;
        char name[64];
        std::snprintf(name, sizeof(name), "libopencv_imgcodecs.so.%d%02d", CV_VERSION_MAJOR, CV_VERSION_MINOR);
        void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!handle) handle = dlopen("libopencv_imgcodecs.so", RTLD_NOW | RTLD_LOCAL);
        if (!handle) { const char *e = dlerror(); l.why = std::string("OpenCV's image codecs cannot be loaded: ") + (e ? e : name); return l; }
        l.imdecode = (imdecode_fn)dlsym(handle, "_ZN2cv8imdecodeERKNS_11_InputArrayEi");
        l.imencode = (imencode_fn)dlsym(handle, "_ZN2cv8imencodeERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKNS_11_InputArrayERSt6vectorIhSaIhEERKSB_IiSaIiEE");
        if (!l.imdecode || !l.imencode) l.why = std::string("OpenCV's image codecs library ") + name + " lacks cv::imdecode or cv::imencode";
        return l;
    }();
    return lib;
}

// cv::imdecode; an empty Mat (and why) when the library is not there.
static cv::Mat decode(const cv::Mat &buffer, int flags, std::string &why) {
    const library &l = get();
    if (!l.imdecode) { why = l.why; return cv::Mat(); }
    return l.imdecode(buffer, flags);
}

// cv::imencode; false (and why) when the library is not there or the encoder fails.
static bool encode(const std::string &ext, const cv::Mat &image, std::vector<unsigned char> &out, const std::vector<int> &params,
                   std::string &why) {
    const library &l = get();
    if (!l.imencode) { why = l.why; return false; }
    if (!l.imencode(ext, image, out, params)) { why = ext.substr(1) + " encoding failed"; return false; }
    return true;
}
}  // namespace codecs

// MARK: sizes

namespace {
// The one wording of a refusal for size: error code 3 (tooLarge in Swift).
std::string too_large(long long w, long long h, long long max_pixels) {
    return std::to_string(w) + "×" + std::to_string(h) + " is over " + std::to_string(max_pixels / 1000000) + " megapixels";
}
}  // namespace

// MARK: GIF

namespace {
struct MemoryReader {
    const unsigned char *bytes;
    size_t length;
    size_t offset;
};

int read_memory(GifFileType *gif, GifByteType *out, int count) {
    auto *reader = static_cast<MemoryReader *>(gif->UserData);
    size_t n = std::min<size_t>(count, reader->length - reader->offset);
    std::memcpy(out, reader->bytes + reader->offset, n);
    reader->offset += n;
    return (int)n;
}

// giflib's GifErrorString returns NULL for a code it has no text for (0 among them: some failures set no code),
// and a NULL appended to a std::string reads address 0, which no exception guard catches.
std::string gif_error(int code) {
    const char *text = GifErrorString(code);
    if (text) return std::string("GIF: ") + text;
    return code ? "GIF: damaged file (giflib error " + std::to_string(code) + ")" : std::string("GIF: damaged file");
}

// 0, or 1 with the reason, or 3 over max_pixels. The first frame only: reading record by record stops there, so a long animation costs one frame and a
// file truncated after its first frame still gives that frame.
// `max_pixels` bounds the canvas the first frame needs (its screen, or more where the frame reaches beyond it),
// checked before it is allocated; `size_only` stops there, with the canvas's size in `out_size`.
int decode_gif(const unsigned char *bytes, size_t length, long long max_pixels, cv::Mat &out, std::string &why,
                bool size_only = false, cv::Size *out_size = nullptr) {
    MemoryReader reader{bytes, length, 0};
    int error = 0;
    GifFileType *gif = DGifOpen(&reader, read_memory, &error);
    if (!gif) { why = gif_error(error); return 1; }
    struct Closer { GifFileType *g; ~Closer() { int e; DGifCloseFile(g, &e); } } closer{gif};
    if (gif->SWidth <= 0 || gif->SHeight <= 0) { why = "GIF: empty screen"; return 1; }
    int transparent = -1;
    GifRecordType type;
    do {
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) { why = gif_error(gif->Error); return 1; }
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) { why = "GIF: bad extension"; return 1; }
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4) {
                GraphicsControlBlock gcb;
                if (DGifExtensionToGCB(ext[0], ext + 1, &gcb) == GIF_OK) transparent = gcb.TransparentColor;
            }
            while (ext) {
                if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) { why = "GIF: bad extension"; return 1; }
            }
        } else if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) == GIF_ERROR) { why = gif_error(gif->Error); return 1; }
            const GifImageDesc &d = gif->Image;
            ColorMapObject *map = d.ColorMap ? d.ColorMap : gif->SColorMap;
            if (!map) { why = "GIF: no colour map"; return 1; }
            if (d.Width <= 0 || d.Height <= 0) { why = "GIF: empty frame"; return 1; }
            const long long w = std::max<long long>(gif->SWidth, (long long)d.Left + d.Width);
            const long long h = std::max<long long>(gif->SHeight, (long long)d.Top + d.Height);
            if (out_size) *out_size = cv::Size((int)w, (int)h);
            if (size_only) return 0;
            if (w * h > max_pixels) { why = too_large(w, h, max_pixels); return 3; }
            out = cv::Mat(gif->SHeight, gif->SWidth, CV_8UC3, cv::Scalar(255, 255, 255));
            std::vector<GifPixelType> line(d.Width);
            auto put = [&](int y) {
                int row = d.Top + y;
                if (row < 0 || row >= out.rows) return;
                auto *px = out.ptr<cv::Vec3b>(row);
                for (int x = 0; x < d.Width; ++x) {
                    int col = d.Left + x;
                    int index = line[x];
                    if (col < 0 || col >= out.cols || index == transparent || index >= map->ColorCount) continue;
                    const GifColorType &c = map->Colors[index];
                    px[col] = cv::Vec3b(c.Blue, c.Green, c.Red);
                }
            };
            if (d.Interlace) {
                const int start[] = {0, 4, 2, 1}, step[] = {8, 8, 4, 2};
                for (int pass = 0; pass < 4; ++pass)
                    for (int y = start[pass]; y < d.Height; y += step[pass]) {
                        if (DGifGetLine(gif, line.data(), d.Width) == GIF_ERROR) { why = "GIF: truncated first frame"; return 1; }
                        put(y);
                    }
            } else {
                for (int y = 0; y < d.Height; ++y) {
                    if (DGifGetLine(gif, line.data(), d.Width) == GIF_ERROR) { why = "GIF: truncated first frame"; return 1; }
                    put(y);
                }
            }
            return 0;
        }
    } while (type != TERMINATE_RECORD_TYPE);
    why = "GIF: no frame";
    return 1;
}
}  // namespace

// MARK: JPEG (libjpeg itself: the size it decodes at is the one it reads, and its warnings are ours to judge)

namespace {
struct JpegErrors {
    jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    char first_warning[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr c) {
    auto *e = reinterpret_cast<JpegErrors *>(c->err);
    (*c->err->format_message)(c, e->message);
    longjmp(e->jump, 1);
}

// Warnings are counted (the first one kept), never printed: libjpeg's default writes them to stderr.
void jpeg_note(j_common_ptr c, int level) {
    if (level >= 0) return;
    auto *e = reinterpret_cast<JpegErrors *>(c->err);
    if (c->err->num_warnings++ == 0) (*c->err->format_message)(c, e->first_warning);
}

// A decompress or compress struct, zeroed, its errors and warnings sent to `errors` (the caller sets the jump).
template <typename Info> void route_errors(Info &cinfo, JpegErrors &errors) {
    std::memset(&cinfo, 0, sizeof cinfo);
    std::memset(&errors, 0, sizeof errors);
    cinfo.err = jpeg_std_error(&errors.mgr);
    errors.mgr.error_exit = jpeg_fail;
    errors.mgr.emit_message = jpeg_note;
}

// Decodes into `out` (BGR) as OpenCV's JPEG decoder does (CMYK and YCCK through CMYK with OpenCV's formula), after
// libjpeg's own header read is checked against max_pixels. `size_only` stops after the header. No C++ object is
// made between setjmp and a longjmp: `out` is the caller's.
// `denominator` (1, 2, 4 or 8) decodes at that fraction of the size by libjpeg's DCT scaling, computing only the
// coefficients the smaller size needs. A `crop` of positive width decodes only those rows and (widened on the left
// to a whole block column, the widened left edge in crop->x) those columns, at full size: libjpeg skips the rest.
int decode_jpeg(const unsigned char *bytes, size_t length, long long max_pixels, cv::Mat &out, std::string &why,
                bool size_only, cv::Size *size, int denominator = 1, cv::Rect *crop = nullptr) {
    jpeg_decompress_struct cinfo;
    JpegErrors errors;
    route_errors(cinfo, errors);
    unsigned char *volatile cmyk_row = nullptr;
    if (setjmp(errors.jump)) {
        jpeg_destroy_decompress(&cinfo);
        std::free(cmyk_row);
        why = std::string("JPEG: ") + errors.message;
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    const long long w = cinfo.image_width, h = cinfo.image_height;
    if (size) *size = cv::Size((int)w, (int)h);
    if (size_only) { jpeg_destroy_decompress(&cinfo); return 0; }
    if (w * h > max_pixels) { jpeg_destroy_decompress(&cinfo); why = too_large(w, h, max_pixels); return 3; }
    const bool four = cinfo.num_components == 4;
    cinfo.out_color_space = four ? JCS_CMYK : JCS_EXT_BGR;
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned)denominator;
    const bool cropped = crop && crop->width > 0;
    jpeg_start_decompress(&cinfo);
    JDIMENSION first = 0, end = cinfo.output_height;
    if (cropped) {
        JDIMENSION x = (JDIMENSION)crop->x, w = (JDIMENSION)crop->width;
        jpeg_crop_scanline(&cinfo, &x, &w);
        first = (JDIMENSION)crop->y;
        end = first + (JDIMENSION)crop->height;
        crop->x = (int)x;
        crop->width = (int)w;
        if (first > 0) jpeg_skip_scanlines(&cinfo, first);
    }
    out.create((int)(end - first), (int)cinfo.output_width, CV_8UC3);
    if (four) cmyk_row = static_cast<unsigned char *>(std::malloc((size_t)cinfo.output_width * 4));
    while (cinfo.output_scanline < end) {
        unsigned char *row = out.ptr<unsigned char>((int)(cinfo.output_scanline - first));
        JSAMPROW target = four ? cmyk_row : row;
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) break;
        if (four) {
            for (unsigned x = 0; x < cinfo.output_width; ++x) {
                const unsigned char *p = cmyk_row + 4 * x;
                int k = p[3];
                row[3 * x + 2] = (unsigned char)(k - ((255 - p[0]) * k >> 8));
                row[3 * x + 1] = (unsigned char)(k - ((255 - p[1]) * k >> 8));
                row[3 * x + 0] = (unsigned char)(k - ((255 - p[2]) * k >> 8));
            }
        }
    }
    // A crop stops where its rows end: what follows is not read, and finishing would ask for it.
    if (cinfo.output_scanline < cinfo.output_height) jpeg_abort_decompress(&cinfo); else jpeg_finish_decompress(&cinfo);
    // Arithmetic coding is rare and its encoders exact: any warning means the data is not what the frame header
    // names (a Huffman JPEG relabelled SOF9 decodes as noise, leaving most of its data unread).
    const bool damaged = cinfo.arith_code && errors.mgr.num_warnings > 0;
    jpeg_destroy_decompress(&cinfo);
    std::free(cmyk_row);
    if (damaged) { why = std::string("JPEG: arithmetic-coded data that does not decode cleanly (") + errors.first_warning + ")"; return 1; }
    return 0;
}

// Encodes BGR pixels as OpenCV's JPEG encoder does when given only a quality (cv::imencode(".jpg"): the BGR rows
// handed to libjpeg as they are, its defaults, the quality scaled to baseline tables), so that writing a chip or a
// normalised copy needs no codecs library (codecs above).
struct JpegOutput {
    unsigned char *bytes = nullptr;
    unsigned long length = 0;
};
int encode_jpeg(const cv::Mat &image, int quality, JpegOutput &out, std::string &why) {
    jpeg_compress_struct cinfo;
    JpegErrors errors;
    route_errors(cinfo, errors);
    if (setjmp(errors.jump)) {
        jpeg_destroy_compress(&cinfo);
        std::free(out.bytes);
        out.bytes = nullptr;
        why = std::string("JPEG encoding: ") + errors.message;
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &out.bytes, &out.length);
    cinfo.image_width = (JDIMENSION)image.cols;
    cinfo.image_height = (JDIMENSION)image.rows;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_EXT_BGR;
    jpeg_set_defaults(&cinfo);
    cinfo.restart_interval = 0;
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(image.ptr<unsigned char>((int)cinfo.next_scanline));
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

// MARK: PNG (libpng itself, for the same reasons as JPEG); WebP, TIFF, BMP: their libraries' header reads (the
// ones OpenCV's decoders make)

struct PngSource { const unsigned char *bytes; size_t length, offset; };

void png_read_memory(png_structp png, png_bytep out, png_size_t count) {
    auto *src = static_cast<PngSource *>(png_get_io_ptr(png));
    if (count > src->length - src->offset) png_error(png, "the file is cut short");
    std::memcpy(out, src->bytes + src->offset, count);
    src->offset += count;
}
// libpng's message is kept in the caller's buffer (its error pointer) instead of printed.
void png_quiet_error(png_structp png, png_const_charp message) {
    if (auto *buffer = static_cast<char *>(png_get_error_ptr(png))) { std::strncpy(buffer, message, 199); buffer[199] = 0; }
    png_longjmp(png, 1);
}
void png_quiet_warning(png_structp, png_const_charp) {}

// Decodes into `out` (BGR) with libpng as OpenCV's PNG decoder does for a colour image (16 bits stripped to 8,
// alpha dropped, palettes and low-depth grey expanded), after libpng's own IHDR is checked against max_pixels; its
// errors and warnings are ours, not printed. `size_only` stops after the header. As with libjpeg, nothing made
// between setjmp and a longjmp needs a destructor: `out` and the row pointers are the caller's or plain memory.
int decode_png(const unsigned char *bytes, size_t length, long long max_pixels, cv::Mat &out, std::string &why,
               bool size_only, cv::Size *size) {
    PngSource src{bytes, length, 0};
    char message[200] = "damaged";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, png_quiet_error, png_quiet_warning);
    if (!png) { why = "PNG: libpng failed to start"; return 1; }
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = nullptr;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
        std::free(rows);
        why = std::string("PNG: ") + message;
        return 1;
    }
    png_set_read_fn(png, &src, png_read_memory);
    png_read_info(png, info);
    const long long w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (size) *size = cv::Size((int)w, (int)h);
    if (size_only) { png_destroy_read_struct(&png, &info, nullptr); return 0; }
    if (w * h > max_pixels) { png_destroy_read_struct(&png, &info, nullptr); why = too_large(w, h, max_pixels); return 3; }
    const int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (depth > 8) png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((type & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (type & PNG_COLOR_MASK_COLOR) png_set_bgr(png); else png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    out.create((int)h, (int)w, CV_8UC3);
    rows = static_cast<png_bytep *>(std::malloc(sizeof(png_bytep) * (size_t)h));
    if (!rows) png_error(png, "out of memory");
    for (long long y = 0; y < h; ++y) rows[y] = out.ptr<unsigned char>((int)y);
    png_read_image(png, rows);
    png_read_end(png, nullptr);
    png_destroy_read_struct(&png, &info, nullptr);
    std::free(rows);
    return 0;
}

struct TiffSource { const unsigned char *bytes; toff_t length, offset; };

tmsize_t tiff_read(thandle_t h, void *out, tmsize_t count) {
    auto *src = static_cast<TiffSource *>(h);
    if (src->offset >= src->length) return 0;
    tmsize_t n = std::min<tmsize_t>(count, (tmsize_t)(src->length - src->offset));
    std::memcpy(out, src->bytes + src->offset, (size_t)n);
    src->offset += n;
    return n;
}
tmsize_t tiff_write(thandle_t, void *, tmsize_t) { return 0; }
toff_t tiff_seek(thandle_t h, toff_t offset, int whence) {
    auto *src = static_cast<TiffSource *>(h);
    toff_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? src->offset : src->length;
    src->offset = base + offset;
    return src->offset;
}
int tiff_close(thandle_t) { return 0; }
toff_t tiff_size(thandle_t h) { return static_cast<TiffSource *>(h)->length; }

// libtiff's first directory, as OpenCV's TIFF decoder reads it (the same library: a tag given twice counts once,
// its first value). Its error and warning handlers are turned off first: they print to stderr.
bool tiff_size(const unsigned char *bytes, size_t length, cv::Size &size, std::string &why) {
    static std::once_flag quiet;
    std::call_once(quiet, [] { TIFFSetErrorHandler(nullptr); TIFFSetWarningHandler(nullptr); });
    TiffSource src{bytes, (toff_t)length, 0};
    TIFF *tif = TIFFClientOpen("image", "rm", &src, tiff_read, tiff_write, tiff_seek, tiff_close, tiff_size, nullptr, nullptr);
    if (!tif) { why = "TIFF: libtiff cannot read its first directory"; return false; }
    uint32_t w = 0, h = 0;
    const bool known = TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) == 1 && TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h) == 1;
    TIFFClose(tif);
    if (!known) { why = "TIFF: no width and height in its first directory"; return false; }
    if (w > INT32_MAX || h > INT32_MAX) { why = "TIFF: " + std::to_string(w) + "×" + std::to_string(h) + " is not a size"; return false; }
    size = cv::Size((int)w, (int)h);
    return true;
}

// OpenCV's BMP decoder has no header API of its own: its readHeader's rules, field by field (a 12-byte OS/2 header
// has 16-bit sizes; the others 32-bit, a negative height meaning top-down).
bool bmp_size(const unsigned char *b, size_t length, cv::Size &size, std::string &why) {
    auto le32 = [&](size_t i) { return (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24; };
    auto le16 = [&](size_t i) { return (uint32_t)b[i] | (uint32_t)b[i + 1] << 8; };
    if (length < 26) { why = "BMP: the header is cut short"; return false; }
    const uint32_t header = le32(14);
    long long w, h;
    if (header >= 36) {
        w = (int32_t)le32(18);
        h = (int32_t)le32(22);
    } else if (header == 12) {
        w = le16(18);
        h = le16(20);
    } else {
        why = "BMP: an unknown header of " + std::to_string(header) + " bytes";
        return false;
    }
    h = h < 0 ? -h : h;
    if (w <= 0 || h <= 0 || w > INT32_MAX || h > INT32_MAX) { why = "BMP: no usable width and height"; return false; }
    size = cv::Size((int)w, (int)h);
    return true;
}

// The size the format's decoder will allocate, from that decoder's own header read.
bool decoder_size(const unsigned char *bytes, size_t length, int format, cv::Size &size, std::string &why) {
    cv::Mat none;
    switch (format) {
    case CURATE_FORMAT_JPEG: return decode_jpeg(bytes, length, 0, none, why, true, &size) == 0;
    case CURATE_FORMAT_PNG: return decode_png(bytes, length, 0, none, why, true, &size) == 0;
    case CURATE_FORMAT_GIF: return decode_gif(bytes, length, 0, none, why, true, &size) == 0;
    case CURATE_FORMAT_WEBP: {
        WebPBitstreamFeatures features;
        if (WebPGetFeatures(bytes, length, &features) != VP8_STATUS_OK) { why = "WebP: libwebp cannot read its size"; return false; }
        size = cv::Size(features.width, features.height);
        return true;
    }
    case CURATE_FORMAT_BMP: return bmp_size(bytes, length, size, why);
    case CURATE_FORMAT_TIFF: return tiff_size(bytes, length, size, why);
    default: why = "not an image format curate decodes"; return false;
    }
}
}  // namespace

extern "C" int curate_image_size(const unsigned char *bytes, size_t length, int format, int *width, int *height, curate_error *err) {
    return guarded(err, [&] {
        cv::Size size;
        std::string why;
        if (!decoder_size(bytes, length, format, size, why)) { fail(err, 1, why); return 1; }
        *width = size.width;
        *height = size.height;
        return 0;
    });
}

extern "C" curate_image *curate_image_decode(const unsigned char *bytes, size_t length, int format, long long max_pixels,
                                             curate_error *err) {
    static std::once_flag quiet;
    // OpenCV's own log lines ("imdecode_(): can't read header...") are not curate's output.
    std::call_once(quiet, [] { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); });
    return guarded_image(err, [&]() -> curate_image * {
        cv::Mat mat;
        std::string why;
        if (format == CURATE_FORMAT_JPEG) {
            if (int rc = decode_jpeg(bytes, length, max_pixels, mat, why, false, nullptr)) { fail(err, rc, why); return nullptr; }
            return new curate_image{mat};
        }
        if (format == CURATE_FORMAT_PNG) {
            if (int rc = decode_png(bytes, length, max_pixels, mat, why, false, nullptr)) { fail(err, rc, why); return nullptr; }
            return new curate_image{mat};
        }
        if (format == CURATE_FORMAT_GIF) {
            if (int rc = decode_gif(bytes, length, max_pixels, mat, why)) { fail(err, rc, why); return nullptr; }
            return new curate_image{mat};
        }
        // WebP, BMP, TIFF: OpenCV picks its decoder by the same signature curate sniffed, and allocates the size
        // that decoder's library reads (libwebp, libtiff; OpenCV's own BMP rules); asked first, here. Their
        // libraries print nothing (OpenCV silences libtiff's handlers; its own log is off).
        cv::Size size;
        if (!decoder_size(bytes, length, format, size, why)) { fail(err, 1, why); return nullptr; }
        if ((long long)size.width * size.height > max_pixels) { fail(err, 3, too_large(size.width, size.height, max_pixels)); return nullptr; }
        cv::Mat buffer(1, (int)length, CV_8UC1, const_cast<unsigned char *>(bytes));
        mat = codecs::decode(buffer, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION, why);
        if (mat.empty()) { fail(err, 1, why.empty() ? "the decoder could not read the image" : why); return nullptr; }
        if (mat.cols != size.width || mat.rows != size.height) {
            fail(err, 1, "the decoder read " + std::to_string(mat.cols) + "×" + std::to_string(mat.rows) + " where its header said "
                 + std::to_string(size.width) + "×" + std::to_string(size.height));
            return nullptr;
        }
        return new curate_image{mat};
    });
}

extern "C" curate_image *curate_image_decode_jpeg(const unsigned char *bytes, size_t length, long long max_pixels, int denominator,
                                                  int x, int y, int width, int height, int *out_x, curate_error *err) {
    return guarded_image(err, [&]() -> curate_image * {
        if (denominator != 1 && denominator != 2 && denominator != 4 && denominator != 8) { fail(err, 1, "a JPEG reduction of 1/" + std::to_string(denominator)); return nullptr; }
        cv::Size size;
        std::string why;
        cv::Mat none, mat;
        if (width > 0) {
            if (denominator != 1) { fail(err, 1, "a JPEG region is decoded at full size only"); return nullptr; }
            if (decode_jpeg(bytes, length, 0, none, why, true, &size)) { fail(err, 1, why); return nullptr; }
            if (x < 0 || y < 0 || height <= 0 || x + width > size.width || y + height > size.height) {
                fail(err, 1, "the region " + std::to_string(width) + "x" + std::to_string(height) + " at " + std::to_string(x) + "," + std::to_string(y)
                     + " is not inside the " + std::to_string(size.width) + "x" + std::to_string(size.height) + " image");
                return nullptr;
            }
        }
        cv::Rect crop(x, y, width, height);
        if (int rc = decode_jpeg(bytes, length, max_pixels, mat, why, false, nullptr, denominator, &crop)) { fail(err, rc, why); return nullptr; }
        if (out_x) *out_x = width > 0 ? crop.x : 0;
        return new curate_image{mat};
    });
}

extern "C" curate_image *curate_image_from_bgr(const unsigned char *bgr, int width, int height, size_t stride, curate_error *err) {
    return guarded_image(err, [&] {
        cv::Mat view(height, width, CV_8UC3, const_cast<unsigned char *>(bgr), stride);
        return new curate_image{view.clone()};
    });
}

extern "C" void curate_image_free(curate_image *image) { delete image; }
extern "C" int curate_image_width(const curate_image *image) { return image->mat.cols; }
extern "C" int curate_image_height(const curate_image *image) { return image->mat.rows; }

extern "C" const unsigned char *curate_image_pixels(const curate_image *image, size_t *stride) {
    *stride = image->mat.step[0];
    return image->mat.data;
}

extern "C" int curate_image_orient(curate_image *image, int orientation, curate_error *err) {
    return guarded(err, [&] {
        cv::Mat &m = image->mat;
        cv::Mat out;
        switch (orientation) {
        case 2: cv::flip(m, out, 1); break;
        case 3: cv::rotate(m, out, cv::ROTATE_180); break;
        case 4: cv::flip(m, out, 0); break;
        case 5: cv::transpose(m, out); break;
        case 6: cv::rotate(m, out, cv::ROTATE_90_CLOCKWISE); break;
        case 7: cv::transpose(m, out); cv::rotate(out, out, cv::ROTATE_180); break;
        case 8: cv::rotate(m, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
        default: return 0;
        }
        m = out;
        return 0;
    });
}

extern "C" curate_image *curate_image_resized(const curate_image *image, int width, int height, curate_error *err) {
    return guarded_image(err, [&] {
        cv::Mat out;
        const cv::Size size(width, height);
        if (width >= image->mat.cols && height >= image->mat.rows) {
            cv::resize(image->mat, out, size, 0, 0, cv::INTER_LINEAR);
            return new curate_image{out};
        }
        // Shrinking averages the source pixels (INTER_AREA), but OpenCV's area resize is only fast at a whole
        // ratio: 3000 to 2000 px took 34 ms against 7 ms this way (one core). So: whole factors by area, given as
        // the factor itself so OpenCV takes its fast path; what is left (under 2x) bilinear, which at under 2x
        // still reads every source pixel. Mean difference from a plain area resize: 0.1-0.3 of 255.
        cv::Mat src = image->mat;
        const int whole = std::min(src.cols / width, src.rows / height);
        if (whole >= 2) {
            cv::Mat reduced;
            cv::resize(src, reduced, cv::Size(), 1.0 / whole, 1.0 / whole, cv::INTER_AREA);
            src = reduced;
        }
        if (src.size() == size) return new curate_image{src};
        cv::resize(src, out, size, 0, 0, cv::INTER_LINEAR);
        return new curate_image{out};
    });
}

extern "C" int curate_image_encode_jpeg(const curate_image *image, int quality, unsigned char **out, size_t *length, curate_error *err) {
    return guarded(err, [&] {
        JpegOutput encoded;
        std::string why;
        if (encode_jpeg(image->mat, quality, encoded, why)) return fail(err, 1, why);
        // libjpeg's buffer is malloc'ed, as the caller frees it.
        *out = encoded.bytes;
        *length = encoded.length;
        return 0;
    });
}

extern "C" int curate_image_encode_png(const curate_image *image, unsigned char **out, size_t *length, curate_error *err) {
    return guarded(err, [&] {
        std::vector<unsigned char> buffer;
        std::string why;
        if (!codecs::encode(".png", image->mat, buffer, {}, why)) return fail(err, 1, why);
        *out = static_cast<unsigned char *>(std::malloc(buffer.size()));
        if (!*out) return fail(err, 2, "out of memory");
        std::memcpy(*out, buffer.data(), buffer.size());
        *length = buffer.size();
        return 0;
    });
}

extern "C" void curate_buffer_free(unsigned char *buffer) { std::free(buffer); }

extern "C" int curate_image_phash(const curate_image *image, uint64_t *hash, curate_error *err) {
    return guarded(err, [&] {
        cv::Mat h;
        cv::img_hash::pHash(image->mat, h);
        if (h.total() != 8) return fail(err, 1, "pHash did not give 64 bits");
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | h.at<uchar>(0, i);
        *hash = v;
        return 0;
    });
}

extern "C" int curate_image_quality(const curate_image *image, int left, int top, int width, int height, curate_region_quality *out,
                                    curate_error *err) {
    return guarded(err, [&] {
        const cv::Rect region = cv::Rect(left, top, width, height) & cv::Rect(0, 0, image->mat.cols, image->mat.rows);
        if (region.area() < 9) return fail(err, 1, "the region to measure is empty");
        cv::Mat grey, laplacian;
        cv::cvtColor(image->mat(region), grey, cv::COLOR_BGR2GRAY);
        cv::Laplacian(grey, laplacian, CV_64F);
        cv::Scalar mean, deviation;
        cv::meanStdDev(laplacian, mean, deviation);
        out->sharpness = deviation[0] * deviation[0];
        out->brightness = cv::mean(grey)[0];
        const double pixels = static_cast<double>(grey.total());
        out->dark = cv::countNonZero(grey <= 10) / pixels;
        out->bright = cv::countNonZero(grey >= 245) / pixels;
        return 0;
    });
}

extern "C" int curate_image_draw_box(curate_image *image, int left, int top, int right, int bottom, int thickness,
                                     unsigned char b, unsigned char g, unsigned char r, const char *label, curate_error *err) {
    return guarded(err, [&] {
        cv::Scalar color(b, g, r);
        cv::rectangle(image->mat, cv::Point(left, top), cv::Point(right, bottom), color, thickness);
        if (label) {
            double scale = std::max(0.5, (right - left) / 120.0);
            int base = 0;
            cv::Size size = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &base);
            cv::Point origin(left, std::max(size.height + 2, top - 4));
            cv::rectangle(image->mat, origin + cv::Point(0, base), origin + cv::Point(size.width, -size.height - 2), color, cv::FILLED);
            cv::putText(image->mat, label, origin, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255, 255, 255), thickness);
        }
        return 0;
    });
}

// MARK: EXIF

static void copy_entry(ExifData *data, ExifIfd ifd, ExifTag tag, char *out, size_t size) {
    out[0] = 0;
    ExifEntry *entry = exif_content_get_entry(data->ifd[ifd], tag);
    if (!entry) return;
    exif_entry_get_value(entry, out, (unsigned int)size);
    out[size - 1] = 0;
}

extern "C" int curate_exif_read(const unsigned char *bytes, size_t length, curate_exif *out, int *found) {
    std::memset(out, 0, sizeof(*out));
    *found = 0;
    ExifData *data = exif_data_new_from_data(bytes, (unsigned int)length);
    if (!data) return 0;
    // exif_data_get_entry is a macro over the IFDs; ask IFD 0 and the EXIF IFD directly.
    ExifEntry *orientation = exif_content_get_entry(data->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    if (orientation && orientation->format == EXIF_FORMAT_SHORT && orientation->size >= 2) {
        int v = exif_get_short(orientation->data, exif_data_get_byte_order(data));
        if (v >= 1 && v <= 8) out->orientation = v;
    }
    copy_entry(data, EXIF_IFD_0, EXIF_TAG_MAKE, out->make, sizeof(out->make));
    copy_entry(data, EXIF_IFD_0, EXIF_TAG_MODEL, out->model, sizeof(out->model));
    copy_entry(data, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, out->datetime, sizeof(out->datetime));
    *found = 1;
    exif_data_unref(data);
    return 0;
}
