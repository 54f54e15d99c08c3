// dlib behind a C API: every C++ exception is caught here and returned as an error.
#include "face_bridge.h"
#include "fast_con.h"
#include "fast_layers.h"

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include <dlfcn.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
#include <iterator>
#include <limits>
#include <sstream>
#include <type_traits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace dlib;

// dlib's face recognition ResNet (dnn_face_recognition_ex.cpp), the network of
// dlib_face_recognition_resnet_model_v1.dat, its convolutions computed by fast_con (fast_con.h), its relu, affine,
// max pooling and residual sums by fast_layers.h.
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = fast_add_prev1<block<N, BN, 1, tag1<SUBNET>>>;
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = fast_add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;
template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<fast_con<N, 3, 3, 1, 1, fast_relu<BN<fast_con<N, 3, 3, stride, stride, SUBNET>>>>>;
template <int N, typename SUBNET> using ares = fast_relu<residual<block, N, fast_affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = fast_relu<residual_down<block, N, fast_affine, SUBNET>>;
template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;
using anet_type = loss_metric<fast_fc_no_bias<128, avg_pool_everything<
    alevel0<alevel1<alevel2<alevel3<alevel4<
    fast_max_pool<3, 3, 2, 2, fast_relu<fast_affine<fast_con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

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

// Writes `bytes` to `path` whole: under a temporary name of its own in the same folder (mkstemp: processes of a
// cluster sharing the folder never write the same one), then renamed, so a reader never sees half a file. False
// where it could not (a folder that cannot be written, a full disk): the caller only goes without the file.
static bool write_whole(const std::string &path, const std::string &bytes) {
    std::string tmp = path + ".tmp-XXXXXX";
    const int fd = ::mkstemp(&tmp[0]);
    if (fd < 0) return false;
    ::fchmod(fd, 0644);   // mkstemp's 0600 would keep it from the other users of a shared models folder
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    const bool written = ::close(fd) == 0 && done == bytes.size();
    if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return false;
    }
    return true;
}

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
                std::ostringstream out;
                serialize(*detector, out);
                write_whole(cache_path, out.str());   // without it (a read-only folder): only slower next time
            }
        }
        detector_prototype = std::move(detector);
    }
    return *detector_prototype;
}

// MARK: HOG scan

