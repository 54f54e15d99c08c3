// C API over dlib's face detector, 5-point shape predictor, face chips and ResNet face descriptors.
#ifndef CURATE_FACE_BRIDGE_H
#define CURATE_FACE_BRIDGE_H
#include <stddef.h>

#include "bridge_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/// One detected face in the coordinates of the image passed in.
typedef struct {
    double left, top, right, bottom;
    double score;
    /// Five landmarks (x, y) from the 5-point predictor; all zero when it is not loaded.
    double landmarks[10];
    int has_landmarks;
} curate_face;

/// Models of one worker thread (dlib's detector and network are not safe to share between threads).
typedef struct curate_face_models curate_face_models;

/// Loads the models. Either path may be NULL: without the shape predictor there are no landmarks and chips
/// are cut from the box; without the ResNet model there are no descriptors. The HOG detector is built once per
/// process; `detector_cache_path` (may be NULL) names a file that keeps it serialized between processes (made on
/// first use; building it takes about a second). Each file is read once a process: `workers` says how many workers
/// open the models together (1 for one alone), so that the last of them gets the network read from the file and
/// the others copies of it. NULL on failure (see err).
curate_face_models *curate_faces_open(const char *shape_predictor_path, const char *resnet_path,
                                      const char *detector_cache_path, int workers, curate_error *err);
void curate_faces_close(curate_face_models *models);
/// How many times this process loaded the descriptor network from its parsed copy beside the model file, how many
/// times it wrote that copy (see face_bridge.cpp, net_cache), and how many convolution layers it arranged the
/// filters of itself (those of a network read from the model file). For tests.
void curate_faces_net_cache_counts(int *hits, int *writes, int *arranged);
/// 1 when the bridge's own reading of a shape predictor file (what curate_faces_open uses: dlib's deserialize takes
/// tens of milliseconds) gives the predictor dlib's deserialize gives, 0 when it differs or declines the file (then
/// curate_faces_open reads it with dlib's), -1 when the file cannot be read (see err). For tests.
int curate_faces_shape_reading_matches_dlib(const char *shape_predictor_path, curate_error *err);
int curate_faces_has_landmarks(const curate_face_models *models);
int curate_faces_has_descriptors(const curate_face_models *models);

/// Loads dlib's CNN face detector (mmod_human_face_detector.dat) into `models`, for curate_faces_detect's
/// `cnn` mode. Loading it again replaces it.
int curate_faces_load_cnn(curate_face_models *models, const char *mmod_path, curate_error *err);
int curate_faces_has_cnn(const curate_face_models *models);
/// 1 when the HOG detector scans with the bridge's AVX-512 code (on a CPU with it, after a check that it gives
/// dlib's values to the bit), 0 when dlib's own object_detector scans.
int curate_faces_hog_scan(const curate_face_models *models);

/// Runs a face detector on a packed 8-bit BGR image (`stride` bytes a row), after `upsample` doublings: with
/// `mode` 0 the HOG frontal face detector (its scan with AVX-512 where the CPU has it: dlib's scores to the bit),
/// 1 dlib's CNN (MMOD) detector, which finds side-on and partly hidden faces too at about a hundred times the
/// cost (curate_faces_load_cnn first), 2 the HOG detector as dlib's own object_detector scans (what mode 0 is
/// checked against). Writes at most `capacity` faces,
/// strongest first, and the number found to `count`; when `landmark_seconds` is not NULL, the part of the time
/// the shape predictor took (for bench/process.sh).
int curate_faces_detect(curate_face_models *models, const unsigned char *bgr, int width, int height, size_t stride,
                        int upsample, int mode, curate_face *faces, int capacity, int *count,
                        double *landmark_seconds, curate_error *err);

/// Cuts the aligned face chips (size x size, `padding` as dlib's get_face_chip_details) of `count` faces into
/// `chips_bgr` (count*size*size*3 bytes, one chip after another), and when the ResNet model is loaded and
/// `descriptors` is not NULL, computes their 128-d descriptors in one pass of the network (count*128 floats; the
/// chips must then be 150 x 150). `*has_descriptors` says whether it did. The pixels may be a part of the image
/// the faces were found in, its top-left pixel at (origin_x, origin_y) of it; the faces are in the whole image's
/// coordinates. A part that holds curate_faces_chip_region's rectangle gives the same chips as the whole image.
int curate_faces_chips(curate_face_models *models, const unsigned char *bgr, int width, int height, size_t stride,
                       int origin_x, int origin_y, const curate_face *faces, int count, int size, double padding,
                       unsigned char *chips_bgr, float *descriptors, int *has_descriptors, curate_error *err);
