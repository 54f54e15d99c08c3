// dlib behind a C API: every C++ exception is caught here and returned as an error.
#include "face_bridge.h"

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include <dlfcn.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace dlib;

// dlib's face recognition ResNet (dnn_face_recognition_ex.cpp), the network of
// dlib_face_recognition_resnet_model_v1.dat.
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;
template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;
template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;
template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;
using anet_type = loss_metric<fc_no_bias<128, avg_pool_everything<
    alevel0<alevel1<alevel2<alevel3<alevel4<
    max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

// dlib's CNN face detector (dnn_mmod_face_detection_ex.cpp), the network of mmod_human_face_detector.dat.
template <long num_filters, typename SUBNET> using con5d = con<num_filters, 5, 5, 2, 2, SUBNET>;
template <long num_filters, typename SUBNET> using con5 = con<num_filters, 5, 5, 1, 1, SUBNET>;
template <typename SUBNET>
using downsampler = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16, SUBNET>>>>>>>>>;
template <typename SUBNET> using rcon5 = relu<affine<con5<45, SUBNET>>>;
using mmod_net_type = loss_mmod<con<1, 9, 9, 1, 1, rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<pyramid_down<6>>>>>>>>;

// get_frontal_face_detector() decompresses dlib's embedded detector with its entropy decoder: about a second of
// CPU, which every worker thread (and every process) would pay. It is made once per process, and kept in a plain
// serialized copy (read in milliseconds) at the cache path the first caller gives; each worker copies it.
static std::mutex detector_lock;
static std::unique_ptr<frontal_face_detector> detector_prototype;

static frontal_face_detector shared_detector(const char *cache_path) {
    std::lock_guard<std::mutex> guard(detector_lock);
    if (!detector_prototype) {
        auto detector = std::make_unique<frontal_face_detector>();
        bool cached = false;
        if (cache_path) {
            try {
                std::ifstream in(cache_path, std::ios::binary);
                if (in) { deserialize(*detector, in); cached = detector->num_detectors() > 0; }
            } catch (...) {
                cached = false;   // a damaged or foreign cache file is rebuilt below
            }
        }
        if (!cached) {
            *detector = get_frontal_face_detector();
            if (cache_path) {
                // Written whole under a temporary name, then renamed: a reader never sees half a file.
                std::string tmp = std::string(cache_path) + ".tmp" + std::to_string(::getpid());
                try {
                    {
                        std::ofstream out(tmp, std::ios::binary);
                        serialize(*detector, out);
                        out.close();
                        if (!out) throw std::runtime_error("write failed");
                    }
                    if (std::rename(tmp.c_str(), cache_path) != 0) std::remove(tmp.c_str());
                } catch (...) {
                    std::remove(tmp.c_str());   // no cache (read-only folder): only slower next time
                }
            }
        }
        detector_prototype = std::move(detector);
    }
    return *detector_prototype;
}

struct curate_face_models {
    frontal_face_detector detector;
    std::unique_ptr<shape_predictor> predictor;
    std::unique_ptr<anet_type> net;
    std::unique_ptr<mmod_net_type> cnn;
};

using curate::fail;
using curate::guarded;

// The caller's packed BGR rows seen as a dlib image, without a copy: the shape predictor and extract_image_chip
// read any image through dlib's generic image interface (bgr_pixel counts as colour, the same as an RGB copy);
// the HOG detector gets a grey copy (grey_of).
struct bgr_view {
    const unsigned char *data;
    long rows, cols;
    long stride;
};
namespace dlib {
template <> struct image_traits<bgr_view> { typedef bgr_pixel pixel_type; };
}
static long num_rows(const bgr_view &v) { return v.rows; }
static long num_columns(const bgr_view &v) { return v.cols; }
static long width_step(const bgr_view &v) { return v.stride; }
static const void *image_data(const bgr_view &v) { return v.data; }
static void *image_data(bgr_view &v) { return const_cast<unsigned char *>(v.data); }

static bgr_view view(const unsigned char *bgr, int width, int height, size_t stride) {
    return bgr_view{bgr, height, width, (long)stride};
}

// Luma of BGR pixels with OpenCV's weights and rounding (cvtColor's BGR2GRAY: 0.299 R + 0.587 G + 0.114 B in
// 14-bit fixed point).
static void grey_of(const bgr_view &img, matrix<unsigned char> &grey) {
    grey.set_size(img.rows, img.cols);
    for (long y = 0; y < img.rows; ++y) {
        const unsigned char *p = img.data + y * img.stride;
        unsigned char *out = &grey(y, 0);
        for (long x = 0; x < img.cols; ++x, p += 3)
            out[x] = (unsigned char)((p[0] * 1868u + p[1] * 9617u + p[2] * 4899u + 8192u) >> 14);
    }
}

