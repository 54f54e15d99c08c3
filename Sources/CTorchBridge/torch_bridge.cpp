// libtorch behind a C API: the classifier graphs, AdamW, the loss and batch augmentation; exceptions become errors.
#include "torch_bridge.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/nn.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace F = torch::nn::functional;

namespace {

// Bumped when the graph of a spec changes, so old files are refused instead of half-loaded.
constexpr int64_t kFormat = 1;

struct InvalidArgument : curate::coded_error { explicit InvalidArgument(const std::string &m) : coded_error(CURATE_TORCH_INVALID_ARGUMENT, m) {} };
struct Mismatch : curate::coded_error { explicit Mismatch(const std::string &m) : coded_error(CURATE_TORCH_MISMATCH, m) {} };

void require(bool condition, const std::string &message) {
    if (!condition) throw InvalidArgument(message);
}

// Everything up to the final dropout, then the linear head. Dropout is applied by hand between them so that it
// draws from the step's generator instead of libtorch's global one.
struct Classifier : torch::nn::Module {
    torch::nn::Sequential features{nullptr};
    torch::nn::Linear head{nullptr};
};

}  // namespace

struct curate_torch_net {
    curate_torch_spec spec;
    std::shared_ptr<Classifier> model;
    std::unique_ptr<torch::optim::AdamW> optimizer;
};