// dlib's frontal face detector is five filters of 10 x 10 cells over the 31 fHOG planes of each level of an image
// pyramid, each plane's filter split into one to four separable (row, then column) filters; those take about half
// of its time. dlib's float_spatially_filter_image_separable does them 8 columns at a time (simd8f, AVX); this is
// the same function 16 at a time on AVX-512: every output value is made of the same products, rounded the same
// (multiply, then add, into three partial sums over every third tap, joined as t + (t2 + t3); with 10 taps each
// sum starts at its first product, where dlib adds it to 0, see taps10), and the last
// columns of each row, which dlib does one at a time, 8 at a time the way its scalar loop compiles here; so the
// scores are dlib's to the bit. It loads each value once for several uses where dlib loads it again: the column
// pass makes six rows of outputs from the 15 rows of the row pass they read, and a plane's parts have their row
// passes two at a time (filter_plane). agrees_with_dlib checks it once a process before it is used;
// bench/verdicts.sh and HOGScanTests check it against dlib's own scan.
namespace hog_scan {
// Luma of a row of BGR pixels with OpenCV's weights and rounding (cvtColor's BGR2GRAY: 0.299 R + 0.587 G + 0.114 B
// in 14-bit fixed point).
static void grey_row_scalar(const unsigned char *p, unsigned char *out, long n) {
    for (long x = 0; x < n; ++x, p += 3) out[x] = (unsigned char)((p[0] * 1868u + p[1] * 9617u + p[2] * 4899u + 8192u) >> 14);
}
#if defined(__AVX512VBMI__)
// The same integer sums 16 pixels at a time: each pixel's three bytes spread into a 32-bit lane (VBMI's byte
// permute), multiplied and shifted as above.
static void grey_row(const unsigned char *p, unsigned char *out, long n) {
    alignas(64) unsigned char ib[64], ig[64], ir[64];
    for (int i = 0; i < 64; ++i) ib[i] = (unsigned char)(3 * (i / 4)), ig[i] = ib[i] + 1, ir[i] = ib[i] + 2;
    const __m512i b_at = _mm512_load_si512(ib), g_at = _mm512_load_si512(ig), r_at = _mm512_load_si512(ir);
    const __mmask64 lows = 0x1111111111111111ull;
    const __m512i wb = _mm512_set1_epi32(1868), wg = _mm512_set1_epi32(9617), wr = _mm512_set1_epi32(4899);
    const __m512i half = _mm512_set1_epi32(8192);
    for (long x = 0; x < n; x += 16, p += 48) {
        const long k = std::min<long>(16, n - x);
        const __mmask64 bytes = k == 16 ? 0xffffffffffffull : ((1ull << (3 * k)) - 1);
        const __m512i px = _mm512_maskz_loadu_epi8(bytes, p);
        const __m512i b = _mm512_maskz_permutexvar_epi8(lows, b_at, px);
        const __m512i g = _mm512_maskz_permutexvar_epi8(lows, g_at, px);
        const __m512i r = _mm512_maskz_permutexvar_epi8(lows, r_at, px);
        __m512i sum = _mm512_add_epi32(_mm512_mullo_epi32(b, wb), _mm512_mullo_epi32(g, wg));
        sum = _mm512_add_epi32(_mm512_add_epi32(sum, _mm512_mullo_epi32(r, wr)), half);
        _mm512_mask_cvtepi32_storeu_epi8(out + x, (__mmask16)((1u << k) - 1), _mm512_srli_epi32(sum, 14));
    }
}
#endif
#if defined(__AVX512F__)
struct v16 {
    typedef __m512 V;
    static V zero() { return _mm512_setzero_ps(); }
    static V load(const float *p) { return _mm512_loadu_ps(p); }
    static void store(float *p, V v) { _mm512_storeu_ps(p, v); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V set1(float f) { return _mm512_set1_ps(f); }
};
struct v8 {
    typedef __m256 V;
    static V zero() { return _mm256_setzero_ps(); }
    static V load(const float *p) { return _mm256_loadu_ps(p); }
    static void store(float *p, V v) { _mm256_storeu_ps(p, v); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V set1(float f) { return _mm256_set1_ps(f); }
};

// One vector of outputs: the taps f[0..n) over in[0], in[step], ..., in[(n-1) step], as dlib sums them.
template <typename O>
static inline typename O::V taps(const float *in, long step, const float *f, long n) {
    typename O::V t = O::zero(), t2 = O::zero(), t3 = O::zero();
    long k = 0;
    for (; k < n - 2; k += 3) {
        t = O::add(t, O::mul(O::load(in + k * step), O::set1(f[k])));
        t2 = O::add(t2, O::mul(O::load(in + (k + 1) * step), O::set1(f[k + 1])));
        t3 = O::add(t3, O::mul(O::load(in + (k + 2) * step), O::set1(f[k + 2])));
    }
    for (; k < n; ++k) t = O::add(t, O::mul(O::load(in + k * step), O::set1(f[k])));
    return O::add(t, O::add(t2, t3));
}

// The same for the detector's 10 taps, unrolled, the coefficients broadcast once a row. Where dlib starts each
// partial sum at 0 and adds its first product, the 10-tap sums here start at the product: three additions fewer.
// That changes one thing: a product of -0 (a feature of 0 times a negative coefficient) stays -0 where dlib's 0 + -0
// is +0. Adding a zero to a number gives that number, and -0 to a zero gives a zero, so every value after it is
// dlib's, or a zero where dlib's is +0 (dlib's zeros are all +0). The column pass adds each part's output to the
// saliency, which is then +0 or a number, or, for a plane's first part, to +0 (col_pass's put16): -0 + +0 is +0, so
// the saliency is dlib's to the bit again.
static inline __m512 taps10(const float *in, long step, const __m512 *f) {
    __m512 t = _mm512_mul_ps(_mm512_loadu_ps(in), f[0]);
    __m512 t2 = _mm512_mul_ps(_mm512_loadu_ps(in + step), f[1]);
    __m512 t3 = _mm512_mul_ps(_mm512_loadu_ps(in + 2 * step), f[2]);
    for (int k = 3; k < 9; k += 3) {
        t = _mm512_add_ps(t, _mm512_mul_ps(_mm512_loadu_ps(in + k * step), f[k]));
        t2 = _mm512_add_ps(t2, _mm512_mul_ps(_mm512_loadu_ps(in + (k + 1) * step), f[k + 1]));
        t3 = _mm512_add_ps(t3, _mm512_mul_ps(_mm512_loadu_ps(in + (k + 2) * step), f[k + 2]));
    }
    t = _mm512_add_ps(t, _mm512_mul_ps(_mm512_loadu_ps(in + 9 * step), f[9]));
    return _mm512_add_ps(t, _mm512_add_ps(t2, t3));
}

// Both passes below leave the columns from vend on to dlib's scalar loop: one fused multiply-add a tap (as it
// compiles here, -march=native contracting `temp += p * f`), 8 columns at once.
static inline __m256 scalar_loop(const float *in, long step, const float *f, long n, __mmask8 m) {
    __m256 temp = _mm256_setzero_ps();
    for (long k = 0; k < n; ++k) temp = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(m, in + k * step), _mm256_set1_ps(f[k]), temp);
    return temp;
}

// The row pass of one part into scratch row by row: columns [first_col, last_col) of each row, 16, then 8 at a
// time to vend (dlib's vector columns: whole blocks of 8 from first_col), then dlib's scalar loop.
static void row_pass(const array2d<float> &in, array2d<float> &scratch, const matrix<float, 0, 1> &row_filter, long from_col) {
    const long nr = in.nr(), nc = in.nc(), rn = row_filter.size();
    const float *rf = &row_filter(0);
    const long first_col = rn / 2, last_col = nc - ((rn - 1) / 2);
    const long vend = first_col + (last_col - first_col >= 8 ? (last_col - first_col) / 8 * 8 : 0);
    __m512 f[10];
    if (rn == 10) for (int k = 0; k < 10; ++k) f[k] = _mm512_set1_ps(rf[k]);
    for (long r = 0; r < nr; ++r) {
        const float *row = &in[r][0] - first_col;
        float *s = &scratch[r][0];
        long c = from_col;
        if (rn == 10)
            for (; c + 16 <= vend; c += 16) _mm512_storeu_ps(s + c, taps10(row + c, 1, f));
        for (; c + 16 <= vend; c += 16) v16::store(s + c, taps<v16>(row + c, 1, rf, rn));
        for (; c + 8 <= vend; c += 8) v8::store(s + c, taps<v8>(row + c, 1, rf, rn));
        if (c < last_col) {
            const __mmask8 m = (__mmask8)((1u << (last_col - c)) - 1);
            _mm256_mask_storeu_ps(s + c, m, scalar_loop(row + c, 1, rf, rn, m));
        }
    }
}

// The row pass of two parts of one plane with 10 taps, 16 columns at a time: each input vector is loaded once for
// both; each part's sums are taps10's.
static inline void taps10_two(const float *in, const __m512 *f, const __m512 *g, __m512 &a, __m512 &b) {
    __m512 x0 = _mm512_loadu_ps(in), x1 = _mm512_loadu_ps(in + 1), x2 = _mm512_loadu_ps(in + 2);
    __m512 t = _mm512_mul_ps(x0, f[0]), t2 = _mm512_mul_ps(x1, f[1]), t3 = _mm512_mul_ps(x2, f[2]);
    __m512 u = _mm512_mul_ps(x0, g[0]), u2 = _mm512_mul_ps(x1, g[1]), u3 = _mm512_mul_ps(x2, g[2]);
#pragma GCC unroll 2
    for (int k = 3; k < 9; k += 3) {
        x0 = _mm512_loadu_ps(in + k), x1 = _mm512_loadu_ps(in + k + 1), x2 = _mm512_loadu_ps(in + k + 2);
        t = _mm512_add_ps(t, _mm512_mul_ps(x0, f[k]));
        t2 = _mm512_add_ps(t2, _mm512_mul_ps(x1, f[k + 1]));
        t3 = _mm512_add_ps(t3, _mm512_mul_ps(x2, f[k + 2]));
        u = _mm512_add_ps(u, _mm512_mul_ps(x0, g[k]));
        u2 = _mm512_add_ps(u2, _mm512_mul_ps(x1, g[k + 1]));
        u3 = _mm512_add_ps(u3, _mm512_mul_ps(x2, g[k + 2]));
    }
    const __m512 x9 = _mm512_loadu_ps(in + 9);
    t = _mm512_add_ps(t, _mm512_mul_ps(x9, f[9]));
    u = _mm512_add_ps(u, _mm512_mul_ps(x9, g[9]));
    a = _mm512_add_ps(t, _mm512_add_ps(t2, t3));
    b = _mm512_add_ps(u, _mm512_add_ps(u2, u3));
}

// Six rows of the column pass's outputs with 10 taps, 16 columns: the 15 scratch rows they read are each loaded
// once, and each output's products summed as taps10 sums them.
constexpr int col_rows = 6;
static inline void taps10_rows(const float *top, long step, const __m512 *f, __m512 *out) {
    __m512 acc[col_rows][3];  // in registers: the loops are unrolled whole
#pragma GCC unroll 16
    for (int s = 0; s < col_rows + 9; ++s) {
        const __m512 x = _mm512_loadu_ps(top + s * step);
#pragma GCC unroll 8
        for (int q = 0; q < col_rows; ++q) {
            const int k = s - q;
            if (k < 0 || k > 9) continue;
            const __m512 p = _mm512_mul_ps(x, f[k]);
            acc[q][k % 3] = k < 3 ? p : _mm512_add_ps(acc[q][k % 3], p);
        }
    }
#pragma GCC unroll 8
    for (int q = 0; q < col_rows; ++q) out[q] = _mm512_add_ps(acc[q][0], _mm512_add_ps(acc[q][1], acc[q][2]));
}

// The column pass of one part from its scratch into out (added to it, or in place of it): rows [first_row,
// last_row), six at a time where there are 10 taps, the columns as the row pass does them.
static rectangle col_pass(const array2d<float> &scratch, array2d<float> &out, const matrix<float, 0, 1> &col_filter, long rn,
                          bool add_to) {
    const long nr = scratch.nr(), nc = scratch.nc(), cn = col_filter.size();
    const float *cf = &col_filter(0);
    out.set_size(nr, nc);
    const long first_row = cn / 2, first_col = rn / 2;
    const long last_row = nr - ((cn - 1) / 2), last_col = nc - ((rn - 1) / 2);
    const rectangle non_border(first_col, first_row, last_col - 1, last_row - 1);
    if (!add_to) zero_border_pixels(out, non_border);
    const long vend = first_col + (last_col - first_col >= 8 ? (last_col - first_col) / 8 * 8 : 0);
    // An output stored: added to the saliency, or to +0 (see taps10).
    auto put16 = [&](float *o, __m512 t) { _mm512_storeu_ps(o, _mm512_add_ps(t, add_to ? _mm512_loadu_ps(o) : _mm512_setzero_ps())); };
    // One row's columns from c on.
    auto rest_of_row = [&](long r, long c) {
        const float *top = &scratch[r - first_row][0];
        float *o = &out[r][0];
        for (; c + 16 <= vend; c += 16) put16(o + c, taps<v16>(top + c, nc, cf, cn));
        for (; c + 8 <= vend; c += 8) {
            const __m256 t = taps<v8>(top + c, nc, cf, cn);
            v8::store(o + c, add_to ? v8::add(t, v8::load(o + c)) : t);
        }
        if (c < last_col) {
            const __mmask8 m = (__mmask8)((1u << (last_col - c)) - 1);
            __m256 temp = scalar_loop(top + c, nc, cf, cn, m);
            if (add_to) temp = _mm256_add_ps(_mm256_maskz_loadu_ps(m, o + c), temp);
            _mm256_mask_storeu_ps(o + c, m, temp);
        }
    };
    long r = first_row;
    if (cn == 10) {
        __m512 f[10];
        for (int k = 0; k < 10; ++k) f[k] = _mm512_set1_ps(cf[k]);
        const long blocks_end = first_col + (vend - first_col) / 16 * 16;
        for (; r + col_rows <= last_row; r += col_rows) {
            const float *top = &scratch[r - first_row][0];
            for (long c = first_col; c < blocks_end; c += 16) {
                __m512 t[col_rows];
                taps10_rows(top + c, nc, f, t);
                for (int q = 0; q < col_rows; ++q) put16(&out[r + q][0] + c, t[q]);
            }
            for (int q = 0; q < col_rows; ++q) rest_of_row(r + q, blocks_end);
        }
        for (; r < last_row; ++r) {
            const float *top = &scratch[r - first_row][0];
            float *o = &out[r][0];
            long c = first_col;
            for (; c < blocks_end; c += 16) put16(o + c, taps10(top + c, nc, f));
            rest_of_row(r, c);
        }
    }
    for (; r < last_row; ++r) rest_of_row(r, first_col);
    return non_border;
}

static rectangle filter_separable(const array2d<float> &in, array2d<float> &out, const matrix<float, 0, 1> &row_filter,
                                  const matrix<float, 0, 1> &col_filter, array2d<float> &scratch, bool add_to) {
    if (in.size() == 0) { out.clear(); return rectangle(); }
    scratch.set_size(in.nr(), in.nc());
    row_pass(in, scratch, row_filter, row_filter.size() / 2);
    return col_pass(scratch, out, col_filter, row_filter.size(), add_to);
}

// filter_plane's way for two or more parts of 10 taps each: the row passes of two parts together (taps10_two), then
// each part's column pass in turn. Every output value is made of the same operations in the same order as part by
// part.
static rectangle filter_pairs(const array2d<float> &in, array2d<float> &out, const std::vector<matrix<float, 0, 1>> &row_filters,
                              const std::vector<matrix<float, 0, 1>> &col_filters, std::vector<array2d<float>> &scratches,
                              bool &started) {
    const size_t parts = row_filters.size();
    rectangle area;
    if (scratches.size() < parts) scratches.resize(parts);
    const long nr = in.nr(), nc = in.nc(), first_col = 5, last_col = nc - 4;
    const long vend = first_col + (last_col - first_col >= 8 ? (last_col - first_col) / 8 * 8 : 0);
    const long blocks_end = first_col + (vend - first_col) / 16 * 16;
    for (size_t j = 0; j < parts; ++j) scratches[j].set_size(nr, nc);
    for (size_t j = 0; j + 1 < parts; j += 2) {
        __m512 f[10], g[10];
        for (int k = 0; k < 10; ++k) f[k] = _mm512_set1_ps(row_filters[j](k)), g[k] = _mm512_set1_ps(row_filters[j + 1](k));
        for (long r = 0; r < nr; ++r) {
            const float *row = &in[r][0] - first_col;
            float *s = &scratches[j][r][0], *s2 = &scratches[j + 1][r][0];
            for (long c = first_col; c < blocks_end; c += 16) {
                __m512 a, b;
                taps10_two(row + c, f, g, a, b);
                _mm512_storeu_ps(s + c, a);
                _mm512_storeu_ps(s2 + c, b);
            }
        }
        // The columns from blocks_end on, a part at a time.
        row_pass(in, scratches[j], row_filters[j], blocks_end);
        row_pass(in, scratches[j + 1], row_filters[j + 1], blocks_end);
    }
    if (parts % 2) row_pass(in, scratches[parts - 1], row_filters[parts - 1], first_col);
    for (size_t j = 0; j < parts; ++j) {
        area = col_pass(scratches[j], out, col_filters[j], 10, started);
        started = true;
    }
    return area;
}

// dlib's impl_extract_fhog_features (fhog.h) for a grey image, its histogram loop 16 pixels at a time where dlib's
// does 8: each pixel's gradient and weights come from the same operations as dlib's simd8f code, its orientation bin
// is the one dlib's loop picks (found another way, below), and they are added into the cells' histograms in the same
// order (pixel by pixel, left to right); the pixels dlib leaves to its scalar loop are done by that loop, and the
// cells' normalisation is dlib's, 16 cells at a time; so every feature is dlib's to the bit. A pixel without gradient
// adds +0 to four bins, which changes nothing, and is skipped.
template <typename image_type>
static void fhog_grey(const image_type &img_, dlib::array<array2d<float>> &hog, int cell_size, int filter_rows_padding, int filter_cols_padding) {
    const_image_view<image_type> img(img_);
    using namespace dlib::impl_fhog;
    const float d0[9] = {1.0000f, 0.9397f, 0.7660f, 0.500f, 0.1736f, -0.1736f, -0.5000f, -0.7660f, -0.9397f};
    const float d1[9] = {0.0000f, 0.3420f, 0.6428f, 0.8660f, 0.9848f, 0.9848f, 0.8660f, 0.6428f, 0.3420f};
    matrix<float, 2, 1> directions[9];
    for (int o = 0; o < 9; ++o) directions[o] = d0[o], d1[o];
    const int cells_nr = (int)((float)img.nr() / (float)cell_size + 0.5);
    const int cells_nc = (int)((float)img.nc() / (float)cell_size + 0.5);
    if (cells_nr == 0 || cells_nc == 0) { hog.clear(); return; }
    const long hist_nc = cells_nc + 2;
    // The cells' histograms bin by bin (a plane of cells for each of the 18 bins), so that the normalisation below
    // reads 16 cells' values of a bin at once.
    const long plane = (cells_nr + 2) * hist_nc;
    std::vector<float> hist_store((size_t)plane * 18, 0.0f);
    float *hist = hist_store.data();
    auto P = [&](int bin, long r, long c) -> float & { return hist[bin * plane + r * hist_nc + c]; };
    array2d<float> norm(cells_nr, cells_nc);
    assign_all_pixels(norm, 0);
    const int hog_nr = std::max(cells_nr - 2, 0);
    const int hog_nc = std::max(cells_nc - 2, 0);
    if (hog_nr == 0 || hog_nc == 0) { hog.clear(); return; }
    const int padding_rows_offset = (filter_rows_padding - 1) / 2;
    const int padding_cols_offset = (filter_cols_padding - 1) / 2;
    init_hog(hog, hog_nr, hog_nc, filter_rows_padding, filter_cols_padding);
    const int visible_nr = std::min((long)cells_nr * cell_size, img.nr()) - 1;
    const int visible_nc = std::min((long)cells_nc * cell_size, img.nc()) - 1;
    // dlib's vector pixels: blocks of 8 from x = 1 while x < visible_nc - 7; the rest one at a time.
    int xend = 1;
    while (xend < visible_nc - 7) xend += 8;
    const __m512 lane = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // A row's pixels with a gradient, in order: where each adds (cell and bin) and its four weights.
    const long listed = img.nc() + 32;
    std::vector<int32_t> at_store((size_t)listed);
    std::vector<float> weights((size_t)4 * listed);
    int32_t *at = at_store.data();
    float *w11 = weights.data(), *w01 = w11 + listed, *w10 = w01 + listed, *w00 = w10 + listed;
    // Each column's cell and horizontal weights, the same in every row: made once, by the same operations.
    std::vector<int32_t> cell_store((size_t)listed);
    std::vector<float> across_store((size_t)2 * listed);
    int32_t *cell_of = cell_store.data();
    float *across0 = across_store.data(), *across1 = across0 + listed;
    for (int x = 1; x < xend; x += 16) {
        const __m512 xx = _mm512_add_ps(_mm512_set1_ps((float)x), lane);
        const __m512 xp = _mm512_add_ps(_mm512_div_ps(_mm512_add_ps(xx, _mm512_set1_ps(0.5f)), _mm512_set1_ps((float)cell_size)), _mm512_set1_ps(0.5f));
        const __m512i ixp = _mm512_cvttps_epi32(xp);
        const __m512 vx0 = _mm512_sub_ps(xp, _mm512_cvtepi32_ps(ixp));
        _mm512_storeu_si512(cell_of + x - 1, ixp);
        _mm512_storeu_ps(across0 + x - 1, vx0);
        _mm512_storeu_ps(across1 + x - 1, _mm512_sub_ps(_mm512_set1_ps(1.0f), vx0));
    }
    for (int y = 1; y < visible_nr; y++) {
        const float yp = ((float)y + 0.5) / (float)cell_size - 0.5;
        const int iyp = (int)std::floor(yp);
        const float vy0 = yp - iyp;
        const float vy1 = 1.0 - vy0;
        const unsigned char *row = &img[y][0], *above = &img[y - 1][0], *below = &img[y + 1][0];
        float *h0 = hist + (iyp + 1) * hist_nc, *h1 = h0 + hist_nc;
        int x = 1;
        long n = 0;
        for (; x < xend; x += 16) {
            const int lanes = xend - x >= 16 ? 16 : 8;
            __m128i l, r, t, b;
            if (lanes == 16) {
                l = _mm_loadu_si128((const __m128i *)(row + x - 1)); r = _mm_loadu_si128((const __m128i *)(row + x + 1));
                t = _mm_loadu_si128((const __m128i *)(above + x)); b = _mm_loadu_si128((const __m128i *)(below + x));
            } else {
                l = _mm_loadl_epi64((const __m128i *)(row + x - 1)); r = _mm_loadl_epi64((const __m128i *)(row + x + 1));
                t = _mm_loadl_epi64((const __m128i *)(above + x)); b = _mm_loadl_epi64((const __m128i *)(below + x));
            }
            const __m512 gx = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(r), _mm512_cvtepu8_epi32(l)));
            const __m512 gy = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(b), _mm512_cvtepu8_epi32(t)));
            __m512 v = _mm512_add_ps(_mm512_mul_ps(gx, gx), _mm512_mul_ps(gy, gy));
            const __m512i ixp = _mm512_loadu_si512(cell_of + x - 1);
            __m512 vx0 = _mm512_loadu_ps(across0 + x - 1), vx1 = _mm512_loadu_ps(across1 + x - 1);
            v = _mm512_sqrt_ps(v);
            // dlib's bin: its loop keeps the first of dot_0, -dot_0, dot_1, -dot_1, ... that is larger than all before
            // it and than 0, which is the first o whose |dot_o| is the largest (if that is above 0), o where dot_o > 0
            // and o + 9 where it is below. Found from the largest |dot| (a tree of maxima), not a chain of 18
            // compares each waiting for the one before.
            __m512 mag[9];
            __mmask16 positive[9];
            for (int o = 0; o < 9; o++) {
                const __m512 dot = _mm512_add_ps(_mm512_mul_ps(gx, _mm512_set1_ps(d0[o])), _mm512_mul_ps(gy, _mm512_set1_ps(d1[o])));
                positive[o] = _mm512_cmp_ps_mask(dot, _mm512_setzero_ps(), _CMP_GT_OQ);
                mag[o] = _mm512_abs_ps(dot);
            }
            const __m512 top = _mm512_max_ps(_mm512_max_ps(_mm512_max_ps(mag[0], mag[1]), _mm512_max_ps(mag[2], mag[3])),
                                             _mm512_max_ps(_mm512_max_ps(mag[4], mag[5]), _mm512_max_ps(_mm512_max_ps(mag[6], mag[7]), mag[8])));
            const __mmask16 any = _mm512_cmp_ps_mask(top, _mm512_setzero_ps(), _CMP_GT_OQ);
            __m512i bin = _mm512_setzero_si512();
            for (int o = 8; o >= 0; o--) {
                const __mmask16 at = _mm512_mask_cmp_ps_mask(any, mag[o], top, _CMP_EQ_OQ);
                bin = _mm512_mask_mov_epi32(bin, at, _mm512_mask_blend_epi32(positive[o], _mm512_set1_epi32(o + 9), _mm512_set1_epi32(o)));
            }
            vx1 = _mm512_mul_ps(vx1, v);
            vx0 = _mm512_mul_ps(vx0, v);
            // A pixel with no gradient adds +0 to four bins, which changes nothing: left out of the list.
            const __mmask16 live = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ) & (__mmask16)((1u << lanes) - 1);
            const __m512i where = _mm512_add_epi32(_mm512_mullo_epi32(bin, _mm512_set1_epi32((int)plane)), ixp);
            _mm512_storeu_si512(at + n, _mm512_maskz_compress_epi32(live, where));
            _mm512_storeu_ps(w11 + n, _mm512_maskz_compress_ps(live, _mm512_mul_ps(_mm512_set1_ps(vy1), vx1)));
            _mm512_storeu_ps(w01 + n, _mm512_maskz_compress_ps(live, _mm512_mul_ps(_mm512_set1_ps(vy0), vx1)));
            _mm512_storeu_ps(w10 + n, _mm512_maskz_compress_ps(live, _mm512_mul_ps(_mm512_set1_ps(vy1), vx0)));
            _mm512_storeu_ps(w00 + n, _mm512_maskz_compress_ps(live, _mm512_mul_ps(_mm512_set1_ps(vy0), vx0)));
            n += __builtin_popcount(live);
        }
        // The histogram adds, pixel by pixel in dlib's order, from the list: one loop whose trip count is known, no
        // branch a pixel and no reads of a vector just stored.
        for (long k = 0; k < n; ++k) {
            const long a = at[k];
            h0[a] += w11[k];
            h1[a] += w01[k];
            h0[a + 1] += w10[k];
            h1[a + 1] += w00[k];
        }

        x = xend;
        for (; x < visible_nc; x++) {
            matrix<float, 2, 1> grad;
            float v;
            get_gradient(y, x, img, grad, v);
            float best_dot = 0;
            int best_o = 0;
            for (int o = 0; o < 9; o++) {
                const float dot = dlib::dot(directions[o], grad);
                if (dot > best_dot) {
                    best_dot = dot;
                    best_o = o;
                } else if (-dot > best_dot) {
                    best_dot = -dot;
                    best_o = o + 9;
                }
            }
            v = std::sqrt(v);
            const float xp = ((double)x + 0.5) / (double)cell_size - 0.5;
            const int ixp = (int)std::floor(xp);
            const float vx0 = xp - ixp;
            const float vx1 = 1.0 - vx0;
            P(best_o, iyp + 1, ixp + 1) += vy1 * vx1 * v;
            P(best_o, iyp + 1 + 1, ixp + 1) += vy0 * vx1 * v;
            P(best_o, iyp + 1, ixp + 1 + 1) += vy1 * vx0 * v;
            P(best_o, iyp + 1 + 1, ixp + 1 + 1) += vy0 * vx0 * v;
        }
    }
    for (int r = 0; r < cells_nr; ++r) {
        float *n = &norm[r][0];
        for (int o = 0; o < 9; o++) {
            const float *a = &P(o, r + 1, 1), *b = &P(o + 9, r + 1, 1);
            for (int c = 0; c < cells_nc; ++c) n[c] += (a[c] + b[c]) * (a[c] + b[c]);
        }
    }
    // dlib's normalisation 16 cells at a time. dlib holds a cell's four blocks' norms in the four lanes of a simd4f
    // and sums each feature's four lanes with SSE4.1's dpps, (l0 + l1) + (l2 + l3); here each block is a vector of
    // 16 cells, with the same operations in the same order.
    const float eps = 0.0001;
    const __m512 fifth = _mm512_set1_ps(0.2f), tenth = _mm512_set1_ps(0.1f), texture = _mm512_set1_ps((float)(2 * 0.2357));
    for (int y = 0; y < hog_nr; y++) {
        const int yy = y + padding_rows_offset;
        const float *n0 = &norm[y][0], *n1 = &norm[y + 1][0], *n2 = &norm[y + 2][0];
        for (int x = 0; x < hog_nc; x += 16) {
            const __mmask16 m = hog_nc - x >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (hog_nc - x)) - 1);
            auto at = [&](const float *row, int dx) { return _mm512_maskz_loadu_ps(m, row + x + dx); };
            // The four blocks' (z1, z2, z3, z4), as dlib's lanes 0 to 3.
            const __m512 z[4][4] = {{at(n1, 1), at(n1, 2), at(n2, 1), at(n2, 2)},
                                    {at(n0, 1), at(n0, 2), at(n1, 1), at(n1, 2)},
                                    {at(n1, 0), at(n1, 1), at(n2, 0), at(n2, 1)},
                                    {at(n0, 0), at(n0, 1), at(n1, 0), at(n1, 1)}};
            __m512 nn[4], inv[4], t[4];
            for (int l = 0; l < 4; ++l) {
                const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(z[l][0], z[l][1]), z[l][2]), z[l][3]), _mm512_set1_ps(eps));
                nn[l] = _mm512_mul_ps(fifth, _mm512_sqrt_ps(s));
                inv[l] = _mm512_div_ps(tenth, nn[l]);
                t[l] = _mm512_setzero_ps();
            }
            const int xx = x + padding_cols_offset;
            const float *h = &P(0, y + 2, x + 2);
            // One feature of the 16 cells from their values v: the four blocks' min(v, nn) * inv, summed as dpps does.
            auto feature = [&](__m512 v, __m512 q[4], int f) {
                for (int l = 0; l < 4; ++l) {
                    const __m512 lo = _mm512_min_ps(v, nn[l]);
                    q[l] = _mm512_mul_ps(lo, inv[l]);
                }
                const __m512 front = _mm512_add_ps(q[0], q[1]), back = _mm512_add_ps(q[2], q[3]);
                _mm512_mask_storeu_ps(&hog[f][yy][xx], m, _mm512_add_ps(front, back));
            };
            for (int o = 0; o < 18; o += 3) {
                __m512 q0[4], q1[4], q2[4];
                feature(_mm512_maskz_loadu_ps(m, h + o * plane), q0, o);
                feature(_mm512_maskz_loadu_ps(m, h + (o + 1) * plane), q1, o + 1);
                feature(_mm512_maskz_loadu_ps(m, h + (o + 2) * plane), q2, o + 2);
                for (int l = 0; l < 4; ++l) t[l] = _mm512_add_ps(t[l], _mm512_add_ps(_mm512_add_ps(q0[l], q1[l]), q2[l]));
            }
            for (int o = 0; o < 9; ++o) {
                __m512 q[4];
                feature(_mm512_add_ps(_mm512_maskz_loadu_ps(m, h + o * plane), _mm512_maskz_loadu_ps(m, h + (o + 9) * plane)), q, o + 18);
            }
            for (int l = 0; l < 4; ++l) _mm512_mask_storeu_ps(&hog[27 + l][yy][xx], m, _mm512_mul_ps(t[l], texture));
        }
    }
}