extern "C" curate_face_models *curate_faces_open(const char *shape_path, const char *resnet_path,
                                                 const char *detector_cache_path, curate_error *err) {
    std::unique_ptr<curate_face_models> models;
    int rc = guarded(err, 1, "loading face models", [&] {
        models = std::make_unique<curate_face_models>();
        models->detector = shared_detector(detector_cache_path);
        if (shape_path) {
            models->predictor = std::make_unique<shape_predictor>();
            deserialize(shape_path) >> *models->predictor;
        }
        if (resnet_path) {
            models->net = std::make_unique<anet_type>();
            deserialize(resnet_path) >> *models->net;
        }
        return 0;
    });
    return rc == 0 ? models.release() : nullptr;
}

extern "C" void curate_faces_close(curate_face_models *models) { delete models; }
extern "C" int curate_faces_has_landmarks(const curate_face_models *m) { return m && m->predictor ? 1 : 0; }
extern "C" int curate_faces_has_descriptors(const curate_face_models *m) { return m && m->net ? 1 : 0; }

extern "C" int curate_faces_load_cnn(curate_face_models *models, const char *mmod_path, curate_error *err) {
    return guarded(err, 1, "loading the CNN face detector", [&] {
        auto net = std::make_unique<mmod_net_type>();
        deserialize(mmod_path) >> *net;
        models->cnn = std::move(net);
        return 0;
    });
}

extern "C" int curate_faces_has_cnn(const curate_face_models *m) { return m && m->cnn ? 1 : 0; }

extern "C" int curate_faces_detect(curate_face_models *models, const unsigned char *bgr, int width, int height,
                                   size_t stride, int upsample, int cnn, curate_face *faces, int capacity, int *count,
                                   double *landmark_seconds, curate_error *err) {
    return guarded(err, 2, "face detection", [&] {
        if (landmark_seconds) *landmark_seconds = 0;
        if (cnn && !models->cnn) return fail(err, 2, "face detection: the CNN detector is not loaded");
        const bgr_view original = view(bgr, width, height, stride);
        pyramid_down<2> pyr;
        // The CNN's input layer takes only an RGB matrix: it gets its own (upsampled) copy. The shape predictor
        // reads the colour image (or its upsampled copy, made only when there is a face to find landmarks of).
        matrix<rgb_pixel> up;
        auto upsampled = [&]() -> const matrix<rgb_pixel> & {
            if (up.size() == 0) {
                if (upsample > 0) {
                    pyramid_up(original, up, pyr);
                    for (int i = 1; i < upsample; ++i) pyramid_up(up, pyr);
                } else {
                    assign_image(up, original);
                }
            }
            return up;
        };
        std::vector<rect_detection> dets;
        if (cnn) {
            for (const mmod_rect &d : (*models->cnn)(upsampled())) dets.push_back(rect_detection{d.detection_confidence, 0, d.rect});
        } else {
            // The HOG detector runs on one grey channel: on colour, dlib's fHOG takes each pixel's strongest
            // gradient of the three channels, three times the work for its gradients and image pyramid. See
            // docs/process.md for what it changes.
            matrix<unsigned char> grey;
            grey_of(original, grey);
            for (int i = 0; i < upsample; ++i) pyramid_up(grey, pyr);
            models->detector(grey, dets, 0.0);
        }
        std::sort(dets.begin(), dets.end(), [](const rect_detection &a, const rect_detection &b) {
            return a.detection_confidence > b.detection_confidence;
        });
        int n = 0;
        for (const auto &d : dets) {
            if (n >= capacity) break;
            rectangle r = d.rect;
            full_object_detection shape;
            bool has_shape = false;
            if (models->predictor) {
                if (upsample > 0 || cnn) upsampled();
                auto started = std::chrono::steady_clock::now();
                shape = upsample > 0 || cnn ? (*models->predictor)(upsampled(), r) : (*models->predictor)(original, r);
                has_shape = shape.num_parts() == 5;
                if (landmark_seconds)
                    *landmark_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            }
            curate_face &f = faces[n++];
            std::memset(&f, 0, sizeof(f));
            drectangle down = drectangle(r);
            for (int i = 0; i < upsample; ++i) down = pyr.rect_down(down);
            f.left = down.left(); f.top = down.top(); f.right = down.right(); f.bottom = down.bottom();
            f.score = d.detection_confidence;
            if (has_shape) {
                for (unsigned long p = 0; p < 5; ++p) {
                    dpoint pt = shape.part(p);
                    for (int i = 0; i < upsample; ++i) pt = pyr.point_down(pt);
                    f.landmarks[2 * p] = pt.x();
                    f.landmarks[2 * p + 1] = pt.y();
                }
                f.has_landmarks = 1;
            }
        }
        *count = n;
        return 0;
    });
}