namespace {

// Runs `body` (which returns 0), turning exceptions into errors: the bridge's own kinds keep their codes, anything
// libtorch throws is CURATE_TORCH_FAILED.
template <typename Body> int guarded(curate_error *err, const char *what, Body &&body) {
    return curate::guarded(err, CURATE_TORCH_FAILED, what, body, [](const std::exception &e) -> std::string {
        // c10::Error's what() carries a multi-line C++ backtrace that helps nobody reading a CLI error.
        if (auto torch_error = dynamic_cast<const c10::Error *>(&e)) return torch_error->what_without_backtrace();
        return e.what();
    });
}

std::atomic<int> requested_threads{0};

// libtorch is built with OpenMP here, whose thread count is per calling thread; Swift may call from any thread.
void apply_threads() {
    int threads = requested_threads.load();
    if (threads > 0 && at::get_num_threads() != threads) at::set_num_threads(threads);
}

// libtorch allocates each step's activations and gradients anew with malloc. glibc serves blocks above 128 KB-ish
// with mmap and hands freed heap tops back to the kernel, so every step page-faults its megabytes in again: a third
// of the training time for the default CNN (650 -> 1000 images/s with these settings). 32 MB is glibc's largest
// mmap threshold; freed memory under 128 MB stays in the process.
void tune_allocator() {
    static std::once_flag once;
    std::call_once(once, [] {
#ifdef M_MMAP_THRESHOLD
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
    });
}

// Canonical form: the fields the other kind ignores are zero, so specs compare field by field.
curate_torch_spec validated(const curate_torch_spec *in) {
    require(in != nullptr, "spec is NULL");
    curate_torch_spec s = *in;
    require(s.kind == 0 || s.kind == 1, "unknown kind " + std::to_string(s.kind) + " (0 = MLP, 1 = CNN)");
    require(s.classes >= 2 && s.classes <= 100000, "classes must be in [2, 100000], got " + std::to_string(s.classes));
    require(s.dropout >= 0 && s.dropout < 1, "dropout must be in [0, 1)");
    if (s.kind == 0) {
        require(s.inputs >= 1 && s.inputs <= 1 << 20, "MLP inputs must be in [1, 2^20]");
        require(s.hidden >= 0 && s.hidden <= 1 << 16, "MLP hidden must be in [0, 65536]");
        s.side = s.width = s.blocks = s.convs = 0;
    } else {
        if (s.convs == 0) s.convs = 1;
        require(s.convs == 1 || s.convs == 2, "CNN convs per block must be 1 or 2");
        require(s.blocks >= 1 && s.blocks <= 8, "CNN blocks must be in [1, 8]");
        require(s.width >= 1 && (int64_t)s.width << (s.blocks - 1) <= 4096, "CNN width doubled per block must stay <= 4096");
        require(s.side >= 2 && s.side <= 1024, "CNN side must be in [2, 1024]");
        require(s.side % (1 << s.blocks) == 0, "CNN side " + std::to_string(s.side) + " is not divisible by 2^blocks = " +
                                                   std::to_string(1 << s.blocks));
        s.inputs = s.hidden = 0;
    }
    return s;
}

int64_t example_size(const curate_torch_spec &s) {
    return s.kind == 0 ? s.inputs : 3LL * s.side * s.side;
}

torch::Tensor input_tensor(const curate_torch_net *net, const float *x, int64_t n) {
    const curate_torch_spec &s = net->spec;
    auto options = torch::TensorOptions().dtype(torch::kFloat32);
    // from_blob does not copy; nothing below writes to the input in place.
    if (s.kind == 0) return torch::from_blob(const_cast<float *>(x), {n, s.inputs}, options);
    return torch::from_blob(const_cast<float *>(x), {n, 3, s.side, s.side}, options);
}

// ImageNet statistics: a fixed normalisation keeps saved nets independent of the data they were trained on.
torch::Tensor normalised(const torch::Tensor &rgb) {
    // Made per call, not static: a static first made under InferenceMode could not take part in training.
    torch::Tensor mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
    torch::Tensor scale = torch::tensor({1 / 0.229f, 1 / 0.224f, 1 / 0.225f}).view({1, 3, 1, 1});
    return (rgb - mean) * scale;
}

// All random numbers come from one draw of `gen`, in a fixed order, so the batch is a function of the seed alone.
torch::Tensor augmented(const torch::Tensor &x, const curate_torch_step &step, at::Generator &gen) {
    const int64_t n = x.size(0), side = x.size(2);
    torch::Tensor r = at::rand({n, 5}, gen);
    auto ra = r.accessor<float, 2>();
    torch::Tensor out = x;
    if (step.flip) {
        torch::Tensor flip = (r.select(1, 0) < 0.5f).view({n, 1, 1, 1});
        out = torch::where(flip, out.flip({3}), out);
    }
    if (step.crop_pad > 0) {
        const int64_t pad = step.crop_pad, range = 2 * pad + 1;
        // Replicated edges look like more face or background; zeros would teach the net about black borders.
        torch::Tensor padded = F::pad(out, F::PadFuncOptions({pad, pad, pad, pad}).mode(torch::kReplicate));
        std::vector<torch::Tensor> crops;
        crops.reserve(n);
        for (int64_t i = 0; i < n; ++i) {
            int64_t dx = std::min<int64_t>(range - 1, (int64_t)(ra[i][1] * range));
            int64_t dy = std::min<int64_t>(range - 1, (int64_t)(ra[i][2] * range));
            crops.push_back(padded[i].narrow(1, dy, side).narrow(2, dx, side));
        }
        out = torch::stack(crops);
    }
    if (step.brightness > 0) {
        torch::Tensor factor = 1 + step.brightness * (2 * r.select(1, 3) - 1);
        out = out * factor.view({n, 1, 1, 1});
    }
    if (step.contrast > 0) {
        torch::Tensor factor = (1 + step.contrast * (2 * r.select(1, 4) - 1)).view({n, 1, 1, 1});
        torch::Tensor grey = (out.select(1, 0) * 0.299f + out.select(1, 1) * 0.587f + out.select(1, 2) * 0.114f)
                                 .mean({1, 2}).view({n, 1, 1, 1});
        out = (out - grey) * factor + grey;
    }
    return out.clamp(0, 1);
}

torch::Tensor logits(curate_torch_net *net, const torch::Tensor &input, at::Generator *gen) {
    Classifier &m = *net->model;
    // NHWC is oneDNN's native layout: 10-15% faster training than NCHW here (bench/torch/reference, NCHW=1).
    torch::Tensor h = net->spec.kind == 1 ? normalised(input).contiguous(torch::MemoryFormat::ChannelsLast) : input;
    if (!m.features->is_empty()) h = m.features->forward(h);
    const double p = net->spec.dropout;
    if (m.is_training() && p > 0) {
        torch::Tensor keep = at::empty_like(h).bernoulli_(1 - p, *gen);
        h = h * keep / (1 - p);
    }
    return m.head->forward(h);
}

void initialise(Classifier &m, uint64_t seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    torch::NoGradGuard no_grad;
    for (auto &module : m.features->modules(false)) {
        if (auto *conv = module->as<torch::nn::Conv2d>()) {
            // Kaiming normal, fan-out, as torchvision's ResNets: keeps activations' scale through ReLUs.
            auto &w = conv->weight;
            double fan_out = (double)w.size(0) * w.size(2) * w.size(3);
            w.normal_(0, std::sqrt(2.0 / fan_out), gen);
        } else if (auto *linear = module->as<torch::nn::Linear>()) {
            linear->weight.normal_(0, std::sqrt(2.0 / linear->weight.size(1)), gen);
            linear->bias.zero_();
        }
    }
    // A small head starts every class near equal probability, so the first steps' loss is about log(classes).
    m.head->weight.normal_(0, 0.01, gen);
    m.head->bias.zero_();
}

std::shared_ptr<Classifier> build(const curate_torch_spec &s) {
    namespace nn = torch::nn;
    auto m = std::make_shared<Classifier>();
    nn::Sequential f;
    int64_t features;
    if (s.kind == 0) {
        features = s.inputs;
        if (s.hidden > 0) {
            f->push_back(nn::Linear(s.inputs, s.hidden));
            f->push_back(nn::ReLU(nn::ReLUOptions(true)));
            features = s.hidden;
        }
    } else {
        int64_t in = 3, out = s.width;
        for (int b = 0; b < s.blocks; ++b, out *= 2) {
            for (int c = 0; c < s.convs; ++c, in = out) {
                // No conv bias: the BN right after it has one.
                f->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
                f->push_back(nn::BatchNorm2d(out));
                f->push_back(nn::ReLU(nn::ReLUOptions(true)));
            }
            f->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
        }
        f->push_back(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
        f->push_back(nn::Flatten());
        features = in;
    }
    m->features = m->register_module("features", f);
    m->head = m->register_module("head", nn::Linear(features, s.classes));
    return m;
}

std::string describe(const curate_torch_spec &s) {
    char text[160];
    if (s.kind == 0)
        std::snprintf(text, sizeof text, "MLP inputs %d hidden %d classes %d", s.inputs, s.hidden, s.classes);
    else
        std::snprintf(text, sizeof text, "CNN side %d width %d blocks %d convs %d classes %d", s.side, s.width,
                      s.blocks, s.convs, s.classes);
    return text;
}

}  // namespace

extern "C" curate_torch_spec curate_torch_default_cnn_spec(int classes) {
    curate_torch_spec s;
    std::memset(&s, 0, sizeof s);
    s.kind = 1;
    s.side = 64;
    // Measured in bench/torch: on real 64x64 face chips 5 blocks beat 4 (a receptive field over the whole face),
    // and width 16 matched 24 and 32 in accuracy at 2-2.5x their speed.
    s.width = 16;
    s.blocks = 5;
    s.convs = 1;
    s.classes = classes;
    s.dropout = 0.3f;
    return s;
}

extern "C" void curate_torch_set_threads(int threads) {
    // Only the intra-op pool: the inter-op pool serves TorchScript's fork/wait, which eager training never uses.
    if (threads <= 0) return;
    requested_threads.store(threads);
    at::set_num_threads(threads);
}

extern "C" int curate_torch_threads(void) {
    apply_threads();
    return at::get_num_threads();
}

extern "C" curate_torch_net *curate_torch_create(const curate_torch_spec *spec, uint64_t seed, curate_error *err) {
    std::unique_ptr<curate_torch_net> net;
    int rc = guarded(err, "creating a network", [&] {
        net = std::make_unique<curate_torch_net>();
        net->spec = validated(spec);
        tune_allocator();
        net->model = build(net->spec);
        initialise(*net->model, seed);
        {
            torch::NoGradGuard no_grad;
            for (auto &p : net->model->parameters())
                if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
        }
        // Weight decay pulls weights toward zero; on BN scales and biases it only fights the normalisation.
        std::vector<torch::Tensor> decay, no_decay;
        for (auto &p : net->model->parameters()) (p.dim() > 1 ? decay : no_decay).push_back(p);
        std::vector<torch::optim::OptimizerParamGroup> groups;
        groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-3).weight_decay(0)));
        groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-3).weight_decay(0)));
        net->optimizer = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(1e-3));
        return 0;
    });
    return rc == 0 ? net.release() : nullptr;
}