// pyramid_down<6> of a grey image (dlib's resize_image with interpolate_bilinear, its simd4f loop for unsigned char)
// 16 columns at a time where dlib does 4. dlib's column positions are the same on every row: they are worked out once
// a level, lane by lane as its simd4f accumulates them (its four starting positions, each advanced by 4 x_scale in
// float), with its truncation and weights; each output value is then dlib's four products, summed in dlib's order
// and rounded as dlib rounds (value + 0.5, truncated). The 16 columns' pixels lie within 64 bytes of a row (about
// 20 at this scale), picked out with VBMI's byte permute. The columns after dlib's vector loop are its scalar loop,
// copied. agrees_with_dlib checks the result against dlib's pyr() to the bit. Returns false (and does nothing) where
// 16 columns would span more than 64 bytes, which pyramid_down<6> does not do.
#if defined(__AVX512VBMI__)
template <typename image_type>
static bool pyramid_down6(const image_type &in_, array2d<unsigned char> &out_) {
    const_image_view<image_type> in(in_);
    const long in_nc = in.nc(), in_nr = in.nr();
    const long out_nr = ((6 - 1) * in_nr) / 6 + 0.5, out_nc = ((6 - 1) * in_nc) / 6 + 0.5;
    const double x_scale = (in_nc - 1) / (double)std::max<long>((out_nc - 1), 1);
    const double y_scale = (in_nr - 1) / (double)std::max<long>((out_nr - 1), 1);
    // dlib's vector columns [0, vend): its simd4f lanes, advanced 4 x_scale at a time, until a group of four would
    // read past the row.
    std::vector<int32_t> left((size_t)out_nc + 16);
    std::vector<float> frac((size_t)out_nc + 16), inv_frac((size_t)out_nc + 16);
    long vend = 0;
    if (out_nr > 0 && out_nc > 0) {
        const double x = -4 * x_scale;
        float lanes[4] = {(float)x, (float)(x + x_scale), (float)(x + 2 * x_scale), (float)(x + 3 * x_scale)};
        const float step = (float)(4 * x_scale);
        for (long c = 0;; c += 4) {
            int32_t l[4];
            for (int j = 0; j < 4; ++j) lanes[j] += step, l[j] = (int32_t)lanes[j];
            if (l[3] + 1 >= in_nc || c + 4 > out_nc + 16) break;
            for (int j = 0; j < 4; ++j) {
                left[c + j] = l[j];
                frac[c + j] = lanes[j] - (float)l[j];
                inv_frac[c + j] = 1 - frac[c + j];
            }
            vend = c + 4;
        }
        // dlib's loop writes whole groups of four and stops only by its reads, which stop it inside the row.
        vend = std::min(vend, out_nc);
    }
    // Each 16 columns: the row offset of its first pixel, and where each column's left and right pixels are in the
    // 64 bytes from there (the low byte of each 32-bit lane).
    const long groups = (vend + 15) / 16;
    std::vector<int32_t> base((size_t)groups);
    std::vector<__m512i> at_left((size_t)groups), at_right((size_t)groups);
    for (long g = 0; g < groups; ++g) {
        alignas(64) unsigned char l[64] = {0}, r[64] = {0};
        base[g] = left[16 * g];
        for (long j = 0; j < 16 && 16 * g + j < vend; ++j) {
            const long offset = left[16 * g + j] - base[g];
            if (offset < 0 || offset + 1 >= 64) return false;
            l[4 * j] = (unsigned char)offset;
            r[4 * j] = (unsigned char)(offset + 1);
        }
        at_left[g] = _mm512_load_si512(l);
        at_right[g] = _mm512_load_si512(r);
    }
    out_.set_size(out_nr, out_nc);
    image_view<array2d<unsigned char>> out(out_);
    if (out.size() == 0 || in.size() == 0) return true;
    const __mmask64 lows = 0x1111111111111111ull;
    double y = -y_scale;
    for (long r = 0; r < out_nr; ++r) {
        y += y_scale;
        const long top = static_cast<long>(std::floor(y));
        const long bottom = std::min(top + 1, in_nr - 1);
        const double tb_frac = y - top;
        const __m512 tb = _mm512_set1_ps((float)tb_frac), inv_tb = _mm512_set1_ps((float)(1 - tb_frac));
        const unsigned char *t = &in[top][0], *b = &in[bottom][0];
        unsigned char *o = &out[r][0];
        for (long g = 0; g < groups; ++g) {
            const long c = 16 * g;
            const __mmask16 m = vend - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (vend - c)) - 1);
            const long bytes = in_nc - base[g];
            const __mmask64 within = bytes >= 64 ? ~0ull : ((1ull << bytes) - 1);
            const __m512i wt = _mm512_maskz_loadu_epi8(within, t + base[g]), wb = _mm512_maskz_loadu_epi8(within, b + base[g]);
            const __m512 tl = _mm512_cvtepi32_ps(_mm512_maskz_permutexvar_epi8(lows, at_left[g], wt));
            const __m512 tr = _mm512_cvtepi32_ps(_mm512_maskz_permutexvar_epi8(lows, at_right[g], wt));
            const __m512 bl = _mm512_cvtepi32_ps(_mm512_maskz_permutexvar_epi8(lows, at_left[g], wb));
            const __m512 br = _mm512_cvtepi32_ps(_mm512_maskz_permutexvar_epi8(lows, at_right[g], wb));
            const __m512 lr = _mm512_loadu_ps(&frac[c]), inv_lr = _mm512_loadu_ps(&inv_frac[c]);
            const __m512 tlf = _mm512_mul_ps(inv_tb, inv_lr), trf = _mm512_mul_ps(inv_tb, lr);
            const __m512 blf = _mm512_mul_ps(tb, inv_lr), brf = _mm512_mul_ps(tb, lr);
            __m512 v = _mm512_add_ps(_mm512_mul_ps(tlf, tl), _mm512_mul_ps(trf, tr));
            v = _mm512_add_ps(v, _mm512_mul_ps(blf, bl));
            v = _mm512_add_ps(v, _mm512_mul_ps(brf, br));
            // static_cast<unsigned char>(v + 0.5), v + 0.5 exact in double: the whole part, plus one where the
            // fraction is at least a half (the fraction v - trunc(v) is exact in float).
            const __m512i whole = _mm512_cvttps_epi32(v);
            const __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(v, _mm512_cvtepi32_ps(whole)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
            _mm512_mask_cvtepi32_storeu_epi8(o + c, m, _mm512_mask_add_epi32(whole, up, whole, _mm512_set1_epi32(1)));
        }
        // dlib's scalar loop over the rest of the row, as it is written there.
        double x = -x_scale + vend * x_scale;
        for (long c = vend; c < out_nc; ++c) {
            x += x_scale;
            const long left = static_cast<long>(std::floor(x));
            const long right = std::min(left + 1, in_nc - 1);
            const float lr_frac = x - left;
            float tl = 0, tr = 0, bl = 0, br = 0;
            assign_pixel(tl, in[top][left]);
            assign_pixel(tr, in[top][right]);
            assign_pixel(bl, in[bottom][left]);
            assign_pixel(br, in[bottom][right]);
            float temp = (1 - tb_frac) * ((1 - lr_frac) * tl + lr_frac * tr) + tb_frac * ((1 - lr_frac) * bl + lr_frac * br);
            assign_pixel(out[r][c], temp);
        }
    }
    return true;
}
#endif

