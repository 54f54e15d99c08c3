// C API over dlib's face detector, 5-point shape predictor, face chips and ResNet face descriptors.
#ifndef CURATE_FACE_BRIDGE_H
#define CURATE_FACE_BRIDGE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A failure: code 0 is success; message says what went wrong.
typedef struct {
    int code;
    char message[512];
} curate_face_error;

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
/// are cut from the box; without the ResNet model there are no descriptors. NULL on failure (see err).
curate_face_models *curate_faces_open(const char *shape_predictor_path, const char *resnet_path, curate_face_error *err);
void curate_faces_close(curate_face_models *models);
int curate_faces_has_landmarks(const curate_face_models *models);
int curate_faces_has_descriptors(const curate_face_models *models);

/// Runs the HOG frontal face detector on a packed 8-bit BGR image (`stride` bytes a row), after `upsample`
/// doublings. Writes at most `capacity` faces, strongest first, and the number found to `count`.
int curate_faces_detect(curate_face_models *models, const unsigned char *bgr, int width, int height, size_t stride,
                        int upsample, curate_face *faces, int capacity, int *count, curate_face_error *err);

/// Cuts the aligned face chip (size x size, `padding` as dlib's get_face_chip_details) of one face into
/// `chip_bgr` (size*size*3 bytes), and when the ResNet model is loaded and `descriptor` is not NULL, computes
/// its 128-d descriptor (the chip must then be 150 x 150). `*has_descriptor` says whether it did.
int curate_faces_chip(curate_face_models *models, const unsigned char *bgr, int width, int height, size_t stride,
                      const curate_face *face, int size, double padding, unsigned char *chip_bgr,
                      float *descriptor, int *has_descriptor, curate_face_error *err);

#ifdef __cplusplus
}
#endif
#endif
