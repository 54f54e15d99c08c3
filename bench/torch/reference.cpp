// Times CNN training on random 64x64 batches through the bridge's C API and through libtorch directly.
// Usage: reference IMAGES BATCH THREADS [WIDTH BLOCKS CONVS SIDE]
#include "torch_bridge.h"

#include <torch/nn.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace F = torch::nn::functional;

static const int kClasses = 20;

struct Config {
    long images = 1000;
    int batch = 32, threads = 2, width = 16, blocks = 5, convs = 1, side = 64;  // the bridge's default CNN
};

// A pool of random images the batches cycle through, so memory does not grow with the image count.
struct Pool {
    std::vector<float> x;
    std::vector<int64_t> y;
    int count = 256;
};

static Pool make_pool(const Config &c) {
    Pool p;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0, 1);
    p.x.resize((size_t)p.count * 3 * c.side * c.side);
    for (auto &v : p.x) v = u(rng);
    for (int i = 0; i < p.count; ++i) p.y.push_back(rng() % kClasses);
    return p;
}

// One-cycle: linear warm-up over the first 30% to the peak, cosine down after; beta1 moves the other way.
static void one_cycle(long step, long total, float *lr, float *beta1) {
    const float peak = 3e-3f;
    const long warm = std::max(1L, (long)(0.3 * total));
    if (step < warm) {
        float t = (float)step / warm;
        *lr = peak * (0.04f + 0.96f * t);
        *beta1 = 0.95f - 0.1f * t;
    } else {
        float t = (float)(step - warm) / std::max(1L, total - warm);
        float c = 0.5f * (1 + std::cos(3.14159265f * t));
        *lr = peak * c + 1e-6f;
        *beta1 = 0.85f + 0.1f * (1 - c);
    }
}

static void print(const char *what, const Config &c, long images, double seconds) {
    std::printf("%-8s cnn side %d width %d blocks %d convs %d batch %d threads %d: %.1f images/s (%ld images in %.2f s)\n",
                what, c.side, c.width, c.blocks, c.convs, c.batch, c.threads, images / seconds, images, seconds);
    std::fflush(stdout);
}

static curate_torch_step step_for(long step, long total) {
    curate_torch_step s;
    std::memset(&s, 0, sizeof s);
    one_cycle(step, total, &s.lr, &s.beta1);
    s.weight_decay = 5e-4f;
    s.label_smoothing = 0.1f;
    s.flip = 1;
    s.crop_pad = 4;
    s.brightness = 0.2f;
    s.contrast = 0.2f;
    s.seed = (uint64_t)step;
    return s;
}