// The scan is used only where it gives dlib's values to the bit here, checked once a process on made-up planes and
// images of every width modulo 16 (the last columns of each row are dlib's scalar loops, whose `temp += p * f` this
// compiler contracts to one fused multiply-add, as filter_separable does them).
static bool agrees_with_dlib() {
    unsigned state = 2463534242u;
    auto next = [&state]() { state ^= state << 13; state ^= state >> 17; state ^= state << 5; return state; };
    auto value = [&]() { return (float)(next() % 20001) / 10000.0f - 1.0f; };
    // The filters: every width modulo 16 and heights of 1 to 13 rows of outputs (the column pass does six at a time),
    // one part alone and a plane's two to four parts together.
    std::vector<array2d<float>> scratches;
    for (long nc = 10; nc < 42; ++nc)
        for (int add = 0; add < 2; ++add) {
            const long nr = 10 + nc % 13, parts = add ? 2 + nc % 3 : 1;
            array2d<float> in(nr, nc), ours, theirs, scratch;
            std::vector<matrix<float, 0, 1>> rows(parts), cols(parts);
            // Half of them with a flat area (features of 0, as fHOG gives a flat part of an image), the row filters
            // negative and the column filters positive, so that products of -0 come out of both passes (see taps10).
            const bool flat = nc % 4 < 2;
            for (long r = 0; r < nr; ++r)
                for (long c = 0; c < nc; ++c) in[r][c] = flat && c < 16 ? 0.0f : value();
            for (long j = 0; j < parts; ++j) {
                rows[j].set_size(10), cols[j].set_size(10);
                for (long k = 0; k < 10; ++k) {
                    rows[j](k) = flat ? -0.01f - std::fabs(value()) : value();
                    cols[j](k) = flat ? 0.01f + std::fabs(value()) : value();
                }
            }
            const bool started = nc % 2;
            if (started) {
                ours.set_size(nr, nc);
                theirs.set_size(nr, nc);
                for (long r = 0; r < nr; ++r)
                    for (long c = 0; c < nc; ++c) ours[r][c] = theirs[r][c] = value();
            }
            rectangle theirs_area;
            for (long j = 0; j < parts; ++j)
                theirs_area = float_spatially_filter_image_separable(in, theirs, rows[j], cols[j], scratch, started || j > 0);
            bool ours_started = started;
            const rectangle ours_area = parts == 1 ? filter_separable(in, ours, rows[0], cols[0], scratch, started)
                                                   : filter_pairs(in, ours, rows, cols, scratches, ours_started);
            if (ours_area != theirs_area) return false;
            if (std::memcmp(&ours[0][0], &theirs[0][0], sizeof(float) * nr * nc) != 0) return false;
        }
    // fHOG: widths 40 to 55 (every row's pixels modulo 16) and two whose rows are more than 16 cells of features.
    std::vector<long> widths;
    for (long nc = 40; nc < 56; ++nc) widths.push_back(nc);
    widths.push_back(163);
    widths.push_back(210);
    for (long nc : widths) {
        array2d<unsigned char> img(41, nc);
        for (long r = 0; r < img.nr(); ++r)
            for (long c = 0; c < nc; ++c) img[r][c] = (unsigned char)(next() % 4 ? next() % 256 : 128);
        dlib::array<array2d<float>> ours, theirs;
        fhog_grey(img, ours, 8, 10, 10);
        extract_fhog_features(img, theirs, 8, 10, 10);
        if (ours.size() != theirs.size()) return false;
        for (unsigned long p = 0; p < ours.size(); ++p)
            if (ours[p].nr() != theirs[p].nr() || ours[p].nc() != theirs[p].nc() ||
                (ours[p].size() && std::memcmp(&ours[p][0][0], &theirs[p][0][0], sizeof(float) * ours[p].size()) != 0))
                return false;
    }
#if defined(__AVX512VBMI__)
    // The pyramid's levels, on images of every width and height from 1 to 40 (and two 1,333 and 2,000 pixels wide),
    // their pixels often at 0 and 255.
    pyramid_down<6> pyr;
    auto same_level = [&](long nr, long nc) {
        array2d<unsigned char> img(nr, nc), ours, theirs;
        for (long r = 0; r < nr; ++r)
            for (long c = 0; c < nc; ++c) img[r][c] = (unsigned char)(next() % 3 ? next() % 256 : next() % 2 * 255);
        if (!pyramid_down6(img, ours)) pyr(img, ours);
        pyr(img, theirs);
        return ours.nr() == theirs.nr() && ours.nc() == theirs.nc() &&
               (ours.size() == 0 || std::memcmp(&ours[0][0], &theirs[0][0], ours.size()) == 0);
    };
    for (long nr = 1; nr <= 40; ++nr)
        for (long nc = 1; nc <= 40; ++nc)
            if (!same_level(nr, nc)) return false;
    if (!same_level(13, 2000) || !same_level(40, 1333)) return false;
    // The grey copy: every row length from 0 to 40.
    for (long n = 0; n <= 40; ++n) {
        std::vector<unsigned char> bgr(3 * n), ours(n + 1, 7), theirs(n + 1, 7);
        for (auto &b : bgr) b = (unsigned char)(next() % 4 ? next() % 256 : 255);
        grey_row(bgr.data(), ours.data(), n);
        grey_row_scalar(bgr.data(), theirs.data(), n);
        if (ours != theirs) return false;
    }
#endif
    return true;
}
#else
// Without AVX-512, dlib's own.
static rectangle filter_separable(const array2d<float> &in, array2d<float> &out, const matrix<float, 0, 1> &row_filter,
                                  const matrix<float, 0, 1> &col_filter, array2d<float> &scratch, bool add_to) {
    return float_spatially_filter_image_separable(in, out, row_filter, col_filter, scratch, add_to);
}
#endif

