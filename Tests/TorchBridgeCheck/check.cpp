// Checks the libtorch bridge: learning on synthetic tasks, determinism, save/load, error paths. Nonzero exit on failure.
#include "torch_bridge.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

static int failures = 0;

static void expect(bool condition, const std::string &what) {
    std::printf("%s %s\n", condition ? "ok  " : "FAIL", what.c_str());
    if (!condition) ++failures;
}

struct Data {
    std::vector<float> x;
    std::vector<int64_t> y;
    int size = 0;  // floats per example
    int count() const { return (int)y.size(); }
};

// Four gaussian clusters in 128-d whose centres are a few noise widths apart.
static Data clusters(int count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::mt19937_64 centre_rng(1234);
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> centres(4 * 128);
    for (auto &c : centres) c = 0.3f * normal(centre_rng);
    Data d;
    d.size = 128;
    for (int i = 0; i < count; ++i) {
        int label = (int)(rng() % 4);
        for (int k = 0; k < 128; ++k) d.x.push_back(centres[label * 128 + k] + normal(rng));
        d.y.push_back(label);
    }
    return d;
}

// Three classes of side x side RGB images: horizontal stripes, vertical stripes, a filled disc; random colours,
// phases, positions and pixel noise.
static Data shapes(int count, int side, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0, 1);
    std::normal_distribution<float> noise(0, 0.1f);
    Data d;
    d.size = 3 * side * side;
    for (int i = 0; i < count; ++i) {
        int label = (int)(rng() % 3);
        float fg[3], bg[3];
        // Background at least 0.3 away from the foreground in each channel, so every image is decidable.
        for (int c = 0; c < 3; ++c) { fg[c] = u(rng); bg[c] = std::fmod(fg[c] + 0.3f + 0.4f * u(rng), 1.f); }
        float period = 4 + 4 * u(rng), phase = period * u(rng);
        float cx = side * (0.3f + 0.4f * u(rng)), cy = side * (0.3f + 0.4f * u(rng)), r = side * (0.15f + 0.15f * u(rng));
        size_t base = d.x.size();
        d.x.resize(base + d.size);
        for (int y = 0; y < side; ++y)
            for (int x = 0; x < side; ++x) {
                bool on = label == 0   ? std::fmod(y + phase, period) < period / 2
                          : label == 1 ? std::fmod(x + phase, period) < period / 2
                                       : (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
                for (int c = 0; c < 3; ++c) {
                    float v = (on ? fg[c] : bg[c]) + noise(rng);
                    d.x[base + (size_t)c * side * side + y * side + x] = std::min(1.f, std::max(0.f, v));
                }
            }
        d.y.push_back(label);
    }
    return d;
}

static curate_torch_step plain_step(float lr) {
    curate_torch_step s;
    std::memset(&s, 0, sizeof s);
    s.lr = lr;
    s.beta1 = 0.9f;
    s.weight_decay = 1e-4f;
    s.label_smoothing = 0.1f;
    return s;
}

// Trains for `epochs` in a fixed order with per-step seeds; returns every step's loss.
static std::vector<float> train(curate_torch_net *net, const Data &d, int epochs, int batch, curate_torch_step step,
                                double *seconds = nullptr) {
    std::vector<float> losses;
    std::mt19937_64 order_rng(99);
    std::vector<int> order(d.count());
    for (int i = 0; i < d.count(); ++i) order[i] = i;
    std::vector<float> x;
    std::vector<int64_t> y;
    auto start = std::chrono::steady_clock::now();
    int steps = 0, total = epochs * ((d.count() + batch - 1) / batch);
    const float peak = step.lr;
    for (int e = 0; e < epochs; ++e) {
        std::shuffle(order.begin(), order.end(), order_rng);
        for (int b = 0; b < d.count(); b += batch, ++steps) {
            int n = std::min(batch, d.count() - b);
            x.resize((size_t)n * d.size);
            y.resize(n);
            for (int i = 0; i < n; ++i) {
                std::memcpy(&x[(size_t)i * d.size], &d.x[(size_t)order[b + i] * d.size], sizeof(float) * d.size);
                y[i] = d.y[order[b + i]];
            }
            // Cosine decay: the caller's schedule, as Swift will run one.
            step.lr = peak * 0.5f * (1 + std::cos(3.14159265f * steps / total));
            step.seed = 1000 + steps;
            float loss = 0;
            int correct = 0;
            curate_error err;
            if (curate_torch_train_batch(net, x.data(), y.data(), n, &step, &loss, &correct, &err) != 0) {
                std::printf("train_batch failed: %s\n", err.message);
                ++failures;
                return losses;
            }
            losses.push_back(loss);
        }
    }
    if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return losses;
}