static void bridge(const Config &c, const Pool &pool) {
    curate_torch_spec spec;
    std::memset(&spec, 0, sizeof spec);
    spec.kind = 1; spec.side = c.side; spec.width = c.width; spec.blocks = c.blocks; spec.convs = c.convs;
    spec.classes = kClasses; spec.dropout = 0.3f;
    curate_error err;
    curate_torch_net *net = curate_torch_create(&spec, 1, &err);
    if (!net) { std::fprintf(stderr, "create: %s\n", err.message); std::exit(1); }
    std::printf("bridge parameters %lld, threads %d\n", (long long)curate_torch_parameter_count(net), curate_torch_threads());
    const size_t size = 3 * (size_t)c.side * c.side;
    const long steps = (c.images + c.batch - 1) / c.batch, warmup = 3;
    std::chrono::steady_clock::time_point start;
    long offset = 0;
    for (long s = -warmup; s < steps; ++s) {
        if (s == 0) start = std::chrono::steady_clock::now();
        if (offset + c.batch > pool.count) offset = 0;
        curate_torch_step st = step_for(std::max(0L, s), steps);
        float loss;
        int correct;
        if (curate_torch_train_batch(net, &pool.x[offset * size], &pool.y[offset], c.batch, &st, &loss, &correct, &err)) {
            std::fprintf(stderr, "train: %s\n", err.message);
            std::exit(1);
        }
        offset += c.batch;
    }
    print("bridge", c, steps * c.batch, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

    std::vector<float> probabilities((size_t)pool.count * kClasses);
    curate_torch_predict(net, pool.x.data(), pool.count, probabilities.data(), &err);
    start = std::chrono::steady_clock::now();
    long predicted = 0;
    while (predicted < std::max(c.images, (long)pool.count)) {
        curate_torch_predict(net, pool.x.data(), pool.count, probabilities.data(), &err);
        predicted += pool.count;
    }
    print("predict", c, predicted, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    curate_torch_free(net);
}

// The same graph, augmentation, loss and optimizer written straight against libtorch.
static void direct(const Config &c, const Pool &pool) {
    namespace nn = torch::nn;
    torch::manual_seed(1);
    nn::Sequential net;
    int64_t in = 3, out = c.width;
    for (int b = 0; b < c.blocks; ++b, out *= 2) {
        for (int k = 0; k < c.convs; ++k, in = out) {
            net->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
            net->push_back(nn::BatchNorm2d(out));
            net->push_back(nn::ReLU(nn::ReLUOptions(true)));
        }
        net->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
    }
    net->push_back(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
    net->push_back(nn::Flatten());
    net->push_back(nn::Dropout(0.3));
    net->push_back(nn::Linear(in, kClasses));
    for (auto &m : net->modules(false))
        if (auto *conv = m->as<nn::Conv2d>()) nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
    // NHWC activations and weights, as the bridge uses; NCHW=1 measures the NCHW layout instead.
    const bool channels_last = std::getenv("NCHW") == nullptr;
    if (channels_last) {
        torch::NoGradGuard no_grad;
        for (auto &p : net->parameters())
            if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
    std::vector<torch::Tensor> decay, no_decay;
    for (auto &p : net->parameters()) (p.dim() > 1 ? decay : no_decay).push_back(p);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-3).weight_decay(5e-4)));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-3).weight_decay(0)));
    torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(1e-3));

    const torch::Tensor mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
    const torch::Tensor scale = torch::tensor({1 / 0.229f, 1 / 0.224f, 1 / 0.225f}).view({1, 3, 1, 1});
    const size_t size = 3 * (size_t)c.side * c.side;
    const long steps = (c.images + c.batch - 1) / c.batch, warmup = 3;
    const int64_t n = c.batch, side = c.side, pad = 4;
    std::chrono::steady_clock::time_point start;
    long offset = 0;
    net->train();
    for (long s = -warmup; s < steps; ++s) {
        if (s == 0) start = std::chrono::steady_clock::now();
        if (offset + c.batch > pool.count) offset = 0;
        float lr, beta1;
        one_cycle(std::max(0L, s), steps, &lr, &beta1);
        for (auto &g : optimizer.param_groups())
            static_cast<torch::optim::AdamWOptions &>(g.options()).lr(lr).betas(std::make_tuple((double)beta1, 0.999));
        torch::Tensor x = torch::from_blob(const_cast<float *>(&pool.x[offset * size]), {n, 3, side, side});
        torch::Tensor y = torch::from_blob(const_cast<int64_t *>(&pool.y[offset]), {n}, torch::kInt64);
        torch::Tensor r = torch::rand({n, 5});
        x = torch::where((r.select(1, 0) < 0.5f).view({n, 1, 1, 1}), x.flip({3}), x);
        torch::Tensor padded = F::pad(x, F::PadFuncOptions({pad, pad, pad, pad}).mode(torch::kReplicate));
        auto ra = r.accessor<float, 2>();
        std::vector<torch::Tensor> crops;
        for (int64_t i = 0; i < n; ++i)
            crops.push_back(padded[i].narrow(1, std::min(2 * pad, (int64_t)(ra[i][2] * (2 * pad + 1))), side)
                                .narrow(2, std::min(2 * pad, (int64_t)(ra[i][1] * (2 * pad + 1))), side));
        x = torch::stack(crops);
        x = x * (1 + 0.2f * (2 * r.select(1, 3) - 1)).view({n, 1, 1, 1});
        torch::Tensor grey = (x.select(1, 0) * 0.299f + x.select(1, 1) * 0.587f + x.select(1, 2) * 0.114f).mean({1, 2}).view({n, 1, 1, 1});
        x = ((x - grey) * (1 + 0.2f * (2 * r.select(1, 4) - 1)).view({n, 1, 1, 1}) + grey).clamp(0, 1);
        x = (x - mean) * scale;
        if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        optimizer.zero_grad();
        torch::Tensor loss = F::cross_entropy(net->forward(x), y, F::CrossEntropyFuncOptions().label_smoothing(0.1));
        loss.backward();
        optimizer.step();
        loss.item<float>();
        offset += c.batch;
    }
    print(channels_last ? "direct" : "direct-nchw", c, steps * c.batch,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

int main(int argc, char **argv) {
    Config c;
    if (argc > 1) c.images = std::atol(argv[1]);
    if (argc > 2) c.batch = std::atoi(argv[2]);
    if (argc > 3) c.threads = std::atoi(argv[3]);
    if (argc > 4) c.width = std::atoi(argv[4]);
    if (argc > 5) c.blocks = std::atoi(argv[5]);
    if (argc > 6) c.convs = std::atoi(argv[6]);
    if (argc > 7) c.side = std::atoi(argv[7]);
    if (c.images <= 0 || c.batch <= 0 || c.batch > 256 || c.threads <= 0) {
        std::fprintf(stderr, "usage: reference IMAGES BATCH(1-256) THREADS [WIDTH BLOCKS CONVS SIDE]\n");
        return 2;
    }
    curate_torch_set_threads(c.threads);
    Pool pool = make_pool(c);
    const char *only = std::getenv("ONLY");
    if (!only || std::strcmp(only, "bridge") == 0) bridge(c, pool);
    if (!only || std::strcmp(only, "direct") == 0) direct(c, pool);
    return 0;
}
