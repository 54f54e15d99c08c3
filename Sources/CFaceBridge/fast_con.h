// A convolution layer for dlib's face ResNet that computes what dlib's con_ computes, without dlib's matrices.
//
// dlib's CPU convolution copies every sample's input into an img2col matrix (nine times the input for 3 x 3
// filters) and hands it to the BLAS, one sample at a time: on a 150 x 150 face chip that is about a fifth of
// `process`'s CPU on 1,280 px photos and nearly half on small ones, much of it packing and copying for matrices
// as narrow as 256 x 9. fast_con_ reads the input in place (a zero-padded copy where the layer pads): each output
// is the same sum of products, summed in another order (one fused multiply-add per filter tap, channel by
// channel), so outputs differ from dlib's by float rounding only. With AVX-512 it computes 32 or 64 filters at
// once for 6 to 12 output pixels, pixels taken across rows and across the faces of a batch, so each filter's
// weights are read once for many pixels. The 3 x 3 layers of stride 1 on the larger planes take Winograd's
// F(4 x 4, 3 x 3), with 4 times fewer multiplications (convolve_winograd).
//
// Trust, but check: the first forward pass of each layer shape in a process also runs dlib's own con_ on the
// same input's first face and compares; where they differ by more than float rounding could explain, that shape
// keeps dlib's convolution for the rest of the process (curate_faces_convolution_stats, ConvolutionStats in
// Swift, count them). Serialized exactly as con_ (it delegates), so it reads
// dlib_face_recognition_resnet_model_v1.dat as it is.
#pragma once

#include <dlib/dnn.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

namespace curate_conv {

// Per-process tallies of the check, for tests and benchmarks.
struct stats {
    std::atomic<int> checked{0}, disagreed{0};
    std::atomic<int> arranged{0};   // layers whose filters this process arranged (not read from the parsed copy)
    std::atomic<long> fast_passes{0}, dlib_passes{0};
    std::atomic<float> worst{0};   // the largest difference seen, relative to the largest output
    std::atomic<int> layers_checked{0}, layers_disagreed{0};   // the relu, affine, max pooling and add_prev kinds (fast_layers.h)
};
inline stats &tally() { static stats s; return s; }

// Set by the caller around a forward pass to run dlib's own convolution (tests compare the two).
inline thread_local bool use_dlib = false;

// How convolve's filters are stored: in blocks of this many, [block][tap][filter in the block], so that a pass of
// 64 filters reads its filters in one sequential sweep. The 256-filter layers' 2.4 MB are not in the core's cache
// when a face comes; read 1 KB apart per tap, through pages of 4 KB, they took twice as long. Where nf is not a
// multiple of 64, one block of all nf (passes of 32 filters then read 32 of each row of nf).
inline long filter_block(long nf) { return nf % 64 == 0 ? 64 : nf; }

#if defined(__AVX512F__)
// acc[p][c] += in[p's offset + taps[t]] * w[t][c] over every tap t (channel, filter row, filter column): CB
// vectors of 16 filters, PX pixels; a tap's filters start w_stride floats after the previous tap's. Each pixel's
// 16 x CB sums go to out + out_offsets[p] + j * out_channel_stride for filter j.
template <int CB, int PX>
static inline void block(const float *in, const long *offsets, const long *taps, long count, const float *w, long w_stride,
                         const float *bias, float *out, const long *out_offsets, long out_channel_stride) {
    __m512 acc[PX][CB];
    for (int c = 0; c < CB; ++c) {
        const __m512 b = bias ? _mm512_loadu_ps(bias + 16 * c) : _mm512_setzero_ps();
        for (int p = 0; p < PX; ++p) acc[p][c] = b;
    }
    const float *base[PX];
    for (int p = 0; p < PX; ++p) base[p] = in + offsets[p];
    for (long t = 0; t < count; ++t, w += w_stride) {
        const long tap = taps[t];
        __m512 wv[CB];
        for (int c = 0; c < CB; ++c) wv[c] = _mm512_loadu_ps(w + 16 * c);
        for (int p = 0; p < PX; ++p) {
            const __m512 v = _mm512_set1_ps(base[p][tap]);
            for (int c = 0; c < CB; ++c) acc[p][c] = _mm512_fmadd_ps(v, wv[c], acc[p][c]);
        }
    }
    alignas(64) float lanes[16];
    for (int p = 0; p < PX; ++p)
        for (int c = 0; c < CB; ++c) {
            _mm512_store_ps(lanes, acc[p][c]);
            float *o = out + out_offsets[p] + (long)(16 * c) * out_channel_stride;
            for (int j = 0; j < 16; ++j) o[j * out_channel_stride] = lanes[j];
        }
}

// to[j * to_stride + i] = from[i * from_stride + j] for a 16 x 16 block: rows of 16 floats read and written whole
// (the unpack/shuffle network of four steps).
inline void transpose16(const float *from, long from_stride, float *to, long to_stride) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(from + i * from_stride);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(to + i * to_stride, r[i]);
}