static std::vector<float> predict(curate_torch_net *net, const Data &d, int classes) {
    std::vector<float> p((size_t)d.count() * classes);
    curate_error err;
    if (curate_torch_predict(net, d.x.data(), d.count(), p.data(), &err) != 0) {
        std::printf("predict failed: %s\n", err.message);
        ++failures;
    }
    return p;
}

static double accuracy(const std::vector<float> &p, const Data &d, int classes) {
    int right = 0;
    for (int i = 0; i < d.count(); ++i) {
        int best = 0;
        for (int c = 1; c < classes; ++c)
            if (p[(size_t)i * classes + c] > p[(size_t)i * classes + best]) best = c;
        right += best == d.y[i];
    }
    return (double)right / d.count();
}

static curate_torch_spec mlp_spec() {
    curate_torch_spec s;
    std::memset(&s, 0, sizeof s);
    s.kind = 0; s.inputs = 128; s.hidden = 64; s.classes = 4; s.dropout = 0.2f;
    return s;
}

static curate_torch_spec cnn_spec() {
    curate_torch_spec s;
    std::memset(&s, 0, sizeof s);
    s.kind = 1; s.side = 32; s.width = 8; s.blocks = 3; s.convs = 1; s.classes = 3; s.dropout = 0.2f;
    return s;
}

static curate_torch_step augmenting_step(float lr) {
    curate_torch_step s = plain_step(lr);
    s.flip = 1; s.crop_pad = 2; s.brightness = 0.2f; s.contrast = 0.2f;
    return s;
}

// The loss sequence of a short CNN run with augmentation and dropout, hashed: equal across runs and processes.
// `large`: the default 64x64 face CNN at batch 32, whose convolutions take other oneDNN paths than the small one's.
static uint64_t fingerprint(bool large, std::vector<float> *losses_out = nullptr) {
    curate_error err;
    curate_torch_spec spec = large ? curate_torch_default_cnn_spec(3) : cnn_spec();
    curate_torch_net *net = curate_torch_create(&spec, 7, &err);
    if (!net) { std::printf("create failed: %s\n", err.message); std::exit(2); }
    Data d = large ? shapes(128, 64, 5) : shapes(96, 32, 5);
    std::vector<float> losses = train(net, d, large ? 1 : 3, large ? 32 : 16, augmenting_step(3e-3f));
    curate_torch_free(net);
    uint64_t h = 1469598103934665603ULL;
    for (float l : losses) {
        uint32_t bits;
        std::memcpy(&bits, &l, 4);
        h = (h ^ bits) * 1099511628211ULL;
    }
    if (losses_out) *losses_out = losses;
    return h;
}

static void refuses(const curate_torch_spec *spec, const std::string &what) {
    curate_error err;
    curate_torch_net *net = curate_torch_create(spec, 1, &err);
    expect(net == nullptr && err.code == CURATE_TORCH_INVALID_ARGUMENT, what + ": " + err.message);
    curate_torch_free(net);
}

static std::string temp_path(const char *name) {
    const char *dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/curate-torch-check-" + std::to_string(getpid()) + "-" + name;
}