/// The rectangle of a width x height image that curate_faces_chips reads for these faces ([left, right) x
/// [top, bottom), empty when it reads nothing): what must be decoded to cut their chips from a part of the image.
int curate_faces_chip_region(const curate_face *faces, int count, int size, double padding, int width, int height,
                             int *left, int *top, int *right, int *bottom, curate_error *err);

/// The descriptors (128 floats each) of `count` chips already cut (150 x 150 BGR, packed one after another), as
/// curate_faces_chips describes the chips it cuts: for chips read back from their files and changed (the second look
/// at faces with covered eyes paints the same bar over every chip's eyes). Needs the descriptor network loaded.
int curate_faces_describe_chips(curate_face_models *models, const unsigned char *chips_bgr, int count, float *descriptors,
                                curate_error *err);

/// Descriptors on this thread computed with dlib's own convolutions, relu, affine, max pooling and residual sums
/// (on != 0) or the bridge's (fast_con.h, fast_layers.h; the default), for tests and benchmarks that compare them.
void curate_faces_dlib_convolutions(int on);
/// Landmarks on this thread found by dlib's shape_predictor::operator() (on != 0) or the bridge's (its trees laid
/// out flat, the same additions in the same order; the default), for tests that compare the two.
void curate_faces_dlib_landmarks(int on);
/// 1 where the shape predictor's shape for `face`'s box in the image (as it is, not upsampled) is the same to the
/// bit as dlib's own loop over its trees gives, 0 where it differs, -1 on error (tests).
int curate_faces_shape_matches_dlib(const curate_face_models *models, const unsigned char *bgr, int width, int height,
                                    size_t stride, const curate_face *face, curate_error *err);
/// 1 where the bridge computes the descriptor network's convolutions itself (built with AVX-512), 0 where dlib's
/// (img2col and the BLAS) always run.
int curate_faces_own_convolutions(void);
/// What the bridge's convolutions did in this process: layer shapes checked against dlib's on first use, and
/// those that disagreed (they run dlib's from then on); forward passes of a layer each way; the largest
/// difference a check saw, relative to the largest output.
typedef struct {
    int checked, disagreed;
    long fast_passes, dlib_passes;
    float worst;
    /// The same check for the bridge's relu, affine, max pooling and residual sums (fast_layers.h): kinds
    /// checked, and of those, how many gave other floats than dlib's (they run dlib's from then on).
    int layers_checked, layers_disagreed;
} curate_convolution_stats;
void curate_faces_convolution_stats(curate_convolution_stats *out);

/// The BLAS that dlib's network runs on, as loaded in this process.
typedef struct {
    /// OpenBLAS's build configuration, or "reference BLAS".
    char name[128];
    /// The shared library that provides cblas_sgemm (symbolic links resolved); empty when unknown.
    char library[256];
    int openblas;
    int threads;
} curate_blas_info;

void curate_faces_blas(curate_blas_info *info);
/// One OpenBLAS thread for the whole process, and the idle threads OpenBLAS started when it loaded stopped (they
/// spin for about 0.1 s of CPU each otherwise); 0 on another BLAS.
int curate_blas_one_thread(void);

/// Sets OpenBLAS's thread count for the whole process; 0 (and nothing done) when the BLAS is not OpenBLAS.
int curate_faces_blas_threads(int threads);

/// The kernels ("core") OpenBLAS runs in this process, e.g. "Prescott" or "SkylakeX"; empty when the BLAS is not
/// OpenBLAS. OpenBLAS chooses them once, when it loads, from the CPU or from OPENBLAS_CORETYPE.
void curate_blas_core(char *name, int size);

/// What the CPU offers and the operating system has enabled (cpuid and xgetbv); all zero off x86.
typedef struct {
    int sse42, avx, avx2, fma, avx512;   // avx512: F, CD, BW, DQ and VL together, as OpenBLAS's SkylakeX kernels need
    int avx512bf16;                      // Cooperlake's kernels
} curate_cpu_features;

void curate_cpu_read_features(curate_cpu_features *features);

/// Checks the loaded BLAS's cblas_sgemm against a plain product in double precision, on shapes that reach its
/// vector kernels and their edges, transposed and not. Returns 1 when every result is within `tolerance` of the
/// plain one relative to the sum of the magnitudes it adds up, 0 otherwise (or without cblas_sgemm); the largest
/// such error goes to `*worst`.
int curate_blas_self_check(double tolerance, double *worst);

#ifdef __cplusplus
}
#endif
#endif