// One plane's parts, as scan_fhog_pyramid applies them: filter_separable for each part in turn, into out, added to it
// once `started`; on AVX-512, two or more parts of 10 taps (dlib's filters' parts) by filter_pairs.
static rectangle filter_plane(const array2d<float> &in, array2d<float> &out, const std::vector<matrix<float, 0, 1>> &row_filters,
                              const std::vector<matrix<float, 0, 1>> &col_filters, std::vector<array2d<float>> &scratches,
                              bool &started) {
#if defined(__AVX512F__)
    bool tens = in.size() != 0 && row_filters.size() >= 2;
    for (const auto &f : row_filters) tens = tens && f.size() == 10;
    if (tens) return filter_pairs(in, out, row_filters, col_filters, scratches, started);
#endif
    rectangle area;
    if (scratches.empty()) scratches.resize(1);
    for (size_t j = 0; j < row_filters.size(); ++j) {
        area = filter_separable(in, out, row_filters[j], col_filters[j], scratches[0], started);
        started = out.size() != 0;
    }
    return area;
}


// scan_fhog_pyramid's create_fhog_pyramid with fhog_grey for the features of each level.
template <typename image_type>
static void fhog_pyramid(const image_type &img, array<array<array2d<float>>> &feats, int cell_size, int rows_padding,
                         int cols_padding, unsigned long min_width, unsigned long min_height, unsigned long max_levels) {
    auto features = [&](const auto &level, array<array2d<float>> &out) {
#if defined(__AVX512F__)
        if (cell_size > 1) return fhog_grey(level, out, cell_size, rows_padding, cols_padding);
#endif
        extract_fhog_features(level, out, cell_size, rows_padding, cols_padding);
    };
    unsigned long levels = 0;
    rectangle rect = get_rect(img);
    pyramid_down<6> pyr;
    do {
        rect = pyr.rect_down(rect);
        ++levels;
    } while (rect.width() >= min_width && rect.height() >= min_height && levels < max_levels);
    if (feats.max_size() < levels) feats.set_max_size(levels);
    feats.set_size(levels);
    auto down = [&](const auto &from, array2d<unsigned char> &to) {
#if defined(__AVX512VBMI__)
        if (pyramid_down6(from, to)) return;
#endif
        pyr(from, to);
    };
    features(img, feats[0]);
    if (feats.size() > 1) {
        array2d<unsigned char> temp1, temp2;
        down(img, temp1);
        features(temp1, feats[1]);
        swap(temp1, temp2);
        for (unsigned long i = 2; i < feats.size(); ++i) {
            down(temp2, temp1);
            features(temp1, feats[i]);
            swap(temp1, temp2);
        }
    }
}

typedef scan_fhog_pyramid<pyramid_down<6>> scanner_type;

// What object_detector<scanner_type>::operator() needs, made once: each filter's separable parts and threshold.
struct detector {
    frontal_face_detector dlib;
    std::vector<scanner_type::fhog_filterbank> banks;
    std::vector<double> thresholds;
    unsigned long window_width = 0, window_height = 0;

    explicit detector(const frontal_face_detector &d) : dlib(d) {
        const scanner_type &sc = d.get_scanner();
        for (unsigned long i = 0; i < d.num_detectors(); ++i) {
            banks.push_back(sc.build_fhog_filterbank(d.get_w(i)));
            thresholds.push_back(d.get_w(i)(sc.get_num_dimensions()));
        }
        // scan_fhog_pyramid::compute_fhog_window_size
        const rectangle rect = centered_rect(point(0, 0), sc.get_detection_window_width(), sc.get_detection_window_height());
        const rectangle cells = grow_rect(sc.get_feature_extractor().image_to_feats(rect, sc.get_cell_size(), 1, 1), sc.get_padding());
        window_width = cells.width();
        window_height = cells.height();
        // apply_filters_to_fhog runs whole (not separable) filters where they would be cheaper: not for the frontal
        // face detector, whose filters have one to four separable parts a plane; for any other, dlib's scan.
        for (const auto &w : banks)
            if (w.num_separable_filters() > w.filters.size() * std::min(w.filters[0].nr(), w.filters[0].nc()) / 3.0) whole = true;
#if defined(__AVX512F__)
        static const bool agrees = agrees_with_dlib();
        if (!agrees) whole = true;
#else
        whole = true;
#endif
    }
    // Whether dlib's own object_detector scans instead (no AVX-512, or the check above failed).
    bool whole = false;

    // object_detector::operator()(img, dets, 0): scan_fhog_pyramid's feature pyramid and scan (apply_filters_to_fhog
    // and detect_from_fhog_pyramid, with filter_separable), then its non-maximum suppression, step for step.
    void operator()(const matrix<unsigned char> &img, std::vector<rect_detection> &final_dets) {
        if (whole) return dlib(img, final_dets, 0.0);
        const scanner_type &sc = dlib.get_scanner();
        const int cell_size = sc.get_cell_size();
        array<array<array2d<float>>> feats;
        fhog_pyramid(img, feats, cell_size, window_height, window_width, sc.get_min_pyramid_layer_width(),
                     sc.get_min_pyramid_layer_height(), sc.get_max_pyramid_levels());
        const unsigned long box_height = window_height - 2 * sc.get_padding(), box_width = window_width - 2 * sc.get_padding();
        pyramid_down<6> pyr;
        array2d<float> saliency;
        std::vector<array2d<float>> scratches;
        std::vector<std::pair<double, rectangle>> dets;
        std::vector<rect_detection> all;
        for (unsigned long i = 0; i < banks.size(); ++i) {
            const scanner_type::fhog_filterbank &w = banks[i];
            dets.clear();
            for (unsigned long l = 0; l < feats.size(); ++l) {
                rectangle area;
                saliency.clear();
                bool started = false;
                for (unsigned long p = 0; p < w.row_filters.size(); ++p)
                    area = filter_plane(feats[l][p], saliency, w.row_filters[p], w.col_filters[p], scratches, started);
                if (saliency.size() == 0) {
                    saliency.set_size(feats[l][0].nr(), feats[l][0].nc());
                    assign_all_pixels(saliency, 0);
                }
                for (long r = area.top(); r <= area.bottom(); ++r)
                    for (long c = area.left(); c <= area.right(); ++c)
                        if (saliency[r][c] >= thresholds[i]) {
                            rectangle rect = sc.get_feature_extractor().feats_to_image(
                                centered_rect(point(c, r), box_width, box_height), cell_size, window_height, window_width);
                            dets.push_back(std::make_pair(saliency[r][c], pyr.rect_up(rect, l)));
                        }
            }
            std::sort(dets.rbegin(), dets.rend(), [](const std::pair<double, rectangle> &a, const std::pair<double, rectangle> &b) {
                return a.first < b.first;
            });
            for (const auto &d : dets) {
                rect_detection found;
                found.detection_confidence = d.first - thresholds[i];
                found.weight_index = i;
                found.rect = d.second;
                all.push_back(found);
            }
        }
        final_dets.clear();
        if (banks.size() > 1) std::sort(all.rbegin(), all.rend());
        const test_box_overlap overlaps = dlib.get_overlap_tester();
        for (const rect_detection &d : all)
            if (std::none_of(final_dets.begin(), final_dets.end(), [&](const rect_detection &f) { return overlaps(f.rect, d.rect); }))
                final_dets.push_back(d);
    }
};
}  // namespace hog_scan

struct shape_model;

