// The face ResNet's relu, affine, max pooling and residual (add_prev) layers computing what dlib's compute, on
// AVX-512.
//
// dlib's CPU code for them is in libdlib.so, which Debian builds for any x86-64 (SSE2): together they were 6.9% of
// `process`'s CPU on small photos (relu 1.7%, affine 1.75%, pooling 2.1%, of it max pooling most, add 1.25%). Each wrapper keeps dlib's layer for its
// parameters, its serialization (so the model file and the network's parsed copy read as they are) and training,
// and computes the forward pass itself where the CPU has AVX-512 and the layer is as the face network uses it:
// - relu: max(x, 0);
// - affine in its convolutional mode: x * gamma + beta, per channel, a product then a sum, each rounded (dlib's
//   SSE2 code has no fused multiply-add), so the same floats;
// - max pooling without padding, 2 columns apart: the largest of each window, which is exact;
// - add_prev: the sum of two tensors, with dlib's zeros where one of them is smaller.
// And the last layer, fc_no_bias, made to give each face the floats it gets alone: dlib multiplies all of a batch's
// faces by the weights in one sgemm, and OpenBLAS's AVX-512 kernels (SkylakeX, Cooperlake) sum a product of several
// rows otherwise than one of a single row (the descriptors of a photo's faces described together were up to 1e-7
// from each described alone; on Haswell's kernels they were the same). Each face is its own one-row sgemm.
// Trust, but check: as for the convolutions, each kind's first forward pass in a process also runs dlib's on the
// same input, and where a single output differs (they are meant to be the same floats), that kind runs dlib's from
// then on (curate_faces_convolution_stats counts the checks). curate_conv::use_dlib, set by the tests around a
// forward pass, runs dlib's instead.
#pragma once

#include "fast_con.h"

#include <dlib/dnn.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

namespace curate_layers {

#if defined(__AVX512F__)
inline constexpr bool runs = true;
#else
inline constexpr bool runs = false;
#endif

// Whether the bridge's code runs for this pass of a kind whose check gave `verdict` (0 unknown, 1 agreed, -1 not).
inline bool ours(const std::atomic<int> &verdict) { return runs && !curate_conv::use_dlib && verdict.load() >= 0; }

// The first check of a kind: whether `ours` holds dlib's floats (NaN where dlib's is NaN), counted once.
inline bool check(std::atomic<int> &verdict, const dlib::tensor &ours, const dlib::tensor &theirs) {
    bool same = ours.num_samples() == theirs.num_samples() && ours.k() == theirs.k() && ours.nr() == theirs.nr() &&
                ours.nc() == theirs.nc();
    if (same) {
        const float *a = ours.host(), *b = theirs.host();
        for (size_t i = 0; i < ours.size() && same; ++i) same = a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]));
    }
    int expected = 0;
    if (verdict.compare_exchange_strong(expected, same ? 1 : -1)) {
        curate_conv::tally().layers_checked++;
        if (!same) curate_conv::tally().layers_disagreed++;
    }
    return same;
}

// A kind's first pass (verdict 0) in a layer that writes its own output: dlib's layer run by `dlibs` into a tensor
// of its own and compared (check); where they differ, `output` becomes dlib's.
template <typename Run> inline void check_first(std::atomic<int> &verdict, dlib::resizable_tensor &output, Run dlibs) {
    if (verdict.load() != 0) return;
    dlib::resizable_tensor theirs;
    dlibs(theirs);
    if (!check(verdict, output, theirs)) output = theirs;
}

#if defined(__AVX512F__)
inline void relu(const float *in, float *out, size_t n) {
    const __m512 zero = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_max_ps(_mm512_loadu_ps(in + i), zero));
    if (i < n) {
        const __mmask16 keep = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(out + i, keep, _mm512_max_ps(_mm512_maskz_loadu_ps(keep, in + i), zero));
    }
}

// out = in * gamma[k] + beta[k] over each channel k's plane of `plane` floats, for `samples` x k planes.
inline void affine(const float *in, float *out, long samples, long k, long plane, const float *gamma, const float *beta) {
    for (long s = 0; s < samples; ++s)
        for (long c = 0; c < k; ++c, in += plane, out += plane) {
            const __m512 g = _mm512_set1_ps(gamma[c]), b = _mm512_set1_ps(beta[c]);
            long i = 0;
            for (; i + 16 <= plane; i += 16) _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(in + i), g), b));
            if (i < plane) {
                const __mmask16 keep = (__mmask16)((1u << (plane - i)) - 1);
                _mm512_mask_storeu_ps(out + i, keep, _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(keep, in + i), g), b));
            }
        }
}