// The 3 x 3 layers of stride 1 (padded by one, so each output has the input's size) by Winograd's F(4 x 4, 3 x 3):
// each 4 x 4 block of outputs (a "tile") comes from the 6 x 6 input around it as A^T [(G g G^T) . (B^T d B)] A,
// where g is a filter and d the input of one channel (Lavin and Gray's matrices, points 0, 1, -1, 2, -2 and
// infinity). The elementwise products of the 36 transformed positions, summed over channels, are 36 matrix
// products of tiles x channels by channels x filters: 36 multiplications for 16 outputs where the direct sums
// take 144, 4 times fewer (on the 35 x 35 and 17 x 17 planes some tiles stick out). F(2 x 2, 3 x 3), used until
// stop 38, took 2.25 times fewer; on this machine the 35 x 35 layer of 32 filters takes 27% less time, the 17 x 17
// one of 64 8% less and the 8 x 8 one of 128 20% less (a harness, one face). The filters' transform runs in double
// and is rounded once; the input's and output's multiply by 2, 4, 5 and 8 only. Outputs are within 6e-6 of the
// exact sums, relative to the largest (against 4e-7 for F(2 x 2)), and the first-use check against dlib's
// measures them as for the other layers.

// The filters (nf x k x 3 x 3, dlib's order; nf a multiple of 16) transformed, (G g_fc G^T)[x] for each position
// x of 36, stored as U[x][block of filters][c][filter in the block] (filter_block) in u's 36 * k * nf floats.
inline void winograd_filters(const float *p, long k, long nf, float *u) {
    static const double G[6][3] = {{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    const long width = filter_block(nf);
    const size_t step = (size_t)(k * nf);
    for (long f = 0; f < nf; ++f)
        for (long c = 0; c < k; ++c) {
            const float *g = p + (f * k + c) * 9;
            double t[6][3];   // G g
            for (int i = 0; i < 6; ++i)
                for (int j = 0; j < 3; ++j) t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
            float *to = &u[(size_t)((f / width * k + c) * width + f % width)];
            for (int i = 0; i < 6; ++i)   // (G g) G^T
                for (int j = 0; j < 6; ++j)
                    to[(i * 6 + j) * step] = (float)(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
        }
}

template <int CB, int PX>
static void pixels(int n, const float *in, const long *offsets, const long *taps, long count, const float *w, long w_stride,
                   const float *bias, float *out, const long *out_offsets, long out_channel_stride) {
    if constexpr (PX > 1) {
        if (n < PX) return pixels<CB, PX - 1>(n, in, offsets, taps, count, w, w_stride, bias, out, out_offsets, out_channel_stride);
    }
    block<CB, PX>(in, offsets, taps, count, w, w_stride, bias, out, out_offsets, out_channel_stride);
}

// Winograd's products for PX tiles side by side: m[p][c] = sum over channels t of v[t * v_stride + p] * w[t][c],
// CB vectors of 16 filters, a channel's filters w_stride floats after the previous one's; tile p's 16 x CB sums
// go to m + p * m_stride, side by side. The same fused multiply-adds in the same order as block, with the tiles
// read from one pointer at fixed offsets: block's twelve pointers and its table of taps left too few registers
// for the 32-filter layers, whose 32 channels give each call only 32 steps (measured on the 35 x 35 layer of 32
// filters, 1.5-2.2x as fast, the same floats).
template <int CB, int PX>
static inline void products(const float *v, long v_stride, long channels, const float *w, long w_stride, float *m, long m_stride) {
    __m512 acc[PX][CB];
    for (int p = 0; p < PX; ++p)
        for (int c = 0; c < CB; ++c) acc[p][c] = _mm512_setzero_ps();
    for (long t = 0; t < channels; ++t, w += w_stride, v += v_stride) {
        __m512 wv[CB];
        for (int c = 0; c < CB; ++c) wv[c] = _mm512_loadu_ps(w + 16 * c);
        for (int p = 0; p < PX; ++p) {
            const __m512 b = _mm512_set1_ps(v[p]);
            for (int c = 0; c < CB; ++c) acc[p][c] = _mm512_fmadd_ps(b, wv[c], acc[p][c]);
        }
    }
    for (int p = 0; p < PX; ++p)
        for (int c = 0; c < CB; ++c) _mm512_storeu_ps(m + p * m_stride + 16 * c, acc[p][c]);
}

template <int CB, int PX>
static void tiles_products(int n, const float *v, long v_stride, long channels, const float *w, long w_stride, float *m, long m_stride) {
    if constexpr (PX > 1) {
        if (n < PX) return tiles_products<CB, PX - 1>(n, v, v_stride, channels, w, w_stride, m, m_stride);
    }
    products<CB, PX>(v, v_stride, channels, w, w_stride, m, m_stride);
}

// out (n x nf x oh x ow) = conv(in (n x k x h x w), filters (nf x k x nr x nc)) + bias, dlib's geometry: zero
// padding pad_y/pad_x, stride sy/sx; nf a multiple of 32.
inline void convolve(const float *in, long n, long k, long h, long w, const float *transposed, const float *bias,
                     long nf, int nr, int nc, int sy, int sx, int pad_y, int pad_x, float *out, long oh, long ow) {
    // The padded input, or the input itself where the layer does not pad.
    const long hp = h + 2 * pad_y, wp = w + 2 * pad_x;
    std::vector<float> padded;
    const float *src = in;
    if (pad_y || pad_x) {
        padded.assign((size_t)(n * k * hp * wp), 0.0f);
        for (long s = 0; s < n * k; ++s)
            for (long y = 0; y < h; ++y)
                std::memcpy(&padded[(size_t)((s * hp + y + pad_y) * wp + pad_x)], in + (s * h + y) * w, sizeof(float) * w);
        src = padded.data();
    }
    // Every output pixel of every sample: where its window starts in the input, where it goes in the output.
    const long count = n * oh * ow;
    std::vector<long> offsets(count), out_offsets(count);
    for (long s = 0, i = 0; s < n; ++s)
        for (long y = 0; y < oh; ++y)
            for (long x = 0; x < ow; ++x, ++i) {
                offsets[i] = s * k * hp * wp + (y * sy) * wp + x * sx;
                out_offsets[i] = s * nf * oh * ow + y * ow + x;
            }
    // Where each tap (channel, filter row, filter column, in the filters' order) is from a window's start.
    const long count_taps = k * nr * nc;
    std::vector<long> taps(count_taps);
    for (long c = 0, t = 0; c < k; ++c)
        for (long y = 0; y < nr; ++y)
            for (long x = 0; x < nc; ++x, ++t) taps[t] = c * hp * wp + y * wp + x;
    const long width = filter_block(nf);
    // Where every output reads the input at one filter position only, all others falling in the padding (the
    // face network's last 3 x 3 layer, on a 1 x 1 plane: eight of its nine taps multiply zeros), the taps of that
    // position alone: the same products but for the zeros, which add nothing (x + 0 is x), and a ninth of the
    // filters read, with a stride of nr x nc taps between them.
    const auto used = [](long out_size, int stride, int pad, long in_size, int filter_size, long &only) {
        long n = 0;
        for (long f = 0; f < filter_size; ++f)
            for (long o = 0; o < out_size; ++o)
                if (o * stride + f - pad >= 0 && o * stride + f - pad < in_size) { ++n; only = f; break; }
        return n;
    };
    long only_y = 0, only_x = 0, used_taps = count_taps, tap_stride = width, first_tap = 0;
    if (used(oh, sy, pad_y, h, nr, only_y) == 1 && used(ow, sx, pad_x, w, nc, only_x) == 1) {
        for (long c = 0; c < k; ++c) taps[c] = c * hp * wp + only_y * wp + only_x;
        used_taps = k;
        tap_stride = nr * nc * width;
        first_tap = only_y * nc + only_x;
    }
    const long plane = oh * ow;
    const bool wide = nf % 64 == 0;
    const int px = wide ? 6 : 12;
    for (long f = 0; f < nf; f += wide ? 64 : 32) {
        const float *wf = transposed + f / width * width * count_taps + first_tap * width + f % width;
        const float *bf = bias ? bias + f : nullptr;
        float *of = out + f * plane;
        for (long i = 0; i < count; i += px) {
            const int m = (int)std::min<long>(px, count - i);
            if (wide)
                pixels<4, 6>(m, src, &offsets[i], taps.data(), used_taps, wf, tap_stride, bf, of, &out_offsets[i], plane);
            else
                pixels<2, 12>(m, src, &offsets[i], taps.data(), used_taps, wf, tap_stride, bf, of, &out_offsets[i], plane);
        }
    }
}

// out (n x nf x h x w) = the 3 x 3 convolution, stride 1, zero padding 1, of in (n x k x h x w) + bias, with the
// filters as winograd_filters made them; nf a multiple of 32. A few rows of tiles at a time (up to 32 tiles), so
// that their transformed inputs and products stay in the core's cache between the three steps.
inline void convolve_winograd(const float *in, long n, long k, long h, long w, const float *u, const float *bias, long nf,
                               float *out) {
    const long th = (h + 3) / 4, tw = (w + 3) / 4;
    const long rows_at_once = std::max<long>(1, 32 / tw), most = rows_at_once * tw;
    // A face's input, zero-padded: one row and column before, enough after for whole tiles, and room for the
    // loads of the last block of 16 tiles (68 floats from its first tile's first column; no more, as every row's
    // padding is zeroed for each face).
    const long pw = std::max(4 * tw + 2, (tw - 1) / 16 * 64 + 68), ph = 4 * th + 2;
    thread_local std::vector<float> padded, v, m;
    padded.resize((size_t)(k * ph * pw));
    v.resize((size_t)(36 * (k * most + 16)));
    m.resize((size_t)(36 * (most * nf + 16)));
    // Column j of 16 tiles side by side (row[4t + j] in lane t), for j < 4, from four vectors of a row: lanes 0-7
    // picked from the first two, lanes 8-15 from the last two; columns 4 and 5 are columns 0 and 1 four floats on.
    __m512i pick[4];
    for (int j = 0; j < 4; ++j) {
        alignas(64) int idx[16];
        for (int t = 0; t < 16; ++t) idx[t] = 4 * (t % 8) + j;
        pick[j] = _mm512_load_si512(idx);
    }
    const long width = filter_block(nf);
    const bool wide = nf % 64 == 0;
    const int px = wide ? 6 : 12;
    const long plane = h * w;
    alignas(64) float y[16][16], yt[16][16];
    const __m512 two = _mm512_set1_ps(2), four = _mm512_set1_ps(4), five = _mm512_set1_ps(5), eight = _mm512_set1_ps(8);
    for (long s = 0; s < n; ++s) {
        for (long c = 0; c < k; ++c) {
            float *pc = &padded[(size_t)(c * ph * pw)];
            std::fill(pc, pc + pw + 1, 0.0f);
            for (long r = 0; r < h; ++r) {
                float *row = pc + (r + 1) * pw + 1;
                std::memcpy(row, in + ((s * k + c) * h + r) * w, sizeof(float) * w);
                std::fill(row + w, row + pw, 0.0f);
            }
            std::fill(pc + (h + 1) * pw + 1, pc + ph * pw, 0.0f);
        }
        for (long ty0 = 0; ty0 < th; ty0 += rows_at_once) {
            const long ty1 = std::min(th, ty0 + rows_at_once), tiles = (ty1 - ty0) * tw;
            const size_t vstep = (size_t)(k * tiles + 16);
            // Input transform: V = B^T d B, 16 tiles of a row at a time.
            for (long c = 0; c < k; ++c)
                for (long ty = ty0; ty < ty1; ++ty)
                    for (long tx = 0; tx < tw; tx += 16) {
                        __m512 e[6][6];   // d B for each of the 6 rows
                        for (int r = 0; r < 6; ++r) {
                            const float *row = &padded[(size_t)((c * ph + 4 * ty + r) * pw + 4 * tx)];
                            __m512 d[6];
                            for (int half = 0; half < 2; ++half) {
                                const float *q = row + 4 * half;
                                const __m512 a0 = _mm512_loadu_ps(q), a1 = _mm512_loadu_ps(q + 16);
                                const __m512 a2 = _mm512_loadu_ps(q + 32), a3 = _mm512_loadu_ps(q + 48);
                                for (int j = 0; j < (half ? 2 : 4); ++j)
                                    d[4 * half + j] = _mm512_mask_blend_ps((__mmask16)0xff00, _mm512_permutex2var_ps(a0, pick[j], a1),
                                                                           _mm512_permutex2var_ps(a2, pick[j], a3));
                            }
                            e[r][0] = _mm512_add_ps(_mm512_fmsub_ps(four, d[0], _mm512_mul_ps(five, d[2])), d[4]);
                            e[r][1] = _mm512_sub_ps(_mm512_add_ps(d[3], d[4]), _mm512_mul_ps(four, _mm512_add_ps(d[1], d[2])));
                            e[r][2] = _mm512_add_ps(_mm512_mul_ps(four, _mm512_sub_ps(d[1], d[2])), _mm512_sub_ps(d[4], d[3]));
                            e[r][3] = _mm512_add_ps(_mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1])), _mm512_sub_ps(d[4], d[2]));
                            e[r][4] = _mm512_add_ps(_mm512_mul_ps(two, _mm512_sub_ps(d[1], d[3])), _mm512_sub_ps(d[4], d[2]));
                            e[r][5] = _mm512_add_ps(_mm512_fmsub_ps(four, d[1], _mm512_mul_ps(five, d[3])), d[5]);
                        }
                        const __mmask16 keep = tw - tx >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (tw - tx)) - 1);
                        float *dst = &v[(size_t)(c * tiles + (ty - ty0) * tw + tx)];
                        for (int j = 0; j < 6; ++j) {
                            const __m512 d0 = e[0][j], d1 = e[1][j], d2 = e[2][j], d3 = e[3][j], d4 = e[4][j], d5 = e[5][j];
                            _mm512_mask_storeu_ps(dst + (0 * 6 + j) * vstep, keep, _mm512_add_ps(_mm512_fmsub_ps(four, d0, _mm512_mul_ps(five, d2)), d4));
                            _mm512_mask_storeu_ps(dst + (1 * 6 + j) * vstep, keep, _mm512_sub_ps(_mm512_add_ps(d3, d4), _mm512_mul_ps(four, _mm512_add_ps(d1, d2))));
                            _mm512_mask_storeu_ps(dst + (2 * 6 + j) * vstep, keep, _mm512_add_ps(_mm512_mul_ps(four, _mm512_sub_ps(d1, d2)), _mm512_sub_ps(d4, d3)));
                            _mm512_mask_storeu_ps(dst + (3 * 6 + j) * vstep, keep, _mm512_add_ps(_mm512_mul_ps(two, _mm512_sub_ps(d3, d1)), _mm512_sub_ps(d4, d2)));
                            _mm512_mask_storeu_ps(dst + (4 * 6 + j) * vstep, keep, _mm512_add_ps(_mm512_mul_ps(two, _mm512_sub_ps(d1, d3)), _mm512_sub_ps(d4, d2)));
                            _mm512_mask_storeu_ps(dst + (5 * 6 + j) * vstep, keep, _mm512_add_ps(_mm512_fmsub_ps(four, d1, _mm512_mul_ps(five, d3)), d5));
                        }
                    }
            // The 36 products M[x] = V[x]^T U[x], tiles by filters.
            const size_t mstep = (size_t)(tiles * nf + 16);
            for (int x = 0; x < 36; ++x)
                for (long f = 0; f < nf; f += wide ? 64 : 32) {
                    const float *vx = &v[(size_t)x * vstep];
                    const float *ux = u + (size_t)(x * k * nf + f / width * width * k + f % width);
                    float *mx = &m[(size_t)x * mstep] + f;
                    // The tiles in blocks of as nearly equal sizes as px allows (25 tiles: 5 x 5, not 4 x 6 + 1,
                    // whose block of one reads the filters as often as a block of six).
                    const long blocks = (tiles + px - 1) / px;
                    for (long b = 0, i = 0; b < blocks; ++b) {
                        const int count = (int)((tiles - i) / (blocks - b));
                        const long at = i;
                        i += count;
                        if (wide)
                            tiles_products<4, 6>(count, vx + at, tiles, k, ux, width, mx + at * nf, nf);
                        else
                            tiles_products<2, 12>(count, vx + at, tiles, k, ux, width, mx + at * nf, nf);
                    }
                }
            // Output transform: Y = A^T M A plus the bias, 16 filters of a tile at a time.
            for (long ty = ty0; ty < ty1; ++ty)
                for (long tx = 0; tx < tw; ++tx) {
                    const long tile = (ty - ty0) * tw + tx;
                    const int rows = (int)std::min<long>(4, h - 4 * ty), cols = (int)std::min<long>(4, w - 4 * tx);
                    for (long f = 0; f < nf; f += 16) {
                        const float *mt = &m[(size_t)(tile * nf + f)];
                        __m512 r[6][4];   // M A for each of the 6 rows
                        for (int i = 0; i < 6; ++i) {
                            __m512 q[6];
                            for (int j = 0; j < 6; ++j) q[j] = _mm512_loadu_ps(mt + (i * 6 + j) * mstep);
                            const __m512 s12 = _mm512_add_ps(q[1], q[2]), d12 = _mm512_sub_ps(q[1], q[2]);
                            const __m512 s34 = _mm512_add_ps(q[3], q[4]), d34 = _mm512_sub_ps(q[3], q[4]);
                            r[i][0] = _mm512_add_ps(_mm512_add_ps(q[0], s12), s34);
                            r[i][1] = _mm512_fmadd_ps(two, d34, d12);
                            r[i][2] = _mm512_fmadd_ps(four, s34, s12);
                            r[i][3] = _mm512_add_ps(_mm512_fmadd_ps(eight, d34, d12), q[5]);
                        }
                        const __m512 b = bias ? _mm512_loadu_ps(bias + f) : _mm512_setzero_ps();
                        for (int j = 0; j < 4; ++j) {
                            const __m512 s12 = _mm512_add_ps(r[1][j], r[2][j]), d12 = _mm512_sub_ps(r[1][j], r[2][j]);
                            const __m512 s34 = _mm512_add_ps(r[3][j], r[4][j]), d34 = _mm512_sub_ps(r[3][j], r[4][j]);
                            _mm512_store_ps(y[0 * 4 + j], _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r[0][j], s12), s34), b));
                            _mm512_store_ps(y[1 * 4 + j], _mm512_add_ps(_mm512_fmadd_ps(two, d34, d12), b));
                            _mm512_store_ps(y[2 * 4 + j], _mm512_add_ps(_mm512_fmadd_ps(four, s34, s12), b));
                            _mm512_store_ps(y[3 * 4 + j], _mm512_add_ps(_mm512_add_ps(_mm512_fmadd_ps(eight, d34, d12), r[5][j]), b));
                        }
                        // y[position][filter] -> each filter's 16 outputs, its tile's 4 rows of 4 side by side.
                        transpose16(&y[0][0], 16, &yt[0][0], 16);
                        float *o = out + ((s * nf + f) * h + 4 * ty) * w + 4 * tx;
                        const __mmask8 keep = (__mmask8)((1u << cols) - 1);
                        for (int l = 0; l < 16; ++l, o += plane)
                            for (int a = 0; a < rows; ++a) _mm_mask_storeu_ps(o + a * w, keep, _mm_load_ps(&yt[l][4 * a]));
                    }
                }
        }
    }
}