extern "C" void curate_torch_free(curate_torch_net *net) { delete net; }

extern "C" int64_t curate_torch_parameter_count(const curate_torch_net *net) {
    if (!net) return -1;
    int64_t count = 0;
    for (const auto &p : net->model->parameters()) count += p.numel();
    return count;
}

extern "C" int curate_torch_train_batch(curate_torch_net *net, const float *x, const int64_t *labels, int n,
                                        const curate_torch_step *step, float *loss, int *correct,
                                        curate_error *err) {
    return guarded(err, "training step", [&] {
        require(net && x && labels && step && loss && correct, "a required pointer is NULL");
        require(n > 0, "batch size must be positive, got " + std::to_string(n));
        const curate_torch_spec &s = net->spec;
        for (int i = 0; i < n; ++i)
            require(labels[i] >= 0 && labels[i] < s.classes, "label " + std::to_string(labels[i]) + " of example " +
                                                                 std::to_string(i) + " is outside [0, " +
                                                                 std::to_string(s.classes) + ")");
        require(std::isfinite(step->lr) && step->lr >= 0, "learning rate must be finite and >= 0");
        require(step->beta1 >= 0 && step->beta1 < 1, "beta1 must be in [0, 1)");
        require(step->weight_decay >= 0 && std::isfinite(step->weight_decay), "weight decay must be >= 0");
        require(step->label_smoothing >= 0 && step->label_smoothing < 1, "label smoothing must be in [0, 1)");
        if (s.kind == 1) {  // the MLP ignores the augmentation fields
            require(step->crop_pad >= 0 && step->crop_pad <= s.side / 2, "crop_pad must be in [0, side/2]");
            require(step->brightness >= 0 && step->brightness <= 1, "brightness must be in [0, 1]");
            require(step->contrast >= 0 && step->contrast <= 1, "contrast must be in [0, 1]");
        }
        apply_threads();

        auto &groups = net->optimizer->param_groups();
        for (size_t g = 0; g < groups.size(); ++g) {
            auto &o = static_cast<torch::optim::AdamWOptions &>(groups[g].options());
            o.lr(step->lr).betas(std::make_tuple((double)step->beta1, 0.999));
            o.weight_decay(g == 0 ? step->weight_decay : 0.0);
        }
        at::Generator gen = at::detail::createCPUGenerator(step->seed);
        torch::Tensor input = input_tensor(net, x, n);
        if (s.kind == 1) input = augmented(input, *step, gen);
        torch::Tensor target = torch::from_blob(const_cast<int64_t *>(labels), {n}, torch::kInt64);

        net->model->train();
        net->optimizer->zero_grad();
        torch::Tensor out = logits(net, input, &gen);
        torch::Tensor l = F::cross_entropy(out, target, F::CrossEntropyFuncOptions().label_smoothing(step->label_smoothing));
        l.backward();
        net->optimizer->step();
        *loss = l.item<float>();
        *correct = (int)out.argmax(1).eq(target).sum().item<int64_t>();
        return 0;
    });
}