struct curate_face_models {
    std::unique_ptr<hog_scan::detector> detector;
    std::shared_ptr<const shape_model> predictor;
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

// A grey copy of BGR pixels (hog_scan::grey_row_scalar); 16 pixels at a time where the bridge's HOG scan runs
// (its check at start covers grey_row too).
static void grey_of(const bgr_view &img, matrix<unsigned char> &grey, bool vectors) {
    grey.set_size(img.rows, img.cols);
    for (long y = 0; y < img.rows; ++y) {
        const unsigned char *p = img.data + y * img.stride;
        unsigned char *out = &grey(y, 0);
#if defined(__AVX512VBMI__)
        if (vectors) { hog_scan::grey_row(p, out, img.cols); continue; }
#endif
        hog_scan::grey_row_scalar(p, out, img.cols);
    }
}

// A model file mapped into memory and deserialized from there: dlib reads its numbers a few bytes at a time, and
// through an ifstream each read costs a call into the file buffer (a third of loading the shape predictor).
struct memory_source : std::streambuf {
    memory_source(const char *begin, size_t size) {
        char *b = const_cast<char *>(begin);   // only ever read
        setg(b, b, b + size);
    }
    // dlib peeks at a file's first bytes, then seeks back to its start.
    pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override {
        char *to = (dir == std::ios_base::beg ? eback() : dir == std::ios_base::cur ? gptr() : egptr()) + off;
        if (to < eback() || to > egptr()) return pos_type(off_type(-1));
        setg(eback(), to, egptr());
        return pos_type(to - eback());
    }
    pos_type seekpos(pos_type pos, std::ios_base::openmode which) override { return seekoff(off_type(pos), std::ios_base::beg, which); }
    // dlib reads a tensor's floats four bytes at a time through sgetn: one copy each, not streambuf's general loop.
    std::streamsize xsgetn(char *to, std::streamsize n) override {
        if (n == 4 && egptr() - gptr() >= 4) {   // a float: a copy of known size, not a call to memcpy
            std::memcpy(to, gptr(), 4);
            setg(eback(), gptr() + 4, egptr());
            return 4;
        }
        const std::streamsize k = std::min<std::streamsize>(n, egptr() - gptr());
        std::memcpy(to, gptr(), (size_t)k);
        setg(eback(), gptr() + k, egptr());
        return k;
    }
};

// dlib's shape_predictor read straight from its file's bytes. dlib's deserialize reads the 5-point model's 1.5
// million numbers one at a time through an istream (35 ms with the file mapped, measured in a C++ harness); this
// reads the same format (serialize.h's pack_int and float_details, shape_predictor.h's fields in its order) in about
// 20, most of it allocating the trees. Whatever it does not expect (another version, floats in dlib's old text
// format, a number out of range or bytes left over) makes it give up, and dlib's own deserialize reads the file
// instead, with its own errors. ShapePredictorReadingTests compare the two.
namespace fast_shape {
// The predictor's fields are private, set by dlib's deserialize only: named here through explicit instantiation,
// where C++ does not check access ([temp.spec]), so the parser can fill them in.
template <typename Tag, typename Tag::type M> struct member { friend typename Tag::type get(Tag) { return M; } };
struct initial_shape { typedef matrix<float, 0, 1> shape_predictor::*type; friend type get(initial_shape); };
struct forests { typedef std::vector<std::vector<impl::regression_tree>> shape_predictor::*type; friend type get(forests); };
struct anchor_idx { typedef std::vector<std::vector<unsigned long>> shape_predictor::*type; friend type get(anchor_idx); };
struct deltas { typedef std::vector<std::vector<dlib::vector<float, 2>>> shape_predictor::*type; friend type get(deltas); };
template struct member<initial_shape, &shape_predictor::initial_shape>;
template struct member<forests, &shape_predictor::forests>;
template struct member<anchor_idx, &shape_predictor::anchor_idx>;
template struct member<deltas, &shape_predictor::deltas>;

struct reader {
    const unsigned char *p, *end;
    bool bad = false;
    // ser_helper::unpack_int: a control byte (its low 4 bits the count of little-endian bytes that follow; for a
    // signed type, bit 7 the sign; for an unsigned one, bits 4-6 ignored and bit 7 an error), then the bytes.
    template <typename T> T integer() {
        if (p >= end) { bad = true; return 0; }
        const unsigned char control = *p++;
        const unsigned size = std::numeric_limits<T>::is_signed ? (control & 0x0F) : (control & 0x8F);
        if (size == 0 || size > sizeof(T) || (size_t)(end - p) < size) { bad = true; return 0; }
        unsigned long long v = 0;
        for (unsigned i = size; i-- > 0;) v = (v << 8) | p[i];
        p += size;
        T item = (T)v;
        if (std::numeric_limits<T>::is_signed && (control & 0x80)) item = (T)(item * -1);
        return item;
    }
    // deserialize_floating_point's binary format: float_details' mantissa (int64) and exponent (int16), made a
    // float as float_details::convert_to_T does.
    float real() {
        if (p >= end || (*p & 0x70) != 0) { bad = true; return 0; }
        const long long mantissa = integer<long long>();
        const short exponent = integer<short>();
        // ldexp((float)mantissa, exponent): where 2^exponent is a normal float, the product with it (rounded once, as
        // ldexp rounds) is the same number without a call.
        if (exponent >= -126 && exponent <= 127) {
            const uint32_t bits = (uint32_t)(exponent + 127) << 23;
            float scale;
            std::memcpy(&scale, &bits, 4);
            return (float)mantissa * scale;
        }
        if (exponent < float_details::is_inf) return std::ldexp((float)mantissa, exponent);
        if (exponent == float_details::is_inf) return std::numeric_limits<float>::infinity();
        if (exponent == float_details::is_ninf) return -std::numeric_limits<float>::infinity();
        return std::numeric_limits<float>::quiet_NaN();
    }
    // A std::vector's size; more elements than bytes left is a damaged file.
    size_t count() {
        const unsigned long n = integer<unsigned long>();
        if (n > (unsigned long)(end - p)) bad = true;
        return bad ? 0 : (size_t)n;
    }
    void column(matrix<float, 0, 1> &m) {
        long nr = integer<long>(), nc = integer<long>();
        if (nr < 0 || nc < 0) nr = -nr, nc = -nc;   // the newer format stores them negated
        if (bad || nc != 1 || nr > end - p) { bad = true; return; }
        m.set_size(nr, 1);
        for (long r = 0; r < nr && !bad; ++r) m(r) = real();
    }
};

static bool parse(const unsigned char *bytes, size_t size, shape_predictor &item) {
    reader in{bytes, bytes + size};
    if (in.integer<int>() != 1 || in.bad) return false;   // shape_predictor's version
    matrix<float, 0, 1> initial;
    std::vector<std::vector<impl::regression_tree>> trees;
    std::vector<std::vector<unsigned long>> anchors;
    std::vector<std::vector<dlib::vector<float, 2>>> offsets;
    in.column(initial);
    trees.resize(in.count());
    for (auto &forest : trees) {
        forest.resize(in.count());
        for (auto &tree : forest) {
            tree.splits.resize(in.count());
            for (auto &split : tree.splits) {
                split.idx1 = in.integer<unsigned long>();
                split.idx2 = in.integer<unsigned long>();
                split.thresh = in.real();
            }
            tree.leaf_values.resize(in.count());
            for (auto &leaf : tree.leaf_values) in.column(leaf);
            if (in.bad) return false;
        }
    }
    anchors.resize(in.count());
    for (auto &a : anchors) {
        a.resize(in.count());
        for (auto &i : a) i = in.integer<unsigned long>();
    }
    offsets.resize(in.count());
    for (auto &d : offsets) {
        d.resize(in.count());
        for (auto &v : d) {
            v.x() = in.real();
            v.y() = in.real();
        }
    }
    if (in.bad || in.p != in.end) return false;
    item.*get(initial_shape()) = std::move(initial);
    item.*get(forests()) = std::move(trees);
    item.*get(anchor_idx()) = std::move(anchors);
    item.*get(deltas()) = std::move(offsets);
    return true;
}
}  // namespace fast_shape

// The shape predictor as dlib's operator() runs it, with each cascade level's regression trees laid out flat: the
// splits of its trees one after another, and their leaves' values in one array. dlib keeps each leaf's values
// (10 floats) in a matrix of its own, 120,000 of them for the 5-point model, and adds each tree's leaf to the shape
// as soon as the tree is walked: a wait on memory for each tree (the leaves are 4.8 MB, more than the core's
// cache). Here a level's trees are all walked first (a walk reads only the level's pixel values, which no tree
// changes), each leaf fetched ahead as it is found, and then added to the shape in the trees' order: the same
// additions of the same values in the same order as dlib's, so the same shape to the bit. The pixel values and
// the transforms are dlib's own code (impl::extract_feature_pixel_values). A model whose trees are not all full
// and alike within a level is run by dlib's operator(). ShapePredictorReadingTests compare the two on real photos.
struct shape_model {
    shape_predictor original;
    struct split { uint32_t idx1, idx2; float thresh; };
    struct level {
        size_t trees = 0, splits = 0;   // trees, and splits a tree (its leaves: splits + 1)
        std::vector<split> nodes;       // [tree][split]
        std::vector<float> leaves;      // [tree][leaf][dims]
    };
    std::vector<level> levels;   // empty: dlib's operator() runs
    size_t dims = 0;

    const matrix<float, 0, 1> &initial() const { return original.*get(fast_shape::initial_shape()); }
    const std::vector<std::vector<unsigned long>> &anchors() const { return original.*get(fast_shape::anchor_idx()); }
    const std::vector<std::vector<dlib::vector<float, 2>>> &offsets() const { return original.*get(fast_shape::deltas()); }

    void pack() {
        levels.clear();
        const auto &forests = original.*get(fast_shape::forests());
        dims = (size_t)initial().size();
        if (dims == 0 || dims % 2 != 0 || anchors().size() != forests.size() || offsets().size() != forests.size()) return;
        std::vector<level> packed(forests.size());
        for (size_t l = 0; l < forests.size(); ++l) {
            level &out = packed[l];
            out.trees = forests[l].size();
            out.splits = out.trees ? forests[l][0].splits.size() : 0;
            const size_t pixels = offsets()[l].size();
            if (anchors()[l].size() != pixels) return;
            for (unsigned long a : anchors()[l]) if (a >= dims / 2) return;
            out.nodes.reserve(out.trees * out.splits);
            out.leaves.reserve(out.trees * (out.splits + 1) * dims);
            for (const impl::regression_tree &tree : forests[l]) {
                if (tree.splits.size() != out.splits || tree.leaf_values.size() != out.splits + 1) return;
                for (const impl::split_feature &f : tree.splits) {
                    if (f.idx1 >= pixels || f.idx2 >= pixels) return;
                    out.nodes.push_back(split{(uint32_t)f.idx1, (uint32_t)f.idx2, f.thresh});
                }
                for (const matrix<float, 0, 1> &leaf : tree.leaf_values) {
                    if ((size_t)leaf.size() != dims) return;
                    out.leaves.insert(out.leaves.end(), &leaf(0), &leaf(0) + dims);
                }
            }
        }
        levels = std::move(packed);
    }