#endif

}  // namespace curate_conv

namespace dlib {

template <long num_filters, long nr, long nc, int sy, int sx, int pad_y = sy != 1 ? 0 : nr / 2,
          int pad_x = sx != 1 ? 0 : nc / 2>
class fast_con_ {
    // dlib's layer: its parameters, its serialization, and its convolution where the bridge's does not run. Where
    // the layer came from the network's parsed copy, its parameters are left out until dlib's convolution needs
    // them (ensure_params), and `raw` points at them in the copy.
    mutable con_<num_filters, nr, nc, sy, sx, pad_y, pad_x> inner;
    // 3 x 3 filters of stride 1 (padded by one) run as Winograd's F(4 x 4, 3 x 3) (convolve_winograd), except the
    // 256-filter layers: the face network's are on 3 x 3 and 1 x 1 planes, where a 4 x 4 tile would mostly stick
    // out, and their transformed filters (36 floats for each 9) would take 9.4 MB a layer.
    static constexpr bool winograd = nr == 3 && nc == 3 && sy == 1 && sx == 1 && pad_y == 1 && pad_x == 1 && num_filters <= 128;
    // The filters as the convolution reads them: in blocks of filters, [block][channel][row][column][filter in the
    // block], for convolve (filter_block); transformed (winograd_filters) for convolve_winograd. Made from inner's
    // parameters on first use (arrange) or read in place from the network's parsed copy; never written after, so
    // copies of the layer (one network a worker) share them, `owner` keeping them alive.
    std::shared_ptr<const void> owner;
    const float *filters = nullptr, *biases = nullptr;
    mutable const float *raw = nullptr;   // inner's parameters in the parsed copy, while inner has none
    long raw_dims[4] = {0, 0, 0, 0};