// out (planes x oh x ow) = the largest value of each nr x nc window, stride sy x 2, no padding, of in (planes x h
// x w): 16 outputs of a row at a time, each window column's 16 values the even or odd lanes of two vectors loaded
// from the input row (masked at its end).
inline void max_pool(const float *in, float *out, long planes, long h, long w, int nr, int nc, int sy, long oh, long ow) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const auto first = [](long n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1); };
    for (long p = 0; p < planes; ++p, in += h * w, out += oh * ow)
        for (long y = 0; y < oh; ++y)
            for (long x = 0; x < ow; x += 16) {
                __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
                for (int r = 0; r < nr; ++r) {
                    const float *row = in + (y * sy + r) * w;
                    for (int c = 0; c < nc; c += 2) {
                        const long start = 2 * x + c, left = w - start;
                        const __m512 lo = _mm512_maskz_loadu_ps(first(left), row + start);
                        const __m512 hi = _mm512_maskz_loadu_ps(first(left - 16), row + start + 16);
                        best = _mm512_max_ps(best, _mm512_permutex2var_ps(lo, even, hi));
                        if (c + 1 < nc) best = _mm512_max_ps(best, _mm512_permutex2var_ps(lo, odd, hi));
                    }
                }
                _mm512_mask_storeu_ps(out + y * ow + x, first(ow - x), best);
            }
}

// out = in1 + in2, dlib's way for tensors of different sizes: out has the larger of each dimension, and where an
// index lies outside one of them that one's value is 0 (0 + x, as dlib adds it).
inline void add(const dlib::tensor &in1, const dlib::tensor &in2, dlib::tensor &out) {
    const auto first = [](long n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1); };
    const float *s1 = in1.host(), *s2 = in2.host();
    float *d = out.host();
    if (in1.size() == out.size() && in2.size() == out.size()) {   // the same sizes: one sweep
        const size_t n = out.size();
        size_t i = 0;
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_add_ps(_mm512_loadu_ps(s1 + i), _mm512_loadu_ps(s2 + i)));
        const __mmask16 keep = first((long)(n - i));
        _mm512_mask_storeu_ps(d + i, keep, _mm512_add_ps(_mm512_maskz_loadu_ps(keep, s1 + i), _mm512_maskz_loadu_ps(keep, s2 + i)));
        return;
    }
    const long samples = out.num_samples(), k = out.k(), nr = out.nr(), nc = out.nc();
    // Where (n, k, r) lies in a tensor, that row's first value; otherwise none (every value 0).
    const auto row = [](const dlib::tensor &t, const float *p, long n, long c, long r) -> const float * {
        return n < t.num_samples() && c < t.k() && r < t.nr() ? p + ((n * t.k() + c) * t.nr() + r) * t.nc() : nullptr;
    };
    for (long n = 0; n < samples; ++n)
        for (long c = 0; c < k; ++c)
            for (long r = 0; r < nr; ++r, d += nc) {
                const float *r1 = row(in1, s1, n, c, r), *r2 = row(in2, s2, n, c, r);
                for (long x = 0; x < nc; x += 16) {
                    const __m512 v1 = _mm512_maskz_loadu_ps(r1 ? first(in1.nc() - x) : 0, r1 ? r1 + x : s1);
                    const __m512 v2 = _mm512_maskz_loadu_ps(r2 ? first(in2.nc() - x) : 0, r2 ? r2 + x : s2);
                    _mm512_mask_storeu_ps(d + x, first(nc - x), _mm512_add_ps(v1, v2));
                }
            }
}
#endif

}  // namespace curate_layers

