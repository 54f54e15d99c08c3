// C API over libtorch for the two small classifiers curate trains: an MLP head on vectors and a CNN on images.
#ifndef CURATE_TORCH_BRIDGE_H
#define CURATE_TORCH_BRIDGE_H
#include <stddef.h>
#include <stdint.h>

#include "bridge_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Error codes (in curate_error, bridge_error.h).
enum {
    CURATE_TORCH_OK = 0,
    /// A NULL pointer, a count or size out of range, a label outside [0, classes), an unknown kind.
    CURATE_TORCH_INVALID_ARGUMENT = 1,
    /// libtorch threw (out of memory, an unreadable or corrupt file, ...).
    CURATE_TORCH_FAILED = 2,
    /// A saved file whose network differs from the one it is loaded into.
    CURATE_TORCH_MISMATCH = 3,
};

/// A network with its AdamW state. Not safe to use from two threads at once; separate nets are independent.
typedef struct curate_torch_net curate_torch_net;

typedef struct {
    /// 0 = MLP head on feature vectors, 1 = CNN on RGB images.
    int kind;
    /// MLP: vector length (e.g. 128).
    int inputs;
    /// MLP: hidden units (Linear-ReLU); 0 = a single linear layer.
    int hidden;
    /// CNN: input images are side x side; side must be divisible by 2^blocks.
    int side;
    /// CNN: channels of the first conv block; doubled each block.
    int width;
    /// CNN: number of blocks, each `convs` x (conv3x3-BN-ReLU) then a 2x2 max pool; then global average pooling.
    int blocks;
    /// CNN: conv3x3-BN-ReLU layers per block, 1 or 2 (0 means 1).
    int convs;
    /// Number of classes, at least 2.
    int classes;
    /// Dropout probability in [0, 1) before the final linear layer.
    float dropout;
} curate_torch_spec;

/// Defaults for the 64x64 face-crop CNN (see bench/torch): width 16, 5 blocks, 1 conv per block, dropout 0.3
/// (16-32-64-128-256 channels, 0.4 M parameters). With 5 blocks, side must be a multiple of 32.
curate_torch_spec curate_torch_default_cnn_spec(int classes);

typedef struct {
    /// This step's learning rate (the caller runs the schedule, e.g. one-cycle).
    float lr;
    /// This step's Adam beta1 (one-cycle cycles momentum too); beta2 is fixed at 0.999.
    float beta1;
    /// AdamW decoupled weight decay, applied to conv and linear weights only (not to biases or BN).
    float weight_decay;
    /// Cross-entropy label smoothing in [0, 1).
    float label_smoothing;
    /// CNN: nonzero = flip each image horizontally with probability 1/2.
    int flip;
    /// CNN: pad each side by this many pixels (edge pixels replicated), then crop a random side x side window.
    int crop_pad;
    /// CNN: multiply each image by a random factor in [1-b, 1+b].
    float brightness;
    /// CNN: scale each image's deviation from its mean grey level by a random factor in [1-c, 1+c].
    float contrast;
    /// Seeds this batch's augmentation and dropout, so a run is reproducible.
    uint64_t seed;
} curate_torch_step;

/// Sets libtorch's intra-op thread count (threads <= 0: leave libtorch's default). Applies to every thread
/// that calls this API afterwards.
void curate_torch_set_threads(int threads);

/// The intra-op thread count the next call on this thread will use.
int curate_torch_threads(void);

/// Builds a network with weights initialised from `seed` (Kaiming normal for conv and hidden layers).
/// NULL on failure (see err). The first call raises glibc malloc's mmap and trim thresholds for the whole
/// process (to 32 MB and 128 MB), which makes CNN training about 1.5x faster (see torch_bridge.cpp).
curate_torch_net *curate_torch_create(const curate_torch_spec *spec, uint64_t seed, curate_error *err);
void curate_torch_free(curate_torch_net *net);

/// Number of trainable parameters; -1 for NULL.
int64_t curate_torch_parameter_count(const curate_torch_net *net);

/// One AdamW step on a batch of n examples, in train mode.
/// MLP: x is n*inputs floats, row-major. CNN: x is n*3*side*side floats, NCHW (all R, then G, then B planes of
/// each image), RGB in [0, 1]; the net normalises internally. labels are n class indices in [0, classes).
/// The CNN batch is augmented first (flip, crop, brightness, contrast, then clamped to [0, 1]).
/// Writes the mean (label-smoothed) loss and the number of correct argmax predictions on the augmented batch.
int curate_torch_train_batch(curate_torch_net *net, const float *x, const int64_t *labels, int n,
                             const curate_torch_step *step, float *loss, int *correct, curate_error *err);

/// Eval mode (no dropout, BN running statistics, no augmentation, no gradients): writes n*classes softmax
/// probabilities, row-major. x is laid out as for curate_torch_train_batch; any n >= 1.
int curate_torch_predict(curate_torch_net *net, const float *x, int n, float *probabilities, curate_error *err);

/// Writes the spec, parameters and BN running statistics to a file (not the optimizer state).
int curate_torch_save(const curate_torch_net *net, const char *path, curate_error *err);

/// Reads a file written by curate_torch_save into a net created with the same spec (dropout may differ).
/// A different network is CURATE_TORCH_MISMATCH and leaves the net unchanged. The optimizer state is kept.
int curate_torch_load(curate_torch_net *net, const char *path, curate_error *err);

#ifdef __cplusplus
}
#endif
#endif