int main(int argc, char **argv) {
    curate_torch_set_threads(2);
    if (argc > 1 && std::string(argv[1]) == "--fingerprint") {
        std::printf("%016llx%016llx\n", (unsigned long long)fingerprint(false), (unsigned long long)fingerprint(true));
        return 0;
    }
    std::printf("threads %d\n", curate_torch_threads());
    curate_error err;

    // (a) learning
    {
        curate_torch_spec spec = mlp_spec();
        curate_torch_net *net = curate_torch_create(&spec, 1, &err);
        expect(net != nullptr, std::string("create MLP ") + err.message);
        expect(curate_torch_parameter_count(net) == 128 * 64 + 64 + 64 * 4 + 4, "MLP parameter count " +
                                                                                  std::to_string(curate_torch_parameter_count(net)));
        Data train_set = clusters(400, 1), test_set = clusters(200, 2);
        double before = accuracy(predict(net, test_set, 4), test_set, 4);
        double seconds = 0;
        std::vector<float> losses = train(net, train_set, 5, 32, plain_step(1e-2f), &seconds);
        double after = accuracy(predict(net, test_set, 4), test_set, 4);
        char line[200];
        std::snprintf(line, sizeof line, "MLP 4 clusters: test accuracy %.3f before, %.3f after 5 epochs (%.2f s); loss %.3f -> %.3f",
                      before, after, seconds, losses.front(), losses.back());
        expect(after > 0.9, line);
        curate_torch_step cnn_only = augmenting_step(1e-4f);
        float loss = 0;
        int correct = 0;
        int rc = curate_torch_train_batch(net, test_set.x.data(), test_set.y.data(), 8, &cnn_only, &loss, &correct, &err);
        expect(rc == 0, std::string("MLP ignores the augmentation fields ") + err.message);
        curate_torch_free(net);
    }
    {
        curate_torch_spec spec = cnn_spec();
        curate_torch_net *net = curate_torch_create(&spec, 1, &err);
        expect(net != nullptr, std::string("create CNN ") + err.message);
        Data train_set = shapes(480, 32, 3), test_set = shapes(150, 32, 4);
        double before = accuracy(predict(net, test_set, 3), test_set, 3);
        double seconds = 0;
        std::vector<float> losses = train(net, train_set, 10, 32, augmenting_step(3e-3f), &seconds);
        double after = accuracy(predict(net, test_set, 3), test_set, 3);
        char line[220];
        std::snprintf(line, sizeof line, "CNN 3 shapes at 32x32: test accuracy %.3f before, %.3f after 10 epochs (%.2f s, %.0f images/s); loss %.3f -> %.3f",
                      before, after, seconds, 10 * 480 / seconds, losses.front(), losses.back());
        expect(after > 0.9, line);

        // The default face CNN (5 blocks) on 32x32 images, as curate's own tests use it: one pixel after the blocks.
        {
            curate_torch_spec d = curate_torch_default_cnn_spec(3);
            d.side = 32;
            curate_torch_net *dnet = curate_torch_create(&d, 1, &err);
            expect(dnet != nullptr, std::string("create the default CNN at side 32 ") + err.message);
            double dseconds = 0;
            train(dnet, train_set, 10, 32, augmenting_step(3e-3f), &dseconds);
            double dacc = accuracy(predict(dnet, test_set, 3), test_set, 3);
            std::snprintf(line, sizeof line, "default CNN (width %d, %d blocks) at 32x32: test accuracy %.3f after 10 epochs (%.2f s)",
                          d.width, d.blocks, dacc, dseconds);
            expect(dacc > 0.9, line);
            curate_torch_free(dnet);
        }

        // A batch of one still trains (BN sees the spatial positions) and predicts.
        curate_torch_step step = augmenting_step(1e-4f);
        float loss = 0;
        int correct = -1;
        int rc = curate_torch_train_batch(net, test_set.x.data(), test_set.y.data(), 1, &step, &loss, &correct, &err);
        expect(rc == 0 && std::isfinite(loss) && (correct == 0 || correct == 1), std::string("CNN batch of one ") + err.message);
        float p[3];
        rc = curate_torch_predict(net, test_set.x.data(), 1, p, &err);
        expect(rc == 0 && std::fabs(p[0] + p[1] + p[2] - 1) < 1e-5f, "CNN predict one: probabilities sum to 1");

        // (c) save -> load into a fresh net -> identical predictions
        std::string path = temp_path("cnn.pt");
        std::vector<float> expected = predict(net, test_set, 3);
        expect(curate_torch_save(net, path.c_str(), &err) == 0, std::string("save CNN ") + err.message);
        curate_torch_net *fresh = curate_torch_create(&spec, 99, &err);
        expect(predict(fresh, test_set, 3) != expected, "a differently seeded net predicts differently");
        expect(curate_torch_load(fresh, path.c_str(), &err) == 0, std::string("load CNN ") + err.message);
        expect(predict(fresh, test_set, 3) == expected, "loaded CNN predicts bit-identically");
        // A dropout change is no structural change.
        curate_torch_spec other_dropout = spec;
        other_dropout.dropout = 0.5f;
        curate_torch_net *other = curate_torch_create(&other_dropout, 3, &err);
        expect(curate_torch_load(other, path.c_str(), &err) == 0, "load into a net with another dropout");
        curate_torch_free(other);

        // (d) file mismatches leave the net untouched
        curate_torch_spec wider = spec;
        wider.width = 16;
        curate_torch_net *wide = curate_torch_create(&wider, 1, &err);
        std::vector<float> wide_before = predict(wide, test_set, 3);
        int code = curate_torch_load(wide, path.c_str(), &err);
        expect(code == CURATE_TORCH_MISMATCH, std::string("load into a wider CNN: ") + err.message);
        expect(predict(wide, test_set, 3) == wide_before, "failed load leaves the net unchanged");
        curate_torch_free(wide);
        curate_torch_spec mspec = mlp_spec();
        curate_torch_net *mlp = curate_torch_create(&mspec, 1, &err);
        code = curate_torch_load(mlp, path.c_str(), &err);
        expect(code == CURATE_TORCH_MISMATCH, std::string("load CNN file into MLP: ") + err.message);
        code = curate_torch_load(mlp, "/nonexistent/curate.pt", &err);
        expect(code == CURATE_TORCH_FAILED, std::string("load missing file: ") + err.message);
        std::string junk = temp_path("junk.pt");
        if (FILE *f = std::fopen(junk.c_str(), "w")) { std::fputs("not a model\n", f); std::fclose(f); }
        code = curate_torch_load(mlp, junk.c_str(), &err);
        expect(code == CURATE_TORCH_FAILED, std::string("load a text file: ") + err.message);
        code = curate_torch_save(mlp, "/nonexistent/dir/curate.pt", &err);
        expect(code == CURATE_TORCH_FAILED, std::string("save into a missing directory: ") + err.message);
        std::string mpath = temp_path("mlp.pt");
        Data probe = clusters(50, 8);
        expect(curate_torch_save(mlp, mpath.c_str(), &err) == 0, "save MLP");
        curate_torch_net *mlp2 = curate_torch_create(&mspec, 2, &err);
        expect(curate_torch_load(mlp2, mpath.c_str(), &err) == 0 && predict(mlp2, probe, 4) == predict(mlp, probe, 4),
               "loaded MLP predicts bit-identically");
        curate_torch_free(mlp2);
        std::remove(path.c_str());
        std::remove(junk.c_str());
        std::remove(mpath.c_str());

        // (d) argument errors
        int64_t bad_labels[2] = {0, 3};
        step = plain_step(1e-3f);
        code = curate_torch_train_batch(net, test_set.x.data(), bad_labels, 2, &step, &loss, &correct, &err);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, std::string("label out of range: ") + err.message);
        bad_labels[1] = -1;
        code = curate_torch_train_batch(net, test_set.x.data(), bad_labels, 2, &step, &loss, &correct, &err);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, std::string("negative label: ") + err.message);
        code = curate_torch_train_batch(net, test_set.x.data(), test_set.y.data(), 0, &step, &loss, &correct, &err);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, std::string("empty batch: ") + err.message);
        code = curate_torch_train_batch(net, nullptr, test_set.y.data(), 2, &step, &loss, &correct, &err);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, std::string("NULL x: ") + err.message);
        code = curate_torch_train_batch(nullptr, test_set.x.data(), test_set.y.data(), 2, &step, &loss, &correct, &err);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, std::string("NULL net: ") + err.message);
        step.label_smoothing = 1.5f;
        code = curate_torch_train_batch(net, test_set.x.data(), test_set.y.data(), 2, &step, &loss, &correct, &err);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, std::string("label smoothing 1.5: ") + err.message);
        code = curate_torch_predict(net, nullptr, 2, p, &err);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, std::string("predict NULL x: ") + err.message);
        code = curate_torch_save(net, nullptr, &err);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, std::string("save NULL path: ") + err.message);
        code = curate_torch_load(nullptr, "x", nullptr);
        expect(code == CURATE_TORCH_INVALID_ARGUMENT, "load NULL net with NULL err");
        curate_torch_spec bad = spec;
        bad.kind = 5;
        refuses(&bad, "unknown kind");
        bad = spec;
        bad.side = 36;
        refuses(&bad, "side 36 with 3 blocks");
        bad = spec;
        bad.classes = 1;
        refuses(&bad, "one class");
        refuses(nullptr, "NULL spec");
        expect(curate_torch_parameter_count(nullptr) == -1, "parameter count of NULL is -1");
        curate_torch_free(nullptr);
        curate_torch_free(mlp);
        curate_torch_free(fresh);
        curate_torch_free(net);
    }

    // (b) determinism: the same seeds and data give bit-identical losses, in this process and in another one
    {
        for (bool large : {false, true}) {
            std::vector<float> first, second;
            uint64_t a = fingerprint(large, &first), b = fingerprint(large, &second);
            expect(a == b && first == second && !first.empty(),
                   std::string(large ? "64x64 default CNN" : "32x32 CNN") + ", two runs in one process: identical losses (" +
                       std::to_string(first.size()) + " steps)");
        }
        char mine[40];
        std::snprintf(mine, sizeof mine, "%016llx%016llx", (unsigned long long)fingerprint(false), (unsigned long long)fingerprint(true));
        std::string command = std::string("\"") + argv[0] + "\" --fingerprint";
        char text[64] = {0};
        FILE *child = popen(command.c_str(), "r");
        bool read = child && std::fgets(text, sizeof text, child) != nullptr;
        if (child) pclose(child);
        expect(read && std::strncmp(text, mine, 32) == 0,
               std::string("another process: identical losses (") + mine + " vs " + (read ? std::string(text, 32) : "nothing") + ")");
    }

    std::printf(failures ? "%d check(s) failed\n" : "all checks passed\n", failures);
    return failures ? 1 : 0;
}
