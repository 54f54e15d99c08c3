// A convolution layer for dlib's face ResNet that computes what dlib's con_ computes, without dlib's matrices.
//
// dlib's CPU convolution copies every sample's input into an img2col matrix (nine times the input for 3 x 3
// filters) and hands it to the BLAS, one sample at a time: on a 150 x 150 face chip that is about a fifth of
// `process`'s CPU on 1,280 px photos and nearly half on small ones, much of it packing and copying for matrices
// as narrow as 256 x 9. fast_con_ reads the input in place (a zero-padded copy where the layer pads): each output
// is the same sum of products, summed in another order (one fused multiply-add per filter tap, channel by
// channel), so outputs differ from dlib's by float rounding only. With AVX-512 it computes 32 or 64 filters at
// once for 6 to 12 output pixels, pixels taken across rows and across the faces of a batch, so each filter's
// weights are read once for many pixels.
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
#include <vector>

namespace curate_conv {

// Per-process tallies of the check, for tests and benchmarks.
struct stats {
    std::atomic<int> checked{0}, disagreed{0};
    std::atomic<long> fast_passes{0}, dlib_passes{0};
    std::atomic<float> worst{0};   // the largest difference seen, relative to the largest output
};
inline stats &tally() { static stats s; return s; }

// Set by the caller around a forward pass to run dlib's own convolution (tests compare the two).
inline thread_local bool use_dlib = false;

#if defined(__AVX512F__)
// acc[p][c] += in[p's offset + taps[t]] * w[t][c] over every tap t (channel, filter row, filter column): CB
// vectors of 16 filters, PX pixels.
template <int CB, int PX>
static inline void block(const float *in, const long *offsets, const long *taps, long count, const float *w, long nf,
                         const float *bias, float *out, const long *out_offsets, long out_channel_stride) {
    __m512 acc[PX][CB];
    for (int c = 0; c < CB; ++c) {
        const __m512 b = bias ? _mm512_loadu_ps(bias + 16 * c) : _mm512_setzero_ps();
        for (int p = 0; p < PX; ++p) acc[p][c] = b;
    }
    const float *base[PX];
    for (int p = 0; p < PX; ++p) base[p] = in + offsets[p];
    for (long t = 0; t < count; ++t, w += nf) {
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

template <int CB, int PX>
static void pixels(int n, const float *in, const long *offsets, const long *taps, long count, const float *w, long nf,
                   const float *bias, float *out, const long *out_offsets, long out_channel_stride) {
    if constexpr (PX > 1) {
        if (n < PX) return pixels<CB, PX - 1>(n, in, offsets, taps, count, w, nf, bias, out, out_offsets, out_channel_stride);
    }
    block<CB, PX>(in, offsets, taps, count, w, nf, bias, out, out_offsets, out_channel_stride);
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
    const long plane = oh * ow;
    const bool wide = nf % 64 == 0;
    const int px = wide ? 6 : 12;
    for (long f = 0; f < nf; f += wide ? 64 : 32) {
        const float *wf = transposed + f;
        const float *bf = bias ? bias + f : nullptr;
        float *of = out + f * plane;
        for (long i = 0; i < count; i += px) {
            const int m = (int)std::min<long>(px, count - i);
            if (wide)
                pixels<4, 6>(m, src, &offsets[i], taps.data(), count_taps, wf, nf, bf, of, &out_offsets[i], plane);
            else
                pixels<2, 12>(m, src, &offsets[i], taps.data(), count_taps, wf, nf, bf, of, &out_offsets[i], plane);
        }
    }
}
#endif

}  // namespace curate_conv

namespace dlib {

template <long num_filters, long nr, long nc, int sy, int sx, int pad_y = sy != 1 ? 0 : nr / 2,
          int pad_x = sx != 1 ? 0 : nc / 2>
class fast_con_ {
    con_<num_filters, nr, nc, sy, sx, pad_y, pad_x> inner;
    // The filters as [channel][row][column][filter], and the biases, made on first use from inner's parameters.
    std::vector<float> transposed, bias;
    bool has_bias = false;

    // Whether this shape's convolution agreed with dlib's the first time it ran (checked once per process).
    static std::atomic<int> &verdict() { static std::atomic<int> v{0}; return v; }   // 0 unknown, 1 agrees, -1 not

    void prepare(long k) {
        const tensor &params = inner.get_layer_params();
        const long taps = k * nr * nc;
        has_bias = !inner.bias_is_disabled();
        DLIB_CASSERT((long)params.size() == taps * num_filters + (has_bias ? num_filters : 0));
        const float *p = params.host();
        transposed.assign((size_t)(taps * num_filters), 0.0f);
        for (long f = 0; f < num_filters; ++f)
            for (long t = 0; t < taps; ++t) transposed[(size_t)(t * num_filters + f)] = p[f * taps + t];
        bias.assign(has_bias ? p + taps * num_filters : p, has_bias ? p + taps * num_filters + num_filters : p);
    }

public:
    fast_con_() = default;
    fast_con_(const fast_con_ &item) : inner(item.inner) {}
    fast_con_ &operator=(const fast_con_ &item) {
        inner = item.inner;
        transposed.clear();
        return *this;
    }

    template <typename SUBNET> void setup(const SUBNET &sub) { inner.setup(sub); transposed.clear(); }

    template <typename SUBNET> void forward(const SUBNET &sub, resizable_tensor &output) {
#if defined(__AVX512F__)
        // The bridge's convolution (AVX-512, 32 filters at a time) unless a test asks for dlib's or this shape
        // disagreed with dlib's.
        if (num_filters % 32 == 0 && !curate_conv::use_dlib && verdict() >= 0) {
            const tensor &in = sub.get_output();
            const long k = in.k(), oh = 1 + (in.nr() + 2 * pad_y - nr) / sy, ow = 1 + (in.nc() + 2 * pad_x - nc) / sx;
            if (transposed.empty()) prepare(k);
            output.set_size(in.num_samples(), num_filters, oh, ow);
            curate_conv::convolve(in.host(), in.num_samples(), k, in.nr(), in.nc(), transposed.data(),
                                  has_bias ? bias.data() : nullptr, num_filters, nr, nc, sy, sx, pad_y, pad_x,
                                  output.host_write_only(), oh, ow);
            curate_conv::tally().fast_passes++;
            if (verdict() == 0) check(sub, output);
            return;
        }
#endif
        // dlib's, without a copy of the filters.
        curate_conv::tally().dlib_passes++;
        inner.forward(sub, output);
    }

    // dlib's convolution of the same input's first sample: where the two differ by more than float rounding,
    // dlib's convolution of the whole input replaces this one's, and runs for this shape from now on.
    struct first_sample {
        resizable_tensor t;
        const tensor &get_output() const { return t; }
    };
    template <typename SUBNET> void check(const SUBNET &sub, resizable_tensor &output) {
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
        inner.backward(gradient_input, sub, params_grad);
    }

    const tensor &get_layer_params() const { return inner.get_layer_params(); }
    tensor &get_layer_params() { return inner.get_layer_params(); }

    friend void serialize(const fast_con_ &item, std::ostream &out) { serialize(item.inner, out); }
    friend void deserialize(fast_con_ &item, std::istream &in) {
        deserialize(item.inner, in);
        item.transposed.clear();
    }
    friend std::ostream &operator<<(std::ostream &out, const fast_con_ &item) { return out << item.inner; }
    friend void to_xml(const fast_con_ &item, std::ostream &out) { to_xml(item.inner, out); }
};

template <long num_filters, long nr, long nc, int sy, int sx, typename SUBNET>
using fast_con = add_layer<fast_con_<num_filters, nr, nc, sy, sx>, SUBNET>;

}  // namespace dlib