// Where dlib cuts a face's chip from: a face in the coordinates of an image whose top-left pixel is (ox, oy) of
// the whole image (the conversions to whole pixels happen before the shift, so a crop cuts the same chip).
static chip_details chip_details_of(const curate_face &face, int size, double padding, long ox, long oy) {
    rectangle box((long)face.left - ox, (long)face.top - oy, (long)face.right - ox, (long)face.bottom - oy);
    if (face.has_landmarks) {
        std::vector<point> parts;
        for (int p = 0; p < 5; ++p)
            parts.emplace_back((long)std::lround(face.landmarks[2 * p]) - ox, (long)std::lround(face.landmarks[2 * p + 1]) - oy);
        full_object_detection shape(box, parts);
        return get_face_chip_details(shape, size, padding);
    }
    // No landmarks: an axis-aligned square around the box with the same padding.
    drectangle r(box);
    double side = std::max(r.width(), r.height()) * (1 + 2 * padding);
    return chip_details(centered_drect(center(r), side, side), chip_dims(size, size));
}

extern "C" int curate_faces_chip_region(const curate_face *faces, int count, int size, double padding, int width, int height,
                                        int *left, int *top, int *right, int *bottom, curate_error *err) {
    return guarded(err, 3, "finding the chips' region", [&] {
        // extract_image_chips' own reckoning: the chip's rotated rectangle, grown by the border its image pyramid
        // needs (2 pixels, doubled and plus 2 for each level down), within the image.
        pyramid_down<2> pyr;
        const rectangle image(0, 0, width - 1, height - 1);
        rectangle all;
        for (int i = 0; i < count; ++i) {
            const chip_details d = chip_details_of(faces[i], size, padding, 0, 0);
            double grow = 2;
            drectangle rect = pyr.rect_down(d.rect);
            while (rect.area() > d.size()) {
                rect = pyr.rect_down(rect);
                grow = grow * 2 + 2;
            }
            drectangle rot;
            const dlib::vector<double, 2> c = center(d.rect);
            rot += rotate_point<double>(c, d.rect.tl_corner(), d.angle);
            rot += rotate_point<double>(c, d.rect.tr_corner(), d.angle);
            rot += rotate_point<double>(c, d.rect.bl_corner(), d.angle);
            rot += rotate_point<double>(c, d.rect.br_corner(), d.angle);
            // One pixel more each side than dlib's rounding can reach.
            all += grow_rect(rectangle(rot), (long)grow + 1).intersect(image);
        }
        *left = (int)all.left(); *top = (int)all.top(); *right = (int)all.right() + 1; *bottom = (int)all.bottom() + 1;
        if (all.is_empty()) *left = *top = *right = *bottom = 0;
        return 0;
    });
}

extern "C" int curate_faces_chips(curate_face_models *models, const unsigned char *bgr, int width, int height,
                                  size_t stride, int origin_x, int origin_y, const curate_face *faces, int count, int size,
                                  double padding, unsigned char *chips_bgr, float *descriptors, int *has_descriptors,
                                  curate_error *err) {
    return guarded(err, 3, "cutting face chips", [&] {
        *has_descriptors = 0;
        const bgr_view img = view(bgr, width, height, stride);
        std::vector<matrix<rgb_pixel>> chips(count);
        for (int i = 0; i < count; ++i) {
            const chip_details details = chip_details_of(faces[i], size, padding, origin_x, origin_y);
            extract_image_chip(img, details, chips[i]);
            unsigned char *out = chips_bgr + (size_t)i * size * size * 3;
            for (long y = 0; y < chips[i].nr(); ++y)
                for (long x = 0; x < chips[i].nc(); ++x) {
                    unsigned char *px = out + 3 * (y * size + x);
                    const rgb_pixel &c = chips[i](y, x);
                    px[0] = c.blue; px[1] = c.green; px[2] = c.red;
                }
        }
        if (descriptors && models->net && size == 150 && count > 0) {
            // One pass of the network over every chip (dlib batches them, 16 at a time by default).
            std::vector<matrix<float, 0, 1>> d = (*models->net)(chips);
            for (int i = 0; i < count; ++i)
                for (long k = 0; k < 128 && k < d[i].size(); ++k) descriptors[(size_t)i * 128 + k] = d[i](k);
            *has_descriptors = 1;
        }
        return 0;
    });
}

// MARK: BLAS

