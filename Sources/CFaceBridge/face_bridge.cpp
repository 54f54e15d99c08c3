// dlib behind a C API: every C++ exception is caught here and returned as an error.
#include "face_bridge.h"

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

using namespace dlib;

// dlib's face recognition ResNet (dnn_face_recognition_ex.cpp), the network of
// dlib_face_recognition_resnet_model_v1.dat.
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;
template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;
template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;
template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;
using anet_type = loss_metric<fc_no_bias<128, avg_pool_everything<
    alevel0<alevel1<alevel2<alevel3<alevel4<
    max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

struct curate_face_models {
    frontal_face_detector detector = get_frontal_face_detector();
    std::unique_ptr<shape_predictor> predictor;
    std::unique_ptr<anet_type> net;
};

static int fail(curate_face_error *err, int code, const std::string &message) {
    if (err) {
        err->code = code;
        std::strncpy(err->message, message.c_str(), sizeof(err->message) - 1);
        err->message[sizeof(err->message) - 1] = 0;
    }
    return code;
}

static void ok(curate_face_error *err) {
    if (err) { err->code = 0; err->message[0] = 0; }
}

// Runs `body` (which returns 0 or an error code it has reported), turning any C++ exception into error `code`.
template <typename Body> static int guarded(curate_face_error *err, int code, const char *what, Body &&body) {
    try {
        int rc = body();
        if (rc == 0) ok(err);
        return rc;
    } catch (const std::exception &e) {
        return fail(err, code, std::string(what) + ": " + e.what());
    } catch (...) {
        return fail(err, code, std::string(what) + ": unknown error");
    }
}

static matrix<rgb_pixel> to_rgb(const unsigned char *bgr, int width, int height, size_t stride) {
    matrix<rgb_pixel> img(height, width);
    for (int y = 0; y < height; ++y) {
        const unsigned char *row = bgr + y * stride;
        for (int x = 0; x < width; ++x) img(y, x) = rgb_pixel(row[3 * x + 2], row[3 * x + 1], row[3 * x]);
    }
    return img;
}

extern "C" curate_face_models *curate_faces_open(const char *shape_path, const char *resnet_path, curate_face_error *err) {
    std::unique_ptr<curate_face_models> models;
    int rc = guarded(err, 1, "loading face models", [&] {
        models = std::make_unique<curate_face_models>();
        if (shape_path) {
            models->predictor = std::make_unique<shape_predictor>();
            deserialize(shape_path) >> *models->predictor;
        }
        if (resnet_path) {
            models->net = std::make_unique<anet_type>();
            deserialize(resnet_path) >> *models->net;
        }
        return 0;
    });
    return rc == 0 ? models.release() : nullptr;
}

extern "C" void curate_faces_close(curate_face_models *models) { delete models; }
extern "C" int curate_faces_has_landmarks(const curate_face_models *m) { return m && m->predictor ? 1 : 0; }
extern "C" int curate_faces_has_descriptors(const curate_face_models *m) { return m && m->net ? 1 : 0; }

extern "C" int curate_faces_detect(curate_face_models *models, const unsigned char *bgr, int width, int height,
                                   size_t stride, int upsample, curate_face *faces, int capacity, int *count,
                                   curate_face_error *err) {
    return guarded(err, 2, "face detection", [&] {
        matrix<rgb_pixel> img = to_rgb(bgr, width, height, stride);
        pyramid_down<2> pyr;
        for (int i = 0; i < upsample; ++i) pyramid_up(img, pyr);
        std::vector<rect_detection> dets;
        models->detector(img, dets, 0.0);
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
                shape = (*models->predictor)(img, r);
                has_shape = shape.num_parts() == 5;
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

extern "C" int curate_faces_chip(curate_face_models *models, const unsigned char *bgr, int width, int height,
                                 size_t stride, const curate_face *face, int size, double padding,
                                 unsigned char *chip_bgr, float *descriptor, int *has_descriptor,
                                 curate_face_error *err) {
    return guarded(err, 3, "cutting a face chip", [&] {
        *has_descriptor = 0;
        matrix<rgb_pixel> img = to_rgb(bgr, width, height, stride);
        rectangle box((long)face->left, (long)face->top, (long)face->right, (long)face->bottom);
        chip_details details;
        if (face->has_landmarks) {
            std::vector<point> parts;
            for (int p = 0; p < 5; ++p) parts.emplace_back((long)std::lround(face->landmarks[2 * p]), (long)std::lround(face->landmarks[2 * p + 1]));
            full_object_detection shape(box, parts);
            details = get_face_chip_details(shape, size, padding);
        } else {
            // No landmarks: an axis-aligned square around the box with the same padding.
            drectangle r(box);
            double side = std::max(r.width(), r.height()) * (1 + 2 * padding);
            details = chip_details(centered_drect(center(r), side, side), chip_dims(size, size));
        }
        matrix<rgb_pixel> chip;
        extract_image_chip(img, details, chip);
        for (long y = 0; y < chip.nr(); ++y)
            for (long x = 0; x < chip.nc(); ++x) {
                unsigned char *px = chip_bgr + 3 * (y * size + x);
                px[0] = chip(y, x).blue; px[1] = chip(y, x).green; px[2] = chip(y, x).red;
            }
        if (descriptor && models->net && size == 150) {
            matrix<float, 0, 1> d = (*models->net)(chip);
            for (long i = 0; i < 128 && i < d.size(); ++i) descriptor[i] = d(i);
            *has_descriptor = 1;
        }
        return 0;
    });
}