    // Whether this shape's convolution agreed with dlib's the first time it ran (checked once per process).
    static std::atomic<int> &verdict() { static std::atomic<int> v{0}; return v; }   // 0 unknown, 1 agrees, -1 not

    void ensure_params() const {
        if (!raw) return;
        auto &params = dynamic_cast<resizable_tensor &>(inner.get_layer_params());
        params.set_size(raw_dims[0], raw_dims[1], raw_dims[2], raw_dims[3]);
        std::memcpy(params.host_write_only(), raw, sizeof(float) * params.size());
        raw = nullptr;
    }

    void forget_arranged() {
        owner.reset();
        filters = biases = nullptr;
    }

public:
    // Whether the bridge's convolution runs for this layer, so that its filters are arranged (and kept in the
    // network's parsed copy).
#if defined(__AVX512F__)
    static constexpr bool arranges = num_filters % 32 == 0;
#else
    static constexpr bool arranges = false;
#endif
    // How many floats the arranged filters of a layer with k input channels take.
    static long arranged_size(long k) { return (winograd ? 36 : nr * nc) * k * num_filters; }
    // The input channels of parameters of this size (filters, then a bias per filter unless disabled); 0 where
    // no number of channels gives that size.
    long channels_for(long size) const {
        const long filters_size = size - (inner.bias_is_disabled() ? 0 : num_filters);
        return filters_size > 0 && filters_size % (num_filters * nr * nc) == 0 ? filters_size / (num_filters * nr * nc) : 0;
    }
    long channels() const {
        return channels_for(raw ? raw_dims[0] * raw_dims[1] * raw_dims[2] * raw_dims[3] : (long)inner.get_layer_params().size());
    }