extern "C" int curate_torch_predict(curate_torch_net *net, const float *x, int n, float *probabilities,
                                    curate_error *err) {
    return guarded(err, "prediction", [&] {
        require(net && x && probabilities, "a required pointer is NULL");
        require(n > 0, "count must be positive, got " + std::to_string(n));
        apply_threads();
        c10::InferenceMode inference;
        net->model->eval();
        const int64_t size = example_size(net->spec), classes = net->spec.classes;
        // Chunks of about 16 MB of first-layer activations (64 images of the default CNN) beat large ones: for
        // width 32, 850 images/s in chunks of 32 against 475 in chunks of 256.
        const int64_t chunk = net->spec.kind == 0 ? 1024
                                                  : std::max<int64_t>(1, (4 << 20) / ((int64_t)net->spec.width * net->spec.side * net->spec.side));
        for (int64_t start = 0; start < n; start += chunk) {
            int64_t count = std::min<int64_t>(chunk, n - start);
            torch::Tensor p = torch::softmax(logits(net, input_tensor(net, x + start * size, count), nullptr), 1).contiguous();
            std::memcpy(probabilities + start * classes, p.data_ptr<float>(), sizeof(float) * count * classes);
        }
        return 0;
    });
}

extern "C" int curate_torch_save(const curate_torch_net *net, const char *path, curate_error *err) {
    return guarded(err, "saving a network", [&] {
        require(net && path, "a required pointer is NULL");
        const curate_torch_spec &s = net->spec;
        torch::serialize::OutputArchive archive;
        archive.write("curate.spec", torch::tensor({kFormat, (int64_t)s.kind, (int64_t)s.inputs, (int64_t)s.hidden,
                                                    (int64_t)s.side, (int64_t)s.width, (int64_t)s.blocks,
                                                    (int64_t)s.convs, (int64_t)s.classes}));
        for (const auto &p : net->model->named_parameters()) archive.write("p." + p.key(), p.value());
        for (const auto &b : net->model->named_buffers()) archive.write("b." + b.key(), b.value(), true);
        // Write then rename, so an interrupted save never leaves a truncated model under the real name.
        std::string temporary = std::string(path) + ".partial";
        archive.save_to(temporary);
        if (std::rename(temporary.c_str(), path) != 0) {
            std::remove(temporary.c_str());
            throw std::runtime_error(std::string("cannot rename onto ") + path + ": " + std::strerror(errno));
        }
        return 0;
    });
}