// dlib's ResNet spends its time in BLAS (sgemm). Debian's libblas.so.3 is an alternative: the reference BLAS
// (libblas3) or OpenBLAS when libopenblas0-pthread is installed. Which one is loaded is only known at run time,
// so OpenBLAS's own functions are looked up, not linked.
extern "C" void curate_faces_blas(curate_blas_info *info) {
    std::memset(info, 0, sizeof(*info));
    Dl_info where;
    void *sgemm = dlsym(RTLD_DEFAULT, "cblas_sgemm");
    if (sgemm && dladdr(sgemm, &where) && where.dli_fname) {
        char resolved[PATH_MAX];
        const char *path = realpath(where.dli_fname, resolved) ? resolved : where.dli_fname;
        std::strncpy(info->library, path, sizeof(info->library) - 1);
    }
    auto config = (char *(*)())dlsym(RTLD_DEFAULT, "openblas_get_config");
    auto threads = (int (*)())dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    if (config) {
        info->openblas = 1;
        std::strncpy(info->name, config(), sizeof(info->name) - 1);
    } else {
        std::strncpy(info->name, "reference BLAS", sizeof(info->name) - 1);
    }
    info->threads = threads ? threads() : 1;
}

extern "C" void curate_blas_core(char *name, int size) {
    if (size <= 0) return;
    name[0] = 0;
    auto core = (char *(*)())dlsym(RTLD_DEFAULT, "openblas_get_corename");
    if (core && core()) std::strncpy(name, core(), (size_t)size - 1), name[size - 1] = 0;
}

extern "C" void curate_cpu_read_features(curate_cpu_features *f) {
    std::memset(f, 0, sizeof(*f));
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    f->sse42 = (c >> 20) & 1;
    bool fma = (c >> 12) & 1, avx = (c >> 28) & 1, osxsave = (c >> 27) & 1;
    // The registers must be enabled by the OS too (XCR0): YMM state for AVX, and opmask/ZMM state for AVX-512.
    unsigned long long xcr0 = 0;
    if (osxsave) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((unsigned long long)hi << 32) | lo;
    }
    bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    f->avx = avx && ymm;
    f->fma = fma && f->avx;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f->avx2 = ((b >> 5) & 1) && f->avx;
        bool f512 = (b >> 16) & 1, dq = (b >> 17) & 1, cd = (b >> 28) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
        f->avx512 = f512 && dq && cd && bw && vl && zmm;
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f->avx512bf16 = ((a >> 5) & 1) && f->avx512;
    }
#endif
}

extern "C" int curate_blas_self_check(double tolerance, double *worst) {
    *worst = 0;
    // cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); row-major = 101,
    // no transpose = 111, transpose = 112.
    typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
    auto sgemm = (sgemm_t)dlsym(RTLD_DEFAULT, "cblas_sgemm");
    if (!sgemm) return 0;
    unsigned state = 12345;
    auto next = [&state]() { state = state * 1664525u + 1013904223u; return (float)((state >> 8) & 0xffff) / 32768.0f - 1.0f; };
    // Shapes that are not multiples of any kernel's block, one large enough to use the blocked path.
    const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 64, 64}, {150, 131, 257}};
    for (auto &shape : shapes) {
        int m = shape[0], n = shape[1], k = shape[2];
        for (int trans = 0; trans < 4; ++trans) {
            bool ta = trans & 1, tb = trans & 2;
            std::vector<float> A((size_t)m * k), B((size_t)k * n), C((size_t)m * n, 0.5f);
            for (auto &x : A) x = next();
            for (auto &x : B) x = next();
            // A is m x k (stored k x m when transposed), B is k x n (stored n x k when transposed).
            sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, 1.5f, A.data(), ta ? m : k, B.data(), tb ? k : n, 0.25f,
                  C.data(), n);
            for (int i = 0; i < m; ++i)
                for (int j = 0; j < n; ++j) {
                    double sum = 0, magnitude = 0;
                    for (int p = 0; p < k; ++p) {
                        double a = ta ? A[(size_t)p * m + i] : A[(size_t)i * k + p];
                        double b = tb ? B[(size_t)j * k + p] : B[(size_t)p * n + j];
                        sum += a * b;
                        magnitude += std::fabs(a * b);
                    }
                    double expected = 1.5 * sum + 0.25 * 0.5;
                    double error = std::fabs(C[(size_t)i * n + j] - expected) / (1.5 * magnitude + 0.125);
                    if (std::isnan(error)) { *worst = INFINITY; return 0; }
                    *worst = std::max(*worst, error);
                }
        }
    }
    return *worst <= tolerance ? 1 : 0;
}

extern "C" int curate_faces_blas_threads(int threads) {
    auto set = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (!set) return 0;
    set(threads);
    return 1;
}