    // Arranges the filters from inner's parameters for k input channels, once.
    void arrange(long k) {
        if (filters) return;
        ensure_params();
        const tensor &params = inner.get_layer_params();
        const long taps = k * nr * nc;
        const bool has_bias = !inner.bias_is_disabled();
        DLIB_CASSERT((long)params.size() == taps * num_filters + (has_bias ? num_filters : 0));
        const float *p = params.host();
        auto made = std::make_shared<std::vector<float>>((size_t)(arranged_size(k) + (has_bias ? num_filters : 0)));
        std::vector<float> &to_all = *made;
        if (has_bias) std::copy(p + taps * num_filters, p + taps * num_filters + num_filters, to_all.end() - num_filters);
#if defined(__AVX512F__)
        if constexpr (winograd) {
            curate_conv::winograd_filters(p, k, num_filters, to_all.data());
        } else
#endif
        {
            // [block][tap][filter in the block] (curate_conv::filter_block), 16 x 16 at a time so that neither side
            // is walked across a whole row for each value.
            const long width = curate_conv::filter_block(num_filters);
            float *transposed = to_all.data();
            for (long f0 = 0; f0 < num_filters; f0 += width)
                for (long t0 = 0; t0 < taps; t0 += 16)
                    for (long g = f0; g < f0 + width; g += 16) {
                        float *to = &transposed[(size_t)(f0 * taps + t0 * width + (g - f0))];
#if defined(__AVX512F__)
                        if (t0 + 16 <= taps && g + 16 <= f0 + width) {
                            curate_conv::transpose16(p + g * taps + t0, taps, to, width);
                            continue;
                        }
#endif
                        for (long f = g; f < std::min(g + 16, f0 + width); ++f)
                            for (long t = t0; t < std::min(t0 + 16, taps); ++t) to[(t - t0) * width + (f - g)] = p[f * taps + t];
                    }
        }
        filters = to_all.data();
        biases = has_bias ? to_all.data() + arranged_size(k) : nullptr;
        owner = std::move(made);
        curate_conv::tally().arranged++;
    }
    // The arranged filters (arrange first), arranged_size(channels()) floats.
    const float *arranged() const { return filters; }