    // The shape in the predictor's normalised coordinates: shape_predictor::operator()'s loop with the trees packed.
    template <typename image_type> matrix<float, 0, 1> shape(const image_type &img, const rectangle &rect) const {
        matrix<float, 0, 1> current = initial();
        std::vector<float> values;
        std::vector<const float *> picked;
        for (size_t l = 0; l < levels.size(); ++l) {
            impl::extract_feature_pixel_values(img, rect, current, initial(), anchors()[l], offsets()[l], values);
            const level &lv = levels[l];
            const float *v = values.data();
            picked.resize(lv.trees);
            for (size_t t = 0; t < lv.trees; ++t) {
                // regression_tree::operator(): left (2i + 1) where the difference is over the threshold.
                const split *s = lv.nodes.data() + t * lv.splits;
                size_t i = 0;
                while (i < lv.splits) i = v[s[i].idx1] - v[s[i].idx2] > s[i].thresh ? 2 * i + 1 : 2 * i + 2;
                const float *leaf = lv.leaves.data() + (t * (lv.splits + 1) + (i - lv.splits)) * dims;
                __builtin_prefetch(leaf);
                __builtin_prefetch(leaf + dims - 1);
                picked[t] = leaf;
            }
            float *c = &current(0);
            for (size_t t = 0; t < lv.trees; ++t)
                for (size_t j = 0; j < dims; ++j) c[j] += picked[t][j];
        }
        return current;
    }

    // The same loop with dlib's own trees and additions (regression_tree::operator() and matrix's +=), to
    // compare with (tests).
    template <typename image_type> matrix<float, 0, 1> dlib_shape(const image_type &img, const rectangle &rect) const {
        const auto &forests = original.*get(fast_shape::forests());
        matrix<float, 0, 1> current = initial();
        std::vector<float> values;
        for (size_t l = 0; l < forests.size(); ++l) {
            impl::extract_feature_pixel_values(img, rect, current, initial(), anchors()[l], offsets()[l], values);
            unsigned long leaf;
            for (const impl::regression_tree &tree : forests[l]) current += tree(values, leaf);
        }
        return current;
    }

    template <typename image_type> full_object_detection operator()(const image_type &img, const rectangle &rect) const {
        if (levels.empty() || use_dlib) return original(img, rect);
        const matrix<float, 0, 1> current = shape(img, rect);
        // shape_predictor::operator()'s ending.
        const point_transform_affine tform_to_img = impl::unnormalizing_tform(rect);
        std::vector<point> parts(current.size() / 2);
        for (unsigned long i = 0; i < parts.size(); ++i) parts[i] = tform_to_img(impl::location(current, i));
        return full_object_detection(rect, parts);
    }

    // Tests: dlib's operator() instead, on this thread.
    static inline thread_local bool use_dlib = false;
};

// A file mapped whole and read-only, its pages read in at once, unmapped when this goes; `bytes` is null where it
// could not be (`error` says why).
struct mapped_file {
    const unsigned char *bytes = nullptr;
    size_t size = 0;
    std::string error;
    explicit mapped_file(const char *path) {
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { error = std::string("Unable to open ") + path + " for reading."; return; }
        struct stat st;
        if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
            ::close(fd);
            error = std::string("Unable to read ") + path + " (empty or unreadable)";
            return;
        }
        void *mapped = ::mmap(nullptr, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        ::close(fd);
        if (mapped == MAP_FAILED) { error = std::string("Unable to map ") + path; return; }
        bytes = (const unsigned char *)mapped;
        size = (size_t)st.st_size;
    }
    ~mapped_file() {
        if (bytes) ::munmap((void *)bytes, size);
    }
    mapped_file(const mapped_file &) = delete;
    mapped_file &operator=(const mapped_file &) = delete;
};

// MARK: the descriptor network's parsed copy

// dlib reads the descriptor network's 5.6 million floats one at a time, four bytes through a virtual sgetn each:
// about 40 ms of every command that describes faces; the bridge's convolutions then arrange each layer's filters
// on first use (about 17 ms more). After reading the model file once, the bridge keeps a parsed copy beside it
// (`<model>.curate-cache`): the network's structure in dlib's own format with every layer's parameters left out,
// those parameters as raw floats, and each convolution's filters as the bridge's convolution reads them. A network
// loaded from the copy reads its convolutions' filters in place, from the copy mapped read-only and shared by
// every worker's network; only the other layers' few parameters are copied. The copy is used only while the model
// file has the size, modification time and status-change time it was made from and its checksum holds; otherwise
// the model file is read and the copy made again. A folder that cannot be written simply has no copy.
namespace net_cache {
struct header {
    char magic[16];
    // The model file it was made from: its size, modification time and status-change time (a copy of another
    // file with the same size, its modification time kept, as `cp -p` makes, has a new status-change time).
    uint64_t model_size;
    int64_t model_mtime_sec, model_mtime_nsec, model_ctime_sec, model_ctime_nsec;
    // The body: structure_bytes of structure, zeros to a multiple of 8 (padded), tensors x 4 dimensions (long
    // long), floats raw floats, zeros to arranged_at (a multiple of 64 from the file's start), arranged floats.
    uint64_t structure_bytes, tensors, floats, arranged_at, arranged, checksum;
};
static_assert(sizeof(header) % 8 == 0, "the body starts 8-aligned");
static uint64_t padded(uint64_t n) { return (n + 7) / 8 * 8; }
// The arranged filters' layout is the bridge's code: a change to filter_block, winograd_filters or arrange needs
// a new name here, so that older copies are made again.
#if defined(__AVX512F__)
static const char magic[16] = "curate net v3a";
#else
static const char magic[16] = "curate net v2";
#endif
static std::atomic<int> hits{0}, writes{0};

static std::string path_of(const char *model) { return std::string(model) + ".curate-cache"; }

// Each 64-bit word times an odd constant (a bijection, so any change to one word changes the sum), mixed with
// where it is.
static uint64_t checksum(const unsigned char *p, size_t n) {
    uint64_t h = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h += (w ^ i) * 0xff51afd7ed558ccdull;
    }
    for (; i < n; ++i) h += ((uint64_t)p[i] ^ i) * 0xc4ceb9fe1a85ec53ull;
    return h;
}

// Arranges `net`'s convolutions' filters (just read from `model_path`, not yet run) and writes the copy.
static void save(const char *model_path, anet_type &net) {
    struct stat st;
    if (::stat(model_path, &st) != 0) return;
    std::vector<float> arranged;
    visit_computational_layers(net, [&](auto &layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (arranges_filters<L>) {
            const long k = layer.channels();
            layer.arrange(k);
            arranged.insert(arranged.end(), layer.arranged(), layer.arranged() + L::arranged_size(k));
        }
    });
    anet_type bare = net;
    std::vector<long long> dims;
    std::vector<float> floats;
    visit_layer_parameters(bare, [&](tensor &t) {
        dims.insert(dims.end(), {t.num_samples(), t.k(), t.nr(), t.nc()});
        floats.insert(floats.end(), t.begin(), t.end());
        dynamic_cast<resizable_tensor &>(t).clear();
    });
    std::ostringstream out;
    serialize(bare, out);
    std::string bytes = out.str();
    header h{};
    std::memcpy(h.magic, magic, sizeof h.magic);
    h.model_size = (uint64_t)st.st_size;
    h.model_mtime_sec = st.st_mtim.tv_sec;
    h.model_mtime_nsec = st.st_mtim.tv_nsec;
    h.model_ctime_sec = st.st_ctim.tv_sec;
    h.model_ctime_nsec = st.st_ctim.tv_nsec;
    h.structure_bytes = bytes.size();
    bytes.resize(padded(bytes.size()), '\0');
    h.tensors = dims.size() / 4;
    h.floats = floats.size();
    bytes.append((const char *)dims.data(), dims.size() * sizeof(long long));
    bytes.append((const char *)floats.data(), floats.size() * sizeof(float));
    bytes.append((64 - (sizeof h + bytes.size()) % 64) % 64, '\0');
    h.arranged_at = sizeof h + bytes.size();
    h.arranged = arranged.size();
    bytes.append((const char *)arranged.data(), arranged.size() * sizeof(float));
    h.checksum = checksum((const unsigned char *)bytes.data(), bytes.size());
    bytes.insert(0, (const char *)&h, sizeof h);
    if (write_whole(path_of(model_path), bytes)) writes++;
}

// Fills `net` (default-constructed) from the copy of `model_path`; false where there is no usable copy.
static bool load(const char *model_path, anet_type &net) {
    struct stat st;
    if (::stat(model_path, &st) != 0) return false;
    const auto copy = std::make_shared<const mapped_file>(path_of(model_path).c_str());
    if (!copy->bytes || copy->size < sizeof(header)) return false;
    const unsigned char *bytes = copy->bytes;
    const size_t size = copy->size;
    header h;
    std::memcpy(&h, bytes, sizeof h);
    if (std::memcmp(h.magic, magic, sizeof h.magic) != 0 || h.model_size != (uint64_t)st.st_size ||
        h.model_mtime_sec != st.st_mtim.tv_sec || h.model_mtime_nsec != st.st_mtim.tv_nsec ||
        h.model_ctime_sec != st.st_ctim.tv_sec || h.model_ctime_nsec != st.st_ctim.tv_nsec)
        return false;
    if (h.structure_bytes > size || h.tensors > size || h.floats > size || h.arranged > size || h.arranged_at > size ||
        h.arranged_at % 64 != 0 || h.arranged_at < sizeof h + padded(h.structure_bytes) + h.tensors * 4 * sizeof(long long) + h.floats * sizeof(float) ||
        h.arranged_at + h.arranged * sizeof(float) != size)
        return false;
    const unsigned char *body = bytes + sizeof h;
    if (checksum(body, size - sizeof h) != h.checksum) return false;
    const unsigned char *dims_at = body + padded(h.structure_bytes);
    const float *floats = (const float *)(dims_at + h.tensors * 4 * sizeof(long long));
    const float *arranged = (const float *)(bytes + h.arranged_at);
    memory_source source((const char *)body, h.structure_bytes);
    std::istream in(&source);
    deserialize(net, in);
    size_t i = 0, used = 0, arranged_used = 0;
    bool fits = true;
    visit_computational_layers(net, [&](auto &layer) {
        using L = std::decay_t<decltype(layer)>;
        tensor &t = layer.get_layer_params();
        if (!fits || i >= h.tensors || t.size() != 0) { fits = false; return; }
        long long d[4];
        std::memcpy(d, dims_at + 4 * sizeof(long long) * i++, sizeof d);
        const unsigned long long count = (unsigned long long)(d[0] * d[1] * d[2] * d[3]);
        if (d[0] < 0 || d[1] < 0 || d[2] < 0 || d[3] < 0 || count > h.floats - used) { fits = false; return; }
        const float *from = floats + used;
        used += count;
        if constexpr (arranges_filters<L>) {
            const long k = layer.channels_for((long)count);
            const unsigned long long need = k > 0 ? (unsigned long long)L::arranged_size(k) : 0;
            if (k <= 0 || need > h.arranged - arranged_used) { fits = false; return; }
            layer.use_parsed(copy, from, d, arranged + arranged_used);
            arranged_used += need;
        } else {
            auto &r = dynamic_cast<resizable_tensor &>(t);
            r.set_size(d[0], d[1], d[2], d[3]);
            std::memcpy(r.host_write_only(), from, count * sizeof(float));
        }
    });
    if (!fits || i != h.tensors || used != h.floats || arranged_used != h.arranged) return false;
    hits++;
    return true;
}
}  // namespace net_cache