namespace dlib {

// What each wrapper below passes to the dlib layer it wraps (`inner`): set-up, parameters, serialization (so the
// model file and the network's parsed copy read as they are) and printing. Each adds its forward pass, its backward
// pass (dlib's) and, where dlib's layer has them, its maps between input and output points.
template <typename Derived, typename Inner> class wrapped_layer {
protected:
    Inner inner;
    // The first-use check's verdict for this kind of layer (curate_layers::ours, check).
    static std::atomic<int> &verdict() { static std::atomic<int> v{0}; return v; }

public:
    template <typename SUBNET> void setup(const SUBNET &sub) { inner.setup(sub); }
    const tensor &get_layer_params() const { return inner.get_layer_params(); }
    tensor &get_layer_params() { return inner.get_layer_params(); }
    friend void serialize(const Derived &item, std::ostream &out) { serialize(item.wrapped(), out); }
    friend void deserialize(Derived &item, std::istream &in) { deserialize(item.wrapped(), in); }
    friend std::ostream &operator<<(std::ostream &out, const Derived &item) { return out << item.wrapped(); }
    friend void to_xml(const Derived &item, std::ostream &out) { to_xml(item.wrapped(), out); }
    const Inner &wrapped() const { return inner; }
    Inner &wrapped() { return inner; }
};

class fast_relu_ : public wrapped_layer<fast_relu_, relu_> {

public:
    // output may be input itself (dlib runs such layers in place).
    void forward_inplace(const tensor &input, tensor &output) {
#if defined(__AVX512F__)
        if (curate_layers::ours(verdict())) {
            resizable_tensor theirs;
            if (verdict() == 0) { theirs.copy_size(input); inner.forward_inplace(input, theirs); }
            curate_layers::relu(input.host(), output.host(), input.size());
            if (verdict() == 0 && !curate_layers::check(verdict(), output, theirs))
                std::copy(theirs.begin(), theirs.end(), output.begin());
            return;
        }
#endif
        inner.forward_inplace(input, output);
    }
    void backward_inplace(const tensor &computed_output, const tensor &gradient_input, tensor &data_grad, tensor &params_grad) {
        inner.backward_inplace(computed_output, gradient_input, data_grad, params_grad);
    }
    dpoint map_input_to_output(const dpoint &p) const { return p; }
    dpoint map_output_to_input(const dpoint &p) const { return p; }
};
template <typename SUBNET> using fast_relu = add_layer<fast_relu_, SUBNET>;

class fast_affine_ : public wrapped_layer<fast_affine_, affine_> {

public:
    // output may be input itself (dlib runs such layers in place).
    void forward_inplace(const tensor &input, tensor &output) {
#if defined(__AVX512F__)
        if (curate_layers::ours(verdict()) && inner.get_mode() == CONV_MODE && (long)inner.get_gamma().size() == input.k()) {
            resizable_tensor theirs;
            if (verdict() == 0) { theirs.copy_size(input); inner.forward_inplace(input, theirs); }
            curate_layers::affine(input.host(), output.host(), input.num_samples(), input.k(), input.nr() * input.nc(),
                                  inner.get_gamma().host(), inner.get_beta().host());
            if (verdict() == 0 && !curate_layers::check(verdict(), output, theirs))
                std::copy(theirs.begin(), theirs.end(), output.begin());
            return;
        }
#endif
        inner.forward_inplace(input, output);
    }
    void backward_inplace(const tensor &gradient_input, tensor &data_grad, tensor &params_grad) {
        inner.backward_inplace(gradient_input, data_grad, params_grad);
    }
    dpoint map_input_to_output(const dpoint &p) const { return p; }
    dpoint map_output_to_input(const dpoint &p) const { return p; }
};
template <typename SUBNET> using fast_affine = add_layer<fast_affine_, SUBNET>;

template <long nr, long nc, int sy, int sx>
class fast_max_pool_ : public wrapped_layer<fast_max_pool_<nr, nc, sy, sx>, max_pool_<nr, nc, sy, sx>> {
    using wrapped_layer<fast_max_pool_, max_pool_<nr, nc, sy, sx>>::inner;
    using wrapped_layer<fast_max_pool_, max_pool_<nr, nc, sy, sx>>::verdict;

public:
    template <typename SUBNET> void forward(const SUBNET &sub, resizable_tensor &output) {
#if defined(__AVX512F__)
        const tensor &in = sub.get_output();
        if (curate_layers::ours(verdict()) && nr > 0 && nc > 0 && sx == 2 && inner.padding_y() == 0 &&
            inner.padding_x() == 0 && in.nr() >= nr && in.nc() >= nc) {
            const long oh = 1 + (in.nr() - nr) / sy, ow = 1 + (in.nc() - nc) / sx;
            output.set_size(in.num_samples(), in.k(), oh, ow);
            curate_layers::max_pool(in.host(), output.host_write_only(), in.num_samples() * in.k(), in.nr(), in.nc(), nr, nc,
                                    sy, oh, ow);
            curate_layers::check_first(verdict(), output, [&](resizable_tensor &theirs) { inner.forward(sub, theirs); });
            return;
        }
#endif
        inner.forward(sub, output);
    }
    template <typename SUBNET>
    void backward(const tensor &computed_output, const tensor &gradient_input, SUBNET &sub, tensor &params_grad) {
        inner.backward(computed_output, gradient_input, sub, params_grad);
    }
    dpoint map_input_to_output(dpoint p) const { return inner.map_input_to_output(p); }
    dpoint map_output_to_input(dpoint p) const { return inner.map_output_to_input(p); }
};
template <long nr, long nc, int sy, int sx, typename SUBNET>
using fast_max_pool = add_layer<fast_max_pool_<nr, nc, sy, sx>, SUBNET>;

// add_prev: the layer's input plus a tagged earlier layer's output (the residual connections).
template <template <typename> class tag> class fast_add_prev_ : public wrapped_layer<fast_add_prev_<tag>, add_prev_<tag>> {
    using wrapped_layer<fast_add_prev_, add_prev_<tag>>::inner;
    using wrapped_layer<fast_add_prev_, add_prev_<tag>>::verdict;

public:
    const static unsigned long id = tag_id<tag>::id;
    template <typename SUBNET> void forward(const SUBNET &sub, resizable_tensor &output) {
#if defined(__AVX512F__)
        if (curate_layers::ours(verdict())) {
            const tensor &t1 = sub.get_output(), &t2 = layer<tag>(sub).get_output();
            output.set_size(std::max(t1.num_samples(), t2.num_samples()), std::max(t1.k(), t2.k()), std::max(t1.nr(), t2.nr()),
                            std::max(t1.nc(), t2.nc()));
            curate_layers::add(t1, t2, output);
            curate_layers::check_first(verdict(), output, [&](resizable_tensor &theirs) { inner.forward(sub, theirs); });
            return;
        }
#endif
        inner.forward(sub, output);
    }
    template <typename SUBNET> void backward(const tensor &gradient_input, SUBNET &sub, tensor &params_grad) {
        inner.backward(gradient_input, sub, params_grad);
    }
    dpoint map_input_to_output(const dpoint &p) const { return p; }
    dpoint map_output_to_input(const dpoint &p) const { return p; }
};
// fc_no_bias with each sample multiplied by the weights on its own (dlib's sgemm of one row each), so that a face
// described in a batch gets the descriptor it gets alone, whatever BLAS kernels run.
template <unsigned long num_outputs>
class fast_fc_no_bias_ : public wrapped_layer<fast_fc_no_bias_<num_outputs>, fc_<num_outputs, FC_NO_BIAS>> {
    using wrapped_layer<fast_fc_no_bias_, fc_<num_outputs, FC_NO_BIAS>>::inner;

public:
    template <typename SUBNET> void forward(const SUBNET &sub, resizable_tensor &output) {
        const tensor &in = sub.get_output();
        const long samples = in.num_samples();
        if (samples <= 1) return inner.forward(sub, output);
        output.set_size(samples, num_outputs);
        const size_t inputs = in.size() / samples;
        alias_tensor row(1, in.k(), in.nr(), in.nc()), out_row(1, num_outputs);
        const auto w = inner.get_weights();
        for (long s = 0; s < samples; ++s) {
            auto y = out_row(output, s * num_outputs);
            tt::gemm(0, y, 1, row(in, s * inputs), false, w, false);
        }
    }
    template <typename SUBNET> void backward(const tensor &gradient_input, SUBNET &sub, tensor &params_grad) {
        inner.backward(gradient_input, sub, params_grad);
    }
};
template <unsigned long num_outputs, typename SUBNET> using fast_fc_no_bias = add_layer<fast_fc_no_bias_<num_outputs>, SUBNET>;

template <typename SUBNET> using fast_add_prev1 = add_layer<fast_add_prev_<tag1>, SUBNET>;
template <typename SUBNET> using fast_add_prev2 = add_layer<fast_add_prev_<tag2>, SUBNET>;

}  // namespace dlib