    // Takes this layer's parameters and arranged filters from the network's parsed copy, where they stay (`from`
    // keeps it mapped): raw, the parameters as dlib stores them (dims their tensor's), and arranged, the filters as
    // arrange makes them for that many channels.
    void use_parsed(std::shared_ptr<const void> from, const float *raw_params, const long long dims[4], const float *arranged_filters) {
        raw = raw_params;
        for (int i = 0; i < 4; ++i) raw_dims[i] = (long)dims[i];
        filters = arranged_filters;
        biases = !inner.bias_is_disabled() ? raw_params + (raw_dims[0] * raw_dims[1] * raw_dims[2] * raw_dims[3] - num_filters) : nullptr;
        owner = std::move(from);
    }

    fast_con_() = default;
    fast_con_(const fast_con_ &) = default;
    fast_con_ &operator=(const fast_con_ &) = default;

    template <typename SUBNET> void setup(const SUBNET &sub) {
        raw = nullptr;
        inner.setup(sub);
        forget_arranged();
    }

    template <typename SUBNET> void forward(const SUBNET &sub, resizable_tensor &output) {
#if defined(__AVX512F__)
        // The bridge's convolution (AVX-512, 32 filters at a time) unless a test asks for dlib's or this shape
        // disagreed with dlib's.
        if (arranges && !curate_conv::use_dlib && verdict() >= 0) {
            const tensor &in = sub.get_output();
            const long k = in.k(), oh = 1 + (in.nr() + 2 * pad_y - nr) / sy, ow = 1 + (in.nc() + 2 * pad_x - nc) / sx;
            if (!filters) arrange(k);
            DLIB_CASSERT(k == channels());
            output.set_size(in.num_samples(), num_filters, oh, ow);
            if constexpr (winograd)
                curate_conv::convolve_winograd(in.host(), in.num_samples(), k, in.nr(), in.nc(), filters, biases,
                                               num_filters, output.host_write_only());
            else
                curate_conv::convolve(in.host(), in.num_samples(), k, in.nr(), in.nc(), filters, biases, num_filters,
                                      nr, nc, sy, sx, pad_y, pad_x, output.host_write_only(), oh, ow);
            curate_conv::tally().fast_passes++;
            if (verdict() == 0) check(sub, output);
            return;
        }
#endif
        // dlib's, without a copy of the filters.
        curate_conv::tally().dlib_passes++;
        ensure_params();
        inner.forward(sub, output);
    }