template <typename T> static void load_model(const char *path, T &item) {
    if constexpr (std::is_same<T, anet_type>::value) {
        try {
            if (net_cache::load(path, item)) return;
        } catch (...) {
        }
        item = anet_type();   // whatever a damaged copy left
    }
    const mapped_file file(path);
    if (!file.bytes) throw serialization_error(file.error);
    if constexpr (std::is_same<T, shape_predictor>::value)
        if (fast_shape::parse(file.bytes, file.size, item)) return;
    memory_source source((const char *)file.bytes, file.size);
    std::istream in(&source);
    deserialize(in) >> item;
    if constexpr (std::is_same<T, anet_type>::value) {
        try {
            net_cache::save(path, item);
        } catch (...) {
            // no copy (a folder that cannot be written, a full disk): only slower next time
        }
    }
}

// The shape predictor read as above, its trees then laid out for shape_model's operator().
static void load_model(const char *path, shape_model &item) {
    load_model(path, item.original);
    item.pack();
}

// A model file is deserialized once a process, keyed by path, inode, size, modification and status-change time (a
// file replaced on disk is read again). The shape predictor is only read (its operator() is const): everyone shares
// the one loaded. The
// descriptor network keeps each layer's output inside itself, so each worker needs one of its own: of the
// `workers` opening it together, each gets a copy of the one loaded (the convolutions' filters shared, the other
// layers' few weights copied), and the last the loaded one itself.
static std::string file_key(const char *path) {
    struct stat st;
    if (::stat(path, &st) != 0) return "";
    auto time = [](const timespec &t) { return std::to_string((long long)t.tv_sec) + "." + std::to_string((long long)t.tv_nsec); };
    return std::string(path) + "|" + std::to_string((long long)st.st_ino) + "|" + std::to_string((long long)st.st_size) + "|" +
           time(st.st_mtim) + "|" + time(st.st_ctim);
}

// A model file's loaded model, `Holder` owning it; the caller holds `lock`. `refresh` reads the file where none is
// held or the file changed (or cannot be stat'ed), and says whether it did.
template <typename T, typename Holder> struct model_cache {
    std::mutex lock;
    std::string key;
    Holder model;
    bool refresh(const char *path) {
        const std::string now = file_key(path);
        if (!now.empty() && now == key && model) return false;
        auto fresh = std::make_unique<T>();
        load_model(path, *fresh);
        model = std::move(fresh);
        key = now;
        return true;
    }
};

template <typename T> using shared_model = model_cache<T, std::shared_ptr<const T>>;

template <typename T> static std::shared_ptr<const T> load_shared(const char *path, shared_model<T> &cache) {
    std::lock_guard<std::mutex> guard(cache.lock);
    cache.refresh(path);
    return cache.model;
}

template <typename T> struct lent_model : model_cache<T, std::unique_ptr<T>> {
    int takers = 0;   // workers still to get one, this included
};

template <typename T> static std::unique_ptr<T> load_own(const char *path, lent_model<T> &cache, int workers) {
    std::lock_guard<std::mutex> guard(cache.lock);
    if (cache.refresh(path)) cache.takers = workers;
    if (--cache.takers > 0) return std::make_unique<T>(*cache.model);
    cache.key.clear();
    return std::move(cache.model);
}

static shared_model<shape_model> loaded_predictor;
static lent_model<anet_type> loaded_net;

extern "C" curate_face_models *curate_faces_open(const char *shape_path, const char *resnet_path,
                                                 const char *detector_cache_path, int workers, curate_error *err) {
    std::unique_ptr<curate_face_models> models;
    int rc = guarded(err, 1, "loading face models", [&] {
        models = std::make_unique<curate_face_models>();
        models->detector = std::make_unique<hog_scan::detector>(shared_detector(detector_cache_path));
        if (shape_path) models->predictor = load_shared(shape_path, loaded_predictor);
        if (resnet_path) models->net = load_own(resnet_path, loaded_net, workers);
        return 0;
    });
    return rc == 0 ? models.release() : nullptr;
}

extern "C" int curate_faces_shape_reading_matches_dlib(const char *shape_path, curate_error *err) {
    int matches = 0;
    const int rc = guarded(err, 1, "reading the shape predictor both ways", [&] {
        std::ifstream file(shape_path, std::ios::binary);
        if (!file) return fail(err, 1, std::string("cannot open ") + shape_path);
        const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        shape_predictor ours, theirs;
        if (!fast_shape::parse((const unsigned char *)bytes.data(), bytes.size(), ours)) return 0;
        std::istringstream in(bytes);
        deserialize(theirs, in);
        std::ostringstream a, b;
        serialize(ours, a);
        serialize(theirs, b);
        matches = a.str() == b.str() ? 1 : 0;
        return 0;
    });
    return rc == 0 ? matches : -1;
}

extern "C" void curate_faces_net_cache_counts(int *hits, int *writes, int *arranged) {
    *hits = net_cache::hits.load();
    *writes = net_cache::writes.load();
    *arranged = curate_conv::tally().arranged.load();
}

extern "C" void curate_faces_close(curate_face_models *models) { delete models; }
extern "C" int curate_faces_has_landmarks(const curate_face_models *m) { return m && m->predictor ? 1 : 0; }
extern "C" int curate_faces_has_descriptors(const curate_face_models *m) { return m && m->net ? 1 : 0; }

extern "C" int curate_faces_load_cnn(curate_face_models *models, const char *mmod_path, curate_error *err) {
    return guarded(err, 1, "loading the CNN face detector", [&] {
        auto net = std::make_unique<mmod_net_type>();
        load_model(mmod_path, *net);
        models->cnn = std::move(net);
        return 0;
    });
}

extern "C" int curate_faces_has_cnn(const curate_face_models *m) { return m && m->cnn ? 1 : 0; }
extern "C" int curate_faces_hog_scan(const curate_face_models *m) { return m && !m->detector->whole ? 1 : 0; }

extern "C" int curate_faces_detect(curate_face_models *models, const unsigned char *bgr, int width, int height,
                                   size_t stride, int upsample, int mode, curate_face *faces, int capacity, int *count,
                                   double *landmark_seconds, curate_error *err) {
    return guarded(err, 2, "face detection", [&] {
        if (landmark_seconds) *landmark_seconds = 0;
        if (mode < 0 || mode > 2) return fail(err, 2, "face detection: unknown detector");
        const bool cnn = mode == 1;
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
            grey_of(original, grey, !models->detector->whole);
            for (int i = 0; i < upsample; ++i) pyramid_up(grey, pyr);
            if (mode == 2) models->detector->dlib(grey, dets, 0.0);
            else (*models->detector)(grey, dets);
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

// One pass of the network over 150 x 150 chips (dlib batches them, 16 at a time by default), 128 floats a chip.
static void describe(anet_type &net, const std::vector<matrix<rgb_pixel>> &chips, float *descriptors) {
    std::vector<matrix<float, 0, 1>> d = net(chips);
    for (size_t i = 0; i < chips.size(); ++i)
        for (long k = 0; k < 128 && k < d[i].size(); ++k) descriptors[i * 128 + k] = d[i](k);
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
            describe(*models->net, chips, descriptors);
            *has_descriptors = 1;
        }
        return 0;
    });
}

extern "C" int curate_faces_describe_chips(curate_face_models *models, const unsigned char *chips_bgr, int count,
                                           float *descriptors, curate_error *err) {
    return guarded(err, 3, "describing face chips", [&] {
        if (!models->net) return fail(err, 2, "no face descriptor model is loaded");
        std::vector<matrix<rgb_pixel>> chips(count);
        for (int i = 0; i < count; ++i) {
            chips[i].set_size(150, 150);
            const unsigned char *in = chips_bgr + (size_t)i * 150 * 150 * 3;
            for (long y = 0; y < 150; ++y)
                for (long x = 0; x < 150; ++x) {
                    const unsigned char *px = in + 3 * (y * 150 + x);
                    chips[i](y, x) = rgb_pixel(px[2], px[1], px[0]);
                }
        }
        if (count > 0) describe(*models->net, chips, descriptors);
        return 0;
    });
}

extern "C" void curate_faces_dlib_convolutions(int on) { curate_conv::use_dlib = on != 0; }
extern "C" void curate_faces_dlib_landmarks(int on) { shape_model::use_dlib = on != 0; }

extern "C" int curate_faces_shape_matches_dlib(const curate_face_models *models, const unsigned char *bgr, int width,
                                               int height, size_t stride, const curate_face *face, curate_error *err) {
    int same = 0;
    const int rc = guarded(err, 2, "comparing the shape predictor with dlib's", [&] {
        if (!models->predictor) return fail(err, 2, "the shape predictor is not loaded");
        if (models->predictor->levels.empty()) return fail(err, 2, "the shape predictor's trees were not packed");
        const bgr_view image = view(bgr, width, height, stride);
        const rectangle r((long)face->left, (long)face->top, (long)face->right, (long)face->bottom);
        const matrix<float, 0, 1> ours = models->predictor->shape(image, r), dlibs = models->predictor->dlib_shape(image, r);
        same = ours.size() == dlibs.size() && std::memcmp(&ours(0), &dlibs(0), sizeof(float) * (size_t)ours.size()) == 0 ? 1 : 0;
        return 0;
    });
    return rc == 0 ? same : -1;
}

extern "C" int curate_faces_own_convolutions(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}

extern "C" void curate_faces_convolution_stats(curate_convolution_stats *out) {
    auto &t = curate_conv::tally();
    out->checked = t.checked.load();
    out->disagreed = t.disagreed.load();
    out->fast_passes = t.fast_passes.load();
    out->dlib_passes = t.dlib_passes.load();
    out->worst = t.worst.load();
    out->layers_checked = t.layers_checked.load();
    out->layers_disagreed = t.layers_disagreed.load();
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

// OpenBLAS (its pthreads build) starts a thread per core when it loads, and each of them spins on sched_yield for
// its thread timeout, about 0.1 s of CPU, before it sleeps: in every process, beside curate's own workers (on two
// cores, a tenth of a 19-photo `process`). curate gives each worker its own network on one BLAS thread, so it stops
// them at start; a later call asking for more threads would start them again.
extern "C" int curate_blas_one_thread(void) {
    auto set = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    auto stop = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    if (!set) return 0;
    set(1);
    if (stop) stop();
    return 1;
}

// Nothing to do where OpenBLAS already runs that many: setting them starts its threads again where they were
// stopped (curate_blas_one_thread), even for one.
extern "C" int curate_faces_blas_threads(int threads) {
    auto set = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    auto get = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    if (!set) return 0;
    if (!get || get() != threads) set(threads);
    return 1;
}