extern "C" int curate_torch_load(curate_torch_net *net, const char *path, curate_error *err) {
    return guarded(err, "loading a network", [&] {
        require(net && path, "a required pointer is NULL");
        torch::serialize::InputArchive archive;
        archive.load_from(path);
        torch::Tensor saved;
        if (!archive.try_read("curate.spec", saved) || saved.dim() != 1 || saved.numel() != 9 ||
            saved.scalar_type() != torch::kInt64)
            throw Mismatch(std::string(path) + " is not a curate network file");
        auto v = saved.accessor<int64_t, 1>();
        if (v[0] != kFormat) throw Mismatch(std::string(path) + " has format " + std::to_string(v[0]) + ", expected " + std::to_string(kFormat));
        curate_torch_spec file;
        std::memset(&file, 0, sizeof file);
        file.kind = (int)v[1]; file.inputs = (int)v[2]; file.hidden = (int)v[3]; file.side = (int)v[4];
        file.width = (int)v[5]; file.blocks = (int)v[6]; file.convs = (int)v[7]; file.classes = (int)v[8];
        const curate_torch_spec &s = net->spec;
        if (file.kind != s.kind || file.inputs != s.inputs || file.hidden != s.hidden || file.side != s.side ||
            file.width != s.width || file.blocks != s.blocks || file.convs != s.convs || file.classes != s.classes)
            throw Mismatch(std::string(path) + " holds a " + describe(file) + ", not a " + describe(s));

        // Read everything before touching the net, so a bad file leaves it as it was.
        std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
        auto stage = [&](const std::string &key, const torch::Tensor &target, bool buffer) {
            torch::Tensor value;
            if (!archive.try_read(key, value, buffer)) throw Mismatch(std::string(path) + " lacks " + key);
            if (value.sizes() != target.sizes() || value.scalar_type() != target.scalar_type())
                throw Mismatch(std::string(path) + " has a different shape or type for " + key);
            copies.emplace_back(target, value);
        };
        for (const auto &p : net->model->named_parameters()) stage("p." + p.key(), p.value(), false);
        for (const auto &b : net->model->named_buffers()) stage("b." + b.key(), b.value(), true);
        torch::NoGradGuard no_grad;
        for (auto &c : copies) c.first.copy_(c.second);
        return 0;
    });
}