    // dlib's convolution of the same input's first sample: where the two differ by more than float rounding,
    // dlib's convolution of the whole input replaces this one's, and runs for this shape from now on.
    struct first_sample {
        resizable_tensor t;
        const tensor &get_output() const { return t; }
    };
    template <typename SUBNET> void check(const SUBNET &sub, resizable_tensor &output) {
        ensure_params();
        const tensor &in = sub.get_output();
        first_sample one;
        one.t.set_size(1, in.k(), in.nr(), in.nc());
        std::memcpy(one.t.host_write_only(), in.host(), sizeof(float) * in.k() * in.nr() * in.nc());
        resizable_tensor theirs;
        inner.forward(one, theirs);
        float largest = 0, diff = 0;
        const bool same_shape = theirs.k() == output.k() && theirs.nr() == output.nr() && theirs.nc() == output.nc();
        if (same_shape) {
            const float *a = output.host(), *b = theirs.host();
            for (size_t i = 0; i < theirs.size(); ++i) {
                largest = std::max(largest, std::abs(b[i]));
                const float d = std::abs(a[i] - b[i]);
                diff = std::isfinite(d) ? std::max(diff, d) : INFINITY;
            }
        }
        const float relative = diff / std::max(largest, 1e-6f);
        auto &t = curate_conv::tally();
        float worst = t.worst.load();
        while (relative > worst && !t.worst.compare_exchange_weak(worst, relative)) {}
        // Sums of up to 2,304 products in float: a few units in the 6th digit of the largest output at most.
        const bool agrees = same_shape && relative <= 1e-4f;
        if (!agrees) inner.forward(sub, output);
        // Two threads may check the same shape at once; the first to decide is counted.
        int expected = 0;
        if (verdict().compare_exchange_strong(expected, agrees ? 1 : -1)) {
            t.checked++;
            if (!agrees) t.disagreed++;
        }
    }

    template <typename SUBNET> void backward(const tensor &gradient_input, SUBNET &sub, tensor &params_grad) {
        ensure_params();
        inner.backward(gradient_input, sub, params_grad);
    }

    const tensor &get_layer_params() const { ensure_params(); return inner.get_layer_params(); }
    tensor &get_layer_params() {
        ensure_params();
        forget_arranged();   // the caller may change them
        return inner.get_layer_params();
    }

    friend void serialize(const fast_con_ &item, std::ostream &out) {
        item.ensure_params();
        serialize(item.inner, out);
    }
    friend void deserialize(fast_con_ &item, std::istream &in) {
        item.raw = nullptr;
        deserialize(item.inner, in);
        item.forget_arranged();
    }
    friend std::ostream &operator<<(std::ostream &out, const fast_con_ &item) { return out << item.inner; }
    friend void to_xml(const fast_con_ &item, std::ostream &out) {
        item.ensure_params();
        to_xml(item.inner, out);
    }
};

// Whether a layer is a fast_con_ whose filters the bridge arranges (the network's parsed copy keeps them).
template <typename T> constexpr bool arranges_filters = false;
template <long num_filters, long nr, long nc, int sy, int sx, int pad_y, int pad_x>
constexpr bool arranges_filters<fast_con_<num_filters, nr, nc, sy, sx, pad_y, pad_x>> =
    fast_con_<num_filters, nr, nc, sy, sx, pad_y, pad_x>::arranges;

template <long num_filters, long nr, long nc, int sy, int sx, typename SUBNET>
using fast_con = add_layer<fast_con_<num_filters, nr, nc, sy, sx>, SUBNET>;

}  // namespace dlib
